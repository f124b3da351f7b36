//! What a scenario describes, validated: the target, how connections ramp up
//! and down, the traffic phases, the message mix, connection lifetime and
//! reconnection, client-side faults and thresholds. Built by `parse` from a
//! TOML file plus command-line overrides; everything downstream runs from it.
//!
//! Times in phases and faults are offsets from the start of traffic; ramp times
//! are offsets from the start of the run (the first connect).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::template::Template;
use crate::config::seconds::{opt_secs, secs};
use crate::config::Target;
use crate::proto::jsonptr::Pointer;

/// How the target number of open connections grows from 0 to `connections`.
/// Each is a pure function of time (see `curve`); every core takes its share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ramp {
    /// All at once, bounded only by `connect_concurrency`.
    Burst,
    /// `per_s` new connections per second.
    Linear { per_s: f64 },
    /// `start` connections, then multiplied by `factor` every `every`.
    Exponential {
        start: u64,
        factor: f64,
        #[serde(with = "secs")]
        every: Duration,
    },
    /// `step` more connections every `hold` (the first step at time 0).
    Stepped {
        step: u64,
        #[serde(with = "secs")]
        hold: Duration,
    },
}

/// When the traffic phases start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficStart {
    /// Once the ramp is complete and every core has made its first attempt for every
    /// connection (the classic "connect, then load" test).
    AfterRamp,
    /// At the start of the run: each connection sends from the moment it is open.
    WithRamp,
}

/// Messages per second per connection, or the closed-loop window, over a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PhaseKind {
    /// A constant `rate` (messages/s per connection).
    Sustained { rate: f64 },
    /// `rate`, with spikes of `burst_rate` lasting `burst_for` every `every` (the first spike
    /// at the phase start).
    Burst {
        rate: f64,
        burst_rate: f64,
        #[serde(with = "secs")]
        burst_for: Duration,
        #[serde(with = "secs")]
        every: Duration,
    },
    /// Rate changing linearly from `from` to `to` over the phase.
    Ramp { from: f64, to: f64 },
    /// Connections held open, no messages.
    Idle,
    /// Closed loop: `window` messages outstanding per connection.
    InFlight { window: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    /// Offset from the start of traffic (the end of the previous phase unless `at` was given).
    #[serde(with = "secs")]
    pub start: Duration,
    #[serde(with = "secs")]
    pub duration: Duration,
    #[serde(flatten)]
    pub kind: PhaseKind,
}

impl Phase {
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

/// Payload sizes of one message type, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeDist {
    Fixed(usize),
    /// Uniform over `min..=max`.
    Uniform {
        min: usize,
        max: usize,
    },
    /// One of these, equally likely.
    List(Vec<usize>),
}

impl SizeDist {
    pub fn max(&self) -> usize {
        match self {
            SizeDist::Fixed(n) => *n,
            SizeDist::Uniform { max, .. } => *max,
            SizeDist::List(l) => l.iter().copied().max().unwrap_or(0),
        }
    }
    pub fn min(&self) -> usize {
        match self {
            SizeDist::Fixed(n) => *n,
            SizeDist::Uniform { min, .. } => *min,
            SizeDist::List(l) => l.iter().copied().min().unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    Binary,
    Text,
    /// A ping frame carrying the stamp (at most 125 bytes); latency is measured on its pong.
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageType {
    pub name: String,
    pub weight: u32,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// For stamped messages; a templated type's size is whatever its template renders to.
    pub size: SizeDist,
    /// Empty: wsload's stamped payload. Otherwise templates used in turn (one, or a file's lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
}

/// What the client does on its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Send messages and match every reply to its request.
    #[default]
    Echo,
    /// Send `first_message` (if any), then only receive what the server pushes.
    Subscribe,
}

/// How a reply is matched to its request. Saved as `"stamp"`, `"fifo"` or the pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlate {
    /// wsload's stamp, echoed back: order, loss, duplicates and corruption are all checked.
    Stamp,
    /// Each reply answers the oldest request still unanswered on its connection.
    Fifo,
    /// The reply carries the request's `{seq}` at this JSON pointer.
    Pointer(Pointer),
}

impl Serialize for Correlate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Correlate::Stamp => "stamp",
            Correlate::Fifo => "fifo",
            Correlate::Pointer(p) => p.as_str(),
        })
    }
}

impl<'de> Deserialize<'de> for Correlate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "stamp" => Correlate::Stamp,
            "fifo" => Correlate::Fifo,
            _ => Correlate::Pointer(Pointer::parse(&s).map_err(serde::de::Error::custom)?),
        })
    }
}

/// A time unit for timestamps read from a server's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeUnit {
    S,
    Ms,
    Us,
    Ns,
}

impl TimeUnit {
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }

    pub fn ns(self) -> f64 {
        match self {
            TimeUnit::S => 1e9,
            TimeUnit::Ms => 1e6,
            TimeUnit::Us => 1e3,
            TimeUnit::Ns => 1.0,
        }
    }
}

/// Fields read from what the server sends on its own (subscribe mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushFields {
    /// The publish time (Unix time in `unit`), for end-to-end latency against this host's clock.
    pub timestamp: Option<Pointer>,
    pub unit: TimeUnit,
    /// A per-stream sequence number, to count gaps and repeats.
    pub sequence: Option<Pointer>,
}

/// What happens when an established connection drops (or is closed by a fault or its lifetime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum Reconnect {
    Off,
    Immediate,
    /// Delay `initial`, multiplied by `factor` after each failed attempt, capped at `max`, each
    /// delay varied by ±`jitter` (a fraction, 0..=1).
    Backoff {
        #[serde(with = "secs")]
        initial: Duration,
        #[serde(with = "secs")]
        max: Duration,
        factor: f64,
        jitter: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Abrupt drop: TCP reset (SO_LINGER 0), no close frame.
    Drop,
    /// Clean close: close frame 1000, then the connection ends.
    Close,
    /// Stop reading for `for` (the server's writes back up).
    HalfOpen,
    /// Send a frame that breaks RFC 6455 (a reserved opcode).
    Corrupt,
    /// Send a frame header announcing a payload larger than the server should accept.
    Oversized,
    /// Stop sending for `for` (scheduled messages are skipped, not queued).
    Pause,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Drop,
        FaultKind::Close,
        FaultKind::HalfOpen,
        FaultKind::Corrupt,
        FaultKind::Oversized,
        FaultKind::Pause,
    ];
    pub fn key(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::Close => "close",
            FaultKind::HalfOpen => "half-open",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Oversized => "oversized",
            FaultKind::Pause => "pause",
        }
    }
    /// Faults that last a while and need `for`.
    pub fn lasts(self) -> bool {
        matches!(self, FaultKind::HalfOpen | FaultKind::Pause)
    }
}

/// A client-side fault injected into a fraction of the open connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    /// First injection, as an offset from the start of traffic.
    #[serde(with = "secs")]
    pub at: Duration,
    /// Repeat every this long (until traffic ends).
    #[serde(with = "opt_secs")]
    pub every: Option<Duration>,
    /// Fraction of the open connections hit each time, in (0, 1].
    pub fraction: f64,
    /// How long a half-open or pause lasts.
    #[serde(rename = "for", with = "opt_secs")]
    pub lasting: Option<Duration>,
}

/// How a wss:// target's certificate is checked (`[tls]`, `--ca`, `--insecure`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted besides the system roots.
    pub ca: Option<std::path::PathBuf>,
    /// Accept any certificate: the target's identity is not checked.
    pub insecure: bool,
}

/// `[proxy]`: the fault-injecting proxy `wsload run` starts (a child process) in front of the
/// target, with its toxics; their `at` counts from the start of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyConfig {
    /// The proxy's CPU; `None`: the last available CPU (shared with the built-in server).
    pub cpu: Option<usize>,
    pub toxics: Vec<crate::engine::proxy::spec::Toxic>,
}

/// A scenario, validated. Durations are serialized as seconds. Read back from a summary, a
/// field that is missing takes its default ([`Default`] is the empty scenario file's meaning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    pub name: Option<String>,
    /// `None`: start the built-in echo server and target it.
    #[serde(serialize_with = "redacted_target", deserialize_with = "saved_target")]
    pub target: Option<Target>,
    /// Extra upgrade request headers, in order.
    #[serde(serialize_with = "redacted_headers")]
    pub headers: Vec<(String, String)>,
    /// Subprotocols offered (Sec-WebSocket-Protocol); the server must pick one of them.
    pub subprotocols: Vec<String>,
    pub source_ips: Vec<IpAddr>,
    /// wss:// certificate checks.
    pub tls: TlsOptions,
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    pub connect_concurrency: u32,
    pub max_frame: u64,

    pub connections: u64,
    pub ramp: Ramp,
    /// Close the connections gradually over this long at the end (after the drain).
    #[serde(with = "opt_secs")]
    pub ramp_down: Option<Duration>,
    pub traffic_start: TrafficStart,
    /// In time order, not overlapping.
    pub phases: Vec<Phase>,
    /// At least one type, weights summing to more than 0.
    pub messages: Vec<MessageType>,
    /// Close each connection after this long and open a new one (churn).
    #[serde(with = "opt_secs")]
    pub lifetime: Option<Duration>,
    pub reconnect: Reconnect,
    /// "Back within" horizon for the recovery figures.
    #[serde(with = "secs")]
    pub recovered_within: Duration,
    pub faults: Vec<Fault>,
    /// The network-fault proxy, if the scenario has a `[proxy]` table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyConfig>,
    /// Threshold expressions as written (`latency.p99 < 200ms`), checked by `thresholds`.
    pub thresholds: Vec<String>,
    pub abort_on_fail: bool,
    /// After the traffic, how long to wait for outstanding echoes.
    #[serde(with = "secs")]
    pub drain: Duration,
    pub mode: Mode,
    /// Offer permessage-deflate (RFC 7692).
    pub compression: bool,
    /// Sent once on every connection as soon as it is open (a template).
    pub first_message: Option<Template>,
    pub correlate: Correlate,
    pub push: PushFields,
}

impl Scenario {
    /// Length of the traffic: the end of the last phase.
    pub fn traffic_duration(&self) -> Duration {
        self.phases.last().map_or(Duration::ZERO, Phase::end)
    }

    /// The largest stamped payload any message type sends.
    pub fn max_message(&self) -> usize {
        self.messages.iter().map(|m| m.size.max()).max().unwrap_or(0)
    }

    /// Are the message bodies templates (replies matched by `correlate`, not by stamps)?
    pub fn templated(&self) -> bool {
        self.messages.iter().any(|m| !m.templates.is_empty())
    }

    /// Does any phase run closed-loop?
    pub fn has_in_flight(&self) -> bool {
        self.phases.iter().any(|p| matches!(p.kind, PhaseKind::InFlight { .. }))
    }
}

fn redacted_target<S: serde::Serializer>(t: &Option<Target>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.redacted),
        None => s.serialize_str("built-in echo server"),
    }
}

/// A target read back from a saved summary (`wsload merge`): only its redacted form is known.
fn saved_target<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Target>, D::Error> {
    let s = String::deserialize(d)?;
    Ok((s != "built-in echo server").then(|| Target {
        tls: s.starts_with("wss://"),
        host: String::new(),
        port: 0,
        path: String::new(),
        host_header: String::new(),
        redacted: s,
    }))
}

/// Header values that may carry secrets are replaced before anything is written.
fn redacted_headers<S: serde::Serializer>(h: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(h.len()))?;
    for (k, v) in h {
        seq.serialize_element(&(k, crate::config::target::redact_header(k, v)))?;
    }
    seq.end()
}
