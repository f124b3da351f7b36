//! Temporal clustering of failures, and cascades of clusters.
//!
//! **Burst rule.** A series (new errors per time-line interval, of all classes or of one) has
//! a baseline: its lower quartile over the run (quiet intervals included, so a burst that
//! covers up to three quarters of the run still stands out). An interval is *hot* when its
//! count is at least [`FLOOR`] and more than [`FACTOR`] × the baseline; consecutive hot
//! intervals form one window. A run whose errors are spread evenly has no window (its
//! baseline is its level); a run failing throughout has none either: the taxonomy and the
//! verdict report it.
//!
//! **Cascade rule.** Bursts of each error class, of drops, of reconnections after the ramp (a
//! "reconnect storm") and the injected faults are events. An event B follows A when B starts
//! at a later interval than A and no more than [`CASCADE_WINDOW_S`] after A ends; a chain is
//! a run of such steps that adds a new class each time. Events starting in the same interval
//! form one step (their order inside an interval is unknown).

use std::collections::BTreeMap;

use super::figures::PointFigures;
use super::finding::{num, secs, Confidence, Finding, Kind};
use crate::aggregate::timeline::TimelinePoint;
use crate::report::model::Summary;

/// A hot interval has at least this many events.
pub const FLOOR: u64 = 5;
/// ... and more than this many times the baseline.
pub const FACTOR: f64 = 3.0;
/// A burst followed by another within this long (seconds, from the first one's end) is a cascade.
pub const CASCADE_WINDOW_S: f64 = 5.0;

/// The lower quartile (nearest rank) of a series.
pub fn baseline(series: &[u64]) -> f64 {
    if series.is_empty() {
        return 0.0;
    }
    let mut s = series.to_vec();
    s.sort_unstable();
    s[(s.len() - 1) / 4] as f64
}

/// Index ranges (inclusive) of the bursts in a series, by the burst rule.
pub fn windows(series: &[u64]) -> Vec<(usize, usize)> {
    let base = baseline(series);
    let hot = |n: u64| n >= FLOOR && n as f64 > FACTOR * base;
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, &n) in series.iter().enumerate() {
        if !hot(n) {
            continue;
        }
        match out.last_mut() {
            Some(w) if w.1 + 1 == i => w.1 = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// Start of point `i`'s interval: the previous point's time (0 for the first).
pub fn interval_start(points: &[TimelinePoint], i: usize) -> f64 {
    if i == 0 {
        0.0f64.min(points[0].t_s)
    } else {
        points[i - 1].t_s
    }
}

/// When (interval start, end) and at what open count a class of errors first appeared.
pub fn onset(p: &[TimelinePoint], class: &str) -> Option<(f64, f64, u64)> {
    let i = p.iter().position(|q| q.errors_of(class) > 0)?;
    Some((interval_start(p, i), p[i].t_s, p[i].open))
}

/// A burst of all errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub first: usize,
    pub last: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub count: u64,
    /// By class, largest first.
    pub classes: Vec<(String, u64)>,
    pub baseline: f64,
}

/// Bursts of errors (all classes together).
pub fn clusters(s: &Summary) -> Vec<Cluster> {
    let p = &s.timeline;
    let series: Vec<u64> = p.iter().map(TimelinePoint::errors_total).collect();
    let base = baseline(&series);
    windows(&series)
        .into_iter()
        .map(|(a, b)| {
            let mut by: BTreeMap<&str, u64> = BTreeMap::new();
            for q in &p[a..=b] {
                for (k, n) in &q.errors_new {
                    *by.entry(k).or_default() += n;
                }
            }
            let mut classes: Vec<(String, u64)> = by.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
            classes.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            Cluster {
                first: a,
                last: b,
                start_s: interval_start(p, a),
                end_s: p[b].t_s,
                count: series[a..=b].iter().sum(),
                classes,
                baseline: base,
            }
        })
        .collect()
}

fn class_list(classes: &[(String, u64)]) -> String {
    classes
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How one point reads in evidence.
pub fn describe_point(p: &TimelinePoint) -> String {
    let mut by: Vec<String> = p.errors_new.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if by.is_empty() {
        by.push("none".into());
    }
    format!(
        "t={}: {} new errors ({}), {} open, {} connects/s, {} msg/s sent, {} dropped",
        secs(p.t_s),
        p.errors_total(),
        by.join(", "),
        p.open,
        num(p.connects_per_s),
        num(p.sent_per_s),
        p.dropped
    )
}

pub fn cluster_finding(s: &Summary, c: &Cluster) -> Finding {
    let p = &s.timeline;
    let onset = &p[c.first];
    let before = c.first.checked_sub(1).map(|i| p[i].open);
    let mut evidence = vec![format!(
        "baseline: {} new errors per interval (lower quartile over {} intervals); hot: at least {FLOOR} and over {}",
        num(c.baseline),
        p.len(),
        num(FACTOR * c.baseline)
    )];
    evidence.extend(p[c.first..=c.last].iter().take(10).map(describe_point));
    if c.last - c.first >= 10 {
        evidence.push(format!("... {} more intervals", c.last - c.first - 9));
    }
    let main = c.classes.first().map(|x| x.0.as_str()).unwrap_or("errors");
    Finding {
        kind: Kind::Cluster,
        title: format!(
            "Burst of {} errors (mostly {main}) from {} to {}",
            c.count,
            secs(c.start_s),
            secs(c.end_s)
        ),
        detail: format!(
            "{} errors ({}) in {} interval(s), well above the run's baseline of {} per interval \
             (rule: an interval is in a burst when its new errors are at least {FLOOR} and more than \
             {} × the lower quartile of new errors per interval; consecutive such intervals form one \
             burst). Load at onset: {} connections open{}, {} connects/s, {} msg/s sent.",
            c.count,
            class_list(&c.classes),
            c.last - c.first + 1,
            num(c.baseline),
            num(FACTOR),
            onset.open,
            before
                .map(|b| format!(" ({b} one interval before)"))
                .unwrap_or_default(),
            num(onset.connects_per_s),
            num(onset.sent_per_s),
        ),
        evidence,
        confidence: Confidence::High,
        start_s: Some(c.start_s),
        end_s: Some(c.end_s),
    }
}

/// A burst of one class (or drops, reconnections, an injected fault), for cascades.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    label: String,
    first: usize,
    start_s: f64,
    end_s: f64,
    count: u64,
}

/// The first point at which the ramp was complete: open connections reached 99% of their peak.
pub fn ramp_end(points: &[TimelinePoint]) -> Option<usize> {
    let peak = points.iter().map(|p| p.open).max()?;
    points.iter().position(|p| p.open as f64 >= 0.99 * peak as f64)
}

fn events(s: &Summary) -> Vec<Event> {
    let p = &s.timeline;
    let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (i, q) in p.iter().enumerate() {
        for (k, n) in &q.errors_new {
            series.entry(k.clone()).or_insert_with(|| vec![0; p.len()])[i] = *n;
        }
    }
    series.insert("drops".into(), p.iter().map(|q| q.dropped).collect());
    // Connections opened after the ramp was complete: reconnections.
    let after = ramp_end(p).map_or(p.len(), |r| r + 1);
    let reconnects: Vec<u64> = p
        .iter()
        .enumerate()
        .map(|(i, q)| {
            if i < after {
                0
            } else {
                (q.connects_per_s * (q.t_s - interval_start(p, i))).round().max(0.0) as u64
            }
        })
        .collect();
    series.insert("reconnect storm".into(), reconnects);
    let mut out = Vec::new();
    for (label, s) in &series {
        for (a, b) in windows(s) {
            out.push(Event {
                label: label.clone(),
                first: a,
                start_s: interval_start(p, a),
                end_s: p[b].t_s,
                count: s[a..=b].iter().sum(),
            });
        }
    }
    for f in &s.faults.events {
        // The fault's interval: the first point at or after it.
        let first = p.iter().position(|q| q.t_s >= f.t_s).unwrap_or(p.len());
        out.push(Event {
            label: format!("injected {} fault", f.kind),
            first,
            start_s: f.t_s,
            end_s: f.t_s,
            count: f.connections,
        });
    }
    out.sort_by(|a, b| a.first.cmp(&b.first).then(a.start_s.total_cmp(&b.start_s)));
    out
}

/// Chains of bursts, each step starting after the previous one and within the window.
pub fn cascades(s: &Summary) -> Vec<Finding> {
    let ev = events(s);
    // Steps: events starting in the same interval.
    let mut steps: Vec<Vec<Event>> = Vec::new();
    for e in ev {
        match steps.last_mut() {
            Some(s) if s[0].first == e.first => s.push(e),
            _ => steps.push(vec![e]),
        }
    }
    let mut chains: Vec<Vec<Vec<Event>>> = Vec::new();
    let mut cur: Vec<Vec<Event>> = Vec::new();
    for step in steps {
        let follows = cur.last().is_some_and(|prev: &Vec<Event>| {
            let prev_end = prev.iter().map(|e| e.end_s).fold(f64::MIN, f64::max);
            let start = step.iter().map(|e| e.start_s).fold(f64::MAX, f64::min);
            let seen = |l: &str| cur.iter().flatten().any(|e| e.label == l);
            start <= prev_end + CASCADE_WINDOW_S && step.iter().any(|e| !seen(&e.label))
        });
        if !follows {
            if cur.len() >= 2 {
                chains.push(std::mem::take(&mut cur));
            }
            cur.clear();
        }
        cur.push(step);
    }
    if cur.len() >= 2 {
        chains.push(cur);
    }
    chains.into_iter().map(|c| chain_finding(&c)).collect()
}

fn chain_finding(chain: &[Vec<Event>]) -> Finding {
    let t0 = chain[0].iter().map(|e| e.start_s).fold(f64::MAX, f64::min);
    let end = chain.iter().flatten().map(|e| e.end_s).fold(f64::MIN, f64::max);
    let names: Vec<String> = chain
        .iter()
        .map(|s| s.iter().map(|e| e.label.as_str()).collect::<Vec<_>>().join(" + "))
        .collect();
    let evidence = chain
        .iter()
        .flatten()
        .map(|e| {
            format!(
                "{}: {} from {} to {} (+{} after the first)",
                e.label,
                e.count,
                secs(e.start_s),
                secs(e.end_s),
                secs(e.start_s - t0)
            )
        })
        .collect();
    Finding {
        kind: Kind::Cascade,
        title: format!("Cascade: {}", names.join(" → ")),
        detail: format!(
            "Each burst started within {} s after the previous one ended (bursts by the cluster rule, \
             per class; a \"reconnect storm\" is a burst of connections opened after the ramp). The order \
             is measured at the time line's resolution; that one caused the next is likely, not proven.",
            num(CASCADE_WINDOW_S)
        ),
        evidence,
        confidence: Confidence::Medium,
        start_s: Some(t0),
        end_s: Some(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn points(errors: &[(&str, &[u64])]) -> Vec<TimelinePoint> {
        let n = errors.first().map_or(0, |e| e.1.len());
        (0..n)
            .map(|i| TimelinePoint {
                t_s: (i + 1) as f64,
                open: 100,
                errors_new: errors
                    .iter()
                    .filter(|e| e.1[i] > 0)
                    .map(|e| (e.0.to_string(), e.1[i]))
                    .collect(),
                ..TimelinePoint::default()
            })
            .collect()
    }

    fn summary(pts: Vec<TimelinePoint>) -> Summary {
        Summary {
            timeline: pts,
            ..Summary::default()
        }
    }

    #[test]
    fn a_burst_above_the_baseline_is_one_cluster() {
        let mut pts = points(&[("reset", &[1, 0, 2, 40, 60, 1, 0, 2, 1, 0])]);
        pts[3].open = 150;
        let i = summary(pts);
        let c = clusters(&i);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].start_s, c[0].end_s, c[0].count), (3.0, 5.0, 100));
        assert_eq!(c[0].classes, vec![("reset".to_string(), 100)]);
        let f = cluster_finding(&i, &c[0]);
        assert!(f.detail.contains("150 connections open"), "{}", f.detail);
        assert!(f.detail.contains("lower quartile"));
    }

    #[test]
    fn spread_or_steady_errors_are_no_cluster() {
        // Evenly spread low counts.
        assert!(clusters(&summary(points(&[("reset", &[2, 3, 2, 4, 3, 2, 3, 2])]))).is_empty());
        // Steady failure throughout: no burst (the baseline is the level).
        assert!(clusters(&summary(points(&[("connect_refused", &[50, 60, 55, 52, 58])]))).is_empty());
        // Below the floor.
        assert!(clusters(&summary(points(&[("reset", &[0, 0, 4, 0, 0])]))).is_empty());
        assert!(clusters(&summary(vec![])).is_empty());
    }

    #[test]
    fn a_step_covering_half_the_run_is_a_cluster() {
        let c = clusters(&summary(points(&[("reset", &[0, 0, 0, 50, 50, 50])])));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].count, 150);
    }

    #[test]
    fn resets_then_reconnect_storm_then_timeouts_is_a_cascade() {
        let mut pts = points(&[
            ("reset", &[0, 0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0]),
            ("connect_timeout", &[0, 0, 0, 0, 0, 0, 30, 20, 0, 0, 0, 0]),
        ]);
        for (i, p) in pts.iter_mut().enumerate() {
            p.connects_per_s = if i == 0 { 100.0 } else { 0.0 };
            if i == 5 {
                p.connects_per_s = 80.0;
            }
            if i == 4 {
                p.dropped = 80;
                p.open = 20;
            }
        }
        let f = cascades(&summary(pts));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].title, "Cascade: drops + reset → reconnect storm → connect_timeout");
        assert_eq!((f[0].start_s, f[0].end_s), (Some(4.0), Some(8.0)));
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.contains("connect_timeout: 50") && e.contains("+2.0 s")));
    }

    #[test]
    fn bursts_far_apart_or_alone_are_no_cascade() {
        let pts = points(&[
            ("reset", &[0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ("connect_timeout", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0]),
        ]);
        assert!(cascades(&summary(pts)).is_empty());
        assert!(cascades(&summary(points(&[("reset", &[0, 50, 0, 0])]))).is_empty());
        // Two classes in the same interval: one step, no order to claim.
        let same = points(&[("reset", &[0, 50, 0, 0]), ("eof_without_close", &[0, 30, 0, 0])]);
        assert!(cascades(&summary(same)).is_empty());
    }
}
