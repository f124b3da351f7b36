//! Analysis over the gathered figures: pure functions, unit-tested with
//! synthetic data (fits, projections, findings).
pub mod fit;
