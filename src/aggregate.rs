//! The aggregator: merges per-core snapshots, keeps the time line, prints one
//! progress line per interval, and steps the run through its phases (it gives
//! the go to connect, and starts the load once every core has connected).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::metrics::{new_histogram, Counters, Recorder, Snapshot};
use crate::shard::Control;
use crate::sys::procstat::{self, ProcSample};

/// How far ahead of "now" the load start is set, so every core sees it before it is due.
pub const LOAD_START_LEAD: Duration = Duration::from_millis(10);

/// Number of SIGINT/SIGTERM received (set by the signal handler).
pub static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// One point of the time line (per interval).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimelinePoint {
    pub t_s: f64,
    pub open: u64,
    pub established: u64,
    pub connects_per_s: f64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    pub errors: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Everything the run gathered, merged over cores.
pub struct Totals {
    /// All cores' recorders merged: histograms over the whole run, counters summed.
    pub rec: Recorder,
    pub load_start_ns: Option<u64>,
    /// When the load phase ended (planned end or Ctrl-C), before the drain.
    pub load_end_ns: Option<u64>,
    pub end_ns: u64,
    pub timeline: Vec<TimelinePoint>,
    /// Client process before connecting, at the start of the load, and at the end.
    pub proc_before: ProcSample,
    pub proc_load: Option<ProcSample>,
    pub proc_load_end: Option<ProcSample>,
    pub proc_end: ProcSample,
    /// Connections open when `proc_load` was taken.
    pub open_at_load: u64,
    /// Cores that never reported their end (a crashed thread).
    pub missing_cores: usize,
    pub interrupted: bool,
}

struct PerCore {
    last: Option<Snapshot>,
    done: bool,
}

/// Run the aggregator on this thread until every core is done. `duration` is the planned
/// load phase, used to note when it ends.
pub fn aggregate(
    rx: Receiver<Snapshot>,
    ctl: Arc<Control>,
    epoch: Instant,
    interval: Duration,
    duration: Duration,
    quiet: bool,
) -> Totals {
    let n = ctl.cores;
    let mut cores: Vec<PerCore> = (0..n)
        .map(|_| PerCore {
            last: None,
            done: false,
        })
        .collect();
    // Histograms arrive as deltas and are added up here; counters come cumulative.
    let mut hists = Recorder::default();
    let mut window = new_histogram();
    let mut timeline = Vec::new();
    let mut prev = Counters::default();
    let mut prev_t = 0.0f64;
    let mut next_print = interval;
    // Baseline: every core has its buffers, no connection is open yet.
    let waited = Instant::now();
    while ctl.ready.load(Ordering::SeqCst) < n && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let proc_before = procstat::sample_self().unwrap_or_default();
    let mut proc_load = None;
    let mut open_at_load = 0;
    let mut load_start_ns = None;
    let mut load_end: Option<(u64, ProcSample)> = None;
    let mut interrupts_seen = 0;
    ctl.go.store(true, Ordering::SeqCst);

    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(s) => {
                hists.add_histograms(&s.rec);
                window.add(&s.rec.corrected).expect("same histogram bounds");
                let c = &mut cores[s.core];
                c.done |= s.done;
                c.last = Some(s);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if cores.iter().all(|c| c.done) {
            break;
        }

        let irq = INTERRUPTS.load(Ordering::SeqCst);
        if irq > interrupts_seen {
            interrupts_seen = irq;
            // Two signals may land between two looks: the first always stops the load.
            if !ctl.stop.swap(true, Ordering::SeqCst) {
                eprintln!("wsload: interrupted: stopping the load and draining (Ctrl-C again to stop at once)");
            }
            if irq >= 2 && !ctl.abort.swap(true, Ordering::SeqCst) {
                eprintln!("wsload: stopping now; writing what was gathered");
            }
        }

        // Start the load once every core has finished connecting, a little ahead so
        // that every core has seen the start before the first message is due.
        if load_start_ns.is_none() && ctl.connected.load(Ordering::SeqCst) == n {
            let p = procstat::sample_self().unwrap_or_default();
            let start = epoch.elapsed().as_nanos() as u64 + LOAD_START_LEAD.as_nanos() as u64;
            ctl.load_start_ns.store(start, Ordering::SeqCst);
            load_start_ns = Some(start);
            proc_load = Some(p);
            open_at_load = ctl.open_at_barrier.load(Ordering::SeqCst) as u64;
        }
        // Note the end of the load phase (planned, or cut short by Ctrl-C) for per-second figures.
        if let (Some(start), None) = (load_start_ns, load_end) {
            let now = epoch.elapsed().as_nanos() as u64;
            if now >= start.saturating_add(duration.as_nanos() as u64)
                || (ctl.stop.load(Ordering::SeqCst) && now > start)
            {
                load_end = Some((now, procstat::sample_self().unwrap_or_default()));
            }
        }

        let elapsed = epoch.elapsed();
        if elapsed >= next_print {
            next_print += interval;
            while next_print <= elapsed {
                next_print += interval;
            }
            let t = elapsed.as_secs_f64();
            let total = sum(&cores);
            let dt = (t - prev_t).max(1e-9);
            let point = TimelinePoint {
                t_s: t,
                open: total.open,
                established: total.established,
                connects_per_s: (total.established - prev.established) as f64 / dt,
                sent_per_s: (total.sent - prev.sent) as f64 / dt,
                received_per_s: (total.received - prev.received) as f64 / dt,
                errors: total.error_total(),
                p50_us: window.value_at_quantile(0.5) as f64 / 1e3,
                p99_us: window.value_at_quantile(0.99) as f64 / 1e3,
            };
            if !quiet {
                progress_line(&point);
            }
            timeline.push(point);
            window.reset();
            prev = total;
            prev_t = t;
        }
    }

    let end_ns = epoch.elapsed().as_nanos() as u64;
    let proc_end = procstat::sample_self().unwrap_or_default();
    if load_start_ns.is_some() && load_end.is_none() {
        load_end = Some((end_ns, proc_end));
    }
    let mut rec = hists;
    for s in cores.iter().filter_map(|c| c.last.as_ref()) {
        rec.add_cumulative(&s.rec);
    }
    Totals {
        rec,
        load_start_ns,
        load_end_ns: load_end.map(|(t, _)| t),
        end_ns,
        timeline,
        proc_before,
        proc_load,
        proc_load_end: load_end.map(|(_, p)| p),
        proc_end,
        open_at_load,
        missing_cores: cores.iter().filter(|c| !c.done).count(),
        interrupted: interrupts_seen > 0,
    }
}

fn sum(cores: &[PerCore]) -> Counters {
    let mut total = Counters::default();
    for s in cores.iter().filter_map(|c| c.last.as_ref()) {
        total.add(&s.rec.counters);
    }
    total
}

fn progress_line(p: &TimelinePoint) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "[{:>6.1}s] open {:>6}  conn/s {:>7.0}  sent/s {:>9.0}  recv/s {:>9.0}  p50 {:>8.1}us  p99 {:>8.1}us  errors {}",
        p.t_s, p.open, p.connects_per_s, p.sent_per_s, p.received_per_s, p.p50_us, p.p99_us, p.errors
    );
}
