//! The open-loop pacer task: wakes the connections whose sends are due, a tick at a time.

use std::rc::Rc;
use std::time::Duration;

use super::pacer::Ticks;
use super::state::{Shard, Traffic};
use crate::engine::runtime::batch_completions;

/// The open-loop pacer: wakes connections as their sends fall due, until the traffic ends
/// (closed-loop phases are driven by the echoes themselves).
pub async fn pace(shard: Rc<Shard>) {
    let roster = shard.roster();
    let n = roster.count;
    if n == 0 {
        return;
    }
    let check = Duration::from_millis(20).as_nanos() as u64;
    let Ticks {
        tick_ns: tick,
        lead_ns: lead,
    } = shard.ticks;
    let _batching = Batching;
    let mut cursor = 0u64;
    loop {
        let now = shard.now_ns();
        let end = shard.load_end_ns.get();
        if now >= end {
            return;
        }
        // While the clock drives the sends, the echoes can wait for the next tick (they are
        // timed by their arrival); a closed-loop window's sends wait for them, so not then.
        batch_completions(shard.traffic(now) == Traffic::Open);
        let due = roster.due(now + lead);
        let from = if due.saturating_sub(cursor) > n {
            due - n
        } else {
            cursor
        };
        for s in from..due {
            shard.wake(s % n);
        }
        cursor = cursor.max(due);
        let wake_at = roster
            .at_ns(cursor)
            .saturating_sub(lead)
            .max(now + tick)
            .min(end)
            .min(now + check);
        let now = shard.now_ns();
        if wake_at > now {
            crate::engine::runtime::sleep(Duration::from_nanos(wake_at - now)).await;
        }
    }
}

/// Completion batching ends with the pacer, however it ends (cancelled included).
struct Batching;

impl Drop for Batching {
    fn drop(&mut self) {
        batch_completions(false);
    }
}
