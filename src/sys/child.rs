//! A wsload child process (the built-in echo server, the proxy): started from this
//! executable, tied to our life, its `listening on ADDR` line awaited, stopped by PID.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The built-in echo server, running as a child process (both ends of 10,000
/// connections do not fit under one process's open-file limit). Also the proxy's process
/// (`proxy::child`), which announces its address the same way.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
    /// The rest of its stdout, after the `listening on ADDR` line.
    pub stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl ChildServer {
    /// The built-in echo server (`wsload serve`) on one CPU, on a port the kernel picks.
    pub fn start_echo_server(cpu: usize) -> anyhow::Result<ChildServer> {
        let args = [
            "serve",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--cores",
            &cpu.to_string(),
        ]
        .map(String::from);
        ChildServer::spawn(&args, "the built-in echo server", false)
    }

    /// Start `wsload ARGS...` and wait for its `listening on ADDR` line. `what` names it in
    /// errors; with `stdin`, its stdin is a pipe (taken from `child.stdin`), else /dev/null.
    pub fn spawn(args: &[String], what: &str, stdin: bool) -> anyhow::Result<ChildServer> {
        let exe =
            std::env::current_exe().with_context(|| format!("cannot find the wsload executable to start {what}"))?;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                // Die with us, and stay out of the terminal's Ctrl-C: we stop it ourselves after the drain.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start {what}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        // Keep draining the child's stderr so it can never block on a full pipe; keep the start.
        let (err_tx, err_rx) = crossbeam_channel::bounded::<String>(1);
        std::thread::spawn(move || {
            let mut first = Vec::new();
            let mut buf = [0u8; 4096];
            let mut sent = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if first.len() < 4096 {
                    first.extend_from_slice(&buf[..n]);
                }
                if !sent && first.contains(&b'\n') {
                    sent = err_tx.send(String::from_utf8_lossy(&first).into_owned()).is_ok();
                }
            }
            if !sent {
                let _ = err_tx.send(String::from_utf8_lossy(&first).into_owned());
            }
        });
        let (line_tx, line_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut out = BufReader::new(stdout);
            let _ = out.read_line(&mut line);
            let _ = line_tx.send((line, out));
        });
        let (line, out) = match line_rx.recv_timeout(Duration::from_secs(15)) {
            Ok((l, o)) => (l, Some(o)),
            Err(_) => (String::new(), None),
        };
        let addr = line.trim().strip_prefix("listening on ").and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(ChildServer {
                child,
                addr,
                stdout: out,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let why = err_rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
                bail!("{what} did not start: {}", why.trim())
            }
        }
    }

    pub fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
