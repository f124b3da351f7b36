//! One proxied connection on one core: accept (or refuse), connect upstream, forward both
//! directions, and end the connection when a toxic says so.
//!
//! A direction with no toxic that touches its bytes is a plain read → write loop on one reused
//! buffer. Otherwise a reader task stamps each chunk (delay, slice, corruption, byte limits) and
//! queues it, and a writer task waits for each chunk's due time, stalls and bandwidth, and
//! writes it: the queue keeps chunks in order, so latency never reorders bytes, and it is
//! bounded, so a slow direction pushes back on its sender as TCP would.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::engine::runtime::{sleep, TcpListener, TcpStream};
use futures_lite::future::{self, poll_fn};
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::spec::{Kind, Toxic, Trigger};
use super::stats::{CoreStats, Counter};
use super::toxics::{cut_at, flip_last, jittered, rate_deadline, stall_left, Bucket, Clock, Rng};

/// Bytes read at once per direction.
const CHUNK: usize = 16 * 1024;
/// Chunks queued per shaped direction (at most CHUNK bytes each).
const QUEUE: usize = 16;
/// How long a clean close waits for both ends to finish.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What one core's connections share.
pub struct Core {
    pub toxics: Vec<Toxic>,
    pub clock: Arc<Clock>,
    pub stats: Arc<CoreStats>,
    pub rng: RefCell<Rng>,
    pub upstream: SocketAddr,
    /// When the proxy started: the stall cycle of an always-on stall toxic counts from here.
    pub started: Instant,
}

impl Core {
    fn unit(&self) -> f64 {
        self.rng.borrow_mut().unit()
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Both directions reached end of file.
    Done,
    /// A read or write failed (a peer reset): the other end is reset too.
    Failed,
    Reset,
    Close,
}

type Stream = Rc<RefCell<TcpStream>>;

struct Conn {
    core: Rc<Core>,
    /// Bit i: toxic i applies to this connection.
    picked: u64,
    accepted: Instant,
    /// Bytes forwarded: [upstream, downstream].
    moved: [Cell<u64>; 2],
    swallowing: [Cell<bool>; 2],
    timed_out: Cell<bool>,
    end: Cell<Option<End>>,
    waker: Cell<Option<Waker>>,
}

impl Conn {
    /// The toxics that apply to this connection, with their index.
    fn toxics(&self) -> impl Iterator<Item = (usize, &Toxic)> {
        self.core
            .toxics
            .iter()
            .enumerate()
            .filter(|(i, _)| self.picked & (1 << i) != 0)
    }

    /// Those acting now on direction `up` (`true`: client → server).
    fn acting(&self, up: bool, t: Option<Duration>) -> impl Iterator<Item = &Toxic> {
        self.toxics()
            .map(|(_, x)| x)
            .filter(move |x| x.direction.covers(up) && x.active(t))
    }

    fn finish(&self, e: End) {
        if self.end.get().is_none() {
            self.end.set(Some(e));
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    /// Resolves once something ended the connection.
    async fn ended(&self) -> End {
        poll_fn(|cx| match self.end.get() {
            Some(e) => Poll::Ready(e),
            None => {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// Bytes moved in the directions `t` covers.
    fn moved_for(&self, t: &Toxic) -> u64 {
        let (up, down) = (self.moved[0].get(), self.moved[1].get());
        match (t.direction.covers(true), t.direction.covers(false)) {
            (true, true) => up + down,
            (true, false) => up,
            _ => down,
        }
    }

    /// Fail the connection and never resolve (the connection's race then ends it).
    async fn fail<T>(&self) -> T {
        self.finish(End::Failed);
        future::pending().await
    }
}

/// Does the toxic act on the bytes themselves (as opposed to whole connections)?
fn shapes_bytes(t: &Toxic) -> bool {
    !t.whole_connection()
}

fn byte_counter(up: bool) -> Counter {
    if up {
        Counter::BytesUpstream
    } else {
        Counter::BytesDownstream
    }
}

async fn read(s: &Stream, buf: &mut [u8]) -> std::io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *s.borrow_mut()).poll_read(cx, buf)).await
}

async fn write_all(s: &Stream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

fn shutdown_write(s: &Stream) {
    // SAFETY: shutdown(2) on a socket this connection owns.
    unsafe { libc::shutdown(s.borrow().as_raw_fd(), libc::SHUT_WR) };
}

/// SO_LINGER 0: closing the socket then sends a TCP reset.
fn arm_reset(fd: i32) {
    // SAFETY: `fd` is a socket this connection owns and keeps open for the call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = socket2::SockRef::from(&b).set_linger(Some(Duration::ZERO));
}

async fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        sleep(t - now).await;
    }
}

pub async fn accept_loop(listener: TcpListener, core: Rc<Core>) {
    loop {
        match listener.accept().await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                crate::engine::runtime::spawn_detached(handle(core.clone(), s));
            }
            Err(e) => {
                // Out of descriptors or similar: back off instead of spinning.
                eprintln!("wsload proxy: accept failed: {e}");
                sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn handle(core: Rc<Core>, client: TcpStream) {
    let stats = core.stats.clone();
    stats.add(Counter::Accepted, 1);
    let Some(picked) = admit(&core) else {
        arm_reset(client.as_raw_fd());
        stats.add(Counter::Refused, 1);
        return;
    };
    let connect = async { TcpStream::connect(core.upstream).await };
    let timeout = async {
        sleep(Duration::from_secs(10)).await;
        Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
    };
    let server = match future::or(connect, timeout).await {
        Ok(s) => s,
        Err(e) => {
            stats.add(Counter::UpstreamFailed, 1);
            eprintln!("wsload proxy: cannot connect to the upstream {}: {e}", core.upstream);
            arm_reset(client.as_raw_fd());
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let conn = Rc::new(Conn {
        core,
        picked,
        accepted: Instant::now(),
        moved: Default::default(),
        swallowing: Default::default(),
        timed_out: Cell::new(false),
        end: Cell::new(None),
        waker: Cell::new(None),
    });
    let (client, server): (Stream, Stream) = (Rc::new(RefCell::new(client)), Rc::new(RefCell::new(server)));
    let end = {
        let up = forward(&conn, true, &client, &server);
        let down = forward(&conn, false, &server, &client);
        future::or(fate(&conn), async {
            future::zip(up, down).await;
            End::Done
        })
        .await
    };
    end_both(end, &stats, client, server).await;
    stats.add(Counter::Ended, 1);
}

/// Whether a new connection gets through (a `down` toxic refuses it), and if it does, which
/// toxics apply to it (bit i: toxic i, each drawn with its `fraction`).
fn admit(core: &Core) -> Option<u64> {
    let t = core.clock.now();
    let refuse = core
        .toxics
        .iter()
        .filter(|x| matches!(x.kind, Kind::Down) && x.active(t))
        .any(|x| core.rng.borrow_mut().chance(x.fraction));
    if refuse {
        return None;
    }
    let mut picked = 0u64;
    for (i, x) in core.toxics.iter().enumerate() {
        if core.rng.borrow_mut().chance(x.fraction) {
            picked |= 1 << i;
        }
    }
    Some(picked)
}

/// End both sides the way the connection ended: as they are, with a reset, or with a clean
/// close (FIN both ways, both ends read out so that closing sends no reset).
async fn end_both(end: End, stats: &CoreStats, client: Stream, server: Stream) {
    let fds = [client.borrow().as_raw_fd(), server.borrow().as_raw_fd()];
    match end {
        End::Done => {}
        End::Failed => fds.into_iter().for_each(arm_reset),
        End::Reset => {
            fds.into_iter().for_each(arm_reset);
            stats.add(Counter::Resets, 1);
        }
        End::Close => {
            stats.add(Counter::Closes, 1);
            shutdown_write(&client);
            shutdown_write(&server);
            let drain = |s: Stream| async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = read(&s, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            let both = future::zip(drain(client), drain(server));
            future::or(
                async {
                    both.await;
                },
                sleep(CLOSE_GRACE),
            )
            .await;
        }
    }
}

/// Resolves when a rate-triggered reset or close toxic ends the connection, or when anything
/// else did (`Conn::finish`).
async fn fate(conn: &Conn) -> End {
    let core = &conn.core;
    let timed: Vec<(End, &Toxic, Duration)> = conn
        .toxics()
        .filter_map(|(_, x)| match x.kind {
            Kind::Reset {
                trigger: Trigger::Rate(r),
            } => Some((End::Reset, x, r)),
            Kind::Close {
                trigger: Trigger::Rate(r),
            } => Some((End::Close, x, r)),
            _ => None,
        })
        .map(|(e, x, r)| (e, x, super::toxics::exponential(r, core.unit())))
        .collect();
    let timer = async {
        if timed.is_empty() {
            return future::pending().await;
        }
        loop {
            // The earliest deadline on the wall clock; windows need the toxics' clock.
            let mut next: Option<(Instant, End)> = None;
            let mut waiting = false;
            for &(e, x, wait) in &timed {
                let at = match x.window() {
                    None => Some(conn.accepted + wait),
                    Some((start, end)) => match core.clock.origin() {
                        None => {
                            waiting = true;
                            None
                        }
                        Some(o) => {
                            let from = conn.accepted.saturating_duration_since(o);
                            rate_deadline(from, start, end, wait).map(|d| o + d)
                        }
                    },
                };
                if let Some(at) = at {
                    if next.is_none_or(|(n, _)| at < n) {
                        next = Some((at, e));
                    }
                }
            }
            match next {
                Some((at, e)) if !waiting => {
                    sleep_until(at).await;
                    return e;
                }
                Some((at, e)) if Instant::now() >= at => return e,
                None if !waiting => return future::pending().await,
                // The clock has not started: look again shortly.
                _ => sleep(Duration::from_millis(20)).await,
            }
        }
    };
    future::or(conn.ended(), timer).await
}

/// Forward one direction until end of file (then pass the FIN on). Never returns on failure:
/// the connection's race ends it.
async fn forward(conn: &Conn, up: bool, src: &Stream, dst: &Stream) {
    let shaped = conn.toxics().any(|(_, x)| x.direction.covers(up) && shapes_bytes(x));
    if shaped {
        return shaped_forward(conn, up, src, dst).await;
    }
    let stats = &conn.core.stats;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match read(src, &mut buf).await {
            Ok(n) => n,
            Err(_) => return conn.fail().await,
        };
        if n == 0 {
            shutdown_write(dst);
            return;
        }
        stats.add(byte_counter(up), n as u64);
        if write_all(dst, &buf[..n]).await.is_err() {
            return conn.fail().await;
        }
    }
}

enum Piece {
    Data {
        due: Instant,
        buf: Vec<u8>,
        /// Write in pieces of this size, this far apart.
        slice: Option<(usize, Duration)>,
    },
    /// End the connection (a byte-triggered reset or close), after what was queued before.
    End(End),
    Eof,
}

/// Forward one direction through the byte-shaping toxics: a reader that decides each chunk's
/// fate as it arrives, and a writer that sends it when due, at the pace the toxics allow.
async fn shaped_forward(conn: &Conn, up: bool, src: &Stream, dst: &Stream) {
    let (tx, rx) = crate::engine::runtime::channel::<Piece>(QUEUE);
    let free: RefCell<Vec<Vec<u8>>> = RefCell::new(Vec::new());
    future::zip(
        shaped_read(conn, up, src, tx, &free),
        shaped_write(conn, up, dst, rx, &free),
    )
    .await;
}

/// What the toxics acting on a direction do to one chunk read from it.
struct ChunkFate {
    delay: Duration,
    slice: Option<(usize, Duration)>,
    /// A byte-triggered reset or close, and where in the chunk it cuts.
    end: Option<(End, usize)>,
}

/// Apply the toxics acting now on direction `up` to a chunk of `n` bytes (in `buf`): a timeout
/// starts swallowing, corruption flips a bit in place, the rest is returned.
fn chunk_fate(conn: &Conn, up: bool, buf: &mut [u8], n: usize) -> ChunkFate {
    let (core, stats, dir) = (&conn.core, &conn.core.stats, usize::from(!up));
    let mut fate = ChunkFate {
        delay: Duration::ZERO,
        slice: None,
        end: None,
    };
    let mut corrupted = false;
    for x in conn.acting(up, core.clock.now()) {
        match x.kind {
            Kind::Timeout => {
                conn.swallowing[dir].set(true);
                if !conn.timed_out.replace(true) {
                    stats.add(Counter::TimedOut, 1);
                }
            }
            Kind::Latency { delay: d, jitter } => fate.delay += jittered(d, jitter, core.unit()),
            Kind::Slice { size, delay } => fate.slice = Some((size, delay)),
            Kind::Corrupt { probability } if !corrupted && core.rng.borrow_mut().chance(probability) => {
                flip_last(buf, core.rng.borrow_mut().next_u64());
                corrupted = true;
                stats.add(Counter::ChunksCorrupted, 1);
            }
            Kind::Reset {
                trigger: Trigger::After(limit),
            }
            | Kind::Close {
                trigger: Trigger::After(limit),
            } if fate.end.is_none() => {
                if let Some(cut) = cut_at(limit, conn.moved_for(x), n) {
                    let e = if matches!(x.kind, Kind::Reset { .. }) {
                        End::Reset
                    } else {
                        End::Close
                    };
                    fate.end = Some((e, cut));
                }
            }
            _ => {}
        }
    }
    fate
}

/// The reader half of [`shaped_forward`]: read, decide each chunk's fate, queue it.
async fn shaped_read(
    conn: &Conn,
    up: bool,
    src: &Stream,
    tx: crate::engine::runtime::Sender<Piece>,
    free: &RefCell<Vec<Vec<u8>>>,
) {
    let (stats, dir) = (&conn.core.stats, usize::from(!up));
    let mut last_due = Instant::now();
    loop {
        let mut buf = free.borrow_mut().pop().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let n = match read(src, &mut buf).await {
            Ok(n) => n,
            Err(_) => return conn.fail().await,
        };
        if n == 0 {
            let _ = tx.send(Piece::Eof).await;
            return;
        }
        buf.truncate(n);
        stats.add(byte_counter(up), n as u64);
        let now = Instant::now();
        let fate = chunk_fate(conn, up, &mut buf, n);
        if conn.swallowing[dir].get() {
            stats.add(Counter::BytesSwallowed, n as u64);
            free.borrow_mut().push(buf);
            continue;
        }
        if let Some((_, cut)) = fate.end {
            buf.truncate(cut);
        }
        if !fate.delay.is_zero() {
            stats.add(Counter::BytesDelayed, buf.len() as u64);
        }
        conn.moved[dir].set(conn.moved[dir].get() + buf.len() as u64);
        let due = (now + fate.delay).max(last_due);
        last_due = due;
        let slice = fate.slice;
        if tx.send(Piece::Data { due, buf, slice }).await.is_err() {
            return;
        }
        if let Some((e, _)) = fate.end {
            let _ = tx.send(Piece::End(e)).await;
            return future::pending().await;
        }
    }
}

/// The writer half of [`shaped_forward`]: send each queued chunk when due, in slices, through
/// stalls and the bandwidth limit.
async fn shaped_write(
    conn: &Conn,
    up: bool,
    dst: &Stream,
    rx: crate::engine::runtime::Receiver<Piece>,
    free: &RefCell<Vec<Vec<u8>>>,
) {
    let stats = &conn.core.stats;
    let mut bucket: Option<Bucket> = None;
    while let Some(p) = rx.recv().await {
        let (due, buf, slice) = match p {
            Piece::Eof => {
                shutdown_write(dst);
                return;
            }
            Piece::End(e) => {
                conn.finish(e);
                return future::pending().await;
            }
            Piece::Data { due, buf, slice } => (due, buf, slice),
        };
        sleep_until(due).await;
        if slice.is_some() {
            stats.add(Counter::BytesSliced, buf.len() as u64);
        }
        let mut off = 0;
        while off < buf.len() {
            let mut len = buf.len() - off;
            let (stalled, rate) = pace_limits(conn, up);
            if let Some(left) = stalled {
                stats.add(Counter::BytesStalled, len as u64);
                sleep(left).await;
                continue;
            }
            if let Some((size, _)) = slice {
                len = len.min(size);
            }
            if let Some(r) = rate {
                let b = bucket.get_or_insert_with(|| Bucket::new(r));
                if b.bytes_per_s != r {
                    *b = Bucket::new(r);
                }
                len = len.min(b.piece());
                let wait = b.take(Instant::now(), len);
                if !wait.is_zero() {
                    stats.add(Counter::BytesThrottled, len as u64);
                    sleep(wait).await;
                }
            }
            if write_all(dst, &buf[off..off + len]).await.is_err() {
                return conn.fail().await;
            }
            off += len;
            match slice {
                Some((_, d)) if off < buf.len() && !d.is_zero() => sleep(d).await,
                _ => {}
            }
        }
        free.borrow_mut().push(buf);
    }
}

/// What holds back the writer of direction `up` now: how long a stall still lasts, and the
/// tightest bandwidth limit (bytes per second).
fn pace_limits(conn: &Conn, up: bool) -> (Option<Duration>, Option<u64>) {
    let core = &conn.core;
    let (mut stalled, mut rate) = (None, None);
    for x in conn.acting(up, core.clock.now()) {
        match x.kind {
            Kind::Stall { pause, every } => {
                let since = match (x.window(), core.clock.origin()) {
                    (Some((start, _)), Some(o)) => (o + start).elapsed(),
                    _ => core.started.elapsed(),
                };
                stalled = stalled.or(stall_left(since, pause, every));
            }
            Kind::Bandwidth { bytes_per_s } => rate = Some(rate.map_or(bytes_per_s, |r: u64| r.min(bytes_per_s))),
            _ => {}
        }
    }
    (stalled, rate)
}
