//! The human-readable summary printed at the end of a run.

use std::fmt::Write;

use super::model::Summary;

/// The traffic and the messages in a few words.
fn describe_load(s: &Summary) -> String {
    use crate::config::scenario::{MessageKind, Mode, PhaseKind, SizeDist};
    let sc = &s.scenario;
    if sc.mode == Mode::Subscribe {
        return "subscribe: receive what the server pushes".to_string();
    }
    let traffic = match sc.phases.as_slice() {
        [p] => match &p.kind {
            PhaseKind::Sustained { rate } => format!("open loop, {rate} msg/s per connection"),
            PhaseKind::InFlight { window } => format!("closed loop, {window} in flight per connection"),
            PhaseKind::Idle => "idle connections".to_string(),
            PhaseKind::Burst { rate, burst_rate, .. } => format!("bursts of {burst_rate} msg/s over {rate} msg/s"),
            PhaseKind::Ramp { from, to } => format!("rate ramp {from} → {to} msg/s per connection"),
        },
        ps => {
            let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
            format!("{} phases ({})", ps.len(), names.join(", "))
        }
    };
    let messages = match sc.messages.as_slice() {
        [m] => {
            let size = match &m.size {
                SizeDist::Fixed(n) => format!("{n} B"),
                d => format!("{}..{} B", d.min(), d.max()),
            };
            let kind = match m.kind {
                MessageKind::Binary => "binary messages",
                MessageKind::Text => "text messages",
                MessageKind::Ping => "pings",
            };
            format!("{size} {kind}")
        }
        ms => format!("a mix of {} message types", ms.len()),
    };
    format!("{traffic}, {messages}")
}

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    header(&mut o, s);
    traffic(&mut o, s);
    latency(&mut o, s);
    client(&mut o, s);
    if let Some(sv) = &s.server {
        server(&mut o, sv);
    }
    problems(&mut o, s);
    message_types(&mut o, s);
    recovery_and_faults(&mut o, s);
    proxy(&mut o, s);
    thresholds(&mut o, s);
    if let Some(a) = &s.analysis {
        verdict(&mut o, &a.verdict);
    }
    o
}

/// The title line, the target and the load.
fn header(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "\nwsload summary{}",
        match (&s.partial_reason, s.partial) {
            (Some(why), true) => format!(" (PARTIAL: {why})"),
            (None, true) => " (PARTIAL: interrupted)".to_string(),
            _ => String::new(),
        }
    );
    let _ = writeln!(
        o,
        "  target        {}{}",
        s.target,
        if s.builtin_server {
            " (built-in echo server)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "  load          {}, {:.1} s", describe_load(s), s.duration_s);
}

/// Connections, messages and what the wire section adds.
fn traffic(o: &mut String, s: &Summary) {
    let c = &s.connections;
    let m = &s.messages;
    let _ = writeln!(
        o,
        "  connections   {}/{} established, {} failed, {} dropped; all open in {:.3} s ({:.0}/s)",
        c.established, c.target, c.failed, c.dropped, c.time_to_all_s, c.connect_rate_per_s
    );
    let _ = writeln!(
        o,
        "  messages      {} sent, {} {} ({:.0}/s); lost {}, duplicated {}, out of order {}, corrupted {}",
        m.sent,
        m.received,
        if s.wire.mode == crate::config::scenario::Mode::Echo {
            "echoed"
        } else {
            "received"
        },
        m.rate_per_s,
        m.lost,
        m.duplicated,
        m.out_of_order,
        m.corrupted
    );
    for line in super::wire::lines(&s.wire) {
        let _ = writeln!(o, "                {line}");
    }
}

/// Corrected and uncorrected latency percentiles.
fn latency(o: &mut String, s: &Summary) {
    let (lc, lu) = (&s.latency_us.corrected, &s.latency_us.uncorrected);
    if lc.count == 0 {
        let _ = writeln!(o, "  latency       no echo received");
    } else {
        let _ = writeln!(
            o,
            "  latency (us)  corrected   p50 {} p90 {} p99 {} p99.9 {} max {}",
            lc.p50, lc.p90, lc.p99, lc.p99_9, lc.max
        );
        let _ = writeln!(
            o,
            "                uncorrected p50 {} p90 {} p99 {} p99.9 {} max {}",
            lu.p50, lu.p90, lu.p99, lu.p99_9, lu.max
        );
    }
}

/// The client's CPU and memory.
fn client(o: &mut String, s: &Summary) {
    let cpu = s
        .client
        .cpu_s_per_million_msgs
        .map_or("n/a".to_string(), |v| format!("{v:.2}"));
    let busy = s
        .client
        .cpu_busy
        .map_or(String::new(), |b| format!(", {:.0}% busy under load", b * 100.0));
    let _ = writeln!(
        o,
        "  client        CPU {:.2} s user + {:.2} s sys ({cpu} s per million messages{busy}), peak RSS {:.1} MiB, {} B per connection",
        s.client.cpu_user_s,
        s.client.cpu_sys_s,
        s.client.peak_rss_bytes as f64 / (1 << 20) as f64,
        s.client.rss_per_connection_bytes
    );
}

/// The server under test: cost per connection, CPU, memory, state after the run, findings.
fn server(o: &mut String, sv: &super::server::ServerSection) {
    let fit = |f: &Option<super::server::CostFit>| match f {
        Some(f) => match f.r2 {
            Some(r2) => format!("{:.0} B (R² {r2:.2}, {} points)", f.bytes_per_connection, f.points),
            None => format!("{:.0} B (2 points)", f.bytes_per_connection),
        },
        None => "n/a".to_string(),
    };
    let cpu = sv
        .cpu_s_per_million_msgs
        .map_or("n/a".to_string(), |c| format!("{c:.2} s per million messages"));
    let busy = sv
        .cpu_busy
        .map_or(String::new(), |b| format!(", {b:.2} cores under load"));
    let _ = writeln!(
        o,
        "  server        pid {} ({}): per connection {} user space, {} kernel; CPU {cpu}{busy}; peak RSS {:.1} MiB, peak {} open files",
        sv.pid,
        sv.name,
        fit(&sv.memory_per_connection),
        fit(&sv.kernel_memory_per_connection),
        sv.peak_rss_bytes as f64 / (1 << 20) as f64,
        sv.peak_fds
    );
    if let Some(a) = &sv.after {
        let _ = writeln!(
            o,
            "                after the run: {} open files, RSS {:.1} MiB, {}",
            a.fds,
            a.rss_bytes as f64 / (1 << 20) as f64,
            if a.accepts {
                "still accepts connections"
            } else {
                "NO LONGER ACCEPTS CONNECTIONS"
            }
        );
    }
    for f in &sv.findings {
        let _ = writeln!(o, "  FINDING       {f}");
    }
}

/// Warnings, first errors, upgrade statuses and close codes.
fn problems(o: &mut String, s: &Summary) {
    for w in &s.client.warnings {
        let _ = writeln!(o, "  WARNING       {w}");
    }
    for e in &s.first_errors {
        let _ = writeln!(
            o,
            "  error         {} x{}: {}\n                -> {}",
            e.kind, e.count, e.first, e.advice
        );
    }
    for (code, n) in &s.upgrade_status {
        let _ = writeln!(o, "  upgrade       HTTP {code}: {n} connections");
    }
    for (code, n) in &s.close_codes {
        let _ = writeln!(o, "  closed        code {code}: {n} connections");
    }
}

/// Per message type, when the scenario mixes several.
fn message_types(o: &mut String, s: &Summary) {
    if s.message_types.len() > 1 {
        for t in &s.message_types {
            let _ = writeln!(
                o,
                "  type {:<8} {} sent, {} received; p50 {} us p99 {} us",
                t.name, t.sent, t.received, t.latency_us.p50, t.latency_us.p99
            );
        }
    }
}

/// Drops and reconnection, and injected faults.
fn recovery_and_faults(o: &mut String, s: &Summary) {
    let r = &s.recovery;
    if r.drops > 0 || r.churned > 0 {
        let avail = r
            .availability
            .map_or(String::new(), |a| format!(", availability {:.3}%", a * 100.0));
        let _ = writeln!(
            o,
            "  recovery      {} drops ({} policy): {} reconnected ({} within {} s), {} still down; reconnect p50 {:.1} ms p99 {:.1} ms; longest outage {:.3} s{avail}; {} churned",
            r.drops,
            r.policy,
            r.reconnected,
            r.reconnected_within,
            r.within_s,
            r.unrecovered,
            r.time_to_reconnect_us.p50 as f64 / 1e3,
            r.time_to_reconnect_us.p99 as f64 / 1e3,
            r.longest_outage_s,
            r.churned
        );
    }
    if !s.faults.injected.is_empty() {
        let f: Vec<String> = s.faults.injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            o,
            "  faults        injected into connections: {}; {} connections ended by them",
            f.join(", "),
            s.faults.ended_connections
        );
    }
}

/// The network-fault proxy's totals, when the scenario has one.
fn proxy(o: &mut String, s: &Summary) {
    let Some(p) = &s.proxy else {
        return;
    };
    let t = |k: &str| p.totals.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        o,
        "  proxy         {} toxic(s); {} accepted, {} refused, {} reset, {} closed, {} timed out, {} chunks corrupted, {} B delayed",
        p.toxics.len(),
        t("accepted"),
        t("refused"),
        t("resets"),
        t("closes"),
        t("timed_out"),
        t("chunks_corrupted"),
        t("bytes_delayed")
    );
}

/// Every threshold with its verdict, and the one that stopped the run early.
fn thresholds(o: &mut String, s: &Summary) {
    for v in &s.thresholds {
        let _ = writeln!(
            o,
            "  threshold     {} {}  (measured {}, limit {})",
            if v.pass { "PASS" } else { "FAIL" },
            v.expr,
            v.measured_text,
            v.limit_text
        );
    }
    if let Some(why) = &s.aborted_by {
        let _ = writeln!(o, "  STOPPED EARLY {why}");
    }
}

/// The readiness verdict: one line, then what it rests on when it is not "ready".
fn verdict(o: &mut String, v: &crate::analysis::readiness::Verdict) {
    use crate::analysis::readiness::Status;
    let basis = match v.basis.as_str() {
        "thresholds" => "judged against the scenario's thresholds",
        _ => "judged against wsload's default limits",
    };
    let (word, details) = match (v.status, v.ready) {
        (Status::Inconclusive, _) => (
            "INCONCLUSIVE: the client was the bottleneck, so the figures describe it as much as the server",
            v.client_bottleneck.as_slice(),
        ),
        (_, true) => ("READY", &[][..]),
        _ => ("NOT READY", v.reasons.as_slice()),
    };
    let _ = writeln!(o, "  verdict       {word} ({basis})");
    for d in details {
        let _ = writeln!(o, "                - {d}");
    }
}
