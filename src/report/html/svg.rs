//! Small SVG building blocks: scales (linear or log), "nice" ticks, and an element writer.
//!
//! Every coordinate written goes through [`px`], which turns a non-finite number into 0, so a
//! chart never carries `NaN` or `inf` into the document whatever its data.

use std::fmt::Write;

use super::markup::esc;

/// A mapping from data values to pixels along one axis.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// Pixel positions of `lo` and `hi` (`p0 > p1` for a y axis, which grows upwards).
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    /// A scale over `[lo, hi]`, widened when empty or degenerate. A log scale needs `lo > 0`.
    pub fn new(lo: f64, hi: f64, log: bool, p0: f64, p1: f64) -> Scale {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && lo <= hi {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        if log {
            lo = if lo > 0.0 { lo } else { 1.0 };
            hi = hi.max(lo);
            if hi / lo < 10.0 {
                // Show at least one decade, so there are ticks to read.
                lo = 10f64.powf(lo.log10().floor());
                hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
            }
        } else if hi - lo < 1e-12 {
            if lo == 0.0 {
                hi = 1.0;
            } else {
                let d = lo.abs() * 0.1;
                (lo, hi) = (lo - d, hi + d);
            }
        }
        Scale { lo, hi, log, p0, p1 }
    }

    /// Where `v` goes, in pixels (`None` for a value a log scale cannot show).
    pub fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        let f = if self.log {
            if v <= 0.0 {
                return None;
            }
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        let p = self.p0 + f * (self.p1 - self.p0);
        p.is_finite().then_some(p)
    }

    /// Like [`Scale::map`], clamped to the axis (for shaded windows that run past it).
    pub fn clamp_map(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.map(v).unwrap_or(self.p0)
    }

    /// Tick values: 1-2-5 steps on a linear scale, powers of ten on a log scale.
    pub fn ticks(&self, want: usize) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32);
            let every = (((b - a) as usize).div_ceil(want.max(1))).max(1);
            (a..=b)
                .step_by(every)
                .map(|e| 10f64.powi(e))
                .filter(|v| *v >= self.lo * 0.999 && *v <= self.hi * 1.001)
                .collect()
        } else {
            nice_ticks(self.lo, self.hi, want)
        }
    }
}

impl Scale {
    /// The scale as text for a `data-*` attribute: `log LO HI P0 P1` or `linear LO HI P0 P1`,
    /// so that a pixel position maps back to its value (`v = lo + (p - p0) / (p1 - p0) · (hi -
    /// lo)`, in log10 on a log scale).
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {} {}",
            if self.log { "log" } else { "linear" },
            self.lo,
            self.hi,
            px(self.p0),
            px(self.p1)
        )
    }
}

/// Round numbers between `lo` and `hi` (inclusive), about `want` of them.
pub fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    // Each tick from its index, rounded to the step's decimals: float noise
    // (0.30000000000000004) and -0 read badly on an axis.
    let decimals = (-step.log10().floor()).max(0.0) as usize + 1;
    let first = (lo / step).ceil();
    (0..50)
        .map(|i| (first + i as f64) * step)
        .take_while(|t| *t <= hi + step * 1e-9)
        .map(|t| format!("{t:.decimals$}").parse::<f64>().unwrap_or(t) + 0.0)
        .collect()
}

/// The upper end of an axis from 0 that holds `max`: the next tick above it.
pub fn nice_max(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let ticks = nice_ticks(0.0, max, 5);
    let step = if ticks.len() > 1 { ticks[1] - ticks[0] } else { max };
    let last = ticks.last().copied().unwrap_or(max);
    if last >= max {
        last
    } else {
        last + step
    }
}

/// A coordinate for the document: one decimal, finite.
pub fn px(v: f64) -> String {
    if v.is_finite() {
        let r = (v * 10.0).round() / 10.0;
        if r == r.trunc() {
            format!("{}", r as i64)
        } else {
            format!("{r:.1}")
        }
    } else {
        "0".to_string()
    }
}

/// A tick label: short, with k/M for large numbers.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    let short = |x: f64, suffix: &str| {
        let s = if (x - x.round()).abs() < 1e-9 {
            format!("{}", x.round() as i64)
        } else {
            format!("{x:.1}")
        };
        format!("{s}{suffix}")
    };
    if !v.is_finite() {
        "".to_string()
    } else if a >= 1e9 {
        short(v / 1e9, "G")
    } else if a >= 1e6 {
        short(v / 1e6, "M")
    } else if a >= 1e4 {
        short(v / 1e3, "k")
    } else if a >= 1.0 || a == 0.0 {
        short(v, "")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An SVG document being written. Text content and attribute values taken from data go
/// through [`esc`]; element names and styling are fixed here.
pub struct Svg {
    buf: String,
}

impl Svg {
    /// `kind` names the chart (`data-chart`, for tests and styling); `label` is its accessible name.
    pub fn new(kind: &str, label: &str, w: f64, h: f64) -> Svg {
        let mut buf = String::new();
        let _ = write!(
            buf,
            r#"<svg class="chart" data-chart="{k}" role="img" aria-label="{l}" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#,
            k = esc(kind),
            l = esc(label),
            w = px(w),
            h = px(h),
        );
        Svg { buf }
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.buf,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            px(x1),
            px(y1),
            px(x2),
            px(y2)
        );
    }

    /// A rectangle `[x, y, width, height]`; `title` (escaped) shows on hover.
    pub fn rect(&mut self, [x, y, w, h]: [f64; 4], fill: &str, opacity: f64, title: Option<&str>) {
        let _ = write!(
            self.buf,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}" fill-opacity="{:.2}">"#,
            px(x),
            px(y),
            px(w.max(0.0)),
            px(h.max(0.0)),
            if opacity.is_finite() {
                opacity.clamp(0.0, 1.0)
            } else {
                1.0
            }
        );
        if let Some(t) = title {
            let _ = write!(self.buf, "<title>{}</title>", esc(t));
        }
        self.buf.push_str("</rect>");
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str) {
        let _ = write!(
            self.buf,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{fill}"/>"#,
            px(x),
            px(y),
            px(r)
        );
    }

    /// A dot that carries `data-*` attributes (names fixed by the caller, values escaped) and a
    /// hover title: a figure a reader, or a test, can find and map back through the scales.
    pub fn marker(&mut self, (x, y): (f64, f64), fill: &str, data: &[(&str, String)], title: &str) {
        let _ = write!(
            self.buf,
            r##"<circle class="marker" cx="{}" cy="{}" r="3.5" fill="{fill}" stroke="#fff" stroke-width="1""##,
            px(x),
            px(y)
        );
        for (k, v) in data {
            let _ = write!(self.buf, r#" data-{}="{}""#, esc(k), esc(v));
        }
        let _ = write!(self.buf, "><title>{}</title></circle>", esc(title));
    }

    /// Open a group whose `data-*` attributes describe the chart (its scales); close it with
    /// [`Svg::close_group`].
    pub fn open_group(&mut self, class: &str, data: &[(&str, String)]) {
        let _ = write!(self.buf, r#"<g class="{}""#, esc(class));
        for (k, v) in data {
            let _ = write!(self.buf, r#" data-{}="{}""#, esc(k), esc(v));
        }
        self.buf.push('>');
    }

    pub fn close_group(&mut self) {
        self.buf.push_str("</g>");
    }

    /// A polyline through `pts` (pixels); fewer than two points draw nothing.
    pub fn polyline(&mut self, pts: &[(f64, f64)], stroke: &str, dashed: bool) {
        if pts.len() < 2 {
            return;
        }
        let coords: Vec<String> = pts.iter().map(|(x, y)| format!("{},{}", px(*x), px(*y))).collect();
        let dash = if dashed { r#" stroke-dasharray="5 3""# } else { "" };
        let _ = write!(
            self.buf,
            r#"<polyline fill="none" stroke="{stroke}" stroke-width="1.8"{dash} points="{}"/>"#,
            coords.join(" ")
        );
    }

    /// Text (escaped). `anchor`: start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, class: &str) {
        let _ = write!(
            self.buf,
            r#"<text class="{class}" x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
            px(x),
            px(y),
            esc(s)
        );
    }

    /// Text turned 90° counter-clockwise about its position (a y axis title).
    pub fn vtext(&mut self, x: f64, y: f64, s: &str) {
        let _ = write!(
            self.buf,
            r#"<text class="axis-title" x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">{}</text>"#,
            esc(s),
            x = px(x),
            y = px(y),
        );
    }

    pub fn finish(mut self) -> String {
        self.buf.push_str("</svg>");
        self.buf
    }
}

/// Microseconds as a short tick label: `500µs`, `2ms`, `1.5s`.
pub(crate) fn tick_us(us: f64) -> String {
    let (v, unit) = if us >= 1e6 {
        (us / 1e6, "s")
    } else if us >= 1e3 {
        (us / 1e3, "ms")
    } else {
        (us, "µs")
    };
    format!("{}{unit}", tick_label(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.0, 0.3, 3), vec![0.0, 0.1, 0.2, 0.3]);
        assert_eq!(nice_max(7.0), 8.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(
            Scale::new(100.0, 10000.0, true, 0.0, 1.0).ticks(6),
            vec![100.0, 1000.0, 10000.0]
        );
        assert_eq!(Scale::new(300.0, 7000.0, true, 0.0, 1.0).ticks(6), vec![1000.0]);
        // Less than a decade is widened to one, so there is a tick to read.
        assert_eq!(Scale::new(300.0, 700.0, true, 0.0, 1.0).ticks(6), vec![100.0, 1000.0]);
    }

    #[test]
    fn degenerate_scales_still_map_to_finite_pixels() {
        for s in [
            Scale::new(5.0, 5.0, false, 0.0, 100.0),
            Scale::new(0.0, 0.0, false, 0.0, 100.0),
            Scale::new(f64::NAN, f64::INFINITY, false, 0.0, 100.0),
            Scale::new(0.0, 0.0, true, 0.0, 100.0),
        ] {
            let p = s.map(s.lo).unwrap();
            assert!(p.is_finite(), "{s:?}");
            assert!(!s.ticks(5).is_empty(), "{s:?}");
        }
        assert_eq!(Scale::new(1.0, 10.0, true, 0.0, 1.0).map(0.0), None);
        assert_eq!(px(f64::NAN), "0");
        assert_eq!(tick_label(25_000.0), "25k");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_us(2000.0), "2ms");
    }
}
