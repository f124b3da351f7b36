//! Reports: the summary (JSON and text), and the result files, each format a
//! small writer over the typed [`Summary`] (a saved summary.json re-renders through
//! [`Summary::load`]).
pub mod compare;
pub mod csv;
pub mod endpoint;
pub mod exposition;
pub mod files;
pub mod format;
pub mod hlog;
pub mod html;
pub mod live;
pub mod markdown;
pub mod model;
pub mod prom;
pub mod server;
pub mod summary;
pub mod text;
pub mod verdict;
pub mod wire;

use std::path::Path;

pub use files::write_all;
pub use format::Format;
pub use model::Summary;

/// Write `summary.json` into `dir` (created if needed). Returns the file's path.
pub fn write_summary(dir: &Path, s: &Summary) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("summary.json");
    let tmp = dir.join(".summary.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
