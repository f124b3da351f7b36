//! The tree: values with their origins.
//!
//! A TOML document becomes a tree of [`Node`]s, each remembering where it came from
//! (`FILE:LINE:COL`, or the override that set it); overrides are then applied to that tree.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::error::{error, Res};
use super::overrides::Override;

#[derive(Debug, Clone)]
pub(super) struct Node {
    /// Where the value is: `FILE:LINE:COL`, or an override's origin.
    pub(super) loc: String,
    /// The value as written, for "found ..." in messages.
    pub(super) raw: String,
    /// Set by an override: a scalar is also accepted where a string is expected (`--set name=2024`).
    pub(super) set: bool,
    pub(super) val: Val,
}

#[derive(Debug, Clone)]
pub(super) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date,
    List(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: String,
    /// Where the key is written (unknown-field and conflict errors point here).
    pub(super) key_loc: String,
    pub(super) node: Node,
}

impl Node {
    /// A table or list without a text of its own.
    fn container(loc: &str, set: bool, val: Val) -> Node {
        Node {
            loc: loc.to_string(),
            raw: String::new(),
            set,
            val,
        }
    }

    fn table(loc: &str, set: bool) -> Node {
        Node::container(loc, set, Val::Table(Vec::new()))
    }

    /// "a string (\"abc\")", "a float (1.5)", "a table": what was found, for type errors.
    pub(super) fn found(&self) -> String {
        match &self.val {
            Val::Str(s) => format!("a string ({s:?})"),
            Val::Int(_) | Val::Float(_) | Val::Bool(_) | Val::Date => format!("{} ({})", self.type_name(), self.raw),
            Val::List(_) | Val::Table(_) => self.type_name().to_string(),
        }
    }

    pub(super) fn type_name(&self) -> &'static str {
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

    /// Where an element of a list of tables gives its `name`, else where the element is.
    pub(super) fn name_loc(&self) -> &str {
        self.val
            .as_table()
            .and_then(|es| es.iter().find(|e| e.key == "name"))
            .map_or(&self.loc, |e| &e.node.loc)
    }
}

impl Val {
    pub(super) fn as_table(&self) -> Option<&[Entry]> {
        match self {
            Val::Table(e) => Some(e),
            _ => None,
        }
    }
}

/// `NAME:LINE:COL`, 1-based, the column counted in characters.
pub(super) fn position(name: &str, text: &str, offset: usize) -> String {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{name}:{line}:{col}")
}

/// Where nodes come from: the file (positions from spans) or one override (`fixed`: every node
/// is located at the override's origin, passed as `name`).
pub(super) struct Src<'a> {
    pub(super) name: &'a str,
    pub(super) text: &'a str,
    pub(super) fixed: bool,
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

    /// A table of the document (the root, a `[table]`, an inline table) located at `loc`.
    pub(super) fn table(&self, t: &dyn TableLike, loc: &str) -> Node {
        let mut entries = Vec::new();
        for (k, _) in t.iter() {
            let Some((key, item)) = t.get_key_value(k) else {
                continue;
            };
            let key_loc = self.loc(key.span(), loc);
            let node = self.item(item, &key_loc);
            entries.push(Entry {
                key: k.to_string(),
                key_loc,
                node,
            });
        }
        Node::container(loc, self.fixed, Val::Table(entries))
    }

    fn item(&self, item: &Item, fallback: &str) -> Node {
        match item {
            Item::Value(v) => self.value(v, fallback),
            Item::Table(t) => self.table(t, &self.loc(t.span(), fallback)),
            Item::ArrayOfTables(a) => {
                let first = a.get(0).and_then(|t| t.span());
                let loc = self.loc(a.span().or(first), fallback);
                let items = a.iter().map(|t| self.table(t, &self.loc(t.span(), &loc))).collect();
                Node::container(&loc, self.fixed, Val::List(items))
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
            Value::InlineTable(t) => return self.table(t, &loc),
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

/// `path.key`, or `key` at the top.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Set one dotted key in the tree. Missing tables are created; a numeric part indexes a list, and
/// the index one past the end appends an element.
pub(super) fn apply(root: &mut Node, ov: &Override) -> Res<()> {
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
                let at = list_index(len, part, &path, origin)?;
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

/// The element `part` selects in the list at `path` of `len` elements: an index up to `len`
/// (which appends).
fn list_index(len: usize, part: &str, path: &str, origin: &str) -> Res<usize> {
    let Ok(at) = part.parse::<usize>() else {
        return Err(error(
            origin,
            path,
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
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position("f", "ab\ncdé x", 8), "f:2:5");
        assert_eq!(position("f", "", 0), "f:1:1");
    }
}
