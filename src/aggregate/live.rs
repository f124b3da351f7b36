//! The aggregator: merges per-core snapshots, keeps the time line, prints one
//! progress line per interval, and steps the run through its phases (it gives
//! the go to connect, and starts the load once every core has connected).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use std::collections::BTreeMap;

use super::timeline::{KernelPoint, ServerPoint, Timeline, TimelinePoint, MAX_POINTS};
use crate::config::scenario::{FaultKind, TrafficStart};
use crate::config::RunPlan;
use crate::engine::shard::Control;
use crate::metrics::{new_histogram, Counters, ErrorKind, Recorder, Snapshot};
use crate::sys::procstat::{self, KernelSample, ProcSample, TreeSample};

/// How far ahead of "now" the load start is set, so every core sees it before it is due.
pub const LOAD_START_LEAD: Duration = Duration::from_millis(10);

/// Number of SIGINT/SIGTERM received (set by the signal handler).
pub static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// How long a time-line point waits for a late core's snapshot.
const POINT_GRACE: Duration = Duration::from_millis(100);

/// How far ahead of "now" the run start is set, so every core sees it before it is due.
pub const RUN_START_LEAD: Duration = Duration::from_millis(5);

/// The server under test, sampled around the run (the time line has the samples between).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ServerWatch {
    pub pid: i32,
    /// Its process name (`comm`).
    pub name: String,
    /// Before any connection (baseline), at the start of the traffic and at its end.
    pub before: Option<TreeSample>,
    pub load: Option<TreeSample>,
    pub load_end: Option<TreeSample>,
    pub kernel_before: Option<KernelSample>,
    /// Its soft open-files limit.
    pub fd_limit: Option<u64>,
    /// After every connection closed (set by the run once the cores are done).
    pub after: Option<crate::cmd::postrun::AfterRun>,
}

/// The corrected-latency histogram (nanoseconds) of one time-line interval, serialized with
/// HdrHistogram's V2 deflate encoding (a few hundred bytes to a few KiB each), for latency.hlog.
/// Intervals follow the time line; a last one covers the echoes after the last point (the
/// drain), so that together they hold every corrected latency of the run.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Start, seconds since the start of the run (the time line's clock).
    pub start_s: f64,
    pub length_s: f64,
    pub bytes: Vec<u8>,
}

impl Interval {
    pub fn encode(start_s: f64, end_s: f64, h: &Histogram<u64>) -> Option<Interval> {
        let mut bytes = Vec::new();
        match V2DeflateSerializer::new().serialize(h, &mut bytes) {
            Ok(_) => Some(Interval {
                start_s: start_s.max(0.0),
                length_s: (end_s - start_s.max(0.0)).max(0.0),
                bytes,
            }),
            Err(e) => {
                eprintln!("wsload: cannot encode an interval's latency histogram: {e:?}");
                None
            }
        }
    }
}

/// What the aggregator hands out while the run goes on, besides its progress lines; the
/// caller decides where it goes (latency.hlog on disk, the live metrics endpoint). Called on
/// the aggregator's thread, once per interval: nothing here is per message.
pub trait Watch {
    /// The run's start is fixed: `run_start_unix_s` on the wall clock.
    fn start(&mut self, _run_start_unix_s: f64) {}
    /// One interval's corrected latency (`start_s`..`end_s`, seconds on the run's clock), as its
    /// time-line point is made; at the end, the tail after the last point (the drain).
    fn interval(&mut self, _start_s: f64, _end_s: f64, _corrected: &Histogram<u64>) {}
    /// The merged figures as they stand, after every point and once more at the end.
    fn figures(&mut self, _f: &Figures<'_>) {}
}

/// Nothing watches.
impl Watch for () {}

/// The merged figures as they stand (see [`Watch::figures`]).
pub struct Figures<'a> {
    /// Seconds since the start of the run.
    pub t_s: f64,
    pub run_start_unix_s: f64,
    /// Summed over cores, as at their last snapshots.
    pub counters: &'a Counters,
    /// Histograms over the run so far (its counters are not kept up to date: see `counters`).
    pub hists: &'a Recorder,
    /// The last time-line point (the last interval's rates and latency).
    pub point: Option<&'a TimelinePoint>,
    /// Every core is done: these are the run's final figures, those of summary.json.
    pub last: bool,
}

/// Everything the run gathered, merged over cores. totals.json holds it (see
/// aggregate/merge/raw.rs) but for the time line and the per-interval histograms,
/// which summary.json and latency.hlog hold.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// All cores' recorders merged: histograms over the whole run, counters summed.
    pub rec: Recorder,
    /// Start of the run (the ramp's time 0), ns since the epoch.
    pub run_start_ns: u64,
    /// The same moment on the wall clock, seconds since the Unix epoch.
    pub run_start_unix_s: f64,
    /// The same, nanoseconds since the Unix epoch.
    pub run_start_unix_ns: u64,
    /// How a run with `--start-at` or `--start-in` started.
    pub start: Option<crate::config::fleet::StartRecord>,
    pub load_start_ns: Option<u64>,
    /// When the load phase ended (planned end or Ctrl-C), before the drain.
    pub load_end_ns: Option<u64>,
    pub end_ns: u64,
    #[serde(skip)]
    pub timeline: Vec<TimelinePoint>,
    /// Times the time line's points were merged pairwise (each point covers 2^merges intervals).
    #[serde(skip)]
    pub timeline_merges: u32,
    /// One corrected-latency histogram per time-line interval, plus the tail (see [`Interval`]),
    /// when they are kept in memory (`wsload merge`); a run hands them to its [`Watch`] instead,
    /// which writes them out as they come, and leaves this empty.
    #[serde(skip)]
    pub intervals: Vec<Interval>,
    /// Client process before connecting, at the start of the load, and at the end.
    pub proc_before: ProcSample,
    pub proc_load: Option<ProcSample>,
    pub proc_load_end: Option<ProcSample>,
    pub proc_end: ProcSample,
    /// Connections open when `proc_load` was taken.
    pub open_at_load: u64,
    /// Cores that never reported their end (a crashed thread).
    pub missing_cores: usize,
    /// Each client core's counters at its last snapshot (index = core).
    pub per_core: Vec<Counters>,
    pub interrupted: bool,
    /// Why the run was stopped early by a threshold (abort_on_fail), if it was.
    pub aborted_by: Option<String>,
    pub server: Option<ServerWatch>,
}

impl Totals {
    /// Move every instant onto another clock (`at(ns)`), the recorder's too.
    pub fn shift(&mut self, at: impl Fn(u64) -> u64) {
        self.run_start_ns = at(self.run_start_ns);
        self.load_start_ns = self.load_start_ns.map(&at);
        self.load_end_ns = self.load_end_ns.map(&at);
        self.end_ns = at(self.end_ns);
        self.rec.shift(at);
    }
}

struct PerCore {
    last: Option<Snapshot>,
    done: bool,
}

/// Run the aggregator on this thread until every core is done; `None` if interrupted while
/// waiting for a `--start-at` (the cores have stopped, nothing was opened). `early_stop` looks at the
/// counters every interval and names a reason to stop the load now (a threshold that has
/// failed for good, with abort_on_fail). `watch` gets each interval's latency histogram and the
/// merged figures as they come (what is kept per interval here is the time-line point only).
pub fn aggregate(
    rx: Receiver<Snapshot>,
    ctl: Arc<Control>,
    epoch: Instant,
    plan: &RunPlan,
    server_pid: Option<i32>,
    early_stop: &dyn Fn(&Counters) -> Option<String>,
    watch: &mut dyn Watch,
) -> Option<Totals> {
    let mut a = Aggregator::new(ctl, epoch, plan, server_pid);
    a.baseline();
    if !a.start(&rx, watch) {
        return None;
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(s) => a.receive(s),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if a.cores.iter().all(|c| c.done) {
            break;
        }
        a.check_interrupts();
        a.start_load_when_connected();
        a.note_load_end();
        a.point_when_due(early_stop, watch);
    }
    Some(a.finish(watch))
}

/// The aggregator's state between two snapshots: the merged histograms, the time line being
/// built, and where the run stands (load started, ended, interrupted, stopped early).
struct Aggregator<'a> {
    ctl: Arc<Control>,
    epoch: Instant,
    plan: &'a RunPlan,
    /// The server under test (`--server-pid` or the built-in server), when there is one.
    server: Option<ServerWatch>,
    cores: Vec<PerCore>,
    /// Histograms arrive as deltas and are added up here; counters come cumulative.
    hists: Recorder,
    /// The corrected latency of the interval being gathered.
    window: Histogram<u64>,
    timeline: Timeline,
    /// The counters and time of the last time-line point.
    prev: Counters,
    prev_t: f64,
    next_print: Duration,
    proc_before: ProcSample,
    proc_load: Option<ProcSample>,
    open_at_load: u64,
    load_start_ns: Option<u64>,
    load_end: Option<(u64, ProcSample)>,
    interrupts_seen: usize,
    aborted_by: Option<String>,
    /// The run's start on the epoch's clock, on the wall clock, and how a `--start-at` went.
    run_start: u64,
    run_start_unix_ns: u64,
    start: Option<crate::config::fleet::StartRecord>,
}

impl<'a> Aggregator<'a> {
    fn new(ctl: Arc<Control>, epoch: Instant, plan: &'a RunPlan, server_pid: Option<i32>) -> Self {
        let cores = (0..ctl.cores)
            .map(|_| PerCore {
                last: None,
                done: false,
            })
            .collect();
        Aggregator {
            ctl,
            epoch,
            plan,
            server: server_pid.map(|pid| ServerWatch {
                pid,
                ..ServerWatch::default()
            }),
            cores,
            hists: Recorder::default(),
            window: new_histogram(),
            timeline: Timeline::new(MAX_POINTS),
            prev: Counters::default(),
            prev_t: 0.0,
            next_print: plan.interval,
            proc_before: ProcSample::default(),
            proc_load: None,
            open_at_load: 0,
            load_start_ns: None,
            load_end: None,
            interrupts_seen: 0,
            aborted_by: None,
            run_start: 0,
            run_start_unix_ns: 0,
            start: None,
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn sample_server(&self) -> Option<TreeSample> {
        self.server.as_ref().and_then(|w| procstat::sample_tree(w.pid).ok())
    }

    /// Baseline: every core has its buffers, no connection is open yet.
    fn baseline(&mut self) {
        let waited = Instant::now();
        while self.ctl.ready.load(Ordering::SeqCst) < self.ctl.cores && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.proc_before = procstat::sample_self().unwrap_or_default();
        let before = self.sample_server();
        if let Some(w) = &mut self.server {
            w.before = before;
            w.kernel_before = procstat::kernel_sample().ok();
            w.fd_limit = crate::sys::limits::process_nofile(w.pid);
            w.name = procstat::name(w.pid).unwrap_or_default();
        }
    }

    /// Set the run's start (now, or a `--start-at`) and tell the cores; false if interrupted
    /// while waiting for a `--start-at` (the cores are then stopped before opening anything).
    fn start(&mut self, rx: &Receiver<Snapshot>, watch: &mut dyn Watch) -> bool {
        let (run_start, start) = match self.plan.start_at {
            None => (self.now_ns() + RUN_START_LEAD.as_nanos() as u64, None),
            Some(at) => match wait_for_start(at, self.epoch, self.plan.quiet) {
                Some(s) => s,
                None => {
                    self.stop_before_opening(rx);
                    return false;
                }
            },
        };
        // The run's start on the wall clock, from one reading of both clocks.
        let (mono, wall) = (self.now_ns(), std::time::SystemTime::now());
        self.run_start_unix_ns = match &start {
            Some(r) => r.actual_unix_ns,
            None => (crate::config::fleet::unix_ns(wall) + run_start).saturating_sub(mono),
        };
        (self.run_start, self.start) = (run_start, start);
        watch.start(self.run_start_unix_s());
        if self.plan.scenario.traffic_start == TrafficStart::WithRamp {
            self.ctl.load_start_ns.store(run_start, Ordering::SeqCst);
            self.load_started(run_start, 0, procstat::sample_self().unwrap_or_default());
        }
        self.ctl.run_start_ns.store(run_start, Ordering::SeqCst);
        // Time-line points fall on whole intervals after the start (the cores' tickers too), so
        // the points of shards that started together land on the same instants.
        self.next_print += Duration::from_nanos(run_start);
        true
    }

    fn run_start_unix_s(&self) -> f64 {
        self.run_start_unix_ns as f64 / 1e9
    }

    /// Interrupted while waiting for the start: stop the cores and wait for their last word.
    fn stop_before_opening(&self, rx: &Receiver<Snapshot>) {
        self.ctl.abort.store(true, Ordering::SeqCst);
        self.ctl.stop.store(true, Ordering::SeqCst);
        self.ctl.run_start_ns.store(self.now_ns(), Ordering::SeqCst);
        let mut done = 0;
        while done < self.ctl.cores {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(s) => done += usize::from(s.done),
                Err(_) => break,
            }
        }
    }

    fn receive(&mut self, s: Snapshot) {
        self.hists.add_histograms(&s.rec);
        self.window.add(&s.rec.corrected).expect("same histogram bounds");
        let c = &mut self.cores[s.core];
        c.done |= s.done;
        if let Some(old) = c.last.replace(s) {
            old.recycle();
        }
    }

    fn check_interrupts(&mut self) {
        let irq = INTERRUPTS.load(Ordering::SeqCst);
        if irq > self.interrupts_seen {
            self.interrupts_seen = irq;
            // Two signals may land between two looks: the first always stops the load.
            if !self.ctl.stop.swap(true, Ordering::SeqCst) {
                eprintln!("wsload: interrupted: stopping the load and draining (Ctrl-C again to stop at once)");
            }
            if irq >= 2 && !self.ctl.abort.swap(true, Ordering::SeqCst) {
                eprintln!("wsload: stopping now; writing what was gathered");
            }
        }
    }

    /// The load starts at `at_ns`, `open` connections open; `sample` is this process then.
    fn load_started(&mut self, at_ns: u64, open: u64, sample: ProcSample) {
        self.load_start_ns = Some(at_ns);
        self.proc_load = Some(sample);
        self.open_at_load = open;
        let load = self.sample_server();
        if let Some(w) = &mut self.server {
            w.load = load;
        }
    }

    /// Start the load once every core has finished connecting, a little ahead so that every
    /// core has seen the start before the first message is due.
    fn start_load_when_connected(&mut self) {
        if self.load_start_ns.is_none() && self.ctl.connected.load(Ordering::SeqCst) == self.ctl.cores {
            let sample = procstat::sample_self().unwrap_or_default();
            let start = self.now_ns() + LOAD_START_LEAD.as_nanos() as u64;
            self.ctl.load_start_ns.store(start, Ordering::SeqCst);
            let open = self.ctl.open_at_barrier.load(Ordering::SeqCst) as u64;
            self.load_started(start, open, sample);
        }
    }

    /// Note the end of the load phase (planned, or cut short by Ctrl-C) for per-second figures.
    fn note_load_end(&mut self) {
        if let (Some(start), None) = (self.load_start_ns, self.load_end) {
            let now = self.now_ns();
            let planned_end = start.saturating_add(self.plan.scenario.traffic_duration().as_nanos() as u64);
            if now >= planned_end || (self.ctl.stop.load(Ordering::SeqCst) && now > start) {
                self.load_ended(now, procstat::sample_self().unwrap_or_default());
            }
        }
    }

    fn load_ended(&mut self, at_ns: u64, sample: ProcSample) {
        self.load_end = Some((at_ns, sample));
        let end = self.sample_server();
        if let Some(w) = &mut self.server {
            w.load_end = end;
        }
    }

    /// A point per tick, once every running core has sent its snapshot for that tick (the
    /// cores' tickers fire on the same epoch multiples), or after a grace period.
    fn point_when_due(&mut self, early_stop: &dyn Fn(&Counters) -> Option<String>, watch: &mut dyn Watch) {
        let elapsed = self.epoch.elapsed();
        let tick_ns = self.next_print.as_nanos() as u64;
        let caught_up = self
            .cores
            .iter()
            .all(|c| c.done || c.last.as_ref().is_some_and(|s| s.at_ns >= tick_ns));
        if elapsed < self.next_print || !(caught_up || elapsed >= self.next_print + POINT_GRACE) {
            return;
        }
        self.next_print += self.plan.interval;
        while self.next_print + POINT_GRACE <= elapsed {
            self.next_print += self.plan.interval;
        }
        let t = (tick_ns as f64 - self.run_start as f64) / 1e9;
        let total = sum(&self.cores);
        let point = self.point(t, &total);
        self.stop_early(early_stop, &total);
        if !self.plan.quiet {
            progress_line(&point);
        }
        watch.interval(self.prev_t, t, &self.window);
        watch.figures(&Figures {
            t_s: point.t_s,
            run_start_unix_s: self.run_start_unix_s(),
            counters: &total,
            hists: &self.hists,
            point: Some(&point),
            last: false,
        });
        self.timeline.push(point);
        self.window.reset();
        self.prev = total;
        self.prev_t = t;
    }

    /// The time-line point of the interval from the last point to `t` (seconds after the start).
    fn point(&self, t: f64, total: &Counters) -> TimelinePoint {
        let (prev, window) = (&self.prev, &self.window);
        let dt = (t - self.prev_t).max(1e-9);
        let q = |q: f64| window.value_at_quantile(q) as f64 / 1e3;
        TimelinePoint {
            t_s: (t * 1e3).round() / 1e3,
            open: total.open,
            established: total.established,
            connects_per_s: (total.established - prev.established) as f64 / dt,
            sent_per_s: (total.sent - prev.sent) as f64 / dt,
            received_per_s: (total.received - prev.received) as f64 / dt,
            dropped: (total.dropped + total.ended_by_fault).saturating_sub(prev.dropped + prev.ended_by_fault),
            errors: total.error_total(),
            errors_new: ErrorKind::ALL
                .iter()
                .map(|k| {
                    (
                        k.key().to_string(),
                        total.errors[*k as usize] - prev.errors[*k as usize],
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
            faults_new: FaultKind::ALL
                .iter()
                .enumerate()
                .map(|(i, k)| (k.key().to_string(), total.faults[i] - prev.faults[i]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            proxy_new: BTreeMap::new(),
            server: self.sample_server().map(ServerPoint::from),
            kernel: self
                .server
                .as_ref()
                .and_then(|_| procstat::kernel_sample().ok())
                .map(KernelPoint::from),
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p99_9_us: q(0.999),
            max_us: window.max() as f64 / 1e3,
        }
    }

    /// Stop the load now when a threshold has failed for good (abort_on_fail) or nothing will
    /// open another connection.
    fn stop_early(&mut self, early_stop: &dyn Fn(&Counters) -> Option<String>, total: &Counters) {
        if self.aborted_by.is_some() || self.ctl.stop.load(Ordering::SeqCst) {
            return;
        }
        let why = if let Some(why) = early_stop(total) {
            eprintln!("wsload: stopping early (abort_on_fail): {why}");
            why
        } else if self.ctl.exhausted.load(Ordering::SeqCst) == self.ctl.cores {
            let why = "every connection is down and nothing will open another \
                       (no reconnect policy, or it gave up; set `reconnect` in the scenario to keep trying)"
                .to_string();
            eprintln!("wsload: stopping early: {why}");
            why
        } else {
            return;
        };
        self.ctl.stop.store(true, Ordering::SeqCst);
        self.aborted_by = Some(why);
    }

    /// Every core is done: the last partial interval, the final figures, the totals.
    fn finish(mut self, watch: &mut dyn Watch) -> Totals {
        let end_ns = self.now_ns();
        let end_s = (end_ns as f64 - self.run_start as f64) / 1e9;
        if !self.window.is_empty() {
            watch.interval(self.prev_t, end_s.max(self.prev_t), &self.window);
        }
        let proc_end = procstat::sample_self().unwrap_or_default();
        if self.load_start_ns.is_some() && self.load_end.is_none() {
            self.load_ended(end_ns, proc_end);
        }
        let run_start_unix_s = self.run_start_unix_s();
        let mut rec = self.hists;
        for s in self.cores.iter().filter_map(|c| c.last.as_ref()) {
            rec.add_cumulative(&s.rec);
        }
        watch.figures(&Figures {
            t_s: (end_s * 1e3).round() / 1e3,
            run_start_unix_s,
            counters: &rec.counters,
            hists: &rec,
            point: self.timeline.points.last(),
            last: true,
        });
        Totals {
            rec,
            run_start_ns: self.run_start,
            run_start_unix_s,
            run_start_unix_ns: self.run_start_unix_ns,
            start: self.start,
            load_start_ns: self.load_start_ns,
            load_end_ns: self.load_end.map(|(t, _)| t),
            end_ns,
            timeline_merges: self.timeline.merges,
            timeline: self.timeline.points,
            intervals: Vec::new(),
            proc_before: self.proc_before,
            proc_load: self.proc_load,
            proc_load_end: self.load_end.map(|(_, p)| p),
            proc_end,
            open_at_load: self.open_at_load,
            missing_cores: self.cores.iter().filter(|c| !c.done).count(),
            per_core: self
                .cores
                .iter()
                .map(|c| c.last.as_ref().map_or_else(Counters::default, |s| s.rec.counters))
                .collect(),
            interrupted: self.interrupts_seen > 0,
            aborted_by: self.aborted_by,
            server: self.server,
        }
    }
}

/// Wait until `at` on the wall clock (interruptible by Ctrl-C), then return the run's start on
/// the epoch's monotonic clock and how the start went; `None` if interrupted. The wait ends a
/// little ahead so that the cores, which sleep on the monotonic clock, start at `at` itself.
fn wait_for_start(
    at: std::time::SystemTime,
    epoch: Instant,
    quiet: bool,
) -> Option<(u64, Option<crate::config::fleet::StartRecord>)> {
    use crate::config::fleet::{rfc3339, unix_ns};
    let began = Instant::now();
    if !quiet {
        let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        eprintln!(
            "wsload: waiting for the start at {} ({:.1} s from now; Ctrl-C to give up)",
            rfc3339(at),
            left.as_secs_f64()
        );
    }
    let lead = RUN_START_LEAD + Duration::from_millis(2);
    loop {
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            eprintln!("wsload: interrupted before the start: nothing was run");
            return None;
        }
        let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        if left <= lead {
            break;
        }
        std::thread::sleep((left - lead).min(Duration::from_millis(20)));
    }
    let (mono, wall) = (epoch.elapsed().as_nanos() as u64, std::time::SystemTime::now());
    // Late (the set-up took longer than the time left): start as soon as the cores can.
    let ahead = at.duration_since(wall).map_or(0, |d| d.as_nanos() as u64);
    let run_start = mono + ahead.max(Duration::from_millis(1).as_nanos() as u64);
    let actual = (unix_ns(wall) + run_start).saturating_sub(mono);
    let late_ns = actual.saturating_sub(unix_ns(at));
    if late_ns > Duration::from_millis(1).as_nanos() as u64 {
        eprintln!(
            "wsload: warning: starting {:.3} s after the requested {}",
            late_ns as f64 / 1e9,
            rfc3339(at)
        );
    }
    let record = crate::config::fleet::StartRecord {
        requested_unix_ns: unix_ns(at),
        actual_unix_ns: actual,
        late_ns,
        waited_s: (began.elapsed().as_secs_f64() * 1e3).round() / 1e3,
        clock: crate::sys::clock::status(),
    };
    Some((run_start, Some(record)))
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
    if !p.faults_new.is_empty() {
        let f: Vec<String> = p.faults_new.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(err, "          injected: {}", f.join(", "));
    }
}
