use std::process::ExitCode;

use clap::Parser;
use wsload::config::cli::{Cli, Command, RunArgs};
use wsload::config::{RunPlan, ServePlan};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Serve(a)) => serve(&a),
        Some(Command::Run(a)) => run(&a),
        Some(Command::Validate(a)) => validate(&a),
        Some(Command::Doctor(a)) => wsload::sys::doctor::main(&a),
        Some(Command::Capacity(a)) => wsload::capacity::main(&a),
        Some(Command::Report(a)) => report(&a),
        Some(Command::Compare(a)) => compare(&a),
        Some(Command::Merge(a)) => wsload::merge::main(&a),
        Some(Command::Cert(a)) => cert(&a),
        Some(Command::Proxy(a)) => wsload::proxy::main(&a),
        None => run(&cli.run),
    };
    ExitCode::from(code)
}

/// Exit status 2: the arguments or the machine's setup do not allow the run.
fn setup_error(e: impl std::fmt::Display) -> u8 {
    eprintln!("wsload: error: {e}");
    2
}

fn serve(a: &wsload::config::cli::ServeArgs) -> u8 {
    let plan = match ServePlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return setup_error(format!("{e}\n(see `wsload serve --help`)")),
    };
    match wsload::server::serve(&plan) {
        Ok(()) => 0,
        Err(e) => setup_error(format!("{e:#}")),
    }
}

/// `wsload cert --out DIR`: a test CA and a server certificate for `serve --tls-cert`.
fn cert(a: &wsload::config::cli::CertArgs) -> u8 {
    let hosts: Vec<String> = if a.hosts.is_empty() {
        wsload::tls::cert::DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect()
    } else {
        a.hosts.clone()
    };
    match wsload::tls::cert::write(&a.out, &hosts) {
        Ok(w) => {
            println!(
                "CA certificate      {}  (wsload run wss://... --ca {})",
                w.ca.display(),
                w.ca.display()
            );
            println!(
                "server certificate  {}  (wsload serve --tls-cert {} --tls-key {})",
                w.cert.display(),
                w.cert.display(),
                w.key.display()
            );
            println!("server key          {}", w.key.display());
            println!("valid for           {}", hosts.join(", "));
            0
        }
        Err(e) => setup_error(e),
    }
}

/// `wsload validate FILE`: the scenario as wsload understands it, or the first error in it.
fn validate(a: &wsload::config::cli::ValidateArgs) -> u8 {
    use wsload::scenario::parse;
    let overrides = match wsload::config::plan::set_overrides(&a.set) {
        Ok(o) => o,
        Err(e) => return setup_error(e),
    };
    match parse::load(Some(&a.file), &overrides) {
        Ok(s) => {
            println!("{}: ok", a.file.display());
            let text = parse::describe(&s);
            println!("{}", text.trim_end());
            0
        }
        Err(e) => setup_error(format!("{e}\nnothing was started")),
    }
}

fn run(a: &RunArgs) -> u8 {
    let plan = match RunPlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return setup_error(format!("{e}\n(see `wsload run --help`)")),
    };
    let (json, quiet) = (plan.json, plan.quiet);
    let out = match wsload::run::run(plan) {
        Ok(o) => o,
        Err(e) if e.is::<wsload::run::NotStarted>() => return 130,
        Err(e) => return setup_error(format!("{e:#}")),
    };
    // -q with --json: the JSON alone.
    if quiet && json {
        out.show(true, false);
    } else {
        out.show(json, true);
    }
    if out.summary.connections.established == 0 {
        eprintln!("wsload: no connection could be established: see the errors above");
    }
    out.exit_code()
}

/// `wsload report DIR [--format LIST]`: re-render result files from a saved summary.json.
fn report(a: &wsload::config::cli::ReportArgs) -> u8 {
    use wsload::report::Format;
    let formats = match &a.format {
        Some(l) => match Format::parse_list(l) {
            Ok(f) => f,
            Err(e) => return setup_error(format!("--format: {e}")),
        },
        None => vec![Format::Csv, Format::Md, Format::Html, Format::Prom],
    };
    if formats.contains(&Format::Hlog) {
        return setup_error(
            "latency.hlog cannot be re-rendered: it needs the run's per-interval histograms, which \
             summary.json does not hold (the run writes it)",
        );
    }
    let (file, mut summary) = match wsload::report::compare::load(&a.dir) {
        Ok(x) => x,
        Err(e) => return setup_error(e),
    };
    // Findings are recomputed from the figures, so an older summary.json gets them too.
    if summary.get("analysis").is_none() {
        summary["analysis"] = wsload::analysis::analyze_json(&summary);
    }
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    match wsload::report::write_all(dir, &summary, &[], &formats) {
        Ok(paths) if paths.len() == formats.len() => {
            for p in paths {
                println!("{}", p.display());
            }
            0
        }
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            2
        }
        Err(e) => setup_error(format!("cannot write into {}: {e}", dir.display())),
    }
}

/// `wsload compare BASE NEW`: 0 no regression, 1 a regression, 2 unreadable input.
fn compare(a: &wsload::config::cli::CompareArgs) -> u8 {
    use wsload::report::compare::{self, Tolerances};
    let mut tol = Tolerances::default();
    match compare::parse_percent(&a.tolerance) {
        Ok(t) => tol.default = t,
        Err(e) => return setup_error(format!("--tolerance: {e}")),
    }
    for l in &a.metric_tolerance {
        if let Err(e) = tol.add_list(l) {
            return setup_error(format!("--metric-tolerance: {e}"));
        }
    }
    use wsload::report::html::compare::{publish, Page};
    let page = match (&a.html, a.no_html) {
        (_, true) => Page::Off,
        (Some(f), false) => Page::At(f.clone()),
        (None, false) => Page::Beside,
    };
    match compare::main(&a.base, &a.new, &tol) {
        Ok(c) => publish(&c, &page),
        Err(code) => code,
    }
}
