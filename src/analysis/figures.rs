//! Figures the stages derive from the typed [`Summary`], where more than one stage needs them:
//! a time-line point's new errors, a core's attempts and failures, the
//! first message of an error class, whether the server runs on this machine, the ramp's kind.
//! Small functions and extension traits over the model's own types, so that every stage reads
//! the one result model; and [`Own`], the summary less the injected faults' effects.

use std::collections::BTreeMap;

use crate::aggregate::timeline::TimelinePoint;
use crate::config::scenario::Ramp;
use crate::report::model::{CoreSection, Summary};

/// What the stages derive from one time-line point.
pub trait PointFigures {
    /// New errors in the interval, all classes.
    fn errors_total(&self) -> u64;
    /// New errors of one class in the interval.
    fn errors_of(&self, class: &str) -> u64;
}

impl PointFigures for TimelinePoint {
    fn errors_total(&self) -> u64 {
        self.errors_new.values().sum()
    }

    fn errors_of(&self, class: &str) -> u64 {
        self.errors_new.get(class).copied().unwrap_or(0)
    }
}

/// What the stages derive from one client core's share of the run.
pub trait CoreFigures {
    /// Connections this core attempted: established or failed to connect.
    fn attempted(&self) -> u64;
    /// Everything that went wrong on this core: errors, failed connects, drops, lost messages.
    fn failures(&self) -> u64;
}

impl CoreFigures for CoreSection {
    fn attempted(&self) -> u64 {
        self.established + self.connect_failed
    }

    fn failures(&self) -> u64 {
        self.errors + self.connect_failed + self.dropped + self.lost
    }
}

/// A run as the rules that look for the server's own failures read it: the summary, with the
/// errors and drops that followed injected faults taken out of its time line and of its error
/// totals (built by `hints::without_fault_effects`). Every other figure is the summary's.
pub struct Own<'a> {
    pub summary: &'a Summary,
    /// The summary's time line, its explained intervals without their new errors and drops.
    pub timeline: Vec<TimelinePoint>,
    /// The summary's error totals less the explained errors.
    pub errors: BTreeMap<String, u64>,
}

impl Own<'_> {
    /// Errors of one class, by the totals.
    pub fn count(&self, class: &str) -> u64 {
        self.errors.get(class).copied().unwrap_or(0)
    }

    /// Total errors, by the totals.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The first message of an error class (`first_errors`), if the run kept one.
pub fn first_error<'a>(s: &'a Summary, class: &str) -> Option<&'a str> {
    s.first_errors
        .iter()
        .rev()
        .find(|e| e.kind == class)
        .map(|e| e.first.as_str())
}

/// The server runs on this machine: the built-in server, a sampled server process, or a
/// loopback / `localhost` target.
pub fn server_local(s: &Summary) -> bool {
    if s.builtin_server || s.server.is_some() {
        return true;
    }
    let rest = s.target.split("://").nth(1).unwrap_or(&s.target);
    let host_port = rest.split('/').next().unwrap_or("");
    let host_port = host_port.rsplit('@').next().unwrap_or("");
    let host = if let Some(h) = host_port.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// The ramp's kind as summary.json names it: `burst`, `linear`, `exponential` or `stepped`.
pub fn ramp_kind(r: &Ramp) -> &'static str {
    match r {
        Ramp::Burst => "burst",
        Ramp::Linear { .. } => "linear",
        Ramp::Exponential { .. } => "exponential",
        Ramp::Stepped { .. } => "stepped",
    }
}

/// A linear ramp's rate, new connections per second.
pub fn ramp_per_s(r: &Ramp) -> Option<f64> {
    match r {
        Ramp::Linear { per_s } => Some(*per_s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_fields_become_defaults_and_mistyped_ones_are_named() {
        for v in [
            json!({}),
            json!({"timeline": [{"t_s": 1.0}, {}], "server": null, "scenario": {}}),
        ] {
            let s = Summary::from_value(v).unwrap();
            assert_eq!(s.error_total(), 0);
            assert!(s.timeline.iter().all(|p| p.errors_total() == 0));
        }
        assert_eq!(Summary::default().error_total(), 0);
        // A summary is typed: a field of the wrong type is refused, by its path, not read as 0.
        for (v, path) in [
            (json!({"timeline": "x"}), "timeline"),
            (json!({"errors": 3}), "errors"),
            (json!({"connections": {"established": -1}}), "connections.established"),
            (json!({"timeline": [{"t_s": "a"}]}), "timeline[0].t_s"),
        ] {
            let e = Summary::from_value(v).unwrap_err();
            assert!(e.starts_with(path), "{e}");
        }
    }

    #[test]
    fn reads_points_and_sections() {
        let s = Summary::from_value(json!({
            "target": "ws://user:***@[::1]:8080/x",
            "timeline": [
                {"t_s": 1.0, "open": 2, "p99_us": 300.0},
                {"t_s": 2.0, "open": 5, "errors_new": {"reset": 3}, "server": {"cpu_s": 1.5, "rss_bytes": 10, "fds": 4}}
            ],
            "scenario": {"connections": 9, "ramp": {"kind": "linear", "per_s": 100.0}, "source_ips": ["127.0.0.2"]},
            "faults": {"events": [{"t_s": 1.5, "kind": "drop", "connections": 2}]},
            "first_errors": [{"kind": "reset", "first": "Connection reset by peer (os error 104)"}],
            "cores": [{"core": 0, "cpu": 2, "established": 4, "connect_failed": 1, "dropped": 2, "lost": 3, "errors": 5}]
        }))
        .unwrap();
        assert_eq!(s.timeline.len(), 2);
        assert_eq!(s.timeline[0].t_s, 1.0);
        assert_eq!(s.timeline[1].errors_total(), 3);
        assert_eq!(s.timeline[1].errors_of("reset"), 3);
        assert_eq!(s.timeline[1].errors_of("emfile"), 0);
        assert_eq!(s.timeline[1].server.unwrap().fds, 4);
        assert_eq!(ramp_per_s(&s.scenario.ramp), Some(100.0));
        assert_eq!(ramp_kind(&s.scenario.ramp), "linear");
        assert_eq!((s.scenario.connections, s.scenario.source_ips.len()), (9, 1));
        assert_eq!(s.faults.events[0].kind, "drop");
        assert!(first_error(&s, "reset").unwrap().contains("104"));
        assert_eq!(first_error(&s, "emfile"), None);
        assert_eq!(s.cores.len(), 1);
        assert_eq!(
            (s.cores[0].cpu, s.cores[0].attempted(), s.cores[0].failures()),
            (2, 5, 11)
        );
        assert!(Summary::from_value(json!({})).unwrap().cores.is_empty());
        assert!(server_local(&s));
        let remote = Summary::from_value(json!({"target": "ws://example.com:80/"})).unwrap();
        assert!(!server_local(&remote));
    }
}
