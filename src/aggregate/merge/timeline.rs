//! The shards' time lines and per-interval latency histograms, put on one clock.
//!
//! A point of a shard lands in the interval bucket of its absolute time: bucket k covers the
//! interval that ends k intervals after the merge's start (the earliest shard's). Shards that
//! started together (`--start-at`) have their points on the same instants, so each bucket
//! gets at most one point per shard. In a bucket, counts and rates are added; the gauges and
//! running totals (`open`, `established`, `errors`) of a shard without a point there are
//! carried from its previous point; latency percentiles come from the bucket's histograms
//! added up, never from the shards' percentiles.

use std::collections::BTreeMap;
use std::io;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;

use crate::aggregate::live::Interval;
use crate::aggregate::timeline::TimelinePoint;
use crate::metrics::blob;

/// One shard's time line and latency intervals, with its start on the merge's clock.
pub struct ShardLine {
    pub offset_ns: u64,
    pub timeline: Vec<TimelinePoint>,
    /// From latency.hlog: (start_s, length_s, histogram), on the shard's clock.
    pub intervals: Vec<(f64, f64, Histogram<u64>)>,
    /// Take the server and kernel samples from this shard (one shard speaks for a shared server).
    pub server_samples: bool,
}

/// Read latency.hlog's intervals (timestamps relative to its BaseTime, the run's start).
pub fn read_hlog(bytes: &[u8]) -> Result<Vec<(f64, f64, Histogram<u64>)>, String> {
    let mut out = Vec::new();
    let mut base = false;
    for e in IntervalLogIterator::new(bytes) {
        match e.map_err(|e| format!("not an HdrHistogram interval log ({e:?})"))? {
            LogEntry::BaseTime(_) | LogEntry::StartTime(_) => base = true,
            LogEntry::Interval(i) => {
                let h = blob::decode(i.encoded_histogram())?;
                out.push((i.start_timestamp().as_secs_f64(), i.duration().as_secs_f64(), h));
            }
        }
    }
    if !base {
        return Err("no BaseTime or StartTime header: not a log written by wsload".into());
    }
    Ok(out)
}

/// The merged time line and its latency intervals (the last one holds every shard's tail,
/// the echoes after its last point).
pub fn merge(shards: &[ShardLine], interval_ns: u64) -> (Vec<TimelinePoint>, Vec<Interval>) {
    let step = interval_ns as f64 / 1e9;
    let bucket = |offset_ns: u64, t_s: f64| ((offset_ns as f64 / 1e9 + t_s) / step).round() as i64;
    // Buckets: the shards' points (by shard), and histograms.
    let mut points: BTreeMap<i64, Vec<(usize, &TimelinePoint)>> = BTreeMap::new();
    let mut hists: BTreeMap<i64, Histogram<u64>> = BTreeMap::new();
    let mut tail = crate::metrics::new_histogram();
    let mut tail_end_s = 0.0f64;
    for (i, s) in shards.iter().enumerate() {
        for p in &s.timeline {
            points.entry(bucket(s.offset_ns, p.t_s)).or_default().push((i, p));
        }
        for (start, len, h) in &s.intervals {
            let end = start + len;
            // An interval belongs to the bucket of the first point at or after its end (the point
            // that covers it, also when a long run merged its points); the ones after the last
            // point are the tail. (Points are in time order; hlog timestamps have millisecond
            // precision.)
            let near = s.timeline.partition_point(|p| p.t_s < end - 2e-3);
            if let Some(p) = s.timeline.get(near) {
                let b = bucket(s.offset_ns, p.t_s);
                let into = hists.entry(b).or_insert_with(crate::metrics::new_histogram);
                let _ = into.add(h);
            } else {
                let _ = tail.add(h);
                tail_end_s = tail_end_s.max(s.offset_ns as f64 / 1e9 + end);
            }
        }
    }
    // Carried gauges and running totals per shard: (open, established, errors).
    let mut carried = vec![(0u64, 0u64, 0u64); shards.len()];
    let last_bucket: Vec<i64> = shards
        .iter()
        .map(|s| s.timeline.last().map_or(i64::MIN, |p| bucket(s.offset_ns, p.t_s)))
        .collect();
    let mut timeline = Vec::new();
    let mut intervals = Vec::new();
    let mut prev_t = 0.0f64;
    for (&b, here) in &points {
        let t = (b as f64 * step * 1e3).round() / 1e3;
        let empty = crate::metrics::new_histogram();
        let h = hists.get(&b).unwrap_or(&empty);
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
        let mut p = TimelinePoint {
            t_s: t,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p99_9_us: q(0.999),
            max_us: h.max() as f64 / 1e3,
            ..Default::default()
        };
        for &(i, sp) in here {
            carried[i] = (sp.open, sp.established, sp.errors);
            add_rates(&mut p, sp, shards[i].server_samples);
        }
        for (i, c) in carried.iter().enumerate() {
            // A shard past its last point holds nothing open any more.
            if b <= last_bucket[i] {
                p.open += c.0;
            }
            p.established += c.1;
            p.errors += c.2;
        }
        if let Some(h) = hists.get(&b) {
            intervals.extend(Interval::encode(prev_t, t, h));
        }
        prev_t = t;
        timeline.push(p);
    }
    if !tail.is_empty() {
        intervals.extend(Interval::encode(prev_t, tail_end_s.max(prev_t), &tail));
    }
    (timeline, intervals)
}

/// Add one shard's point to the merged point of its bucket: rates and per-interval counts
/// add up; the server's samples come from the shard that took them (`with_server`).
fn add_rates(p: &mut TimelinePoint, sp: &TimelinePoint, with_server: bool) {
    p.connects_per_s += sp.connects_per_s;
    p.sent_per_s += sp.sent_per_s;
    p.received_per_s += sp.received_per_s;
    p.dropped += sp.dropped;
    for (into, from) in [
        (&mut p.errors_new, &sp.errors_new),
        (&mut p.proxy_new, &sp.proxy_new),
        (&mut p.faults_new, &sp.faults_new),
    ] {
        for (k, n) in from {
            *into.entry(k.clone()).or_default() += n;
        }
    }
    if with_server {
        p.server = sp.server;
        p.kernel = sp.kernel;
    }
}

/// Read a file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("{} is missing", path.display()),
        _ => format!("cannot read {}: {e}", path.display()),
    })
}
