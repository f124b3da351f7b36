//! The control loop of one core: walks the phases of the run and, while
//! connections are wanted, keeps the slots filled. It opens what the ramp asks
//! for, reconnects dropped connections by the scenario's policy, ends
//! connections whose lifetime is over, injects the scheduled faults, ramps
//! down at the end, and does the recovery accounting of each slot.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::runtime::{sleep, JoinHandle};
use crossbeam_channel::Sender;

use super::connect;
use super::slots::{overlap, Due, Ending, Event, SlotState};
use super::state::{Control, Phase, Shard, Traffic, CLOSE_TIMEOUT};
use crate::config::scenario::FaultKind;
use crate::engine::schedule::ramp_down_target;
use crate::metrics::{FaultEvent, Snapshot};

/// Longest sleep of the control loop (it also looks at the stop flags this often).
const TICK: Duration = Duration::from_millis(20);
/// How often the drain, ramp-down and close phases look at their counts.
const BUSY_TICK: Duration = Duration::from_millis(1);
/// While connects wait for a free attempt, look again at least this often (a finished
/// attempt wakes the loop at once).
const WAIT_TICK: Duration = Duration::from_millis(5);

/// This core's share of `total` connections over the whole run (all shards, all cores).
fn local_share(shard: &Shard, total: u64) -> u64 {
    let r = shard.plan.run.core_share(total, shard.plan.index);
    r.end - r.start
}

struct Keeper {
    shard: Rc<Shard>,
    ctl: Arc<Control>,
    /// Slots below this have been handed to the ramp.
    cursor: u64,
    /// Connect events waiting for a free attempt.
    pending: VecDeque<u32>,
    /// Next injection time per scenario fault (ns since the epoch; `u64::MAX`: no more).
    fault_next: Vec<u64>,
    fault_cursor: usize,
    /// Slots at or above this have been closed by the ramp-down.
    down_cursor: u64,
    ramp_down_start: u64,
    stage_start: u64,
    stage_deadline: u64,
    last_traffic: Traffic,
    reported: bool,
    /// This core has told the aggregator it has nothing left to run.
    exhausted: bool,
}

pub async fn run(shard: Rc<Shard>, ctl: Arc<Control>, tx: Sender<Snapshot>) {
    ctl.ready.fetch_add(1, Ordering::SeqCst);
    let start = loop {
        let s = ctl.run_start_ns.load(Ordering::SeqCst);
        if s != u64::MAX {
            break s;
        }
        sleep(Duration::from_millis(1)).await;
    };
    shard.run_start_ns.set(start);
    let ticker = spawn_ticker(shard.clone(), tx.clone(), start);
    let now = shard.now_ns();
    if start > now {
        sleep(Duration::from_nanos(start - now)).await;
    }

    let mut k = Keeper::new(shard.clone(), ctl);
    let mut pacer = None;
    loop {
        let now = shard.now_ns();
        if k.ctl.abort.load(Ordering::Relaxed) && shard.phase.get() < Phase::Abort {
            shard.set_phase(Phase::Abort);
        }
        let Some(wake_at) = k.step(now, &mut pacer) else {
            break;
        };
        k.wait(wake_at).await;
    }
    if let Some(p) = pacer {
        p.cancel();
    }
    k.final_accounting();
    ticker.cancel();
    shard.send_snapshot(&tx, true);
}

/// Snapshots every interval from the start, independent of the phases (the aggregator's
/// time-line points fall on the same instants).
fn spawn_ticker(shard: Rc<Shard>, tx: Sender<Snapshot>, start: u64) -> JoinHandle<()> {
    crate::engine::runtime::spawn(async move {
        let interval = shard.plan.run.interval;
        let mut next = Duration::from_nanos(start) + interval;
        loop {
            let now = shard.epoch.elapsed();
            if next > now {
                sleep(next - now).await;
            }
            next += interval;
            shard.send_snapshot(&tx, false);
        }
    })
}

impl Keeper {
    fn new(shard: Rc<Shard>, ctl: Arc<Control>) -> Keeper {
        Keeper {
            down_cursor: shard.local_count(),
            shard,
            ctl,
            cursor: 0,
            pending: VecDeque::new(),
            fault_next: Vec::new(),
            fault_cursor: 0,
            ramp_down_start: 0,
            stage_start: 0,
            stage_deadline: 0,
            last_traffic: Traffic::Quiet,
            reported: false,
            exhausted: false,
        }
    }

    /// One turn of the control loop in the current phase: when to look again (ns since the
    /// epoch), or `None` once the core is done.
    fn step(&mut self, now: u64, pacer: &mut Option<JoinHandle<()>>) -> Option<u64> {
        let busy = BUSY_TICK.as_nanos() as u64;
        let shard = self.shard.clone();
        Some(match shard.phase.get() {
            Phase::Connect => self.connect_step(now, pacer),
            Phase::Load => self.load_step(now),
            Phase::Drain => {
                self.run_agenda(now);
                // Sleep first: every connection, woken by the phase change, gets polled once in
                // the drain (sending anything still scheduled) before the in-flight count is trusted.
                if now > self.stage_start + busy
                    && (shard.in_flight.get() == 0 || shard.live.get() == 0 || now >= self.stage_deadline)
                {
                    self.after_drain(now);
                }
                now + busy
            }
            Phase::RampDown => {
                self.run_agenda(now);
                self.ramp_down(now);
                if shard.live.get() == 0 || now >= self.stage_deadline {
                    self.enter_close(now);
                }
                now + busy
            }
            Phase::Close => {
                self.run_agenda(now);
                if shard.live.get() == 0 || now >= self.stage_deadline {
                    shard.set_phase(Phase::Abort);
                }
                now + 2 * busy
            }
            Phase::Abort if shard.live.get() == 0 && shard.connecting.get() == 0 => return None,
            Phase::Abort => now + busy,
        })
    }

    /// The ramp: keep the slots open; start the load (and the pacer) when the aggregator says.
    fn connect_step(&mut self, now: u64, pacer: &mut Option<JoinHandle<()>>) -> u64 {
        let w = self.keep_open(now);
        if self.ctl.stop.load(Ordering::Relaxed) {
            // Stopped before any traffic: nothing to drain.
            self.shard.load_end_ns.set(now);
            self.enter_drain(now);
        } else {
            self.report_ramp_done();
            let ls = self.ctl.load_start_ns.load(Ordering::SeqCst);
            if ls != u64::MAX && now >= ls {
                self.start_load(ls);
                *pacer = Some(crate::engine::runtime::spawn(super::pacing::pace(self.shard.clone())));
            }
        }
        w.min(now + WAIT_TICK.as_nanos() as u64)
    }

    /// The traffic phases: keep the slots open, inject faults, follow the schedule, and drain
    /// at the end (planned, or cut short by a stop).
    fn load_step(&mut self, now: u64) -> u64 {
        let shard = self.shard.clone();
        let w = self.keep_open(now).min(self.inject_faults(now));
        let traffic = shard.traffic(now);
        if traffic != self.last_traffic {
            // A closed-loop phase starts its windows; an open one picks up its schedule.
            self.last_traffic = traffic;
            shard.wake_all();
        }
        self.check_exhausted();
        let end = shard.load_end_ns.get();
        if self.ctl.stop.load(Ordering::Relaxed) && now < end {
            // Cut short: nothing scheduled from now on is sent.
            shard.load_end_ns.set(now);
            self.enter_drain(now);
        } else if now >= end {
            self.enter_drain(now);
        }
        w.min(self.next_phase_change(now)).min(shard.load_end_ns.get())
    }

    /// Sleep until `wake_at` (at most a tick), or until a finished connection attempt frees a
    /// slot for the next one.
    async fn wait(&self, wake_at: u64) {
        let shard = &self.shard;
        let now = shard.now_ns();
        let wake_at = wake_at.min(now + TICK.as_nanos() as u64);
        if shard.connecting.get() >= self.per_core_concurrency() {
            // Every attempt slot is busy: the next finished attempt wakes the loop (no timer).
            Poke::new(shard).await;
        } else if wake_at > now {
            // A finished connection attempt wakes the loop early: the next one can start.
            futures_lite::future::or(sleep(Duration::from_nanos(wake_at - now)), Poke::new(shard)).await;
        }
    }
}

/// Resolves once `Shard::poke` is called after the first poll.
struct Poke<'a> {
    shard: &'a Shard,
    armed: bool,
}

impl<'a> Poke<'a> {
    fn new(shard: &'a Shard) -> Poke<'a> {
        Poke { shard, armed: false }
    }
}

impl std::future::Future for Poke<'_> {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.armed && self.shard.poked.get() {
            return std::task::Poll::Ready(());
        }
        self.armed = true;
        self.shard.poked.set(false);
        *self.shard.keeper.borrow_mut() = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

impl Keeper {
    fn sc(&self) -> &crate::config::scenario::Scenario {
        self.shard.scenario()
    }

    /// Open what the ramp wants, start due reconnects, act on due events. Returns when to
    /// look again (ns since the epoch).
    fn keep_open(&mut self, now: u64) -> u64 {
        let shard = self.shard.clone();
        let sc = shard.scenario();
        let t = Duration::from_nanos(now.saturating_sub(shard.run_start_ns.get()));
        let wanted = local_share(&shard, sc.ramp.target(t, sc.connections));
        let cap = self.per_core_concurrency();
        while self.cursor < wanted && shard.connecting.get() < cap {
            connect::spawn_attempt(&self.shard, self.cursor as u32);
            self.cursor += 1;
        }
        self.run_agenda(now);
        while shard.connecting.get() < cap {
            let Some(local) = self.pending.pop_front() else { break };
            let ok = {
                let slots = shard.slots.borrow();
                slots[local as usize].state == SlotState::Waiting
            };
            if ok {
                connect::spawn_attempt(&self.shard, local);
            }
        }
        let mut next = shard.agenda.borrow().next_at().unwrap_or(u64::MAX);
        if self.cursor < wanted || !self.pending.is_empty() {
            next = next.min(now + WAIT_TICK.as_nanos() as u64);
        } else if let Some(c) = sc.ramp.next_change(t, sc.connections) {
            next = next.min(shard.run_start_ns.get().saturating_add(c.as_nanos() as u64));
        }
        next
    }

    fn per_core_concurrency(&self) -> usize {
        (local_share(&self.shard, u64::from(self.sc().connect_concurrency)) as usize).max(1)
    }

    /// Handle the events that are due: connects queue for a free attempt, lifetimes end,
    /// holds are released.
    fn run_agenda(&mut self, now: u64) {
        let shard = &*self.shard;
        let active = shard.phase.get() <= Phase::Load;
        loop {
            let Some(e) = shard.agenda.borrow_mut().pop_due(now) else {
                break;
            };
            let state = shard.slots.borrow()[e.local as usize].state;
            match e.what {
                Due::Connect if state == SlotState::Waiting => {
                    if active {
                        self.pending.push_back(e.local);
                    } else {
                        shard.slots.borrow_mut()[e.local as usize].state = SlotState::Closed;
                    }
                }
                Due::Expire if active && state == SlotState::Open => {
                    let mut slots = shard.slots.borrow_mut();
                    let s = &mut slots[e.local as usize];
                    if s.gen == e.gen && s.close == Ending::None {
                        s.close = Ending::Lifetime;
                        drop(slots);
                        shard.wake(e.local as u64);
                    }
                }
                Due::Wake => shard.wake(e.local as u64),
                _ => {}
            }
        }
    }

    /// Tell the aggregator, once, when no connection is open or opening on this core and none
    /// ever will be: every slot has been tried and given up (no reconnect policy, or it gave up).
    fn check_exhausted(&mut self) {
        let shard = &*self.shard;
        if self.exhausted
            || shard.live.get() > 0
            || shard.connecting.get() > 0
            || !self.pending.is_empty()
            || self.cursor < shard.local_count()
        {
            return;
        }
        let alive = shard
            .slots
            .borrow()
            .iter()
            .any(|s| !matches!(s.state, SlotState::Closed));
        if !alive {
            self.exhausted = true;
            self.ctl.exhausted.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// With `after-ramp`, tell the aggregator once every slot of this core has had its first try.
    fn report_ramp_done(&mut self) {
        let shard = &*self.shard;
        if self.reported || self.cursor < shard.local_count() || shard.first_tries.get() < shard.local_count() {
            return;
        }
        self.reported = true;
        let open = shard.rec.borrow().counters.open as usize;
        self.ctl.open_at_barrier.fetch_add(open, Ordering::SeqCst);
        self.ctl.connected.fetch_add(1, Ordering::SeqCst);
    }

    fn start_load(&mut self, start: u64) {
        let shard = &*self.shard;
        let end = start.saturating_add(shard.scenario().traffic_duration().as_nanos() as u64);
        shard.load_start_ns.set(start);
        shard.load_end_ns.set(end);
        self.fault_next = shard
            .scenario()
            .faults
            .iter()
            .map(|f| start.saturating_add(f.at.as_nanos() as u64))
            .collect();
        shard.set_phase(Phase::Load);
    }

    /// The next time the traffic may change (a phase boundary), for the wake-ups.
    fn next_phase_change(&self, now: u64) -> u64 {
        let shard = &*self.shard;
        let start = shard.load_start_ns.get();
        let rel = now.saturating_sub(start);
        shard
            .scenario()
            .phases
            .iter()
            .flat_map(|p| [p.start, p.end()])
            .map(|d| d.as_nanos() as u64)
            .filter(|&d| d > rel)
            .min()
            .map_or(u64::MAX, |d| start.saturating_add(d))
    }

    /// Inject the faults that are due into a fraction of this core's open connections.
    fn inject_faults(&mut self, now: u64) -> u64 {
        let shard = self.shard.clone();
        let end = shard.load_end_ns.get();
        for (i, f) in shard.scenario().faults.iter().enumerate() {
            while self.fault_next[i] <= now {
                let at = self.fault_next[i];
                self.fault_next[i] = match f.every {
                    Some(e) if !e.is_zero() => at.saturating_add(e.as_nanos() as u64),
                    _ => u64::MAX,
                };
                if at >= end {
                    self.fault_next[i] = u64::MAX;
                    break;
                }
                let hold = f.lasting.map_or(0, |d| now.saturating_add(d.as_nanos() as u64));
                let hits = self.hit(f.kind, f.fraction, hold);
                let mut rec = shard.rec.borrow_mut();
                rec.counters.faults[super::events::fault_index(f.kind)] += hits;
                rec.fault_log.push(FaultEvent {
                    at_ns: now,
                    fault: i as u16,
                    connections: hits as u32,
                });
            }
        }
        self.fault_next.iter().copied().min().unwrap_or(u64::MAX)
    }

    /// Mark `fraction` of the open connections (rounded up) with a fault, in turn over the slots.
    fn hit(&mut self, kind: FaultKind, fraction: f64, hold_until: u64) -> u64 {
        let shard = &*self.shard;
        let open = shard.rec.borrow().counters.open;
        let want = (fraction * open as f64).ceil() as u64;
        let n = shard.local_count() as usize;
        let mut hits = 0;
        let mut woken = Vec::new();
        {
            let mut slots = shard.slots.borrow_mut();
            let mut looked = 0;
            while hits < want && looked < n {
                let i = self.fault_cursor % n;
                self.fault_cursor = (self.fault_cursor + 1) % n;
                looked += 1;
                let s = &mut slots[i];
                if s.state == SlotState::Open && s.fault.is_none() && s.close == Ending::None {
                    s.fault = Some(kind);
                    s.hold_until = hold_until;
                    hits += 1;
                    woken.push((i as u32, s.gen));
                }
            }
        }
        for (local, gen) in woken {
            shard.wake(local as u64);
            if hold_until > 0 {
                shard.agenda.borrow_mut().push(Event {
                    at_ns: hold_until,
                    local,
                    gen,
                    what: Due::Wake,
                });
            }
        }
        hits
    }

    fn enter_drain(&mut self, now: u64) {
        self.pending.clear();
        self.stage_start = now;
        self.stage_deadline = now.saturating_add(self.sc().drain.as_nanos() as u64);
        self.shard.set_phase(Phase::Drain);
    }

    fn after_drain(&mut self, now: u64) {
        match self.sc().ramp_down {
            Some(over) if !self.ctl.stop.load(Ordering::Relaxed) => {
                self.ramp_down_start = now;
                self.stage_deadline = now.saturating_add((over + CLOSE_TIMEOUT).as_nanos() as u64);
                self.shard.set_phase(Phase::RampDown);
            }
            _ => self.enter_close(now),
        }
    }

    fn enter_close(&mut self, now: u64) {
        self.stage_deadline = now.saturating_add(CLOSE_TIMEOUT.as_nanos() as u64);
        self.shard.set_phase(Phase::Close);
    }

    /// Close connections from the top slot down as the ramp-down's target falls.
    fn ramp_down(&mut self, now: u64) {
        let shard = &*self.shard;
        let sc = shard.scenario();
        let Some(over) = sc.ramp_down else { return };
        let t = Duration::from_nanos(now.saturating_sub(self.ramp_down_start));
        let target = local_share(shard, ramp_down_target(t, over, sc.connections));
        while self.down_cursor > target {
            self.down_cursor -= 1;
            let local = self.down_cursor as usize;
            let open = {
                let mut slots = shard.slots.borrow_mut();
                let s = &mut slots[local];
                match s.state {
                    SlotState::Open => {
                        s.close = Ending::RampDown;
                        true
                    }
                    SlotState::Connecting => false,
                    _ => {
                        s.state = SlotState::Closed;
                        false
                    }
                }
            };
            if open {
                shard.wake(local as u64);
            }
        }
    }

    /// Outages still open at the end, and the connection-time each slot was wanted.
    fn final_accounting(&self) {
        let shard = &*self.shard;
        let lo = shard.load_start_ns.get();
        let hi = shard.load_end_ns.get().min(shard.now_ns());
        if lo >= hi {
            return;
        }
        let mut rec = shard.rec.borrow_mut();
        for s in shard.slots.borrow().iter() {
            if s.wanted_since != u64::MAX {
                rec.counters.wanted_ns += overlap(s.wanted_since, u64::MAX, lo, hi);
            }
            if s.down_since != u64::MAX && s.down_since < hi {
                rec.unrecovered += 1;
                let out = hi - s.down_since;
                rec.longest_outage_ns = rec.longest_outage_ns.max(out);
                rec.counters.down_ns += overlap(s.down_since, hi, lo, hi);
            }
        }
    }
}
