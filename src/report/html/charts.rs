//! Charts as inline SVG: a line chart (time or log-scale x, optional right-hand axis, shaded
//! windows), stacked columns (errors by class per interval) and grouped horizontal bars (the
//! client cores' balance). All draw their axes, ticks and legend, and all cope with no data
//! and with a single point or group.

use super::svg::{nice_max, tick_label, Scale, Svg};

pub const WIDTH: f64 = 900.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 46.0;

/// Colours for series, in order; chosen to stay apart for common colour blindness.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// One line: `points` are (x, y) in data units; non-finite or unplottable points are gaps.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
    /// Drawn against the right-hand axis.
    pub right: bool,
    pub dashed: bool,
}

/// A shaded window on the x axis (a phase, a fault, a finding). `end == start` is a moment,
/// drawn a few pixels wide.
pub struct Band {
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub color: &'static str,
    pub opacity: f64,
}

/// An axis' label and how its ticks read.
pub struct Axis {
    pub title: String,
    pub log: bool,
    pub fmt: fn(f64) -> String,
}

impl Axis {
    pub fn linear(title: &str) -> Axis {
        Axis {
            title: title.to_string(),
            log: false,
            fmt: tick_label,
        }
    }
}

pub struct LineChart {
    /// Names the chart in the document (`data-chart`).
    pub kind: &'static str,
    pub title: String,
    pub x: Axis,
    /// The x range shown (several time charts share one, so they line up).
    pub x_range: (f64, f64),
    /// Fixed x ticks with their labels (the percentile chart); otherwise computed.
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub y: Axis,
    pub y2: Option<Axis>,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    /// A fixed y range (lo, hi), so that charts drawn one above the other share a scale (see
    /// [`y_bounds`]); otherwise from the data.
    pub y_range: Option<(f64, f64)>,
    /// Marked figures (against the left axis), each with its `data-*` attributes.
    pub markers: Vec<Marker>,
}

/// A figure marked on a line chart: a dot at (x, y) in data units.
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub color: &'static str,
    /// `data-*` attributes: names fixed by the caller, values escaped on writing.
    pub data: Vec<(&'static str, String)>,
    pub title: String,
}

/// The plot area and its scales.
struct Frame {
    x: Scale,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

fn frame(x_range: (f64, f64), x_log: bool, right_axis: bool) -> Frame {
    let right = WIDTH - if right_axis { 70.0 } else { 24.0 };
    let bottom = HEIGHT - BOTTOM;
    Frame {
        x: Scale::new(x_range.0, x_range.1, x_log, LEFT, right),
        left: LEFT,
        right,
        top: TOP,
        bottom,
    }
}

/// The y range for some values: from 0 to a round number (linear), or whole decades from the
/// smallest positive value (log), so that both ends have a labelled tick. Charts that must share
/// a scale pass the range of all their values as [`LineChart::y_range`].
pub fn y_bounds(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let vals: Vec<f64> = values.filter(|v| v.is_finite() && (!log || *v > 0.0)).collect();
    let max = vals.iter().copied().fold(f64::NAN, f64::max);
    if log {
        let min = vals.iter().copied().fold(f64::NAN, f64::min);
        (10f64.powf(min.log10().floor()), 10f64.powf(max.log10().ceil()))
    } else {
        (0.0, nice_max(max))
    }
}

fn y_scale(values: impl Iterator<Item = f64>, log: bool, f: &Frame) -> Scale {
    let (lo, hi) = y_bounds(values, log);
    Scale::new(lo, hi, log, f.bottom, f.top)
}

/// The scales as `data-*` attributes of a group, for charts meant to be read back.
fn scales_group(svg: &mut Svg, x: &Scale, y: &Scale) {
    svg.open_group("plot", &[("x-scale", x.describe()), ("y-scale", y.describe())]);
}

fn draw_frame(svg: &mut Svg, f: &Frame, title: &str, x: &Axis, x_ticks: Option<&[(f64, String)]>) {
    svg.text(f.left, 18.0, title, "start", "chart-title");
    let ticks: Vec<(f64, String)> = match x_ticks {
        Some(t) => t.to_vec(),
        None => f.x.ticks(10).into_iter().map(|v| (v, (x.fmt)(v))).collect(),
    };
    for (v, label) in ticks {
        if let Some(px) = f.x.map(v) {
            svg.line(px, f.top, px, f.bottom, "grid");
            svg.line(px, f.bottom, px, f.bottom + 5.0, "axis");
            svg.text(px, f.bottom + 18.0, &label, "middle", "tick");
        }
    }
    svg.line(f.left, f.bottom, f.right, f.bottom, "axis");
    svg.text((f.left + f.right) / 2.0, HEIGHT - 6.0, &x.title, "middle", "axis-title");
}

fn draw_y_axis(svg: &mut Svg, f: &Frame, s: &Scale, axis: &Axis, right: bool) {
    let x = if right { f.right } else { f.left };
    for v in s.ticks(5) {
        if let Some(py) = s.map(v) {
            if !right {
                svg.line(f.left, py, f.right, py, "grid");
            }
            let (x2, tx, anchor) = if right {
                (x + 5.0, x + 8.0, "start")
            } else {
                (x - 5.0, x - 8.0, "end")
            };
            svg.line(x, py, x2, py, "axis");
            svg.text(tx, py + 4.0, &(axis.fmt)(v), anchor, "tick");
        }
    }
    svg.line(x, f.top, x, f.bottom, "axis");
    let tx = if right { WIDTH - 10.0 } else { 14.0 };
    svg.vtext(tx, (f.top + f.bottom) / 2.0, &axis.title);
}

fn draw_bands(svg: &mut Svg, f: &Frame, bands: &[Band]) {
    for (i, b) in bands.iter().enumerate() {
        if !(b.start.is_finite() && b.end.is_finite()) || b.end < f.x.lo || b.start > f.x.hi {
            continue;
        }
        let x0 = f.x.clamp_map(b.start);
        let x1 = f.x.clamp_map(b.end.max(b.start));
        let (x0, w) = if x1 - x0 < 3.0 { (x0 - 1.5, 3.0) } else { (x0, x1 - x0) };
        svg.rect([x0, f.top, w, f.bottom - f.top], b.color, b.opacity, Some(&b.label));
        // Alternate label heights so neighbouring windows' names do not overprint.
        let ly = f.top + 11.0 + (i % 2) as f64 * 11.0;
        svg.text(x0 + 2.0, ly, &b.label, "start", "band-label");
    }
}

/// Legend entries along the top right, in order.
fn draw_legend(svg: &mut Svg, f: &Frame, items: &[(&str, &str, bool)]) {
    let widths: Vec<f64> = items
        .iter()
        .map(|(n, _, _)| 26.0 + 6.5 * n.chars().count() as f64)
        .collect();
    let mut x = (f.right - widths.iter().sum::<f64>()).max(f.left + 260.0);
    for ((name, color, dashed), w) in items.iter().zip(widths) {
        svg.polyline(&[(x, 26.0), (x + 14.0, 26.0)], color, *dashed);
        svg.text(x + 18.0, 30.0, name, "start", "legend");
        x += w;
    }
}

fn no_data(svg: &mut Svg, f: &Frame, what: &str) {
    svg.text(
        (f.left + f.right) / 2.0,
        (f.top + f.bottom) / 2.0,
        what,
        "middle",
        "no-data",
    );
}

/// A line chart. Series on a log axis skip values ≤ 0; a run of one point is drawn as a dot.
pub fn line_chart(c: &LineChart) -> String {
    let f = frame(c.x_range, c.x.log, c.y2.is_some());
    let mut svg = Svg::new(c.kind, &c.title, WIDTH, HEIGHT);
    draw_bands(&mut svg, &f, &c.bands);
    draw_frame(&mut svg, &f, &c.title, &c.x, c.x_ticks.as_deref());
    let values = |right: bool| {
        c.series
            .iter()
            .filter(move |s| s.right == right)
            .flat_map(|s| s.points.iter().map(|p| p.1))
    };
    let y = match c.y_range {
        Some((lo, hi)) => Scale::new(lo, hi, c.y.log, f.bottom, f.top),
        None => y_scale(values(false), c.y.log, &f),
    };
    draw_y_axis(&mut svg, &f, &y, &c.y, false);
    let y2 = c.y2.as_ref().map(|a| {
        let s = y_scale(values(true), a.log, &f);
        draw_y_axis(&mut svg, &f, &s, a, true);
        s
    });
    let mut drawn = 0;
    for s in &c.series {
        let ys = if s.right { y2.as_ref().unwrap_or(&y) } else { &y };
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut flush = |run: &mut Vec<(f64, f64)>, svg: &mut Svg| {
            match run.len() {
                0 => {}
                1 => svg.circle(run[0].0, run[0].1, 3.0, s.color),
                _ => svg.polyline(run, s.color, s.dashed),
            }
            drawn += run.len();
            run.clear();
        };
        for &(xv, yv) in &s.points {
            match (f.x.map(xv), ys.map(yv)) {
                (Some(px), Some(py)) => run.push((px, py)),
                _ => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
        // A short series is easier to read with its points marked.
        if s.points.len() <= 12 {
            for &(xv, yv) in &s.points {
                if let (Some(px), Some(py)) = (f.x.map(xv), ys.map(yv)) {
                    svg.circle(px, py, 2.5, s.color);
                }
            }
        }
    }
    if c.y_range.is_some() || !c.markers.is_empty() {
        scales_group(&mut svg, &f.x, &y);
        for m in &c.markers {
            if let (Some(px), Some(py)) = (f.x.map(m.x), y.map(m.y)) {
                svg.marker((px, py), m.color, &m.data, &m.title);
                drawn += 1;
            }
        }
        svg.close_group();
    }
    if drawn == 0 {
        no_data(&mut svg, &f, "no data");
    }
    let legend: Vec<(&str, &str, bool)> = c.series.iter().map(|s| (s.name.as_str(), s.color, s.dashed)).collect();
    draw_legend(&mut svg, &f, &legend);
    svg.finish()
}

/// One column of a stacked column chart: the interval `[start, end]` and a value per class.
pub struct Column {
    pub start: f64,
    pub end: f64,
    pub values: Vec<f64>,
}

pub struct StackedChart {
    pub kind: &'static str,
    pub title: String,
    pub x: Axis,
    pub x_range: (f64, f64),
    pub y: Axis,
    /// Class names with their colours, in stacking order (bottom first).
    pub classes: Vec<(String, &'static str)>,
    pub columns: Vec<Column>,
    pub bands: Vec<Band>,
    /// A fixed top of the y axis (charts one above the other share it); otherwise from the data.
    pub y_max: Option<f64>,
    /// What to say when every value is zero.
    pub empty: String,
}

/// Stacked columns, one per interval, classes stacked bottom to top.
pub fn stacked_chart(c: &StackedChart) -> String {
    let f = frame(c.x_range, false, false);
    let mut svg = Svg::new(c.kind, &c.title, WIDTH, HEIGHT);
    draw_bands(&mut svg, &f, &c.bands);
    draw_frame(&mut svg, &f, &c.title, &c.x, None);
    let total = |col: &Column| col.values.iter().filter(|v| v.is_finite() && **v > 0.0).sum::<f64>();
    let max = c.columns.iter().map(total).fold(0.0, f64::max);
    let y = Scale::new(0.0, nice_max(c.y_max.unwrap_or(max)), false, f.bottom, f.top);
    draw_y_axis(&mut svg, &f, &y, &c.y, false);
    if c.y_max.is_some() {
        scales_group(&mut svg, &f.x, &y);
        svg.close_group();
    }
    for col in &c.columns {
        let (x0, x1) = (f.x.clamp_map(col.start), f.x.clamp_map(col.end));
        // A 10% gap between columns, and never thinner than 2 px.
        let w = ((x1 - x0) * 0.9).max(2.0);
        let mut acc = 0.0;
        for (i, v) in col.values.iter().enumerate() {
            if !(v.is_finite() && *v > 0.0) {
                continue;
            }
            let (Some(top), Some(bot)) = (y.map(acc + v), y.map(acc)) else {
                continue;
            };
            let (name, color) = c.classes.get(i).map_or(("?", "#888"), |(n, c)| (n.as_str(), *c));
            let tip = format!("{name}: {}", tick_label(*v));
            svg.rect([x1 - w, top, w, bot - top], color, 0.9, Some(&tip));
            acc += v;
        }
    }
    if max <= 0.0 {
        no_data(&mut svg, &f, &c.empty);
    }
    let legend: Vec<(&str, &str, bool)> = c.classes.iter().map(|(n, col)| (n.as_str(), *col, false)).collect();
    draw_legend(&mut svg, &f, &legend);
    svg.finish()
}

/// Grouped horizontal bars: one group per item (a core), one bar per measure, all on one x
/// axis from 0. The chart is as tall as its groups need.
pub struct BarChart {
    pub kind: &'static str,
    pub title: String,
    pub x: Axis,
    /// Measure names with their colours, in drawing order (top bar of a group first).
    pub measures: Vec<(String, &'static str)>,
    /// Group labels with one value per measure.
    pub groups: Vec<(String, Vec<f64>)>,
    /// A dashed vertical reference line at this x value, with its legend name.
    pub reference: Option<(f64, String)>,
    /// Tooltip of each bar, by group and measure (the bars' exact figures); may be empty.
    pub tips: Vec<Vec<String>>,
    pub empty: String,
}

const BAR: f64 = 11.0;
const GROUP_GAP: f64 = 12.0;

/// Grouped horizontal bars (per-core balance). Non-finite or negative values draw no bar.
pub fn bar_chart(c: &BarChart) -> String {
    let group_h = BAR * c.measures.len().max(1) as f64 + GROUP_GAP;
    let height = TOP + group_h * c.groups.len().max(1) as f64 + BOTTOM;
    let bottom = height - BOTTOM;
    let finite = |v: &f64| v.is_finite() && *v >= 0.0;
    let max = c
        .groups
        .iter()
        .flat_map(|g| g.1.iter())
        .chain(c.reference.iter().map(|r| &r.0))
        .copied()
        .filter(finite)
        .fold(0.0, f64::max);
    let f = Frame {
        x: Scale::new(0.0, nice_max(max), false, LEFT, WIDTH - 24.0),
        left: LEFT,
        right: WIDTH - 24.0,
        top: TOP,
        bottom,
    };
    let mut svg = Svg::new(c.kind, &c.title, WIDTH, height);
    svg.text(f.left, 18.0, &c.title, "start", "chart-title");
    for v in f.x.ticks(10) {
        if let Some(px) = f.x.map(v) {
            svg.line(px, f.top, px, f.bottom, "grid");
            svg.line(px, f.bottom, px, f.bottom + 5.0, "axis");
            svg.text(px, f.bottom + 18.0, &(c.x.fmt)(v), "middle", "tick");
        }
    }
    svg.line(f.left, f.bottom, f.right, f.bottom, "axis");
    svg.line(f.left, f.top, f.left, f.bottom, "axis");
    svg.text(
        (f.left + f.right) / 2.0,
        height - 6.0,
        &c.x.title,
        "middle",
        "axis-title",
    );
    let mut drawn = 0;
    for (gi, (label, values)) in c.groups.iter().enumerate() {
        let y0 = f.top + GROUP_GAP / 2.0 + gi as f64 * group_h;
        let mid = y0 + BAR * c.measures.len() as f64 / 2.0;
        svg.text(f.left - 8.0, mid + 4.0, label, "end", "tick");
        for (mi, v) in values.iter().enumerate() {
            let Some(x1) = finite(v).then(|| f.x.map(*v)).flatten() else {
                continue;
            };
            let color = c.measures.get(mi).map_or("#888", |m| m.1);
            let tip = c.tips.get(gi).and_then(|t| t.get(mi)).map(String::as_str);
            svg.rect([f.left, y0 + mi as f64 * BAR, x1 - f.left, BAR - 2.0], color, 0.9, tip);
            drawn += 1;
        }
    }
    let mut legend: Vec<(&str, &str, bool)> = c.measures.iter().map(|(n, col)| (n.as_str(), *col, false)).collect();
    if let Some((v, name)) = &c.reference {
        if let Some(px) = f.x.map(*v) {
            svg.polyline(&[(px, f.top), (px, f.bottom)], "#555", true);
            legend.push((name.as_str(), "#555", true));
        }
    }
    if drawn == 0 {
        no_data(&mut svg, &f, &c.empty);
    }
    draw_legend(&mut svg, &f, &legend);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>, log: bool) -> LineChart {
        LineChart {
            kind: "test",
            title: "t".into(),
            x: Axis::linear("time (s)"),
            x_range: (0.0, points.iter().map(|p| p.0).fold(0.0, f64::max)),
            x_ticks: None,
            y: Axis {
                log,
                ..Axis::linear("y")
            },
            y2: Some(Axis::linear("y2")),
            series: vec![Series {
                name: "s".into(),
                color: PALETTE[0],
                points: points.clone(),
                right: false,
                dashed: false,
            }],
            bands: vec![Band {
                start: 0.0,
                end: 0.0,
                label: "fault".into(),
                color: "#f00",
                opacity: 0.2,
            }],
            y_range: None,
            markers: Vec::new(),
        }
    }

    fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        for bad in ["NaN", "inf", "undefined"] {
            assert!(!svg.contains(bad), "{bad} in {svg}");
        }
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn empty_and_single_point_lines_render() {
        for log in [false, true] {
            let empty = line_chart(&chart(vec![], log));
            well_formed(&empty);
            assert!(empty.contains("no data"));
            let one = line_chart(&chart(vec![(1.0, 5.0)], log));
            well_formed(&one);
            assert!(one.contains("<circle"), "a single point shows as a dot: {one}");
            assert!(!one.contains("no data"));
            let odd = line_chart(&chart(vec![(f64::NAN, 1.0), (1.0, f64::INFINITY), (2.0, 0.0)], log));
            well_formed(&odd);
        }
    }

    #[test]
    fn stacked_columns_render_with_and_without_values() {
        let mk = |cols: Vec<Column>| StackedChart {
            kind: "errors",
            title: "errors".into(),
            x: Axis::linear("time (s)"),
            x_range: (0.0, 2.0),
            y: Axis::linear("errors"),
            classes: vec![("reset".into(), PALETTE[1]), ("refused".into(), PALETTE[2])],
            columns: cols,
            bands: vec![],
            y_max: None,
            empty: "no errors".into(),
        };
        let none = stacked_chart(&mk(vec![]));
        well_formed(&none);
        assert!(none.contains("no errors"));
        let some = stacked_chart(&mk(vec![Column {
            start: 0.0,
            end: 1.0,
            values: vec![3.0, f64::NAN],
        }]));
        well_formed(&some);
        assert!(some.contains("reset: 3"));
    }

    #[test]
    fn grouped_bars_render_for_none_one_and_odd_values() {
        let mk = |groups: Vec<(String, Vec<f64>)>| BarChart {
            kind: "cores",
            title: "balance".into(),
            x: Axis::linear("share (%)"),
            measures: vec![("sent".into(), PALETTE[0]), ("failures".into(), PALETTE[1])],
            groups,
            reference: Some((50.0, "even".into())),
            tips: vec![vec!["core 0 sent: 7".into()]],
            empty: "no cores".into(),
        };
        let none = bar_chart(&mk(vec![]));
        well_formed(&none);
        assert!(none.contains("no cores"));
        let one = bar_chart(&mk(vec![("core 0".into(), vec![100.0, 0.0])]));
        well_formed(&one);
        assert_eq!(one.matches("<rect").count(), 2);
        assert!(one.contains("core 0 sent: 7") && one.contains("stroke-dasharray"));
        let odd = bar_chart(&mk(vec![("core <1>".into(), vec![f64::NAN, -1.0, f64::INFINITY])]));
        well_formed(&odd);
        assert!(odd.contains("core &lt;1&gt;") && !odd.contains("<rect"));
    }
}
