//! The result of a run, as `summary.json` (schema `wsload.summary.v1`) holds it: the
//! [`Summary`] and its sections, and the percentile table they share. Only types (and
//! [`percentiles`], which fills a table from a histogram): `summary.rs` builds a Summary,
//! `verdict.rs` reads one, and neither imports the other for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::server::ServerSection;
use super::wire::WireSection;
use crate::aggregate::timeline::TimelinePoint;
use crate::analysis::finding::Analysis;
use crate::config::fleet::StartRecord;
use crate::config::scenario::thresholds::Verdict;
use crate::config::scenario::Scenario;
use crate::engine::proxy::child::ProxySection;

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub schema: String,
    pub wsload_version: String,
    pub target: String,
    pub builtin_server: bool,
    /// The run was interrupted (Ctrl-C) or a core did not finish: figures cover what was gathered.
    pub partial: bool,
    /// Why the figures are partial (`partial`), when it is not an interruption (a merge that
    /// lacks shards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_reason: Option<String>,
    /// When the run started (the time line's 0), seconds since the Unix epoch.
    pub started_at_unix_s: f64,
    /// The same, nanoseconds since the Unix epoch: `t_s` of the time line is relative to it.
    pub started_at_unix_ns: u64,
    /// Which share of the scenario this process ran (`--shard i/N`; 0/1 for a whole run).
    pub shard: ShardEcho,
    /// With `--start-at` or `--start-in`: the requested and actual start, and this host's clock.
    pub start: Option<StartRecord>,
    /// Length of the load phase actually run, in seconds.
    pub duration_s: f64,
    /// The effective scenario (file, flags and --set merged; secrets redacted).
    pub scenario: Scenario,
    pub run: RunEcho,
    /// When the traffic started, seconds after the start of the run (time-line time).
    pub traffic_start_s: Option<f64>,
    /// The traffic phases on the time line's clock.
    pub phases: Vec<PhaseWindow>,
    pub connections: ConnSection,
    pub messages: MsgSection,
    pub latency_us: LatencySection,
    /// wss:// runs: how certificates were checked and how many handshakes resumed a session.
    pub tls: Option<TlsSection>,
    /// Per message type of the mix.
    pub message_types: Vec<TypeSection>,
    /// Templates, correlation, compression and pushed messages.
    pub wire: WireSection,
    pub recovery: RecoverySection,
    pub faults: FaultSection,
    /// The network-fault proxy (a scenario's `[proxy]`): its toxics, when each turned on and
    /// off, and what it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySection>,
    /// Every threshold with its measured value; empty when the scenario has none.
    pub thresholds: Vec<Verdict>,
    /// `None` without thresholds.
    pub thresholds_passed: Option<bool>,
    /// The threshold that stopped the run early (abort_on_fail), if one did.
    pub aborted_by: Option<String>,
    pub errors: BTreeMap<String, u64>,
    pub upgrade_status: BTreeMap<String, u64>,
    pub close_codes: BTreeMap<String, u64>,
    /// First message of each error kind, with what to do about it.
    pub first_errors: Vec<ErrorNote>,
    pub client: ClientSection,
    /// Per client core: how the work and the failures were spread.
    pub cores: Vec<CoreSection>,
    /// The server under test (with `--server-pid`, or the built-in server).
    pub server: Option<ServerSection>,
    /// Failure analysis (verdict, findings, taxonomy), from `analysis::analyze` on this
    /// summary; filled in by the run after the rest (and again by `wsload report` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "lenient")]
    pub analysis: Option<Analysis>,
    /// Written by `wsload merge`: the shards merged, their starts, and what could not be merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeSection>,
    pub timeline: Vec<TimelinePoint>,
}

impl Summary {
    /// Read a saved summary: `path` is a results directory or its summary.json. A field that an
    /// older wsload did not write takes its default; a field of the wrong type is refused, named
    /// by its path (`connections.established: invalid type ...`).
    pub fn load(path: &Path) -> Result<(PathBuf, Summary), String> {
        let file = if path.is_dir() {
            path.join("summary.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let not_ours = |why: String| format!("{} is not a wsload summary: {why}", file.display());
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| not_ours(e.to_string()))?;
        if v.get("connections").is_none() {
            return Err(not_ours("it has no `connections`".into()));
        }
        Summary::from_value(v).map(|s| (file.clone(), s)).map_err(not_ours)
    }

    /// Errors of every class over the run.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// A summary from its JSON; the error names the field that did not fit.
    pub fn from_value(v: serde_json::Value) -> Result<Summary, String> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }
}

/// What `wsload merge` records about the shards it merged.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeSection {
    pub shard_count: usize,
    pub merged: usize,
    /// The latest shard start after the earliest, milliseconds.
    pub start_spread_ms: f64,
    pub shards: Vec<MergedShard>,
    /// Shards missing or not merged, and why.
    pub problems: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MergedShard {
    pub index: usize,
    pub dir: String,
    pub started_at_unix_ns: u64,
    pub start_offset_ms: f64,
    pub start: Option<StartRecord>,
    pub established: u64,
    pub sent: u64,
    pub received: u64,
}

/// A section that is derived again whenever a summary is read (the analysis): one that an older
/// or newer wsload wrote in another shape is left out rather than refused.
fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// One client core's share of the run.
#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct CoreSection {
    pub core: usize,
    pub cpu: usize,
    pub established: u64,
    pub connect_failed: u64,
    pub dropped: u64,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub errors: u64,
}

/// This process's share of a sharded run.
#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ShardEcho {
    pub index: usize,
    pub count: usize,
    /// The global connection ids it owned, `[first, end)` (distinct over the shards).
    pub connection_ids: [u64; 2],
}

/// How the run was executed (what is not part of the scenario).
#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct RunEcho {
    pub client_cpus: Vec<usize>,
    pub server_cpu: Option<usize>,
    pub interval_s: f64,
    /// Length of the time line's points: `interval_s`, or a power-of-two multiple of it when a
    /// long run's older points were merged pairwise to keep at most 4,096 (latency.hlog keeps
    /// every interval).
    pub timeline_step_s: f64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct PhaseWindow {
    pub name: String,
    pub kind: String,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct TypeSection {
    pub name: String,
    pub sent: u64,
    pub received: u64,
    pub latency_us: Percentiles,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct RecoverySection {
    pub policy: String,
    /// Connections dropped after they were established (server, network or injected fault).
    pub drops: u64,
    pub reconnected: u64,
    /// The horizon for `reconnected_within`, seconds.
    pub within_s: f64,
    pub reconnected_within: u64,
    /// Dropped and still down at the end of the traffic.
    pub unrecovered: u64,
    /// From a drop to the connection's next successful upgrade.
    pub time_to_reconnect_us: Percentiles,
    pub longest_outage_s: f64,
    /// Connection-seconds up over connection-seconds wanted, over the traffic.
    pub availability: Option<f64>,
    /// Up time per drop, and mean time to reconnect, per connection, seconds.
    pub mtbf_s: Option<f64>,
    pub mttr_s: Option<f64>,
    /// Messages in flight when their connection dropped.
    pub lost_by_drop: u64,
    /// Connections closed at the end of their lifetime and reopened (churn).
    pub churned: u64,
    /// Scheduled messages not sent while paused by a fault.
    pub skipped: u64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct FaultSection {
    /// Connections hit, by fault kind.
    pub injected: BTreeMap<String, u64>,
    /// Connections that ended because of an injected fault (not counted as server errors).
    pub ended_connections: u64,
    /// Each injection (merged over cores), on the time line's clock.
    pub events: Vec<FaultNote>,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct FaultNote {
    pub t_s: f64,
    pub kind: String,
    pub connections: u64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ConnSection {
    pub target: u64,
    pub established: u64,
    pub failed: u64,
    pub not_attempted: u64,
    pub peak_open: u64,
    /// Dropped by the server or the network (injected faults are under `faults`).
    pub dropped: u64,
    /// Closed by the ramp-down.
    pub ramped_down: u64,
    pub connect_rate_per_s: f64,
    pub time_to_all_s: f64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct MsgSection {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub lost_by_drop: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    pub rate_per_s: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct LatencySection {
    pub corrected: Percentiles,
    pub uncorrected: Percentiles,
    /// TCP connect + TLS handshake (wss://) + WebSocket upgrade.
    pub connect: Percentiles,
    /// Its parts. TCP connect: for ws:// until the socket took the upgrade request.
    pub tcp_connect: Percentiles,
    /// TLS handshake, from the TCP connect to the handshake's end (empty for ws://).
    pub tls_handshake: Percentiles,
    /// WebSocket upgrade: from the request to the 101 response.
    pub upgrade: Percentiles,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct TlsSection {
    /// Certificates were NOT verified (`--insecure`): any server could have answered.
    pub insecure: bool,
    /// The CA file trusted besides the system roots.
    pub ca: Option<String>,
    /// Handshakes of established connections: full, and resumed from a session ticket or ID.
    pub full_handshakes: u64,
    pub resumed_handshakes: u64,
    /// resumed / (full + resumed).
    pub resumed_share: Option<f64>,
    /// The protocol the handshakes negotiated: "TLS 1.3", "TLS 1.2", or both with their counts.
    pub version: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
    pub mean: f64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ErrorNote {
    pub kind: String,
    pub count: u64,
    pub first: String,
    pub advice: String,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ClientSection {
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// CPU (user + system) over the load window (drain excluded), per million messages echoed
    /// in it (one message = one send, one receive and its check).
    pub cpu_s_per_million_msgs: Option<f64>,
    pub peak_rss_bytes: u64,
    /// RSS growth from before connecting to all connections open (before any traffic),
    /// divided by the connections open then.
    pub rss_per_connection_bytes: u64,
    /// Share of the client cores' time spent working during the load window (user + system
    /// CPU over load time × cores). Near 1.0 the client itself is the bottleneck.
    pub cpu_busy: Option<f64>,
    /// Open loop: how late messages left against their schedule, microseconds.
    pub send_delay_us: Percentiles,
    /// Why the figures may describe the client rather than the server, if they might.
    pub warnings: Vec<String>,
}

/// One percentile of a [`Percentiles`] table: its key in summary.json, its name for people,
/// the quantile it is taken at (1.0 for the maximum), and where it is in the table.
pub struct Quantile {
    pub key: &'static str,
    pub label: &'static str,
    pub q: f64,
    pub of: fn(&Percentiles) -> u64,
}

impl Percentiles {
    /// Its percentiles in order, the maximum last: the one list every writer reads them from.
    pub const QUANTILES: [Quantile; 6] = [
        Quantile {
            key: "p50",
            label: "p50",
            q: 0.5,
            of: |p| p.p50,
        },
        Quantile {
            key: "p90",
            label: "p90",
            q: 0.9,
            of: |p| p.p90,
        },
        Quantile {
            key: "p95",
            label: "p95",
            q: 0.95,
            of: |p| p.p95,
        },
        Quantile {
            key: "p99",
            label: "p99",
            q: 0.99,
            of: |p| p.p99,
        },
        Quantile {
            key: "p99_9",
            label: "p99.9",
            q: 0.999,
            of: |p| p.p99_9,
        },
        Quantile {
            key: "max",
            label: "max",
            q: 1.0,
            of: |p| p.max,
        },
    ];

    /// The percentiles without the maximum: a Prometheus summary family's quantiles.
    pub fn below_max() -> &'static [Quantile] {
        &Self::QUANTILES[..5]
    }

    /// The percentile written `name` (its key `p99_9` or its label `p99.9`), µs.
    pub fn get(&self, name: &str) -> Option<u64> {
        Self::QUANTILES
            .iter()
            .find(|q| q.key == name || q.label == name)
            .map(|q| (q.of)(self))
    }
}

/// Percentiles in microseconds from a nanosecond histogram.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles {
            count: 0,
            p50: 0,
            p90: 0,
            p95: 0,
            p99: 0,
            p99_9: 0,
            max: 0,
            mean: 0.0,
        };
    }
    let us = |q: f64| h.value_at_quantile(q) / 1000;
    Percentiles {
        count: h.len(),
        p50: us(0.5),
        p90: us(0.9),
        p95: us(0.95),
        p99: us(0.99),
        p99_9: us(0.999),
        max: h.max() / 1000,
        mean: (h.mean() / 1e3 * 1e3).round() / 1e3,
    }
}
