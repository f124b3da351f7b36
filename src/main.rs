//! wsload's entry point: parse the command line and hand it to the subcommand's module in
//! [`wsload::cmd`] (or the stage that owns it: `merge` and `proxy`).

use std::process::ExitCode;

use clap::Parser;
use wsload::cmd;
use wsload::config::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Serve(a)) => cmd::serve::main(&a),
        Some(Command::Run(a)) => cmd::run::main(&a),
        Some(Command::Validate(a)) => cmd::validate::main(&a),
        Some(Command::Doctor(a)) => cmd::doctor::main(&a),
        Some(Command::Capacity(a)) => cmd::capacity::main(&a),
        Some(Command::Report(a)) => cmd::report::main(&a),
        Some(Command::Compare(a)) => cmd::compare::main(&a),
        Some(Command::Merge(a)) => wsload::aggregate::merge::main(&a),
        Some(Command::Cert(a)) => cmd::cert::main(&a),
        Some(Command::Proxy(a)) => wsload::engine::proxy::main(&a),
        None => cmd::run::main(&cli.run),
    };
    ExitCode::from(code)
}
