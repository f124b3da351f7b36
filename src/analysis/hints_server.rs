//! Root-cause hints read from the server's side: its answers to the upgrade,
//! its CPU at a latency knee, its memory and whether it still accepts after the run (see the table in the hints module, which calls these rules).

use super::bursts::onset;
use super::figures::Own;
use super::finding::{hint, num, secs, Confidence, Finding, Kind};
use super::fit;
use super::knee::{server_busy_at, LatencyKnee};
use crate::report::model::Summary;

/// Server CPU (cores) at or above which it is taken as saturated.
pub const CPU_BOUND: f64 = 0.9;

pub(super) fn upgrade(own: &Own) -> Vec<Finding> {
    let mut out = Vec::new();
    let n = |s: &str| own.summary.upgrade_status.get(s).copied().unwrap_or(0);
    let auth = n("401") + n("403");
    if auth > 0 {
        out.push(hint(
            "Upgrades refused for authentication (HTTP 401/403)",
            "The server refused the credentials or the Origin: add or fix the Authorization header or token, \
             or the Origin it expects."
                .into(),
            vec![format!("HTTP 401: {}, HTTP 403: {}", n("401"), n("403"))],
            Confidence::High,
        ));
    }
    if n("404") > 0 {
        out.push(hint(
            "No WebSocket endpoint at this path (HTTP 404)",
            "Check the URL's path.".into(),
            vec![format!("HTTP 404: {}", n("404"))],
            Confidence::High,
        ));
    }
    if n("400") > 0 {
        out.push(hint(
            "The server rejected the upgrade request (HTTP 400)",
            "Check the path, the extra headers and the subprotocols offered.".into(),
            vec![format!("HTTP 400: {}", n("400"))],
            Confidence::Medium,
        ));
    }
    let shed = n("429") + n("503");
    let try_later = own.summary.close_codes.get("1013").copied().unwrap_or(0);
    if shed + try_later > 0 {
        let mut ev = vec![format!(
            "HTTP 429: {}, HTTP 503: {}, close 1013: {try_later}",
            n("429"),
            n("503")
        )];
        if let Some((_, e, open)) = onset(&own.timeline, "upgrade_rejected") {
            ev.push(format!(
                "rejections began in the interval ending at {} with {open} open",
                secs(e)
            ));
        }
        out.push(hint(
            "The server is shedding load",
            "It answered with 429/503 or closed with 1013 (try again later): it is at its configured or actual \
             capacity for this connection count or rate. Lower the load, or raise its limits or capacity."
                .into(),
            ev,
            Confidence::Medium,
        ));
    }
    out
}

pub(super) fn cpu_bound(own: &Own, knee: &LatencyKnee) -> Option<Finding> {
    let server = own.summary.server.as_ref();
    let section = server.and_then(|s| s.cpu_busy);
    let at_knee = server_busy_at(&own.timeline, knee.at);
    let busy = section.into_iter().chain(at_knee).fold(f64::NAN, f64::max);
    if busy.is_nan() || busy < CPU_BOUND {
        return None;
    }
    let threads = server.map_or(0, |s| s.peak_threads);
    let k = &own.timeline[knee.at];
    let mut ev = vec![format!(
        "p99 rose from {} µs to {} µs at {} open connections",
        num(knee.baseline_us),
        num(k.p99_us),
        k.open
    )];
    if let Some(b) = section {
        ev.push(format!("server CPU over the traffic: {} cores", num2(b)));
    }
    if let Some(b) = at_knee {
        ev.push(format!("server CPU in the knee's interval: {} cores", num2(b)));
    }
    if threads > 0 {
        ev.push(format!("server threads: {threads}"));
    }
    Some(hint(
        "The server is likely CPU-bound",
        format!(
            "Latency climbed while the server used at least {CPU_BOUND} of a core{}: it likely cannot process \
             messages faster. Profile it, or give it more cores if it can use them.",
            if threads > 1 {
                " (it has several threads: saturation holds if it works on one core)"
            } else {
                ""
            }
        ),
        ev,
        Confidence::Medium,
    ))
}

fn num2(x: f64) -> String {
    format!("{x:.2}")
}

pub(super) fn memory(own: &Own) -> Vec<Finding> {
    let mut out = Vec::new();
    let p = &own.timeline;
    // RSS against time while the connection count is constant (within 2% of the peak).
    let peak = p.iter().map(|q| q.open).max().unwrap_or(0);
    let steady: Vec<(f64, f64)> = p
        .iter()
        .filter(|q| peak > 0 && q.open as f64 >= 0.98 * peak as f64)
        .filter_map(|q| q.server.map(|s| (q.t_s, s.rss_bytes as f64)))
        .collect();
    if steady.len() >= 4 {
        let (a, b) = (steady[0], steady[steady.len() - 1]);
        let growth = b.1 - a.1;
        if let Some(f) = fit::linear(&steady) {
            if f.slope > 0.0 && f.r2 >= 0.8 && growth >= 0.1 * a.1 && growth >= 1_048_576.0 {
                out.push(Finding {
                    kind: Kind::Hint,
                    title: "Server memory grows at a constant connection count".into(),
                    detail: "The server's RSS kept rising while the number of open connections stayed flat: a \
                             leak, or buffering that grows with time (queued messages, caches). Watch it over a \
                             longer run."
                        .into(),
                    evidence: vec![
                        format!(
                            "RSS {} MiB at {} → {} MiB at {} with ~{peak} open",
                            num(a.1 / 1_048_576.0),
                            secs(a.0),
                            num(b.1 / 1_048_576.0),
                            secs(b.0)
                        ),
                        format!(
                            "slope {} KiB/s, R² {:.2}, {} points",
                            num(f.slope / 1024.0),
                            f.r2,
                            f.points
                        ),
                    ],
                    confidence: Confidence::Medium,
                    start_s: Some(a.0),
                    end_s: Some(b.0),
                });
            }
        }
    }
    if let Some(s) = &own.summary.server {
        let mem: Vec<String> = s
            .findings
            .iter()
            .filter(|f| f.contains("memory") || f.contains("RSS"))
            .cloned()
            .collect();
        if !mem.is_empty() {
            let mut ev = mem;
            if let Some(m) = &s.memory_per_connection {
                ev.push(format!(
                    "{} bytes per connection{}",
                    num(m.bytes_per_connection),
                    m.r2.map(|r| format!(" (R² {r:.2})")).unwrap_or_default()
                ));
            }
            out.push(hint(
                "Server memory",
                "The server section found memory worth a look (see the evidence, as measured there).".into(),
                ev,
                Confidence::Low,
            ));
        }
    }
    out
}

/// The post-run upgrade check failed: the server stopped accepting connections.
pub(super) fn stopped_accepting(s: &Summary) -> Option<Finding> {
    let accepts = s.server.as_ref().and_then(|v| v.after.as_ref()).map(|a| a.accepts);
    (accepts == Some(false)).then(|| {
        hint(
            "The server stopped accepting connections",
            "After the run the server no longer accepted a WebSocket upgrade: it crashed, hung or exhausted a \
             resource. Check its logs."
                .into(),
            vec!["the post-run upgrade check failed".into()],
            Confidence::High,
        )
    })
}
