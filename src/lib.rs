//! wsload: a thread-per-core io_uring WebSocket load generator.
//!
//! ```text
//!  config ──► run ──► shard (one pinned io_uring reactor per core)
//!  (CLI →     │         connect → load (pacer) → drain → abort
//!   plan)     │         per-core Recorder: counters + hdrhistograms
//!             │              │ Snapshot every interval (crossbeam channel)
//!             │              ▼
//!             └──────► aggregate (this thread): merge, progress, phases
//!                            │
//!                            ▼
//!                      report: summary.json + text (+ totals.json)
//!
//!  merge: several shards' results (run --shard i/N) → one, histograms added
//!  server: the built-in echo target (a child process of `run`)
//!  proxy: the fault-injecting TCP proxy (a child process of `run` with a scenario's [proxy])
//! ```
//!
//! Nothing per message crosses threads: each core records into its own
//! histograms and counters and ships a compact snapshot once per interval.

pub mod aggregate;
pub mod analysis;
pub mod capacity;
pub mod config;
pub mod engine;
pub mod io;
pub mod merge;
pub mod metrics;
pub mod postrun;
pub mod proto;
pub mod proxy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod sys;
pub mod tls;
