//! Reports: the summary (JSON, text and an HTML page), each format a small writer.
pub mod html;
pub mod server;
pub mod summary;
pub mod text;
pub mod verdict;

use std::path::Path;

pub use summary::Summary;

/// Write `summary.json` into `dir` (created if needed). Returns the file's path.
pub fn write_summary(dir: &Path, s: &Summary) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("summary.json");
    let tmp = dir.join(".summary.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
