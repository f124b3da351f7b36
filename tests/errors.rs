//! Failures wsload must detect, count and survive: misbehaving servers
//! (tests/peers/bad_server.py), a port nobody listens on, and bad arguments.

mod common;

use common::{dead_port, run_wsload, spawn_bad_server, Outcome, Peer};

/// `wsload run URL -c N --rate R -d 1s --drain 1s -q --cores 0` against `server`.
fn run_against(server: &Peer, conns: &str, rate: &str) -> Outcome {
    let url = server.url();
    run_wsload(&[
        "run", &url, "-c", conns, "--rate", rate, "-d", "1s", "--drain", "1s", "-q", "--cores", "0",
    ])
}

#[test]
fn dropped_echoes_are_counted_lost() {
    let server = spawn_bad_server("drop", &["--every", "5"]);
    let out = run_against(&server, "4", "10");
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 4, "{ctx}");
    assert_eq!(out.num("/connections/dropped"), 0, "{ctx}");
    let (sent, received, lost) = (
        out.num("/messages/sent"),
        out.num("/messages/received"),
        out.num("/messages/lost"),
    );
    assert!(sent >= 20, "{ctx}");
    assert!(lost > 0, "{ctx}");
    // Every 5th message of each connection is dropped: floor(sent_i / 5) each.
    assert!(lost <= sent / 5, "{ctx}");
    assert_eq!(received + lost, sent, "{ctx}");
    assert_eq!(
        out.num("/messages/lost_by_drop"),
        0,
        "connections were not dropped\n{ctx}"
    );
    for k in ["corrupted", "duplicated", "out_of_order"] {
        assert_eq!(out.num(&format!("/messages/{k}")), 0, "{k}\n{ctx}");
    }
}

#[test]
fn corrupted_echoes_are_counted_corrupted() {
    let server = spawn_bad_server("corrupt", &["--every", "5"]);
    let out = run_against(&server, "4", "10");
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 4, "{ctx}");
    let (sent, received, corrupted) = (
        out.num("/messages/sent"),
        out.num("/messages/received"),
        out.num("/messages/corrupted"),
    );
    assert!(corrupted > 0, "{ctx}");
    assert!(corrupted <= sent / 5, "{ctx}");
    assert_eq!(
        received + corrupted,
        sent,
        "a corrupted echo is not a received one\n{ctx}"
    );
    assert_eq!(out.num("/messages/duplicated"), 0, "{ctx}");
    assert_eq!(out.num("/messages/out_of_order"), 0, "{ctx}");
}

#[test]
fn duplicated_echoes_are_counted_duplicated() {
    let server = spawn_bad_server("duplicate", &["--every", "5"]);
    let out = run_against(&server, "4", "10");
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 4, "{ctx}");
    let (sent, duplicated) = (out.num("/messages/sent"), out.num("/messages/duplicated"));
    assert!(duplicated > 0, "{ctx}");
    assert!(duplicated <= sent / 5, "{ctx}");
    // The originals all came back: nothing lost, nothing corrupted, nothing counted twice.
    assert_eq!(out.num("/messages/received"), sent, "{ctx}");
    for k in ["lost", "corrupted", "out_of_order"] {
        assert_eq!(out.num(&format!("/messages/{k}")), 0, "{k}\n{ctx}");
    }
}

#[test]
fn refused_upgrades_are_counted_with_their_status() {
    let server = spawn_bad_server("refuse", &[]);
    let out = run_against(&server, "10", "5");
    // Not one connection: the run could not start.
    out.assert_exit(2);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/target"), 10, "{ctx}");
    assert_eq!(out.num("/connections/established"), 0, "{ctx}");
    assert_eq!(out.num("/connections/failed"), 10, "{ctx}");
    assert_eq!(out.num("/errors/upgrade_rejected"), 10, "{ctx}");
    assert_eq!(out.num("/upgrade_status/403"), 10, "{ctx}");
    assert_eq!(out.num("/messages/sent"), 0, "{ctx}");
    assert!(
        out.stderr.contains("no connection could be established"),
        "stderr should say nothing connected:\n{}",
        out.stderr
    );
}

#[test]
fn invalid_frames_are_protocol_violations() {
    let server = spawn_bad_server("garbage", &[]);
    let out = run_against(&server, "10", "5");
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 10, "{ctx}");
    assert_eq!(out.num("/errors/protocol_violation"), 10, "{ctx}");
    assert_eq!(out.num("/connections/dropped"), 10, "{ctx}");
    assert_eq!(out.num("/messages/received"), 0, "{ctx}");
}

#[test]
fn a_2_pow_62_byte_frame_is_refused_without_allocating() {
    let server = spawn_bad_server("huge", &[]);
    let out = run_against(&server, "10", "5");
    // Exit 1 (not a crash: a signal would leave no exit code).
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 10, "{ctx}");
    assert_eq!(out.num("/errors/frame_too_large"), 10, "{ctx}");
    assert_eq!(out.num("/connections/dropped"), 10, "{ctx}");
    assert_eq!(out.num("/messages/received"), 0, "{ctx}");
    let rss = out.num("/client/peak_rss_bytes");
    assert!(
        rss < 256 << 20,
        "peak RSS {rss} bytes: was the announced frame allocated?\n{ctx}"
    );
}

#[test]
fn unanswered_messages_are_lost_after_the_drain() {
    let server = spawn_bad_server("silent", &[]);
    let out = run_against(&server, "5", "5");
    out.assert_exit(1);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/established"), 5, "{ctx}");
    let sent = out.num("/messages/sent");
    assert!(sent > 0, "{ctx}");
    assert_eq!(out.num("/messages/received"), 0, "{ctx}");
    assert_eq!(out.num("/messages/lost"), sent, "{ctx}");
}

#[test]
fn dead_port_fails_every_connection_and_finishes() {
    let port = dead_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let out = run_wsload(&[
        "run", &url, "-c", "20", "--rate", "1", "-d", "1s", "--drain", "1s", "-q", "--cores", "0",
    ]);
    // assert_exit also checks that the run ended by itself, before the watchdog; exit 2 because
    // the run could not start at all (the summary is still written).
    out.assert_exit(2);
    let ctx = out.pretty();
    assert_eq!(out.num("/connections/target"), 20, "{ctx}");
    assert_eq!(out.num("/connections/established"), 0, "{ctx}");
    assert_eq!(out.num("/connections/failed"), 20, "{ctx}");
    assert_eq!(out.num("/errors/connect_refused"), 20, "{ctx}");
    assert_eq!(out.num("/messages/sent"), 0, "{ctx}");
    assert_eq!(out.summary()["partial"], false, "{ctx}");
    assert!(out.out_dir.join("summary.json").is_file());
}

/// `wsload ARGS --out DIR` must exit 2 and say something containing `needle` on stderr.
/// (`--out` keeps a run that gets as far as creating its results directory out of the repository.)
fn bad_args(args: &[&str], needle: &str) {
    let out = run_wsload(args);
    out.assert_exit(2);
    assert!(
        out.stderr.contains(needle),
        "{args:?}: stderr should mention `{needle}`:\n{}",
        out.stderr
    );
}

#[test]
fn too_small_binary_size_is_rejected_with_the_minimum() {
    bad_args(
        &["run", "ws://127.0.0.1:9/", "--size", "8", "-q", "--cores", "0"],
        "at least 24 bytes",
    );
}

#[test]
fn too_small_text_size_is_rejected_with_the_minimum() {
    bad_args(
        &[
            "run",
            "ws://127.0.0.1:9/",
            "--size",
            "40",
            "--text",
            "-q",
            "--cores",
            "0",
        ],
        "at least 48 bytes",
    );
}

#[test]
fn non_websocket_urls_are_rejected() {
    bad_args(&["run", "http://x/", "-q", "--cores", "0"], "must start with ws://");
    bad_args(&["run", "wss://x:0/", "-q", "--cores", "0"], "not a port");
    bad_args(&["run", "ws://127.0.0.1:0/", "-q", "--cores", "0"], "not a port");
}

#[test]
fn unresolvable_host_is_a_setup_error() {
    bad_args(&["run", "ws://x.invalid/", "-q", "--cores", "0"], "cannot resolve");
}

#[test]
fn conflicting_and_zero_arguments_are_rejected() {
    bad_args(
        &[
            "run",
            "ws://127.0.0.1:9/",
            "--rate",
            "2",
            "--in-flight",
            "4",
            "--cores",
            "0",
        ],
        "--in-flight",
    );
    bad_args(
        &["run", "ws://127.0.0.1:9/", "-c", "0", "--cores", "0"],
        "--connections 0: connections: expected an integer of 1 or more",
    );
    bad_args(
        &["run", "ws://127.0.0.1:9/", "--in-flight", "0", "--cores", "0"],
        "--in-flight",
    );
}

#[test]
fn hand_written_peer_in_echo_mode_is_clean() {
    // Baseline for the tests above: the same peer, behaving, gives a clean run.
    let server = spawn_bad_server("echo", &[]);
    let out = run_against(&server, "4", "10");
    out.assert_clean();
}
