//! Interoperability with WebSocket code this project did not write: wsload's
//! client against a Python `websockets` echo server, and a Python `websockets`
//! client against `wsload serve`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{peer_script, run_wsload, spawn_peer, spawn_wsload_server};

fn against_py_echo_server(load: &[&str]) {
    let mut server = spawn_peer("py_echo_server.py", &[]);
    let url = server.url();
    let mut args = vec![
        "run", &url, "-c", "100", "-d", "2s", "--drain", "5s", "--json", "-q", "--cores", "0",
    ];
    args.extend_from_slice(load);
    let out = run_wsload(&args);
    out.assert_clean();
    assert_eq!(out.num("/connections/established"), 100, "{}", out.pretty());
    assert_eq!(&out.stdout_json(), out.summary());
    assert!(server.alive(), "py_echo_server.py died:\n{}", server.stderr());
}

#[test]
fn wsload_open_loop_against_python_websockets_server() {
    against_py_echo_server(&["--rate", "5"]);
}

#[test]
fn wsload_closed_loop_against_python_websockets_server() {
    against_py_echo_server(&["--in-flight", "4"]);
}

#[test]
fn wsload_text_messages_against_python_websockets_server() {
    against_py_echo_server(&["--rate", "2", "--text", "--size", "200"]);
}

#[test]
fn python_websockets_client_against_wsload_serve() {
    let mut server = spawn_wsload_server();
    let url = server.url();
    let limit = Duration::from_secs(90);
    let mut child = Command::new(common::python())
        .arg(peer_script("py_client.py"))
        .args(["--url", &url, "--timeout", "60", "--seed", "12345"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start py_client.py");
    // Watchdog: py_client.py has its own --timeout; this only guards against a stuck interpreter.
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for py_client.py") {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("py_client.py output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let status = status.unwrap_or_else(|| panic!("py_client.py hung for {limit:?}\n{stdout}\n{stderr}"));
    assert!(
        status.success(),
        "py_client.py failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver stderr:\n{}",
        server.stderr()
    );
    assert_eq!(stdout.lines().last().map(str::trim), Some("OK"), "stdout:\n{stdout}");
    for check in [
        "sizes ok",
        "fragmented messages ok",
        "ping/pong ok",
        "close handshake ok (1000)",
        "concurrent ok",
    ] {
        assert!(
            stdout.contains(check),
            "py_client.py did not report `{check}`:\n{stdout}"
        );
    }
    assert!(server.alive(), "wsload serve died:\n{}", server.stderr());
}

#[test]
fn wsload_1mib_messages_against_python_websockets_server() {
    // Frames larger than wsload's 64 KiB read buffer, from a server that is not wsload's.
    let server = spawn_peer("py_echo_server.py", &[]);
    let url = server.url();
    let out = run_wsload(&[
        "run", &url, "-c", "2", "--rate", "2", "--size", "1MiB", "-d", "1s", "--drain", "5s", "-q", "--cores", "0",
    ]);
    out.assert_clean();
}
