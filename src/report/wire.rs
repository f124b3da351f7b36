//! The summary's `wire` section: what the run's messages were (stamped echoes,
//! templates matched by order or id, or server pushes), permessage-deflate's
//! ratio and CPU cost, and what a subscription received.

use serde::{Deserialize, Serialize};

use crate::config::scenario::{Correlate, Mode, Scenario};
use crate::metrics::WireCounters;

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WireSection {
    pub mode: Mode,
    /// `stamp`, `fifo` or the JSON pointer of the reply's id.
    pub correlate: String,
    /// Replies that matched no request (no id, an unknown or already answered id).
    pub unmatched: u64,
    /// Replies matched by id that overtook an older request (not an error: a server may answer
    /// in any order).
    pub reordered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_message: Option<FirstSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<CompressionSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<SubscribeSection>,
}

/// What a summary without the section (written before it existed) ran: stamped echoes.
impl Default for WireSection {
    fn default() -> Self {
        WireSection {
            mode: Mode::Echo,
            correlate: "stamp".into(),
            unmatched: 0,
            reordered: 0,
            first_message: None,
            compression: None,
            subscribe: None,
        }
    }
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct FirstSection {
    pub sent: u64,
    /// Replies taken as its answer.
    pub replies: u64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct CompressionSection {
    pub offered: String,
    /// Connections on which the server agreed to it.
    pub connections: u64,
    pub sent: Ratio,
    pub received: Ratio,
    /// Client CPU spent compressing and inflating, per message, µs.
    pub cpu_us_per_message: Option<f64>,
    pub cpu_s: f64,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct Ratio {
    pub messages: u64,
    /// Payload bytes before compression and on the wire.
    pub raw_bytes: u64,
    pub wire_bytes: u64,
    /// raw / wire: 3.0 means a third of the bytes went over the wire.
    pub ratio: Option<f64>,
}

#[derive(Debug, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct SubscribeSection {
    /// Messages the server pushed, over the whole run and per second of the load.
    pub received: u64,
    pub rate_per_s: f64,
    /// Pushes whose timestamp could be read (their latency is in `latency_us`), and those
    /// stamped later than this host's clock read on arrival (counted as 0 latency).
    pub timestamped: u64,
    pub future_stamped: u64,
    pub gaps: u64,
    pub repeats: u64,
    /// Where the latency's two clocks come from.
    pub clock: String,
}

fn ratio(messages: u64, raw: u64, wire: u64) -> Ratio {
    Ratio {
        messages,
        raw_bytes: raw,
        wire_bytes: wire,
        ratio: (wire > 0).then(|| (raw as f64 / wire as f64 * 1000.0).round() / 1000.0),
    }
}

pub fn build(sc: &Scenario, w: &WireCounters, received: u64, received_in_load: u64, load_s: f64) -> WireSection {
    let correlate = match &sc.correlate {
        _ if sc.mode == Mode::Subscribe => "none".to_string(),
        Correlate::Stamp => "stamp".to_string(),
        Correlate::Fifo => "fifo".to_string(),
        Correlate::Pointer(p) => p.as_str().to_string(),
    };
    let compression = sc.compression.then(|| {
        let msgs = w.deflated + w.inflated;
        CompressionSection {
            offered: "permessage-deflate; client_no_context_takeover; server_no_context_takeover".into(),
            connections: w.deflate_conns,
            sent: ratio(w.deflated, w.raw_out, w.wire_out),
            received: ratio(w.inflated, w.raw_in, w.wire_in),
            cpu_us_per_message: (msgs > 0).then(|| (w.deflate_ns as f64 / msgs as f64 / 1e3 * 100.0).round() / 100.0),
            cpu_s: (w.deflate_ns as f64 / 1e6).round() / 1e3,
        }
    });
    let subscribe = (sc.mode == Mode::Subscribe).then(|| SubscribeSection {
        received,
        rate_per_s: if load_s > 0.0 {
            (received_in_load as f64 / load_s * 10.0).round() / 10.0
        } else {
            0.0
        },
        timestamped: w.timestamped,
        future_stamped: w.future_stamped,
        gaps: w.gaps,
        repeats: w.repeats,
        clock: match &sc.push.timestamp {
            Some(p) => format!(
                "the server's timestamp at {} ({} since the Unix epoch) against this host's CLOCK_REALTIME on \
                 arrival: the two clocks must agree (same host, or NTP/PTP-synchronized)",
                p.as_str(),
                sc.push.unit.name()
            ),
            None => "no timestamp_field: counts only".into(),
        },
    });
    WireSection {
        mode: sc.mode,
        correlate,
        unmatched: w.unmatched,
        reordered: w.reordered,
        first_message: sc.first_message.as_ref().map(|_| FirstSection {
            sent: w.first_sent,
            replies: w.first_replies,
        }),
        compression,
        subscribe,
    }
}

/// Lines for the text summary, report.md and report.html, from the `wire` section (none for a
/// plain stamped echo run).
pub fn lines(w: &WireSection) -> Vec<String> {
    let mut out = Vec::new();
    if w.correlate != "stamp" && w.mode == Mode::Echo {
        out.push(format!(
            "replies matched by {}; {} unmatched, {} out of order",
            if w.correlate == "fifo" {
                "order (fifo)".to_string()
            } else {
                format!("id at {}", w.correlate)
            },
            w.unmatched,
            w.reordered
        ));
    }
    if let Some(f) = &w.first_message {
        out.push(format!(
            "first message sent on {} connections, {} replies",
            f.sent, f.replies
        ));
    }
    match &w.compression {
        Some(c) if c.connections == 0 => out
            .push("permessage-deflate offered, but the server declined it on every connection: no compression".into()),
        Some(c) => {
            let r = |d: &Ratio| d.ratio.map_or("n/a".into(), |x| format!("{x:.2}x"));
            out.push(format!(
                "permessage-deflate on {} connections; ratio sent {}, received {}; CPU {} us per message",
                c.connections,
                r(&c.sent),
                r(&c.received),
                c.cpu_us_per_message.map_or("n/a".into(), |x| format!("{x:.2}"))
            ));
        }
        None => {}
    }
    if let Some(p) = &w.subscribe {
        out.push(format!(
            "subscribe: {} pushed messages ({:.0}/s under load), {} with a timestamp ({} ahead of this clock), \
             {} gaps, {} repeats",
            p.received, p.rate_per_s, p.timestamped, p.future_stamped, p.gaps, p.repeats
        ));
    }
    out
}
