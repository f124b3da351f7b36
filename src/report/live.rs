//! The live metrics (`run --metrics-listen`): the merged figures as they stand, in the
//! Prometheus text exposition format (version 0.0.4), rendered by the aggregator once per
//! interval and served by [`super::endpoint`].
//!
//! Families that metrics.prom also has keep its names, labels and units
//! (`wsload_messages_total{kind="sent"}`, `wsload_latency_seconds{kind,quantile}`…), so a
//! dashboard reads the live run and the end-of-run file alike; the last text published
//! (`wsload_run_done 1`) holds the figures of summary.json. Counters are cumulative from the
//! start of the run; every error class is present from the start (zero until it occurs), so
//! that `rate()` sees each series begin. Latency also comes as a Prometheus histogram, for
//! `histogram_quantile()` over any window.

use hdrhistogram::Histogram;

use super::exposition::Out;
use super::model::{percentiles, Percentiles};
use crate::aggregate::live::Figures;
use crate::aggregate::timeline::TimelinePoint;
use crate::metrics::{Counters, ErrorKind, Recorder};

/// Upper bounds of the latency histogram's buckets, seconds (+Inf is added).
const BUCKETS_S: [f64; 19] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0,
];

/// The exposition text of `f`; `target` is the run's URL with its credentials redacted.
pub fn render(f: &Figures<'_>, target: &str) -> String {
    let mut o = Out(String::with_capacity(8 * 1024));
    run_info(&mut o, f, target);
    counters(&mut o, f.counters);
    latency(&mut o, f.hists);
    if let Some(p) = f.point {
        last_interval(&mut o, p);
    }
    o.0
}

/// What run this is, since when, and whether it is over.
fn run_info(o: &mut Out, f: &Figures<'_>, target: &str) {
    o.run_info(
        &[("version", env!("CARGO_PKG_VERSION")), ("target", target)],
        f.run_start_unix_s,
    );
    gauge(
        o,
        "wsload_elapsed_seconds",
        "Seconds since the start of the run, as of these figures.",
        f.t_s,
    );
    gauge(
        o,
        "wsload_run_done",
        "1 once the run is over: these are its final figures, those of summary.json.",
        f64::from(u8::from(f.last)),
    );
}

/// Connections by state, messages, bytes and errors so far.
fn counters(o: &mut Out, c: &Counters) {
    o.labelled(
        "wsload_connections",
        "gauge",
        "Connections by state so far: open now, established, failed, dropped by the server or \
         network, closed by the ramp-down.",
        "state",
        &[
            ("open", c.open as f64),
            ("established", c.established as f64),
            ("failed", c.connect_failed as f64),
            ("dropped", c.dropped as f64),
            ("ramped_down", c.ramped_down as f64),
        ],
    );
    o.labelled(
        "wsload_messages_total",
        "counter",
        "Messages sent, echoed, lost (lost_by_drop of them on a dropped connection), duplicated, \
         out of order, corrupted.",
        "kind",
        &[
            ("sent", c.sent as f64),
            ("received", c.received as f64),
            ("lost", c.lost as f64),
            ("lost_by_drop", c.lost_by_drop as f64),
            ("duplicated", c.duplicated as f64),
            ("out_of_order", c.out_of_order as f64),
            ("corrupted", c.corrupted as f64),
        ],
    );
    o.labelled(
        "wsload_bytes_total",
        "counter",
        "Payload bytes sent and received.",
        "direction",
        &[("sent", c.bytes_sent as f64), ("received", c.bytes_received as f64)],
    );
    let errors: Vec<(&str, f64)> = ErrorKind::ALL
        .iter()
        .map(|k| (k.key(), c.errors[*k as usize] as f64))
        .collect();
    o.labelled(
        "wsload_errors_total",
        "counter",
        "Errors by class (see the README for each class).",
        "class",
        &errors,
    );
}

/// Latency over the run so far (summary and histogram) and the client's send delay.
fn latency(o: &mut Out, h: &Recorder) {
    let kinds = [
        ("corrected", &h.corrected),
        ("uncorrected", &h.uncorrected),
        ("connect", &h.connect_time),
    ];
    latency_summary(o, &kinds);
    latency_histogram(o, &kinds);
    o.family(
        "wsload_send_delay_seconds",
        "summary",
        "How late messages left against their schedule (the client's own lag), so far.",
    );
    summary_samples(o, "wsload_send_delay_seconds", &[], &h.send_delay);
}

/// Rates and latency over the last interval.
fn last_interval(o: &mut Out, p: &TimelinePoint) {
    o.labelled(
        "wsload_interval_rate_per_second",
        "gauge",
        "Over the last interval: messages sent and echoed, connections established, per second.",
        "kind",
        &[
            ("sent", p.sent_per_s),
            ("received", p.received_per_s),
            ("connects", p.connects_per_s),
        ],
    );
    o.labelled(
        "wsload_interval_latency_seconds",
        "gauge",
        "Corrected latency of the echoes received in the last interval, by quantile (1 = max).",
        "quantile",
        &[
            ("0.5", p.p50_us / 1e6),
            ("0.9", p.p90_us / 1e6),
            ("0.99", p.p99_us / 1e6),
            ("0.999", p.p99_9_us / 1e6),
            ("1", p.max_us / 1e6),
        ],
    );
}

fn gauge(o: &mut Out, name: &str, help: &str, x: f64) {
    o.family(name, "gauge", help);
    o.sample(name, &[], x);
}

/// As metrics.prom: one summary family over the run so far, quantiles from the same
/// percentiles as summary.json, and the maximum as a gauge.
fn latency_summary(o: &mut Out, kinds: &[(&str, &Histogram<u64>)]) {
    o.family(
        "wsload_latency_seconds",
        "summary",
        "Round-trip latency from the intended send time (corrected), from the actual send time \
         (uncorrected), and connection set-up time (TCP connect + upgrade, connect), so far.",
    );
    for (k, h) in kinds {
        summary_samples(o, "wsload_latency_seconds", &[("kind", k)], h);
    }
    o.family(
        "wsload_latency_max_seconds",
        "gauge",
        "Largest latency of each kind so far.",
    );
    for (k, h) in kinds {
        if !h.is_empty() {
            o.sample(
                "wsload_latency_max_seconds",
                &[("kind", k)],
                percentiles(h).max as f64 / 1e6,
            );
        }
    }
}

/// The quantile, `_sum` and `_count` samples of a summary family (µs as summary.json rounds
/// them, in seconds).
fn summary_samples(o: &mut Out, name: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
    let p = percentiles(h);
    if p.count > 0 {
        for quantile in Percentiles::below_max() {
            let us = (quantile.of)(&p);
            let q = quantile.q.to_string();
            let mut l = labels.to_vec();
            l.push(("quantile", &q));
            o.sample(name, &l, us as f64 / 1e6);
        }
    }
    o.sample(&format!("{name}_sum"), labels, p.mean * p.count as f64 / 1e6);
    o.sample(&format!("{name}_count"), labels, p.count as f64);
}

/// A Prometheus histogram per kind: cumulative bucket counts from the HdrHistogram (one pass
/// over its recorded values; a value counts in the first bucket whose bound it does not exceed,
/// at HdrHistogram's precision of 3 significant digits).
fn latency_histogram(o: &mut Out, kinds: &[(&str, &Histogram<u64>)]) {
    let name = "wsload_latency_histogram_seconds";
    o.family(
        name,
        "histogram",
        "The latencies of wsload_latency_seconds as a histogram, for histogram_quantile() over a window.",
    );
    for (k, h) in kinds {
        let bounds_ns = BUCKETS_S.map(|b| (b * 1e9).round() as u64);
        let mut counts = [0u64; BUCKETS_S.len() + 1];
        let mut sum_ns = 0f64;
        for v in h.iter_recorded() {
            let ns = h.lowest_equivalent(v.value_iterated_to());
            let i = bounds_ns.partition_point(|b| *b < ns);
            counts[i] += v.count_at_value();
            sum_ns += h.median_equivalent(v.value_iterated_to()) as f64 * v.count_at_value() as f64;
        }
        let mut below = 0;
        for (i, n) in counts.iter().enumerate() {
            below += n;
            let le = BUCKETS_S.get(i).map_or("+Inf".to_string(), |b| format!("{b}"));
            o.sample(&format!("{name}_bucket"), &[("kind", k), ("le", &le)], below as f64);
        }
        o.sample(&format!("{name}_sum"), &[("kind", k)], sum_ns / 1e9);
        o.sample(&format!("{name}_count"), &[("kind", k)], h.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::timeline::TimelinePoint;
    use crate::metrics::{Counters, Recorder};

    fn text(last: bool) -> String {
        let mut rec = Recorder::default();
        for us in [80, 300, 300, 2_000, 70_000_000] {
            rec.latency(us * 1_000, us * 900);
        }
        let c = Counters {
            sent: 7,
            received: 5,
            open: 3,
            ..Counters::default()
        };
        let p = TimelinePoint {
            sent_per_s: 7.0,
            p99_us: 2000.0,
            ..TimelinePoint::default()
        };
        render(
            &Figures {
                t_s: 1.5,
                run_start_unix_s: 1.7e9,
                counters: &c,
                hists: &rec,
                point: Some(&p),
                last,
            },
            "ws://h/\"q\"",
        )
    }

    #[test]
    fn counters_and_labels_as_in_metrics_prom() {
        let t = text(false);
        assert!(t.contains("wsload_messages_total{kind=\"sent\"} 7\n"), "{t}");
        assert!(t.contains("wsload_messages_total{kind=\"received\"} 5\n"), "{t}");
        assert!(t.contains("wsload_connections{state=\"open\"} 3\n"), "{t}");
        assert!(t.contains("wsload_errors_total{class=\"reset\"} 0\n"), "{t}");
        assert!(t.contains(r#"target="ws://h/\"q\"""#), "{t}");
        assert!(t.contains("wsload_run_done 0\n"), "{t}");
        assert!(text(true).contains("wsload_run_done 1\n"));
        assert!(
            t.contains("wsload_latency_seconds_count{kind=\"corrected\"} 5\n"),
            "{t}"
        );
        assert!(
            t.contains("wsload_interval_latency_seconds{quantile=\"0.99\"} 0.002\n"),
            "{t}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let t = text(false);
        let bucket = |le: &str| -> f64 {
            let key = format!("wsload_latency_histogram_seconds_bucket{{kind=\"corrected\",le=\"{le}\"}} ");
            let line = t
                .lines()
                .find(|l| l.starts_with(&key))
                .unwrap_or_else(|| panic!("{key}\n{t}"));
            line[key.len()..].parse().unwrap()
        };
        assert_eq!(bucket("0.00005"), 0.0);
        assert_eq!(bucket("0.0001"), 1.0, "80 µs");
        assert_eq!(bucket("0.0005"), 3.0, "and twice 300 µs");
        assert_eq!(bucket("0.0025"), 4.0, "and 2 ms");
        assert_eq!(bucket("60"), 4.0, "70 s is above the last bound");
        assert_eq!(bucket("+Inf"), 5.0);
        assert!(
            t.contains("wsload_latency_histogram_seconds_count{kind=\"corrected\"} 5\n"),
            "{t}"
        );
    }

    #[test]
    fn every_sample_follows_its_type_line() {
        let t = text(true);
        let mut family = String::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&family), "{line} outside {family}");
            }
        }
    }
}
