//! The toxics' arithmetic, as pure functions of time and random draws: jittered delays, the
//! stall cycle, the bandwidth bucket, when a rate-triggered reset falls, which bit to flip.
//! The relay (`relay.rs`) only asks these and sleeps or writes accordingly.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A small xorshift generator, one per core (no locking, reproducible per seed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || self.unit() < p
    }
}

/// `delay` ± `jitter`, uniform, from a draw `u` in [0, 1); never below zero.
pub fn jittered(delay: Duration, jitter: Duration, u: f64) -> Duration {
    let d = delay.as_secs_f64() + jitter.as_secs_f64() * (2.0 * u - 1.0);
    Duration::from_secs_f64(d.max(0.0))
}

/// How long forwarding is still stopped, `since` the stall toxic's start: the first `pause` of
/// every `every`. `None` outside a stall.
pub fn stall_left(since: Duration, pause: Duration, every: Duration) -> Option<Duration> {
    let phase = Duration::from_nanos((since.as_nanos() % every.as_nanos().max(1)) as u64);
    (phase < pause).then(|| pause - phase)
}

/// A token bucket without burst: bytes leave at most at `bytes_per_s`. The next byte may leave
/// at `free`; a write of n bytes moves `free` by n / rate.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub bytes_per_s: u64,
    free: Option<Instant>,
}

impl Bucket {
    pub fn new(bytes_per_s: u64) -> Bucket {
        Bucket {
            bytes_per_s,
            free: None,
        }
    }

    /// The largest write to make at once: 20 ms worth of bytes (at least 1), so the flow is smooth.
    pub fn piece(&self) -> usize {
        (self.bytes_per_s / 50).clamp(1, 64 * 1024) as usize
    }

    /// Reserve `n` bytes at `now`: how long to wait before writing them.
    pub fn take(&mut self, now: Instant, n: usize) -> Duration {
        let start = self.free.map_or(now, |f| f.max(now));
        self.free = Some(start + Duration::from_secs_f64(n as f64 / self.bytes_per_s as f64));
        start - now
    }
}

/// An exponentially distributed wait with mean 1/`rate`, from a draw `u` in [0, 1): the time to
/// the next event of a Poisson process.
pub fn exponential(rate: f64, u: f64) -> Duration {
    Duration::from_secs_f64((-(1.0 - u).ln() / rate).min(1e9))
}

/// When a rate-triggered toxic ends a connection, on the proxy's clock. The connection is
/// exposed from `from` (its accept time, or the toxic's start if later) to the toxic's `end`;
/// `wait` is its exponential draw. `None`: the connection outlives the toxic.
pub fn rate_deadline(from: Duration, start: Duration, end: Option<Duration>, wait: Duration) -> Option<Duration> {
    let t = from.max(start) + wait;
    match end {
        Some(e) if t >= e => None,
        _ => Some(t),
    }
}

/// Flip bit `bit % 8` of the chunk's last byte. The rule is the last byte so that, when a chunk
/// carries whole WebSocket frames, the flip lands in a payload (where the client's payload check catches
/// it) and never in a frame header.
pub fn flip_last(chunk: &mut [u8], bit: u64) {
    if let Some(b) = chunk.last_mut() {
        *b ^= 1 << (bit % 8);
    }
}

/// With an "after N bytes" trigger: of a chunk of `n` bytes arriving when `moved` bytes have
/// passed, how many to forward before the connection ends (`None`: it does not end here).
pub fn cut_at(limit: u64, moved: u64, n: usize) -> Option<usize> {
    if moved + n as u64 >= limit {
        Some(limit.saturating_sub(moved).min(n as u64) as usize)
    } else {
        None
    }
}

/// The toxics' clock: their `at` counts from its start (the proxy's start, or the moment
/// `wsload run` says the traffic starts).
#[derive(Debug, Default)]
pub struct Clock {
    origin: OnceLock<Instant>,
}

impl Clock {
    pub fn start(&self, at: Instant) {
        let _ = self.origin.set(at);
    }
    pub fn origin(&self) -> Option<Instant> {
        self.origin.get().copied()
    }
    /// Time on the clock; `None` before it starts.
    pub fn now(&self) -> Option<Duration> {
        self.origin().map(|o| o.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn jitter_spans_delay_plus_minus_jitter_and_never_negative() {
        let table = [
            (50, 10, 0.0, 40.0),
            (50, 10, 0.5, 50.0),
            (50, 10, 0.999_999, 60.0),
            (5, 10, 0.0, 0.0),
            (0, 0, 0.7, 0.0),
        ];
        for (d, j, u, want_ms) in table {
            let got = jittered(d * MS, j * MS, u).as_secs_f64() * 1e3;
            assert!((got - want_ms).abs() < 1e-3, "{d}±{j} at {u}: {got}");
        }
    }

    #[test]
    fn stalls_cover_the_first_pause_of_every_period() {
        let (p, e) = (200 * MS, 1000 * MS);
        assert_eq!(stall_left(Duration::ZERO, p, e), Some(200 * MS));
        assert_eq!(stall_left(150 * MS, p, e), Some(50 * MS));
        assert_eq!(stall_left(200 * MS, p, e), None);
        assert_eq!(stall_left(999 * MS, p, e), None);
        assert_eq!(stall_left(1000 * MS, p, e), Some(200 * MS));
        assert_eq!(stall_left(3100 * MS, p, e), Some(100 * MS));
    }

    #[test]
    fn bucket_spaces_writes_by_size_over_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000);
        assert_eq!(b.piece(), 20);
        assert_eq!(b.take(t0, 100), Duration::ZERO);
        assert_eq!(b.take(t0, 100), 100 * MS);
        assert_eq!(b.take(t0 + 50 * MS, 10), 150 * MS);
        // Idle time is not saved up: no burst after a pause.
        assert_eq!(b.take(t0 + 10_000 * MS, 1000), Duration::ZERO);
        assert_eq!(b.take(t0 + 10_000 * MS, 1), 1000 * MS);
        assert_eq!(Bucket::new(1).piece(), 1);
        assert_eq!(Bucket::new(1 << 30).piece(), 64 * 1024);
    }

    #[test]
    fn exponential_waits_have_the_right_mean() {
        let mut r = Rng::new(7);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| exponential(4.0, r.unit()).as_secs_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
        assert_eq!(exponential(1.0, 0.0), Duration::ZERO);
    }

    #[test]
    fn rate_deadlines_fall_inside_the_window() {
        let s = |x: u64| Duration::from_secs(x);
        assert_eq!(rate_deadline(s(1), s(5), Some(s(10)), s(2)), Some(s(7)));
        assert_eq!(rate_deadline(s(6), s(5), Some(s(10)), s(2)), Some(s(8)));
        assert_eq!(rate_deadline(s(6), s(5), Some(s(10)), s(4)), None);
        assert_eq!(rate_deadline(s(6), s(0), None, s(400)), Some(s(406)));
    }

    #[test]
    fn flips_one_bit_of_the_last_byte() {
        let mut c = [0u8, 0, 0];
        flip_last(&mut c, 9);
        assert_eq!(c, [0, 0, 2]);
        flip_last(&mut [], 3);
    }

    #[test]
    fn cuts_at_the_byte_limit() {
        assert_eq!(cut_at(100, 0, 50), None);
        assert_eq!(cut_at(100, 60, 50), Some(40));
        assert_eq!(cut_at(100, 50, 50), Some(50));
        assert_eq!(cut_at(100, 120, 50), Some(0));
    }

    #[test]
    fn chance_is_a_probability() {
        let mut r = Rng::new(1);
        let hits = (0..100_000).filter(|_| r.chance(0.1)).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
        assert!((0..100).all(|_| r.chance(1.0)));
    }
}
