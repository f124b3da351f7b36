//! `wsload report`: the result files re-rendered from a saved summary.json.

/// `wsload report DIR [--format LIST]`: re-render result files from a saved summary.json.
pub fn main(a: &crate::config::cli::ReportArgs) -> u8 {
    use crate::report::Format;
    let formats = match &a.format {
        Some(l) => match Format::parse_list(l) {
            Ok(f) => f,
            Err(e) => return super::setup_error(format!("--format: {e}")),
        },
        None => vec![Format::Csv, Format::Md, Format::Html, Format::Prom],
    };
    if formats.contains(&Format::Hlog) {
        return super::setup_error(
            "latency.hlog cannot be re-rendered: it needs the run's per-interval histograms, which \
             summary.json does not hold (the run writes it)",
        );
    }
    let (file, mut summary) = match crate::report::Summary::load(&a.dir) {
        Ok(x) => x,
        Err(e) => return super::setup_error(e),
    };
    // Findings are recomputed from the figures, so an older summary.json gets them too.
    if summary.analysis.is_none() {
        summary.analysis = Some(crate::analysis::analyze(&summary));
    }
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    match crate::report::write_all(dir, &summary, &[], &formats) {
        Ok(paths) if paths.len() == formats.len() => {
            for p in paths {
                println!("{}", p.display());
            }
            0
        }
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            2
        }
        Err(e) => super::setup_error(format!("cannot write into {}: {e}", dir.display())),
    }
}
