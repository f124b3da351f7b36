//! The result formats: their names, their file names, and the `--format` list. A leaf: the
//! writers that need a file name (files.rs, hlog.rs) import it, it imports none of them.

/// One result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Md,
    Html,
    Prom,
    Hlog,
}

impl Format {
    /// Every format, in the order a run writes them.
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Csv,
        Format::Md,
        Format::Html,
        Format::Prom,
        Format::Hlog,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "summary.json",
            Format::Csv => "timeline.csv",
            Format::Md => "report.md",
            Format::Html => "report.html",
            Format::Prom => "metrics.prom",
            Format::Hlog => "latency.hlog",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Prom => "prom",
            Format::Hlog => "hlog",
        }
    }

    /// A comma-separated list (`html,md`); `all` stands for every format.
    pub fn parse_list(list: &str) -> Result<Vec<Format>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let f: &[Format] = match name.to_ascii_lowercase().as_str() {
                "all" => &Format::ALL,
                "json" => &[Format::Json],
                "csv" => &[Format::Csv],
                "md" | "markdown" => &[Format::Md],
                "html" => &[Format::Html],
                "prom" | "prometheus" => &[Format::Prom],
                "hlog" => &[Format::Hlog],
                _ => {
                    return Err(format!(
                        "unknown format `{name}`: expected a list of json, csv, md, html, prom, hlog or all"
                    ))
                }
            };
            for f in f {
                if !out.contains(f) {
                    out.push(*f);
                }
            }
        }
        if out.is_empty() {
            return Err("no format given".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_lists() {
        assert_eq!(Format::parse_list("html,md").unwrap(), vec![Format::Html, Format::Md]);
        assert_eq!(
            Format::parse_list("md, md ,prom").unwrap(),
            vec![Format::Md, Format::Prom]
        );
        assert_eq!(Format::parse_list("all").unwrap(), Format::ALL.to_vec());
        assert!(Format::parse_list("pdf").unwrap_err().contains("unknown format `pdf`"));
        assert!(Format::parse_list(",").is_err());
    }
}
