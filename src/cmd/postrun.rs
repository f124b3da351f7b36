//! After the run: once every connection has closed, give the server under test
//! a moment to settle, check that it still accepts a WebSocket connection, and
//! sample its open files and memory again, so a server that keeps descriptors
//! or memory after its clients left can be reported.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::proto::handshake::{self, Response};
use crate::sys::procstat::{self, TreeSample};

/// Longest wait for the server's open files to come back to their baseline.
pub const SETTLE_MAX: Duration = Duration::from_secs(3);
/// Open files above the baseline that still count as "back" (log files, timers, ...).
pub const FD_SLACK: u64 = 4;

/// The server once the run was over.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AfterRun {
    /// How long the check waited for the server to settle, seconds.
    pub settled_after_s: f64,
    /// Did a fresh WebSocket upgrade succeed after the run?
    pub accepts: bool,
    /// Why not, if it did not.
    pub accept_error: Option<String>,
    pub rss_bytes: u64,
    pub fds: u64,
    pub threads: u64,
}

/// Where and how to try one upgrade after the run.
pub struct Upgrade<'a> {
    pub addr: SocketAddr,
    /// Host header and path of the request.
    pub host: &'a str,
    pub path: &'a str,
    /// wss://: the run's roots and server name.
    pub tls: Option<&'a crate::tls::ClientTls>,
}

/// Settle, check, sample. `None` when the server process is gone.
pub fn check(pid: i32, how: &Upgrade<'_>, before: Option<&TreeSample>) -> Option<AfterRun> {
    let start = Instant::now();
    let baseline_fds = before.map(|b| b.fds);
    let mut now = procstat::sample_tree(pid).ok()?;
    while start.elapsed() < SETTLE_MAX && baseline_fds.is_some_and(|b| now.fds > b + FD_SLACK) {
        std::thread::sleep(Duration::from_millis(100));
        now = procstat::sample_tree(pid).ok()?;
    }
    let settled = start.elapsed().as_secs_f64();
    let accept = upgrade_once(how);
    // Sample after the check's own connection has been closed again.
    std::thread::sleep(Duration::from_millis(50));
    let last = procstat::sample_tree(pid).unwrap_or(now);
    Some(AfterRun {
        settled_after_s: (settled * 1e3).round() / 1e3,
        accepts: accept.is_ok(),
        accept_error: accept.err(),
        rss_bytes: last.rss_bytes,
        fds: last.fds,
        threads: last.threads,
    })
}

/// One blocking WebSocket upgrade (over TLS for wss://) with short timeouts.
fn upgrade_once(how: &Upgrade<'_>) -> Result<(), String> {
    let timeout = Duration::from_secs(2);
    let s = TcpStream::connect_timeout(&how.addr, timeout).map_err(|e| format!("TCP connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    match how.tls {
        None => upgrade_on(s, how.host, how.path),
        Some(t) => {
            let conn =
                rustls::ClientConnection::new(t.config(), t.server_name.clone()).map_err(|e| format!("TLS: {e}"))?;
            upgrade_on(rustls::StreamOwned::new(conn, s), how.host, how.path)
        }
    }
}

fn upgrade_on(mut s: impl Read + Write, host: &str, path: &str) -> Result<(), String> {
    let key = handshake::new_key();
    s.write_all(&handshake::client_request(host, path, &key, &[], &[], false))
        .map_err(|e| format!("sending the upgrade: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    loop {
        let n = s
            .read(&mut buf[filled..])
            .map_err(|e| format!("reading the upgrade response: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection during the upgrade".into());
        }
        filled += n;
        match handshake::parse_response(&buf[..filled], &key, &[], false) {
            Response::Partial if filled < buf.len() => continue,
            Response::Partial => return Err("upgrade response too long".into()),
            Response::Accepted { .. } => return Ok(()),
            Response::Rejected { status } => return Err(format!("upgrade refused with HTTP {status}")),
            Response::Invalid(why) => return Err(why),
        }
    }
}
