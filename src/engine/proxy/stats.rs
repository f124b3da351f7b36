//! What the proxy did, counted per core and reported as JSON lines.
//!
//! Each core adds into its own [`CoreStats`] (relaxed atomics on memory no other core writes);
//! the main thread sums them once per interval and prints one line, plus one line whenever a
//! toxic turns on or off. Nothing crosses cores per chunk.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A proxy counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Connections accepted from clients.
    Accepted,
    /// Refused by a `down` toxic.
    Refused,
    /// The upstream could not be reached for an accepted connection (the client is reset).
    UpstreamFailed,
    /// Connections that ended (either way), refused ones excepted.
    Ended,
    BytesUpstream,
    BytesDownstream,
    /// Bytes held by a latency toxic.
    BytesDelayed,
    /// Bytes written in slices.
    BytesSliced,
    /// Bytes that had to wait for a bandwidth cap.
    BytesThrottled,
    /// Bytes that waited out a stall.
    BytesStalled,
    ChunksCorrupted,
    /// Connections ended by a reset toxic.
    Resets,
    /// Connections ended by a close toxic.
    Closes,
    /// Connections a timeout toxic started swallowing.
    TimedOut,
    /// Bytes swallowed by a timeout toxic.
    BytesSwallowed,
}

impl Counter {
    pub const ALL: [Counter; 15] = [
        Counter::Accepted,
        Counter::Refused,
        Counter::UpstreamFailed,
        Counter::Ended,
        Counter::BytesUpstream,
        Counter::BytesDownstream,
        Counter::BytesDelayed,
        Counter::BytesSliced,
        Counter::BytesThrottled,
        Counter::BytesStalled,
        Counter::ChunksCorrupted,
        Counter::Resets,
        Counter::Closes,
        Counter::TimedOut,
        Counter::BytesSwallowed,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Counter::Accepted => "accepted",
            Counter::Refused => "refused",
            Counter::UpstreamFailed => "upstream_failed",
            Counter::Ended => "ended",
            Counter::BytesUpstream => "bytes_upstream",
            Counter::BytesDownstream => "bytes_downstream",
            Counter::BytesDelayed => "bytes_delayed",
            Counter::BytesSliced => "bytes_sliced",
            Counter::BytesThrottled => "bytes_throttled",
            Counter::BytesStalled => "bytes_stalled",
            Counter::ChunksCorrupted => "chunks_corrupted",
            Counter::Resets => "resets",
            Counter::Closes => "closes",
            Counter::TimedOut => "timed_out",
            Counter::BytesSwallowed => "bytes_swallowed",
        }
    }
}

/// One core's counters.
#[derive(Debug, Default)]
pub struct CoreStats([AtomicU64; Counter::ALL.len()]);

impl CoreStats {
    pub fn add(&self, c: Counter, n: u64) {
        self.0[c as usize].fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize].load(Ordering::Relaxed)
    }
}

/// One line of the proxy's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    /// The counters so far, summed over cores. `t_s`: seconds since the proxy started;
    /// `clock_s`: on the toxics' clock (absent before it starts).
    Counters {
        t_s: f64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        clock_s: Option<f64>,
        open: u64,
        counters: std::collections::BTreeMap<String, u64>,
    },
    /// Toxic `toxic` (its index) turned on or off.
    Event {
        t_s: f64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        clock_s: Option<f64>,
        toxic: usize,
        /// "on" or "off".
        event: String,
        what: String,
    },
}

/// The counters summed over cores.
pub fn sum(cores: &[std::sync::Arc<CoreStats>]) -> (u64, std::collections::BTreeMap<String, u64>) {
    let total = |c: Counter| cores.iter().map(|s| s.get(c)).sum::<u64>();
    let counters = Counter::ALL.iter().map(|c| (c.key().to_string(), total(*c))).collect();
    let open = total(Counter::Accepted)
        .saturating_sub(total(Counter::Refused) + total(Counter::UpstreamFailed) + total(Counter::Ended));
    (open, counters)
}

/// Print one line on stdout (flushed: the reader is usually a pipe).
pub fn emit(line: &Line) {
    let mut out = std::io::stdout().lock();
    if let Ok(s) = serde_json::to_string(line) {
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }
}

/// Seconds with millisecond precision.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back() {
        let stats = std::sync::Arc::new(CoreStats::default());
        stats.add(Counter::Accepted, 3);
        stats.add(Counter::Ended, 1);
        stats.add(Counter::ChunksCorrupted, 2);
        let (open, counters) = sum(&[stats.clone(), stats]);
        assert_eq!(open, 4);
        assert_eq!(counters["chunks_corrupted"], 4);
        let l = Line::Counters {
            t_s: 1.5,
            clock_s: None,
            open,
            counters,
        };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), l);
        let e = Line::Event {
            t_s: 2.0,
            clock_s: Some(1.0),
            toxic: 0,
            event: "on".into(),
            what: "latency 50ms both".into(),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"event\":\"on\""), "{text}");
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), e);
    }
}
