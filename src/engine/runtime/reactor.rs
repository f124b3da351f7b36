//! One core's io_uring and the readiness of its sockets.
//!
//! A socket is a slot here: its descriptor, whether it may be read or written without
//! blocking, and the waker of the task waiting on it. Readiness comes from polls on the ring: a
//! multishot poll for reading, armed the first time a read would block and kept for the
//! socket's life, and a one-shot poll for writing, armed only when a write would block. Each
//! poll's completion carries the slot and its generation, so a completion that arrives after
//! its socket closed (and the slot was reused) is ignored.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::task::Waker;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::ring::RingConfig;

const KIND_READ: u64 = 1;
const KIND_WRITE: u64 = 2;
/// `user_data` of requests whose completions need nothing (poll removals).
const IGNORE: u64 = 0;
/// IORING_ENTER_GETEVENTS.
const ENTER_GETEVENTS: u32 = 1;

const READ_EVENTS: u32 = (libc::POLLIN | libc::POLLRDHUP | libc::POLLERR | libc::POLLHUP) as u32;
const HANG_UP: u32 = (libc::POLLRDHUP | libc::POLLERR | libc::POLLHUP) as u32;
const WRITE_EVENTS: u32 = (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32;

fn user_data(kind: u64, idx: u32, gen: u32) -> u64 {
    (gen as u64) << 32 | (idx as u64) << 2 | kind
}

/// One registered socket (32 bytes and two wakers).
struct Sock {
    fd: RawFd,
    gen: u32,
    readable: bool,
    /// The peer shut its side or the socket failed: reads never block again, whatever a
    /// short read suggests (the hang-up's completion may have been taken before that read).
    hung_up: bool,
    writable: bool,
    read_armed: bool,
    write_armed: bool,
    /// Reads take the kernel's receive time (`TcpStream::keep_rx_stamps`).
    stamps: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

#[derive(Default)]
struct Socks {
    v: Vec<Sock>,
    free: Vec<u32>,
}

pub(crate) struct Reactor {
    ring: RefCell<IoUring<squeue::Entry, cqueue::Entry>>,
    socks: RefCell<Socks>,
    /// Completion batching (µs, events), when configured and the kernel has it.
    batch: Option<(u32, u32)>,
    /// Batching is on (see `batch_completions`).
    batching: std::cell::Cell<bool>,
    /// The receive time of the last stamped read (Unix ns; 0: none), see `net::take_rx_stamp`.
    pub(crate) rx_stamp: std::cell::Cell<u64>,
}

/// Try the best setup this kernel offers: SINGLE_ISSUER + DEFER_TASKRUN (6.1+: completions run
/// only when this thread enters the ring, no interrupting task work or IPIs), then
/// COOP_TASKRUN (5.19+), then a plain ring.
fn make_ring(cfg: RingConfig) -> io::Result<(IoUring, &'static str)> {
    let mut b = IoUring::builder();
    b.setup_cqsize(cfg.cq_entries)
        .setup_single_issuer()
        .setup_defer_taskrun();
    if let Ok(r) = b.build(cfg.entries) {
        return Ok((r, "SINGLE_ISSUER + DEFER_TASKRUN"));
    }
    let mut b = IoUring::builder();
    b.setup_cqsize(cfg.cq_entries).setup_coop_taskrun().setup_taskrun_flag();
    if let Ok(r) = b.build(cfg.entries) {
        return Ok((r, "COOP_TASKRUN"));
    }
    let mut b = IoUring::builder();
    b.setup_cqsize(cfg.cq_entries);
    b.build(cfg.entries).map(|r| (r, "plain")).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot set up an io_uring ({e}): wsload needs Linux 5.11 or later with io_uring enabled (sysctl kernel.io_uring_disabled=0)"),
        )
    })
}

impl Reactor {
    pub(crate) fn new(cfg: RingConfig) -> io::Result<Reactor> {
        let (ring, _mode) = make_ring(cfg)?;
        let batch = (cfg.batch_us > 0 && ring.params().is_feature_min_timeout())
            .then_some((cfg.batch_us, cfg.batch_events.max(1)));
        Ok(Reactor {
            ring: RefCell::new(ring),
            socks: RefCell::new(Socks::default()),
            batch,
            batching: std::cell::Cell::new(false),
            rx_stamp: std::cell::Cell::new(0),
        })
    }

    /// Queue a request; a full submission queue is submitted first.
    fn push(&self, e: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: poll and poll-remove requests point at no user memory.
            if unsafe { ring.submission().push(&e) }.is_ok() {
                return;
            }
            // Submission errors show up on the requests' completions.
            let _ = ring.submit();
        }
    }

    pub(crate) fn register(&self, fd: RawFd) -> u32 {
        let mut s = self.socks.borrow_mut();
        let sock = |gen| Sock {
            fd,
            gen,
            readable: true,
            hung_up: false,
            writable: true,
            read_armed: false,
            write_armed: false,
            stamps: false,
            reader: None,
            writer: None,
        };
        match s.free.pop() {
            Some(i) => {
                let gen = s.v[i as usize].gen;
                s.v[i as usize] = sock(gen);
                i
            }
            None => {
                s.v.push(sock(0));
                (s.v.len() - 1) as u32
            }
        }
    }

    /// Forget a socket before its descriptor closes: its polls are removed (they hold the
    /// socket open until then) and late completions are ignored. Returns its wakers, to be
    /// dropped by the caller outside any borrow.
    pub(crate) fn deregister(&self, idx: u32) -> [Option<Waker>; 2] {
        let (gen, read_armed, write_armed, wakers) = {
            let mut s = self.socks.borrow_mut();
            let sock = &mut s.v[idx as usize];
            let gen = sock.gen;
            sock.gen = sock.gen.wrapping_add(1);
            sock.fd = -1;
            let out = (
                gen,
                sock.read_armed,
                sock.write_armed,
                [sock.reader.take(), sock.writer.take()],
            );
            s.free.push(idx);
            out
        };
        if read_armed {
            self.push(
                opcode::PollRemove::new(user_data(KIND_READ, idx, gen))
                    .build()
                    .user_data(IGNORE),
            );
        }
        if write_armed {
            self.push(
                opcode::PollRemove::new(user_data(KIND_WRITE, idx, gen))
                    .build()
                    .user_data(IGNORE),
            );
        }
        wakers
    }

    /// Batch completions (if the ring was set up for it) while `on`: a core with nothing to
    /// run then sleeps until a timer falls due, `batch_us` pass or `batch_events` completions
    /// wait, instead of waking for each.
    pub(crate) fn batch_completions(&self, on: bool) {
        self.batching.set(on);
    }

    pub(crate) fn keep_stamps(&self, idx: u32) {
        self.socks.borrow_mut().v[idx as usize].stamps = true;
    }

    #[inline]
    pub(crate) fn keeps_stamps(&self, idx: u32) -> bool {
        self.socks.borrow().v[idx as usize].stamps
    }

    /// May the socket be read without blocking? If not, `waker` is woken when it may.
    pub(crate) fn poll_readable(&self, idx: u32, waker: &Waker) -> bool {
        let arm = {
            let mut s = self.socks.borrow_mut();
            let sock = &mut s.v[idx as usize];
            if sock.readable {
                return true;
            }
            set_waker(&mut sock.reader, waker);
            if sock.read_armed {
                None
            } else {
                sock.read_armed = true;
                Some((sock.fd, sock.gen))
            }
        };
        if let Some((fd, gen)) = arm {
            let e = opcode::PollAdd::new(types::Fd(fd), READ_EVENTS).multi(true).build();
            self.push(e.user_data(user_data(KIND_READ, idx, gen)));
        }
        false
    }

    /// The socket had nothing to read: wait for the poll before reading again.
    pub(crate) fn clear_readable(&self, idx: u32) {
        self.socks.borrow_mut().v[idx as usize].readable = false;
    }

    /// A short read emptied the socket's queue: the next data's poll completion says when to
    /// read again, unless the peer has hung up (then the next read returns the end of file).
    pub(crate) fn drained(&self, idx: u32) {
        let sock = &mut self.socks.borrow_mut().v[idx as usize];
        sock.readable = sock.hung_up;
    }

    pub(crate) fn poll_writable(&self, idx: u32, waker: &Waker) -> bool {
        let arm = {
            let mut s = self.socks.borrow_mut();
            let sock = &mut s.v[idx as usize];
            if sock.writable {
                return true;
            }
            set_waker(&mut sock.writer, waker);
            if sock.write_armed {
                None
            } else {
                sock.write_armed = true;
                Some((sock.fd, sock.gen))
            }
        };
        if let Some((fd, gen)) = arm {
            let e = opcode::PollAdd::new(types::Fd(fd), WRITE_EVENTS).build();
            self.push(e.user_data(user_data(KIND_WRITE, idx, gen)));
        }
        false
    }

    pub(crate) fn clear_writable(&self, idx: u32) {
        self.socks.borrow_mut().v[idx as usize].writable = false;
    }

    /// Submit what is queued and take the completions: without waiting for `Some(ZERO)`, up to
    /// the timeout for `Some(d)`, until one arrives for `None`.
    pub(crate) fn park(&self, wait: Option<Duration>) {
        {
            let mut ring = self.ring.borrow_mut();
            let queued = ring.submission().len() as u32;
            let sub = ring.submitter();
            let res = match wait {
                // GETEVENTS runs the deferred completions without waiting for any.
                // SAFETY: no argument is passed.
                Some(d) if d.is_zero() => unsafe { sub.enter::<libc::sigset_t>(queued, 0, ENTER_GETEVENTS, None) },
                wait => {
                    let ts = wait.map(types::Timespec::from);
                    let mut args = types::SubmitArgs::new();
                    if let Some(ts) = &ts {
                        args = args.timespec(ts);
                    }
                    let want = match self.batch.filter(|_| self.batching.get()) {
                        Some((us, events)) => {
                            // Never past the timeout: the kernel arms the longer of the two.
                            let left = wait.map_or(u128::MAX, |d| d.as_micros().max(1));
                            args = args.min_wait_usec(left.min(us as u128) as u32);
                            events as usize
                        }
                        None => 1,
                    };
                    sub.submit_with_args(want, &args)
                }
            };
            if let Err(e) = res {
                match e.raw_os_error() {
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => {}
                    _ => panic!("io_uring_enter failed: {e}"),
                }
            }
        }
        self.reap();
    }

    fn reap(&self) {
        let mut ring = self.ring.borrow_mut();
        let mut socks = self.socks.borrow_mut();
        for cqe in ring.completion() {
            let ud = cqe.user_data();
            let kind = ud & 3;
            if kind == IGNORE {
                continue;
            }
            let idx = ((ud >> 2) & 0x3fff_ffff) as usize;
            let Some(sock) = socks.v.get_mut(idx) else { continue };
            if sock.gen != (ud >> 32) as u32 {
                continue;
            }
            if kind == KIND_READ {
                sock.readable = true;
                if cqe.result() > 0 && cqe.result() as u32 & HANG_UP != 0 {
                    sock.hung_up = true;
                }
                if !cqueue::more(cqe.flags()) {
                    sock.read_armed = false;
                }
                if let Some(w) = sock.reader.take() {
                    w.wake();
                }
            } else {
                sock.writable = true;
                sock.write_armed = false;
                if let Some(w) = sock.writer.take() {
                    w.wake();
                }
            }
        }
    }

    /// Submit what is queued (the last poll removals at teardown).
    pub(crate) fn flush(&self) {
        let _ = self.ring.borrow_mut().submit();
    }

    /// Every waiting waker (at teardown).
    pub(crate) fn take_wakers(&self) -> Vec<Waker> {
        let mut s = self.socks.borrow_mut();
        s.v.iter_mut()
            .flat_map(|x| [x.reader.take(), x.writer.take()])
            .flatten()
            .collect()
    }
}

fn set_waker(slot: &mut Option<Waker>, w: &Waker) {
    if !slot.as_ref().is_some_and(|x| x.will_wake(w)) {
        *slot = Some(w.clone());
    }
}
