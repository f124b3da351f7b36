//! The report's tables: key figures, thresholds, errors, faults, recovery, server cost, client.

use std::fmt::Write;

use serde_json::Value;

use crate::config::target::redact_header;

use super::markup::{esc, fmt_bytes, fmt_num, fmt_pct, fmt_us, get_f, kv_table, list, num, table, text};

/// Microseconds at `ptr`, for people.
fn us(s: &Value, ptr: &str) -> String {
    get_f(s, ptr).map_or_else(|| "–".to_string(), fmt_us)
}

fn bytes(s: &Value, ptr: &str) -> String {
    get_f(s, ptr).map_or_else(|| "–".to_string(), fmt_bytes)
}

fn pct(s: &Value, ptr: &str) -> String {
    get_f(s, ptr).map_or_else(|| "–".to_string(), fmt_pct)
}

fn secs(s: &Value, ptr: &str) -> String {
    get_f(s, ptr).map_or_else(|| "–".to_string(), |v| format!("{} s", fmt_num(v)))
}

/// `"p50 381 µs · p99 3.83 ms · …"` for a percentile table.
fn pcts(s: &Value, ptr: &str) -> String {
    let Some(p) = s.pointer(ptr) else {
        return "–".to_string();
    };
    if p.get("count").and_then(Value::as_f64) == Some(0.0) {
        return "none measured".to_string();
    }
    [
        ("p50", "p50"),
        ("p90", "p90"),
        ("p99", "p99"),
        ("p99.9", "p99_9"),
        ("max", "max"),
    ]
    .iter()
    .filter_map(|(label, k)| {
        p.get(*k)
            .and_then(Value::as_f64)
            .map(|v| format!("{label} {}", fmt_us(v)))
    })
    .collect::<Vec<_>>()
    .join(" · ")
}

/// The entries of a JSON object as (escaped key, count) rows, largest first.
fn counts(v: Option<&Value>) -> Vec<Vec<String>> {
    let mut rows: Vec<(&String, f64)> = v
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k, v.as_f64().unwrap_or(0.0))).collect())
        .unwrap_or_default();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.into_iter().map(|(k, n)| vec![esc(k), fmt_num(n)]).collect()
}

/// The scenario's extra upgrade headers, `Name: value` each, escaped. They are saved redacted;
/// the values are redacted again whatever the summary holds (it may be hand-made), and an entry
/// that is not a name and a value has no name to judge a secret by, so it is not shown.
pub(super) fn headers(s: &Value) -> String {
    let hs = s
        .pointer("/scenario/headers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if hs.is_empty() {
        return "none".to_string();
    }
    hs.iter()
        .map(|h| match h.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => esc(&format!("{k}: {}", redact_header(k, v))),
            _ => "(unreadable)".to_string(),
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

pub fn key_figures(h: &mut String, s: &Value) {
    h.push_str("<section id=\"figures\"><h2>Key figures</h2>");
    let conn = format!(
        "{} of {} established · {} failed · {} not attempted",
        num(s, "/connections/established"),
        num(s, "/connections/target"),
        num(s, "/connections/failed"),
        num(s, "/connections/not_attempted"),
    );
    let msgs = format!(
        "{} sent · {} received · {} lost ({} by drops) · {} corrupted · {} duplicated · {} out of order",
        num(s, "/messages/sent"),
        num(s, "/messages/received"),
        num(s, "/messages/lost"),
        num(s, "/messages/lost_by_drop"),
        num(s, "/messages/corrupted"),
        num(s, "/messages/duplicated"),
        num(s, "/messages/out_of_order"),
    );
    let errors: f64 = s
        .get("errors")
        .and_then(Value::as_object)
        .map_or(0.0, |o| o.values().filter_map(Value::as_f64).sum());
    kv_table(
        h,
        &[
            ("target", text(s.get("target"))),
            ("scenario", text(s.pointer("/scenario/name"))),
            ("upgrade headers (secrets redacted)", headers(s)),
            ("subprotocols offered", text(s.pointer("/scenario/subprotocols"))),
            ("load duration", secs(s, "/duration_s")),
            ("connections", conn),
            ("peak open", num(s, "/connections/peak_open")),
            ("dropped (server or network)", num(s, "/connections/dropped")),
            (
                "connect rate",
                format!("{} /s", num(s, "/connections/connect_rate_per_s")),
            ),
            ("time to all open", secs(s, "/connections/time_to_all_s")),
            ("messages", msgs),
            ("echo rate", format!("{} msg/s", num(s, "/messages/rate_per_s"))),
            ("latency (corrected)", pcts(s, "/latency_us/corrected")),
            ("latency (uncorrected)", pcts(s, "/latency_us/uncorrected")),
            ("connect + upgrade", pcts(s, "/latency_us/connect")),
            ("errors", fmt_num(errors)),
        ],
    );
    // wss://: the connect time's parts and the sessions resumed.
    if let Some(tls) = s.get("tls").filter(|t| !t.is_null()) {
        let sessions = format!(
            "{} full, {} resumed",
            num(tls, "/full_handshakes"),
            num(tls, "/resumed_handshakes")
        );
        kv_table(
            h,
            &[
                ("TCP connect", pcts(s, "/latency_us/tcp_connect")),
                ("TLS handshake", pcts(s, "/latency_us/tls_handshake")),
                ("upgrade", pcts(s, "/latency_us/upgrade")),
                ("TLS handshakes", sessions),
            ],
        );
    }
    h.push_str("</section>");
}

pub fn thresholds(h: &mut String, s: &Value) {
    let Some(ts) = s.get("thresholds").and_then(Value::as_array).filter(|t| !t.is_empty()) else {
        return;
    };
    h.push_str("<section id=\"thresholds\"><h2>Thresholds</h2>");
    let rows = ts
        .iter()
        .map(|t| {
            let pass = match t.get("pass").and_then(Value::as_bool) {
                Some(true) => "<span class=\"pass\">pass</span>",
                Some(false) => "<span class=\"fail\">FAIL</span>",
                None => "–",
            };
            vec![
                text(t.get("expr")),
                text(t.get("measured_text")),
                text(t.get("limit_text")),
                pass.to_string(),
            ]
        })
        .collect();
    table(h, &["threshold", "measured", "limit", "result"], rows);
    h.push_str("</section>");
}

pub fn errors(h: &mut String, s: &Value) {
    h.push_str("<section id=\"errors\"><h2>Errors</h2>");
    let firsts = s
        .get("first_errors")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut classes: Vec<(&String, f64)> = s
        .get("errors")
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k, v.as_f64().unwrap_or(0.0))).collect())
        .unwrap_or_default();
    classes.retain(|c| c.1 > 0.0);
    classes.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (class, n) in &classes {
        let note = firsts
            .iter()
            .find(|f| f.get("kind").and_then(Value::as_str) == Some(class.as_str()));
        rows.push(vec![
            esc(class),
            fmt_num(*n),
            note.map_or("–".to_string(), |f| text(f.get("first"))),
            note.map_or("–".to_string(), |f| text(f.get("advice"))),
        ]);
    }
    // A first error whose class has no count (should not happen; shown rather than lost).
    for f in firsts {
        let k = f.get("kind").and_then(Value::as_str).unwrap_or("");
        if !classes.iter().any(|(c, _)| c.as_str() == k) {
            rows.push(vec![
                text(f.get("kind")),
                text(f.get("count")),
                text(f.get("first")),
                text(f.get("advice")),
            ]);
        }
    }
    if rows.is_empty() {
        h.push_str("<p>No errors.</p>");
    } else {
        table(h, &["class", "count", "first message", "what to do"], rows);
    }
    for (title, key, what) in [
        ("Close codes", "close_codes", "close code (reason)"),
        ("Upgrade status", "upgrade_status", "HTTP status"),
    ] {
        let rows = counts(s.get(key));
        if !rows.is_empty() {
            let _ = write!(h, "<h3>{title}</h3>");
            table(h, &[what, "count"], rows);
        }
    }
    h.push_str("</section>");
}

pub fn faults(h: &mut String, s: &Value) {
    let events = s
        .pointer("/faults/events")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let injected = counts(s.pointer("/faults/injected"));
    if events.is_empty() && injected.is_empty() {
        return;
    }
    h.push_str("<section id=\"faults\"><h2>Injected faults</h2>");
    let _ = write!(
        h,
        "<p>Connections ended by a fault (not counted as server errors): {}</p>",
        num(s, "/faults/ended_connections")
    );
    if !injected.is_empty() {
        table(h, &["fault", "connections hit"], injected);
    }
    if !events.is_empty() {
        let rows = events
            .iter()
            .map(|e| vec![secs(e, "/t_s"), text(e.get("kind")), text(e.get("connections"))])
            .collect();
        table(h, &["at", "fault", "connections"], rows);
    }
    h.push_str("</section>");
}

/// The network-fault proxy: its toxics, their on/off times, its counters.
pub fn proxy(h: &mut String, s: &Value) {
    let Some(p) = s.get("proxy").filter(|p| p.is_object()) else {
        return;
    };
    h.push_str("<section id=\"proxy\"><h2>Network faults (proxy)</h2>");
    let _ = write!(
        h,
        "<p>Clients connected through <code>wsload proxy</code> at {}, forwarding to {}.</p>",
        text(p.get("listen")),
        text(p.get("upstream"))
    );
    let toxics = p.get("toxics").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    table(
        h,
        &["toxic"],
        toxics.iter().map(|t| vec![text(t.get("what"))]).collect(),
    );
    let events = p.get("events").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if !events.is_empty() {
        let rows = events
            .iter()
            .map(|e| vec![secs(e, "/t_s"), text(e.get("event")), text(e.get("what"))])
            .collect();
        table(h, &["at", "toxic", "what"], rows);
    }
    let totals: Vec<Vec<String>> = counts(p.get("totals"))
        .into_iter()
        .filter(|r| r.get(1).is_some_and(|n| n != "0"))
        .collect();
    table(h, &["proxy counter", "total"], totals);
    h.push_str("</section>");
}

pub fn recovery(h: &mut String, s: &Value) {
    let Some(r) = s.get("recovery") else {
        return;
    };
    h.push_str("<section id=\"recovery\"><h2>Recovery</h2>");
    kv_table(
        h,
        &[
            ("reconnect policy", text(r.get("policy"))),
            ("drops", num(r, "/drops")),
            ("reconnected", num(r, "/reconnected")),
            (
                "reconnected within the horizon",
                format!("{} (within {})", num(r, "/reconnected_within"), secs(r, "/within_s")),
            ),
            ("still down at the end", num(r, "/unrecovered")),
            ("time to reconnect", pcts(r, "/time_to_reconnect_us")),
            ("longest outage", secs(r, "/longest_outage_s")),
            ("availability", pct(r, "/availability")),
            ("MTBF", secs(r, "/mtbf_s")),
            ("MTTR", secs(r, "/mttr_s")),
            ("messages lost with a drop", num(r, "/lost_by_drop")),
            ("churned (lifetime ended)", num(r, "/churned")),
            ("skipped while paused", num(r, "/skipped")),
        ],
    );
    h.push_str("</section>");
}

pub fn server(h: &mut String, s: &Value) {
    h.push_str("<section id=\"server\"><h2>Server cost</h2>");
    let Some(v) = s.get("server").filter(|v| !v.is_null()) else {
        h.push_str(
            "<p>Not measured: run with <code>--server-pid</code> to sample the server under test.</p></section>",
        );
        return;
    };
    let fit = |ptr: &str| match v.pointer(ptr).filter(|f| !f.is_null()) {
        Some(f) => format!(
            "{} per connection (R² {}, {} points)",
            bytes(f, "/bytes_per_connection"),
            num(f, "/r2"),
            num(f, "/points")
        ),
        None => "–".to_string(),
    };
    let after = match v.get("after").filter(|a| !a.is_null()) {
        Some(a) => format!(
            "after {}: accepts {} · RSS {} · {} open files · {} threads{}",
            secs(a, "/settled_after_s"),
            text(a.get("accepts")),
            bytes(a, "/rss_bytes"),
            num(a, "/fds"),
            num(a, "/threads"),
            match a.get("accept_error").filter(|e| !e.is_null()) {
                Some(e) => format!(" · accept error: {}", text(Some(e))),
                None => String::new(),
            }
        ),
        None => "not checked".to_string(),
    };
    kv_table(
        h,
        &[
            ("process", format!("{} (pid {})", text(v.get("name")), num(v, "/pid"))),
            ("processes in its tree", num(v, "/processes")),
            ("memory per connection", fit("/memory_per_connection")),
            ("kernel memory per connection", fit("/kernel_memory_per_connection")),
            ("CPU per million messages", secs(v, "/cpu_s_per_million_msgs")),
            ("CPU busy (cores)", num(v, "/cpu_busy")),
            (
                "idle CPU per connection-second",
                us(v, "/cpu_us_per_connection_second_idle"),
            ),
            (
                "RSS baseline → peak",
                format!("{} → {}", bytes(v, "/baseline_rss_bytes"), bytes(v, "/peak_rss_bytes")),
            ),
            (
                "open files baseline → peak",
                format!("{} → {}", num(v, "/baseline_fds"), num(v, "/peak_fds")),
            ),
            ("peak threads", num(v, "/peak_threads")),
            ("after the run", after),
        ],
    );
    list(h, v.get("findings"));
    h.push_str("</section>");
}

pub fn client(h: &mut String, s: &Value) {
    let Some(c) = s.get("client") else {
        return;
    };
    h.push_str("<section id=\"client\"><h2>Client (wsload itself)</h2>");
    kv_table(
        h,
        &[
            (
                "CPU user / system",
                format!("{} / {}", secs(c, "/cpu_user_s"), secs(c, "/cpu_sys_s")),
            ),
            ("CPU per million messages", secs(c, "/cpu_s_per_million_msgs")),
            ("CPU busy (share of its cores)", pct(c, "/cpu_busy")),
            ("peak RSS", bytes(c, "/peak_rss_bytes")),
            ("RSS per connection", bytes(c, "/rss_per_connection_bytes")),
            ("send delay against schedule", pcts(c, "/send_delay_us")),
        ],
    );
    list(h, c.get("warnings"));
    h.push_str("</section>");
}

pub fn message_types(h: &mut String, s: &Value) {
    let Some(ts) = s.get("message_types").and_then(Value::as_array).filter(|t| t.len() > 1) else {
        return;
    };
    h.push_str("<section id=\"types\"><h2>Message types</h2>");
    let rows = ts
        .iter()
        .map(|t| {
            vec![
                text(t.get("name")),
                text(t.get("sent")),
                text(t.get("received")),
                pcts(t, "/latency_us"),
            ]
        })
        .collect();
    table(h, &["type", "sent", "received", "latency"], rows);
    h.push_str("</section>");
}

/// The wire: TLS (certificate check, session resumption), the subprotocol, permessage-deflate's
/// ratio, how replies were matched. Everything the target or the user sent is escaped.
pub fn wire(h: &mut String, s: &Value) {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(t) = s.get("tls").filter(|t| t.is_object()) {
        let check = if t.get("insecure").and_then(Value::as_bool) == Some(true) {
            "<strong class=\"bad\">NOT verified (--insecure)</strong>".to_string()
        } else {
            match t.get("ca").and_then(Value::as_str) {
                Some(ca) => format!("system roots and {} (--ca)", esc(ca)),
                None => "system roots".to_string(),
            }
        };
        rows.push(("TLS certificate", check));
        let n = |k: &str| t.get(k).and_then(Value::as_u64).unwrap_or(0);
        rows.push((
            "TLS handshakes",
            format!(
                "{} full, {} resumed a session ({})",
                n("full_handshakes"),
                n("resumed_handshakes"),
                pct(t, "/resumed_share")
            ),
        ));
        if let Some(v) = t.get("version").filter(|v| !v.is_null()) {
            rows.push(("TLS version", text(Some(v))));
        }
    }
    let offered = s
        .pointer("/scenario/subprotocols")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    if let Some(p) = offered {
        rows.push((
            "subprotocols offered",
            format!(
                "{} (the server must choose one; a connection where it did not is counted as an error)",
                text(Some(&Value::Array(p.clone())))
            ),
        ));
    }
    if let Some(w) = s.get("wire") {
        for line in crate::report::wire::lines(w) {
            rows.push(("", esc(&line)));
        }
    }
    if rows.is_empty() {
        return;
    }
    h.push_str("<section id=\"wire\"><h2>On the wire</h2>");
    kv_table(h, &rows);
    h.push_str("</section>");
}
