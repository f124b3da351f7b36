//! One established client connection: a small hand-written future that reads
//! into the core's shared buffer, checks every echo, and writes the messages
//! that fall due through the core's shared write buffer. Per-connection memory
//! stays at the stream plus a few counters; buffers are only kept while a frame
//! is split across reads or the socket pushes back.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use super::seq::{Arrival, SeqTracker};
use super::{Phase, Shard};
use crate::config::Load;
use crate::metrics::ErrorKind;
use crate::proto::frame::{self, OpCode};
use crate::proto::payload::{self, Stamp};

type Failure = (ErrorKind, String);

/// Reads handled per poll before yielding to other connections.
const READS_PER_POLL: usize = 16;
/// Messages generated per poll at most; the rest follow on the next poll.
const SENDS_PER_POLL: u64 = 256;
/// Spill buffers bigger than this are given back once empty.
const KEEP_CAPACITY: usize = 16 * 1024;

/// A fragmented message being reassembled (rare: our messages are sent whole).
struct Fragments {
    opcode: OpCode,
    data: Vec<u8>,
}

pub struct Conn {
    shard: Rc<Shard>,
    stream: TcpStream,
    local: u32,
    close_sent: bool,
    close_received: bool,
    /// Messages sent (the next sequence number).
    sent: u64,
    /// Closed loop: echoes received and not yet replaced by a new message.
    credit: u64,
    seq: SeqTracker,
    /// The start of a frame whose rest has not arrived yet.
    partial: Vec<u8>,
    /// Bytes the socket has not taken yet.
    out: Vec<u8>,
    out_pos: usize,
    frag: Option<Box<Fragments>>,
}

impl Conn {
    pub fn new(shard: Rc<Shard>, stream: TcpStream, local: u32, leftover: Vec<u8>) -> Conn {
        Conn {
            shard,
            stream,
            local,
            close_sent: false,
            close_received: false,
            sent: 0,
            credit: 0,
            seq: SeqTracker::default(),
            partial: leftover,
            out: Vec::new(),
            out_pos: 0,
            frag: None,
        }
    }

    /// Advance as far as possible. `Ok(true)`: the connection is finished.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<bool, Failure> {
        let shard = self.shard.clone();
        if shard.phase.get() == Phase::Abort {
            return Ok(true);
        }
        let mut ended: Option<Failure> = None;
        shard.wbuf.borrow_mut().clear();

        // Frames that arrived with the upgrade response.
        if !self.partial.is_empty() && self.sent == 0 && self.seq.unique == 0 {
            let first = std::mem::take(&mut self.partial);
            let now = shard.now_ns();
            ended = self.feed(&first, now).err();
        }

        // 1. Read and check everything the socket has.
        let mut reads = 0;
        while ended.is_none() && !self.close_received {
            let mut rbuf = shard.rbuf.borrow_mut();
            match Pin::new(&mut self.stream).poll_read(cx, &mut rbuf[..]) {
                Poll::Ready(Ok(0)) => {
                    if self.close_sent {
                        return Ok(true);
                    }
                    ended = Some((
                        ErrorKind::EofWithoutClose,
                        "server closed the TCP connection without a close frame".into(),
                    ));
                }
                Poll::Ready(Ok(n)) => {
                    let now = shard.now_ns();
                    if let Err(f) = self.feed(&rbuf[..n], now) {
                        ended = Some(f);
                    }
                    reads += 1;
                    if reads == READS_PER_POLL {
                        cx.waker().wake_by_ref();
                        break;
                    }
                    // No break on a short read: the next poll_read costs no syscall
                    // (glommio armed a readiness poll) and registers our waker.
                }
                Poll::Ready(Err(e)) => ended = Some((ErrorKind::from_io(&e, false), e.to_string())),
                Poll::Pending => break,
            }
        }

        // A peer that breaks the protocol is told why before the connection is dropped.
        if let Some((kind @ (ErrorKind::ProtocolViolation | ErrorKind::FrameTooLarge), _)) = &ended {
            if !self.close_sent {
                let code: u16 = if *kind == ErrorKind::FrameTooLarge { 1009 } else { 1002 };
                let mask = shard.next_u32().to_le_bytes();
                frame::write_frame(
                    &mut shard.wbuf.borrow_mut(),
                    true,
                    OpCode::Close,
                    &code.to_be_bytes(),
                    Some(mask),
                );
                self.close_sent = true;
            }
        }

        // 2. New messages, or the close handshake once everything is back.
        if ended.is_none() && !self.close_received {
            match shard.phase.get() {
                Phase::Load => self.generate(cx),
                Phase::Drain if !self.close_sent && self.seq.outstanding(self.sent) == 0 => {
                    let mask = shard.next_u32().to_le_bytes();
                    frame::write_frame(
                        &mut shard.wbuf.borrow_mut(),
                        true,
                        OpCode::Close,
                        &1000u16.to_be_bytes(),
                        Some(mask),
                    );
                    self.close_sent = true;
                }
                _ => {}
            }
        }

        // 3. Write what is queued (a reply to a server's close included).
        let flushed = self.flush(cx);
        if let Some(f) = ended {
            return Err(f);
        }
        flushed?;
        Ok(self.close_received && self.close_sent && self.out.is_empty())
    }

    /// Parse frames from `data`, completing a frame left over from an earlier read first.
    fn feed(&mut self, mut data: &[u8], now: u64) -> Result<(), Failure> {
        let max = self.shard.plan.run.max_frame;
        if !self.partial.is_empty() {
            let mut partial = std::mem::take(&mut self.partial);
            loop {
                let header = frame::parse_header(&partial, false, max).map_err(frame_failure)?;
                // Until the header is whole, add a byte at a time (at most 13 rounds).
                let want = header.map_or(partial.len() + 1, |h| h.frame_len() as usize);
                let take = (want - partial.len()).min(data.len());
                partial.extend_from_slice(&data[..take]);
                data = &data[take..];
                if let Some(h) = header {
                    if partial.len() == want {
                        self.on_frame(h, &partial[h.header_len..], now)?;
                        partial.clear();
                        break;
                    }
                }
                if data.is_empty() {
                    break;
                }
            }
            // Keep the buffer for the next split frame unless it grew large and is now empty.
            if !partial.is_empty() || partial.capacity() <= KEEP_CAPACITY {
                self.partial = partial;
            }
            if !self.partial.is_empty() || data.is_empty() {
                return Ok(());
            }
        }
        let mut pos = 0;
        while !self.close_received {
            let Some(h) = frame::parse_header(&data[pos..], false, max).map_err(frame_failure)? else {
                break;
            };
            let end = pos + h.frame_len() as usize;
            if end > data.len() {
                break;
            }
            self.on_frame(h, &data[pos + h.header_len..end], now)?;
            pos = end;
        }
        if pos < data.len() && !self.close_received {
            self.partial.extend_from_slice(&data[pos..]);
        }
        Ok(())
    }

    fn on_frame(&mut self, h: frame::Header, payload: &[u8], now: u64) -> Result<(), Failure> {
        let max = self.shard.plan.run.max_frame;
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.frag.is_some() {
                    return Err((
                        ErrorKind::ProtocolViolation,
                        "new data frame inside a fragmented message".into(),
                    ));
                }
                if h.fin {
                    self.on_message(h.opcode, payload, now);
                } else {
                    self.frag = Some(Box::new(Fragments {
                        opcode: h.opcode,
                        data: payload.to_vec(),
                    }));
                }
            }
            OpCode::Continuation => {
                let Some(f) = self.frag.as_mut() else {
                    return Err((
                        ErrorKind::ProtocolViolation,
                        "continuation frame without a message to continue".into(),
                    ));
                };
                if (f.data.len() + payload.len()) as u64 > max {
                    return Err((
                        ErrorKind::FrameTooLarge,
                        format!("fragmented message larger than --max-frame ({max} bytes)"),
                    ));
                }
                f.data.extend_from_slice(payload);
                if h.fin {
                    let f = self.frag.take().expect("checked above");
                    self.on_message(f.opcode, &f.data, now);
                }
            }
            OpCode::Ping => {
                let mask = self.shard.next_u32().to_le_bytes();
                frame::write_frame(
                    &mut self.shard.wbuf.borrow_mut(),
                    true,
                    OpCode::Pong,
                    payload,
                    Some(mask),
                );
            }
            OpCode::Pong => {}
            OpCode::Close => {
                self.close_received = true;
                if !self.close_sent {
                    let (code, reason) = frame::parse_close(payload);
                    let code = code.unwrap_or(1005);
                    self.shard.rec.borrow_mut().close_codes.bump(code, 1);
                    let mask = self.shard.next_u32().to_le_bytes();
                    let reply = if code == 1005 {
                        Vec::new()
                    } else {
                        code.to_be_bytes().to_vec()
                    };
                    frame::write_frame(
                        &mut self.shard.wbuf.borrow_mut(),
                        true,
                        OpCode::Close,
                        &reply,
                        Some(mask),
                    );
                    self.close_sent = true;
                    let reason = String::from_utf8_lossy(&reason[..reason.len().min(123)]).into_owned();
                    return Err((
                        ErrorKind::ClosedByServer,
                        format!("server closed the connection with code {code} {reason:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Check one echoed message and record its latency.
    fn on_message(&mut self, opcode: OpCode, payload: &[u8], now: u64) {
        let run = &self.shard.plan.run;
        let want = if run.text { OpCode::Text } else { OpCode::Binary };
        let stamp = if opcode == want && payload.len() == run.size {
            payload::read(payload, run.text)
        } else {
            None
        };
        let mut rec = self.shard.rec.borrow_mut();
        rec.counters.bytes_received += payload.len() as u64;
        let Some(st) = stamp else {
            rec.counters.corrupted += 1;
            self.credit += 1;
            return;
        };
        match self.seq.arrive(st.seq, self.sent) {
            Arrival::Unsent => {
                rec.counters.corrupted += 1;
                self.credit += 1;
            }
            Arrival::Duplicate => rec.counters.duplicated += 1,
            a => {
                if a == Arrival::OutOfOrder {
                    rec.counters.out_of_order += 1;
                }
                rec.counters.received += 1;
                let sent_at = st.intended_ns + st.delay_ns as u64;
                rec.latency(now.saturating_sub(st.intended_ns), now.saturating_sub(sent_at));
                self.credit += 1;
            }
        }
    }

    /// Queue the messages that are due: by schedule (open loop) or by credit (closed loop).
    fn generate(&mut self, cx: &mut Context<'_>) {
        let shard = &*self.shard;
        let now = shard.now_ns();
        let end = shard.load_end_ns.get();
        if now >= end {
            return;
        }
        let (count, sched) = match shard.plan.run.load {
            Load::Open { .. } => {
                let s = shard.schedule(self.local as u64);
                (s.due(now).saturating_sub(self.sent), Some(s))
            }
            Load::Closed { window } => {
                let n = if self.sent == 0 { window as u64 } else { self.credit };
                self.credit = 0;
                (n, None)
            }
        };
        if count == 0 {
            return;
        }
        let n = count.min(SENDS_PER_POLL);
        if n < count {
            if sched.is_none() {
                self.credit = count - n;
            }
            cx.waker().wake_by_ref();
        }
        let text = shard.plan.run.text;
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let size = shard.template.len();
        let mut out = shard.wbuf.borrow_mut();
        for _ in 0..n {
            let k = self.sent;
            let intended = sched.map_or(now, |s| s.intended_ns(k));
            let mask = shard.next_u32().to_le_bytes();
            frame::write_header(&mut out, true, opcode, size as u64, Some(mask));
            let start = out.len();
            out.extend_from_slice(&shard.template);
            let delay = now.saturating_sub(intended).min(u32::MAX as u64) as u32;
            payload::write(
                &mut out[start..],
                Stamp {
                    seq: k,
                    intended_ns: intended,
                    delay_ns: delay,
                },
                text,
            );
            frame::apply_mask(&mut out[start..], mask, 0);
            self.sent += 1;
        }
        let mut rec = shard.rec.borrow_mut();
        rec.counters.sent += n;
        rec.counters.bytes_sent += n * size as u64;
    }

    /// Write queued bytes; what the socket does not take waits in `out`.
    fn flush(&mut self, cx: &mut Context<'_>) -> Result<(), Failure> {
        let shard = self.shard.clone();
        let mut wbuf = shard.wbuf.borrow_mut();
        if !self.out.is_empty() {
            self.out.extend_from_slice(&wbuf);
            wbuf.clear();
        }
        let direct = self.out.is_empty();
        let buf: &[u8] = if direct { &wbuf } else { &self.out };
        let mut pos = if direct { 0 } else { self.out_pos };
        while pos < buf.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &buf[pos..]) {
                Poll::Ready(Ok(0)) => return Err((ErrorKind::Reset, "socket accepted no bytes".into())),
                Poll::Ready(Ok(n)) => pos += n,
                Poll::Ready(Err(e)) => return Err((ErrorKind::from_io(&e, false), e.to_string())),
                Poll::Pending => break,
            }
        }
        if direct {
            if pos < wbuf.len() {
                self.out.extend_from_slice(&wbuf[pos..]);
                self.out_pos = 0;
            }
            wbuf.clear();
        } else if pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.out.capacity() > KEEP_CAPACITY {
                self.out = Vec::new();
            }
        } else {
            self.out_pos = pos;
        }
        Ok(())
    }

    fn finish(&mut self, failure: Option<Failure>) {
        let shard = &*self.shard;
        let outstanding = self.seq.outstanding(self.sent);
        let mut rec = shard.rec.borrow_mut();
        rec.counters.open -= 1;
        rec.counters.lost += outstanding;
        if let Some((kind, detail)) = failure {
            rec.counters.dropped += 1;
            rec.counters.lost_by_drop += outstanding;
            let addr = shard.plan.addr;
            rec.error(kind, || format!("{addr}: {detail}"));
        }
        shard.wakers.borrow_mut()[self.local as usize] = None;
        shard.live.set(shard.live.get() - 1);
    }
}

fn frame_failure(e: frame::FrameError) -> Failure {
    let kind = match e {
        frame::FrameError::TooLarge { .. } => ErrorKind::FrameTooLarge,
        _ => ErrorKind::ProtocolViolation,
    };
    (kind, format!("server sent an invalid frame: {e}"))
}

impl Future for Conn {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.step(cx) {
            Ok(false) => {
                this.shard.register(this.local, cx.waker());
                Poll::Pending
            }
            Ok(true) => {
                this.finish(None);
                Poll::Ready(())
            }
            Err(f) => {
                this.finish(Some(f));
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn connection_future_stays_small() {
        let conn = std::mem::size_of::<super::Conn>();
        let stream = std::mem::size_of::<glommio::net::TcpStream>();
        eprintln!("Conn {conn} B, of which TcpStream {stream} B");
        // Every byte here is paid 10,000 times; the spill buffers are empty Vecs until needed.
        assert!(conn - stream <= 160, "Conn grew to {conn} B");
    }
}
