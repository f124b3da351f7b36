//! Reads a scenario: a TOML file, then command-line overrides on top of it, into a validated
//! [`Scenario`].
//!
//! The document is first turned into a small tree of [`Node`]s, each remembering where it came
//! from (`FILE:LINE:COL`, or the override that set it). Overrides are applied to that tree, and a
//! reader then builds the typed scenario, checking every key against the ones it knows so a typo
//! is an error rather than a silently ignored setting. Only the first problem is reported, with
//! its location, the field as written in the file, what was expected and what was found.

mod connection;
mod describe;
mod error;
mod overrides;
mod payload;
mod proxy;
mod read;
#[cfg(test)]
mod tests;
mod traffic;
mod tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::ImDocument;

use super::model::*;
use crate::config::target::Target;
use connection::{
    read_connection, read_headers, read_ramp, read_reconnect, read_source_ips, read_subprotocols, read_tls,
};
pub use describe::describe;
pub use error::ScenarioError;
use error::{error, Res};
pub use overrides::Override;
use read::*;
use traffic::{read_faults, read_messages, read_phases, read_thresholds};
use tree::{apply, position, Node, Src};

/// Parse a scenario document. `name` is the file name used in messages. Overrides are applied on
/// top of the file, in order.
pub fn parse(name: &str, text: &str, overrides: &[Override]) -> Res<Scenario> {
    let doc = ImDocument::parse(text).map_err(|e| syntax_error(name, text, &e))?;
    let src = Src {
        name,
        text,
        fixed: false,
    };
    let mut root = src.table(doc.as_table(), name);
    for ov in overrides {
        apply(&mut root, ov)?;
    }
    // Files named in the scenario are found beside it.
    let base = match Path::new(name).parent() {
        Some(p) if name != "<command line>" => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    read_scenario(&root, &base)
}

/// The scenario an empty file describes: what every field is when nothing sets it.
impl Default for Scenario {
    fn default() -> Scenario {
        parse("", "", &[]).expect("the empty scenario is valid")
    }
}

/// Read and parse a file; `None` = an empty document (all defaults plus overrides, reported as
/// `<command line>`).
pub fn load(path: Option<&Path>, overrides: &[Override]) -> Res<Scenario> {
    match path {
        None => parse("<command line>", "", overrides),
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p)
                .map_err(|e| error(&name, "file", format!("cannot read the scenario file: {e}")))?;
            parse(&name, &text, overrides)
        }
    }
}

fn syntax_error(name: &str, text: &str, e: &toml_edit::TomlError) -> ScenarioError {
    let location = match e.span() {
        Some(span) => position(name, text, span.start),
        None => name.to_string(),
    };
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    error(&location, "TOML syntax", message)
}

// ---------------------------------------------------------------------------------------------
// The scenario: the top-level keys, each section read by its own module.

const TOP_KEYS: &[&str] = &[
    "name",
    "url",
    "connections",
    "headers",
    "subprotocols",
    "source_ips",
    "tls",
    "connect_timeout",
    "connect_concurrency",
    "max_frame",
    "drain",
    "rate",
    "in_flight",
    "duration",
    "size",
    "text",
    "template",
    "messages_file",
    "ramp",
    "phases",
    "messages",
    "connection",
    "reconnect",
    "faults",
    "proxy",
    "thresholds",
    "abort_on_fail",
];

fn read_scenario(root: &Node, base: &Path) -> Res<Scenario> {
    let top = Tab::new(root, "", "a table")?;
    let known: Vec<&str> = TOP_KEYS.iter().chain(payload::KEYS).copied().collect();
    top.known(&known)?;

    let max_frame = match top.get("max_frame") {
        Some(n) => {
            let v = get_bytes(n, "max_frame")?;
            if v == 0 {
                return Err(out_of_range(n, "max_frame", "a size above 0 such as \"16MiB\""));
            }
            v
        }
        None => 16 << 20,
    };
    let scenario_name = top.opt("name", |n, f| get_str(n, f, "a name in quotes such as \"peak-10k\""))?;
    let target = top.opt("url", |n, f| {
        let url = get_str(n, f, "a URL such as \"ws://127.0.0.1:9000/\"")?;
        Target::parse(&url).map_err(|m| error(&n.loc, f, m))
    })?;
    let connections = top
        .opt("connections", |n, f| get_int(n, f, 1, i64::MAX))?
        .unwrap_or(10_000) as u64;
    let mut headers = top.opt("headers", read_headers)?.unwrap_or_default();
    payload::read_origin_cookies(&top, &mut headers)?;
    let subprotocols = top.opt("subprotocols", read_subprotocols)?.unwrap_or_default();
    let source_ips = top.opt("source_ips", read_source_ips)?.unwrap_or_default();
    let tls = match top.get("tls") {
        Some(n) => read_tls(n, target.as_ref())?,
        None => TlsOptions::default(),
    };
    let connect_timeout = top
        .opt("connect_timeout", get_positive_duration)?
        .unwrap_or(Duration::from_secs(10));
    let connect_concurrency = top
        .opt("connect_concurrency", |n, f| get_int(n, f, 1, u32::MAX as i64))?
        .unwrap_or(256) as u32;
    let drain = top.opt("drain", get_duration)?.unwrap_or(Duration::from_secs(5));

    let (ramp, ramp_down, traffic_start) = match top.get("ramp") {
        Some(n) => read_ramp(n, connections)?,
        None => (Ramp::Burst, None, TrafficStart::AfterRamp),
    };
    let phases = read_phases(&top)?;
    let messages = read_messages(&top, max_frame, base)?;
    let (mode, compression, first_message, correlate, push) = payload::read_protocol(&top, &messages)?;

    let lifetime = top.opt("connection", read_connection)?.flatten();
    let (reconnect, recovered_within) = match top.get("reconnect") {
        Some(n) => read_reconnect(n)?,
        None => (Reconnect::Off, Duration::from_secs(5)),
    };
    let traffic_end = phases.last().map_or(Duration::ZERO, Phase::end);
    let faults = match top.get("faults") {
        Some(n) => read_faults(n, traffic_end)?,
        None => Vec::new(),
    };
    let proxy = match top.get("proxy") {
        Some(n) => Some(proxy::read_proxy(n, traffic_end)?),
        None => None,
    };
    let thresholds = top.opt("thresholds", read_thresholds)?.unwrap_or_default();
    let abort_on_fail = top.opt("abort_on_fail", get_bool)?.unwrap_or(false);

    Ok(Scenario {
        name: scenario_name,
        target,
        headers,
        subprotocols,
        source_ips,
        tls,
        connect_timeout,
        connect_concurrency,
        max_frame,
        connections,
        ramp,
        ramp_down,
        traffic_start,
        phases,
        messages,
        lifetime,
        reconnect,
        recovered_within,
        faults,
        proxy,
        thresholds,
        abort_on_fail,
        drain,
        mode,
        compression,
        first_message,
        correlate,
        push,
    })
}
