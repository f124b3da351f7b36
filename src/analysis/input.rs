//! What the failure analysis reads, taken from a `summary.json` value so that a
//! saved summary can be analysed again (`wsload report`). Every field is
//! optional in the JSON: a missing or mistyped field becomes its default, so an
//! old or partial summary never makes the analysis panic.

use std::collections::BTreeMap;

use serde_json::Value;

/// One time-line point (the interval ending at `t_s`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    pub t_s: f64,
    pub open: u64,
    pub connects_per_s: f64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    /// Connections dropped in the interval.
    pub dropped: u64,
    /// Errors in the interval, by class.
    pub errors_new: BTreeMap<String, u64>,
    /// Injected faults in the interval (connections hit), by kind.
    pub faults_new: BTreeMap<String, u64>,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The server under test at `t_s`, when it was sampled.
    pub server: Option<ServerPoint>,
}

impl Point {
    pub fn errors_total(&self) -> u64 {
        self.errors_new.values().sum()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerPoint {
    /// CPU seconds since the server started.
    pub cpu_s: f64,
    pub rss_bytes: u64,
    pub fds: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connections {
    pub target: u64,
    pub established: u64,
    pub failed: u64,
    pub not_attempted: u64,
    pub peak_open: u64,
    pub dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Messages {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub lost_by_drop: u64,
}

/// Corrected (intended send time) latency, microseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultEvent {
    pub t_s: f64,
    pub kind: String,
    pub connections: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Threshold {
    pub expr: String,
    /// The metric it names (`latency.p99`); empty in summaries written before it was recorded.
    pub metric: String,
    pub pass: bool,
    pub measured_text: String,
    pub limit_text: String,
}

/// The scenario's ramp: `kind` is `burst`, `linear`, `exponential` or `stepped`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ramp {
    pub kind: String,
    /// Linear ramps: new connections per second.
    pub per_s: Option<f64>,
}

/// The `server` section (with `--server-pid` or the built-in server).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Server {
    /// Cores' worth of CPU over the traffic.
    pub cpu_busy: Option<f64>,
    pub peak_threads: u64,
    pub memory_per_connection: Option<f64>,
    pub memory_r2: Option<f64>,
    /// Accepted an upgrade after the run (`None`: not checked).
    pub accepts_after: Option<bool>,
    pub findings: Vec<String>,
}

/// One client core's share of the run (the summary's `cores` array).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Core {
    pub core: u64,
    pub cpu: u64,
    pub established: u64,
    pub connect_failed: u64,
    pub dropped: u64,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub errors: u64,
}

impl Core {
    /// Connections this core attempted: established or failed to connect.
    pub fn attempted(&self) -> u64 {
        self.established + self.connect_failed
    }

    /// Everything that went wrong on this core: errors, failed connects, drops, lost messages.
    pub fn failures(&self) -> u64 {
        self.errors + self.connect_failed + self.dropped + self.lost
    }
}

/// The client's own load (the summary's `client` section).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientHealth {
    /// Share of the client cores' time spent working under load (0..1); `None` when not measured.
    pub cpu_busy: Option<f64>,
    /// Open loop: how late messages left against their schedule, microseconds (count 0: none).
    pub send_delay_count: u64,
    pub send_delay_p50_us: u64,
    pub send_delay_p99_us: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub target: String,
    pub builtin_server: bool,
    pub partial: bool,
    pub interval_s: f64,
    pub traffic_start_s: Option<f64>,
    pub points: Vec<Point>,
    pub errors: BTreeMap<String, u64>,
    /// First message of each error class.
    pub first_errors: BTreeMap<String, String>,
    pub close_codes: BTreeMap<String, u64>,
    pub upgrade_status: BTreeMap<String, u64>,
    pub connections: Connections,
    pub messages: Messages,
    pub latency: Latency,
    pub recovery_policy: String,
    pub reconnected: u64,
    pub faults: Vec<FaultEvent>,
    pub thresholds: Vec<Threshold>,
    pub thresholds_passed: Option<bool>,
    pub scenario_connections: u64,
    pub ramp: Ramp,
    pub source_ips: usize,
    pub server: Option<Server>,
    pub client_warnings: Vec<String>,
    /// The client's own health: whether its figures can judge the server.
    pub client: ClientHealth,
    /// Per client core, in core order; empty for summaries written before `cores` existed.
    pub cores: Vec<Core>,
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn opt_f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn counts(v: &Value, key: &str) -> BTreeMap<String, u64> {
    v.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key).filter_map(|x| x.as_str().map(str::to_string)).collect()
}

fn point(p: &Value) -> Point {
    let server = p.get("server").filter(|x| x.is_object()).map(|x| ServerPoint {
        cpu_s: f(x, "cpu_s"),
        rss_bytes: u(x, "rss_bytes"),
        fds: u(x, "fds"),
    });
    Point {
        t_s: f(p, "t_s"),
        open: u(p, "open"),
        connects_per_s: f(p, "connects_per_s"),
        sent_per_s: f(p, "sent_per_s"),
        received_per_s: f(p, "received_per_s"),
        dropped: u(p, "dropped"),
        errors_new: counts(p, "errors_new"),
        faults_new: counts(p, "faults_new"),
        p50_us: f(p, "p50_us"),
        p99_us: f(p, "p99_us"),
        server,
    }
}

impl Input {
    /// Extract what the rules need from a `summary.json` value. Never panics.
    pub fn from_summary(v: &Value) -> Input {
        let null = Value::Null;
        let conn = v.get("connections").unwrap_or(&null);
        let msgs = v.get("messages").unwrap_or(&null);
        let lat = v.pointer("/latency_us/corrected").unwrap_or(&null);
        let scenario = v.get("scenario").unwrap_or(&null);
        let ramp = scenario.get("ramp").unwrap_or(&null);
        let server = v.get("server").filter(|x| x.is_object()).map(|x| Server {
            cpu_busy: opt_f(x, "cpu_busy"),
            peak_threads: u(x, "peak_threads"),
            memory_per_connection: x
                .get("memory_per_connection")
                .and_then(|m| opt_f(m, "bytes_per_connection")),
            memory_r2: x.get("memory_per_connection").and_then(|m| opt_f(m, "r2")),
            accepts_after: x.pointer("/after/accepts").and_then(Value::as_bool),
            findings: strings(x, "findings"),
        });
        let mut points: Vec<Point> = list(v, "timeline").map(point).collect();
        points.retain(|p| p.t_s.is_finite());
        points.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        let interval_s = v
            .pointer("/run/interval_s")
            .and_then(Value::as_f64)
            .filter(|x| *x > 0.0)
            .or_else(|| {
                // Old summaries: the spacing of the time line.
                points.windows(2).map(|w| w[1].t_s - w[0].t_s).find(|d| *d > 0.0)
            })
            .unwrap_or(1.0);
        Input {
            target: s(v, "target"),
            builtin_server: v.get("builtin_server").and_then(Value::as_bool).unwrap_or(false),
            partial: v.get("partial").and_then(Value::as_bool).unwrap_or(false),
            interval_s,
            traffic_start_s: opt_f(v, "traffic_start_s"),
            points,
            errors: counts(v, "errors"),
            first_errors: list(v, "first_errors")
                .map(|e| (s(e, "kind"), s(e, "first")))
                .filter(|(k, _)| !k.is_empty())
                .collect(),
            close_codes: counts(v, "close_codes"),
            upgrade_status: counts(v, "upgrade_status"),
            connections: Connections {
                target: u(conn, "target"),
                established: u(conn, "established"),
                failed: u(conn, "failed"),
                not_attempted: u(conn, "not_attempted"),
                peak_open: u(conn, "peak_open"),
                dropped: u(conn, "dropped"),
            },
            messages: Messages {
                sent: u(msgs, "sent"),
                received: u(msgs, "received"),
                lost: u(msgs, "lost"),
                lost_by_drop: u(msgs, "lost_by_drop"),
            },
            latency: Latency {
                count: u(lat, "count"),
                p50: u(lat, "p50"),
                p99: u(lat, "p99"),
            },
            recovery_policy: v
                .pointer("/recovery/policy")
                .and_then(Value::as_str)
                .unwrap_or("off")
                .to_string(),
            reconnected: v.pointer("/recovery/reconnected").and_then(Value::as_u64).unwrap_or(0),
            faults: v
                .pointer("/faults/events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| FaultEvent {
                    t_s: f(e, "t_s"),
                    kind: s(e, "kind"),
                    connections: u(e, "connections"),
                })
                .collect(),
            thresholds: list(v, "thresholds")
                .map(|t| Threshold {
                    expr: s(t, "expr"),
                    metric: s(t, "metric"),
                    pass: t.get("pass").and_then(Value::as_bool).unwrap_or(false),
                    measured_text: s(t, "measured_text"),
                    limit_text: s(t, "limit_text"),
                })
                .collect(),
            thresholds_passed: v.get("thresholds_passed").and_then(Value::as_bool),
            scenario_connections: scenario
                .get("connections")
                .and_then(Value::as_u64)
                .unwrap_or(u(conn, "target")),
            ramp: Ramp {
                kind: ramp.get("kind").and_then(Value::as_str).unwrap_or("burst").to_string(),
                per_s: opt_f(ramp, "per_s"),
            },
            source_ips: list(scenario, "source_ips").count(),
            server,
            client_warnings: v.get("client").map(|c| strings(c, "warnings")).unwrap_or_default(),
            client: {
                let c = v.get("client").unwrap_or(&null);
                let d = c.get("send_delay_us").unwrap_or(&null);
                ClientHealth {
                    cpu_busy: opt_f(c, "cpu_busy"),
                    send_delay_count: u(d, "count"),
                    send_delay_p50_us: u(d, "p50"),
                    send_delay_p99_us: u(d, "p99"),
                }
            },
            cores: list(v, "cores")
                .filter(|c| c.is_object())
                .map(|c| Core {
                    core: u(c, "core"),
                    cpu: u(c, "cpu"),
                    established: u(c, "established"),
                    connect_failed: u(c, "connect_failed"),
                    dropped: u(c, "dropped"),
                    sent: u(c, "sent"),
                    received: u(c, "received"),
                    lost: u(c, "lost"),
                    errors: u(c, "errors"),
                })
                .collect(),
        }
    }

    /// The server runs on this machine: the built-in server, a sampled server process, or a
    /// loopback / `localhost` target.
    pub fn server_local(&self) -> bool {
        if self.builtin_server || self.server.is_some() {
            return true;
        }
        let rest = self.target.split("://").nth(1).unwrap_or(&self.target);
        let host_port = rest.split('/').next().unwrap_or("");
        let host_port = host_port.rsplit('@').next().unwrap_or("");
        let host = if let Some(h) = host_port.strip_prefix('[') {
            h.split(']').next().unwrap_or("")
        } else {
            host_port.split(':').next().unwrap_or("")
        };
        host == "localhost" || host.starts_with("127.") || host == "::1"
    }

    /// Total errors of the run, by the totals.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_and_mistyped_fields_become_defaults() {
        for v in [
            json!(null),
            json!({}),
            json!([1, 2]),
            json!({"timeline": "x", "errors": 3, "connections": []}),
            json!({"timeline": [{"t_s": "a"}, {}], "server": null, "scenario": {"ramp": 5}}),
        ] {
            let i = Input::from_summary(&v);
            assert_eq!(i.error_total(), 0);
            assert!(i.interval_s > 0.0);
        }
    }

    #[test]
    fn reads_points_and_sections() {
        let v = json!({
            "target": "ws://user:***@[::1]:8080/x",
            "timeline": [
                {"t_s": 2.0, "open": 5, "errors_new": {"reset": 3}, "server": {"cpu_s": 1.5, "rss_bytes": 10, "fds": 4}},
                {"t_s": 1.0, "open": 2, "p99_us": 300.0}
            ],
            "scenario": {"connections": 9, "ramp": {"kind": "linear", "per_s": 100.0}, "source_ips": ["127.0.0.2"]},
            "faults": {"events": [{"t_s": 1.5, "kind": "drop", "connections": 2}]},
            "first_errors": [{"kind": "reset", "first": "Connection reset by peer (os error 104)"}],
            "cores": [{"core": 0, "cpu": 2, "established": 4, "connect_failed": 1, "dropped": 2, "lost": 3, "errors": 5}, 7]
        });
        let i = Input::from_summary(&v);
        assert_eq!(i.points.len(), 2);
        assert_eq!(i.points[0].t_s, 1.0);
        assert_eq!(i.points[1].errors_total(), 3);
        assert_eq!(i.points[1].server.unwrap().fds, 4);
        assert_eq!(i.interval_s, 1.0);
        assert_eq!(i.ramp.per_s, Some(100.0));
        assert_eq!((i.scenario_connections, i.source_ips), (9, 1));
        assert_eq!(i.faults[0].kind, "drop");
        assert!(i.first_errors["reset"].contains("104"));
        assert_eq!(i.cores.len(), 1);
        assert_eq!(
            (i.cores[0].cpu, i.cores[0].attempted(), i.cores[0].failures()),
            (2, 5, 11)
        );
        assert!(Input::from_summary(&json!({})).cores.is_empty());
        assert!(i.server_local());
        let remote = Input::from_summary(&json!({"target": "ws://example.com:80/"}));
        assert!(!remote.server_local());
    }
}
