//! Helpers shared by the integration tests: peers (the Python servers in
//! tests/peers/ and `wsload serve`) that are killed when dropped, and runs of
//! `wsload run` bounded by a watchdog, with their summary.json parsed.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The wsload binary under test.
pub const WSLOAD: &str = env!("CARGO_BIN_EXE_wsload");

/// How long a peer may take to print its port line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Default wall-clock bound on one `wsload run` (runs in these tests take a few seconds).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of a file in tests/peers/.
pub fn peer_script(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("peers")
        .join(script)
}

/// The Python interpreter that runs tests/peers/: `$WSLOAD_TEST_PYTHON` if set, else the
/// virtual environment `scripts/test.sh` makes (target/pyenv, with tests/peers/requirements.txt
/// installed), else `python3` from PATH (which then needs those packages itself).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WSLOAD_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python3");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Collects everything a child writes to one pipe, in a background thread,
/// so the child can never block on a full pipe.
struct Collector {
    text: Arc<Mutex<String>>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Read `pipe` line by line; every line is kept and also sent on `lines` (if given).
    fn start<R: Read + Send + 'static>(pipe: R, lines: Option<mpsc::Sender<String>>) -> Collector {
        let text = Arc::new(Mutex::new(String::new()));
        let keep = text.clone();
        let thread = std::thread::spawn(move || {
            let mut r = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        keep.lock().unwrap().push_str(&line);
                        if let Some(tx) = &lines {
                            let _ = tx.send(line.trim_end().to_string());
                        }
                    }
                }
            }
        });
        Collector {
            text,
            thread: Some(thread),
        }
    }

    /// What was collected so far.
    fn snapshot(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything, once the pipe is closed (the child has exited).
    fn finish(mut self) -> String {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.snapshot()
    }
}

/// A server process (a Python peer or `wsload serve`), killed and reaped when dropped.
pub struct Peer {
    pub child: Child,
    pub port: u16,
    stdout: Collector,
    stderr: Collector,
}

impl Peer {
    /// `ws://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// What the peer wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.snapshot()
    }

    /// What the peer wrote to stdout so far (`wsload proxy`'s JSON lines).
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// Is the process still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `cmd` (stdout and stderr piped) and wait for its first stdout line, which
/// `parse_port` turns into the port it listens on.
fn spawn_server(mut cmd: Command, what: &str, parse_port: impl Fn(&str) -> Option<u16>) -> Peer {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let (tx, rx) = mpsc::channel();
    let stdout = Collector::start(child.stdout.take().expect("piped"), Some(tx));
    let stderr = Collector::start(child.stderr.take().expect("piped"), None);
    let first = rx.recv_timeout(READY_TIMEOUT);
    let port = first.as_deref().ok().and_then(&parse_port);
    let mut peer = Peer {
        child,
        port: 0,
        stdout,
        stderr,
    };
    match port {
        Some(p) => {
            peer.port = p;
            peer
        }
        None => {
            let _ = peer.child.kill();
            let _ = peer.child.wait();
            panic!(
                "{what} did not announce its port; first stdout line: {first:?}; stderr:\n{}",
                peer.stderr.snapshot()
            );
        }
    }
}

/// Start `python3 tests/peers/SCRIPT ARGS... --max-seconds 90` (with [`python`]) and read its
/// `PORT <n>` line.
pub fn spawn_peer(script: &str, args: &[&str]) -> Peer {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script(script)).args(args);
    if !args.contains(&"--max-seconds") {
        cmd.args(["--max-seconds", "90"]);
    }
    spawn_server(cmd, script, |line| {
        line.trim().strip_prefix("PORT ")?.trim().parse().ok()
    })
}

/// `bad_server.py --mode MODE` plus extra arguments.
pub fn spawn_bad_server(mode: &str, extra: &[&str]) -> Peer {
    let mut args = vec!["--mode", mode];
    args.extend_from_slice(extra);
    spawn_peer("bad_server.py", &args)
}

/// Start `wsload serve --port 0 --cores 1 --for 90s` and read its `listening on ADDR` line.
pub fn spawn_wsload_server() -> Peer {
    spawn_wsload_server_with(&[])
}

/// `wsload serve --port 0 --cores 1 --for 90s EXTRA...`
pub fn spawn_wsload_server_with(extra: &[&str]) -> Peer {
    let mut cmd = Command::new(WSLOAD);
    cmd.args(["serve", "--port", "0", "--cores", "1", "--for", "90s"])
        .args(extra);
    spawn_server(cmd, "wsload serve", |line| {
        let addr: std::net::SocketAddr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        Some(addr.port())
    })
}

/// `wsload proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT --cores 1 --for 90s EXTRA...`,
/// its port read from its `listening on ADDR` line.
pub fn spawn_wsload_proxy(upstream: u16, extra: &[&str]) -> Peer {
    let mut cmd = Command::new(WSLOAD);
    cmd.args(["proxy", "--listen", "127.0.0.1:0", "--cores", "1", "--for", "90s"])
        .arg("--upstream")
        .arg(format!("127.0.0.1:{upstream}"))
        .args(extra);
    spawn_server(cmd, "wsload proxy", |line| {
        let addr: std::net::SocketAddr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        Some(addr.port())
    })
}

/// `wsload serve --port 0 --cores 1 --for 90s` started through `prefix`, a command that sets
/// something up and then execs the server in its own process (`prlimit --nofile=300:300`), so
/// the peer's pid is the server's.
pub fn spawn_wsload_server_via(prefix: &[&str]) -> Peer {
    let mut cmd = Command::new(prefix[0]);
    cmd.args(&prefix[1..])
        .arg(WSLOAD)
        .args(["serve", "--port", "0", "--cores", "1", "--for", "90s"]);
    spawn_server(cmd, "wsload serve", |line| {
        let addr: std::net::SocketAddr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        Some(addr.port())
    })
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty results directory, unique per run, named after the test.
pub fn fresh_dir() -> PathBuf {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("wsload-it-{}-{test}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A `wsload run` in progress.
pub struct Running {
    pub child: Child,
    pub out_dir: PathBuf,
    /// stderr, line by line, as it is written.
    pub stderr_lines: Receiver<String>,
    started: Instant,
    stdout: Option<Collector>,
    stderr: Option<Collector>,
}

/// A finished `wsload run`.
pub struct Outcome {
    /// Exit code; `None` if the process died of a signal.
    pub code: Option<i32>,
    pub status: ExitStatus,
    /// DIR/summary.json, parsed, if the run wrote one.
    pub summary: Option<Value>,
    pub stdout: String,
    pub stderr: String,
    pub out_dir: PathBuf,
    /// The watchdog had to kill the run.
    pub killed_by_watchdog: bool,
}

impl Running {
    /// What the run wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.as_ref().map(Collector::snapshot).unwrap_or_default()
    }

    /// Wait up to `within` for a stderr line that `ok` accepts, and return it. Panics, naming
    /// `what` and showing the stderr so far, if none comes (or the run ends first).
    pub fn wait_for_line(&self, within: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if ok(&line) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no {what} within {within:?}; stderr so far:\n{}", self.stderr_so_far()),
            }
        }
    }

    /// Send `signal` (e.g. "INT") to the run with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{signal} {} failed", self.child.id());
    }

    /// Wait for the run to end; a watchdog kills it after `limit`.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let deadline = self.started + limit;
        let mut killed = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    killed = true;
                    let _ = self.child.kill();
                    break self.child.wait().expect("wait for wsload");
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("cannot wait for wsload: {e}"),
            }
        };
        let stdout = self.stdout.take().map(Collector::finish).unwrap_or_default();
        let stderr = self.stderr.take().map(Collector::finish).unwrap_or_default();
        let out_dir = std::mem::take(&mut self.out_dir);
        let path = out_dir.join("summary.json");
        let summary = std::fs::read(&path).ok().map(|bytes| {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}\nstderr:\n{stderr}", path.display()))
        });
        Outcome {
            code: status.code(),
            status,
            summary,
            stdout,
            stderr,
            out_dir,
            killed_by_watchdog: killed,
        }
    }
}

impl Drop for Running {
    /// A run abandoned by a failing test is killed, not left behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Start `wsload ARGS... --out DIR` with DIR fresh and unique (nothing else is added).
pub fn start_wsload(args: &[&str]) -> Running {
    start_wsload_env(args, &[])
}

/// `start_wsload` with environment variables set for the run (the engine's tunables).
pub fn start_wsload_env(args: &[&str], env: &[(&str, &str)]) -> Running {
    let out_dir = fresh_dir();
    let mut cmd = Command::new(WSLOAD);
    cmd.args(args)
        .envs(env.iter().copied())
        .arg("--out")
        .arg(&out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start wsload");
    let (tx, rx) = mpsc::channel();
    let stdout = Collector::start(child.stdout.take().expect("piped"), None);
    let stderr = Collector::start(child.stderr.take().expect("piped"), Some(tx));
    Running {
        child,
        out_dir,
        stderr_lines: rx,
        started,
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
}

/// Run `wsload ARGS... --out DIR` to the end (watchdog: [`RUN_TIMEOUT`]).
pub fn run_wsload(args: &[&str]) -> Outcome {
    start_wsload(args).wait(RUN_TIMEOUT)
}

impl Outcome {
    /// The parsed summary.json; panics (showing stderr) if the run wrote none.
    pub fn summary(&self) -> &Value {
        self.summary.as_ref().unwrap_or_else(|| {
            panic!(
                "no summary.json in {} (exit {:?})\nstderr:\n{}",
                self.out_dir.display(),
                self.status,
                self.stderr
            )
        })
    }

    /// An unsigned number at `path` (`/messages/sent`) in the summary.
    pub fn num(&self, path: &str) -> u64 {
        self.summary()
            .pointer(path)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("summary has no unsigned number at {path}:\n{}", self.pretty()))
    }

    /// The summary printed on stdout (with `--json`), parsed.
    pub fn stdout_json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON: {e}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The summary, pretty-printed, for assertion messages.
    pub fn pretty(&self) -> String {
        match &self.summary {
            Some(v) => format!(
                "{}\nstderr:\n{}",
                serde_json::to_string_pretty(v).unwrap_or_default(),
                self.stderr
            ),
            None => format!("(no summary)\nstderr:\n{}", self.stderr),
        }
    }

    /// Assert the run ended by itself (the watchdog did not kill it) with exit code `code`.
    pub fn assert_exit(&self, code: i32) {
        assert!(
            !self.killed_by_watchdog,
            "wsload did not finish within {RUN_TIMEOUT:?}; stderr:\n{}",
            self.stderr
        );
        assert_eq!(
            self.code,
            Some(code),
            "exit status {:?}\n{}",
            self.status,
            self.pretty()
        );
    }

    /// Assert a clean run: exit 0, every connection open and every message echoed intact.
    pub fn assert_clean(&self) {
        self.assert_exit(0);
        let ctx = self.pretty();
        let target = self.num("/connections/target");
        assert!(target > 0, "{ctx}");
        assert_eq!(self.num("/connections/established"), target, "{ctx}");
        assert_eq!(self.num("/connections/failed"), 0, "{ctx}");
        assert_eq!(self.num("/connections/dropped"), 0, "{ctx}");
        let sent = self.num("/messages/sent");
        assert!(sent > 0, "no message sent\n{ctx}");
        assert_eq!(self.num("/messages/received"), sent, "{ctx}");
        for k in ["lost", "lost_by_drop", "corrupted", "duplicated", "out_of_order"] {
            assert_eq!(self.num(&format!("/messages/{k}")), 0, "messages.{k}\n{ctx}");
        }
        assert_eq!(self.summary()["partial"], Value::Bool(false), "{ctx}");
        let errors = self.summary()["errors"].as_object().expect("errors object");
        for (k, v) in errors {
            assert_eq!(v.as_u64(), Some(0), "errors.{k}\n{ctx}");
        }
    }
}

impl Drop for Outcome {
    /// Remove the results directory, unless the test is failing (keep it to look at).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.out_dir);
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Write a scenario file into a fresh directory; returns its path.
pub fn scenario_file(text: &str) -> PathBuf {
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).expect("create scenario dir");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// `wsload serve` on a given port (for tests that kill and restart it).
pub fn spawn_wsload_server_on(port: u16) -> Peer {
    let mut cmd = Command::new(WSLOAD);
    cmd.args(["serve", "--port", &port.to_string(), "--cores", "1", "--for", "90s"]);
    spawn_server(cmd, "wsload serve", |line| {
        let addr: std::net::SocketAddr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        Some(addr.port())
    })
}

/// A float at `path` in a JSON value.
pub fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {path} in {v}"))
}
