//! The one error a scenario can have, with where it is and which field; the leaf every reader
//! of the tree shares.

use std::fmt;

/// One problem with a scenario: where, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// `FILE:LINE:COL` for values from the file, the override's origin for overridden values,
    /// `FILE` (or its table's location) for things missing from the file.
    pub location: String,
    /// The field as spelled in the file, with 0-based indexes: `phases[1].rate`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.field, self.message)
    }
}

impl std::error::Error for ScenarioError {}

pub(super) type Res<T> = Result<T, ScenarioError>;

/// An error at `location` in `field`.
pub(super) fn error(location: &str, field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        location: location.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}
