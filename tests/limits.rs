//! What stands between a user and a large run: the open-files limit and the
//! ephemeral ports of one source address.

mod common;

use std::process::Command;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use common::{fresh_dir, run_wsload, spawn_wsload_server, start_wsload, WSLOAD};

/// A hard open-files limit below what the run needs is refused before any
/// connection is opened, with the numbers and the command that fixes it.
#[test]
fn too_low_open_files_limit_is_refused_with_the_fix() {
    let out = fresh_dir();
    let script = format!(
        "ulimit -n 256 && exec '{WSLOAD}' run ws://127.0.0.1:9/ -c 1000 -d 1s --cores 0 --out '{}'",
        out.display()
    );
    let o = Command::new("sh").args(["-c", &script]).output().expect("run sh");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("1,0") && stderr.contains("256"),
        "numbers missing:\n{stderr}"
    );
    assert!(stderr.contains("ulimit -Hn"), "the fix is missing:\n{stderr}");
}

/// The soft limit is raised up to the hard limit by wsload itself.
#[test]
fn soft_open_files_limit_is_raised_automatically() {
    let server = spawn_wsload_server();
    let out = fresh_dir();
    let script = format!(
        "ulimit -Sn 64 && exec '{WSLOAD}' run {} -c 200 --rate 2 -d 1s --drain 2s --cores 0 -q --json --out '{}'",
        server.url(),
        out.display()
    );
    let o = Command::new("sh").args(["-c", &script]).output().expect("run sh");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary JSON on stdout");
    assert_eq!(s["connections"]["established"], 200, "{s:#}");
    assert_eq!(s["errors"]["emfile"], 0, "{s:#}");
}

/// More connections to one target than one address has ephemeral ports is refused up front,
/// naming --source-ip as the fix (checked before the open-files limit).
#[test]
fn too_many_connections_for_the_port_range_name_the_fix() {
    let o = run_wsload(&["run", "ws://127.0.0.1:9/", "-c", "100000", "-d", "1s", "--cores", "0"]);
    o.assert_exit(2);
    assert!(
        o.stderr.contains("--source-ip") && o.stderr.contains("100,000"),
        "no fix named:\n{}",
        o.stderr
    );
}

/// Connections take the given source addresses (here a range) in turn (each gives its own port range).
#[test]
fn source_addresses_are_used_in_turn() {
    let server = spawn_wsload_server();
    let port = server.port.to_string();
    let run = start_wsload(&[
        "run",
        &server.url(),
        "-c",
        "20",
        "--rate",
        "0",
        "-d",
        "3s",
        "--drain",
        "1s",
        "--cores",
        "0",
        "--source-ip",
        "127.0.0.2-3",
    ]);
    // Wait for the progress line that shows all 20 open, then look at the sockets.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match run
            .stderr_lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(line) if line.starts_with('[') && line.contains(" open     20 ") => break,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                panic!("never saw 20 open connections:\n{}", run.stderr_so_far())
            }
        }
    }
    let ss = Command::new("ss")
        .args(["-Htn", "state", "established", "dst", &format!("127.0.0.1:{port}")])
        .output()
        .expect("ss from iproute2");
    let table = String::from_utf8_lossy(&ss.stdout);
    let from = |ip: &str| table.lines().filter(|l| l.contains(&format!("{ip}:"))).count();
    assert_eq!((from("127.0.0.2"), from("127.0.0.3")), (10, 10), "ss:\n{table}");
    let o = run.wait(Duration::from_secs(60));
    o.assert_exit(0);
    assert_eq!(o.num("/connections/established"), 20);
}

/// --connect-rate caps the ramp: 20 connections at 40/s cannot all be open in under
/// (20 - 1) / 40 s. (A lower bound: a slow machine cannot make it fail.)
#[test]
fn connect_rate_spreads_the_ramp() {
    let server = spawn_wsload_server();
    let o = run_wsload(&[
        "run",
        &server.url(),
        "-c",
        "20",
        "--connect-rate",
        "40/s",
        "--rate",
        "0",
        "-d",
        "500ms",
        "--drain",
        "1s",
        "--cores",
        "0",
        "-q",
        "--json",
    ]);
    o.assert_exit(0);
    assert_eq!(o.num("/connections/established"), 20);
    let t = o.summary()["connections"]["time_to_all_s"].as_f64().unwrap();
    // The ramp wants the 20th connection 19/40 s after its time 0; the first attempt itself may
    // start a few ms after that time 0 (time_to_all counts from it), hence 90% of the ramp.
    // All at once would take a few ms.
    assert!(t >= 0.9 * 19.0 / 40.0, "20 connections at 40/s all open after {t} s");
}
