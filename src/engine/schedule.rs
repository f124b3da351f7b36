//! Ramps, traffic rates and reconnection backoff as pure functions of time.
//!
//! Nothing here keeps state or reads a clock: a core asks "how many connections
//! should be open now", "how many messages are due per connection by now" and
//! "when is message k due", and gets the same answer every time. The rate
//! curve is called per message, so it is precomputed once (one segment per
//! phase) and every call is a binary search over the phases plus a closed form:
//! no allocation, no loop over time.
//!
//! Inputs that validation rejects (NaN, infinite or negative rates, zero
//! periods) never panic or loop; each function documents what it does with them.

use std::time::Duration;

use crate::config::scenario::model::{Phase, PhaseKind, Ramp, Reconnect};

/// What "never" saturates to: `u64::MAX` ns, about 584 years.
pub const NEVER: Duration = Duration::from_nanos(u64::MAX);

/// A duration in ns, saturating at `u64::MAX`.
#[inline]
fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

/// `f` as u64: truncated, saturating, NaN and negatives to 0.
#[inline]
fn to_u64(f: f64) -> u64 {
    // `as` saturates and maps NaN to 0.
    f as u64
}

/// A rate that can be used: NaN, infinite and negative rates become 0.
#[inline]
fn sane_rate(r: f64) -> f64 {
    if r.is_finite() && r > 0.0 {
        r
    } else {
        0.0
    }
}

/// The smallest `x` in `lo..=u64::MAX` with `pred(x)`, for a `pred` that is false then true
/// (monotone); `None` when it is false even at `u64::MAX`. Gallops from `guess`, then bisects:
/// O(log |answer - guess|) calls.
fn first_true(lo: u64, guess: u64, pred: impl Fn(u64) -> bool) -> Option<u64> {
    let (lo, max) = (lo as i128, u64::MAX as i128);
    let g = (guess as i128).clamp(lo, max);
    // Invariant: pred(f) is false (or f == lo - 1), pred(t) is true.
    let (mut f, mut t);
    if pred(g as u64) {
        t = g;
        let mut step = 1i128;
        loop {
            let c = t - step;
            if c < lo {
                f = lo - 1;
                break;
            }
            if pred(c as u64) {
                t = c;
                step *= 2;
            } else {
                f = c;
                break;
            }
        }
    } else {
        f = g;
        let mut step = 1i128;
        loop {
            let c = f + step;
            if c >= max {
                if !pred(u64::MAX) {
                    return None;
                }
                t = max;
                break;
            }
            if pred(c as u64) {
                t = c;
                break;
            }
            f = c;
            step *= 2;
        }
    }
    while t - f > 1 {
        let m = f + (t - f) / 2;
        if pred(m as u64) {
            t = m;
        } else {
            f = m;
        }
    }
    Some(t as u64)
}

impl Ramp {
    /// Connections wanted open `t` after the run start, out of `total`: non-decreasing in `t`,
    /// never above `total`, 0 when `total` is 0.
    ///
    /// - `Burst`: `total` at every `t`.
    /// - `Linear { per_s }`: `min(total, floor(per_s * t) + 1)`: the first connection is wanted
    ///   at t = 0, the next `1/per_s` later. A rate that is 0, negative or NaN wants 1 forever; an
    ///   infinite rate wants 1 at t = 0 and `total` from 1 ns on.
    /// - `Exponential { start, factor, every }`: `min(total, floor(start * factor^floor(t/every)))`.
    ///   A factor below 1 or NaN counts as 1 (never shrinks); `start` 0 wants 0 forever; `every` 0
    ///   wants `total` at once (or `start` when the factor is 1).
    /// - `Stepped { step, hold }`: `min(total, step * (floor(t/hold) + 1))`. `hold` 0 wants
    ///   `total` at once (if `step` > 0); `step` 0 wants 0 forever.
    pub fn target(&self, t: Duration, total: u64) -> u64 {
        self.target_ns(ns(t), total)
    }

    fn target_ns(&self, t: u64, total: u64) -> u64 {
        let want = match *self {
            Ramp::Burst => total,
            Ramp::Linear { per_s } => {
                if per_s.is_nan() || per_s <= 0.0 || t == 0 {
                    1
                } else {
                    to_u64((per_s * (t as f64 / 1e9)).floor()).saturating_add(1)
                }
            }
            Ramp::Exponential { start, factor, every } => {
                let grows = factor > 1.0;
                let every = ns(every);
                match t.checked_div(every) {
                    _ if start == 0 || !grows => start,
                    None => total,
                    Some(steps) => to_u64((start as f64 * factor.powf(steps as f64)).floor()).max(start),
                }
            }
            Ramp::Stepped { step, hold } => {
                let hold = ns(hold);
                match t.checked_div(hold) {
                    _ if step == 0 => 0,
                    None => total,
                    Some(steps) => step.saturating_mul(steps.saturating_add(1)),
                }
            }
        };
        want.min(total)
    }

    /// A guess (ns) of the first time `target >= goal`; only a starting point for `first_true`.
    fn guess_ns(&self, goal: u64) -> u64 {
        match *self {
            Ramp::Burst => 0,
            Ramp::Linear { per_s } => to_u64(goal.saturating_sub(1) as f64 / per_s * 1e9),
            Ramp::Exponential { start, factor, every } => {
                let k = ((goal as f64 / start as f64).ln() / factor.ln()).ceil();
                to_u64(k * ns(every) as f64)
            }
            Ramp::Stepped { step, hold } => {
                let k = goal.div_ceil(step.max(1)).saturating_sub(1);
                k.saturating_mul(ns(hold))
            }
        }
    }

    /// The first time `target(t) == total` (ZERO for `Burst` and for `total` 0); `NEVER` when the
    /// ramp never gets there (a zero rate, a zero start, or later than `NEVER`).
    /// `target(full_at) == total` and `target(full_at - 1 ns) < total` hold exactly.
    pub fn full_at(&self, total: u64) -> Duration {
        if total == 0 {
            return Duration::ZERO;
        }
        let guess = self.guess_ns(total);
        first_true(0, guess, |x| self.target_ns(x, total) >= total).map_or(NEVER, Duration::from_nanos)
    }

    /// When `target` next changes after `t`: the first `t' > t` with `target(t') > target(t)`.
    /// `None` when it is already `total`, or never changes again (a zero rate): nothing to wait for.
    pub fn next_change(&self, t: Duration, total: u64) -> Option<Duration> {
        let t = ns(t);
        let now = self.target_ns(t, total);
        if now >= total || t == u64::MAX {
            return None;
        }
        let guess = self.guess_ns(now + 1).max(t + 1);
        first_true(t + 1, guess, |x| self.target_ns(x, total) > now).map(Duration::from_nanos)
    }
}

/// Ramp-down over `over`: connections still wanted `t` after it began, out of `total`:
/// `total - floor(total * t / over)` (exact integer arithmetic), so `total` at 0, 0 at `t >= over`,
/// linear and never increasing between. `over` 0 wants 0 at once.
pub fn ramp_down_target(t: Duration, over: Duration, total: u64) -> u64 {
    if t >= over {
        return 0;
    }
    let gone = total as u128 * t.as_nanos() / over.as_nanos();
    total - gone as u64
}

/// The rate over one phase, per ns. Times are ns from the segment start, as f64.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// A constant rate `r` (possibly 0: idle, closed-loop, or a zero rate); `p` = 1/r, ns a message.
    Const { r: f64, p: f64 },
    /// `peak` for the first `on` ns of every `period`, `base` for the rest; `per` messages a period.
    Burst {
        base: f64,
        peak: f64,
        on: u64,
        period: u64,
        per: f64,
    },
    /// `r0 + a * τ`.
    Ramp { r0: f64, a: f64 },
}

impl Shape {
    /// A constant `rate` in messages/s (already sane).
    fn constant(rate: f64) -> Shape {
        Shape::Const {
            r: rate / 1e9,
            p: 1e9 / rate,
        }
    }

    fn rate(&self, tau: u64) -> f64 {
        match *self {
            Shape::Const { r, .. } => r,
            Shape::Burst {
                base, peak, on, period, ..
            } => {
                if tau % period < on {
                    peak
                } else {
                    base
                }
            }
            Shape::Ramp { r0, a } => (r0 + a * tau as f64).max(0.0),
        }
    }

    /// Messages from the segment start to `tau`.
    fn cum(&self, tau: u64) -> f64 {
        match *self {
            Shape::Const { r, .. } => r * tau as f64,
            Shape::Burst {
                base,
                peak,
                on,
                period,
                per,
            } => {
                let (p, o) = (tau / period, tau % period);
                let within = if o < on {
                    peak * o as f64
                } else {
                    peak * on as f64 + base * (o - on) as f64
                };
                p as f64 * per + within
            }
            Shape::Ramp { r0, a } => {
                let t = tau as f64;
                t * (r0 + 0.5 * a * t)
            }
        }
    }

    /// The first τ (ns, fractional) at which the segment's count rises past `y` (> 0 and below the
    /// segment's total). Not clamped: the caller clamps to the segment.
    fn inv(&self, y: f64) -> f64 {
        match *self {
            Shape::Const { p, .. } => y * p,
            Shape::Burst {
                base,
                peak,
                on,
                period,
                per,
            } => {
                // The floor by truncation (y >= 0), as in `RateCurve::inv`.
                let p = to_u64(y / per) as f64;
                let r = (y - p * per).max(0.0);
                let on = on as f64;
                let spike = peak * on;
                let o = if peak > 0.0 && (r <= spike || base == 0.0) {
                    (r / peak).min(on)
                } else {
                    on + (r - spike).max(0.0) / base
                };
                p * period as f64 + o.min(period as f64)
            }
            // a/2 τ² + r0 τ - y = 0, in the form without cancellation: τ = 2y / (r0 + √(r0² + 2ay)).
            Shape::Ramp { r0, a } => {
                let d = (r0 * r0 + 2.0 * a * y).max(0.0);
                let den = r0 + d.sqrt();
                if den > 0.0 {
                    2.0 * y / den
                } else {
                    0.0
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Seg {
    start: u64,
    end: u64,
    /// Messages due per connection at `start` and at `end`.
    cum0: f64,
    cum1: f64,
    shape: Shape,
    /// Index into the phases the curve was built from.
    phase: usize,
}

/// Per-connection open-loop message rate over the traffic phases, as a function of time since the
/// traffic start (ns). Idle and in-flight phases, gaps between phases and everything after the
/// last phase have rate 0. Rates that are NaN, infinite or negative count as 0.
///
/// Built once; each call is a binary search over the phases plus a closed form.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCurve {
    /// In time order, not overlapping.
    segs: Vec<Seg>,
}

impl RateCurve {
    /// The curve of `phases`. Phases are expected in time order and not overlapping (validation
    /// guarantees it); otherwise they are sorted by start and each is cut to begin where the
    /// previous one ends.
    pub fn new(phases: &[Phase]) -> RateCurve {
        let mut order: Vec<usize> = (0..phases.len()).collect();
        order.sort_by_key(|&i| phases[i].start);
        let mut segs = Vec::with_capacity(phases.len());
        let (mut prev_end, mut cum) = (0u64, 0.0f64);
        for i in order {
            let p = &phases[i];
            let start = ns(p.start).max(prev_end);
            let end = ns(p.end()).max(start);
            let shape = shape_of(&p.kind, end - start);
            let cum1 = cum + shape.cum(end - start);
            segs.push(Seg {
                start,
                end,
                cum0: cum,
                cum1,
                shape,
                phase: i,
            });
            prev_end = end;
            cum = cum1;
        }
        RateCurve { segs }
    }

    /// One constant rate (messages/s per connection) from 0 on, forever; phase 0 throughout.
    pub fn constant(rate: f64) -> RateCurve {
        let shape = Shape::constant(sane_rate(rate));
        RateCurve {
            segs: vec![Seg {
                start: 0,
                end: u64::MAX,
                cum0: 0.0,
                cum1: shape.cum(u64::MAX),
                shape,
                phase: 0,
            }],
        }
    }

    /// The segment in effect at `t` (the last starting at or before it), if any.
    #[inline]
    fn seg_at(&self, t: u64) -> Option<&Seg> {
        let i = self.segs.partition_point(|s| s.start <= t);
        if i == 0 {
            None
        } else {
            Some(&self.segs[i - 1])
        }
    }

    /// Messages per second per connection at `t_ns`.
    pub fn rate(&self, t_ns: u64) -> f64 {
        match self.seg_at(t_ns) {
            Some(s) if t_ns < s.end => s.shape.rate(t_ns - s.start) * 1e9,
            _ => 0.0,
        }
    }

    /// Messages due per connection by `t_ns`: the integral of the rate from 0 to `t_ns`.
    #[inline]
    pub fn cum(&self, t_ns: u64) -> f64 {
        match self.seg_at(t_ns) {
            None => 0.0,
            Some(s) if t_ns >= s.end => s.cum1,
            Some(s) => s.cum0 + s.shape.cum(t_ns - s.start),
        }
    }

    /// The time (ns) at which the count reaches `x` and keeps rising: the earliest `t` with
    /// `cum(t) >= x`, except that where the count is flat at exactly `x` (a gap, an idle phase)
    /// it is the end of the flat stretch, so a message never falls due where the rate is 0
    /// (and a phase of rate r and length D sends r·D messages, not one more). Negative `x`
    /// counts as 0. `u64::MAX` when the curve never gets past `x` (and for NaN).
    /// Non-decreasing in `x`; rounded to the nearest ns, so `cum(inv(x)) >= x - rate · 0.5 ns`
    /// (up to float rounding).
    #[inline]
    pub fn inv(&self, x: f64) -> u64 {
        if x.is_nan() {
            return u64::MAX;
        }
        let x = x.max(0.0);
        let i = self.segs.partition_point(|s| s.cum1 <= x);
        let Some(s) = self.segs.get(i) else {
            return u64::MAX;
        };
        let len = (s.end - s.start) as f64;
        // Rounded to the nearest ns: the closest an integer time gets to the exact crossing.
        // (+0.5 and truncation: `round` is a libm call without SSE4.1, and τ is not negative.)
        let tau = s.shape.inv(x - s.cum0).clamp(0.0, len);
        s.start.saturating_add(to_u64(tau + 0.5)).min(s.end)
    }

    /// Index of the phase in effect at `t_ns`; `None` in a gap and after the end.
    pub fn phase_at(&self, t_ns: u64) -> Option<usize> {
        match self.seg_at(t_ns) {
            Some(s) if t_ns < s.end => Some(s.phase),
            _ => None,
        }
    }
}

/// The rate shape of one phase lasting `len` ns.
fn shape_of(kind: &PhaseKind, len: u64) -> Shape {
    match *kind {
        PhaseKind::Sustained { rate } => Shape::constant(sane_rate(rate)),
        PhaseKind::Idle | PhaseKind::InFlight { .. } => Shape::constant(0.0),
        PhaseKind::Burst {
            rate,
            burst_rate,
            burst_for,
            every,
        } => {
            let (base, peak) = (sane_rate(rate) / 1e9, sane_rate(burst_rate) / 1e9);
            let (on, period) = (ns(burst_for), ns(every));
            if on == 0 {
                Shape::constant(sane_rate(rate))
            } else if on >= period {
                // Always in a spike (including `every` 0).
                Shape::constant(sane_rate(burst_rate))
            } else {
                Shape::Burst {
                    base,
                    peak,
                    on,
                    period,
                    per: peak * on as f64 + base * (period - on) as f64,
                }
            }
        }
        PhaseKind::Ramp { from, to } => {
            let (r0, r1) = (sane_rate(from) / 1e9, sane_rate(to) / 1e9);
            if len == 0 || r0 == r1 {
                Shape::constant(sane_rate(from))
            } else {
                Shape::Ramp {
                    r0,
                    a: (r1 - r0) / len as f64,
                }
            }
        }
    }
}

/// Delay before reconnect attempt `attempt` (0 = the first after a drop); `u` in [0,1) is a
/// uniform random number for jitter. `None`: do not reconnect (policy off). `Immediate`: ZERO.
/// `Backoff`: `min(max, initial * factor^attempt) * (1 + jitter * (2u - 1))`.
///
/// Never negative, never overflows: a factor that is NaN or negative counts as 1, `jitter` is
/// clamped to [0, 1] (NaN: 0), `u` to [0, 1] (NaN: 0.5, no jitter); a result beyond `NEVER`
/// saturates to it.
pub fn backoff_delay(policy: &Reconnect, attempt: u32, u: f64) -> Option<Duration> {
    match *policy {
        Reconnect::Off => None,
        Reconnect::Immediate => Some(Duration::ZERO),
        Reconnect::Backoff {
            initial,
            max,
            factor,
            jitter,
        } => {
            let factor = if factor >= 0.0 { factor } else { 1.0 };
            let grown = initial.as_nanos() as f64 * factor.powf(attempt as f64);
            let grown = if grown.is_nan() { 0.0 } else { grown };
            let capped = grown.min(max.as_nanos() as f64);
            let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
            let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
            let d = capped * (1.0 + jitter * (2.0 * u - 1.0));
            Some(Duration::from_nanos(to_u64(d)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn d(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn ramps() -> Vec<Ramp> {
        vec![
            Ramp::Burst,
            Ramp::Linear { per_s: 10.0 },
            Ramp::Linear { per_s: 3.0 },
            Ramp::Linear { per_s: 1e9 },
            Ramp::Exponential {
                start: 1,
                factor: 2.0,
                every: secs(1.0),
            },
            Ramp::Exponential {
                start: 3,
                factor: 1.1,
                every: secs(0.5),
            },
            Ramp::Stepped {
                step: 7,
                hold: secs(2.0),
            },
        ]
    }

    #[test]
    fn ramp_targets_at_chosen_times() {
        let lin = Ramp::Linear { per_s: 10.0 };
        let exp = Ramp::Exponential {
            start: 1,
            factor: 2.0,
            every: secs(1.0),
        };
        let step = Ramp::Stepped {
            step: 7,
            hold: secs(2.0),
        };
        let rows: &[(&Ramp, u64, u64, u64)] = &[
            // ramp, t (ns), total, want
            (&Ramp::Burst, 0, 100, 100),
            (&Ramp::Burst, 5 * S, 100, 100),
            (&Ramp::Burst, 0, 0, 0),
            (&lin, 0, 100, 1), // the first connection at t = 0
            (&lin, 100 * MS - 1, 100, 1),
            (&lin, 100 * MS, 100, 2),
            (&lin, S, 100, 11),
            (&lin, 9 * S + 900 * MS, 100, 100),
            (&lin, 1000 * S, 100, 100),
            (&lin, 0, 0, 0),
            (&exp, 0, 100, 1),
            (&exp, S - 1, 100, 1),
            (&exp, S, 100, 2),
            (&exp, 6 * S, 100, 64),
            (&exp, 7 * S, 100, 100),
            (&exp, u64::MAX, 100, 100),
            (&step, 0, 100, 7),
            (&step, 2 * S - 1, 100, 7),
            (&step, 2 * S, 100, 14),
            (&step, 28 * S, 100, 100),
            (&step, u64::MAX, 100, 100),
        ];
        for &(r, t, total, want) in rows {
            assert_eq!(r.target(d(t), total), want, "{r:?} at {t} of {total}");
        }
        // Durations beyond u64 ns saturate instead of wrapping.
        assert_eq!(lin.target(Duration::MAX, 5), 5);
    }

    #[test]
    fn nonsense_ramps_neither_panic_nor_loop() {
        let rows: &[(Ramp, u64, Duration)] = &[
            // ramp, target at 1000 s of 10, full_at of 10
            (Ramp::Linear { per_s: 0.0 }, 1, NEVER),
            (Ramp::Linear { per_s: -3.0 }, 1, NEVER),
            (Ramp::Linear { per_s: f64::NAN }, 1, NEVER),
            (Ramp::Linear { per_s: f64::INFINITY }, 10, d(1)),
            (Ramp::Linear { per_s: 1e-300 }, 1, NEVER),
            (
                Ramp::Exponential {
                    start: 0,
                    factor: 2.0,
                    every: secs(1.0),
                },
                0,
                NEVER,
            ),
            (
                Ramp::Exponential {
                    start: 2,
                    factor: 0.5,
                    every: secs(1.0),
                },
                2,
                NEVER,
            ),
            (
                Ramp::Exponential {
                    start: 2,
                    factor: f64::NAN,
                    every: secs(1.0),
                },
                2,
                NEVER,
            ),
            (
                Ramp::Exponential {
                    start: 2,
                    factor: 3.0,
                    every: Duration::ZERO,
                },
                10,
                Duration::ZERO,
            ),
            (
                Ramp::Exponential {
                    start: 50,
                    factor: 3.0,
                    every: secs(1.0),
                },
                10,
                Duration::ZERO,
            ),
            (
                Ramp::Exponential {
                    start: 1,
                    factor: f64::INFINITY,
                    every: secs(1.0),
                },
                10,
                secs(1.0),
            ),
            (
                Ramp::Stepped {
                    step: 0,
                    hold: secs(1.0),
                },
                0,
                NEVER,
            ),
            (
                Ramp::Stepped {
                    step: 3,
                    hold: Duration::ZERO,
                },
                10,
                Duration::ZERO,
            ),
            (
                Ramp::Stepped {
                    step: u64::MAX,
                    hold: secs(1.0),
                },
                10,
                Duration::ZERO,
            ),
        ];
        for (r, at_1000, full) in rows {
            assert_eq!(r.target(secs(1000.0), 10), *at_1000, "{r:?}");
            assert_eq!(r.full_at(10), *full, "{r:?}");
            assert_eq!(r.full_at(0), Duration::ZERO, "{r:?}");
            assert_eq!(r.target(secs(5.0), 0), 0, "{r:?}");
            if *full == NEVER {
                assert_eq!(r.next_change(secs(1000.0), 10), None, "{r:?}");
            }
        }
    }

    #[test]
    fn full_at_is_the_first_time_the_target_is_total() {
        for r in ramps() {
            for total in [1, 2, 10, 100, 1_000_003, u64::MAX] {
                let full = r.full_at(total);
                if full == NEVER && r.target(NEVER, total) < total {
                    // Not within 584 years (u64::MAX connections at a finite rate).
                    assert_eq!(total, u64::MAX, "{r:?}");
                    continue;
                }
                assert_eq!(r.target(full, total), total, "{r:?} of {total}");
                if full > Duration::ZERO {
                    assert!(r.target(full - d(1), total) < total, "{r:?} of {total}");
                }
            }
        }
        assert_eq!(Ramp::Burst.full_at(10), Duration::ZERO);
        assert_eq!(Ramp::Linear { per_s: 10.0 }.full_at(1), Duration::ZERO);
        assert_eq!(Ramp::Linear { per_s: 10.0 }.full_at(11), secs(1.0));
        assert_eq!(Ramp::Linear { per_s: 3.0 }.full_at(2), d(333_333_334));
    }

    #[test]
    fn next_change_is_the_next_step_and_nothing_in_between_changes() {
        for r in ramps() {
            let total = 50;
            let mut t = Duration::ZERO;
            let mut steps = 0;
            while let Some(next) = r.next_change(t, total) {
                assert!(next > t, "{r:?}");
                let before = r.target(t, total);
                assert!(r.target(next, total) > before, "{r:?} at {next:?}");
                assert_eq!(r.target(next - d(1), total), before, "{r:?} at {next:?}");
                // Somewhere strictly between, nothing has changed yet.
                assert_eq!(r.target(t + (next - t) / 2, total), before, "{r:?}");
                t = next;
                steps += 1;
                assert!(steps <= total, "{r:?} changes more often than it can grow");
            }
            assert_eq!(r.target(t, total), total, "{r:?}");
            assert_eq!(t, r.full_at(total), "{r:?}");
        }
        let step = Ramp::Stepped {
            step: 7,
            hold: secs(2.0),
        };
        assert_eq!(step.next_change(secs(0.5), 100), Some(secs(2.0)));
        assert_eq!(step.next_change(secs(2.0), 100), Some(secs(4.0)));
        assert_eq!(step.next_change(secs(100.0), 100), None);
        assert_eq!(step.next_change(Duration::MAX, 100), None);
        assert_eq!(Ramp::Burst.next_change(Duration::ZERO, 100), None);
    }

    #[test]
    fn ramp_down_is_linear_and_never_increases() {
        let over = secs(10.0);
        let rows = [
            (0, 100),
            (1, 100),
            (S / 10 - 1, 100),
            (S / 10, 99),
            (5 * S, 50),
            (10 * S - 1, 1),
            (10 * S, 0),
        ];
        for (t, want) in rows {
            assert_eq!(ramp_down_target(d(t), over, 100), want, "t {t}");
        }
        let mut last = u64::MAX;
        for i in 0..=1000u64 {
            let now = ramp_down_target(d(i * 10 * MS + 7), over, 12_345);
            assert!(now <= last);
            last = now;
        }
        assert_eq!(ramp_down_target(Duration::ZERO, Duration::ZERO, 10), 0);
        assert_eq!(ramp_down_target(Duration::MAX, over, u64::MAX), 0);
        assert_eq!(ramp_down_target(secs(5.0), over, u64::MAX), u64::MAX - u64::MAX / 2);
        assert_eq!(ramp_down_target(secs(5.0), over, 0), 0);
    }

    fn phase(start: f64, duration: f64, kind: PhaseKind) -> Phase {
        Phase {
            name: String::new(),
            start: secs(start),
            duration: secs(duration),
            kind,
        }
    }

    /// Every kind of phase, with a gap, an idle and a closed-loop phase in between.
    fn all_kinds() -> Vec<Phase> {
        vec![
            phase(0.0, 10.0, PhaseKind::Sustained { rate: 100.0 }),
            phase(
                10.0,
                60.0,
                PhaseKind::Burst {
                    rate: 10.0,
                    burst_rate: 1000.0,
                    burst_for: secs(1.0),
                    every: secs(7.0),
                },
            ),
            phase(70.0, 20.0, PhaseKind::Ramp { from: 0.0, to: 50.0 }),
            phase(90.0, 5.0, PhaseKind::Idle),
            // a gap 95..100
            phase(100.0, 20.0, PhaseKind::Ramp { from: 50.0, to: 0.0 }),
            phase(120.0, 5.0, PhaseKind::InFlight { window: 4 }),
            phase(125.0, 4.0, PhaseKind::Ramp { from: 20.0, to: 20.0 }),
            phase(129.0, 10.0, PhaseKind::Ramp { from: 3.0, to: 1e6 }),
        ]
    }

    #[test]
    fn rate_cum_and_phase_at_follow_the_phases() {
        let c = RateCurve::new(&all_kinds());
        let rows: &[(f64, f64, Option<usize>)] = &[
            // t (s), rate, phase
            (0.0, 100.0, Some(0)),
            (9.999, 100.0, Some(0)),
            (10.0, 1000.0, Some(1)),
            (10.999, 1000.0, Some(1)),
            (11.0, 10.0, Some(1)),
            (17.0, 1000.0, Some(1)),
            (18.5, 10.0, Some(1)),
            (70.0, 0.0, Some(2)),
            (80.0, 25.0, Some(2)),
            (92.0, 0.0, Some(3)),
            (97.0, 0.0, None),
            (110.0, 25.0, Some(4)),
            (122.0, 0.0, Some(5)),
            (127.0, 20.0, Some(6)),
            (1e6, 0.0, None),
        ];
        for &(t, rate, ph) in rows {
            let t_ns = (t * 1e9) as u64;
            assert!(
                (c.rate(t_ns) - rate).abs() < 1e-6 * rate.max(1.0),
                "rate at {t}: {}",
                c.rate(t_ns)
            );
            assert_eq!(c.phase_at(t_ns), ph, "phase at {t}");
        }
        // Cumulative counts at phase boundaries, computed by hand.
        let rows: &[(f64, f64)] = &[
            (10.0, 1000.0),
            // 60 s = 8 periods of 7 s (1060 each) + 4 s (1 s spike, 3 s base)
            (70.0, 1000.0 + 8.0 * 1060.0 + 1000.0 + 30.0),
            (90.0, 1000.0 + 9510.0 + 500.0),
            (100.0, 11_010.0),
            (120.0, 11_010.0 + 500.0),
            (129.0, 11_510.0 + 80.0),
            (1e6, 11_590.0 + 10.0 * (3.0 + 1e6) / 2.0),
        ];
        for &(t, want) in rows {
            let got = c.cum((t * 1e9) as u64);
            assert!((got - want).abs() < 1e-6 * want, "cum at {t}: {got}, want {want}");
        }
        assert_eq!(c.cum(0), 0.0);
        assert_eq!(c.cum(u64::MAX), c.cum((139.0 * 1e9) as u64));
        assert_eq!(c.inv(c.cum(u64::MAX) + 1.0), u64::MAX);
        assert_eq!(c.inv(f64::NAN), u64::MAX);
    }

    #[test]
    fn inv_round_trips_with_cum_for_every_kind() {
        let c = RateCurve::new(&all_kinds());
        let end = c.cum(u64::MAX);
        let mut last = 0u64;
        let mut x = 0.0;
        // Many points, irregularly spaced, across every phase.
        while x < end {
            let t = c.inv(x);
            assert!(t >= last, "inv not monotone at {x}");
            last = t;
            // Rounding to the nearest ns is worth up to half a ns of messages.
            let eps = 1e-9 * x.max(1.0) + c.rate(t).max(c.rate(t.saturating_sub(1))) / 1e9;
            assert!(c.cum(t) >= x - eps, "cum(inv({x})) = {} at {t}", c.cum(t));
            if t > 0 {
                // The earliest such time: one ns earlier it was not there yet.
                assert!(c.cum(t - 1) < x + eps, "inv({x}) = {t} is late");
            }
            // Never inside a stretch of rate 0 (gaps, idle, closed loop, a ramp's zero end).
            assert!(
                c.rate(t) > 0.0 || c.rate(t + 1) > 0.0 || c.rate(t.saturating_sub(1)) > 0.0,
                "at {t}"
            );
            x += 0.37 + x * 1e-3;
        }
        // x at exactly the count of a phase followed by rate 0: due where the rate resumes.
        assert_eq!(c.inv(c.cum(92 * S)), 100 * S);
        assert_eq!(c.inv(c.cum(122 * S)), 125 * S);
        assert_eq!(c.inv(-5.0), 0);
        assert_eq!(c.inv(0.0), 0);
        // A curve starting idle: nothing before its first active phase, even message 0.
        let idle_first = RateCurve::new(&[
            phase(0.0, 5.0, PhaseKind::Idle),
            phase(5.0, 5.0, PhaseKind::Sustained { rate: 2.0 }),
        ]);
        assert_eq!(idle_first.inv(0.0), 5 * S);
        assert_eq!(idle_first.inv(1.0), 5 * S + S / 2);
        assert_eq!(idle_first.inv(10.0), u64::MAX, "10 messages in 5 s at 2/s: 0..9");
        assert_eq!(idle_first.inv(9.999), 10 * S - MS / 2);
    }

    #[test]
    fn a_burst_phase_sends_the_analytic_count_in_any_window() {
        let c = RateCurve::new(&[phase(
            3.0,
            100.0,
            PhaseKind::Burst {
                rate: 20.0,
                burst_rate: 500.0,
                burst_for: secs(0.25),
                every: secs(2.0),
            },
        )]);
        // Messages in [a, b): an integral over the spikes and the base stretches.
        let analytic = |a: f64, b: f64| {
            let count = |t: f64| {
                let t = (t - 3.0).clamp(0.0, 100.0);
                let (p, o) = ((t / 2.0).floor(), t % 2.0);
                p * (500.0 * 0.25 + 20.0 * 1.75) + if o < 0.25 { 500.0 * o } else { 125.0 + 20.0 * (o - 0.25) }
            };
            count(b) - count(a)
        };
        for (a, b) in [
            (0.0, 200.0),
            (3.0, 3.25),
            (3.1, 3.2),
            (4.0, 5.0),
            (10.1, 57.3),
            (5.0, 5.25),
            (99.0, 104.0),
        ] {
            let got = c.cum((b * 1e9) as u64) - c.cum((a * 1e9) as u64);
            let want = analytic(a, b);
            assert!((got - want).abs() < 1e-6 * want.max(1.0), "[{a}, {b}): {got} vs {want}");
        }
        assert!((c.cum(u64::MAX) - 50.0 * 160.0).abs() < 1e-6);
        // Counting messages one by one through inv agrees with the integral.
        let (a, b) = (10.1e9 as u64, 57.3e9 as u64);
        let first = c.cum(a).ceil() as u64;
        let n = (first..).take_while(|&k| c.inv(k as f64) < b).count() as f64;
        assert!((n - analytic(10.1, 57.3)).abs() <= 1.0, "{n}");
    }

    #[test]
    fn a_ramp_from_zero_sends_half_the_rectangle() {
        for (r, dur) in [(100.0, 10.0), (1.0, 1.0), (1e6, 0.5), (7.0, 3600.0)] {
            let up = RateCurve::new(&[phase(2.0, dur, PhaseKind::Ramp { from: 0.0, to: r })]);
            let down = RateCurve::new(&[phase(2.0, dur, PhaseKind::Ramp { from: r, to: 0.0 })]);
            let want = r * dur / 2.0;
            for c in [&up, &down] {
                assert!(
                    (c.cum(u64::MAX) - want).abs() < 1e-9 * want,
                    "{r} over {dur}: {}",
                    c.cum(u64::MAX)
                );
                // The last message of the phase (x just below the total) falls inside it.
                let last = c.inv(want - 1e-6);
                assert!(last <= ((2.0 + dur) * 1e9) as u64, "{r} over {dur}");
            }
            // Half the count of the rising ramp comes in the last 1 - 1/√2 of the phase.
            let t = up.inv(want / 2.0) as f64 / 1e9 - 2.0;
            assert!((t - dur / 2f64.sqrt()).abs() < 1e-6 * dur, "{t}");
        }
    }

    #[test]
    fn constant_and_nonsense_rates() {
        let c = RateCurve::constant(4.0);
        assert_eq!(c.inv(1.0), S / 4);
        assert_eq!(c.cum(S), 4.0);
        assert_eq!(c.rate(12345), 4.0);
        assert_eq!(c.phase_at(u64::MAX - 1), Some(0));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let c = RateCurve::constant(bad);
            assert_eq!((c.cum(u64::MAX), c.inv(0.0), c.rate(5)), (0.0, u64::MAX, 0.0), "{bad}");
            let p = RateCurve::new(&[
                phase(0.0, 10.0, PhaseKind::Sustained { rate: bad }),
                phase(10.0, 10.0, PhaseKind::Ramp { from: bad, to: bad }),
                phase(
                    20.0,
                    10.0,
                    PhaseKind::Burst {
                        rate: bad,
                        burst_rate: bad,
                        burst_for: secs(1.0),
                        every: secs(2.0),
                    },
                ),
            ]);
            assert_eq!((p.cum(u64::MAX), p.inv(0.0)), (0.0, u64::MAX), "{bad}");
        }
        // Huge rates and times saturate.
        let fast = RateCurve::constant(1e15);
        assert!(fast.cum(u64::MAX) > 1e24);
        assert_eq!(fast.inv(1e300), u64::MAX);
        // No phases at all: nothing, ever.
        let none = RateCurve::new(&[]);
        assert_eq!(
            (none.cum(5), none.inv(0.0), none.rate(0), none.phase_at(0)),
            (0.0, u64::MAX, 0.0, None)
        );
        // Spikes as long as the period (or a zero period) are one long spike; no spike is the base.
        let kinds = [
            (1.0, 1.0, 1000.0),
            (2.0, 1.0, 1000.0),
            (1.0, 0.0, 1000.0),
            (0.0, 1.0, 10.0),
        ];
        for (burst_for, every, rate) in kinds {
            let c = RateCurve::new(&[phase(
                0.0,
                10.0,
                PhaseKind::Burst {
                    rate: 10.0,
                    burst_rate: 1000.0,
                    burst_for: secs(burst_for),
                    every: secs(every),
                },
            )]);
            assert_eq!(c.cum(u64::MAX), rate * 10.0, "{burst_for} every {every}");
        }
        // Overlapping or unordered phases (rejected by validation) are sorted and cut.
        let messy = RateCurve::new(&[
            phase(5.0, 10.0, PhaseKind::Sustained { rate: 1.0 }),
            phase(0.0, 10.0, PhaseKind::Sustained { rate: 2.0 }),
        ]);
        assert_eq!(messy.cum(u64::MAX), 2.0 * 10.0 + 5.0);
        assert_eq!(messy.phase_at(12 * S), Some(0));
    }

    #[test]
    fn backoff_delays() {
        let b = |initial: f64, max: f64, factor: f64, jitter: f64| Reconnect::Backoff {
            initial: secs(initial),
            max: secs(max),
            factor,
            jitter,
        };
        let rows: &[(Reconnect, u32, f64, Option<Duration>)] = &[
            (Reconnect::Off, 0, 0.5, None),
            (Reconnect::Immediate, 7, 0.5, Some(Duration::ZERO)),
            (b(0.1, 10.0, 2.0, 0.0), 0, 0.9, Some(secs(0.1))),
            (b(0.1, 10.0, 2.0, 0.0), 3, 0.9, Some(secs(0.8))),
            (b(0.1, 10.0, 2.0, 0.0), 10, 0.9, Some(secs(10.0))),
            (b(0.1, 10.0, 2.0, 0.0), u32::MAX, 0.9, Some(secs(10.0))),
            (b(1.0, 10.0, 2.0, 0.5), 0, 0.0, Some(secs(0.5))),
            (b(1.0, 10.0, 2.0, 0.5), 0, 0.5, Some(secs(1.0))),
            (b(1.0, 10.0, 2.0, 0.5), 0, 0.75, Some(secs(1.25))),
            (b(1.0, 10.0, 2.0, 1.0), 0, 0.0, Some(Duration::ZERO)),
            (b(1.0, 10.0, 2.0, 0.5), 9, 0.75, Some(secs(12.5))),
            // nonsense: NaN factor counts as 1, jitter above 1 as 1, NaN jitter and u as no jitter
            (b(1.0, 10.0, f64::NAN, 0.0), 5, 0.5, Some(secs(1.0))),
            (b(1.0, 10.0, -2.0, 0.0), 5, 0.5, Some(secs(1.0))),
            (b(1.0, 10.0, 2.0, 5.0), 0, 0.0, Some(Duration::ZERO)),
            (b(1.0, 10.0, 2.0, f64::NAN), 0, 0.0, Some(secs(1.0))),
            (b(1.0, 10.0, 2.0, 0.5), 0, f64::NAN, Some(secs(1.0))),
            (b(1.0, 10.0, 2.0, 0.5), 0, 7.0, Some(secs(1.5))),
            (b(0.0, 10.0, f64::INFINITY, 0.0), 3, 0.5, Some(Duration::ZERO)),
            (b(1.0, 10.0, f64::INFINITY, 0.0), 3, 0.5, Some(secs(10.0))),
            (b(1.0, 10.0, 0.5, 0.0), 1, 0.5, Some(secs(0.5))),
        ];
        for (p, attempt, u, want) in rows {
            let got = backoff_delay(p, *attempt, *u);
            let close = match (got, want) {
                (Some(g), Some(w)) => g.abs_diff(*w) <= d(1),
                _ => got == *want,
            };
            assert!(close, "{p:?} attempt {attempt} u {u}: {got:?} want {want:?}");
        }
        let huge = Reconnect::Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            factor: 1e300,
            jitter: 1.0,
        };
        assert_eq!(backoff_delay(&huge, u32::MAX, 0.999_999), Some(NEVER));
    }
}
