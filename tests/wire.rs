//! Real-world message layers, against servers on loopback: upgrade headers,
//! origin and cookies (recorded by a Python `websockets` server), templated
//! requests matched to out-of-order replies by id, permessage-deflate against
//! Python `websockets`' own implementation, and subscribe mode against
//! `wsload serve --broadcast`. (Subprotocol negotiation and mismatch are in
//! tests/scenarios.rs.)

mod common;

use common::{f, fresh_dir, run_wsload, spawn_peer, spawn_wsload_server_with, Outcome};
use serde_json::Value;

/// The JSON lines `rpc_server.py --record` wrote.
fn recorded(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("record file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A new directory for a test's own files (record files, message files).
fn work_dir() -> std::path::PathBuf {
    let d = fresh_dir();
    std::fs::create_dir_all(&d).expect("create a test directory");
    d
}

fn run(url: &str, extra: &[&str]) -> Outcome {
    let mut args = vec!["run", url, "-q", "--cores", "0", "--drain", "3s"];
    args.extend_from_slice(extra);
    run_wsload(&args)
}

#[test]
fn headers_origin_and_cookies_arrive_and_are_redacted() {
    let record = work_dir().join("record.jsonl");
    let rec = record.display().to_string();
    let mut server = spawn_peer("rpc_server.py", &["--record", &rec]);
    let o = run(
        &server.url(),
        &[
            "-c",
            "3",
            "--rate",
            "2",
            "-d",
            "1s",
            "-H",
            "Authorization: Bearer s3cr3t-token",
            "-H",
            "X-Team: load",
            "--origin",
            "https://app.example.test",
            "--cookie",
            "session=c00kie-value",
            "--cookie",
            "theme=dark",
            "--template",
            r#"{"id":{seq}}"#,
            "--correlate",
            "/id",
        ],
    );
    o.assert_clean();
    assert!(server.alive(), "{}", server.stderr());
    let seen: Vec<Value> = recorded(&record)
        .into_iter()
        .filter(|v| v.get("headers").is_some())
        .collect();
    assert_eq!(seen.len(), 3, "one upgrade per connection: {seen:?}");
    for v in &seen {
        let h = &v["headers"];
        assert_eq!(h["Authorization"], "Bearer s3cr3t-token", "{h}");
        assert_eq!(h["X-Team"], "load", "{h}");
        assert_eq!(h["Origin"], "https://app.example.test", "{h}");
        assert_eq!(h["Cookie"], "session=c00kie-value; theme=dark", "{h}");
    }
    for file in [
        "summary.json",
        "report.md",
        "report.html",
        "timeline.csv",
        "metrics.prom",
    ] {
        let text = std::fs::read_to_string(o.out_dir.join(file)).unwrap_or_default();
        for secret in ["s3cr3t-token", "c00kie-value"] {
            assert!(!text.contains(secret), "{secret} leaked into {file}");
        }
    }
    let headers = o.summary()["scenario"]["headers"].to_string();
    assert!(
        headers.contains("Bearer ***") && headers.contains("X-Team") && headers.contains("Origin"),
        "{headers}"
    );
    assert!(!o.stderr.contains("s3cr3t"), "{}", o.stderr);
}

#[test]
fn templates_are_filled_and_replies_matched_by_id_out_of_order() {
    let record = work_dir().join("record.jsonl");
    let rec = record.display().to_string();
    let mut server = spawn_peer("rpc_server.py", &["--record", &rec, "--slow-ms", "80"]);
    let o = run(
        &server.url(),
        &[
            "-c",
            "4",
            "--rate",
            "20",
            "-d",
            "2s",
            "--first-message",
            r#"{"op":"hello","conn":{conn}}"#,
            "--template",
            r#"{"jsonrpc":"2.0","id":{seq},"method":"echo","params":{"conn":{conn},"ts":{ts},"nonce":"{rand:12}"}}"#,
            "--correlate",
            "/id",
        ],
    );
    o.assert_clean();
    assert!(server.alive(), "{}", server.stderr());
    let ctx = o.pretty();
    let s = o.summary();
    let sent = o.num("/messages/sent");
    assert!(sent >= 4 * 20, "{ctx}");
    assert_eq!(o.num("/messages/received"), sent, "every request answered\n{ctx}");
    assert_eq!(o.num("/messages/lost"), 0, "{ctx}");
    assert_eq!(
        o.num("/wire/unmatched"),
        4,
        "the 4 acks to the first message carry no id\n{ctx}"
    );
    assert!(o.num("/wire/reordered") > 0, "replies overtook slow ones\n{ctx}");
    assert_eq!(o.num("/wire/first_message/sent"), 4, "{ctx}");
    // Every 4th id waits 80 ms: per-message latency shows both populations.
    assert!(f(s, "/latency_us/corrected/p50") < 40_000.0, "{ctx}");
    assert!(f(s, "/latency_us/corrected/p90") >= 80_000.0, "{ctx}");
    assert_eq!(o.num("/latency_us/corrected/count"), sent, "{ctx}");

    let messages: Vec<String> = recorded(&record)
        .into_iter()
        .filter_map(|v| v.get("message").and_then(|m| m.as_str().map(String::from)))
        .collect();
    let hellos: Vec<&String> = messages.iter().filter(|m| m.contains("hello")).collect();
    assert_eq!(hellos.len(), 4, "{messages:?}");
    let mut conns = std::collections::BTreeSet::new();
    for m in &messages {
        let v: Value = serde_json::from_str(m).unwrap_or_else(|e| panic!("{m}: {e}"));
        if v["op"] == "hello" {
            conns.insert(v["conn"].as_u64().expect("conn filled"));
            continue;
        }
        assert!(v["id"].is_u64(), "{m}");
        let p = &v["params"];
        assert!(p["conn"].as_u64().is_some_and(|c| c < 4), "{m}");
        let ts = p["ts"].as_u64().expect("ts filled");
        let started = f(s, "/started_at_unix_s") * 1000.0;
        assert!((ts as f64 - started).abs() < 60_000.0, "{ts} vs {started}: {m}");
        let nonce = p["nonce"].as_str().expect("nonce");
        assert!(
            nonce.len() == 12 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{m}"
        );
    }
    assert_eq!(conns.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn fifo_matching_and_a_messages_file() {
    let dir = work_dir();
    let file = dir.join("msgs.jsonl");
    std::fs::write(
        &file,
        "{\"id\":{seq},\"op\":\"a\"}\n\n{\"id\":{seq},\"op\":\"b\",\"x\":\"{hex:8}\"}\n",
    )
    .unwrap();
    let record = dir.join("record.jsonl");
    let rec = record.display().to_string();
    let mut server = spawn_peer("rpc_server.py", &["--record", &rec, "--slow-ms", "0"]);
    let path = file.display().to_string();
    let o = run(
        &server.url(),
        &["-c", "2", "--rate", "10", "-d", "1s", "--messages-file", &path],
    );
    o.assert_clean();
    assert!(server.alive());
    assert_eq!(o.num("/messages/received"), o.num("/messages/sent"), "{}", o.pretty());
    assert_eq!(o.summary()["wire"]["correlate"], "fifo");
    let ops: Vec<String> = recorded(&record)
        .into_iter()
        .filter_map(|v| v["message"].as_str().map(String::from))
        .collect();
    assert!(
        ops.iter().any(|m| m.contains("\"op\":\"a\"")) && ops.iter().any(|m| m.contains("\"op\":\"b\"")),
        "{ops:?}"
    );
}

#[test]
fn deflate_round_trip_against_python_websockets() {
    let mut server = spawn_peer("py_echo_server.py", &["--compression", "deflate"]);
    let url = server.url();
    // Stamped binary messages (checked byte for byte after inflating) and a compressible template.
    let o = run(
        &url,
        &[
            "-c",
            "10",
            "--rate",
            "10",
            "-d",
            "2s",
            "--size",
            "2KiB",
            "--compression",
            "deflate",
        ],
    );
    o.assert_clean();
    let ctx = o.pretty();
    let c = &o.summary()["wire"]["compression"];
    assert_eq!(c["connections"], 10, "{ctx}");
    let sent = o.num("/messages/sent");
    assert_eq!(c["sent"]["messages"].as_u64(), Some(sent), "{ctx}");
    assert_eq!(
        c["received"]["messages"].as_u64(),
        Some(sent),
        "the server compressed its echoes\n{ctx}"
    );
    assert!(f(c, "/sent/ratio") > 2.0 && f(c, "/received/ratio") > 2.0, "{ctx}");
    assert_eq!(c["sent"]["raw_bytes"].as_u64(), Some(sent * 2048), "{ctx}");
    assert!(f(c, "/cpu_us_per_message") > 0.0, "{ctx}");
    assert!(server.alive(), "{}", server.stderr());

    let o = run(
        &url,
        &[
            "-c",
            "4",
            "--rate",
            "10",
            "-d",
            "1s",
            "--compression",
            "deflate",
            "--template",
            r#"{"type":"chat","room":"lobby","text":"hello hello hello hello hello hello","n":{seq}}"#,
        ],
    );
    o.assert_clean();
    let c = &o.summary()["wire"]["compression"];
    assert!(f(c, "/sent/ratio") > 1.2, "{}", o.pretty());
}

#[test]
fn compression_declined_by_the_server_is_reported() {
    let mut server = spawn_wsload_server_with(&[]);
    let o = run(
        &server.url(),
        &["-c", "3", "--rate", "5", "-d", "1s", "--compression", "deflate"],
    );
    o.assert_clean();
    assert_eq!(o.num("/wire/compression/connections"), 0, "{}", o.pretty());
    let md = std::fs::read_to_string(o.out_dir.join("report.md")).expect("report.md");
    assert!(md.contains("the server declined it on every connection"), "{md}");
    assert!(server.alive());
}

#[test]
fn subscribe_mode_counts_every_broadcast_message() {
    let mut server = spawn_wsload_server_with(&["--broadcast", "40/s", "--broadcast-size", "100"]);
    let o = run(
        &server.url(),
        &[
            "-c",
            "20",
            "-d",
            "2s",
            "--mode",
            "subscribe",
            "--first-message",
            r#"{"op":"subscribe","topic":"t{conn}"}"#,
            "--timestamp-field",
            "/ts",
            "--sequence-field",
            "/seq",
        ],
    );
    o.assert_exit(0);
    let ctx = o.pretty();
    let p = &o.summary()["wire"]["subscribe"];
    assert_eq!(o.num("/connections/established"), 20, "{ctx}");
    assert_eq!(o.num("/connections/dropped"), 0, "{ctx}");
    let received = o.num("/messages/received");
    // 20 connections × 40/s over at least the 2 s load (the drain adds a little).
    assert!(received >= 20 * 40 * 2 * 9 / 10, "{ctx}");
    assert_eq!(p["gaps"], 0, "no message missed\n{ctx}");
    assert_eq!(p["repeats"], 0, "{ctx}");
    assert_eq!(p["timestamped"].as_u64(), Some(received), "{ctx}");
    assert_eq!(o.num("/latency_us/corrected/count"), received, "{ctx}");
    assert!(f(o.summary(), "/latency_us/corrected/p50") > 0.0, "{ctx}");
    assert_eq!(o.num("/messages/sent"), 0, "{ctx}");
    assert_eq!(o.num("/wire/first_message/sent"), 20, "{ctx}");
    assert!(server.alive());
}

#[test]
fn bad_templates_and_flags_are_clear_errors() {
    let mut server = spawn_wsload_server_with(&[]);
    let url = server.url();
    let o = run(&url, &["-c", "1", "-d", "1s", "--template", r#"{"id":{sq}}"#]);
    o.assert_exit(2);
    assert!(
        o.stderr.contains("--template")
            && o.stderr.contains("unknown placeholder `{sq}`")
            && o.stderr.contains("column 7"),
        "{}",
        o.stderr
    );
    let o = run(
        &url,
        &["-c", "1", "-d", "1s", "--messages-file", "/nonexistent/msgs.txt"],
    );
    o.assert_exit(2);
    assert!(
        o.stderr.contains("cannot read the messages file /nonexistent/msgs.txt"),
        "{}",
        o.stderr
    );
    let o = run(&url, &["-c", "1", "-d", "1s", "--correlate", "/id"]);
    o.assert_exit(2);
    assert!(o.stderr.contains("only templated messages"), "{}", o.stderr);
    let o = run(
        &url,
        &["-c", "1", "-d", "1s", "--template", "{\"x\":1}", "--correlate", "/id"],
    );
    o.assert_exit(2);
    assert!(o.stderr.contains("needs `{seq}`"), "{}", o.stderr);
    let o = run(&url, &["-c", "1", "-d", "1s", "--compression", "gzip"]);
    o.assert_exit(2);
    assert!(
        o.stderr.contains("compression") && o.stderr.contains("deflate"),
        "{}",
        o.stderr
    );
    let o = run(&url, &["-c", "1", "-d", "1s", "-H", "NoColon"]);
    o.assert_exit(2);
    assert!(o.stderr.contains("Name: value"), "{}", o.stderr);
    assert!(server.alive());
}
