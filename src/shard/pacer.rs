//! Open-loop pacing as pure functions of time.
//!
//! Connection `j` of `n` sends its `k`-th message at
//! `start + (k + phase_j) * period`, with `phase_j = j / n`, so the connections
//! of a core take turns evenly instead of all firing together. Latency is then
//! measured from this intended time, which keeps a stalled server from hiding
//! its stalls (coordinated omission).

/// When one connection's messages are due. Times are in ns since the run epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub start_ns: u64,
    /// ns between two messages of one connection; infinite when the rate is 0.
    pub period_ns: f64,
    /// Offset in periods, in [0, 1).
    pub phase: f64,
}

impl Schedule {
    /// `rate` is messages per second per connection; `index` of `count` spreads the phases.
    pub fn new(start_ns: u64, rate: f64, index: u64, count: u64) -> Schedule {
        let period_ns = if rate > 0.0 && rate.is_finite() {
            1e9 / rate
        } else {
            f64::INFINITY
        };
        let phase = if count == 0 {
            0.0
        } else {
            (index % count) as f64 / count as f64
        };
        Schedule {
            start_ns,
            period_ns,
            phase,
        }
    }

    /// Intended send time of message `k` (saturating at `u64::MAX`).
    pub fn intended_ns(&self, k: u64) -> u64 {
        let t = self.start_ns as f64 + (k as f64 + self.phase) * self.period_ns;
        if t >= u64::MAX as f64 {
            u64::MAX
        } else {
            t as u64
        }
    }

    /// How many messages are due by `now_ns` (those whose intended time is <= now).
    pub fn due(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns || !self.period_ns.is_finite() {
            return 0;
        }
        let periods = (now_ns - self.start_ns) as f64 / self.period_ns - self.phase;
        if periods < 0.0 {
            0
        } else {
            let n = periods.floor() + 1.0;
            let n = if n >= u64::MAX as f64 { u64::MAX } else { n as u64 };
            // Guard against float rounding: never count a message whose intended time is still ahead.
            if n > 0 && self.intended_ns(n - 1) > now_ns {
                n - 1
            } else {
                n
            }
        }
    }
}

/// The core-wide view used to wake connections: over all `count` connections of
/// a core, the `s`-th due event belongs to connection `s % count` and happens at
/// `start + s * period / count`. Walking `s` upward visits every send in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roster {
    pub start_ns: u64,
    pub period_ns: f64,
    pub count: u64,
}

impl Roster {
    /// Number of events (over all connections) due by `now_ns`.
    pub fn due(&self, now_ns: u64) -> u64 {
        if self.count == 0 || !self.period_ns.is_finite() || now_ns < self.start_ns {
            return 0;
        }
        let per = self.period_ns / self.count as f64;
        let n = ((now_ns - self.start_ns) as f64 / per).floor() + 1.0;
        if n >= u64::MAX as f64 {
            u64::MAX
        } else {
            n as u64
        }
    }

    /// Time of event `s`.
    pub fn at_ns(&self, s: u64) -> u64 {
        let t = self.start_ns as f64 + s as f64 * self.period_ns / self.count.max(1) as f64;
        if t >= u64::MAX as f64 {
            u64::MAX
        } else {
            t as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_counts_follow_the_schedule() {
        // rate 1/s, connection 1 of 4 → phase 0.25 s
        let s = Schedule::new(1_000, 1.0, 1, 4);
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
            let s = Schedule::new(0, rate, 0, 1);
            assert_eq!(s.due(u64::MAX), 0, "rate {rate}");
            assert_eq!(s.intended_ns(5), u64::MAX, "rate {rate}");
        }
        let fast = Schedule::new(0, 1e12, 0, 1);
        assert_eq!(fast.due(u64::MAX), u64::MAX);
        assert_eq!(Schedule::new(0, 1.0, 0, 0).phase, 0.0);
        // an index beyond count wraps instead of pushing the phase past one period
        assert!(Schedule::new(0, 1.0, 9, 4).phase < 1.0);
    }

    #[test]
    fn due_never_counts_a_future_message() {
        let s = Schedule::new(17, 3.0, 2, 7);
        for now in (0..5_000_000_000u64).step_by(333_333_331) {
            let d = s.due(now);
            if d > 0 {
                assert!(s.intended_ns(d - 1) <= now);
            }
            assert!(s.intended_ns(d) > now);
        }
    }

    #[test]
    fn roster_visits_each_connection_in_turn() {
        // 4 connections at 2 msg/s: an event every 125 ms, connection s % 4.
        let r = Roster {
            start_ns: 0,
            period_ns: 5e8,
            count: 4,
        };
        assert_eq!(r.due(0), 1);
        assert_eq!(r.due(124_999_999), 1);
        assert_eq!(r.due(125_000_000), 2);
        assert_eq!(r.at_ns(4), 500_000_000);
        for s in 0..16u64 {
            let j = s % 4;
            let sched = Schedule::new(0, 2.0, j, 4);
            assert_eq!(sched.intended_ns(s / 4), r.at_ns(s), "event {s}");
        }
        assert_eq!(
            Roster {
                start_ns: 0,
                period_ns: f64::INFINITY,
                count: 4
            }
            .due(u64::MAX),
            0
        );
        assert_eq!(
            Roster {
                start_ns: 0,
                period_ns: 1.0,
                count: 0
            }
            .due(10),
            0
        );
    }
}
