//! totals.json (schema `wsload.totals.v2`): what a run gathered before it was turned into
//! figures, so that `wsload merge` can add several runs up exactly. Written next to
//! summary.json by every run (and by a merge, so merges can be merged again).
//!
//! It is the run's [`Totals`] (counters, every histogram the summary's percentiles come from as
//! base64 HdrHistogram V2-deflate blobs in nanoseconds, the process and server samples) with
//! every instant in nanoseconds after the run's start (`run_start_unix_ns` on the wall clock),
//! and what of the plan a merge needs. The time line is in summary.json and the per-interval
//! latency in latency.hlog.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::aggregate::live::Totals;
use crate::config::fleet::ShardSpec;
use crate::config::RunPlan;

pub const FILE: &str = "totals.json";
pub const SCHEMA: &str = "wsload.totals.v2";

/// One run's totals as totals.json holds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawTotals {
    pub schema: String,
    pub wsload_version: String,
    pub shard: ShardSpec,
    pub client_cpus: Vec<usize>,
    pub server_cpu: Option<usize>,
    pub interval_ns: u64,
    /// Its instants are ns after the run's start (`run_start_ns` is 0).
    pub totals: Totals,
}

impl RawTotals {
    pub fn from_totals(plan: &RunPlan, t: &Totals) -> RawTotals {
        let start = t.run_start_ns;
        let mut totals = t.clone();
        totals.timeline = Vec::new();
        totals.intervals = Vec::new();
        totals.shift(|ns| ns.saturating_sub(start));
        RawTotals {
            schema: SCHEMA.into(),
            wsload_version: env!("CARGO_PKG_VERSION").into(),
            shard: plan.shard,
            client_cpus: plan.client_cpus.clone(),
            server_cpu: plan.server_cpu,
            interval_ns: plan.interval.as_nanos() as u64,
            totals,
        }
    }
}

/// Write `dir/totals.json`.
pub fn write(dir: &Path, raw: &RawTotals) -> std::io::Result<std::path::PathBuf> {
    let bytes = serde_json::to_vec(raw).map_err(std::io::Error::other)?;
    crate::report::files::write_atomic(dir, FILE, &bytes)
}

/// Read `dir/totals.json`; the error says what is wrong with it.
pub fn read(dir: &Path) -> Result<RawTotals, String> {
    let path = dir.join(FILE);
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        other => {
            return Err(format!(
                "{}: schema {other:?}, expected {SCHEMA} (written by another wsload version?)",
                path.display()
            ))
        }
    }
    serde_json::from_value(v).map_err(|e| format!("{} is damaged: {e}", path.display()))
}
