//! `wsload capacity` on the command line.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::units::{parse_duration, parse_ip_list, parse_rate, IpList};

#[derive(Debug, Clone, Args)]
#[command(
    about = "Search for the load at which the server stops meeting an SLO (steps, then bisection)",
    long_about = "Search for the load at which the server stops meeting an SLO. Each step is one \
ordinary run: N connections opened at once, then --rate messages/s on each for --hold, then a \
short drain. Steps start at --start connections and grow by --factor (or by --step) up to \
--max-connections; after the first step that fails, --refine bisections between the last good \
and the first bad step narrow the limit down.\n\n\
A step passes when every connection was established and every SLO clause holds. A failing \
step is explained, in this order: a client-side limit (the client ran out of file descriptors \
or ports or its cores were 90% busy, or it fell behind its send schedule and a latency or \
error clause failed; the search stops, as the figures beyond it would be the client's, not the \
server's), connection failures (with the \
dominant error, e.g. connect_refused or connect_timeout), errors, latency.\n\n\
A table is printed as the steps complete; each step's summary.json is in its own directory \
(DIR/step-XX-N/) and DIR/capacity.json has every step and the result.",
    after_help = "Examples:\n  \
wsload capacity                                        the built-in echo server, default SLO\n  \
wsload capacity ws://127.0.0.1:8080/ --slo \"p99<50ms,errors<0.1%\" --max-connections 19000\n  \
wsload capacity ws://10.0.0.5:9000/ --start 1000 --step 1000 --rate 5 --hold 10s --cores 0-3\n\n\
SLO clauses (comma separated) use the threshold syntax of scenarios (`latency.p99 < 200ms`) with \
short names: p50, p90, p95, p99, p99.9, max (latency), errors (errors.rate), lost \
(messages.loss_rate), connect (connections.success_rate); any other threshold metric by its \
full name. A bare time is milliseconds.\n\n\
Exit status: 0 a limit was found (or every step up to --max-connections passed, or the search \
stopped at a client-side limit after a passing step); 1 even the first step failed the SLO; 2 bad arguments or a setup problem; 130 interrupted (Ctrl-C: the \
search stops after the current step; capacity.json is written, marked partial)."
)]
pub struct CapacityArgs {
    /// Target, `ws://host[:port][/path]`. Without it, every step starts the built-in echo server
    /// (a child process on the last core) and tests that.
    pub url: Option<String>,

    /// The service level each step must meet, comma separated clauses
    /// [default: p99<200ms,errors<0.1%,connect>=100%].
    #[arg(long, value_name = "CLAUSES")]
    pub slo: Option<String>,

    /// Connections of the first step.
    #[arg(long, default_value_t = 100)]
    pub start: u64,

    /// Each step multiplies the connections by this (more than 1).
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,

    /// Add this many connections per step instead of multiplying by --factor.
    #[arg(long, value_name = "N")]
    pub step: Option<u64>,

    /// The largest step [default: what this process can hold: its hard open-files limit less
    /// wsload's own descriptors, and the ephemeral ports of its source addresses].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u64>,

    /// Messages per second per connection during the hold. Accepts `2`, `2/s`, `120/m`.
    #[arg(long, value_parser = parse_rate, default_value = "1")]
    pub rate: f64,

    /// How long each step holds its load once every connection was tried.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub hold: Duration,

    /// Bisection steps between the last passing and the first failing step.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,

    /// Give up on a connection (TCP connect + upgrade) after this long; a server that stops
    /// accepting makes a step last at least this long.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,

    /// Client cores, a CPU list (`0`, `0-3`), as in `wsload run`.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// CPU for the built-in echo server (no URL given).
    #[arg(long, value_name = "CPU")]
    pub server_core: Option<usize>,

    /// Source addresses, as in `wsload run` (lists and IPv4 ranges such as 127.0.0.1-8): each
    /// gives about 28,000 more ephemeral ports towards the target.
    // One list per occurrence.
    #[arg(long, value_parser = parse_ip_list, value_name = "IP,...")]
    pub source_ip: Vec<IpList>,

    /// The server's process id on this host, for its CPU and memory per step in the table.
    /// Not sampled yet: the columns show n/a until `wsload run --server-pid` lands.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<i32>,

    /// wss://: trust the certificates in this PEM file, as `wsload run --ca` does (a server
    /// whose own certificate is in it is accepted as it is; others must chain to one of them or
    /// to a system root).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// wss://: accept any certificate, as `wsload run --insecure` does (the target's identity
    /// is NOT checked; every step says so).
    #[arg(long)]
    pub insecure: bool,

    // -H, --subprotocol, --origin, --cookie and --compression, passed to every step's run.
    #[command(flatten)]
    pub handshake: crate::config::wire_args::HandshakeArgs,

    /// Results directory [default: ./wsload-results/capacity-<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// No progress lines from the steps (the table and the result are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}
