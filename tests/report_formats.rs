//! The result files from one run, read back by parsers other than ours, and golden
//! files for report.md and the comparison table.
//!
//! Golden files live in tests/golden/. After a deliberate change to a report, review the
//! new output and rewrite them with `UPDATE_GOLDEN=1 cargo test --release --test report_formats`.
//!
//! The real-run test needs the Python packages of tests/peers/requirements.txt (`hdrhistogram`
//! for latency.hlog, `prometheus-client` for metrics.prom), which `scripts/test.sh` installs
//! into target/pyenv.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wsload::report::compare::{self, Tolerances};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_json(name: &str) -> Value {
    let p = golden_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A summary's JSON as the typed Summary the writers read.
fn typed(v: &Value) -> wsload::report::Summary {
    wsload::report::Summary::from_value(v.clone()).expect("a summary")
}

/// Compare `got` with tests/golden/NAME, or rewrite it with UPDATE_GOLDEN=1.
fn golden(name: &str, got: &str) {
    let p = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&p, got).unwrap();
        return;
    }
    let want =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", p.display()));
    if want != got {
        let line = want.lines().zip(got.lines()).position(|(a, b)| a != b);
        panic!(
            "{name} differs from the golden file (first differing line: {line:?}); \
             if the change is intended, review it and run with UPDATE_GOLDEN=1\n--- got:\n{got}"
        );
    }
}

/// report.md of a summary written by hand to reach every section (recovery, faults, findings)
/// with exact figures: the formatting of each figure.
#[test]
fn report_md_of_every_section_matches_the_golden_file() {
    let md = wsload::report::markdown::render(&typed(&read_json("summary.json")));
    golden("report_every_section.md", &md);
}

/// A small real run (the built-in server, 20 connections, two phases, thresholds of which one
/// fails by construction), whose summary.json is rendered to report.md and compared, reduced
/// to what must not vary between runs, with tests/golden/report.md: headings, sentences, table
/// headers and row labels, threshold results, with every figure replaced by N. Findings and the
/// verdict's "client was the bottleneck" block are left out: a busy machine (CI runs the tests
/// side by side on two cores) can make the client late on a few of its 300 sends, which is a
/// true statement about that run, not a rendering difference. The block must still agree with
/// the summary it was rendered from.
#[test]
fn report_md_of_a_real_run_matches_the_golden_file() {
    let sc = common::scenario_file(
        r#"name = "golden | real run"
connections = 20
thresholds = ["connections.established >= 20", "messages.lost == 0", "connections.established >= 1000"]
drain = "1s"

[ramp]
kind = "linear"
rate = "200/s"

[[phases]]
name = "warm|up"
kind = "sustained"
rate = "5/s"
duration = "1s"

[[phases]]
name = "steady"
kind = "sustained"
rate = "10/s"
duration = "1s"
"#,
    );
    let run = common::run_wsload(&["run", "--scenario", sc.to_str().unwrap(), "--cores", "0", "-q"]);
    run.assert_exit(1); // the third threshold fails: 20 connections, not 1,000
    let md = wsload::report::markdown::render(&typed(run.summary()));
    let written = std::fs::read_to_string(run.out_dir.join("report.md")).expect("report.md");
    assert_eq!(
        md, written,
        "report.md differs from a rendering of the run's summary.json"
    );
    tables_keep_their_shape(&md);
    let lagged = run.summary()["analysis"]["verdict"]["client_bottleneck"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    assert_eq!(
        md.contains(CLIENT_BOTTLENECK),
        lagged,
        "the verdict's client-bottleneck block disagrees with summary.json\n{md}"
    );
    golden("report.md", &skeleton(&md));
    reads_back_typed(run.summary());
}

/// The one result model reads back, field for field, what a run wrote: a summary.json parsed into
/// `Summary` serializes to the same JSON.
fn reads_back_typed(written: &Value) {
    let typed = wsload::report::Summary::from_value(written.clone()).expect("summary.json reads back as a Summary");
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &again, written,
        "summary.json did not survive a round trip through Summary"
    );
}

/// A summary written by an older wsload (the hand-written one lacks fields added since) reads
/// back: every figure it has keeps its value, and what it lacks takes its default.
#[test]
fn an_older_summary_reads_back_typed() {
    let written = read_json("summary.json");
    let typed = wsload::report::Summary::from_value(written.clone()).expect("reads back");
    assert!(typed.analysis.is_some(), "the analysis section was dropped");
    assert_eq!(
        typed.latency_us.tls_handshake.count, 0,
        "a missing section takes its default"
    );
    contains(&serde_json::to_value(&typed).unwrap(), &written, "");
}

/// Every value of `part` is in `whole`, at the same path (numbers compared as numbers).
fn contains(whole: &Value, part: &Value, path: &str) {
    match (whole, part) {
        (Value::Object(w), Value::Object(p)) => {
            for (k, v) in p {
                let at = format!("{path}.{k}");
                contains(
                    w.get(k)
                        .unwrap_or_else(|| panic!("{at} is missing after the round trip")),
                    v,
                    &at,
                );
            }
        }
        (Value::Array(w), Value::Array(p)) => {
            assert_eq!(w.len(), p.len(), "{path}: length");
            for (i, (a, b)) in w.iter().zip(p).enumerate() {
                contains(a, b, &format!("{path}.{i}"));
            }
        }
        (Value::Number(a), Value::Number(b)) => assert_eq!(a.as_f64(), b.as_f64(), "{path}"),
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn a_summary_with_a_mistyped_field_is_refused_by_name() {
    let mut s = read_json("summary.json");
    s["connections"]["established"] = Value::from("many");
    let e = wsload::report::Summary::from_value(s).unwrap_err();
    assert!(e.starts_with("connections.established: invalid type"), "{e}");
}

/// Every table row has as many cells as its header: no text from the run broke a table.
fn tables_keep_their_shape(md: &str) {
    let cells = |l: &str| l.replace("\\|", "").matches('|').count();
    let mut header = None;
    for l in md.lines() {
        match (l.starts_with('|'), header) {
            (true, None) => header = Some(cells(l)),
            (true, Some(n)) => assert_eq!(cells(l), n, "a row with the wrong number of cells: {l}\n{md}"),
            (false, _) => header = None,
        }
    }
}

/// The sentence that opens the verdict's list of reasons why the client was its own bottleneck.
const CLIENT_BOTTLENECK: &str = "The client was the bottleneck:";

/// What must not vary between two runs of the same scenario: every figure becomes N, the
/// findings' lines and the verdict's client-bottleneck block (its sentence, its list and the
/// blank line after it) are dropped.
fn skeleton(md: &str) -> String {
    let mut out = String::new();
    let mut in_findings = false;
    // Inside the client-bottleneck block: its sentence, then blank lines and its list.
    let mut in_lag = false;
    for l in md.lines() {
        if in_lag && (l.is_empty() || l.starts_with("- ")) {
            continue;
        }
        in_lag = false;
        if l.starts_with("## ") {
            in_findings = l == "## Findings";
        } else if in_findings && !l.is_empty() {
            continue;
        } else if l.starts_with(CLIENT_BOTTLENECK) {
            in_lag = true;
            continue;
        }
        // A figure: digits, with "," or "." between digits ("1,000", "0.093").
        let c: Vec<char> = l.chars().collect();
        let mut t = String::new();
        let mut i = 0;
        while i < c.len() {
            if c[i].is_ascii_digit() {
                while i < c.len()
                    && (c[i].is_ascii_digit()
                        || matches!(c[i], ',' | '.') && c.get(i + 1).is_some_and(char::is_ascii_digit))
                {
                    i += 1;
                }
                t.push('N');
            } else {
                t.push(c[i]);
                i += 1;
            }
        }
        out.push_str(t.trim_end());
        out.push('\n');
    }
    out
}

/// A run whose client fell behind (as one did on a busy CI machine) has the same skeleton as
/// one whose client kept up: only the block and figures differ.
#[test]
fn skeleton_leaves_out_the_client_bottleneck_block() {
    let kept_up = "## Verdict\n\n**NOT READY**, judged.\n\n- failed: a >= 1000 (measured 20, limit 1000)\n\n\
                   ## Findings\n\n- one\n\n## Key figures\n\n| Figure | Value |\n";
    let fell_behind = kept_up.replace(
        "limit 1000)\n\n",
        "limit 1000)\n\nThe client was the bottleneck: its figures describe it as much as the server.\n\n\
         - the client fell behind its send schedule: send delay p50 79 µs, p99 5.2 ms (limit 5 ms)\n\
         - add client cores (--cores), spread the load over more clients, or lower --rate\n\n",
    );
    assert_ne!(kept_up, fell_behind);
    assert_eq!(skeleton(kept_up), skeleton(&fell_behind));
    assert!(skeleton(kept_up).contains("- failed: a >= N (measured N, limit N)\n\n## Findings"));
}

#[test]
fn report_md_without_analysis_says_so() {
    let mut s = read_json("summary.json");
    s.as_object_mut().unwrap().remove("analysis");
    let md = wsload::report::markdown::render(&typed(&s));
    assert!(md.contains("no analysis"), "{md}");
    assert!(!md.contains("READY"), "{md}");
}

#[test]
fn comparison_table_matches_the_golden_file() {
    let read = |name| wsload::report::Summary::from_value(read_json(name)).unwrap();
    let (table, regressed) = compare::table(
        &read("compare_base.json"),
        &read("compare_new.json"),
        &Tolerances::default(),
    );
    assert!(regressed);
    assert_eq!(
        table.matches("REGRESSED").count(),
        1,
        "exactly one regression (p99):\n{table}"
    );
    golden("compare.txt", &table);
}

#[test]
fn compare_command_exit_codes() {
    let g = golden_dir();
    // --no-html: the default page would go next to NEW, into tests/golden/.
    let run = |args: &[&Path], extra: &[&str]| {
        Command::new(common::WSLOAD)
            .arg("compare")
            .args(args)
            .args(extra)
            .arg("--no-html")
            .output()
            .expect("run wsload compare")
    };
    let (base, new) = (g.join("compare_base.json"), g.join("compare_new.json"));
    let out = run(&[&base, &new], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REGRESSED"));
    assert!(!g.join("compare.html").exists());
    // p99 got 35% worse: a 40% latency tolerance lets it pass.
    let out = run(&[&base, &new], &["--metric-tolerance", "latency=40%"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&[&base, &new], &["--tolerance", "50%"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&[&base, &g.join("no-such-run")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    // --html FILE: the page, with the same verdict and exit status; a page that cannot be
    // written where it was asked for is exit status 2.
    let dir = common::fresh_dir();
    let page = dir.join("sub").join("compare.html");
    let html = |file: &Path| {
        Command::new(common::WSLOAD)
            .arg("compare")
            .args([&base, &new])
            .arg("--html")
            .arg(file)
            .output()
            .expect("run wsload compare")
    };
    let out = html(&page);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(&page).expect("the page");
    assert!(text.contains("data-regressed=\"true\"") && text.contains("<li data-key=\"p99\">"));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("page: {}", page.display())));
    std::fs::write(dir.join("file"), "").unwrap();
    let out = html(&dir.join("file").join("compare.html"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn python(script: &str, file: &Path) -> String {
    let out = Command::new(common::python())
        .arg(common::peer_script(script))
        .arg(file)
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} {} failed:\n{text}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `key value` lines of a script's output.
fn field(out: &str, key: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{out}"))
        .trim()
        .parse()
        .unwrap()
}

/// A sample's value from check_prom.py's output (`name{labels} value`).
fn sample(out: &str, name_and_labels: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix(name_and_labels).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {name_and_labels} in:\n{out}"))
        .parse()
        .unwrap()
}

#[test]
fn a_real_run_writes_every_format_and_other_parsers_read_them() {
    let run = common::run_wsload(&["run", "-c", "100", "-d", "2s", "-q"]);
    run.assert_exit(0);
    let s = run.summary().clone();
    let dir = &run.out_dir;
    for f in [
        "summary.json",
        "timeline.csv",
        "report.md",
        "report.html",
        "metrics.prom",
        "latency.hlog",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }

    // latency.hlog through the HdrHistogram Python package: merged, the same histogram as the
    // summary's corrected latency (µs there, ns in the log).
    let h = python("read_hlog.py", &dir.join("latency.hlog"));
    let corrected = &s["latency_us"]["corrected"];
    assert_eq!(field(&h, "count") as u64, corrected["count"].as_u64().unwrap(), "{h}");
    assert!(field(&h, "intervals") >= 2.0, "{h}");
    for (py, ours) in [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("max", "max")] {
        let theirs_us = field(&h, py) / 1e3;
        let ours_us = corrected[ours].as_f64().unwrap();
        // 3 significant digits: 0.1% relative, plus the summary's rounding down to whole µs.
        let allowed = ours_us * 1e-3 + 1.0;
        assert!(
            (theirs_us - ours_us).abs() <= allowed,
            "{py}: hdrh says {theirs_us} us, summary.json {ours_us} us\n{h}"
        );
    }

    // metrics.prom through Prometheus's own linter (promtool, from Debian's `prometheus`
    // package, which scripts/test.sh installs when run as root) ...
    let prom = std::fs::read(dir.join("metrics.prom")).unwrap();
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run scripts/test.sh as root, or apt-get install -y --no-install-recommends prometheus");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &prom).unwrap();
    let lint = child.wait_with_output().unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    // ... and through prometheus_client's parser, plus the checks both leave out.
    let p = python("check_prom.py", &dir.join("metrics.prom"));
    assert!(p.trim_end().ends_with("ok"), "{p}");
    let n = |path: &str| common::f(&s, path);
    assert_eq!(
        sample(&p, "wsload_connections{state=\"established\"}"),
        n("/connections/established")
    );
    assert_eq!(sample(&p, "wsload_messages_total{kind=\"sent\"}"), n("/messages/sent"));
    assert_eq!(
        sample(&p, "wsload_messages_total{kind=\"received\"}"),
        n("/messages/received")
    );
    assert_eq!(sample(&p, "wsload_errors_total{class=\"reset\"}"), 0.0);
    let p99 = sample(&p, "wsload_latency_seconds{kind=\"corrected\",quantile=\"0.99\"}");
    assert!((p99 - n("/latency_us/corrected/p99") / 1e6).abs() < 1e-9, "{p99}");
    assert!(sample(&p, "wsload_server_memory_per_connection_bytes{space=\"user\"}").is_finite());

    // timeline.csv: a header and one row per time-line point, every row as wide as the header.
    let csv = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 1 + s["timeline"].as_array().unwrap().len(), "{csv}");
    let width = rows[0].split(',').count();
    assert!(rows.iter().all(|r| r.split(',').count() == width), "{csv}");

    // `wsload report` re-renders the same report.md from summary.json.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let out = Command::new(common::WSLOAD)
        .args(["report", dir.to_str().unwrap(), "--format", "html,md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("report.md")).unwrap(), md);
    let out = Command::new(common::WSLOAD)
        .args(["report", dir.to_str().unwrap(), "--format", "hlog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be re-rendered"));
}
