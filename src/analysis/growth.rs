//! Is the server's memory still growing while the load holds steady? The evidence behind the
//! "memory keeps growing" finding, a pure function of (seconds, RSS bytes) samples.
//!
//! A server whose RSS stays above its baseline after a run is not evidence of a leak: allocators
//! keep freed memory for reuse (glibc's arenas, jemalloc's dirty pages), so a healthy server
//! often ends a run a few MiB above where it began. A leak, per message or per connection
//! opened and closed, shows instead while the load is steady: memory rises and keeps rising,
//! where retention levels off once the allocator has warmed up. So the samples of the steady
//! window are cut into thirds, and the finding needs each third above the one before it, by at
//! least [`MIN_STEP_BYTES`], and the whole rise over [`MIN_RISE_BYTES`].

/// Least rise from one third of the window to the next (mean against mean): smaller steps are
/// the page-level jitter of RSS samples.
pub const MIN_STEP_BYTES: f64 = 256.0 * 1024.0;

/// Least rise from the first third to the last: below it there is nothing worth reporting.
pub const MIN_RISE_BYTES: f64 = 1024.0 * 1024.0;

/// Least samples in the window: three thirds of two samples each.
pub const MIN_SAMPLES: usize = 6;

/// Memory that kept growing through a steady window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Mean RSS of the first and of the last third, bytes.
    pub first_bytes: f64,
    pub last_bytes: f64,
    /// Least-squares slope over the whole window, bytes per second.
    pub bytes_per_s: f64,
    /// Seconds the window spans.
    pub span_s: f64,
}

/// `samples`: (seconds, RSS bytes) in time order, all taken while the number of open
/// connections held steady. `Some` only when memory rose through every third of the window.
pub fn keeps_growing(samples: &[(f64, f64)]) -> Option<Growth> {
    let n = samples.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let mean = |s: &[(f64, f64)]| s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64;
    let (a, rest) = samples.split_at(n / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let (ma, mb, mc) = (mean(a), mean(b), mean(c));
    let steps_up = mb - ma >= MIN_STEP_BYTES && mc - mb >= MIN_STEP_BYTES;
    if !steps_up || mc - ma < MIN_RISE_BYTES {
        return None;
    }
    let fit = super::fit::linear(samples)?;
    Some(Growth {
        first_bytes: ma,
        last_bytes: mc,
        bytes_per_s: fit.slope,
        span_s: samples[n - 1].0 - samples[0].0,
    })
}

/// Do the open connections of `open` (one per sample) hold steady enough for
/// [`keeps_growing`]: within 5 % of their largest value, and not zero?
pub fn steady(open: &[u64]) -> bool {
    let (Some(&lo), Some(&hi)) = (open.iter().min(), open.iter().max()) else {
        return false;
    };
    hi > 0 && (hi - lo) as f64 <= 0.05 * hi as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn series(n: usize, rss: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..n).map(|i| (i as f64, rss(i as f64))).collect()
    }

    #[test]
    fn a_leak_that_keeps_rising_is_found() {
        // 0.5 MiB per second for 12 s: 6 MiB, each third 2 MiB above the last.
        let g = keeps_growing(&series(12, |t| 6.0 * MIB + t * 0.5 * MIB)).expect("a leak");
        assert!((g.bytes_per_s - 0.5 * MIB).abs() < 1.0, "{g:?}");
        assert!(g.last_bytes - g.first_bytes >= 3.9 * MIB, "{g:?}");
        assert_eq!(g.span_s, 11.0);
    }

    #[test]
    fn allocator_retention_that_levels_off_is_not_a_leak() {
        // The clean default run's shape: 6 MiB baseline, up to 14 MiB while the allocator warms
        // up in the first seconds, then flat (with page-level jitter).
        let warm = |t: f64| {
            let jitter = if (t as u64).is_multiple_of(2) { 8192.0 } else { -8192.0 };
            6.0 * MIB + 8.0 * MIB * (t / 3.0).min(1.0) + jitter
        };
        assert_eq!(keeps_growing(&series(12, warm)), None);
        // Flat from the first sample: nothing.
        assert_eq!(keeps_growing(&series(12, |_| 14.0 * MIB)), None);
        // Falling: nothing.
        assert_eq!(keeps_growing(&series(12, |t| 20.0 * MIB - t * MIB)), None);
    }

    #[test]
    fn too_few_samples_or_too_small_a_rise_is_no_evidence() {
        // Rising, but only 5 samples.
        assert_eq!(keeps_growing(&series(5, |t| t * 4.0 * MIB)), None);
        // Rising steadily by 0.1 MiB in all: jitter, not a finding.
        assert_eq!(keeps_growing(&series(12, |t| 6.0 * MIB + t * 0.01 * MIB)), None);
        // Each third higher, but the whole rise under 1 MiB.
        assert_eq!(keeps_growing(&series(6, |t| 6.0 * MIB + t * 0.15 * MIB)), None);
        assert_eq!(keeps_growing(&[]), None);
    }

    #[test]
    fn steady_means_within_five_percent() {
        assert!(steady(&[100, 100, 99, 96]));
        assert!(!steady(&[100, 90, 100]), "a 10 % dip is not steady");
        assert!(!steady(&[0, 0, 0]), "no connection open");
        assert!(!steady(&[]));
    }
}
