//! wsload's client against `wsload serve` (a separate process), at the frame
//! length boundaries of RFC 6455, and a plain tungstenite client against
//! `wsload serve`.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{run_wsload, spawn_wsload_server, Outcome, Peer};
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Message, WebSocket};

/// `wsload run URL ... --json -q --cores 0` with `extra` arguments, checked clean,
/// with the stdout JSON matching summary.json.
fn clean_run(server: &Peer, extra: &[&str]) -> Outcome {
    let url = server.url();
    let mut args = vec!["run", url.as_str(), "--json", "-q", "--cores", "0", "--drain", "5s"];
    args.extend_from_slice(extra);
    let out = run_wsload(&args);
    out.assert_clean();
    assert_eq!(
        &out.stdout_json(),
        out.summary(),
        "stdout JSON differs from summary.json"
    );
    out
}

/// Open loop (a few connections at 5 msg/s) and closed loop (--in-flight 2) at one size.
fn echo_at_size(size: u64, text: bool) {
    let mut server = spawn_wsload_server();
    let s = size.to_string();
    let mut kinds = vec!["--size", s.as_str()];
    if text {
        kinds.push("--text");
    }
    for load in [
        &["-c", "4", "--rate", "5", "-d", "1s"][..],
        &["-c", "2", "--in-flight", "2", "-d", "1s"][..],
    ] {
        let mut args = kinds.clone();
        args.extend_from_slice(load);
        let out = clean_run(&server, &args);
        let sm = out.summary();
        let ty = &sm["scenario"]["messages"][0];
        assert_eq!(ty["size"]["fixed"].as_u64(), Some(size), "{}", out.pretty());
        assert_eq!(ty["type"], if text { "text" } else { "binary" }, "{}", out.pretty());
        let sent = out.num("/messages/sent");
        assert_eq!(out.num("/messages/bytes_sent"), sent * size, "{}", out.pretty());
        assert_eq!(out.num("/messages/bytes_received"), sent * size, "{}", out.pretty());
        assert_eq!(out.num("/latency_us/corrected/count"), sent, "{}", out.pretty());
    }
    assert!(
        server.alive(),
        "wsload serve died during the runs:\n{}",
        server.stderr()
    );
}

#[test]
fn binary_24_bytes_minimum() {
    echo_at_size(24, false);
}

#[test]
fn binary_125_bytes_longest_7bit_length() {
    echo_at_size(125, false);
}

#[test]
fn binary_126_bytes_first_16bit_length() {
    echo_at_size(126, false);
}

#[test]
fn binary_65535_bytes_longest_16bit_length() {
    echo_at_size(65535, false);
}

#[test]
fn binary_65536_bytes_first_64bit_length() {
    echo_at_size(65536, false);
}

#[test]
fn binary_1mib() {
    echo_at_size(1 << 20, false);
}

#[test]
fn text_48_bytes_minimum() {
    echo_at_size(48, true);
}

#[test]
fn text_126_bytes() {
    echo_at_size(126, true);
}

#[test]
fn text_65536_bytes() {
    echo_at_size(65536, true);
}

#[test]
fn closed_loop_50_connections_in_flight_8() {
    let server = spawn_wsload_server();
    let out = clean_run(&server, &["-c", "50", "--in-flight", "8", "-d", "1s"]);
    assert_eq!(
        out.summary()["scenario"]["phases"][0]["kind"],
        "in-flight",
        "{}",
        out.pretty()
    );
    assert_eq!(
        out.summary()["scenario"]["phases"][0]["window"].as_u64(),
        Some(8),
        "{}",
        out.pretty()
    );
    // Every connection had its window full at least once.
    assert!(out.num("/messages/sent") >= 50 * 8, "{}", out.pretty());
}

#[test]
fn a_closed_loop_window_is_not_held_back_by_completion_batching() {
    // While an open-loop pacer runs, a client core batches its completions: it wakes about
    // once per 500 µs tick, not for each echo. A closed-loop window sends when its echoes come
    // back, so it must not batch: one connection with one message in flight would then get at
    // most one echo per 500 µs, 4,000 in 2 s. (By hand: batching on in closed loop gave 10,530
    // echoes in 3 s over two such connections, batching off 101,701.)
    let server = spawn_wsload_server();
    let out = clean_run(&server, &["-c", "1", "--in-flight", "1", "-d", "2s"]);
    let echoed = out.num("/messages/received");
    assert!(
        echoed > 8_000,
        "{echoed} echoes in 2 s with one in flight: the window waited for completion batches\n{}",
        out.pretty()
    );
}

// ---------------------------------------------------------------------------
// A plain tungstenite client against `wsload serve`.

type Ws = WebSocket<TcpStream>;

fn connect(server: &Peer) -> Ws {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("TCP connect to wsload serve");
    // Bound every read and write, so a server that stops answering fails the test instead of hanging it.
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let (ws, resp) = tungstenite::client(server.url(), stream).expect("WebSocket upgrade");
    assert_eq!(resp.status(), 101);
    assert!(
        resp.headers().get("sec-websocket-extensions").is_none(),
        "no extension was offered, none may be accepted"
    );
    ws
}

fn read(ws: &mut Ws, what: &str) -> Message {
    ws.read().unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A string whose UTF-8 encoding is exactly `n` bytes, mixing 1- to 4-byte characters.
fn text_of_len(n: usize) -> String {
    let chars = ['a', 'é', '中', '😀', 'Z', 'ß', '€', '𐍈'];
    let mut s = String::with_capacity(n);
    let mut i = 0;
    while s.len() < n {
        let c = chars[i % chars.len()];
        let c = if s.len() + c.len_utf8() <= n { c } else { 'x' };
        s.push(c);
        i += 1;
    }
    assert_eq!(s.len(), n);
    s
}

fn binary_of_len(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(131) ^ (i >> 8)) as u8).collect()
}

const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

#[test]
fn tungstenite_binary_and_text_echo_at_all_sizes() {
    let server = spawn_wsload_server();
    let mut ws = connect(&server);
    for n in SIZES {
        let data = binary_of_len(n);
        ws.send(Message::Binary(data.clone())).expect("send binary");
        match read(&mut ws, &format!("binary echo of {n} bytes")) {
            Message::Binary(got) => assert!(got == data, "binary echo of {n} bytes differs"),
            other => panic!("binary echo of {n} bytes came back as {other:?}"),
        }
        let text = text_of_len(n);
        ws.send(Message::Text(text.clone())).expect("send text");
        match read(&mut ws, &format!("text echo of {n} bytes")) {
            Message::Text(got) => assert!(got == text, "text echo of {n} bytes differs"),
            other => panic!("text echo of {n} bytes came back as {other:?}"),
        }
    }
    ws.close(None).expect("close");
}

#[test]
fn tungstenite_pipelined_messages_come_back_in_order() {
    let server = spawn_wsload_server();
    let mut ws = connect(&server);
    let msgs: Vec<Vec<u8>> = (0..200usize).map(|i| binary_of_len(i * 37 % 3000)).collect();
    for m in &msgs {
        ws.write(Message::Binary(m.clone())).expect("queue");
    }
    ws.flush().expect("flush");
    for (i, m) in msgs.iter().enumerate() {
        match read(&mut ws, &format!("pipelined message {i}")) {
            Message::Binary(got) => assert!(&got == m, "pipelined message {i} differs"),
            other => panic!("pipelined message {i} came back as {other:?}"),
        }
    }
}

#[test]
fn tungstenite_ping_gets_pong_with_same_payload() {
    let server = spawn_wsload_server();
    let mut ws = connect(&server);
    for payload in [Vec::new(), b"wsload-ping".to_vec(), binary_of_len(125)] {
        ws.send(Message::Ping(payload.clone())).expect("send ping");
        match read(&mut ws, "pong") {
            Message::Pong(got) => assert_eq!(got, payload, "pong payload"),
            other => panic!("expected a pong for a {}-byte ping, got {other:?}", payload.len()),
        }
    }
    // Still echoing after the pings.
    ws.send(Message::Text("after ping".into())).unwrap();
    assert_eq!(read(&mut ws, "echo after ping"), Message::Text("after ping".into()));
}

fn send_frame(ws: &mut Ws, opcode: OpCode, data: Vec<u8>, fin: bool) {
    ws.write(Message::Frame(Frame::message(data, opcode, fin)))
        .expect("queue frame");
}

#[test]
fn tungstenite_fragmented_messages_are_echoed_whole() {
    let server = spawn_wsload_server();
    let mut ws = connect(&server);

    // Binary: 6 fragments of lengths across the length-encoding boundaries.
    let parts: Vec<Vec<u8>> = [1000, 0, 70000, 1, 125, 126]
        .iter()
        .map(|&n| binary_of_len(n))
        .collect();
    let whole: Vec<u8> = parts.concat();
    let last = parts.len() - 1;
    for (i, p) in parts.into_iter().enumerate() {
        let op = if i == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        send_frame(&mut ws, op, p, i == last);
    }
    ws.flush().unwrap();
    match read(&mut ws, "fragmented binary") {
        Message::Binary(got) => assert!(got == whole, "fragmented binary message differs"),
        other => panic!("fragmented binary came back as {other:?}"),
    }

    // Text split inside a multi-byte character, with a ping between the fragments
    // (control frames may be interleaved with a fragmented message).
    let text = format!("{}€{}", text_of_len(300), text_of_len(70000));
    let bytes = text.as_bytes().to_vec();
    let split = text.find('€').unwrap() + 1; // in the middle of the 3-byte '€'
    send_frame(&mut ws, OpCode::Data(Data::Text), bytes[..split].to_vec(), false);
    ws.write(Message::Ping(b"mid".to_vec())).unwrap();
    send_frame(&mut ws, OpCode::Data(Data::Continue), bytes[split..].to_vec(), true);
    ws.flush().unwrap();
    let mut got_pong = false;
    let echoed = loop {
        match read(&mut ws, "fragmented text") {
            Message::Pong(p) => {
                assert_eq!(p, b"mid");
                got_pong = true;
            }
            Message::Text(t) => break t,
            other => panic!("fragmented text came back as {other:?}"),
        }
    };
    assert!(echoed == text, "fragmented text message differs");
    assert!(got_pong, "no pong for the ping sent between fragments");
}

#[test]
fn tungstenite_close_handshake_returns_1000() {
    let server = spawn_wsload_server();
    let mut ws = connect(&server);
    ws.send(Message::Binary(b"bye".to_vec())).unwrap();
    assert_eq!(read(&mut ws, "echo before close"), Message::Binary(b"bye".to_vec()));
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .expect("send close");
    let reply = match ws.read() {
        Ok(Message::Close(c)) => c,
        Ok(other) => panic!("expected the close reply, got {other:?}"),
        Err(e) => panic!("no close reply from the server: {e}"),
    };
    let reply = reply.expect("the close reply carries a status code");
    assert_eq!(reply.code, CloseCode::Normal, "close reply {reply:?}");
    // The handshake is complete: the connection is closed cleanly.
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("expected ConnectionClosed after the close handshake, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// `wsload serve` facing clients that break the rules.

#[test]
fn serve_answers_a_plain_http_request_with_426() {
    use std::io::{Read, Write};
    let server = spawn_wsload_server();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    // The server closes after its answer.
    s.read_to_end(&mut reply).expect("read the refusal");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 426"), "reply:\n{reply}");
}

#[test]
fn serve_answers_a_frame_over_max_frame_with_1009() {
    let server = common::spawn_wsload_server_with(&["--max-frame", "1KiB"]);
    let mut ws = connect(&server);
    ws.send(Message::Binary(binary_of_len(1024))).unwrap();
    assert_eq!(
        read(&mut ws, "echo at --max-frame"),
        Message::Binary(binary_of_len(1024))
    );
    ws.send(Message::Binary(binary_of_len(1025))).unwrap();
    match read(&mut ws, "close for a frame over --max-frame") {
        Message::Close(Some(c)) => assert_eq!(c.code, CloseCode::Size, "{c:?}"),
        other => panic!("expected close 1009, got {other:?}"),
    }
}

#[test]
fn serve_answers_an_unmasked_client_frame_with_1002() {
    use std::io::Write;
    let server = spawn_wsload_server();
    let mut ws = connect(&server);
    // A binary frame without the mask bit, written under tungstenite.
    ws.get_mut().write_all(&[0x82, 0x03, b'a', b'b', b'c']).unwrap();
    match read(&mut ws, "close for an unmasked frame") {
        Message::Close(Some(c)) => assert_eq!(c.code, CloseCode::Protocol, "{c:?}"),
        other => panic!("expected close 1002, got {other:?}"),
    }
}
