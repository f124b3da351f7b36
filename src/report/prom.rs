//! metrics.prom: the run's figures in the Prometheus text exposition format
//! (version 0.0.4), for node_exporter's textfile collector or a push gateway.
//!
//! Every family has HELP and TYPE lines; no sample carries a timestamp (the textfile
//! collector refuses them). Latencies are in seconds, memory in bytes, as Prometheus
//! names want. Families whose figures the run did not produce are left out.

use std::collections::BTreeMap;

use super::exposition::Out;
use super::model::{Percentiles, Summary};

/// A figure of the summary; `None` when the run did not produce it (the sample is left out).
type Figure = fn(&Summary) -> Option<f64>;

/// An object of counts of the summary (`errors`, `faults.injected`).
type Counts = fn(&Summary) -> &BTreeMap<String, u64>;

impl Out {
    /// A family with one sample per (label value, figure); absent figures are skipped.
    fn by(&mut self, name: &str, kind: &str, help: &str, label: &str, s: &Summary, items: &[(&str, Figure)]) {
        self.family(name, kind, help);
        for (l, figure) in items {
            if let Some(x) = figure(s) {
                self.sample(name, &[(label, l)], x);
            }
        }
    }

    /// A family from an object of counts (`errors`, `faults.injected`), one sample per key.
    fn counts(&mut self, name: &str, help: &str, label: &str, c: &BTreeMap<String, u64>) {
        if c.is_empty() {
            return;
        }
        self.family(name, "counter", help);
        for (k, n) in c {
            self.sample(name, &[(label, k)], *n as f64);
        }
    }
}

/// One family of metrics.prom read straight from the summary: the rows of the tables below.
enum Family {
    /// One unlabelled sample (left out when the run did not produce the figure).
    One {
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        figure: Figure,
    },
    /// One sample per (label value, figure); absent figures are skipped.
    By {
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        label: &'static str,
        items: &'static [(&'static str, Figure)],
    },
    /// A counter per key of an object of counts (left out when it is empty).
    Counts {
        name: &'static str,
        help: &'static str,
        label: &'static str,
        counts: Counts,
    },
}

impl Out {
    fn families(&mut self, s: &Summary, table: &[Family]) {
        for f in table {
            match *f {
                Family::One {
                    name,
                    kind,
                    help,
                    figure,
                } => self.one(name, kind, help, figure(s)),
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
                    counts,
                } => self.counts(name, help, label, counts(s)),
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
        figure: |s| Some(s.duration_s),
    },
    Family::By {
        name: "wsload_connections",
        kind: "gauge",
        help: "Connections by state over the run: target, established, failed, not attempted, peak open, \
               dropped by the server or network, closed by the ramp-down.",
        label: "state",
        items: &[
            ("target", |s| Some(s.connections.target as f64)),
            ("established", |s| Some(s.connections.established as f64)),
            ("failed", |s| Some(s.connections.failed as f64)),
            ("not_attempted", |s| Some(s.connections.not_attempted as f64)),
            ("peak_open", |s| Some(s.connections.peak_open as f64)),
            ("dropped", |s| Some(s.connections.dropped as f64)),
            ("ramped_down", |s| Some(s.connections.ramped_down as f64)),
        ],
    },
    Family::One {
        name: "wsload_connect_rate_per_second",
        kind: "gauge",
        help: "Connections established per second while opening them.",
        figure: |s| Some(s.connections.connect_rate_per_s),
    },
    Family::By {
        name: "wsload_messages_total",
        kind: "counter",
        help: "Messages sent, echoed, lost (lost_by_drop of them on a dropped connection), duplicated, \
               out of order, corrupted.",
        label: "kind",
        items: &[
            ("sent", |s| Some(s.messages.sent as f64)),
            ("received", |s| Some(s.messages.received as f64)),
            ("lost", |s| Some(s.messages.lost as f64)),
            ("lost_by_drop", |s| Some(s.messages.lost_by_drop as f64)),
            ("duplicated", |s| Some(s.messages.duplicated as f64)),
            ("out_of_order", |s| Some(s.messages.out_of_order as f64)),
            ("corrupted", |s| Some(s.messages.corrupted as f64)),
        ],
    },
    Family::By {
        name: "wsload_bytes_total",
        kind: "counter",
        help: "Payload bytes sent and received.",
        label: "direction",
        items: &[
            ("sent", |s| Some(s.messages.bytes_sent as f64)),
            ("received", |s| Some(s.messages.bytes_received as f64)),
        ],
    },
    Family::One {
        name: "wsload_message_rate_per_second",
        kind: "gauge",
        help: "Echoes received per second over the load phase.",
        figure: |s| Some(s.messages.rate_per_s),
    },
];

/// Errors, upgrade statuses, close codes and faults, by kind.
const COUNTS: &[Family] = &[
    Family::Counts {
        name: "wsload_errors_total",
        help: "Errors by class (see the README for each class).",
        label: "class",
        counts: |s| &s.errors,
    },
    Family::Counts {
        name: "wsload_upgrade_status_total",
        help: "Connections whose upgrade was answered with this HTTP status other than 101.",
        label: "code",
        counts: |s| &s.upgrade_status,
    },
    Family::Counts {
        name: "wsload_close_codes_total",
        help: "Connections closed by the server with this WebSocket close code.",
        label: "code",
        counts: |s| &s.close_codes,
    },
    Family::Counts {
        name: "wsload_faults_injected_total",
        help: "Connections hit by an injected fault, by fault kind.",
        label: "kind",
        counts: |s| &s.faults.injected,
    },
];

pub fn render(s: &Summary) -> String {
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

/// 1 for true, 0 for false.
fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// Which run, when it started, and whether its figures are partial.
fn run_info(o: &mut Out, s: &Summary) {
    o.run_info(
        &[
            ("version", &s.wsload_version),
            ("target", &s.target),
            ("schema", &s.schema),
        ],
        s.started_at_unix_s,
    );
    o.one(
        "wsload_partial",
        "gauge",
        "1 when the run was interrupted and the figures cover only what was gathered.",
        Some(flag(s.partial)),
    );
}

/// Latency as one summary family per kind, plus the maximum as a gauge.
fn latency(o: &mut Out, s: &Summary) {
    let l = &s.latency_us;
    let kinds = [
        ("corrected", &l.corrected),
        ("uncorrected", &l.uncorrected),
        ("connect", &l.connect),
    ];
    o.family(
        "wsload_latency_seconds",
        "summary",
        "Round-trip latency from the intended send time (corrected), from the actual send time \
         (uncorrected), and connection set-up time (TCP connect + upgrade, connect).",
    );
    for (k, p) in kinds {
        if p.count > 0 {
            for q in Percentiles::below_max() {
                o.sample(
                    "wsload_latency_seconds",
                    &[("kind", k), ("quantile", &q.q.to_string())],
                    (q.of)(p) as f64 / 1e6,
                );
            }
        }
        let n = p.count as f64;
        o.sample("wsload_latency_seconds_sum", &[("kind", k)], p.mean * n / 1e6);
        o.sample("wsload_latency_seconds_count", &[("kind", k)], n);
    }
    o.family("wsload_latency_max_seconds", "gauge", "Largest latency of each kind.");
    for (k, p) in kinds {
        if p.count > 0 {
            o.sample("wsload_latency_max_seconds", &[("kind", k)], p.max as f64 / 1e6);
        }
    }
}

fn recovery(o: &mut Out, s: &Summary) {
    o.by(
        "wsload_recovery_total",
        "counter",
        "Drops after establishment, reconnections (within the horizon), connections still down at \
         the end, churned connections.",
        "event",
        s,
        &[
            ("dropped", |s| Some(s.recovery.drops as f64)),
            ("reconnected", |s| Some(s.recovery.reconnected as f64)),
            ("reconnected_within", |s| Some(s.recovery.reconnected_within as f64)),
            ("unrecovered", |s| Some(s.recovery.unrecovered as f64)),
            ("churned", |s| Some(s.recovery.churned as f64)),
        ],
    );
    let t = &s.recovery.time_to_reconnect_us;
    if t.count > 0 {
        o.family(
            "wsload_reconnect_seconds",
            "gauge",
            "Time from a drop to the connection's next successful upgrade, by quantile.",
        );
        for q in Percentiles::below_max() {
            o.sample(
                "wsload_reconnect_seconds",
                &[("quantile", &q.q.to_string())],
                (q.of)(t) as f64 / 1e6,
            );
        }
    }
    o.one(
        "wsload_availability_ratio",
        "gauge",
        "Connection-seconds up over connection-seconds wanted during the traffic.",
        s.recovery.availability,
    );
}

fn thresholds(o: &mut Out, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    o.one(
        "wsload_thresholds_passed",
        "gauge",
        "1 when every threshold of the scenario passed.",
        s.thresholds_passed.map(flag),
    );
    o.family(
        "wsload_threshold_pass",
        "gauge",
        "1 when this threshold passed, 0 when it failed.",
    );
    for t in &s.thresholds {
        o.sample("wsload_threshold_pass", &[("expr", &t.expr)], flag(t.pass));
    }
}

/// The wsload client's CPU and memory.
const CLIENT: &[Family] = &[
    Family::By {
        name: "wsload_client_cpu_seconds_total",
        kind: "counter",
        help: "CPU time of the wsload client process.",
        label: "mode",
        items: &[
            ("user", |s| Some(s.client.cpu_user_s)),
            ("system", |s| Some(s.client.cpu_sys_s)),
        ],
    },
    Family::One {
        name: "wsload_client_cpu_seconds_per_million_messages",
        kind: "gauge",
        help: "Client CPU over the load phase per million echoed messages.",
        figure: |s| s.client.cpu_s_per_million_msgs,
    },
    Family::One {
        name: "wsload_client_peak_rss_bytes",
        kind: "gauge",
        help: "Peak resident memory of the client.",
        figure: |s| Some(s.client.peak_rss_bytes as f64),
    },
    Family::One {
        name: "wsload_client_memory_per_connection_bytes",
        kind: "gauge",
        help: "Client RSS growth per open connection.",
        figure: |s| Some(s.client.rss_per_connection_bytes as f64),
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
            ("user", |s| {
                s.server
                    .as_ref()?
                    .memory_per_connection
                    .as_ref()
                    .map(|f| f.bytes_per_connection)
            }),
            ("kernel", |s| {
                s.server
                    .as_ref()?
                    .kernel_memory_per_connection
                    .as_ref()
                    .map(|f| f.bytes_per_connection)
            }),
        ],
    },
    Family::One {
        name: "wsload_server_cpu_seconds_per_million_messages",
        kind: "gauge",
        help: "Server CPU over the traffic per million echoed messages.",
        figure: |s| s.server.as_ref()?.cpu_s_per_million_msgs,
    },
    Family::One {
        name: "wsload_server_cpu_busy_cores",
        kind: "gauge",
        help: "Server CPU over the traffic, in cores.",
        figure: |s| s.server.as_ref()?.cpu_busy,
    },
    Family::One {
        name: "wsload_server_peak_rss_bytes",
        kind: "gauge",
        help: "Peak resident memory of the server's process tree.",
        figure: |s| s.server.as_ref().map(|v| v.peak_rss_bytes as f64),
    },
    Family::One {
        name: "wsload_server_peak_open_files",
        kind: "gauge",
        help: "Peak open file descriptors of the server's process tree.",
        figure: |s| s.server.as_ref().map(|v| v.peak_fds as f64),
    },
];

/// The server under test, when it was sampled.
fn server(o: &mut Out, s: &Summary) {
    let Some(sv) = &s.server else {
        return;
    };
    o.families(s, SERVER);
    o.one(
        "wsload_server_accepts_after_run",
        "gauge",
        "1 when the server still accepted a connection after the run.",
        sv.after.as_ref().map(|a| flag(a.accepts)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let s = Summary::from_value(serde_json::json!({"target": "ws://h/\"q\"", "errors": {"reset": 3}})).unwrap();
        let text = render(&s);
        assert!(text.contains(r#"target="ws://h/\"q\"""#), "{text}");
        assert!(text.contains("wsload_errors_total{class=\"reset\"} 3\n"), "{text}");
        assert!(text.contains("# TYPE wsload_errors_total counter\n"), "{text}");
    }

    #[test]
    fn every_sample_follows_its_type_line() {
        let s = Summary::from_value(serde_json::json!({"latency_us": {"corrected": {"count": 4, "p50": 100, "p99": 2000, "max": 3000, "mean": 150.0}}}))
        .unwrap();
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
