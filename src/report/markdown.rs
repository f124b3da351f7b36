//! report.md: the run for people who read it later (a pull request, a wiki page).
//!
//! Title, verdict and findings (from the summary's optional `analysis` object, produced
//! by the analysis step; "no analysis" when absent), key figures, latency, errors with
//! advice, thresholds, recovery, faults and what the server paid.

use std::fmt::Write;

use super::model::{Percentiles, Summary};
use super::server::CostFit;
use crate::analysis::readiness::{Status, Verdict};
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

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# wsload report: {}{}\n",
        s.target,
        match (s.partial_reason.as_deref().unwrap_or(""), s.partial) {
            ("", true) => " (PARTIAL: interrupted)".to_string(),
            (why, true) => format!(" (PARTIAL: {why})"),
            _ => String::new(),
        }
    );
    let server_kind = if s.builtin_server {
        " (built-in echo server)"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "wsload {}{server_kind}: {} connections, {} s of load, {}.\n",
        s.wsload_version,
        s.connections.target,
        fmt_num(s.duration_s, 1),
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
fn describe_traffic(s: &Summary) -> String {
    match s.phases.as_slice() {
        [] => "no traffic phase".into(),
        [p] => format!("one {} phase", p.kind),
        ps => {
            let names: Vec<String> = ps.iter().map(|p| format!("{} ({})", p.name, p.kind)).collect();
            format!("{} phases: {}", ps.len(), names.join(", "))
        }
    }
}

fn verdict(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Verdict\n");
    match &s.analysis {
        None => {
            let _ = writeln!(o, "No analysis in this summary (no analysis).\n");
        }
        Some(a) => readiness(o, &a.verdict),
    }
    if let Some(why) = &s.aborted_by {
        let _ = writeln!(o, "Stopped early by a threshold: {why}.\n");
    }
}

/// The analysis's verdict: one word and its basis, the reasons, and why the client was the
/// bottleneck when it was.
fn readiness(o: &mut String, v: &Verdict) {
    let basis = match v.basis.as_str() {
        "thresholds" => "judged against the scenario's thresholds",
        "defaults" => "judged against wsload's default expectations (the scenario has no thresholds)",
        other => other,
    };
    let word = if v.status == Status::Inconclusive {
        "INCONCLUSIVE: the client was the bottleneck"
    } else if v.ready {
        "READY"
    } else {
        "NOT READY"
    };
    let _ = writeln!(o, "**{word}**, {basis}.\n");
    for r in &v.reasons {
        let _ = writeln!(o, "- {r}");
    }
    if !v.reasons.is_empty() {
        o.push('\n');
    }
    if !v.client_bottleneck.is_empty() {
        let _ = writeln!(
            o,
            "The client was the bottleneck: its figures describe it as much as the server.\n"
        );
        for r in &v.client_bottleneck {
            let _ = writeln!(o, "- {r}");
        }
        o.push('\n');
    }
}

fn findings(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Findings\n");
    let mut any = false;
    if s.analysis.is_none() {
        let _ = writeln!(o, "No analysis in this summary (no analysis).\n");
    }
    for f in s.analysis.iter().flat_map(|a| &a.findings) {
        any = true;
        let when = match (f.start_s, f.end_s) {
            (Some(a), Some(b)) => format!(", {}–{} s", fmt_num(a, 1), fmt_num(b, 1)),
            (Some(a), None) => format!(", from {} s", fmt_num(a, 1)),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "- **{}** ({}, confidence {}{when}): {}",
            f.title,
            f.kind.name(),
            f.confidence.name(),
            f.detail
        );
        for e in &f.evidence {
            let _ = writeln!(o, "  - {e}");
        }
    }
    for f in s.server.iter().flat_map(|sv| &sv.findings) {
        any = true;
        let _ = writeln!(o, "- **Server**: {f}");
    }
    if let Some(w) = insecure_warning(s) {
        any = true;
        let _ = writeln!(o, "- **TLS warning**: {w}");
    }
    for w in &s.client.warnings {
        any = true;
        let _ = writeln!(o, "- **Client warning**: {w}");
    }
    if any {
        o.push('\n');
    } else if s.analysis.is_some() {
        let _ = writeln!(o, "Nothing notable.\n");
    }
}

/// The warning a run with `--insecure` carries in every report.
pub fn insecure_warning(s: &Summary) -> Option<&'static str> {
    s.tls.as_ref().is_some_and(|t| t.insecure).then_some(INSECURE_WARNING)
}

/// What [`insecure_warning`] says.
pub const INSECURE_WARNING: &str =
    "TLS certificates were NOT verified (--insecure): any server could have answered for the target";

fn key_figures(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Key figures\n");
    let (c, m) = (&s.connections, &s.messages);
    let errors = s.error_total();
    let rows = vec![
        vec![
            "Connections established".into(),
            format!("{} of {}", c.established, c.target),
        ],
        vec!["Connections failed".into(), c.failed.to_string()],
        vec!["Connections dropped".into(), c.dropped.to_string()],
        vec!["Time to open all".into(), opt(Some(c.time_to_all_s), 3, " s")],
        vec!["Messages sent".into(), m.sent.to_string()],
        vec!["Messages echoed".into(), m.received.to_string()],
        vec!["Echoes per second".into(), opt(Some(m.rate_per_s), 0, "")],
        vec![
            "Lost / duplicated / out of order / corrupted".into(),
            format!("{} / {} / {} / {}", m.lost, m.duplicated, m.out_of_order, m.corrupted),
        ],
        vec!["Errors".into(), errors.to_string()],
        vec![
            "Latency p99 (corrected)".into(),
            opt(Some(s.latency_us.corrected.p99 as f64), 0, " µs"),
        ],
        vec![
            "Client CPU per million messages".into(),
            opt(s.client.cpu_s_per_million_msgs, 2, " s"),
        ],
    ];
    table(o, &["Figure", "Value"], &rows);
    let wire = super::wire::lines(&s.wire);
    if !wire.is_empty() {
        let _ = writeln!(o, "On the wire:\n");
        for line in wire {
            let _ = writeln!(o, "- {}", cell(&line));
        }
        let _ = writeln!(o);
    }
}

/// A row of the latency table: count, percentiles and mean.
fn latency_row(name: &str, p: &Percentiles) -> Vec<String> {
    let mut r = vec![name.to_string(), p.count.to_string()];
    for x in [p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max] {
        r.push(x.to_string());
    }
    r.push(fmt_num(p.mean, 1));
    r
}

fn latency(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Latency (µs)\n");
    let l = &s.latency_us;
    let mut rows = vec![
        latency_row("corrected", &l.corrected),
        latency_row("uncorrected", &l.uncorrected),
        latency_row("connect", &l.connect),
    ];
    // The connect time's parts (summaries from before the split have none; ws:// has no TLS).
    for (p, name) in [
        (&l.tcp_connect, "TCP connect"),
        (&l.tls_handshake, "TLS handshake"),
        (&l.upgrade, "upgrade"),
    ] {
        if p.count > 0 {
            rows.push(latency_row(name, p));
        }
    }
    if s.message_types.len() > 1 {
        for t in &s.message_types {
            rows.push(latency_row(&format!("type {}", t.name), &t.latency_us));
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
    if let Some(tls) = &s.tls {
        let _ = writeln!(
            o,
            "wss://: connect includes the TLS handshake; {} full handshakes, {} resumed a session ({}).\n",
            tls.full_handshakes,
            tls.resumed_handshakes,
            opt(tls.resumed_share.map(|x| x * 100.0), 1, "%")
        );
    }
}

fn errors(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Errors\n");
    let taxonomy = s.analysis.as_ref().map_or(&[][..], |a| a.taxonomy.as_slice());
    let firsts = &s.first_errors;
    if !taxonomy.is_empty() {
        let rows: Vec<Vec<String>> = taxonomy
            .iter()
            .map(|t| {
                vec![
                    t.phase.clone(),
                    t.class.clone(),
                    t.count.to_string(),
                    t.meaning.clone(),
                    t.advice.clone(),
                ]
            })
            .collect();
        table(o, &["Phase", "Class", "Count", "Meaning", "Advice"], &rows);
    } else {
        let rows: Vec<Vec<String>> = s
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| {
                let advice = firsts.iter().find(|f| &f.kind == k).map_or("", |f| f.advice.as_str());
                vec![k.clone(), n.to_string(), advice.to_string()]
            })
            .collect();
        if rows.is_empty() {
            let _ = writeln!(o, "No errors.\n");
        } else {
            table(o, &["Class", "Count", "Advice"], &rows);
        }
    }
    for f in firsts {
        let _ = writeln!(o, "- first `{}`: {}", f.kind, cell(&f.first));
    }
    for (code, n) in &s.upgrade_status {
        let _ = writeln!(o, "- upgrade answered HTTP {code}: {}", connections(*n));
    }
    for (code, n) in &s.close_codes {
        let _ = writeln!(o, "- closed by the server with code {code}: {}", connections(*n));
    }
    if !firsts.is_empty() || !s.upgrade_status.is_empty() || !s.close_codes.is_empty() {
        o.push('\n');
    }
}

fn thresholds(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Thresholds\n");
    if s.thresholds.is_empty() {
        let _ = writeln!(o, "The scenario has no thresholds.\n");
        return;
    }
    let rows: Vec<Vec<String>> = s
        .thresholds
        .iter()
        .map(|t| {
            vec![
                format!("`{}`", t.expr),
                t.measured_text.clone(),
                t.limit_text.clone(),
                if t.pass { "pass".into() } else { "**FAIL**".into() },
            ]
        })
        .collect();
    table(o, &["Threshold", "Measured", "Limit", "Result"], &rows);
}

fn recovery(o: &mut String, s: &Summary) {
    let r = &s.recovery;
    if r.drops == 0 && r.churned == 0 {
        return;
    }
    let _ = writeln!(o, "## Recovery\n");
    let ms = |us: u64| opt(Some(us as f64 / 1e3), 1, " ms");
    let t = &r.time_to_reconnect_us;
    let rows = vec![
        vec!["Policy".into(), r.policy.clone()],
        vec!["Drops".into(), r.drops.to_string()],
        vec![
            "Reconnected (within horizon)".into(),
            format!(
                "{} ({} within {} s)",
                r.reconnected,
                r.reconnected_within,
                fmt_num(r.within_s, 1)
            ),
        ],
        vec!["Still down at the end".into(), r.unrecovered.to_string()],
        vec![
            "Time to reconnect p50 / p95 / p99".into(),
            format!("{} / {} / {}", ms(t.p50), ms(t.p95), ms(t.p99)),
        ],
        vec!["Longest outage".into(), opt(Some(r.longest_outage_s), 3, " s")],
        vec!["Availability".into(), opt(r.availability.map(|a| a * 100.0), 3, " %")],
        vec!["Messages lost by drops".into(), r.lost_by_drop.to_string()],
        vec!["Churned connections".into(), r.churned.to_string()],
    ];
    table(o, &["Recovery", "Value"], &rows);
}

fn faults(o: &mut String, s: &Summary) {
    let f = &s.faults;
    if f.events.is_empty() && f.injected.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Faults\n");
    let rows: Vec<Vec<String>> = f
        .events
        .iter()
        .map(|e| vec![fmt_num(e.t_s, 3), e.kind.clone(), e.connections.to_string()])
        .collect();
    table(o, &["At (s)", "Fault", "Connections"], &rows);
    let _ = writeln!(
        o,
        "{} ended by injected faults (not counted as server errors).\n",
        connections(f.ended_connections)
    );
}

/// The network-fault proxy: its toxics, when each turned on and off, and what it did.
fn proxy(o: &mut String, s: &Summary) {
    let Some(p) = &s.proxy else {
        return;
    };
    let _ = writeln!(o, "## Network faults (proxy)\n");
    let _ = writeln!(
        o,
        "Clients connected through `wsload proxy` at {}, forwarding to {}.\n",
        p.listen, p.upstream
    );
    for t in &p.toxics {
        let _ = writeln!(o, "- {}", cell(&t.what));
    }
    o.push('\n');
    let rows: Vec<Vec<String>> = p
        .events
        .iter()
        .map(|e| vec![fmt_num(e.t_s, 3), e.event.clone(), cell(&e.what)])
        .collect();
    if !rows.is_empty() {
        table(o, &["At (s)", "Toxic", "What"], &rows);
    }
    let totals: Vec<Vec<String>> = p
        .totals
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| vec![k.clone(), n.to_string()])
        .collect();
    table(o, &["Proxy counter", "Total"], &totals);
}

/// A fit of memory against open connections, in words.
fn fit(f: Option<&CostFit>) -> String {
    match f {
        None => "n/a".to_string(),
        Some(f) => match f.r2 {
            Some(r2) => format!(
                "{} B (R² {}, {} points)",
                fmt_num(f.bytes_per_connection, 0),
                fmt_num(r2, 2),
                f.points
            ),
            None => format!("{} B (2 points)", fmt_num(f.bytes_per_connection, 0)),
        },
    }
}

fn server(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "## Server cost\n");
    let Some(sv) = &s.server else {
        let _ = writeln!(o, "The server was not sampled (use `--server-pid`).\n");
        return;
    };
    let mut rows = vec![
        vec!["Process".into(), format!("{} (pid {})", sv.name, sv.pid)],
        vec![
            "Memory per connection (user space)".into(),
            fit(sv.memory_per_connection.as_ref()),
        ],
        vec![
            "Memory per connection (kernel, system-wide)".into(),
            fit(sv.kernel_memory_per_connection.as_ref()),
        ],
        vec![
            "CPU per million messages".into(),
            opt(sv.cpu_s_per_million_msgs, 2, " s"),
        ],
        vec!["CPU under load".into(), opt(sv.cpu_busy, 2, " cores")],
        vec!["Peak RSS".into(), mib(sv.peak_rss_bytes as f64)],
        vec!["Peak open files".into(), sv.peak_fds.to_string()],
    ];
    if let Some(after) = &sv.after {
        rows.push(vec![
            "After the run".into(),
            format!(
                "{} open files, RSS {}, {}",
                after.fds,
                mib(after.rss_bytes as f64),
                if after.accepts {
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
        let md = render(&Summary::from_value(serde_json::json!({"target": "ws://x/"})).unwrap());
        assert!(md.starts_with("# wsload report: ws://x/\n"), "{md}");
        assert!(md.contains("no analysis"), "{md}");
    }
}
