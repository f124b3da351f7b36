//! What the analysis stages hand back: [`Finding`]s with their [`Kind`] and [`Confidence`], and
//! how their figures are written for people ([`num`], [`us`], [`secs`]). A leaf: it imports no
//! other analysis file, so every stage can use it without importing the others.

use serde::{Deserialize, Serialize};

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

/// How far the evidence goes: `high` when the figures say it directly (an errno, a status),
/// `medium` when a rule infers it from timing and load, `low` when it is one possible reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
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
