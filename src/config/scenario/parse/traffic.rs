//! The sections about traffic: phases (or their top-level shorthand), message types (or theirs),
//! faults and thresholds, with the checks between fields: phases may not overlap, sizes must fit
//! the stamp and `max_frame`, faults must start while traffic runs.

use std::path::Path;
use std::time::Duration;

use super::super::model::*;
use super::error::{error, Res};
use super::payload::{get_template, read_message_file};
use super::read::*;
use super::tree::{Node, Val};
use crate::config::units::{fmt_bytes, fmt_dur, fmt_rate};
use crate::proto::payload;

const SHORTHAND_PHASE: &[&str] = &["rate", "in_flight", "duration"];
const SHORTHAND_MESSAGE: &[&str] = &["size", "text", "template", "messages_file"];

/// The non-empty `[[key]]` list `list` (`default` names what its absence would give).
fn table_list<'a>(list: &'a Node, key: &str, default: &str) -> Res<&'a [Node]> {
    let items = get_list(list, key, &format!("a list of tables ([[{key}]])"))?;
    if items.is_empty() {
        return Err(error(
            &list.loc,
            key,
            format!("the list is empty; add at least one [[{key}]] table, or remove `{key}` for the {default}"),
        ));
    }
    Ok(items)
}

/// The `name` of element `i` of the `[[key]]` list must differ from the `earlier` ones; `what`
/// names the kind of element in the message.
fn unique_name<'a>(
    key: &str,
    what: &str,
    i: usize,
    n: &Node,
    name: &str,
    mut earlier: impl Iterator<Item = &'a str>,
) -> Res<()> {
    match earlier.position(|q| q == name) {
        Some(other) => Err(error(
            n.name_loc(),
            &format!("{key}[{i}].name"),
            format!("{what} name `{name}` is already used by {key}[{other}]; names must be unique"),
        )),
        None => Ok(()),
    }
}

pub(super) fn read_phases(top: &Tab) -> Res<Vec<Phase>> {
    if let Some(list) = top.get("phases") {
        for key in SHORTHAND_PHASE {
            if let Some(e) = top.entry(key) {
                let example = if *key == "in_flight" {
                    "--set phases.0.window=16".to_string()
                } else {
                    format!("--set phases.0.{key}=5{}", if *key == "rate" { "" } else { "s" })
                };
                let inside = if *key == "in_flight" {
                    "use kind = \"in-flight\" with `window` inside a phase".to_string()
                } else {
                    format!("set it inside a phase (e.g. {example})")
                };
                return Err(error(
                    &e.key_loc,
                    key,
                    format!("`{key}` describes a single phase and cannot be combined with [[phases]]; {inside}"),
                ));
            }
        }
        let items = table_list(list, "phases", "default phase")?;
        let mut phases: Vec<Phase> = Vec::new();
        for (i, n) in items.iter().enumerate() {
            let p = read_phase(n, i, phases.last())?;
            unique_name("phases", "phase", i, n, &p.name, phases.iter().map(|q| q.name.as_str()))?;
            phases.push(p);
        }
        return Ok(phases);
    }

    let rate = top.opt("rate", get_rate)?;
    let window = top.opt("in_flight", |n, f| get_int(n, f, 1, u32::MAX as i64))?;
    if let (Some(_), Some(_)) = (rate, window) {
        let e = top.entry("in_flight").expect("present");
        return Err(error(
            &e.key_loc,
            "in_flight",
            "`in_flight` cannot be combined with `rate`: `rate` sends on a schedule, `in_flight` keeps a window of \
             messages outstanding; remove one of them",
        ));
    }
    let duration = top
        .opt("duration", get_positive_duration)?
        .unwrap_or(Duration::from_secs(10));
    let kind = match (window, rate) {
        (Some(w), _) => PhaseKind::InFlight { window: w as u32 },
        (None, Some(r)) if r <= 0.0 => PhaseKind::Idle,
        (None, r) => PhaseKind::Sustained { rate: r.unwrap_or(1.0) },
    };
    Ok(vec![Phase {
        name: "main".to_string(),
        start: Duration::ZERO,
        duration,
        kind,
    }])
}

const PHASE_KEYS: &[&str] = &[
    "name",
    "kind",
    "duration",
    "at",
    "rate",
    "burst_rate",
    "burst_for",
    "every",
    "from",
    "to",
    "window",
];

/// The kinds a phase can be, before their fields are read.
#[derive(Clone, Copy, PartialEq)]
enum K {
    Sustained,
    Burst,
    Ramp,
    Idle,
    InFlight,
}

const PHASE_KINDS: [(&str, K); 5] = [
    ("sustained", K::Sustained),
    ("burst", K::Burst),
    ("ramp", K::Ramp),
    ("idle", K::Idle),
    ("in-flight", K::InFlight),
];

fn read_phase(n: &Node, i: usize, prev: Option<&Phase>) -> Res<Phase> {
    let path = format!("phases[{i}]");
    let t = Tab::new(n, &path, "a table ([[phases]])")?;
    t.known(PHASE_KEYS)?;
    let kind = t.choice("kind", "phase kind", &PHASE_KINDS, None)?;
    only_keys_of(&t, kind)?;
    let name = t
        .opt("name", |n, f| get_str(n, f, "a name in quotes such as \"warm\""))?
        .unwrap_or_else(|| format!("phase-{}", i + 1));
    let duration = t.need(
        "duration",
        "every phase needs a duration, e.g. duration = \"30s\"",
        get_positive_duration,
    )?;
    let start = phase_start(&t, prev)?;
    let kind = match kind {
        K::Sustained => PhaseKind::Sustained {
            rate: t.need(
                "rate",
                "a sustained phase needs a rate per connection, e.g. rate = \"5/s\"",
                |n, f| get_positive_rate(n, f, " (use kind = \"idle\" for no traffic)"),
            )?,
        },
        K::Burst => read_burst(&t)?,
        K::Ramp => read_rate_ramp(&t)?,
        K::Idle => PhaseKind::Idle,
        K::InFlight => PhaseKind::InFlight {
            window: t.need(
                "window",
                "an in-flight phase needs the messages outstanding per connection, e.g. window = 16",
                |n, f| get_int(n, f, 1, u32::MAX as i64),
            )? as u32,
        },
    };
    Ok(Phase {
        name,
        start,
        duration,
        kind,
    })
}

/// Keys of other kinds of phase are errors that name the kind they belong to.
fn only_keys_of(t: &Tab, kind: K) -> Res<()> {
    let own: &[&str] = match kind {
        K::Sustained => &["rate"],
        K::Burst => &["rate", "burst_rate", "burst_for", "every"],
        K::Ramp => &["from", "to"],
        K::Idle => &[],
        K::InFlight => &["window"],
    };
    let owner = |k: &str| match k {
        "rate" => "sustained\" or \"burst",
        "burst_rate" | "burst_for" | "every" => "burst",
        "from" | "to" => "ramp",
        _ => "in-flight",
    };
    let kind_name = name_of(&PHASE_KINDS, &kind);
    t.only_kind("phase", kind_name, &["name", "kind", "duration", "at"], own, owner)
}

/// `at`, which must not overlap the previous phase; by default the previous phase's end.
fn phase_start(t: &Tab, prev: Option<&Phase>) -> Res<Duration> {
    let prev_end = prev.map_or(Duration::ZERO, Phase::end);
    let Some(an) = t.get("at") else {
        return Ok(prev_end);
    };
    let at = get_duration(an, &t.field("at"))?;
    if let Some(p) = prev.filter(|_| at < prev_end) {
        return Err(error(
            &an.loc,
            &t.field("at"),
            format!(
                "starts at {}, which overlaps phase `{}` which runs until {}; use at = \"{}\" or later",
                fmt_dur(at),
                p.name,
                fmt_dur(prev_end),
                fmt_dur(prev_end)
            ),
        ));
    }
    Ok(at)
}

/// `kind = "burst"`: a base rate, a higher burst rate, and bursts shorter than their period.
fn read_burst(t: &Tab) -> Res<PhaseKind> {
    let rate = t.need(
        "rate",
        "a burst phase needs a base rate per connection, e.g. rate = \"5/s\"",
        get_rate,
    )?;
    let (burst_rate, bn) = t.need_node(
        "burst_rate",
        "a burst phase needs the rate during bursts, e.g. burst_rate = \"50/s\"",
        get_rate,
    )?;
    if burst_rate <= rate {
        return Err(out_of_range(
            bn,
            &t.field("burst_rate"),
            &format!("burst_rate above the base `rate` ({})", fmt_rate(rate)),
        ));
    }
    let (burst_for, fnode) = t.need_node(
        "burst_for",
        "a burst phase needs how long each burst lasts, e.g. burst_for = \"2s\"",
        get_positive_duration,
    )?;
    let every = t.need(
        "every",
        "a burst phase needs how often bursts start, e.g. every = \"10s\"",
        get_positive_duration,
    )?;
    if burst_for >= every {
        return Err(out_of_range(
            fnode,
            &t.field("burst_for"),
            &format!("burst_for shorter than `every` ({})", fmt_dur(every)),
        ));
    }
    Ok(PhaseKind::Burst {
        rate,
        burst_rate,
        burst_for,
        every,
    })
}

/// `kind = "ramp"`: a rate that changes from `from` to `to`.
fn read_rate_ramp(t: &Tab) -> Res<PhaseKind> {
    let from = t.need(
        "from",
        "a ramp phase needs a starting rate, e.g. from = \"1/s\"",
        get_rate,
    )?;
    let (to, tn) = t.need_node("to", "a ramp phase needs an ending rate, e.g. to = \"10/s\"", get_rate)?;
    if from == to {
        return Err(error(
            &tn.loc,
            &t.field("to"),
            format!(
                "`from` and `to` are both {}; a ramp must change the rate (use kind = \"sustained\" for a constant rate)",
                fmt_rate(to)
            ),
        ));
    }
    Ok(PhaseKind::Ramp { from, to })
}

pub(super) fn read_messages(top: &Tab, max_frame: u64, base: &Path) -> Res<Vec<MessageType>> {
    match top.get("messages") {
        Some(list) => read_message_list(top, list, max_frame, base),
        None => read_default_message(top, max_frame, base),
    }
}

/// `[[messages]]`: several weighted types, which the single-type keys cannot be mixed with.
fn read_message_list(top: &Tab, list: &Node, max_frame: u64, base: &Path) -> Res<Vec<MessageType>> {
    for key in SHORTHAND_MESSAGE {
        if let Some(e) = top.entry(key) {
            let example = match *key {
                "size" => "size = 64",
                "text" => "type = \"text\"",
                "template" => "template = '{\"id\":{seq}}'",
                _ => "file = \"messages.jsonl\"",
            };
            return Err(error(
                &e.key_loc,
                key,
                format!(
                    "`{key}` describes a single message type and cannot be combined with [[messages]]; \
                     set it inside a message type instead ({example})"
                ),
            ));
        }
    }
    let items = table_list(list, "messages", "default type")?;
    let mut out: Vec<MessageType> = Vec::new();
    for (i, n) in items.iter().enumerate() {
        let m = read_message(n, i, max_frame, base)?;
        if let Some(first) = out.first() {
            if first.templates.is_empty() != m.templates.is_empty() {
                return Err(error(
                    &n.loc,
                    &format!("messages[{i}]"),
                    "either every message type has a template (or file) or none has: \
                     replies to templates are matched by `correlate`, stamped ones by their stamp",
                ));
            }
        }
        unique_name(
            "messages",
            "message",
            i,
            n,
            &m.name,
            out.iter().map(|q| q.name.as_str()),
        )?;
        out.push(m);
    }
    if out.iter().all(|m| m.weight == 0) {
        return Err(error(
            &list.loc,
            "messages",
            "the weights add up to 0, so no message would ever be sent; give at least one type a weight above 0",
        ));
    }
    Ok(out)
}

/// One message type from the top-level keys (`size`, `text`, `template`, `messages_file`).
fn read_default_message(top: &Tab, max_frame: u64, base: &Path) -> Res<Vec<MessageType>> {
    let templates = read_templates(top, "messages_file", base)?;
    if !templates.is_empty() {
        let text = top.opt("text", get_bool)?.unwrap_or(true);
        return Ok(vec![templated("default".into(), 1, text, templates)]);
    }
    let text = top.opt("text", get_bool)?.unwrap_or(false);
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    let size = match top.get("size") {
        Some(n) => check_size(n, "size", kind, max_frame)?,
        None => default_size(top, kind, max_frame)?,
    };
    Ok(vec![MessageType {
        name: "default".to_string(),
        weight: 1,
        kind,
        size: SizeDist::Fixed(size),
        templates: Vec::new(),
    }])
}

/// The templates of table `t`: one from `template`, or a file of them from `file_key`, not both;
/// none when neither is set. A templated message takes its size from the template, so `size`
/// is refused beside them.
fn read_templates(t: &Tab, file_key: &str, base: &Path) -> Res<Vec<Template>> {
    let templates = match (t.get("template"), t.get(file_key)) {
        (Some(_), Some(_)) => {
            let e = t.entry(file_key).expect("present");
            return Err(error(
                &e.key_loc,
                &t.field(file_key),
                format!("give `template` or `{file_key}`, not both"),
            ));
        }
        (Some(n), None) => vec![get_template(n, &t.field("template"))?],
        (None, Some(n)) => read_message_file(n, &t.field(file_key), base)?,
        (None, None) => Vec::new(),
    };
    if let Some(e) = t.entry("size").filter(|_| !templates.is_empty()) {
        return Err(error(
            &e.key_loc,
            &t.field("size"),
            "a templated message is as long as its filled template; remove `size`",
        ));
    }
    Ok(templates)
}

/// A message type whose bodies come from `templates`; its size is the first one's typical length.
fn templated(name: String, weight: u32, text: bool, templates: Vec<Template>) -> MessageType {
    MessageType {
        name,
        weight,
        kind: if text { MessageKind::Text } else { MessageKind::Binary },
        size: SizeDist::Fixed(templates[0].typical_len()),
        templates,
    }
}

fn read_message(n: &Node, i: usize, max_frame: u64, base: &Path) -> Res<MessageType> {
    let path = format!("messages[{i}]");
    let t = Tab::new(n, &path, "a table ([[messages]])")?;
    t.known(&["name", "weight", "type", "size", "template", "file"])?;
    let name = t
        .opt("name", |n, f| get_str(n, f, "a name in quotes such as \"warm\""))?
        .unwrap_or_else(|| format!("type-{}", i + 1));
    let weight = t.opt("weight", |n, f| get_int(n, f, 0, u32::MAX as i64))?.unwrap_or(1) as u32;
    let templates = read_templates(&t, "file", base)?;
    if !templates.is_empty() {
        let kind = t.choice(
            "type",
            "message type for a template",
            &[("text", MessageKind::Text), ("binary", MessageKind::Binary)],
            Some(MessageKind::Text),
        )?;
        return Ok(templated(name, weight, kind == MessageKind::Text, templates));
    }
    let kind = t.choice(
        "type",
        "message type",
        &[
            ("binary", MessageKind::Binary),
            ("text", MessageKind::Text),
            ("ping", MessageKind::Ping),
        ],
        Some(MessageKind::Binary),
    )?;
    let size = match t.get("size") {
        None => SizeDist::Fixed(default_size(&t, kind, max_frame)?),
        Some(sn) => read_size_dist(sn, &t.field("size"), kind, max_frame)?,
    };
    Ok(MessageType {
        name,
        weight,
        kind,
        size,
        templates: Vec::new(),
    })
}

/// `size`: one size, a list to pick from, or `{ min, max }` for a uniform spread.
fn read_size_dist(sn: &Node, f: &str, kind: MessageKind, max_frame: u64) -> Res<SizeDist> {
    match &sn.val {
        Val::List(items) => {
            if items.is_empty() {
                return Err(error(
                    &sn.loc,
                    f,
                    "the list of sizes is empty; give at least one, e.g. size = [64, 256]",
                ));
            }
            let sizes = items
                .iter()
                .enumerate()
                .map(|(j, e)| check_size(e, &format!("{f}[{j}]"), kind, max_frame))
                .collect::<Res<Vec<_>>>()?;
            Ok(SizeDist::List(sizes))
        }
        Val::Table(_) => {
            let st = Tab::new(sn, f, "a table")?;
            st.known(&["min", "max"])?;
            let hint = "a uniform size needs both bounds, e.g. size = { min = 64, max = 1024 }";
            let minn = st.req("min", hint)?;
            let maxn = st.req("max", hint)?;
            let min = check_size(minn, &st.field("min"), kind, max_frame)?;
            let max = check_size(maxn, &st.field("max"), kind, max_frame)?;
            if min > max {
                return Err(out_of_range(
                    maxn,
                    &st.field("max"),
                    &format!("max at least `min` ({min})"),
                ));
            }
            Ok(SizeDist::Uniform { min, max })
        }
        _ => Ok(SizeDist::Fixed(check_size(sn, f, kind, max_frame)?)),
    }
}

fn check_size(n: &Node, field: &str, kind: MessageKind, max_frame: u64) -> Res<usize> {
    let v = get_bytes(n, field)?;
    check_size_value(v, &n.loc, &n.raw, field, kind, max_frame)
}

/// The size of a message type that sets none (64 bytes), checked as if written in table `t`.
fn default_size(t: &Tab, kind: MessageKind, max_frame: u64) -> Res<usize> {
    check_size_value(64, t.loc, "64 (the default size)", &t.field("size"), kind, max_frame)
}

/// Sizes must hold the stamp, fit a ping's control frame, and not exceed `max_frame`.
/// `loc` and `found` say where the size is and how it was written.
fn check_size_value(v: u64, loc: &str, found: &str, field: &str, kind: MessageKind, max_frame: u64) -> Res<usize> {
    let fail = |what: String| error(loc, field, format!("expected {what}, found {found}"));
    let (min, what) = match kind {
        MessageKind::Binary => (payload::min_size(false), "binary message"),
        MessageKind::Text => (payload::min_size(true), "text message"),
        MessageKind::Ping => (payload::min_size(false), "ping"),
    };
    if (v as usize) < min || v > usize::MAX as u64 {
        let unit = if kind == MessageKind::Text { "character" } else { "byte" };
        return Err(fail(format!(
            "at least {min} bytes for a {what} (it carries a {min}-{unit} stamp)"
        )));
    }
    if kind == MessageKind::Ping && v > 125 {
        return Err(fail(
            "at most 125 bytes for a ping (the control frame limit)".to_string(),
        ));
    }
    if v > max_frame {
        return Err(error(
            loc,
            field,
            format!(
                "{} is above max_frame ({}): raise max_frame or send smaller messages",
                fmt_bytes(v as f64),
                fmt_bytes(max_frame as f64)
            ),
        ));
    }
    Ok(v as usize)
}

pub(super) fn read_faults(n: &Node, traffic_end: Duration) -> Res<Vec<Fault>> {
    let items = get_list(n, "faults", "a list of tables ([[faults]])")?;
    let kinds: Vec<(&str, FaultKind)> = FaultKind::ALL.iter().map(|k| (k.key(), *k)).collect();
    let mut out = Vec::new();
    for (i, fnode) in items.iter().enumerate() {
        let t = Tab::new(fnode, &format!("faults[{i}]"), "a table ([[faults]])")?;
        t.known(&["kind", "at", "every", "fraction", "for"])?;
        let kind = t.choice("kind", "fault kind", &kinds, None)?;
        if !kind.lasts() {
            t.only(&["kind", "at", "every", "fraction"], |k| {
                format!(
                    "`{k}` applies only to half-open and pause faults; a {} fault happens at an instant",
                    kind.key()
                )
            })?;
        }
        let an = t.req(
            "at",
            "when the fault first happens, from the start of traffic, e.g. at = \"10s\"",
        )?;
        let at = get_duration(an, &t.field("at"))?;
        starts_in_traffic(an, &t.field("at"), at, traffic_end, "faults")?;
        let every = t.opt("every", get_positive_duration)?;
        let fraction = t
            .opt("fraction", |n, f| {
                get_float_where(n, f, "a fraction above 0 and at most 1 such as 0.1", |v| {
                    v > 0.0 && v <= 1.0
                })
            })?
            .unwrap_or(1.0);
        let lasting = if kind.lasts() {
            let hint = format!("a {} fault needs how long it lasts, e.g. for = \"2s\"", kind.key());
            Some(t.need("for", &hint, get_positive_duration)?)
        } else {
            None
        };
        out.push(Fault {
            kind,
            at,
            every,
            fraction,
            lasting,
        });
    }
    Ok(out)
}

pub(super) fn read_thresholds(n: &Node, field: &str) -> Res<Vec<String>> {
    get_str_list(
        n,
        field,
        "a list of strings such as [\"latency.p99 < 200ms\"]",
        "a threshold such as \"latency.p99 < 200ms\"",
        |e, f, s| {
            super::super::thresholds::check(&s).map_err(|m| error(&e.loc, f, m))?;
            Ok(s)
        },
    )
}
