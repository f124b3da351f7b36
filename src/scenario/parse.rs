//! Reads a scenario: a TOML file, then command-line overrides on top of it, into a validated
//! [`Scenario`].
//!
//! The document is first turned into a small tree of [`Node`]s, each remembering where it came
//! from (`FILE:LINE:COL`, or the override that set it). Overrides are applied to that tree, and a
//! reader then builds the typed scenario, checking every key against the ones it knows so a typo
//! is an error rather than a silently ignored setting. Only the first problem is reported, with
//! its location, the field as written in the file, what was expected and what was found.

use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml_edit::{ImDocument, Item, Key, Value};

use super::model::*;
use crate::config::target::Target;
use crate::config::units::{parse_bytes, parse_duration, parse_rate};
use crate::proto::payload;

/// A value set from the command line: `--set key=value`, or a run flag such as `--rate 5`
/// translated into the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Dotted path; numeric parts index lists: `phases.0.rate`.
    pub key: String,
    /// Parsed as a TOML value when it is one (`5`, `true`, `[1, 2]`, `"x"`), else taken as a string.
    pub value: String,
    /// What the user typed, used as the location of errors: `--set rate=5`, `--rate 5`.
    pub origin: String,
}

impl Override {
    /// Parse `key=value` from `--set` (origin becomes `--set key=value`).
    pub fn from_set(arg: &str) -> Result<Override, String> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!(
                "`--set {arg}`: expected key=value, e.g. --set connections=20000 or --set phases.0.rate=5/s"
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!(
                "`--set {arg}`: the key before `=` is empty; expected key=value, e.g. --set connections=20000"
            ));
        }
        Ok(Override {
            key: key.to_string(),
            value: value.to_string(),
            origin: format!("--set {arg}"),
        })
    }
}

/// One problem with a scenario: where, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// `FILE:LINE:COL` for values from the file, the override's origin for overridden values,
    /// `FILE` (or its table's location) for things missing from the file.
    pub location: String,
    /// The field as spelled in the file, with 0-based indexes: `phases[1].rate`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.field, self.message)
    }
}

impl std::error::Error for ScenarioError {}

type Res<T> = Result<T, ScenarioError>;

fn error(location: &str, field: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        location: location.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parse a scenario document. `name` is the file name used in messages. Overrides are applied on
/// top of the file, in order.
pub fn parse(name: &str, text: &str, overrides: &[Override]) -> Res<Scenario> {
    let doc = ImDocument::parse(text).map_err(|e| syntax_error(name, text, &e))?;
    let src = Src {
        name,
        text,
        fixed: false,
    };
    let mut root = src.table(
        doc.as_table().iter().map(|(k, _)| k),
        |k| doc.as_table().get_key_value(k),
        name,
    );
    for ov in overrides {
        apply(&mut root, ov)?;
    }
    read_scenario(&root)
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

/// `NAME:LINE:COL`, 1-based, the column counted in characters.
fn position(name: &str, text: &str, offset: usize) -> String {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{name}:{line}:{col}")
}

// ---------------------------------------------------------------------------------------------
// The tree: values with their origins.

#[derive(Debug, Clone)]
struct Node {
    /// Where the value is: `FILE:LINE:COL`, or an override's origin.
    loc: String,
    /// The value as written, for "found ..." in messages.
    raw: String,
    /// Set by an override: a scalar is also accepted where a string is expected (`--set name=2024`).
    set: bool,
    val: Val,
}

#[derive(Debug, Clone)]
enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date,
    List(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    /// Where the key is written (unknown-field and conflict errors point here).
    key_loc: String,
    node: Node,
}

impl Node {
    fn table(loc: &str, set: bool) -> Node {
        Node {
            loc: loc.to_string(),
            raw: String::new(),
            set,
            val: Val::Table(Vec::new()),
        }
    }

    /// "a string (\"abc\")", "a float (1.5)", "a table": what was found, for type errors.
    fn found(&self) -> String {
        match &self.val {
            Val::Str(s) => format!("a string ({s:?})"),
            Val::Int(_) => format!("an integer ({})", self.raw),
            Val::Float(_) => format!("a float ({})", self.raw),
            Val::Bool(_) => format!("a boolean ({})", self.raw),
            Val::Date => format!("a date ({})", self.raw),
            Val::List(_) => "a list".to_string(),
            Val::Table(_) => "a table".to_string(),
        }
    }

    fn type_name(&self) -> &'static str {
        match &self.val {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Bool(_) => "a boolean",
            Val::Date => "a date",
            Val::List(_) => "a list",
            Val::Table(_) => "a table",
        }
    }
}

/// Where nodes come from: the file (positions from spans) or one override (`fixed`: every node
/// is located at the override's origin, passed as `name`).
struct Src<'a> {
    name: &'a str,
    text: &'a str,
    fixed: bool,
}

impl Src<'_> {
    fn loc(&self, span: Option<Range<usize>>, fallback: &str) -> String {
        match span {
            Some(s) if !self.fixed => position(self.name, self.text, s.start),
            _ if self.fixed => self.name.to_string(),
            _ => fallback.to_string(),
        }
    }

    fn raw(&self, span: Option<Range<usize>>, v: &Value) -> String {
        match span.and_then(|s| self.text.get(s)) {
            Some(r) => r.trim().to_string(),
            None => v.to_string().trim().to_string(),
        }
    }

    fn table<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
        get: impl Fn(&str) -> Option<(&'k Key, &'k Item)>,
        loc: &str,
    ) -> Node {
        let mut entries = Vec::new();
        for k in keys {
            let Some((key, item)) = get(k) else { continue };
            let key_loc = self.loc(key.span(), loc);
            let node = self.item(item, &key_loc);
            entries.push(Entry {
                key: k.to_string(),
                key_loc,
                node,
            });
        }
        Node {
            loc: loc.to_string(),
            raw: String::new(),
            set: self.fixed,
            val: Val::Table(entries),
        }
    }

    fn item(&self, item: &Item, fallback: &str) -> Node {
        match item {
            Item::Value(v) => self.value(v, fallback),
            Item::Table(t) => {
                let loc = self.loc(t.span(), fallback);
                self.table(t.iter().map(|(k, _)| k), |k| t.get_key_value(k), &loc)
            }
            Item::ArrayOfTables(a) => {
                let first = a.get(0).and_then(|t| t.span());
                let loc = self.loc(a.span().or(first), fallback);
                let items = a
                    .iter()
                    .map(|t| {
                        let l = self.loc(t.span(), &loc);
                        self.table(t.iter().map(|(k, _)| k), |k| t.get_key_value(k), &l)
                    })
                    .collect();
                Node {
                    loc,
                    raw: String::new(),
                    set: self.fixed,
                    val: Val::List(items),
                }
            }
            Item::None => Node::table(fallback, self.fixed),
        }
    }

    fn value(&self, v: &Value, fallback: &str) -> Node {
        let loc = self.loc(v.span(), fallback);
        let raw = self.raw(v.span(), v);
        let val = match v {
            Value::String(s) => Val::Str(s.value().clone()),
            Value::Integer(i) => Val::Int(*i.value()),
            Value::Float(f) => Val::Float(*f.value()),
            Value::Boolean(b) => Val::Bool(*b.value()),
            Value::Datetime(_) => Val::Date,
            Value::Array(a) => Val::List(a.iter().map(|e| self.value(e, &loc)).collect()),
            Value::InlineTable(t) => {
                return self.table(t.iter().map(|(k, _)| k), |k| t.get_key_value(k), &loc);
            }
        };
        Node {
            loc,
            raw,
            set: self.fixed,
            val,
        }
    }
}

/// The node an override sets: the value parsed as TOML if it is a TOML value, else a string.
fn override_node(ov: &Override) -> Node {
    let text = ov.value.trim();
    match text.parse::<Value>() {
        Ok(v) => Src {
            name: &ov.origin,
            text,
            fixed: true,
        }
        .value(&v, &ov.origin),
        Err(_) => Node {
            loc: ov.origin.clone(),
            raw: ov.value.clone(),
            set: true,
            val: Val::Str(ov.value.clone()),
        },
    }
}

/// Why `--set phases.0.rate=5` cannot work when the scenario has no `phases` list.
fn no_list(key: &str, index: &str) -> String {
    let hint = match key {
        "phases" => "to change the single default phase, set `rate`, `duration` or `in_flight` (e.g. --set rate=5)",
        "messages" => "to change the single default message type, set `size` or `text` (e.g. --set size=128)",
        _ => "set the whole list instead",
    };
    format!("the scenario has no `{key}` list, so there is no element {index} to change; {hint}")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Set one dotted key in the tree. Missing tables are created; a numeric part indexes a list, and
/// the index one past the end appends an element.
fn apply(root: &mut Node, ov: &Override) -> Res<()> {
    let origin = ov.origin.as_str();
    let parts: Vec<&str> = ov.key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(error(
            origin,
            &ov.key,
            "the key has an empty part; write dotted keys such as `ramp.kind` or `phases.0.rate`",
        ));
    }
    let mut new = Some(override_node(ov));
    let mut cur = root;
    let mut path = String::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let fresh = |new: &mut Option<Node>| {
            if last {
                new.take().expect("the value is placed once")
            } else {
                Node::table(origin, true)
            }
        };
        let type_name = cur.type_name();
        match &mut cur.val {
            Val::Table(entries) => {
                let at = match entries.iter().position(|e| e.key == *part) {
                    Some(at) => {
                        if last {
                            entries[at].node = fresh(&mut new);
                            entries[at].key_loc = origin.to_string();
                        }
                        at
                    }
                    None if !last && parts[i + 1].parse::<usize>().is_ok() => {
                        return Err(error(origin, &join(&path, part), no_list(part, parts[i + 1])));
                    }
                    None => {
                        entries.push(Entry {
                            key: part.to_string(),
                            key_loc: origin.to_string(),
                            node: fresh(&mut new),
                        });
                        entries.len() - 1
                    }
                };
                path = join(&path, part);
                cur = &mut entries[at].node;
            }
            Val::List(items) => {
                let len = items.len();
                let Ok(at) = part.parse::<usize>() else {
                    return Err(error(
                        origin,
                        &path,
                        format!("`{path}` is a list; select an element by number, e.g. `{path}.0.{part}`"),
                    ));
                };
                if at > len {
                    let have = match len {
                        0 => "no elements".to_string(),
                        1 => "1 element (index 0)".to_string(),
                        n => format!("{n} elements (indexes 0 to {})", n - 1),
                    };
                    return Err(error(
                        origin,
                        &format!("{path}[{at}]"),
                        format!("`{path}` has {have}; use index {len} to add one"),
                    ));
                }
                if at == len {
                    items.push(fresh(&mut new));
                } else if last {
                    items[at] = fresh(&mut new);
                }
                path = format!("{path}[{at}]");
                cur = &mut items[at];
            }
            _ => {
                return Err(error(
                    origin,
                    &path,
                    format!("is {type_name}, not a table, so it has no field `{part}`"),
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading typed values.

/// "did you mean `x`?" for the closest of `choices`, if any is close.
fn closest<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (*c, strsim::jaro_winkler(word, c), strsim::levenshtein(word, c)))
        .filter(|(c, jw, lev)| *jw >= 0.8 || (*lev <= 2 && *lev < c.len().min(word.len())))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _, _)| c)
}

/// "unknown ramp kind `x` (expected one of: a, b)" or "...; did you mean `a`?".
fn unknown(what: &str, word: &str, choices: &[&str]) -> String {
    match closest(word, choices) {
        Some(c) => format!("unknown {what} `{word}`; did you mean `{c}`?"),
        None => format!("unknown {what} `{word}` (expected one of: {})", choices.join(", ")),
    }
}

fn expected(n: &Node, field: &str, what: &str) -> ScenarioError {
    error(&n.loc, field, format!("expected {what}, found {}", n.found()))
}

/// `what` was out of range: "expected {what}, found {raw}".
fn out_of_range(n: &Node, field: &str, what: &str) -> ScenarioError {
    error(&n.loc, field, format!("expected {what}, found {}", n.raw))
}

fn get_str(n: &Node, field: &str, what: &str) -> Res<String> {
    match &n.val {
        Val::Str(s) => Ok(s.clone()),
        Val::Int(_) | Val::Float(_) | Val::Bool(_) | Val::Date if n.set => Ok(n.raw.clone()),
        _ => Err(expected(n, field, what)),
    }
}

fn get_bool(n: &Node, field: &str) -> Res<bool> {
    match &n.val {
        Val::Bool(b) => Ok(*b),
        _ => Err(expected(n, field, "true or false")),
    }
}

fn get_int(n: &Node, field: &str, min: i64, max: i64) -> Res<i64> {
    let what = if max == i64::MAX {
        format!("an integer of {min} or more")
    } else {
        format!("an integer from {min} to {max}")
    };
    match &n.val {
        Val::Int(i) if (min..=max).contains(i) => Ok(*i),
        Val::Int(_) => Err(out_of_range(n, field, &what)),
        _ => Err(expected(n, field, &what)),
    }
}

fn get_float(n: &Node, field: &str, what: &str) -> Res<f64> {
    match &n.val {
        Val::Int(i) => Ok(*i as f64),
        Val::Float(f) if f.is_finite() => Ok(*f),
        Val::Float(_) => Err(out_of_range(n, field, what)),
        _ => Err(expected(n, field, what)),
    }
}

const DURATION: &str = "a duration such as \"10s\"";

/// A duration of 0 or more: seconds as a number, or a string with a unit.
fn get_duration(n: &Node, field: &str) -> Res<Duration> {
    let negative = || out_of_range(n, field, "a duration such as \"10s\" (durations cannot be negative)");
    let secs = match &n.val {
        Val::Int(i) if *i < 0 => return Err(negative()),
        Val::Int(i) => *i as f64,
        Val::Float(f) if *f < 0.0 => return Err(negative()),
        Val::Float(f) => *f,
        Val::Str(s) if s.trim_start().starts_with('-') => return Err(negative()),
        Val::Str(s) => return parse_duration(s).map_err(|m| error(&n.loc, field, m)),
        _ => return Err(expected(n, field, DURATION)),
    };
    if !secs.is_finite() || secs > 1e9 {
        return Err(out_of_range(
            n,
            field,
            "a duration such as \"10s\" (at most 1e9 seconds)",
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn get_positive_duration(n: &Node, field: &str) -> Res<Duration> {
    let d = get_duration(n, field)?;
    if d.is_zero() {
        return Err(out_of_range(n, field, "a duration above 0 such as \"10s\""));
    }
    Ok(d)
}

const RATE: &str = "a rate such as \"5/s\"";

/// Messages (or connections) per second: a number, or a string such as `"600/m"`.
fn get_rate(n: &Node, field: &str) -> Res<f64> {
    let negative = || out_of_range(n, field, "a rate such as \"5/s\" (rates cannot be negative)");
    match &n.val {
        Val::Int(i) if *i < 0 => Err(negative()),
        Val::Int(i) => Ok(*i as f64),
        Val::Float(f) if *f < 0.0 => Err(negative()),
        Val::Float(f) if f.is_finite() => Ok(*f),
        Val::Float(_) => Err(out_of_range(n, field, RATE)),
        Val::Str(s) if s.trim_start().starts_with('-') => Err(negative()),
        Val::Str(s) => parse_rate(s).map_err(|m| error(&n.loc, field, m)),
        _ => Err(expected(n, field, RATE)),
    }
}

fn get_positive_rate(n: &Node, field: &str, hint: &str) -> Res<f64> {
    let r = get_rate(n, field)?;
    if r <= 0.0 {
        return Err(out_of_range(n, field, &format!("a rate above 0 such as \"5/s\"{hint}")));
    }
    Ok(r)
}

const SIZE: &str = "a size in bytes such as 64 or \"16KiB\"";

fn get_bytes(n: &Node, field: &str) -> Res<u64> {
    match &n.val {
        Val::Int(i) if *i < 0 => Err(out_of_range(
            n,
            field,
            "a size in bytes such as 64 or \"16KiB\" (sizes cannot be negative)",
        )),
        Val::Int(i) => Ok(*i as u64),
        Val::Str(s) => parse_bytes(s).map_err(|m| error(&n.loc, field, m)),
        _ => Err(expected(n, field, SIZE)),
    }
}

fn get_list<'a>(n: &'a Node, field: &str, what: &str) -> Res<&'a [Node]> {
    match &n.val {
        Val::List(items) => Ok(items),
        _ => Err(expected(n, field, what)),
    }
}

/// One table of the tree being read: knows its path for field names and its location for
/// "missing" errors.
struct Tab<'a> {
    loc: &'a str,
    path: String,
    entries: &'a [Entry],
}

impl<'a> Tab<'a> {
    fn new(n: &'a Node, path: &str, what: &str) -> Res<Tab<'a>> {
        match &n.val {
            Val::Table(entries) => Ok(Tab {
                loc: &n.loc,
                path: path.to_string(),
                entries,
            }),
            _ => Err(expected(n, path, what)),
        }
    }

    fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// Every key must be one of `known`.
    fn known(&self, known: &[&str]) -> Res<()> {
        for e in self.entries {
            if !known.contains(&e.key.as_str()) {
                let msg = match closest(&e.key, known) {
                    Some(c) => format!("unknown field `{}`; did you mean `{c}`?", e.key),
                    None => format!("unknown field `{}` (expected one of: {})", e.key, known.join(", ")),
                };
                return Err(error(&e.key_loc, &self.field(&e.key), msg));
            }
        }
        Ok(())
    }

    /// Keys present that do not apply here: `applies` lists those that do, `why` says why not.
    fn only(&self, applies: &[&str], why: impl Fn(&str) -> String) -> Res<()> {
        for e in self.entries {
            if !applies.contains(&e.key.as_str()) {
                return Err(error(&e.key_loc, &self.field(&e.key), why(&e.key)));
            }
        }
        Ok(())
    }

    fn missing(&self, key: &str, hint: &str) -> ScenarioError {
        error(self.loc, &self.field(key), format!("missing; {hint}"))
    }

    fn req(&self, key: &str, hint: &str) -> Res<&'a Node> {
        self.get(key).ok_or_else(|| self.missing(key, hint))
    }

    /// A value from a fixed set of names, e.g. `kind = "linear"`.
    fn choice<T: Copy>(&self, key: &str, what: &str, options: &[(&str, T)], default: Option<T>) -> Res<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let Some(n) = self.get(key) else {
            return default.ok_or_else(|| {
                self.missing(
                    key,
                    &format!("add {key} = \"{}\" (one of: {})", names[0], names.join(", ")),
                )
            });
        };
        let field = self.field(key);
        let s = get_str(n, &field, &format!("a {what} name such as \"{}\"", names[0]))?;
        options
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| error(&n.loc, &field, unknown(what, &s, &names)))
    }

    fn opt<T>(&self, key: &str, read: impl Fn(&Node, &str) -> Res<T>) -> Res<Option<T>> {
        match self.get(key) {
            Some(n) => read(n, &self.field(key)).map(Some),
            None => Ok(None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario.

const TOP_KEYS: &[&str] = &[
    "name",
    "url",
    "connections",
    "headers",
    "subprotocols",
    "source_ips",
    "connect_timeout",
    "connect_concurrency",
    "max_frame",
    "drain",
    "rate",
    "in_flight",
    "duration",
    "size",
    "text",
    "ramp",
    "phases",
    "messages",
    "connection",
    "reconnect",
    "faults",
    "thresholds",
    "abort_on_fail",
];

/// Headers wsload writes itself in the upgrade request.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

fn read_scenario(root: &Node) -> Res<Scenario> {
    let top = Tab::new(root, "", "a table")?;
    top.known(TOP_KEYS)?;

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
    let headers = top.opt("headers", read_headers)?.unwrap_or_default();
    let subprotocols = top.opt("subprotocols", read_subprotocols)?.unwrap_or_default();
    let source_ips = top.opt("source_ips", read_source_ips)?.unwrap_or_default();
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
    let messages = read_messages(&top, max_frame)?;

    let lifetime = match top.get("connection") {
        Some(n) => {
            let t = Tab::new(n, "connection", "a table such as [connection] lifetime = \"30s\"")?;
            t.known(&["lifetime"])?;
            t.opt("lifetime", get_positive_duration)?
        }
        None => None,
    };
    let (reconnect, recovered_within) = match top.get("reconnect") {
        Some(n) => read_reconnect(n)?,
        None => (Reconnect::Off, Duration::from_secs(5)),
    };
    let traffic_end = phases.last().map_or(Duration::ZERO, Phase::end);
    let faults = match top.get("faults") {
        Some(n) => read_faults(n, traffic_end)?,
        None => Vec::new(),
    };
    let thresholds = top.opt("thresholds", read_thresholds)?.unwrap_or_default();
    let abort_on_fail = top.opt("abort_on_fail", get_bool)?.unwrap_or(false);

    Ok(Scenario {
        name: scenario_name,
        target,
        headers,
        subprotocols,
        source_ips,
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
        thresholds,
        abort_on_fail,
        drain,
    })
}

/// An HTTP token (RFC 9110 `tchar`s): header names and subprotocols.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn read_headers(n: &Node, field: &str) -> Res<Vec<(String, String)>> {
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

fn read_subprotocols(n: &Node, field: &str) -> Res<Vec<String>> {
    let items = get_list(n, field, "a list of strings such as [\"chat\"]")?;
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = get_str(e, &f, "a subprotocol name such as \"chat\"")?;
        if !is_token(&s) {
            return Err(error(
                &e.loc,
                &f,
                format!("`{s}` is not a valid subprotocol name (letters, digits and !#$%&'*+-.^_`|~ only)"),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

fn read_source_ips(n: &Node, field: &str) -> Res<Vec<IpAddr>> {
    let items = get_list(n, field, "a list of IP addresses such as [\"127.0.0.2\"]")?;
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = get_str(e, &f, "an IP address such as \"127.0.0.2\"")?;
        let ip = s
            .trim()
            .parse()
            .map_err(|_| out_of_range(e, &f, "an IP address such as \"127.0.0.2\" or \"::1\""))?;
        out.push(ip);
    }
    Ok(out)
}

fn read_ramp(n: &Node, connections: u64) -> Res<(Ramp, Option<Duration>, TrafficStart)> {
    let t = Tab::new(n, "ramp", "a table such as [ramp] kind = \"linear\"")?;
    t.known(&[
        "kind", "rate", "start", "factor", "every", "step", "hold", "down", "traffic",
    ])?;
    #[derive(Clone, Copy, PartialEq)]
    enum K {
        Burst,
        Linear,
        Exponential,
        Stepped,
    }
    let kinds = [
        ("burst", K::Burst),
        ("linear", K::Linear),
        ("exponential", K::Exponential),
        ("stepped", K::Stepped),
    ];
    let kind = t.choice("kind", "ramp kind", &kinds, Some(K::Burst))?;
    let kind_name = kinds.iter().find(|(_, k)| *k == kind).expect("listed").0;
    let own: &[&str] = match kind {
        K::Burst => &[],
        K::Linear => &["rate"],
        K::Exponential => &["start", "factor", "every"],
        K::Stepped => &["step", "hold"],
    };
    let mut applies = vec!["kind", "down", "traffic"];
    applies.extend_from_slice(own);
    t.only(&applies, |k| {
        let owner = match k {
            "rate" => "linear",
            "start" | "factor" | "every" => "exponential",
            _ => "stepped",
        };
        let default = if t.get("kind").is_none() { " (the default)" } else { "" };
        format!(
            "`{k}` does not apply to {} {kind_name} ramp{default}; it is for kind = \"{owner}\"",
            a(kind_name)
        )
    })?;
    let at_most_connections = |key: &str, v: u64| -> Res<()> {
        if v > connections {
            let n = t.get(key).expect("present");
            return Err(error(
                &n.loc,
                &t.field(key),
                format!("{v} is above connections ({connections}); use at most {connections}"),
            ));
        }
        Ok(())
    };
    let ramp = match kind {
        K::Burst => Ramp::Burst,
        K::Linear => {
            let n = t.req(
                "rate",
                "a linear ramp needs a rate of new connections, e.g. rate = \"1000/s\"",
            )?;
            Ramp::Linear {
                per_s: get_positive_rate(n, &t.field("rate"), "")?,
            }
        }
        K::Exponential => {
            let n = t.req(
                "start",
                "an exponential ramp needs a first number of connections, e.g. start = 100",
            )?;
            let start = get_int(n, &t.field("start"), 1, i64::MAX)? as u64;
            at_most_connections("start", start)?;
            let n = t.req(
                "factor",
                "an exponential ramp needs a growth factor above 1, e.g. factor = 2.0",
            )?;
            let factor = get_float(n, &t.field("factor"), "a number above 1 such as 2.0")?;
            if factor <= 1.0 {
                return Err(out_of_range(n, &t.field("factor"), "a number above 1 such as 2.0"));
            }
            let n = t.req(
                "every",
                "an exponential ramp needs a growth interval, e.g. every = \"1s\"",
            )?;
            let every = get_positive_duration(n, &t.field("every"))?;
            Ramp::Exponential { start, factor, every }
        }
        K::Stepped => {
            let n = t.req(
                "step",
                "a stepped ramp needs the connections added per step, e.g. step = 1000",
            )?;
            let step = get_int(n, &t.field("step"), 1, i64::MAX)? as u64;
            at_most_connections("step", step)?;
            let n = t.req(
                "hold",
                "a stepped ramp needs how long each step holds, e.g. hold = \"2s\"",
            )?;
            let hold = get_positive_duration(n, &t.field("hold"))?;
            Ramp::Stepped { step, hold }
        }
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

/// "a" or "an" before `word`.
fn a(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn fmt_rate(r: f64) -> String {
    format!("{}/s", trim_float(r))
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// `30s`, `1.5s`, `250ms`, `2m30s`.
fn fmt_dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if d.is_zero() {
        "0s".to_string()
    } else if ms < 1000.0 {
        format!("{}ms", trim_float(ms))
    } else if d.as_secs() >= 60 && d.subsec_nanos() == 0 {
        let (m, s) = (d.as_secs() / 60, d.as_secs() % 60);
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else {
        format!("{}s", trim_float(d.as_secs_f64()))
    }
}

/// `64 B`, `16 KiB`, `1 MiB`.
fn fmt_bytes(b: u64) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} B")
    }
}

const SHORTHAND_PHASE: &[&str] = &["rate", "in_flight", "duration"];
const SHORTHAND_MESSAGE: &[&str] = &["size", "text"];

fn read_phases(top: &Tab) -> Res<Vec<Phase>> {
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
        let items = get_list(list, "phases", "a list of tables ([[phases]])")?;
        if items.is_empty() {
            return Err(error(
                &list.loc,
                "phases",
                "the list is empty; add at least one [[phases]] table, or remove `phases` for the default phase",
            ));
        }
        let mut phases: Vec<Phase> = Vec::new();
        for (i, n) in items.iter().enumerate() {
            let p = read_phase(n, i, phases.last())?;
            if let Some(other) = phases.iter().position(|q| q.name == p.name) {
                let f = format!("phases[{i}].name");
                let loc = n.loc.clone();
                let loc = items[i]
                    .val
                    .as_table()
                    .and_then(|es| es.iter().find(|e| e.key == "name"))
                    .map_or(loc, |e| e.node.loc.clone());
                return Err(error(
                    &loc,
                    &f,
                    format!(
                        "phase name `{}` is already used by phases[{other}]; names must be unique",
                        p.name
                    ),
                ));
            }
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

impl Val {
    fn as_table(&self) -> Option<&[Entry]> {
        match self {
            Val::Table(e) => Some(e),
            _ => None,
        }
    }
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

fn read_phase(n: &Node, i: usize, prev: Option<&Phase>) -> Res<Phase> {
    let path = format!("phases[{i}]");
    let t = Tab::new(n, &path, "a table ([[phases]])")?;
    t.known(PHASE_KEYS)?;
    #[derive(Clone, Copy, PartialEq)]
    enum K {
        Sustained,
        Burst,
        Ramp,
        Idle,
        InFlight,
    }
    let kinds = [
        ("sustained", K::Sustained),
        ("burst", K::Burst),
        ("ramp", K::Ramp),
        ("idle", K::Idle),
        ("in-flight", K::InFlight),
    ];
    let kind = t.choice("kind", "phase kind", &kinds, None)?;
    let kind_name = kinds.iter().find(|(_, k)| *k == kind).expect("listed").0;
    let own: &[&str] = match kind {
        K::Sustained => &["rate"],
        K::Burst => &["rate", "burst_rate", "burst_for", "every"],
        K::Ramp => &["from", "to"],
        K::Idle => &[],
        K::InFlight => &["window"],
    };
    let mut applies = vec!["name", "kind", "duration", "at"];
    applies.extend_from_slice(own);
    t.only(&applies, |k| {
        let owner = match k {
            "rate" => "sustained\" or \"burst",
            "burst_rate" | "burst_for" | "every" => "burst",
            "from" | "to" => "ramp",
            _ => "in-flight",
        };
        format!(
            "`{k}` does not apply to {} {kind_name} phase; it is for kind = \"{owner}\"",
            a(kind_name)
        )
    })?;

    let name = t
        .opt("name", |n, f| get_str(n, f, "a name in quotes such as \"warm\""))?
        .unwrap_or_else(|| format!("phase-{}", i + 1));
    let dn = t.req("duration", "every phase needs a duration, e.g. duration = \"30s\"")?;
    let duration = get_positive_duration(dn, &t.field("duration"))?;
    let prev_end = prev.map_or(Duration::ZERO, Phase::end);
    let start = match t.get("at") {
        Some(an) => {
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
            at
        }
        None => prev_end,
    };

    let rate_of = |key: &str, hint: &str| -> Res<(f64, &Node)> {
        let n = t.req(key, hint)?;
        Ok((get_rate(n, &t.field(key))?, n))
    };
    let kind = match kind {
        K::Sustained => {
            let n = t.req(
                "rate",
                "a sustained phase needs a rate per connection, e.g. rate = \"5/s\"",
            )?;
            let rate = get_positive_rate(n, &t.field("rate"), " (use kind = \"idle\" for no traffic)")?;
            PhaseKind::Sustained { rate }
        }
        K::Burst => {
            let (rate, _) = rate_of(
                "rate",
                "a burst phase needs a base rate per connection, e.g. rate = \"5/s\"",
            )?;
            let (burst_rate, bn) = rate_of(
                "burst_rate",
                "a burst phase needs the rate during bursts, e.g. burst_rate = \"50/s\"",
            )?;
            if burst_rate <= rate {
                return Err(out_of_range(
                    bn,
                    &t.field("burst_rate"),
                    &format!("burst_rate above the base `rate` ({})", fmt_rate(rate)),
                ));
            }
            let fnode = t.req(
                "burst_for",
                "a burst phase needs how long each burst lasts, e.g. burst_for = \"2s\"",
            )?;
            let burst_for = get_positive_duration(fnode, &t.field("burst_for"))?;
            let en = t.req(
                "every",
                "a burst phase needs how often bursts start, e.g. every = \"10s\"",
            )?;
            let every = get_positive_duration(en, &t.field("every"))?;
            if burst_for >= every {
                return Err(out_of_range(
                    fnode,
                    &t.field("burst_for"),
                    &format!("burst_for shorter than `every` ({})", fmt_dur(every)),
                ));
            }
            PhaseKind::Burst {
                rate,
                burst_rate,
                burst_for,
                every,
            }
        }
        K::Ramp => {
            let (from, _) = rate_of("from", "a ramp phase needs a starting rate, e.g. from = \"1/s\"")?;
            let (to, tn) = rate_of("to", "a ramp phase needs an ending rate, e.g. to = \"10/s\"")?;
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
            PhaseKind::Ramp { from, to }
        }
        K::Idle => PhaseKind::Idle,
        K::InFlight => {
            let n = t.req(
                "window",
                "an in-flight phase needs the messages outstanding per connection, e.g. window = 16",
            )?;
            let window = get_int(n, &t.field("window"), 1, u32::MAX as i64)? as u32;
            PhaseKind::InFlight { window }
        }
    };
    Ok(Phase {
        name,
        start,
        duration,
        kind,
    })
}

fn read_messages(top: &Tab, max_frame: u64) -> Res<Vec<MessageType>> {
    if let Some(list) = top.get("messages") {
        for key in SHORTHAND_MESSAGE {
            if let Some(e) = top.entry(key) {
                let example = if *key == "size" { "size = 64" } else { "type = \"text\"" };
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
        let items = get_list(list, "messages", "a list of tables ([[messages]])")?;
        if items.is_empty() {
            return Err(error(
                &list.loc,
                "messages",
                "the list is empty; add at least one [[messages]] table, or remove `messages` for the default type",
            ));
        }
        let mut out: Vec<MessageType> = Vec::new();
        for (i, n) in items.iter().enumerate() {
            let m = read_message(n, i, max_frame)?;
            if let Some(other) = out.iter().position(|q| q.name == m.name) {
                let loc = n
                    .val
                    .as_table()
                    .and_then(|es| es.iter().find(|e| e.key == "name"))
                    .map_or(n.loc.clone(), |e| e.node.loc.clone());
                return Err(error(
                    &loc,
                    &format!("messages[{i}].name"),
                    format!(
                        "message name `{}` is already used by messages[{other}]; names must be unique",
                        m.name
                    ),
                ));
            }
            out.push(m);
        }
        if out.iter().all(|m| m.weight == 0) {
            return Err(error(
                &list.loc,
                "messages",
                "the weights add up to 0, so no message would ever be sent; give at least one type a weight above 0",
            ));
        }
        return Ok(out);
    }
    let text = top.opt("text", get_bool)?.unwrap_or(false);
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    let size = match top.get("size") {
        Some(n) => check_size(n, "size", kind, max_frame)?,
        None => check_size_value(64, top.loc, "64 (the default size)", "size", kind, max_frame)?,
    };
    Ok(vec![MessageType {
        name: "default".to_string(),
        weight: 1,
        kind,
        size: SizeDist::Fixed(size),
    }])
}

fn read_message(n: &Node, i: usize, max_frame: u64) -> Res<MessageType> {
    let path = format!("messages[{i}]");
    let t = Tab::new(n, &path, "a table ([[messages]])")?;
    t.known(&["name", "weight", "type", "size"])?;
    let name = t
        .opt("name", |n, f| get_str(n, f, "a name in quotes such as \"warm\""))?
        .unwrap_or_else(|| format!("type-{}", i + 1));
    let weight = t.opt("weight", |n, f| get_int(n, f, 0, u32::MAX as i64))?.unwrap_or(1) as u32;
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
        None => SizeDist::Fixed(check_size_value(
            64,
            t.loc,
            "64 (the default size)",
            &t.field("size"),
            kind,
            max_frame,
        )?),
        Some(sn) => {
            let f = t.field("size");
            match &sn.val {
                Val::List(items) => {
                    if items.is_empty() {
                        return Err(error(
                            &sn.loc,
                            &f,
                            "the list of sizes is empty; give at least one, e.g. size = [64, 256]",
                        ));
                    }
                    let sizes = items
                        .iter()
                        .enumerate()
                        .map(|(j, e)| check_size(e, &format!("{f}[{j}]"), kind, max_frame))
                        .collect::<Res<Vec<_>>>()?;
                    SizeDist::List(sizes)
                }
                Val::Table(_) => {
                    let st = Tab::new(sn, &f, "a table")?;
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
                    SizeDist::Uniform { min, max }
                }
                _ => SizeDist::Fixed(check_size(sn, &f, kind, max_frame)?),
            }
        }
    };
    Ok(MessageType {
        name,
        weight,
        kind,
        size,
    })
}

fn check_size(n: &Node, field: &str, kind: MessageKind, max_frame: u64) -> Res<usize> {
    let v = get_bytes(n, field)?;
    check_size_value(v, &n.loc, &n.raw, field, kind, max_frame)
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
                fmt_bytes(v),
                fmt_bytes(max_frame)
            ),
        ));
    }
    Ok(v as usize)
}

fn read_reconnect(n: &Node) -> Res<(Reconnect, Duration)> {
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
    let policy_name = policies.iter().find(|(_, p)| *p == policy).expect("listed").0;
    if policy != P::Backoff {
        t.only(&["policy", "recovered_within"], |k| {
            let now = if t.get("policy").is_none() {
                " (the default)"
            } else {
                ""
            };
            format!("`{k}` applies only to policy = \"backoff\"; the policy here is \"{policy_name}\"{now}")
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
                    let v = get_float(n, f, "a number of 1 or more such as 2.0")?;
                    if v < 1.0 {
                        return Err(out_of_range(n, f, "a number of 1 or more such as 2.0"));
                    }
                    Ok(v)
                })?
                .unwrap_or(2.0);
            let jitter = t
                .opt("jitter", |n, f| {
                    let what = "a fraction from 0 to 1 such as 0.2";
                    let v = get_float(n, f, what)?;
                    if !(0.0..=1.0).contains(&v) {
                        return Err(out_of_range(n, f, what));
                    }
                    Ok(v)
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

fn read_faults(n: &Node, traffic_end: Duration) -> Res<Vec<Fault>> {
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
        if at >= traffic_end {
            return Err(error(
                &an.loc,
                &t.field("at"),
                format!(
                    "starts at {}, at or after the end of traffic ({}, the end of the last phase); faults must start while traffic runs",
                    fmt_dur(at),
                    fmt_dur(traffic_end)
                ),
            ));
        }
        let every = t.opt("every", get_positive_duration)?;
        let fraction = t
            .opt("fraction", |n, f| {
                let what = "a fraction above 0 and at most 1 such as 0.1";
                let v = get_float(n, f, what)?;
                if !(v > 0.0 && v <= 1.0) {
                    return Err(out_of_range(n, f, what));
                }
                Ok(v)
            })?
            .unwrap_or(1.0);
        let lasting = if kind.lasts() {
            let hint = format!("a {} fault needs how long it lasts, e.g. for = \"2s\"", kind.key());
            let ln = t.req("for", &hint)?;
            Some(get_positive_duration(ln, &t.field("for"))?)
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

fn read_thresholds(n: &Node, field: &str) -> Res<Vec<String>> {
    let items = get_list(n, field, "a list of strings such as [\"latency.p99 < 200ms\"]")?;
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = get_str(e, &f, "a threshold such as \"latency.p99 < 200ms\"")?;
        check_threshold(&s).map_err(|m| error(&e.loc, &f, m))?;
        out.push(s);
    }
    Ok(out)
}

fn check_threshold(expr: &str) -> Result<(), String> {
    super::thresholds::check(expr)
}

// ---------------------------------------------------------------------------------------------
// describe

/// How long the ramp takes to reach `connections`, when it can be known in advance (not for a
/// burst, which is bounded only by how fast connections open).
fn ramp_time(s: &Scenario) -> Option<Duration> {
    match s.ramp {
        Ramp::Burst => None,
        _ => Some(s.ramp.full_at(s.connections)),
    }
}

fn describe_phase(k: &PhaseKind) -> String {
    match k {
        PhaseKind::Sustained { rate } => format!("sustained {} per connection", fmt_rate(*rate)),
        PhaseKind::Burst {
            rate,
            burst_rate,
            burst_for,
            every,
        } => format!(
            "burst {} per connection, {} for {} every {}",
            fmt_rate(*rate),
            fmt_rate(*burst_rate),
            fmt_dur(*burst_for),
            fmt_dur(*every)
        ),
        PhaseKind::Ramp { from, to } => format!("ramp {} -> {} per connection", fmt_rate(*from), fmt_rate(*to)),
        PhaseKind::Idle => "idle (connections open, no messages)".to_string(),
        PhaseKind::InFlight { window } => format!("closed loop, {window} in flight per connection"),
    }
}

fn describe_size(s: &SizeDist) -> String {
    match s {
        SizeDist::Fixed(n) => fmt_bytes(*n as u64),
        SizeDist::Uniform { min, max } => format!("{}..{}", fmt_bytes(*min as u64), fmt_bytes(*max as u64)),
        SizeDist::List(l) => {
            let v: Vec<String> = l.iter().map(|n| fmt_bytes(*n as u64)).collect();
            format!("one of {}", v.join(", "))
        }
    }
}

/// A few human lines describing a scenario (for `wsload validate`).
pub fn describe(s: &Scenario) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let target = s
        .target
        .as_ref()
        .map_or("the built-in echo server".to_string(), |t| t.redacted.clone());
    let _ = writeln!(
        o,
        "scenario {}: target {target}",
        s.name.as_deref().unwrap_or("(unnamed)")
    );
    let ramp = match &s.ramp {
        Ramp::Burst => format!("all at once ({} connecting at a time)", s.connect_concurrency),
        Ramp::Linear { per_s } => format!("linear ramp, {} new connections", fmt_rate(*per_s)),
        Ramp::Exponential { start, factor, every } => {
            format!(
                "exponential ramp from {start}, x{} every {}",
                trim_float(*factor),
                fmt_dur(*every)
            )
        }
        Ramp::Stepped { step, hold } => format!("stepped ramp, {step} more every {}", fmt_dur(*hold)),
    };
    let took = ramp_time(s).map_or(String::new(), |d| format!(", about {}", fmt_dur(d)));
    let traffic = match s.traffic_start {
        TrafficStart::AfterRamp => "traffic after the ramp",
        TrafficStart::WithRamp => "traffic during the ramp",
    };
    let _ = writeln!(o, "connections: {}, {ramp}{took}; {traffic}", s.connections);
    if let Some(d) = s.ramp_down {
        let _ = writeln!(o, "ramp down: over {} at the end", fmt_dur(d));
    }
    let _ = writeln!(o, "phases (from the start of traffic):");
    for p in &s.phases {
        let _ = writeln!(
            o,
            "  {:<12} {:>8} .. {:<8} {}",
            p.name,
            fmt_dur(p.start),
            fmt_dur(p.end()),
            describe_phase(&p.kind)
        );
    }
    let total_weight: u64 = s.messages.iter().map(|m| m.weight as u64).sum();
    let _ = writeln!(o, "messages:");
    for m in &s.messages {
        let kind = match m.kind {
            MessageKind::Binary => "binary",
            MessageKind::Text => "text",
            MessageKind::Ping => "ping",
        };
        let share = 100.0 * m.weight as f64 / total_weight.max(1) as f64;
        let _ = writeln!(
            o,
            "  {:<12} {kind}, {}, weight {} ({}%)",
            m.name,
            describe_size(&m.size),
            m.weight,
            trim_float((share * 10.0).round() / 10.0)
        );
    }
    if let Some(l) = s.lifetime {
        let _ = writeln!(o, "connection lifetime: {} (then closed and reopened)", fmt_dur(l));
    }
    let reconnect = match &s.reconnect {
        Reconnect::Off => "off".to_string(),
        Reconnect::Immediate => "immediate".to_string(),
        Reconnect::Backoff {
            initial,
            max,
            factor,
            jitter,
        } => format!(
            "backoff from {} to {}, x{} per attempt, ±{}% jitter",
            fmt_dur(*initial),
            fmt_dur(*max),
            trim_float(*factor),
            trim_float(jitter * 100.0)
        ),
    };
    let _ = writeln!(
        o,
        "reconnect: {reconnect}; recovered within {}",
        fmt_dur(s.recovered_within)
    );
    for f in &s.faults {
        let every = f.every.map_or(String::new(), |e| format!(", every {}", fmt_dur(e)));
        let lasting = f.lasting.map_or(String::new(), |d| format!(", lasting {}", fmt_dur(d)));
        let _ = writeln!(
            o,
            "fault: {} {}% of connections at {}{every}{lasting}",
            f.kind.key(),
            trim_float(f.fraction * 100.0),
            fmt_dur(f.at)
        );
    }
    if !s.thresholds.is_empty() {
        let abort = if s.abort_on_fail {
            " (abort as soon as one fails)"
        } else {
            ""
        };
        let _ = writeln!(o, "thresholds{abort}: {}", s.thresholds.join("; "));
    }
    let traffic = s.traffic_duration();
    let ramp = ramp_time(s);
    let loaded = match (s.traffic_start, ramp) {
        (TrafficStart::AfterRamp, Some(r)) => r + traffic,
        (TrafficStart::WithRamp, Some(r)) => r.max(traffic),
        (_, None) => traffic,
    };
    let total = loaded + s.drain + s.ramp_down.unwrap_or(Duration::ZERO);
    let ramp_part = match (s.traffic_start, ramp) {
        (TrafficStart::AfterRamp, Some(r)) => format!("ramp {} + ", fmt_dur(r)),
        (TrafficStart::AfterRamp, None) => "connecting + ".to_string(),
        _ => String::new(),
    };
    let down = s
        .ramp_down
        .map_or(String::new(), |d| format!(" + ramp down {}", fmt_dur(d)));
    let _ = write!(
        o,
        "planned time: {ramp_part}traffic {} + drain {}{down} = {}{}",
        fmt_dur(traffic),
        fmt_dur(s.drain),
        if ramp.is_none() && s.traffic_start == TrafficStart::AfterRamp {
            "about "
        } else {
            ""
        },
        fmt_dur(total)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn set(arg: &str) -> Override {
        Override::from_set(arg).unwrap()
    }

    fn defaults() -> Scenario {
        Scenario {
            name: None,
            target: None,
            headers: vec![],
            subprotocols: vec![],
            source_ips: vec![],
            connect_timeout: secs(10.0),
            connect_concurrency: 256,
            max_frame: 16 << 20,
            connections: 10_000,
            ramp: Ramp::Burst,
            ramp_down: None,
            traffic_start: TrafficStart::AfterRamp,
            phases: vec![Phase {
                name: "main".into(),
                start: Duration::ZERO,
                duration: secs(10.0),
                kind: PhaseKind::Sustained { rate: 1.0 },
            }],
            messages: vec![MessageType {
                name: "default".into(),
                weight: 1,
                kind: MessageKind::Binary,
                size: SizeDist::Fixed(64),
            }],
            lifetime: None,
            reconnect: Reconnect::Off,
            recovered_within: secs(5.0),
            faults: vec![],
            thresholds: vec![],
            abort_on_fail: false,
            drain: secs(5.0),
        }
    }

    #[test]
    fn empty_document_gives_the_documented_defaults() {
        assert_eq!(parse("a.toml", "", &[]).unwrap(), defaults());
        assert_eq!(load(None, &[]).unwrap(), defaults());
    }

    const FULL: &str = r#"
name = "peak-10k"
url = "ws://127.0.0.1:9000/path"
connections = 2000
headers = { "X-Test" = "1", Authorization = "Bearer abc" }
subprotocols = ["chat", "v2"]
source_ips = ["127.0.0.1", "::1"]
connect_timeout = "3s"
connect_concurrency = 64
max_frame = "64KiB"
drain = 2
thresholds = ["latency.p99 < 200ms", "messages.lost == 0"]
abort_on_fail = true

[ramp]
kind = "exponential"
start = 100
factor = 2.0
every = "500ms"
down = "5s"
traffic = "with-ramp"

[[phases]]
name = "warm"
kind = "sustained"
duration = "30s"
rate = "5/s"

[[phases]]
name = "spike"
kind = "burst"
at = "35s"
duration = "1m"
rate = 5
burst_rate = "3000/m"
burst_for = "2s"
every = "10s"

[[phases]]
kind = "ramp"
duration = 20
from = "1/s"
to = 10.5

[[phases]]
kind = "idle"
duration = "5s"

[[phases]]
kind = "in-flight"
duration = "10s"
window = 16

[[messages]]
name = "small"
weight = 80
size = 64

[[messages]]
name = "chat"
weight = 15
type = "text"
size = [64, 128, "1KiB"]

[[messages]]
weight = 5
type = "ping"
size = { min = 24, max = 125 }

[connection]
lifetime = "30s"

[reconnect]
policy = "backoff"
initial = "50ms"
max = "2s"
factor = 1.5
jitter = 0.1
recovered_within = "3s"

[[faults]]
kind = "drop"
at = "40s"
every = "5s"
fraction = 0.1

[[faults]]
kind = "pause"
at = 50
for = "2s"
"#;

    #[test]
    fn full_example_uses_every_field() {
        let s = parse("full.toml", FULL, &[]).unwrap();
        let want = Scenario {
            name: Some("peak-10k".into()),
            target: Some(Target::parse("ws://127.0.0.1:9000/path").unwrap()),
            headers: vec![
                ("X-Test".into(), "1".into()),
                ("Authorization".into(), "Bearer abc".into()),
            ],
            subprotocols: vec!["chat".into(), "v2".into()],
            source_ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            connect_timeout: secs(3.0),
            connect_concurrency: 64,
            max_frame: 64 << 10,
            connections: 2000,
            ramp: Ramp::Exponential {
                start: 100,
                factor: 2.0,
                every: secs(0.5),
            },
            ramp_down: Some(secs(5.0)),
            traffic_start: TrafficStart::WithRamp,
            phases: vec![
                Phase {
                    name: "warm".into(),
                    start: Duration::ZERO,
                    duration: secs(30.0),
                    kind: PhaseKind::Sustained { rate: 5.0 },
                },
                Phase {
                    name: "spike".into(),
                    start: secs(35.0),
                    duration: secs(60.0),
                    kind: PhaseKind::Burst {
                        rate: 5.0,
                        burst_rate: 50.0,
                        burst_for: secs(2.0),
                        every: secs(10.0),
                    },
                },
                Phase {
                    name: "phase-3".into(),
                    start: secs(95.0),
                    duration: secs(20.0),
                    kind: PhaseKind::Ramp { from: 1.0, to: 10.5 },
                },
                Phase {
                    name: "phase-4".into(),
                    start: secs(115.0),
                    duration: secs(5.0),
                    kind: PhaseKind::Idle,
                },
                Phase {
                    name: "phase-5".into(),
                    start: secs(120.0),
                    duration: secs(10.0),
                    kind: PhaseKind::InFlight { window: 16 },
                },
            ],
            messages: vec![
                MessageType {
                    name: "small".into(),
                    weight: 80,
                    kind: MessageKind::Binary,
                    size: SizeDist::Fixed(64),
                },
                MessageType {
                    name: "chat".into(),
                    weight: 15,
                    kind: MessageKind::Text,
                    size: SizeDist::List(vec![64, 128, 1024]),
                },
                MessageType {
                    name: "type-3".into(),
                    weight: 5,
                    kind: MessageKind::Ping,
                    size: SizeDist::Uniform { min: 24, max: 125 },
                },
            ],
            lifetime: Some(secs(30.0)),
            reconnect: Reconnect::Backoff {
                initial: secs(0.05),
                max: secs(2.0),
                factor: 1.5,
                jitter: 0.1,
            },
            recovered_within: secs(3.0),
            faults: vec![
                Fault {
                    kind: FaultKind::Drop,
                    at: secs(40.0),
                    every: Some(secs(5.0)),
                    fraction: 0.1,
                    lasting: None,
                },
                Fault {
                    kind: FaultKind::Pause,
                    at: secs(50.0),
                    every: None,
                    fraction: 1.0,
                    lasting: Some(secs(2.0)),
                },
            ],
            thresholds: vec!["latency.p99 < 200ms".into(), "messages.lost == 0".into()],
            abort_on_fail: true,
            drain: secs(2.0),
        };
        assert_eq!(s, want);
        let d = describe(&s);
        for needle in [
            "peak-10k",
            "spike",
            "burst 5/s",
            "chat",
            "ping",
            "backoff",
            "pause",
            "planned time",
        ] {
            assert!(d.contains(needle), "{needle} missing from:\n{d}");
        }
    }

    #[test]
    fn overrides_apply_on_top_of_the_file() {
        let s = parse("a.toml", "connections = 5", &[set("connections=20000")]).unwrap();
        assert_eq!(s.connections, 20_000);

        let text = "[[phases]]\nkind = \"sustained\"\nrate = 1\nduration = \"5s\"\n";
        let s = parse("a.toml", text, &[set("phases.0.rate=5")]).unwrap();
        assert_eq!(s.phases[0].kind, PhaseKind::Sustained { rate: 5.0 });
        // One past the end adds a phase.
        let s = parse(
            "a.toml",
            text,
            &[set("phases.1.kind=idle"), set("phases.1.duration=2s")],
        )
        .unwrap();
        assert_eq!(s.phases[1].kind, PhaseKind::Idle);
        assert_eq!(s.phases[1].start, secs(5.0));

        let s = parse("a.toml", "", &[set("ramp.kind=linear"), set("ramp.rate=100")]).unwrap();
        assert_eq!(s.ramp, Ramp::Linear { per_s: 100.0 });

        let s = parse("a.toml", "", &[set("url=ws://127.0.0.1:9/")]).unwrap();
        assert_eq!(s.target.unwrap().port, 9);

        let s = parse(
            "a.toml",
            "",
            &[set("duration=30s"), set("name=2024"), set("size=\"1KiB\"")],
        )
        .unwrap();
        assert_eq!(s.phases[0].duration, secs(30.0));
        assert_eq!(s.name.as_deref(), Some("2024"));
        assert_eq!(s.messages[0].size, SizeDist::Fixed(1024));

        // A run flag translated into the same key.
        let rate = Override {
            key: "rate".into(),
            value: "5".into(),
            origin: "--rate 5".into(),
        };
        assert_eq!(
            parse("a.toml", "", &[rate]).unwrap().phases[0].kind,
            PhaseKind::Sustained { rate: 5.0 }
        );
    }

    #[test]
    fn bad_overrides_name_their_origin() {
        let e = parse("a.toml", "connections = 5", &[set("connections=abc")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set connections=abc: connections: expected an integer of 1 or more, found a string (\"abc\")"
        );
        let e = parse("a.toml", "", &[set("connections.x=1")]).unwrap_err();
        assert_eq!(e.location, "--set connections.x=1");
        let e = parse("a.toml", "", &[set("conections=1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set conections=1: conections: unknown field `conections`; did you mean `connections`?"
        );
        let e = parse("a.toml", "", &[set("phases.3.rate=1")]).unwrap_err();
        assert_eq!(e.location, "--set phases.3.rate=1");
        assert!(Override::from_set("novalue").is_err());
        assert!(Override::from_set("=5").is_err());
        assert_eq!(set("a.b=c=d").value, "c=d");
    }

    #[test]
    fn shorthand_rate_and_in_flight() {
        let s = parse("a.toml", "rate = 0\nduration = \"3s\"", &[]).unwrap();
        assert_eq!(s.phases.len(), 1);
        assert_eq!(s.phases[0].kind, PhaseKind::Idle);
        assert_eq!(s.phases[0].duration, secs(3.0));
        let s = parse("a.toml", "in_flight = 8", &[]).unwrap();
        assert_eq!(s.phases[0].kind, PhaseKind::InFlight { window: 8 });
        assert!(s.has_in_flight());
        let s = parse("a.toml", "size = \"1KiB\"\ntext = true", &[]).unwrap();
        assert_eq!(s.messages[0].kind, MessageKind::Text);
        assert_eq!(s.messages[0].size, SizeDist::Fixed(1024));
    }

    #[test]
    fn ramps() {
        let s = parse("a.toml", "[ramp]\nkind = \"stepped\"\nstep = 1000\nhold = \"2s\"", &[]).unwrap();
        assert_eq!(
            s.ramp,
            Ramp::Stepped {
                step: 1000,
                hold: secs(2.0)
            }
        );
        assert_eq!(ramp_time(&s), Some(secs(18.0)));
        let e = parse("a.toml", "[ramp]\nkind = \"linear\"\nrate = 10\nfactor = 2", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.toml:4:1: ramp.factor: `factor` does not apply to a linear ramp; it is for kind = \"exponential\""
        );
    }

    #[test]
    fn dotted_keys_inline_tables_and_whole_value_overrides() {
        let doc = "ramp.kind = \"linear\"\nramp.rate = \"x\"";
        assert_eq!(
            parse("s.toml", doc, &[]).unwrap_err().to_string(),
            "s.toml:2:13: ramp.rate: `x` is not a rate (examples: 2, 100/s, 600/m)"
        );
        let doc = "phases = [{ kind = \"idle\", duration = 5 }, { kind = \"idle\", duration = 5, at = 1 }]";
        assert_eq!(parse("s.toml", doc, &[]).unwrap_err().location, "s.toml:1:80");
        let s = parse("s.toml", "", &[set("ramp={kind=\"linear\", rate=50}")]).unwrap();
        assert_eq!(s.ramp, Ramp::Linear { per_s: 50.0 });
        let e = parse("s.toml", "", &[set("thresholds=[\"errors.count < 1\", \"b\"]")]).unwrap_err();
        assert_eq!(
            (e.location.as_str(), e.field.as_str()),
            ("--set thresholds=[\"errors.count < 1\", \"b\"]", "thresholds[1]")
        );
        // Columns count characters, not bytes.
        let e = parse("s.toml", "x = \"é\" = 1", &[]).unwrap_err();
        assert_eq!(e.to_string(), "s.toml:1:9: TOML syntax: expected newline, `#`");
    }

    #[test]
    fn load_reads_files_and_names_them_in_errors() {
        let path = std::env::temp_dir().join(format!("wsload-parse-{}.toml", std::process::id()));
        std::fs::write(&path, "connections = 7\nrate = \"2/s\"\n").unwrap();
        let s = load(Some(&path), &[set("duration=3")]).unwrap();
        assert_eq!((s.connections, s.phases[0].duration), (7, secs(3.0)));
        std::fs::write(&path, "connections = 0\n").unwrap();
        let e = load(Some(&path), &[]).unwrap_err();
        assert_eq!(e.location, format!("{}:1:15", path.display()));
        std::fs::remove_file(&path).unwrap();
        let e = load(Some(&path), &[]).unwrap_err();
        assert!(e.message.starts_with("cannot read the scenario file"), "{e}");
        let e = load(None, &[set("connections=0")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set connections=0: connections: expected an integer of 1 or more, found 0"
        );
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position("f", "ab\ncdé x", 8), "f:2:5");
        assert_eq!(position("f", "", 0), "f:1:1");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(fmt_dur(secs(30.0)), "30s");
        assert_eq!(fmt_dur(secs(0.25)), "250ms");
        assert_eq!(fmt_dur(secs(150.0)), "2m30s");
        assert_eq!(fmt_dur(secs(1.5)), "1.5s");
        assert_eq!(fmt_bytes(64 << 10), "64 KiB");
        assert_eq!(fmt_bytes(100), "100 B");
        assert_eq!(fmt_rate(0.5), "0.5/s");
        assert_eq!(describe(&defaults()).lines().count(), 8, "{}", describe(&defaults()));
    }
}
