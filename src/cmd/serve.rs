//! `wsload serve`: the built-in echo and broadcast server, in the foreground.

use crate::config::ServePlan;

pub fn main(a: &crate::config::cli::ServeArgs) -> u8 {
    let plan = match ServePlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return super::setup_error(format!("{e}\n(see `wsload serve --help`)")),
    };
    match crate::engine::server::serve(&plan) {
        Ok(()) => 0,
        Err(e) => super::setup_error(format!("{e:#}")),
    }
}
