//! compare.html's charts, drawn with report.html's: the two corrected-latency distributions
//! overlaid (each run's percentiles marked, with `data-run`, `data-percentile` and `data-us`,
//! inside a group whose `data-x-scale` and `data-y-scale` map a position back to its value),
//! and each run's messages/s, latency and errors over time, base above new on shared scales.

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::report::model::Summary;

use super::charts::{
    line_chart, stacked_chart, y_bounds, Axis, Column, LineChart, Marker, Series, StackedChart, PALETTE,
};
use super::compare_run::Run;
use super::figures::{
    error_classes, error_color, error_columns, latency_points, percentiles_at, phase_bands, points, series, time_axis,
    time_range,
};
use super::markup::{esc, fmt_num, fmt_us};
use super::svg::tick_us;

pub const BASE_COLOR: &str = PALETTE[0];
pub const NEW_COLOR: &str = PALETTE[4];

/// A run's corrected latency (µs) by percentile position: from its whole histogram (latency.hlog)
/// when there is one, at 60 points from the minimum to p99.9 and at each of the summary's
/// percentiles (computed as the summary computes them, so the curve passes through its
/// markers), then the maximum; otherwise the summary's six percentiles.
fn curve(run: &Run) -> Vec<(f64, f64)> {
    let Some(h) = run.latency.as_ref().filter(|h| !h.is_empty()) else {
        return summary_points(run.summary)
            .into_iter()
            .map(|(_, x, us)| (x, us))
            .collect();
    };
    let us = |h: &Histogram<u64>, q: f64| (h.value_at_quantile(q) / 1000) as f64;
    // The summary's percentiles but the maximum (added last).
    let mut pts: Vec<(f64, f64)> = percentiles_at()
        .filter(|(q, _)| q.q < 1.0)
        .map(|(q, x)| (x, us(h, q.q)))
        .collect();
    pts.extend((0..60).map(|i| {
        let x = 10f64.powf(3.0 * f64::from(i) / 60.0);
        (x, us(h, 1.0 - 1.0 / x))
    }));
    // Stable: where a grid point falls on a percentile, the percentile's own point is kept.
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    pts.push((10_000.0, (h.max() / 1000) as f64));
    pts
}

/// The summary's corrected percentiles (label, x, µs), when it measured any.
fn summary_points(s: &Summary) -> Vec<(&'static str, f64, f64)> {
    let p = &s.latency_us.corrected;
    if p.count == 0 {
        return Vec::new();
    }
    percentiles_at().map(|(q, x)| (q.label, x, (q.of)(p) as f64)).collect()
}

/// Each of the run's percentiles as a marker that names itself.
fn markers(run: &Run, name: &'static str, color: &'static str) -> Vec<Marker> {
    summary_points(run.summary)
        .into_iter()
        .map(|(label, x, us)| Marker {
            x,
            y: us,
            color,
            data: vec![
                ("run", name.to_string()),
                ("percentile", label.to_string()),
                ("us", format!("{us}")),
            ],
            title: format!("{name} {label}: {}", fmt_us(us)),
        })
        .collect()
}

/// The two distributions overlaid, with a note on where each came from.
pub fn distribution(h: &mut String, base: &Run, new: &Run) {
    h.push_str("<section id=\"distribution\"><h2>Latency distribution (corrected)</h2>");
    let (cb, cn) = (curve(base), curve(new));
    let mut marks = markers(base, "base", BASE_COLOR);
    marks.extend(markers(new, "new", NEW_COLOR));
    let values = || cb.iter().chain(&cn).map(|p| p.1).chain(marks.iter().map(|m| m.y));
    let (lo, hi) = values()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    // A long tail squeezes the body of a linear axis flat (report.html's rule).
    let log = hi > 0.0 && hi / lo > 50.0;
    let mut ticks = vec![(1.0, "min".to_string())];
    ticks.extend(percentiles_at().map(|(q, x)| (x, q.label.to_string())));
    h.push_str(&line_chart(&LineChart {
        kind: "distribution",
        title: "Corrected latency by percentile: base and new".into(),
        x: Axis {
            title: "percentile (log scale: each step one more nine)".into(),
            log: true,
            fmt: super::svg::tick_label,
        },
        x_range: (1.0, 12_500.0),
        x_ticks: Some(ticks),
        y: Axis {
            title: "latency".into(),
            log,
            fmt: tick_us,
        },
        y2: None,
        y_range: Some(y_bounds(values(), log)),
        series: vec![
            Series {
                dashed: true,
                ..series("base", BASE_COLOR, cb)
            },
            series("new", NEW_COLOR, cn),
        ],
        bands: Vec::new(),
        markers: marks,
    }));
    h.push_str("<ul class=\"meta\">");
    for (name, run) in [("base", base), ("new", new)] {
        let source = match &run.latency {
            Some(l) => format!(
                "{name}: the whole histogram of {} latencies (latency.hlog)",
                fmt_num(l.len() as f64)
            ),
            None => format!("{name}: the percentiles of summary.json"),
        };
        let _ = write!(h, "<li>{}", esc(&source));
        if let Some(note) = &run.latency_note {
            let _ = write!(h, " ({})", esc(note));
        }
        h.push_str("</li>");
    }
    h.push_str("</ul></section>");
}

/// A measure drawn over time for each run: what it is called, and its lines from a time line.
struct Measure {
    what: &'static str,
    title: &'static str,
    y: fn() -> Axis,
    lines: fn(&Summary) -> Vec<Series>,
}

const MEASURES: [Measure; 2] = [
    Measure {
        what: "messages",
        title: "messages per second",
        y: || Axis::linear("messages/s"),
        lines: messages,
    },
    Measure {
        what: "latency",
        title: "latency per interval (corrected), log scale",
        y: || Axis {
            title: "latency".into(),
            log: true,
            fmt: tick_us,
        },
        lines: latency,
    },
];

fn messages(s: &Summary) -> Vec<Series> {
    let tl = s.timeline.as_slice();
    vec![
        series("sent/s", PALETTE[0], points(tl, |p| p.sent_per_s)),
        Series {
            dashed: true,
            ..series("received/s", PALETTE[2], points(tl, |p| p.received_per_s))
        },
    ]
}

/// An interval without echoes has no latency (its percentiles read 0): a gap, not a zero.
fn latency(s: &Summary) -> Vec<Series> {
    let tl = s.timeline.as_slice();
    vec![
        series("p50", PALETTE[2], latency_points(tl, |p| p.p50_us)),
        series("p99", PALETTE[4], latency_points(tl, |p| p.p99_us)),
        series("p99.9", PALETTE[1], latency_points(tl, |p| p.p99_9_us)),
    ]
}

/// Messages/s, latency and errors over time: for each, base above new, on one x range and one
/// y scale so that heights compare.
pub fn over_time(h: &mut String, b: &Summary, n: &Summary) {
    h.push_str(
        "<section id=\"over-time\"><h2>Over time</h2><p>Each run on its own clock (seconds since its first \
         connect), both on the same scales: base above new.</p>",
    );
    let x_range = (0.0, time_range(b).1.max(time_range(n).1));
    let runs = [("base", b), ("new", n)];
    for m in &MEASURES {
        let lines = runs.map(|(_, s)| (m.lines)(s));
        let axis = (m.y)();
        let values = lines.iter().flatten().flat_map(|s| s.points.iter().map(|p| p.1));
        let y_range = y_bounds(values, axis.log);
        let _ = write!(h, "<h3>{}</h3>", esc(&capitalized(m.title)));
        for ((name, s), series) in runs.iter().zip(lines) {
            h.push_str(&line_chart(&LineChart {
                kind: chart_kind(name, m.what),
                title: format!("{name}: {}", m.title),
                x: time_axis(),
                x_range,
                x_ticks: None,
                y: (m.y)(),
                y2: None,
                y_range: Some(y_range),
                series,
                bands: phase_bands(s),
                markers: Vec::new(),
            }));
        }
    }
    h.push_str("<h3>Errors per interval by class</h3>");
    errors(h, &runs, x_range);
    h.push_str("</section>");
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// `data-chart` names are static: one per run and measure.
fn chart_kind(run: &str, what: &str) -> &'static str {
    match (run, what) {
        ("base", "messages") => "base-messages",
        ("new", "messages") => "new-messages",
        ("base", "latency") => "base-latency",
        ("new", "latency") => "new-latency",
        ("base", "errors") => "base-errors",
        ("new", "errors") => "new-errors",
        _ => "time",
    }
}

/// Both runs' errors per interval, stacked by class: the classes of either run, in the same
/// colours in both, on one y scale.
fn errors(h: &mut String, runs: &[(&str, &Summary); 2], x_range: (f64, f64)) {
    let classes: Vec<String> = error_classes(runs[0].1)
        .into_iter()
        .chain(error_classes(runs[1].1))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let columns: Vec<Vec<Column>> = runs.iter().map(|(_, s)| error_columns(s, &classes)).collect();
    let max = columns
        .iter()
        .flatten()
        .map(|c| c.values.iter().filter(|v| v.is_finite() && **v > 0.0).sum::<f64>())
        .fold(0.0, f64::max);
    for ((name, s), columns) in runs.iter().zip(columns) {
        h.push_str(&stacked_chart(&StackedChart {
            kind: chart_kind(name, "errors"),
            title: format!("{name}: errors per interval by class"),
            x: time_axis(),
            x_range,
            y: Axis::linear("errors"),
            classes: classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), error_color(i)))
                .collect(),
            columns,
            bands: phase_bands(s),
            y_max: Some(max),
            empty: "no errors".into(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_curve_passes_through_the_summarys_percentiles() {
        let mut h = crate::metrics::new_histogram();
        for i in 1..=10_000u64 {
            h.record(i * 1_000).unwrap();
        }
        let p = crate::report::model::percentiles(&h);
        let mut s = Summary::default();
        s.latency_us.corrected = p;
        let run = Run {
            latency: Some(h),
            ..Run::from_summary("x", &s)
        };
        let c = curve(&run);
        assert!(c.len() > 60, "{}", c.len());
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{c:?}");
        for (key, x, us) in summary_points(&s) {
            let on = c
                .iter()
                .find(|p| p.0 == x)
                .unwrap_or_else(|| panic!("no point at {key}"));
            assert_eq!(on.1, us, "{key}");
        }
        // Without a histogram: the summary's six points; without either: nothing.
        assert_eq!(curve(&Run::from_summary("x", &s)).len(), 6);
        assert!(curve(&Run::from_summary("x", &Summary::default())).is_empty());
    }
}
