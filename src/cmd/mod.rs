//! Stage 7, the commands: one module per subcommand, each tying the stages together.
//!
//! In: the parsed command line (config::cli). Out: result files and the exit code.

pub mod capacity;
pub mod cert;
pub mod compare;
pub mod doctor;
pub mod postrun;
pub mod report;
pub mod run;
pub mod serve;
pub mod validate;

/// Exit status 2: the arguments or the machine's setup do not allow the run.
pub fn setup_error(e: impl std::fmt::Display) -> u8 {
    eprintln!("wsload: error: {e}");
    2
}
