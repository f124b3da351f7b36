//! The pure part of `wsload capacity`: the SLO, the verdict on one step, and the search over
//! steps. Nothing here touches the network; [`search`] drives a `step(n)` closure, so the
//! tests run it against synthetic servers.

use serde::Serialize;

use crate::config::scenario::thresholds::{self, Threshold};
use crate::sys::thousands;

/// The SLO used when `--slo` is not given.
pub const DEFAULT_SLO: &str = "p99<200ms,errors<0.1%,connect>=100%";

/// Client CPU busy share (over its cores) from which a step counts as limited by the client.
pub const CLIENT_BUSY_LIMIT: f64 = crate::analysis::readiness::CLIENT_BUSY_LIMIT;

/// The full metric name of a short SLO alias (`p99` → `latency.p99`); other names unchanged.
fn alias(metric: &str) -> String {
    match metric {
        "p50" | "p90" | "p95" | "p99" | "p99.9" | "max" | "mean" => format!("latency.{metric}"),
        "errors" => "errors.rate".into(),
        "lost" => "messages.loss_rate".into(),
        "connect" => "connections.success_rate".into(),
        m => m.into(),
    }
}

/// Parse `--slo`: comma-separated threshold clauses, with the short aliases expanded. An error
/// names the clause.
pub fn parse_slo(text: &str) -> Result<Vec<Threshold>, String> {
    let mut out = Vec::new();
    for clause in text.split(',') {
        let c = clause.trim();
        if c.is_empty() {
            return Err(format!(
                "--slo `{text}`: empty clause (write clauses such as `p99<50ms,errors<0.1%`)"
            ));
        }
        let at = c.find(['<', '>', '=', '!']).unwrap_or(c.len());
        let expr = format!("{}{}", alias(c[..at].trim()), &c[at..]);
        let t = thresholds::parse(&expr).map_err(|e| format!("--slo clause `{c}`: {e}"))?;
        out.push(t);
    }
    Ok(out)
}

/// Why a step did not meet the SLO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// `client-side limit`, `connection failures`, `errors`, `latency` or `slo` (another clause).
    pub kind: &'static str,
    /// The whole reason in words, starting with the kind.
    pub text: String,
}

impl Reason {
    fn new(kind: &'static str, detail: impl std::fmt::Display) -> Reason {
        Reason {
            kind,
            text: format!("{kind}: {detail}"),
        }
    }

    /// The figures beyond this step would be the client's, not the server's.
    pub fn is_client(&self) -> bool {
        self.kind == CLIENT
    }
}

const CLIENT: &str = "client-side limit";

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum StepVerdict {
    Pass,
    Fail {
        reason: Reason,
    },
    /// Ctrl-C during the step: its figures are not judged.
    Interrupted,
    /// The step could not start (limits, the built-in server, the address).
    Error {
        error: String,
    },
}

impl StepVerdict {
    pub fn passed(&self) -> bool {
        matches!(self, StepVerdict::Pass)
    }

    /// A word for the table.
    pub fn word(&self) -> String {
        match self {
            StepVerdict::Pass => "ok".into(),
            StepVerdict::Fail { reason } => format!("FAIL ({})", reason.kind),
            StepVerdict::Interrupted => "interrupted".into(),
            StepVerdict::Error { .. } => "ERROR".into(),
        }
    }
}

/// What a step's verdict is decided from (read from its summary).
pub struct Figures<'a> {
    /// Connections wanted.
    pub target: u64,
    pub established: u64,
    /// Error counts by kind (`connect_refused`, `emfile`, ...).
    pub errors: &'a [(&'a str, u64)],
    /// The summary's `client.warnings` (the client fell behind its schedule).
    pub client_warnings: &'a [String],
    pub client_cpu_busy: Option<f64>,
    /// A metric's value in canonical units, as `report::verdict::lookup`.
    pub lookup: &'a dyn Fn(&str) -> Option<f64>,
}

/// What an error kind did to connections, in words.
fn failure_word(kind: &str) -> &'static str {
    match kind {
        "connect_refused" => "refused",
        "connect_timeout" => "timed out",
        "reset" => "reset",
        "upgrade_rejected" => "rejected at the upgrade",
        _ => "failed",
    }
}

/// Judge one step: the SLO's verdicts, and the step's verdict with the first reason in this
/// order: a client-side limit, connection failures, errors, latency, another clause. A step
/// that meets the SLO passes, even if the client lagged (its lag only adds to the latency). The
/// client's lag behind its schedule is the reason for failed errors and latency clauses, not
/// for connection failures; running out of descriptors or ports or CPU is the reason for any.
pub fn judge(f: &Figures, slo: &[Threshold]) -> (StepVerdict, Vec<thresholds::Verdict>) {
    let verdicts = thresholds::evaluate(slo, f.lookup);
    let count = |k: &str| f.errors.iter().find(|(n, _)| *n == k).map_or(0, |(_, c)| *c);
    let dominant = f
        .errors
        .iter()
        .filter(|(_, c)| *c > 0)
        .max_by_key(|(_, c)| *c)
        .map(|(k, c)| (*k, *c));
    let fail = |r: Reason| (StepVerdict::Fail { reason: r }, verdicts.clone());

    for (kind, what) in [
        ("emfile", "the client ran out of file descriptors (EMFILE)"),
        (
            "eaddrnotavail",
            "the client ran out of ephemeral ports (EADDRNOTAVAIL; add --source-ip)",
        ),
    ] {
        let n = count(kind);
        if n > 0 {
            return fail(Reason::new(CLIENT, format!("{what}: {} errors ({kind})", thousands(n))));
        }
    }
    if let Some(b) = f.client_cpu_busy.filter(|b| *b >= CLIENT_BUSY_LIMIT) {
        return fail(Reason::new(
            CLIENT,
            format!(
                "the client cores were {:.0}% busy (add client cores with --cores)",
                b * 100.0
            ),
        ));
    }
    // Falling behind the send schedule inflates latency (measured from the intended send time)
    // and may explain errors, but not connections refused, reset or timed out after seconds.
    let lag = f.client_warnings.first().map(|w| w.split(':').next().unwrap_or(w));
    let failed_clause = |prefix: &str| verdicts.iter().find(|v| !v.pass && v.metric.starts_with(prefix));
    if f.established < f.target || failed_clause("connections.").is_some() {
        let missing = f.target.saturating_sub(f.established);
        let detail = match dominant {
            Some((k, _)) if missing > 0 => format!(
                "{} of {} {} ({k})",
                thousands(missing),
                thousands(f.target),
                failure_word(k)
            ),
            _ if missing > 0 => format!("{} of {} not established", thousands(missing), thousands(f.target)),
            _ => {
                let v = failed_clause("connections.").expect("checked above");
                clause_text(v)
            }
        };
        return fail(Reason::new("connection failures", detail));
    }
    if let (Some(lag), Some(_)) = (lag, verdicts.iter().find(|v| !v.pass)) {
        return fail(Reason::new(CLIENT, lag));
    }
    if let Some(v) = failed_clause("errors.") {
        let kind = dominant.map_or(String::new(), |(k, c)| format!(", mostly {k} ({})", thousands(c)));
        return fail(Reason::new("errors", format!("{}{kind}", clause_text(v))));
    }
    if let Some(v) = failed_clause("latency.") {
        return fail(Reason::new("latency", clause_text(v)));
    }
    if let Some(v) = verdicts.iter().find(|v| !v.pass) {
        return fail(Reason::new("slo", clause_text(v)));
    }
    (StepVerdict::Pass, verdicts)
}

/// `p99 83 ms (SLO `latency.p99<50ms`)`
fn clause_text(v: &thresholds::Verdict) -> String {
    let name = v.metric.strip_prefix("latency.").unwrap_or(&v.metric);
    format!("{name} {} (SLO `{}`)", v.measured_text, v.expr)
}

/// How connections grow from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Growth {
    /// Multiply by this factor (> 1).
    Factor(f64),
    /// Add this many.
    Add(u64),
}

impl Growth {
    fn next(self, n: u64) -> u64 {
        let m = match self {
            Growth::Factor(f) => (n as f64 * f).ceil() as u64,
            Growth::Add(k) => n.saturating_add(k),
        };
        m.max(n + 1)
    }
}

/// The shape of the search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    pub start: u64,
    pub growth: Growth,
    pub max: u64,
    /// Bisection steps between the last good and the first bad step.
    pub refine: u32,
}

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ended {
    /// A step failed; the highest passing load is the server's limit (within the refinement).
    LimitFound,
    /// Every step up to the maximum passed.
    MaxReached,
    /// Even the first step failed.
    FirstStepFailed,
    /// The client could not generate the next step: the figure is the client's, not the server's.
    ClientLimit,
    Interrupted,
    /// The first step could not start.
    SetupError,
}

/// The search's result: the highest load that met the SLO and the step that failed next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub ended: Ended,
    /// The highest connections that met the SLO.
    pub highest_passing: Option<u64>,
    /// The lowest failing step above it, with its verdict.
    pub next_failed: Option<(u64, StepVerdict)>,
}

impl Outcome {
    /// Exit status: 0 a limit found or the maximum reached; 1 even the first step failed;
    /// 2 the first step could not start; 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        match self.ended {
            Ended::LimitFound | Ended::MaxReached => 0,
            Ended::ClientLimit if self.highest_passing.is_some() => 0,
            Ended::ClientLimit | Ended::FirstStepFailed => 1,
            Ended::SetupError => 2,
            Ended::Interrupted => 130,
        }
    }
}

/// Run the search: steps from `p.start` growing by `p.growth` up to `p.max` until one fails,
/// then `p.refine` bisections between the last good and the first bad step. `step(n)` runs
/// one step with n connections and returns its verdict; `step` is called in the search's
/// order, and the search stops at once on a client-side limit, an interruption or an error.
pub fn search(p: &Params, step: &mut dyn FnMut(u64) -> StepVerdict) -> Outcome {
    let mut good: Option<u64> = None;
    let mut n = p.start.min(p.max).max(1);
    let (mut bad, mut bad_verdict) = loop {
        let v = step(n);
        match v {
            StepVerdict::Pass => {
                good = Some(n);
                if n >= p.max {
                    return Outcome {
                        ended: Ended::MaxReached,
                        highest_passing: good,
                        next_failed: None,
                    };
                }
                n = p.growth.next(n).min(p.max);
            }
            other => {
                if let Some(end) = stop_on(&other, good) {
                    return Outcome {
                        ended: end,
                        highest_passing: good,
                        next_failed: Some((n, other)),
                    };
                }
                if good.is_none() {
                    return Outcome {
                        ended: Ended::FirstStepFailed,
                        highest_passing: None,
                        next_failed: Some((n, other)),
                    };
                }
                break (n, other);
            }
        }
    };
    let mut lo = good.expect("a step passed before the first failure");
    for _ in 0..p.refine {
        if bad - lo <= 1 {
            break;
        }
        let mid = lo + (bad - lo) / 2;
        let v = step(mid);
        match v {
            StepVerdict::Pass => lo = mid,
            other => {
                if let Some(end) = stop_on(&other, Some(lo)) {
                    return Outcome {
                        ended: end,
                        highest_passing: Some(lo),
                        next_failed: Some((mid, other)),
                    };
                }
                bad = mid;
                bad_verdict = other;
            }
        }
    }
    Outcome {
        ended: Ended::LimitFound,
        highest_passing: Some(lo),
        next_failed: Some((bad, bad_verdict)),
    }
}

/// A verdict that ends the search at once, and how.
fn stop_on(v: &StepVerdict, good: Option<u64>) -> Option<Ended> {
    match v {
        StepVerdict::Interrupted => Some(Ended::Interrupted),
        StepVerdict::Error { .. } if good.is_none() => Some(Ended::SetupError),
        // Past the first step, a step that cannot start hits one of this machine's limits.
        StepVerdict::Error { .. } => Some(Ended::ClientLimit),
        StepVerdict::Fail { reason } if reason.is_client() => Some(Ended::ClientLimit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(kind: &'static str) -> StepVerdict {
        StepVerdict::Fail {
            reason: Reason::new(kind, "x"),
        }
    }

    /// Run the search against a synthetic server; returns the outcome and the steps run.
    fn run(p: Params, server: impl Fn(u64) -> StepVerdict) -> (Outcome, Vec<u64>) {
        let mut seen = Vec::new();
        let o = search(&p, &mut |n| {
            seen.push(n);
            server(n)
        });
        (o, seen)
    }

    fn params(start: u64, growth: Growth, max: u64, refine: u32) -> Params {
        Params {
            start,
            growth,
            max,
            refine,
        }
    }

    fn limit_at(limit: u64) -> impl Fn(u64) -> StepVerdict {
        move |n| {
            if n <= limit {
                StepVerdict::Pass
            } else {
                fail("connection failures")
            }
        }
    }

    #[test]
    fn finds_a_server_limit_by_doubling_then_bisection() {
        let (o, seen) = run(params(100, Growth::Factor(2.0), 19_000, 3), limit_at(700));
        assert_eq!(seen, [100, 200, 400, 800, 600, 700, 750]);
        assert_eq!(o.ended, Ended::LimitFound);
        assert_eq!(o.highest_passing, Some(700));
        assert_eq!(o.next_failed, Some((750, fail("connection failures"))));
        assert_eq!(o.exit_code(), 0);
    }

    #[test]
    fn additive_steps_and_refinement_stop_when_adjacent() {
        let (o, seen) = run(params(10, Growth::Add(10), 100, 10), limit_at(25));
        assert_eq!(seen, [10, 20, 30, 25, 27, 26]);
        assert_eq!(o.highest_passing, Some(25));
        assert_eq!(o.next_failed.map(|(n, _)| n), Some(26));
    }

    #[test]
    fn a_client_limit_stops_the_search_with_the_client_reason() {
        let client = |n: u64| {
            if n >= 400 {
                StepVerdict::Fail {
                    reason: Reason::new(CLIENT, "the client ran out of file descriptors"),
                }
            } else {
                StepVerdict::Pass
            }
        };
        let (o, seen) = run(params(100, Growth::Factor(2.0), 19_000, 3), client);
        assert_eq!(seen, [100, 200, 400], "no refinement after a client-side limit");
        assert_eq!(o.ended, Ended::ClientLimit);
        assert_eq!(o.highest_passing, Some(200));
        let (n, v) = o.next_failed.clone().unwrap();
        assert_eq!(n, 400);
        assert!(matches!(v, StepVerdict::Fail { reason } if reason.is_client()));
        // A client-side limit during the refinement stops it too.
        let client_in_refine = |n: u64| match n {
            600 => StepVerdict::Fail {
                reason: Reason::new(CLIENT, "lag"),
            },
            n if n <= 700 => StepVerdict::Pass,
            _ => fail("latency"),
        };
        let (o, seen) = run(params(100, Growth::Factor(2.0), 19_000, 3), client_in_refine);
        assert_eq!(seen, [100, 200, 400, 800, 600]);
        assert_eq!((o.ended, o.highest_passing), (Ended::ClientLimit, Some(400)));
    }

    #[test]
    fn first_step_failing_exits_1() {
        let (o, seen) = run(params(100, Growth::Factor(2.0), 19_000, 3), limit_at(50));
        assert_eq!(seen, [100]);
        assert_eq!(o.ended, Ended::FirstStepFailed);
        assert_eq!(o.highest_passing, None);
        assert_eq!(o.exit_code(), 1);
    }

    #[test]
    fn reaching_the_maximum_with_every_step_passing() {
        let (o, seen) = run(params(100, Growth::Factor(2.0), 1_000, 3), limit_at(u64::MAX));
        assert_eq!(seen, [100, 200, 400, 800, 1_000], "the last step is the maximum itself");
        assert_eq!(
            (o.ended, o.highest_passing, o.exit_code()),
            (Ended::MaxReached, Some(1_000), 0)
        );
        assert!(o.next_failed.is_none());
        // A failure at the maximum is refined like any other.
        let (o, seen) = run(params(100, Growth::Factor(2.0), 1_000, 2), limit_at(900));
        assert_eq!(seen, [100, 200, 400, 800, 1_000, 900, 950]);
        assert_eq!(o.highest_passing, Some(900));
    }

    #[test]
    fn interruption_and_setup_errors() {
        let (o, _) = run(params(100, Growth::Factor(2.0), 1_000, 3), |n| {
            if n < 400 {
                StepVerdict::Pass
            } else {
                StepVerdict::Interrupted
            }
        });
        assert_eq!(
            (o.ended, o.highest_passing, o.exit_code()),
            (Ended::Interrupted, Some(200), 130)
        );
        let err = |_| StepVerdict::Error { error: "no".into() };
        let (o, _) = run(params(100, Growth::Factor(2.0), 1_000, 3), err);
        assert_eq!((o.ended, o.exit_code()), (Ended::SetupError, 2));
    }

    #[test]
    fn slo_aliases_and_errors() {
        let t = parse_slo(DEFAULT_SLO).unwrap();
        let names: Vec<&str> = t.iter().map(|t| t.metric.as_str()).collect();
        assert_eq!(names, ["latency.p99", "errors.rate", "connections.success_rate"]);
        assert_eq!(t[0].limit, 0.2);
        assert_eq!(t[1].limit, 0.001);
        let t = parse_slo("p99.9 < 1s, lost==0%, messages.rate>=100").unwrap();
        assert_eq!(t[0].metric, "latency.p99.9");
        assert_eq!(t[1].metric, "messages.loss_rate");
        assert_eq!(t[2].metric, "messages.rate");
        for (bad, needle) in [
            ("p99<50ms,erors<1%", "--slo clause `erors<1%`"),
            ("p99<<5", "--slo clause `p99<<5`"),
            ("p99<50ms,", "empty clause"),
            ("errors<5s", "--slo clause `errors<5s`"),
        ] {
            let e = parse_slo(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    fn figures<'a>(
        established: u64,
        errors: &'a [(&'a str, u64)],
        warnings: &'a [String],
        busy: Option<f64>,
        lookup: &'a dyn Fn(&str) -> Option<f64>,
    ) -> Figures<'a> {
        Figures {
            target: 1_400,
            established,
            errors,
            client_warnings: warnings,
            client_cpu_busy: busy,
            lookup,
        }
    }

    #[test]
    fn reasons_come_in_order_client_connections_errors_latency() {
        let slo = parse_slo("p99<50ms,errors<0.1%").unwrap();
        let slow = |m: &str| match m {
            "latency.p99" => Some(0.083),
            "errors.rate" => Some(0.0),
            _ => None,
        };
        let (v, _) = judge(&figures(1_400, &[], &[], Some(0.3), &slow), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert_eq!(reason.kind, "latency");
        assert!(reason.text.contains("p99 83 ms"), "{}", reason.text);

        let errs = [("connect_refused", 173u64), ("reset", 2)];
        let erroring = |m: &str| match m {
            "latency.p99" => Some(0.001),
            "errors.rate" => Some(0.1),
            _ => None,
        };
        let (v, _) = judge(&figures(1_227, &errs, &[], None, &erroring), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert_eq!(
            reason.text,
            "connection failures: 173 of 1,400 refused (connect_refused)"
        );

        let (v, _) = judge(&figures(1_400, &errs, &[], None, &erroring), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert_eq!(reason.kind, "errors");
        assert!(reason.text.contains("mostly connect_refused"), "{}", reason.text);

        let emfile = [("connect_refused", 173u64), ("emfile", 5)];
        let (v, _) = judge(&figures(1_222, &emfile, &[], None, &erroring), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert!(reason.is_client() && reason.text.contains("emfile"), "{}", reason.text);

        let lag = ["the client fell behind its send schedule (send delay p50 1 us, p99 9000 us): more".to_string()];
        let (v, _) = judge(&figures(1_400, &[], &lag, None, &slow), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert!(
            reason.is_client() && reason.text.contains("fell behind"),
            "{}",
            reason.text
        );

        let fine = |m: &str| match m {
            "latency.p99" => Some(0.001),
            "errors.rate" => Some(0.0),
            _ => None,
        };
        assert_eq!(
            judge(&figures(1_400, &[], &lag, None, &fine), &slo).0,
            StepVerdict::Pass
        );
        let timeouts = [("connect_timeout", 110u64)];
        let (v, _) = judge(&figures(1_290, &timeouts, &lag, None, &erroring), &slo);
        let StepVerdict::Fail { reason } = v else {
            panic!("{v:?}")
        };
        assert_eq!(
            reason.text,
            "connection failures: 110 of 1,400 timed out (connect_timeout)"
        );

        let (v, _) = judge(&figures(1_400, &[], &[], Some(0.95), &slow), &slo);
        assert!(matches!(v, StepVerdict::Fail { reason } if reason.is_client()));

        assert_eq!(
            judge(&figures(1_400, &[], &[], Some(0.2), &fine), &slo).0,
            StepVerdict::Pass
        );
    }
}
