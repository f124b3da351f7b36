//! The leaf of the HTML writer: escaping, number formatting, the table and list blocks every
//! section uses, and the page's style sheet. It imports none of its siblings (they all import
//! it), so the page, its sections, its charts and the comparison page share it without
//! importing each other.

use std::fmt::Write;

/// Escape text for HTML content and for attribute values (double or single quoted).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A bulleted list of texts (escaped); nothing when empty.
pub(crate) fn list(h: &mut String, items: &[String]) {
    if items.is_empty() {
        return;
    }
    h.push_str("<ul>");
    for i in items {
        let _ = write!(h, "<li>{}</li>", esc(i));
    }
    h.push_str("</ul>");
}

/// A table; `head` is fixed text, `rows` are cells already made safe (through [`esc`] or the
/// number formatters).
pub(crate) fn table(h: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    h.push_str("<table><thead><tr>");
    for c in head {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{c}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

/// A two-column table of labels (fixed text) and values (already safe).
pub(crate) fn kv_table(h: &mut String, rows: &[(&str, String)]) {
    h.push_str("<table class=\"kv\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    h.push_str("</tbody></table>");
}

/// Optional text, escaped, or a dash.
pub(crate) fn opt_text(t: Option<&str>) -> String {
    t.map_or_else(|| "–".to_string(), esc)
}

/// An optional figure through `f`, or a dash when there is none.
pub(crate) fn or_dash(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "–".to_string(), f)
}

/// A count, formatted as [`fmt_num`] does.
pub(crate) fn count(n: u64) -> String {
    fmt_num(n as f64)
}

/// A number for people: whole numbers with thousands separators, others with a few decimals.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        let digits = format!("{}", x.abs() as u64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        return if x < 0.0 { format!("-{out}") } else { out };
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

pub(crate) use crate::config::units::{fmt_bytes, fmt_us};

/// A fraction as a percentage: `99.95%`.
pub(crate) fn fmt_pct(f: f64) -> String {
    if !f.is_finite() {
        return "–".to_string();
    }
    let p = f * 100.0;
    if p == p.trunc() {
        format!("{}%", p as i64)
    } else {
        format!("{p:.2}%")
    }
}

pub(crate) const CSS: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;margin:0;background:#fafafa}\
header,main,footer{max-width:960px;margin:0 auto;padding:0 16px}\
header h1{margin:18px 0 2px;font-size:24px}.sub{color:#555;margin:0 0 8px;overflow-wrap:anywhere}\
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:4px 16px 12px;margin:14px 0}\
h2{font-size:18px;margin:10px 0 6px}h3{font-size:15px;margin:10px 0 4px}\
.verdict{font-size:22px;font-weight:700;margin:6px 0}.ok{color:#1a7f37}.bad{color:#c62828}.unknown{color:#666}\
.warn{color:#a15c00}.finding{border-left:4px solid #e0a000;padding:2px 10px;margin:8px 0}\
.meta{color:#666;margin:0;font-size:12px}\
table{border-collapse:collapse;margin:6px 0 10px;width:100%}th,td{border-bottom:1px solid #eee;padding:3px 8px;\
text-align:left;vertical-align:top;overflow-wrap:anywhere}thead th{background:#f3f3f3}\
table.kv th{width:38%;font-weight:500;color:#444}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}\
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0 14px;background:#fff}\
svg .grid{stroke:#eee;stroke-width:1}svg .axis{stroke:#777;stroke-width:1}\
svg text{font:11px system-ui,sans-serif;fill:#444}svg .chart-title{font-size:14px;font-weight:600;fill:#222}\
svg .axis-title{font-size:12px;fill:#555}svg .band-label{font-size:10px;fill:#555}\
svg .no-data{font-size:14px;fill:#999}svg .legend{font-size:12px}\
footer{color:#777;font-size:12px;margin:20px auto}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(1234567.0), "1,234,567");
        assert_eq!(fmt_num(-1000.0), "-1,000");
        assert_eq!(fmt_num(2.015), "2.02");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_us(381.0), "381 µs");
        assert_eq!(fmt_us(3835.0), "3.83 ms");
        assert_eq!(fmt_bytes(12779520.0), "12.2 MiB");
        assert_eq!(fmt_pct(0.9995), "99.95%");
    }
}
