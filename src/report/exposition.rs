//! The Prometheus text exposition format (version 0.0.4), as both metrics.prom and the live
//! endpoint's page write it: escaping, sample values, HELP/TYPE lines and samples. A leaf:
//! prom.rs and live.rs import it, it imports neither.

use std::fmt::Write;

/// A label value escaped for the exposition format: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// HELP text escaped: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Go's float syntax, which Rust's `Display` matches for finite values.
fn value(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{x}")
    }
}

/// An exposition text being written.
pub(crate) struct Out(pub(crate) String);

impl Out {
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], x: f64) {
        let _ = write!(self.0, "{name}");
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {}", value(x));
    }

    /// A family with one sample per (label value, value), in the order given.
    pub(crate) fn labelled(&mut self, name: &str, kind: &str, help: &str, label: &str, items: &[(&str, f64)]) {
        self.family(name, kind, help);
        for (l, x) in items {
            self.sample(name, &[(label, l)], *x);
        }
    }

    /// A family of one unlabelled sample.
    pub(crate) fn one(&mut self, name: &str, kind: &str, help: &str, x: Option<f64>) {
        if let Some(x) = x {
            self.family(name, kind, help);
            self.sample(name, &[], x);
        }
    }

    /// What metrics.prom and the live endpoint both begin with: `wsload_info` (always 1, its
    /// labels say which run) and when the run started.
    pub(crate) fn run_info(&mut self, labels: &[(&str, &str)], start_unix_s: f64) {
        self.family(
            "wsload_info",
            "gauge",
            "The run that produced these figures (always 1).",
        );
        self.sample("wsload_info", labels, 1.0);
        self.one(
            "wsload_run_start_time_seconds",
            "gauge",
            "When the run started, seconds since the Unix epoch.",
            Some(start_unix_s),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
    }
}
