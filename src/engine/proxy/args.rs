//! `wsload proxy`: the command line, and the plan derived from it (toxics validated, CPUs
//! checked, the upstream resolved and tried once).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Args;

use super::spec::{parse_toxic, Direction, Kind, Toxic, Trigger};
use crate::config::units::{parse_bytes, parse_duration};
use crate::sys::cores;

#[derive(Debug, Clone, Args)]
#[command(
    about = "A fault-injecting TCP proxy: latency, bandwidth, stalls, slicing, resets, corruption, refusals",
    long_about = "A fault-injecting TCP proxy: it forwards every connection it accepts to the upstream, \
byte for byte (any protocol, TLS included), and applies \"toxics\" on the way: latency with jitter, \
bandwidth caps, stalls, slicing into small pieces, resets, clean closes, timeouts, bit flips and \
refused connections. One pinned io_uring executor per core, each with its own SO_REUSEPORT \
listener; loopback by default.\n\n\
Each toxic acts on one direction (upstream = client to server, downstream = server to client) or \
both, on a fraction of the connections (drawn when each is accepted), always or in a window \
(`at=20s,for=10s` from the proxy's start). The shorthand flags below make toxics on every \
connection in --direction, always on; --toxic gives full control and is repeatable.\n\n\
Toxics (--toxic KIND,key=value,...; common keys: direction, fraction, at, for):\n  \
latency    delay=D, jitter=J    each chunk held D ± J (uniform), order kept; one way, so with\n                                  direction=both a round trip gains 2·D\n  \
bandwidth  rate=R               at most R per connection and direction (e.g. 1MiB/s), no burst\n  \
stall      pause=D, every=P     forward nothing for D at the start of every P (a retransmission stall)\n  \
slice      size=N, delay=D      write each chunk as N-byte pieces, D apart (partial-frame parsing)\n  \
reset      rate=R | after=N     TCP reset to both ends: per connection at random with R per second\n                                  (Poisson), or once N bytes have passed in the toxic's direction\n  \
close      rate=R | after=N     the same, with a clean FIN to both ends instead\n  \
timeout                         swallow every byte from then on; the connection stays open\n  \
corrupt    probability=P        flip one bit in the last byte of a chunk, for a share P of chunks\n  \
down                            refuse new connections (accepted, then reset at once)\n\n\
Corruption rule: a chunk is what one read returned. The flip is in its last byte, so when chunks \
hold whole WebSocket frames (small messages, one at a time per connection), every flip lands in a \
payload and the client's payload check counts it exactly once; a chunk that ends mid-frame or in a \
handshake can break framing instead (a protocol error, not a corrupted message).\n\n\
Output: `listening on ADDR` on stdout, then one JSON line per --stats-interval with the counters \
so far (accepted, refused, bytes each way, bytes delayed, chunks corrupted, resets, closes, ...) \
and one per toxic turning on or off. Each proxied connection takes two open files.",
    after_help = "Examples:\n  \
wsload proxy --listen 127.0.0.1:9100 --upstream 127.0.0.1:9000 --latency 50ms --jitter 10ms\n  \
wsload proxy --upstream 10.0.0.5:8080 --bandwidth 1MiB/s --reset-rate 0.01/s\n  \
wsload proxy --upstream 127.0.0.1:9000 --slice 1 --direction downstream     1-byte pieces\n  \
wsload proxy --upstream 127.0.0.1:9000 --toxic latency,delay=200ms,at=20s,for=10s\n  \
wsload proxy --upstream 127.0.0.1:9000 --toxic down,at=5s,for=3s --toxic corrupt,probability=0.01\n  \
wsload run ws://127.0.0.1:9100/ -c 100            then point the load at the proxy\n\n\
In a scenario, a [proxy] table starts the proxy in front of the target and schedules its toxics \
(see the README and scripts/scenarios/network-faults.toml).\n\n\
Exit status: 0 stopped after --for; 2 bad arguments, the upstream cannot be reached, or the \
address is taken."
)]
pub struct ProxyArgs {
    /// Address to accept clients on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9100", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Where to forward each connection, `host:port`. Tried once at startup.
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: String,

    /// Proxy cores, a CPU list (`1`, `0-3`); one pinned executor and listener each.
    /// Default: all available CPUs.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// Hold every chunk this long before forwarding it (one way; see --direction).
    #[arg(long, value_parser = non_negative_duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub latency: Option<Duration>,

    /// Vary --latency by up to ± this much, uniformly, per chunk (order is kept).
    #[arg(long, value_parser = non_negative_duration, allow_hyphen_values = true, requires = "latency", value_name = "DURATION")]
    pub jitter: Option<Duration>,

    /// Cap each connection at this many bytes per second per direction: `1MiB/s`, `64KiB/s`.
    #[arg(long, value_name = "BYTES/s", allow_hyphen_values = true)]
    pub bandwidth: Option<String>,

    /// Stop forwarding for PAUSE at the start of every EVERY: `200ms/2s`.
    #[arg(long, value_name = "PAUSE/EVERY")]
    pub stall: Option<String>,

    /// Write every chunk as pieces of at most this many bytes (`1` exercises partial-frame parsing).
    #[arg(long, value_parser = parse_bytes, value_name = "BYTES")]
    pub slice: Option<u64>,

    /// Wait between slice pieces [default: 0].
    #[arg(long, value_parser = non_negative_duration, requires = "slice", value_name = "DURATION")]
    pub slice_delay: Option<Duration>,

    /// Reset connections at random: this many per connection per second (`0.01/s`, `6/m`).
    #[arg(long, value_name = "RATE", allow_hyphen_values = true)]
    pub reset_rate: Option<String>,

    /// Reset each connection once this many bytes have passed in --direction.
    #[arg(long, value_parser = parse_bytes, value_name = "BYTES", conflicts_with = "reset_rate")]
    pub reset_after: Option<u64>,

    /// Flip one bit in the last byte of this share of chunks (0..1).
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub corrupt: Option<String>,

    /// Direction of the shorthand toxics: upstream (client to server), downstream, both.
    #[arg(long, default_value = "both", value_parser = parse_direction)]
    pub direction: Direction,

    /// A toxic in full, repeatable: `KIND,key=value,...`, e.g. `latency,delay=50ms,at=20s,for=10s`
    /// (kinds and keys are listed in --help).
    #[arg(long = "toxic", value_parser = parse_toxic, value_name = "SPEC")]
    pub toxics: Vec<Toxic>,

    /// Interval of the JSON counter lines on stdout.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub stats_interval: Duration,

    /// Stop by itself after this long (default: run until killed).
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
    pub run_for: Option<Duration>,

    /// Start the toxics' clock (their `at`) when a line arrives on stdin, and stop at end of input.
    /// Used by `wsload run`, which starts the clock at the start of traffic.
    #[arg(long, hide = true)]
    pub clock_from_stdin: bool,
}

fn non_negative_duration(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!("`{s}`: a duration cannot be negative (e.g. 50ms)"));
    }
    parse_duration(s)
}

fn parse_direction(s: &str) -> Result<Direction, String> {
    Direction::NAMES
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, d)| *d)
        .ok_or_else(|| format!("unknown direction `{s}` (expected one of: upstream, downstream, both)"))
}

/// The proxy, ready to start.
#[derive(Debug, Clone)]
pub struct ProxyPlan {
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    pub cpus: Vec<usize>,
    pub toxics: Vec<Toxic>,
    pub stats_interval: Duration,
    pub run_for: Option<Duration>,
    pub clock_from_stdin: bool,
}

/// Most toxics one proxy takes (each connection keeps one bit per toxic).
pub const MAX_TOXICS: usize = 64;

impl ProxyPlan {
    /// Check the arguments (no syscalls but resolving the upstream's name).
    pub fn from_args(a: &ProxyArgs) -> Result<ProxyPlan, String> {
        let available = cores::available_cpus();
        let cpus = match &a.cores {
            Some(list) => cores::cores_flag(list, &available)?,
            None => available,
        };
        let upstream = resolve_upstream(&a.upstream)?;
        let mut toxics = shorthand_toxics(a)?;
        toxics.extend(a.toxics.iter().cloned());
        if toxics.len() > MAX_TOXICS {
            return Err(format!("{} toxics: at most {MAX_TOXICS}", toxics.len()));
        }
        Ok(ProxyPlan {
            listen: a.listen,
            upstream,
            cpus,
            toxics,
            stats_interval: a.stats_interval.max(Duration::from_millis(10)),
            run_for: a.run_for,
            clock_from_stdin: a.clock_from_stdin,
        })
    }
}

/// `--upstream host:port`, resolved to its first address.
fn resolve_upstream(upstream: &str) -> Result<SocketAddr, String> {
    upstream
        .to_socket_addrs()
        .map_err(|e| format!("--upstream `{upstream}`: {e} (expected host:port, e.g. 127.0.0.1:9000)"))?
        .next()
        .ok_or_else(|| format!("--upstream `{upstream}` resolves to no address"))
}

/// The toxics of the shorthand flags (`--latency`, `--bandwidth`, `--stall`, ...), in that order,
/// each in `--direction`.
fn shorthand_toxics(a: &ProxyArgs) -> Result<Vec<Toxic>, String> {
    let mut toxics = Vec::new();
    let mut short = |kind: Kind| {
        toxics.push(Toxic {
            direction: a.direction,
            ..Toxic::always(kind)
        })
    };
    if let Some(delay) = a.latency {
        short(Kind::Latency {
            delay,
            jitter: a.jitter.unwrap_or_default(),
        });
    }
    // A shorthand flag's value as the `--toxic` form, so both give the same errors.
    let kind = |flag: &str, spec: String| parse_toxic(&spec).map(|t| t.kind).map_err(|e| format!("{flag} {e}"));
    if let Some(b) = &a.bandwidth {
        short(kind("--bandwidth", format!("bandwidth,rate={b}"))?);
    }
    if let Some(s) = &a.stall {
        let (p, e) = s
            .split_once('/')
            .ok_or_else(|| format!("--stall `{s}`: expected PAUSE/EVERY, e.g. 200ms/2s"))?;
        short(kind("--stall", format!("stall,pause={p},every={e}"))?);
    }
    if let Some(size) = a.slice {
        let Kind::Slice { size, .. } = kind("--slice", format!("slice,size={size}"))? else {
            unreachable!()
        };
        short(Kind::Slice {
            size,
            delay: a.slice_delay.unwrap_or_default(),
        });
    }
    if let Some(r) = &a.reset_rate {
        short(kind("--reset-rate", format!("reset,rate={r}"))?);
    }
    if let Some(n) = a.reset_after {
        if n == 0 {
            return Err("--reset-after: a byte count above 0 such as 64KiB".into());
        }
        short(Kind::Reset {
            trigger: Trigger::After(n),
        });
    }
    if let Some(p) = &a.corrupt {
        short(kind("--corrupt", format!("corrupt,probability={p}"))?);
    }
    Ok(toxics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ProxyArgs,
    }

    fn plan(args: &[&str]) -> Result<ProxyPlan, String> {
        let mut v = vec!["proxy", "--upstream", "127.0.0.1:9"];
        v.extend_from_slice(args);
        let t = T::try_parse_from(v).map_err(|e| e.to_string())?;
        ProxyPlan::from_args(&t.a)
    }

    #[test]
    fn shorthands_make_toxics_in_the_given_direction() {
        let p = plan(&[
            "--latency",
            "50ms",
            "--jitter",
            "10ms",
            "--bandwidth",
            "1MiB/s",
            "--reset-rate",
            "0.01/s",
            "--direction",
            "downstream",
        ])
        .unwrap();
        let specs: Vec<String> = p.toxics.iter().map(Toxic::to_spec).collect();
        assert_eq!(
            specs,
            [
                "latency,delay=0.050000000s,jitter=0.010000000s,direction=downstream,fraction=1.0",
                "bandwidth,rate=1048576/s,direction=downstream,fraction=1.0",
                "reset,rate=0.01/s,direction=downstream,fraction=1.0",
            ]
        );
        let p = plan(&["--stall", "200ms/2s", "--slice", "1", "--toxic", "down,at=1s,for=2s"]).unwrap();
        assert_eq!(p.toxics.len(), 3);
    }

    #[test]
    fn bad_flags_get_one_clear_error() {
        let table: &[(&[&str], &str)] = &[
            (&["--latency", "-50ms"], "a duration cannot be negative"),
            (&["--toxic", "latancy,delay=5ms"], "did you mean `latency`?"),
            (&["--bandwidth", "-1MiB/s"], "a bandwidth cannot be negative"),
            (&["--stall", "200ms"], "expected PAUSE/EVERY"),
            (&["--jitter", "5ms"], "--latency"),
            (&["--corrupt", "1.5"], "not a probability"),
            (&["--direction", "up"], "unknown direction `up`"),
        ];
        for (args, want) in table {
            let e = plan(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
