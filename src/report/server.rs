//! The `server` section of the summary: what the server under test paid for
//! the load. Memory per connection is the slope of a least-squares fit of its
//! memory against open connections (baseline, the ramp's samples and the start
//! of the traffic, one point per connection count), with R² and the number of
//! points; CPU per message is its CPU time over the traffic divided by the
//! echoes in it. Then what the run left behind, and projections when the slope
//! would hit a limit first.

use serde::{Deserialize, Serialize};

use crate::aggregate::live::{ServerWatch, Totals};

use crate::aggregate::timeline::{ServerPoint, TimelinePoint};
use crate::analysis::fit::{self, Fit};
use crate::analysis::growth;
use crate::cmd::postrun::{AfterRun, FD_SLACK};
use crate::config::scenario::{PhaseKind, Scenario};
use crate::sys::procstat::TreeSample;

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ServerSection {
    pub pid: i32,
    pub name: String,
    /// Processes in its tree (itself and descendants) at the start.
    pub processes: u64,
    /// Before any connection was opened.
    pub baseline_rss_bytes: u64,
    pub baseline_fds: u64,
    pub peak_rss_bytes: u64,
    pub peak_fds: u64,
    pub peak_threads: u64,
    /// User-space memory (RSS of the process tree) per open connection.
    pub memory_per_connection: Option<CostFit>,
    /// Kernel memory per open connection (TCP buffers + slab, system-wide: when the server
    /// runs on this machine it includes the client's end of each connection too).
    pub kernel_memory_per_connection: Option<CostFit>,
    /// CPU (user + system) over the traffic per million echoed messages, seconds.
    pub cpu_s_per_million_msgs: Option<f64>,
    /// CPU over the traffic, in cores (1.0 = one core fully busy).
    pub cpu_busy: Option<f64>,
    /// CPU per connection-second during idle phases, microseconds.
    pub cpu_us_per_connection_second_idle: Option<f64>,
    /// After every connection had closed.
    pub after: Option<AfterRun>,
    /// Leaks and projections, in plain words.
    pub findings: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct CostFit {
    pub bytes_per_connection: f64,
    /// How well a straight line explains the samples (1.0: exactly).
    pub r2: Option<f64>,
    pub points: usize,
}

impl CostFit {
    fn from_fit(f: &Fit) -> CostFit {
        CostFit {
            bytes_per_connection: f.slope.round(),
            r2: Some((f.r2 * 1e3).round() / 1e3),
            points: f.points,
        }
    }
}

/// The line through a ramp's (open connections, value) pairs: the baseline at 0 first, then
/// every time-line point up to the start of the traffic, and the traffic start itself. It uses
/// the points with connections open (the first connections also pay for buffers that are
/// allocated once, which would steepen the line); with fewer than three of those, all points.
fn ramp_fit(points: &[(f64, f64)]) -> Option<Fit> {
    let open: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 > 0.0).collect();
    fit::linear(&open).or_else(|| fit::linear(points))
}

/// [`ramp_fit`] as a cost per connection; with only two points (a burst ramp inside one
/// interval), the slope between them, without R².
fn cost(points: &[(f64, f64)]) -> Option<CostFit> {
    match ramp_fit(points) {
        Some(f) => Some(CostFit::from_fit(&f)),
        None => {
            let (a, b) = (points.first()?, points.last()?);
            (b.0 > a.0).then(|| CostFit {
                bytes_per_connection: ((b.1 - a.1) / (b.0 - a.0)).round(),
                r2: None,
                points: 2,
            })
        }
    }
}

pub fn build(sc: &Scenario, t: &Totals) -> Option<ServerSection> {
    let w: &ServerWatch = t.server.as_ref()?;
    let before = w.before?;
    let ramp = Ramp::sample(t, w, &before);
    let peak = |f: &dyn Fn(&ServerPoint) -> u64, init: u64| {
        t.timeline
            .iter()
            .filter_map(|p| p.server.as_ref())
            .map(f)
            .max()
            .unwrap_or(0)
            .max(init)
    };
    let peak_rss = peak(
        &|s| s.rss_bytes,
        before.rss_bytes.max(w.load_end.map_or(0, |s| s.rss_bytes)),
    );
    let peak_fds = peak(&|s| s.fds, before.fds);
    let mut findings = after_run_findings(w.after.as_ref(), &before, peak_fds);
    findings.extend(memory_growth(t, w.after.as_ref(), before.rss_bytes));
    findings.extend(projections(sc, w, &before, &ramp));
    let (cpu_s_per_million_msgs, cpu_busy) = load_cpu(t, w);
    Some(ServerSection {
        pid: w.pid,
        name: w.name.clone(),
        processes: before.processes,
        baseline_rss_bytes: before.rss_bytes,
        baseline_fds: before.fds,
        peak_rss_bytes: peak_rss,
        peak_fds,
        peak_threads: peak(&|s| s.threads, before.threads),
        memory_per_connection: cost(&ramp.mem),
        kernel_memory_per_connection: cost(&ramp.kern),
        cpu_s_per_million_msgs,
        cpu_busy,
        cpu_us_per_connection_second_idle: idle_cpu(sc, t),
        after: w.after.clone(),
        findings,
    })
}

/// The server's samples against open connections while they were being opened, for the fits:
/// user-space memory, kernel memory and open files, each from its baseline at 0.
struct Ramp {
    mem: Vec<(f64, f64)>,
    kern: Vec<(f64, f64)>,
    fds: Vec<(f64, f64)>,
}

impl Ramp {
    fn sample(t: &Totals, w: &ServerWatch, before: &TreeSample) -> Ramp {
        let traffic_start_s = t.load_start_ns.map(|ns| ns.saturating_sub(t.run_start_ns) as f64 / 1e9);
        let on_ramp = |p: &&TimelinePoint| traffic_start_s.is_none_or(|ts| p.t_s <= ts + 1e-3);
        let mut mem = vec![(0.0, before.rss_bytes as f64)];
        let mut kern = Vec::new();
        if let Some(k) = w.kernel_before {
            kern.push((0.0, (k.tcp_mem_bytes + k.slab_bytes) as f64));
        }
        for p in t.timeline.iter().filter(on_ramp) {
            if let Some(s) = p.server {
                mem.push((p.open as f64, s.rss_bytes as f64));
            }
            if let Some(k) = p.kernel {
                kern.push((p.open as f64, (k.tcp_mem_bytes + k.slab_bytes) as f64));
            }
        }
        if let (Some(l), true) = (w.load, t.open_at_load > 0) {
            mem.push((t.open_at_load as f64, l.rss_bytes as f64));
        }
        let fds: Vec<(f64, f64)> = std::iter::once((0.0, before.fds as f64))
            .chain(
                t.timeline
                    .iter()
                    .filter(on_ramp)
                    .filter_map(|p| p.server.map(|s| (p.open as f64, s.fds as f64))),
            )
            .collect();
        Ramp {
            mem: per_count(&mem),
            kern: per_count(&kern),
            fds: per_count(&fds),
        }
    }
}

/// One point per connection count, the mean of its samples, in order of count. A stepped
/// ramp samples each plateau many times (and its last one only once, as the traffic starts);
/// fitted as they are, the plateaus would weigh by how long they were held, and a jump in
/// memory between two of them (an allocator growing its arena) would steer the whole slope.
fn per_count(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut by_count = std::collections::BTreeMap::<u64, (f64, u32)>::new();
    for &(open, v) in points {
        let e = by_count.entry(open as u64).or_default();
        e.0 += v;
        e.1 += 1;
    }
    by_count
        .into_iter()
        .map(|(open, (sum, n))| (open as f64, sum / n as f64))
        .collect()
}

/// CPU over the traffic: seconds per million echoed messages, and cores busy.
fn load_cpu(t: &Totals, w: &ServerWatch) -> (Option<f64>, Option<f64>) {
    let load_s = match (t.load_start_ns, t.load_end_ns) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    let load_cpu = match (w.load, w.load_end) {
        (Some(a), Some(b)) => Some(b.cpu_total_s() - a.cpu_total_s()),
        _ => None,
    };
    let echoed = t.rec.counters.received_in_load;
    (
        load_cpu
            .filter(|_| echoed > 0)
            .map(|c| round3(c / (echoed as f64 / 1e6))),
        load_cpu.zip(load_s).map(|(c, s)| round3(c / s)),
    )
}

/// What the check after the run found: the server no longer accepts, or kept descriptors.
fn after_run_findings(after: Option<&AfterRun>, before: &TreeSample, peak_fds: u64) -> Vec<String> {
    let mut findings = Vec::new();
    let Some(a) = after else {
        return findings;
    };
    if !a.accepts {
        findings.push(format!(
            "after the run the server no longer accepted a WebSocket connection: {}",
            a.accept_error.as_deref().unwrap_or("unknown error")
        ));
    }
    if a.fds > before.fds + FD_SLACK {
        findings.push(format!(
            "possible descriptor leak: the server still had {} open files {:.1} s after every connection closed (baseline {}, peak {})",
            a.fds, a.settled_after_s, before.fds, peak_fds
        ));
    }
    findings
}

/// Where the ramp's slopes reach the machine's available memory or the server's open-files
/// limit before the scenario's connection count.
fn projections(sc: &Scenario, w: &ServerWatch, before: &TreeSample, ramp: &Ramp) -> Vec<String> {
    let mut findings = Vec::new();
    if let (Some(f), Some(k)) = (ramp_fit(&ramp.mem), w.kernel_before) {
        if let Some(n) = f.x_at(before.rss_bytes as f64 + k.mem_available_bytes as f64) {
            if n < sc.connections as f64 {
                findings.push(format!(
                    "at this slope ({:.0} B per connection, R² {:.2}), the machine's available memory runs out near {:.0} connections",
                    f.slope, f.r2, n
                ));
            }
        }
    }
    if let (Some(f), Some(limit)) = (fit::linear(&ramp.fds), w.fd_limit) {
        if let Some(n) = f.x_at(limit as f64) {
            if n < sc.connections as f64 {
                findings.push(format!(
                    "at this slope ({:.2} files per connection), the server's open-files limit ({limit}) is reached near {:.0} connections",
                    f.slope, n
                ));
            }
        }
    }
    findings
}

/// The "memory keeps growing" finding: only on evidence, i.e. the server's RSS rising through
/// the whole traffic window while the open connections held steady ([`growth::keeps_growing`]).
/// RSS above the baseline after the run is no evidence by itself: allocators keep freed memory.
fn memory_growth(t: &Totals, after: Option<&AfterRun>, baseline: u64) -> Option<String> {
    let (a, b) = (t.load_start_ns?, t.load_end_ns?);
    let (a, b) = (
        a.saturating_sub(t.run_start_ns) as f64 / 1e9,
        b.saturating_sub(t.run_start_ns) as f64 / 1e9,
    );
    let window: Vec<_> = t
        .timeline
        .iter()
        .filter(|p| p.t_s >= a - 1e-3 && p.t_s <= b + 1e-3)
        .filter_map(|p| p.server.map(|s| (p.t_s, s.rss_bytes as f64, p.open)))
        .collect();
    let open: Vec<u64> = window.iter().map(|w| w.2).collect();
    if !growth::steady(&open) {
        return None;
    }
    let samples: Vec<(f64, f64)> = window.iter().map(|w| (w.0, w.1)).collect();
    let g = growth::keeps_growing(&samples)?;
    let after = after.map_or(String::new(), |a| {
        format!(
            "; {} MiB after every connection closed (baseline {} MiB)",
            a.rss_bytes >> 20,
            baseline >> 20
        )
    });
    Some(format!(
        "memory kept growing while the load held steady: RSS {:.1} MiB to {:.1} MiB over {:.0} s ({:.0} KiB/s) with about {} connections open{after}: a leak per message or per connection is likely",
        g.first_bytes / 1048576.0,
        g.last_bytes / 1048576.0,
        g.span_s,
        g.bytes_per_s / 1024.0,
        open.iter().max().copied().unwrap_or(0),
    ))
}

/// CPU per connection-second over the idle phases, from the time-line samples inside them.
fn idle_cpu(sc: &Scenario, t: &Totals) -> Option<f64> {
    let start = t.load_start_ns? as f64 / 1e9 - t.run_start_ns as f64 / 1e9;
    let (mut cpu, mut conn_s) = (0.0, 0.0);
    for p in sc.phases.iter().filter(|p| p.kind == PhaseKind::Idle) {
        let (b, e) = (start + p.start.as_secs_f64(), start + p.end().as_secs_f64());
        let inside: Vec<_> = t
            .timeline
            .iter()
            .filter(|x| x.t_s >= b && x.t_s <= e && x.server.is_some())
            .collect();
        if let (Some(first), Some(last)) = (inside.first(), inside.last()) {
            let dt = last.t_s - first.t_s;
            if dt > 0.0 {
                cpu += last.server?.cpu_s - first.server?.cpu_s;
                conn_s += dt * (first.open + last.open) as f64 / 2.0;
            }
        }
    }
    (conn_s > 0.0).then(|| round3(cpu / conn_s * 1e6))
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::timeline::{ServerPoint, TimelinePoint};
    use crate::metrics::Recorder;
    use crate::sys::procstat::{KernelSample, ProcSample, TreeSample};

    fn point(t_s: f64, open: u64, rss: u64, fds: u64) -> TimelinePoint {
        TimelinePoint {
            t_s,
            open,
            established: open,
            server: Some(ServerPoint {
                cpu_s: t_s,
                rss_bytes: rss,
                fds,
                threads: 1,
            }),
            ..Default::default()
        }
    }

    /// A ramp of 4 points to 400 connections at `per_conn` bytes and `fds_per_conn` files each,
    /// then 1 s of traffic.
    fn totals(per_conn: u64, fds_per_conn: u64, available: u64, fd_limit: u64) -> Totals {
        let tree = |rss: u64, fds: u64, cpu: f64| TreeSample {
            cpu_user_s: cpu,
            rss_bytes: rss,
            fds,
            threads: 1,
            processes: 1,
            ..TreeSample::default()
        };
        let base = 10 << 20;
        let timeline: Vec<TimelinePoint> = (1..=4)
            .map(|i| {
                point(
                    i as f64 * 0.5,
                    i * 100,
                    base + i * 100 * per_conn,
                    10 + i * 100 * fds_per_conn,
                )
            })
            .collect();
        Totals {
            rec: Recorder::default(),
            run_start_ns: 0,
            load_start_ns: Some(2_000_000_000),
            load_end_ns: Some(3_000_000_000),
            end_ns: 4_000_000_000,
            timeline,
            timeline_merges: 0,
            proc_before: ProcSample::default(),
            proc_load: None,
            proc_load_end: None,
            proc_end: ProcSample::default(),
            open_at_load: 400,
            missing_cores: 0,
            interrupted: false,
            aborted_by: None,
            intervals: Vec::new(),
            per_core: Vec::new(),
            run_start_unix_s: 0.0,
            run_start_unix_ns: 0,
            start: None,
            server: Some(ServerWatch {
                pid: 1,
                name: "srv".into(),
                before: Some(tree(base, 10, 0.0)),
                load: Some(tree(base + 400 * per_conn, 10 + 400 * fds_per_conn, 1.0)),
                load_end: Some(tree(base + 400 * per_conn, 10 + 400 * fds_per_conn, 1.5)),
                kernel_before: Some(KernelSample {
                    mem_available_bytes: available,
                    ..KernelSample::default()
                }),
                fd_limit: Some(fd_limit),
                after: None,
            }),
        }
    }

    fn scenario(connections: u64) -> Scenario {
        let mut s = crate::config::scenario::parse::parse("t.toml", "", &[]).unwrap();
        s.connections = connections;
        s
    }

    #[test]
    fn memory_per_connection_is_the_slope_over_the_ramp() {
        let s = build(&scenario(400), &totals(2_000, 1, 1 << 40, 1 << 20)).unwrap();
        let m = s.memory_per_connection.unwrap();
        // 4 counts: the traffic start repeats the last ramp point's 400.
        assert_eq!((m.bytes_per_connection, m.r2, m.points), (2_000.0, Some(1.0), 4));
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.cpu_busy, Some(0.5), "0.5 s of CPU over 1 s of traffic");
    }

    /// A stepped ramp as `wsload serve` showed it in CI: six samples on each of the first two
    /// plateaus, one on the last (the traffic starts with it), and most of the growth between
    /// the first two. Each plateau counts once, so the slope is the one from first to last.
    #[test]
    fn a_plateau_counts_once_however_long_it_was_held() {
        let mut points = vec![(0.0, 6_000_000.0)];
        points.extend([(1000.0, 6_628_000.0); 6]);
        points.extend([(2000.0, 7_312_000.0); 6]);
        points.push((3000.0, 7_460_000.0));
        let m = cost(&per_count(&points)).unwrap();
        assert_eq!((m.bytes_per_connection, m.points), (416.0, 3));
        let unweighted = fit::linear(&points[1..]).unwrap().slope;
        assert!(unweighted > 500.0, "the time-weighted slope was {unweighted}");
    }

    /// `totals` with 6 s of traffic at 400 connections (load 2 s to 8 s, a sample every 0.5 s)
    /// whose server RSS is `rss(t)`, and a server that came back to `after_rss` once closed.
    fn steady_traffic(rss: impl Fn(f64) -> u64, after_rss: u64) -> Totals {
        let mut t = totals(2_000, 1, 1 << 40, 1 << 20);
        for i in 5..=16 {
            let s = i as f64 * 0.5;
            t.timeline.push(point(s, 400, rss(s), 410));
        }
        t.load_end_ns = Some(8_000_000_000);
        let w = t.server.as_mut().unwrap();
        w.after = Some(AfterRun {
            settled_after_s: 0.1,
            accepts: true,
            accept_error: None,
            rss_bytes: after_rss,
            fds: 10,
            threads: 1,
        });
        t
    }

    /// Regression: the clean default run reported "memory did not come back" (server RSS
    /// 14 MiB after, 6 MiB baseline): allocator retention, which levels off, is not a finding.
    #[test]
    fn memory_that_stays_up_but_levels_off_is_no_finding() {
        let base = (10u64 << 20) + 400 * 2_000;
        let t = steady_traffic(|s| base + if s < 3.0 { 4 << 20 } else { 8 << 20 }, 14 << 20);
        let s = build(&scenario(400), &t).unwrap();
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.after.as_ref().unwrap().rss_bytes, 14 << 20);
    }

    #[test]
    fn memory_that_keeps_growing_under_steady_load_is_a_finding() {
        let base = (10u64 << 20) + 400 * 2_000;
        // 1 MiB per second of traffic, never levelling off.
        let t = steady_traffic(|s| base + ((s - 2.0) * 1048576.0) as u64, 20 << 20);
        let s = build(&scenario(400), &t).unwrap();
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        let f = &s.findings[0];
        assert!(f.starts_with("memory kept growing while the load held steady"), "{f}");
        assert!(f.contains("(1024 KiB/s)") && f.contains("about 400 connections"), "{f}");
        assert!(
            f.contains("20 MiB after every connection closed (baseline 10 MiB)"),
            "{f}"
        );
    }

    #[test]
    fn memory_growing_with_the_connections_is_no_finding() {
        // RSS rising because connections are still being added during the traffic is cost
        // per connection, not a leak: the window is not steady.
        let mut t = steady_traffic(|s| (20 << 20) + ((s - 2.0) * 1048576.0) as u64, 20 << 20);
        for (i, p) in t.timeline.iter_mut().filter(|p| p.t_s >= 2.0).enumerate() {
            p.open = 400 + 50 * i as u64;
        }
        let s = build(&scenario(1_000), &t).unwrap();
        assert!(s.findings.is_empty(), "{:?}", s.findings);
    }

    #[test]
    fn projections_name_the_limit_reached_before_the_target() {
        // 1 MiB per connection and 1 GiB available: memory runs out near 1,024 connections.
        let s = build(&scenario(10_000), &totals(1 << 20, 1, 1 << 30, 1 << 20)).unwrap();
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert!(
            s.findings[0].contains("runs out near 1024 connections"),
            "{:?}",
            s.findings
        );
        // 2 files per connection and a limit of 1,000: reached near 495 connections.
        let s = build(&scenario(10_000), &totals(100, 2, 1 << 40, 1_000)).unwrap();
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert!(
            s.findings[0].contains("reached near 495 connections"),
            "{:?}",
            s.findings
        );
        // Both limits lie beyond the target: nothing to say.
        assert!(build(&scenario(400), &totals(1 << 20, 2, 1 << 30, 1_000))
            .unwrap()
            .findings
            .is_empty());
    }
}
