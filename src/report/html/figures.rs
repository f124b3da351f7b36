//! The charts of the report, from the summary's time line, phases, faults and percentiles.

use std::collections::BTreeSet;

use crate::aggregate::timeline::TimelinePoint;
use crate::report::model::{CoreSection, Percentiles, Quantile, Summary};

use super::charts::{
    bar_chart, line_chart, stacked_chart, Axis, Band, BarChart, Column, LineChart, Series, StackedChart, PALETTE,
};
use super::markup::{count, fmt_bytes, fmt_num, fmt_pct, table};
use super::svg::tick_us;

const PHASE_SHADES: [&str; 2] = ["#4a6fa5", "#7a7a7a"];
const FAULT_COLOR: &str = "#d62728";
const FINDING_COLOR: &str = "#e0a000";

/// The scenario's phases as light windows.
pub(super) fn phase_bands(s: &Summary) -> Vec<Band> {
    s.phases
        .iter()
        .enumerate()
        .map(|(i, p)| Band {
            start: p.start_s,
            end: p.end_s,
            label: p.name.clone(),
            color: PHASE_SHADES[i % 2],
            opacity: 0.07,
        })
        .collect()
}

/// Each injected fault as a window: as long as the scenario's `for` for faults that last
/// (half-open, pause), otherwise a moment.
fn fault_bands(s: &Summary) -> Vec<Band> {
    s.faults
        .events
        .iter()
        .map(|e| {
            let lasting = s
                .scenario
                .faults
                .iter()
                .filter(|sp| sp.kind.key() == e.kind)
                .find_map(|sp| sp.lasting)
                .map_or(0.0, |d| d.as_secs_f64());
            Band {
                start: e.t_s,
                end: e.t_s + lasting,
                label: format!("{} ×{}", e.kind, count(e.connections)),
                color: FAULT_COLOR,
                opacity: 0.22,
            }
        })
        .collect()
}

/// The analysis' findings that name a time window.
fn finding_bands(s: &Summary) -> Vec<Band> {
    let findings = s.analysis.as_ref().map_or(&[][..], |a| a.findings.as_slice());
    findings
        .iter()
        .filter_map(|x| {
            let start = x.start_s?;
            Some(Band {
                start,
                end: x.end_s.unwrap_or(start),
                label: x.title.clone(),
                color: FINDING_COLOR,
                opacity: 0.18,
            })
        })
        .collect()
}

/// One shared time axis for every time chart: from 0 to the last thing on the clock.
pub(super) fn time_range(s: &Summary) -> (f64, f64) {
    let mut hi: f64 = 0.0;
    let mut see = |v: f64| {
        if v.is_finite() {
            hi = hi.max(v);
        }
    };
    s.timeline.iter().for_each(|p| see(p.t_s));
    s.phases.iter().for_each(|p| see(p.end_s));
    fault_bands(s).iter().for_each(|b| see(b.end));
    see(s.traffic_start_s.unwrap_or(0.0) + s.duration_s);
    (0.0, if hi > 0.0 { hi } else { 1.0 })
}

pub(super) fn series(name: &str, color: &'static str, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        color,
        points,
        right: false,
        dashed: false,
    }
}

pub(super) fn time_axis() -> Axis {
    Axis::linear("time since the first connect (s)")
}

pub fn charts(h: &mut String, s: &Summary) {
    let tl = s.timeline.as_slice();
    let x_range = time_range(s);
    h.push_str("<section id=\"charts\"><h2>Over time</h2>");
    if tl.is_empty() {
        h.push_str("<p>The run recorded no time line (it ended within its first interval).</p>");
    }
    h.push_str(&connections_chart(s, tl, x_range));
    h.push_str(&messages_chart(s, tl, x_range));
    h.push_str(&latency_chart(s, tl, x_range));
    h.push_str(&errors_chart(s, x_range, fault_bands(s)));
    percentile_chart(h, s);
    server_chart(h, s, x_range);
    cores_chart(h, s);
    h.push_str("</section>");
}

/// (t_s, `y` of the point) of every time-line point.
pub(super) fn points(tl: &[TimelinePoint], y: impl Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    tl.iter().map(|p| (p.t_s, y(p))).collect()
}

/// A latency figure of every time-line point; an interval without echoes has no latency (its
/// percentiles read 0): a gap, not a zero.
pub(super) fn latency_points(tl: &[TimelinePoint], y: impl Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    points(tl, |p| if p.received_per_s > 0.0 { y(p) } else { f64::NAN })
}

/// Open connections and the connect rate, with the phases and faults.
fn connections_chart(s: &Summary, tl: &[TimelinePoint], x_range: (f64, f64)) -> String {
    line_chart(&LineChart {
        kind: "connections",
        title: "Open connections and connect rate".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis::linear("open connections"),
        y2: Some(Axis::linear("connects/s")),
        series: vec![
            series("open", PALETTE[0], points(tl, |p| p.open as f64)),
            Series {
                right: true,
                dashed: true,
                ..series("connects/s", PALETTE[4], points(tl, |p| p.connects_per_s))
            },
        ],
        bands: phase_bands(s).into_iter().chain(fault_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// Messages sent and received per second, with the phases and faults.
fn messages_chart(s: &Summary, tl: &[TimelinePoint], x_range: (f64, f64)) -> String {
    line_chart(&LineChart {
        kind: "messages",
        title: "Messages per second".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis::linear("messages/s"),
        y2: None,
        series: vec![
            series("sent/s", PALETTE[0], points(tl, |p| p.sent_per_s)),
            Series {
                dashed: true,
                ..series("received/s", PALETTE[2], points(tl, |p| p.received_per_s))
            },
        ],
        bands: phase_bands(s).into_iter().chain(fault_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// Latency percentiles per interval, with the phases and the findings' windows.
fn latency_chart(s: &Summary, tl: &[TimelinePoint], x_range: (f64, f64)) -> String {
    line_chart(&LineChart {
        kind: "latency",
        title: "Latency per interval (corrected), log scale".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis {
            title: "latency".into(),
            log: true,
            fmt: tick_us,
        },
        y2: None,
        series: vec![
            series("p50", PALETTE[2], latency_points(tl, |p| p.p50_us)),
            series("p99", PALETTE[4], latency_points(tl, |p| p.p99_us)),
            series("p99.9", PALETTE[1], latency_points(tl, |p| p.p99_9_us)),
        ],
        bands: phase_bands(s).into_iter().chain(finding_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// The error classes seen in a run's time line, sorted.
pub(super) fn error_classes(s: &Summary) -> BTreeSet<String> {
    s.timeline.iter().flat_map(|p| p.errors_new.keys().cloned()).collect()
}

/// The colour of the `i`th error class.
pub(super) fn error_color(i: usize) -> &'static str {
    PALETTE[(i + 1) % PALETTE.len()]
}

/// Errors per interval by class, stacked, with the injected faults' windows shaded.
fn errors_chart(s: &Summary, x_range: (f64, f64), faults: Vec<Band>) -> String {
    let classes: Vec<String> = error_classes(s).into_iter().collect();
    let columns = error_columns(s, &classes);
    let bands = phase_bands(s).into_iter().chain(faults).collect();
    stacked_chart(&StackedChart {
        kind: "errors",
        title: "Errors per interval by class (injected faults shaded)".into(),
        x: time_axis(),
        x_range,
        y: Axis::linear("errors"),
        classes: classes
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, error_color(i)))
            .collect(),
        columns,
        bands,
        y_max: None,
        empty: "no errors".into(),
    })
}

/// One column per time-line point: the new errors of each class in `classes`.
pub(super) fn error_columns(s: &Summary, classes: &[String]) -> Vec<Column> {
    // The points' length: a long run's points each cover several intervals.
    let step = [s.run.timeline_step_s, s.run.interval_s]
        .into_iter()
        .find(|v| *v > 0.0)
        .unwrap_or(1.0);
    let mut prev: Option<f64> = None;
    s.timeline
        .iter()
        .map(|p| {
            let end = p.t_s;
            // A column ends at its point; the first one is as long as the points are.
            let start = prev.filter(|s| *s < end).unwrap_or(end - step);
            prev = Some(end);
            let values = classes
                .iter()
                .map(|c| p.errors_new.get(c).map_or(0.0, |n| *n as f64))
                .collect();
            Column { start, end, values }
        })
        .collect()
}

/// Where the summary's percentiles ([`Percentiles::QUANTILES`], in order) go on the distribution
/// chart's log x axis, x = 1 / (1 - q): p50 → 2, p90 → 10, p99 → 100, p99.9 → 1000; max drawn
/// one decade on.
pub(super) const PERCENTILE_X: [f64; 6] = [2.0, 10.0, 20.0, 100.0, 1000.0, 10000.0];

/// Each of the summary's percentiles with its place on the x axis.
pub(super) fn percentiles_at() -> impl Iterator<Item = (&'static Quantile, f64)> {
    Percentiles::QUANTILES.iter().zip(PERCENTILE_X)
}

/// The latency distribution: percentile on a log x axis (each decade one more nine).
fn percentile_chart(h: &mut String, s: &Summary) {
    let line = |p: &Percentiles| -> Vec<(f64, f64)> {
        if p.count > 0 {
            percentiles_at().map(|(q, x)| (x, (q.of)(p) as f64)).collect()
        } else {
            Vec::new()
        }
    };
    let corrected = line(&s.latency_us.corrected);
    let uncorrected = line(&s.latency_us.uncorrected);
    let (lo, hi) = corrected
        .iter()
        .chain(&uncorrected)
        .map(|p| p.1)
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    h.push_str("<h3>Latency distribution</h3>");
    h.push_str(&line_chart(&LineChart {
        kind: "distribution",
        title: "Latency by percentile (whole run)".into(),
        x: Axis {
            title: "percentile (log scale: each step one more nine)".into(),
            log: true,
            fmt: super::svg::tick_label,
        },
        x_range: (1.6, 12500.0),
        x_ticks: Some(percentiles_at().map(|(q, x)| (x, q.label.to_string())).collect()),
        y: Axis {
            title: "latency".into(),
            // A long tail squeezes the body of a linear axis flat.
            log: hi > 0.0 && hi / lo > 50.0,
            fmt: tick_us,
        },
        y2: None,
        series: vec![
            series("corrected", PALETTE[0], corrected),
            Series {
                dashed: true,
                ..series("uncorrected", PALETTE[4], uncorrected)
            },
        ],
        bands: Vec::new(),
        y_range: None,
        markers: Vec::new(),
    }));
}

/// The server's memory and open files over time, when it was sampled.
fn server_chart(h: &mut String, s: &Summary, x_range: (f64, f64)) {
    let tl = s.timeline.as_slice();
    if !tl.iter().any(|p| p.server.is_some()) {
        return;
    }
    let sp = |y: fn(&crate::aggregate::timeline::ServerPoint) -> u64| {
        points(tl, |p| p.server.as_ref().map_or(f64::NAN, |v| y(v) as f64))
    };
    h.push_str("<h3>Server under test</h3>");
    h.push_str(&line_chart(&LineChart {
        kind: "server",
        title: "Server RSS and open files".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis {
            title: "RSS".into(),
            log: false,
            fmt: |b| fmt_bytes(b).replace(' ', ""),
        },
        y2: Some(Axis::linear("open files")),
        series: vec![
            series("RSS", PALETTE[3], sp(|v| v.rss_bytes)),
            Series {
                right: true,
                dashed: true,
                ..series("open files", PALETTE[5], sp(|v| v.fds))
            },
        ],
        bands: phase_bands(s),
        y_range: None,
        markers: Vec::new(),
    }));
}

/// The client cores' balance (the summary's `cores`): for each core, its share of the run's
/// established connections, messages sent and failures (errors + failed connects + drops +
/// lost messages), against an even split; the figures in a table below. Summaries written
/// before `cores` existed (read back with none) get a note instead.
fn cores_chart(h: &mut String, s: &Summary) {
    h.push_str("<h3>Per-core balance</h3>");
    if s.cores.is_empty() {
        h.push_str(
            "<p class=\"meta\" id=\"per-core\">per-core figures are not recorded in this summary (it was \
             written before wsload recorded them), so the balance between the client's cores cannot be shown.</p>",
        );
        return;
    }
    h.push_str(&cores_shares(&s.cores));
    cores_table(h, &s.cores);
}

/// A figure of one core.
type CoreFigure = fn(&CoreSection) -> u64;

/// What the balance chart compares: each core's share of these totals.
const CORE_MEASURES: [(&str, CoreFigure); 3] = [
    ("established", |c| c.established),
    ("sent", |c| c.sent),
    ("failures", failures),
];

/// A core's failures: errors + failed connects + drops + lost messages.
fn failures(c: &CoreSection) -> u64 {
    c.errors + c.connect_failed + c.dropped + c.lost
}

/// `core N`.
fn core_label(c: &CoreSection) -> String {
    format!("core {}", count(c.core as u64))
}

/// The bar chart of each core's share of [`CORE_MEASURES`], against an even split.
fn cores_shares(cores: &[CoreSection]) -> String {
    let totals: Vec<f64> = CORE_MEASURES
        .iter()
        .map(|(_, m)| cores.iter().map(|c| m(c) as f64).sum())
        .collect();
    // A share of a total that is 0 is 0, not NaN.
    let share = |v: f64, t: f64| if t > 0.0 { v / t * 100.0 } else { 0.0 };
    let groups = cores
        .iter()
        .map(|c| {
            let values = CORE_MEASURES
                .iter()
                .zip(&totals)
                .map(|((_, m), t)| share(m(c) as f64, *t))
                .collect();
            (core_label(c), values)
        })
        .collect();
    let tips = cores
        .iter()
        .map(|c| {
            CORE_MEASURES
                .iter()
                .zip(&totals)
                .map(|((name, m), t)| {
                    let v = m(c) as f64;
                    format!(
                        "{} {name}: {} ({})",
                        core_label(c),
                        fmt_num(v),
                        fmt_pct(share(v, *t) / 100.0)
                    )
                })
                .collect()
        })
        .collect();
    bar_chart(&BarChart {
        kind: "cores",
        title: "Each core's share of the run's totals".into(),
        x: Axis::linear("share of the run's total (%)"),
        measures: CORE_MEASURES
            .iter()
            .zip([PALETTE[0], PALETTE[2], PALETTE[1]])
            .map(|((name, _), color)| (name.to_string(), color))
            .collect(),
        groups,
        reference: Some((100.0 / cores.len() as f64, "even split".to_string())),
        tips,
        empty: "no client cores recorded".into(),
    })
}

/// Each core's figures, as recorded.
fn cores_table(h: &mut String, cores: &[CoreSection]) {
    let rows = cores
        .iter()
        .map(|c| {
            vec![
                core_label(c),
                count(c.cpu as u64),
                count(c.established),
                count(c.connect_failed),
                count(c.dropped),
                count(c.sent),
                count(c.received),
                count(c.lost),
                count(c.errors),
                count(failures(c)),
            ]
        })
        .collect();
    table(
        h,
        &[
            "core",
            "CPU",
            "established",
            "connect failed",
            "dropped",
            "sent",
            "received",
            "lost",
            "errors",
            "failures",
        ],
        rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long run's points cover several intervals (run.timeline_step_s): the first column is
    /// as wide as the others, not one interval.
    #[test]
    fn error_columns_of_merged_points_start_a_whole_step_back() {
        let s = Summary::from_value(serde_json::json!({
            "run": {"interval_s": 1.0, "timeline_step_s": 4.0},
            "timeline": [
                {"t_s": 4.0, "errors_new": {"reset": 2}},
                {"t_s": 8.0, "errors_new": {}},
            ],
        }))
        .unwrap();
        let classes: Vec<String> = error_classes(&s).into_iter().collect();
        assert_eq!(classes, ["reset"]);
        let cols = error_columns(&s, &classes);
        let spans: Vec<(f64, f64)> = cols.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(spans, [(0.0, 4.0), (4.0, 8.0)]);
        assert_eq!(cols[0].values, [2.0]);
        assert_eq!(cols[1].values, [0.0]);
    }
}
