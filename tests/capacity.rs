//! `wsload capacity` against a server with a known limit: `wsload serve` under
//! `prlimit --nofile=300:300` can hold 300 minus its own descriptors connections; the
//! search must find that within one refinement step and call it connection failures.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Bound on one capacity search here (each failing step lasts about --connect-timeout).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(150);

/// The steps the search must run against a server that holds at most `limit` connections:
/// start 50, doubling up to 800, then `refine` bisections.
fn expected_steps(limit: u64, refine: u32) -> Vec<u64> {
    let (mut steps, mut n, mut good) = (Vec::new(), 50u64, 0u64);
    let mut bad = loop {
        steps.push(n);
        if n > limit {
            break n;
        }
        good = n;
        if n == 800 {
            return steps;
        }
        n = (n * 2).min(800);
    };
    for _ in 0..refine {
        if bad - good <= 1 {
            break;
        }
        let mid = good + (bad - good) / 2;
        steps.push(mid);
        if mid <= limit {
            good = mid;
        } else {
            bad = mid;
        }
    }
    steps
}

#[test]
fn finds_a_servers_open_files_limit_within_one_refinement_step() {
    let found = Command::new("which").arg("prlimit").output().expect("run which");
    assert!(
        found.status.success(),
        "prlimit (util-linux) is required by this test and was not found on PATH"
    );
    let server = spawn_wsload_server_via(&["prlimit", "--nofile=300:300"]);
    let pid = server.child.id();
    // The server's own descriptors before any client: listener, rings, eventfd, stdio.
    let own = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the server's /proc/PID/fd")
        .count() as u64;
    let limit = 300 - own;
    let url = server.url();
    let o = start_wsload(&[
        "capacity",
        &url,
        "--start",
        "50",
        "--factor",
        "2",
        "--max-connections",
        "800",
        "--hold",
        "1s",
        "--refine",
        "3",
        "--rate",
        "2",
        "--cores",
        "0",
        "--connect-timeout",
        "2s",
        "-q",
    ])
    .wait(SEARCH_TIMEOUT);
    assert!(!o.killed_by_watchdog, "capacity did not finish:\n{}", o.stderr);
    let path = o.out_dir.join("capacity.json");
    let c: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("no {}: {e}\nstderr:\n{}", path.display(), o.stderr)),
    )
    .expect("capacity.json is JSON");
    let ctx = format!(
        "server limit {limit} ({own} own fds)\n{}\nstderr:\n{}",
        serde_json::to_string_pretty(&c).unwrap_or_default(),
        o.stderr
    );
    assert_eq!(o.code, Some(0), "{ctx}");
    assert_eq!(c["partial"], false, "{ctx}");
    let r = &c["result"];
    assert_eq!(r["ended"], "limit-found", "{ctx}");
    assert_eq!(r["limit_of"], "server", "{ctx}");
    let best = r["highest_passing"].as_u64().expect("highest_passing");
    let next = r["next_failed"]["connections"].as_u64().expect("next_failed");
    assert!(
        best <= limit && limit < next,
        "the limit {limit} is not in [{best}, {next})\n{ctx}"
    );
    // One refinement step: 400 failed after 200 passed; three bisections leave 200 / 2^3.
    assert!(next - best <= 25, "not refined to one step\n{ctx}");
    assert_eq!(r["next_failed"]["reason"]["kind"], "connection failures", "{ctx}");
    let steps: Vec<u64> = c["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["connections"].as_u64().expect("connections"))
        .collect();
    assert_eq!(steps, expected_steps(limit, 3), "{ctx}");
    for s in c["steps"].as_array().unwrap() {
        let n = s["connections"].as_u64().unwrap();
        let passed = s["verdict"] == "pass";
        assert_eq!(passed, n <= limit, "step {n}\n{ctx}");
        if !passed {
            let established = s["established"].as_u64().expect("established");
            assert!(established <= limit, "step {n}: {established} established\n{ctx}");
            assert_eq!(s["reason"]["kind"], "connection failures", "step {n}\n{ctx}");
        }
        assert!(o.out_dir.join(s["dir"].as_str().unwrap()).join("summary.json").exists());
    }
    assert!(
        o.stderr
            .contains(&format!("highest load that met the SLO: {best} connections")),
        "{ctx}"
    );
}

#[test]
fn a_bad_slo_exits_2_naming_the_clause() {
    let o = run_wsload(&["capacity", "ws://127.0.0.1:9/", "--slo", "p99<50ms,erors<1%"]);
    o.assert_exit(2);
    assert!(o.stderr.contains("`erors<1%`"), "{}", o.stderr);
}
