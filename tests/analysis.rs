//! Failure analysis end to end: a server that resets every connection after
//! its first 150 gives a burst of resets, the knee where errors start, and a
//! hint that something caps connections near 150, in summary.json and report.md.

mod common;

use common::*;

#[test]
fn a_server_that_caps_connections_gives_a_cluster_the_class_and_a_hint() {
    let peer = spawn_bad_server("limit", &["--limit", "150"]);
    let o = run_wsload(&[
        "run",
        &peer.url(),
        "-c",
        "300",
        "--connect-rate",
        "100",
        "-d",
        "2s",
        "--drain",
        "1s",
        "-q",
        "--cores",
        "0",
    ]);
    o.assert_exit(1);
    let ctx = o.pretty();
    let a = &o.summary()["analysis"];
    assert_eq!(a["verdict"]["ready"], false, "{ctx}");
    let findings = a["findings"].as_array().expect("findings");
    let cluster = findings
        .iter()
        .find(|f| f["kind"] == "cluster")
        .unwrap_or_else(|| panic!("no cluster\n{ctx}"));
    assert!(cluster["title"].as_str().unwrap().contains("reset"), "{cluster}");
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "hint" && f["title"].as_str().unwrap().contains("caps connections near 150")),
        "no connection-cap hint\n{ctx}"
    );
    let taxonomy = a["taxonomy"].as_array().unwrap();
    assert!(
        taxonomy
            .iter()
            .any(|t| t["class"] == "reset" && t["meaning"].as_str().unwrap().starts_with("ECONNRESET")),
        "{ctx}"
    );
    // The same analysis reaches the Markdown report.
    let md = std::fs::read_to_string(o.out_dir.join("report.md")).expect("report.md");
    assert!(md.contains("caps connections near 150"), "{md}");
}

#[test]
fn a_clean_run_has_no_findings_and_a_ready_verdict() {
    let o = run_wsload(&["run", "-c", "100", "-d", "1s", "--drain", "1s", "-q"]);
    o.assert_clean();
    let a = &o.summary()["analysis"];
    assert_eq!(a["verdict"]["ready"], true, "{}", o.pretty());
    assert_eq!(a["findings"].as_array().unwrap().len(), 0, "{}", o.pretty());
}
