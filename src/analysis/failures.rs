//! Failure analysis (issue 6): pure functions over a run's time line and totals,
//! read from `summary.json` so a saved run can be analysed again.
//!
//! [`analyze`] returns the production-readiness verdict ([`super::readiness`]),
//! findings and the failure taxonomy ([`super::taxonomy`]). Findings come from:
//! - [`super::bursts`]: clusters of errors well above the run's baseline, and cascades
//!   (one burst followed by others within [`super::bursts::CASCADE_WINDOW_S`]);
//! - [`super::knee`]: the load at which latency or errors start to climb;
//! - [`super::hints`]: root-cause hints, each with its evidence and a confidence;
//! - [`super::imbalance`]: failures concentrated on one client core (`kind: "imbalance"`), from
//!   the summary's per-core figures (`cores`). With 2 or more cores and 20 or more failures
//!   (errors + connect_failed + dropped + lost), a core is reported when it holds more than 2 ×
//!   its fair share of the failures (fair share by its established + connect_failed over all
//!   cores') and at least 75% of them. Failures spread roughly in proportion over the cores
//!   give no finding; summaries without `cores` give none either.

use serde::Serialize;
use serde_json::Value;

use super::input::Input;
use super::taxonomy::TaxonomyRow;
use super::{bursts, hints, imbalance, knee, readiness, taxonomy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cluster,
    Cascade,
    Knee,
    Hint,
    /// Failures concentrated on one client core ([`super::imbalance`]).
    Imbalance,
}

/// How far the evidence goes: `high` when the figures say it directly (an errno, a status),
/// `medium` when a rule infers it from timing and load, `low` when it is one possible reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub title: String,
    pub detail: String,
    pub evidence: Vec<String>,
    pub confidence: Confidence,
    /// On the time line's clock; `None` when the finding is not time-bound.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

/// The verdict in one word: `ready`, `not_ready`, or `inconclusive` (the client was the
/// bottleneck, so the figures describe it as much as the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ready,
    NotReady,
    Inconclusive,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `status == ready`: false when inconclusive too.
    pub ready: bool,
    pub status: Status,
    /// `thresholds` (the scenario's) or `defaults`.
    pub basis: &'static str,
    pub reasons: Vec<String>,
    /// The evidence that the client itself was the bottleneck (its send delay, its CPU); empty
    /// when it kept up. Non-empty makes a passing verdict `inconclusive`, and a failing one too
    /// when every failed criterion is one the client's lag distorts (latency, rates).
    pub client_bottleneck: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub taxonomy: Vec<TaxonomyRow>,
}

/// Analyse one run.
pub fn analyze(input: &Input) -> Analysis {
    // Intervals that follow an injected fault: their errors are the fault's effect, and the
    // rules that look for the server's own failures leave them out.
    let faults = hints::fault_effects(input);
    let own = hints::without_fault_effects(input, &faults.explained);

    let mut findings = Vec::new();
    for c in bursts::clusters(input) {
        let mut f = bursts::cluster_finding(input, &c);
        if let Some(note) = faults.note_for(c.start_s, c.end_s) {
            f.detail.push(' ');
            f.detail.push_str(&note);
        }
        findings.push(f);
    }
    findings.extend(bursts::cascades(input));
    let latency_knee = knee::latency_knee(&own);
    findings.extend(latency_knee.iter().map(|k| k.finding(&own)));
    findings.extend(knee::error_knee(&own));
    findings.extend(faults.finding.clone());
    findings.extend(hints::hints(&own, latency_knee.as_ref()));
    findings.extend(imbalance::imbalance(input));
    Analysis {
        verdict: readiness::verdict(input),
        findings,
        taxonomy: taxonomy::taxonomy(input),
    }
}

/// [`analyze`] a `summary.json` value; the result as JSON.
pub fn analyze_json(v: &Value) -> Value {
    serde_json::to_value(analyze(&Input::from_summary(v))).unwrap_or(Value::Null)
}

/// `1234.5` → `1,234.5`-free plain text: integers without decimals, others with one.
pub(crate) fn num(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

/// Microseconds for people.
pub(crate) fn us(x: f64) -> String {
    if x >= 1000.0 {
        format!("{} ms", num(x / 1000.0))
    } else {
        format!("{} µs", num(x))
    }
}

/// Seconds on the time line.
pub(crate) fn secs(t: f64) -> String {
    format!("{t:.1} s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A trimmed real summary (300 connections against the built-in server, no errors).
    fn clean_summary() -> Value {
        json!({
            "schema": "wsload.summary.v1", "target": "ws://127.0.0.1:33579/", "builtin_server": true,
            "partial": false, "duration_s": 2.015,
            "scenario": {"connections": 300, "ramp": {"kind": "burst"}, "source_ips": [], "thresholds": []},
            "run": {"interval_s": 1.0}, "traffic_start_s": 0.068,
            "connections": {"target": 300, "established": 300, "failed": 0, "not_attempted": 0,
                            "peak_open": 300, "dropped": 0},
            "messages": {"sent": 600, "received": 600, "lost": 0, "lost_by_drop": 0},
            "latency_us": {"corrected": {"count": 600, "p50": 381, "p99": 3835}},
            "recovery": {"policy": "off", "drops": 0, "reconnected": 0},
            "faults": {"injected": {}, "ended_connections": 0, "events": []},
            "thresholds": [], "thresholds_passed": null,
            "errors": {"closed_by_server": 0, "connect_refused": 0, "reset": 0, "emfile": 0},
            "upgrade_status": {}, "close_codes": {}, "first_errors": [],
            "client": {"cpu_busy": 0.119, "warnings": []},
            "server": {"pid": 1, "peak_threads": 3, "cpu_busy": 0.06,
                       "memory_per_connection": {"bytes_per_connection": 1283.0, "r2": null, "points": 2},
                       "after": {"accepts": true}, "findings": []},
            "timeline": [
                {"t_s": 0.986, "open": 300, "connects_per_s": 304.3, "sent_per_s": 280.0, "received_per_s": 280.0,
                 "dropped": 0, "errors": 0, "errors_new": {}, "faults_new": {},
                 "server": {"cpu_s": 0.06, "rss_bytes": 5136384, "fds": 310, "threads": 3},
                 "p50_us": 407.3, "p99_us": 4300.8},
                {"t_s": 1.986, "open": 300, "connects_per_s": 0.0, "sent_per_s": 300.0, "received_per_s": 300.0,
                 "dropped": 0, "errors": 0, "errors_new": {}, "faults_new": {},
                 "server": {"cpu_s": 0.12, "rss_bytes": 5136384, "fds": 310, "threads": 3},
                 "p50_us": 366.6, "p99_us": 3457.0},
                {"t_s": 2.986, "open": 0, "connects_per_s": 0.0, "sent_per_s": 0.0, "received_per_s": 20.0,
                 "dropped": 0, "errors": 0, "errors_new": {}, "faults_new": {}, "p50_us": 300.0, "p99_us": 900.0}
            ]
        })
    }

    #[test]
    fn a_clean_run_is_ready_with_no_findings() {
        let a = analyze_json(&clean_summary());
        assert_eq!(a["verdict"]["ready"], json!(true), "{a:#}");
        assert_eq!(a["verdict"]["basis"], json!("defaults"));
        assert_eq!(a["verdict"]["reasons"].as_array().unwrap().len(), 4);
        assert_eq!(a["findings"], json!([]));
        assert_eq!(a["taxonomy"], json!([]));
    }

    #[test]
    fn empty_or_foreign_json_does_not_panic() {
        for v in [json!(null), json!({}), json!({"timeline": [{}], "errors": {"x": 1}})] {
            let a = analyze_json(&v);
            assert!(a["verdict"]["ready"].is_boolean());
        }
    }

    /// The shape a server that resets every connection past 150 gives (300 wanted, 100/s).
    #[test]
    fn a_connection_cap_gives_cluster_class_knee_and_hint() {
        let mut v = clean_summary();
        v["scenario"]["ramp"] = json!({"kind": "linear", "per_s": 100.0});
        v["connections"] = json!({"target": 300, "established": 150, "failed": 150, "peak_open": 150});
        v["errors"] = json!({"reset": 150, "connect_refused": 0});
        v["first_errors"] = json!([{"kind": "reset", "first": "Connection reset by peer (os error 104)"}]);
        let pt = |t: f64, open: u64, conn: f64, reset: u64| {
            json!({"t_s": t, "open": open, "connects_per_s": conn, "sent_per_s": 0.0, "received_per_s": 0.0,
                   "errors_new": if reset > 0 { json!({"reset": reset}) } else { json!({}) }})
        };
        v["timeline"] = json!([
            pt(1.0, 100, 100.0, 0),
            pt(2.0, 150, 50.0, 50),
            pt(3.0, 150, 0.0, 100),
            pt(4.0, 150, 0.0, 0),
            pt(5.0, 150, 0.0, 0),
            pt(6.0, 150, 0.0, 0)
        ]);
        let a = analyze(&Input::from_summary(&v));
        assert!(!a.verdict.ready);
        assert!(a.verdict.reasons[0].contains("150 of 300"), "{:?}", a.verdict.reasons);
        let kinds: Vec<Kind> = a.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![Kind::Cluster, Kind::Knee, Kind::Hint], "{:#?}", a.findings);
        assert_eq!(
            a.findings[0].title,
            "Burst of 150 errors (mostly reset) from 1.0 s to 3.0 s"
        );
        assert!(a.findings[2].title.contains("caps connections near 150"));
        assert_eq!(a.taxonomy.len(), 1);
        assert_eq!((a.taxonomy[0].phase, a.taxonomy[0].class.as_str()), ("reset", "reset"));
        assert!(a.taxonomy[0].meaning.starts_with("ECONNRESET"));
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["findings"][0]["kind"], json!("cluster"));
        assert_eq!(j["findings"][0]["confidence"], json!("high"));
        assert_eq!(j["findings"][2]["end_s"], json!(6.0));
    }
}
