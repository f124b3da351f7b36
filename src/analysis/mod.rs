//! Analysis over the gathered figures: pure functions, unit-tested with
//! synthetic data (fits, projections, findings).
pub mod bursts;
pub mod failures;
pub mod fit;
pub mod growth;
pub mod hints;
pub mod hints_server;
pub mod imbalance;
pub mod input;
pub mod knee;
pub mod readiness;
pub mod taxonomy;

pub use failures::{analyze, analyze_json, Analysis};
pub use input::Input;
