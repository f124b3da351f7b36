//! Open-loop pacing as pure functions of time.
//!
//! Every connection follows the per-connection rate curve of the traffic phases
//! (`RateCurve`): by time t it owes `cum(t)` messages. Connection `j` of `n`
//! sends its `k`-th message when that count passes `k + phase_j`, that is at
//! `start + inv(k + phase_j)`, with `phase_j = (j + offset) / n` in [0, 1), so
//! the connections of a core take turns evenly instead of all firing together
//! (and `offset`, in [0, 1), staggers the cores). At a constant rate this is
//! `start + (k + phase_j) * period`. Latency is then measured from this
//! intended time, which keeps a stalled server from hiding its stalls
//! (coordinated omission).

use crate::engine::schedule::RateCurve;

/// The pacer wakes at most once per this many µs and sends what falls due before its next
/// wakeup (`Ticks`), so a core's wakeups (each an io_uring_enter and a context switch, half the
/// client's cost when every send woke it) stay few whatever the rate. Measured at 10,000 msg/s
/// on one core: a 500 µs tick costs 12.4-14.8 CPU s per million messages, a 250 µs tick
/// 19.2 s with no better tail (corrected p50 0.03 ms for both, with the lead; the figures are
/// in docs/benchmarks.md). `WSLOAD_PACER_TICK_US` overrides it.
pub const PACER_TICK_US: u32 = 500;

/// How far ahead of its planned time a message may leave, µs: four ticks. A wakeup that comes
/// late (a busy machine, or a virtual CPU the host did not run: on the project's machine a
/// 500 µs sleep ends over 1 ms late once in a thousand, `wsload doctor` measures it) then
/// still sends on time, as long as it is less late than the lead less a tick; with a one-tick
/// lead every late wakeup made sends late, and the lateness went into the corrected latency as
/// if the server had caused it. Interleaved at 10k msg/s against `wsload serve`: send-delay p99
/// 0.69-3.36 ms with a 500 µs lead, 0 in two runs of three with 2 ms (2.25 ms in the third), at
/// the same CPU (docs/benchmarks.md).
pub const PACER_LEAD_US: u32 = 2_000;

/// How the pacer fits the schedule to its wakeups: it wakes every `tick_ns` at most and sends
/// what falls due up to `lead_ns` ahead (at least a tick), so each message leaves before its
/// planned time, by up to the lead, instead of at the first wakeup after it, up to a tick late.
/// The schedule keeps its shape, shifted earlier: the same messages are grouped per wakeup. An
/// early send is stamped with the time it leaves, not its planned time (`Conn::generate`), so
/// its latency is the one it had and never less; a send that leaves late (a client stalled for
/// longer than the lead, or too busy) keeps its planned time, and the delay is recorded (send
/// delay) and counted in the corrected latency. A server that stops reading still shows: its
/// echoes come back late, and once the socket's buffer is full the sends are late too.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    pub tick_ns: u64,
    pub lead_ns: u64,
}

impl Ticks {
    /// The lead a tick of `tick_us` gets unless told otherwise: [`PACER_LEAD_US`], at least a tick.
    pub fn default_lead_us(tick_us: u32) -> u32 {
        PACER_LEAD_US.max(tick_us)
    }

    /// The defaults, or `WSLOAD_PACER_TICK_US` and `WSLOAD_PACER_LEAD_US` (engine experiments).
    pub fn from_env() -> Ticks {
        use crate::engine::runtime::tunable;
        let tick_us = tunable("WSLOAD_PACER_TICK_US", PACER_TICK_US);
        Ticks::new(
            tick_us,
            tunable("WSLOAD_PACER_LEAD_US", Ticks::default_lead_us(tick_us)),
        )
    }

    /// A tick of `tick_us` and a lead of `lead_us`, taken as given.
    pub fn new(tick_us: u32, lead_us: u32) -> Ticks {
        Ticks {
            tick_ns: tick_us as u64 * 1000,
            lead_ns: lead_us as u64 * 1000,
        }
    }
}

/// Float rounding can put the closed-form count a message or two off the intended times; the
/// count is corrected against them, at most this many steps each way.
const FIX_STEPS: u32 = 4;

/// The phase of connection `index` of `count`, with the core's `offset` in [0, 1): in [0, 1).
/// `Roster` computes its events' times with exactly these float operations, so the two agree.
#[inline]
pub fn phase_of(index: u64, count: u64, offset: f64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    let offset = if (0.0..1.0).contains(&offset) { offset } else { 0.0 };
    ((index % count) as f64 + offset) / count as f64
}

#[inline]
fn at(start_ns: u64, curve: &RateCurve, x: f64) -> u64 {
    match curve.inv(x) {
        u64::MAX => u64::MAX,
        t => start_ns.saturating_add(t),
    }
}

/// `f` as a count: truncated, saturating, NaN to 0.
#[inline]
fn count(f: f64) -> u64 {
    f as u64
}

/// When one connection's messages are due. Times are in ns since the run epoch.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    pub start_ns: u64,
    pub curve: &'a RateCurve,
    /// Offset in messages, in [0, 1) (see `phase_of`).
    pub phase: f64,
}

impl<'a> Schedule<'a> {
    /// Connection `index` of `count` (with no core offset), from `start_ns`.
    pub fn new(start_ns: u64, curve: &'a RateCurve, index: u64, count: u64) -> Schedule<'a> {
        Schedule {
            start_ns,
            curve,
            phase: phase_of(index, count, 0.0),
        }
    }

    /// Intended send time of message `k` (`u64::MAX` when the curve never gets there).
    #[inline]
    pub fn intended_ns(&self, k: u64) -> u64 {
        at(self.start_ns, self.curve, k as f64 + self.phase)
    }

    /// How many messages are due by `now_ns` (those whose intended time is <= now).
    pub fn due(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns {
            return 0;
        }
        let c = self.curve.cum(now_ns - self.start_ns);
        let guess = if c >= self.phase {
            // Truncation is the floor here (non-negative), and cheaper than `floor` without SSE4.1.
            count(c - self.phase).saturating_add(1)
        } else {
            0
        };
        fix(guess, now_ns, |k| self.intended_ns(k))
    }
}

/// Move `n` so that event `n - 1` is at or before `now` and event `n` after it (both by `at`;
/// `u64::MAX` is never), by at most `FIX_STEPS` each way: the estimate is off only by float rounding.
#[inline]
fn fix(mut n: u64, now: u64, at: impl Fn(u64) -> u64) -> u64 {
    let by_now = |t: u64| t <= now && t != u64::MAX;
    for _ in 0..FIX_STEPS {
        if n > 0 && !by_now(at(n - 1)) {
            n -= 1;
        } else {
            break;
        }
    }
    for _ in 0..FIX_STEPS {
        if n < u64::MAX && by_now(at(n)) {
            n += 1;
        } else {
            break;
        }
    }
    n
}

/// The core-wide view used to wake connections: over all `count` connections of a core, event
/// `s` is message `s / count` of connection `s % count`, at `start + inv(s / count)` (plus the
/// core `offset`, as in `phase_of`). Walking `s` upward visits every send in time order.
#[derive(Debug, Clone, Copy)]
pub struct Roster<'a> {
    pub start_ns: u64,
    pub curve: &'a RateCurve,
    pub count: u64,
    /// The core's offset in [0, 1) (see `phase_of`).
    pub offset: f64,
}

impl Roster<'_> {
    /// Number of events (over all connections) due by `now_ns`.
    pub fn due(&self, now_ns: u64) -> u64 {
        if self.count == 0 || now_ns < self.start_ns {
            return 0;
        }
        // Event s is due once cum passes (s + offset) / count.
        let v = self.curve.cum(now_ns - self.start_ns) * self.count as f64 - self.offset;
        let guess = if v >= 0.0 { count(v).saturating_add(1) } else { 0 };
        fix(guess, now_ns, |s| self.at_ns(s))
    }

    /// Time of event `s` (`u64::MAX` when the curve never gets there): exactly the
    /// `Schedule::intended_ns` of its connection and message.
    #[inline]
    pub fn at_ns(&self, s: u64) -> u64 {
        if self.count == 0 {
            return u64::MAX;
        }
        let x = (s / self.count) as f64 + phase_of(s, self.count, self.offset);
        at(self.start_ns, self.curve, x)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::scenario::{Phase, PhaseKind};

    #[test]
    fn the_default_lead_is_2ms_and_at_least_a_tick() {
        let t = Ticks::new(PACER_TICK_US, Ticks::default_lead_us(PACER_TICK_US));
        assert_eq!((t.tick_ns, t.lead_ns), (500_000, 2_000_000));
        assert_eq!(Ticks::default_lead_us(4_000), 4_000, "a longer tick leads by itself");
        assert_eq!(Ticks::new(500, 0).lead_ns, 0, "an experiment's lead is taken as given");
    }

    #[test]
    fn due_counts_follow_the_schedule() {
        // rate 1/s, connection 1 of 4 → phase 0.25 s
        let c = RateCurve::constant(1.0);
        let s = Schedule::new(1_000, &c, 1, 4);
        let rows = [
            (0, 0),                       // before start
            (1_000, 0),                   // at start, still before the phase
            (1_000 + 250_000_000 - 1, 0), // one ns early
            (1_000 + 250_000_000, 1),     // exactly due
            (1_000 + 1_249_999_999, 1),   //
            (1_000 + 1_250_000_000, 2),   // second message
            (1_000 + 10_250_000_000, 11), // ten seconds on
        ];
        for (now, want) in rows {
            assert_eq!(s.due(now), want, "now {now}");
        }
        assert_eq!(s.intended_ns(0), 1_000 + 250_000_000);
        assert_eq!(s.intended_ns(2), 1_000 + 2_250_000_000);
    }

    #[test]
    fn zero_negative_nan_and_huge_rates_send_nothing_or_saturate() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let c = RateCurve::constant(rate);
            let s = Schedule::new(0, &c, 0, 1);
            assert_eq!(s.due(u64::MAX), 0, "rate {rate}");
            assert_eq!(s.intended_ns(5), u64::MAX, "rate {rate}");
        }
        let c = RateCurve::constant(1e12);
        let fast = Schedule::new(0, &c, 0, 1);
        assert_eq!(fast.due(u64::MAX), u64::MAX);
        let c = RateCurve::constant(1.0);
        assert_eq!(Schedule::new(0, &c, 0, 0).phase, 0.0);
        // an index beyond count wraps instead of pushing the phase past one period
        assert!(Schedule::new(0, &c, 9, 4).phase < 1.0);
        assert_eq!(phase_of(1, 4, f64::NAN), 0.25);
        assert_eq!(phase_of(3, 4, 0.5), 0.875);
    }

    /// Curves to run the property tests over: constant, and every kind of phase with gaps.
    fn curves() -> Vec<RateCurve> {
        let p = |start: u64, dur: u64, kind: PhaseKind| Phase {
            name: String::new(),
            start: Duration::from_millis(start),
            duration: Duration::from_millis(dur),
            kind,
        };
        vec![
            RateCurve::constant(3.0),
            RateCurve::constant(1e6),
            RateCurve::new(&[
                p(0, 300, PhaseKind::Idle),
                p(300, 1000, PhaseKind::Sustained { rate: 7.0 }),
                p(
                    1300,
                    2000,
                    PhaseKind::Burst {
                        rate: 2.0,
                        burst_rate: 60.0,
                        burst_for: Duration::from_millis(100),
                        every: Duration::from_millis(700),
                    },
                ),
                p(3500, 1000, PhaseKind::Ramp { from: 0.0, to: 40.0 }),
                p(4500, 500, PhaseKind::InFlight { window: 3 }),
                p(5000, 1500, PhaseKind::Ramp { from: 25.0, to: 0.0 }),
            ]),
        ]
    }

    #[test]
    fn due_never_counts_a_future_message() {
        for c in curves() {
            let s = Schedule {
                start_ns: 17,
                curve: &c,
                phase: phase_of(2, 7, 0.5),
            };
            let mut last = 0;
            for now in (0..7_000_000_000u64).step_by(33_333_331) {
                let d = s.due(now);
                assert!(d >= last);
                last = d;
                if d > 0 {
                    assert!(s.intended_ns(d - 1) <= now);
                }
                assert!(s.intended_ns(d) > now);
            }
        }
    }

    #[test]
    fn roster_visits_each_connection_in_turn() {
        // 4 connections at 2 msg/s: an event every 125 ms, connection s % 4.
        let c = RateCurve::constant(2.0);
        let r = Roster {
            start_ns: 0,
            curve: &c,
            count: 4,
            offset: 0.0,
        };
        assert_eq!(r.due(0), 1);
        assert_eq!(r.due(124_999_999), 1);
        assert_eq!(r.due(125_000_000), 2);
        assert_eq!(r.at_ns(4), 500_000_000);
        for s in 0..16u64 {
            let j = s % 4;
            let sched = Schedule::new(0, &c, j, 4);
            assert_eq!(sched.intended_ns(s / 4), r.at_ns(s), "event {s}");
        }
        let zero = RateCurve::constant(0.0);
        let idle = Roster { curve: &zero, ..r };
        assert_eq!(idle.due(u64::MAX), 0);
        assert_eq!(idle.at_ns(0), u64::MAX);
        assert_eq!(Roster { count: 0, ..r }.due(10), 0);
    }

    #[test]
    fn roster_is_the_schedules_merged_in_time_order() {
        for c in curves() {
            for (n, offset) in [(1u64, 0.0), (3, 0.25), (7, 0.5), (100, 0.9)] {
                let r = Roster {
                    start_ns: 1_000,
                    curve: &c,
                    count: n,
                    offset,
                };
                let sched = |j: u64| Schedule {
                    start_ns: 1_000,
                    curve: &c,
                    phase: phase_of(j, n, offset),
                };
                let mut last = 0;
                for s in 0..2_000u64 {
                    let t = r.at_ns(s);
                    assert!(t >= last, "event {s} of {n} out of order");
                    last = t;
                    assert_eq!(t, sched(s % n).intended_ns(s / n), "event {s} of {n}");
                }
                // The roster's count is the sum of the connections' counts, at any time.
                for now in (0..7_000_000_000u64).step_by(97_654_321) {
                    let total: u64 = (0..n).map(|j| sched(j).due(now)).sum();
                    assert_eq!(r.due(now), total, "{n} at {now}");
                }
            }
        }
    }

    /// The walk the pacer does at run time, timed and then checked: ns per call is printed for
    /// the record (a timing is never asserted: `cargo test --release --lib shard::pacer --
    /// --nocapture`), and the same calls are checked against a reference. The intended times
    /// rise, each message is due at its intended time and not a nanosecond before, and the sum
    /// of the timed `due` calls equals a count of the intended times by binary search.
    #[test]
    fn cost_per_call() {
        for (name, c) in [
            ("constant", RateCurve::constant(1000.0)),
            ("phases", curves().remove(2)),
        ] {
            let total = (c.cum(u64::MAX) as u64).clamp(1, 50_000);
            let s = Schedule {
                start_ns: 0,
                curve: &c,
                phase: 0.3,
            };
            let iters = 2_000_000u64;
            let t = Instant::now();
            let mut acc = 0u64;
            for k in 0..iters {
                acc = acc.wrapping_add(std::hint::black_box(&s).intended_ns(k % total));
            }
            let intended = t.elapsed().as_nanos() as f64 / iters as f64;
            let now_of = |i: u64| i.wrapping_mul(2_654_435_761) % 7_000_000_000;
            let t = Instant::now();
            let mut due_sum = 0u64;
            for i in 0..iters {
                due_sum = due_sum.wrapping_add(std::hint::black_box(&s).due(now_of(i)));
            }
            let due = t.elapsed().as_nanos() as f64 / iters as f64;
            eprintln!("pacer {name}: intended_ns {intended:.1} ns/call, due {due:.1} ns/call");

            let times: Vec<u64> = (0..total).map(|k| s.intended_ns(k)).collect();
            let want_acc = (0..iters).fold(0u64, |a, k| a.wrapping_add(times[(k % total) as usize]));
            assert_eq!(acc, want_acc, "{name}: intended_ns is not a function of k");
            for (k, &t) in times.iter().enumerate() {
                let k = k as u64;
                assert!(t != u64::MAX, "{name}: message {k} of {total} never due");
                assert!(
                    k == 0 || t > times[k as usize - 1],
                    "{name}: message {k} not after {}",
                    k - 1
                );
                assert_eq!(s.due(t), k + 1, "{name}: message {k} is not due at its intended time");
                assert_eq!(s.due(t - 1), k, "{name}: message {k} is due 1 ns early");
            }
            let want_due = (0..iters).fold(0u64, |a, i| {
                a.wrapping_add(times.partition_point(|&t| t <= now_of(i)) as u64)
            });
            assert_eq!(due_sum, want_due, "{name}: due() disagrees with the intended times");
        }
    }
}
