//! totals.json (schema `wsload.totals.v1`): what a run gathered before it was turned into
//! figures, so that `wsload merge` can add several runs up exactly. Written next to
//! summary.json by every run (and by a merge, so merges can be merged again).
//!
//! It holds the counters, every histogram the summary's percentiles come from (corrected and
//! uncorrected latency, send delay, connect time, time to reconnect, latency per message type)
//! as base64 HdrHistogram V2-deflate blobs in nanoseconds, the process and server samples, and
//! every instant as nanoseconds after the run's start (`run_start_unix_ns` on the wall clock).
//! The time line is in summary.json and the per-interval latency in latency.hlog.

use std::path::Path;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::aggregate::live::{ServerWatch, Totals};
use crate::config::fleet::{ShardSpec, StartRecord};
use crate::config::RunPlan;
use crate::metrics::{CodeCounts, Counters, ErrorKind, FaultEvent, Recorder, TypeStats};
use crate::sys::procstat::ProcSample;

pub const FILE: &str = "totals.json";
pub const SCHEMA: &str = "wsload.totals.v1";

/// A histogram as base64 of its V2-deflate encoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Blob(pub String);

impl Blob {
    pub fn encode(h: &Histogram<u64>) -> Blob {
        let mut bytes = Vec::new();
        // Encoding into memory only fails on a histogram too large to describe, which ours are not.
        let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
        Blob(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn decode(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.0.trim())
            .map_err(|e| format!("a histogram is not base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .map_err(|e| format!("a histogram does not decode: {e:?}"))?;
        // Re-bound it as the run's histograms are, so that they add without resizing.
        let mut out = crate::metrics::new_histogram();
        out.add(&h)
            .map_err(|e| format!("a histogram holds values out of range: {e:?}"))?;
        Ok(out)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawType {
    pub sent: u64,
    pub received: u64,
    pub latency: Blob,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawHistograms {
    pub corrected: Blob,
    pub uncorrected: Blob,
    pub send_delay: Blob,
    pub connect_time: Blob,
    /// The connect time's parts: TCP, TLS (wss:// only) and the HTTP upgrade.
    pub tcp_time: Blob,
    pub tls_time: Blob,
    pub upgrade_time: Blob,
    pub recovery: Blob,
}

/// One run's raw totals. Instants (`*_ns` but `run_start_unix_ns`) are ns after the run start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawTotals {
    pub schema: String,
    pub wsload_version: String,
    pub shard: ShardSpec,
    pub client_cpus: Vec<usize>,
    pub server_cpu: Option<usize>,
    pub interval_ns: u64,
    pub run_start_unix_ns: u64,
    pub start: Option<StartRecord>,
    pub load_start_ns: Option<u64>,
    pub load_end_ns: Option<u64>,
    pub end_ns: u64,
    pub first_connect_ns: Option<u64>,
    pub last_established_ns: Option<u64>,
    pub counters: Counters,
    pub histograms: RawHistograms,
    pub types: Vec<RawType>,
    /// (instant, index of the scenario's fault, connections hit)
    pub fault_log: Vec<(u64, u16, u32)>,
    pub longest_outage_ns: u64,
    pub unrecovered: u64,
    pub upgrade_status: Vec<(u16, u64)>,
    pub close_codes: Vec<(u16, u64)>,
    /// (error kind as in summary.json, its first message)
    pub first_errors: Vec<(String, String)>,
    pub proc_before: ProcSample,
    pub proc_load: Option<ProcSample>,
    pub proc_load_end: Option<ProcSample>,
    pub proc_end: ProcSample,
    pub open_at_load: u64,
    pub missing_cores: usize,
    pub per_core: Vec<Counters>,
    pub interrupted: bool,
    pub aborted_by: Option<String>,
    pub server: Option<ServerWatch>,
}

impl RawTotals {
    pub fn from_totals(plan: &RunPlan, t: &Totals) -> RawTotals {
        let rel = |ns: u64| ns.saturating_sub(t.run_start_ns);
        let r = &t.rec;
        RawTotals {
            schema: SCHEMA.into(),
            wsload_version: env!("CARGO_PKG_VERSION").into(),
            shard: plan.shard,
            client_cpus: plan.client_cpus.clone(),
            server_cpu: plan.server_cpu,
            interval_ns: plan.interval.as_nanos() as u64,
            run_start_unix_ns: t.run_start_unix_ns,
            start: t.start,
            load_start_ns: t.load_start_ns.map(rel),
            load_end_ns: t.load_end_ns.map(rel),
            end_ns: rel(t.end_ns),
            first_connect_ns: r.first_connect_ns.map(rel),
            last_established_ns: r.last_established_ns.map(rel),
            counters: r.counters,
            histograms: RawHistograms {
                corrected: Blob::encode(&r.corrected),
                uncorrected: Blob::encode(&r.uncorrected),
                send_delay: Blob::encode(&r.send_delay),
                connect_time: Blob::encode(&r.connect_time),
                tcp_time: Blob::encode(&r.tcp_time),
                tls_time: Blob::encode(&r.tls_time),
                upgrade_time: Blob::encode(&r.upgrade_time),
                recovery: Blob::encode(&r.recovery),
            },
            types: r
                .types
                .iter()
                .map(|t| RawType {
                    sent: t.sent,
                    received: t.received,
                    latency: Blob::encode(&t.latency),
                })
                .collect(),
            fault_log: r
                .fault_log
                .iter()
                .map(|e| (rel(e.at_ns), e.fault, e.connections))
                .collect(),
            longest_outage_ns: r.longest_outage_ns,
            unrecovered: r.unrecovered,
            upgrade_status: r.upgrade_status.0.clone(),
            close_codes: r.close_codes.0.clone(),
            first_errors: r
                .first_errors
                .iter()
                .map(|(k, m)| (k.key().into(), m.clone()))
                .collect(),
            proc_before: t.proc_before,
            proc_load: t.proc_load,
            proc_load_end: t.proc_load_end,
            proc_end: t.proc_end,
            open_at_load: t.open_at_load,
            missing_cores: t.missing_cores,
            per_core: t.per_core.clone(),
            interrupted: t.interrupted,
            aborted_by: t.aborted_by.clone(),
            server: t.server.clone(),
        }
    }

    /// The recorder, its instants shifted by `offset_ns` (this run's start on a merge's clock).
    pub fn recorder(&self, offset_ns: u64) -> Result<Recorder, String> {
        let at = |ns: u64| ns + offset_ns;
        let h = &self.histograms;
        let mut types = Vec::new();
        for t in &self.types {
            types.push(TypeStats {
                sent: t.sent,
                received: t.received,
                latency: t.latency.decode()?,
            });
        }
        let mut first_errors = Vec::new();
        for (key, msg) in &self.first_errors {
            let kind = ErrorKind::ALL
                .into_iter()
                .find(|k| k.key() == key)
                .ok_or_else(|| format!("unknown error kind `{key}`"))?;
            first_errors.push((kind, msg.clone()));
        }
        Ok(Recorder {
            counters: self.counters,
            corrected: h.corrected.decode()?,
            uncorrected: h.uncorrected.decode()?,
            send_delay: h.send_delay.decode()?,
            connect_time: h.connect_time.decode()?,
            tcp_time: h.tcp_time.decode()?,
            tls_time: h.tls_time.decode()?,
            upgrade_time: h.upgrade_time.decode()?,
            recovery: h.recovery.decode()?,
            types,
            fault_log: self
                .fault_log
                .iter()
                .map(|&(t, fault, connections)| FaultEvent {
                    at_ns: at(t),
                    fault,
                    connections,
                })
                .collect(),
            longest_outage_ns: self.longest_outage_ns,
            unrecovered: self.unrecovered,
            upgrade_status: CodeCounts(self.upgrade_status.clone()),
            close_codes: CodeCounts(self.close_codes.clone()),
            first_errors,
            first_connect_ns: self.first_connect_ns.map(at),
            last_established_ns: self.last_established_ns.map(at),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_file_exactly() {
        let mut h = crate::metrics::new_histogram();
        for v in [1u64, 999, 1_000_000, 3_600_000_000_000, 42_424_242] {
            h.record(v).unwrap();
        }
        let back = Blob::encode(&h).decode().unwrap();
        assert_eq!(back, h);
        assert!(Blob("not base64!".into()).decode().unwrap_err().contains("base64"));
        assert!(Blob("AAAA".into()).decode().unwrap_err().contains("does not decode"));
    }
}
