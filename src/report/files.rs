//! The result files: rendering each format from one summary and writing them all.

use std::path::{Path, PathBuf};

use super::format::Format;
use super::model::Summary;
use crate::aggregate::live::Interval;

/// The bytes of one format.
pub fn render(f: Format, summary: &Summary, intervals: &[Interval]) -> std::io::Result<Vec<u8>> {
    Ok(match f {
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
            v.push(b'\n');
            v
        }
        Format::Csv => super::csv::render(summary).into_bytes(),
        Format::Md => super::markdown::render(summary).into_bytes(),
        Format::Html => super::html::render(summary).into_bytes(),
        Format::Prom => super::prom::render(summary).into_bytes(),
        Format::Hlog => super::hlog::render(intervals, summary.started_at_unix_s)?,
    })
}

/// Write `bytes` to `dir/name` through a temporary file and a rename, so that a reader never
/// sees half a file.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Write every format of `formats` into `dir` (created if needed). A format that fails is
/// reported on stderr and the others are still written; the error is the first failure,
/// returned only when nothing could be written.
pub fn write_all(
    dir: &Path,
    summary: &Summary,
    intervals: &[Interval],
    formats: &[Format],
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut first_err = None;
    for &f in formats {
        match render(f, summary, intervals).and_then(|b| write_atomic(dir, f.file_name(), &b)) {
            Ok(p) => written.push(p),
            Err(e) => {
                eprintln!(
                    "wsload: warning: cannot write {} into {}: {e}",
                    f.file_name(),
                    dir.display()
                );
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) if written.is_empty() => Err(e),
        _ => Ok(written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_format_and_keeps_going() {
        let dir = std::env::temp_dir().join(format!("wsload-files-{}", std::process::id()));
        let s = Summary {
            target: "ws://x/<a>".into(),
            ..Summary::default()
        };
        let paths = write_all(&dir, &s, &[], &Format::ALL).unwrap();
        assert_eq!(paths.len(), 6);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(html.contains("ws://x/&lt;a&gt;"));
        assert!(std::fs::read_to_string(dir.join("latency.hlog"))
            .unwrap()
            .contains("#[BaseTime"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
