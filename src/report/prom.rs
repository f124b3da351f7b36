//! metrics.prom: the run's figures in the Prometheus text exposition format
//! (version 0.0.4), for node_exporter's textfile collector or a push gateway.
//!
//! Every family has HELP and TYPE lines; no sample carries a timestamp (the textfile
//! collector refuses them). Latencies are in seconds, memory in bytes, as Prometheus
//! names want. Families whose figures the run did not produce are left out.

use serde_json::Value;

use super::exposition::{Out, QUANTILES};
use super::get;

impl Out {
    /// A family with one sample per (label value, path) pair; absent figures are skipped.
    fn by(&mut self, name: &str, kind: &str, help: &str, label: &str, s: &Value, items: &[(&str, &str)]) {
        self.family(name, kind, help);
        for (l, path) in items {
            if let Some(x) = get::num(s, path) {
                self.sample(name, &[(label, l)], x);
            }
        }
    }

    /// A family from an object of counts (`errors`, `faults.injected`), one sample per key.
    fn counts(&mut self, name: &str, help: &str, label: &str, s: &Value, path: &str) {
        let c = get::counts(s, path);
        if c.is_empty() {
            return;
        }
        self.family(name, "counter", help);
        for (k, n) in c {
            self.sample(name, &[(label, &k)], n as f64);
        }
    }
}

/// One family of metrics.prom read straight from the summary: the rows of the tables below.
enum Family {
    /// One unlabelled sample (left out when the summary lacks it).
    One {
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        path: &'static str,
    },
    /// One sample per (label value, summary path); absent figures are skipped.
    By {
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        label: &'static str,
        items: &'static [(&'static str, &'static str)],
    },
    /// A counter per key of an object of counts (left out when it is empty).
    Counts {
        name: &'static str,
        help: &'static str,
        label: &'static str,
        path: &'static str,
    },
}

impl Out {
    fn families(&mut self, s: &Value, table: &[Family]) {
        for f in table {
            match *f {
                Family::One { name, kind, help, path } => self.one(name, kind, help, get::num(s, path)),
                Family::By {
                    name,
                    kind,
                    help,
                    label,
                    items,
                } => self.by(name, kind, help, label, s, items),
                Family::Counts {
                    name,
                    help,
                    label,
                    path,
                } => self.counts(name, help, label, s, path),
            }
        }
    }
}

/// Connections and messages over the run.
const TRAFFIC: &[Family] = &[
    Family::One {
        name: "wsload_load_duration_seconds",
        kind: "gauge",
        help: "Length of the load phase actually run.",
        path: "duration_s",
    },
    Family::By {
        name: "wsload_connections",
        kind: "gauge",
        help: "Connections by state over the run: target, established, failed, not attempted, peak open, \
               dropped by the server or network, closed by the ramp-down.",
        label: "state",
        items: &[
            ("target", "connections.target"),
            ("established", "connections.established"),
            ("failed", "connections.failed"),
            ("not_attempted", "connections.not_attempted"),
            ("peak_open", "connections.peak_open"),
            ("dropped", "connections.dropped"),
            ("ramped_down", "connections.ramped_down"),
        ],
    },
    Family::One {
        name: "wsload_connect_rate_per_second",
        kind: "gauge",
        help: "Connections established per second while opening them.",
        path: "connections.connect_rate_per_s",
    },
    Family::By {
        name: "wsload_messages_total",
        kind: "counter",
        help: "Messages sent, echoed, lost (lost_by_drop of them on a dropped connection), duplicated, \
               out of order, corrupted.",
        label: "kind",
        items: &[
            ("sent", "messages.sent"),
            ("received", "messages.received"),
            ("lost", "messages.lost"),
            ("lost_by_drop", "messages.lost_by_drop"),
            ("duplicated", "messages.duplicated"),
            ("out_of_order", "messages.out_of_order"),
            ("corrupted", "messages.corrupted"),
        ],
    },
    Family::By {
        name: "wsload_bytes_total",
        kind: "counter",
        help: "Payload bytes sent and received.",
        label: "direction",
        items: &[("sent", "messages.bytes_sent"), ("received", "messages.bytes_received")],
    },
    Family::One {
        name: "wsload_message_rate_per_second",
        kind: "gauge",
        help: "Echoes received per second over the load phase.",
        path: "messages.rate_per_s",
    },
];

/// Errors, upgrade statuses, close codes and faults, by kind.
const COUNTS: &[Family] = &[
    Family::Counts {
        name: "wsload_errors_total",
        help: "Errors by class (see the README for each class).",
        label: "class",
        path: "errors",
    },
    Family::Counts {
        name: "wsload_upgrade_status_total",
        help: "Connections whose upgrade was answered with this HTTP status other than 101.",
        label: "code",
        path: "upgrade_status",
    },
    Family::Counts {
        name: "wsload_close_codes_total",
        help: "Connections closed by the server with this WebSocket close code.",
        label: "code",
        path: "close_codes",
    },
    Family::Counts {
        name: "wsload_faults_injected_total",
        help: "Connections hit by an injected fault, by fault kind.",
        label: "kind",
        path: "faults.injected",
    },
];

pub fn render(s: &Value) -> String {
    let mut o = Out(String::new());
    run_info(&mut o, s);
    o.families(s, TRAFFIC);
    latency(&mut o, s);
    o.families(s, COUNTS);
    recovery(&mut o, s);
    thresholds(&mut o, s);
    o.families(s, CLIENT);
    server(&mut o, s);
    o.0
}

/// Which run, when it started, and whether its figures are partial.
fn run_info(o: &mut Out, s: &Value) {
    o.family(
        "wsload_info",
        "gauge",
        "The run that produced these figures (always 1).",
    );
    o.sample(
        "wsload_info",
        &[
            ("version", get::text(s, "wsload_version")),
            ("target", get::text(s, "target")),
            ("schema", get::text(s, "schema")),
        ],
        1.0,
    );
    o.one(
        "wsload_run_start_time_seconds",
        "gauge",
        "When the run started, seconds since the Unix epoch.",
        get::num(s, "started_at_unix_s"),
    );
    o.one(
        "wsload_partial",
        "gauge",
        "1 when the run was interrupted and the figures cover only what was gathered.",
        Some(f64::from(u8::from(get::at(s, "partial").as_bool() == Some(true)))),
    );
}

/// Latency as one summary family per kind, plus the maximum as a gauge.
fn latency(o: &mut Out, s: &Value) {
    let kinds = ["corrected", "uncorrected", "connect"];
    o.family(
        "wsload_latency_seconds",
        "summary",
        "Round-trip latency from the intended send time (corrected), from the actual send time \
         (uncorrected), and connection set-up time (TCP connect + upgrade, connect).",
    );
    for k in kinds {
        let p = get::at(s, &format!("latency_us.{k}"));
        let n = get::count(p, "count");
        if n > 0 {
            for (q, key) in QUANTILES {
                if let Some(us) = get::num(p, key) {
                    o.sample("wsload_latency_seconds", &[("kind", k), ("quantile", q)], us / 1e6);
                }
            }
        }
        let mean = get::num(p, "mean").unwrap_or(0.0);
        o.sample("wsload_latency_seconds_sum", &[("kind", k)], mean * n as f64 / 1e6);
        o.sample("wsload_latency_seconds_count", &[("kind", k)], n as f64);
    }
    o.family("wsload_latency_max_seconds", "gauge", "Largest latency of each kind.");
    for k in kinds {
        if get::count(s, &format!("latency_us.{k}.count")) > 0 {
            if let Some(us) = get::num(s, &format!("latency_us.{k}.max")) {
                o.sample("wsload_latency_max_seconds", &[("kind", k)], us / 1e6);
            }
        }
    }
}

fn recovery(o: &mut Out, s: &Value) {
    o.by(
        "wsload_recovery_total",
        "counter",
        "Drops after establishment, reconnections (within the horizon), connections still down at \
         the end, churned connections.",
        "event",
        s,
        &[
            ("dropped", "recovery.drops"),
            ("reconnected", "recovery.reconnected"),
            ("reconnected_within", "recovery.reconnected_within"),
            ("unrecovered", "recovery.unrecovered"),
            ("churned", "recovery.churned"),
        ],
    );
    if get::count(s, "recovery.time_to_reconnect_us.count") > 0 {
        o.family(
            "wsload_reconnect_seconds",
            "gauge",
            "Time from a drop to the connection's next successful upgrade, by quantile.",
        );
        for (q, key) in QUANTILES {
            if let Some(us) = get::num(s, &format!("recovery.time_to_reconnect_us.{key}")) {
                o.sample("wsload_reconnect_seconds", &[("quantile", q)], us / 1e6);
            }
        }
    }
    o.one(
        "wsload_availability_ratio",
        "gauge",
        "Connection-seconds up over connection-seconds wanted during the traffic.",
        get::num(s, "recovery.availability"),
    );
}

fn thresholds(o: &mut Out, s: &Value) {
    let ts = get::list(s, "thresholds");
    if ts.is_empty() {
        return;
    }
    o.one(
        "wsload_thresholds_passed",
        "gauge",
        "1 when every threshold of the scenario passed.",
        get::at(s, "thresholds_passed")
            .as_bool()
            .map(|b| f64::from(u8::from(b))),
    );
    o.family(
        "wsload_threshold_pass",
        "gauge",
        "1 when this threshold passed, 0 when it failed.",
    );
    for t in ts {
        let pass = get::at(t, "pass").as_bool() == Some(true);
        o.sample(
            "wsload_threshold_pass",
            &[("expr", get::text(t, "expr"))],
            f64::from(u8::from(pass)),
        );
    }
}

/// The wsload client's CPU and memory.
const CLIENT: &[Family] = &[
    Family::By {
        name: "wsload_client_cpu_seconds_total",
        kind: "counter",
        help: "CPU time of the wsload client process.",
        label: "mode",
        items: &[("user", "client.cpu_user_s"), ("system", "client.cpu_sys_s")],
    },
    Family::One {
        name: "wsload_client_cpu_seconds_per_million_messages",
        kind: "gauge",
        help: "Client CPU over the load phase per million echoed messages.",
        path: "client.cpu_s_per_million_msgs",
    },
    Family::One {
        name: "wsload_client_peak_rss_bytes",
        kind: "gauge",
        help: "Peak resident memory of the client.",
        path: "client.peak_rss_bytes",
    },
    Family::One {
        name: "wsload_client_memory_per_connection_bytes",
        kind: "gauge",
        help: "Client RSS growth per open connection.",
        path: "client.rss_per_connection_bytes",
    },
];

/// The server under test's cost, CPU and memory.
const SERVER: &[Family] = &[
    Family::By {
        name: "wsload_server_memory_per_connection_bytes",
        kind: "gauge",
        help: "What each open connection costs the server under test: user-space RSS, and kernel memory \
               (TCP buffers + slab, system-wide).",
        label: "space",
        items: &[
            ("user", "server.memory_per_connection.bytes_per_connection"),
            ("kernel", "server.kernel_memory_per_connection.bytes_per_connection"),
        ],
    },
    Family::One {
        name: "wsload_server_cpu_seconds_per_million_messages",
        kind: "gauge",
        help: "Server CPU over the traffic per million echoed messages.",
        path: "server.cpu_s_per_million_msgs",
    },
    Family::One {
        name: "wsload_server_cpu_busy_cores",
        kind: "gauge",
        help: "Server CPU over the traffic, in cores.",
        path: "server.cpu_busy",
    },
    Family::One {
        name: "wsload_server_peak_rss_bytes",
        kind: "gauge",
        help: "Peak resident memory of the server's process tree.",
        path: "server.peak_rss_bytes",
    },
    Family::One {
        name: "wsload_server_peak_open_files",
        kind: "gauge",
        help: "Peak open file descriptors of the server's process tree.",
        path: "server.peak_fds",
    },
];

/// The server under test, when it was sampled.
fn server(o: &mut Out, s: &Value) {
    if get::at(s, "server").is_null() {
        return;
    }
    o.families(s, SERVER);
    o.one(
        "wsload_server_accepts_after_run",
        "gauge",
        "1 when the server still accepted a connection after the run.",
        get::at(s, "server.after.accepts")
            .as_bool()
            .map(|b| f64::from(u8::from(b))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let s = serde_json::json!({"target": "ws://h/\"q\"", "errors": {"reset": 3}});
        let text = render(&s);
        assert!(text.contains(r#"target="ws://h/\"q\"""#), "{text}");
        assert!(text.contains("wsload_errors_total{class=\"reset\"} 3\n"), "{text}");
        assert!(text.contains("# TYPE wsload_errors_total counter\n"), "{text}");
    }

    #[test]
    fn every_sample_follows_its_type_line() {
        let s = serde_json::json!({"latency_us": {"corrected": {"count": 4, "p50": 100, "p99": 2000, "max": 3000, "mean": 150.0}}});
        let text = render(&s);
        assert!(
            text.contains("wsload_latency_seconds{kind=\"corrected\",quantile=\"0.99\"} 0.002\n"),
            "{text}"
        );
        assert!(
            text.contains("wsload_latency_seconds_count{kind=\"corrected\"} 4\n"),
            "{text}"
        );
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&family), "{line} outside {family}");
            }
        }
    }
}
