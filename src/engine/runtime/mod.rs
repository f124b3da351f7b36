//! The io_uring runtime: one pinned reactor per core, shared by the client (`run`), the built-in
//! server (`serve`) and the proxy.
//!
//! In: futures to run on a core (a shard's control loop, an accept loop). Out: nothing but
//! their effects; a core's thread ends when its root future does.
//!
//! Each core owns one io_uring set up with SINGLE_ISSUER and DEFER_TASKRUN, so completions are
//! only run when this thread asks for them and never interrupt it; a single-threaded executor
//! (no locks, no atomics on the hot path); and a timer heap in user space. One loop:
//!
//! ```text
//!   run every task that was woken ─► fire due timers ─► one io_uring_enter:
//!   submit what the loop queued and, if no task is ready, wait for a completion or the
//!   next timer (its deadline is the wait's timeout, no timeout request on the ring)
//!   ─► hand each completion to the socket it belongs to, waking its reader or writer
//! ```
//!
//! Sockets stay non-blocking: a read or write is a plain syscall on the core's shared buffer,
//! and only a socket that said "would block" is watched, by one multishot poll for reading
//! (armed once and kept, never cancelled and re-armed) and a one-shot poll for writing. A read
//! shorter than the buffer means the socket is drained, so the next read waits for the poll
//! without a syscall. Nothing here allocates per message.
//!
//! Why this and not glommio, and the measurements behind it: docs/architecture.md.

mod channel;
mod executor;
mod net;
mod reactor;
mod sleep;
mod timer;

pub use channel::{channel, Receiver, Sender};
pub use executor::{spawn, JoinHandle};
pub use net::{TcpListener, TcpStream};
pub use sleep::{sleep, sleep_until};

use std::time::Instant;

/// How a core's ring is set up.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// Submission queue entries: a loop that queues more submits early, so this only bounds
    /// how many operations go to the kernel per call.
    pub entries: u32,
    /// Completion queue entries (the kernel keeps what overflows, so this is no hard limit).
    pub cq_entries: u32,
    /// Completion batching: a core with nothing to run sleeps at least this long (µs) once
    /// a completion is pending, unless `batch_events` arrive first or a timer falls due, so
    /// one wakeup takes many completions. 0 wakes on every completion. Needs Linux 6.12
    /// (IORING_FEAT_MIN_TIMEOUT); older kernels wake on every completion.
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

impl RingConfig {
    /// The load generator's cores.
    pub fn client() -> RingConfig {
        RingConfig {
            batch_us: tunable("WSLOAD_BATCH_US", RING.batch_us),
            ..RING
        }
    }

    /// The built-in server's and the proxy's cores.
    pub fn server() -> RingConfig {
        RingConfig {
            batch_us: tunable("WSLOAD_SERVE_BATCH_US", RING.batch_us),
            ..RING
        }
    }
}

/// A value from the environment (engine experiments), or `default`.
pub fn tunable(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Run `root` on the calling thread, on a new ring, until it completes. Tasks it spawned that
/// are still pending then are dropped (their sockets closed).
pub fn block_on<F: std::future::Future>(cfg: RingConfig, root: F) -> std::io::Result<F::Output> {
    executor::block_on(cfg, root)
}

/// Start a thread pinned to `cpu` that runs `make()`'s future on its own ring. A ring that
/// cannot be made is reported on the returned handle's result.
pub fn start_pinned<F, Fut>(name: String, cpu: usize, make: F) -> std::thread::JoinHandle<std::io::Result<()>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // A core that cannot be pinned still runs (the kernel places it).
            core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
            block_on(RingConfig::server(), make())
        })
        .expect("spawn core thread")
}

/// Nanoseconds from `epoch` to now (the clock every core shares).
#[inline]
pub fn ns_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}
