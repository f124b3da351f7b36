//! Timers in user space: a heap of deadlines over a slab of wakers (the futures that use it are
//! in `sleep.rs`). A removed timer frees its slot at once (its heap entry is skipped later), so
//! a timeout raced against a connect costs nothing after the connect wins. The loop waits on
//! the ring with the earliest deadline as its timeout: no timer requests go to the kernel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// (generation, waker) per slot; a slot's generation changes each time it is freed.
    slots: Vec<(u32, Option<Waker>)>,
    free: Vec<u32>,
}

impl Timers {
    pub(super) fn add(&mut self, at: Instant, waker: Waker) -> (u32, u32) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[idx as usize];
        slot.1 = Some(waker);
        self.heap.push(Reverse((at, idx, slot.0)));
        (idx, slot.0)
    }

    pub(super) fn remove(&mut self, (idx, gen): (u32, u32)) -> Option<Waker> {
        let slot = &mut self.slots[idx as usize];
        if slot.0 != gen {
            return None;
        }
        slot.0 = slot.0.wrapping_add(1);
        self.free.push(idx);
        slot.1.take()
    }

    pub(super) fn update(&mut self, (idx, gen): (u32, u32), waker: &Waker) {
        let slot = &mut self.slots[idx as usize];
        if slot.0 == gen && !slot.1.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slot.1 = Some(waker.clone());
        }
    }

    /// Wake every timer due at `now`; the earliest deadline still waiting.
    pub(crate) fn fire(&mut self, now: Instant) -> Option<Instant> {
        while let Some(&Reverse((at, idx, gen))) = self.heap.peek() {
            if self.slots[idx as usize].0 != gen {
                self.heap.pop();
                continue;
            }
            if at > now {
                return Some(at);
            }
            self.heap.pop();
            if let Some(w) = self.remove((idx, gen)) {
                w.wake();
            }
        }
        None
    }

    /// Every waiting waker (at teardown).
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        self.heap.clear();
        let out = self.slots.iter_mut().filter_map(|s| s.1.take()).collect();
        self.slots.clear();
        self.free.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_dropped_timer_never_fires_and_its_slot_is_reused() {
        let mut t = Timers::default();
        let base = Instant::now();
        let w = futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())));
        let a = t.add(base + Duration::from_millis(5), w.clone());
        let b = t.add(base + Duration::from_millis(10), w.clone());
        assert!(t.remove(a).is_some());
        assert_eq!(
            t.fire(base),
            Some(base + Duration::from_millis(10)),
            "the removed earlier deadline is skipped"
        );
        let c = t.add(base + Duration::from_millis(1), w);
        assert_eq!(c.0, a.0, "slot reused");
        assert_ne!(c.1, a.1, "with a new generation");
        assert_eq!(
            t.fire(base + Duration::from_millis(2)),
            Some(base + Duration::from_millis(10))
        );
        assert!(t.remove(c).is_none(), "a fired timer is gone");
        assert_eq!(t.fire(base + Duration::from_millis(10)), None);
        assert!(t.remove(b).is_none());
    }
}
