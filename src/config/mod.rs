//! Configuration: the command line (`cli`), its units, the target URL, and the
//! validated plan that the rest of the program runs from.
pub mod cli;
pub mod fleet;
pub mod plan;
pub mod scenario;
pub mod seconds;
pub mod suggest;
pub mod target;
pub mod units;
pub mod wire_args;

pub use plan::{RunPlan, ServePlan};
pub use target::Target;
