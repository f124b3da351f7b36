//! The open-loop pacer task: wakes the connections whose sends are due, a tick at a time.

use std::rc::Rc;
use std::time::Duration;

use super::state::{Shard, Traffic};
use crate::engine::runtime::batch_completions;

/// The pacer wakes at most once per this many µs and sends everything then due, so a core's
/// wakeups (each an io_uring_enter and a context switch, half the client's cost when every send
/// woke it) stay few whatever the rate. Measured at 10,000 msg/s on one core (loaded machine,
/// default run): 0 µs 43.0 CPU s per million messages, p50 220 µs; 250 µs 30.0 s, p50 326 µs;
/// 500 µs 21.8 s, p50 486 µs. `WSLOAD_PACER_TICK_US` overrides it.
const PACER_TICK_US: u32 = 500;

/// How the pacer fits the schedule to its wakeups: it wakes every `tick_ns` at most and sends
/// what falls due up to `lead_ns` ahead. The lead is a whole tick: each message leaves at the
/// last wakeup before its planned time, up to a tick early, instead of the first one after it,
/// up to a tick late. The tick is the load generator's own granularity, not the server's
/// latency, and the messages are grouped the same way, one tick earlier. An early send is
/// stamped with the time it leaves, not its planned time (`Conn::generate`), so its latency is
/// the one it had and never less; a send that leaves late (a busy or stalled client) keeps its
/// planned time, and the delay is recorded (send delay) and counted in the corrected latency.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    pub tick_ns: u64,
    pub lead_ns: u64,
}

impl Ticks {
    /// The defaults, or `WSLOAD_PACER_TICK_US` and `WSLOAD_PACER_LEAD_US` (at most a tick).
    pub fn from_env() -> Ticks {
        let tick = crate::engine::runtime::tunable("WSLOAD_PACER_TICK_US", PACER_TICK_US) as u64 * 1000;
        let lead = crate::engine::runtime::tunable("WSLOAD_PACER_LEAD_US", u32::MAX);
        let lead = if lead == u32::MAX {
            tick
        } else {
            (lead as u64 * 1000).min(tick)
        };
        Ticks {
            tick_ns: tick,
            lead_ns: lead,
        }
    }
}

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
