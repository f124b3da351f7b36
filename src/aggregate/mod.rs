//! Stage 4, aggregation: the per-core snapshots of a run merged into its totals and time line.
//!
//! In: [`crate::metrics::Snapshot`]s from every core, once per interval. Out: the run's
//! totals (counters and histograms), its time line and the progress line.
//!
//! - [`live`]: the aggregator thread of a run: merges as the snapshots come, prints progress,
//!   steps the run through its phases;
//! - [`timeline`]: the time line's points, kept under a fixed count;
//! - [`merge`]: `wsload merge`: several shards' results (`--shard i/N`) added up exactly.

pub mod live;
pub mod merge;
pub mod timeline;
