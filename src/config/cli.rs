//! The command line, as the user typed it. Checked here for form only; the
//! plan (config::plan) derives everything else.

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::units::{parse_bytes, parse_duration, parse_ip_list, parse_listen, parse_rate, IpList};

#[derive(Debug, Parser)]
#[command(
    name = "wsload",
    version,
    about = "Thread-per-core io_uring WebSocket load generator",
    long_about = "wsload opens many WebSocket connections from one pinned executor per core, \
sends stamped messages, checks every echo (loss, duplicates, order, corruption) and measures \
round-trip latency from the intended send time.\n\n\
With no arguments it runs the default test: 10,000 connections, 1 message/s each, 64-byte binary \
messages, 10 s of steady load, against the built-in echo server started as a child process on the \
last core.",
    after_help = "Examples:\n  \
wsload                                          default test against the built-in echo server\n  \
wsload run ws://127.0.0.1:9000/ -c 10000 --rate 2 --duration 30s --out results/\n  \
wsload run ws://127.0.0.1:9000/ -c 10000 --in-flight 64 --duration 10s   maximum throughput\n  \
wsload run -c 10000 --rate 0 --duration 30s    hold idle connections (memory per connection)\n  \
wsload run --scenario scripts/scenarios/peak-10k.toml --set connections=5000\n  \
wsload validate scripts/scenarios/faults.toml  check a scenario without running it\n  \
wsload serve --port 9000 --cores 1             the echo server on its own\n  \
wsload proxy --upstream 127.0.0.1:9000 --latency 50ms   network faults between client and server\n\n\
Exit status: 0 all connections established and every message echoed intact (with thresholds: \
every threshold passed); 1 the run finished but connections failed or messages were lost or \
corrupted (with thresholds: a threshold failed); 2 bad arguments, a bad scenario file, a setup \
problem (limits, cores) or no connection could be established at all; 130 interrupted (Ctrl-C; the summary is written, marked partial).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `wsload [OPTIONS] [URL]` without a subcommand means `wsload run`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test (the default command).
    Run(Box<RunArgs>),
    /// Run the built-in WebSocket echo server.
    Serve(ServeArgs),
    /// Check a scenario file (and any --set overrides) without running it.
    Validate(ValidateArgs),
    /// Check whether this machine can generate a load, and say what to change.
    Doctor(DoctorArgs),
    // `wsload capacity`: its help (about and long_about) is on CapacityArgs; a doc comment here
    // would replace the long help.
    Capacity(crate::cmd::capacity::args::CapacityArgs),
    /// Re-render report files from a saved results directory.
    Report(ReportArgs),
    /// Compare two runs' key figures and flag regressions.
    Compare(CompareArgs),
    /// Combine the results of the shards of one run (`run --shard i/N`) into one.
    Merge(MergeArgs),
    /// Make a test CA and a server certificate for `wsload serve --tls-cert` (wss:// tests).
    Cert(CertArgs),
    // `wsload proxy`: its help is on ProxyArgs (a doc comment here would replace the long help).
    Proxy(crate::engine::proxy::args::ProxyArgs),
}

/// `wsload merge DIR... --out DIR`: shard results combined exactly.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
wsload merge /results/shard-* --out /results/all\n  \
wsload merge a/ b/ c/ d/ --out merged/ -q\n\n\
Each directory is one shard's results (summary.json, totals.json, latency.hlog), in any order. \
Histograms are added (percentiles are never averaged), counters summed, the time lines put on \
one clock (the earliest shard's start) interval by interval, thresholds and findings evaluated \
on the merged figures, and every report file written into --out. A missing directory, a damaged \
or missing file, a shard index missing from 0..N-1, a shard given twice or a shard of another \
scenario is named, and the results are marked partial.\n\n\
Exit status: 0 every shard merged and the merged run is clean (with thresholds: all pass); 1 every \
shard merged and the run failed its checks (as for `wsload run`); 3 partial: some shards are \
missing or could not be merged (the others were); 2 nothing could be merged or --out could not \
be written.")]
pub struct MergeArgs {
    /// The shards' results directories (e.g. /results/shard-*).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged results (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not print the merged summary (problems are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `wsload cert --out DIR`: a throw-away CA and a server certificate it signed.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
wsload cert --out certs/\n  \
wsload serve --port 9443 --tls-cert certs/cert.pem --tls-key certs/key.pem\n  \
wsload run wss://127.0.0.1:9443/ --ca certs/ca.pem -c 1000\n\n\
Writes ca.pem (the CA to pass to --ca), cert.pem (the server's certificate followed by the CA's) \
and key.pem (the server's key, mode 0600). ECDSA P-256 keys, valid until 4096. For tests only: \
anyone with key.pem can impersonate the names it lists.")]
pub struct CertArgs {
    /// Directory to write ca.pem, cert.pem and key.pem into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Names and IP addresses the server certificate is valid for, repeatable
    /// [default: localhost, 127.0.0.1, ::1].
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
}

/// `wsload report DIR`: re-render result files from DIR/summary.json.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
wsload report results/peak                 rewrite every format that a summary can give\n  \
wsload report results/peak --format html,md\n\n\
latency.hlog needs the per-interval histograms of the run itself: it cannot be re-rendered from \
summary.json. Exit status: 0 written; 2 the directory has no readable summary.json or a file could \
not be written.")]
pub struct ReportArgs {
    /// A results directory (with summary.json), or a summary.json file.
    pub dir: PathBuf,
    /// Formats to write, comma separated: json, csv, md, html, prom, or all
    /// [default: csv,md,html,prom].
    #[arg(long, value_name = "LIST")]
    pub format: Option<String>,
}

/// `wsload compare BASE NEW`: key figures side by side, regressions flagged.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
wsload compare results/before results/after\n  \
wsload compare base/summary.json new/summary.json --tolerance 5% --metric-tolerance latency=20%,rate=2%\n  \
wsload compare results/before results/after --html before-after.html\n\n\
Metrics and groups for --metric-tolerance: established, failed, dropped (connections); rate \
(throughput); lost, corrupted (messages); errors; p50, p90, p99, p99.9, max (latency); connect_p99 \
(connect); client_cpu, server_cpu (cpu); server_memory (memory); recovery_p95, availability \
(recovery; availability is compared on the share of time down).\n\n\
It also writes compare.html, one page that loads nothing (inline SVG): the verdict, the key figures \
with their change, the two corrected-latency distributions overlaid, and each run's messages/s, \
latency and errors over time, base above new. By default it goes into NEW's results directory (the \
directory of NEW's summary.json), replacing an earlier compare.html there; --html FILE puts it \
elsewhere and --no-html writes none.\n\n\
Exit status: 0 nothing regressed beyond its tolerance; 1 something did; 2 an input could not be read, \
or the page asked for with --html could not be written.")]
pub struct CompareArgs {
    /// The reference run: a results directory or its summary.json.
    pub base: PathBuf,
    /// The run to judge against it.
    pub new: PathBuf,
    /// How much worse a figure may get before it counts as a regression, relative to the base.
    #[arg(long, default_value = "10%", value_name = "PERCENT")]
    pub tolerance: String,
    /// Per metric or group: `latency=20%,rate=5%` (repeatable).
    #[arg(long, value_name = "METRIC=PERCENT,...")]
    pub metric_tolerance: Vec<String>,
    /// Write the comparison page here [default: compare.html in NEW's results directory].
    #[arg(long, value_name = "FILE", conflicts_with = "no_html")]
    pub html: Option<PathBuf>,
    /// Write no comparison page.
    #[arg(long)]
    pub no_html: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// The scenario file (TOML; see scripts/scenarios/ and the README).
    pub file: PathBuf,
    /// Override a field, as in `wsload run --set`: `connections=20000`, `phases.0.rate=5/s`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Target, `ws://host[:port][/path]` or `wss://` (TLS, port 443 by default). Without it (and without `url` in the scenario), wsload
    /// starts its own echo server (a child process on the last core) and tests that.
    pub url: Option<String>,

    /// A scenario file (TOML): ramp, traffic phases, message mix, churn, reconnection, faults
    /// and thresholds in one place. Flags below and --set override its fields.
    /// See scripts/scenarios/ and `wsload validate`.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Override any scenario field: `--set connections=20000`, `--set ramp.kind=linear
    /// --set ramp.rate=500/s`, `--set phases.1.duration=2m`. Repeatable; applied after the file
    /// and the flags.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Number of WebSocket connections to open and hold [default: 10000].
    #[arg(short = 'c', long)]
    pub connections: Option<u64>,

    /// Open-loop load: messages per second per connection, sent on a fixed schedule whatever
    /// the server does (latency is measured from the intended send time). 0 holds the
    /// connections open without traffic. Accepts `2`, `2/s`, `120/m` [default: 1/s].
    #[arg(long, value_parser = parse_rate, conflicts_with = "in_flight")]
    pub rate: Option<f64>,

    /// Closed-loop load: keep this many messages outstanding on every connection and send a new
    /// one as each echo arrives (maximum throughput; latency then includes queueing).
    #[arg(long, value_name = "W")]
    pub in_flight: Option<u32>,

    /// Message size in bytes (the payload). At least 24 for binary and 48 for text messages,
    /// which carry a sequence number, timestamps and a CRC-32C. Accepts `64`, `4KiB`, `1MiB`
    /// [default: 64].
    #[arg(long, value_parser = parse_bytes)]
    pub size: Option<u64>,

    /// Send text frames (hex-stamped ASCII payload) instead of binary ones.
    #[arg(long)]
    pub text: bool,

    /// Steady load after all connections are open. Accepts `10s`, `500ms`, `2m` [default: 10s].
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// After the load, how long to wait for outstanding echoes before counting them lost
    /// [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub drain: Option<Duration>,

    /// Client cores, a CPU list such as `0`, `0,2` or `0-3`; one pinned executor each, with
    /// an equal share of the connections. Default: every available CPU except the built-in
    /// server's (all of them against an external target).
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// CPU for the built-in echo server (default: the last available CPU).
    #[arg(long, value_name = "CPU")]
    pub server_core: Option<usize>,

    /// Open connections at this many per second over all cores (a linear ramp; default: all
    /// at once, bounded only by --connect-concurrency).
    #[arg(long, value_parser = parse_rate, value_name = "N/s")]
    pub connect_rate: Option<f64>,

    /// Connection attempts (TCP connect + upgrade) in progress at once, over all cores
    /// [default: 256]. Measured here: 256 opens 10,000 connections as fast as 1,024 and leaves
    /// less heap behind (each attempt's buffers are freed between long-lived connections).
    #[arg(long)]
    pub connect_concurrency: Option<u32>,

    /// Give up on a connection (TCP connect + upgrade) after this long [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,

    /// Source addresses to bind, comma separated or repeated; IPv4 ranges count every address
    /// (127.0.0.1,127.0.0.2 or 127.0.0.1-127.0.0.8 or 127.0.0.1-8, at most 1,024 per range): each
    /// gives about 28,000 more ephemeral ports towards one target. Connections use them in turn.
    // One list per occurrence; read them with `source_ips()`.
    #[arg(long, value_parser = parse_ip_list, value_name = "IP,...")]
    pub source_ip: Vec<IpList>,

    /// Largest frame accepted from the server; larger ones are refused before any allocation
    /// [default: 16MiB].
    #[arg(long, value_parser = parse_bytes)]
    pub max_frame: Option<u64>,

    /// wss://: trust the certificates in this PEM file (besides the system roots): a server
    /// whose own certificate is one of them is accepted as it is (pinning, e.g. the self-signed
    /// cert.pem of `openssl req -x509`); others must chain to one of them or to a system root
    /// (e.g. the ca.pem of `wsload cert`). Scenario field `tls.ca`.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// wss://: accept any certificate (self-signed test servers). The target's identity is NOT
    /// checked; the run says so at the start and in every report. Scenario field `tls.insecure`.
    #[arg(long)]
    pub insecure: bool,

    /// The server under test's process ID: its process tree's CPU, memory, open files and
    /// threads are sampled every interval, and the summary reports its cost per connection and
    /// per message. Automatic for the built-in server. E.g. `--server-pid $(pgrep -n myserver)`.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<i32>,

    /// Directory for summary.json (default: ./wsload-results/<UTC timestamp>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Also print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Interval between per-core snapshots, progress lines and time-line points [default: 1s].
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<Duration>,

    /// Serve the run's figures live in the Prometheus text format at http://ADDR:PORT/metrics,
    /// from the start until the summary is written (counters, latency summaries and histograms,
    /// under the names of metrics.prom). `9464` alone means 127.0.0.1:9464; port 0 picks a free
    /// one (printed). Loopback only, unless --metrics-allow-remote.
    #[arg(long, value_parser = parse_listen, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Let --metrics-listen listen on an address other than loopback. The endpoint has no
    /// authentication: anyone who can reach it sees the target URL (credentials redacted) and
    /// the run's figures.
    #[arg(long, requires = "metrics_listen")]
    pub metrics_allow_remote: bool,

    /// At the end, wait at most this long for a last scrape of the final figures (so that
    /// Prometheus's last sample is the summary's total) [default: 1.5 scrape intervals as seen
    /// during the run, at most 1m; no wait when nothing scraped]. `0` does not wait.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "metrics_listen")]
    pub metrics_hold: Option<Duration>,

    /// Run shard I of N (0-based) of the scenario: this process opens its share of every
    /// connection count and connection rate (ids I·total/N onwards, split as between cores),
    /// message rates per connection unchanged. Combine the shards' results with `wsload merge`.
    #[arg(long, value_parser = super::fleet::parse_shard, value_name = "I/N")]
    pub shard: Option<super::fleet::ShardSpec>,

    /// Start the run at this time (RFC 3339, e.g. 2026-12-01T10:00:00Z): set up, wait, then
    /// ramp from t=0, so that shards on several hosts start together. Up to 1 s late starts at
    /// once with a warning; later is an error. Ctrl-C while waiting exits 130.
    #[arg(long, value_parser = super::fleet::parse_start_at, value_name = "TIME", conflicts_with = "start_in")]
    pub start_at: Option<std::time::SystemTime>,

    /// Start the run this long from now (`30s`, `2m`): as --start-at.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub start_in: Option<Duration>,

    #[command(flatten)]
    pub wire: super::wire_args::WireArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TCP port to listen on (0 picks a free one; the chosen port is printed).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,

    /// Address to bind. Loopback by default: pass 0.0.0.0 to accept remote clients.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Server cores, a CPU list (`1`, `0-3`); one pinned executor and one SO_REUSEPORT
    /// listener each. Default: all available CPUs.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// Largest frame accepted from a client (larger ones are answered with close code 1009).
    #[arg(long, value_parser = parse_bytes, default_value = "16MiB")]
    pub max_frame: u64,

    /// Stop by itself after this long (default: run until killed).
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
    pub run_for: Option<Duration>,

    /// Push RATE messages a second to every connection instead of echoing (client messages
    /// are read and dropped): JSON `{"seq":N,"ts":MICROS}` with the Unix time each was due,
    /// for `wsload run --mode subscribe --timestamp-field /ts --sequence-field /seq`.
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub broadcast: Option<f64>,

    /// Size of each broadcast message in bytes (padded with a `pad` field) [default: 64].
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE", requires = "broadcast")]
    pub broadcast_size: Option<u64>,
    /// Serve wss:// (TLS) with this PEM certificate chain (server certificate first), e.g. the
    /// cert.pem of `wsload cert`. Needs --tls-key. Session tickets are issued, so clients resume.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `wsload doctor`: a read-only preflight. Changes nothing.
#[derive(Debug, Clone, Args)]
#[command(
    long_about = "Check whether this machine can generate a load of N connections, and say exactly \
what to change. Reads the open-files limits (soft and hard), whether io_uring is allowed, the \
ephemeral port range against connections per source address, somaxconn and tcp_max_syn_backlog \
(for the built-in server), fs.file-max, fs.nr_open, nf_conntrack_max (when conntrack is loaded), \
tcp_tw_reuse and the CPUs. Each line shows the current value, the needed value as a formula in N \
(E = client cores) and the command that fixes it. Nothing is changed: the fixes are for you to \
run (tuning/apply.sh writes the kernel settings; wsload run raises its soft open-files limit \
itself).\n\n\
`wsload run` makes the same checks before it starts and refuses a run they say will fail.",
    after_help = "Examples:\n  \
wsload doctor                              the default test: 10,000 connections, built-in server\n  \
wsload doctor -c 50000 --source-ip 127.0.0.1,127.0.0.2\n  \
wsload doctor -c 100000 --rate 2 --cores 0-3 --external-server\n\n\
Exit status: 0 the load fits (warnings allowed); 1 something fails (see the FAIL lines); \
2 bad arguments."
)]
pub struct DoctorArgs {
    /// N: the connections the run would open to one target.
    #[arg(short = 'c', long, default_value_t = 10_000)]
    pub connections: u64,

    /// Messages per second per connection (as in `wsload run --rate`); checks that the client
    /// cores can send N·R messages/s. Accepts `2`, `2/s`, `120/m`.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Client cores the run would use, a CPU list (`0`, `0-3`). Default: as `wsload run`,
    /// every available CPU but the built-in server's.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// Source addresses the run would bind (as in `wsload run --source-ip`: 127.0.0.1,127.0.0.2
    /// or 127.0.0.1-127.0.0.8, repeatable); each gives one more ephemeral port range towards the
    /// target.
    // One list per occurrence; read them with `source_ips()`.
    #[arg(long, value_parser = parse_ip_list, value_name = "IP,...")]
    pub source_ip: Vec<IpList>,

    /// The server runs on another host: skip its settings here (somaxconn, its open files)
    /// and check this host as a pure client. Run tuning/check.sh on the server host.
    #[arg(long)]
    pub external_server: bool,
}

impl RunArgs {
    /// Every `--source-ip` address, in the order given.
    pub fn source_ips(&self) -> Vec<IpAddr> {
        self.source_ip.concat()
    }
}

impl DoctorArgs {
    /// Every `--source-ip` address, in the order given.
    pub fn source_ips(&self) -> Vec<IpAddr> {
        self.source_ip.concat()
    }
}

#[cfg(test)]
mod source_ip_tests {
    use super::*;
    use clap::Parser;

    fn ips(list: &str) -> Vec<IpAddr> {
        list.split(' ').map(|a| a.parse().unwrap()).collect()
    }

    /// `--source-ip` as a list, a range, repeated, for `run`, the bare form and `doctor`.
    #[test]
    fn source_ip_forms() {
        let table: &[(&[&str], &str)] = &[
            (&["--source-ip", "127.0.0.1,127.0.0.2"], "127.0.0.1 127.0.0.2"),
            (&["--source-ip", "127.0.0.1-127.0.0.3"], "127.0.0.1 127.0.0.2 127.0.0.3"),
            (
                &["--source-ip", "127.0.0.1-2", "--source-ip", "::1"],
                "127.0.0.1 127.0.0.2 ::1",
            ),
            (
                &["--source-ip=127.0.0.5", "--source-ip", "127.0.0.1,127.0.0.9-10"],
                "127.0.0.5 127.0.0.1 127.0.0.9 127.0.0.10",
            ),
        ];
        for (args, want) in table {
            for sub in [&["wsload", "run"][..], &["wsload"], &["wsload", "doctor"]] {
                let argv: Vec<&str> = sub.iter().chain(args.iter()).copied().collect();
                let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
                let got = match cli.command {
                    Some(Command::Run(r)) => r.source_ips(),
                    Some(Command::Doctor(d)) => d.source_ips(),
                    None => cli.run.source_ips(),
                    _ => unreachable!(),
                };
                assert_eq!(got, ips(want), "{argv:?}");
            }
        }
        let none = Cli::try_parse_from(["wsload", "run"]).unwrap();
        let Some(Command::Run(r)) = none.command else {
            unreachable!()
        };
        assert!(r.source_ips().is_empty());

        let e = Cli::try_parse_from(["wsload", "run", "--source-ip", "127.0.0.8-1"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`127.0.0.8-1`: the range ends at 127.0.0.1 before it starts at 127.0.0.8"),
            "{e}"
        );
    }
}
