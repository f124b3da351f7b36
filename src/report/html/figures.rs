//! The charts of the report, from the summary's time line, phases, faults and percentiles.

use std::collections::BTreeSet;

use serde_json::Value;

use super::charts::{
    bar_chart, line_chart, stacked_chart, Axis, Band, BarChart, Column, LineChart, Series, StackedChart, PALETTE,
};
use super::markup::{fmt_bytes, fmt_num, fmt_pct, get_f, table, text};
use super::svg::tick_us;

const PHASE_SHADES: [&str; 2] = ["#4a6fa5", "#7a7a7a"];
const FAULT_COLOR: &str = "#d62728";
const FINDING_COLOR: &str = "#e0a000";

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn arr<'a>(s: &'a Value, ptr: &str) -> &'a [Value] {
    s.pointer(ptr).and_then(Value::as_array).map_or(&[][..], Vec::as_slice)
}

/// The scenario's phases as light windows.
pub(super) fn phase_bands(s: &Value) -> Vec<Band> {
    arr(s, "/phases")
        .iter()
        .enumerate()
        .map(|(i, p)| Band {
            start: f(p, "start_s"),
            end: f(p, "end_s"),
            label: p.get("name").and_then(Value::as_str).unwrap_or("phase").to_string(),
            color: PHASE_SHADES[i % 2],
            opacity: 0.07,
        })
        .collect()
}

/// Each injected fault as a window: as long as the scenario's `for` for faults that last
/// (half-open, pause), otherwise a moment.
fn fault_bands(s: &Value) -> Vec<Band> {
    let specs = arr(s, "/scenario/faults");
    arr(s, "/faults/events")
        .iter()
        .map(|e| {
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("fault");
            let lasting = specs
                .iter()
                .filter(|sp| sp.get("kind").and_then(Value::as_str) == Some(kind))
                .find_map(|sp| sp.get("for").and_then(Value::as_f64))
                .unwrap_or(0.0);
            let t = f(e, "t_s");
            Band {
                start: t,
                end: t + lasting,
                label: format!("{kind} ×{}", fmt_num(f(e, "connections"))),
                color: FAULT_COLOR,
                opacity: 0.22,
            }
        })
        .collect()
}

/// The analysis' findings that name a time window.
fn finding_bands(s: &Value) -> Vec<Band> {
    arr(s, "/analysis/findings")
        .iter()
        .filter(|x| x.get("start_s").and_then(Value::as_f64).is_some())
        .map(|x| {
            let start = f(x, "start_s");
            let end = x.get("end_s").and_then(Value::as_f64).unwrap_or(start);
            Band {
                start,
                end,
                label: x.get("title").and_then(Value::as_str).unwrap_or("finding").to_string(),
                color: FINDING_COLOR,
                opacity: 0.18,
            }
        })
        .collect()
}

/// One shared time axis for every time chart: from 0 to the last thing on the clock.
pub(super) fn time_range(s: &Value) -> (f64, f64) {
    let mut hi: f64 = 0.0;
    let mut see = |v: f64| {
        if v.is_finite() {
            hi = hi.max(v);
        }
    };
    arr(s, "/timeline").iter().for_each(|p| see(f(p, "t_s")));
    arr(s, "/phases").iter().for_each(|p| see(f(p, "end_s")));
    fault_bands(s).iter().for_each(|b| see(b.end));
    see(get_f(s, "/traffic_start_s").unwrap_or(0.0) + get_f(s, "/duration_s").unwrap_or(0.0));
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

pub fn charts(h: &mut String, s: &Value) {
    let tl = arr(s, "/timeline");
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

/// (t_s, value of `key`) of every time-line point.
fn points(tl: &[Value], key: &str) -> Vec<(f64, f64)> {
    tl.iter().map(|p| (f(p, "t_s"), f(p, key))).collect()
}

/// Open connections and the connect rate, with the phases and faults.
fn connections_chart(s: &Value, tl: &[Value], x_range: (f64, f64)) -> String {
    line_chart(&LineChart {
        kind: "connections",
        title: "Open connections and connect rate".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis::linear("open connections"),
        y2: Some(Axis::linear("connects/s")),
        series: vec![
            series("open", PALETTE[0], points(tl, "open")),
            Series {
                right: true,
                dashed: true,
                ..series("connects/s", PALETTE[4], points(tl, "connects_per_s"))
            },
        ],
        bands: phase_bands(s).into_iter().chain(fault_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// Messages sent and received per second, with the phases and faults.
fn messages_chart(s: &Value, tl: &[Value], x_range: (f64, f64)) -> String {
    line_chart(&LineChart {
        kind: "messages",
        title: "Messages per second".into(),
        x: time_axis(),
        x_range,
        x_ticks: None,
        y: Axis::linear("messages/s"),
        y2: None,
        series: vec![
            series("sent/s", PALETTE[0], points(tl, "sent_per_s")),
            Series {
                dashed: true,
                ..series("received/s", PALETTE[2], points(tl, "received_per_s"))
            },
        ],
        bands: phase_bands(s).into_iter().chain(fault_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// Latency percentiles per interval, with the phases and the findings' windows.
fn latency_chart(s: &Value, tl: &[Value], x_range: (f64, f64)) -> String {
    // An interval without echoes has no latency (its percentiles read 0): a gap, not a zero.
    let lat = |key: &str| -> Vec<(f64, f64)> {
        tl.iter()
            .map(|p| {
                let y = if f(p, "received_per_s") > 0.0 {
                    f(p, key)
                } else {
                    f64::NAN
                };
                (f(p, "t_s"), y)
            })
            .collect()
    };
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
            series("p50", PALETTE[2], lat("p50_us")),
            series("p99", PALETTE[4], lat("p99_us")),
            series("p99.9", PALETTE[1], lat("p99_9_us")),
        ],
        bands: phase_bands(s).into_iter().chain(finding_bands(s)).collect(),
        y_range: None,
        markers: Vec::new(),
    })
}

/// The error classes seen in a run's time line, sorted.
pub(super) fn error_classes(s: &Value) -> BTreeSet<String> {
    arr(s, "/timeline")
        .iter()
        .filter_map(|p| p.get("errors_new").and_then(Value::as_object))
        .flat_map(|o| o.keys().cloned())
        .collect()
}

/// The colour of the `i`th error class.
pub(super) fn error_color(i: usize) -> &'static str {
    PALETTE[(i + 1) % PALETTE.len()]
}

/// Errors per interval by class, stacked, with the injected faults' windows shaded.
fn errors_chart(s: &Value, x_range: (f64, f64), faults: Vec<Band>) -> String {
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
pub(super) fn error_columns(s: &Value, classes: &[String]) -> Vec<Column> {
    let tl = arr(s, "/timeline");
    // The points' length: a long run's points each cover several intervals.
    let step = ["/run/timeline_step_s", "/run/interval_s"]
        .into_iter()
        .find_map(|k| get_f(s, k).filter(|v| *v > 0.0))
        .unwrap_or(1.0);
    let mut prev: Option<f64> = None;
    tl.iter()
        .map(|p| {
            let end = f(p, "t_s");
            // A column ends at its point; the first one is as long as the points are.
            let start = prev.filter(|s| *s < end).unwrap_or(end - step);
            prev = Some(end);
            let values = classes
                .iter()
                .map(|c| p.pointer(&format!("/errors_new/{}", c.replace('~', "~0").replace('/', "~1"))))
                .map(|v| v.and_then(Value::as_f64).unwrap_or(0.0))
                .collect();
            Column { start, end, values }
        })
        .collect()
}

/// The summary's percentiles (key, x, label) on the distribution chart's log x axis, where
/// x = 1 / (1 - q): p50 → 2, p90 → 10, p99 → 100, p99.9 → 1000; max drawn one decade on.
pub(super) const PERCENTILE_X: [(&str, f64, &str); 6] = [
    ("p50", 2.0, "p50"),
    ("p90", 10.0, "p90"),
    ("p95", 20.0, "p95"),
    ("p99", 100.0, "p99"),
    ("p99_9", 1000.0, "p99.9"),
    ("max", 10000.0, "max"),
];

/// The latency distribution: percentile on a log x axis (each decade one more nine).
fn percentile_chart(h: &mut String, s: &Value) {
    const AT: [(&str, f64, &str); 6] = PERCENTILE_X;
    let line = |ptr: &str| -> Vec<(f64, f64)> {
        match s.pointer(ptr) {
            Some(p) if p.get("count").and_then(Value::as_f64).unwrap_or(0.0) > 0.0 => {
                AT.iter().map(|(k, x, _)| (*x, f(p, k))).collect()
            }
            _ => Vec::new(),
        }
    };
    let corrected = line("/latency_us/corrected");
    let all: Vec<f64> = corrected
        .iter()
        .chain(&line("/latency_us/uncorrected"))
        .map(|p| p.1)
        .collect();
    let (lo, hi) = all
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
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
        x_ticks: Some(AT.iter().map(|(_, x, l)| (*x, l.to_string())).collect()),
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
                ..series("uncorrected", PALETTE[4], line("/latency_us/uncorrected"))
            },
        ],
        bands: Vec::new(),
        y_range: None,
        markers: Vec::new(),
    }));
}

/// The server's memory and open files over time, when it was sampled.
fn server_chart(h: &mut String, s: &Value, x_range: (f64, f64)) {
    let tl = arr(s, "/timeline");
    if !tl.iter().any(|p| p.get("server").is_some_and(|v| !v.is_null())) {
        return;
    }
    let sp = |key: &str| -> Vec<(f64, f64)> {
        tl.iter()
            .map(|p| {
                let v = p.pointer(&format!("/server/{key}")).and_then(Value::as_f64);
                (f(p, "t_s"), v.unwrap_or(f64::NAN))
            })
            .collect()
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
            series("RSS", PALETTE[3], sp("rss_bytes")),
            Series {
                right: true,
                dashed: true,
                ..series("open files", PALETTE[5], sp("fds"))
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
/// before `cores` existed get a note instead.
fn cores_chart(h: &mut String, s: &Value) {
    h.push_str("<h3>Per-core balance</h3>");
    let Some(cores) = s.get("cores").and_then(Value::as_array) else {
        h.push_str(
            "<p class=\"meta\" id=\"per-core\">per-core figures are not recorded in this summary (it was \
             written before wsload recorded them), so the balance between the client's cores cannot be shown.</p>",
        );
        return;
    };
    h.push_str(&cores_shares(cores));
    cores_table(h, cores);
}

/// What the balance chart compares: each core's share of these totals (see [`core_figure`]).
const CORE_MEASURES: [&str; 3] = ["established", "sent", "failures"];

/// `core N` (its index in the summary when it lacks `core`).
fn core_label(i: usize, c: &Value) -> String {
    format!(
        "core {}",
        fmt_num(c.get("core").and_then(Value::as_f64).unwrap_or(i as f64))
    )
}

/// The bar chart of each core's share of [`CORE_MEASURES`], against an even split.
fn cores_shares(cores: &[Value]) -> String {
    let totals: Vec<f64> = CORE_MEASURES
        .iter()
        .map(|m| cores.iter().map(|c| core_figure(c, m)).sum())
        .collect();
    // A share of a total that is 0 is 0, not NaN.
    let share = |v: f64, t: f64| if t > 0.0 { v / t * 100.0 } else { 0.0 };
    let groups = cores
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let values = CORE_MEASURES
                .iter()
                .zip(&totals)
                .map(|(m, t)| share(core_figure(c, m), *t))
                .collect();
            (core_label(i, c), values)
        })
        .collect();
    let tips = cores
        .iter()
        .enumerate()
        .map(|(i, c)| {
            CORE_MEASURES
                .iter()
                .zip(&totals)
                .map(|(name, t)| {
                    let v = core_figure(c, name);
                    format!(
                        "{} {name}: {} ({})",
                        core_label(i, c),
                        fmt_num(v),
                        fmt_pct(share(v, *t) / 100.0)
                    )
                })
                .collect()
        })
        .collect();
    let even = if cores.is_empty() {
        None
    } else {
        Some(100.0 / cores.len() as f64)
    };
    bar_chart(&BarChart {
        kind: "cores",
        title: "Each core's share of the run's totals".into(),
        x: Axis::linear("share of the run's total (%)"),
        measures: CORE_MEASURES
            .iter()
            .zip([PALETTE[0], PALETTE[2], PALETTE[1]])
            .map(|(name, color)| (name.to_string(), color))
            .collect(),
        groups,
        reference: even.map(|e| (e, "even split".to_string())),
        tips,
        empty: "no client cores recorded".into(),
    })
}

/// Each core's figures, as recorded.
fn cores_table(h: &mut String, cores: &[Value]) {
    let rows = cores
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut row = vec![core_label(i, c), text(c.get("cpu"))];
            for k in [
                "established",
                "connect_failed",
                "dropped",
                "sent",
                "received",
                "lost",
                "errors",
            ] {
                row.push(fmt_num(core_figure(c, k)));
            }
            row.push(fmt_num(core_figure(c, "failures")));
            row
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

/// One figure of a `cores` entry (0 when missing); `failures` is errors + failed connects +
/// drops + lost messages.
fn core_figure(c: &Value, key: &str) -> f64 {
    if key == "failures" {
        return ["errors", "connect_failed", "dropped", "lost"]
            .iter()
            .map(|k| core_figure(c, k))
            .sum();
    }
    c.get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long run's points cover several intervals (run.timeline_step_s): the first column is
    /// as wide as the others, not one interval.
    #[test]
    fn error_columns_of_merged_points_start_a_whole_step_back() {
        let s = serde_json::json!({
            "run": {"interval_s": 1.0, "timeline_step_s": 4.0},
            "timeline": [
                {"t_s": 4.0, "errors_new": {"reset": 2}},
                {"t_s": 8.0, "errors_new": {}},
            ],
        });
        let classes: Vec<String> = error_classes(&s).into_iter().collect();
        assert_eq!(classes, ["reset"]);
        let cols = error_columns(&s, &classes);
        let spans: Vec<(f64, f64)> = cols.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(spans, [(0.0, 4.0), (4.0, 8.0)]);
        assert_eq!(cols[0].values, [2.0]);
        assert_eq!(cols[1].values, [0.0]);
    }
}
