//! The failure taxonomy: every error class, close code and upgrade status of a
//! run, placed in the phase of the connection where it happened, with its
//! meaning (errno names, RFC 6455 close-code meanings) and what to do about it.

pub use super::finding::TaxonomyRow;

use super::figures::first_error;
use crate::metrics::ErrorKind;
use crate::report::model::Summary;

/// errno names wsload's error classes come from, with their Linux numbers and meaning.
pub const ERRNOS: [(&str, i32, &str); 13] = [
    (
        "ECONNREFUSED",
        libc::ECONNREFUSED,
        "connection refused: nothing listens, or the accept queue overflowed",
    ),
    (
        "ETIMEDOUT",
        libc::ETIMEDOUT,
        "timed out: no answer to the SYN or to retransmissions",
    ),
    (
        "ECONNRESET",
        libc::ECONNRESET,
        "connection reset by peer: the other end sent an RST",
    ),
    (
        "EPIPE",
        libc::EPIPE,
        "broken pipe: wrote to a connection the peer had closed",
    ),
    ("ECONNABORTED", libc::ECONNABORTED, "connection aborted"),
    ("ENETUNREACH", libc::ENETUNREACH, "network unreachable: no route"),
    ("EHOSTUNREACH", libc::EHOSTUNREACH, "host unreachable"),
    ("ENETDOWN", libc::ENETDOWN, "network is down"),
    (
        "EMFILE",
        libc::EMFILE,
        "too many open files in this process (ulimit -n)",
    ),
    (
        "ENFILE",
        libc::ENFILE,
        "too many open files in the system (fs.file-max)",
    ),
    ("ENOBUFS", libc::ENOBUFS, "no buffer space: socket memory exhausted"),
    (
        "EADDRNOTAVAIL",
        libc::EADDRNOTAVAIL,
        "no free local port for this source address",
    ),
    ("EADDRINUSE", libc::EADDRINUSE, "local address already in use"),
];

/// The errno name of a Linux error number.
pub fn errno_name(n: i32) -> Option<&'static str> {
    ERRNOS.iter().find(|e| e.1 == n).map(|e| e.0)
}

/// The errno named in an I/O error message (`... (os error 104)`), if any.
pub fn errno_in(message: &str) -> Option<&'static str> {
    let rest = &message[message.find("os error ")? + "os error ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    errno_name(digits.parse().ok()?)
}

/// RFC 6455 §7.4.1 close codes 1000–1015 (1004 reserved; 1005, 1006 and 1015 are never sent
/// on the wire, only reported locally).
pub const CLOSE_CODES: [(u16, &str, &str); 16] = [
    (1000, "Normal Closure", "the purpose of the connection was fulfilled"),
    (
        1001,
        "Going Away",
        "the server is shutting down or restarting, or the page navigated away",
    ),
    (
        1002,
        "Protocol Error",
        "the peer found a protocol error in what it received",
    ),
    (
        1003,
        "Unsupported Data",
        "the peer cannot accept this data type (text or binary)",
    ),
    (1004, "Reserved", "reserved, no meaning defined"),
    (
        1005,
        "No Status Received",
        "a close frame without a status code (never sent on the wire)",
    ),
    (
        1006,
        "Abnormal Closure",
        "the connection closed without a close frame (never sent on the wire)",
    ),
    (
        1007,
        "Invalid Payload Data",
        "a message's data was inconsistent with its type (e.g. bad UTF-8)",
    ),
    (1008, "Policy Violation", "a message violated the server's policy"),
    (1009, "Message Too Big", "a message was too big for the peer to process"),
    (
        1010,
        "Mandatory Extension",
        "the client wanted an extension the server did not negotiate",
    ),
    (1011, "Internal Error", "the server met an unexpected condition"),
    (1012, "Service Restart", "the server is restarting"),
    (
        1013,
        "Try Again Later",
        "the server is overloaded or rate-limiting: reconnect later",
    ),
    (
        1014,
        "Bad Gateway",
        "a gateway or proxy got an invalid response upstream",
    ),
    (
        1015,
        "TLS Handshake",
        "the TLS handshake failed (never sent on the wire)",
    ),
];

/// Name and meaning of a close code, including the registered and private ranges.
pub fn close_meaning(code: u16) -> (String, String) {
    if let Some(c) = CLOSE_CODES.iter().find(|c| c.0 == code) {
        return (c.1.to_string(), c.2.to_string());
    }
    let (name, meaning) = match code {
        0..=999 => ("Invalid", "not a valid close code"),
        1016..=2999 => ("Reserved", "reserved for the WebSocket protocol, no meaning defined"),
        3000..=3999 => ("Registered", "registered with IANA for libraries and frameworks"),
        4000..=4999 => ("Private", "private to the application: see the server's documentation"),
        _ => ("Invalid", "not a valid close code"),
    };
    (name.to_string(), meaning.to_string())
}

fn close_advice(code: u16) -> &'static str {
    match code {
        1000 => "a normal close: a problem only if the server ended connections the test wanted open",
        1001 | 1012 => "the server went away or restarted during the run: check its logs and restarts",
        1002 | 1003 | 1007 => {
            "the server rejected what was sent: check the message types and sizes (or an injected fault)"
        }
        1008 => "the server's policy rejected a message or the client: check authentication and rate limits",
        1009 => "raise the server's message size limit or send smaller messages",
        1011 => "the server failed internally: check its logs",
        1013 => "the server is shedding load: it is at capacity for this connection count or rate",
        1014 => "a proxy between client and server failed: check the proxy and its upstream",
        _ => "see the server's documentation for this code",
    }
}

/// Meaning and advice for an HTTP status answering the upgrade.
pub fn http_meaning(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "Bad Request: the server did not accept the upgrade request",
            "check the path, headers and subprotocols",
        ),
        401 => (
            "Unauthorized: authentication is required",
            "add credentials (an Authorization header or a token)",
        ),
        403 => (
            "Forbidden: the credentials or the Origin were refused",
            "check the credentials and the Origin the server allows",
        ),
        404 => ("Not Found: no WebSocket endpoint at this path", "check the URL's path"),
        405 => (
            "Method Not Allowed",
            "the endpoint does not take GET upgrades: check the path",
        ),
        426 => (
            "Upgrade Required: the server wants another protocol version",
            "check the WebSocket version or TLS",
        ),
        429 => (
            "Too Many Requests: the server is rate-limiting",
            "lower the connect rate, or raise the server's limit",
        ),
        500 => ("Internal Server Error", "check the server's logs"),
        502 => (
            "Bad Gateway: a proxy got no valid answer upstream",
            "check the proxy's upstream and its limits",
        ),
        503 => (
            "Service Unavailable: the server is shedding load",
            "it is at capacity: lower the load or add capacity",
        ),
        504 => (
            "Gateway Timeout: a proxy's upstream did not answer in time",
            "the server behind the proxy is overloaded",
        ),
        _ => (
            "a non-101 answer to the upgrade",
            "see the server's logs for this status",
        ),
    }
}

/// The connection phase of an error class; unknown classes by their name.
pub fn phase_of(class: &str) -> &'static str {
    match class {
        "connect_refused" | "unreachable" => "connect",
        "connect_timeout" => "timeout",
        "reset" => "reset",
        "upgrade_rejected" | "handshake_invalid" => "upgrade",
        "protocol_violation" | "frame_too_large" => "frame",
        "closed_by_server" | "eof_without_close" => "close",
        "emfile" | "eaddrnotavail" => "client-resource",
        c if c.contains("resolve") || c.contains("dns") => "resolve",
        c if c.contains("tls") => "tls",
        c if c.contains("timeout") => "timeout",
        _ => "other",
    }
}

/// The errno names behind an error class.
fn errnos_of(class: &str) -> &'static str {
    match class {
        "connect_refused" => "ECONNREFUSED",
        "connect_timeout" => "ETIMEDOUT (or --connect-timeout)",
        "reset" => "ECONNRESET, EPIPE, ECONNABORTED (or ETIMEDOUT after connecting)",
        "unreachable" => "ENETUNREACH, EHOSTUNREACH, ENETDOWN",
        "emfile" => "EMFILE, ENFILE, ENOBUFS",
        "eaddrnotavail" => "EADDRNOTAVAIL, EADDRINUSE",
        _ => "",
    }
}

fn kind_of(class: &str) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|k| k.key() == class)
}

/// The taxonomy of a run: error classes (an upgrade rejection split by HTTP status), then close
/// codes, each with a count above zero.
pub fn taxonomy(s: &Summary) -> Vec<TaxonomyRow> {
    let mut rows = Vec::new();
    let statuses: Vec<(u16, u64)> = s
        .upgrade_status
        .iter()
        .filter(|(_, n)| **n > 0)
        .filter_map(|(s, n)| s.parse::<u16>().ok().map(|s| (s, *n)))
        .collect();
    for (class, &count) in s.errors.iter().filter(|(_, n)| **n > 0) {
        let mut count = count;
        if class == "upgrade_rejected" {
            for &(status, n) in &statuses {
                let (meaning, advice) = http_meaning(status);
                rows.push(TaxonomyRow {
                    phase: "upgrade".into(),
                    class: format!("http_{status}"),
                    count: n,
                    meaning: format!("HTTP {status} {meaning}"),
                    advice: advice.to_string(),
                });
            }
            // What the statuses do not account for stays as the class itself.
            count = count.saturating_sub(statuses.iter().map(|s| s.1).sum());
            if count == 0 {
                continue;
            }
        }
        let kind = kind_of(class);
        let errnos = errnos_of(class);
        let first = first_error(s, class).unwrap_or("");
        let mut meaning = match (errnos.is_empty(), errno_in(first)) {
            (_, Some(name)) => format!("{name} (first seen: {first})"),
            (false, None) => errnos.to_string(),
            (true, None) if !first.is_empty() => format!("first seen: {first}"),
            _ => String::new(),
        };
        if meaning.is_empty() {
            meaning = class.replace('_', " ");
        }
        rows.push(TaxonomyRow {
            phase: phase_of(class).into(),
            class: class.clone(),
            count,
            meaning,
            advice: kind.map(ErrorKind::advice).unwrap_or("see first_errors").to_string(),
        });
    }
    for (code, &count) in s.close_codes.iter().filter(|(_, n)| **n > 0) {
        let Ok(c) = code.parse::<u16>() else { continue };
        let (name, meaning) = close_meaning(c);
        rows.push(TaxonomyRow {
            phase: "close".into(),
            class: format!("close_{c}"),
            count,
            meaning: format!("{c} {name}: {meaning}"),
            advice: close_advice(c).to_string(),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_cover_close_codes_and_errnos() {
        for code in 1000..=1015u16 {
            assert_eq!(CLOSE_CODES[(code - 1000) as usize].0, code);
        }
        assert_eq!(close_meaning(1013).0, "Try Again Later");
        assert_eq!(close_meaning(4001).0, "Private");
        assert_eq!(errno_name(libc::ECONNREFUSED), Some("ECONNREFUSED"));
        assert_eq!(errno_in("Connection reset by peer (os error 104)"), Some("ECONNRESET"));
        assert_eq!(errno_in("no errno here"), None);
        for k in ErrorKind::ALL.into_iter().filter(|k| *k != ErrorKind::OtherIo) {
            assert_ne!(phase_of(k.key()), "other", "{}", k.key());
        }
    }

    #[test]
    fn rows_by_phase_with_statuses_and_close_codes() {
        let mut i = Summary::default();
        i.errors.insert("connect_refused".into(), 12);
        i.errors.insert("reset".into(), 0);
        i.errors.insert("upgrade_rejected".into(), 5);
        i.errors.insert("emfile".into(), 2);
        i.upgrade_status.insert("403".into(), 4);
        i.close_codes.insert("1011".into(), 3);
        i.first_errors.push(crate::report::model::ErrorNote {
            kind: "connect_refused".into(),
            first: "Connection refused (os error 111)".into(),
            ..Default::default()
        });
        let rows = taxonomy(&i);
        let get = |c: &str| rows.iter().find(|r| r.class == c).unwrap();
        assert_eq!(get("connect_refused").phase, "connect");
        assert!(get("connect_refused").meaning.starts_with("ECONNREFUSED"));
        assert_eq!((get("http_403").count, get("upgrade_rejected").count), (4, 1));
        assert_eq!(get("emfile").phase, "client-resource");
        assert!(get("close_1011").meaning.contains("Internal Error"));
        assert!(rows.iter().all(|r| r.class != "reset"));
        assert!(taxonomy(&Summary::default()).is_empty());
    }
}
