//! Scenarios end to end against real servers on loopback: ramp shapes and
//! traffic phases read back from the time line in the results, churn,
//! reconnection after the server is killed and restarted, client-side faults,
//! message mixes and thresholds with their exit codes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn points(o: &Outcome) -> Vec<Value> {
    o.summary()["timeline"].as_array().expect("timeline").clone()
}

/// Run a scenario text with extra flags; `--interval 200ms -q` unless given.
fn run_scenario(text: &str, extra: &[&str]) -> Outcome {
    let path = scenario_file(text);
    let path = path.to_str().expect("utf-8 path").to_string();
    let mut args = vec!["run", "--scenario", path.as_str()];
    if !extra.contains(&"--interval") {
        args.extend(["--interval", "200ms"]);
    }
    args.extend_from_slice(extra);
    if !args.contains(&"-q") {
        args.push("-q");
    }
    run_wsload(&args)
}

/// Check the open-connection curve of a ramp against its target function: never ahead of
/// the ramp, and at most `lag` seconds behind it.
fn check_ramp(o: &Outcome, total: u64, target: impl Fn(f64) -> u64, lag: f64) {
    let ctx = o.pretty();
    let traffic = f(o.summary(), "/traffic_start_s");
    let mut checked = 0;
    for p in points(o) {
        let t = f(&p, "/t_s");
        if t >= traffic {
            break;
        }
        let open = p["open"].as_u64().unwrap();
        let ahead = target(t + 0.02);
        let behind = target((t - lag).max(0.0));
        assert!(open <= ahead, "t={t}: {open} open, ramp wants at most {ahead}\n{ctx}");
        assert!(
            open >= behind.min(total),
            "t={t}: {open} open, ramp wanted {behind}\n{ctx}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} time-line points during the ramp\n{ctx}");
    assert_eq!(o.num("/connections/established"), total, "{ctx}");
}

#[test]
fn linear_ramp_opens_connections_at_its_rate() {
    let o = run_scenario(
        "connections = 200\n[ramp]\nkind = \"linear\"\nrate = \"100/s\"\n[[phases]]\nkind = \"idle\"\nduration = \"500ms\"\n",
        &[],
    );
    o.assert_exit(0);
    check_ramp(&o, 200, |t| ((100.0 * t).floor() as u64 + 1).min(200), 0.3);
}

#[test]
fn exponential_ramp_doubles_in_batches() {
    let o = run_scenario(
        "connections = 200\n[ramp]\nkind = \"exponential\"\nstart = 25\nfactor = 2\nevery = \"500ms\"\n\
         [[phases]]\nkind = \"idle\"\nduration = \"500ms\"\n",
        &[],
    );
    o.assert_exit(0);
    check_ramp(&o, 200, |t| (25.0 * 2f64.powi((t / 0.5).floor() as i32)) as u64, 0.3);
}

#[test]
fn stepped_ramp_holds_each_plateau() {
    let o = run_scenario(
        "connections = 200\n[ramp]\nkind = \"stepped\"\nstep = 50\nhold = \"500ms\"\n\
         [[phases]]\nkind = \"idle\"\nduration = \"500ms\"\n",
        &[],
    );
    o.assert_exit(0);
    check_ramp(&o, 200, |t| (50 * ((t / 0.5).floor() as u64 + 1)).min(200), 0.3);
}

#[test]
fn ramp_down_closes_gradually_after_the_traffic() {
    let o = run_scenario(
        "connections = 100\n[ramp]\nkind = \"burst\"\ndown = \"1s\"\n[[phases]]\nkind = \"sustained\"\nrate = 2\nduration = \"500ms\"\n",
        &[],
    );
    o.assert_exit(0);
    let ctx = o.pretty();
    assert_eq!(o.num("/connections/ramped_down"), 100, "{ctx}");
    // Some point during the ramp-down shows a partly closed set.
    let partial = points(&o)
        .iter()
        .any(|p| (1..100).contains(&p["open"].as_u64().unwrap()) && f(p, "/t_s") > f(o.summary(), "/traffic_start_s"));
    assert!(partial, "no time-line point saw the ramp-down in progress\n{ctx}");
}

#[test]
fn burst_phase_shows_its_spikes_in_the_time_line() {
    let o = run_scenario(
        "connections = 100\n[[phases]]\nkind = \"burst\"\nrate = 2\nburst_rate = 20\nburst_for = \"1s\"\nevery = \"2s\"\nduration = \"6s\"\n",
        &["--interval", "250ms"],
    );
    o.assert_clean();
    let ctx = o.pretty();
    let start = f(o.summary(), "/phases/0/start_s");
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for p in points(&o) {
        let (b, e) = (f(&p, "/t_s") - 0.25 - start, f(&p, "/t_s") - start);
        if b < 0.05 || e > 5.95 {
            continue;
        }
        // A point whose whole interval lies in a spike ([2k, 2k+1) s) or outside every spike.
        let (kb, ke) = ((b / 2.0).floor(), ((e - 1e-9) / 2.0).floor());
        if kb == ke && b - 2.0 * kb >= 0.0 && e - 2.0 * kb <= 1.0 {
            inside.push(f(&p, "/sent_per_s"));
        } else if kb == ke && b - 2.0 * kb >= 1.0 {
            outside.push(f(&p, "/sent_per_s"));
        }
    }
    assert!(inside.len() >= 3 && outside.len() >= 3, "{inside:?} {outside:?}\n{ctx}");
    let low_in = inside.iter().cloned().fold(f64::MAX, f64::min);
    let high_out = outside.iter().cloned().fold(0.0, f64::max);
    // 100 connections: 2,000 msg/s in a spike, 200 msg/s between spikes.
    assert!(low_in > 4.0 * high_out, "spikes {inside:?} vs base {outside:?}\n{ctx}");
    assert!((1500.0..2500.0).contains(&low_in), "spike rate {inside:?}\n{ctx}");
}

#[test]
fn phases_follow_each_other_idle_then_in_flight_then_sustained() {
    let o = run_scenario(
        "connections = 50\n\
         [[phases]]\nname = \"quiet\"\nkind = \"idle\"\nduration = \"1s\"\n\
         [[phases]]\nname = \"max\"\nkind = \"in-flight\"\nwindow = 2\nduration = \"1s\"\n\
         [[phases]]\nname = \"steady\"\nkind = \"sustained\"\nrate = 4\nduration = \"1s\"\n",
        &["--interval", "250ms"],
    );
    o.assert_clean();
    let ctx = o.pretty();
    let s = o.summary();
    let window = |i: usize| {
        (
            f(s, &format!("/phases/{i}/start_s")),
            f(s, &format!("/phases/{i}/end_s")),
        )
    };
    let rates_in = |(b, e): (f64, f64)| -> Vec<f64> {
        points(&o)
            .iter()
            .filter(|p| f(p, "/t_s") - 0.25 >= b + 0.02 && f(p, "/t_s") <= e - 0.02)
            .map(|p| f(p, "/sent_per_s"))
            .collect()
    };
    let idle = rates_in(window(0));
    let closed = rates_in(window(1));
    let open = rates_in(window(2));
    assert!(!idle.is_empty() && !closed.is_empty() && !open.is_empty(), "{ctx}");
    assert!(idle.iter().all(|r| *r == 0.0), "sends while idle: {idle:?}\n{ctx}");
    // 50 connections at 4/s: about 200 msg/s; closed loop on loopback: far more.
    assert!(
        open.iter().all(|r| (100.0..300.0).contains(r)),
        "sustained {open:?}\n{ctx}"
    );
    assert!(closed.iter().all(|r| *r > 2000.0), "in-flight {closed:?}\n{ctx}");
}

#[test]
fn churn_closes_and_reopens_connections_on_their_lifetime() {
    let o = run_scenario(
        "connections = 50\n[connection]\nlifetime = \"500ms\"\n[[phases]]\nkind = \"sustained\"\nrate = 5\nduration = \"3s\"\n",
        &[],
    );
    o.assert_exit(0);
    let ctx = o.pretty();
    let churned = o.num("/recovery/churned");
    // Each connection lives 450..550 ms: about five lifetimes in 3 s.
    assert!(churned >= 150, "churned {churned}\n{ctx}");
    assert_eq!(
        o.num("/connections/established"),
        50 + churned,
        "every churned connection reopened\n{ctx}"
    );
    assert_eq!(o.num("/recovery/drops"), 0, "{ctx}");
    assert_eq!(o.num("/messages/lost"), 0, "{ctx}");
    assert_eq!(o.num("/connections/failed"), 0, "{ctx}");
}

#[test]
fn reconnection_recovers_after_the_server_is_killed_and_restarted() {
    let port = dead_port();
    let server = spawn_wsload_server_on(port);
    let path = scenario_file(&format!(
        "url = \"ws://127.0.0.1:{port}/\"\nconnections = 100\ndrain = \"1s\"\n\
         [reconnect]\npolicy = \"backoff\"\ninitial = \"100ms\"\nmax = \"400ms\"\nfactor = 2\njitter = 0\nrecovered_within = \"5s\"\n\
         [[phases]]\nkind = \"sustained\"\nrate = 2\nduration = \"7s\"\n"
    ));
    let run = start_wsload(&[
        "run",
        "--scenario",
        path.to_str().unwrap(),
        "--interval",
        "250ms",
        "--cores",
        "0",
    ]);
    // Wait for the traffic with every connection open, from the progress lines.
    let waited = Instant::now();
    loop {
        let line = run
            .stderr_lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no progress line; stderr:\n{}", run.stderr_so_far()));
        let open = line
            .split("open")
            .nth(1)
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok());
        let sending = line.contains("sent/s") && !line.contains("sent/s         0");
        if open == Some(100) && sending {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "never saw 100 open connections"
        );
    }
    let killed = Instant::now();
    drop(server);
    // The outage this test causes: the server is away for about 1.5 s.
    std::thread::sleep(Duration::from_millis(1500));
    let server = spawn_wsload_server_on(port);
    let gap = killed.elapsed().as_secs_f64();
    let o = run.wait(RUN_TIMEOUT);
    drop(server);
    o.assert_exit(1);
    let ctx = o.pretty();
    let s = o.summary();
    assert_eq!(o.num("/recovery/drops"), 100, "{ctx}");
    assert_eq!(o.num("/recovery/reconnected"), 100, "{ctx}");
    assert_eq!(o.num("/recovery/reconnected_within"), 100, "{ctx}");
    assert_eq!(o.num("/recovery/unrecovered"), 0, "{ctx}");
    let longest = f(s, "/recovery/longest_outage_s");
    // Down from the kill until the first retry after the restart (retries every <= 400 ms).
    assert!(
        longest >= gap - 0.15 && longest <= gap + 0.4 + 0.3,
        "longest {longest} gap {gap}\n{ctx}"
    );
    let p50 = f(s, "/recovery/time_to_reconnect_us/p50") / 1e6;
    assert!(p50 >= gap - 0.3 && p50 <= gap + 0.7, "p50 {p50} gap {gap}\n{ctx}");
    let avail = f(s, "/recovery/availability");
    assert!(avail < 0.95 && avail > 0.5, "availability {avail}\n{ctx}");
    assert!(
        o.num("/errors/connect_refused") > 0,
        "reconnects were refused while the server was down\n{ctx}"
    );
}

#[test]
fn every_injected_fault_is_counted_and_attributed() {
    let o = run_scenario(
        "connections = 100\n[reconnect]\npolicy = \"immediate\"\n\
         [[phases]]\nkind = \"sustained\"\nrate = 5\nduration = \"4s\"\n\
         [[faults]]\nkind = \"drop\"\nat = \"500ms\"\nevery = \"2s\"\nfraction = 0.1\n\
         [[faults]]\nkind = \"close\"\nat = \"1s\"\nfraction = 0.1\n\
         [[faults]]\nkind = \"corrupt\"\nat = \"1500ms\"\nfraction = 0.1\n\
         [[faults]]\nkind = \"oversized\"\nat = \"2s\"\nfraction = 0.1\n\
         [[faults]]\nkind = \"half-open\"\nat = \"2500ms\"\nfraction = 0.1\nfor = \"500ms\"\n\
         [[faults]]\nkind = \"pause\"\nat = \"3s\"\nfraction = 0.1\nfor = \"500ms\"\n",
        &["--cores", "0"],
    );
    let ctx = o.pretty();
    let s = o.summary();
    // The drop repeats every 2 s (at 0.5 and 2.5 s); each other fault is injected once.
    assert_eq!(o.num("/faults/injected/drop"), 20, "{ctx}");
    for kind in ["close", "corrupt", "oversized", "half-open", "pause"] {
        assert_eq!(o.num(&format!("/faults/injected/{kind}")), 10, "{kind}\n{ctx}");
    }
    // Drop, close, corrupt and oversized end their connections; the client reconnects them.
    assert_eq!(o.num("/faults/ended_connections"), 50, "{ctx}");
    assert_eq!(o.num("/recovery/reconnected"), 50, "{ctx}");
    assert_eq!(o.num("/connections/dropped"), 0, "no drop is the server's doing\n{ctx}");
    // The server answered the corrupt frames with 1002 and the oversized ones with 1009.
    assert_eq!(o.num("/close_codes/1002"), 10, "{ctx}");
    assert_eq!(o.num("/close_codes/1009"), 10, "{ctx}");
    assert!(
        o.num("/recovery/skipped") > 0,
        "paused connections skipped their sends\n{ctx}"
    );
    // Each injection is on the time line at its scheduled time.
    let start = f(s, "/traffic_start_s");
    let events = s["faults"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 7, "{ctx}");
    for (e, at) in events.iter().zip([0.5, 1.0, 1.5, 2.0, 2.5, 2.5, 3.0]) {
        let t = f(e, "/t_s") - start;
        assert!((t - at).abs() < 0.1, "event {e} at {t}, scheduled {at}\n{ctx}");
        assert_eq!(e["connections"].as_u64(), Some(10), "{ctx}");
    }
    let faults_in_timeline: u64 = points(&o)
        .iter()
        .flat_map(|p| {
            p["faults_new"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .sum();
    assert_eq!(faults_in_timeline, 70, "{ctx}");
    assert_eq!(
        o.num("/messages/lost"),
        o.num("/messages/lost_by_drop"),
        "every loss is explained by a drop\n{ctx}"
    );
    assert_eq!(o.num("/messages/corrupted"), 0, "{ctx}");
}

const MIX: &str = "connections = 40\n\
    [[phases]]\nkind = \"sustained\"\nrate = 10\nduration = \"2s\"\n\
    [[messages]]\nname = \"small\"\nweight = 3\nsize = { min = 24, max = 200 }\n\
    [[messages]]\nname = \"chat\"\ntype = \"text\"\nweight = 1\nsize = [48, 100, 1000]\n\
    [[messages]]\nname = \"hb\"\ntype = \"ping\"\nweight = 1\nsize = 30\n";

fn check_mix(o: &Outcome) {
    o.assert_clean();
    let ctx = o.pretty();
    let types = o.summary()["message_types"].as_array().unwrap();
    assert_eq!(types.len(), 3, "{ctx}");
    let sent: u64 = types.iter().map(|t| t["sent"].as_u64().unwrap()).sum();
    assert_eq!(sent, o.num("/messages/sent"), "{ctx}");
    for t in types {
        assert!(t["sent"].as_u64().unwrap() > 0, "{t}\n{ctx}");
        assert_eq!(t["received"], t["sent"], "{ctx}");
        assert_eq!(t["latency_us"]["count"], t["received"], "{ctx}");
    }
    // Weights 3:1:1.
    let small = types[0]["sent"].as_u64().unwrap() as f64 / sent as f64;
    assert!((0.5..0.7).contains(&small), "share of `small` {small}\n{ctx}");
}

#[test]
fn message_mix_against_the_builtin_server() {
    check_mix(&run_scenario(MIX, &[]));
}

#[test]
fn message_mix_with_pings_against_python_websockets() {
    let peer = spawn_peer("py_echo_server.py", &[]);
    check_mix(&run_scenario(MIX, &[&peer.url()]));
}

#[test]
fn thresholds_decide_the_exit_status() {
    let phases = "[[phases]]\nkind = \"sustained\"\nrate = 5\nduration = \"1s\"\n";
    let pass = run_scenario(
        &format!("connections = 50\nthresholds = [\"messages.lost == 0\", \"latency.p99 < 5s\", \"connections.established >= 50\", \"errors.rate < 0.1%\"]\n{phases}"),
        &[],
    );
    pass.assert_exit(0);
    assert_eq!(
        pass.summary()["thresholds_passed"],
        Value::Bool(true),
        "{}",
        pass.pretty()
    );
    let v = pass.summary()["thresholds"].as_array().unwrap();
    assert_eq!(v.len(), 4);
    assert_eq!(f(&v[2], "/measured"), 50.0);

    let fail = run_scenario(
        &format!("connections = 50\nthresholds = [\"latency.p50 < 1us\", \"messages.lost == 0\"]\n{phases}"),
        &[],
    );
    fail.assert_exit(1);
    let v = fail.summary()["thresholds"].as_array().unwrap();
    assert_eq!(v[0]["pass"], Value::Bool(false), "{}", fail.pretty());
    assert_eq!(v[1]["pass"], Value::Bool(true), "{}", fail.pretty());
    assert!(fail.stderr.contains("FAIL latency.p50 < 1us"), "{}", fail.stderr);
}

#[test]
fn abort_on_fail_stops_the_run_early() {
    let peer = spawn_bad_server("corrupt", &[]);
    let o = run_scenario(
        "connections = 10\nabort_on_fail = true\nthresholds = [\"messages.corrupted == 0\"]\n\
         [[phases]]\nkind = \"sustained\"\nrate = 20\nduration = \"30s\"\n",
        &[&peer.url()],
    );
    o.assert_exit(1);
    let ctx = o.pretty();
    assert!(
        o.summary()["aborted_by"]
            .as_str()
            .unwrap_or("")
            .contains("messages.corrupted"),
        "{ctx}"
    );
    assert!(f(o.summary(), "/duration_s") < 10.0, "the run went on\n{ctx}");
}

#[test]
fn flags_and_set_override_the_file_and_the_effective_scenario_is_saved() {
    let o = run_scenario(
        "connections = 500\nheaders = { Authorization = \"Bearer s3cret\", X-Test = \"yes\" }\n\
         [[phases]]\nkind = \"sustained\"\nrate = 1\nduration = \"5s\"\n",
        &[
            "-c",
            "30",
            "--set",
            "phases.0.duration=500ms",
            "--set",
            "phases.0.rate=4",
        ],
    );
    o.assert_clean();
    let s = &o.summary()["scenario"];
    assert_eq!(s["connections"], 30);
    assert_eq!(f(s, "/phases/0/duration"), 0.5);
    assert_eq!(f(s, "/phases/0/rate"), 4.0);
    let text = serde_json::to_string(o.summary()).unwrap();
    assert!(!text.contains("s3cret"), "the token leaked into summary.json");
    let page = std::fs::read_to_string(o.out_dir.join("report.html")).expect("report.html");
    assert!(!page.contains("s3cret"), "the token leaked into report.html");
    assert!(page.contains("Bearer ***"), "the redacted header is not in report.html");
    assert!(text.contains("Bearer ***"), "{text}");
    assert!(text.contains("yes"));
}

#[test]
fn shipped_scenarios_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/scenarios");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).expect("scripts/scenarios") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let out = std::process::Command::new(WSLOAD)
                .arg("validate")
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            names.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    for want in [
        "burst.toml",
        "churn-reconnect.toml",
        "faults.toml",
        "network-faults.toml",
        "peak-10k.toml",
        "smoke.toml",
        "soak.toml",
    ] {
        assert!(names.iter().any(|n| n == want), "missing {want} in {names:?}");
    }
}

#[test]
fn smoke_scenario_runs_end_to_end() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/scenarios/smoke.toml");
    let o = run_wsload(&["run", "--scenario", path.to_str().unwrap(), "-q"]);
    o.assert_exit(0);
    assert_eq!(o.summary()["thresholds_passed"], Value::Bool(true), "{}", o.pretty());
}

#[test]
fn rate_ramp_phase_climbs_from_zero_to_its_end_rate() {
    let o = run_scenario(
        "connections = 50\n[[phases]]\nkind = \"ramp\"\nfrom = 0\nto = 20\nduration = \"2s\"\n",
        &["--interval", "250ms"],
    );
    o.assert_clean();
    let ctx = o.pretty();
    // The integral of a rate going from 0 to 20/s over 2 s is 20 messages per connection.
    let sent = o.num("/messages/sent");
    assert!((950..=1050).contains(&sent), "sent {sent}, expected about 1,000\n{ctx}");
    let (b, e) = (f(o.summary(), "/phases/0/start_s"), f(o.summary(), "/phases/0/end_s"));
    let rates: Vec<f64> = points(&o)
        .iter()
        .filter(|p| f(p, "/t_s") - 0.25 >= b && f(p, "/t_s") <= e)
        .map(|p| f(p, "/sent_per_s"))
        .collect();
    assert!(rates.len() >= 5, "{rates:?}\n{ctx}");
    assert!(
        rates.first().unwrap() * 3.0 < *rates.last().unwrap(),
        "the rate did not climb: {rates:?}\n{ctx}"
    );
}

#[test]
fn subprotocol_is_negotiated_with_a_server_that_supports_it() {
    let peer = spawn_peer("py_echo_server.py", &["--subprotocols", "chat"]);
    let o = run_scenario(
        "connections = 5\nsubprotocols = [\"chat.v2\", \"chat\"]\n[[phases]]\nkind = \"sustained\"\nrate = 5\nduration = \"500ms\"\n",
        &[&peer.url()],
    );
    o.assert_clean();
}

#[test]
fn subprotocol_mismatch_is_a_clear_error() {
    let server = spawn_wsload_server();
    let o = run_scenario(
        "connections = 5\nsubprotocols = [\"chat\"]\n[[phases]]\nkind = \"sustained\"\nrate = 5\nduration = \"500ms\"\n",
        &[&server.url(), "--cores", "0"],
    );
    o.assert_exit(2);
    assert_eq!(o.num("/errors/handshake_invalid"), 5, "{}", o.pretty());
    let first = serde_json::to_string(&o.summary()["first_errors"]).unwrap();
    assert!(
        first.contains("accepted none of the offered subprotocols (chat)"),
        "{first}"
    );
}

#[test]
fn a_bad_scenario_file_starts_nothing_and_exits_2() {
    let path = scenario_file("connections = 10\n[ramp]\nkind = \"lineer\"\n");
    let o = run_wsload(&["run", "--scenario", path.to_str().unwrap(), "-q"]);
    o.assert_exit(2);
    assert!(
        o.stderr
            .contains("scenario.toml:3:8: ramp.kind: unknown ramp kind `lineer`"),
        "{}",
        o.stderr
    );
    assert!(o.summary.is_none(), "a run that did not start wrote a summary");
}

#[test]
fn a_run_with_every_connection_gone_for_good_stops_early_and_says_why() {
    let port = dead_port();
    let server = spawn_wsload_server_on(port);
    // No reconnect policy: once the server is gone, nothing will open a connection again.
    let path = scenario_file(&format!(
        "url = \"ws://127.0.0.1:{port}/\"\nconnections = 50\ndrain = \"1s\"\n\
         [[phases]]\nkind = \"sustained\"\nrate = 2\nduration = \"30s\"\n"
    ));
    let run = start_wsload(&["run", "--scenario", path.to_str().unwrap(), "--interval", "250ms"]);
    let waited = Instant::now();
    loop {
        let line = run
            .stderr_lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no progress line; stderr:\n{}", run.stderr_so_far()));
        if line.contains("sent/s") && !line.contains("sent/s         0") {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(20), "the traffic never started");
    }
    let killed = Instant::now();
    drop(server);
    let o = run.wait(RUN_TIMEOUT);
    let ctx = o.pretty();
    let s = o.summary();
    let why = s["aborted_by"]
        .as_str()
        .unwrap_or_else(|| panic!("no aborted_by\n{ctx}"));
    assert!(why.contains("every connection is down"), "{why}\n{ctx}");
    assert!(o.stderr.contains("stopping early"), "{ctx}");
    // It ended well before the 30 s phase would have (drain and close included).
    let traffic = f(s, "/duration_s");
    assert!(traffic < 25.0, "ran {traffic} s of a 30 s phase\n{ctx}");
    assert!(killed.elapsed() < Duration::from_secs(25), "{ctx}");
    assert_eq!(o.num("/recovery/drops"), 50, "{ctx}");
}
