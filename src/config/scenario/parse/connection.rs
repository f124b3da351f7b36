//! The sections about connections: upgrade request options (headers, subprotocols, source
//! addresses), certificate checks (`[tls]`), the `[connection]` table, the ramp that opens connections and the reconnect policy.

use std::net::IpAddr;
use std::time::Duration;

use super::super::model::*;
use super::error::{error, Res};
use super::read::*;
use super::tree::Node;
use crate::config::target::Target;
use crate::config::units::fmt_dur;

/// Headers wsload writes itself in the upgrade request.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// An HTTP token (RFC 9110 `tchar`s): header names and subprotocols.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn read_headers(n: &Node, field: &str) -> Res<Vec<(String, String)>> {
    let t = Tab::new(
        n,
        field,
        "a table of header names and values such as { \"X-Test\" = \"1\" }",
    )?;
    let mut out = Vec::new();
    for e in t.entries {
        let f = format!("{field}.{:?}", e.key);
        if !is_token(&e.key) {
            return Err(error(
                &e.key_loc,
                &f,
                format!(
                    "`{}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                    e.key
                ),
            ));
        }
        let lower = e.key.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(error(
                &e.key_loc,
                &f,
                format!(
                    "wsload sends `{}` itself as part of the WebSocket upgrade; remove it",
                    e.key
                ),
            ));
        }
        if lower == "sec-websocket-protocol" {
            return Err(error(
                &e.key_loc,
                &f,
                "set the offered subprotocols with `subprotocols = [\"chat\"]` instead of this header",
            ));
        }
        let v = get_str(&e.node, &f, "a string header value")?;
        if v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(error(
                &e.node.loc,
                &f,
                "header values cannot contain control characters such as line breaks",
            ));
        }
        out.push((e.key.clone(), v));
    }
    Ok(out)
}

pub(super) fn read_subprotocols(n: &Node, field: &str) -> Res<Vec<String>> {
    get_str_list(
        n,
        field,
        "a list of strings such as [\"chat\"]",
        "a subprotocol name such as \"chat\"",
        |e, f, s| {
            if !is_token(&s) {
                return Err(error(
                    &e.loc,
                    f,
                    format!("`{s}` is not a valid subprotocol name (letters, digits and !#$%&'*+-.^_`|~ only)"),
                ));
            }
            Ok(s)
        },
    )
}

pub(super) fn read_source_ips(n: &Node, field: &str) -> Res<Vec<IpAddr>> {
    get_str_list(
        n,
        field,
        "a list of IP addresses such as [\"127.0.0.2\"]",
        "an IP address such as \"127.0.0.2\"",
        |e, f, s| {
            s.trim()
                .parse()
                .map_err(|_| out_of_range(e, f, "an IP address such as \"127.0.0.2\" or \"::1\""))
        },
    )
}

/// `[tls]`: a CA file to trust (read now, so a bad file is reported with its position) and
/// `insecure`. Only for wss:// targets.
pub(super) fn read_tls(n: &Node, target: Option<&Target>) -> Res<TlsOptions> {
    let t = Tab::new(n, "tls", "a table such as [tls] ca = \"certs/ca.pem\"")?;
    t.known(&["ca", "insecure"])?;
    let ca = t.opt("ca", |n, f| {
        let path = get_str(n, f, "a PEM file of CA certificates such as \"certs/ca.pem\"")?;
        crate::tls::read_certs(std::path::Path::new(&path)).map_err(|m| error(&n.loc, f, m))?;
        Ok(std::path::PathBuf::from(path))
    })?;
    let insecure = t.opt("insecure", get_bool)?.unwrap_or(false);
    if ca.is_some() || insecure {
        let key = if insecure { "insecure" } else { "ca" };
        let at = t.get(key).expect("set");
        match target {
            Some(tg) if tg.tls => {}
            Some(tg) => {
                let why = format!("certificate options apply to wss:// targets; the target is {tg}");
                return Err(error(&at.loc, &t.field(key), why));
            }
            None => {
                let why =
                    "certificate options apply to wss:// targets; the built-in server speaks ws:// (give a wss:// URL)";
                return Err(error(&at.loc, &t.field(key), why));
            }
        }
    }
    Ok(TlsOptions { ca, insecure })
}

/// `[connection]`: how long each connection lives before it is closed and reopened.
pub(super) fn read_connection(n: &Node, field: &str) -> Res<Option<Duration>> {
    let t = Tab::new(n, field, "a table such as [connection] lifetime = \"30s\"")?;
    t.known(&["lifetime"])?;
    t.opt("lifetime", get_positive_duration)
}

/// The kinds a ramp can be, before their fields are read.
#[derive(Clone, Copy, PartialEq)]
enum K {
    Burst,
    Linear,
    Exponential,
    Stepped,
}

const RAMP_KINDS: [(&str, K); 4] = [
    ("burst", K::Burst),
    ("linear", K::Linear),
    ("exponential", K::Exponential),
    ("stepped", K::Stepped),
];

pub(super) fn read_ramp(n: &Node, connections: u64) -> Res<(Ramp, Option<Duration>, TrafficStart)> {
    let t = Tab::new(n, "ramp", "a table such as [ramp] kind = \"linear\"")?;
    t.known(&[
        "kind", "rate", "start", "factor", "every", "step", "hold", "down", "traffic",
    ])?;
    let kind = t.choice("kind", "ramp kind", &RAMP_KINDS, Some(K::Burst))?;
    let own: &[&str] = match kind {
        K::Burst => &[],
        K::Linear => &["rate"],
        K::Exponential => &["start", "factor", "every"],
        K::Stepped => &["step", "hold"],
    };
    let owner = |k: &str| match k {
        "rate" => "linear",
        "start" | "factor" | "every" => "exponential",
        _ => "stepped",
    };
    t.only_kind(
        "ramp",
        name_of(&RAMP_KINDS, &kind),
        &["kind", "down", "traffic"],
        own,
        owner,
    )?;
    let ramp = match kind {
        K::Burst => Ramp::Burst,
        K::Linear => Ramp::Linear {
            per_s: t.need(
                "rate",
                "a linear ramp needs a rate of new connections, e.g. rate = \"1000/s\"",
                |n, f| get_positive_rate(n, f, ""),
            )?,
        },
        K::Exponential => read_exponential(&t, connections)?,
        K::Stepped => read_stepped(&t, connections)?,
    };
    let down = t.opt("down", get_positive_duration)?;
    let traffic = t.choice(
        "traffic",
        "traffic start",
        &[
            ("after-ramp", TrafficStart::AfterRamp),
            ("with-ramp", TrafficStart::WithRamp),
        ],
        Some(TrafficStart::AfterRamp),
    )?;
    Ok((ramp, down, traffic))
}

/// A count of connections, 1 or more.
fn count(n: &Node, f: &str) -> Res<u64> {
    get_int(n, f, 1, i64::MAX).map(|v| v as u64)
}

/// The count `v` set at `key` must not exceed the scenario's `connections`.
fn at_most_connections(t: &Tab, key: &str, v: u64, connections: u64) -> Res<()> {
    if v > connections {
        let n = t.get(key).expect("present");
        return Err(error(
            &n.loc,
            &t.field(key),
            format!("{v} is above connections ({connections}); use at most {connections}"),
        ));
    }
    Ok(())
}

/// `kind = "exponential"`: `start` connections, times `factor` every `every`.
fn read_exponential(t: &Tab, connections: u64) -> Res<Ramp> {
    let start = t.need(
        "start",
        "an exponential ramp needs a first number of connections, e.g. start = 100",
        count,
    )?;
    at_most_connections(t, "start", start, connections)?;
    let factor = t.need(
        "factor",
        "an exponential ramp needs a growth factor above 1, e.g. factor = 2.0",
        |n, f| get_float_where(n, f, "a number above 1 such as 2.0", |v| v > 1.0),
    )?;
    let every = t.need(
        "every",
        "an exponential ramp needs a growth interval, e.g. every = \"1s\"",
        get_positive_duration,
    )?;
    Ok(Ramp::Exponential { start, factor, every })
}

/// `kind = "stepped"`: `step` more connections every `hold`.
fn read_stepped(t: &Tab, connections: u64) -> Res<Ramp> {
    let step = t.need(
        "step",
        "a stepped ramp needs the connections added per step, e.g. step = 1000",
        count,
    )?;
    at_most_connections(t, "step", step, connections)?;
    let hold = t.need(
        "hold",
        "a stepped ramp needs how long each step holds, e.g. hold = \"2s\"",
        get_positive_duration,
    )?;
    Ok(Ramp::Stepped { step, hold })
}

pub(super) fn read_reconnect(n: &Node) -> Res<(Reconnect, Duration)> {
    let t = Tab::new(n, "reconnect", "a table such as [reconnect] policy = \"backoff\"")?;
    t.known(&["policy", "initial", "max", "factor", "jitter", "recovered_within"])?;
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Off,
        Immediate,
        Backoff,
    }
    let policies = [("off", P::Off), ("immediate", P::Immediate), ("backoff", P::Backoff)];
    let policy = t.choice("policy", "reconnect policy", &policies, Some(P::Off))?;
    let policy_name = name_of(&policies, &policy);
    if policy != P::Backoff {
        t.only(&["policy", "recovered_within"], |k| {
            format!(
                "`{k}` applies only to policy = \"backoff\"; the policy here is \"{policy_name}\"{}",
                t.default_note("policy")
            )
        })?;
    }
    let reconnect = match policy {
        P::Off => Reconnect::Off,
        P::Immediate => Reconnect::Immediate,
        P::Backoff => {
            let initial = t
                .opt("initial", get_positive_duration)?
                .unwrap_or(Duration::from_millis(100));
            let max = t.opt("max", get_positive_duration)?.unwrap_or(Duration::from_secs(5));
            if max < initial {
                let (node, key) = match t.get("max") {
                    Some(m) => (m, "max"),
                    None => (t.get("initial").expect("one of them was set"), "initial"),
                };
                return Err(error(
                    &node.loc,
                    &t.field(key),
                    format!(
                        "max ({}) is below initial ({}); the delay grows from initial up to max",
                        fmt_dur(max),
                        fmt_dur(initial)
                    ),
                ));
            }
            let factor = t
                .opt("factor", |n, f| {
                    get_float_where(n, f, "a number of 1 or more such as 2.0", |v| v >= 1.0)
                })?
                .unwrap_or(2.0);
            let jitter = t
                .opt("jitter", |n, f| {
                    get_float_where(n, f, "a fraction from 0 to 1 such as 0.2", |v| (0.0..=1.0).contains(&v))
                })?
                .unwrap_or(0.2);
            Reconnect::Backoff {
                initial,
                max,
                factor,
                jitter,
            }
        }
    };
    let within = t
        .opt("recovered_within", get_positive_duration)?
        .unwrap_or(Duration::from_secs(5));
    Ok((reconnect, within))
}
