//! Counters of what travels beyond wsload's stamped echoes: permessage-deflate,
//! replies matched by `correlate`, and messages the server pushes.

/// Cumulative, per core (or summed over the run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireCounters {
    /// Connections on which permessage-deflate was agreed.
    pub deflate_conns: u64,
    /// Payload bytes before compression and on the wire, sent and received.
    pub raw_out: u64,
    pub wire_out: u64,
    pub raw_in: u64,
    pub wire_in: u64,
    /// Messages compressed and decompressed, and the time spent doing so, ns.
    pub deflated: u64,
    pub inflated: u64,
    pub deflate_ns: u64,
    /// `first_message`s sent, and replies taken as their answer.
    pub first_sent: u64,
    pub first_replies: u64,
    /// Replies that matched no request (no id, an unknown id, or nothing outstanding).
    pub unmatched: u64,
    /// Replies matched by id that were not answering the oldest request.
    pub reordered: u64,
    /// Subscribe mode: pushed messages carrying a readable timestamp, and those stamped in the
    /// future by this host's clock (their latency counts as 0).
    pub timestamped: u64,
    pub future_stamped: u64,
    /// Subscribe mode: sequence numbers skipped and seen again.
    pub gaps: u64,
    pub repeats: u64,
}

impl WireCounters {
    pub fn add(&mut self, o: &WireCounters) {
        let WireCounters {
            deflate_conns,
            raw_out,
            wire_out,
            raw_in,
            wire_in,
            deflated,
            inflated,
            deflate_ns,
            first_sent,
            first_replies,
            unmatched,
            reordered,
            timestamped,
            future_stamped,
            gaps,
            repeats,
        } = o;
        self.deflate_conns += deflate_conns;
        self.raw_out += raw_out;
        self.wire_out += wire_out;
        self.raw_in += raw_in;
        self.wire_in += wire_in;
        self.deflated += deflated;
        self.inflated += inflated;
        self.deflate_ns += deflate_ns;
        self.first_sent += first_sent;
        self.first_replies += first_replies;
        self.unmatched += unmatched;
        self.reordered += reordered;
        self.timestamped += timestamped;
        self.future_stamped += future_stamped;
        self.gaps += gaps;
        self.repeats += repeats;
    }
}
