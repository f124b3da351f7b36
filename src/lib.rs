//! wsload: a thread-per-core io_uring WebSocket load generator.
//!
//! The modules are the stages of a run, in the order its data flows:
//!
//! ```text
//!  config ──► engine ──────────────────► metrics ──► aggregate ──► analysis ──► report
//!  CLI, units,  one pinned io_uring core    per-core     live merge,    findings,     summary.json,
//!  scenario     each: shard (client),       counters +   time line,     verdict       text, md, html,
//!  files, plan  server, proxy; pacer and    histograms,  shard merge                  csv, prom, hlog
//!               its schedule                one Snapshot
//!                                           per interval ─(crossbeam channel)─► one thread
//!  cmd: one module per subcommand, which ties the stages together (main.rs only dispatches)
//!  proto, tls, sys: the WebSocket wire format, TLS and the operating system, below them all
//! ```
//!
//! Nothing per message crosses threads: each core records into its own
//! histograms and counters and ships a compact snapshot once per interval.

// The stages, in the order data flows (one group each: rustfmt keeps the order).
pub mod config;

pub mod engine;

pub mod metrics;

pub mod aggregate;

pub mod analysis;

pub mod report;

pub mod cmd;

// Below every stage: the WebSocket wire format, TLS, and the operating system.
pub mod proto;
pub mod sys;
pub mod tls;
