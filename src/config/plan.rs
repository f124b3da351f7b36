//! From what the user typed to one validated plan. Only checks and arithmetic
//! here; limits are raised and addresses resolved when the run starts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::cli::{RunArgs, ServeArgs};
use super::fleet::{self, ShardSpec};
use super::units::utc_stamp;
use crate::config::scenario::parse::{self, Override};
use crate::config::scenario::Scenario;
use crate::sys::cores;

/// What to test (the scenario) and how to run it (cores, output).
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub scenario: Scenario,
    /// CPU for the built-in server, when there is one.
    pub server_cpu: Option<usize>,
    pub client_cpus: Vec<usize>,
    pub out_dir: PathBuf,
    pub json: bool,
    pub quiet: bool,
    pub interval: Duration,
    /// The server under test to sample (`--server-pid`); the built-in server's is added at start.
    pub server_pid: Option<i32>,
    /// This process's share of a sharded run (`--shard i/N`; 0/1 for a whole run).
    pub shard: ShardSpec,
    /// When the run starts on the wall clock (`--start-at`, `--start-in`); `None`: at once.
    pub start_at: Option<SystemTime>,
    /// Where to serve the live metrics (`--metrics-listen`), checked against loopback.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How long the end may wait for a last scrape (`--metrics-hold`); `None`: as scraped.
    pub metrics_hold: Option<Duration>,
}

fn err<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

/// The run flags that describe the test, as scenario overrides: a flag is the same as
/// `--set` of its field, so one validator checks both, and errors name the flag.
pub fn flag_overrides(a: &RunArgs) -> Vec<Override> {
    let mut o = Vec::new();
    let mut add = |key: &str, value: String, origin: String| {
        o.push(Override {
            key: key.into(),
            value,
            origin,
        })
    };
    let secs = |d: Duration| format!("{}", d.as_secs_f64());
    if let Some(u) = &a.url {
        add("url", toml_string(u), crate::config::target::redact_url(u));
    }
    if let Some(c) = a.connections {
        add("connections", c.to_string(), format!("--connections {c}"));
    }
    if let Some(r) = a.rate {
        add("rate", format!("{r}"), format!("--rate {r}"));
    }
    if let Some(w) = a.in_flight {
        add("in_flight", w.to_string(), format!("--in-flight {w}"));
    }
    if let Some(n) = a.size {
        add("size", n.to_string(), format!("--size {n}"));
    }
    if a.text {
        add("text", "true".into(), "--text".into());
    }
    if let Some(d) = a.duration {
        add("duration", secs(d), format!("--duration {d:?}"));
    }
    if let Some(d) = a.drain {
        add("drain", secs(d), format!("--drain {d:?}"));
    }
    if let Some(r) = a.connect_rate {
        add("ramp.kind", toml_string("linear"), format!("--connect-rate {r}"));
        add("ramp.rate", format!("{r}"), format!("--connect-rate {r}"));
    }
    if let Some(n) = a.connect_concurrency {
        add(
            "connect_concurrency",
            n.to_string(),
            format!("--connect-concurrency {n}"),
        );
    }
    if let Some(d) = a.connect_timeout {
        add("connect_timeout", secs(d), format!("--connect-timeout {d:?}"));
    }
    let source_ips = a.source_ips();
    if !source_ips.is_empty() {
        let list: Vec<String> = source_ips.iter().map(|ip| toml_string(&ip.to_string())).collect();
        add("source_ips", format!("[{}]", list.join(", ")), "--source-ip".into());
    }
    if let Some(n) = a.max_frame {
        add("max_frame", n.to_string(), format!("--max-frame {n}"));
    }
    if let Some(ca) = &a.ca {
        let ca = ca.display().to_string();
        add("tls.ca", toml_string(&ca), format!("--ca {ca}"));
    }
    if a.insecure {
        add("tls.insecure", "true".into(), "--insecure".into());
    }
    o.extend(super::wire_args::overrides(&a.wire, toml_string));
    o
}

fn toml_string(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The scenario the run flags, the file and the `--set`s describe, in that order of precedence:
/// `--set` over flags over the file over the defaults.
pub fn scenario_from_args(a: &RunArgs) -> Result<Scenario, String> {
    let mut overrides = flag_overrides(a);
    overrides.extend(set_overrides(&a.set)?);
    parse::load(a.scenario.as_deref(), &overrides).map_err(|e| e.to_string())
}

/// The `--set KEY=VALUE` arguments (of `run` and `validate`) as overrides. The errors already
/// quote the argument.
pub fn set_overrides(sets: &[String]) -> Result<Vec<Override>, String> {
    sets.iter().map(|s| Override::from_set(s)).collect()
}

impl RunPlan {
    pub fn from_args(a: &RunArgs) -> Result<RunPlan, String> {
        let scenario = scenario_from_args(a)?;
        let interval = a.interval.unwrap_or(Duration::from_secs(1));
        if interval < Duration::from_millis(10) {
            return err("--interval must be at least 10ms");
        }
        let available = cores::available_cpus();
        let (default_client, default_server) = cores::default_split(&available);
        let builtin = scenario.target.is_none();
        let server_cpu = match (builtin, a.server_core) {
            (true, Some(c)) => {
                cores::check_cpus(&[c], &available)?;
                Some(c)
            }
            (true, None) => Some(default_server),
            (false, Some(_)) => return err("--server-core only applies to the built-in server (no URL given)"),
            (false, None) => None,
        };
        let client_cpus = match &a.cores {
            Some(list) => cores::cores_flag(list, &available)?,
            None if !builtin => available.clone(),
            None => default_client,
        };
        if client_cpus.is_empty() {
            return err("--cores: no client core left");
        }
        if let Some(pid) = a.server_pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return err(format!(
                    "--server-pid {pid}: no such process; give the PID of the server under test (e.g. $(pgrep -n myserver))"
                ));
            }
        }
        let out_dir = a.out.clone().unwrap_or_else(default_out_dir);
        let shard = a.shard.unwrap_or_default();
        if shard.count as u64 > scenario.connections {
            return err(format!(
                "--shard {shard}: {} connections cannot be spread over {} shards (each needs one at least): \
                 use at most {} shards",
                scenario.connections, shard.count, scenario.connections
            ));
        }
        let now = SystemTime::now();
        let start_at = match (a.start_at, a.start_in) {
            (Some(at), _) => {
                fleet::check_start(at, now, &format!("--start-at {}", fleet::rfc3339(at)))?;
                Some(at)
            }
            (None, Some(d)) => Some(now + d),
            (None, None) => None,
        };
        if let Some(addr) = a.metrics_listen.filter(|a| !a.ip().is_loopback()) {
            if !a.metrics_allow_remote {
                return err(format!(
                    "--metrics-listen {addr}: not a loopback address. The endpoint has no authentication \
                     and shows the target and the run's figures to anyone who reaches it: listen on \
                     127.0.0.1:{port}, or add --metrics-allow-remote to serve it on {addr} anyway",
                    port = addr.port()
                ));
            }
        }
        Ok(RunPlan {
            scenario,
            server_cpu,
            client_cpus,
            out_dir,
            json: a.json,
            quiet: a.quiet,
            interval,
            server_pid: a.server_pid,
            shard,
            start_at,
            metrics_listen: a.metrics_listen,
            metrics_hold: a.metrics_hold,
        })
    }

    /// The global connection ids that core `core` of this process owns: this shard's share of
    /// `total`, then the core's share of that. With `total` a count "over all cores" (the
    /// ramp's target at some moment, `connect_concurrency`), its length is the core's part.
    pub fn core_share(&self, total: u64, core: usize) -> std::ops::Range<u64> {
        let s = Self::share(total, self.shard.index, self.shard.count);
        let c = Self::share(s.end - s.start, core, self.client_cpus.len());
        s.start + c.start..s.start + c.end
    }

    /// The connections this process opens: its shard's share of the scenario's.
    pub fn connections_here(&self) -> u64 {
        let s = Self::share(self.scenario.connections, self.shard.index, self.shard.count);
        s.end - s.start
    }

    /// The connections core `i` of `n` owns: a contiguous range of global ids,
    /// sizes differing by at most one.
    pub fn share(total: u64, i: usize, n: usize) -> std::ops::Range<u64> {
        fleet::share(total, i, n)
    }
}

/// `./wsload-results/<UTC timestamp>/`
fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("wsload-results").join(utc_stamp(secs))
}

#[derive(Debug, Clone)]
pub struct ServePlan {
    pub bind: IpAddr,
    pub port: u16,
    pub cpus: Vec<usize>,
    pub max_frame: u64,
    pub run_for: Option<Duration>,
    /// Broadcast (messages per second, bytes) instead of echoing.
    pub broadcast: Option<(f64, usize)>,
    /// wss://: the certificate chain and key, read and checked.
    pub tls: Option<crate::tls::ServerTls>,
}

impl ServePlan {
    pub fn from_args(a: &ServeArgs) -> Result<ServePlan, String> {
        let available = cores::available_cpus();
        let cpus = match &a.cores {
            Some(list) => cores::cores_flag(list, &available)?,
            None => available,
        };
        let broadcast = match a.broadcast {
            None => None,
            Some(r) if !(r > 0.0 && r <= 1e6) => {
                return err(format!(
                    "--broadcast {r}: give a rate above 0 and at most 1000000/s, e.g. --broadcast 10/s"
                ))
            }
            Some(r) => {
                let size = a.broadcast_size.unwrap_or(64);
                if size > 16 << 20 {
                    return err("--broadcast-size: at most 16MiB");
                }
                Some((r, size as usize))
            }
        };
        let tls = match (&a.tls_cert, &a.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::ServerTls::load(cert, key)?),
            _ => None,
        };
        Ok(ServePlan {
            bind: a.bind,
            port: a.port,
            cpus,
            max_frame: a.max_frame,
            run_for: a.run_for,
            broadcast,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<RunPlan, String> {
        let mut v = vec!["wsload", "run"];
        v.extend_from_slice(args);
        match crate::config::cli::Cli::try_parse_from(v)
            .map_err(|e| e.to_string())?
            .command
        {
            Some(crate::config::cli::Command::Run(r)) => RunPlan::from_args(&r),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_the_documented_test() {
        let p = plan(&[]).unwrap();
        let s = &p.scenario;
        assert!(s.target.is_none());
        assert_eq!(s.connections, 10_000);
        assert_eq!(s.ramp, crate::config::scenario::Ramp::Burst);
        assert_eq!(s.phases.len(), 1);
        assert_eq!(
            s.phases[0].kind,
            crate::config::scenario::PhaseKind::Sustained { rate: 1.0 }
        );
        assert_eq!(s.phases[0].duration, Duration::from_secs(10));
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.messages[0].size, crate::config::scenario::SizeDist::Fixed(64));
        assert!(p.server_cpu.is_some());
    }

    #[test]
    fn flags_override_the_scenario_and_set_overrides_flags() {
        let p = plan(&[
            "-c",
            "7",
            "--rate",
            "3",
            "--set",
            "connections=9",
            "--connect-rate",
            "50",
        ])
        .unwrap();
        assert_eq!(p.scenario.connections, 9);
        assert_eq!(
            p.scenario.phases[0].kind,
            crate::config::scenario::PhaseKind::Sustained { rate: 3.0 }
        );
        assert_eq!(p.scenario.ramp, crate::config::scenario::Ramp::Linear { per_s: 50.0 });
        let p = plan(&["--in-flight", "4", "-d", "2s"]).unwrap();
        assert_eq!(
            p.scenario.phases[0].kind,
            crate::config::scenario::PhaseKind::InFlight { window: 4 }
        );
        assert_eq!(p.scenario.phases[0].duration, Duration::from_secs(2));
        assert_eq!(
            plan(&["--rate", "0"]).unwrap().scenario.phases[0].kind,
            crate::config::scenario::PhaseKind::Idle
        );
    }

    #[test]
    fn bad_input_is_explained() {
        for (args, needle) in [
            (
                &["-c", "0"][..],
                "--connections 0: connections: expected an integer of 1 or more",
            ),
            (&["--size", "8"], "at least 24 bytes"),
            (&["--size", "40", "--text"], "at least 48 bytes"),
            (&["--size", "2MiB", "--max-frame", "1MiB"], "max_frame"),
            (&["--in-flight", "0"], "--in-flight 0"),
            (&["--cores", "999"], "--cores"),
            (&["--cores", "x"], "--cores"),
            (&["--connect-rate", "0"], "--connect-rate 0: ramp.rate"),
            (&["--set", "conections=5"], "did you mean `connections`"),
            (&["ws://h/", "--server-core", "0"], "built-in"),
        ] {
            let e = plan(args).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
        assert!(
            plan(&["--rate", "2", "--in-flight", "4"]).is_err(),
            "rate and in-flight conflict"
        );
    }

    #[test]
    fn shares_add_up() {
        for (total, n) in [
            (10_000u64, 1usize),
            (10_000, 3),
            (1, 4),
            (0, 2),
            (7, 7),
            (u32::MAX as u64 + 5, 5),
        ] {
            let mut next = 0;
            for i in 0..n {
                let r = RunPlan::share(total, i, n);
                assert_eq!(r.start, next);
                assert!(r.end - r.start <= total / n as u64 + 1);
                next = r.end;
            }
            assert_eq!(next, total, "{total}/{n}");
        }
    }

    /// N shards of C cores add up to the scenario, ids distinct and contiguous, whatever the
    /// core counts of the shards; and any global count (a ramp target) splits monotonically.
    #[test]
    fn shards_of_cores_add_up_exactly() {
        let mut p = plan(&["-c", "1003", "--cores", "0"]).unwrap();
        for (count, cores) in [(1usize, 1usize), (4, 1), (4, 2), (16, 3), (7, 2)] {
            let mut next = 0;
            let mut here = 0;
            for index in 0..count {
                p.shard = ShardSpec { index, count };
                p.client_cpus = (0..cores + index % 2).collect();
                here += p.connections_here();
                for core in 0..p.client_cpus.len() {
                    let r = p.core_share(1003, core);
                    assert_eq!(r.start, next, "{index}/{count} core {core}");
                    next = r.end;
                    let mut last = 0;
                    for target in 0..=1003 {
                        let n = p.core_share(target, core);
                        let len = n.end - n.start;
                        assert!(len >= last && len <= r.end - r.start, "monotone, up to the share");
                        last = len;
                    }
                }
            }
            assert_eq!(next, 1003, "{count} shards");
            assert_eq!(here, 1003);
        }
    }

    #[test]
    fn start_times_and_shards_from_the_command_line() {
        let p = plan(&["--shard", "3/16", "--start-in", "30s"]).unwrap();
        assert_eq!(p.shard, ShardSpec { index: 3, count: 16 });
        let left = p.start_at.unwrap().duration_since(SystemTime::now()).unwrap();
        assert!(
            left > Duration::from_secs(25) && left <= Duration::from_secs(30),
            "{left:?}"
        );
        let e = plan(&["--start-at", "2020-01-01T00:00:00Z"]).unwrap_err();
        assert!(e.contains("--start-at 2020-01-01T00:00:00Z: that time passed"), "{e}");
        for (args, needle) in [
            (&["--shard", "4/4"][..], "from 0 to 3"),
            (
                &["--shard", "1/8", "-c", "5"],
                "5 connections cannot be spread over 8 shards",
            ),
            (&["--start-at", "2030-01-01"], "RFC 3339"),
            (
                &["--start-at", "2030-01-01T00:00:00Z", "--start-in", "1s"],
                "cannot be used with",
            ),
        ] {
            let e = plan(args).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
        assert_eq!(plan(&[]).unwrap().shard, ShardSpec::default());
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_795_748_317), "20261127T025837Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    }
}
