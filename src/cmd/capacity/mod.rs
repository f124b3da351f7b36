//! `wsload capacity`: steps the load upward until the server stops meeting an SLO, refines
//! between the last good and the first bad step, and reports the highest load that met it
//! with the reason the next step failed.
//!
//! Each step is one ordinary run ([`crate::cmd::run::run`]) with its own results directory; the
//! search itself ([`search::search`]) is a pure function over a `step(n)` closure.

pub mod args;
pub mod search;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

pub use args::CapacityArgs;
use search::{Ended, Figures, Growth, Params, StepVerdict};

use crate::config::cli::RunArgs;
use crate::config::scenario::thresholds::{self, Threshold, Unit};
use crate::config::RunPlan;
use crate::report::Summary;
use crate::sys::{limits, thousands};

/// Drain after each step's hold: enough for echoes on a healthy server.
const DRAIN: Duration = Duration::from_secs(2);

/// Pause between steps, so the server closes the previous step's connections first.
const SETTLE: Duration = Duration::from_secs(1);

/// `wsload capacity`: the exit status (see [`search::Outcome::exit_code`]).
pub fn main(a: &CapacityArgs) -> u8 {
    match Capacity::setup(a) {
        Ok(mut c) => c.run(),
        Err(e) => {
            eprintln!("wsload: error: {e}\n(see `wsload capacity --help`)");
            2
        }
    }
}

/// One row of the table (and of capacity.json).
#[derive(Debug, Serialize)]
pub struct StepRecord {
    pub step: usize,
    pub connections: u64,
    /// Offered messages per second over all connections.
    pub offered_rate_per_s: f64,
    pub established: Option<u64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub errors_rate: Option<f64>,
    /// Error counts by kind (only kinds that occurred).
    pub errors: Vec<(String, u64)>,
    pub client_cpu_busy: Option<f64>,
    /// Cores' worth of the server's CPU during the load.
    pub server_cpu_busy: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
    #[serde(flatten)]
    pub verdict: StepVerdict,
    pub slo: Vec<thresholds::Verdict>,
    /// The step's results directory (summary.json).
    pub dir: PathBuf,
}

/// The server's CPU (cores' worth) and peak RSS during a step, when the summary has them.
fn server_figures(s: &Summary) -> (Option<f64>, Option<u64>) {
    match &s.server {
        Some(sv) => (sv.cpu_busy, Some(sv.peak_rss_bytes)),
        None => (None, None),
    }
}

struct Capacity {
    args: CapacityArgs,
    slo: Vec<Threshold>,
    params: Params,
    out: PathBuf,
    target: String,
    steps: Vec<StepRecord>,
}

impl Capacity {
    fn setup(a: &CapacityArgs) -> Result<Capacity, String> {
        let slo = search::parse_slo(a.slo.as_deref().unwrap_or(search::DEFAULT_SLO))?;
        if a.start == 0 {
            return Err("--start must be at least 1".into());
        }
        let growth = match a.step {
            Some(0) => return Err("--step must be at least 1".into()),
            Some(k) => Growth::Add(k),
            None if !(a.factor > 1.0 && a.factor.is_finite()) => {
                return Err(format!("--factor {}: must be more than 1", a.factor))
            }
            None => Growth::Factor(a.factor),
        };
        if a.rate.is_nan() || a.rate <= 0.0 {
            return Err("--rate must be above 0: latency is measured on the echoes".into());
        }
        if a.hold.is_zero() {
            return Err("--hold must be more than 0".into());
        }
        let out = a.out.clone().unwrap_or_else(default_out_dir);
        // Check every run flag once, with the first step's numbers.
        let plan = RunPlan::from_args(&run_args(a, a.start, out.join("check"))).map_err(|e| e.to_string())?;
        let max = match a.max_connections {
            Some(m) => m,
            None => default_max(plan.client_cpus.len(), a.source_ip.concat().len()),
        };
        if max < a.start {
            return Err(format!(
                "--start {} is above the largest step {} (--max-connections)",
                thousands(a.start),
                thousands(max)
            ));
        }
        std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        Ok(Capacity {
            args: a.clone(),
            slo,
            params: Params {
                start: a.start,
                growth,
                max,
                refine: a.refine,
            },
            out,
            target: a
                .url
                .as_deref()
                .map_or("built-in echo server".into(), crate::config::target::redact_url),
            steps: Vec::new(),
        })
    }

    fn run(&mut self) -> u8 {
        let p = self.params;
        eprintln!(
            "wsload capacity: {} from {} connections ({}) up to {}, {} msg/s each for {:?}, SLO {}",
            self.target,
            thousands(p.start),
            match p.growth {
                Growth::Factor(f) => format!("x{f} per step"),
                Growth::Add(k) => format!("+{} per step", thousands(k)),
            },
            thousands(p.max),
            self.args.rate,
            self.args.hold,
            self.slo.iter().map(|t| t.expr.as_str()).collect::<Vec<_>>().join(", ")
        );
        eprintln!("{}", table_header());
        let outcome = search::search(&p, &mut |n| self.step(n));
        let line = result_line(&outcome, self.args.rate);
        eprintln!("{line}");
        match self.write_json(Some((&outcome, &line))) {
            Ok(path) => eprintln!("  results       {}", path.display()),
            Err(e) => eprintln!("wsload: cannot write capacity.json: {e}"),
        }
        outcome.exit_code()
    }

    /// Run one step with `n` connections, print its row and save capacity.json so far.
    fn step(&mut self, n: u64) -> StepVerdict {
        if !self.steps.is_empty() {
            std::thread::sleep(SETTLE);
        }
        if interrupted() {
            return StepVerdict::Interrupted;
        }
        let index = self.steps.len() + 1;
        let dir = self.out.join(format!("step-{index:02}-{n}"));
        let mut rec = StepRecord {
            step: index,
            connections: n,
            offered_rate_per_s: n as f64 * self.args.rate,
            established: None,
            p50_us: None,
            p99_us: None,
            errors_rate: None,
            errors: Vec::new(),
            client_cpu_busy: None,
            server_cpu_busy: None,
            server_peak_rss_bytes: None,
            verdict: StepVerdict::Interrupted,
            slo: Vec::new(),
            dir: dir.clone(),
        };
        let outcome = RunPlan::from_args(&run_args(&self.args, n, dir))
            .map_err(|e| e.to_string())
            .and_then(|plan| crate::cmd::run::run(plan).map_err(|e| format!("{e:#}")));
        match outcome {
            Err(error) => rec.verdict = StepVerdict::Error { error },
            Ok(o) => {
                let s = &o.summary;
                let lat = &s.latency_us.corrected;
                let errors: Vec<(String, u64)> = s
                    .errors
                    .iter()
                    .filter(|(_, c)| **c > 0)
                    .map(|(k, c)| (k.clone(), *c))
                    .collect();
                let by_kind: Vec<(&str, u64)> = errors.iter().map(|(k, c)| (k.as_str(), *c)).collect();
                let lookup = |m: &str| crate::report::verdict::lookup(s, m);
                let (verdict, slo) = search::judge(
                    &Figures {
                        target: s.connections.target,
                        established: s.connections.established,
                        errors: &by_kind,
                        client_warnings: &s.client.warnings,
                        client_cpu_busy: s.client.cpu_busy,
                        lookup: &lookup,
                    },
                    &self.slo,
                );
                let (cpu, rss) = server_figures(s);
                rec.established = Some(s.connections.established);
                rec.p50_us = (lat.count > 0).then_some(lat.p50);
                rec.p99_us = (lat.count > 0).then_some(lat.p99);
                rec.errors_rate = lookup("errors.rate");
                rec.errors = errors;
                rec.client_cpu_busy = s.client.cpu_busy;
                rec.server_cpu_busy = cpu;
                rec.server_peak_rss_bytes = rss;
                rec.slo = slo;
                rec.verdict = if s.partial || interrupted() {
                    StepVerdict::Interrupted
                } else {
                    verdict
                };
            }
        }
        eprintln!("{}", table_row(&rec));
        let verdict = rec.verdict.clone();
        self.steps.push(rec);
        if let Err(e) = self.write_json(None) {
            eprintln!("wsload: cannot write capacity.json: {e}");
        }
        verdict
    }

    /// Write DIR/capacity.json: every step so far and, at the end, the result. Without a result
    /// (during the search, or after Ctrl-C) it is marked partial.
    fn write_json(&self, result: Option<(&search::Outcome, &str)>) -> std::io::Result<PathBuf> {
        #[derive(Serialize)]
        struct Next<'a> {
            connections: u64,
            #[serde(flatten)]
            verdict: &'a StepVerdict,
        }
        #[derive(Serialize)]
        struct ResultJson<'a> {
            ended: Ended,
            highest_passing: Option<u64>,
            rate_per_connection: f64,
            /// Whose limit the failing step hit: `server` or `client` (none when none was hit).
            limit_of: Option<&'static str>,
            next_failed: Option<Next<'a>>,
            text: &'a str,
        }
        #[derive(Serialize)]
        struct Report<'a> {
            schema: &'static str,
            wsload_version: &'static str,
            target: &'a str,
            partial: bool,
            slo: Vec<&'a str>,
            params: &'a Params,
            rate_per_connection: f64,
            hold_s: f64,
            steps: &'a [StepRecord],
            result: Option<ResultJson<'a>>,
        }
        let result = result.map(|(o, text)| ResultJson {
            ended: o.ended,
            highest_passing: o.highest_passing,
            rate_per_connection: self.args.rate,
            limit_of: match o.ended {
                Ended::LimitFound | Ended::FirstStepFailed => Some("server"),
                Ended::ClientLimit => Some("client"),
                _ => None,
            },
            next_failed: o.next_failed.as_ref().map(|(n, v)| Next {
                connections: *n,
                verdict: v,
            }),
            text,
        });
        let report = Report {
            schema: "wsload.capacity.v1",
            wsload_version: env!("CARGO_PKG_VERSION"),
            target: &self.target,
            partial: result.as_ref().is_none_or(|r| r.ended == Ended::Interrupted),
            slo: self.slo.iter().map(|t| t.expr.as_str()).collect(),
            params: &self.params,
            rate_per_connection: self.args.rate,
            hold_s: self.args.hold.as_secs_f64(),
            steps: &self.steps,
            result,
        };
        let path = self.out.join("capacity.json");
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

fn interrupted() -> bool {
    crate::aggregate::live::INTERRUPTS.load(Ordering::SeqCst) > 0
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The run of one step: N connections opened at once, one sustained phase at the rate for
/// the hold, a short drain.
fn run_args(a: &CapacityArgs, n: u64, out: PathBuf) -> RunArgs {
    RunArgs {
        url: a.url.clone(),
        connections: Some(n),
        rate: Some(a.rate),
        duration: Some(a.hold),
        drain: Some(DRAIN),
        connect_timeout: Some(a.connect_timeout),
        cores: a.cores.clone(),
        server_core: a.server_core,
        source_ip: a.source_ip.clone(),
        server_pid: a.server_pid,
        ca: a.ca.clone(),
        insecure: a.insecure,
        wire: crate::config::wire_args::WireArgs {
            handshake: a.handshake.clone(),
            ..Default::default()
        },
        out: Some(out),
        quiet: a.quiet,
        ..RunArgs::default()
    }
}

/// What this process can hold: the open files it may raise itself to, less its own
/// descriptors, and the ephemeral ports of its source addresses.
fn default_max(cores: usize, source_ips: usize) -> u64 {
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(0, |(_, h)| h);
    let fds = limits::nofile_reachable(hard, limits::read_u64(limits::NR_OPEN_PATH));
    let by_fds = fds.saturating_sub(limits::fds_needed(0, cores));
    let by_ports = limits::port_facts()
        .map(|(range, reserved)| limits::ports_per_address(range, reserved) * source_ips.max(1) as u64)
        .unwrap_or(u64::MAX);
    by_fds.min(by_ports)
}

/// `./wsload-results/capacity-<UTC timestamp>/`
fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("wsload-results").join(format!("capacity-{}", crate::config::units::utc_stamp(secs)))
}

fn table_header() -> String {
    format!(
        "{:>4} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}  verdict",
        "step", "connections", "msg/s", "p50", "p99", "errors", "srv CPU", "srv RSS"
    )
}

fn table_row(r: &StepRecord) -> String {
    let na = || "n/a".to_string();
    let time = |us: Option<u64>| us.map_or_else(na, |u| thresholds::format_value(u as f64 / 1e6, Unit::Seconds));
    let verdict = match &r.verdict {
        StepVerdict::Fail { reason } => format!("FAIL: {}", reason.text),
        StepVerdict::Error { error } => format!("ERROR: {}", error.lines().next().unwrap_or("")),
        v => v.word(),
    };
    format!(
        "{:>4} {:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}  {verdict}",
        r.step,
        thousands(r.connections),
        thousands(r.offered_rate_per_s.round() as u64),
        time(r.p50_us),
        time(r.p99_us),
        r.errors_rate.map_or_else(na, |e| format!("{:.2}%", e * 100.0)),
        r.server_cpu_busy.map_or_else(na, |c| format!("{c:.2}")),
        r.server_peak_rss_bytes
            .map_or_else(na, |b| format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)),
    )
}

/// The result in one line: the highest load that met the SLO and why the next step failed.
pub fn result_line(o: &search::Outcome, rate: f64) -> String {
    let load = |n: u64| format!("{} connections at {rate} msg/s each", thousands(n));
    let why = |v: &StepVerdict| match v {
        StepVerdict::Fail { reason } => reason.text.clone(),
        StepVerdict::Error { error } => format!("client-side limit: the step could not start: {error}"),
        StepVerdict::Interrupted => "interrupted".into(),
        StepVerdict::Pass => "passed".into(),
    };
    let next = o.next_failed.as_ref();
    match (o.ended, o.highest_passing, next) {
        (Ended::MaxReached, Some(n), _) => format!(
            "highest load that met the SLO: {}; every step up to --max-connections passed (the limit is higher)",
            load(n)
        ),
        (Ended::FirstStepFailed, _, Some((n, v))) => {
            format!("even the first step ({} connections) failed: {}", thousands(*n), why(v))
        }
        (Ended::SetupError, _, Some((_, v))) => format!("the first step could not start: {}", why(v)),
        (Ended::Interrupted, best, _) => format!(
            "interrupted: highest load that met the SLO so far: {}",
            best.map_or("none".into(), load)
        ),
        (Ended::ClientLimit, best, Some((n, v))) => format!(
            "highest load that met the SLO: {}; next step ({}) failed: {}; this is the client's limit, not \
             the server's: the server's limit was not reached",
            best.map_or("none".into(), load),
            thousands(*n),
            why(v)
        ),
        (_, Some(best), Some((n, v))) => format!(
            "highest load that met the SLO: {}; next step ({}) failed: {}{}",
            load(best),
            thousands(*n),
            why(v),
            if *n > best + 1 {
                format!(" (the limit is between {} and {})", thousands(best), thousands(n - 1))
            } else {
                String::new()
            }
        ),
        _ => "no result".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::{Cli, Command};
    use clap::Parser;

    fn parsed(extra: &[&str]) -> CapacityArgs {
        let argv: Vec<&str> = ["wsload", "capacity", "wss://localhost:9/"]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        match Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
            .command
        {
            Some(Command::Capacity(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_step_gets_the_handshake_and_tls_options() {
        // Issue 16: `wsload capacity` did not pass --ca, --insecure or -H to its runs.
        let dir = std::env::temp_dir().join(format!("wsload-capacity-args-{}", std::process::id()));
        let written = crate::tls::cert::write(&dir, &["localhost".to_string()]).unwrap();
        let ca = written.ca.to_str().unwrap();
        let a = parsed(&[
            "--ca",
            ca,
            "-H",
            "Authorization: Bearer t0k",
            "--subprotocol",
            "chat.v2",
            "--origin",
            "https://app.example.com",
            "--cookie",
            "session=abc",
            "--compression",
            "deflate",
        ]);
        let plan = RunPlan::from_args(&run_args(&a, 10, dir.join("step"))).unwrap();
        let sc = &plan.scenario;
        assert_eq!(sc.tls.ca.as_deref(), Some(written.ca.as_path()));
        assert!(!sc.tls.insecure);
        let header = |name: &str| {
            sc.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Authorization"), Some("Bearer t0k"), "{:?}", sc.headers);
        assert_eq!(header("Origin"), Some("https://app.example.com"), "{:?}", sc.headers);
        assert!(
            header("Cookie").is_some_and(|c| c.contains("session=abc")),
            "{:?}",
            sc.headers
        );
        assert_eq!(sc.subprotocols, vec!["chat.v2".to_string()]);
        assert!(sc.compression);
        assert_eq!(sc.connections, 10);

        let plan = RunPlan::from_args(&run_args(&parsed(&["--insecure"]), 10, dir.join("step"))).unwrap();
        assert!(plan.scenario.tls.insecure);
        let _ = std::fs::remove_dir_all(dir);
    }
}
