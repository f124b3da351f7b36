//! timeline.csv: one row per time-line point, for spreadsheets and plotting.
//!
//! Fixed columns first (see [`COLUMNS`]), then one column per error kind (`error_<kind>`)
//! and per fault kind (`fault_<kind>`) seen anywhere in the run, each holding the count in
//! that interval, and per counter of the network-fault proxy (`proxy_<counter>`). Server columns are empty when the server was not sampled.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::model::Summary;
use crate::aggregate::timeline::TimelinePoint;
use crate::config::units::fmt_num;

/// A fixed column's figure in a time-line point; `None` leaves the cell empty.
type Column = fn(&TimelinePoint) -> Option<f64>;

/// The fixed columns: (header, figure of a time-line point).
const COLUMNS: &[(&str, Column)] = &[
    ("t_s", |p| Some(p.t_s)),
    ("open", |p| Some(p.open as f64)),
    ("established", |p| Some(p.established as f64)),
    ("connects_per_s", |p| Some(p.connects_per_s)),
    ("sent_per_s", |p| Some(p.sent_per_s)),
    ("received_per_s", |p| Some(p.received_per_s)),
    ("dropped", |p| Some(p.dropped as f64)),
    ("errors", |p| Some(p.errors as f64)),
    ("p50_us", |p| Some(p.p50_us)),
    ("p90_us", |p| Some(p.p90_us)),
    ("p99_us", |p| Some(p.p99_us)),
    ("p99_9_us", |p| Some(p.p99_9_us)),
    ("max_us", |p| Some(p.max_us)),
    ("server_cpu_s", |p| p.server.as_ref().map(|s| s.cpu_s)),
    ("server_rss_bytes", |p| p.server.as_ref().map(|s| s.rss_bytes as f64)),
    ("server_fds", |p| p.server.as_ref().map(|s| s.fds as f64)),
];

/// Quote a field when it holds a separator, a quote or a line break (RFC 4180).
pub fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Counts by kind: of one time-line point (`errors_new`), or of the run (`errors`).
type Counts = BTreeMap<String, u64>;

/// Keys of a point's counts over every point, plus those of the run's `total` that are not 0.
fn kinds(points: &[TimelinePoint], field: fn(&TimelinePoint) -> &Counts, total: Option<&Counts>) -> BTreeSet<String> {
    let mut k: BTreeSet<String> = points.iter().flat_map(|p| field(p).keys().cloned()).collect();
    k.extend(
        total
            .into_iter()
            .flatten()
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| k.clone()),
    );
    k
}

pub fn render(s: &Summary) -> String {
    let points = &s.timeline;
    let errors = kinds(points, |p| &p.errors_new, Some(&s.errors));
    let faults = kinds(points, |p| &p.faults_new, Some(&s.faults.injected));
    let proxy = kinds(points, |p| &p.proxy_new, s.proxy.as_ref().map(|p| &p.totals));
    let mut header: Vec<String> = COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
    header.extend(errors.iter().map(|k| format!("error_{k}")));
    header.extend(faults.iter().map(|k| format!("fault_{k}")));
    header.extend(proxy.iter().map(|k| format!("proxy_{k}")));
    let mut o = String::new();
    let line: Vec<String> = header.iter().map(|h| escape(h)).collect();
    let _ = writeln!(o, "{}", line.join(","));
    let count = |c: &Counts, k: &String| c.get(k).copied().unwrap_or(0).to_string();
    for p in points {
        let mut row: Vec<String> = COLUMNS
            .iter()
            .map(|(_, figure)| figure(p).map_or(String::new(), |x| fmt_num(x, 3)))
            .collect();
        row.extend(errors.iter().map(|k| count(&p.errors_new, k)));
        row.extend(faults.iter().map(|k| count(&p.faults_new, k)));
        row.extend(proxy.iter().map(|k| count(&p.proxy_new, k)));
        let row: Vec<String> = row.iter().map(|f| escape(f)).collect();
        let _ = writeln!(o, "{}", row.join(","));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_needs_it() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b"), "\"a,b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn one_row_per_point_with_every_kind_seen() {
        let s = Summary::from_value(serde_json::json!({
            "errors": {"reset": 2, "emfile": 0},
            "faults": {"injected": {"pause": 3}},
            "timeline": [
                {"t_s": 1.0, "open": 10, "p50_us": 100.5, "errors_new": {}, "faults_new": {"pause": 3},
                 "server": {"cpu_s": 0.1, "rss_bytes": 1000, "fds": 12}},
                {"t_s": 2.0, "open": 8, "p50_us": 99.0, "errors_new": {"reset": 2, "closed_by_server": 1}, "faults_new": {}}
            ]
        }))
        .unwrap();
        let csv = render(&s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].ends_with("server_fds,error_closed_by_server,error_reset,fault_pause"),
            "{}",
            lines[0]
        );
        // A figure the point does not give reads as 0; the server's cells stay empty when it
        // was not sampled (the second point).
        assert!(lines[1].starts_with("1,10,0,0,0,0,0,0,100.5,"), "{}", lines[1]);
        assert!(lines[1].ends_with(",0.1,1000,12,0,0,3"), "{}", lines[1]);
        assert!(lines[2].ends_with(",0,,,,1,2,0"), "{}", lines[2]);
    }
}
