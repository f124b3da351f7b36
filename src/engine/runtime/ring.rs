//! How a core's io_uring is set up, and the environment variables that tune it.

/// How a core's ring is set up.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// Submission queue entries: a loop that queues more submits early, so this only bounds
    /// how many operations go to the kernel per call.
    pub entries: u32,
    /// Completion queue entries (the kernel keeps what overflows, so this is no hard limit).
    pub cq_entries: u32,
    /// Completion batching, while a task asks for it (`runtime::batch_completions`): a core
    /// with nothing to run sleeps at least this long (µs) once a completion is pending, unless
    /// `batch_events` arrive first or a timer falls due, so one wakeup takes many completions.
    /// 0 always wakes on every completion. Needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT); older
    /// kernels wake on every completion.
    pub batch_us: u32,
    /// Completions that end a batching sleep early.
    pub batch_events: u32,
}

/// io_uring submission entries per core. 1,024 × 64 B of submissions and 8,192 × 16 B of
/// completions: 192 KiB per core, charged to the memory cgroup, not to the 8 MiB memlock limit.
pub const RING: RingConfig = RingConfig {
    entries: 1024,
    cq_entries: 8192,
    batch_us: 0,
    batch_events: 64,
};

/// The client's batching while its pacer runs: one pacer tick. Measured at 10,000 connections
/// (client on CPU 0, `wsload serve` on CPU 1, four interleaved 10 s pairs): at 10k msg/s
/// 22.8–25.8 → 17.2–18.1 CPU s per million echoes, corrected p99 1.3–2.3 → 1.0–1.8 ms; at 30k
/// 14.9–15.8 → 12.8–13.0 s. The reads wait, the latencies do not: an echo is timed by the
/// kernel's receive time.
const CLIENT_BATCH_US: u32 = 500;

impl RingConfig {
    /// The load generator's cores.
    pub fn client() -> RingConfig {
        RingConfig {
            batch_us: tunable("WSLOAD_BATCH_US", CLIENT_BATCH_US),
            ..RING
        }
    }

    /// The built-in server's and the proxy's cores: no batching (a server's read delay is
    /// latency its clients measure).
    pub fn server() -> RingConfig {
        RING
    }
}

/// A value from the environment (engine experiments), or `default`.
pub fn tunable(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
