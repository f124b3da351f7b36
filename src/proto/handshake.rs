//! The HTTP/1.1 upgrade (RFC 6455 §4), hand-written on top of `httparse` and
//! tungstenite's key helpers, so a connection's handshake state is a few bytes
//! and one small buffer that is freed once the upgrade is done.

use tungstenite::handshake::derive_accept_key;

/// Largest upgrade request or response we accept, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;

/// Build the client's upgrade request. `host` is the Host header value, `path` includes the
/// query; `extra` headers follow ours, `protocols` are offered in Sec-WebSocket-Protocol, and
/// `deflate` offers permessage-deflate.
pub fn client_request(
    host: &str,
    path: &str,
    key: &str,
    extra: &[(String, String)],
    protocols: &[String],
    deflate: bool,
) -> Vec<u8> {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
        req.push_str(&format!("User-Agent: wsload/{}\r\n", env!("CARGO_PKG_VERSION")));
    }
    if !protocols.is_empty() {
        req.push_str(&format!("Sec-WebSocket-Protocol: {}\r\n", protocols.join(", ")));
    }
    if deflate {
        req.push_str(&format!("Sec-WebSocket-Extensions: {}\r\n", super::deflate::OFFER));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// A fresh random `Sec-WebSocket-Key`.
pub fn new_key() -> String {
    tungstenite::handshake::client::generate_key()
}

/// How a server answered the upgrade request.
#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    /// More bytes are needed.
    Partial,
    /// 101 with a correct accept key; the response head was this many bytes
    /// (anything after it is already WebSocket frames). `deflate`: permessage-deflate is on.
    Accepted { head_len: usize, deflate: bool },
    /// Any other status.
    Rejected { status: u16 },
    /// A 101 that is not a valid WebSocket upgrade, or not HTTP at all.
    Invalid(String),
}

/// Parse the server's answer to our upgrade request. When subprotocols were `offered`, the
/// server must have chosen one of them. `deflate`: permessage-deflate was offered.
pub fn parse_response(buf: &[u8], key: &str, offered: &[String], deflate: bool) -> Response {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Response::Partial,
        Ok(httparse::Status::Partial) => {
            return Response::Invalid(format!("response head longer than {MAX_HEAD} bytes"))
        }
        Err(e) => return Response::Invalid(format!("not an HTTP response: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    if status != 101 {
        return Response::Rejected { status };
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Response::Invalid("101 response without `Upgrade: websocket`".into());
    }
    let expected = derive_accept_key(key.as_bytes());
    match header("sec-websocket-accept") {
        Some(v) if v == expected.as_bytes() => {}
        Some(_) => return Response::Invalid("wrong Sec-WebSocket-Accept".into()),
        None => return Response::Invalid("101 response without Sec-WebSocket-Accept".into()),
    }
    let deflate = match super::deflate::agreed(header("sec-websocket-extensions"), deflate) {
        Ok(d) => d,
        Err(why) => return Response::Invalid(why),
    };
    let chosen = header("sec-websocket-protocol").map(|v| String::from_utf8_lossy(v).trim().to_string());
    match chosen {
        None if offered.is_empty() => Response::Accepted { head_len, deflate },
        None => Response::Invalid(format!(
            "the server accepted none of the offered subprotocols ({}); check `subprotocols`",
            offered.join(", ")
        )),
        Some(p) if offered.contains(&p) => Response::Accepted { head_len, deflate },
        Some(p) => Response::Invalid(format!(
            "the server chose subprotocol {p:?}, which was not offered ({})",
            if offered.is_empty() {
                "none was".to_string()
            } else {
                offered.join(", ")
            }
        )),
    }
}

/// What the server makes of a client's upgrade request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Partial,
    /// A valid upgrade: the reply to send, and the request head's length.
    Upgrade {
        reply: Vec<u8>,
        head_len: usize,
    },
    /// Not a WebSocket upgrade: the reply to send before closing.
    Refuse {
        reply: Vec<u8>,
    },
}

fn refuse(status: &str, why: &str) -> Request {
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
        why.len()
    );
    Request::Refuse {
        reply: reply.into_bytes(),
    }
}

/// Parse a client's upgrade request (server side).
pub fn parse_request(buf: &[u8]) -> Request {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Request::Partial,
        Ok(httparse::Status::Partial) => {
            return refuse("431 Request Header Fields Too Large", "request head too large\n")
        }
        Err(_) => return refuse("400 Bad Request", "malformed HTTP request\n"),
    };
    if req.method != Some("GET") {
        return refuse("405 Method Not Allowed", "WebSocket upgrades use GET\n");
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let upgrade = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket"));
    let connection = header("connection").is_some_and(|v| {
        v.split(|&c| c == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    if !upgrade || !connection {
        return refuse("426 Upgrade Required", "this is a WebSocket echo server\n");
    }
    if header("sec-websocket-version") != Some(b"13") {
        return refuse(
            "426 Upgrade Required\r\nSec-WebSocket-Version: 13",
            "WebSocket version 13 required\n",
        );
    }
    let Some(key) = header("sec-websocket-key") else {
        return refuse("400 Bad Request", "missing Sec-WebSocket-Key\n");
    };
    let accept = derive_accept_key(key);
    let reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    Request::Upgrade {
        reply: reply.into_bytes(),
        head_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_server_agree() {
        let key = new_key();
        let req = client_request("127.0.0.1:9000", "/ws?x=1", &key, &[], &[], false);
        let Request::Upgrade { reply, head_len } = parse_request(&req) else {
            panic!("refused")
        };
        assert_eq!(head_len, req.len());
        let mut with_frame = reply.clone();
        with_frame.extend_from_slice(&[0x82, 0x00]);
        assert_eq!(
            parse_response(&with_frame, &key, &[], false),
            Response::Accepted {
                head_len: reply.len(),
                deflate: false
            }
        );
        assert_eq!(
            parse_response(&reply[..reply.len() - 1], &key, &[], false),
            Response::Partial
        );
        assert!(matches!(
            parse_response(&reply, "other-key", &[], false),
            Response::Invalid(_)
        ));
    }

    #[test]
    fn refusals_carry_their_status() {
        assert_eq!(
            parse_response(b"HTTP/1.1 403 Forbidden\r\n\r\n", "k", &[], false),
            Response::Rejected { status: 403 }
        );
        assert!(matches!(
            parse_response(b"\x82\x05hello", "k", &[], false),
            Response::Invalid(_)
        ));
        let plain = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let Request::Refuse { reply } = parse_request(plain) else {
            panic!("accepted a plain GET")
        };
        assert!(reply.starts_with(b"HTTP/1.1 426"));
        assert!(matches!(parse_request(b"garbage\r\n\r\n"), Request::Refuse { .. }));
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n"), Request::Partial);
    }
}
