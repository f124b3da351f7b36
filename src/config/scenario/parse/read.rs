//! Reading typed values from the tree: durations, rates, sizes, numbers, strings, names from a
//! fixed set (with "did you mean"), and the known keys of a table; and the errors they give.

use std::time::Duration;

use crate::config::suggest::unknown;
use crate::config::units::{fmt_dur, parse_bytes, parse_duration, parse_rate};

use super::error::{error, Res, ScenarioError};
use super::tree::{join, Entry, Node, Val};

/// "a" or "an" before `word`.
pub(super) fn a(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The name `v` has among `options`.
pub(super) fn name_of<T: PartialEq>(options: &[(&'static str, T)], v: &T) -> &'static str {
    options.iter().find(|(_, o)| o == v).expect("listed").0
}

pub(super) fn expected(n: &Node, field: &str, what: &str) -> ScenarioError {
    error(&n.loc, field, format!("expected {what}, found {}", n.found()))
}

/// `what` was out of range: "expected {what}, found {raw}".
pub(super) fn out_of_range(n: &Node, field: &str, what: &str) -> ScenarioError {
    error(&n.loc, field, format!("expected {what}, found {}", n.raw))
}

pub(super) fn get_str(n: &Node, field: &str, what: &str) -> Res<String> {
    match &n.val {
        Val::Str(s) => Ok(s.clone()),
        Val::Int(_) | Val::Float(_) | Val::Bool(_) | Val::Date if n.set => Ok(n.raw.clone()),
        _ => Err(expected(n, field, what)),
    }
}

pub(super) fn get_bool(n: &Node, field: &str) -> Res<bool> {
    match &n.val {
        Val::Bool(b) => Ok(*b),
        _ => Err(expected(n, field, "true or false")),
    }
}

pub(super) fn get_int(n: &Node, field: &str, min: i64, max: i64) -> Res<i64> {
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

/// A number for which `ok` holds; `what` describes such a number.
pub(super) fn get_float_where(n: &Node, field: &str, what: &str, ok: impl Fn(f64) -> bool) -> Res<f64> {
    let v = get_float(n, field, what)?;
    if !ok(v) {
        return Err(out_of_range(n, field, what));
    }
    Ok(v)
}

const DURATION: &str = "a duration such as \"10s\"";

/// A duration of 0 or more: seconds as a number, or a string with a unit.
pub(super) fn get_duration(n: &Node, field: &str) -> Res<Duration> {
    let negative = || out_of_range(n, field, &format!("{DURATION} (durations cannot be negative)"));
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
        return Err(out_of_range(n, field, &format!("{DURATION} (at most 1e9 seconds)")));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub(super) fn get_positive_duration(n: &Node, field: &str) -> Res<Duration> {
    let d = get_duration(n, field)?;
    if d.is_zero() {
        return Err(out_of_range(n, field, "a duration above 0 such as \"10s\""));
    }
    Ok(d)
}

const RATE: &str = "a rate such as \"5/s\"";

/// Messages (or connections) per second: a number, or a string such as `"600/m"`.
pub(super) fn get_rate(n: &Node, field: &str) -> Res<f64> {
    let negative = || out_of_range(n, field, &format!("{RATE} (rates cannot be negative)"));
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

pub(super) fn get_positive_rate(n: &Node, field: &str, hint: &str) -> Res<f64> {
    let r = get_rate(n, field)?;
    if r <= 0.0 {
        return Err(out_of_range(n, field, &format!("a rate above 0 such as \"5/s\"{hint}")));
    }
    Ok(r)
}

const SIZE: &str = "a size in bytes such as 64 or \"16KiB\"";

pub(super) fn get_bytes(n: &Node, field: &str) -> Res<u64> {
    match &n.val {
        Val::Int(i) if *i < 0 => Err(out_of_range(n, field, &format!("{SIZE} (sizes cannot be negative)"))),
        Val::Int(i) => Ok(*i as u64),
        Val::Str(s) => parse_bytes(s).map_err(|m| error(&n.loc, field, m)),
        _ => Err(expected(n, field, SIZE)),
    }
}

/// `at` (read from node `n`) must come before `traffic_end`: `what` (faults, toxics) must start
/// while traffic runs.
pub(super) fn starts_in_traffic(n: &Node, field: &str, at: Duration, traffic_end: Duration, what: &str) -> Res<()> {
    if at >= traffic_end {
        return Err(error(
            &n.loc,
            field,
            format!(
                "starts at {}, at or after the end of traffic ({}, the end of the last phase); {what} must start while traffic runs",
                fmt_dur(at),
                fmt_dur(traffic_end)
            ),
        ));
    }
    Ok(())
}

pub(super) fn get_list<'a>(n: &'a Node, field: &str, what: &str) -> Res<&'a [Node]> {
    match &n.val {
        Val::List(items) => Ok(items),
        _ => Err(expected(n, field, what)),
    }
}

/// A list of strings (`list` describes it, `item` one string), each checked by `check` with its
/// node and field name (`field[i]`).
pub(super) fn get_str_list<T>(
    n: &Node,
    field: &str,
    list: &str,
    item: &str,
    check: impl Fn(&Node, &str, String) -> Res<T>,
) -> Res<Vec<T>> {
    let items = get_list(n, field, list)?;
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = get_str(e, &f, item)?;
        out.push(check(e, &f, s)?);
    }
    Ok(out)
}

/// One table of the tree being read: knows its path for field names and its location for
/// "missing" errors.
pub(super) struct Tab<'a> {
    pub(super) loc: &'a str,
    path: String,
    pub(super) entries: &'a [Entry],
}

impl<'a> Tab<'a> {
    pub(super) fn new(n: &'a Node, path: &str, what: &str) -> Res<Tab<'a>> {
        match &n.val {
            Val::Table(entries) => Ok(Tab {
                loc: &n.loc,
                path: path.to_string(),
                entries,
            }),
            _ => Err(expected(n, path, what)),
        }
    }

    pub(super) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(super) fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// Every key must be one of `known`.
    pub(super) fn known(&self, known: &[&str]) -> Res<()> {
        self.only(known, |k| unknown("field", k, known))
    }

    /// Keys present that do not apply here: `applies` lists those that do, `why` says why not.
    pub(super) fn only(&self, applies: &[&str], why: impl Fn(&str) -> String) -> Res<()> {
        for e in self.entries {
            if !applies.contains(&e.key.as_str()) {
                return Err(error(&e.key_loc, &self.field(&e.key), why(&e.key)));
            }
        }
        Ok(())
    }

    /// Keys that belong to other kinds of `what` (a phase, a ramp) are errors naming the kind
    /// they are for: `common` keys apply to every kind, `own` to `kind_name`, and `owner` gives
    /// the kind (or kinds) a key belongs to.
    pub(super) fn only_kind(
        &self,
        what: &str,
        kind_name: &str,
        common: &[&str],
        own: &[&str],
        owner: impl Fn(&str) -> &'static str,
    ) -> Res<()> {
        let applies: Vec<&str> = common.iter().chain(own).copied().collect();
        let note = self.default_note("kind");
        self.only(&applies, |k| {
            format!(
                "`{k}` does not apply to {} {kind_name} {what}{note}; it is for kind = \"{}\"",
                a(kind_name),
                owner(k)
            )
        })
    }

    /// " (the default)" when `key` is not set, for messages about the value it defaults to.
    pub(super) fn default_note(&self, key: &str) -> &'static str {
        if self.get(key).is_none() {
            " (the default)"
        } else {
            ""
        }
    }

    fn missing(&self, key: &str, hint: &str) -> ScenarioError {
        error(self.loc, &self.field(key), format!("missing; {hint}"))
    }

    pub(super) fn req(&self, key: &str, hint: &str) -> Res<&'a Node> {
        self.get(key).ok_or_else(|| self.missing(key, hint))
    }

    /// A required value, read by `read`; `hint` says what to add when it is missing.
    pub(super) fn need<T>(&self, key: &str, hint: &str, read: impl Fn(&Node, &str) -> Res<T>) -> Res<T> {
        self.need_node(key, hint, read).map(|(v, _)| v)
    }

    /// [`Tab::need`], also giving the node, for checks against other fields.
    pub(super) fn need_node<T>(
        &self,
        key: &str,
        hint: &str,
        read: impl Fn(&Node, &str) -> Res<T>,
    ) -> Res<(T, &'a Node)> {
        let n = self.req(key, hint)?;
        Ok((read(n, &self.field(key))?, n))
    }

    /// A value from a fixed set of names, e.g. `kind = "linear"`.
    pub(super) fn choice<T: Copy>(&self, key: &str, what: &str, options: &[(&str, T)], default: Option<T>) -> Res<T> {
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

    pub(super) fn opt<T>(&self, key: &str, read: impl Fn(&Node, &str) -> Res<T>) -> Res<Option<T>> {
        match self.get(key) {
            Some(n) => read(n, &self.field(key)).map(Some),
            None => Ok(None),
        }
    }
}
