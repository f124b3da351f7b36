//! `wsload doctor`: can this machine generate a given load, and if not, what
//! exactly must change?
//!
//! Two halves, so the judgement is testable without the machine:
//! [`read_facts`] reads the figures (rlimits, `/proc/sys`, conntrack, CPUs)
//! into [`Facts`]; [`checks`] is a pure function from facts and a [`Request`]
//! to a list of [`Check`]s, each with the current value, the needed value as
//! a formula in N, a status and the command that fixes it. [`render`] draws
//! the table and the verdict. Over 600 lines on purpose: one check per fact, each
//! with its formula and fix, read as a list.
//!
//! The open-files and ephemeral-port checks are the same
//! functions `wsload run` calls before it starts ([`limits::nofile_verdict`],
//! [`limits::ports_verdict`]), so the doctor and
//! a refused run give the same advice. `tuning/check.sh` is the shell copy of
//! this list for a server host without wsload.

use std::fmt::Write as _;

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};

use crate::config::cli::DoctorArgs;
use crate::config::units::fmt_us;
use crate::engine::shard::pacer::PACER_TICK_US;
use crate::sys::cores;
use crate::sys::limits::{self, FD_OVERHEAD_BASE, FD_OVERHEAD_PER_EXECUTOR};
use crate::sys::thousands;
use crate::sys::wakeup;

/// Messages per second one client core sends and receives with a
/// sub-millisecond p50 when every message is its own socket event (measured,
/// see README "Known limit"); it saturates near 45,000.
pub const MSGS_PER_CORE: u64 = 20_000;

/// Open files the rest of the system keeps besides wsload's sockets, in the
/// `fs.file-max` formula (the same figure as `tuning/apply.sh` and `tuning/check.sh`).
pub const SYSTEM_FILES: u64 = 65_536;

/// The largest accept queue the kernel allows (`somaxconn` is a u16 in the
/// listen path of older kernels; larger values are clamped).
pub const MAX_BACKLOG: u64 = 65_535;

/// Figures read from the machine. Every field that a kernel may lack is an
/// `Option`: `None` means "not present here", and the check says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Soft and hard `RLIMIT_NOFILE`; `RLIM_INFINITY` (`u64::MAX`) is unlimited.
    pub nofile: (u64, u64),
    /// `kernel.io_uring_disabled` (0 allowed, 1 only for root and `kernel.io_uring_group`,
    /// 2 disabled); `None` on kernels without the switch (before 6.6), where io_uring is allowed.
    pub io_uring_disabled: Option<u64>,
    /// `net.ipv4.ip_local_port_range`, both ends inclusive.
    pub port_range: Option<(u16, u16)>,
    /// Ports of that range listed in `net.ipv4.ip_local_reserved_ports`.
    pub reserved_ports: u64,
    /// `net.core.somaxconn`: the longest accept queue of a listener.
    pub somaxconn: Option<u64>,
    /// `net.ipv4.tcp_max_syn_backlog`: half-open connections per listener.
    pub syn_backlog: Option<u64>,
    /// `fs.file-max`: open files system-wide.
    pub file_max: Option<u64>,
    /// `fs.nr_open`: the ceiling for any hard `RLIMIT_NOFILE`.
    pub nr_open: Option<u64>,
    /// `net.netfilter.nf_conntrack_max`; `None` when conntrack is not loaded.
    pub conntrack_max: Option<u64>,
    /// `net.ipv4.tcp_tw_reuse` (0 off, 1 on, 2 loopback only).
    pub tw_reuse: Option<u64>,
    /// CPUs this process may run on, sorted.
    pub cpus: Vec<usize>,
    /// How late timed wakeups are here ([`wakeup::probe`]); `None` when not measured.
    pub wakeup: Option<wakeup::Lateness>,
}

/// The load asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// N: connections to one destination.
    pub connections: u64,
    /// Messages per second per connection, when given.
    pub rate: Option<f64>,
    /// Client cores asked for with `--cores`; `None` takes `wsload run`'s default.
    pub cores: Option<Vec<usize>>,
    /// Source addresses given with `--source-ip` (0 is taken as 1).
    pub source_addresses: usize,
    /// The built-in server runs on this machine (a separate process).
    pub local_server: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Enough as it is.
    Ok,
    /// The run works, but slower, noisier or only because wsload fixes it itself.
    Warn,
    /// The run would fail (or `wsload run` refuses to start).
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the doctor's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What is checked, e.g. "open files (hard)".
    pub name: &'static str,
    /// The value in force now.
    pub current: String,
    /// The value the load needs.
    pub needed: String,
    /// How `needed` follows from N (and E, the client cores).
    pub formula: String,
    pub status: Status,
    /// The command or option that fixes it ("-" when nothing is to do).
    pub fix: String,
    /// For a warning or failure: why, in a sentence with the figures.
    pub why: Option<String>,
}

fn check(name: &'static str, current: String, needed: String, formula: impl Into<String>) -> Check {
    Check {
        name,
        current,
        needed,
        formula: formula.into(),
        status: Status::Ok,
        fix: "-".to_string(),
        why: None,
    }
}

impl Check {
    fn warn(self, fix: impl Into<String>, why: impl Into<String>) -> Check {
        self.with(Status::Warn, fix, why)
    }

    fn fail(self, fix: impl Into<String>, why: impl Into<String>) -> Check {
        self.with(Status::Fail, fix, why)
    }

    fn with(mut self, status: Status, fix: impl Into<String>, why: impl Into<String>) -> Check {
        self.status = status;
        self.fix = fix.into();
        self.why = Some(why.into());
        self
    }
}

/// Client executors a run with `req` would start: `--cores`, or `wsload run`'s
/// default (every available CPU but the built-in server's).
pub fn client_cores(facts: &Facts, req: &Request) -> Vec<usize> {
    match &req.cores {
        Some(c) => c.clone(),
        None if req.local_server => cores::default_split(&facts.cpus).0,
        None => facts.cpus.clone(),
    }
}

/// Every check for `req` on a machine described by `facts`. Pure.
pub fn checks(facts: &Facts, req: &Request) -> Vec<Check> {
    let e = client_cores(facts, req).len().max(1);
    let mut out = vec![
        nofile_soft(facts, req, e),
        nofile_hard(facts, req, e),
        io_uring(facts),
        ports(facts, req),
    ];
    if req.local_server {
        out.push(backlog("somaxconn", "net.core.somaxconn", facts.somaxconn, req));
        out.push(backlog(
            "tcp_max_syn_backlog",
            "net.ipv4.tcp_max_syn_backlog",
            facts.syn_backlog,
            req,
        ));
    }
    out.push(file_max(facts, req));
    out.push(nr_open(facts, req, e));
    out.push(conntrack(facts, req));
    out.push(tw_reuse(facts, req));
    out.push(cpus(facts, req));
    out.push(wakeup_check(facts));
    if let Some(rate) = req.rate.filter(|r| *r > 0.0) {
        out.push(rate_check(req, rate, e));
    }
    out
}

fn fd_formula(e: usize) -> String {
    format!("N+{FD_OVERHEAD_BASE}+{FD_OVERHEAD_PER_EXECUTOR}·E, E={e}")
}

fn nofile_soft(facts: &Facts, req: &Request, e: usize) -> Check {
    let (soft, hard) = facts.nofile;
    let need = limits::fds_needed(req.connections, e);
    let c = check(
        "open files (soft)",
        limits::limit_text(soft),
        thousands(need),
        fd_formula(e),
    );
    if limits::nofile_verdict(need, soft, hard, facts.nr_open).is_ok() {
        return c;
    }
    // Never a failure here: wsload raises the soft limit itself, and what the
    // hard limit cannot give is the hard-limit line's failure.
    let reachable = limits::nofile_reachable(hard, facts.nr_open);
    if soft >= reachable {
        return c.warn(
            "see open files (hard)",
            format!(
                "the soft limit is already at the hard limit {}",
                limits::limit_text(reachable)
            ),
        );
    }
    let reach = if need <= reachable {
        "enough"
    } else {
        "still short: see the hard limit"
    };
    c.warn(
        format!("ulimit -Sn {}", reachable.min(limits::suggest_files(need))),
        format!(
            "the soft open-files limit is {}; wsload raises it to the hard limit {} by itself ({reach})",
            limits::limit_text(soft),
            limits::limit_text(reachable)
        ),
    )
}

fn nofile_hard(facts: &Facts, req: &Request, e: usize) -> Check {
    let (_, hard) = facts.nofile;
    let n = req.connections;
    let need = limits::fds_needed(n, e);
    let c = check(
        "open files (hard)",
        limits::limit_text(hard),
        thousands(need),
        fd_formula(e),
    );
    let reachable = limits::nofile_reachable(hard, facts.nr_open);
    if limits::nofile_verdict(need, reachable, hard, facts.nr_open).is_ok() {
        return c;
    }
    let target = limits::suggest_files(need);
    let per_process = reachable.saturating_sub(limits::fds_needed(0, e));
    let processes = if per_process == 0 {
        String::new()
    } else {
        format!(
            "{} processes or hosts of at most {} connections each",
            thousands(n.div_ceil(per_process)),
            thousands(per_process)
        )
    };
    let nr_open_first = match facts.nr_open {
        Some(nr) if target > nr => format!(
            " (first `sysctl -w fs.nr_open={target}`: the hard limit cannot pass fs.nr_open = {})",
            thousands(nr)
        ),
        _ => String::new(),
    };
    c.fail(
        format!("ulimit -Hn {target} (root), or --shard"),
        format!(
            "one process cannot hold {} connections with a hard open-files limit of {}: it needs {} \
             ({}; the built-in server, a process of its own, N+72), and only root can raise a hard \
             limit{nr_open_first}. Raise it for the shell that \
             starts wsload with `ulimit -Hn {target} && ulimit -Sn {target}`, for a running shell with \
             `prlimit --pid $$ --nofile={target}:{target}`, or for good with `* - nofile {target}` in \
             /etc/security/limits.conf (see tuning/limits.conf; log in again); or split the load over \
             {processes} (`--shard i/N` on each, then `wsload merge`)",
            thousands(n),
            limits::limit_text(reachable),
            thousands(need),
            fd_formula(e),
        ),
    )
}

fn io_uring(facts: &Facts) -> Check {
    const KEY: &str = "kernel.io_uring_disabled";
    let c = check("io_uring", number(facts.io_uring_disabled), "0".into(), "allowed");
    let fix = || format!("sysctl -w {KEY}=0");
    match facts.io_uring_disabled {
        None | Some(0) => c,
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        Some(1) if unsafe { libc::geteuid() } == 0 => c,
        Some(1) => c.fail(
            fix(),
            format!("{KEY} = 1 lets only root and the kernel.io_uring_group create rings, and wsload's engine runs on io_uring: run as root, join that group, or allow it for everyone"),
        ),
        Some(_) => c.fail(fix(), format!("{KEY} turns io_uring off, and wsload's engine runs on it")),
    }
}

fn ports(facts: &Facts, req: &Request) -> Check {
    let n = req.connections;
    let Some(range) = facts.port_range else {
        return check(
            "ephemeral ports",
            "unreadable".into(),
            "-".into(),
            "⌈N/ports⌉ addresses",
        )
        .warn(
            "-",
            "net.ipv4.ip_local_port_range could not be read; wsload run will refuse to start",
        );
    };
    let per = limits::ports_per_address(range, facts.reserved_ports);
    let addresses = limits::addresses_for(n, per);
    let given = req.source_addresses.max(1);
    let reserved = if facts.reserved_ports > 0 {
        format!(" less {} reserved", thousands(facts.reserved_ports))
    } else {
        String::new()
    };
    let c = check(
        "ephemeral ports",
        format!(
            "{}-{}{reserved} = {} ports, {given} addr",
            range.0,
            range.1,
            thousands(per)
        ),
        format!("{} addr", thousands(addresses)),
        format!("⌈N/{}⌉", thousands(per)),
    );
    match limits::ports_verdict(n, req.source_addresses, range, facts.reserved_ports) {
        Ok(()) => c,
        Err(err) => {
            let fix = if req.local_server {
                format!("--source-ip {}", limits::loopback_list(addresses))
            } else {
                format!("--source-ip with {} addresses of this host", thousands(addresses))
            };
            c.fail(fix, err.to_string())
        }
    }
}

fn number(v: Option<u64>) -> String {
    v.map_or_else(|| "absent".to_string(), thousands)
}

fn sysctl_fix(key: &str, value: u64) -> String {
    format!("sysctl -w {key}={value}")
}

fn backlog(name: &'static str, key: &str, current: Option<u64>, req: &Request) -> Check {
    let need = req.connections.min(MAX_BACKLOG);
    let c = check(name, number(current), thousands(need), "min(N, 65535)");
    match current {
        Some(v) if v >= need => c,
        None => c,
        Some(v) => c.warn(
            sysctl_fix(key, need),
            format!(
                "{key} = {} queues fewer connects than a burst of {} can bring to the built-in \
                 server: overflowing connects are retried after 1 s and 3 s, which shows as connect \
                 latency (not failures)",
                thousands(v),
                thousands(req.connections)
            ),
        ),
    }
}

fn file_max(facts: &Facts, req: &Request) -> Check {
    let ends = if req.local_server { 2 } else { 1 };
    let need = req.connections.saturating_mul(ends).saturating_add(SYSTEM_FILES);
    let formula = if req.local_server {
        "2·N+65536, both ends here"
    } else {
        "N+65536"
    };
    let c = check("fs.file-max", number(facts.file_max), thousands(need), formula);
    match facts.file_max {
        Some(v) if v < need => c.fail(
            sysctl_fix("fs.file-max", need),
            format!(
                "the whole system may open {} files; this load needs about {}: past that every \
                 open fails with ENFILE",
                thousands(v),
                thousands(need)
            ),
        ),
        _ => c,
    }
}

fn nr_open(facts: &Facts, req: &Request, e: usize) -> Check {
    let need = limits::fds_needed(req.connections, e);
    let c = check("fs.nr_open", number(facts.nr_open), thousands(need), fd_formula(e));
    match facts.nr_open {
        Some(v) if v < need => c.fail(
            sysctl_fix("fs.nr_open", limits::suggest_files(need)),
            format!(
                "no process may have more than fs.nr_open = {} open files, whatever its hard limit",
                thousands(v)
            ),
        ),
        _ => c,
    }
}

fn conntrack(facts: &Facts, req: &Request) -> Check {
    let n = req.connections;
    let need = n.saturating_mul(2);
    let Some(max) = facts.conntrack_max else {
        return check("nf_conntrack_max", "not loaded".into(), "-".into(), "2·N when loaded");
    };
    let c = check("nf_conntrack_max", thousands(max), thousands(need), "2·N");
    let fix = sysctl_fix("net.netfilter.nf_conntrack_max", need);
    if max < n {
        c.fail(
            fix,
            format!(
                "the connection-tracking table holds {} entries, fewer than {} connections: when it is \
                 full the kernel drops new connections (\"nf_conntrack: table full\" in dmesg)",
                thousands(max),
                thousands(n)
            ),
        )
    } else if max < need {
        c.warn(
            fix,
            "closed connections linger in the table (TIME_WAIT): a reconnect wave may fill it",
        )
    } else {
        c
    }
}

fn tw_reuse(facts: &Facts, req: &Request) -> Check {
    let formula = if req.local_server { "2 will do on loopback" } else { "1" };
    let c = check("tcp_tw_reuse", number(facts.tw_reuse), "1".into(), formula);
    match facts.tw_reuse {
        Some(1) | None => c,
        Some(2) if req.local_server => c,
        Some(v) => c.warn(
            sysctl_fix("net.ipv4.tcp_tw_reuse", 1),
            format!(
                "tcp_tw_reuse = {v}: ports of closed connections stay in TIME_WAIT for 60 s, so a \
                 second run or a reconnect wave soon after may find no free port"
            ),
        ),
    }
}

fn cpus(facts: &Facts, req: &Request) -> Check {
    let client = client_cores(facts, req);
    let available = cores::format_cpu_list(&facts.cpus);
    let (need, formula) = if req.local_server {
        (client.len() + 1, "E+1 server")
    } else {
        (client.len(), "E")
    };
    let c = check(
        "CPUs",
        format!("{} ({available})", facts.cpus.len()),
        need.to_string(),
        format!("{formula}, E={}: {}", client.len(), cores::format_cpu_list(&client)),
    );
    if let Err(err) = cores::check_cpus(&client, &facts.cpus) {
        return c.fail(format!("--cores {available}"), format!("--cores: {err}"));
    }
    if req.local_server {
        let (_, server) = cores::default_split(&facts.cpus);
        if client.contains(&server) {
            let fix = if facts.cpus.len() > 1 {
                let rest: Vec<usize> = facts.cpus.iter().copied().filter(|&c| c != server).collect();
                format!("--cores {}", cores::format_cpu_list(&rest))
            } else {
                "--external-server".to_string()
            };
            return c.warn(
                fix,
                format!(
                    "the built-in server (CPU {server}) shares a CPU with the client: every figure is \
                     then both ends taking turns"
                ),
            );
        }
    }
    c
}

fn rate_check(req: &Request, rate: f64, e: usize) -> Check {
    let msgs = (req.connections as f64 * rate).ceil() as u64;
    let need = msgs.div_ceil(MSGS_PER_CORE).max(1);
    let c = check(
        "message rate",
        format!("{e} core(s): {} msg/s", thousands(e as u64 * MSGS_PER_CORE)),
        format!("{need} core(s)"),
        format!("⌈N·R/{}⌉, N·R = {} msg/s", thousands(MSGS_PER_CORE), thousands(msgs)),
    );
    if need as usize <= e {
        return c;
    }
    c.warn(
        format!("--cores with {need} CPUs, or more hosts"),
        format!(
            "{} msg/s is more than {e} client core(s) keep at a sub-millisecond p50 (about {} msg/s \
             each, measured): the client saturates and its own delay shows in the latency \
             (client.send_delay_us); --in-flight batches messages and costs far less per message",
            thousands(msgs),
            thousands(MSGS_PER_CORE)
        ),
    )
}

/// Timed sleeps the doctor measures (1 s in all), each one client tick long.
const WAKEUP_SAMPLES: usize = 2_000;

fn wakeup_check(facts: &Facts) -> Check {
    let tick = PACER_TICK_US as f64;
    let needed = format!("p99.9 ≤ {}", fmt_us(tick));
    let formula = "the client's pacer tick";
    let Some(l) = facts.wakeup else {
        return check("timer wake-up", "not measured".into(), needed, formula);
    };
    let c = check(
        "timer wake-up",
        format!(
            "late by p50 {}, p99 {}, p99.9 {}",
            fmt_us(l.p50_us),
            fmt_us(l.p99_us),
            fmt_us(l.p999_us)
        ),
        needed,
        formula,
    );
    if l.p999_us <= tick {
        return c;
    }
    c.warn(
        "dedicated CPUs (bare metal, or vCPUs the host runs nothing else on)",
        format!(
            "a thread that sleeps here wakes up to {} late (p99.9 of {} sleeps of {}; the latest {}), \
             as on a virtual machine whose CPUs the host also runs. The client and the server both \
             sleep between messages, so latency percentiles of that size are this machine's, not \
             the server's: compare tools in one sitting, and read the tail with this in mind",
            fmt_us(l.p999_us),
            thousands(l.samples as u64),
            fmt_us(l.period_us as f64),
            fmt_us(l.max_us)
        ),
    )
}

/// The figures [`checks`] needs, read from this machine. Missing files give
/// `None` fields, never an error.
pub fn read_facts() -> Facts {
    let nofile = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((RLIM_INFINITY, RLIM_INFINITY));
    let (port_range, reserved_ports) = match limits::port_facts() {
        Ok((range, reserved)) => (Some(range), reserved),
        Err(_) => (None, 0),
    };
    let sys = |key: &str| limits::read_u64(&format!("/proc/sys/{key}"));
    // The sysctl exists only while the nf_conntrack module is loaded.
    let conntrack_max = sys("net/netfilter/nf_conntrack_max").or_else(|| sys("net/nf_conntrack_max"));
    Facts {
        nofile,
        io_uring_disabled: sys("kernel/io_uring_disabled"),
        port_range,
        reserved_ports,
        somaxconn: sys("net/core/somaxconn"),
        syn_backlog: sys("net/ipv4/tcp_max_syn_backlog"),
        file_max: sys("fs/file-max"),
        nr_open: sys("fs/nr_open"),
        conntrack_max,
        tw_reuse: sys("net/ipv4/tcp_tw_reuse"),
        cpus: cores::available_cpus(),
        wakeup: wakeup::probe(std::time::Duration::from_micros(PACER_TICK_US as u64), WAKEUP_SAMPLES),
    }
}

/// Whether nothing failed.
pub fn can_run(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// The table, the reasons under it and a one-line verdict.
pub fn render(req: &Request, checks: &[Check]) -> String {
    let mut out = String::new();
    let n = thousands(req.connections);
    let server = if req.local_server {
        "built-in server on this machine"
    } else {
        "external server"
    };
    let rate = req.rate.map_or_else(String::new, |r| format!(", {r} msg/s each"));
    let _ = writeln!(
        out,
        "wsload doctor: N = {n} connections{rate}, {server}, {} source address(es)\n",
        req.source_addresses.max(1)
    );
    table(&mut out, checks);
    let notes: Vec<&Check> = checks.iter().filter(|c| c.why.is_some()).collect();
    if !notes.is_empty() {
        out.push('\n');
        for c in notes {
            let _ = writeln!(
                out,
                "{} {}: {}",
                c.status.label(),
                c.name,
                c.why.as_deref().unwrap_or("")
            );
        }
    }
    if !req.local_server {
        out.push_str(
            "\nThe server host needs its own settings (somaxconn, tcp_max_syn_backlog, open files): \
             run tuning/check.sh --connections N there.\n",
        );
    }
    let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push('\n');
    if fails == 0 {
        let w = match warns {
            0 => String::new(),
            1 => " (1 warning above)".to_string(),
            w => format!(" ({w} warnings above)"),
        };
        let _ = writeln!(out, "verdict: this machine can run {n} connections{w}");
    } else {
        let p = if fails == 1 { "problem" } else { "problems" };
        let _ = writeln!(
            out,
            "verdict: this machine cannot run {n} connections: {fails} {p} above"
        );
    }
    out
}

/// The checks as an aligned table, one row per check.
fn table(out: &mut String, checks: &[Check]) {
    const HEAD: [&str; 5] = ["CHECK", "CURRENT", "NEEDED (formula in N)", "STATUS", "FIX"];
    let rows: Vec<[String; 5]> = checks
        .iter()
        .map(|c| {
            let needed = if c.formula.is_empty() {
                c.needed.clone()
            } else {
                format!("{} ({})", c.needed, c.formula)
            };
            [
                c.name.to_string(),
                c.current.clone(),
                needed,
                c.status.label().to_string(),
                c.fix.clone(),
            ]
        })
        .collect();
    let mut width = HEAD.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(HEAD);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}

/// `wsload doctor`: print the checks for `args` on this machine. Exit status
/// 0 when nothing fails, 1 when something does, 2 for bad arguments.
pub fn main(args: &DoctorArgs) -> u8 {
    match request(args) {
        Ok(req) => {
            let list = checks(&read_facts(), &req);
            print!("{}", render(&req, &list));
            if can_run(&list) {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("wsload: error: {e}\n(see `wsload doctor --help`)");
            2
        }
    }
}

/// Check the arguments' form; `--cores` must parse (whether the CPUs exist is a check).
pub fn request(args: &DoctorArgs) -> Result<Request, String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let cores = args
        .cores
        .as_deref()
        .map(cores::parse_cpu_list)
        .transpose()
        .map_err(|e| format!("--cores: {e}"))?;
    Ok(Request {
        connections: args.connections,
        rate: args.rate,
        cores,
        source_addresses: args.source_ips().len(),
        local_server: !args.external_server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine as the acceptance describes it: hard fd limit 20,000,
    /// io_uring allowed, ports 32768-60999, two CPUs, conntrack loaded.
    fn facts() -> Facts {
        Facts {
            nofile: (20_000, 20_000),
            io_uring_disabled: Some(0),
            port_range: Some((32768, 60999)),
            reserved_ports: 0,
            somaxconn: Some(4096),
            syn_backlog: Some(2048),
            file_max: Some(2_466_193),
            nr_open: Some(1 << 20),
            conntrack_max: Some(262_144),
            tw_reuse: Some(2),
            cpus: vec![0, 1],
            wakeup: None,
        }
    }

    fn req(n: u64) -> Request {
        Request {
            connections: n,
            rate: None,
            cores: None,
            source_addresses: 0,
            local_server: true,
        }
    }

    fn find<'a>(list: &'a [Check], name: &str) -> &'a Check {
        list.iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn status(f: &Facts, r: &Request, name: &str) -> Status {
        find(&checks(f, r), name).status
    }

    #[test]
    fn ten_thousand_fit_this_machine() {
        let list = checks(&facts(), &req(10_000));
        assert!(can_run(&list), "{list:#?}");
        let hard = find(&list, "open files (hard)");
        assert_eq!((hard.current.as_str(), hard.needed.as_str()), ("20,000", "10,072"));
        assert_eq!(find(&list, "io_uring").current, "0");
        let out = render(&req(10_000), &list);
        assert!(
            out.contains("verdict: this machine can run 10,000 connections"),
            "{out}"
        );
    }

    #[test]
    fn fifty_thousand_explain_the_fd_limit_and_addresses() {
        let list = checks(&facts(), &req(50_000));
        let hard = find(&list, "open files (hard)");
        assert_eq!(hard.status, Status::Fail);
        let why = hard.why.as_deref().unwrap();
        assert!(why.contains("one process cannot hold 50,000 connections with a hard open-files limit of 20,000"));
        assert!(why.contains("ulimit -Hn 51000") && why.contains("prlimit") && why.contains("--shard"));
        assert!(
            why.contains("3 processes or hosts of at most 19,928 connections"),
            "{why}"
        );
        let ports = find(&list, "ephemeral ports");
        assert_eq!((ports.status, ports.needed.as_str()), (Status::Fail, "2 addr"));
        assert_eq!(ports.fix, "--source-ip 127.0.0.1,127.0.0.2");
        // The soft limit is only a warning: wsload raises it itself.
        assert_eq!(find(&list, "open files (soft)").status, Status::Warn);
        let out = render(&req(50_000), &list);
        assert!(
            out.ends_with("verdict: this machine cannot run 50,000 connections: 2 problems above\n"),
            "{out}"
        );
    }

    #[test]
    fn nofile_soft_and_hard() {
        let mut f = facts();
        f.nofile = (1024, 20_000);
        assert_eq!(status(&f, &req(10_000), "open files (soft)"), Status::Warn);
        assert_eq!(status(&f, &req(10_000), "open files (hard)"), Status::Ok);
        assert_eq!(status(&f, &req(500), "open files (soft)"), Status::Ok);
        f.nofile = (RLIM_INFINITY, RLIM_INFINITY);
        assert_eq!(status(&f, &req(1_000_000), "open files (hard)"), Status::Ok);
        // Past fs.nr_open even an unlimited hard limit cannot help.
        let c = find(&checks(&f, &req(2_000_000)), "open files (hard)").clone();
        assert_eq!(c.status, Status::Fail);
        assert!(c.why.unwrap().contains("sysctl -w fs.nr_open=2001000"));
        assert_eq!(status(&f, &req(2_000_000), "fs.nr_open"), Status::Fail);
    }

    #[test]
    fn io_uring_allowed_or_how_to_allow_it() {
        let mut f = facts();
        assert_eq!(status(&f, &req(10), "io_uring"), Status::Ok);
        f.io_uring_disabled = None;
        assert_eq!(status(&f, &req(10), "io_uring"), Status::Ok);
        f.io_uring_disabled = Some(2);
        let c = find(&checks(&f, &req(10)), "io_uring").clone();
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.fix, "sysctl -w kernel.io_uring_disabled=0");
    }

    #[test]
    fn ports_ok_fail_and_source_addresses() {
        let f = facts();
        assert_eq!(status(&f, &req(28_232), "ephemeral ports"), Status::Ok);
        assert_eq!(status(&f, &req(28_233), "ephemeral ports"), Status::Fail);
        let mut r = req(50_000);
        r.source_addresses = 2;
        assert_eq!(status(&f, &r, "ephemeral ports"), Status::Ok);
        r.local_server = false;
        r.source_addresses = 1;
        let c = find(&checks(&f, &r), "ephemeral ports").clone();
        assert_eq!(c.fix, "--source-ip with 2 addresses of this host");
        let mut f = facts();
        f.port_range = None;
        assert_eq!(status(&f, &req(1), "ephemeral ports"), Status::Warn);
    }

    #[test]
    fn backlogs_only_for_a_local_server() {
        let f = facts();
        assert_eq!(status(&f, &req(4096), "somaxconn"), Status::Ok);
        let c = find(&checks(&f, &req(10_000)), "somaxconn").clone();
        assert_eq!(
            (c.status, c.fix.as_str()),
            (Status::Warn, "sysctl -w net.core.somaxconn=10000")
        );
        let c = find(&checks(&f, &req(100_000)), "tcp_max_syn_backlog").clone();
        assert_eq!(c.fix, "sysctl -w net.ipv4.tcp_max_syn_backlog=65535");
        let mut r = req(10_000);
        r.local_server = false;
        assert!(checks(&f, &r).iter().all(|c| c.name != "somaxconn"));
    }

    #[test]
    fn file_max_counts_both_ends_locally() {
        let mut f = facts();
        f.file_max = Some(100_000);
        assert_eq!(status(&f, &req(17_000), "fs.file-max"), Status::Ok);
        assert_eq!(status(&f, &req(18_000), "fs.file-max"), Status::Fail);
        let mut r = req(30_000);
        r.local_server = false;
        assert_eq!(status(&f, &r, "fs.file-max"), Status::Ok);
    }

    #[test]
    fn conntrack_table() {
        let mut f = facts();
        f.conntrack_max = Some(262_144);
        assert_eq!(status(&f, &req(131_072), "nf_conntrack_max"), Status::Ok);
        assert_eq!(status(&f, &req(131_073), "nf_conntrack_max"), Status::Warn);
        assert_eq!(status(&f, &req(262_145), "nf_conntrack_max"), Status::Fail);
        f.conntrack_max = None;
        let c = find(&checks(&f, &req(1_000_000)), "nf_conntrack_max").clone();
        assert_eq!((c.status, c.current.as_str()), (Status::Ok, "not loaded"));
    }

    #[test]
    fn tw_reuse_two_covers_loopback_only() {
        let mut f = facts();
        let mut r = req(10);
        assert_eq!(status(&f, &r, "tcp_tw_reuse"), Status::Ok);
        r.local_server = false;
        assert_eq!(status(&f, &r, "tcp_tw_reuse"), Status::Warn);
        f.tw_reuse = Some(0);
        assert_eq!(status(&f, &req(10), "tcp_tw_reuse"), Status::Warn);
        f.tw_reuse = Some(1);
        assert_eq!(status(&f, &r, "tcp_tw_reuse"), Status::Ok);
    }

    #[test]
    fn cpus_missing_shared_and_fine() {
        let mut f = facts();
        assert_eq!(status(&f, &req(10), "CPUs"), Status::Ok);
        let mut r = req(10);
        r.cores = Some(vec![0, 1]);
        let c = find(&checks(&f, &r), "CPUs").clone();
        assert_eq!((c.status, c.fix.as_str()), (Status::Warn, "--cores 0"));
        r.cores = Some(vec![5]);
        assert_eq!(status(&f, &r, "CPUs"), Status::Fail);
        f.cpus = vec![0];
        assert_eq!(status(&f, &req(10), "CPUs"), Status::Warn);
        r.cores = None;
        r.local_server = false;
        assert_eq!(status(&f, &r, "CPUs"), Status::Ok);
    }

    #[test]
    fn timer_wakeup_warns_past_the_tick() {
        let mut f = facts();
        let c = find(&checks(&f, &req(10)), "timer wake-up").clone();
        assert_eq!((c.status, c.current.as_str()), (Status::Ok, "not measured"));
        let late = |p999_us| wakeup::Lateness {
            samples: 2_000,
            period_us: 500,
            p50_us: 45.0,
            p99_us: 250.0,
            p999_us,
            max_us: 4_000.0,
        };
        f.wakeup = Some(late(400.0));
        let c = find(&checks(&f, &req(10)), "timer wake-up").clone();
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.current, "late by p50 45 µs, p99 250 µs, p99.9 400 µs");
        f.wakeup = Some(late(1_460.0));
        let c = find(&checks(&f, &req(10)), "timer wake-up").clone();
        assert_eq!(c.status, Status::Warn);
        let why = c.why.unwrap();
        assert!(
            why.contains("up to 1.46 ms late") && why.contains("the latest 4.00 ms"),
            "{why}"
        );
        assert!(can_run(&checks(&f, &req(10))), "a late clock warns, never fails");
    }

    #[test]
    fn rate_needs_cores() {
        let f = facts();
        let mut r = req(10_000);
        r.rate = Some(2.0);
        assert_eq!(status(&f, &r, "message rate"), Status::Ok);
        r.rate = Some(5.0);
        let c = find(&checks(&f, &r), "message rate").clone();
        assert_eq!((c.status, c.needed.as_str()), (Status::Warn, "3 core(s)"));
        r.rate = Some(0.0);
        assert!(checks(&f, &r).iter().all(|c| c.name != "message rate"));
    }

    #[test]
    fn table_is_aligned() {
        let list = checks(&facts(), &req(10_000));
        let out = render(&req(10_000), &list);
        let lines: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("CHECK"))
            .take(list.len() + 1)
            .collect();
        let col = lines[0].find("CURRENT").unwrap();
        for l in &lines {
            assert_eq!(l.chars().nth(col - 1), Some(' '), "{l}");
            assert_ne!(l.chars().nth(col), Some(' '), "{l}");
        }
    }
}
