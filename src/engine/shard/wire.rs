//! The message layer beyond wsload's stamped echoes, for the connection task:
//! templated bodies, permessage-deflate on both paths, replies matched to
//! requests by order or by an id, and messages the server pushes.
//!
//! Everything works in the core's shared buffers (`sbuf` for a body being
//! built, `zbuf` for a body being compressed or inflated) and counts into the
//! core's recorder; a connection only keeps its queue of unanswered requests.

use std::cell::RefMut;
use std::collections::VecDeque;

use super::state::Shard;
use crate::config::scenario::{Correlate, PushFields};
use crate::metrics::{ErrorKind, Recorder};
use crate::proto::deflate::InflateError;
use crate::proto::frame::{self, OpCode};

type Failure = (ErrorKind, String);

/// A templated request waiting for its reply.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// The `{seq}` it was sent with.
    pub seq: u64,
    pub intended_ns: u64,
    /// How late it left against its schedule, ns.
    pub delay_ns: u64,
    /// Message type; [`FIRST`] for the connection's first message.
    pub ty: u8,
}

/// `Pending::ty` of a `first_message` waiting for its reply (fifo matching only).
pub const FIRST: u8 = u8::MAX;

/// Append `body` as one frame (masked, compressed when `deflate`), counting the bytes.
pub fn write_body(shard: &Shard, out: &mut Vec<u8>, opcode: OpCode, body: &[u8], deflate: bool) {
    let mask = shard.next_u32().to_le_bytes();
    // Control frames (pings) are never compressed.
    let Some(d) = shard.deflater.as_ref().filter(|_| deflate && !opcode.is_control()) else {
        frame::write_frame(out, true, opcode, body, Some(mask));
        return;
    };
    let t0 = shard.now_ns();
    let mut z = shard.zbuf.borrow_mut();
    z.clear();
    d.borrow_mut().compress(body, &mut z);
    let at = out.len();
    frame::write_frame(out, true, opcode, &z, Some(mask));
    out[at] |= 0x40; // RSV1: compressed
    let mut rec = shard.rec.borrow_mut();
    let w = &mut rec.counters.wire;
    w.deflated += 1;
    w.raw_out += body.len() as u64;
    w.wire_out += z.len() as u64;
    w.deflate_ns += shard.now_ns().saturating_sub(t0);
}

/// Inflate one compressed message into the core's `zbuf`, at most `max` bytes.
pub fn inflate<'a>(shard: &'a Shard, payload: &[u8], max: u64) -> Result<RefMut<'a, Vec<u8>>, Failure> {
    let Some(d) = shard.deflater.as_ref() else {
        let why = "server sent a compressed message on a connection without permessage-deflate";
        return Err((ErrorKind::ProtocolViolation, why.into()));
    };
    let t0 = shard.now_ns();
    let mut z = shard.zbuf.borrow_mut();
    z.clear();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    d.borrow_mut().decompress(payload, &mut z, limit).map_err(|e| match e {
        InflateError::TooLarge(m) => (
            ErrorKind::FrameTooLarge,
            format!("compressed message inflates to more than --max-frame ({m} bytes)"),
        ),
        InflateError::Corrupt(why) => (
            ErrorKind::ProtocolViolation,
            format!("server sent a compressed message that does not inflate: {why}"),
        ),
    })?;
    let mut rec = shard.rec.borrow_mut();
    let w = &mut rec.counters.wire;
    w.inflated += 1;
    w.raw_in += z.len() as u64;
    w.wire_in += payload.len() as u64;
    w.deflate_ns += shard.now_ns().saturating_sub(t0);
    Ok(z)
}

/// The request a reply answers: the oldest (`fifo`) or the one whose `{seq}` the reply carries
/// at the pointer. `true` with it: it was not the oldest (an out-of-order reply).
pub fn match_reply(correlate: &Correlate, pending: &mut VecDeque<Pending>, reply: &[u8]) -> Option<(Pending, bool)> {
    match correlate {
        Correlate::Fifo => pending.pop_front().map(|p| (p, false)),
        Correlate::Pointer(ptr) => {
            let id = ptr.find_u64(reply)?;
            // The first message (if waiting) sits at the front with an id of its own.
            let i = pending.iter().position(|p| p.ty != FIRST && p.seq == id)?;
            pending.remove(i).map(|p| (p, i > 0))
        }
        Correlate::Stamp => None,
    }
}

/// Record a reply matched to `p` (`None`: unmatched) at `now`.
pub fn record_reply(rec: &mut Recorder, p: Option<(Pending, bool)>, now: u64, in_load: bool) {
    match p {
        None => rec.counters.wire.unmatched += 1,
        Some((p, _)) if p.ty == FIRST => rec.counters.wire.first_replies += 1,
        Some((p, out_of_order)) => {
            rec.counters.received += 1;
            rec.counters.received_in_load += u64::from(in_load);
            rec.counters.wire.reordered += u64::from(out_of_order);
            let corrected = now.saturating_sub(p.intended_ns);
            rec.latency(corrected, now.saturating_sub(p.intended_ns + p.delay_ns));
            rec.type_received(p.ty as usize, corrected);
        }
    }
}

/// Count a message the server pushed (subscribe mode): its end-to-end latency when it carries a
/// timestamp (against this host's clock, `unix_now_ns`), and gaps or repeats in its sequence
/// numbers (`next`: the number expected next on this connection).
pub fn record_push(
    rec: &mut Recorder,
    fields: &PushFields,
    next: &mut Option<u64>,
    msg: &[u8],
    unix_now_ns: u64,
    in_load: bool,
) {
    rec.counters.received += 1;
    rec.counters.received_in_load += u64::from(in_load);
    if let Some(ts) = fields.timestamp.as_ref().and_then(|p| p.find_f64(msg)) {
        let sent = ts * fields.unit.ns();
        let w = &mut rec.counters.wire;
        w.timestamped += 1;
        let lat = unix_now_ns as f64 - sent;
        if lat < 0.0 {
            w.future_stamped += 1;
        }
        let lat = lat.max(0.0) as u64;
        rec.latency(lat, lat);
    }
    if let Some(seq) = fields.sequence.as_ref().and_then(|p| p.find_u64(msg)) {
        let w = &mut rec.counters.wire;
        match *next {
            Some(n) if seq > n => w.gaps += seq - n,
            Some(n) if seq < n => w.repeats += 1,
            _ => {}
        }
        *next = Some(next.map_or(seq + 1, |n| n.max(seq + 1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::scenario::TimeUnit;
    use crate::proto::jsonptr::Pointer;

    fn p(seq: u64, ty: u8) -> Pending {
        Pending {
            seq,
            intended_ns: seq * 1000,
            delay_ns: 0,
            ty,
        }
    }

    #[test]
    fn replies_match_by_order_or_by_id() {
        let mut q: VecDeque<Pending> = [p(0, FIRST), p(0, 0), p(1, 0), p(2, 1)].into();
        let by_id = Correlate::Pointer(Pointer::parse("/id").unwrap());
        let (hit, ooo) = match_reply(&by_id, &mut q, br#"{"id":2}"#).unwrap();
        assert_eq!((hit.seq, hit.ty, ooo), (2, 1, true));
        let (hit, _) = match_reply(&by_id, &mut q, br#"{"id":"0"}"#).unwrap();
        assert_eq!((hit.seq, hit.ty), (0, 0), "the first message is not taken for id 0");
        assert!(
            match_reply(&by_id, &mut q, br#"{"id":2}"#).is_none(),
            "answered already"
        );
        assert!(match_reply(&by_id, &mut q, br#"{"type":"ack"}"#).is_none());
        let (hit, ooo) = match_reply(&Correlate::Fifo, &mut q, b"anything").unwrap();
        assert_eq!((hit.ty, ooo), (FIRST, false));
        assert_eq!(match_reply(&Correlate::Fifo, &mut q, b"x").unwrap().0.seq, 1);
        assert!(match_reply(&Correlate::Fifo, &mut q, b"x").is_none());
    }

    #[test]
    fn pushes_give_latency_gaps_and_repeats() {
        let mut rec = Recorder::default();
        rec.grow_types(1);
        let fields = PushFields {
            timestamp: Some(Pointer::parse("/ts").unwrap()),
            unit: TimeUnit::Ms,
            sequence: Some(Pointer::parse("/seq").unwrap()),
        };
        let mut next = None;
        let now = 1_000_000_000_000u64; // 1,000,000 ms
        for (seq, ts) in [(5, 999_990), (6, 999_995), (9, 999_999), (7, 1_000_002)] {
            let msg = format!(r#"{{"seq":{seq},"ts":{ts}}}"#);
            record_push(&mut rec, &fields, &mut next, msg.as_bytes(), now, true);
        }
        let w = rec.counters.wire;
        assert_eq!((rec.counters.received, w.timestamped, w.future_stamped), (4, 4, 1));
        assert_eq!((w.gaps, w.repeats, next), (2, 1, Some(10)));
        assert_eq!(rec.corrected.len(), 4);
        assert!(
            (9_990_000..=10_010_000).contains(&rec.corrected.max()),
            "{}",
            rec.corrected.max()
        );
    }
}
