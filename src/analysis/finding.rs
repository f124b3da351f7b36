//! What the analysis hands back: the [`Analysis`] (its [`Verdict`], [`Finding`]s with their
//! [`Kind`] and [`Confidence`], and [`TaxonomyRow`]s), and how figures are written for people
//! ([`num`], [`us`], [`secs`]). A leaf: it imports no other file of the crate, so every stage
//! can use it without importing the others, and the Summary (report/model.rs) can hold an
//! Analysis without importing the stages that read the Summary.

use serde::{Deserialize, Serialize};

/// The failure analysis of one run (the summary's `analysis`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub taxonomy: Vec<TaxonomyRow>,
}

/// The verdict in one word: `ready`, `not_ready`, or `inconclusive` (the client was the
/// bottleneck, so the figures describe it as much as the server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ready,
    #[default]
    NotReady,
    Inconclusive,
}

/// Production readiness (see the readiness stage for the criteria).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// `status == ready`: false when inconclusive too.
    pub ready: bool,
    pub status: Status,
    /// `thresholds` (the scenario's) or `defaults`.
    pub basis: String,
    pub reasons: Vec<String>,
    /// The evidence that the client itself was the bottleneck (its send delay, its CPU); empty
    /// when it kept up. Non-empty makes a passing verdict `inconclusive`, and a failing one too
    /// when every failed criterion is one the client's lag distorts (latency, rates).
    pub client_bottleneck: Vec<String>,
}

/// One row of the failure taxonomy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxonomyRow {
    /// `resolve`, `connect`, `tls`, `upgrade`, `frame`, `close`, `timeout`, `reset`,
    /// `client-resource` or `other`.
    pub phase: String,
    /// An error class (`connect_refused`), `close_<code>` or `http_<status>`.
    pub class: String,
    pub count: u64,
    pub meaning: String,
    pub advice: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cluster,
    Cascade,
    Knee,
    Hint,
    /// Failures concentrated on one client core (the imbalance stage).
    Imbalance,
}

impl Kind {
    /// Its name in summary.json and the reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::Cascade => "cascade",
            Kind::Knee => "knee",
            Kind::Hint => "hint",
            Kind::Imbalance => "imbalance",
        }
    }
}

/// How far the evidence goes: `high` when the figures say it directly (an errno, a status),
/// `medium` when a rule infers it from timing and load, `low` when it is one possible reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// Its name in summary.json and the reports.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    pub title: String,
    pub detail: String,
    pub evidence: Vec<String>,
    pub confidence: Confidence,
    /// On the time line's clock; `None` when the finding is not time-bound.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

/// A root-cause hint that is not time-bound.
pub(super) fn hint(title: &str, detail: String, evidence: Vec<String>, confidence: Confidence) -> Finding {
    Finding {
        kind: Kind::Hint,
        title: title.into(),
        detail,
        evidence,
        confidence,
        start_s: None,
        end_s: None,
    }
}

/// `1234.5` → `1,234.5`-free plain text: integers without decimals, others with one.
pub(crate) fn num(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

/// Microseconds for people.
pub(crate) fn us(x: f64) -> String {
    if x >= 1000.0 {
        format!("{} ms", num(x / 1000.0))
    } else {
        format!("{} µs", num(x))
    }
}

/// Seconds on the time line.
pub(crate) fn secs(t: f64) -> String {
    format!("{t:.1} s")
}
