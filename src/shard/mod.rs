//! Code that runs on one pinned core: its share of the connections, the pacer,
//! the shared buffers, and the control loop that walks the phases of a run.
//!
//! Phases: connect → (barrier: every core has finished connecting) → load →
//! drain (no new messages; wait for outstanding echoes) → abort (whatever is
//! still open is counted and dropped). A snapshot goes to the aggregator every
//! interval and once more at the end.

mod conn;
mod connect;
pub mod pacer;
pub mod seq;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use glommio::{timer::sleep, LocalExecutorBuilder, Placement};

use crate::config::{Load, RunPlan};
use crate::metrics::{Recorder, Snapshot};
use crate::proto::payload;
use pacer::{Roster, Schedule};

/// Shared read buffer per core: one read never takes more than this.
pub const READ_BUF: usize = 64 * 1024;
/// io_uring locked memory per executor (the 8 MiB memlock limit must hold several).
pub const IO_MEMORY: usize = 64 * 1024;
/// io_uring submission ring depth per executor. Measured: 256, 1,024 and 4,096 give the same
/// throughput and CPU with 10,000 connections, so the smallest is kept.
pub const RING_DEPTH: usize = 256;

/// How long the close handshakes may take after the drain.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Cross-thread control of a run: a handful of atomics, touched a few times per second.
#[derive(Debug)]
pub struct Control {
    /// Cores that have allocated their buffers and wait for `go`.
    pub ready: AtomicUsize,
    /// The aggregator has taken its baseline sample: cores may start connecting.
    pub go: AtomicBool,
    /// Stop generating load (Ctrl-C): go to the drain phase.
    pub stop: AtomicBool,
    /// Stop now (second Ctrl-C): skip the drain.
    pub abort: AtomicBool,
    /// Cores that have finished their connect phase.
    pub connected: AtomicUsize,
    /// Connections open when their core finished connecting (summed over cores).
    pub open_at_barrier: AtomicUsize,
    pub cores: usize,
    /// Start of the load phase, ns since the epoch; `u64::MAX` until every core has
    /// connected and the aggregator has set it.
    pub load_start_ns: AtomicU64,
}

impl Control {
    pub fn new(cores: usize) -> Control {
        Control {
            ready: AtomicUsize::new(0),
            go: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            connected: AtomicUsize::new(0),
            open_at_barrier: AtomicUsize::new(0),
            cores,
            load_start_ns: AtomicU64::new(u64::MAX),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Connect,
    Load,
    /// No new messages; waiting for outstanding echoes (nothing else on the wire, so the
    /// last latencies are not delayed by the close handshakes of other connections).
    Drain,
    /// Close handshakes.
    Close,
    Abort,
}

/// What one core needs to run its share.
#[derive(Debug, Clone)]
pub struct CorePlan {
    pub index: usize,
    pub cpu: usize,
    pub ids: std::ops::Range<u64>,
    pub addr: SocketAddr,
    /// The upgrade request's Host header and path.
    pub host_header: String,
    pub path: String,
    pub run: Arc<RunPlan>,
}

/// State shared by the connections of one core (single-threaded: `Rc`, `Cell`, `RefCell`).
pub struct Shard {
    pub plan: CorePlan,
    pub epoch: Instant,
    pub rec: RefCell<Recorder>,
    pub rbuf: RefCell<Box<[u8]>>,
    pub wbuf: RefCell<Vec<u8>>,
    /// Message payload filler, copied into each message before its stamp is written.
    pub template: Box<[u8]>,
    pub phase: Cell<Phase>,
    pub load_start_ns: Cell<u64>,
    pub load_end_ns: Cell<u64>,
    /// One waker slot per local connection, for the pacer and phase changes.
    pub wakers: RefCell<Vec<Option<Waker>>>,
    /// Established connections whose task is still running.
    pub live: Cell<usize>,
    /// Messages sent on this core and not answered yet (echoed or corrupted).
    pub in_flight: Cell<u64>,
    rng: Cell<u64>,
}

impl Shard {
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub fn local_count(&self) -> u64 {
        self.plan.ids.end - self.plan.ids.start
    }

    /// Next pseudo-random 32 bits (xorshift64*), for mask keys.
    #[inline]
    pub fn next_u32(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// Open-loop schedule of local connection `local`.
    pub fn schedule(&self, local: u64) -> Schedule {
        let rate = match self.plan.run.load {
            Load::Open { rate } => rate,
            Load::Closed { .. } => 0.0,
        };
        let n = self.local_count().max(1) as f64;
        let mut s = Schedule::new(self.load_start_ns.get(), rate, 0, 1);
        s.phase = (local as f64 + self.core_offset()) / n;
        s
    }

    /// Fraction of a slot by which this core's sends are offset from other cores'.
    fn core_offset(&self) -> f64 {
        self.plan.index as f64 / self.plan.run.client_cpus.len() as f64
    }

    fn roster(&self) -> Roster {
        let s = self.schedule(0);
        Roster {
            start_ns: s.intended_ns(0),
            period_ns: s.period_ns,
            count: self.local_count(),
        }
    }

    pub fn register(&self, local: u32, waker: &Waker) {
        let mut w = self.wakers.borrow_mut();
        let slot = &mut w[local as usize];
        match slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    fn wake(&self, local: u64) {
        let w = self.wakers.borrow_mut()[local as usize].take();
        if let Some(w) = w {
            w.wake();
        }
    }

    fn wake_all(&self) {
        let all: Vec<Waker> = self.wakers.borrow_mut().iter_mut().filter_map(Option::take).collect();
        for w in all {
            w.wake();
        }
    }

    fn set_phase(&self, p: Phase) {
        self.phase.set(p);
        self.wake_all();
    }

    fn send_snapshot(&self, tx: &Sender<Snapshot>, done: bool) {
        let snap = self.rec.borrow_mut().snapshot(self.plan.index, self.now_ns(), done);
        // The aggregator only goes away when the process is ending anyway.
        let _ = tx.send(snap);
    }
}

/// Run one core's share on a pinned glommio executor; blocks until the core is done.
pub fn run_core(
    plan: CorePlan,
    epoch: Instant,
    ctl: Arc<Control>,
    tx: Sender<Snapshot>,
) -> std::thread::JoinHandle<()> {
    let name = format!("wsload-core{}", plan.index);
    let builder = LocalExecutorBuilder::new(Placement::Fixed(plan.cpu))
        .name(&name)
        .io_memory(IO_MEMORY)
        .ring_depth(RING_DEPTH);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let ex = match builder.make() {
                Ok(ex) => ex,
                Err(e) => {
                    eprintln!(
                        "wsload: core {} (CPU {}): cannot start an io_uring executor: {e}",
                        plan.index, plan.cpu
                    );
                    ctl.ready.fetch_add(1, Ordering::SeqCst);
                    ctl.connected.fetch_add(1, Ordering::SeqCst);
                    let mut r = Recorder::default();
                    let _ = tx.send(r.snapshot(plan.index, epoch.elapsed().as_nanos() as u64, true));
                    return;
                }
            };
            ex.run(core_main(plan, epoch, ctl, tx));
        })
        .expect("spawn core thread")
}

async fn core_main(plan: CorePlan, epoch: Instant, ctl: Arc<Control>, tx: Sender<Snapshot>) {
    let run = plan.run.clone();
    let n = (plan.ids.end - plan.ids.start) as usize;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (plan.index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    rng ^= std::process::id() as u64;
    let shard = Rc::new(Shard {
        epoch,
        rec: RefCell::new(Recorder::default()),
        rbuf: RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()),
        wbuf: RefCell::new(Vec::with_capacity(READ_BUF)),
        template: payload::template(run.size, run.text).into_boxed_slice(),
        phase: Cell::new(Phase::Connect),
        load_start_ns: Cell::new(u64::MAX),
        load_end_ns: Cell::new(u64::MAX),
        wakers: RefCell::new(vec![None; n]),
        live: Cell::new(0),
        in_flight: Cell::new(0),
        rng: Cell::new(rng),
        plan,
    });

    // Snapshots every interval, independent of the phases.
    let ticker = {
        let shard = shard.clone();
        let tx = tx.clone();
        glommio::spawn_local(async move {
            let interval = shard.plan.run.interval;
            let mut next = interval;
            loop {
                let now = shard.epoch.elapsed();
                if next > now {
                    sleep(next - now).await;
                }
                next += interval;
                shard.send_snapshot(&tx, false);
            }
        })
    };

    ctl.ready.fetch_add(1, Ordering::SeqCst);
    while !ctl.go.load(Ordering::SeqCst) {
        sleep(Duration::from_millis(1)).await;
    }
    connect::connect_all(&shard, &ctl).await;

    // Barrier: the aggregator starts the load when every core has connected,
    // at the same instant everywhere.
    let open = shard.rec.borrow().counters.open as usize;
    ctl.open_at_barrier.fetch_add(open, Ordering::SeqCst);
    ctl.connected.fetch_add(1, Ordering::SeqCst);
    let start = loop {
        let s = ctl.load_start_ns.load(Ordering::SeqCst);
        if s != u64::MAX {
            break s;
        }
        sleep(Duration::from_millis(1)).await;
    };
    let end = start.saturating_add(run.duration.as_nanos() as u64);
    shard.load_start_ns.set(start);
    shard.load_end_ns.set(end);
    shard.set_phase(Phase::Load);
    run_load(&shard, &ctl, end).await;

    let aborted = || ctl.abort.load(Ordering::Relaxed);
    if !aborted() {
        shard.set_phase(Phase::Drain);
        let deadline = shard.now_ns().saturating_add(run.drain.as_nanos() as u64);
        // Sleep first: every connection, woken by the phase change, gets polled once in the
        // drain (sending anything still scheduled) before the in-flight count is trusted.
        loop {
            sleep(Duration::from_millis(1)).await;
            if shard.in_flight.get() == 0 || shard.live.get() == 0 || shard.now_ns() >= deadline || aborted() {
                break;
            }
        }
    }
    if !aborted() {
        shard.set_phase(Phase::Close);
        let deadline = shard.now_ns().saturating_add(CLOSE_TIMEOUT.as_nanos() as u64);
        while shard.live.get() > 0 && shard.now_ns() < deadline && !aborted() {
            sleep(Duration::from_millis(2)).await;
        }
    }
    shard.set_phase(Phase::Abort);
    while shard.live.get() > 0 {
        sleep(Duration::from_millis(1)).await;
    }
    ticker.cancel().await;
    shard.send_snapshot(&tx, true);
}

/// The load phase: wake connections as their sends fall due (open loop), or just
/// let them run (closed loop), until `end` or a stop.
async fn run_load(shard: &Rc<Shard>, ctl: &Control, end: u64) {
    let roster = shard.roster();
    let n = roster.count;
    let mut cursor = 0u64;
    let check = Duration::from_millis(20);
    loop {
        let now = shard.now_ns();
        if now >= end {
            return;
        }
        if ctl.stop.load(Ordering::Relaxed) {
            // Cut short: nothing scheduled from now on is sent.
            shard.load_end_ns.set(now);
            return;
        }
        let mut wake_at = now.saturating_add(check.as_nanos() as u64);
        if roster.period_ns.is_finite() && n > 0 {
            let due = roster.due(now);
            let from = if due.saturating_sub(cursor) > n {
                due - n
            } else {
                cursor
            };
            for s in from..due {
                shard.wake(s % n);
            }
            cursor = due;
            wake_at = wake_at.min(roster.at_ns(cursor));
        }
        let wake_at = wake_at.min(end);
        let now = shard.now_ns();
        if wake_at > now {
            sleep(Duration::from_nanos(wake_at - now)).await;
        }
    }
}
