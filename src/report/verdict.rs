//! Thresholds against results: the value of every metric a threshold may name,
//! read from the summary (at the end) or from the live counters (during the
//! run, for `abort_on_fail`).

use super::model::{Percentiles, Summary};
use crate::config::scenario::thresholds::{self, Threshold, Verdict};
use crate::config::scenario::Scenario;
use crate::metrics::Counters;

/// Evaluate the scenario's thresholds against a finished run's summary.
pub fn evaluate(sc: &Scenario, s: &Summary) -> Vec<Verdict> {
    thresholds::evaluate(&parsed(sc), &|name| lookup(s, name))
}

/// The scenario's thresholds, parsed (the validator has already checked every one).
fn parsed(sc: &Scenario) -> Vec<Threshold> {
    sc.thresholds.iter().filter_map(|e| thresholds::parse(e).ok()).collect()
}

/// Seconds from a percentile table in microseconds (`None` when nothing was measured).
fn pct(p: &Percentiles, suffix: &str) -> Option<f64> {
    if p.count == 0 {
        return None;
    }
    let us = match suffix {
        "mean" => p.mean,
        _ => p.get(suffix)? as f64,
    };
    Some(us / 1e6)
}

/// The value of metric `name` in canonical units (seconds, fractions, counts, per second).
pub fn lookup(s: &Summary, name: &str) -> Option<f64> {
    let m = &s.messages;
    let c = &s.connections;
    let r = &s.recovery;
    let errors = s.error_total();
    let v = match name {
        "messages.sent" => m.sent as f64,
        "messages.received" => m.received as f64,
        "messages.lost" => m.lost as f64,
        "messages.lost_by_drop" => m.lost_by_drop as f64,
        "messages.corrupted" => m.corrupted as f64,
        "messages.duplicated" => m.duplicated as f64,
        "messages.out_of_order" => m.out_of_order as f64,
        "messages.loss_rate" => m.lost as f64 / (m.sent.max(1)) as f64,
        "messages.rate" => m.rate_per_s,
        "errors.count" => errors as f64,
        "errors.rate" => thresholds::error_rate(errors, c.established, c.failed, m.sent),
        "connections.established" => c.established as f64,
        "connections.failed" => c.failed as f64,
        "connections.dropped" => c.dropped as f64,
        "connections.peak_open" => c.peak_open as f64,
        "connections.success_rate" => c.established as f64 / (c.established + c.failed).max(1) as f64,
        "recovery.within" => {
            if r.drops == 0 {
                1.0
            } else {
                r.reconnected_within as f64 / r.drops as f64
            }
        }
        "outage.longest" => r.longest_outage_s,
        "availability" => r.availability?,
        "mtbf" => r.mtbf_s?,
        "mttr" => r.mttr_s?,
        "faults.injected" => s.faults.injected.values().sum::<u64>() as f64,
        _ => {
            let (group, suffix) = name.rsplit_once('.')?;
            return match group {
                "latency" => pct(&s.latency_us.corrected, suffix),
                "connect" => pct(&s.latency_us.connect, suffix),
                "recovery" => pct(&r.time_to_reconnect_us, suffix),
                _ => {
                    let ty = group.strip_prefix("latency.")?;
                    let t = s.message_types.iter().find(|t| t.name == ty)?;
                    pct(&t.latency_us, suffix)
                }
            };
        }
    };
    Some(v)
}

/// Metrics that can be read from the live counters, for deciding early.
fn counter(c: &Counters, name: &str) -> Option<f64> {
    Some(match name {
        "messages.lost" => c.lost as f64,
        "messages.lost_by_drop" => c.lost_by_drop as f64,
        "messages.corrupted" => c.corrupted as f64,
        "messages.duplicated" => c.duplicated as f64,
        "messages.out_of_order" => c.out_of_order as f64,
        "errors.count" => c.error_total() as f64,
        "connections.failed" => c.connect_failed as f64,
        "connections.dropped" => c.dropped as f64,
        _ => return None,
    })
}

/// A check on the live counters that names a reason to stop the run, if there is one.
pub type EarlyStop = Box<dyn Fn(&Counters) -> Option<String>>;

/// With `abort_on_fail`, a check the aggregator runs every interval: the first threshold that
/// has failed for good, in words.
pub fn early_stop(sc: &Scenario) -> EarlyStop {
    if !sc.abort_on_fail {
        return Box::new(|_| None);
    }
    let ts = parsed(sc);
    Box::new(move |c| {
        ts.iter().find_map(|t| {
            let v = counter(c, &t.metric)?;
            thresholds::decided_early(t, v).then(|| format!("threshold `{}` failed (measured {v})", t.expr))
        })
    })
}
