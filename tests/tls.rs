//! wss:// end to end: `wsload serve --tls-cert` and a Python `websockets` server with a CA made at
//! test time (`wsload cert`, rcgen), self-signed certificates pinned with `--ca` (made by the
//! `openssl` command, Debian package openssl, and by rcgen), certificate failures, `--insecure`,
//! and bad TLS settings.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// `wsload cert --out DIR [--host H]...` into a fresh directory: (ca.pem, cert.pem, key.pem).
fn make_certs(hosts: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let dir = fresh_dir();
    let mut cmd = Command::new(WSLOAD);
    cmd.args(["cert", "--out"]).arg(&dir);
    for h in hosts {
        cmd.args(["--host", h]);
    }
    let out = cmd.output().expect("run wsload cert");
    assert!(
        out.status.success(),
        "wsload cert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

fn tls_server(cert: &Path, key: &Path) -> Peer {
    spawn_wsload_server_with(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn wss(host: &str, port: u16) -> String {
    format!("wss://{host}:{port}/")
}

/// `wsload run URL --ca CA -c CONNS -d 1s --cores 0`: a short run that trusts CA.
fn run_trusting(url: &str, ca: &Path, conns: &str) -> Outcome {
    run_wsload(&["run", url, "--ca", s(ca), "-c", conns, "-d", "1s", "--cores", "0"])
}

#[test]
fn wss_echoes_every_message_and_resumes_sessions() {
    let (ca, cert, key) = make_certs(&[]);
    let server = tls_server(&cert, &key);
    // A ramp (not a burst), so tickets from the first handshakes are there for the next ones.
    // localhost: a DNS name, sent as SNI and checked against the certificate's names.
    let url = wss("localhost", server.port);
    let r = run_wsload(&[
        "run",
        &url,
        "--ca",
        s(&ca),
        "-c",
        "40",
        "--connect-rate",
        "50",
        "--rate",
        "5",
        "-d",
        "1s",
        "--cores",
        "0",
        "-q",
    ]);
    r.assert_clean();
    let ctx = r.pretty();
    let sum = r.summary();
    assert_eq!(sum["tls"]["insecure"], Value::Bool(false), "{ctx}");
    let (full, resumed) = (r.num("/tls/full_handshakes"), r.num("/tls/resumed_handshakes"));
    assert_eq!(
        full + resumed,
        40,
        "every established connection did one handshake\n{ctx}"
    );
    assert!(resumed > 0, "no session was resumed over 40 connections\n{ctx}");
    assert!(full > 0, "the first handshake cannot be resumed\n{ctx}");
    // rustls on both ends: every handshake negotiates TLS 1.3.
    assert_eq!(sum["tls"]["version"], Value::from("TLS 1.3"), "{ctx}");
    // The connect time is split: each part measured for every connection, and the parts add up.
    for part in ["connect", "tcp_connect", "tls_handshake", "upgrade"] {
        assert_eq!(r.num(&format!("/latency_us/{part}/count")), 40, "{part}\n{ctx}");
    }
    let mean = |p: &str| f(sum, &format!("/latency_us/{p}/mean"));
    let parts = mean("tcp_connect") + mean("tls_handshake") + mean("upgrade");
    assert!(
        (parts - mean("connect")).abs() <= 0.05 * mean("connect") + 5.0,
        "the parts' means ({parts}) should add up to the total's ({})\n{ctx}",
        mean("connect")
    );
    let md = std::fs::read_to_string(r.out_dir.join("report.md")).unwrap();
    assert!(md.contains("| TLS handshake |"), "report.md lacks the TLS row:\n{md}");
    assert!(md.contains("resumed"), "report.md lacks the resumption line:\n{md}");

    // Messages larger than a TLS record (16 KiB) arrive split across records and reads.
    let r = run_wsload(&[
        "run",
        &wss("127.0.0.1", server.port),
        "--ca",
        s(&ca),
        "-c",
        "4",
        "--in-flight",
        "4",
        "--size",
        "70000",
        "-d",
        "1s",
        "--cores",
        "0",
        "-q",
    ]);
    r.assert_clean();
}

#[test]
fn wss_against_an_independent_server() {
    let (ca, cert, key) = make_certs(&[]);
    let server = spawn_peer("py_echo_server.py", &["--cert", s(&cert), "--key", s(&key)]);
    let r = run_wsload(&[
        "run",
        &wss("127.0.0.1", server.port),
        "--ca",
        s(&ca),
        "-c",
        "10",
        "--rate",
        "5",
        "-d",
        "1s",
        "--cores",
        "0",
        "-q",
    ]);
    r.assert_clean();
    assert_eq!(r.num("/latency_us/tls_handshake/count"), 10, "{}", r.pretty());
}

#[test]
fn an_untrusted_certificate_fails_with_the_fix() {
    let (_, cert, key) = make_certs(&[]);
    let (other_ca, other_cert, other_key) = make_certs(&["example.test"]);
    let server = tls_server(&cert, &key);
    let url = wss("127.0.0.1", server.port);
    // Another CA than the one that signed the server's certificate; then the system roots alone.
    for extra in [&["--ca", s(&other_ca)][..], &[][..]] {
        let mut args = vec!["run", &url, "-c", "3", "--rate", "1", "-d", "1s", "--cores", "0"];
        args.extend_from_slice(extra);
        let r = run_wsload(&args);
        r.assert_exit(2);
        let ctx = r.pretty();
        assert_eq!(r.num("/errors/tls_certificate"), 3, "{ctx}");
        assert_eq!(r.num("/connections/established"), 0, "{ctx}");
        assert!(r.stderr.contains("not signed by a trusted CA"), "{ctx}");
        assert!(r.stderr.contains("pass --ca FILE"), "the fix is named\n{ctx}");
    }
    // The right CA, but a certificate for another name.
    let named = tls_server(&other_cert, &other_key);
    let r = run_trusting(&wss("127.0.0.1", named.port), &other_ca, "2");
    r.assert_exit(2);
    assert_eq!(r.num("/errors/tls_certificate"), 2, "{}", r.pretty());
    assert!(r.stderr.contains("not valid for the URL's host"), "{}", r.pretty());
    // The failure analysis places it in the TLS phase.
    let rows = r.summary()["analysis"]["taxonomy"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        rows.iter()
            .any(|t| t["class"] == "tls_certificate" && t["phase"] == "tls"),
        "{rows:?}"
    );
}

/// The self-signed certificate most people make:
/// `openssl req -x509 -newkey rsa:2048 -nodes ... -subj /CN=localhost -addext subjectAltName=...`.
/// It says CA:TRUE. (cert.pem, key.pem) in a fresh directory.
fn openssl_self_signed() -> (PathBuf, PathBuf) {
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .expect("run openssl x509");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
        "the case this test is about is a self-signed certificate that says CA:TRUE"
    );
    (cert, key)
}

/// A self-signed certificate made by rcgen for 127.0.0.1 and localhost, with or without the CA
/// flag: (cert.pem, key.pem) in a fresh directory.
fn rcgen_self_signed(ca: bool) -> (PathBuf, PathBuf) {
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    (dir.join("cert.pem"), dir.join("key.pem"))
}

#[test]
fn ca_pins_a_self_signed_certificate_whatever_its_ca_flag() {
    // Issue 16: `--ca cert.pem` with openssl's self-signed certificate failed every connection
    // with CaUsedAsEndEntity; curl, Python and Node accept that pair.
    let (cert, key) = openssl_self_signed();
    let server = tls_server(&cert, &key);
    let r = run_wsload(&[
        "run",
        &wss("127.0.0.1", server.port),
        "--ca",
        s(&cert),
        "-c",
        "200",
        "--connect-rate",
        "1000",
        "--rate",
        "2",
        "-d",
        "1s",
        "--cores",
        "0",
        "-q",
    ]);
    r.assert_clean();
    assert_eq!(r.num("/connections/established"), 200, "{}", r.pretty());
    // The same from rcgen, with and without the CA flag, by name and by address.
    for ca in [true, false] {
        let (cert, key) = rcgen_self_signed(ca);
        let server = tls_server(&cert, &key);
        for host in ["127.0.0.1", "localhost"] {
            let r = run_wsload(&[
                "run",
                &wss(host, server.port),
                "--ca",
                s(&cert),
                "-c",
                "5",
                "--rate",
                "5",
                "-d",
                "1s",
                "--cores",
                "0",
                "-q",
            ]);
            r.assert_clean();
        }
    }
}

#[test]
fn ca_refuses_an_unrelated_self_signed_certificate_in_plain_words() {
    let (cert, key) = openssl_self_signed();
    let (other, _) = openssl_self_signed();
    let server = tls_server(&cert, &key);
    let r = run_trusting(&wss("127.0.0.1", server.port), &other, "3");
    r.assert_exit(2);
    let ctx = r.pretty();
    assert_eq!(r.num("/errors/tls_certificate"), 3, "{ctx}");
    assert_eq!(r.num("/connections/established"), 0, "{ctx}");
    assert!(
        r.stderr.contains("it is a CA certificate (CA:TRUE") && r.stderr.contains("not one of the --ca certificates"),
        "the refusal says what is wrong in plain words\n{ctx}"
    );
    assert!(
        r.stderr.contains("pass --ca FILE with this very certificate"),
        "and the fix\n{ctx}"
    );
    assert!(
        !r.stderr.contains("CaUsedAsEndEntity"),
        "not the library's name for it\n{ctx}"
    );
    // rcgen's self-signed certificate without the CA flag, not pinned: an unknown issuer.
    let (cert, key) = rcgen_self_signed(false);
    let server = tls_server(&cert, &key);
    let r = run_trusting(&wss("127.0.0.1", server.port), &other, "2");
    r.assert_exit(2);
    assert_eq!(r.num("/errors/tls_certificate"), 2, "{}", r.pretty());
    assert!(r.stderr.contains("not signed by a trusted CA"), "{}", r.pretty());
}

#[test]
fn insecure_accepts_any_certificate_and_says_so_everywhere() {
    let (_, cert, key) = make_certs(&[]);
    let server = tls_server(&cert, &key);
    let r = run_wsload(&[
        "run",
        &wss("127.0.0.1", server.port),
        "--insecure",
        "-c",
        "5",
        "--rate",
        "5",
        "-d",
        "1s",
        "--cores",
        "0",
        "-q",
    ]);
    r.assert_clean();
    assert!(r.stderr.contains("WARNING: --insecure"), "even with -q:\n{}", r.stderr);
    assert_eq!(r.summary()["tls"]["insecure"], Value::Bool(true), "{}", r.pretty());
    assert_eq!(r.summary()["scenario"]["tls"]["insecure"], Value::Bool(true));
    for file in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(r.out_dir.join(file)).unwrap();
        assert!(text.contains("certificates were NOT verified"), "{file}:\n{text}");
    }
}

/// `wsload run ARGS` that must be refused before anything starts, with `needle` in the message.
fn refused(args: &[&str], needle: &str) {
    let out = Command::new(WSLOAD).args(args).output().expect("run wsload");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in:\n{err}");
}

#[test]
fn bad_tls_settings_are_clear_errors() {
    let dir = fresh_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let url = "wss://127.0.0.1:9/";
    refused(
        &["run", url, "--ca", s(&missing), "-q"],
        &format!(
            "--ca {}: tls.ca: cannot read the certificate file {}",
            s(&missing),
            s(&missing)
        ),
    );
    refused(&["run", url, "--ca", s(&junk), "-q"], "holds no certificate");
    refused(
        &["run", "ws://127.0.0.1:9/", "--insecure", "-q"],
        "apply to wss:// targets",
    );
    refused(&["run", "--insecure", "-q"], "the built-in server speaks ws://");
    let sc = scenario_file(&format!("url = \"{url}\"\n\n[tls]\nca = \"{}\"\n", s(&junk)));
    refused(
        &["validate", s(&sc)],
        &format!("{}:4:6: tls.ca: {} holds no certificate", s(&sc), s(&junk)),
    );
    refused(
        &["run", url, "--set", "tls.insecure=1", "-q"],
        "--set tls.insecure=1: tls.insecure: expected true or false",
    );
    // The server's files.
    let (_, cert, key) = make_certs(&[]);
    let serve = |c: &Path, k: &Path| {
        Command::new(WSLOAD)
            .args([
                "serve",
                "--port",
                "0",
                "--for",
                "1s",
                "--tls-cert",
                s(c),
                "--tls-key",
                s(k),
            ])
            .output()
            .expect("run wsload serve")
    };
    for (c, k, needle) in [
        (&junk, &key, "holds no certificate"),
        (&cert, &junk, "no usable private key"),
    ] {
        let out = serve(c, k);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(needle) && err.contains(s(&junk)), "{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
