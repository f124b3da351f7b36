//! `wsload proxy`, through real sockets against `wsload serve`: each toxic's effect is read from
//! the client's results (summary.json) and the proxy's own counters, never from wall time.
//! Standalone proxies for latency and slicing; scenario runs (`[proxy]`, started by `wsload run`)
//! for bandwidth, resets, corruption and the shipped network-faults scenario.

mod common;

use common::*;
use serde_json::Value;

/// The proxy's last counter line (its stdout is JSON lines after `listening on ADDR`).
fn last_counters(stdout: &str) -> Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v.get("counters").is_some())
        .unwrap_or_else(|| panic!("no counter line in the proxy's output:\n{stdout}"))["counters"]
        .clone()
}

/// Wait (bounded) until the proxy's counters satisfy `ok`; they come every --stats-interval.
fn counters_when(proxy: &Peer, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let c = last_counters(&proxy.stdout());
        if ok(&c) || std::time::Instant::now() > deadline {
            return c;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn run_through(proxy: &Peer, extra: &[&str]) -> Outcome {
    let url = proxy.url();
    let mut args = vec!["run", url.as_str(), "--cores", "0", "-q", "--drain", "1s"];
    args.extend_from_slice(extra);
    run_wsload(&args)
}

#[test]
fn added_latency_appears_in_the_latency_histogram() {
    let server = spawn_wsload_server();
    let direct = run_wsload(&[
        "run",
        &server.url(),
        "--cores",
        "0",
        "-q",
        "-c",
        "20",
        "--rate",
        "10",
        "-d",
        "2s",
    ]);
    direct.assert_clean();
    let base_p50 = f(direct.summary(), "/latency_us/corrected/p50");

    let proxy = spawn_wsload_proxy(
        server.port,
        &["--latency", "30ms", "--jitter", "10ms", "--direction", "downstream"],
    );
    let o = run_through(&proxy, &["-c", "20", "--rate", "10", "-d", "2s"]);
    o.assert_clean();
    let s = o.summary();
    let (p50, p90) = (f(s, "/latency_us/corrected/p50"), f(s, "/latency_us/corrected/p90"));
    // One way, downstream: every echo is held 30 ms ± 10 ms (uniform, 20 to 40 ms) on top of
    // whatever the echo costs without the proxy. Adding a delay that is never negative can only
    // raise each percentile, so the bounds below hold however busy the machine is: the median
    // is at least the uniform's (30 ms), the 90th percentile at least its 38 ms (less 2 ms for
    // the sample and the histogram's buckets). No upper bound: a busy machine adds to the tail.
    assert!(
        p50 >= 28_000.0,
        "p50 {p50} us: the 30 ms delay is missing\n{}",
        o.pretty()
    );
    assert!(
        p90 >= 36_000.0,
        "p90 {p90} us: the delay's upper half is missing\n{}",
        o.pretty()
    );
    // The added delay shows against the direct run's median.
    assert!(
        p50 - base_p50 >= 10_000.0,
        "p50 {p50} us through the proxy, {base_p50} us direct"
    );
    // The jitter widens the spread: without it p90 would sit next to p50.
    assert!(p90 - p50 > 3_000.0, "no jitter: p50 {p50} p90 {p90}");
    let c = counters_when(&proxy, |c| c["ended"].as_u64() == Some(20));
    // Downstream only: what was delayed is what went server → client.
    assert_eq!(c["bytes_delayed"], c["bytes_downstream"], "{c}");
}

/// The pacer sends what falls due within its lead (at least a tick) early; such a message must be timed
/// from when it left, never from its later planned time. Through a proxy that holds every echo
/// 20 ms, no latency can then be under 20 ms. With a 4 ms tick the lead is 4 ms, so timing an
/// early send from its planned time would put most of the echoes at 16-20 ms.
#[test]
fn an_early_send_is_timed_from_when_it_leaves() {
    let server = spawn_wsload_server();
    let proxy = spawn_wsload_proxy(server.port, &["--latency", "20ms", "--direction", "downstream"]);
    let url = proxy.url();
    let args = [
        "run",
        url.as_str(),
        "--cores",
        "0",
        "-q",
        "--drain",
        "1s",
        "-c",
        "20",
        "--rate",
        "50",
        "-d",
        "2s",
    ];
    let o = start_wsload_env(&args, &[("WSLOAD_PACER_TICK_US", "4000")]).wait(RUN_TIMEOUT);
    o.assert_clean();
    let log = std::fs::read(o.out_dir.join("latency.hlog")).expect("latency.hlog");
    let h = wsload::report::hlog::read_merged(&log).expect("latency.hlog reads back");
    assert_eq!(h.len(), o.num("/messages/received"), "every echo is in the log");
    // 20 ms less the histogram's bucket (3 significant digits: 16 µs at 20 ms).
    assert!(
        h.min() >= 19_980_000,
        "an echo took {} us through a 20 ms proxy: an early send was timed from its plan\n{}",
        h.min() / 1000,
        o.pretty()
    );
}

#[test]
fn slicing_to_one_byte_chunks_loses_nothing() {
    let server = spawn_wsload_server();
    let proxy = spawn_wsload_proxy(server.port, &["--slice", "1"]);
    let o = run_through(&proxy, &["-c", "10", "--rate", "5", "-d", "2s", "--size", "300"]);
    o.assert_clean();
    let text = run_through(
        &proxy,
        &["-c", "5", "--rate", "5", "-d", "1s", "--size", "100", "--text"],
    );
    text.assert_clean();
    let c = counters_when(&proxy, |c| {
        c["accepted"].as_u64() == Some(15) && c["ended"].as_u64() == Some(15)
    });
    let both = c["bytes_upstream"].as_u64().unwrap() + c["bytes_downstream"].as_u64().unwrap();
    assert_eq!(
        c["bytes_sliced"].as_u64(),
        Some(both),
        "every byte went through in 1-byte pieces: {c}"
    );
    assert!(both > 10 * 10 * 300, "{c}");
}

/// `[proxy]` with one toxic, 1 client core, the built-in server.
fn scenario(connections: u64, rate: &str, duration: &str, extra: &str, toxic: &str) -> String {
    format!(
        "connections = {connections}\ndrain = \"1s\"\n{extra}\n[[phases]]\nkind = \"sustained\"\nrate = \"{rate}\"\nduration = \"{duration}\"\n\n[proxy]\n\n[[proxy.toxics]]\n{toxic}\n"
    )
}

fn run_scenario(text: &str) -> Outcome {
    let file = scenario_file(text);
    run_wsload(&[
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--cores",
        "0",
        "--server-core",
        "1",
        "-q",
    ])
}

#[test]
fn bandwidth_caps_each_connection() {
    // 4 connections each asking for 20 × 1 KiB/s both ways, through a cap of 8 KiB/s downstream.
    let cap = 8 * 1024;
    let text = scenario(
        4,
        "20/s",
        "4s",
        "size = \"1KiB\"",
        "kind = \"bandwidth\"\nrate = \"8KiB/s\"\ndirection = \"downstream\"",
    );
    let o = run_scenario(&text);
    let s = o.summary();
    let proxy = &s["proxy"]["totals"];
    // By every point of the time line, the clients have received at most what the cap lets
    // through since the start (1 KiB messages plus a 4-byte frame header; 0.5 s of burst for the
    // bucket's first piece). Cumulative, so a busy machine that books a late interval's echoes
    // into the next one cannot fail it: a slow client only receives later, never sooner.
    let per_s = 4.0 * cap as f64 / 1028.0;
    let points = s["timeline"].as_array().unwrap();
    let (mut got, mut prev_t) = (0.0, 0.0);
    for p in points {
        let t = p["t_s"].as_f64().unwrap();
        got += p["received_per_s"].as_f64().unwrap() * (t - prev_t);
        prev_t = t;
        let allowed = per_s * (1.1 * t + 0.5);
        assert!(
            got <= allowed,
            "{got:.0} messages by {t} s, over the cap's {allowed:.0}\n{}",
            o.pretty()
        );
    }
    // And the cap binds: the clients asked for 80 messages/s, they got close to the cap's
    // worth over the 4 s of load (and the drain) instead.
    let received = f(s, "/messages/received");
    assert!(
        received >= 0.8 * per_s * 3.0,
        "{received} messages received\n{}",
        o.pretty()
    );
    assert!(proxy["bytes_throttled"].as_u64() > Some(0), "{proxy}");
    // The clients asked for 20 messages/s each: the rest was still queued when the run ended.
    assert!(f(s, "/messages/lost") > 0.0, "{}", o.pretty());
}

#[test]
fn resets_after_n_bytes_drop_every_connection_once() {
    // 129 bytes of upgrade response, then 66 bytes per echo: every connection passes 2 KiB
    // downstream after about 30 echoes (3 s at 10/s) and is reset then, exactly once.
    let text = scenario(
        20,
        "10/s",
        "5s",
        "",
        "kind = \"reset\"\nafter = \"2KiB\"\ndirection = \"downstream\"",
    );
    let o = run_scenario(&text);
    assert_eq!(o.num("/proxy/totals/resets"), 20, "{}", o.pretty());
    assert_eq!(o.num("/connections/dropped"), 20, "{}", o.pretty());
    assert_eq!(o.num("/connections/established"), 20);
    o.assert_exit(1);
}

#[test]
fn resets_at_a_rate_give_the_expected_drops_and_the_recovery() {
    // 100 connections, each reset at random at 0.5/s while the toxic is on (2 s), each
    // reconnecting at once: about 0.5 × 100 × 2 = 100 resets (a Poisson count, sd 10; the
    // tolerance is 4 sd). Every reset is a drop the client sees, and every drop recovers.
    let text = scenario(
        100,
        "2/s",
        "5s",
        "[reconnect]\npolicy = \"immediate\"\n",
        "kind = \"reset\"\nrate = \"0.5/s\"\nat = \"1s\"\nfor = \"2s\"",
    );
    let o = run_scenario(&text);
    let s = o.summary();
    let resets = o.num("/proxy/totals/resets");
    assert!((60..=140).contains(&resets), "{resets} resets\n{}", o.pretty());
    assert_eq!(o.num("/connections/dropped"), resets, "each reset is one drop");
    assert_eq!(o.num("/recovery/drops"), resets);
    assert_eq!(o.num("/recovery/reconnected"), resets, "{}", o.pretty());
    assert_eq!(o.num("/recovery/unrecovered"), 0);
    // The drops sit in the window, on the time line: from `at` to `at + for` after the start
    // of traffic (plus one interval for the point that covers the end).
    let start = f(s, "/traffic_start_s");
    let events = s["proxy"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let on = events[0]["t_s"].as_f64().unwrap();
    let off = events[1]["t_s"].as_f64().unwrap();
    assert!(
        (on - start - 1.0).abs() < 0.2 && (off - start - 3.0).abs() < 0.2,
        "{events:?} start {start}"
    );
    for p in s["timeline"].as_array().unwrap() {
        let t = p["t_s"].as_f64().unwrap();
        if p["dropped"].as_u64() > Some(0) {
            assert!(t > on && t < off + 1.1, "drops at {t}, outside {on}..{off}");
        }
    }
}

#[test]
fn corruption_is_caught_and_counted_exactly_as_injected() {
    // One 64-byte echo at a time per connection (5/s each): every downstream chunk is one whole
    // frame, so each flip lands in a payload and fails the filler check. The window stays clear of the
    // handshakes (before) and the closing frames (after).
    let text = scenario(
        20,
        "5/s",
        "4s",
        "",
        "kind = \"corrupt\"\nprobability = 0.2\ndirection = \"downstream\"\nat = \"0.5s\"\nfor = \"2s\"",
    );
    let o = run_scenario(&text);
    let injected = o.num("/proxy/totals/chunks_corrupted");
    assert!(injected > 10, "{}", o.pretty());
    assert_eq!(o.num("/messages/corrupted"), injected, "{}", o.pretty());
    assert_eq!(o.num("/messages/lost"), 0);
    assert_eq!(o.num("/connections/dropped"), 0);
}

#[test]
fn network_faults_scenario_shows_the_fault_window_and_the_recovery() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/scenarios/network-faults.toml");
    let o = run_wsload(&[
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--cores",
        "0",
        "--server-core",
        "1",
        "-q",
    ]);
    o.assert_exit(0);
    let s = o.summary();
    let start = f(s, "/traffic_start_s");
    let events = s["proxy"]["events"].as_array().unwrap();
    let when = |toxic: u64, ev: &str| {
        events
            .iter()
            .find(|e| e["toxic"].as_u64() == Some(toxic) && e["event"] == ev)
            .and_then(|e| e["t_s"].as_f64())
            .unwrap_or_else(|| panic!("no {ev} event for toxic {toxic}: {events:?}"))
            - start
    };
    // Latency from 3 s to 6 s of traffic; resets from 7 s to 9 s; refusals from 7 s to 8 s.
    for (toxic, on, off) in [(0, 3.0, 6.0), (1, 7.0, 9.0), (2, 7.0, 8.0)] {
        assert!(
            (when(toxic, "on") - on).abs() < 0.2 && (when(toxic, "off") - off).abs() < 0.2,
            "{events:?}"
        );
    }
    let points = s["timeline"].as_array().unwrap();
    let p50_at = |t: f64| {
        points
            .iter()
            .find(|p| (p["t_s"].as_f64().unwrap() - start - t).abs() < 0.55)
            .map(|p| p["p50_us"].as_f64().unwrap())
            .unwrap_or_else(|| panic!("no point near {t} s of traffic"))
    };
    // Steady state, the fault (50 ms ± 10 ms one way), and back.
    assert!(p50_at(2.0) < 10_000.0 && p50_at(11.0) < 10_000.0, "{}", o.pretty());
    assert!((40_000.0..70_000.0).contains(&p50_at(5.0)), "{}", o.pretty());
    let resets = o.num("/proxy/totals/resets");
    assert!(resets > 0 && o.num("/proxy/totals/refused") > 0, "{}", s["proxy"]);
    assert_eq!(o.num("/connections/dropped"), resets);
    assert_eq!(o.num("/recovery/reconnected"), resets);
    assert_eq!(o.num("/recovery/unrecovered"), 0);
    assert_eq!(o.num("/messages/corrupted"), 0);
    // timeline.csv carries the proxy's counters next to the client's.
    let csv = std::fs::read_to_string(o.out_dir.join("timeline.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("proxy_resets"), "{csv}");
    // Every report shows what the proxy did and when.
    let md = std::fs::read_to_string(o.out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Network faults (proxy)") && md.contains("| resets |"),
        "{md}"
    );
    assert!(md.contains("reset 0.5/s per connection, from 7s to 9s"), "{md}");
    let html = std::fs::read_to_string(o.out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("<section id=\"proxy\">"),
        "no proxy section in report.html"
    );
    assert!(o.stderr.contains("  proxy         3 toxic(s);"), "{}", o.stderr);
}

#[test]
fn bad_flags_get_one_clear_error_each() {
    let server = spawn_wsload_server();
    let up = format!("127.0.0.1:{}", server.port);
    let dead = format!("127.0.0.1:{}", dead_port());
    let table: &[(&[&str], &str)] = &[
        (
            &["--upstream", &up, "--latency", "-50ms"],
            "a duration cannot be negative",
        ),
        (
            &["--upstream", &up, "--toxic", "latancy,delay=5ms"],
            "unknown toxic `latancy`; did you mean `latency`?",
        ),
        (
            &["--upstream", &up, "--toxic", "jam"],
            "unknown toxic `jam` (expected one of: latency,",
        ),
        (&["--upstream", &dead], "cannot reach the upstream"),
    ];
    for (args, want) in table {
        let out = std::process::Command::new(WSLOAD)
            .args(["proxy", "--listen", "127.0.0.1:0", "--for", "5s"])
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "one error, said once: {err}");
        assert!(
            out.stdout.is_empty(),
            "nothing started: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn echoes_waiting_while_the_client_is_stopped_are_timed_by_their_arrival() {
    // An echo is timed when the kernel received it, not when the client's core came round to
    // read it. The proxy holds every echo 50 ms, so about a hundred are on their way when the
    // client is stopped (SIGSTOP) for 600 ms; they arrive meanwhile and wait in the sockets.
    // Timed at the read, about 1.7% of the echoes would take 600+ ms from their actual send
    // (and the p99 with them); timed at arrival, about 50 ms.
    let server = spawn_wsload_server();
    let proxy = spawn_wsload_proxy(server.port, &["--latency", "50ms", "--direction", "downstream"]);
    let url = proxy.url();
    let run = start_wsload(&["run", &url, "-c", "50", "--rate", "40", "-d", "3s", "--cores", "0"]);
    let progress = std::time::Duration::from_secs(20);
    run.wait_for_line(progress, "progress line", |l| l.contains("sent/s"));
    run.signal("STOP");
    std::thread::sleep(std::time::Duration::from_millis(600));
    run.signal("CONT");
    let o = run.wait(RUN_TIMEOUT);
    let ctx = o.pretty();
    assert_eq!(o.num("/messages/lost"), 0, "{ctx}");
    assert!(
        f(o.summary(), "/latency_us/corrected/max") >= 500_000.0,
        "the premise: messages due during the stop left late\n{ctx}"
    );
    let p99 = f(o.summary(), "/latency_us/uncorrected/p99");
    assert!(
        p99 < 300_000.0,
        "uncorrected p99 {p99} us: the echoes that waited out the stop were timed at their read\n{ctx}"
    );
}
