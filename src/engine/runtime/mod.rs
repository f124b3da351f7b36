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
mod ring;
mod sleep;
mod timer;

pub use channel::{channel, Receiver, Sender};
pub use executor::{spawn, spawn_detached, JoinHandle};
pub use net::{take_rx_stamp, TcpListener, TcpStream};
pub use ring::{tunable, RingConfig, RING};
pub use sleep::{sleep, sleep_until};

use std::time::Instant;

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

/// Batch this core's completions while `on` (the client's open-loop pacer does): the core
/// then wakes once per timer or batch, not once per completion. See `RingConfig::batch_us`.
pub fn batch_completions(on: bool) {
    // A pacer dropped after its core (at thread exit) has nothing to switch off.
    if let Some(core) = executor::try_core() {
        core.reactor.batch_completions(on);
    }
}

/// Nanoseconds from `epoch` to now (the clock every core shares).
#[inline]
pub fn ns_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}
