//! What travels on the connections beyond wsload's own stamped messages: the
//! mode (echo or subscribe), compression, message templates and files, the
//! first message, how replies are matched to requests, and the fields read
//! from pushed messages. Also `origin` and `cookies`, which become headers.

use std::path::Path;

use super::super::model::*;
use super::error::{error, Res};
use super::read::*;
use super::tree::Node;
use crate::proto::jsonptr::Pointer;

/// Top-level keys read here.
pub(super) const KEYS: &[&str] = &[
    "origin",
    "cookies",
    "mode",
    "compression",
    "first_message",
    "correlate",
    "timestamp_field",
    "timestamp_unit",
    "sequence_field",
];

/// `origin` and `cookies` as upgrade headers, added to `headers` (which may not set them too).
pub(super) fn read_origin_cookies(top: &Tab, headers: &mut Vec<(String, String)>) -> Res<()> {
    let clash = |key: &str, header: &str, headers: &[(String, String)]| -> Res<()> {
        match (
            top.entry(key),
            headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(header)),
        ) {
            (Some(e), true) => Err(error(
                &e.key_loc,
                key,
                format!("`{header}` is also set in `headers`; keep one of them"),
            )),
            _ => Ok(()),
        }
    };
    clash("origin", "Origin", headers)?;
    clash("cookies", "Cookie", headers)?;
    if let Some(o) = top.opt("origin", |n, f| {
        let v = get_str(n, f, "an origin such as \"https://app.example.com\"")?;
        if v.is_empty() || v.bytes().any(|b| b < 0x21 || b == 0x7f) {
            return Err(expected(
                n,
                f,
                "an origin such as \"https://app.example.com\" (no spaces)",
            ));
        }
        Ok(v)
    })? {
        headers.push(("Origin".into(), o));
    }
    if let Some(n) = top.get("cookies") {
        let f = top.field("cookies");
        let t = Tab::new(
            n,
            &f,
            "a table of cookie names and values such as { session = \"abc\" }",
        )?;
        let mut pairs = Vec::new();
        for e in t.entries {
            let cf = format!("{f}.{}", e.key);
            let bad_name = e.key.is_empty()
                || e.key
                    .bytes()
                    .any(|b| b"=; ,\t\"".contains(&b) || !(0x21..=0x7e).contains(&b));
            if bad_name {
                return Err(error(
                    &e.key_loc,
                    &cf,
                    format!("`{}` is not a valid cookie name", e.key),
                ));
            }
            let v = get_str(&e.node, &cf, "a cookie value in quotes")?;
            if v.bytes().any(|b| b == b';' || b < 0x20 || b == 0x7f) {
                return Err(error(
                    &e.node.loc,
                    &cf,
                    "cookie values cannot contain `;` or control characters",
                ));
            }
            pairs.push(format!("{}={v}", e.key));
        }
        if !pairs.is_empty() {
            headers.push(("Cookie".into(), pairs.join("; ")));
        }
    }
    Ok(())
}

/// A template string, compiled; errors point into the string.
pub(super) fn get_template(n: &Node, field: &str) -> Res<Template> {
    let s = get_str(n, field, "a message template in quotes such as '{\"id\":{seq}}'")?;
    Template::compile(&s).map_err(|m| error(&n.loc, field, format!("template {m}")))
}

/// A file of messages: one template per line (blank lines skipped), used in turn. A relative
/// path is taken from the scenario file's directory (from the current directory when it was
/// given on the command line).
pub(super) fn read_message_file(n: &Node, field: &str, base: &Path) -> Res<Vec<Template>> {
    let s = get_str(n, field, "a file name in quotes such as \"messages.jsonl\"")?;
    let path = if n.set {
        Path::new(&s).to_path_buf()
    } else {
        base.join(&s)
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        error(
            &n.loc,
            field,
            format!("cannot read the messages file {}: {e}", path.display()),
        )
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let t = Template::compile(line)
            .map_err(|m| error(&format!("{}:{}", path.display(), i + 1), field, format!("template {m}")))?;
        out.push(t);
    }
    if out.is_empty() {
        return Err(error(
            &n.loc,
            field,
            format!("{} holds no messages (one per line)", path.display()),
        ));
    }
    Ok(out)
}

fn get_pointer(n: &Node, field: &str) -> Res<Pointer> {
    let s = get_str(n, field, "a JSON pointer in quotes such as \"/id\"")?;
    Pointer::parse(&s).map_err(|m| error(&n.loc, field, m))
}

/// The protocol settings: (mode, compression, first message, correlation, pushed fields).
pub(super) fn read_protocol(
    top: &Tab,
    messages: &[MessageType],
) -> Res<(Mode, bool, Option<Template>, Correlate, PushFields)> {
    let mode = top.choice(
        "mode",
        "mode",
        &[("echo", Mode::Echo), ("subscribe", Mode::Subscribe)],
        Some(Mode::Echo),
    )?;
    let compression = top.choice(
        "compression",
        "compression",
        &[("none", false), ("deflate", true)],
        Some(false),
    )?;
    let first_message = top.opt("first_message", get_template)?;
    let templated = messages.iter().any(|m| !m.templates.is_empty());
    let correlate = match top.get("correlate") {
        None if templated => Correlate::Fifo,
        None => Correlate::Stamp,
        Some(n) => read_correlate(n, &top.field("correlate"), messages, mode)?,
    };
    let push = read_push(top, mode)?;
    Ok((mode, compression, first_message, correlate, push))
}

/// `correlate`: how replies are matched to what was sent: by stamp, in order (`fifo`), or by the
/// id at a JSON pointer; each only for the messages it can match.
fn read_correlate(n: &Node, f: &str, messages: &[MessageType], mode: Mode) -> Res<Correlate> {
    let templated = messages.iter().any(|m| !m.templates.is_empty());
    let s = get_str(n, f, "\"stamp\", \"fifo\" or a JSON pointer such as \"/id\"")?;
    let c = match s.as_str() {
        "stamp" => Correlate::Stamp,
        "fifo" => Correlate::Fifo,
        _ if s.starts_with('/') => Correlate::Pointer(get_pointer(n, f)?),
        _ => {
            return Err(error(
                &n.loc,
                f,
                format!("expected \"stamp\", \"fifo\" or a JSON pointer such as \"/id\", found {s:?}"),
            ))
        }
    };
    match (&c, templated) {
        (Correlate::Stamp, true) => {
            return Err(error(
                &n.loc,
                f,
                "templated messages carry no stamp; use \"fifo\" or the JSON pointer of the reply's id",
            ))
        }
        (Correlate::Fifo | Correlate::Pointer(_), false) if mode == Mode::Echo => {
            return Err(error(
                &n.loc,
                f,
                "only templated messages (`template` or `messages_file`) are matched this way; \
                 stamped messages are matched by their stamp",
            ))
        }
        _ => {}
    }
    if let (Correlate::Pointer(_), false) = (&c, messages.iter().all(|m| m.templates.iter().all(|t| t.uses_seq()))) {
        return Err(error(
            &n.loc,
            f,
            "matching replies by id needs `{seq}` in every template (the id the server sends back)",
        ));
    }
    Ok(c)
}

/// Where pushed messages carry their timestamp and sequence number (subscribe mode only).
fn read_push(top: &Tab, mode: Mode) -> Res<PushFields> {
    let unit = top.choice(
        "timestamp_unit",
        "time unit",
        &[
            ("us", TimeUnit::Us),
            ("ms", TimeUnit::Ms),
            ("ns", TimeUnit::Ns),
            ("s", TimeUnit::S),
        ],
        Some(TimeUnit::Us),
    )?;
    let push = PushFields {
        timestamp: top.opt("timestamp_field", get_pointer)?,
        unit,
        sequence: top.opt("sequence_field", get_pointer)?,
    };
    if mode == Mode::Echo {
        for key in ["timestamp_field", "sequence_field"] {
            if let Some(e) = top.entry(key) {
                return Err(error(
                    &e.key_loc,
                    key,
                    "read from pushed messages, so it needs mode = \"subscribe\"",
                ));
            }
        }
    }
    Ok(push)
}
