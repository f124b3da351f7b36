//! The live metrics endpoint (`run --metrics-listen`): a small HTTP server on its own thread
//! that answers `GET /metrics` with the last text the aggregator published.
//!
//! The aggregator renders the exposition text once per interval and swaps it in
//! ([`Endpoint::publish`]); a scrape only clones an `Arc` under the lock. Nothing here runs per
//! message. Connections are answered one at a time (a scraper asks once per scrape interval),
//! each bounded by a read and write timeout, and closed after the answer.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one scraper may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest request head read (a scrape's is a few hundred bytes).
const MAX_HEAD: usize = 8 * 1024;

/// Without `--metrics-hold`, the end of a run waits for a last scrape at most this many
/// scrape intervals (as seen between the last two scrapes), and never longer than `HOLD_CAP`.
const HOLD_INTERVALS: f64 = 1.5;
const HOLD_CAP: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    text: Arc<String>,
    /// The published text is the run's final figures.
    last: bool,
    /// The final figures have been served at least once.
    served_last: bool,
    /// When the last two scrapes were answered.
    scrapes: [Option<Instant>; 2],
}

struct Shared {
    state: Mutex<State>,
    served: Condvar,
    stop: AtomicBool,
}

/// A running endpoint; stopped when dropped.
pub struct Endpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Listen on `addr` (port 0: any free port, see [`Endpoint::addr`]) and start serving an
    /// empty page until the first [`Endpoint::publish`].
    pub fn bind(addr: SocketAddr) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            served: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wsload-metrics".into())
            .spawn(move || serve(listener, &s))?;
        Ok(Endpoint {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve `text` from now on; `last`: it holds the run's final figures.
    pub fn publish(&self, text: String, last: bool) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.text = Arc::new(text);
        st.last = last;
    }

    /// Wait until the final figures have been scraped once, so that a scraper's last sample is
    /// the run's own total: at most `max`, or (without it) about 1.5 scrape intervals as seen
    /// so far, capped at a minute. `None` when it did not wait (nothing ever scraped and no
    /// `max`); else whether the final figures were served.
    pub fn hold(&self, max: Option<Duration>) -> Option<bool> {
        let st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let limit = match (max, st.scrapes) {
            (Some(m), _) => m,
            (None, [Some(a), Some(b)]) => b.duration_since(a).mul_f64(HOLD_INTERVALS).min(HOLD_CAP),
            (None, [_, Some(_)]) => HOLD_CAP,
            (None, _) => return None,
        };
        let (st, _) = self
            .shared
            .served
            .wait_timeout_while(st, limit, |st| !st.served_last)
            .unwrap_or_else(|e| e.into_inner());
        Some(st.served_last)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        // Otherwise the thread is left blocked in accept; it ends with the process.
    }
}

fn serve(listener: TcpListener, shared: &Shared) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // A failed accept (a client that went away, out of descriptors) costs only that client.
        if let Ok(c) = conn {
            let _ = answer(c, shared);
        }
    }
}

fn answer(mut c: TcpStream, shared: &Shared) -> io::Result<()> {
    c.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    c.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let head = read_head(&mut c)?;
    let (status, body, scrape) = match request_line(&head) {
        Some(("GET" | "HEAD", "/metrics")) => {
            let st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            ("200 OK", Body::Metrics(st.text.clone(), st.last), true)
        }
        Some(("GET" | "HEAD", _)) => ("404 Not Found", Body::Text("not here: try /metrics\n"), false),
        Some(_) => ("405 Method Not Allowed", Body::Text("only GET /metrics\n"), false),
        None => ("400 Bad Request", Body::Text("not an HTTP request\n"), false),
    };
    let (bytes, content_type) = match &body {
        Body::Metrics(t, _) => (t.as_bytes(), "text/plain; version=0.0.4; charset=utf-8"),
        Body::Text(t) => (t.as_bytes(), "text/plain; charset=utf-8"),
    };
    let head_only = head.starts_with(b"HEAD ");
    write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )?;
    if !head_only {
        c.write_all(bytes)?;
    }
    c.flush()?;
    if scrape {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.scrapes = [st.scrapes[1], Some(Instant::now())];
        if let Body::Metrics(_, true) = body {
            st.served_last = true;
            shared.served.notify_all();
        }
    }
    Ok(())
}

enum Body {
    Metrics(Arc<String>, bool),
    Text(&'static str),
}

/// The request head, up to its blank line (or `MAX_HEAD` bytes).
fn read_head(c: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = c.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// Method and path (without its query) of a request head.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/") {
        return None;
    }
    Some((method, target.split('?').next().unwrap_or(target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            request_line(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(request_line(b"GET /metrics\r\n"), None);
        assert_eq!(request_line(b"\xff\xfe"), None);
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_the_last_text_and_notes_the_final_scrape() {
        let e = Endpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(get(e.addr(), "/metrics").starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(
            e.hold(Some(Duration::ZERO)),
            Some(false),
            "nothing final was served yet"
        );
        e.publish("a 1\n".into(), false);
        let r = get(e.addr(), "/metrics");
        assert!(r.ends_with("\r\n\r\na 1\n"), "{r}");
        assert!(r.contains("Content-Length: 4\r\n"), "{r}");
        assert!(r.contains("text/plain; version=0.0.4"), "{r}");
        assert!(get(e.addr(), "/").starts_with("HTTP/1.1 404"));
        e.publish("a 2\n".into(), true);
        assert_eq!(e.hold(Some(Duration::ZERO)), Some(false));
        assert!(get(e.addr(), "/metrics").ends_with("a 2\n"));
        assert_eq!(e.hold(None), Some(true), "the final figures were served");
    }

    #[test]
    fn hold_without_a_scraper_does_not_wait() {
        let e = Endpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        e.publish("a 1\n".into(), true);
        assert_eq!(e.hold(None), None);
    }
}
