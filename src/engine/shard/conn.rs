//! One established client connection: a small hand-written future that reads
//! into the core's shared buffer, checks every echo, and writes the messages
//! that fall due through the core's shared write buffer. Per-connection memory
//! stays at the stream plus a few counters; buffers are only kept while a frame
//! is split across reads or the socket pushes back.
//!
//! Over 600 lines on purpose: the step, the frame parser's callbacks, the echo check and
//! the close handshake all work on the one `Conn`'s fields on the hot path. What stands
//! alone is elsewhere: framing and the stamp (wire.rs), sequence checks (seq.rs), the
//! message mix (mix.rs), the slot's bookkeeping (events.rs).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::AsyncRead;

use super::events;
use super::mix::{SEQ_MASK, TYPE_SHIFT};
use super::seq::{Arrival, SeqTracker};
use super::slots::Ending;
use super::state::{Phase, Shard, Traffic};
use super::wire::{self, Pending, FIRST};
use crate::config::scenario::template::Fill;
use crate::config::scenario::{Correlate, FaultKind, Mode};
use crate::engine::io::{Backlog, KEEP_CAPACITY};
use crate::engine::runtime::take_rx_stamp;
use crate::metrics::ErrorKind;
use crate::proto::frame::{self, OpCode};
use crate::proto::payload::{self, Stamp};
use crate::tls::stream::ClientStream;

type Failure = (ErrorKind, String);

/// Reads handled per poll before yielding to other connections.
const READS_PER_POLL: usize = 16;
/// Messages generated per poll at most; the rest follow on the next poll.
const SENDS_PER_POLL: u64 = 256;

/// What a connection only needs now and then: allocated the first time a frame
/// is split across reads or a message arrives fragmented, or when templated
/// requests wait for their replies.
#[derive(Default)]
struct Spill {
    /// The start of a frame whose rest has not arrived yet.
    partial: Vec<u8>,
    /// A fragmented message being reassembled (our messages are sent whole,
    /// but a server may fragment its echoes), and whether it is compressed.
    frag: Option<(OpCode, bool, Vec<u8>)>,
    /// Templated requests not answered yet, oldest first.
    pending: std::collections::VecDeque<Pending>,
    /// Subscribe mode: the pushed sequence number expected next.
    push_next: Option<u64>,
}

pub struct Conn {
    shard: Rc<Shard>,
    stream: ClientStream,
    local: u32,
    /// Closed loop: echoes received and not yet replaced by a new message.
    credit: u32,
    /// Echoes that failed their check: they came back, so they are not lost.
    corrupted: u32,
    close_sent: bool,
    close_received: bool,
    /// permessage-deflate was agreed on this connection.
    deflate: bool,
    /// `first_message`: 0 not sent yet, 1 sent and its reply not seen, 2 done.
    greeting: u8,
    /// Messages sent (the next sequence number).
    sent: u64,
    /// Open loop: the next message of the schedule (messages due while the connection was
    /// down or paused are skipped, so this runs ahead of `sent`).
    k: u64,
    seq: SeqTracker,
    /// Why the client is ending this connection, if it is.
    ending: Ending,
    /// A pause or half-open in force (until the slot's `hold_until`).
    hold: Option<FaultKind>,
    /// Closed loop: the in-flight phase whose window has been sent (0: none yet).
    window_phase: u16,
    /// Bytes the socket has not taken yet.
    out: Backlog,
    spill: Option<Box<Spill>>,
}

impl Conn {
    /// `leftover`: bytes that followed the upgrade response (already WebSocket frames).
    pub fn new(shard: Rc<Shard>, stream: ClientStream, local: u32, leftover: Vec<u8>, deflate: bool) -> Conn {
        // A connection opened during the traffic starts at the schedule's next message.
        let now = shard.now_ns();
        let k = shard.schedule(local as u64).due(now.min(shard.load_end_ns.get()));
        let greeting = if shard.scenario().first_message.is_some() { 0 } else { 2 };
        let spill = (!leftover.is_empty()).then(|| {
            Box::new(Spill {
                partial: leftover,
                ..Default::default()
            })
        });
        Conn {
            shard,
            stream,
            local,
            credit: 0,
            corrupted: 0,
            close_sent: false,
            close_received: false,
            deflate,
            greeting,
            sent: 0,
            k,
            seq: SeqTracker::default(),
            ending: Ending::None,
            hold: None,
            window_phase: 0,
            out: Backlog::default(),
            spill,
        }
    }

    /// Messages sent that have not come back at all (a corrupted echo came back).
    fn unanswered(&self) -> u64 {
        let sc = self.shard.scenario();
        match (&sc.mode, &sc.correlate) {
            (Mode::Subscribe, _) => 0,
            (_, Correlate::Stamp) => self.seq.outstanding(self.sent).saturating_sub(self.corrupted as u64),
            _ => self
                .spill
                .as_ref()
                .map_or(0, |s| s.pending.iter().filter(|p| p.ty != FIRST).count() as u64),
        }
    }

    /// Send the scenario's `first_message`, once, as soon as the connection is open.
    fn greet(&mut self) {
        let shard = &*self.shard;
        let sc = shard.scenario();
        let Some(t) = &sc.first_message else { return };
        let now = shard.now_ns();
        let mut body = shard.sbuf.borrow_mut();
        body.clear();
        let fill = Fill {
            conn: shard.plan.ids.start + self.local as u64,
            seq: 0,
            unix_ns: shard.unix_ns(now),
        };
        t.render(&mut body, &fill, || shard.next_u32());
        wire::write_body(shard, &mut shard.wbuf.borrow_mut(), OpCode::Text, &body, self.deflate);
        shard.rec.borrow_mut().counters.wire.first_sent += 1;
        // Its reply: fifo matching expects it first and takes it off the queue; a stamped echo run
        // lets one unstamped message through (greeting 1 until then); otherwise nothing waits.
        if sc.mode == Mode::Echo && sc.correlate == Correlate::Fifo {
            let first = Pending {
                seq: 0,
                intended_ns: now,
                delay_ns: 0,
                ty: FIRST,
            };
            self.spill.get_or_insert_with(Default::default).pending.push_back(first);
        }
        let stamped_echo = sc.mode == Mode::Echo && sc.correlate == Correlate::Stamp;
        self.greeting = if stamped_echo { 1 } else { 2 };
    }

    fn has_partial(&self) -> bool {
        self.spill.as_ref().is_some_and(|s| !s.partial.is_empty())
    }

    fn queue_close(&mut self, code: Option<u16>) {
        let mask = self.shard.next_u32().to_le_bytes();
        let body = code.map(u16::to_be_bytes);
        let body: &[u8] = body.as_ref().map_or(&[], |b| &b[..]);
        frame::write_frame(&mut self.shard.wbuf.borrow_mut(), true, OpCode::Close, body, Some(mask));
        self.close_sent = true;
    }

    /// Act on an injected fault. `true`: the connection ends now (an abrupt drop).
    fn inject(&mut self, kind: FaultKind) -> bool {
        let shard = &*self.shard;
        let mask = shard.next_u32().to_le_bytes();
        match kind {
            FaultKind::Drop => {
                // SO_LINGER 0: closing the socket sends a TCP reset, no close frame.
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: setsockopt on a socket this connection owns, with a correctly sized struct.
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&self.stream),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &linger as *const libc::linger as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
                self.ending = Ending::Fault;
                return true;
            }
            FaultKind::Close => {
                if !self.close_sent {
                    self.queue_close(Some(1000));
                }
                self.ending = Ending::Fault;
            }
            FaultKind::Corrupt => {
                // A data frame with reserved opcode 0x3: the server must fail the connection (1002).
                let mut out = shard.wbuf.borrow_mut();
                out.extend_from_slice(&[0x80 | 0x3, 0x80 | 4]);
                out.extend_from_slice(&mask);
                let start = out.len();
                out.extend_from_slice(b"oops");
                frame::apply_mask(&mut out[start..], mask, 0);
                self.ending = Ending::Fault;
            }
            FaultKind::Oversized => {
                // A binary frame header announcing 2^40 bytes, and nothing after it: the server
                // should refuse it (1009) without waiting for or allocating the payload.
                frame::write_header(&mut shard.wbuf.borrow_mut(), true, OpCode::Binary, 1 << 40, Some(mask));
                self.ending = Ending::Fault;
            }
            FaultKind::HalfOpen | FaultKind::Pause => self.hold = Some(kind),
        }
        false
    }

    /// Advance as far as possible. `Ok(true)`: the connection is finished.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<bool, Failure> {
        let shard = self.shard.clone();
        if shard.phase.get() == Phase::Abort {
            return Ok(true);
        }
        shard.wbuf.borrow_mut().clear();
        if self.take_orders(shard.now_ns()) {
            return Ok(true);
        }
        if self.greeting == 0 {
            self.greet();
        }
        let mut ended: Option<Failure> = None;
        // Frames that arrived with the upgrade response.
        if self.has_partial() && self.sent == 0 && self.seq.unique == 0 {
            ended = self.feed(&[], shard.now_ns()).err();
        }
        // 1. Read and check everything the socket has (not while half-open).
        if ended.is_none() && self.hold != Some(FaultKind::HalfOpen) {
            match self.read_all(&shard, cx) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(f) => ended = Some(f),
            }
        }
        // A peer that breaks the protocol is told why before the connection is dropped.
        if let Some((kind @ (ErrorKind::ProtocolViolation | ErrorKind::FrameTooLarge), _)) = &ended {
            if !self.close_sent {
                self.queue_close(Some(if *kind == ErrorKind::FrameTooLarge { 1009 } else { 1002 }));
            }
        }
        // 2. New messages, or the close handshake once everything is back.
        if ended.is_none() && !self.close_received {
            self.send_new(cx, shard.phase.get());
        }
        // 3. Write what is queued (a reply to a server's close included).
        let flushed = self.out.flush(&mut self.stream, cx, &mut shard.wbuf.borrow_mut());
        if let Some(f) = ended {
            return Err(f);
        }
        flushed.map_err(|e| (ErrorKind::from_io(&e, false), e.to_string()))?;
        Ok(self.close_received && self.close_sent && self.out.is_empty() && !self.stream.wants_write())
    }

    /// What the core asks of this connection: a fault, or a close (lifetime, ramp-down).
    /// `true`: a fault ended it.
    #[inline]
    fn take_orders(&mut self, now: u64) -> bool {
        let (fault, close, hold_until) = {
            let mut slots = self.shard.slots.borrow_mut();
            let s = &mut slots[self.local as usize];
            (s.fault.take(), s.close, s.hold_until)
        };
        if let Some(kind) = fault {
            if self.inject(kind) {
                return true;
            }
        }
        if self.hold.is_some() && now >= hold_until {
            self.hold = None;
        }
        if close != Ending::None && self.ending == Ending::None {
            self.ending = close;
        }
        false
    }

    /// Read and check everything the socket has, up to [`READS_PER_POLL`] reads. `Ok(true)`:
    /// the server closed the TCP connection after our close frame (finished).
    #[inline]
    fn read_all(&mut self, shard: &Shard, cx: &mut Context<'_>) -> Result<bool, Failure> {
        let mut reads = 0;
        while !self.close_received {
            let mut rbuf = shard.rbuf.borrow_mut();
            // Whatever stamp another socket's read left: a TLS read may take nothing from the socket.
            let _ = take_rx_stamp();
            match Pin::new(&mut self.stream).poll_read(cx, &mut rbuf[..]) {
                Poll::Ready(Ok(0)) if self.close_sent => return Ok(true),
                Poll::Ready(Ok(0)) => {
                    let why = "server closed the TCP connection without a close frame";
                    return Err((ErrorKind::EofWithoutClose, why.into()));
                }
                Poll::Ready(Ok(n)) => {
                    let at = shard.arrival_ns(take_rx_stamp());
                    self.feed(&rbuf[..n], at)?;
                    reads += 1;
                    if reads == READS_PER_POLL {
                        cx.waker().wake_by_ref();
                        break;
                    }
                    // No break on a short read: the next poll_read costs no syscall
                    // (a short read marked the socket drained) and registers our waker.
                }
                Poll::Ready(Err(e)) => return Err((ErrorKind::from_io(&e, false), e.to_string())),
                Poll::Pending => break,
            }
        }
        Ok(false)
    }

    /// New messages while the traffic runs, or the close handshake once everything is back.
    #[inline]
    fn send_new(&mut self, cx: &mut Context<'_>, phase: Phase) {
        if self.ending == Ending::None && (phase == Phase::Load || phase == Phase::Drain) {
            // In the drain too: a message scheduled before the end still goes out if this
            // connection is polled late; nothing scheduled after the end does.
            self.generate(cx);
        }
        // A lifetime or ramp-down close waits for the connection's echoes; the end of the run
        // does not (the drain already waited).
        let quiet = matches!(self.ending, Ending::Lifetime | Ending::RampDown) && self.unanswered() == 0;
        if (phase == Phase::Close || quiet) && !self.close_sent {
            self.queue_close(Some(1000));
        }
    }

    /// Parse frames from `data`, completing a frame left over from an earlier read first.
    fn feed(&mut self, mut data: &[u8], now: u64) -> Result<(), Failure> {
        let max = self.shard.scenario().max_frame;
        if self.has_partial() {
            let mut partial = std::mem::take(&mut self.spill.as_mut().expect("has_partial").partial);
            let mut done = false;
            while !done {
                let header = frame::parse_header_ext(&partial, false, max, self.deflate).map_err(frame_failure)?;
                // Until the header is whole, add a byte at a time (at most 13 rounds).
                let want = header.map_or(partial.len() + 1, |h| h.frame_len() as usize);
                let take = want.saturating_sub(partial.len()).min(data.len());
                if header.is_some() {
                    partial.reserve(take);
                }
                partial.extend_from_slice(&data[..take]);
                data = &data[take..];
                match header {
                    Some(h) if partial.len() >= want => {
                        self.on_frame(h, &partial[h.header_len..want], now)?;
                        // The rest of `partial` (from the upgrade's leftover) may hold more frames.
                        partial.drain(..want);
                        if !partial.is_empty() {
                            let mut rest = std::mem::take(&mut partial);
                            rest.extend_from_slice(data);
                            self.spill.as_mut().expect("allocated").partial = Vec::new();
                            return self.feed_fresh(&rest, now);
                        }
                        done = true;
                    }
                    _ if take == 0 => done = true,
                    _ => {}
                }
            }
            // Keep the buffer for the next split frame (up to one message) unless it is empty and larger.
            let keep = KEEP_CAPACITY.max(self.shard.mix.template.len() + frame::MAX_HEADER_LEN);
            if !partial.is_empty() || partial.capacity() <= keep {
                self.spill.as_mut().expect("allocated").partial = partial;
            }
            if self.has_partial() || data.is_empty() {
                return Ok(());
            }
        }
        self.feed_fresh(data, now)
    }

    /// Parse whole frames from `data`; keep an incomplete last one for later.
    fn feed_fresh(&mut self, data: &[u8], now: u64) -> Result<(), Failure> {
        let max = self.shard.scenario().max_frame;
        let mut pos = 0;
        while !self.close_received {
            let Some(h) = frame::parse_header_ext(&data[pos..], false, max, self.deflate).map_err(frame_failure)?
            else {
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
            let spill = self.spill.get_or_insert_with(Default::default);
            spill.partial.extend_from_slice(&data[pos..]);
        }
        Ok(())
    }

    fn on_frame(&mut self, h: frame::Header, payload: &[u8], now: u64) -> Result<(), Failure> {
        let max = self.shard.scenario().max_frame;
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.spill.as_ref().is_some_and(|s| s.frag.is_some()) {
                    let why = "new data frame inside a fragmented message";
                    return Err((ErrorKind::ProtocolViolation, why.into()));
                }
                if !h.fin {
                    self.spill.get_or_insert_with(Default::default).frag = Some((h.opcode, h.rsv1, payload.to_vec()));
                } else if h.rsv1 {
                    let shard = self.shard.clone();
                    let msg = wire::inflate(&shard, payload, max)?;
                    self.on_message(h.opcode, &msg, now);
                } else {
                    self.on_message(h.opcode, payload, now);
                }
            }
            OpCode::Continuation => {
                let Some((opcode, compressed, data)) = self.spill.as_mut().and_then(|s| s.frag.as_mut()) else {
                    let why = "continuation frame without a message to continue";
                    return Err((ErrorKind::ProtocolViolation, why.into()));
                };
                if (data.len() + payload.len()) as u64 > max {
                    let why = format!("fragmented message larger than --max-frame ({max} bytes)");
                    return Err((ErrorKind::FrameTooLarge, why));
                }
                data.extend_from_slice(payload);
                if h.fin {
                    let (opcode, compressed) = (*opcode, *compressed);
                    let (_, _, data) = self.spill.as_mut().and_then(|s| s.frag.take()).expect("checked above");
                    if compressed {
                        let shard = self.shard.clone();
                        let msg = wire::inflate(&shard, &data, max)?;
                        self.on_message(opcode, &msg, now);
                    } else {
                        self.on_message(opcode, &data, now);
                    }
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
            // Pongs answer our ping messages; unsolicited ones (heartbeats) are ignored.
            // Only stamped echo runs send pings.
            OpCode::Pong
                if payload.len() >= payload::BINARY_STAMP_LEN
                    && self.shard.scenario().correlate == Correlate::Stamp
                    && self.shard.scenario().mode == Mode::Echo =>
            {
                self.shard.rec.borrow_mut().counters.bytes_received += payload.len() as u64;
                self.on_echo(OpCode::Pong, payload, now)
            }
            OpCode::Pong => {}
            OpCode::Close => {
                self.close_received = true;
                if !self.close_sent {
                    let (code, reason) = frame::parse_close(payload);
                    let code = code.unwrap_or(1005);
                    self.shard.rec.borrow_mut().close_codes.bump(code, 1);
                    self.queue_close((code != 1005).then_some(code));
                    let reason = String::from_utf8_lossy(&reason[..reason.len().min(123)]).into_owned();
                    let why = format!("server closed the connection with code {code} {reason:?}");
                    return Err((ErrorKind::ClosedByServer, why));
                }
            }
        }
        Ok(())
    }

    /// One whole message from the server: an echo to check, a reply to match, or a push.
    fn on_message(&mut self, opcode: OpCode, payload: &[u8], now: u64) {
        let shard = self.shard.clone();
        let sc = shard.scenario();
        let in_load = shard.phase.get() == Phase::Load;
        let mut rec = shard.rec.borrow_mut();
        rec.counters.bytes_received += payload.len() as u64;
        match (&sc.mode, &sc.correlate) {
            (Mode::Subscribe, _) => {
                let unix_now = shard.unix_ns(now);
                wire::record_push(
                    &mut rec,
                    &sc.push,
                    &mut self.spill.get_or_insert_with(Default::default).push_next,
                    payload,
                    unix_now,
                    in_load,
                );
            }
            (_, Correlate::Stamp) => {
                drop(rec);
                self.on_echo(opcode, payload, now);
            }
            (_, c) => {
                let hit = wire::match_reply(c, &mut self.spill.get_or_insert_with(Default::default).pending, payload);
                if hit.is_some_and(|(p, _)| p.ty != FIRST) {
                    shard.in_flight.set(shard.in_flight.get().saturating_sub(1));
                    self.credit = self.credit.saturating_add(1);
                }
                wire::record_reply(&mut rec, hit, now, in_load);
            }
        }
    }

    /// Check one echoed message (or the pong of one of our pings) and record its latency.
    fn on_echo(&mut self, opcode: OpCode, payload: &[u8], now: u64) {
        let shard = &*self.shard;
        let mix = &shard.mix;
        let text = opcode == OpCode::Text;
        // The type travels in the stamp; the frame must be the one that type is sent as.
        let stamp = payload::read(payload, text).filter(|st| {
            let t = (st.seq >> TYPE_SHIFT) as usize;
            t < mix.types.len() && mix.reply_opcode(t) == opcode
        });
        let mut rec = shard.rec.borrow_mut();
        let arrival = stamp.map(|st| (st, self.seq.arrive(st.seq & SEQ_MASK, self.sent)));
        match arrival {
            None if self.greeting == 1 => {
                // The answer to `first_message`, which carried no stamp.
                self.greeting = 2;
                rec.counters.wire.first_replies += 1;
            }
            None | Some((_, Arrival::Unsent)) => {
                shard.in_flight.set(shard.in_flight.get().saturating_sub(1));
                rec.counters.corrupted += 1;
                self.corrupted = self.corrupted.saturating_add(1);
                self.credit = self.credit.saturating_add(1);
            }
            Some((_, Arrival::Duplicate)) => rec.counters.duplicated += 1,
            Some((st, a)) => {
                if a == Arrival::OutOfOrder {
                    rec.counters.out_of_order += 1;
                }
                shard.in_flight.set(shard.in_flight.get().saturating_sub(1));
                rec.counters.received += 1;
                if shard.phase.get() == Phase::Load {
                    rec.counters.received_in_load += 1;
                }
                let sent_at = st.intended_ns + st.delay_ns;
                let corrected = now.saturating_sub(st.intended_ns);
                rec.latency(corrected, now.saturating_sub(sent_at));
                rec.type_received((st.seq >> TYPE_SHIFT) as usize, corrected);
                self.credit = self.credit.saturating_add(1);
            }
        }
    }

    /// The stamp of this connection's next message, of type `t`, due at `intended` and sent `now`.
    fn stamp(&self, t: usize, intended: u64, now: u64) -> Stamp {
        Stamp {
            seq: (t as u64) << TYPE_SHIFT | self.sent,
            intended_ns: intended,
            delay_ns: now.saturating_sub(intended),
        }
    }

    /// Append message `t` built in the core's body buffer: from its template (the request then
    /// waits for its reply in `pending`), or stamped and then compressed. Returns its size.
    fn compose(&mut self, out: &mut Vec<u8>, t: usize, intended: u64, now: u64) -> usize {
        let shard = &*self.shard;
        let mix = &shard.mix;
        let mut body = shard.sbuf.borrow_mut();
        body.clear();
        let templates = &mix.types[t].templates;
        if templates.is_empty() {
            let size = mix.size(t, shard.next_u32());
            body.extend_from_slice(&mix.template[..size]);
            payload::write(&mut body, self.stamp(t, intended, now), mix.is_text(t));
        } else {
            let fill = Fill {
                conn: shard.plan.ids.start + self.local as u64,
                seq: self.sent,
                unix_ns: shard.unix_ns(now),
            };
            templates[(self.sent % templates.len() as u64) as usize].render(&mut body, &fill, || shard.next_u32());
            let p = Pending {
                seq: self.sent,
                intended_ns: intended,
                delay_ns: now.saturating_sub(intended),
                ty: t as u8,
            };
            self.spill.get_or_insert_with(Default::default).pending.push_back(p);
        }
        wire::write_body(shard, out, mix.opcode(t), &body, self.deflate);
        body.len()
    }

    /// Queue the messages that are due: by schedule (open loop) or by credit (closed loop).
    fn generate(&mut self, cx: &mut Context<'_>) {
        let shard = self.shard.clone();
        if shard.scenario().mode == Mode::Subscribe {
            return;
        }
        let now = shard.now_ns();
        let end = shard.load_end_ns.get();
        let sched = shard.schedule(self.local as u64);
        // Open loop: everything scheduled before the end goes out, even if late, and what falls
        // due within the pacer's lead goes out now (`pacer::Ticks`).
        let due = sched.due((now + shard.ticks.lead_ns).min(end.saturating_sub(1)));
        if self.hold == Some(FaultKind::Pause) {
            // Paused: what falls due now is skipped, not sent late.
            shard.rec.borrow_mut().counters.skipped += due.saturating_sub(self.k);
            self.k = self.k.max(due);
            return;
        }
        let (count, open) = match shard.traffic(now) {
            Traffic::Closed { window, phase } => {
                let n = if self.window_phase != phase {
                    self.window_phase = phase;
                    window as u64
                } else {
                    self.credit as u64
                };
                self.credit = 0;
                (n, false)
            }
            _ => (due.saturating_sub(self.k), true),
        };
        if count == 0 {
            return;
        }
        let n = count.min(SENDS_PER_POLL);
        if n < count {
            if !open {
                self.credit = (count - n) as u32;
            }
            cx.waker().wake_by_ref();
        }
        let mix = &shard.mix;
        let mut out = shard.wbuf.borrow_mut();
        let mut rec = shard.rec.borrow_mut();
        let mut bytes = 0u64;
        let plain = mix.stamped() && !self.deflate;
        for i in 0..n {
            let t = mix.pick(shard.next_u32());
            // An early send is timed from when it leaves.
            let intended = if open {
                sched.intended_ns(self.k + i).min(now)
            } else {
                now
            };
            if !plain {
                drop(rec);
                bytes += self.compose(&mut out, t, intended, now) as u64;
                rec = shard.rec.borrow_mut();
                self.sent += 1;
                rec.types[t].sent += 1;
                continue;
            }
            let size = mix.size(t, shard.next_u32());
            let mask = shard.next_u32().to_le_bytes();
            frame::write_header(&mut out, true, mix.opcode(t), size as u64, Some(mask));
            let start = out.len();
            out.extend_from_slice(&mix.template[..size]);
            payload::write_masked(&mut out[start..], self.stamp(t, intended, now), mix.is_text(t), mask);
            self.sent += 1;
            bytes += size as u64;
            rec.types[t].sent += 1;
        }
        if open {
            // One sample per batch: the oldest message is the latest one.
            rec.send_delay
                .saturating_record(now.saturating_sub(sched.intended_ns(self.k)).max(1));
            self.k += n;
        }
        shard.in_flight.set(shard.in_flight.get() + n);
        rec.counters.sent += n;
        rec.counters.bytes_sent += bytes;
    }

    fn finish(&mut self, failure: Option<Failure>) {
        let shard = &*self.shard;
        let outstanding = self.unanswered();
        {
            let mut rec = shard.rec.borrow_mut();
            rec.counters.open -= 1;
            rec.counters.lost += outstanding;
            if self.ending == Ending::Fault {
                // The client broke this connection on purpose: not the server's error.
                rec.counters.ended_by_fault += 1;
                rec.counters.lost_by_drop += outstanding;
            } else if let Some((kind, detail)) = &failure {
                rec.counters.dropped += 1;
                rec.counters.lost_by_drop += outstanding;
                let addr = shard.plan.addr;
                rec.error(*kind, || format!("{addr}: {detail}"));
            }
        }
        shard.in_flight.set(shard.in_flight.get().saturating_sub(outstanding));
        shard.wakers.borrow_mut()[self.local as usize] = None;
        shard.live.set(shard.live.get() - 1);
        events::on_conn_end(shard, self.local, self.ending, failure.is_some());
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
        let stream = std::mem::size_of::<crate::engine::runtime::TcpStream>();
        let either = std::mem::size_of::<super::ClientStream>();
        eprintln!("Conn {conn} B, of which TcpStream {stream} B (TCP or boxed TLS: {either} B)");
        // Every byte here is paid 10,000 times; the spill buffers are empty Vecs until needed.
        assert!(conn <= 128, "Conn grew to {conn} B");
        // The socket is a descriptor and a reactor slot; TLS is boxed, so a plain connection
        // pays one word for the possibility.
        assert!(stream <= 8, "the TCP stream grew to {stream} B");
        assert!(either <= 16, "the TCP-or-TLS stream grew to {either} B");
    }
}
