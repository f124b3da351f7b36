//! `summary.json` (schema `wsload.summary.v1`): the [`Summary`] (its types are in model.rs)
//! built once from the merged totals, then rendered as JSON or as text.

use super::model::{
    percentiles, ClientSection, ConnSection, CoreSection, ErrorNote, FaultNote, FaultSection, LatencySection,
    MsgSection, PhaseWindow, RecoverySection, RunEcho, ShardEcho, Summary, TlsSection, TypeSection,
};
use crate::aggregate::live::Totals;
use crate::config::scenario::{FaultKind, PhaseKind, Reconnect, Scenario};
use crate::config::RunPlan;
use crate::metrics::ErrorKind;

/// "TLS 1.3", "TLS 1.2", or "TLS 1.3 (n), TLS 1.2 (m)" for `done` handshakes of which `tls13`
/// were TLS 1.3; `None` when there was none.
fn tls_version(done: u64, tls13: u64) -> Option<String> {
    match (done, tls13) {
        (0, _) => None,
        (d, t) if t == d => Some("TLS 1.3".into()),
        (_, 0) => Some("TLS 1.2".into()),
        (d, t) => Some(format!("TLS 1.3 ({t}), TLS 1.2 ({})", d - t)),
    }
}

/// p99 send delay (µs) from which the summary warns that the client could not keep its schedule
/// (the same limit makes the readiness verdict inconclusive).
pub const SEND_DELAY_WARN_US: u64 = crate::analysis::readiness::CLIENT_LAG_P99_US;

impl Summary {
    pub fn build(plan: &RunPlan, target: &str, t: &Totals) -> Summary {
        let c = &t.rec.counters;
        let sc = &plan.scenario;
        let load_s = load_seconds(t);
        let rel = |ns: u64| round3(ns.saturating_sub(t.run_start_ns) as f64 / 1e9);
        let mut summary = Summary {
            schema: "wsload.summary.v1".into(),
            wsload_version: env!("CARGO_PKG_VERSION").into(),
            target: target.to_string(),
            builtin_server: sc.target.is_none(),
            partial: t.interrupted || t.missing_cores > 0,
            partial_reason: None,
            started_at_unix_s: round3(t.run_start_unix_s),
            started_at_unix_ns: t.run_start_unix_ns,
            shard: shard_echo(plan),
            start: t.start,
            duration_s: round3(load_s),
            scenario: sc.clone(),
            run: run_echo(plan, t),
            traffic_start_s: t.load_start_ns.map(rel),
            phases: phase_windows(sc, t, &rel),
            connections: conn_section(plan, t),
            messages: msg_section(t, load_s),
            latency_us: latency_section(t),
            tls: tls_section(sc, t),
            message_types: type_sections(sc, t),
            recovery: recovery_section(sc, t),
            faults: fault_section(sc, t, &rel),
            proxy: None,
            thresholds: Vec::new(),
            thresholds_passed: None,
            aborted_by: t.aborted_by.clone(),
            errors: ErrorKind::ALL
                .iter()
                .map(|k| (k.key().into(), c.errors[*k as usize]))
                .collect(),
            upgrade_status: t
                .rec
                .upgrade_status
                .0
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            close_codes: t.rec.close_codes.0.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            first_errors: first_errors(t),
            client: client_section(plan, t, load_s),
            cores: core_sections(plan, t),
            server: super::server::build(sc, t),
            wire: super::wire::build(sc, &c.wire, c.received, c.received_in_load, load_s),
            analysis: None,
            merge: None,
            timeline: t.timeline.clone(),
        };
        // A shard's figures are a part of the run's: `wsload merge` evaluates the thresholds
        // on the whole (counts such as `connections.established >= N` would fail here).
        if !sc.thresholds.is_empty() && plan.shard.count == 1 {
            let v = super::verdict::evaluate(sc, &summary);
            summary.thresholds_passed = Some(v.iter().all(|v| v.pass));
            summary.thresholds = v;
        }
        summary
    }

    /// Did every connection open and every message come back intact?
    pub fn clean(&self) -> bool {
        let m = &self.messages;
        // With churn or reconnection more than `target` are established over the run.
        self.connections.established >= self.connections.target
            && self.connections.failed == 0
            && self.connections.dropped == 0
            && m.lost == 0
            && m.corrupted == 0
            && m.duplicated == 0
            && m.out_of_order == 0
            && self.wire.subscribe.as_ref().is_none_or(|p| p.gaps == 0)
    }
}

fn phase_kind(k: &PhaseKind) -> &'static str {
    match k {
        PhaseKind::Sustained { .. } => "sustained",
        PhaseKind::Burst { .. } => "burst",
        PhaseKind::Ramp { .. } => "ramp",
        PhaseKind::Idle => "idle",
        PhaseKind::InFlight { .. } => "in-flight",
    }
}

/// The load window: from the start of the load to its end (planned or Ctrl-C), drain excluded.
fn load_seconds(t: &Totals) -> f64 {
    match (t.load_start_ns, t.load_end_ns) {
        (Some(s), Some(e)) => e.saturating_sub(s) as f64 / 1e9,
        _ => 0.0,
    }
}

fn shard_echo(plan: &RunPlan) -> ShardEcho {
    let ids = RunPlan::share(plan.scenario.connections, plan.shard.index, plan.shard.count);
    ShardEcho {
        index: plan.shard.index,
        count: plan.shard.count,
        connection_ids: [ids.start, ids.end],
    }
}

fn run_echo(plan: &RunPlan, t: &Totals) -> RunEcho {
    RunEcho {
        client_cpus: plan.client_cpus.clone(),
        server_cpu: plan.server_cpu,
        interval_s: plan.interval.as_secs_f64(),
        timeline_step_s: plan.interval.as_secs_f64() * f64::from(1u32 << t.timeline_merges.min(31)),
    }
}

/// The traffic phases on the time line's clock (none when the load never started).
fn phase_windows(sc: &Scenario, t: &Totals, rel: &dyn Fn(u64) -> f64) -> Vec<PhaseWindow> {
    let Some(ls) = t.load_start_ns else {
        return Vec::new();
    };
    sc.phases
        .iter()
        .map(|p| PhaseWindow {
            name: p.name.clone(),
            kind: phase_kind(&p.kind).into(),
            start_s: rel(ls + p.start.as_nanos() as u64),
            end_s: rel(ls + p.end().as_nanos() as u64),
        })
        .collect()
}

fn conn_section(plan: &RunPlan, t: &Totals) -> ConnSection {
    let c = &t.rec.counters;
    let time_to_all = match (t.rec.first_connect_ns, t.rec.last_established_ns) {
        (Some(a), Some(b)) if b >= a => (b - a) as f64 / 1e9,
        _ => 0.0,
    };
    ConnSection {
        target: plan.connections_here(),
        established: c.established,
        failed: c.connect_failed,
        not_attempted: plan.connections_here().saturating_sub(c.connect_attempts),
        peak_open: t.timeline.iter().map(|p| p.open).max().unwrap_or(0).max(t.open_at_load),
        dropped: c.dropped,
        ramped_down: c.ramped_down,
        connect_rate_per_s: round3(if time_to_all > 0.0 {
            c.established as f64 / time_to_all
        } else {
            0.0
        }),
        time_to_all_s: round3(time_to_all),
    }
}

fn msg_section(t: &Totals, load_s: f64) -> MsgSection {
    let c = &t.rec.counters;
    MsgSection {
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
    }
}

fn latency_section(t: &Totals) -> LatencySection {
    LatencySection {
        corrected: percentiles(&t.rec.corrected),
        uncorrected: percentiles(&t.rec.uncorrected),
        connect: percentiles(&t.rec.connect_time),
        tcp_connect: percentiles(&t.rec.tcp_time),
        tls_handshake: percentiles(&t.rec.tls_time),
        upgrade: percentiles(&t.rec.upgrade_time),
    }
}

/// wss:// targets only.
fn tls_section(sc: &Scenario, t: &Totals) -> Option<TlsSection> {
    let c = &t.rec.counters;
    sc.target.as_ref().filter(|tg| tg.tls).map(|_| {
        let done = c.tls_full + c.tls_resumed;
        TlsSection {
            insecure: sc.tls.insecure,
            ca: sc.tls.ca.as_ref().map(|p| p.display().to_string()),
            full_handshakes: c.tls_full,
            resumed_handshakes: c.tls_resumed,
            resumed_share: (done > 0).then(|| round3(c.tls_resumed as f64 / done as f64)),
            version: tls_version(done, c.tls13),
        }
    })
}

fn type_sections(sc: &Scenario, t: &Totals) -> Vec<TypeSection> {
    sc.messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let st = t.rec.types.get(i);
            TypeSection {
                name: m.name.clone(),
                sent: st.map_or(0, |s| s.sent),
                received: st.map_or(0, |s| s.received),
                latency_us: st.map_or_else(
                    || percentiles(&crate::metrics::new_histogram()),
                    |s| percentiles(&s.latency),
                ),
            }
        })
        .collect()
}

fn first_errors(t: &Totals) -> Vec<ErrorNote> {
    let c = &t.rec.counters;
    t.rec
        .first_errors
        .iter()
        .map(|(k, m)| ErrorNote {
            kind: k.key().into(),
            count: c.errors[*k as usize],
            first: m.clone(),
            advice: k.advice().into(),
        })
        .collect()
}

fn client_section(plan: &RunPlan, t: &Totals, load_s: f64) -> ClientSection {
    let c = &t.rec.counters;
    let load_cpu = match (t.proc_load, t.proc_load_end) {
        (Some(a), Some(b)) => Some(b.cpu_total_s() - a.cpu_total_s()),
        _ => None,
    };
    let cpu = load_cpu
        .filter(|_| c.received_in_load > 0)
        .map(|s| s / (c.received_in_load as f64 / 1e6));
    let busy = load_cpu
        .filter(|_| load_s > 0.0)
        .map(|s| round3(s / (load_s * plan.client_cpus.len() as f64)));
    let send_delay = percentiles(&t.rec.send_delay);
    let mut warnings = Vec::new();
    // CPU busy alone is no sign of saturation (much of it is the kernel's per-packet work,
    // which grows with the rate). Lag against the schedule is the sign.
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
    ClientSection {
        cpu_user_s: round3(t.proc_end.cpu_user_s),
        cpu_sys_s: round3(t.proc_end.cpu_sys_s),
        cpu_s_per_million_msgs: cpu.map(round3),
        peak_rss_bytes: t.proc_end.peak_rss_bytes,
        rss_per_connection_bytes: rss_per_conn,
        cpu_busy: busy,
        send_delay_us: send_delay,
        warnings,
    }
}

fn core_sections(plan: &RunPlan, t: &Totals) -> Vec<CoreSection> {
    t.per_core
        .iter()
        .enumerate()
        .map(|(i, c)| CoreSection {
            core: i,
            cpu: plan.client_cpus.get(i).copied().unwrap_or(0),
            established: c.established,
            connect_failed: c.connect_failed,
            dropped: c.dropped,
            sent: c.sent,
            received: c.received,
            lost: c.lost,
            errors: c.error_total(),
        })
        .collect()
}

fn recovery_section(sc: &Scenario, t: &Totals) -> RecoverySection {
    let c = &t.rec.counters;
    let drops = c.dropped + c.ended_by_fault;
    let secs = |ns: u64| round3(ns as f64 / 1e9);
    RecoverySection {
        policy: match sc.reconnect {
            Reconnect::Off => "off",
            Reconnect::Immediate => "immediate",
            Reconnect::Backoff { .. } => "backoff",
        }
        .into(),
        drops,
        reconnected: c.recovered,
        within_s: sc.recovered_within.as_secs_f64(),
        reconnected_within: c.recovered_in_time,
        unrecovered: t.rec.unrecovered,
        time_to_reconnect_us: percentiles(&t.rec.recovery),
        longest_outage_s: secs(t.rec.longest_outage_ns),
        availability: (c.wanted_ns > 0).then(|| (c.up_ns as f64 / c.wanted_ns as f64).min(1.0)),
        mtbf_s: (drops > 0).then(|| secs(c.up_ns / drops)),
        mttr_s: (c.recovered > 0).then(|| round3(t.rec.recovery.mean() / 1e9)),
        lost_by_drop: c.lost_by_drop,
        churned: c.churned,
        skipped: c.skipped,
    }
}

/// Injections of the same fault at the same moment on several cores are one event.
fn fault_section(sc: &Scenario, t: &Totals, rel: &dyn Fn(u64) -> f64) -> FaultSection {
    let c = &t.rec.counters;
    let mut events: Vec<FaultNote> = Vec::new();
    // (fault index, first injection time) of each note, to merge the cores' injections.
    let mut keys: Vec<(u16, u64)> = Vec::new();
    for e in &t.rec.fault_log {
        let same = keys
            .iter()
            .rposition(|&(f, at)| f == e.fault && e.at_ns.saturating_sub(at) < 50_000_000);
        match same {
            Some(i) => events[i].connections += e.connections as u64,
            None => {
                keys.push((e.fault, e.at_ns));
                events.push(FaultNote {
                    t_s: rel(e.at_ns),
                    kind: sc.faults.get(e.fault as usize).map_or("?", |f| f.kind.key()).into(),
                    connections: e.connections as u64,
                });
            }
        }
    }
    FaultSection {
        injected: FaultKind::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| c.faults[*i] > 0)
            .map(|(i, k)| (k.key().into(), c.faults[i]))
            .collect(),
        ended_connections: c.ended_by_fault,
        events,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_version_names_the_protocol_and_a_mix() {
        assert_eq!(tls_version(0, 0), None);
        assert_eq!(tls_version(5, 5).as_deref(), Some("TLS 1.3"));
        assert_eq!(tls_version(5, 0).as_deref(), Some("TLS 1.2"));
        assert_eq!(tls_version(5, 3).as_deref(), Some("TLS 1.3 (3), TLS 1.2 (2)"));
    }

    use crate::aggregate::live::Totals;
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
            run_start_ns: 0,
            run_start_unix_s: 0.0,
            run_start_unix_ns: 0,
            start: None,
            aborted_by: None,
            load_start_ns: Some(1_000_000_000),
            load_end_ns: Some(3_000_000_000),
            end_ns: 4_000_000_000,
            timeline: Vec::new(),
            timeline_merges: 0,
            intervals: Vec::new(),
            per_core: Vec::new(),
            proc_before: ProcSample::default(),
            proc_load: Some(cpu(1.0)),
            proc_load_end: Some(cpu(2.0)),
            proc_end: cpu(2.5),
            open_at_load: 10,
            missing_cores: 0,
            interrupted: false,
            server: None,
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
