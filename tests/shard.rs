//! Sharded runs: one scenario run as one process and as 4 shard processes started together
//! with `--start-at`, against one shared `wsload serve`; `wsload merge` gives the single
//! run's totals, a time line aligned across the shards, and names what it cannot merge.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{fresh_dir, run_wsload, spawn_wsload_server, start_wsload, Outcome, RUN_TIMEOUT, WSLOAD};
use serde_json::Value;

/// 200 connections opened by a linear ramp of 400/s over all shards, two message types,
/// 5 msg/s each for 2 s, with thresholds that only the whole run can meet.
const SCENARIO: &str = r#"
name = "shard-test"
connections = 200
drain = "2s"
thresholds = ["connections.established >= 200", "messages.lost == 0", "latency.small.p99 < 5s"]

[ramp]
kind = "linear"
rate = "400/s"

[[phases]]
kind = "sustained"
rate = "5/s"
duration = "2s"

[[messages]]
name = "small"
size = 64
weight = 3

[[messages]]
name = "big"
size = 512
weight = 1
"#;

fn scenario_file() -> PathBuf {
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shard-test.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    path
}

/// `wsload merge DIRS... --out OUT -q`: (exit code, stderr).
fn merge(dirs: &[&Path], out: &Path) -> (Option<i32>, String) {
    let o = Command::new(WSLOAD)
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .output()
        .expect("run wsload merge");
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// An RFC 3339 time `secs` whole seconds from now (rounded up to a whole second).
fn start_at(secs: u64) -> String {
    let now = SystemTime::now();
    wsload::config::fleet::rfc3339(now + Duration::from_secs(secs + 1))
}

/// Run the 4 shards of the scenario, all started together; their outcomes in index order.
fn run_shards(url: &str, scenario: &Path, count: usize, at: &str) -> Vec<Outcome> {
    let scenario = scenario.to_str().unwrap();
    let running: Vec<_> = (0..count)
        .map(|i| {
            let shard = format!("{i}/{count}");
            start_wsload(&[
                "run",
                url,
                "--scenario",
                scenario,
                "--cores",
                "0",
                "--interval",
                "500ms",
                "--shard",
                &shard,
                "--start-at",
                at,
                "-q",
            ])
        })
        .collect();
    running.into_iter().map(|r| r.wait(RUN_TIMEOUT)).collect()
}

fn num(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no number at {path}"))
}

#[test]
fn four_shards_started_together_merge_to_the_single_run() {
    let server = spawn_wsload_server();
    let scenario = scenario_file();
    let at = start_at(4);
    let shards = run_shards(&server.url(), &scenario, 4, &at);
    let requested = wsload::config::fleet::unix_ns(wsload::config::fleet::parse_start_at(&at).unwrap());
    let mut ids = Vec::new();
    for (i, o) in shards.iter().enumerate() {
        // A shard alone is clean; the thresholds are left to the merge.
        o.assert_clean();
        let s = o.summary();
        assert_eq!(s["shard"]["index"], i, "{}", o.pretty());
        assert_eq!(o.num("/connections/target"), 50);
        assert!(s["thresholds"].as_array().unwrap().is_empty());
        assert_eq!(num(s, "/start/requested_unix_ns"), requested);
        // The start is on the requested instant: the wait ends on time unless set-up overran 4 s.
        assert!(num(s, "/start/late_ns") < 1_000_000_000, "{}", o.pretty());
        assert_eq!(num(s, "/started_at_unix_ns"), num(s, "/start/actual_unix_ns"));
        ids.push((num(s, "/shard/connection_ids/0"), num(s, "/shard/connection_ids/1")));
        // The ramp is shared: each shard opens its 50 at 100/s, so all are open after ~0.5 s,
        // not after 0.125 s (which would mean every shard ramped at the whole 400/s).
        let to_all = s["connections"]["time_to_all_s"].as_f64().unwrap();
        assert!(
            to_all > 0.3,
            "shard {i} opened its share in {to_all} s: the ramp was not split"
        );
    }
    assert_eq!(
        ids,
        vec![(0, 50), (50, 100), (100, 150), (150, 200)],
        "distinct, contiguous ids"
    );

    let single = run_wsload(&[
        "run",
        &server.url(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--cores",
        "0",
        "--interval",
        "500ms",
        "-q",
    ]);
    single.assert_clean();

    let out = fresh_dir();
    let dirs: Vec<&Path> = shards.iter().map(|o| o.out_dir.as_path()).collect();
    let (code, stderr) = merge(&dirs, &out);
    assert_eq!(code, Some(0), "{stderr}");
    let m = read_json(&out.join("summary.json"));
    let w = single.summary();
    for path in [
        "/connections/target",
        "/connections/established",
        "/messages/sent",
        "/messages/received",
    ] {
        assert_eq!(num(&m, path), num(w, path), "{path}");
    }
    // Bytes depend on the random mix of types: the merge's are the shards' sum.
    for path in ["/messages/bytes_sent", "/messages/bytes_received"] {
        let sum: u64 = shards.iter().map(|o| o.num(path)).sum();
        assert_eq!(num(&m, path), sum, "{path}");
    }
    assert_eq!(num(&m, "/messages/sent"), 2000, "200 connections x 5/s x 2 s");
    for k in ["lost", "corrupted", "duplicated", "out_of_order"] {
        assert_eq!(num(&m, &format!("/messages/{k}")), 0, "{k}");
    }
    // Per message type: the merge adds the shards' counts and histograms exactly (which type
    // each message is, is drawn at random, so only the sum over types equals the single run's).
    let mut types_sent = 0;
    for (t, name) in ["small", "big"].iter().enumerate() {
        assert_eq!(m["message_types"][t]["name"], *name);
        let sum: u64 = shards.iter().map(|o| o.num(&format!("/message_types/{t}/sent"))).sum();
        assert_eq!(num(&m, &format!("/message_types/{t}/sent")), sum, "{name}");
        assert_eq!(num(&m, &format!("/message_types/{t}/received")), sum, "{name}");
        assert_eq!(num(&m, &format!("/message_types/{t}/latency_us/count")), sum, "{name}");
        types_sent += sum;
    }
    assert_eq!(types_sent, num(w, "/messages/sent"));
    assert_eq!(num(&m, "/latency_us/corrected/count"), num(&m, "/messages/received"));
    // Thresholds are evaluated on the merged figures, and pass.
    assert_eq!(m["thresholds_passed"], true, "{:#}", m["thresholds"]);
    assert_eq!(m["thresholds"].as_array().unwrap().len(), 3);
    assert!(m["analysis"].is_object(), "findings recomputed on the merge");

    // The time line: every shard's points fall in the same absolute buckets.
    let interval_ns = 500_000_000u64;
    let base = num(&m, "/started_at_unix_ns");
    let starts: Vec<u64> = shards.iter().map(|o| o.num("/started_at_unix_ns")).collect();
    let spread = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    assert!(spread < 100_000_000, "shards started {spread} ns apart");
    assert_eq!(base, *starts.iter().min().unwrap());
    let merged_t: Vec<f64> = m["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["t_s"].as_f64().unwrap())
        .collect();
    for (o, start) in shards.iter().zip(&starts) {
        for p in o.summary()["timeline"].as_array().unwrap() {
            let abs = start + (p["t_s"].as_f64().unwrap() * 1e9) as u64;
            let off = (abs - base) as f64 / interval_ns as f64;
            // On the grid (within the start spread), and present in the merged time line.
            assert!((off - off.round()).abs() < 0.2, "point at {off} intervals");
            let t = off.round() * 0.5;
            assert!(merged_t.iter().any(|m| (m - t).abs() < 1e-6), "{t} not in {merged_t:?}");
        }
    }
    // Sends per bucket add up: the merged time line carries every shard's traffic.
    let sent_s: f64 = m["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sent_per_s"].as_f64().unwrap() * 0.5)
        .sum();
    assert!((sent_s - 2000.0).abs() < 150.0, "merged time line holds {sent_s} sends");
    let peak = m["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open"].as_u64().unwrap())
        .max();
    assert_eq!(peak, Some(200));
    assert_eq!(m["merge"]["merged"], 4);
    for f in [
        "report.md",
        "report.html",
        "timeline.csv",
        "metrics.prom",
        "latency.hlog",
        "totals.json",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }

    // A shard missing, one damaged, one given twice, one directory that does not exist.
    let broken = fresh_dir();
    copy_dir(&shards[1].out_dir, &broken);
    std::fs::write(
        broken.join("totals.json"),
        b"{\"schema\": \"wsload.totals.v2\", \"shard\": ",
    )
    .unwrap();
    let nowhere = Path::new("/nonexistent/wsload-shard-9");
    let out2 = fresh_dir();
    let (code, stderr) = merge(&[dirs[0], &broken, dirs[2], dirs[0], nowhere], &out2);
    assert_eq!(code, Some(3), "partial merge: {stderr}");
    for needle in [
        format!("{}: ", broken.display()),
        "totals.json".into(),
        "shard 1/4 is missing".into(),
        "shard 3/4 is missing".into(),
        format!("{}: shard 0/4 again", dirs[0].display()),
        "/nonexistent/wsload-shard-9: no such results directory".into(),
        "2 of 4 shards merged: the results are PARTIAL".into(),
    ] {
        assert!(stderr.contains(&needle), "`{needle}` not in:\n{stderr}");
    }
    let p = read_json(&out2.join("summary.json"));
    assert_eq!(p["partial"], true);
    let why = p["partial_reason"].as_str().unwrap();
    assert!(
        why.starts_with("merged 2 of 4 shards") && why.contains("shard 3/4 is missing"),
        "{why}"
    );
    assert_eq!(
        num(&p, "/messages/sent"),
        shards[0].num("/messages/sent") + shards[2].num("/messages/sent")
    );
    let md = std::fs::read_to_string(out2.join("report.md")).unwrap();
    assert!(
        md.contains("(PARTIAL: merged 2 of 4 shards"),
        "{}",
        &md[..200.min(md.len())]
    );

    // Shards of another scenario are refused by name; nothing mergeable is exit 2.
    let foreign = fresh_dir();
    copy_dir(&shards[3].out_dir, &foreign);
    let mut s = read_json(&foreign.join("summary.json"));
    s["scenario"]["connections"] = 400.into();
    std::fs::write(foreign.join("summary.json"), serde_json::to_vec(&s).unwrap()).unwrap();
    let (code, stderr) = merge(&[dirs[0], dirs[1], dirs[2], &foreign], &fresh_dir());
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("shard 3/4 ran a different scenario") && stderr.contains("`connections` is 400 here and 200"),
        "{stderr}"
    );
    let (code, stderr) = merge(&[nowhere], &fresh_dir());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nothing could be merged"), "{stderr}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Ctrl-C while waiting for the start: exit 130 at once, nothing run, nothing written.
#[test]
fn interrupted_while_waiting_for_the_start() {
    let server = spawn_wsload_server();
    let r = start_wsload(&["run", &server.url(), "-c", "5", "--cores", "0", "--start-in", "60s"]);
    // Wait for the waiting line, then interrupt.
    r.wait_for_line(Duration::from_secs(30), "waiting line", |l| {
        l.contains("waiting for the start")
    });
    r.signal("INT");
    let o = r.wait(Duration::from_secs(20));
    assert_eq!(o.code, Some(130), "{}", o.stderr);
    assert!(
        o.stderr.contains("interrupted before the start: nothing was run"),
        "{}",
        o.stderr
    );
    assert!(o.summary.is_none(), "no summary for a run that never started");
}
