//! Production readiness: the scenario's thresholds decide when it has any
//! (ready iff they all passed); otherwise the defaults: every connection
//! established, no message lost, error rate under [`MAX_ERROR_RATE`], p99 under
//! [`MAX_P99_US`]. The reasons list every criterion with its measured value.
//!
//! The client's own health comes first: when it fell behind its send schedule (send delay
//! p99 ≥ [`CLIENT_LAG_P99_US`]) or its cores were busy (≥ [`CLIENT_BUSY_LIMIT`]), latency is
//! partly its own, and the verdict is `inconclusive` rather than `ready`, with the evidence.
//! A failing verdict stays `not_ready` when a criterion the client cannot distort failed
//! (connections, loss, errors).

pub use super::finding::{Status, Verdict};

use super::finding::{num, us};
use crate::report::model::Summary;

/// p99 send delay (µs) from which the client fell behind its own schedule: latency is measured
/// from the intended send time, so the client's lag is counted as the server's.
pub const CLIENT_LAG_P99_US: u64 = 5_000;

/// Share of the client cores' time busy under load from which the client is its own bottleneck.
pub const CLIENT_BUSY_LIMIT: f64 = 0.9;

/// Why the client was the bottleneck, each with its figures; empty when it kept up.
pub fn client_bottleneck(s: &Summary) -> Vec<String> {
    let c = &s.client;
    let d = &c.send_delay_us;
    let mut why = Vec::new();
    if d.count > 0 && d.p99 >= CLIENT_LAG_P99_US {
        why.push(format!(
            "the client fell behind its send schedule: send delay p50 {}, p99 {} (limit {}); latency \
             includes the client's own lag",
            us(d.p50 as f64),
            us(d.p99 as f64),
            us(CLIENT_LAG_P99_US as f64)
        ));
    }
    if let Some(b) = c.cpu_busy.filter(|b| *b >= CLIENT_BUSY_LIMIT) {
        why.push(format!(
            "the client cores were {}% busy under load (limit {}%)",
            num(b * 100.0),
            num(CLIENT_BUSY_LIMIT * 100.0)
        ));
    }
    if !why.is_empty() {
        why.push("add client cores (--cores), spread the load over more clients, or lower --rate".into());
    }
    why
}

/// A threshold metric the client's own lag can make fail: latencies, connect times, rates.
fn distorted_by_client(metric: &str) -> bool {
    let m = metric.split_whitespace().next().unwrap_or("");
    m.starts_with("latency.")
        || m.starts_with("connect.")
        || matches!(m, "p50" | "p90" | "p95" | "p99" | "p99.9" | "max" | "mean")
        || matches!(m, "messages.rate" | "messages.sent" | "messages.received")
}

/// Errors over connect attempts plus messages sent (attempts taken as established + failed,
/// which counts retried attempts once: the rate errs high).
pub const MAX_ERROR_RATE: f64 = 0.001;
pub const MAX_P99_US: u64 = 200_000;

pub fn verdict(s: &Summary) -> Verdict {
    let (mut v, only_lag) = match s.thresholds_passed {
        Some(passed) => by_thresholds(s, passed),
        None => by_defaults(s),
    };
    v.client_bottleneck = client_bottleneck(s);
    if !v.client_bottleneck.is_empty() && (v.ready || only_lag) {
        v.ready = false;
        v.status = Status::Inconclusive;
    }
    v
}

/// The verdict from the criteria alone, before the client's health is weighed.
fn judged(ready: bool, basis: &'static str, reasons: Vec<String>) -> Verdict {
    Verdict {
        ready,
        status: if ready { Status::Ready } else { Status::NotReady },
        basis: basis.into(),
        reasons,
        client_bottleneck: Vec::new(),
    }
}

/// The scenario's thresholds decide (`passed`: their overall result). Also whether every failed
/// threshold is one the client's lag distorts.
fn by_thresholds(s: &Summary, passed: bool) -> (Verdict, bool) {
    let mut reasons = Vec::new();
    let failed: Vec<_> = s.thresholds.iter().filter(|t| !t.pass).collect();
    if passed || failed.is_empty() {
        reasons.push(format!("all {} thresholds passed", s.thresholds.len()));
    }
    for t in &failed {
        reasons.push(format!(
            "failed: {} (measured {}, limit {})",
            t.expr, t.measured_text, t.limit_text
        ));
    }
    if s.partial {
        reasons.push("note: the run was partial".into());
    }
    let only_lag = failed
        .iter()
        .all(|t| distorted_by_client(if t.metric.is_empty() { &t.expr } else { &t.metric }));
    (judged(passed, "thresholds", reasons), only_lag)
}

/// One default criterion: whether it passed, whether the client's own lag can make it fail, and
/// its reason with the measured value.
struct Criterion {
    pass: bool,
    lag: bool,
    text: String,
}

/// The default criteria decide. Also whether every failed criterion is one the client's lag
/// distorts (latency).
fn by_defaults(s: &Summary) -> (Verdict, bool) {
    let mut criteria = vec![connections(s), loss(s), error_rate(s), latency(s)];
    if s.partial {
        criteria.push(Criterion {
            pass: false,
            lag: false,
            text: "the run was partial: the figures cover only what was gathered".into(),
        });
    }
    let ok = criteria.iter().all(|c| c.pass);
    let only_lag = criteria.iter().all(|c| c.pass || c.lag);
    let reasons = criteria.into_iter().map(|c| c.text).collect();
    (judged(ok, "defaults", reasons), only_lag)
}

/// Every connection established.
fn connections(s: &Summary) -> Criterion {
    let c = &s.connections;
    let all = c.established >= c.target && c.failed == 0 && c.not_attempted == 0;
    Criterion {
        pass: all,
        lag: false,
        text: if all {
            format!("all {} connections established", c.target)
        } else {
            format!(
                "{} of {} connections established ({} failed, {} not attempted)",
                c.established, c.target, c.failed, c.not_attempted
            )
        },
    }
}

/// No message lost.
fn loss(s: &Summary) -> Criterion {
    let m = &s.messages;
    Criterion {
        pass: m.lost == 0,
        lag: false,
        text: if m.lost == 0 {
            format!("no message lost ({} sent)", m.sent)
        } else {
            format!("{} of {} messages lost", m.lost, m.sent)
        },
    }
}

/// Errors under [`MAX_ERROR_RATE`] of the connects and messages.
fn error_rate(s: &Summary) -> Criterion {
    let (c, m) = (&s.connections, &s.messages);
    let attempts = c.established + c.failed + m.sent;
    let errors = s.error_total();
    let rate = if attempts == 0 {
        0.0
    } else {
        crate::config::scenario::thresholds::error_rate(errors, c.established, c.failed, m.sent)
    };
    let pct = |x: f64| format!("{}%", num_pct(x * 100.0));
    Criterion {
        pass: rate < MAX_ERROR_RATE && (attempts > 0 || errors == 0),
        lag: false,
        text: format!(
            "error rate {} ({errors} errors over {attempts} connects and messages), limit {}",
            pct(rate),
            pct(MAX_ERROR_RATE)
        ),
    }
}

/// p99 latency under [`MAX_P99_US`]; the only default criterion the client's lag can fail.
fn latency(s: &Summary) -> Criterion {
    let l = &s.latency_us.corrected;
    let sent = s.messages.sent;
    if l.count > 0 {
        Criterion {
            pass: l.p99 < MAX_P99_US,
            lag: true,
            text: format!("p99 latency {} (limit {})", us(l.p99 as f64), us(MAX_P99_US as f64)),
        }
    } else if sent > 0 {
        Criterion {
            pass: false,
            lag: false,
            text: format!("{sent} messages sent and no latency measured"),
        }
    } else {
        Criterion {
            pass: true,
            lag: false,
            text: "no messages were sent: latency not judged".into(),
        }
    }
}

fn num_pct(x: f64) -> String {
    if x == 0.0 || x >= 1.0 {
        num(x)
    } else {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::scenario::thresholds::{self, Unit};
    use crate::report::model::{ClientSection, Percentiles};

    fn good() -> Summary {
        let mut s = Summary::default();
        (s.connections.target, s.connections.established) = (300, 300);
        (s.messages.sent, s.messages.received) = (600, 600);
        s.latency_us.corrected = Percentiles {
            count: 600,
            p50: 400,
            p99: 3835,
            ..Percentiles::default()
        };
        s
    }

    /// A threshold's outcome as the summary records it.
    fn threshold(expr: &str, metric: &str, pass: bool) -> thresholds::Verdict {
        thresholds::Verdict {
            expr: expr.into(),
            metric: metric.into(),
            measured: None,
            limit: 0.0,
            unit: Unit::Count,
            pass,
            measured_text: String::new(),
            limit_text: String::new(),
        }
    }

    #[test]
    fn defaults_pass_with_reasons() {
        let v = verdict(&good());
        assert!(v.ready, "{v:?}");
        assert_eq!(v.basis, "defaults");
        assert_eq!(v.reasons.len(), 4);
        assert!(v.reasons[0].contains("all 300 connections"));
        assert!(v.reasons[3].contains("3.8 ms"), "{:?}", v.reasons);
    }

    #[test]
    fn each_default_criterion_fails_alone() {
        let mut a = good();
        a.connections.established = 299;
        a.connections.failed = 1;
        let mut b = good();
        b.messages.lost = 1;
        let mut c = good();
        c.errors.insert("reset".into(), 2);
        let mut d = good();
        d.latency_us.corrected.p99 = 250_000;
        let mut e = good();
        e.partial = true;
        for (i, x) in [a, b, c, d, e].iter().enumerate() {
            let v = verdict(x);
            assert!(!v.ready, "case {i}: {v:?}");
        }
        // One error in 900 attempts is 0.11%: over the limit; none in 900 passes.
        let mut f = good();
        f.errors.insert("reset".into(), 0);
        assert!(verdict(&f).ready);
    }

    /// The client fell behind its schedule by `p99_us` at p99, its cores `busy` busy.
    fn client(p99_us: u64, busy: f64) -> ClientSection {
        ClientSection {
            cpu_busy: Some(busy),
            send_delay_us: Percentiles {
                count: 600,
                p50: p99_us / 4,
                p99: p99_us,
                ..Percentiles::default()
            },
            ..ClientSection::default()
        }
    }

    #[test]
    fn a_lagging_client_makes_a_passing_verdict_inconclusive() {
        // Issue 16: "Ready" in green while the client fell behind its schedule (p99 5 ms).
        for (why, c, needle) in [
            (
                "send delay",
                client(5_000, 0.3),
                "send delay p50 1.2 ms, p99 5 ms (limit 5 ms)",
            ),
            (
                "CPU",
                client(200, 0.95),
                "the client cores were 95% busy under load (limit 90%)",
            ),
        ] {
            let mut i = good();
            i.client = c;
            let v = verdict(&i);
            assert_eq!((v.status, v.ready), (Status::Inconclusive, false), "{why}: {v:?}");
            assert!(v.client_bottleneck[0].contains(needle), "{why}: {v:?}");
            assert!(
                v.client_bottleneck.last().unwrap().contains("--cores"),
                "the fix: {v:?}"
            );
            assert_eq!(v.reasons, verdict(&good()).reasons, "the criteria are still listed");
        }
    }

    #[test]
    fn a_healthy_client_leaves_the_verdict_unchanged() {
        let clients: [fn() -> ClientSection; 3] = [
            || client(4_999, 0.89),
            ClientSection::default,
            // Closed loop: no schedule, no send delay measured.
            || ClientSection {
                send_delay_us: Percentiles {
                    p99: 50_000,
                    ..Percentiles::default()
                },
                ..ClientSection::default()
            },
        ];
        for c in clients {
            let mut i = good();
            i.client = c();
            let v = verdict(&i);
            assert_eq!((v.status, v.ready), (Status::Ready, true), "{:?}: {v:?}", i.client);
            assert!(v.client_bottleneck.is_empty(), "{v:?}");
            let mut bad = i;
            bad.latency_us.corrected.p99 = 250_000;
            assert_eq!(verdict(&bad).status, Status::NotReady, "{:?}", bad.client);
        }
    }

    #[test]
    fn a_lagging_client_cannot_explain_lost_connections_or_messages() {
        let lagging = |mut i: Summary| {
            i.client = client(40_000, 0.5);
            verdict(&i)
        };
        // Only latency failed: the client's lag may be all of it.
        let mut slow = good();
        slow.latency_us.corrected.p99 = 250_000;
        assert_eq!(lagging(slow).status, Status::Inconclusive);
        // A lost message or a refused connection is the server's, lag or not.
        let mut lost = good();
        lost.latency_us.corrected.p99 = 250_000;
        lost.messages.lost = 3;
        let mut refused = good();
        refused.connections.established = 290;
        refused.connections.failed = 10;
        for i in [lost, refused] {
            let v = lagging(i);
            assert_eq!(v.status, Status::NotReady, "{v:?}");
            assert!(!v.client_bottleneck.is_empty(), "the lag is still reported: {v:?}");
        }
        // The same with thresholds: a latency threshold may be the client's; a loss one is not.
        for (t, want) in [
            (
                threshold("latency.p99 < 1ms", "latency.p99", false),
                Status::Inconclusive,
            ),
            (threshold("p99 < 1ms", "", false), Status::Inconclusive),
            (
                threshold("messages.rate > 1000", "messages.rate", false),
                Status::Inconclusive,
            ),
            (
                threshold("messages.lost == 0", "messages.lost", false),
                Status::NotReady,
            ),
        ] {
            let mut i = good();
            i.thresholds_passed = Some(false);
            i.thresholds = vec![t.clone()];
            assert_eq!(lagging(i).status, want, "{t:?}");
        }
    }

    #[test]
    fn thresholds_decide_when_present() {
        let mut i = good();
        i.thresholds_passed = Some(false);
        i.thresholds = vec![
            thresholds::Verdict {
                measured_text: "3.8 ms".into(),
                limit_text: "1 ms".into(),
                ..threshold("latency.p99 < 1ms", "latency.p99", false)
            },
            threshold("messages.lost == 0", "", true),
        ];
        let v = verdict(&i);
        assert!(!v.ready);
        assert_eq!(v.basis, "thresholds");
        assert_eq!(
            v.reasons,
            vec!["failed: latency.p99 < 1ms (measured 3.8 ms, limit 1 ms)"]
        );
        i.thresholds_passed = Some(true);
        i.thresholds[0].pass = true;
        let v = verdict(&i);
        assert!(v.ready);
        assert_eq!(v.reasons, vec!["all 2 thresholds passed"]);
    }
}
