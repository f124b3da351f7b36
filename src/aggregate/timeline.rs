//! The time line of a run: one point per interval (rates, counts, latency percentiles, the
//! server's samples), kept under a fixed number of points however long the run lasts.

use std::collections::BTreeMap;

use crate::sys::procstat::{KernelSample, TreeSample};

/// One point of the time line (per interval). Rates and `*_new` maps cover the interval
/// ending at `t_s`; `open`, `established` and `errors` stand as at `t_s`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TimelinePoint {
    /// Seconds since the start of the run (the ramp's time 0).
    pub t_s: f64,
    pub open: u64,
    pub established: u64,
    pub connects_per_s: f64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    /// Connections dropped (by the server, the network or an injected fault) in the interval.
    pub dropped: u64,
    /// Errors so far (all kinds).
    pub errors: u64,
    /// Errors in the interval, by kind (only kinds that occurred).
    pub errors_new: BTreeMap<String, u64>,
    /// Faults injected in the interval (connections hit), by kind.
    pub faults_new: BTreeMap<String, u64>,
    /// What the network-fault proxy did in the interval (its counters' growth, nonzero only);
    /// filled in after the run from the proxy's report.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_new: BTreeMap<String, u64>,
    /// The server under test at `t_s` (with `--server-pid` or the built-in server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerPoint>,
    /// System-wide kernel memory that grows with sockets, at `t_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelPoint>,
    /// Latency of the echoes received in the interval, from the intended send time.
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub max_us: f64,
}

/// Most points a time line keeps: past this, its points are merged pairwise (see [`Timeline`]).
/// At the default 1 s interval, runs up to 68 minutes keep every interval; a 24-hour run ends
/// with 2,700 points of 32 s. A point is about 250 bytes.
pub const MAX_POINTS: usize = 4096;

/// The time line as the aggregator keeps it: at most [`MAX_POINTS`] points, so that a run's
/// memory does not grow with its length. When full, every two neighbouring points become one
/// and the points that follow each cover twice as many intervals: the step doubles. Rates are
/// weighted by time, counts added, states (`open`, `errors`, server samples…) taken at the end;
/// a merged point's latency percentiles are the largest of its intervals' (an upper bound,
/// exact for the maximum), and latency.hlog keeps every interval exact.
#[derive(Debug, Default)]
pub struct Timeline {
    pub points: Vec<TimelinePoint>,
    /// Intervals per point: 2^merges.
    pub merges: u32,
    /// Intervals in the last point so far.
    filled: u64,
    cap: usize,
}

impl Timeline {
    /// At most `cap` points (rounded down to an even number, at least 2). Room for them is
    /// reserved at once (pages become resident only once written), so the time line never
    /// reallocates: its memory grows by one point per interval up to the cap, then stays.
    pub fn new(cap: usize) -> Timeline {
        let cap = (cap / 2 * 2).max(2);
        Timeline {
            points: Vec::with_capacity(cap),
            cap,
            ..Timeline::default()
        }
    }

    /// Add the point of the interval that ends at `p.t_s`.
    pub fn push(&mut self, p: TimelinePoint) {
        let per_point = 1u64 << self.merges;
        if self.filled > 0 && self.filled < per_point {
            let n = self.points.len();
            let before = if n >= 2 { self.points[n - 2].t_s } else { 0.0 };
            let last = &mut self.points[n - 1];
            *last = merge_points(last, &p, before);
            self.filled += 1;
            return;
        }
        if self.points.len() == self.cap {
            // Pairs merge in place: point i is made from points 2i and 2i + 1, which are read
            // before anything at or after them is overwritten (the cap is even).
            let mut before = 0.0;
            for i in 0..self.cap / 2 {
                let m = merge_points(&self.points[2 * i], &self.points[2 * i + 1], before);
                before = m.t_s;
                self.points[i] = m;
            }
            self.points.truncate(self.cap / 2);
            self.merges += 1;
        }
        self.points.push(p);
        self.filled = 1;
    }
}

/// One point for the interval of `a` followed by that of `b`; `a`'s interval starts at `before`.
pub fn merge_points(a: &TimelinePoint, b: &TimelinePoint, before: f64) -> TimelinePoint {
    let (la, lb) = ((a.t_s - before).max(0.0), (b.t_s - a.t_s).max(0.0));
    let rate = |x: f64, y: f64| {
        if la + lb > 0.0 {
            (x * la + y * lb) / (la + lb)
        } else {
            y
        }
    };
    let add = |x: &BTreeMap<String, u64>, y: &BTreeMap<String, u64>| {
        let mut m = x.clone();
        for (k, n) in y {
            *m.entry(k.clone()).or_default() += n;
        }
        m
    };
    TimelinePoint {
        t_s: b.t_s,
        open: b.open,
        established: b.established,
        connects_per_s: rate(a.connects_per_s, b.connects_per_s),
        sent_per_s: rate(a.sent_per_s, b.sent_per_s),
        received_per_s: rate(a.received_per_s, b.received_per_s),
        dropped: a.dropped + b.dropped,
        errors: b.errors,
        errors_new: add(&a.errors_new, &b.errors_new),
        faults_new: add(&a.faults_new, &b.faults_new),
        proxy_new: add(&a.proxy_new, &b.proxy_new),
        server: b.server.or(a.server),
        kernel: b.kernel.or(a.kernel),
        p50_us: a.p50_us.max(b.p50_us),
        p90_us: a.p90_us.max(b.p90_us),
        p99_us: a.p99_us.max(b.p99_us),
        p99_9_us: a.p99_9_us.max(b.p99_9_us),
        max_us: a.max_us.max(b.max_us),
    }
}

/// One sample of the server under test's process tree.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ServerPoint {
    /// User + system CPU seconds since the server started.
    pub cpu_s: f64,
    pub rss_bytes: u64,
    pub fds: u64,
    pub threads: u64,
}

impl From<TreeSample> for ServerPoint {
    fn from(t: TreeSample) -> Self {
        ServerPoint {
            cpu_s: (t.cpu_total_s() * 1e3).round() / 1e3,
            rss_bytes: t.rss_bytes,
            fds: t.fds,
            threads: t.threads,
        }
    }
}

/// Kernel memory that grows with sockets (system-wide: both ends when the server is local).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KernelPoint {
    /// TCP socket buffers (/proc/net/sockstat `mem`, in bytes).
    pub tcp_mem_bytes: u64,
    /// Slab (/proc/meminfo): socket structures among others.
    pub slab_bytes: u64,
    pub tcp_inuse: u64,
}

impl From<KernelSample> for KernelPoint {
    fn from(k: KernelSample) -> Self {
        KernelPoint {
            tcp_mem_bytes: k.tcp_mem_bytes,
            slab_bytes: k.slab_bytes,
            tcp_inuse: k.tcp_inuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The point of interval `i` (1 s long, ending at t = i): `i` messages/s, p99 `i` µs, one drop.
    fn point(i: u32) -> TimelinePoint {
        TimelinePoint {
            t_s: f64::from(i),
            open: u64::from(i),
            sent_per_s: f64::from(i),
            dropped: 1,
            errors_new: [("reset".to_string(), 1)].into(),
            p99_us: f64::from(i),
            ..TimelinePoint::default()
        }
    }

    fn line(cap: usize, n: u32) -> Timeline {
        let mut t = Timeline::new(cap);
        (1..=n).for_each(|i| t.push(point(i)));
        t
    }

    #[test]
    fn a_time_line_below_its_cap_keeps_every_interval() {
        let t = line(4, 4);
        assert_eq!(t.merges, 0);
        assert_eq!(t.points.iter().map(|p| p.t_s).collect::<Vec<_>>(), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_full_time_line_merges_pairs_and_doubles_its_step() {
        let ts = |t: &Timeline| t.points.iter().map(|p| p.t_s).collect::<Vec<_>>();
        // (pushed, points' ends, merges)
        let table: &[(u32, &[f64], u32)] = &[
            (5, &[2.0, 4.0, 5.0], 1),
            (6, &[2.0, 4.0, 6.0], 1),
            (8, &[2.0, 4.0, 6.0, 8.0], 1),
            (9, &[4.0, 8.0, 9.0], 2),
            (16, &[4.0, 8.0, 12.0, 16.0], 2),
            (17, &[8.0, 16.0, 17.0], 3),
        ];
        for &(n, ends, merges) in table {
            let mut t = Timeline::new(4);
            let room = t.points.as_ptr();
            (1..=n).for_each(|i| t.push(point(i)));
            assert_eq!(ts(&t), ends, "after {n}");
            assert_eq!(t.merges, merges, "after {n}");
            assert_eq!(t.points.as_ptr(), room, "after {n}: never reallocated");
            // Nothing is lost: counts add up, rates × lengths give every message, states are the last.
            let drops: u64 = t.points.iter().map(|p| p.dropped).sum();
            let resets: u64 = t.points.iter().map(|p| p.errors_new["reset"]).sum();
            assert_eq!((drops, resets), (u64::from(n), u64::from(n)), "after {n}");
            let mut before = 0.0;
            let mut sent = 0.0;
            for p in &t.points {
                sent += p.sent_per_s * (p.t_s - before);
                before = p.t_s;
            }
            assert_eq!(sent, f64::from(n * (n + 1) / 2), "after {n}");
            assert_eq!(t.points.last().unwrap().open, u64::from(n));
            // A merged point's p99 is its worst interval's.
            assert!(t.points.iter().all(|p| p.p99_us == p.t_s), "after {n}");
        }
        // An odd cap is rounded down, so that points always merge in pairs.
        assert_eq!(ts(&line(5, 5)), [2.0, 4.0, 5.0]);
    }

    #[test]
    fn a_day_of_one_second_points_stays_under_the_cap() {
        // Before, each interval also kept its latency histogram in memory (2,763 bytes deflated
        // for 10,000 echoes spread over 50 µs..10 ms); it now goes to latency.hlog as it comes.
        assert!(std::mem::size_of::<TimelinePoint>() <= 256);
        let t = line(MAX_POINTS, 86_400);
        assert!(t.points.len() <= MAX_POINTS && t.points.len() > MAX_POINTS / 2);
        assert_eq!(t.merges, 5, "32 s per point");
        assert_eq!(t.points.last().unwrap().t_s, 86_400.0);
    }
}
