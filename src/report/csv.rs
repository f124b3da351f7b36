//! timeline.csv: one row per time-line point, for spreadsheets and plotting.
//!
//! Fixed columns first (see [`COLUMNS`]), then one column per error kind (`error_<kind>`)
//! and per fault kind (`fault_<kind>`) seen anywhere in the run, each holding the count in
//! that interval, and per counter of the network-fault proxy (`proxy_<counter>`). Server columns are empty when the server was not sampled.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use super::get;
use crate::config::units::fmt_num;

/// The fixed columns: (header, path in a time-line point).
const COLUMNS: &[(&str, &str)] = &[
    ("t_s", "t_s"),
    ("open", "open"),
    ("established", "established"),
    ("connects_per_s", "connects_per_s"),
    ("sent_per_s", "sent_per_s"),
    ("received_per_s", "received_per_s"),
    ("dropped", "dropped"),
    ("errors", "errors"),
    ("p50_us", "p50_us"),
    ("p90_us", "p90_us"),
    ("p99_us", "p99_us"),
    ("p99_9_us", "p99_9_us"),
    ("max_us", "max_us"),
    ("server_cpu_s", "server.cpu_s"),
    ("server_rss_bytes", "server.rss_bytes"),
    ("server_fds", "server.fds"),
];

/// Quote a field when it holds a separator, a quote or a line break (RFC 4180).
pub fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Keys of `field` (an object of counts) over every point, plus those of `total` in the summary.
fn kinds(s: &Value, points: &[Value], field: &str, total: &str) -> BTreeSet<String> {
    let mut k: BTreeSet<String> = points
        .iter()
        .flat_map(|p| get::counts(p, field).into_iter().map(|(k, _)| k))
        .collect();
    k.extend(
        get::counts(s, total)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, _)| k),
    );
    k
}

pub fn render(s: &Value) -> String {
    let points = get::list(s, "timeline");
    let errors = kinds(s, points, "errors_new", "errors");
    let faults = kinds(s, points, "faults_new", "faults.injected");
    let proxy = kinds(s, points, "proxy_new", "proxy.totals");
    let mut header: Vec<String> = COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
    header.extend(errors.iter().map(|k| format!("error_{k}")));
    header.extend(faults.iter().map(|k| format!("fault_{k}")));
    header.extend(proxy.iter().map(|k| format!("proxy_{k}")));
    let mut o = String::new();
    let line: Vec<String> = header.iter().map(|h| escape(h)).collect();
    let _ = writeln!(o, "{}", line.join(","));
    for p in points {
        let mut row: Vec<String> = COLUMNS
            .iter()
            .map(|(_, path)| get::num(p, path).map_or(String::new(), |x| fmt_num(x, 3)))
            .collect();
        row.extend(errors.iter().map(|k| get::count(&p["errors_new"], k).to_string()));
        row.extend(faults.iter().map(|k| get::count(&p["faults_new"], k).to_string()));
        row.extend(proxy.iter().map(|k| get::count(&p["proxy_new"], k).to_string()));
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
        let s = serde_json::json!({
            "errors": {"reset": 2, "emfile": 0},
            "faults": {"injected": {"pause": 3}},
            "timeline": [
                {"t_s": 1.0, "open": 10, "p50_us": 100.5, "errors_new": {}, "faults_new": {"pause": 3},
                 "server": {"cpu_s": 0.1, "rss_bytes": 1000, "fds": 12}},
                {"t_s": 2.0, "open": 8, "p50_us": 99.0, "errors_new": {"reset": 2, "closed_by_server": 1}, "faults_new": {}}
            ]
        });
        let csv = render(&s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].ends_with("server_fds,error_closed_by_server,error_reset,fault_pause"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("1,10,,,,,,,100.5,"), "{}", lines[1]);
        assert!(lines[1].ends_with(",0.1,1000,12,0,0,3"), "{}", lines[1]);
        assert!(lines[2].ends_with(",,,,1,2,0"), "{}", lines[2]);
    }
}
