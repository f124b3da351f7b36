//! The report's tables: key figures, thresholds, errors, faults, recovery, server cost, client.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::config::target::redact_header;
use crate::report::model::{Percentiles, Summary};
use crate::report::server::CostFit;

use super::markup::{count, esc, fmt_bytes, fmt_num, fmt_pct, fmt_us, kv_table, list, opt_text, or_dash, table};

/// Seconds for people: `2.5 s`, or a dash when there is no figure.
fn secs(x: impl Into<Option<f64>>) -> String {
    or_dash(x.into(), |v| format!("{} s", fmt_num(v)))
}

fn bytes(b: u64) -> String {
    fmt_bytes(b as f64)
}

/// `"p50 381 µs · p99 3.83 ms · …"` for a percentile table.
fn pcts(p: &Percentiles) -> String {
    if p.count == 0 {
        return "none measured".to_string();
    }
    [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p99", p.p99),
        ("p99.9", p.p99_9),
        ("max", p.max),
    ]
    .iter()
    .map(|(label, v)| format!("{label} {}", fmt_us(*v as f64)))
    .collect::<Vec<_>>()
    .join(" · ")
}

/// The entries of a map of counts as (escaped key, count) rows, largest first.
fn counts(m: &BTreeMap<String, u64>) -> Vec<Vec<String>> {
    let mut rows: Vec<(&String, u64)> = m.iter().map(|(k, n)| (k, *n)).collect();
    rows.sort_by_key(|r| Reverse(r.1));
    rows.into_iter().map(|(k, n)| vec![esc(k), count(n)]).collect()
}

/// The scenario's extra upgrade headers, `Name: value` each, escaped. They are saved redacted;
/// the values are redacted again whatever the summary holds (it may be hand-made).
pub(super) fn headers(s: &Summary) -> String {
    let hs = &s.scenario.headers;
    if hs.is_empty() {
        return "none".to_string();
    }
    hs.iter()
        .map(|(k, v)| esc(&format!("{k}: {}", redact_header(k, v))))
        .collect::<Vec<_>>()
        .join("<br>")
}

pub fn key_figures(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"figures\"><h2>Key figures</h2>");
    let (c, m) = (&s.connections, &s.messages);
    let conn = format!(
        "{} of {} established · {} failed · {} not attempted",
        count(c.established),
        count(c.target),
        count(c.failed),
        count(c.not_attempted),
    );
    let msgs = format!(
        "{} sent · {} received · {} lost ({} by drops) · {} corrupted · {} duplicated · {} out of order",
        count(m.sent),
        count(m.received),
        count(m.lost),
        count(m.lost_by_drop),
        count(m.corrupted),
        count(m.duplicated),
        count(m.out_of_order),
    );
    let errors = s.error_total();
    let lat = &s.latency_us;
    kv_table(
        h,
        &[
            ("target", esc(&s.target)),
            ("scenario", opt_text(s.scenario.name.as_deref())),
            ("upgrade headers (secrets redacted)", headers(s)),
            ("subprotocols offered", subprotocols(s)),
            ("load duration", secs(s.duration_s)),
            ("connections", conn),
            ("peak open", count(c.peak_open)),
            ("dropped (server or network)", count(c.dropped)),
            ("connect rate", format!("{} /s", fmt_num(c.connect_rate_per_s))),
            ("time to all open", secs(c.time_to_all_s)),
            ("messages", msgs),
            ("echo rate", format!("{} msg/s", fmt_num(m.rate_per_s))),
            ("latency (corrected)", pcts(&lat.corrected)),
            ("latency (uncorrected)", pcts(&lat.uncorrected)),
            ("connect + upgrade", pcts(&lat.connect)),
            ("errors", count(errors)),
        ],
    );
    // wss://: the connect time's parts and the sessions resumed.
    if let Some(tls) = &s.tls {
        let sessions = format!(
            "{} full, {} resumed",
            count(tls.full_handshakes),
            count(tls.resumed_handshakes)
        );
        kv_table(
            h,
            &[
                ("TCP connect", pcts(&lat.tcp_connect)),
                ("TLS handshake", pcts(&lat.tls_handshake)),
                ("upgrade", pcts(&lat.upgrade)),
                ("TLS handshakes", sessions),
            ],
        );
    }
    h.push_str("</section>");
}

/// The subprotocols the scenario offers, escaped and joined.
fn subprotocols(s: &Summary) -> String {
    s.scenario
        .subprotocols
        .iter()
        .map(|p| esc(p))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn thresholds(h: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    h.push_str("<section id=\"thresholds\"><h2>Thresholds</h2>");
    let rows = s
        .thresholds
        .iter()
        .map(|t| {
            let pass = if t.pass {
                "<span class=\"pass\">pass</span>"
            } else {
                "<span class=\"fail\">FAIL</span>"
            };
            vec![
                esc(&t.expr),
                esc(&t.measured_text),
                esc(&t.limit_text),
                pass.to_string(),
            ]
        })
        .collect();
    table(h, &["threshold", "measured", "limit", "result"], rows);
    h.push_str("</section>");
}

pub fn errors(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"errors\"><h2>Errors</h2>");
    let firsts = &s.first_errors;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut classes: Vec<(&String, u64)> = s.errors.iter().map(|(k, n)| (k, *n)).filter(|c| c.1 > 0).collect();
    classes.sort_by_key(|c| Reverse(c.1));
    for (class, n) in &classes {
        let note = firsts.iter().find(|f| f.kind == **class);
        rows.push(vec![
            esc(class),
            count(*n),
            note.map_or("–".to_string(), |f| esc(&f.first)),
            note.map_or("–".to_string(), |f| esc(&f.advice)),
        ]);
    }
    // A first error whose class has no count (should not happen; shown rather than lost).
    for f in firsts {
        if !classes.iter().any(|(c, _)| **c == f.kind) {
            rows.push(vec![esc(&f.kind), count(f.count), esc(&f.first), esc(&f.advice)]);
        }
    }
    if rows.is_empty() {
        h.push_str("<p>No errors.</p>");
    } else {
        table(h, &["class", "count", "first message", "what to do"], rows);
    }
    for (title, map, what) in [
        ("Close codes", &s.close_codes, "close code (reason)"),
        ("Upgrade status", &s.upgrade_status, "HTTP status"),
    ] {
        let rows = counts(map);
        if !rows.is_empty() {
            let _ = write!(h, "<h3>{title}</h3>");
            table(h, &[what, "count"], rows);
        }
    }
    h.push_str("</section>");
}

pub fn faults(h: &mut String, s: &Summary) {
    let events = &s.faults.events;
    let injected = counts(&s.faults.injected);
    if events.is_empty() && injected.is_empty() {
        return;
    }
    h.push_str("<section id=\"faults\"><h2>Injected faults</h2>");
    let _ = write!(
        h,
        "<p>Connections ended by a fault (not counted as server errors): {}</p>",
        count(s.faults.ended_connections)
    );
    if !injected.is_empty() {
        table(h, &["fault", "connections hit"], injected);
    }
    if !events.is_empty() {
        let rows = events
            .iter()
            .map(|e| vec![secs(e.t_s), esc(&e.kind), count(e.connections)])
            .collect();
        table(h, &["at", "fault", "connections"], rows);
    }
    h.push_str("</section>");
}

/// The network-fault proxy: its toxics, their on/off times, its counters.
pub fn proxy(h: &mut String, s: &Summary) {
    let Some(p) = &s.proxy else {
        return;
    };
    h.push_str("<section id=\"proxy\"><h2>Network faults (proxy)</h2>");
    let _ = write!(
        h,
        "<p>Clients connected through <code>wsload proxy</code> at {}, forwarding to {}.</p>",
        esc(&p.listen),
        esc(&p.upstream)
    );
    table(h, &["toxic"], p.toxics.iter().map(|t| vec![esc(&t.what)]).collect());
    if !p.events.is_empty() {
        let rows = p
            .events
            .iter()
            .map(|e| vec![secs(e.t_s), esc(&e.event), esc(&e.what)])
            .collect();
        table(h, &["at", "toxic", "what"], rows);
    }
    let totals: Vec<Vec<String>> = counts(&p.totals)
        .into_iter()
        .filter(|r| r.get(1).is_some_and(|n| n != "0"))
        .collect();
    table(h, &["proxy counter", "total"], totals);
    h.push_str("</section>");
}

pub fn recovery(h: &mut String, s: &Summary) {
    let r = &s.recovery;
    h.push_str("<section id=\"recovery\"><h2>Recovery</h2>");
    kv_table(
        h,
        &[
            ("reconnect policy", esc(&r.policy)),
            ("drops", count(r.drops)),
            ("reconnected", count(r.reconnected)),
            (
                "reconnected within the horizon",
                format!("{} (within {})", count(r.reconnected_within), secs(r.within_s)),
            ),
            ("still down at the end", count(r.unrecovered)),
            ("time to reconnect", pcts(&r.time_to_reconnect_us)),
            ("longest outage", secs(r.longest_outage_s)),
            ("availability", or_dash(r.availability, fmt_pct)),
            ("MTBF", secs(r.mtbf_s)),
            ("MTTR", secs(r.mttr_s)),
            ("messages lost with a drop", count(r.lost_by_drop)),
            ("churned (lifetime ended)", count(r.churned)),
            ("skipped while paused", count(r.skipped)),
        ],
    );
    h.push_str("</section>");
}

/// A memory fit: `2.1 KiB per connection (R² 0.998, 5 points)`.
fn fit(f: Option<&CostFit>) -> String {
    match f {
        Some(f) => format!(
            "{} per connection (R² {}, {} points)",
            fmt_bytes(f.bytes_per_connection),
            or_dash(f.r2, fmt_num),
            fmt_num(f.points as f64)
        ),
        None => "–".to_string(),
    }
}

pub fn server(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"server\"><h2>Server cost</h2>");
    let Some(v) = &s.server else {
        h.push_str(
            "<p>Not measured: run with <code>--server-pid</code> to sample the server under test.</p></section>",
        );
        return;
    };
    let after = match &v.after {
        Some(a) => format!(
            "after {}: accepts {} · RSS {} · {} open files · {} threads{}",
            secs(a.settled_after_s),
            if a.accepts { "yes" } else { "no" },
            bytes(a.rss_bytes),
            count(a.fds),
            count(a.threads),
            match &a.accept_error {
                Some(e) => format!(" · accept error: {}", esc(e)),
                None => String::new(),
            }
        ),
        None => "not checked".to_string(),
    };
    kv_table(
        h,
        &[
            (
                "process",
                format!("{} (pid {})", esc(&v.name), fmt_num(f64::from(v.pid))),
            ),
            ("processes in its tree", count(v.processes)),
            ("memory per connection", fit(v.memory_per_connection.as_ref())),
            (
                "kernel memory per connection",
                fit(v.kernel_memory_per_connection.as_ref()),
            ),
            ("CPU per million messages", secs(v.cpu_s_per_million_msgs)),
            ("CPU busy (cores)", or_dash(v.cpu_busy, fmt_num)),
            (
                "idle CPU per connection-second",
                or_dash(v.cpu_us_per_connection_second_idle, fmt_us),
            ),
            (
                "RSS baseline → peak",
                format!("{} → {}", bytes(v.baseline_rss_bytes), bytes(v.peak_rss_bytes)),
            ),
            (
                "open files baseline → peak",
                format!("{} → {}", count(v.baseline_fds), count(v.peak_fds)),
            ),
            ("peak threads", count(v.peak_threads)),
            ("after the run", after),
        ],
    );
    list(h, &v.findings);
    h.push_str("</section>");
}

pub fn client(h: &mut String, s: &Summary) {
    let c = &s.client;
    h.push_str("<section id=\"client\"><h2>Client (wsload itself)</h2>");
    kv_table(
        h,
        &[
            (
                "CPU user / system",
                format!("{} / {}", secs(c.cpu_user_s), secs(c.cpu_sys_s)),
            ),
            ("CPU per million messages", secs(c.cpu_s_per_million_msgs)),
            ("CPU busy (share of its cores)", or_dash(c.cpu_busy, fmt_pct)),
            ("peak RSS", bytes(c.peak_rss_bytes)),
            ("RSS per connection", bytes(c.rss_per_connection_bytes)),
            ("send delay against schedule", pcts(&c.send_delay_us)),
        ],
    );
    list(h, &c.warnings);
    h.push_str("</section>");
}

pub fn message_types(h: &mut String, s: &Summary) {
    let ts = &s.message_types;
    if ts.len() <= 1 {
        return;
    }
    h.push_str("<section id=\"types\"><h2>Message types</h2>");
    let rows = ts
        .iter()
        .map(|t| vec![esc(&t.name), count(t.sent), count(t.received), pcts(&t.latency_us)])
        .collect();
    table(h, &["type", "sent", "received", "latency"], rows);
    h.push_str("</section>");
}

/// The wire: TLS (certificate check, session resumption), the subprotocol, permessage-deflate's
/// ratio, how replies were matched. Everything the target or the user sent is escaped.
pub fn wire(h: &mut String, s: &Summary) {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(t) = &s.tls {
        let check = if t.insecure {
            "<strong class=\"bad\">NOT verified (--insecure)</strong>".to_string()
        } else {
            match &t.ca {
                Some(ca) => format!("system roots and {} (--ca)", esc(ca)),
                None => "system roots".to_string(),
            }
        };
        rows.push(("TLS certificate", check));
        rows.push((
            "TLS handshakes",
            format!(
                "{} full, {} resumed a session ({})",
                t.full_handshakes,
                t.resumed_handshakes,
                or_dash(t.resumed_share, fmt_pct)
            ),
        ));
        if let Some(v) = &t.version {
            rows.push(("TLS version", esc(v)));
        }
    }
    if !s.scenario.subprotocols.is_empty() {
        rows.push((
            "subprotocols offered",
            format!(
                "{} (the server must choose one; a connection where it did not is counted as an error)",
                subprotocols(s)
            ),
        ));
    }
    for line in crate::report::wire::lines(&s.wire) {
        rows.push(("", esc(&line)));
    }
    if rows.is_empty() {
        return;
    }
    h.push_str("<section id=\"wire\"><h2>On the wire</h2>");
    kv_table(h, &rows);
    h.push_str("</section>");
}
