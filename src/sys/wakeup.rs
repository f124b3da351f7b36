//! How late this machine wakes a thread that sleeps until a set time: the floor under every
//! latency a load generator measures here. A reactor that waits for its next tick, and a server
//! that waits for its next request, both wake this late; on a virtual machine whose CPUs the
//! host also runs, the tail (a vCPU the host did not run for a millisecond or more) is often the
//! tail of every tool's p99 at moderate rates. `wsload doctor` measures it and says so.

use std::time::Duration;

/// Lateness of timed wakeups: how long after the set time the thread ran again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lateness {
    /// Wakeups measured.
    pub samples: usize,
    /// The sleep's length, µs.
    pub period_us: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Sleep `samples` times until the next multiple of `period` (absolute CLOCK_MONOTONIC deadlines,
/// with 1 ns of timer slack, so the figure is the machine's and not the slack's) and record how
/// late each wakeup was. A wakeup later than a whole period starts the schedule again from then,
/// so one long stall counts once. `None` if the clock cannot be read or there are no samples.
pub fn probe(period: Duration, samples: usize) -> Option<Lateness> {
    if samples == 0 || period.is_zero() {
        return None;
    }
    // A thread of its own: the slack setting is per thread and must not outlive the probe.
    std::thread::spawn(move || measure(period, samples))
        .join()
        .ok()
        .flatten()
}

fn measure(period: Duration, samples: usize) -> Option<Lateness> {
    // SAFETY: PR_SET_TIMERSLACK takes a value and changes only this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let period_ns = period.as_nanos() as i64;
    let mut late = Vec::with_capacity(samples);
    let mut next = now_ns()?;
    for _ in 0..samples {
        next += period_ns;
        let at = libc::timespec {
            tv_sec: next / 1_000_000_000,
            tv_nsec: next % 1_000_000_000,
        };
        // SAFETY: `at` is a valid timespec; no remainder is asked for with TIMER_ABSTIME.
        unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &at, std::ptr::null_mut()) };
        let woke = now_ns()?;
        let l = (woke - next).max(0);
        late.push(l as u64);
        if l > period_ns {
            next = woke;
        }
    }
    Some(summarize(&mut late, period))
}

fn now_ns() -> Option<i64> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid out-parameter.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) } != 0 {
        return None;
    }
    Some(t.tv_sec * 1_000_000_000 + t.tv_nsec)
}

/// Percentiles (nearest rank) of lateness samples in ns. `late` must not be empty.
fn summarize(late: &mut [u64], period: Duration) -> Lateness {
    late.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * late.len() as f64).ceil() as usize).clamp(1, late.len());
        late[rank - 1] as f64 / 1e3
    };
    Lateness {
        samples: late.len(),
        period_us: period.as_micros() as u64,
        p50_us: at(0.50),
        p99_us: at(0.99),
        p999_us: at(0.999),
        max_us: late[late.len() - 1] as f64 / 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_in_microseconds() {
        // 1..=1000 µs in ns, shuffled by reversal.
        let mut v: Vec<u64> = (1..=1000u64).rev().map(|us| us * 1000).collect();
        let l = summarize(&mut v, Duration::from_micros(500));
        assert_eq!((l.samples, l.period_us), (1000, 500));
        assert_eq!((l.p50_us, l.p99_us, l.p999_us, l.max_us), (500.0, 990.0, 999.0, 1000.0));
    }

    #[test]
    fn a_real_probe_gives_ordered_figures() {
        let l = probe(Duration::from_micros(200), 50).expect("the monotonic clock is readable");
        assert_eq!(l.samples, 50);
        assert!(
            l.p50_us <= l.p99_us && l.p99_us <= l.p999_us && l.p999_us <= l.max_us,
            "{l:?}"
        );
        assert!(l.p50_us >= 0.0);
        assert!(probe(Duration::ZERO, 10).is_none() && probe(Duration::from_micros(1), 0).is_none());
    }
}
