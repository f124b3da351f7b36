//! JSON Pointer (RFC 6901) lookups in a message, for correlating replies by an
//! id and reading a server's timestamps. The scan walks the bytes once,
//! skipping what the pointer does not lead into, and allocates nothing: it
//! runs on every message received.
//!
//! Object keys are compared as written in the message, so a key spelled with
//! escapes (`"\u0069d"`) does not match `/id`. A message that is not JSON, or
//! does not hold the pointer's path, simply gives `None`.

/// A parsed pointer such as `/id` or `/payload/data/0/ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    source: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parse `"/a/b/0"`; `~1` stands for `/` and `~0` for `~` inside a token.
    pub fn parse(s: &str) -> Result<Pointer, String> {
        if s.is_empty() {
            return Err("an empty pointer names the whole message; give a field such as \"/id\"".into());
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(format!(
                "a JSON pointer starts with `/`, e.g. \"/{s}\" (RFC 6901), found {s:?}"
            ));
        };
        let mut tokens = Vec::new();
        for t in rest.split('/') {
            let mut out = String::new();
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("`~` must be followed by 0 or 1 in a JSON pointer, found {s:?}")),
                }
            }
            tokens.push(out);
        }
        Ok(Pointer {
            source: s.to_string(),
            tokens,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The value the pointer leads to: a number's or literal's text, a string's bytes between
    /// the quotes (escapes left as they are), or a whole object or array.
    pub fn find<'a>(&self, doc: &'a [u8]) -> Option<&'a [u8]> {
        let mut s = Scan { b: doc, i: 0 };
        for t in &self.tokens {
            s.ws();
            match s.peek()? {
                b'{' => s.enter_member(t.as_bytes())?,
                b'[' => s.enter_element(t.parse::<usize>().ok()?)?,
                _ => return None,
            }
        }
        s.ws();
        let start = s.i;
        s.skip_value()?;
        let v = &doc[start..s.i];
        Some(match v.first() {
            Some(b'"') => &v[1..v.len() - 1],
            _ => v,
        })
    }

    /// The value as a whole number: a JSON integer, or a string of digits (ids are often
    /// strings). Fractions and negative numbers give `None`.
    pub fn find_u64(&self, doc: &[u8]) -> Option<u64> {
        let v = self.find(doc)?;
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(v).ok()?.parse().ok()
    }

    /// The value as a number (integer or fraction, or a numeric string).
    pub fn find_f64(&self, doc: &[u8]) -> Option<f64> {
        let v = self.find(doc)?;
        std::str::from_utf8(v)
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
    }
}

/// Saved as its text; read back by parsing it again.
impl serde::Serialize for Pointer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Pointer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pointer::parse(&s).map_err(serde::de::Error::custom)
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// At `{`: move to the value of member `key`.
    fn enter_member(&mut self, key: &[u8]) -> Option<()> {
        self.i += 1;
        loop {
            self.ws();
            if self.peek()? == b'}' {
                return None;
            }
            let start = self.i + 1;
            self.skip_string()?;
            let k = &self.b[start..self.i - 1];
            self.eat(b':')?;
            if k == key {
                return Some(());
            }
            self.ws();
            self.skip_value()?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                _ => return None,
            }
        }
    }

    /// At `[`: move to element `index`.
    fn enter_element(&mut self, index: usize) -> Option<()> {
        self.i += 1;
        for _ in 0..index {
            self.ws();
            if self.peek()? == b']' {
                return None;
            }
            self.skip_value()?;
            self.eat(b',')?;
        }
        self.ws();
        (self.peek()? != b']').then_some(())
    }

    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, doc: &str) -> Option<String> {
        Pointer::parse(p)
            .unwrap()
            .find(doc.as_bytes())
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn finds_nested_values_and_skips_the_rest() {
        let doc = r#" { "jsonrpc": "2.0", "skip": {"id": 9, "s": "a\"}]"}, "list": [1, [2, 3], {"x": "y"}],
            "id" : 42, "result": {"ts": 1764230000.5, "tags": ["a","b"]}, "s": "17" } "#;
        assert_eq!(find("/id", doc).as_deref(), Some("42"));
        assert_eq!(find("/jsonrpc", doc).as_deref(), Some("2.0"));
        assert_eq!(find("/result/ts", doc).as_deref(), Some("1764230000.5"));
        assert_eq!(find("/result/tags/1", doc).as_deref(), Some("b"));
        assert_eq!(find("/list/1", doc).as_deref(), Some("[2, 3]"));
        assert_eq!(find("/list/2/x", doc).as_deref(), Some("y"));
        assert_eq!(find("/skip/s", doc).as_deref(), Some(r#"a\"}]"#));
        assert_eq!(find("/missing", doc), None);
        assert_eq!(find("/list/3", doc), None);
        assert_eq!(find("/id/x", doc), None);
        let p = Pointer::parse("/id").unwrap();
        assert_eq!(p.find_u64(doc.as_bytes()), Some(42));
        assert_eq!(Pointer::parse("/s").unwrap().find_u64(doc.as_bytes()), Some(17));
        assert_eq!(Pointer::parse("/jsonrpc").unwrap().find_u64(doc.as_bytes()), None);
        assert_eq!(
            Pointer::parse("/result/ts").unwrap().find_f64(doc.as_bytes()),
            Some(1_764_230_000.5)
        );
    }

    #[test]
    fn escapes_in_tokens_and_bad_documents() {
        assert_eq!(find("/a~1b/c~0d", r#"{"a/b": {"c~d": 1}}"#).as_deref(), Some("1"));
        for bad in [
            "",
            "{",
            "{\"id\"",
            "{\"id\":",
            "[1,2",
            "not json",
            "{\"id\" 1}",
            "\"id\"",
        ] {
            assert_eq!(find("/id", bad), None, "{bad:?}");
        }
        assert!(Pointer::parse("id").unwrap_err().contains("starts with `/`"));
        assert!(Pointer::parse("").is_err());
        assert!(Pointer::parse("/a~2").is_err());
    }
}
