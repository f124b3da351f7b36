//! Run flags for what goes over the connection besides wsload's stamped
//! echoes: upgrade headers, subprotocols, origin and cookies, compression,
//! templated messages and how replies are matched, and subscribe mode. Each
//! becomes an override of the scenario field of the same name.

use clap::Args;
use std::path::PathBuf;

use crate::config::scenario::parse::Override;
use crate::config::target::redact_header;

/// What the upgrade request offers: shared by `wsload run` and `wsload capacity`.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Handshake and messages")]
pub struct HandshakeArgs {
    /// Extra upgrade header, `-H "Authorization: Bearer $TOKEN"` (repeatable). Values of
    /// credential headers are shown as `***` in every report and log.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Offer this subprotocol (repeatable, in order of preference); the server must choose one.
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub subprotocols: Vec<String>,

    /// The Origin header, e.g. `https://app.example.com`.
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,

    /// A cookie, `session=abc` (repeatable; sent as one Cookie header, shown as `***`).
    #[arg(long = "cookie", value_name = "NAME=VALUE", value_parser = parse_cookie)]
    pub cookies: Vec<(String, String)>,

    /// `deflate` offers permessage-deflate (RFC 7692, no context takeover); the summary reports
    /// the compression ratio and its CPU cost [default: none].
    #[arg(long, value_name = "deflate|none")]
    pub compression: Option<String>,
}

#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Handshake and messages")]
pub struct WireArgs {
    // Upgrade headers, subprotocols, origin, cookies, compression (also `wsload capacity`'s).
    #[command(flatten)]
    pub handshake: HandshakeArgs,

    /// `echo` sends messages and matches replies; `subscribe` sends only --first-message and
    /// then counts what the server pushes (with --timestamp-field: end-to-end latency)
    /// [default: echo].
    #[arg(long, value_name = "echo|subscribe")]
    pub mode: Option<String>,

    /// Message body template, e.g. `'{"id":{seq},"method":"ping"}'`. Placeholders: {conn},
    /// {seq}, {ts} (Unix ms), {ts_us}, {rand:N}, {hex:N}; other braces are literal. Replies are
    /// matched by --correlate.
    #[arg(long, value_name = "TEXT")]
    pub template: Option<String>,

    /// A file of message templates, one per line, sent in turn.
    #[arg(long, value_name = "FILE", conflicts_with = "template")]
    pub messages_file: Option<PathBuf>,

    /// Sent once on every connection as soon as it opens (a template), e.g. a subscribe or an
    /// authentication message.
    #[arg(long, value_name = "TEXT")]
    pub first_message: Option<String>,

    /// How replies to templated messages are matched to requests: `fifo` (in order) or the JSON
    /// pointer of the id that echoes {seq}, e.g. `/id` [default: fifo].
    #[arg(long, value_name = "fifo|/POINTER")]
    pub correlate: Option<String>,

    /// Subscribe mode: JSON pointer of the publish time in pushed messages (Unix time, see
    /// --timestamp-unit), e.g. `/ts`. Latency is measured against this host's clock.
    #[arg(long, value_name = "/POINTER")]
    pub timestamp_field: Option<String>,

    /// Unit of --timestamp-field: s, ms, us or ns [default: us].
    #[arg(long, value_name = "UNIT")]
    pub timestamp_unit: Option<String>,

    /// Subscribe mode: JSON pointer of a sequence number in pushed messages, to count gaps.
    #[arg(long, value_name = "/POINTER")]
    pub sequence_field: Option<String>,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("expected `Name: value`, e.g. -H \"X-Team: load\", found {s:?}"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err("the header name before `:` is empty; expected `Name: value`".into());
    }
    if k.contains('.') {
        return Err(format!(
            "`{k}`: header names with a dot cannot be given with -H; use `headers` in a scenario file"
        ));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

fn parse_cookie(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE, e.g. --cookie session=abc".to_string())?;
    if k.trim().is_empty() {
        return Err("the cookie name before `=` is empty; expected NAME=VALUE".into());
    }
    Ok((k.trim().to_string(), v.to_string()))
}

/// The flags as scenario overrides. `quote` turns a string into a TOML string.
pub fn overrides(a: &WireArgs, quote: impl Fn(&str) -> String) -> Vec<Override> {
    let mut o = handshake_overrides(&a.handshake, &quote);
    let mut add = |key: String, value: String, origin: String| o.push(Override { key, value, origin });
    let strings = [
        ("mode", &a.mode),
        ("template", &a.template),
        ("first_message", &a.first_message),
        ("correlate", &a.correlate),
        ("timestamp_field", &a.timestamp_field),
        ("timestamp_unit", &a.timestamp_unit),
        ("sequence_field", &a.sequence_field),
    ];
    for (key, v) in strings {
        if let Some(v) = v {
            add(key.into(), quote(v), format!("--{} {v}", key.replace('_', "-")));
        }
    }
    if let Some(p) = &a.messages_file {
        let p = p.display().to_string();
        add("messages_file".into(), quote(&p), format!("--messages-file {p}"));
    }
    o
}

/// The handshake flags as scenario overrides.
fn handshake_overrides(a: &HandshakeArgs, quote: &impl Fn(&str) -> String) -> Vec<Override> {
    let mut o = Vec::new();
    let mut add = |key: String, value: String, origin: String| o.push(Override { key, value, origin });
    for (k, v) in &a.headers {
        let shown = redact_header(k, v);
        add(format!("headers.{k}"), quote(v), format!("-H \"{k}: {shown}\""));
    }
    if !a.subprotocols.is_empty() {
        let list: Vec<String> = a.subprotocols.iter().map(|p| quote(p)).collect();
        add(
            "subprotocols".into(),
            format!("[{}]", list.join(", ")),
            "--subprotocol".into(),
        );
    }
    for (k, v) in &a.cookies {
        add(format!("cookies.{k}"), quote(v), format!("--cookie {k}=***"));
    }
    for (key, v) in [("origin", &a.origin), ("compression", &a.compression)] {
        if let Some(v) = v {
            add(key.into(), quote(v), format!("--{key} {v}"));
        }
    }
    o
}
