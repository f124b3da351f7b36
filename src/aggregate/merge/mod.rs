//! `wsload merge DIR... --out DIR`: the results of the shards of one run (`--shard i/N`),
//! combined exactly into the results of the whole run.
//!
//! Each shard directory gives its summary.json (scenario, time line, shard), totals.json
//! (counters and histograms, see [`raw`]) and latency.hlog (per-interval latency). The
//! merge adds the histograms and the counters, puts the time lines on the clock of the
//! earliest shard's start ([`timeline`]), builds the summary with the same code as a run
//! (so thresholds are evaluated and findings recomputed on the merged figures), and writes
//! every report file. A shard that is missing, unreadable, duplicated or from another
//! scenario is named; the merge of the others is then marked partial.

pub mod raw;
pub mod timeline;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aggregate::live::Totals;

use crate::config::cli::MergeArgs;
use crate::config::RunPlan;
use crate::metrics::Recorder;
use crate::report::model::{MergeSection, MergedShard};
use crate::report::Summary;
use crate::sys::procstat::ProcSample;
use raw::RawTotals;
use timeline::ShardLine;

/// Exit status of `wsload merge` when some shards could not be merged (the rest were).
pub const EXIT_PARTIAL: u8 = 3;

/// One shard's results, read.
struct Loaded {
    dir: PathBuf,
    summary: Summary,
    raw: RawTotals,
    intervals: Vec<(f64, f64, hdrhistogram::Histogram<u64>)>,
}

fn load(dir: &Path) -> Result<Loaded, String> {
    if !dir.is_dir() {
        return Err("no such results directory".into());
    }
    let path = dir.join("summary.json");
    let bytes = timeline::read_file(&path)?;
    let json: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not JSON (damaged?): {e}", path.display()))?;
    let summary = Summary::from_value(json).map_err(|e| format!("{}: {e}", path.display()))?;
    let raw = raw::read(dir)?;
    let hlog = dir.join("latency.hlog");
    let intervals =
        timeline::read_hlog(&timeline::read_file(&hlog)?).map_err(|e| format!("{}: {e}", hlog.display()))?;
    let (i, n) = (summary.shard.index, summary.shard.count);
    if (i, n) != (raw.shard.index, raw.shard.count) {
        return Err(format!(
            "summary.json (shard {i}/{n}) and totals.json (shard {}) disagree: files from different runs",
            raw.shard
        ));
    }
    Ok(Loaded {
        dir: dir.to_path_buf(),
        summary,
        raw,
        intervals,
    })
}

/// The first field where two JSON values differ, as a dotted path with both values.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .keys()
            .chain(y.keys().filter(|k| !x.contains_key(*k)))
            .find_map(|k| first_difference(&x[k], y.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}.{i}"))),
        _ if a == b => None,
        _ => Some(format!("`{}` is {a} here and {b} there", path.trim_start_matches('.'))),
    }
}

/// The scenario a shard ran, as JSON, to name the first field where two differ.
fn scenario_json(l: &Loaded) -> Value {
    serde_json::to_value(&l.summary.scenario).unwrap_or_default()
}

/// Pick the shards that can be merged together; the others are named in `problems`.
fn select(loaded: Vec<Loaded>, problems: &mut Vec<String>) -> (Vec<Loaded>, usize) {
    let Some(first) = loaded.first() else {
        return (Vec::new(), 0);
    };
    let count = first.raw.shard.count;
    let reference = (first.dir.clone(), scenario_json(first), first.raw.interval_ns);
    let mut kept: Vec<Loaded> = Vec::new();
    for l in loaded {
        let d = l.dir.display();
        let s = l.raw.shard;
        if s.count != count {
            problems.push(format!(
                "{d}: shard {s} is from a run of {} shards, the others of {count}: not merged",
                s.count
            ));
        } else if let Some(diff) = first_difference(&scenario_json(&l), &reference.1, "") {
            problems.push(format!(
                "{d}: shard {s} ran a different scenario from {} ({diff}): not merged",
                reference.0.display()
            ));
        } else if l.raw.interval_ns != reference.2 {
            problems.push(format!(
                "{d}: shard {s} used --interval {} ms, {} used {} ms: not merged",
                l.raw.interval_ns / 1_000_000,
                reference.0.display(),
                reference.2 / 1_000_000
            ));
        } else if let Some(other) = kept.iter().find(|k| k.raw.shard.index == s.index) {
            problems.push(format!(
                "{d}: shard {s} again (also in {}): kept the first, not merged twice",
                other.dir.display()
            ));
        } else {
            if l.summary.partial {
                problems.push(format!(
                    "{d}: shard {s} is itself partial (interrupted): merged as it is"
                ));
            }
            kept.push(l);
        }
    }
    kept.sort_by_key(|l| l.raw.shard.index);
    for i in 0..count {
        if !kept.iter().any(|l| l.raw.shard.index == i) {
            problems.push(format!(
                "shard {i}/{count} is missing: no readable results directory has it"
            ));
        }
    }
    (kept, count)
}

fn add_samples(a: &mut ProcSample, b: &ProcSample) {
    a.cpu_user_s += b.cpu_user_s;
    a.cpu_sys_s += b.cpu_sys_s;
    a.rss_bytes += b.rss_bytes;
    a.peak_rss_bytes += b.peak_rss_bytes;
    a.threads += b.threads;
}

/// Sum of the samples that were taken (`None` when no shard took one).
fn sum_some(samples: impl Iterator<Item = Option<ProcSample>>) -> Option<ProcSample> {
    samples.flatten().fold(None, |acc, s| {
        let mut acc = acc.unwrap_or_default();
        add_samples(&mut acc, &s);
        Some(acc)
    })
}

/// The merged totals, on the clock of the earliest shard's start, and the merged plan.
fn combine(shards: &[Loaded], out: &Path) -> (RunPlan, Totals) {
    let base = shards.iter().map(|s| s.raw.totals.run_start_unix_ns).min().unwrap_or(0);
    let offset = |s: &Loaded| s.raw.totals.run_start_unix_ns - base;
    let rec = merged_recorder(shards, &offset);
    let at = |s: &Loaded, ns: Option<u64>| ns.map(|n| n + offset(s));
    let server_shard = shards.iter().position(|s| s.raw.totals.server.is_some());
    let lines: Vec<ShardLine> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| ShardLine {
            offset_ns: offset(s),
            timeline: s.summary.timeline.clone(),
            intervals: s.intervals.clone(),
            server_samples: Some(i) == server_shard,
        })
        .collect();
    let interval_ns = shards[0].raw.interval_ns;
    // A long shard's time line has merged points (run.timeline_step_s): bucket at the coarsest.
    let timeline_merges = shards
        .iter()
        .map(|s| s.summary.run.timeline_step_s)
        .filter(|&step| step > 0.0)
        .map(|step| (step * 1e9 / interval_ns.max(1) as f64).round().max(1.0).log2().round() as u32)
        .max()
        .unwrap_or(0)
        .min(31);
    let (timeline, intervals) = timeline::merge(&lines, interval_ns << timeline_merges);
    let mut proc_before = ProcSample::default();
    let mut proc_end = ProcSample::default();
    for s in shards {
        add_samples(&mut proc_before, &s.raw.totals.proc_before);
        add_samples(&mut proc_end, &s.raw.totals.proc_end);
    }
    let totals = Totals {
        rec,
        run_start_ns: 0,
        run_start_unix_s: base as f64 / 1e9,
        run_start_unix_ns: base,
        start: None,
        load_start_ns: shards.iter().filter_map(|s| at(s, s.raw.totals.load_start_ns)).min(),
        load_end_ns: shards.iter().filter_map(|s| at(s, s.raw.totals.load_end_ns)).max(),
        end_ns: shards
            .iter()
            .map(|s| s.raw.totals.end_ns + offset(s))
            .max()
            .unwrap_or(0),
        timeline,
        timeline_merges,
        intervals,
        proc_before,
        proc_load: sum_some(shards.iter().map(|s| s.raw.totals.proc_load)),
        proc_load_end: sum_some(shards.iter().map(|s| s.raw.totals.proc_load_end)),
        proc_end,
        open_at_load: shards.iter().map(|s| s.raw.totals.open_at_load).sum(),
        missing_cores: shards.iter().map(|s| s.raw.totals.missing_cores).sum(),
        per_core: shards
            .iter()
            .flat_map(|s| s.raw.totals.per_core.iter().copied())
            .collect(),
        interrupted: shards.iter().any(|s| s.raw.totals.interrupted),
        aborted_by: shards.iter().find_map(|s| s.raw.totals.aborted_by.clone()),
        server: server_shard.and_then(|i| shards[i].raw.totals.server.clone()),
    };
    (merged_plan(shards, out, interval_ns), totals)
}

/// Every shard's recorder added up, its instants on the merge's clock (`offset` after its own).
fn merged_recorder(shards: &[Loaded], offset: &dyn Fn(&Loaded) -> u64) -> Recorder {
    let mut rec = Recorder::default();
    for s in shards {
        let mut r = s.raw.totals.rec.clone();
        r.shift(|ns| ns + offset(s));
        rec.add_histograms(&r);
        rec.add_cumulative(&r);
    }
    rec
}

/// The plan the merged run is described by: the shards' scenario, every client core.
fn merged_plan(shards: &[Loaded], out: &Path, interval_ns: u64) -> RunPlan {
    RunPlan {
        scenario: shards[0].summary.scenario.clone(),
        server_cpu: shards[0].raw.server_cpu,
        client_cpus: shards.iter().flat_map(|s| s.raw.client_cpus.iter().copied()).collect(),
        out_dir: out.to_path_buf(),
        json: false,
        quiet: true,
        interval: std::time::Duration::from_nanos(interval_ns),
        server_pid: None,
        shard: Default::default(),
        start_at: None,
        metrics_listen: None,
        metrics_hold: None,
    }
}

/// The `merge` section of the merged summary: which shards, from where, and how their starts agreed.
fn merge_section(shards: &[Loaded], count: usize, problems: &[String]) -> MergeSection {
    let base = shards.iter().map(|s| s.raw.totals.run_start_unix_ns).min().unwrap_or(0);
    let spread = shards.iter().map(|s| s.raw.totals.run_start_unix_ns).max().unwrap_or(0) - base;
    MergeSection {
        shard_count: count,
        merged: shards.len(),
        start_spread_ms: spread as f64 / 1e6,
        shards: shards
            .iter()
            .map(|s| MergedShard {
                index: s.raw.shard.index,
                dir: s.dir.display().to_string(),
                started_at_unix_ns: s.raw.totals.run_start_unix_ns,
                start_offset_ms: (s.raw.totals.run_start_unix_ns - base) as f64 / 1e6,
                start: s.raw.totals.start,
                established: s.raw.totals.rec.counters.established,
                sent: s.raw.totals.rec.counters.sent,
                received: s.raw.totals.rec.counters.received,
            })
            .collect(),
        problems: problems.to_vec(),
    }
}

/// `wsload merge`: 0 every shard merged and the merged run is clean (with thresholds: all
/// pass); 1 every shard merged and the merged run failed (as `wsload run`); 3 merged, but
/// some shards are missing or could not be merged (partial); 2 nothing could be merged, or the
/// output could not be written.
pub fn main(a: &MergeArgs) -> u8 {
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    for dir in &a.dirs {
        match load(dir) {
            Ok(l) => loaded.push(l),
            Err(e) => problems.push(format!("{}: {e}: not merged", dir.display())),
        }
    }
    let (shards, count) = select(loaded, &mut problems);
    if shards.is_empty() {
        for p in &problems {
            eprintln!("wsload merge: {p}");
        }
        eprintln!("wsload: error: nothing could be merged: no readable shard results among the directories given");
        return 2;
    }
    // Their histograms were checked as they were read (totals.json), so they add up.
    let (plan, totals) = combine(&shards, &a.out);
    let target = shards[0].summary.target.clone();
    let mut summary = Summary::build(&plan, &target, &totals);
    if !problems.is_empty() {
        summary.partial = true;
        summary.partial_reason = Some(format!(
            "merged {} of {count} shards; {}",
            shards.len(),
            problems.join("; ")
        ));
    }
    let partial = summary.partial;
    summary.merge = Some(merge_section(&shards, count, &problems));
    let outcome = crate::cmd::run::finish(&plan, &totals, summary, None);
    for p in &problems {
        eprintln!("wsload merge: {p}");
    }
    eprintln!(
        "wsload merge: {} of {count} shards merged{}",
        shards.len(),
        if partial { ": the results are PARTIAL" } else { "" }
    );
    outcome.show(false, !a.quiet);
    if outcome.summary_path.is_none() {
        2
    } else if partial {
        EXIT_PARTIAL
    } else {
        outcome.exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::live::Interval;
    use crate::aggregate::timeline::TimelinePoint;

    fn plan(extra: &[&str]) -> RunPlan {
        let mut args = vec!["wsload", "run", "ws://127.0.0.1:9/", "-c", "400", "--cores", "0"];
        args.extend_from_slice(extra);
        match <crate::config::cli::Cli as clap::Parser>::parse_from(args).command {
            Some(crate::config::cli::Command::Run(a)) => RunPlan::from_args(&a).unwrap(),
            _ => unreachable!(),
        }
    }

    /// Totals as a run gathers them, with `values` (ns) as every latency and connect time.
    fn totals(values: &[u64]) -> Totals {
        let mut rec = Recorder::default();
        rec.grow_types(1);
        for &v in values {
            rec.latency(v, v / 2);
            rec.connect_time.record(v / 3).unwrap();
            rec.types[0].latency.record(v).unwrap();
        }
        let n = values.len() as u64;
        rec.counters.sent = n;
        rec.counters.received = n;
        rec.counters.received_in_load = n;
        rec.counters.established = n;
        rec.counters.connect_attempts = n;
        rec.types[0].sent = n;
        rec.types[0].received = n;
        let point = TimelinePoint {
            t_s: 1.0,
            open: n,
            established: n,
            connects_per_s: 2.0 * n as f64,
            sent_per_s: 2.0 * n as f64,
            received_per_s: 2.0 * n as f64,
            ..Default::default()
        };
        Totals {
            intervals: Interval::encode(0.0, 1.0, &rec.corrected).into_iter().collect(),
            rec,
            run_start_ns: 1_000,
            run_start_unix_s: 1.8e9,
            run_start_unix_ns: 1_800_000_000_000_000_000,
            start: None,
            load_start_ns: Some(1_000),
            load_end_ns: Some(1_000_001_000),
            end_ns: 1_100_001_000,
            timeline: vec![point],
            timeline_merges: 0,
            proc_before: ProcSample::default(),
            proc_load: None,
            proc_load_end: None,
            proc_end: ProcSample::default(),
            open_at_load: n,
            missing_cores: 0,
            per_core: Vec::new(),
            interrupted: false,
            aborted_by: None,
            server: None,
        }
    }

    /// The same values recorded in one run, or split over 4 shards written to disk as runs
    /// write them and merged, give the same counts and percentiles, to the nanosecond.
    #[test]
    fn histograms_split_over_shards_merge_exactly() {
        // Spread over five decades, with a long tail, in an order unrelated to the split.
        let values: Vec<u64> = (0..4000u64).map(|i| 1_000 + (i * 7919 % 4000).pow(3) * 13).collect();
        let root = std::env::temp_dir().join(format!("wsload-merge-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut dirs = Vec::new();
        for i in 0..4 {
            let part: Vec<u64> = values.iter().copied().skip(i).step_by(4).collect();
            let p = plan(&["--shard", &format!("{i}/4")]);
            let t = totals(&part);
            let s = Summary::build(&p, "ws://127.0.0.1:9/", &t);
            let dir = root.join(format!("shard-{i}"));
            let raw = RawTotals::from_totals(&p, &t);
            assert!(crate::cmd::run::write_results(&dir, &s, Some(&t.intervals), &raw).is_some());
            dirs.push(dir);
        }
        let out = root.join("all");
        let code = main(&MergeArgs {
            dirs: dirs.clone(),
            out: out.clone(),
            quiet: true,
        });
        assert_eq!(code, 0, "every shard merged, a clean run");
        let merged: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        let whole = serde_json::to_value(Summary::build(&plan(&[]), "ws://127.0.0.1:9/", &totals(&values))).unwrap();
        for path in [
            "/latency_us/corrected",
            "/latency_us/uncorrected",
            "/latency_us/connect",
            "/message_types/0",
            "/messages/sent",
            "/connections/established",
        ] {
            assert_eq!(merged.pointer(path), whole.pointer(path), "{path}");
        }
        assert_eq!(merged["latency_us"]["corrected"]["count"], 4000);
        // The time line's interval latency comes from the added histograms, as in one run.
        let (m, w) = (&merged["timeline"][0], &whole["timeline"][0]);
        assert_eq!(m["open"], 4000);
        let single = totals(&values).rec.corrected;
        for (k, q) in [("p50_us", 0.5), ("p99_us", 0.99), ("p99_9_us", 0.999)] {
            assert_eq!(m[k].as_f64().unwrap(), single.value_at_quantile(q) as f64 / 1e3, "{k}");
        }
        assert_eq!(w["t_s"], m["t_s"]);
        // latency.hlog of the merge holds every value once.
        let intervals = timeline::read_hlog(&std::fs::read(out.join("latency.hlog")).unwrap()).unwrap();
        let mut sum = crate::metrics::new_histogram();
        for (_, _, h) in &intervals {
            sum.add(h).unwrap();
        }
        assert_eq!(sum, single);
        // A merge is itself mergeable: totals.json of the merge equals the single run's figures.
        let again = raw::read(&out).unwrap();
        assert_eq!(again.totals.rec.corrected, single);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn differences_are_named_by_their_field() {
        let a = serde_json::json!({"connections": 100, "phases": [{"rate": 1.0}], "name": "x"});
        let b = serde_json::json!({"connections": 100, "phases": [{"rate": 2.0}], "name": "x"});
        assert_eq!(
            first_difference(&a, &b, "").unwrap(),
            "`phases.0.rate` is 1.0 here and 2.0 there"
        );
        assert_eq!(first_difference(&a, &a, ""), None);
    }
}
