//! `report.html` in a real browser: a run's page is opened by headless Chromium, which must
//! render every chart at a non-zero size without loading anything, and text from the target
//! (a close reason with `<script>`) must arrive as text, never as markup. The same for
//! `wsload compare`'s compare.html, whose distribution chart is read back: each run's p50 and
//! p99 of summary.json must be where the chart's scales put them.
//!
//! Chromium comes from Debian's packages (`scripts/test.sh` installs it when run as root).
//! Without it these tests fail: a report nobody opened in a browser is not tested.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use wsload::report::Summary;

/// The chromium binary; fails the test with the way to get it.
fn chromium() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("chromium");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "chromium is not installed, and tests/report_html.rs needs it to open report.html: \
         run scripts/test.sh as root, or apt-get install -y chromium"
    );
}

/// Run headless Chromium on `page` with `args`; returns stdout. Bounded by `timeout`.
fn run_chromium(page: &Path, args: &[&str]) -> String {
    let profile = fresh_dir();
    std::fs::create_dir_all(&profile).unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Any name the page tried to resolve would fail: nothing may be fetched.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "chromium failed ({:?}) on {}\nstderr:\n{}",
        out.status,
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A copy of the page with a measuring script (the report itself has none): it writes each
/// chart's rendered size, and how many scripts the document holds, into the title.
fn measured_copy(html: &str, dir: &Path) -> PathBuf {
    let probe = "<script>document.title = 'scripts=' + document.scripts.length + ';' + \
        Array.from(document.querySelectorAll('svg.chart')).map(function (e) { \
        var r = e.getBoundingClientRect(); return e.dataset.chart + ':' + r.width + 'x' + r.height; }).join(';');\
        </script>";
    let page = html.replacen("</body>", &format!("{probe}</body>"), 1);
    assert_ne!(page, html, "the report has no </body>");
    let path = dir.join("measured.html");
    std::fs::write(&path, page).unwrap();
    path
}

/// The measured (chart, width, height) triples and the script count from a dumped DOM.
fn measurements(dom: &str) -> (usize, Vec<(String, f64, f64)>) {
    let title = dom
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("no title in the dumped DOM:\n{dom}"));
    let mut parts = title.split(';');
    let scripts = parts
        .next()
        .and_then(|p| p.strip_prefix("scripts="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the measuring script did not run: title {title:?}"));
    let charts = parts
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, size) = p.split_once(':').expect("name:WxH");
            let (w, h) = size.split_once('x').expect("WxH");
            (name.to_string(), w.parse().unwrap(), h.parse().unwrap())
        })
        .collect();
    (scripts, charts)
}

/// Nothing in the page can make the browser fetch anything.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for bad in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "src=", "href=", "http://",
        "https://",
    ] {
        assert!(!lower.contains(bad), "report.html contains {bad:?}");
    }
}

/// The URLs `page` made the browser request over the network, from Chromium's net log: the
/// requests made on behalf of a `file://` page (the browser's own background traffic has
/// another network isolation key).
fn page_requests(page: &Path, dir: &Path) -> Vec<String> {
    let log = dir.join(format!("{}.netlog.json", page.file_name().unwrap().to_string_lossy()));
    run_chromium(page, &[&format!("--log-net-log={}", log.display()), "--dump-dom"]);
    let text = std::fs::read_to_string(&log).expect("chromium wrote no net log");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("net log {}: {e}", log.display()));
    let start_job = v
        .pointer("/constants/logEventTypes/URL_REQUEST_START_JOB")
        .and_then(Value::as_u64)
        .expect("net log constants name URL_REQUEST_START_JOB");
    v["events"]
        .as_array()
        .expect("net log events")
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

const CHARTS: [&str; 7] = [
    "connections",
    "messages",
    "latency",
    "errors",
    "distribution",
    "server",
    "cores",
];

#[test]
fn a_runs_report_renders_every_chart_in_chromium() {
    // A short run with a phase, an injected fault with a duration and reconnection, so the
    // charts have windows to shade.
    let scenario = scenario_file(
        "name = \"report <test> & 'quotes'\"\nconnections = 100\ndrain = \"1s\"\n\
         [reconnect]\npolicy = \"immediate\"\n\
         [[phases]]\nname = \"steady\"\nkind = \"sustained\"\nrate = \"20/s\"\nduration = \"3s\"\n\
         [[faults]]\nkind = \"drop\"\nat = \"1s\"\nfraction = 0.1\n\
         [[faults]]\nkind = \"pause\"\nat = \"1500ms\"\nfraction = 0.2\nfor = \"1s\"\n",
    );
    let run = run_wsload(&["run", "--scenario", scenario.to_str().unwrap(), "--interval", "250ms"]);
    let summary = run.summary().clone();
    let path = run.out_dir.join("report.html");
    let html = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report.html next to summary.json ({e})\nstderr:\n{}", run.stderr));
    // The saved summary renders to the same page: results can be re-rendered later.
    assert_eq!(
        html,
        wsload::report::html::render(&Summary::from_value(summary).unwrap()),
        "re-rendered from summary.json"
    );
    assert_self_contained(&html);
    assert!(html.contains("report &lt;test&gt; &amp; &#39;quotes&#39;"));

    let dom = run_chromium(&path, &["--dump-dom"]);
    for chart in CHARTS {
        assert!(
            dom.contains(&format!("data-chart=\"{chart}\"")),
            "chart {chart} is not in the rendered DOM"
        );
    }
    assert!(!dom.contains("per-core figures are not recorded"));

    // No request leaves the page; the same check sees one from a page that does make one.
    assert_eq!(
        page_requests(&path, &run.out_dir),
        Vec::<String>::new(),
        "report.html fetched something"
    );
    let fetching = run.out_dir.join("fetching.html");
    std::fs::write(&fetching, "<!DOCTYPE html><img src=\"http://wsload.invalid/x.png\">").unwrap();
    assert_eq!(
        page_requests(&fetching, &run.out_dir),
        vec!["http://wsload.invalid/x.png".to_string()]
    );

    let (scripts, sizes) = measurements(&run_chromium(&measured_copy(&html, &run.out_dir), &["--dump-dom"]));
    assert_eq!(scripts, 1, "only the test's measuring script may be in the document");
    eprintln!("rendered chart sizes (CSS px): {sizes:?}");
    for chart in CHARTS {
        let (_, w, h) = sizes
            .iter()
            .find(|(n, _, _)| n == chart)
            .unwrap_or_else(|| panic!("chart {chart} was not measured: {sizes:?}"));
        assert!(*w > 100.0 && *h > 50.0, "chart {chart} rendered at {w}x{h}");
    }

    // A screenshot of the report, against one of an empty page of the same size.
    let shot = run.out_dir.join("report.png");
    run_chromium(
        &path,
        &["--window-size=1200,3000", &format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert_eq!(png_size(&png), (1200, 3000));
    let blank = run.out_dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_shot = run.out_dir.join("blank.png");
    run_chromium(
        &blank,
        &[
            "--window-size=1200,3000",
            &format!("--screenshot={}", blank_shot.display()),
        ],
    );
    let blank_png = std::fs::read(&blank_shot).expect("chromium wrote no blank screenshot");
    eprintln!("screenshot {} bytes, blank page {} bytes", png.len(), blank_png.len());
    assert!(
        png.len() > 10 * blank_png.len(),
        "the screenshot ({} bytes) is hardly more than a blank page ({} bytes)",
        png.len(),
        blank_png.len()
    );
}

/// The shape of a real summary (the built-in server, no errors) with a hostile string where
/// the target's words end up: a close reason, a first error, the scenario's name.
fn hostile_summary(evil: &str) -> Value {
    let p = json!({"count": 600, "p50": 381, "p90": 490, "p95": 1542, "p99": 3835, "p99_9": 7630,
        "max": 7630, "mean": 539.8});
    let mut s = json!({
        "schema": "wsload.summary.v1", "wsload_version": "0.1.0",
        "target": format!("ws://127.0.0.1:9/{evil}"), "builtin_server": false, "partial": false,
        "duration_s": 2.0,
        "scenario": {"name": evil, "headers": [["X-Evil", evil]], "faults": [], "thresholds": []},
        "run": {"client_cpus": [0], "server_cpu": null, "interval_s": 1.0},
        "traffic_start_s": 0.05,
        "phases": [{"name": evil, "kind": "sustained", "start_s": 0.05, "end_s": 2.05}],
        "connections": {"target": 100, "established": 100, "failed": 0, "not_attempted": 0, "peak_open": 100,
            "dropped": 3, "ramped_down": 0, "connect_rate_per_s": 5000.0, "time_to_all_s": 0.02},
        "messages": {"sent": 600, "received": 597, "lost": 3, "lost_by_drop": 3, "duplicated": 0,
            "out_of_order": 0, "corrupted": 0, "rate_per_s": 298.5, "bytes_sent": 38400, "bytes_received": 38208},
        "latency_us": {"corrected": p, "uncorrected": p, "connect": p},
        "message_types": [],
        "thresholds": [], "thresholds_passed": null, "aborted_by": null,
        "errors": {"closed_by_server": 3, "reset": 0},
        "upgrade_status": {},
        "close_codes": {format!("1011 {evil}"): 3},
        "first_errors": [{"kind": "closed_by_server", "count": 3, "first": format!("server closed: 1011 {evil}"),
            "advice": "read the server's log"}],
        "server": null,
        "timeline": []
    });
    // In parts: one json! this size exceeds the macro recursion limit.
    s["recovery"] = json!({"policy": "off", "drops": 3, "reconnected": 0, "within_s": 5.0, "reconnected_within": 0,
            "unrecovered": 3, "time_to_reconnect_us": p, "longest_outage_s": 1.0, "availability": 0.99,
            "mtbf_s": 60.0, "mttr_s": null, "lost_by_drop": 3, "churned": 0, "skipped": 0});
    s["faults"] = json!({"injected": {}, "ended_connections": 0, "events": []});
    s["client"] = json!({"cpu_user_s": 0.1, "cpu_sys_s": 0.2, "cpu_s_per_million_msgs": 400.0, "peak_rss_bytes": 12779520,
            "rss_per_connection_bytes": 1788, "cpu_busy": 0.1, "send_delay_us": p, "warnings": []});
    s["timeline"] = json!([
        {"t_s": 1.0, "open": 100, "established": 100, "connects_per_s": 100.0, "sent_per_s": 300.0,
         "received_per_s": 299.0, "dropped": 0, "errors": 0, "errors_new": {}, "faults_new": {},
         "p50_us": 380.0, "p90_us": 480.0, "p99_us": 3800.0, "p99_9_us": 7600.0, "max_us": 7600.0},
        {"t_s": 2.0, "open": 97, "established": 100, "connects_per_s": 0.0, "sent_per_s": 300.0,
         "received_per_s": 298.0, "dropped": 3, "errors": 3, "errors_new": {"closed_by_server": 3},
         "faults_new": {}, "p50_us": 390.0, "p90_us": 500.0, "p99_us": 3900.0, "p99_9_us": 7700.0,
         "max_us": 7700.0}
    ]);
    s
}

#[test]
fn a_close_reason_with_a_script_tag_is_shown_as_text() {
    let evil = "<script>alert(\"x\" & 'y')</script>";
    let html = wsload::report::html::render(&Summary::from_value(hostile_summary(evil)).unwrap());
    let escaped = "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;";
    assert!(!html.to_lowercase().contains("<script"), "a script tag got through");
    assert!(html.contains(&format!("server closed: 1011 {escaped}")), "first error");
    assert!(html.contains(&format!("1011 {escaped}")), "close code key");
    assert!(html.contains(&format!("wsload report: {escaped}")), "scenario name");
    assert!(html.contains(&format!("X-Evil: {escaped}")), "header value");
    assert_self_contained(&html);

    // In the browser: the text is there as text, and the document holds no script of its own.
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let dom = run_chromium(&page, &["--dump-dom"]);
    assert!(
        dom.contains("server closed: 1011 &lt;script&gt;alert"),
        "the reason is not shown as text"
    );
    let (scripts, sizes) = measurements(&run_chromium(&measured_copy(&html, &dir), &["--dump-dom"]));
    assert_eq!(scripts, 1, "the report added a script element");
    assert!(
        sizes.iter().any(|(n, w, h)| n == "errors" && *w > 0.0 && *h > 0.0),
        "{sizes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The attributes of the first tag in `tag` (`<circle a="1" b="x">`), unescaped only for `&amp;`.
fn attrs(tag: &str) -> std::collections::HashMap<String, String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let mut out = std::collections::HashMap::new();
    let mut rest = &tag[..end];
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"').expect("a closing quote");
        out.insert(name, after[..close].replace("&amp;", "&"));
        rest = &after[close + 1..];
    }
    out
}

/// The `<svg ...>...</svg>` whose data-chart is `kind`, from a page or a dumped DOM.
fn chart<'a>(doc: &'a str, kind: &str) -> &'a str {
    let at = doc
        .find(&format!("data-chart=\"{kind}\""))
        .unwrap_or_else(|| panic!("no chart {kind}"));
    let start = doc[..at].rfind("<svg").expect("the chart's <svg");
    &doc[start..at + doc[at..].find("</svg>").expect("</svg>")]
}

/// A `data-*-scale` attribute (`log LO HI P0 P1`) as a function from pixels back to values.
fn inverse(scale: &str) -> impl Fn(f64) -> f64 {
    let parts: Vec<&str> = scale.split(' ').collect();
    assert_eq!(parts.len(), 5, "scale {scale:?}");
    let n: Vec<f64> = parts[1..].iter().map(|p| p.parse().expect("a number")).collect();
    let (lo, hi, p0, p1, log) = (n[0], n[1], n[2], n[3], parts[0] == "log");
    move |p: f64| {
        let f = (p - p0) / (p1 - p0);
        if log {
            10f64.powf(lo.log10() + f * (hi.log10() - lo.log10()))
        } else {
            lo + f * (hi - lo)
        }
    }
}

fn compare(args: &[&Path]) -> std::process::Output {
    Command::new("timeout")
        .arg("60")
        .arg(WSLOAD)
        .arg("compare")
        .args(args)
        .output()
        .expect("run wsload compare")
}

/// Two real runs against one `wsload serve`, the second through a proxy that holds every echo
/// 30 ms: results directories whose latency distributions differ.
fn two_runs() -> (Outcome, Outcome) {
    let server = spawn_wsload_server();
    let load = [
        "-q", "--cores", "0", "-c", "50", "--rate", "10", "-d", "2s", "--drain", "1s",
    ];
    let base = run_wsload(&[&["run", server.url().as_str()][..], &load].concat());
    base.assert_clean();
    let proxy = spawn_wsload_proxy(server.port, &["--latency", "30ms", "--direction", "downstream"]);
    let slow = format!("ws://127.0.0.1:{}/", proxy.port);
    let new = run_wsload(&[&["run", slow.as_str()][..], &load].concat());
    new.assert_clean();
    // A delay that is never negative can only raise the median (less 2 ms for the buckets).
    let new_p50 = f(new.summary(), "/latency_us/corrected/p50");
    assert!(new_p50 >= 28_000.0, "the proxy's 30 ms is missing: {}", new.pretty());
    (base, new)
}

/// The (x, y) points of the longest polyline stroked `color` in `svg`.
fn longest_line(svg: &str, color: &str) -> Vec<(f64, f64)> {
    svg.match_indices("<polyline")
        .map(|(i, _)| attrs(&svg[i..]))
        .filter(|a| a["stroke"] == color)
        .map(|a| {
            a["points"]
                .split(' ')
                .filter_map(|p| p.split_once(','))
                .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
                .collect::<Vec<(f64, f64)>>()
        })
        .max_by_key(Vec::len)
        .unwrap_or_default()
}

/// Each run's p50 and p99 marker in the distribution chart: its value is the summary's, its
/// position maps back to that value (and to its percentile) through the chart's own scales, and
/// the run's curve (latency.hlog's histogram, many points) passes through it. Returns the
/// markers' (run, percentile, cx, cy).
fn check_markers(dom: &str, runs: [(&str, &Value, &str); 2]) -> Vec<(String, String, f64, f64)> {
    let dist = chart(dom, "distribution");
    let plot = attrs(&dist[dist.find("<g class=\"plot\"").expect("the markers' group")..]);
    let (x_of, y_of) = (inverse(&plot["data-x-scale"]), inverse(&plot["data-y-scale"]));
    let mut marked = Vec::new();
    for (run, s, color) in runs {
        let curve = longest_line(dist, color);
        assert!(
            curve.len() > 60,
            "{run}: not latency.hlog's curve ({} points)",
            curve.len()
        );
        for (pct, x) in [("p50", 2.0), ("p99", 100.0)] {
            let want = f(s, &format!("/latency_us/corrected/{pct}"));
            let tag = format!("data-run=\"{run}\" data-percentile=\"{pct}\"");
            let at = dist.find(&tag).unwrap_or_else(|| panic!("no {run} {pct} marker"));
            let m = attrs(&dist[dist[..at].rfind("<circle").unwrap()..]);
            assert_eq!(m["data-us"].parse::<f64>().unwrap(), want, "{run} {pct}");
            let (cx, cy): (f64, f64) = (m["cx"].parse().unwrap(), m["cy"].parse().unwrap());
            assert!((x_of(cx) / x - 1.0).abs() < 0.01, "{run} {pct} at x {}", x_of(cx));
            let got = y_of(cy);
            assert!(
                (got - want).abs() <= want * 0.01 + 1.0,
                "{run} {pct} drawn at {got} µs, summary {want}"
            );
            assert!(
                curve
                    .iter()
                    .any(|(px, py)| (px - cx).abs() < 0.2 && (py - cy).abs() < 0.2),
                "{run}'s curve misses its {pct} marker at ({cx}, {cy})"
            );
            marked.push((run.to_string(), pct.to_string(), cx, cy));
        }
    }
    marked
}

/// The browser draws each marker where its attributes say: the centre of its rendered box,
/// in the chart's viewBox units, from a copy of the page with a measuring script.
fn check_rendered(html: &str, dir: &Path, marked: &[(String, String, f64, f64)]) {
    let probe = "<script>document.title = Array.from(document.querySelectorAll('circle.marker')).map(function (c) { \
        var s = c.ownerSVGElement, r = c.getBoundingClientRect(), b = s.getBoundingClientRect(); \
        var k = s.viewBox.baseVal.width / b.width; \
        return c.dataset.run + ':' + c.dataset.percentile + ':' + (r.left + r.width / 2 - b.left) * k + ':' + \
        (r.top + r.height / 2 - b.top) * k; }).join(';');</script>";
    let probed = dir.join("probed.html");
    std::fs::write(&probed, html.replacen("</body>", &format!("{probe}</body>"), 1)).unwrap();
    let dom = run_chromium(&probed, &["--dump-dom"]);
    let title = dom
        .split_once("<title>")
        .and_then(|(_, t)| t.split_once("</title>"))
        .expect("a title")
        .0;
    for (run, pct, cx, cy) in marked {
        let rendered = title
            .split(';')
            .find_map(|m| m.strip_prefix(&format!("{run}:{pct}:")))
            .unwrap_or_else(|| panic!("{run} {pct} not rendered: {title}"));
        let (x, y) = rendered.split_once(':').unwrap();
        let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            (x - cx).abs() < 1.0 && (y - cy).abs() < 1.0,
            "{run} {pct} rendered at {x},{y}, not {cx},{cy}"
        );
    }
}

/// Messages/s, latency and errors over time: base above new, each pair on one y scale, which
/// holds both runs' messages/s.
fn check_time_lines(dom: &str, summaries: [&Value; 2]) {
    for what in ["messages", "latency", "errors"] {
        let (b, n) = (chart(dom, &format!("base-{what}")), chart(dom, &format!("new-{what}")));
        assert!(
            dom.find(b).unwrap() < dom.find(n).unwrap(),
            "{what}: base is not above new"
        );
        let scale = |c: &str| attrs(&c[c.find("<g class=\"plot\"").unwrap()..])["data-y-scale"].clone();
        assert_eq!(scale(b), scale(n), "{what}: the runs' charts have different y scales");
        if what == "messages" {
            let hi: f64 = scale(b).split(' ').nth(2).unwrap().parse().unwrap();
            let peak = summaries
                .iter()
                .flat_map(|s| s["timeline"].as_array().unwrap())
                .map(|p| f(p, "/sent_per_s").max(f(p, "/received_per_s")))
                .fold(0.0, f64::max);
            assert!(peak > 0.0 && peak <= hi, "messages/s peak {peak} above the axis' {hi}");
        }
    }
}

const COMPARE_CHARTS: [&str; 7] = [
    "distribution",
    "base-messages",
    "new-messages",
    "base-latency",
    "new-latency",
    "base-errors",
    "new-errors",
];

#[test]
fn compare_html_shows_both_distributions_at_their_summary_percentiles() {
    let (base, new) = two_runs();
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("cmp.html");
    let out = compare(&[&base.out_dir, &new.out_dir, Path::new("--html"), &page]);
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 1)), "{out:?}");
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("no page ({e}): {out:?}"));
    assert_self_contained(&html);
    assert!(
        !new.out_dir.join("compare.html").exists(),
        "--html FILE also wrote the default page"
    );

    let dom = run_chromium(&page, &["--dump-dom"]);
    // The page's verdict is the command's: its exit status and its last line.
    let regressed = code == Some(1);
    assert_eq!(String::from_utf8_lossy(&out.stdout).contains("REGRESSED:"), regressed);
    assert!(
        dom.contains(&format!("data-regressed=\"{regressed}\"")),
        "the page's verdict differs from exit status {code:?}"
    );
    let marked = check_markers(
        &dom,
        [("base", base.summary(), "#1f77b4"), ("new", new.summary(), "#ff7f0e")],
    );
    check_rendered(&html, &dir, &marked);
    check_time_lines(&dom, [base.summary(), new.summary()]);
    let (scripts, sizes) = measurements(&run_chromium(&measured_copy(&html, &dir), &["--dump-dom"]));
    assert_eq!(scripts, 1, "compare.html holds a script of its own");
    for chart in COMPARE_CHARTS {
        let size = sizes.iter().find(|(n, _, _)| n == chart);
        assert!(
            size.is_some_and(|(_, w, h)| *w > 100.0 && *h > 50.0),
            "chart {chart}: {size:?}"
        );
    }

    // The same run twice regresses nothing; without --html the page goes beside NEW's results,
    // and --no-html writes none.
    let out = compare(&[&base.out_dir, &base.out_dir]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let beside = std::fs::read_to_string(base.out_dir.join("compare.html")).expect("compare.html beside NEW");
    assert!(beside.contains("data-regressed=\"false\""));
    let out = compare(&[&base.out_dir, &new.out_dir, Path::new("--no-html")]);
    assert_eq!(out.status.code(), code, "{out:?}");
    assert!(!new.out_dir.join("compare.html").exists(), "--no-html wrote a page");
    let _ = std::fs::remove_dir_all(&dir);
}
