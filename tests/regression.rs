//! Regression tests, each named after the bug it pins.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::{run_wsload, spawn_bad_server, spawn_wsload_server};

/// Frames that came in the same read as the 101 response were parsed as one
/// payload running into the next frame: the pong to the first ping carried both pings.
#[test]
fn frames_sent_with_the_upgrade_response_are_parsed_one_by_one() {
    let server = spawn_bad_server("greet", &[]);
    let o = run_wsload(&[
        "run",
        &server.url(),
        "-c",
        "5",
        "--rate",
        "5",
        "-d",
        "1s",
        "--drain",
        "2s",
        "--cores",
        "0",
        "-q",
        "--json",
    ]);
    o.assert_exit(0);
    assert_eq!(o.num("/errors/closed_by_server"), 0, "{}", o.pretty());
    assert_eq!(o.num("/messages/received"), o.num("/messages/sent"));
}

/// A client that half-closed (shutdown(SHUT_WR)) lost the echoes still queued in the
/// server's backlog: the server closed as soon as it read EOF.
#[test]
fn server_flushes_queued_echoes_after_the_client_half_closes() {
    let server = spawn_wsload_server();
    // A small receive buffer makes the server's output back up while we still send.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], server.port)).into())
        .expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));

    // 128 masked 64 KiB binary frames (8 MiB) from another thread, then a half-close,
    // while this thread reads: the server meets EOF with echoes still queued.
    let payload = vec![0x5Au8; 65_536];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let frames = 128;
    let writer = {
        let mut w = s.try_clone().unwrap();
        w.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        std::thread::spawn(move || {
            for _ in 0..frames {
                w.write_all(&frame).expect("write frames");
            }
            w.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut echoed = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut buf).expect("read echoes");
        if n == 0 {
            break;
        }
        echoed += n;
    }
    writer.join().unwrap();
    // Each echo: 10-byte header (unmasked) + payload.
    assert_eq!(echoed, frames * (10 + payload.len()), "echoed bytes after half-close");
}
