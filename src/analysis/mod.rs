//! Analysis over the gathered figures: pure functions, unit-tested with synthetic data (fits,
//! projections, findings).
//!
//! Failure analysis (issue 6) reads a run's typed [`Summary`] (its time line and totals), so a
//! saved run, read back with `Summary::load`, can be analysed again. [`analyze`] calls the
//! stages in turn and returns the production-readiness verdict ([`readiness`]), the findings
//! and the failure taxonomy ([`taxonomy`]). Findings come from:
//! - [`bursts`]: clusters of errors well above the run's baseline, and cascades (one burst
//!   followed by others within [`bursts::CASCADE_WINDOW_S`]);
//! - [`knee`]: the load at which latency or errors start to climb;
//! - [`hints`] and [`hints_server`]: root-cause hints, each with its evidence and a confidence;
//! - [`imbalance`]: failures concentrated on one client core (`kind: "imbalance"`), from the
//!   summary's per-core figures (`cores`). With 2 or more cores and 20 or more failures
//!   (errors + connect_failed + dropped + lost), a core is reported when it holds more than 2 ×
//!   its fair share of the failures (fair share by its established + connect_failed over all
//!   cores') and at least 75% of them. Failures spread roughly in proportion over the cores
//!   give no finding; summaries without `cores` give none either.
//!
//! Imports point one way: this file calls the stages; the stages share the leaf [`finding`] (the
//! result types and how figures are written) and [`figures`] (what they derive from the
//! Summary), never this file. The result types live in `finding` so that the Summary can hold
//! an [`Analysis`] without importing the stages that read it.

pub mod bursts;
pub mod figures;
pub mod finding;
pub mod fit;
pub mod growth;
pub mod hints;
pub mod hints_server;
pub mod imbalance;
pub mod knee;
pub mod readiness;
pub mod taxonomy;

pub use finding::Analysis;

use crate::report::model::Summary;

/// Analyse one run.
pub fn analyze(s: &Summary) -> Analysis {
    // Intervals that follow an injected fault: their errors are the fault's effect, and the
    // rules that look for the server's own failures leave them out.
    let faults = hints::fault_effects(s);
    let own = hints::without_fault_effects(s, &faults.explained);

    let mut findings = Vec::new();
    for c in bursts::clusters(s) {
        let mut f = bursts::cluster_finding(s, &c);
        if let Some(note) = faults.note_for(c.start_s, c.end_s) {
            f.detail.push(' ');
            f.detail.push_str(&note);
        }
        findings.push(f);
    }
    findings.extend(bursts::cascades(s));
    let latency_knee = knee::latency_knee(&own.timeline);
    findings.extend(latency_knee.iter().map(|k| k.finding(s)));
    findings.extend(knee::error_knee(&own.timeline));
    findings.extend(faults.finding.clone());
    findings.extend(hints::hints(&own, latency_knee.as_ref()));
    findings.extend(imbalance::imbalance(s));
    Analysis {
        verdict: readiness::verdict(s),
        findings,
        taxonomy: taxonomy::taxonomy(s),
    }
}

#[cfg(test)]
mod tests {
    use super::finding::Kind;
    use super::*;
    use serde_json::{json, Value};

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

    /// [`analyze`] a summary's JSON; the analysis as JSON.
    fn analyze_json(v: Value) -> Value {
        serde_json::to_value(analyze(&Summary::from_value(v).unwrap())).unwrap()
    }

    #[test]
    fn a_clean_run_is_ready_with_no_findings() {
        let a = analyze_json(clean_summary());
        assert_eq!(a["verdict"]["ready"], json!(true), "{a:#}");
        assert_eq!(a["verdict"]["basis"], json!("defaults"));
        assert_eq!(a["verdict"]["reasons"].as_array().unwrap().len(), 4);
        assert_eq!(a["findings"], json!([]));
        assert_eq!(a["taxonomy"], json!([]));
    }

    #[test]
    fn empty_or_sparse_summaries_do_not_panic() {
        let a = serde_json::to_value(analyze(&Summary::default())).unwrap();
        assert!(a["verdict"]["ready"].is_boolean());
        for v in [
            json!({}),
            json!({"timeline": [{}], "errors": {"x": 1}}),
            json!({"timeline": [{"t_s": 1.0, "errors_new": {"reset": 9}, "dropped": 3}, {"t_s": 0.5}],
                   "faults": {"events": [{"t_s": 9.0, "kind": "drop"}]}, "cores": [{}, {"errors": 40}],
                   "server": {}, "upgrade_status": {"x": 2}, "close_codes": {"y": 1}}),
        ] {
            let a = analyze_json(v);
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
        let a = analyze(&Summary::from_value(v).unwrap());
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
        assert_eq!(
            (a.taxonomy[0].phase.as_str(), a.taxonomy[0].class.as_str()),
            ("reset", "reset")
        );
        assert!(a.taxonomy[0].meaning.starts_with("ECONNRESET"));
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["findings"][0]["kind"], json!("cluster"));
        assert_eq!(j["findings"][0]["confidence"], json!("high"));
        assert_eq!(j["findings"][2]["end_s"], json!(6.0));
    }
}
