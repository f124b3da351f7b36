//! Per-core recorders and the snapshot: the only data that crosses threads.
//!
//! Each core owns a [`Recorder`]; every interval it ships a [`Snapshot`]
//! (cumulative counters, latency histograms since the previous snapshot) to
//! the aggregator. Nothing per message ever leaves the core.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::io;

pub mod blob;
mod wire;
pub use wire::WireCounters;

/// Failure classes, counted, never fatal to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    ConnectRefused,
    ConnectTimeout,
    Reset,
    Unreachable,
    UpgradeRejected,
    HandshakeInvalid,
    TlsCertificate,
    TlsHandshake,
    ProtocolViolation,
    FrameTooLarge,
    ClosedByServer,
    EofWithoutClose,
    TooManyOpenFiles,
    NoFreePorts,
    OtherIo,
}

/// An error kind in a results file is its key (`connect_refused`), as in summary.json.
impl Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ErrorKind, D::Error> {
        let key = String::deserialize(d)?;
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.key() == key)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind `{key}`")))
    }
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Reset,
        ErrorKind::Unreachable,
        ErrorKind::UpgradeRejected,
        ErrorKind::HandshakeInvalid,
        ErrorKind::TlsCertificate,
        ErrorKind::TlsHandshake,
        ErrorKind::ProtocolViolation,
        ErrorKind::FrameTooLarge,
        ErrorKind::ClosedByServer,
        ErrorKind::EofWithoutClose,
        ErrorKind::TooManyOpenFiles,
        ErrorKind::NoFreePorts,
        ErrorKind::OtherIo,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// Name used in summary.json and progress lines.
    pub fn key(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::UpgradeRejected => "upgrade_rejected",
            ErrorKind::HandshakeInvalid => "handshake_invalid",
            ErrorKind::TlsCertificate => "tls_certificate",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::ProtocolViolation => "protocol_violation",
            ErrorKind::FrameTooLarge => "frame_too_large",
            ErrorKind::ClosedByServer => "closed_by_server",
            ErrorKind::EofWithoutClose => "eof_without_close",
            ErrorKind::TooManyOpenFiles => "emfile",
            ErrorKind::NoFreePorts => "eaddrnotavail",
            ErrorKind::OtherIo => "other_io",
        }
    }

    /// What the error means and what to do about it, in plain words.
    pub fn advice(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "nothing accepts connections at the target address: check the URL and that the server is running, or its accept backlog (net.core.somaxconn) during fast ramps",
            ErrorKind::ConnectTimeout => "connects did not complete in --connect-timeout: the server is overloaded, its accept backlog is full (raise net.core.somaxconn and the listen backlog), or a firewall drops packets; try --connect-rate",
            ErrorKind::Reset => "the server reset connections: it crashed, hit its own connection or file limit, or a proxy in between dropped them",
            ErrorKind::Unreachable => "no route to the target: check the address and the network",
            ErrorKind::UpgradeRejected => "the server answered the WebSocket upgrade with a non-101 HTTP status (see upgrade_status): check the path, authentication and Origin",
            ErrorKind::HandshakeInvalid => "the server's answer to the upgrade is not a valid WebSocket handshake: is this a WebSocket endpoint?",
            ErrorKind::TlsCertificate => "the server's TLS certificate was not trusted (unknown CA, a CA certificate used as the server's own, a name that does not match the URL's host, or expired): pass --ca FILE with the server's own certificate or the CA that signed it, or --insecure for a test server",
            ErrorKind::TlsHandshake => "the TLS handshake failed for another reason than the certificate (no common protocol version or cipher, an alert from the server, or not a TLS port: is the URL wss:// on a ws:// server?)",
            ErrorKind::ProtocolViolation => "the server sent frames that break RFC 6455 (reserved bits or opcodes, bad control frames, masked frames)",
            ErrorKind::FrameTooLarge => "the server announced a frame larger than --max-frame; it was refused before any memory was allocated",
            ErrorKind::ClosedByServer => "the server closed connections with a close frame before the run ended (see close_codes)",
            ErrorKind::EofWithoutClose => "the server closed TCP connections without a WebSocket close frame",
            ErrorKind::TooManyOpenFiles => "the client ran out of file descriptors (EMFILE): raise `ulimit -n` (see tuning/apply.sh) or lower --connections",
            ErrorKind::NoFreePorts => "no free ephemeral port (EADDRNOTAVAIL): about 28,000 connections fit per source address; add --source-ip 127.0.0.2,127.0.0.3,... or widen net.ipv4.ip_local_port_range",
            ErrorKind::OtherIo => "another I/O error (see first_errors)",
        }
    }

    /// Classify an I/O error met while connecting (`connecting`) or later.
    pub fn from_io(e: &io::Error, connecting: bool) -> ErrorKind {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => ErrorKind::ConnectRefused,
            Some(libc::ETIMEDOUT) if connecting => ErrorKind::ConnectTimeout,
            Some(libc::ECONNRESET) | Some(libc::EPIPE) | Some(libc::ECONNABORTED) | Some(libc::ETIMEDOUT) => {
                ErrorKind::Reset
            }
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::ENETDOWN) => ErrorKind::Unreachable,
            Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) => ErrorKind::TooManyOpenFiles,
            Some(libc::EADDRNOTAVAIL) | Some(libc::EADDRINUSE) => ErrorKind::NoFreePorts,
            _ if e.kind() == io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
            _ if e.kind() == io::ErrorKind::UnexpectedEof => ErrorKind::EofWithoutClose,
            _ => ErrorKind::OtherIo,
        }
    }
}

/// Cumulative counters of one core (or, summed, of the run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub connect_attempts: u64,
    pub established: u64,
    pub connect_failed: u64,
    /// Connections open right now (a gauge, not cumulative).
    pub open: u64,
    /// Connections lost after they were established (reset, closed by the server, protocol error).
    pub dropped: u64,
    pub sent: u64,
    pub received: u64,
    /// Of `received`, echoes that arrived during the load phase (not the drain).
    pub received_in_load: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    /// Messages never echoed: counted when their connection ends, after the drain.
    pub lost: u64,
    /// Of `lost`, messages that were in flight when their connection dropped.
    pub lost_by_drop: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// TLS handshakes completed: full, and resumed from a session ticket or ID.
    pub tls_full: u64,
    pub tls_resumed: u64,
    /// Of those handshakes, the ones that negotiated TLS 1.3 (the others TLS 1.2, the only
    /// other version rustls speaks).
    #[serde(default)]
    pub tls13: u64,
    pub errors: [u64; ErrorKind::COUNT],
    /// Client-side faults injected, by `FaultKind` index.
    pub faults: [u64; FAULT_KINDS],
    /// Connections that ended because of an injected fault (their ends are not server errors).
    pub ended_by_fault: u64,
    /// Connections closed by the client at the end of their lifetime and reopened (churn).
    pub churned: u64,
    /// Connections closed by the ramp-down.
    pub ramped_down: u64,
    /// Drops followed by a reconnection, and how many of those within the recovery horizon.
    pub recovered: u64,
    pub recovered_in_time: u64,
    /// Scheduled messages not sent because their connection was down or paused.
    pub skipped: u64,
    /// Connection-time, ns: up (established), wanted (since the first attempt), and down after drops.
    pub up_ns: u64,
    pub wanted_ns: u64,
    pub down_ns: u64,
    pub wire: WireCounters,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.connect_attempts += o.connect_attempts;
        self.established += o.established;
        self.connect_failed += o.connect_failed;
        self.open += o.open;
        self.dropped += o.dropped;
        self.sent += o.sent;
        self.received += o.received;
        self.received_in_load += o.received_in_load;
        self.duplicated += o.duplicated;
        self.out_of_order += o.out_of_order;
        self.corrupted += o.corrupted;
        self.lost += o.lost;
        self.lost_by_drop += o.lost_by_drop;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.tls_full += o.tls_full;
        self.tls_resumed += o.tls_resumed;
        self.tls13 += o.tls13;
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        for (a, b) in self.faults.iter_mut().zip(o.faults.iter()) {
            *a += b;
        }
        self.ended_by_fault += o.ended_by_fault;
        self.churned += o.churned;
        self.ramped_down += o.ramped_down;
        self.recovered += o.recovered;
        self.recovered_in_time += o.recovered_in_time;
        self.skipped += o.skipped;
        self.up_ns += o.up_ns;
        self.wanted_ns += o.wanted_ns;
        self.down_ns += o.down_ns;
        self.wire.add(&o.wire);
    }

    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// Number of client-side fault kinds (`scenario::FaultKind::ALL`).
pub const FAULT_KINDS: usize = crate::config::scenario::FaultKind::ALL.len();

/// One injection of a scheduled fault on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// When it was injected, ns since the run epoch.
    pub at_ns: u64,
    /// Index into the scenario's faults.
    pub fault: u16,
    /// Connections it hit.
    pub connections: u32,
}

/// Figures of one message type of the mix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeStats {
    pub sent: u64,
    pub received: u64,
    /// Corrected latency, ns (a delta in snapshots, like the other histograms).
    #[serde(with = "blob")]
    pub latency: Histogram<u64>,
}

impl Default for TypeStats {
    fn default() -> Self {
        TypeStats {
            sent: 0,
            received: 0,
            latency: new_histogram(),
        }
    }
}

/// Latency histograms record nanoseconds, 3 significant digits, up to one hour.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Counts keyed by a small number (HTTP status, close code). Rare events: a short vector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeCounts(pub Vec<(u16, u64)>);

impl CodeCounts {
    pub fn bump(&mut self, code: u16, n: u64) {
        match self.0.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => *v += n,
            None => {
                self.0.push((code, n));
                self.0.sort_unstable();
            }
        }
    }

    pub fn add(&mut self, o: &CodeCounts) {
        for &(c, n) in &o.0 {
            self.bump(c, n);
        }
    }
}

/// Everything one core records. Lives on that core only; a copy travels in each
/// [`Snapshot`], and the aggregator merges them into one for the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorder {
    pub counters: Counters,
    /// Latency from the intended send time (coordinated-omission corrected), ns.
    #[serde(with = "blob")]
    pub corrected: Histogram<u64>,
    /// Latency from the actual send time, ns.
    #[serde(with = "blob")]
    pub uncorrected: Histogram<u64>,
    /// Open loop: how late each message left against its schedule, ns (the client's own lag).
    #[serde(with = "blob")]
    pub send_delay: Histogram<u64>,
    /// TCP connect + TLS handshake + upgrade, ns.
    #[serde(with = "blob")]
    pub connect_time: Histogram<u64>,
    /// Its parts, ns: TCP connect, TLS handshake (wss only), WebSocket upgrade.
    #[serde(with = "blob")]
    pub tcp_time: Histogram<u64>,
    #[serde(with = "blob")]
    pub tls_time: Histogram<u64>,
    #[serde(with = "blob")]
    pub upgrade_time: Histogram<u64>,
    /// From a drop to the connection's next successful upgrade, ns.
    #[serde(with = "blob")]
    pub recovery: Histogram<u64>,
    /// Per message type of the mix (index = type), counters cumulative, histograms deltas.
    pub types: Vec<TypeStats>,
    /// Injected faults, in time order (cumulative: a short list).
    pub fault_log: Vec<FaultEvent>,
    /// Longest outage seen so far (drop to reconnect, or to the end), ns.
    pub longest_outage_ns: u64,
    /// Connections down after a drop and not back by the end.
    pub unrecovered: u64,
    pub upgrade_status: CodeCounts,
    pub close_codes: CodeCounts,
    /// First message seen per error kind (only the first, to stay bounded).
    pub first_errors: Vec<(ErrorKind, String)>,
    /// ns since epoch of this core's first connect attempt and last completed handshake.
    pub first_connect_ns: Option<u64>,
    pub last_established_ns: Option<u64>,
    /// The mix has one type and every corrected latency is an answer to it (no pushes): its
    /// latency histogram would be a copy of `corrected`, so it is not recorded per message but
    /// filled from `corrected` when the snapshots are merged ([`Recorder::add_histograms`]).
    #[serde(skip)]
    pub one_type: bool,
    /// Every phase is closed loop (or idle): each message is sent when it is due, so its latency
    /// from the write equals its corrected latency. `uncorrected` is then not recorded per
    /// message but filled from `corrected` when the snapshots are merged.
    #[serde(skip)]
    pub closed_loop: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counters: Counters::default(),
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            send_delay: new_histogram(),
            connect_time: new_histogram(),
            tcp_time: new_histogram(),
            tls_time: new_histogram(),
            upgrade_time: new_histogram(),
            recovery: new_histogram(),
            types: Vec::new(),
            fault_log: Vec::new(),
            longest_outage_ns: 0,
            unrecovered: 0,
            upgrade_status: CodeCounts::default(),
            close_codes: CodeCounts::default(),
            first_errors: Vec::new(),
            first_connect_ns: None,
            last_established_ns: None,
            one_type: false,
            closed_loop: false,
        }
    }
}

impl Recorder {
    /// Move every instant it holds onto another clock (`at(ns)`): a results file keeps them
    /// relative to the run's start, a merge puts each shard's on the earliest start's clock.
    pub fn shift(&mut self, at: impl Fn(u64) -> u64) {
        for e in &mut self.fault_log {
            e.at_ns = at(e.at_ns);
        }
        self.first_connect_ns = self.first_connect_ns.map(&at);
        self.last_established_ns = self.last_established_ns.map(&at);
    }

    /// Count an error; keep its text if it is the first of its kind.
    pub fn error(&mut self, kind: ErrorKind, detail: impl FnOnce() -> String) {
        self.counters.errors[kind as usize] += 1;
        if !self.first_errors.iter().any(|(k, _)| *k == kind) {
            self.first_errors.push((kind, detail()));
        }
    }

    /// Record one echo: latency from the intended and from the actual send time.
    #[inline]
    pub fn latency(&mut self, corrected_ns: u64, uncorrected_ns: u64) {
        self.corrected.saturating_record(corrected_ns.max(1));
        if self.closed_loop {
            debug_assert_eq!(
                corrected_ns, uncorrected_ns,
                "a closed loop sends every message when it is due"
            );
        } else {
            self.uncorrected.saturating_record(uncorrected_ns.max(1));
        }
    }

    /// Count an answer to a message of type `t`, `corrected_ns` after its intended send time
    /// (already recorded overall by [`Recorder::latency`]).
    #[inline]
    pub fn type_received(&mut self, t: usize, corrected_ns: u64) {
        let ty = &mut self.types[t];
        ty.received += 1;
        if !self.one_type {
            ty.latency.saturating_record(corrected_ns.max(1));
        }
    }

    /// Its histograms, in one fixed order (the same for every recorder).
    fn histograms_mut(&mut self) -> [&mut Histogram<u64>; 8] {
        [
            &mut self.corrected,
            &mut self.uncorrected,
            &mut self.send_delay,
            &mut self.connect_time,
            &mut self.tcp_time,
            &mut self.tls_time,
            &mut self.upgrade_time,
            &mut self.recovery,
        ]
    }

    /// Hand over what was recorded since the last snapshot without copying or allocating: the
    /// histograms are swapped with a spare recorder's empty ones (a recorder the aggregator has
    /// finished with and sent back, see [`Spares`]), and the cumulative figures, which are small,
    /// are copied into it. Copying 2 MB of histograms every interval used to stall the core's
    /// reactor for milliseconds, which showed in the latency tail.
    pub fn snapshot(&mut self, core: usize, at_ns: u64, done: bool, spares: &Spares) -> Snapshot {
        let mut rec = spares.take();
        for (mine, theirs) in self.histograms_mut().into_iter().zip(rec.histograms_mut()) {
            std::mem::swap(mine, theirs);
        }
        rec.grow_types(self.types.len());
        for (mine, theirs) in self.types.iter_mut().zip(&mut rec.types) {
            std::mem::swap(&mut mine.latency, &mut theirs.latency);
            theirs.sent = mine.sent;
            theirs.received = mine.received;
        }
        rec.counters = self.counters;
        rec.fault_log.clone_from(&self.fault_log);
        rec.longest_outage_ns = self.longest_outage_ns;
        rec.unrecovered = self.unrecovered;
        rec.upgrade_status.clone_from(&self.upgrade_status);
        rec.close_codes.clone_from(&self.close_codes);
        rec.first_errors.clone_from(&self.first_errors);
        rec.first_connect_ns = self.first_connect_ns;
        rec.last_established_ns = self.last_established_ns;
        rec.one_type = self.one_type;
        rec.closed_loop = self.closed_loop;
        Snapshot {
            core,
            at_ns,
            done,
            rec,
            spares: Some(spares.tx.clone()),
        }
    }

    /// Empty every histogram (the counters and lists are left as they are). Those already
    /// empty (most of them once the connections are open) are not written over again.
    pub fn reset_histograms(&mut self) {
        let reset = |h: &mut Histogram<u64>| {
            if !h.is_empty() {
                h.reset();
            }
        };
        self.histograms_mut().into_iter().for_each(reset);
        self.types.iter_mut().for_each(|t| reset(&mut t.latency));
    }

    /// Add another recorder's histograms (in snapshots: deltas since the previous one).
    pub fn add_histograms(&mut self, o: &Recorder) {
        let theirs = [
            &o.corrected,
            if o.closed_loop { &o.corrected } else { &o.uncorrected },
            &o.send_delay,
            &o.connect_time,
            &o.tcp_time,
            &o.tls_time,
            &o.upgrade_time,
            &o.recovery,
        ];
        for (mine, theirs) in self.histograms_mut().into_iter().zip(theirs) {
            mine.add(theirs).expect("histograms share their bounds");
        }
        self.grow_types(o.types.len());
        for (mine, theirs) in self.types.iter_mut().zip(&o.types) {
            let theirs = if o.one_type { &o.corrected } else { &theirs.latency };
            mine.latency.add(theirs).expect("histograms share their bounds");
        }
    }

    /// Make room for `n` message types.
    pub fn grow_types(&mut self, n: usize) {
        if self.types.len() < n {
            self.types.resize_with(n, TypeStats::default);
        }
    }

    /// Add another recorder's cumulative figures: counters, code counts, first errors, connect times.
    pub fn add_cumulative(&mut self, o: &Recorder) {
        self.counters.add(&o.counters);
        self.upgrade_status.add(&o.upgrade_status);
        self.close_codes.add(&o.close_codes);
        for (k, msg) in &o.first_errors {
            if !self.first_errors.iter().any(|(k2, _)| k2 == k) {
                self.first_errors.push((*k, msg.clone()));
            }
        }
        self.first_errors.sort_by_key(|(k, _)| *k);
        self.first_connect_ns = match (self.first_connect_ns, o.first_connect_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_established_ns = self.last_established_ns.max(o.last_established_ns);
        self.grow_types(o.types.len());
        for (mine, theirs) in self.types.iter_mut().zip(&o.types) {
            mine.sent += theirs.sent;
            mine.received += theirs.received;
        }
        self.fault_log.extend_from_slice(&o.fault_log);
        self.fault_log.sort_by_key(|e| (e.at_ns, e.fault));
        self.longest_outage_ns = self.longest_outage_ns.max(o.longest_outage_ns);
        self.unrecovered += o.unrecovered;
    }
}

/// What a core sends each interval: its recorder as it stands, with histograms
/// holding only what was recorded since the previous snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub core: usize,
    /// ns since the run epoch.
    pub at_ns: u64,
    /// The core's last snapshot: it has finished.
    pub done: bool,
    pub rec: Recorder,
    /// Where the recorder goes back to its core once the aggregator is done with it.
    pub spares: Option<crossbeam_channel::Sender<Recorder>>,
}

impl Snapshot {
    /// The aggregator is done with it: its recorder, emptied, goes back to its core to carry a
    /// later snapshot (dropped if the core has spares enough or has ended). The emptying costs
    /// the aggregator's thread, not the core's reactor.
    pub fn recycle(self) {
        if let Some(tx) = self.spares {
            let mut rec = self.rec;
            rec.reset_histograms();
            let _ = tx.try_send(rec);
        }
    }
}

/// A core's spare recorders: allocated up front, each carries a snapshot to the aggregator and
/// comes back empty ([`Snapshot::recycle`]), so that after the start no snapshot allocates.
/// Three are in use at a time: the one recording, the one in the channel, and the aggregator's
/// last one of this core.
pub struct Spares {
    tx: crossbeam_channel::Sender<Recorder>,
    rx: crossbeam_channel::Receiver<Recorder>,
}

impl Spares {
    const COUNT: usize = 3;

    pub fn new() -> Spares {
        let (tx, rx) = crossbeam_channel::bounded(Self::COUNT);
        for _ in 0..Self::COUNT {
            let _ = tx.try_send(Recorder::default());
        }
        Spares { tx, rx }
    }

    /// An empty recorder: a spare if one is back, else a new one.
    fn take(&self) -> Recorder {
        self.rx.try_recv().unwrap_or_default()
    }
}

impl Default for Spares {
    fn default() -> Spares {
        Spares::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let e = |n| io::Error::from_raw_os_error(n);
        assert_eq!(
            ErrorKind::from_io(&e(libc::ECONNREFUSED), true),
            ErrorKind::ConnectRefused
        );
        assert_eq!(ErrorKind::from_io(&e(libc::ETIMEDOUT), true), ErrorKind::ConnectTimeout);
        assert_eq!(ErrorKind::from_io(&e(libc::ETIMEDOUT), false), ErrorKind::Reset);
        assert_eq!(ErrorKind::from_io(&e(libc::EMFILE), true), ErrorKind::TooManyOpenFiles);
        assert_eq!(
            ErrorKind::from_io(&e(libc::EADDRNOTAVAIL), true),
            ErrorKind::NoFreePorts
        );
        assert_eq!(ErrorKind::from_io(&e(libc::EINVAL), true), ErrorKind::OtherIo);
        let keys: std::collections::BTreeSet<_> = ErrorKind::ALL.iter().map(|k| k.key()).collect();
        assert_eq!(keys.len(), ErrorKind::COUNT);
    }

    #[test]
    fn snapshots_carry_deltas_and_cumulative_counters() {
        let mut r = Recorder::default();
        r.counters.sent = 3;
        r.latency(1_000, 900);
        let spares = Spares::new();
        let a = r.snapshot(0, 1, false, &spares);
        assert_eq!(a.rec.corrected.len(), 1);
        assert_eq!(r.corrected.len(), 0, "the core records on into empty histograms");
        r.latency(2_000, 1_900);
        let b = r.snapshot(0, 2, true, &spares);
        assert_eq!(b.rec.corrected.len(), 1, "histograms are deltas");
        assert_eq!(b.rec.counters.sent, 3, "counters are cumulative");
        let mut total = Recorder::default();
        total.add_histograms(&a.rec);
        total.add_histograms(&b.rec);
        total.add_cumulative(&b.rec);
        total.add_cumulative(&b.rec);
        assert_eq!((total.corrected.len(), total.counters.sent), (2, 6));
        // Recycled, a snapshot's recorder comes back empty and carries a later one.
        a.recycle();
        b.recycle();
        r.latency(3_000, 2_900);
        r.counters.sent = 4;
        let c = r.snapshot(0, 3, false, &spares);
        assert_eq!(c.rec.corrected.len(), 1);
        assert!(c.rec.corrected.equivalent(c.rec.corrected.max(), 3_000));
        assert_eq!(c.rec.counters.sent, 4);
        r.error(ErrorKind::Reset, || "first".into());
        r.error(ErrorKind::Reset, || "second".into());
        assert_eq!(r.first_errors.len(), 1);
        assert_eq!(r.counters.errors[ErrorKind::Reset as usize], 2);
    }

    /// With one type its latency is not recorded per message but comes from `corrected` in
    /// the merge; with two, each type's comes from its own histogram.
    #[test]
    fn a_single_type_takes_its_latency_from_the_overall_histogram() {
        let spares = Spares::new();
        for (types, one_type) in [(1, true), (2, false)] {
            let mut r = Recorder::default();
            r.grow_types(types);
            r.one_type = one_type;
            for (i, ns) in [1_000u64, 2_000, 3_000].into_iter().enumerate() {
                r.latency(ns, ns / 2);
                r.type_received(i % types, ns);
            }
            assert_eq!(r.types[0].latency.len(), if one_type { 0 } else { 2 });
            let snap = r.snapshot(0, 1, true, &spares);
            let mut total = Recorder::default();
            total.add_histograms(&snap.rec);
            total.add_cumulative(&snap.rec);
            let t0 = &total.types[0];
            assert_eq!(
                (t0.received, t0.latency.len()),
                (if one_type { 3 } else { 2 }, t0.received)
            );
            assert_eq!(t0.latency == total.corrected, one_type);
        }
    }

    /// In a closed loop the latency from the write is the corrected one: recorded once, and
    /// the merge fills `uncorrected` from `corrected`; an open loop records both.
    #[test]
    fn a_closed_loop_takes_its_write_latency_from_the_corrected_histogram() {
        let spares = Spares::new();
        for closed in [true, false] {
            let mut r = Recorder {
                closed_loop: closed,
                ..Default::default()
            };
            for ns in [1_000u64, 2_000, 3_000] {
                r.latency(ns, if closed { ns } else { ns / 2 });
            }
            assert_eq!(r.uncorrected.len(), if closed { 0 } else { 3 });
            let snap = r.snapshot(0, 1, true, &spares);
            let mut total = Recorder::default();
            total.add_histograms(&snap.rec);
            assert_eq!((total.corrected.len(), total.uncorrected.len()), (3, 3));
            assert_eq!(total.uncorrected == total.corrected, closed);
        }
    }

    #[test]
    fn code_counts_merge() {
        let mut a = CodeCounts::default();
        a.bump(1006, 1);
        let mut b = CodeCounts::default();
        b.bump(1000, 2);
        b.bump(1006, 3);
        a.add(&b);
        assert_eq!(a.0, vec![(1000, 2), (1006, 4)]);
    }
}
