//! Correlation with load: the load at which latency or errors start to climb.
//!
//! **Latency knee.** The baseline is the median p99 of the first [`BASE_POINTS`] intervals
//! with echoes. The knee is the first later interval whose p99 is more than [`K`] × the
//! baseline and at least [`MIN_RISE_US`] above it, and stays so in the next interval with
//! echoes (if any), while the load (open connections or message rate) is at least
//! [`LOAD_RISE`] × its level over the baseline intervals. Latency that climbs at a constant
//! load is not a knee.
//!
//! **Error knee.** The first interval with new errors after at least one interval with
//! connections open and none, when the load (open connections, connect rate or message
//! rate) is above everything before it, and the errors are at least
//! [`super::bursts::FLOOR`] or continue in the next interval. Errors from the very first
//! interval have no knee.
//!
//! Both are measured at the time line's resolution: "between the last good interval's load
//! and this one's".

use super::bursts::{describe_point, FLOOR};
use super::figures::PointFigures;
use super::finding::{num, secs, us, Confidence, Finding, Kind};
use crate::aggregate::timeline::TimelinePoint;
use crate::report::model::Summary;

pub const BASE_POINTS: usize = 3;
pub const K: f64 = 3.0;
pub const MIN_RISE_US: f64 = 1000.0;
pub const LOAD_RISE: f64 = 1.2;

#[derive(Debug, Clone, PartialEq)]
pub struct LatencyKnee {
    /// Index of the knee point and of the last point before it with echoes.
    pub at: usize,
    pub before: usize,
    pub baseline_us: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The latency knee of a time line (`p`), if it has one.
pub fn latency_knee(p: &[TimelinePoint]) -> Option<LatencyKnee> {
    let lat: Vec<usize> = (0..p.len())
        .filter(|&i| p[i].received_per_s > 0.0 && p[i].p99_us > 0.0)
        .collect();
    if lat.len() <= BASE_POINTS {
        return None;
    }
    let base = &lat[..BASE_POINTS];
    let baseline_us = median(base.iter().map(|&i| p[i].p99_us).collect());
    let base_open = base.iter().map(|&i| p[i].open).max().unwrap_or(0) as f64;
    let base_rate = base.iter().map(|&i| p[i].sent_per_s).fold(0.0, f64::max);
    let high = |i: usize| p[i].p99_us > K * baseline_us && p[i].p99_us - baseline_us >= MIN_RISE_US;
    for j in BASE_POINTS..lat.len() {
        let i = lat[j];
        let sustained = lat.get(j + 1).is_none_or(|&n| high(n));
        let loaded = p[i].open as f64 >= LOAD_RISE * base_open.max(1.0) || p[i].sent_per_s >= LOAD_RISE * base_rate;
        if high(i) && sustained && loaded && base_rate > 0.0 {
            return Some(LatencyKnee {
                at: i,
                before: lat[j - 1],
                baseline_us,
            });
        }
    }
    None
}

impl LatencyKnee {
    /// The knee as a finding; `s` is the summary whose time line it was found in.
    pub fn finding(&self, s: &Summary) -> Finding {
        let p = &s.timeline;
        let warnings = &s.client.warnings;
        let (k, b) = (&p[self.at], &p[self.before]);
        let mut evidence = vec![format!(
            "baseline p99 {} (median of the first {BASE_POINTS} intervals with echoes)",
            us(self.baseline_us)
        )];
        for q in [b, k] {
            evidence.push(format!(
                "t={}: p99 {}, p50 {}, {} open, {} msg/s sent",
                secs(q.t_s),
                us(q.p99_us),
                us(q.p50_us),
                q.open,
                num(q.sent_per_s)
            ));
        }
        let mut confidence = Confidence::Medium;
        if !warnings.is_empty() {
            confidence = Confidence::Low;
            evidence.extend(warnings.iter().map(|w| format!("client warning: {w}")));
        }
        Finding {
            kind: Kind::Knee,
            title: format!(
                "p99 latency climbs between {} and {} open connections ({} → {} msg/s)",
                b.open,
                k.open,
                num(b.sent_per_s),
                num(k.sent_per_s)
            ),
            detail: format!(
                "p99 rose from a baseline of {} to {} between {} open connections at {} msg/s and {} at {} \
                 msg/s (rule: more than {} × the baseline and at least {} above it, sustained, while the \
                 load is at least {} × its level over the baseline).{}",
                us(self.baseline_us),
                us(k.p99_us),
                b.open,
                num(b.sent_per_s),
                k.open,
                num(k.sent_per_s),
                num(K),
                us(MIN_RISE_US),
                num(LOAD_RISE),
                if warnings.is_empty() {
                    ""
                } else {
                    " The client reported warnings: the limit may be the client's."
                }
            ),
            evidence,
            confidence,
            start_s: Some(b.t_s),
            end_s: Some(k.t_s),
        }
    }
}

/// The error knee of a time line (`p`), if it has one.
pub fn error_knee(p: &[TimelinePoint]) -> Option<Finding> {
    let clean = p.iter().position(|q| q.open > 0 && q.errors_total() == 0)?;
    let j = (clean + 1..p.len()).find(|&j| p[j].errors_total() > 0)?;
    let e = p[j].errors_total();
    let continues = p.get(j + 1).is_some_and(|n| n.errors_total() > 0);
    if e < FLOOR && !continues {
        return None;
    }
    let before = &p[..j];
    let max_open = before.iter().map(|q| q.open).max().unwrap_or(0);
    let max_conn = before.iter().map(|q| q.connects_per_s).fold(0.0, f64::max);
    let max_sent = before.iter().map(|q| q.sent_per_s).fold(0.0, f64::max);
    let q = &p[j];
    let rising = q.open > max_open || q.connects_per_s > max_conn * LOAD_RISE || q.sent_per_s > max_sent * LOAD_RISE;
    if !rising {
        return None;
    }
    let last = &p[j - 1];
    Some(Finding {
        kind: Kind::Knee,
        title: format!("Errors start at about {} open connections", q.open),
        detail: format!(
            "No errors up to {} open connections ({} connects/s, {} msg/s); errors began in the interval \
             ending at {}, with {} open ({} connects/s, {} msg/s): the load there was above anything before \
             (rule: the first interval with errors after a clean one, at a new high of load).",
            last.open,
            num(last.connects_per_s),
            num(last.sent_per_s),
            secs(q.t_s),
            q.open,
            num(q.connects_per_s),
            num(q.sent_per_s)
        ),
        evidence: vec![describe_point(last), describe_point(q)],
        confidence: Confidence::Medium,
        start_s: Some(last.t_s),
        end_s: Some(q.t_s),
    })
}

/// Server CPU in cores over the interval ending at point `i`, from the sampled CPU seconds.
pub fn server_busy_at(points: &[TimelinePoint], i: usize) -> Option<f64> {
    let (a, b) = (points.get(i.checked_sub(1)?)?, points.get(i)?);
    let dt = b.t_s - a.t_s;
    (dt > 0.0).then_some(())?;
    Some((b.server?.cpu_s - a.server?.cpu_s) / dt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::timeline::ServerPoint;

    /// Points with echoes: (open, msg/s, p99 µs).
    fn lat(pts: &[(u64, f64, f64)]) -> Vec<TimelinePoint> {
        pts.iter()
            .enumerate()
            .map(|(i, &(open, rate, p99))| TimelinePoint {
                t_s: (i + 1) as f64,
                open,
                sent_per_s: rate,
                received_per_s: rate,
                p50_us: p99 / 4.0,
                p99_us: p99,
                ..TimelinePoint::default()
            })
            .collect()
    }

    #[test]
    fn latency_knee_during_the_ramp() {
        let p = lat(&[
            (1000, 1000.0, 800.0),
            (2000, 2000.0, 900.0),
            (3000, 3000.0, 850.0),
            (4000, 4000.0, 1200.0),
            (5000, 5000.0, 9000.0),
            (6000, 6000.0, 20000.0),
        ]);
        let k = latency_knee(&p).unwrap();
        assert_eq!((k.at, k.before, k.baseline_us), (4, 3, 850.0));
        let f = k.finding(&Summary {
            timeline: p,
            ..Summary::default()
        });
        assert!(f.detail.contains("between 4000 open connections"), "{}", f.detail);
        assert_eq!(f.confidence, Confidence::Medium);
    }

    #[test]
    fn no_latency_knee_for_flat_spiky_or_constant_load() {
        let flat: Vec<_> = (1..=8).map(|i| (i * 100, i as f64 * 100.0, 900.0)).collect();
        assert_eq!(latency_knee(&lat(&flat)), None);
        // One spike, not sustained.
        let mut spike = flat.clone();
        spike[5].2 = 30_000.0;
        assert_eq!(latency_knee(&lat(&spike)), None);
        // Climbing at a constant load: not a knee.
        let constant: Vec<_> = (1..=8).map(|i| (1000, 1000.0, 500.0 * (i * i) as f64)).collect();
        assert_eq!(latency_knee(&lat(&constant)), None);
        assert_eq!(latency_knee(&lat(&[])), None);
    }

    fn errs(pts: &[(u64, u64)]) -> Vec<TimelinePoint> {
        pts.iter()
            .enumerate()
            .map(|(i, &(open, e))| TimelinePoint {
                t_s: (i + 1) as f64,
                open,
                connects_per_s: 100.0,
                errors_new: (e > 0).then(|| ("reset".to_string(), e)).into_iter().collect(),
                ..TimelinePoint::default()
            })
            .collect()
    }

    #[test]
    fn error_knee_at_the_connection_count_where_errors_start() {
        let f = error_knee(&errs(&[(100, 0), (150, 50), (150, 100), (150, 0)])).unwrap();
        assert_eq!(f.title, "Errors start at about 150 open connections");
        assert_eq!((f.start_s, f.end_s), (Some(1.0), Some(2.0)));
    }

    #[test]
    fn no_error_knee_without_errors_from_the_start_or_at_constant_load() {
        assert_eq!(error_knee(&errs(&[(100, 0), (200, 0), (300, 0)])), None);
        assert_eq!(error_knee(&errs(&[(10, 20), (20, 20), (30, 20)])), None);
        // Late errors at the same load as before.
        assert_eq!(error_knee(&errs(&[(300, 0), (300, 0), (300, 40)])), None);
        // One stray error.
        assert_eq!(error_knee(&errs(&[(100, 0), (200, 1), (300, 0)])), None);
    }

    #[test]
    fn server_busy_from_cpu_samples() {
        let mut p = errs(&[(1, 0), (1, 0)]);
        p[0].server = Some(ServerPoint {
            cpu_s: 1.0,
            ..Default::default()
        });
        p[1].server = Some(ServerPoint {
            cpu_s: 1.95,
            ..Default::default()
        });
        assert!((server_busy_at(&p, 1).unwrap() - 0.95).abs() < 1e-9);
        assert_eq!(server_busy_at(&p, 0), None);
    }
}
