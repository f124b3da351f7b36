//! Stage 2, the engine: everything that moves bytes, one pinned core at a time.
//!
//! In: a validated plan from [`crate::config`] (the client's [`crate::config::RunPlan`], the
//! server's [`crate::config::ServePlan`], the proxy's spec). Out: traffic on the sockets and,
//! from the client, one [`crate::metrics::Snapshot`] per core and interval, sent to the
//! aggregator.
//!
//! - [`runtime`]: the io_uring executor and reactor every role runs on (one ring per core);
//! - [`shard`]: the client, one per core: its connections, their keeper, the pacer;
//! - [`schedule`]: the pacer's schedule, when each connection opens and each message is due;
//! - [`server`]: the built-in echo and broadcast server (`wsload serve`);
//! - [`proxy`]: the fault-injecting TCP proxy (`wsload proxy`, a scenario's `[proxy]`);
//! - [`io`]: the byte stream (plain TCP or TLS) the roles read and write.

pub mod io;
pub mod proxy;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod shard;
