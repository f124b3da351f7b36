//! Command-line overrides of a scenario's keys (`--set`, and run flags translated to keys).

/// A value set from the command line: `--set key=value`, or a run flag such as `--rate 5`
/// translated into the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Dotted path; numeric parts index lists: `phases.0.rate`.
    pub key: String,
    /// Parsed as a TOML value when it is one (`5`, `true`, `[1, 2]`, `"x"`), else taken as a string.
    pub value: String,
    /// What the user typed, used as the location of errors: `--set rate=5`, `--rate 5`.
    pub origin: String,
}

impl Override {
    /// Parse `key=value` from `--set` (origin becomes `--set key=value`).
    pub fn from_set(arg: &str) -> Result<Override, String> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!(
                "`--set {arg}`: expected key=value, e.g. --set connections=20000 or --set phases.0.rate=5/s"
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!(
                "`--set {arg}`: the key before `=` is empty; expected key=value, e.g. --set connections=20000"
            ));
        }
        Ok(Override {
            key: key.to_string(),
            value: value.to_string(),
            origin: format!("--set {arg}"),
        })
    }
}
