//! From what the user typed to one validated plan. Only checks and arithmetic
//! here; limits are raised and addresses resolved when the run starts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::cli::{RunArgs, ServeArgs};
use super::target::Target;
use crate::proto::payload;
use crate::sys::cores;

/// How messages are generated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Messages per second per connection on a fixed schedule (0 = idle connections).
    Open { rate: f64 },
    /// Messages kept outstanding per connection.
    Closed { window: u32 },
}

#[derive(Debug, Clone)]
pub struct RunPlan {
    /// `None`: start the built-in echo server and target it.
    pub target: Option<Target>,
    /// CPU for the built-in server, when there is one.
    pub server_cpu: Option<usize>,
    pub connections: u64,
    pub load: Load,
    pub size: usize,
    pub text: bool,
    pub duration: Duration,
    pub drain: Duration,
    pub client_cpus: Vec<usize>,
    pub connect_rate: Option<f64>,
    pub connect_concurrency: u32,
    pub connect_timeout: Duration,
    pub source_ips: Vec<IpAddr>,
    pub max_frame: u64,
    pub out_dir: PathBuf,
    pub json: bool,
    pub quiet: bool,
    pub interval: Duration,
}

fn err<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

impl RunPlan {
    pub fn from_args(a: &RunArgs) -> Result<RunPlan, String> {
        let target = a.url.as_deref().map(Target::parse).transpose()?;
        if a.connections == 0 {
            return err("--connections must be at least 1");
        }
        let load = match a.in_flight {
            Some(0) => return err("--in-flight must be at least 1 (use --rate 0 for idle connections)"),
            Some(w) => Load::Closed { window: w },
            None => Load::Open { rate: a.rate },
        };
        let min = payload::min_size(a.text) as u64;
        if a.size < min {
            return err(format!(
                "--size {} is too small: every {} message carries a {min}-byte stamp (sequence number, timestamps, CRC-32), so the minimum is {min}",
                a.size,
                if a.text { "text" } else { "binary" }
            ));
        }
        if a.size > a.max_frame {
            return err(format!(
                "--size {} is larger than --max-frame {}: raise --max-frame",
                a.size, a.max_frame
            ));
        }
        if a.interval < Duration::from_millis(10) {
            return err("--interval must be at least 10ms");
        }
        if a.connect_concurrency == 0 {
            return err("--connect-concurrency must be at least 1");
        }
        if a.connect_timeout.is_zero() {
            return err("--connect-timeout must be more than 0");
        }
        if a.connect_rate == Some(0.0) {
            return err("--connect-rate 0 would never connect; leave it out for no cap");
        }
        let available = cores::available_cpus();
        let (default_client, default_server) = cores::default_split(&available);
        let server_cpu = match (&target, a.server_core) {
            (None, Some(c)) => {
                cores::check_cpus(&[c], &available)?;
                Some(c)
            }
            (None, None) => Some(default_server),
            (Some(_), Some(_)) => return err("--server-core only applies to the built-in server (no URL given)"),
            (Some(_), None) => None,
        };
        let client_cpus = match &a.cores {
            Some(list) => {
                let l = cores::parse_cpu_list(list).map_err(|e| format!("--cores: {e}"))?;
                cores::check_cpus(&l, &available).map_err(|e| format!("--cores: {e}"))?;
                l
            }
            None if target.is_some() => available.clone(),
            None => default_client,
        };
        if client_cpus.is_empty() {
            return err("--cores: no client core left");
        }
        let out_dir = a.out.clone().unwrap_or_else(default_out_dir);
        Ok(RunPlan {
            target,
            server_cpu,
            connections: a.connections,
            load,
            size: a.size as usize,
            text: a.text,
            duration: a.duration,
            drain: a.drain,
            client_cpus,
            connect_rate: a.connect_rate,
            connect_concurrency: a.connect_concurrency,
            connect_timeout: a.connect_timeout,
            source_ips: a.source_ip.clone(),
            max_frame: a.max_frame,
            out_dir,
            json: a.json,
            quiet: a.quiet,
            interval: a.interval,
        })
    }

    /// The connections core `i` of `n` owns: a contiguous range of global ids,
    /// sizes differing by at most one.
    pub fn share(total: u64, i: usize, n: usize) -> std::ops::Range<u64> {
        let (n, i) = (n as u64, i as u64);
        let base = total / n;
        let rem = total % n;
        let start = i * base + i.min(rem);
        let len = base + u64::from(i < rem);
        start..start + len
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

/// `YYYYMMDDTHHMMSSZ` for a Unix time (civil-from-days, proleptic Gregorian).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[derive(Debug, Clone)]
pub struct ServePlan {
    pub bind: IpAddr,
    pub port: u16,
    pub cpus: Vec<usize>,
    pub max_frame: u64,
    pub run_for: Option<Duration>,
}

impl ServePlan {
    pub fn from_args(a: &ServeArgs) -> Result<ServePlan, String> {
        let available = cores::available_cpus();
        let cpus = match &a.cores {
            Some(list) => {
                let l = cores::parse_cpu_list(list).map_err(|e| format!("--cores: {e}"))?;
                cores::check_cpus(&l, &available).map_err(|e| format!("--cores: {e}"))?;
                l
            }
            None => available,
        };
        Ok(ServePlan {
            bind: a.bind,
            port: a.port,
            cpus,
            max_frame: a.max_frame,
            run_for: a.run_for,
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
        assert!(p.target.is_none());
        assert_eq!(p.connections, 10_000);
        assert_eq!(p.load, Load::Open { rate: 1.0 });
        assert_eq!((p.size, p.duration), (64, Duration::from_secs(10)));
        assert!(p.server_cpu.is_some());
    }

    #[test]
    fn bad_input_is_explained() {
        for (args, needle) in [
            (&["-c", "0"][..], "at least 1"),
            (&["--size", "8"], "minimum is 24"),
            (&["--size", "40", "--text"], "minimum is 48"),
            (&["--size", "2MiB", "--max-frame", "1MiB"], "--max-frame"),
            (&["--in-flight", "0"], "--in-flight"),
            (&["--cores", "999"], "--cores"),
            (&["--cores", "x"], "--cores"),
            (&["--connect-rate", "0"], "never connect"),
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

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_795_748_317), "20261127T025837Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    }
}
