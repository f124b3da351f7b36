//! Scenarios: one file describing a whole stress test (ramp, phases, message
//! mix, churn, reconnection, faults, thresholds), validated up front.
//!
//! `model` holds the validated types, `parse` reads TOML plus overrides into
//! them, `curve` turns ramps and phases into pure functions of time, and
//! `thresholds` checks the pass/fail expressions against the results.
pub mod model;
pub mod parse;
pub mod template;
pub mod thresholds;

pub use model::*;
