//! The target URL: parsed by hand (ws:// and wss://), and redacted for display
//! so credentials and query values never reach a log or a report.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://`: TLS over the TCP connection.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, as sent in the request line.
    pub path: String,
    /// The Host header value.
    pub host_header: String,
    /// The URL with user info and query values replaced by `***`.
    pub redacted: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Replace `user:pass@` and every query value with `***`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    if scheme.is_empty() {
        format!("{authority}{tail}")
    } else {
        format!("{scheme}://{authority}{tail}")
    }
}

/// A header value as it may be printed or saved: credentials are replaced by `***`
/// (`Authorization: Bearer ***`), other values are kept.
pub fn redact_header(name: &str, value: &str) -> String {
    let n = name.to_ascii_lowercase();
    let secret = [
        "auth",
        "cookie",
        "token",
        "secret",
        "key",
        "password",
        "session",
        "signature",
    ]
    .iter()
    .any(|w| n.contains(w));
    if !secret {
        return value.to_string();
    }
    // Keep the scheme word of `Bearer abc`, `Basic abc`, so the report still says what was sent.
    match value.trim().split_once(' ') {
        Some((scheme, _)) if n.ends_with("authorization") => format!("{scheme} ***"),
        _ => "***".to_string(),
    }
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let redacted = redact_url(url);
        let (tls, rest) = if let Some(r) = url.strip_prefix("ws://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("wss://") {
            (true, r)
        } else {
            return Err(format!(
                "`{redacted}` is not a WebSocket URL: it must start with ws:// or wss://, e.g. ws://127.0.0.1:9000/"
            ));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(format!(
                "`{redacted}`: credentials in the URL are not supported; send them in a header"
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{redacted}`: unclosed `[` in IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("`{redacted}`: unexpected `{after}` after the IPv6 address")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{redacted}` has no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("`{redacted}`: `{p}` is not a port (1-65535)"))?,
            None if tls => 443,
            None => 80,
        };
        let host_header = if authority.is_empty() {
            host.clone()
        } else {
            authority.to_string()
        };
        Ok(Target {
            tls,
            host,
            port,
            path,
            host_header,
            redacted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("ws://127.0.0.1:9000/ws?room=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/ws?room=1")
        );
        assert_eq!(t.host_header, "127.0.0.1:9000");
        let t = Target::parse("ws://localhost").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("localhost", 80, "/"));
        let t = Target::parse("ws://[::1]:8080?x").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 8080, "/?x"));
        assert!(!t.tls);
        let t = Target::parse("wss://api.example.test/ws").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "api.example.test", 443, "/ws")
        );
        assert_eq!(t.host_header, "api.example.test");
        let t = Target::parse("wss://127.0.0.1:9443/?token=s3cr3t").unwrap();
        assert_eq!(
            (t.tls, t.port, t.redacted.as_str()),
            (true, 9443, "wss://127.0.0.1:9443/?token=***")
        );
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        for (url, needle) in [
            ("http://x/", "must start with ws:// or wss://"),
            ("wss://x:0/", "not a port"),
            ("wss://u:secret@x/", "credentials"),
            ("ws://:80/", "no host"),
            ("ws://x:0/", "not a port"),
            ("ws://x:99999/", "not a port"),
            ("ws://[::1/", "unclosed"),
            ("ws://u:secret@x/", "credentials"),
        ] {
            let e = Target::parse(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "{url} leaked: {e}");
        }
    }

    #[test]
    fn redaction_hides_secrets() {
        assert_eq!(
            redact_url("ws://u:pw@h:1/p?token=abc&x=1&flag"),
            "ws://***@h:1/p?token=***&x=***&flag"
        );
        assert_eq!(redact_url("ws://h/p"), "ws://h/p");
        assert_eq!(
            Target::parse("ws://h/?token=s3cr3t").unwrap().to_string(),
            "ws://h/?token=***"
        );
    }
}
