//! Ctrl-C: the load stops, outstanding echoes drain, the summary is written
//! marked partial, and the exit status is 130.

mod common;

use std::time::Duration;

use common::{spawn_wsload_server, start_wsload, Running};

/// The value after `key` in a progress line
/// (`[   1.0s] open    100  conn/s ...  sent/s       200  recv/s ...`).
fn field(line: &str, key: &str) -> Option<f64> {
    let mut it = line.split_whitespace();
    it.find(|w| *w == key)?;
    it.next()?.parse().ok()
}

/// Wait until a progress line shows all `conns` connections open and messages being
/// sent: the run is in its load phase. Returns that line.
fn wait_for_load_phase(run: &Running, conns: f64) -> String {
    let what = format!("progress line with {conns} connections open and messages sent");
    run.wait_for_line(Duration::from_secs(30), &what, |line| {
        line.starts_with('[') && field(line, "open") == Some(conns) && field(line, "sent/s").is_some_and(|s| s > 0.0)
    })
}

/// Interrupt `run` once it is in its load phase and check the partial summary.
fn interrupt_and_check(run: Running, conns: u64) -> common::Outcome {
    let line = wait_for_load_phase(&run, conns as f64);
    run.signal("INT");
    let out = run.wait(Duration::from_secs(60));
    out.assert_exit(130);
    let ctx = format!("progress line before SIGINT: {line}\n{}", out.pretty());
    let s = out.summary();
    assert_eq!(s["partial"], true, "{ctx}");
    assert!(
        s["duration_s"].as_f64().is_some_and(|d| d < 30.0),
        "the load should have stopped before its 30 s\n{ctx}"
    );
    assert_eq!(out.num("/connections/established"), conns, "{ctx}");
    let sent = out.num("/messages/sent");
    assert!(sent > 0, "{ctx}");
    // The drain after Ctrl-C waits for every outstanding echo.
    assert_eq!(out.num("/messages/received"), sent, "{ctx}");
    for k in ["lost", "corrupted", "duplicated", "out_of_order"] {
        assert_eq!(out.num(&format!("/messages/{k}")), 0, "messages.{k}\n{ctx}");
    }
    assert_eq!(out.num("/connections/dropped"), 0, "{ctx}");
    assert!(out.stderr.contains("interrupted"), "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("PARTIAL"),
        "the text summary should say PARTIAL:\n{}",
        out.stderr
    );
    // --json prints the same (partial) summary on stdout.
    assert_eq!(&out.stdout_json(), s, "stdout JSON differs from summary.json");
    out
}

#[test]
fn ctrl_c_with_builtin_server_writes_partial_summary_and_exits_130() {
    let run = start_wsload(&[
        "run",
        "-c",
        "100",
        "--rate",
        "2",
        "-d",
        "30s",
        "--drain",
        "5s",
        "--server-core",
        "1",
        "--cores",
        "0",
        "--json",
    ]);
    let out = interrupt_and_check(run, 100);
    assert_eq!(out.summary()["builtin_server"], true, "{}", out.pretty());
}

#[test]
fn ctrl_c_in_closed_loop_drains_every_window() {
    let server = spawn_wsload_server();
    let url = server.url();
    let run = start_wsload(&[
        "run",
        &url,
        "-c",
        "20",
        "--in-flight",
        "8",
        "-d",
        "30s",
        "--drain",
        "5s",
        "--cores",
        "0",
        "--json",
    ]);
    let out = interrupt_and_check(run, 20);
    assert_eq!(
        out.summary()["scenario"]["phases"][0]["kind"],
        "in-flight",
        "{}",
        out.pretty()
    );
}
