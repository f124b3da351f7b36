//! `run --metrics-listen`: a real Prometheus server scrapes a short run, and its HTTP API
//! gives back the run's sent and received counts exactly as summary.json has them.
//!
//! Needs the `prometheus` binary (Debian package `prometheus`; scripts/test.sh installs it).
//! The test starts its own Prometheus on 127.0.0.1 with a temporary configuration and
//! storage, and kills it (by its PID) when done.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long Prometheus may take to start, and to ingest the run's last scrape.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus server of the test's own, killed and reaped when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    /// Start Prometheus on 127.0.0.1:`port`, scraping 127.0.0.1:`target` every second.
    fn start(port: u16, target: u16) -> Prometheus {
        let dir = common::fresh_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: wsload\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start prometheus ({e}): install it with `apt-get install --no-install-recommends prometheus`")
            });
        let mut p = Prometheus { child, port, dir };
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        while http_get(p.port, "/-/ready").is_none_or(|(code, _)| code != 200) {
            assert!(
                matches!(p.child.try_wait(), Ok(None)),
                "prometheus exited:\n{}",
                p.log()
            );
            assert!(Instant::now() < deadline, "prometheus not ready:\n{}", p.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The value of an instant query that yields one sample, if it yields one.
    fn query(&self, q: &str) -> Option<f64> {
        let (code, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(q)))?;
        assert_eq!(code, 200, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{q}: {e}: {body}"));
        let result = v["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "{q}: {body}");
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Query until it yields a sample, for at most [`PROMETHEUS_TIMEOUT`].
    fn query_until(&self, q: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        loop {
            match self.query(q) {
                Some(x) if ok(x) => return x,
                got => assert!(
                    Instant::now() < deadline,
                    "{q}: {got:?} after {PROMETHEUS_TIMEOUT:?}\n{}",
                    self.log()
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A GET on 127.0.0.1:`port`: status code and body, or `None` if nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(c, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut r = Vec::new();
    c.read_to_end(&mut r).ok()?;
    let r = String::from_utf8_lossy(&r);
    let code = r.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((code, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encoding of a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    common::dead_port()
}

fn summary_count(dir: &Path, key: &str) -> u64 {
    let s: Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    s["messages"][key].as_u64().unwrap()
}

#[test]
fn prometheus_scrapes_the_run_and_its_last_sample_is_the_summary() {
    let (metrics_port, prometheus_port) = (free_port(), free_port());
    let prom = Prometheus::start(prometheus_port, metrics_port);
    // Prometheus applies its targets a few seconds after it starts: wait for its first scrape
    // attempt (failed, nothing listens yet) so that it scrapes the whole run.
    prom.query_until("up{job=\"wsload\"}", |_| true);
    let addr = format!("127.0.0.1:{metrics_port}");
    let run = common::start_wsload(&[
        "run",
        "-c",
        "50",
        "--rate",
        "20",
        "-d",
        "5s",
        "--cores",
        "0",
        "--metrics-listen",
        &addr,
    ]);
    let out_dir = run.out_dir.clone();
    let out = run.wait(common::RUN_TIMEOUT);
    out.assert_clean();
    assert!(
        out.stderr.contains(&format!("live metrics at http://{addr}/metrics")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("were not scraped"), "{}", out.stderr);
    // The run waited for a scrape of its final figures before it ended, so Prometheus holds them
    // (staleness markers hide the series from plain instant queries once the target is gone).
    prom.query_until("max_over_time(wsload_run_done[10m])", |x| x == 1.0);
    let (sent, received) = (summary_count(&out_dir, "sent"), summary_count(&out_dir, "received"));
    assert!(sent > 0);
    let last = |kind: &str| {
        prom.query_until(
            &format!("max_over_time(wsload_messages_total{{kind=\"{kind}\"}}[10m])"),
            |_| true,
        )
    };
    assert_eq!(last("sent"), sent as f64, "{}", out.pretty());
    assert_eq!(last("received"), received as f64, "{}", out.pretty());
    // And it was live: some scrape during the run saw fewer messages than the end.
    let first = prom.query_until("min_over_time(wsload_messages_total{kind=\"sent\"}[10m])", |_| true);
    assert!(first < sent as f64, "no scrape before the end: {first} of {sent}");
    // The histogram's count agrees with the summary's.
    let count = prom.query_until(
        "max_over_time(wsload_latency_histogram_seconds_count{kind=\"corrected\"}[10m])",
        |_| true,
    );
    assert_eq!(count, out.num("/latency_us/corrected/count") as f64);
}

#[test]
fn a_non_loopback_address_is_refused_unless_allowed() {
    let out = common::run_wsload(&["run", "-c", "1", "-d", "1s", "--metrics-listen", "0.0.0.0:9"]);
    out.assert_exit(2);
    assert!(out.stderr.contains("not a loopback address"), "{}", out.stderr);
    assert!(out.stderr.contains("--metrics-allow-remote"), "{}", out.stderr);
}

#[test]
fn a_taken_port_is_a_setup_error_that_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::run_wsload(&["run", "-c", "1", "-d", "1s", "--metrics-listen", &addr]);
    out.assert_exit(2);
    assert!(out.stderr.contains("cannot listen there"), "{}", out.stderr);
    assert!(out.summary.is_none(), "nothing was run");
}
