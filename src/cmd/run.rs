//! One load test from plan to summary: start the built-in server if needed,
//! check the limits, spawn one pinned core per client CPU, aggregate on this
//! thread, write the results.

use std::net::{SocketAddr, ToSocketAddrs};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::aggregate::live::{self as aggregate, INTERRUPTS};
use crate::config::{RunPlan, Target};
use crate::engine::proxy::child::{ProxyChild, ProxySection};
use crate::engine::shard::{self, Control, CorePlan};
use crate::report::{self, Summary};
use crate::sys::child::ChildServer;
use crate::sys::limits;
use crate::tls::ClientTls;

/// How a run ended.
pub struct Outcome {
    pub summary: Summary,
    pub summary_path: Option<std::path::PathBuf>,
}

impl Outcome {
    /// Show the finished run: the summary as JSON on stdout (`json`), the text summary on
    /// stderr (`text`), then where the results and the HTML report are.
    pub fn show(&self, json: bool, text: bool) {
        if json {
            match serde_json::to_string_pretty(&self.summary) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("wsload: cannot print the summary as JSON: {e}"),
            }
        }
        if text {
            eprint!("{}", report::text::render(&self.summary));
        }
        if let Some(p) = &self.summary_path {
            eprintln!("  results       {}", p.display());
            let page = p.with_file_name("report.html");
            if page.is_file() {
                eprintln!("  report        {}", page.display());
            }
        }
    }

    /// 130: interrupted; 2: not one connection could be established (the run could not start);
    /// with thresholds, 0 when all pass and 1 when one fails; without, 0 when clean and 1 when
    /// connections failed or messages were lost or damaged.
    pub fn exit_code(&self) -> u8 {
        if self.summary.partial {
            130
        } else if self.summary.connections.established == 0 {
            2
        } else if let Some(passed) = self.summary.thresholds_passed {
            if passed {
                0
            } else {
                1
            }
        } else if self.summary.clean() {
            0
        } else {
            1
        }
    }
}

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

fn install_interrupt_handler() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: the handler only touches an atomic.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &act);
        let _ = sigaction(Signal::SIGTERM, &act);
    }
}

fn resolve(t: &Target) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the host of {t}: check the name"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("{t} resolves to no address"))
}

/// Setup problems: bad limits, an unstartable server. Mapped to exit code 2.
#[derive(Debug)]
pub struct SetupError(pub anyhow::Error);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for SetupError {}

/// Ctrl-C while waiting for `--start-at`: nothing was run, nothing is written (exit 130).
#[derive(Debug)]
pub struct NotStarted;

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted while waiting for the start: nothing was run")
    }
}

impl std::error::Error for NotStarted {}

/// Run the load test described by `plan`.
pub fn run(plan: RunPlan) -> anyhow::Result<Outcome> {
    check_machine(&plan)?;
    // The live metrics endpoint, before anything is started that would have to be stopped.
    let mut live = Live::start(&plan).map_err(SetupError)?;
    install_interrupt_handler();
    let mut peers = Peers::start(&plan)?;
    if !plan.quiet {
        peers.announce(&plan);
    }

    let plan = Arc::new(plan);
    let ctl = Arc::new(Control::new(plan.client_cpus.len()));
    let (tx, rx) = crossbeam_channel::unbounded();
    let epoch = Instant::now();
    let threads = spawn_cores(&plan, &peers, epoch, &ctl, tx);
    if let Some(p) = &peers.proxy {
        p.start_clock_with_traffic(ctl.clone(), epoch);
    }
    let early = crate::report::verdict::early_stop(&plan.scenario);
    let server_pid = plan.server_pid.or(peers.server.as_ref().map(|s| s.child.id() as i32));
    live.target = peers.target.redacted.clone();
    let totals = aggregate::aggregate(rx, ctl, epoch, &plan, server_pid, &*early, &mut live);
    for t in threads {
        let _ = t.join();
    }
    let Some(mut totals) = totals else {
        peers.stop_server();
        return Err(NotStarted.into());
    };
    let proxy = peers.after_run(&mut totals, epoch);
    let mut summary = Summary::build(&plan, &peers.target.redacted, &totals);
    summary.proxy = proxy;
    Ok(finish(&plan, &totals, summary, Some(live)))
}

/// Check what would make the run fail half-way, before opening anything. Ports first: more
/// source addresses fix that, whatever the open-files limit says.
fn check_machine(plan: &RunPlan) -> anyhow::Result<()> {
    let here = plan.connections_here();
    let sources = plan.scenario.source_ips.len().max(1);
    limits::check_ephemeral_ports(here, sources).map_err(|e| SetupError(e.into()))?;
    limits::raise_nofile(limits::fds_needed(here, plan.client_cpus.len())).map_err(|e| SetupError(e.into()))?;
    std::fs::create_dir_all(&plan.out_dir)
        .with_context(|| format!("cannot create the results directory {}", plan.out_dir.display()))
        .map_err(SetupError)?;
    Ok(())
}

/// What the client cores talk to: the target (or the built-in server started for it), its
/// address and TLS roots, and the network-fault proxy in between when the scenario has one.
struct Peers {
    server: Option<ChildServer>,
    target: Target,
    /// The target's address (the proxy forwards to it).
    addr: SocketAddr,
    tls: Option<ClientTls>,
    proxy: Option<ProxyChild>,
}

impl Peers {
    /// Start the built-in server and the proxy as the plan says; a failure stops what was
    /// started.
    fn start(plan: &RunPlan) -> anyhow::Result<Peers> {
        let server = match plan.server_cpu {
            Some(cpu) if plan.scenario.target.is_none() => {
                Some(ChildServer::start_echo_server(cpu).map_err(SetupError)?)
            }
            _ => None,
        };
        match Peers::reach(plan, server.as_ref()) {
            Ok((target, addr, tls, proxy)) => Ok(Peers {
                server,
                target,
                addr,
                tls,
                proxy,
            }),
            Err(e) => {
                if let Some(s) = server {
                    s.stop();
                }
                Err(e)
            }
        }
    }

    /// The target's URL and address, its TLS roots (loaded once; each core makes its own config
    /// from them), and the proxy the clients connect to instead, when there is one.
    fn reach(
        plan: &RunPlan,
        server: Option<&ChildServer>,
    ) -> anyhow::Result<(Target, SocketAddr, Option<ClientTls>, Option<ProxyChild>)> {
        let sc = &plan.scenario;
        let target = match (&sc.target, server) {
            (Some(t), _) => t.clone(),
            (None, Some(s)) => Target::parse(&format!("ws://{}/", s.addr)).map_err(anyhow::Error::msg)?,
            (None, None) => unreachable!("the plan names a target or a server CPU"),
        };
        let addr = resolve(&target).map_err(SetupError)?;
        let tls = match target.tls {
            true => Some(
                ClientTls::load(&target.host, sc.tls.ca.as_deref(), sc.tls.insecure)
                    .map_err(|e| SetupError(anyhow::anyhow!(e)))?,
            ),
            false => None,
        };
        if sc.tls.insecure {
            // Loud on purpose, even with -q: nothing about this run proves who answered.
            eprintln!(
                "wsload: WARNING: --insecure: the certificate of {target} is NOT verified; any server can answer for it"
            );
        }
        let proxy = match &sc.proxy {
            Some(cfg) => {
                let cpu = cfg
                    .cpu
                    .or(plan.server_cpu)
                    .or(crate::sys::cores::available_cpus().last().copied())
                    .unwrap_or(0);
                Some(ProxyChild::start(cfg, addr, cpu, plan.interval).map_err(SetupError)?)
            }
            None => None,
        };
        Ok((target, addr, tls, proxy))
    }

    /// Where the clients connect: the proxy when there is one, else the target.
    fn client_addr(&self) -> SocketAddr {
        self.proxy.as_ref().map_or(self.addr, |p| p.addr())
    }

    fn announce(&self, plan: &RunPlan) {
        eprintln!(
            "wsload: {} connections{} to {} from CPU(s) {}{}",
            plan.connections_here(),
            crate::config::fleet::describe_shard(plan.shard, plan.scenario.connections),
            self.target,
            crate::sys::cores::format_cpu_list(&plan.client_cpus),
            self.server.as_ref().map_or(String::new(), |_| format!(
                ", built-in server on CPU {}",
                plan.server_cpu.unwrap_or(0)
            ))
        );
        if let Some(p) = &self.proxy {
            eprintln!("wsload: through the network-fault proxy {} on CPU {}", p.addr(), p.cpu);
        }
    }

    fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }

    /// Every connection has closed: does the server still accept one, and did it give back
    /// its descriptors? (Not after Ctrl-C: the user wants out.) Then stop the built-in server,
    /// and fold the proxy's report into the time line.
    fn after_run(&mut self, totals: &mut aggregate::Totals, epoch: Instant) -> Option<ProxySection> {
        if let Some(w) = totals.server.as_mut().filter(|_| !totals.interrupted) {
            let how = crate::cmd::postrun::Upgrade {
                addr: self.addr,
                host: &self.target.host_header,
                path: &self.target.path,
                tls: self.tls.as_ref(),
            };
            w.after = crate::cmd::postrun::check(w.pid, &how, w.before.as_ref());
        }
        self.stop_server();
        let run_start = epoch + Duration::from_nanos(totals.run_start_ns);
        self.proxy.take().map(|p| p.finish(run_start, &mut totals.timeline))
    }
}

/// One pinned thread per client CPU, each with its share of the connections.
fn spawn_cores(
    plan: &Arc<RunPlan>,
    peers: &Peers,
    epoch: Instant,
    ctl: &Arc<Control>,
    tx: crossbeam_channel::Sender<crate::metrics::Snapshot>,
) -> Vec<std::thread::JoinHandle<()>> {
    plan.client_cpus
        .iter()
        .enumerate()
        .map(|(i, &cpu)| {
            let cp = CorePlan {
                index: i,
                cpu,
                ids: plan.core_share(plan.scenario.connections, i),
                addr: peers.client_addr(),
                host_header: peers.target.host_header.clone(),
                path: peers.target.path.clone(),
                tls: peers.tls.clone(),
                run: plan.clone(),
            };
            shard::run_core(cp, epoch, ctl.clone(), tx.clone())
        })
        .collect()
}

/// The end of a run, and of a merge of shards: the failure analysis, then every result file
/// into the plan's directory ([`write_results`]). `live`: what the run streamed as it went
/// (latency.hlog, the live endpoint), closed here; `None` for a merge, whose latency.hlog is
/// written from the totals' intervals.
pub fn finish(plan: &RunPlan, totals: &aggregate::Totals, mut summary: Summary, live: Option<Live>) -> Outcome {
    summary.analysis = Some(crate::analysis::analyze(&summary));
    let raw = crate::aggregate::merge::raw::RawTotals::from_totals(plan, totals);
    let (intervals, endpoint) = match live {
        Some(l) => (None, l.finish_hlog()),
        None => (Some(totals.intervals.as_slice()), None),
    };
    let summary_path = write_results(&plan.out_dir, &summary, intervals, &raw);
    // The endpoint serves until the summary is written, and a little longer if a scraper has
    // not yet seen the final figures; it stops when dropped, here.
    if let Some(false) = endpoint.and_then(|e| e.hold(plan.metrics_hold)) {
        eprintln!(
            "wsload: warning: the live metrics' final figures were not scraped before the end (see --metrics-hold)"
        );
    }
    Outcome { summary, summary_path }
}

/// What a run hands out while it goes: each interval's latency into latency.hlog as it comes
/// (so that no histogram is kept per interval), and the merged figures to the live metrics
/// endpoint (`--metrics-listen`). The aggregator feeds it ([`aggregate::Watch`]); [`finish`]
/// closes it.
pub struct Live {
    dir: std::path::PathBuf,
    /// latency.hlog being written; `None` until the run's start is fixed, or after a failure
    /// (warned about).
    hlog: Option<report::hlog::FileLog>,
    endpoint: Option<report::endpoint::Endpoint>,
    /// The target's name on the endpoint (credentials redacted).
    target: String,
}

impl Live {
    /// Listen on `--metrics-listen`, if given, and say where.
    fn start(plan: &RunPlan) -> anyhow::Result<Live> {
        let endpoint = match plan.metrics_listen {
            Some(addr) => {
                let e = report::endpoint::Endpoint::bind(addr).with_context(|| {
                    format!("--metrics-listen {addr}: cannot listen there (is the port taken? pick another, or 0 for any free port)")
                })?;
                if !plan.quiet || addr.port() == 0 {
                    eprintln!("wsload: live metrics at http://{}/metrics", e.addr());
                }
                Some(e)
            }
            None => None,
        };
        Ok(Live {
            dir: plan.out_dir.clone(),
            hlog: None,
            endpoint,
            target: String::new(),
        })
    }

    /// Move latency.hlog into place; the endpoint is left for the end to hold and stop.
    fn finish_hlog(mut self) -> Option<report::endpoint::Endpoint> {
        if let Some(Err(e)) = self.hlog.take().map(report::hlog::FileLog::finish) {
            self.warn_hlog(&e);
        }
        self.endpoint
    }

    fn warn_hlog(&self, e: &std::io::Error) {
        eprintln!(
            "wsload: warning: cannot write latency.hlog into {}: {e}",
            self.dir.display()
        );
    }
}

impl aggregate::Watch for Live {
    fn start(&mut self, run_start_unix_s: f64) {
        match report::hlog::FileLog::create(&self.dir, run_start_unix_s) {
            Ok(l) => self.hlog = Some(l),
            Err(e) => self.warn_hlog(&e),
        }
    }

    fn interval(&mut self, start_s: f64, end_s: f64, corrected: &hdrhistogram::Histogram<u64>) {
        if let Some(Err(e)) = self.hlog.as_mut().map(|l| l.write(start_s, end_s, corrected)) {
            self.warn_hlog(&e);
            if let Some(l) = self.hlog.take() {
                l.discard();
            }
        }
    }

    fn figures(&mut self, f: &aggregate::Figures<'_>) {
        if let Some(e) = &self.endpoint {
            e.publish(report::live::render(f, &self.target), f.last);
        }
    }
}

/// Every result file (summary.json, timeline.csv, report.md, report.html, metrics.prom,
/// latency.hlog, and totals.json for `wsload merge`) into `dir`; a file that cannot be written
/// is warned about and the others are still written. Returns summary.json's path when it was
/// written. `intervals`: latency.hlog's intervals, or `None` when it was written as the run
/// went.
pub fn write_results(
    dir: &std::path::Path,
    summary: &Summary,
    intervals: Option<&[aggregate::Interval]>,
    raw: &crate::aggregate::merge::raw::RawTotals,
) -> Option<std::path::PathBuf> {
    // summary.json from the struct itself, to keep its fields in their documented order.
    let path = match report::write_summary(dir, summary) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("wsload: warning: cannot write summary.json into {}: {e}", dir.display());
            None
        }
    };
    let others: Vec<report::Format> = report::Format::ALL
        .into_iter()
        .filter(|f| *f != report::Format::Json && (*f != report::Format::Hlog || intervals.is_some()))
        .collect();
    // write_all warns about each file it cannot write.
    let _ = report::write_all(dir, summary, intervals.unwrap_or_default(), &others);
    if let Err(e) = crate::aggregate::merge::raw::write(dir, raw) {
        eprintln!("wsload: warning: cannot write totals.json into {}: {e}", dir.display());
    }
    path
}

/// `wsload run` (and wsload without a subcommand): the exit code of the run.
pub fn main(a: &crate::config::cli::RunArgs) -> u8 {
    let plan = match RunPlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return super::setup_error(format!("{e}\n(see `wsload run --help`)")),
    };
    let (json, quiet) = (plan.json, plan.quiet);
    let out = match run(plan) {
        Ok(o) => o,
        Err(e) if e.is::<NotStarted>() => return 130,
        Err(e) => return super::setup_error(format!("{e:#}")),
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
