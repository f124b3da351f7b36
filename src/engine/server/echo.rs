//! One server-side connection: a hand-written future that echoes frames as they
//! stream through, unmasking payload bytes straight from the core's shared read
//! buffer into its shared write buffer. Nothing is buffered per connection
//! except a split frame header, a control frame, or bytes the socket pushed back.
//! Fragmented messages are echoed fragment by fragment, so message boundaries
//! and opcodes are preserved without reassembly.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::AsyncRead;

use super::broadcast::Broadcast;
use crate::engine::io::Backlog;
use crate::proto::frame::{self, FrameError, OpCode, MAX_HEADER_LEN};
use crate::tls::stream::ServerStream;

/// Per-core state shared by the server's connections.
pub struct ServerCore {
    pub rbuf: RefCell<Box<[u8]>>,
    pub wbuf: RefCell<Vec<u8>>,
    pub max_frame: u64,
    pub conns: Cell<usize>,
    /// `--broadcast`: push messages to every connection (client data frames are then read and
    /// dropped, not echoed).
    pub broadcast: Option<Broadcast>,
}

/// Reads handled per poll before yielding.
const READS_PER_POLL: usize = 16;
/// Stop reading while this much output waits for the socket.
const MAX_BACKLOG: usize = 256 * 1024;

/// A control frame being collected (at most 125 bytes of payload).
struct ControlFrame {
    opcode: OpCode,
    mask: [u8; 4],
    need: usize,
    payload: Vec<u8>,
}

pub struct Echo {
    core: Rc<ServerCore>,
    stream: ServerStream,
    /// Bytes of a frame header split across reads.
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: u8,
    /// Offset of the next payload byte within the current data frame (for the mask).
    mask_off: u8,
    /// A fragmented data message is in progress.
    in_message: bool,
    closing: bool,
    mask: [u8; 4],
    /// Payload bytes of the current data frame still to pass through.
    remaining: u64,
    control: Option<Box<ControlFrame>>,
    out: Backlog,
    /// Broadcast: the next message to push.
    push_next: u64,
}

enum Flow {
    Continue,
    /// Close after flushing what is queued.
    Close,
}

impl Echo {
    pub fn new(core: Rc<ServerCore>, stream: ServerStream) -> Echo {
        let push_next = core.broadcast.as_ref().map_or(0, |b| b.next_seq());
        Echo {
            core,
            stream,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            mask_off: 0,
            in_message: false,
            closing: false,
            mask: [0; 4],
            remaining: 0,
            control: None,
            out: Backlog::default(),
            push_next,
        }
    }

    /// Handle bytes that arrived with the upgrade request; their echoes (or a close reply)
    /// are written on the first poll.
    pub fn feed_initial(&mut self, data: &[u8]) {
        let core = self.core.clone();
        let mut out = core.wbuf.borrow_mut();
        out.clear();
        if let Flow::Close = self.process(data, &mut out) {
            self.closing = true;
        }
        self.out.queue(&out);
        out.clear();
    }

    /// Echo what `data` holds into `out`.
    fn process(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Flow {
        let max = self.core.max_frame;
        while !data.is_empty() {
            if self.remaining > 0 {
                let take = (self.remaining.min(data.len() as u64)) as usize;
                if self.core.broadcast.is_none() {
                    let start = out.len();
                    out.extend_from_slice(&data[..take]);
                    frame::apply_mask(&mut out[start..], self.mask, self.mask_off as usize);
                }
                self.mask_off = ((self.mask_off as usize + take) % 4) as u8;
                self.remaining -= take as u64;
                data = &data[take..];
                continue;
            }
            if let Some(c) = self.control.as_mut() {
                let take = (c.need - c.payload.len()).min(data.len());
                c.payload.extend_from_slice(&data[..take]);
                data = &data[take..];
                if c.payload.len() == c.need {
                    let c = self.control.take().expect("present");
                    if let Flow::Close = self.on_control(*c, out) {
                        return Flow::Close;
                    }
                }
                continue;
            }
            // A frame header: parsed in place when whole, else collected across reads.
            let parsed = if self.hdr_len == 0 {
                match frame::parse_header(data, true, max) {
                    Ok(Some(h)) => {
                        data = &data[h.header_len..];
                        Ok(Some(h))
                    }
                    Ok(None) => {
                        self.hdr[..data.len()].copy_from_slice(data);
                        self.hdr_len = data.len() as u8;
                        data = &[];
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            } else {
                let mut r = Ok(None);
                while !data.is_empty() {
                    self.hdr[self.hdr_len as usize] = data[0];
                    self.hdr_len += 1;
                    data = &data[1..];
                    r = frame::parse_header(&self.hdr[..self.hdr_len as usize], true, max);
                    if !matches!(r, Ok(None)) {
                        self.hdr_len = 0;
                        break;
                    }
                }
                r
            };
            match parsed {
                Ok(None) => {}
                Ok(Some(h)) => {
                    if let Flow::Close = self.on_header(h, out) {
                        return Flow::Close;
                    }
                }
                Err(e) => return self.fail(e.close_code(), out, e),
            }
        }
        Flow::Continue
    }

    fn on_header(&mut self, h: frame::Header, out: &mut Vec<u8>) -> Flow {
        let mask = h.mask.expect("parse_header checked the mask bit");
        match h.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let continuation = h.opcode == OpCode::Continuation;
                if continuation != self.in_message {
                    let why = if continuation {
                        "continuation without a message"
                    } else {
                        "new message inside a fragmented one"
                    };
                    return self.fail_with(1002, out, why);
                }
                self.in_message = !h.fin;
                if self.core.broadcast.is_none() {
                    frame::write_header(out, h.fin, h.opcode, h.payload_len, None);
                }
                self.mask = mask;
                self.mask_off = 0;
                self.remaining = h.payload_len;
                Flow::Continue
            }
            _ => {
                let c = ControlFrame {
                    opcode: h.opcode,
                    mask,
                    need: h.payload_len as usize,
                    payload: Vec::new(),
                };
                if h.payload_len == 0 {
                    self.on_control(c, out)
                } else {
                    self.control = Some(Box::new(c));
                    Flow::Continue
                }
            }
        }
    }

    fn on_control(&mut self, mut c: ControlFrame, out: &mut Vec<u8>) -> Flow {
        frame::apply_mask(&mut c.payload, c.mask, 0);
        match c.opcode {
            OpCode::Ping => {
                frame::write_frame(out, true, OpCode::Pong, &c.payload, None);
                Flow::Continue
            }
            OpCode::Close => {
                // Echo the status code (not the reason), as the close handshake asks.
                let body = if c.payload.len() >= 2 { &c.payload[..2] } else { &[][..] };
                frame::write_frame(out, true, OpCode::Close, body, None);
                Flow::Close
            }
            _ => Flow::Continue,
        }
    }

    fn fail(&mut self, code: u16, out: &mut Vec<u8>, e: FrameError) -> Flow {
        self.fail_with(code, out, &e.to_string())
    }

    fn fail_with(&mut self, code: u16, out: &mut Vec<u8>, why: &str) -> Flow {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(&why.as_bytes()[..why.len().min(120)]);
        frame::write_frame(out, true, OpCode::Close, &body, None);
        Flow::Close
    }

    /// `Ok(true)` when the connection is finished.
    fn step(&mut self, cx: &mut Context<'_>) -> std::io::Result<bool> {
        let core = self.core.clone();
        let mut out = core.wbuf.borrow_mut();
        out.clear();
        let mut reads = 0;
        let backlogged = self.out.len() >= MAX_BACKLOG;
        while !self.closing && self.out.len() < MAX_BACKLOG {
            let mut rbuf = core.rbuf.borrow_mut();
            match Pin::new(&mut self.stream).poll_read(cx, &mut rbuf[..])? {
                Poll::Ready(0) => {
                    // The client half-closed: finish writing what is queued, then close.
                    self.closing = true;
                    break;
                }
                Poll::Ready(n) => {
                    if let Flow::Close = self.process(&rbuf[..n], &mut out) {
                        self.closing = true;
                    }
                    reads += 1;
                    if reads == READS_PER_POLL {
                        cx.waker().wake_by_ref();
                        break;
                    }
                    // No break on a short read: the next poll_read costs no syscall
                    // (a short read marked the socket drained) and registers our waker.
                }
                Poll::Pending => break,
            }
        }
        if let Some(b) = core.broadcast.as_ref().filter(|_| !self.closing) {
            b.poll_send(&mut self.push_next, &mut out, self.out.len() >= MAX_BACKLOG, cx.waker());
        }
        self.out.flush(&mut self.stream, cx, &mut out)?;
        if backlogged && self.out.len() < MAX_BACKLOG {
            // Reading was paused for the backlog, so no read wakeup is armed: poll again.
            cx.waker().wake_by_ref();
        }
        Ok(self.closing && self.out.is_empty() && !self.stream.wants_write())
    }
}

impl Future for Echo {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.step(cx) {
            Ok(false) => Poll::Pending,
            Ok(true) | Err(_) => {
                self.core.conns.set(self.core.conns.get() - 1);
                Poll::Ready(())
            }
        }
    }
}
