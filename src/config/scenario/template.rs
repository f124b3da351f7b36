//! Message bodies from templates: text with placeholders that are filled for
//! every message, so a server that expects a real protocol (JSON-RPC, GraphQL
//! over WebSocket, a chat protocol) gets well-formed, distinct requests.
//!
//! Placeholders are `{name}` or `{name:N}` with a known name; anything else in
//! braces is literal, so JSON bodies need no escaping (`{"id":{seq}}` has one
//! placeholder). An identifier in braces that is not a known name (`{sq}`) is
//! an error, because it is almost certainly a typo. `{{` and `}}` give a
//! literal brace where one would otherwise start a placeholder.
//!
//! Templates are compiled once when the scenario is read; rendering appends to
//! a caller's buffer and allocates nothing.

use std::fmt::Write as _;

/// The placeholders, for error messages and the README.
pub const PLACEHOLDERS: &str = "{conn} (connection id), {seq} (message number on its connection, from 0), \
{ts} (Unix time in ms), {ts_us} (Unix time in µs), {rand:N} (N random letters and digits), \
{hex:N} (N random hex digits)";

/// Largest N in `{rand:N}` / `{hex:N}`.
pub const MAX_RANDOM: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Bytes `start..end` of the source.
    Lit(u32, u32),
    Conn,
    Seq,
    TsMs,
    TsUs,
    Rand(u32),
    Hex(u32),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    /// Literal text with `{{` already collapsed.
    lit: String,
    parts: Vec<Part>,
}

/// Saved as its source text; read back by compiling it again.
impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::compile(&s).map_err(serde::de::Error::custom)
    }
}

/// What a placeholder is filled with.
pub struct Fill {
    pub conn: u64,
    pub seq: u64,
    /// Unix time in nanoseconds.
    pub unix_ns: u64,
}

impl Template {
    /// Compile `source`. The error says what is wrong and where (1-based character column).
    pub fn compile(source: &str) -> Result<Template, String> {
        let mut lit = String::new();
        let mut parts = Vec::new();
        let mut start = 0u32;
        let b = source.as_bytes();
        let mut i = 0;
        let flush = |lit: &mut String, parts: &mut Vec<Part>, start: &mut u32| {
            let end = lit.len() as u32;
            if end > *start {
                parts.push(Part::Lit(*start, end));
            }
            *start = end;
        };
        while i < b.len() {
            match b[i] {
                b'{' if b.get(i + 1) == Some(&b'{') => {
                    lit.push('{');
                    i += 2;
                }
                b'{' => {
                    let Some((name, arg, close)) = placeholder_at(source, i) else {
                        // `{"a":...}`-like text, or an identifier followed by other characters: literal.
                        lit.push('{');
                        i += 1;
                        continue;
                    };
                    let col = source[..i].chars().count() + 1;
                    let part = placeholder(name, arg).map_err(|m| format!("at column {col}: {m}"))?;
                    flush(&mut lit, &mut parts, &mut start);
                    parts.push(part);
                    i = close + 1;
                }
                _ => {
                    let ch = source[i..].chars().next().expect("in bounds");
                    lit.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        flush(&mut lit, &mut parts, &mut start);
        Ok(Template {
            source: source.to_string(),
            lit,
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Does the template use `{seq}`? (Needed for correlation by id.)
    pub fn uses_seq(&self) -> bool {
        self.parts.contains(&Part::Seq)
    }

    /// Append the filled template to `out`. `rand` gives uniform random 32-bit numbers.
    pub fn render(&self, out: &mut Vec<u8>, fill: &Fill, mut rand: impl FnMut() -> u32) {
        const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for p in &self.parts {
            match *p {
                Part::Lit(s, e) => out.extend_from_slice(&self.lit.as_bytes()[s as usize..e as usize]),
                Part::Conn => push_u64(out, fill.conn),
                Part::Seq => push_u64(out, fill.seq),
                Part::TsMs => push_u64(out, fill.unix_ns / 1_000_000),
                Part::TsUs => push_u64(out, fill.unix_ns / 1_000),
                Part::Rand(n) => out.extend((0..n).map(|_| ALNUM[((rand() as u64 * 62) >> 32) as usize])),
                Part::Hex(n) => out.extend((0..n).map(|_| HEX[(rand() >> 28) as usize])),
            }
        }
    }

    /// The rendered length when every number has `digits` digits (an estimate for sizing).
    pub fn typical_len(&self) -> usize {
        let mut out = Vec::new();
        self.render(
            &mut out,
            &Fill {
                conn: 0,
                seq: 0,
                unix_ns: 1_700_000_000_000_000_000,
            },
            || 0,
        );
        out.len()
    }
}

/// The placeholder whose `{` is at byte `i`: its name, its argument (after `:`), and the byte
/// index of its `}`. `None` when the brace does not open one: no lowercase identifier follows,
/// no `}` closes it, or other characters follow the identifier (`{"a":1}`).
fn placeholder_at(source: &str, i: usize) -> Option<(&str, Option<&str>, usize)> {
    let b = source.as_bytes();
    let ident_len = b[i + 1..]
        .iter()
        .take_while(|c| c.is_ascii_lowercase() || **c == b'_')
        .count();
    let close = i + 1 + b[i + 1..].iter().position(|&c| c == b'}')?;
    if ident_len == 0 {
        return None;
    }
    let inner = &source[i + 1..close];
    let (name, arg) = match inner.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (inner, None),
    };
    (name.len() == ident_len).then_some((name, arg, close))
}

fn placeholder(name: &str, arg: Option<&str>) -> Result<Part, String> {
    let count = |arg: Option<&str>| -> Result<u32, String> {
        let a = arg.ok_or_else(|| format!("`{{{name}}}` needs a length, e.g. `{{{name}:16}}`"))?;
        match a.parse::<usize>() {
            Ok(n) if (1..=MAX_RANDOM).contains(&n) => Ok(n as u32),
            _ => Err(format!(
                "`{{{name}:{a}}}`: the length must be a whole number from 1 to {MAX_RANDOM}"
            )),
        }
    };
    let plain = |p: Part| match arg {
        None => Ok(p),
        Some(a) => Err(format!("`{{{name}:{a}}}`: `{{{name}}}` takes no argument")),
    };
    match name {
        "conn" => plain(Part::Conn),
        "seq" => plain(Part::Seq),
        "ts" => plain(Part::TsMs),
        "ts_us" => plain(Part::TsUs),
        "rand" => Ok(Part::Rand(count(arg)?)),
        "hex" => Ok(Part::Hex(count(arg)?)),
        _ => {
            let mut m = format!("unknown placeholder `{{{name}}}`; the placeholders are {PLACEHOLDERS}");
            let _ = write!(m, " (write `{{{{` for a literal brace)");
            Err(m)
        }
    }
}

/// Decimal digits of `v`, without allocating.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, conn: u64, seq: u64) -> String {
        let t = Template::compile(t).unwrap();
        let mut out = Vec::new();
        let mut r = 0u32;
        t.render(
            &mut out,
            &Fill {
                conn,
                seq,
                unix_ns: 1_764_230_000_123_456_789,
            },
            || {
                r = r.wrapping_add(0x1234_5678);
                r
            },
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn placeholders_are_filled_and_json_braces_kept() {
        assert_eq!(
            render(r#"{"op":"subscribe","topic":"t{conn}","id":{seq}}"#, 42, 7),
            r#"{"op":"subscribe","topic":"t42","id":7}"#
        );
        assert_eq!(render("{ts} {ts_us}", 0, 0), "1764230000123 1764230000123456");
        assert_eq!(
            render("{{seq} {seq}", 0, 18_446_744_073_709_551_615),
            "{seq} 18446744073709551615"
        );
        assert_eq!(render("plain", 1, 1), "plain");
        assert_eq!(render(r#"{"a":{"b":{seq}}}"#, 1, 3), r#"{"a":{"b":3}}"#);
        assert_eq!(render("", 1, 1), "");
        assert_eq!(render("{ \"a\": {}, }", 1, 1), "{ \"a\": {}, }");
        assert_eq!(render("é{seq}ü", 1, 5), "é5ü");
        let r = render("<{rand:8}|{hex:4}>", 0, 0);
        assert_eq!(r.len(), 15, "{r}");
        assert!(r[1..9].bytes().all(|c| c.is_ascii_alphanumeric()), "{r}");
        assert!(r[10..14].bytes().all(|c| c.is_ascii_hexdigit()), "{r}");
    }

    #[test]
    fn typos_and_bad_lengths_are_errors_with_a_column() {
        let e = Template::compile(r#"{"id":{sq}}"#).unwrap_err();
        assert!(e.starts_with("at column 7: unknown placeholder `{sq}`"), "{e}");
        let e = Template::compile("x{rand}").unwrap_err();
        assert!(e.contains("needs a length"), "{e}");
        let e = Template::compile("{rand:0}").unwrap_err();
        assert!(e.contains("from 1 to"), "{e}");
        let e = Template::compile("{hex:lots}").unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = Template::compile("{seq:3}").unwrap_err();
        assert!(e.contains("takes no argument"), "{e}");
        // Not identifiers: literal.
        assert!(Template::compile("{1} {A} {seq").is_ok());
    }

    #[test]
    fn uses_seq_and_typical_len() {
        assert!(Template::compile(r#"{"id":{seq}}"#).unwrap().uses_seq());
        assert!(!Template::compile(r#"{"id":1}"#).unwrap().uses_seq());
        assert_eq!(Template::compile("ab{rand:10}").unwrap().typical_len(), 12);
    }
}
