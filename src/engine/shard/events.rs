//! What a connection's life does to its slot: an attempt starts, succeeds or fails, a
//! connection ends. Called by the connector and the connections as it happens; decides
//! whether and when the slot reconnects (the scenario's policy), and keeps the recovery
//! figures. The control loop (`keeper`) acts on what these leave in the agenda.

use std::time::Duration;

use super::slots::{overlap, Due, Ending, Event, Slot, SlotState};
use super::state::{Phase, Shard};
use crate::config::scenario::FaultKind;
use crate::engine::schedule::backoff_delay;

/// Retries after a failed attempt never come faster than this, even with `immediate`.
const MIN_RETRY: Duration = Duration::from_millis(10);

pub fn fault_index(kind: FaultKind) -> usize {
    FaultKind::ALL.iter().position(|k| *k == kind).expect("listed")
}

/// Bookkeeping when an attempt starts. Returns whether it is the slot's first.
pub fn on_attempt(shard: &Shard, local: u32) -> bool {
    let now = shard.now_ns();
    let mut slots = shard.slots.borrow_mut();
    let s = &mut slots[local as usize];
    s.state = SlotState::Connecting;
    let first = s.wanted_since == u64::MAX;
    if first {
        s.wanted_since = now;
    }
    first
}

/// A connection is established: recovery figures if it replaces a dropped one, and its lifetime.
pub fn on_established(shard: &Shard, local: u32) {
    let now = shard.now_ns();
    let sc = shard.scenario();
    let gen;
    {
        let mut slots = shard.slots.borrow_mut();
        let s = &mut slots[local as usize];
        s.state = SlotState::Open;
        s.gen = s.gen.wrapping_add(1);
        s.failures = 0;
        s.fault = None;
        s.close = Ending::None;
        s.hold_until = 0;
        s.up_since = now;
        gen = s.gen;
        if s.down_since != u64::MAX {
            let out = now.saturating_sub(s.down_since);
            let mut rec = shard.rec.borrow_mut();
            rec.recovery.saturating_record(out.max(1));
            rec.counters.recovered += 1;
            if out <= sc.recovered_within.as_nanos() as u64 {
                rec.counters.recovered_in_time += 1;
            }
            rec.longest_outage_ns = rec.longest_outage_ns.max(out);
            let (lo, hi) = (shard.load_start_ns.get(), shard.load_end_ns.get());
            rec.counters.down_ns += overlap(s.down_since, now, lo, hi);
            s.down_since = u64::MAX;
        }
    }
    if let Some(life) = sc.lifetime {
        // Lifetimes vary by ±10% so connections opened together do not all churn together.
        let f = 0.9 + 0.2 * shard.next_unit();
        let at = now.saturating_add((life.as_nanos() as f64 * f) as u64);
        shard.agenda.borrow_mut().push(Event {
            at_ns: at,
            local,
            gen,
            what: Due::Expire,
        });
    }
}

/// Put slot `local` in the waiting state with a connect attempt `delay` from `now`.
fn reconnect_after(shard: &Shard, s: &mut Slot, local: u32, now: u64, delay: Duration) {
    s.state = SlotState::Waiting;
    shard.agenda.borrow_mut().push(Event {
        at_ns: now.saturating_add(delay.as_nanos() as u64),
        local,
        gen: s.gen,
        what: Due::Connect,
    });
}

/// An attempt failed: retry later by the reconnection policy, or give the slot up.
pub fn on_attempt_failed(shard: &Shard, local: u32) {
    let now = shard.now_ns();
    let mut slots = shard.slots.borrow_mut();
    let s = &mut slots[local as usize];
    s.failures = s.failures.saturating_add(1);
    let active = shard.phase.get() <= Phase::Load;
    match backoff_delay(&shard.scenario().reconnect, s.failures, shard.next_unit()) {
        Some(d) if active => reconnect_after(shard, s, local, now, d.max(MIN_RETRY)),
        _ => s.state = SlotState::Closed,
    }
}

/// A connection ended. `failure`: the server or the network broke it (already counted as an
/// error by the caller when `ending` is not a fault). Decides what the slot does next.
pub fn on_conn_end(shard: &Shard, local: u32, ending: Ending, failed: bool) {
    let now = shard.now_ns();
    let active = shard.phase.get() <= Phase::Load;
    let mut slots = shard.slots.borrow_mut();
    let s = &mut slots[local as usize];
    let mut rec = shard.rec.borrow_mut();
    let (lo, hi) = (shard.load_start_ns.get(), shard.load_end_ns.get());
    rec.counters.up_ns += overlap(s.up_since, now, lo, hi);
    s.fault = None;
    s.close = Ending::None;
    let dropped = ending == Ending::Fault || failed;
    if ending == Ending::RampDown && !failed {
        rec.counters.ramped_down += 1;
    }
    if !active || ending == Ending::RampDown || (ending == Ending::None && !failed) {
        // A lifetime close that completes after the load (it waited for its echoes) is the end
        // of the run for that connection, not churn: nothing reopens it.
        s.state = SlotState::Closed;
        return;
    }
    if ending == Ending::Lifetime && !failed {
        rec.counters.churned += 1;
    }
    if dropped {
        s.down_since = now;
        match backoff_delay(&shard.scenario().reconnect, 0, shard.next_unit()) {
            Some(d) => reconnect_after(shard, s, local, now, d),
            None => s.state = SlotState::Closed,
        }
    } else {
        // Lifetime over: reopen at once; the gap is churn, not an outage.
        reconnect_after(shard, s, local, now, Duration::ZERO);
    }
}
