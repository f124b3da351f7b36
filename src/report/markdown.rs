//! report.md: the run for people who read it later (a pull request, a wiki page).
//!
//! Title, verdict and findings (from the summary's optional `analysis` object, produced
//! by the analysis step; "no analysis" when absent), key figures, latency, errors with
//! advice, thresholds, recovery, faults and what the server paid.

use std::fmt::Write;

use serde_json::Value;

use super::get;
use crate::config::units::fmt_num;

/// A table cell: pipes escaped, line breaks flattened.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(o: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let sep: Vec<&str> = head.iter().map(|_| "---").collect();
    let _ = writeln!(o, "| {} |", sep.join(" | "));
    for r in rows {
        let r: Vec<String> = r.iter().map(|c| cell(c)).collect();
        let _ = writeln!(o, "| {} |", r.join(" | "));
    }
    o.push('\n');
}

fn opt(x: Option<f64>, digits: usize, unit: &str) -> String {
    x.map_or("n/a".into(), |x| format!("{}{unit}", fmt_num(x, digits)))
}

fn connections(n: u64) -> String {
    format!("{n} connection{}", if n == 1 { "" } else { "s" })
}

fn mib(bytes: f64) -> String {
    format!("{} MiB", fmt_num(bytes / (1u64 << 20) as f64, 1))
}

pub fn render(s: &Value) -> String {
    let mut o = String::new();
    let partial = get::at(s, "partial").as_bool() == Some(true);
    let _ = writeln!(
        o,
        "# wsload report: {}{}\n",
        get::text(s, "target"),
        match (get::text(s, "partial_reason"), partial) {
            ("", true) => " (PARTIAL: interrupted)".to_string(),
            (why, true) => format!(" (PARTIAL: {why})"),
            _ => String::new(),
        }
    );
    let server_kind = if get::at(s, "builtin_server").as_bool() == Some(true) {
        " (built-in echo server)"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "wsload {}{server_kind}: {} connections, {} s of load, {}.\n",
        get::text(s, "wsload_version"),
        get::count(s, "connections.target"),
        fmt_num(get::num(s, "duration_s").unwrap_or(0.0), 1),
        describe_traffic(s)
    );
    verdict(&mut o, s);
    findings(&mut o, s);
    key_figures(&mut o, s);
    latency(&mut o, s);
    errors(&mut o, s);
    thresholds(&mut o, s);
    recovery(&mut o, s);
    faults(&mut o, s);
    proxy(&mut o, s);
    server(&mut o, s);
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

/// The traffic in a few words, from the effective scenario.
fn describe_traffic(s: &Value) -> String {
    let phases = get::list(s, "phases");
    match phases {
        [] => "no traffic phase".into(),
        [p] => format!("one {} phase", get::text(p, "kind")),
        ps => {
            let names: Vec<String> = ps
                .iter()
                .map(|p| format!("{} ({})", get::text(p, "name"), get::text(p, "kind")))
                .collect();
            format!("{} phases: {}", ps.len(), names.join(", "))
        }
    }
}

fn verdict(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Verdict\n");
    let v = get::at(s, "analysis.verdict");
    if v.is_null() {
        let _ = writeln!(o, "No analysis in this summary (no analysis).\n");
    } else {
        let ready = get::at(v, "ready").as_bool() == Some(true);
        let basis = match get::text(v, "basis") {
            "thresholds" => "judged against the scenario's thresholds",
            "defaults" => "judged against wsload's default expectations (the scenario has no thresholds)",
            other => other,
        };
        let word = if get::text(v, "status") == "inconclusive" {
            "INCONCLUSIVE: the client was the bottleneck"
        } else if ready {
            "READY"
        } else {
            "NOT READY"
        };
        let _ = writeln!(o, "**{word}**, {basis}.\n");
        for r in get::list(v, "reasons") {
            let _ = writeln!(o, "- {}", r.as_str().map_or_else(|| r.to_string(), str::to_string));
        }
        if !get::list(v, "reasons").is_empty() {
            o.push('\n');
        }
        let lag = get::list(v, "client_bottleneck");
        if !lag.is_empty() {
            let _ = writeln!(
                o,
                "The client was the bottleneck: its figures describe it as much as the server.\n"
            );
            for r in lag {
                let _ = writeln!(o, "- {}", r.as_str().map_or_else(|| r.to_string(), str::to_string));
            }
            o.push('\n');
        }
    }
    if let Some(why) = get::at(s, "aborted_by").as_str() {
        let _ = writeln!(o, "Stopped early by a threshold: {why}.\n");
    }
}

fn findings(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Findings\n");
    let mut any = false;
    if get::at(s, "analysis").is_null() {
        let _ = writeln!(o, "No analysis in this summary (no analysis).\n");
    }
    for f in get::list(s, "analysis.findings") {
        any = true;
        let when = match (get::num(f, "start_s"), get::num(f, "end_s")) {
            (Some(a), Some(b)) => format!(", {}–{} s", fmt_num(a, 1), fmt_num(b, 1)),
            (Some(a), None) => format!(", from {} s", fmt_num(a, 1)),
            _ => String::new(),
        };
        let conf = match get::at(f, "confidence") {
            Value::String(c) => format!(", confidence {c}"),
            Value::Number(n) => format!(", confidence {n}"),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "- **{}** ({}{conf}{when}): {}",
            get::text(f, "title"),
            get::text(f, "kind"),
            get::text(f, "detail")
        );
        for e in get::list(f, "evidence") {
            let _ = writeln!(o, "  - {}", e.as_str().map_or_else(|| e.to_string(), str::to_string));
        }
    }
    for f in get::list(s, "server.findings") {
        any = true;
        let _ = writeln!(o, "- **Server**: {}", f.as_str().unwrap_or_default());
    }
    if let Some(w) = insecure_warning(s) {
        any = true;
        let _ = writeln!(o, "- **TLS warning**: {w}");
    }
    for w in get::list(s, "client.warnings") {
        any = true;
        let _ = writeln!(o, "- **Client warning**: {}", w.as_str().unwrap_or_default());
    }
    if any {
        o.push('\n');
    } else if !get::at(s, "analysis").is_null() {
        let _ = writeln!(o, "Nothing notable.\n");
    }
}

/// The warning a run with `--insecure` carries in every report.
pub fn insecure_warning(s: &Value) -> Option<&'static str> {
    (get::at(s, "tls.insecure").as_bool() == Some(true))
        .then_some("TLS certificates were NOT verified (--insecure): any server could have answered for the target")
}

fn key_figures(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Key figures\n");
    let n = |p: &str| get::count(s, p).to_string();
    let errors: u64 = get::counts(s, "errors").iter().map(|(_, n)| n).sum();
    let rows = vec![
        vec![
            "Connections established".into(),
            format!("{} of {}", n("connections.established"), n("connections.target")),
        ],
        vec!["Connections failed".into(), n("connections.failed")],
        vec!["Connections dropped".into(), n("connections.dropped")],
        vec![
            "Time to open all".into(),
            opt(get::num(s, "connections.time_to_all_s"), 3, " s"),
        ],
        vec!["Messages sent".into(), n("messages.sent")],
        vec!["Messages echoed".into(), n("messages.received")],
        vec![
            "Echoes per second".into(),
            opt(get::num(s, "messages.rate_per_s"), 0, ""),
        ],
        vec![
            "Lost / duplicated / out of order / corrupted".into(),
            format!(
                "{} / {} / {} / {}",
                n("messages.lost"),
                n("messages.duplicated"),
                n("messages.out_of_order"),
                n("messages.corrupted")
            ),
        ],
        vec!["Errors".into(), errors.to_string()],
        vec![
            "Latency p99 (corrected)".into(),
            opt(get::num(s, "latency_us.corrected.p99"), 0, " µs"),
        ],
        vec![
            "Client CPU per million messages".into(),
            opt(get::num(s, "client.cpu_s_per_million_msgs"), 2, " s"),
        ],
    ];
    table(o, &["Figure", "Value"], &rows);
    let wire = super::wire::lines(&s["wire"]);
    if !wire.is_empty() {
        let _ = writeln!(o, "On the wire:\n");
        for line in wire {
            let _ = writeln!(o, "- {}", cell(&line));
        }
        let _ = writeln!(o);
    }
}

fn latency(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Latency (µs)\n");
    let row = |name: &str, p: &Value| -> Vec<String> {
        let mut r = vec![name.to_string(), get::count(p, "count").to_string()];
        for k in ["p50", "p90", "p95", "p99", "p99_9", "max"] {
            r.push(get::count(p, k).to_string());
        }
        r.push(fmt_num(get::num(p, "mean").unwrap_or(0.0), 1));
        r
    };
    let mut rows = vec![
        row("corrected", get::at(s, "latency_us.corrected")),
        row("uncorrected", get::at(s, "latency_us.uncorrected")),
        row("connect", get::at(s, "latency_us.connect")),
    ];
    // The connect time's parts (summaries from before the split have none; ws:// has no TLS).
    for (key, name) in [
        ("tcp_connect", "TCP connect"),
        ("tls_handshake", "TLS handshake"),
        ("upgrade", "upgrade"),
    ] {
        let p = get::at(s, &format!("latency_us.{key}"));
        if get::count(p, "count") > 0 {
            rows.push(row(name, p));
        }
    }
    let types = get::list(s, "message_types");
    if types.len() > 1 {
        for t in types {
            rows.push(row(&format!("type {}", get::text(t, "name")), get::at(t, "latency_us")));
        }
    }
    table(
        o,
        &["Latency", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"],
        &rows,
    );
    let _ = writeln!(
        o,
        "Corrected latency counts from the intended send time (it includes any time the message \
         waited to be sent); uncorrected from the actual send time; connect is TCP connect + upgrade.\n"
    );
    let tls = get::at(s, "tls");
    if !tls.is_null() {
        let _ = writeln!(
            o,
            "wss://: connect includes the TLS handshake; {} full handshakes, {} resumed a session ({}).\n",
            get::count(tls, "full_handshakes"),
            get::count(tls, "resumed_handshakes"),
            opt(get::num(tls, "resumed_share").map(|x| x * 100.0), 1, "%")
        );
    }
}

fn errors(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Errors\n");
    let taxonomy = get::list(s, "analysis.taxonomy");
    let firsts = get::list(s, "first_errors");
    if !taxonomy.is_empty() {
        let rows: Vec<Vec<String>> = taxonomy
            .iter()
            .map(|t| {
                vec![
                    get::text(t, "phase").into(),
                    get::text(t, "class").into(),
                    get::count(t, "count").to_string(),
                    get::text(t, "meaning").into(),
                    get::text(t, "advice").into(),
                ]
            })
            .collect();
        table(o, &["Phase", "Class", "Count", "Meaning", "Advice"], &rows);
    } else {
        let rows: Vec<Vec<String>> = get::counts(s, "errors")
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| {
                let advice = firsts
                    .iter()
                    .find(|f| get::text(f, "kind") == k)
                    .map_or("", |f| get::text(f, "advice"));
                vec![k, n.to_string(), advice.to_string()]
            })
            .collect();
        if rows.is_empty() {
            let _ = writeln!(o, "No errors.\n");
        } else {
            table(o, &["Class", "Count", "Advice"], &rows);
        }
    }
    for f in firsts {
        let _ = writeln!(o, "- first `{}`: {}", get::text(f, "kind"), cell(get::text(f, "first")));
    }
    let statuses = get::counts(s, "upgrade_status");
    for (code, n) in &statuses {
        let _ = writeln!(o, "- upgrade answered HTTP {code}: {}", connections(*n));
    }
    let closes = get::counts(s, "close_codes");
    for (code, n) in &closes {
        let _ = writeln!(o, "- closed by the server with code {code}: {}", connections(*n));
    }
    if !firsts.is_empty() || !statuses.is_empty() || !closes.is_empty() {
        o.push('\n');
    }
}

fn thresholds(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Thresholds\n");
    let ts = get::list(s, "thresholds");
    if ts.is_empty() {
        let _ = writeln!(o, "The scenario has no thresholds.\n");
        return;
    }
    let rows: Vec<Vec<String>> = ts
        .iter()
        .map(|t| {
            vec![
                format!("`{}`", get::text(t, "expr")),
                get::text(t, "measured_text").into(),
                get::text(t, "limit_text").into(),
                if get::at(t, "pass").as_bool() == Some(true) {
                    "pass".into()
                } else {
                    "**FAIL**".into()
                },
            ]
        })
        .collect();
    table(o, &["Threshold", "Measured", "Limit", "Result"], &rows);
}

fn recovery(o: &mut String, s: &Value) {
    let r = get::at(s, "recovery");
    if get::count(r, "drops") == 0 && get::count(r, "churned") == 0 {
        return;
    }
    let _ = writeln!(o, "## Recovery\n");
    let ms = |k: &str| {
        opt(
            get::num(r, &format!("time_to_reconnect_us.{k}")).map(|us| us / 1e3),
            1,
            " ms",
        )
    };
    let rows = vec![
        vec!["Policy".into(), get::text(r, "policy").into()],
        vec!["Drops".into(), get::count(r, "drops").to_string()],
        vec![
            "Reconnected (within horizon)".into(),
            format!(
                "{} ({} within {} s)",
                get::count(r, "reconnected"),
                get::count(r, "reconnected_within"),
                fmt_num(get::num(r, "within_s").unwrap_or(0.0), 1)
            ),
        ],
        vec!["Still down at the end".into(), get::count(r, "unrecovered").to_string()],
        vec![
            "Time to reconnect p50 / p95 / p99".into(),
            format!("{} / {} / {}", ms("p50"), ms("p95"), ms("p99")),
        ],
        vec!["Longest outage".into(), opt(get::num(r, "longest_outage_s"), 3, " s")],
        vec![
            "Availability".into(),
            opt(get::num(r, "availability").map(|a| a * 100.0), 3, " %"),
        ],
        vec![
            "Messages lost by drops".into(),
            get::count(r, "lost_by_drop").to_string(),
        ],
        vec!["Churned connections".into(), get::count(r, "churned").to_string()],
    ];
    table(o, &["Recovery", "Value"], &rows);
}

fn faults(o: &mut String, s: &Value) {
    let events = get::list(s, "faults.events");
    let injected = get::counts(s, "faults.injected");
    if events.is_empty() && injected.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Faults\n");
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                fmt_num(get::num(e, "t_s").unwrap_or(0.0), 3),
                get::text(e, "kind").into(),
                get::count(e, "connections").to_string(),
            ]
        })
        .collect();
    table(o, &["At (s)", "Fault", "Connections"], &rows);
    let _ = writeln!(
        o,
        "{} ended by injected faults (not counted as server errors).\n",
        connections(get::count(s, "faults.ended_connections"))
    );
}

/// The network-fault proxy: its toxics, when each turned on and off, and what it did.
fn proxy(o: &mut String, s: &Value) {
    let Some(p) = s.get("proxy").filter(|p| p.is_object()) else {
        return;
    };
    let _ = writeln!(o, "## Network faults (proxy)\n");
    let _ = writeln!(
        o,
        "Clients connected through `wsload proxy` at {}, forwarding to {}.\n",
        get::text(p, "listen"),
        get::text(p, "upstream")
    );
    for t in get::list(p, "toxics") {
        let _ = writeln!(o, "- {}", cell(get::text(t, "what")));
    }
    o.push('\n');
    let rows: Vec<Vec<String>> = get::list(p, "events")
        .iter()
        .map(|e| {
            vec![
                fmt_num(get::num(e, "t_s").unwrap_or(0.0), 3),
                get::text(e, "event").into(),
                cell(get::text(e, "what")),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(o, &["At (s)", "Toxic", "What"], &rows);
    }
    let totals: Vec<Vec<String>> = get::counts(p, "totals")
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| vec![k, n.to_string()])
        .collect();
    table(o, &["Proxy counter", "Total"], &totals);
}

fn server(o: &mut String, s: &Value) {
    let _ = writeln!(o, "## Server cost\n");
    let sv = get::at(s, "server");
    if sv.is_null() {
        let _ = writeln!(o, "The server was not sampled (use `--server-pid`).\n");
        return;
    }
    let fit = |k: &str| {
        let f = get::at(sv, k);
        match get::num(f, "bytes_per_connection") {
            None => "n/a".to_string(),
            Some(b) => match get::num(f, "r2") {
                Some(r2) => format!(
                    "{} B (R² {}, {} points)",
                    fmt_num(b, 0),
                    fmt_num(r2, 2),
                    get::count(f, "points")
                ),
                None => format!("{} B (2 points)", fmt_num(b, 0)),
            },
        }
    };
    let mut rows = vec![
        vec![
            "Process".into(),
            format!("{} (pid {})", get::text(sv, "name"), get::count(sv, "pid")),
        ],
        vec![
            "Memory per connection (user space)".into(),
            fit("memory_per_connection"),
        ],
        vec![
            "Memory per connection (kernel, system-wide)".into(),
            fit("kernel_memory_per_connection"),
        ],
        vec![
            "CPU per million messages".into(),
            opt(get::num(sv, "cpu_s_per_million_msgs"), 2, " s"),
        ],
        vec!["CPU under load".into(), opt(get::num(sv, "cpu_busy"), 2, " cores")],
        vec![
            "Peak RSS".into(),
            get::num(sv, "peak_rss_bytes").map_or("n/a".into(), mib),
        ],
        vec!["Peak open files".into(), get::count(sv, "peak_fds").to_string()],
    ];
    let after = get::at(sv, "after");
    if !after.is_null() {
        rows.push(vec![
            "After the run".into(),
            format!(
                "{} open files, RSS {}, {}",
                get::count(after, "fds"),
                mib(get::num(after, "rss_bytes").unwrap_or(0.0)),
                if get::at(after, "accepts").as_bool() == Some(true) {
                    "still accepts connections"
                } else {
                    "NO LONGER ACCEPTS CONNECTIONS"
                }
            ),
        ]);
    }
    table(o, &["Server", "Value"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn without_analysis_says_so() {
        let md = render(&serde_json::json!({"target": "ws://x/"}));
        assert!(md.starts_with("# wsload report: ws://x/\n"), "{md}");
        assert!(md.contains("no analysis"), "{md}");
    }
}
