//! Production readiness: the scenario's thresholds decide when it has any
//! (ready iff they all passed); otherwise the defaults: every connection
//! established, no message lost, error rate under [`MAX_ERROR_RATE`], p99 under
//! [`MAX_P99_US`]. The reasons list every criterion with its measured value.

use super::failures::{num, us, Verdict};
use super::input::Input;

/// Errors over connect attempts plus messages sent (attempts taken as established + failed,
/// which counts retried attempts once: the rate errs high).
pub const MAX_ERROR_RATE: f64 = 0.001;
pub const MAX_P99_US: u64 = 200_000;

pub fn verdict(input: &Input) -> Verdict {
    let mut reasons = Vec::new();
    let mut v = if let Some(passed) = input.thresholds_passed {
        let failed: Vec<_> = input.thresholds.iter().filter(|t| !t.pass).collect();
        if passed || failed.is_empty() {
            reasons.push(format!("all {} thresholds passed", input.thresholds.len()));
        }
        for t in failed {
            reasons.push(format!(
                "failed: {} (measured {}, limit {})",
                t.expr, t.measured_text, t.limit_text
            ));
        }
        Verdict {
            ready: passed,
            basis: "thresholds",
            reasons,
        }
    } else {
        let c = &input.connections;
        let m = &input.messages;
        let mut ok = true;
        let mut check = |pass: bool, text: String| {
            ok &= pass;
            reasons.push(text);
        };
        let all = c.established >= c.target && c.failed == 0 && c.not_attempted == 0;
        check(
            all,
            if all {
                format!("all {} connections established", c.target)
            } else {
                format!(
                    "{} of {} connections established ({} failed, {} not attempted)",
                    c.established, c.target, c.failed, c.not_attempted
                )
            },
        );
        check(
            m.lost == 0,
            if m.lost == 0 {
                format!("no message lost ({} sent)", m.sent)
            } else {
                format!("{} of {} messages lost", m.lost, m.sent)
            },
        );
        let attempts = c.established + c.failed + m.sent;
        let errors = input.error_total();
        let rate = if attempts == 0 {
            0.0
        } else {
            crate::scenario::thresholds::error_rate(errors, c.established, c.failed, m.sent)
        };
        let pct = |x: f64| format!("{}%", num_pct(x * 100.0));
        check(
            rate < MAX_ERROR_RATE && (attempts > 0 || errors == 0),
            format!(
                "error rate {} ({errors} errors over {attempts} connects and messages), limit {}",
                pct(rate),
                pct(MAX_ERROR_RATE)
            ),
        );
        let l = &input.latency;
        if l.count > 0 {
            check(
                l.p99 < MAX_P99_US,
                format!("p99 latency {} (limit {})", us(l.p99 as f64), us(MAX_P99_US as f64)),
            );
        } else if m.sent > 0 {
            check(false, format!("{} messages sent and no latency measured", m.sent));
        } else {
            check(true, "no messages were sent: latency not judged".into());
        }
        if input.partial {
            check(
                false,
                "the run was partial: the figures cover only what was gathered".into(),
            );
        }
        Verdict {
            ready: ok,
            basis: "defaults",
            reasons,
        }
    };
    if v.basis == "thresholds" && input.partial {
        v.reasons.push("note: the run was partial".into());
    }
    v
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
    use crate::analysis::input::{Connections, Latency, Messages, Threshold};

    fn good() -> Input {
        Input {
            connections: Connections {
                target: 300,
                established: 300,
                ..Default::default()
            },
            messages: Messages {
                sent: 600,
                received: 600,
                ..Default::default()
            },
            latency: Latency {
                count: 600,
                p50: 400,
                p99: 3835,
            },
            ..Input::default()
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
        d.latency.p99 = 250_000;
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

    #[test]
    fn thresholds_decide_when_present() {
        let mut i = good();
        i.thresholds_passed = Some(false);
        i.thresholds = vec![
            Threshold {
                expr: "latency.p99 < 1ms".into(),
                pass: false,
                measured_text: "3.8 ms".into(),
                limit_text: "1 ms".into(),
            },
            Threshold {
                expr: "messages.lost == 0".into(),
                pass: true,
                ..Default::default()
            },
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
