//! The cost of the server under test, reported by `--server-pid`, checked
//! against this test's own reading of /proc: memory per connection from the
//! server's RSS at two connection counts (two plateaus of a stepped ramp), and
//! CPU per message from the server's CPU time around the whole run.

mod common;

use std::time::Duration;

use common::*;

/// VmRSS of `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// User + system CPU of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("server stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// Run a stepped ramp (`step` more connections every 1.5 s, up to 3 steps) then `secs` of
/// steady traffic against `url`, read the server's RSS at the first and the last plateau and its CPU
/// around the run, and compare with what the summary says.
fn check_cost(pid: u32, url: &str, step: u64, rate: u32, secs: u32) {
    let total = 3 * step;
    let path = scenario_file(&format!(
        "url = \"{url}\"\nconnections = {total}\ndrain = \"2s\"\n\
         [ramp]\nkind = \"stepped\"\nstep = {step}\nhold = \"1500ms\"\n\
         [[phases]]\nkind = \"sustained\"\nrate = {rate}\nduration = {secs}\n"
    ));
    let cpu_before = cpu_ticks(pid);
    let pid_s = pid.to_string();
    let run = start_wsload(&[
        "run",
        "--scenario",
        path.to_str().unwrap(),
        "--server-pid",
        &pid_s,
        "--interval",
        "250ms",
        "--cores",
        "0",
    ]);
    // The test's own readings, at the first plateau and once every connection is open.
    let mut readings = Vec::new();
    for want in [step, total] {
        loop {
            let line = run
                .stderr_lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no progress line; stderr:\n{}", run.stderr_so_far()));
            let open = line
                .split("open")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok());
            if open == Some(want) {
                readings.push((want, rss(pid)));
                break;
            }
        }
    }
    let o = run.wait(RUN_TIMEOUT);
    let cpu_after = cpu_ticks(pid);
    o.assert_exit(0);
    let ctx = o.pretty();
    let s = &o.summary()["server"];
    assert_eq!(s["pid"].as_u64(), Some(pid as u64), "{ctx}");

    let ours = (readings[1].1 as f64 - readings[0].1 as f64) / (readings[1].0 - readings[0].0) as f64;
    let theirs = f(s, "/memory_per_connection/bytes_per_connection");
    eprintln!("memory per connection: summary {theirs:.0} B, /proc {ours:.0} B; {readings:?}");
    assert!(
        ours > 0.0,
        "the server's RSS did not grow with connections: {readings:?}\n{ctx}"
    );
    assert!(
        (theirs - ours).abs() <= 0.25 * ours,
        "memory per connection: summary {theirs:.0} B, this test's /proc readings {ours:.0} B\n{ctx}"
    );
    assert!(s["memory_per_connection"]["points"].as_u64().unwrap() >= 3, "{ctx}");

    let received = o.num("/messages/received") as f64;
    let ours = (cpu_after - cpu_before) as f64 / ticks_per_second() / (received / 1e6);
    let theirs = f(s, "/cpu_s_per_million_msgs");
    eprintln!("CPU per million messages: summary {theirs:.2} s, /proc {ours:.2} s");
    // This test's figure also holds the connects and closes, so it is a little higher.
    assert!(
        (theirs - ours).abs() <= 0.25 * ours,
        "CPU per million messages: summary {theirs:.2} s, this test's /proc readings {ours:.2} s\n{ctx}"
    );
    assert_eq!(s["after"]["accepts"], true, "{ctx}");
}

#[test]
fn cost_of_wsload_serve_matches_proc() {
    let server = spawn_wsload_server();
    check_cost(server.child.id(), &server.url(), 1000, 4, 4);
}

#[test]
fn cost_of_python_websockets_matches_proc() {
    let peer = spawn_peer("py_echo_server.py", &[]);
    // Python pays much more per handshake than per message: a longer steady phase keeps the
    // connects and closes (in this test's figure, not in the summary's) a small share.
    check_cost(peer.child.id(), &peer.url(), 200, 5, 8);
}

#[test]
fn builtin_server_is_sampled_without_asking() {
    let o = run_wsload(&["run", "-c", "300", "-d", "1s", "--drain", "1s", "-q"]);
    o.assert_clean();
    let s = &o.summary()["server"];
    assert!(s["pid"].as_u64().unwrap() > 0, "{}", o.pretty());
    assert!(s["peak_fds"].as_u64().unwrap() >= 300, "{}", o.pretty());
    assert_eq!(s["after"]["accepts"], true, "{}", o.pretty());
    assert!(s["findings"].as_array().unwrap().is_empty(), "{}", o.pretty());
    let points = o.summary()["timeline"].as_array().unwrap();
    assert!(points.iter().all(|p| p["server"]["rss_bytes"].as_u64().unwrap() > 0));
}

#[test]
fn a_wrong_server_pid_is_refused_before_starting() {
    let o = run_wsload(&["run", "ws://127.0.0.1:9/", "--server-pid", "999999999", "-q"]);
    o.assert_exit(2);
    assert!(
        o.stderr.contains("--server-pid 999999999: no such process"),
        "{}",
        o.stderr
    );
}

/// `wsload run` of 50 connections against `peer`, sampling it with `--server-pid`.
fn sampled_run(peer: &Peer) -> Outcome {
    let pid = peer.child.id().to_string();
    let url = peer.url();
    let o = run_wsload(&[
        "run",
        &url,
        "-c",
        "50",
        "--rate",
        "2",
        "-d",
        "1s",
        "--drain",
        "1s",
        "--server-pid",
        &pid,
        "-q",
        "--cores",
        "0",
    ]);
    o.assert_clean();
    o
}

#[test]
fn a_server_that_keeps_its_descriptors_is_reported() {
    let o = sampled_run(&spawn_bad_server("leak", &[]));
    let s = &o.summary()["server"];
    let findings = serde_json::to_string(&s["findings"]).unwrap();
    assert!(findings.contains("possible descriptor leak"), "{}", o.pretty());
    assert!(
        s["after"]["fds"].as_u64().unwrap() >= s["baseline_fds"].as_u64().unwrap() + 50,
        "{}",
        o.pretty()
    );
    // The same peer without the leak: no finding.
    let o = sampled_run(&spawn_bad_server("echo", &[]));
    assert!(
        o.summary()["server"]["findings"].as_array().unwrap().is_empty(),
        "{}",
        o.pretty()
    );
}
