//! `summary.json` (schema `wsload.summary.v1`): built once from the merged
//! totals, then rendered as JSON or as text.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::aggregate::{TimelinePoint, Totals};
use crate::config::{Load, RunPlan};
use crate::metrics::ErrorKind;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub wsload_version: &'static str,
    pub target: String,
    pub builtin_server: bool,
    /// The run was interrupted (Ctrl-C) or a core did not finish: figures cover what was gathered.
    pub partial: bool,
    /// Length of the load phase actually run, in seconds.
    pub duration_s: f64,
    pub config: ConfigEcho,
    pub connections: ConnSection,
    pub messages: MsgSection,
    pub latency_us: LatencySection,
    pub errors: BTreeMap<&'static str, u64>,
    pub upgrade_status: BTreeMap<String, u64>,
    pub close_codes: BTreeMap<String, u64>,
    /// First message of each error kind, with what to do about it.
    pub first_errors: Vec<ErrorNote>,
    pub client: ClientSection,
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Debug, Serialize)]
pub struct ConfigEcho {
    pub mode: &'static str,
    pub rate_per_connection: Option<f64>,
    pub in_flight: Option<u32>,
    pub message_size: usize,
    pub text: bool,
    pub duration_s: f64,
    pub drain_s: f64,
    pub client_cpus: Vec<usize>,
    pub server_cpu: Option<usize>,
    pub connect_concurrency: u32,
    pub connect_rate_per_s: Option<f64>,
    pub source_ips: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ConnSection {
    pub target: u64,
    pub established: u64,
    pub failed: u64,
    pub not_attempted: u64,
    pub peak_open: u64,
    pub dropped: u64,
    pub connect_rate_per_s: f64,
    pub time_to_all_s: f64,
}

#[derive(Debug, Serialize)]
pub struct MsgSection {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub lost_by_drop: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    pub rate_per_s: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

#[derive(Debug, Serialize)]
pub struct LatencySection {
    pub corrected: Percentiles,
    pub uncorrected: Percentiles,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
    pub mean: f64,
}

#[derive(Debug, Serialize)]
pub struct ErrorNote {
    pub kind: &'static str,
    pub count: u64,
    pub first: String,
    pub advice: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ClientSection {
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// CPU (user + system) over the load window (drain excluded), per million messages echoed
    /// in it (one message = one send, one receive and its check).
    pub cpu_s_per_million_msgs: Option<f64>,
    pub peak_rss_bytes: u64,
    /// RSS growth from before connecting to all connections open (before any traffic),
    /// divided by the connections open then.
    pub rss_per_connection_bytes: u64,
    /// Share of the client cores' time spent working during the load window (user + system
    /// CPU over load time × cores). Near 1.0 the client itself is the bottleneck.
    pub cpu_busy: Option<f64>,
    /// Open loop: how late messages left against their schedule, microseconds.
    pub send_delay_us: Percentiles,
    /// Why the figures may describe the client rather than the server, if they might.
    pub warnings: Vec<String>,
}

/// Percentiles in microseconds from a nanosecond histogram.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles {
            count: 0,
            p50: 0,
            p90: 0,
            p99: 0,
            p99_9: 0,
            max: 0,
            mean: 0.0,
        };
    }
    let us = |q: f64| h.value_at_quantile(q) / 1000;
    Percentiles {
        count: h.len(),
        p50: us(0.5),
        p90: us(0.9),
        p99: us(0.99),
        p99_9: us(0.999),
        max: h.max() / 1000,
        mean: (h.mean() / 1e3 * 1e3).round() / 1e3,
    }
}

/// p99 send delay (µs) from which the summary warns that the client could not keep its schedule.
pub const SEND_DELAY_WARN_US: u64 = 5_000;

impl Summary {
    pub fn build(plan: &RunPlan, target: &str, t: &Totals) -> Summary {
        let c = &t.rec.counters;
        // The load window: from the start of the load to its end (planned or Ctrl-C), drain excluded.
        let load_s = match (t.load_start_ns, t.load_end_ns) {
            (Some(s), Some(e)) => e.saturating_sub(s) as f64 / 1e9,
            _ => 0.0,
        };
        let load_cpu = match (t.proc_load, t.proc_load_end) {
            (Some(a), Some(b)) => Some(b.cpu_total_s() - a.cpu_total_s()),
            _ => None,
        };
        let time_to_all = match (t.rec.first_connect_ns, t.rec.last_established_ns) {
            (Some(a), Some(b)) if b >= a => (b - a) as f64 / 1e9,
            _ => 0.0,
        };
        let (mode, rate, window) = match plan.load {
            Load::Open { rate } => ("open-loop", Some(rate), None),
            Load::Closed { window } => ("closed-loop", None, Some(window)),
        };
        let peak_open = t.timeline.iter().map(|p| p.open).max().unwrap_or(0).max(t.open_at_load);
        let cpu = load_cpu
            .filter(|_| c.received_in_load > 0)
            .map(|s| s / (c.received_in_load as f64 / 1e6));
        let busy = load_cpu
            .filter(|_| load_s > 0.0)
            .map(|s| round3(s / (load_s * plan.client_cpus.len() as f64)));
        let send_delay = percentiles(&t.rec.send_delay);
        let mut warnings = Vec::new();
        // CPU busy alone is no sign of saturation here: at moderate rates glommio's executor
        // spends most of that time parking and waking. Lag against the schedule is the sign.
        if send_delay.p99 >= SEND_DELAY_WARN_US {
            warnings.push(format!(
                "the client fell behind its send schedule (send delay p50 {} us, p99 {} us): latency \
                 figures include the client's own lag; add client cores (--cores) or lower --rate",
                send_delay.p50, send_delay.p99
            ));
        }
        let rss_per_conn = match t.proc_load {
            Some(p) if t.open_at_load > 0 => p.rss_bytes.saturating_sub(t.proc_before.rss_bytes) / t.open_at_load,
            _ => 0,
        };
        let errors = ErrorKind::ALL
            .iter()
            .map(|k| (k.key(), c.errors[*k as usize]))
            .collect();
        Summary {
            schema: "wsload.summary.v1",
            wsload_version: env!("CARGO_PKG_VERSION"),
            target: target.to_string(),
            builtin_server: plan.target.is_none(),
            partial: t.interrupted || t.missing_cores > 0,
            duration_s: round3(load_s),
            config: ConfigEcho {
                mode,
                rate_per_connection: rate,
                in_flight: window,
                message_size: plan.size,
                text: plan.text,
                duration_s: plan.duration.as_secs_f64(),
                drain_s: plan.drain.as_secs_f64(),
                client_cpus: plan.client_cpus.clone(),
                server_cpu: plan.server_cpu,
                connect_concurrency: plan.connect_concurrency,
                connect_rate_per_s: plan.connect_rate,
                source_ips: plan.source_ips.iter().map(|i| i.to_string()).collect(),
            },
            connections: ConnSection {
                target: plan.connections,
                established: c.established,
                failed: c.connect_failed,
                not_attempted: plan.connections.saturating_sub(c.connect_attempts),
                peak_open,
                dropped: c.dropped,
                connect_rate_per_s: round3(if time_to_all > 0.0 {
                    c.established as f64 / time_to_all
                } else {
                    0.0
                }),
                time_to_all_s: round3(time_to_all),
            },
            messages: MsgSection {
                sent: c.sent,
                received: c.received,
                lost: c.lost,
                lost_by_drop: c.lost_by_drop,
                duplicated: c.duplicated,
                out_of_order: c.out_of_order,
                corrupted: c.corrupted,
                rate_per_s: round3(c.received_in_load as f64 / load_s.max(1e-9)),
                bytes_sent: c.bytes_sent,
                bytes_received: c.bytes_received,
            },
            latency_us: LatencySection {
                corrected: percentiles(&t.rec.corrected),
                uncorrected: percentiles(&t.rec.uncorrected),
            },
            errors,
            upgrade_status: t
                .rec
                .upgrade_status
                .0
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            close_codes: t.rec.close_codes.0.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            first_errors: t
                .rec
                .first_errors
                .iter()
                .map(|(k, m)| ErrorNote {
                    kind: k.key(),
                    count: c.errors[*k as usize],
                    first: m.clone(),
                    advice: k.advice(),
                })
                .collect(),
            client: ClientSection {
                cpu_user_s: round3(t.proc_end.cpu_user_s),
                cpu_sys_s: round3(t.proc_end.cpu_sys_s),
                cpu_s_per_million_msgs: cpu.map(round3),
                peak_rss_bytes: t.proc_end.peak_rss_bytes,
                rss_per_connection_bytes: rss_per_conn,
                cpu_busy: busy,
                send_delay_us: send_delay,
                warnings,
            },
            timeline: t.timeline.clone(),
        }
    }

    /// Did every connection open and every message come back intact?
    pub fn clean(&self) -> bool {
        let m = &self.messages;
        self.connections.established == self.connections.target
            && self.connections.dropped == 0
            && m.lost == 0
            && m.corrupted == 0
            && m.duplicated == 0
            && m.out_of_order == 0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::aggregate::Totals;
    use crate::metrics::Recorder;
    use crate::sys::procstat::ProcSample;

    fn totals(received_in_load: u64, delay_us: u64) -> Totals {
        let mut rec = Recorder::default();
        rec.counters.sent = received_in_load + 10;
        rec.counters.received = received_in_load + 10;
        rec.counters.received_in_load = received_in_load;
        for _ in 0..100 {
            rec.send_delay.record(delay_us * 1000).unwrap();
        }
        let cpu = |s: f64| ProcSample {
            cpu_user_s: s,
            ..ProcSample::default()
        };
        Totals {
            rec,
            load_start_ns: Some(1_000_000_000),
            load_end_ns: Some(3_000_000_000),
            end_ns: 4_000_000_000,
            timeline: Vec::new(),
            proc_before: ProcSample::default(),
            proc_load: Some(cpu(1.0)),
            proc_load_end: Some(cpu(2.0)),
            proc_end: cpu(2.5),
            open_at_load: 10,
            missing_cores: 0,
            interrupted: false,
        }
    }

    fn plan() -> RunPlan {
        let cli = <crate::config::cli::Cli as clap::Parser>::parse_from(["wsload", "run", "ws://127.0.0.1:9/"]);
        match cli.command {
            Some(crate::config::cli::Command::Run(a)) => RunPlan::from_args(&a).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn per_second_figures_use_the_load_window_not_the_drain() {
        let s = Summary::build(&plan(), "ws://x/", &totals(1_000_000, 10));
        assert_eq!(s.duration_s, 2.0);
        assert_eq!(s.messages.rate_per_s, 500_000.0, "echoes in the window / window length");
        assert_eq!(s.client.cpu_s_per_million_msgs, Some(1.0), "1 s of CPU for 1 M echoes");
        let busy = s.client.cpu_busy.unwrap() * plan().client_cpus.len() as f64;
        assert!((busy - 0.5).abs() < 1e-3, "1 s of CPU in a 2 s window: {busy}");
    }

    #[test]
    fn client_lag_is_flagged_only_past_the_threshold() {
        let late = Summary::build(
            &plan(),
            "ws://x/",
            &totals(1000, SEND_DELAY_WARN_US / 1000 * 1000 + 1000),
        );
        assert_eq!(late.client.warnings.len(), 1, "{:?}", late.client.warnings);
        assert!(late.client.warnings[0].contains("--cores"));
        let fine = Summary::build(&plan(), "ws://x/", &totals(1000, 200));
        assert!(fine.client.warnings.is_empty(), "{:?}", fine.client.warnings);
    }

    #[test]
    fn percentiles_in_microseconds() {
        let mut h = crate::metrics::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = percentiles(&h);
        assert_eq!(p.count, 1000);
        assert!((499..=501).contains(&p.p50), "{p:?}");
        assert!((989..=991).contains(&p.p99), "{p:?}");
        assert!((999..=1001).contains(&p.max), "{p:?}");
        assert_eq!(percentiles(&crate::metrics::new_histogram()).count, 0);
    }
}
