//! The human-readable summary printed at the end of a run.

use std::fmt::Write;

use super::summary::Summary;

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let c = &s.connections;
    let m = &s.messages;
    let (lc, lu) = (&s.latency_us.corrected, &s.latency_us.uncorrected);
    let _ = writeln!(
        o,
        "\nwsload summary{}",
        if s.partial { " (PARTIAL: interrupted)" } else { "" }
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
    let load = match (s.config.rate_per_connection, s.config.in_flight) {
        (Some(r), _) => format!("open loop, {r} msg/s per connection"),
        (_, Some(w)) => format!("closed loop, {w} in flight per connection"),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "  load          {load}, {} B {} messages, {:.1} s",
        s.config.message_size,
        if s.config.text { "text" } else { "binary" },
        s.duration_s
    );
    let _ = writeln!(
        o,
        "  connections   {}/{} established, {} failed, {} dropped; all open in {:.3} s ({:.0}/s)",
        c.established, c.target, c.failed, c.dropped, c.time_to_all_s, c.connect_rate_per_s
    );
    let _ = writeln!(
        o,
        "  messages      {} sent, {} echoed ({:.0}/s); lost {}, duplicated {}, out of order {}, corrupted {}",
        m.sent, m.received, m.rate_per_s, m.lost, m.duplicated, m.out_of_order, m.corrupted
    );
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
    o
}
