//! The floor: the same traffic as `wsload run --rate R` with no framework at all, so that every
//! client's cost can be quoted as a ratio to the kernel's own per-packet cost (issue 14).
//!
//! One thread, one nonblocking socket per connection, one epoll set (level-triggered), the
//! WebSocket upgrade written by hand, and per message exactly one `send()` (a 70-byte masked
//! binary frame carrying wsload's stamp: 64-byte payload) and one `recv()` per readiness.
//! Open loop: connection `j` of `n` sends its `k`-th message at `start + (k + j/n) / rate`, so
//! all messages form one sequence `m = k*n + j` spaced `1 / (n*rate)` apart; every wakeup sends
//! all that are due, together. Latency is measured from the intended send time (corrected for
//! coordinated omission); the send delay is how late each message went out.
//!
//! Run (the bench harness adds `--bench`, which is ignored):
//!   cargo bench --bench floor -- --addr 127.0.0.1:9001 -c 10000 --rate 5 -d 15s --cpu 0
//! Flags (or environment):
//! - `--addr` HOST:PORT, IPv4 (FLOOR_ADDR; required);
//! - `-c`/`--connections` (FLOOR_CONNS, default 10,000);
//! - `--rate` messages per second per connection (FLOOR_RATE, default 1; 0 holds the connections
//!   open and idle, for memory figures);
//! - `-d`/`--duration` of the steady window (FLOOR_DURATION, default 15s);
//! - `--cpu` to pin to (FLOOR_CPU, default: not pinned);
//! - `--tick`, the shortest time between loop iterations (FLOOR_TICK, default 0: wake at the next
//!   due send; `1ms` batches a millisecond of sends and receives per loop, as libev-based tools
//!   such as tcpkali do, and adds up to that much latency);
//! - `--drain`, how long to wait for the last echoes after the window (FLOOR_DRAIN, default 2s).
//!
//! Output: progress on stderr, including `floor: ... steady window starts at T ns` (T on
//! CLOCK_MONOTONIC) when the load starts, so that an outside sampler of /proc/PID/stat can key
//! its window on it; then one JSON line on stdout: messages sent/received/lost, corrected and
//! uncorrected latency, send delay, and the process's own CPU over the steady window (from
//! /proc/self/stat). At exit every connection is reset (SO_LINGER 0), leaving no TIME_WAIT.

use std::io::Write;
use std::net::SocketAddrV4;
use std::time::Duration;

use wsload::proto::frame::{self, OpCode};
use wsload::proto::payload::{self, Stamp};

type Histogram = hdrhistogram::Histogram<u64>;

const PAYLOAD: usize = 64;
/// Handshakes (TCP connect + upgrade) in progress at once: enough to open 10,000 connections in
/// well under a second on loopback, few enough not to overflow the server's accept queue.
const CONNECT_WINDOW: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

struct Opts {
    addr: SocketAddrV4,
    conns: usize,
    rate: f64,
    duration: Duration,
    cpu: Option<usize>,
    tick: Duration,
    drain: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 15s, 500ms)"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

fn parse_opts() -> Result<Opts, String> {
    let env = |k: &str| std::env::var(k).ok();
    let mut addr = env("FLOOR_ADDR");
    let mut conns = env("FLOOR_CONNS");
    let mut rate = env("FLOOR_RATE");
    let mut duration = env("FLOOR_DURATION");
    let mut cpu = env("FLOOR_CPU");
    let mut tick = env("FLOOR_TICK");
    let mut drain = env("FLOOR_DRAIN");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let slot = match a.as_str() {
            "--bench" => continue,
            "--addr" => &mut addr,
            "-c" | "--connections" => &mut conns,
            "--rate" => &mut rate,
            "-d" | "--duration" => &mut duration,
            "--cpu" => &mut cpu,
            "--tick" => &mut tick,
            "--drain" => &mut drain,
            "-h" | "--help" => {
                return Err(
                    "usage: floor --addr HOST:PORT [-c N] [--rate R] [-d 15s] [--cpu C] [--tick 0] \
                            [--drain 2s]"
                        .into(),
                )
            }
            _ => return Err(format!("unknown argument {a:?} (see --help)")),
        };
        *slot = Some(args.next().ok_or_else(|| format!("{a} needs a value"))?);
    }
    let addr = addr.ok_or("--addr HOST:PORT (or FLOOR_ADDR) is required")?;
    let opts = Opts {
        addr: addr
            .parse()
            .map_err(|_| format!("bad --addr {addr:?}: an IPv4 HOST:PORT"))?,
        conns: conns
            .as_deref()
            .unwrap_or("10000")
            .parse()
            .map_err(|_| "bad --connections")?,
        rate: rate.as_deref().unwrap_or("1").parse().map_err(|_| "bad --rate")?,
        duration: parse_duration(duration.as_deref().unwrap_or("15s"))?,
        cpu: cpu.map(|c| c.parse().map_err(|_| "bad --cpu")).transpose()?,
        tick: parse_duration(tick.as_deref().unwrap_or("0"))?,
        drain: parse_duration(drain.as_deref().unwrap_or("2s"))?,
    };
    if opts.conns == 0 || !(opts.rate >= 0.0 && opts.rate.is_finite()) || opts.duration.is_zero() {
        return Err("--connections and --duration must be positive, --rate at least 0 (0: idle connections)".into());
    }
    Ok(opts)
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn fail(what: &str) -> ! {
    eprintln!("floor: {what}: {}", std::io::Error::last_os_error());
    std::process::exit(1)
}

/// CPU seconds (user + system) of this process, from /proc/self/stat.
fn cpu_self_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

fn raise_nofile(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        fail("getrlimit(RLIMIT_NOFILE)");
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: valid pointer to an rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            fail("setrlimit(RLIMIT_NOFILE)");
        }
    }
    if lim.rlim_cur < needed {
        eprintln!(
            "floor: {needed} open files needed, the limit is {} (hard {}): raise it with `ulimit -Hn {needed}` as root",
            lim.rlim_cur, lim.rlim_max
        );
        std::process::exit(1);
    }
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            fail(&format!("sched_setaffinity(cpu {cpu})"));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Connecting,
    Upgrading,
    Open,
    Dead,
}

struct Conn {
    fd: i32,
    state: State,
    /// Bytes received but not yet a whole frame (empty, and not allocated, almost always).
    inbuf: Vec<u8>,
    /// Bytes the kernel did not take yet (empty almost always); while non-empty, new frames queue here.
    out: Vec<u8>,
    /// Sequence number of the next echo expected.
    next_seq: u64,
}

struct Epoll {
    fd: i32,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    fn new() -> Epoll {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            fail("epoll_create1");
        }
        Epoll {
            fd,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 4096],
        }
    }

    fn ctl(&self, op: i32, fd: i32, events: u32, token: usize) {
        let mut ev = libc::epoll_event {
            events,
            u64: token as u64,
        };
        // SAFETY: valid epoll fd and event pointer.
        if unsafe { libc::epoll_ctl(self.fd, op, fd, &mut ev) } != 0 {
            fail("epoll_ctl");
        }
    }

    /// Wait up to `timeout_ns` (None: forever) with nanosecond resolution (epoll_pwait2, Linux
    /// 5.11+). Returns the number of events ready in `self.events`.
    fn wait(&mut self, timeout_ns: Option<u64>) -> usize {
        let ts = timeout_ns.map(|t| libc::timespec {
            tv_sec: (t / 1_000_000_000) as libc::time_t,
            tv_nsec: (t % 1_000_000_000) as libc::c_long,
        });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: valid epoll fd, events buffer of the given length, optional timespec, no sigmask.
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                self.fd,
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                tsp,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 {
            if errno() == libc::EINTR {
                return 0;
            }
            fail("epoll_pwait2 (needs Linux 5.11 or later)");
        }
        n as usize
    }
}

fn new_socket(addr: SocketAddrV4) -> Result<i32, i32> {
    // SAFETY: plain syscalls on a descriptor we own; the sockaddr is built in place.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(errno());
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if rc != 0 && errno() != libc::EINPROGRESS {
            let e = errno();
            libc::close(fd);
            return Err(e);
        }
        Ok(fd)
    }
}

fn so_error(fd: i32) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid pointers to an int and its length.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    err
}

/// One `send()`; returns the bytes taken, 0 for "would block", or Err(errno).
fn send(fd: i32, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: valid buffer and length.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n >= 0 {
        Ok(n as usize)
    } else {
        match errno() {
            libc::EAGAIN => Ok(0),
            e => Err(e),
        }
    }
}

/// One `recv()`; returns the bytes read (0: the peer closed), None for "would block", or Err(errno).
fn recv(fd: i32, buf: &mut [u8]) -> Result<Option<usize>, i32> {
    // SAFETY: valid buffer and length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n >= 0 {
        Ok(Some(n as usize))
    } else {
        match errno() {
            libc::EAGAIN => Ok(None),
            e => Err(e),
        }
    }
}

#[derive(Default)]
struct Counts {
    sent: u64,
    received: u64,
    corrupted: u64,
    out_of_order: u64,
    send_errors: u64,
    closed: u64,
    skipped: u64,
}

struct Floor {
    ep: Epoll,
    conns: Vec<Conn>,
    rbuf: Vec<u8>,
    frame: Vec<u8>,
    template: Vec<u8>,
    mask_state: u32,
    latency: Histogram,
    uncorrected: Histogram,
    send_delay: Histogram,
    counts: Counts,
}

fn histogram() -> Histogram {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn percentile(h: &Histogram, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

impl Floor {
    fn kill(&mut self, j: usize) {
        let c = &mut self.conns[j];
        if c.state != State::Dead {
            // SAFETY: closing a descriptor we own, once.
            unsafe { libc::close(c.fd) };
            c.state = State::Dead;
            c.inbuf = Vec::new();
            c.out = Vec::new();
        }
    }

    /// Close every connection with a reset (SO_LINGER 0): no TIME_WAIT sockets are left holding
    /// 10,000 ephemeral ports for a minute, which the next client of a sweep needs (tcpkali binds
    /// its source address, so it cannot reuse them).
    fn abort_all(&mut self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        for j in 0..self.conns.len() {
            if self.conns[j].state != State::Idle && self.conns[j].state != State::Dead {
                // SAFETY: a valid linger struct and its size, on a descriptor we own.
                unsafe {
                    libc::setsockopt(
                        self.conns[j].fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&linger as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    )
                };
                self.kill(j);
            }
        }
    }

    /// Open every connection (TCP connect + upgrade), at most CONNECT_WINDOW at a time.
    fn connect_all(&mut self, addr: SocketAddrV4) -> Result<(), String> {
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {REQUEST_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let n = self.conns.len();
        let deadline = now_ns() + CONNECT_TIMEOUT.as_nanos() as u64;
        let (mut next, mut in_progress, mut open) = (0usize, 0usize, 0usize);
        while open < n {
            while in_progress < CONNECT_WINDOW && next < n {
                let fd = new_socket(addr).map_err(|e| {
                    format!(
                        "connection {next}: socket/connect: {}",
                        std::io::Error::from_raw_os_error(e)
                    )
                })?;
                self.conns[next].fd = fd;
                self.conns[next].state = State::Connecting;
                self.ep
                    .ctl(libc::EPOLL_CTL_ADD, fd, (libc::EPOLLOUT | libc::EPOLLIN) as u32, next);
                next += 1;
                in_progress += 1;
            }
            let now = now_ns();
            if now >= deadline {
                return Err(format!("only {open} of {n} connections open after {CONNECT_TIMEOUT:?}"));
            }
            let ready = self.ep.wait(Some(deadline - now));
            for i in 0..ready {
                let j = self.ep.events[i].u64 as usize;
                let c = &mut self.conns[j];
                match c.state {
                    State::Connecting => {
                        let err = so_error(c.fd);
                        if err != 0 {
                            return Err(format!("connection {j}: {}", std::io::Error::from_raw_os_error(err)));
                        }
                        match send(c.fd, request.as_bytes()) {
                            Ok(k) if k == request.len() => {}
                            Ok(_) => return Err(format!("connection {j}: the upgrade request did not fit")),
                            Err(e) => return Err(format!("connection {j}: {}", std::io::Error::from_raw_os_error(e))),
                        }
                        c.state = State::Upgrading;
                        self.ep.ctl(libc::EPOLL_CTL_MOD, c.fd, libc::EPOLLIN as u32, j);
                    }
                    State::Upgrading => {
                        let got = match recv(c.fd, &mut self.rbuf) {
                            Ok(Some(0)) => return Err(format!("connection {j}: closed during the upgrade")),
                            Ok(Some(k)) => k,
                            Ok(None) => continue,
                            Err(e) => return Err(format!("connection {j}: {}", std::io::Error::from_raw_os_error(e))),
                        };
                        c.inbuf.extend_from_slice(&self.rbuf[..got]);
                        let Some(end) = c.inbuf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        if !c.inbuf.starts_with(b"HTTP/1.1 101") {
                            let line = String::from_utf8_lossy(&c.inbuf[..end]);
                            return Err(format!(
                                "connection {j}: upgrade refused: {}",
                                line.lines().next().unwrap_or("")
                            ));
                        }
                        // Nothing is sent before the upgrade completes, so nothing follows it.
                        c.inbuf = c.inbuf.split_off(end + 4);
                        c.state = State::Open;
                        in_progress -= 1;
                        open += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Send message `seq` of connection `j`, meant for `intended` (ns): one `send()`.
    fn send_one(&mut self, j: usize, seq: u64, intended: u64) {
        if self.conns[j].state != State::Open {
            self.counts.skipped += 1;
            return;
        }
        // xorshift32: a different mask for every frame, as a browser would use.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_state = x;
        let mask = x.to_le_bytes();
        self.frame.clear();
        frame::write_header(&mut self.frame, true, OpCode::Binary, PAYLOAD as u64, Some(mask));
        let start = self.frame.len();
        self.frame.extend_from_slice(&self.template);
        let now = now_ns();
        let delay = now.saturating_sub(intended);
        payload::write(
            &mut self.frame[start..],
            Stamp {
                seq,
                intended_ns: intended,
                delay_ns: delay,
            },
            false,
        );
        frame::apply_mask(&mut self.frame[start..], mask, 0);
        self.send_delay.saturating_record((delay / 1000).max(1));
        self.counts.sent += 1;
        let c = &mut self.conns[j];
        if !c.out.is_empty() {
            c.out.extend_from_slice(&self.frame);
            return;
        }
        match send(c.fd, &self.frame) {
            Ok(k) if k == self.frame.len() => {}
            Ok(k) => {
                c.out.extend_from_slice(&self.frame[k..]);
                self.ep
                    .ctl(libc::EPOLL_CTL_MOD, c.fd, (libc::EPOLLIN | libc::EPOLLOUT) as u32, j);
            }
            Err(_) => {
                self.counts.send_errors += 1;
                self.kill(j);
            }
        }
    }

    fn flush(&mut self, j: usize) {
        let c = &mut self.conns[j];
        match send(c.fd, &c.out) {
            Ok(k) => {
                c.out.drain(..k);
                if c.out.is_empty() {
                    c.out = Vec::new();
                    self.ep.ctl(libc::EPOLL_CTL_MOD, c.fd, libc::EPOLLIN as u32, j);
                }
            }
            Err(_) => {
                self.counts.send_errors += 1;
                self.kill(j);
            }
        }
    }

    /// One `recv()` on connection `j`, and every whole echo in it checked and recorded.
    fn receive(&mut self, j: usize) {
        let fd = self.conns[j].fd;
        let got = match recv(fd, &mut self.rbuf) {
            Ok(Some(0)) | Err(_) => {
                self.counts.closed += 1;
                self.kill(j);
                return;
            }
            Ok(Some(k)) => k,
            Ok(None) => return,
        };
        let now = now_ns();
        let mut pending = std::mem::take(&mut self.conns[j].inbuf);
        let data: &[u8] = if pending.is_empty() {
            &self.rbuf[..got]
        } else {
            pending.extend_from_slice(&self.rbuf[..got]);
            &pending
        };
        let mut pos = 0;
        let mut closed = false;
        while pos < data.len() {
            let h = match frame::parse_header(&data[pos..], false, 1 << 20) {
                Ok(Some(h)) if data.len() - pos >= h.frame_len() as usize => h,
                Ok(_) => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            };
            let body = &data[pos + h.header_len..pos + h.frame_len() as usize];
            pos += h.frame_len() as usize;
            match h.opcode {
                OpCode::Binary => match payload::read(body, false) {
                    Some(st) => {
                        self.counts.received += 1;
                        let c = &mut self.conns[j];
                        if st.seq != c.next_seq {
                            self.counts.out_of_order += 1;
                        }
                        c.next_seq = st.seq + 1;
                        let sent_at = st.intended_ns + st.delay_ns;
                        self.latency
                            .saturating_record((now.saturating_sub(st.intended_ns) / 1000).max(1));
                        self.uncorrected
                            .saturating_record((now.saturating_sub(sent_at) / 1000).max(1));
                    }
                    None => self.counts.corrupted += 1,
                },
                OpCode::Close => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        if closed {
            self.counts.closed += 1;
            self.kill(j);
            return;
        }
        let rest = &data[pos..];
        if !rest.is_empty() {
            let keep = rest.to_vec();
            self.conns[j].inbuf = keep;
        }
    }

    fn handle_events(&mut self, ready: usize) {
        for i in 0..ready {
            let ev = self.ep.events[i];
            let j = ev.u64 as usize;
            if self.conns[j].state != State::Open {
                continue;
            }
            if ev.events & libc::EPOLLOUT as u32 != 0 && !self.conns[j].out.is_empty() {
                self.flush(j);
            }
            if ev.events & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
                && self.conns[j].state == State::Open
            {
                self.receive(j);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("floor: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(cpu) = opts.cpu {
        pin(cpu);
    }
    raise_nofile(opts.conns as u64 + 64);
    let n = opts.conns;
    let mut fl = Floor {
        ep: Epoll::new(),
        conns: (0..n)
            .map(|_| Conn {
                fd: -1,
                state: State::Idle,
                inbuf: Vec::new(),
                out: Vec::new(),
                next_seq: 0,
            })
            .collect(),
        rbuf: vec![0; 64 * 1024],
        frame: Vec::with_capacity(PAYLOAD + frame::MAX_HEADER_LEN),
        template: payload::template(PAYLOAD),
        mask_state: 0x9E37_79B9,
        latency: histogram(),
        uncorrected: histogram(),
        send_delay: histogram(),
        counts: Counts::default(),
    };

    let t0 = now_ns();
    if let Err(e) = fl.connect_all(opts.addr) {
        eprintln!("floor: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let connect_s = (now_ns() - t0) as f64 / 1e9;

    // The steady window: message m (connection m % n, its message m / n) is due at start + m * period.
    let start = now_ns();
    let cpu0 = cpu_self_s();
    eprintln!("floor: {n} connections open in {connect_s:.3} s; steady window starts at {start} ns (CLOCK_MONOTONIC)");
    let _ = std::io::stderr().flush();
    let period = 1e9 / (n as f64 * opts.rate);
    let window_ns = opts.duration.as_nanos() as u64;
    let total = (window_ns as f64 / period).ceil() as u64;
    let end = start + window_ns;
    let drain_end = end + opts.drain.as_nanos() as u64;
    let tick = opts.tick.as_nanos() as u64;
    let intended = |m: u64| start + (m as f64 * period) as u64;
    let mut next = 0u64;
    let mut cpu1 = None;
    loop {
        let loop_start = now_ns();
        if next < total {
            let due = ((((loop_start - start) as f64) / period) as u64 + 1).min(total);
            while next < due {
                fl.send_one((next % n as u64) as usize, next / n as u64, intended(next));
                next += 1;
            }
        }
        let now = now_ns();
        if next >= total && cpu1.is_none() && now >= end {
            cpu1 = Some(cpu_self_s());
            eprintln!("floor: steady window ends");
        }
        let outstanding = fl.counts.sent - fl.counts.received - fl.counts.corrupted;
        let timeout = if next < total {
            Some(intended(next).saturating_sub(now))
        } else if outstanding > 0 && now < drain_end {
            Some(drain_end - now)
        } else if now < end {
            Some(end - now)
        } else {
            break;
        };
        if tick > 0 && now < loop_start + tick {
            let wake = loop_start + tick;
            let ts = libc::timespec {
                tv_sec: (wake / 1_000_000_000) as libc::time_t,
                tv_nsec: (wake % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: valid timespec; an early return (EINTR) only shortens the tick.
            unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
            let ready = fl.ep.wait(Some(0));
            fl.handle_events(ready);
        } else {
            let ready = fl.ep.wait(timeout);
            fl.handle_events(ready);
        }
    }
    let cpu_s = cpu1.unwrap_or_else(cpu_self_s) - cpu0;
    let c = &fl.counts;
    let window_s = opts.duration.as_secs_f64();
    let received_per_s = c.received as f64 / window_s;
    let line = serde_json::json!({
        "client": "floor",
        "connections": n,
        "rate_per_conn": opts.rate,
        "offered_per_s": n as f64 * opts.rate,
        "duration_s": window_s,
        "tick_us": tick / 1000,
        "connect_s": (connect_s * 1e3).round() / 1e3,
        "sent": c.sent,
        "received": c.received,
        "lost": c.sent - c.received - c.corrupted,
        "corrupted": c.corrupted,
        "out_of_order": c.out_of_order,
        "send_errors": c.send_errors,
        "closed": c.closed,
        "skipped": c.skipped,
        "received_per_s": (received_per_s * 10.0).round() / 10.0,
        "latency_us": {"p50": percentile(&fl.latency, 0.5), "p99": percentile(&fl.latency, 0.99),
                       "max": fl.latency.max()},
        "uncorrected_us": {"p50": percentile(&fl.uncorrected, 0.5), "p99": percentile(&fl.uncorrected, 0.99)},
        "send_delay_us": {"p50": percentile(&fl.send_delay, 0.5), "p99": percentile(&fl.send_delay, 0.99)},
        "cpu_s": (cpu_s * 1e3).round() / 1e3,
        "cores": ((cpu_s / window_s) * 1e3).round() / 1e3,
        "cpu_s_per_million_msgs": if c.received > 0 { ((cpu_s / (c.received as f64 / 1e6)) * 100.0).round() / 100.0 } else { 0.0 },
    });
    println!("{line}");
    let _ = std::io::stdout().flush();
    fl.abort_all();
    std::process::ExitCode::SUCCESS
}
