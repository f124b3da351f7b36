//! Tests of the root-cause hints on synthetic time lines: each rule's positive
//! case and its negative case (no hint without the evidence).

use super::*;
use crate::aggregate::timeline::ServerPoint;
use crate::config::scenario::Ramp;
use crate::report::model::{ErrorNote, FaultNote};
use crate::report::server::ServerSection;

/// Points 1 s apart: (open, connects/s, errors of one class).
fn line(class: &str, pts: &[(u64, f64, u64)]) -> Vec<TimelinePoint> {
    pts.iter()
        .enumerate()
        .map(|(i, &(open, conn, e))| TimelinePoint {
            t_s: (i + 1) as f64,
            open,
            connects_per_s: conn,
            errors_new: (e > 0).then(|| (class.to_string(), e)).into_iter().collect(),
            ..TimelinePoint::default()
        })
        .collect()
}

/// A summary with this time line, its error totals those of the time line.
fn with_totals(timeline: Vec<TimelinePoint>) -> Summary {
    let mut s = Summary {
        timeline,
        ..Summary::default()
    };
    for p in &s.timeline {
        for (k, n) in &p.errors_new {
            *s.errors.entry(k.clone()).or_default() += n;
        }
    }
    s
}

/// The hints of a run without injected faults.
fn hints_of(s: &Summary, knee: Option<&LatencyKnee>) -> Vec<Finding> {
    hints(&without_fault_effects(s, &[]), knee)
}

fn titles(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|x| x.title.as_str()).collect()
}

#[test]
fn client_resource_errors_give_high_confidence_hints() {
    let mut i = Summary::default();
    i.errors.insert("emfile".into(), 3);
    i.errors.insert("eaddrnotavail".into(), 7);
    i.first_errors.push(ErrorNote {
        kind: "emfile".into(),
        first: "Too many open files (os error 24)".into(),
        ..ErrorNote::default()
    });
    let h = hints_of(&i, None);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h[0].title.contains("file descriptors") && h[0].confidence == Confidence::High);
    assert!(h[0].evidence.iter().any(|e| e.contains("os error 24")));
    assert!(h[1].title.contains("ephemeral ports") && h[1].confidence == Confidence::High);
}

#[test]
fn no_hint_without_evidence() {
    let mut i = Summary::default();
    i.errors.insert("emfile".into(), 0);
    i.connections.established = 100;
    i.timeline = line("reset", &[(50, 50.0, 0), (100, 50.0, 0), (100, 0.0, 0)]);
    assert!(hints_of(&i, None).is_empty());
    let f = fault_effects(&i);
    assert!(f.finding.is_none() && f.explained.iter().all(|x| !x));
}

#[test]
fn refused_during_a_fast_ramp_with_a_local_server_is_the_backlog() {
    let mut i = with_totals(line(
        "connect_refused",
        &[(4000, 5000.0, 120), (5000, 1000.0, 30), (5000, 0.0, 0)],
    ));
    i.builtin_server = false;
    i.target = "ws://127.0.0.1:9000/".into();
    i.scenario.ramp = Ramp::Burst;
    i.connections.established = 5000;
    let h = hints_of(&i, None);
    assert_eq!(
        titles(&h),
        vec!["Accept backlog overflow during the fast ramp (likely)"]
    );
    assert_eq!(h[0].confidence, Confidence::Medium);
    assert!(h[0].detail.contains("somaxconn"));
    // A remote server: only low confidence.
    i.target = "ws://example.com/".into();
    assert_eq!(hints_of(&i, None)[0].confidence, Confidence::Low);
}

#[test]
fn refused_during_a_slow_ramp_or_with_nothing_listening_is_not_the_backlog() {
    let slow = || {
        let mut s = with_totals(line("connect_refused", &[(50, 50.0, 6), (100, 50.0, 6), (100, 0.0, 0)]));
        s.target = "ws://127.0.0.1:9000/".into();
        s.scenario.ramp = Ramp::Linear { per_s: 50.0 };
        s.connections.established = 100;
        s
    };
    assert!(hints_of(&slow(), None).iter().all(|h| !h.title.contains("backlog")));
    // Nothing established: nothing listens.
    let mut dead = slow();
    dead.connections.established = 0;
    dead.scenario.ramp = Ramp::Burst;
    let h = hints_of(&dead, None);
    assert_eq!(titles(&h), vec!["Nothing accepts connections at the target"]);
}

#[test]
fn errors_at_a_flat_connection_count_below_target_are_a_cap() {
    let cap = || {
        let mut s = with_totals(line(
            "reset",
            &[(100, 100.0, 0), (150, 100.0, 50), (150, 100.0, 100), (150, 0.0, 0)],
        ));
        s.scenario.connections = 300;
        s.connections.established = 150;
        s.connections.target = 300;
        s
    };
    let i = cap();
    let h = hints_of(&i, None);
    assert_eq!(
        titles(&h),
        vec!["The server (or something in front of it) likely caps connections near 150"]
    );
    assert_eq!(h[0].confidence, Confidence::Medium);
    assert_eq!(h[0].start_s, Some(1.0));
    // Negative: the count kept growing (errors at a growing count are no cap).
    let mut grow = cap();
    grow.timeline = line(
        "reset",
        &[(100, 100.0, 0), (150, 100.0, 5), (200, 100.0, 5), (250, 0.0, 0)],
    );
    assert!(hints_of(&grow, None).is_empty());
    // Negative: the target was reached.
    let mut reached = cap();
    reached.scenario.connections = 150;
    reached.connections.target = 150;
    assert!(hints_of(&reached, None).is_empty());
}

#[test]
fn upgrade_statuses_map_to_causes() {
    let mut i = Summary::default();
    i.upgrade_status.insert("403".into(), 10);
    i.upgrade_status.insert("503".into(), 4);
    let h = hints_of(&i, None);
    assert_eq!(
        titles(&h),
        vec![
            "Upgrades refused for authentication (HTTP 401/403)",
            "The server is shedding load"
        ]
    );
    assert_eq!(
        (h[0].confidence, h[1].confidence),
        (Confidence::High, Confidence::Medium)
    );
    let mut path = Summary::default();
    path.upgrade_status.insert("404".into(), 1);
    assert_eq!(
        titles(&hints_of(&path, None)),
        vec!["No WebSocket endpoint at this path (HTTP 404)"]
    );
}

fn knee_input(server_busy: Option<f64>) -> (Summary, LatencyKnee) {
    let mut i = Summary::default();
    for (n, p99) in [
        (1000u64, 800.0),
        (2000, 900.0),
        (3000, 850.0),
        (4000, 1200.0),
        (5000, 9000.0),
        (6000, 20000.0),
    ] {
        i.timeline.push(TimelinePoint {
            t_s: (n / 1000) as f64,
            open: n,
            sent_per_s: n as f64,
            received_per_s: n as f64,
            p99_us: p99,
            server: Some(ServerPoint {
                cpu_s: n as f64 / 1000.0 * 0.5,
                ..Default::default()
            }),
            ..TimelinePoint::default()
        });
    }
    i.server = Some(ServerSection {
        cpu_busy: server_busy,
        peak_threads: 1,
        ..Default::default()
    });
    let k = crate::analysis::knee::latency_knee(&i.timeline).expect("knee");
    (i, k)
}

#[test]
fn latency_knee_with_a_busy_server_is_cpu_bound() {
    let (i, k) = knee_input(Some(0.97));
    let h = hints_of(&i, Some(&k));
    assert_eq!(titles(&h), vec!["The server is likely CPU-bound"]);
    assert!(h[0].evidence.iter().any(|e| e.contains("0.97 cores")));
    // Negative: the server had CPU to spare (0.5 cores in the timeline too), or no knee.
    let (idle, k) = knee_input(Some(0.4));
    assert!(hints_of(&idle, Some(&k)).is_empty());
    let (busy, _) = knee_input(Some(0.99));
    assert!(hints_of(&busy, None).is_empty());
}

#[test]
fn server_rss_growing_at_constant_connections() {
    let mut i = Summary::default();
    for t in 1..=8u64 {
        i.timeline.push(TimelinePoint {
            t_s: t as f64,
            open: if t == 1 { 500 } else { 1000 },
            server: Some(ServerPoint {
                rss_bytes: 20_000_000 + t * 2_000_000,
                ..Default::default()
            }),
            ..TimelinePoint::default()
        });
    }
    let h = hints_of(&i, None);
    assert_eq!(titles(&h), vec!["Server memory grows at a constant connection count"]);
    // Negative: flat RSS.
    for p in &mut i.timeline {
        p.server.as_mut().unwrap().rss_bytes = 30_000_000;
    }
    assert!(hints_of(&i, None).is_empty());
}

#[test]
fn errors_after_an_injected_fault_are_its_effect_and_left_out() {
    let mut i = with_totals(line(
        "reset",
        &[
            (300, 0.0, 0),
            (300, 0.0, 0),
            (250, 0.0, 50),
            (250, 0.0, 40),
            (250, 0.0, 0),
        ],
    ));
    i.scenario.connections = 300;
    i.faults.events = vec![FaultNote {
        t_s: 2.5,
        kind: "drop".into(),
        connections: 50,
    }];
    i.timeline[2].dropped = 50;
    i.connections.established = 300;
    let fx = fault_effects(&i);
    assert_eq!(fx.explained, vec![false, false, true, true, true]);
    let f = fx.finding.clone().unwrap();
    assert_eq!(f.title, "These errors follow the injected faults");
    assert_eq!(f.confidence, Confidence::High);
    assert!(f.evidence.iter().any(|e| e.contains("50 connections dropped")));
    assert!(fx.note_for(2.0, 3.0).unwrap().contains("drop at 2.5 s"));
    assert_eq!(fx.note_for(20.0, 30.0), None);
    let own = without_fault_effects(&i, &fx.explained);
    assert_eq!(own.error_total(), 0);
    assert!(hints(&own, None).is_empty());
    // Without the fault, the same errors would count as the server's.
    let mut no_fault = i;
    no_fault.faults.events.clear();
    assert!(fault_effects(&no_fault).finding.is_none());
}
