//! Per-slot bookkeeping: each local connection slot remembers whether it is
//! open, when it went down and how often it failed, so the core can reconnect
//! with backoff, churn on a lifetime, inject faults, and measure recovery
//! (time from drop to reconnected, outages, availability).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::config::scenario::FaultKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Not opened yet (the ramp has not reached it).
    Idle,
    Connecting,
    Open,
    /// Down, a reconnect is scheduled.
    Waiting,
    /// Down for good (no reconnection, ramped down, or the run is ending).
    Closed,
}

/// Why an open connection is being ended by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    None,
    /// Its lifetime is over: reopen at once (churn), no outage.
    Lifetime,
    /// The ramp-down closes it for good.
    RampDown,
    /// An injected fault: counts as a drop for reconnection and recovery, not as a server error.
    Fault,
}

#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub state: SlotState,
    /// Bumped at each successful upgrade: events scheduled for an older connection are stale.
    pub gen: u32,
    /// Failed attempts since the last success (the backoff exponent).
    pub failures: u32,
    /// A fault waiting for the connection to act on it.
    pub fault: Option<FaultKind>,
    /// The client asks the connection to close (lifetime or ramp-down).
    pub close: Ending,
    /// End of a pause or half-open fault, ns since the epoch (0: none).
    pub hold_until: u64,
    /// First attempt, ns since the epoch (`u64::MAX`: never wanted).
    pub wanted_since: u64,
    pub up_since: u64,
    /// When it dropped (`u64::MAX`: not down after a drop).
    pub down_since: u64,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            state: SlotState::Idle,
            gen: 0,
            failures: 0,
            fault: None,
            close: Ending::None,
            hold_until: 0,
            wanted_since: u64::MAX,
            up_since: 0,
            down_since: u64::MAX,
        }
    }
}

/// Timed work for the slots of one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// Attempt to (re)connect the slot.
    Connect,
    /// The connection's lifetime is over.
    Expire,
    /// A pause or half-open ends: wake the connection.
    Wake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub at_ns: u64,
    pub local: u32,
    pub gen: u32,
    pub what: Due,
}

/// A min-heap of events by time.
#[derive(Debug, Default)]
pub struct Agenda(BinaryHeap<Reverse<Event>>);

impl Agenda {
    pub fn push(&mut self, e: Event) {
        self.0.push(Reverse(e));
    }

    /// The next event due by `now`, if any.
    pub fn pop_due(&mut self, now: u64) -> Option<Event> {
        match self.0.peek() {
            Some(Reverse(e)) if e.at_ns <= now => self.0.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    pub fn next_at(&self) -> Option<u64> {
        self.0.peek().map(|Reverse(e)| e.at_ns)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Length of `[from, to)` clipped to the window `[lo, hi)`, in ns.
pub fn overlap(from: u64, to: u64, lo: u64, hi: u64) -> u64 {
    let a = from.max(lo);
    let b = to.min(hi);
    b.saturating_sub(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agenda_pops_in_time_order_and_only_when_due() {
        let mut a = Agenda::default();
        for (at, local) in [(30, 1), (10, 2), (20, 3)] {
            a.push(Event {
                at_ns: at,
                local,
                gen: 0,
                what: Due::Connect,
            });
        }
        assert_eq!(a.next_at(), Some(10));
        assert_eq!(a.pop_due(5), None);
        assert_eq!(a.pop_due(25).map(|e| e.local), Some(2));
        assert_eq!(a.pop_due(25).map(|e| e.local), Some(3));
        assert_eq!(a.pop_due(25), None);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn overlap_clips_to_the_window() {
        assert_eq!(overlap(0, 10, 2, 8), 6);
        assert_eq!(overlap(5, 10, 0, 7), 2);
        assert_eq!(overlap(8, 10, 0, 7), 0);
        assert_eq!(overlap(3, u64::MAX, 0, 9), 6);
        assert_eq!(overlap(10, 5, 0, 20), 0);
    }
}
