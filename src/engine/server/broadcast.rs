//! `wsload serve --broadcast RATE`: every connection receives RATE messages a
//! second, each carrying a sequence number and its publish time, so fan-out
//! (server-push) clients such as `wsload run --mode subscribe` can be tested
//! and benchmarked.
//!
//! The schedule is a function of time shared by every core: message `s` is
//! due at `epoch + s / RATE`, and carries that instant as its timestamp, so a
//! server that falls behind shows it as latency rather than hiding it. Each
//! core runs one ticker that advances the current sequence number and wakes
//! its connections; a connection writes what it has not sent yet into the
//! core's write buffer. A connection whose socket pushes back skips messages
//! (a slow consumer), which the client sees as gaps.

use std::cell::{Cell, RefCell};
use std::task::Waker;
use std::time::Duration;

use crate::config::fleet::unix_now_ns;
use crate::proto::frame::{self, OpCode};

/// Messages written per connection per poll at most (a connection far behind catches up on
/// later polls or skips).
const MAX_CATCH_UP: u64 = 64;

pub struct Broadcast {
    period_ns: u64,
    /// Payload bytes at least (padding is added to reach it).
    size: usize,
    /// Unix time of message 0, ns (the same for every core).
    epoch_unix_ns: u64,
    /// The latest message due.
    tick: Cell<u64>,
    /// Connections waiting for the next tick.
    waiting: RefCell<Vec<Waker>>,
}

impl Broadcast {
    /// `rate` messages per second per connection, starting now.
    pub fn new(rate: f64, size: usize, epoch_unix_ns: u64) -> Broadcast {
        Broadcast {
            period_ns: (1e9 / rate).max(1.0) as u64,
            size,
            epoch_unix_ns,
            tick: Cell::new(0),
            waiting: RefCell::new(Vec::new()),
        }
    }

    /// The epoch for a new server: now.
    pub fn epoch_now() -> u64 {
        unix_now_ns()
    }

    /// The sequence number a connection opened now sends first.
    pub fn next_seq(&self) -> u64 {
        self.tick.get() + 1
    }

    /// Advance the tick with time, waking the connections at each one. Runs forever.
    pub async fn ticker(&self) {
        loop {
            let next = self.tick.get() + 1;
            let due = self.epoch_unix_ns + next * self.period_ns;
            let now = unix_now_ns();
            if due > now {
                crate::engine::runtime::sleep(Duration::from_nanos(due - now)).await;
            }
            // Late ticks (a busy core) are caught up at once: the messages still say when they
            // were due.
            let now = unix_now_ns();
            let latest = (now.saturating_sub(self.epoch_unix_ns) / self.period_ns).max(next);
            self.tick.set(latest);
            for w in self.waiting.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    /// Write the messages due from `*next` on into `out` (server frames, unmasked), unless
    /// `congested`, in which case they are skipped. Then wait for the next tick.
    pub fn poll_send(&self, next: &mut u64, out: &mut Vec<u8>, congested: bool, waker: &Waker) {
        let tick = self.tick.get();
        if *next <= tick {
            if congested {
                *next = tick + 1;
            } else {
                let until = tick.min(*next + MAX_CATCH_UP - 1);
                for s in *next..=until {
                    self.write_message(s, out);
                }
                *next = until + 1;
                if *next <= tick {
                    waker.wake_by_ref();
                    return;
                }
            }
        }
        self.waiting.borrow_mut().push(waker.clone());
    }

    fn write_message(&self, seq: u64, out: &mut Vec<u8>) {
        let ts_us = (self.epoch_unix_ns + seq * self.period_ns) / 1000;
        let mut body = format!("{{\"seq\":{seq},\"ts\":{ts_us}");
        let fixed = body.len() + ",\"pad\":\"\"}".len();
        if fixed < self.size {
            body.push_str(",\"pad\":\"");
            body.extend(std::iter::repeat_n('x', self.size - fixed));
            body.push('"');
        }
        body.push('}');
        frame::write_frame(out, true, OpCode::Text, body.as_bytes(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jsonptr::Pointer;

    #[test]
    fn messages_carry_seq_and_due_time_and_are_padded() {
        let b = Broadcast::new(100.0, 64, 1_000_000_000_000);
        let mut out = Vec::new();
        b.write_message(7, &mut out);
        let h = frame::parse_header(&out, false, 1 << 20).unwrap().unwrap();
        let body = &out[h.header_len..];
        assert_eq!(body.len(), 64, "{}", String::from_utf8_lossy(body));
        assert_eq!(Pointer::parse("/seq").unwrap().find_u64(body), Some(7));
        assert_eq!(Pointer::parse("/ts").unwrap().find_u64(body), Some(1_000_070_000));
        let small = Broadcast::new(1.0, 0, 0);
        let mut out = Vec::new();
        small.write_message(1, &mut out);
        assert_eq!(&out[2..], br#"{"seq":1,"ts":1000000}"#);
    }
}
