//! The state of one core's share of a run: the plan it was given, its connections' slots,
//! its buffers (shared by all its connections, allocated up front), its recorder, and the
//! cross-thread [`Control`] atomics. Everything else in the shard reads and updates it.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::mix::Mix;
use super::pacer::{Roster, Schedule};
use super::slots::{Agenda, Slot};
use crate::config::fleet::unix_now_ns;
use crate::config::scenario::{Mode, PhaseKind, Scenario};
use crate::config::RunPlan;
use crate::engine::schedule::RateCurve;
use crate::metrics::{Recorder, Snapshot};

/// Shared read buffer per core: one read never takes more than this.
pub const READ_BUF: usize = 64 * 1024;

/// How long the close handshakes may take after the drain.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Cross-thread control of a run: a handful of atomics, touched a few times per second.
#[derive(Debug)]
pub struct Control {
    /// Cores that have allocated their buffers and wait for the start.
    pub ready: AtomicUsize,
    /// Start of the run (the ramp's time 0), ns since the epoch; `u64::MAX` until the
    /// aggregator has taken its baseline sample.
    pub run_start_ns: AtomicU64,
    /// Stop generating load (Ctrl-C, or a failed threshold with abort_on_fail): go to the drain.
    pub stop: AtomicBool,
    /// Stop now (second Ctrl-C): skip the drain.
    pub abort: AtomicBool,
    /// Cores whose ramp is complete (every slot of their share attempted once).
    pub connected: AtomicUsize,
    /// Connections open when their core completed its ramp (summed over cores).
    pub open_at_barrier: AtomicUsize,
    pub cores: usize,
    /// Start of the traffic, ns since the epoch; `u64::MAX` until the aggregator has set it.
    pub load_start_ns: AtomicU64,
    /// Cores with no connection left and nothing that would open one (every slot given up:
    /// no reconnect scheduled, the ramp complete). When all are, the run stops early.
    pub exhausted: AtomicUsize,
}

impl Control {
    pub fn new(cores: usize) -> Control {
        Control {
            ready: AtomicUsize::new(0),
            run_start_ns: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            connected: AtomicUsize::new(0),
            open_at_barrier: AtomicUsize::new(0),
            cores,
            load_start_ns: AtomicU64::new(u64::MAX),
            exhausted: AtomicUsize::new(0),
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
    /// Connections closed gradually (the scenario's `ramp.down`).
    RampDown,
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
    /// wss://: the trusted roots and the name to check; each core makes its own config from them.
    pub tls: Option<crate::tls::ClientTls>,
    pub run: Arc<RunPlan>,
}

/// A core's TLS client: its own config (and so its own session cache, no lock shared between
/// cores) and the server name for SNI and the certificate check.
pub struct ShardTls {
    pub connector: futures_rustls::TlsConnector,
    pub server_name: rustls_pki_types::ServerName<'static>,
}

/// What a connection should send now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Traffic {
    /// Before or after the traffic, in an idle phase or a gap: nothing (open-loop sends
    /// already due still go out).
    Quiet,
    /// An open-loop phase: follow the schedule.
    Open,
    /// Closed loop: keep `window` in flight; `phase` tells phases apart.
    Closed { window: u32, phase: u16 },
}

/// State shared by the connections of one core (single-threaded: `Rc`, `Cell`, `RefCell`).
pub struct Shard {
    pub plan: CorePlan,
    pub epoch: Instant,
    pub rec: RefCell<Recorder>,
    /// Empty recorders that carry its snapshots to the aggregator and come back.
    spares: crate::metrics::Spares,
    pub rbuf: RefCell<Box<[u8]>>,
    pub wbuf: RefCell<Vec<u8>>,
    /// A message body being built (templates, compression), and one being (de)compressed.
    pub sbuf: RefCell<Vec<u8>>,
    pub zbuf: RefCell<Vec<u8>>,
    /// The core's permessage-deflate (de)compressor, when the scenario asks for compression.
    pub deflater: Option<RefCell<crate::proto::deflate::Deflater>>,
    /// Unix time at `epoch`, ns (for `{ts}` and servers' timestamps).
    pub epoch_unix_ns: u64,
    pub mix: Mix,
    /// Open-loop messages per connection over the traffic phases.
    pub curve: RateCurve,
    /// How the open-loop pacer rounds the schedule to its wakeups (`pacer::Ticks`).
    pub ticks: super::pacer::Ticks,
    pub phase: Cell<Phase>,
    pub run_start_ns: Cell<u64>,
    pub load_start_ns: Cell<u64>,
    pub load_end_ns: Cell<u64>,
    /// One waker slot per local connection, for the pacer and phase changes.
    pub wakers: RefCell<Vec<Option<Waker>>>,
    pub slots: RefCell<Vec<Slot>>,
    /// Reconnects, lifetimes and fault ends, by time.
    pub agenda: RefCell<Agenda>,
    /// Established connections whose task is still running.
    pub live: Cell<usize>,
    /// Connection attempts in progress.
    pub connecting: Cell<usize>,
    /// Slots whose first attempt has finished (for the end of the ramp).
    pub first_tries: Cell<u64>,
    /// The control loop's waker while it sleeps, and whether it was poked since.
    pub keeper: RefCell<Option<Waker>>,
    pub poked: Cell<bool>,
    /// Messages sent on this core and not answered yet (echoed or corrupted).
    pub in_flight: Cell<u64>,
    /// wss://: the core's TLS client.
    pub tls: Option<ShardTls>,
    rng: Cell<u64>,
}

impl Shard {
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// When data the kernel stamped `rx_unix_ns` (SO_TIMESTAMPNS) arrived, as a `now_ns`
    /// reading: now, less the data's age. The age is taken on the wall clock over the moments
    /// since the packet came, so the wall clock's drift against the monotonic one over a long
    /// run does not enter; a wall clock stepped back meanwhile gives age 0 (timed as now).
    #[inline]
    pub fn arrival_ns(&self, rx_unix_ns: Option<u64>) -> u64 {
        let now = self.now_ns();
        let Some(rx) = rx_unix_ns else { return now };
        now.saturating_sub(unix_now_ns().saturating_sub(rx))
    }

    /// Unix time now, ns, for a `now_ns` reading.
    pub fn unix_ns(&self, now_ns: u64) -> u64 {
        self.epoch_unix_ns + now_ns
    }

    pub fn scenario(&self) -> &Scenario {
        &self.plan.run.scenario
    }

    pub fn local_count(&self) -> u64 {
        self.plan.ids.end - self.plan.ids.start
    }

    /// Next pseudo-random 32 bits (xorshift64*), for mask keys and the message mix.
    #[inline]
    pub fn next_u32(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// A uniform number in [0, 1).
    pub fn next_unit(&self) -> f64 {
        self.next_u32() as f64 / (u32::MAX as f64 + 1.0)
    }

    /// Open-loop schedule of local connection `local`.
    pub fn schedule(&self, local: u64) -> Schedule<'_> {
        Schedule {
            start_ns: self.load_start_ns.get(),
            curve: &self.curve,
            phase: super::pacer::phase_of(local, self.local_count(), self.core_offset()),
        }
    }

    /// Fraction of a slot by which this core's sends are offset from other cores' (of every shard).
    pub(super) fn core_offset(&self) -> f64 {
        let run = &self.plan.run;
        (run.shard.index as f64 + self.plan.index as f64 / run.client_cpus.len() as f64) / run.shard.count as f64
    }

    pub(super) fn roster(&self) -> Roster<'_> {
        Roster {
            start_ns: self.load_start_ns.get(),
            curve: &self.curve,
            count: self.local_count(),
            // Event s of the core is connection s % count's message s / count, at the
            // per-connection position (s + offset) / count.
            offset: self.core_offset(),
        }
    }

    /// What connections should send at `now`.
    pub fn traffic(&self, now: u64) -> Traffic {
        let start = self.load_start_ns.get();
        if now < start || now >= self.load_end_ns.get() {
            return Traffic::Quiet;
        }
        let Some(i) = self.curve.phase_at(now - start) else {
            return Traffic::Quiet;
        };
        match self.scenario().phases[i].kind {
            PhaseKind::InFlight { window } => Traffic::Closed {
                window,
                phase: i as u16 + 1,
            },
            PhaseKind::Idle => Traffic::Quiet,
            _ => Traffic::Open,
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

    pub(super) fn wake(&self, local: u64) {
        let w = self.wakers.borrow_mut()[local as usize].take();
        if let Some(w) = w {
            w.wake();
        }
    }

    pub(super) fn wake_all(&self) {
        let all: Vec<Waker> = self.wakers.borrow_mut().iter_mut().filter_map(Option::take).collect();
        for w in all {
            w.wake();
        }
    }

    /// Wake the control loop early (an attempt finished: a connect slot is free).
    pub fn poke(&self) {
        self.poked.set(true);
        let w = self.keeper.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }

    pub(super) fn set_phase(&self, p: Phase) {
        self.phase.set(p);
        self.wake_all();
    }

    pub(super) fn send_snapshot(&self, tx: &Sender<Snapshot>, done: bool) {
        let snap = self
            .rec
            .borrow_mut()
            .snapshot(self.plan.index, self.now_ns(), done, &self.spares);
        // The aggregator only goes away when the process is ending anyway.
        let _ = tx.send(snap);
    }
}

impl Shard {
    /// A core's state for its share of the run, every buffer allocated up front.
    pub fn new(plan: CorePlan, epoch: Instant) -> Shard {
        let run = plan.run.clone();
        let sc = &run.scenario;
        let n = (plan.ids.end - plan.ids.start) as usize;
        let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (plan.index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        rng ^= std::process::id() as u64;
        let mut rec = Recorder::default();
        rec.grow_types(sc.messages.len());
        // Pushes are recorded overall only, so with them the one type's figures differ.
        rec.one_type = sc.messages.len() == 1 && sc.mode != Mode::Subscribe;
        // A closed loop stamps each message with the time it is sent (`Conn::generate`).
        rec.closed_loop = sc
            .phases
            .iter()
            .all(|p| matches!(p.kind, PhaseKind::InFlight { .. } | PhaseKind::Idle));
        Shard {
            epoch,
            rec: RefCell::new(rec),
            spares: crate::metrics::Spares::new(),
            rbuf: RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()),
            wbuf: RefCell::new(Vec::with_capacity(READ_BUF)),
            sbuf: RefCell::new(Vec::new()),
            zbuf: RefCell::new(Vec::new()),
            deflater: sc.compression.then(Default::default),
            epoch_unix_ns: unix_ns_at(epoch),
            mix: Mix::new(&sc.messages),
            curve: RateCurve::new(&sc.phases),
            ticks: super::pacer::Ticks::from_env(),
            phase: Cell::new(Phase::Connect),
            run_start_ns: Cell::new(u64::MAX),
            load_start_ns: Cell::new(u64::MAX),
            load_end_ns: Cell::new(u64::MAX),
            wakers: RefCell::new(vec![None; n]),
            slots: RefCell::new(vec![Slot::default(); n]),
            agenda: RefCell::new(Agenda::default()),
            live: Cell::new(0),
            connecting: Cell::new(0),
            first_tries: Cell::new(0),
            keeper: RefCell::new(None),
            poked: Cell::new(false),
            in_flight: Cell::new(0),
            tls: plan.tls.as_ref().map(|t| ShardTls {
                connector: futures_rustls::TlsConnector::from(t.config()),
                server_name: t.server_name.clone(),
            }),
            rng: Cell::new(rng),
            plan,
        }
    }
}

/// Unix time at `t`, ns.
fn unix_ns_at(t: Instant) -> u64 {
    unix_now_ns().saturating_sub(t.elapsed().as_nanos() as u64)
}
