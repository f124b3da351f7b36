//! One run as compare.html sees it: its summary and, when it can be read, its whole corrected
//! latency from latency.hlog. Read by the page (`compare.rs`) and its charts (`compare_charts.rs`).

use std::path::Path;

use hdrhistogram::Histogram;

use crate::report::model::Summary;

/// One run as the page sees it.
pub struct Run<'a> {
    /// Where its summary was read from (shown).
    pub path: String,
    pub summary: &'a Summary,
    /// Its whole corrected latency (ns), from its latency.hlog, when that could be read.
    pub latency: Option<Histogram<u64>>,
    /// Why latency.hlog was not used, when it was not (shown under the distribution).
    pub latency_note: Option<String>,
}

impl<'a> Run<'a> {
    /// A run from its summary alone (its distribution is then the summary's percentiles).
    pub fn from_summary(path: &str, summary: &'a Summary) -> Run<'a> {
        Run {
            path: path.to_string(),
            summary,
            latency: None,
            latency_note: None,
        }
    }

    /// A run read by `wsload compare` from `file` (its summary.json): its latency.hlog, next to
    /// it, is read when present and kept only if it holds as many latencies as the summary.
    pub fn load(file: &Path, summary: &'a Summary) -> Run<'a> {
        let mut run = Run::from_summary(&file.display().to_string(), summary);
        let hlog = file.with_file_name("latency.hlog");
        let counted = summary.latency_us.corrected.count;
        if !hlog.exists() {
            run.latency_note = Some(format!(
                "no {} next to it: only the summary's percentiles are drawn",
                hlog.display()
            ));
            return run;
        }
        match std::fs::read(&hlog)
            .map_err(|e| e.to_string())
            .and_then(|b| crate::report::hlog::read_merged(&b))
        {
            Ok(h) if h.len() == counted => run.latency = Some(h),
            Ok(h) => {
                run.latency_note = Some(format!(
                    "{} holds {} latencies and summary.json {counted}: it is not this run's, so only the \
                     summary's percentiles are drawn",
                    hlog.display(),
                    h.len()
                ))
            }
            Err(e) => {
                run.latency_note = Some(format!(
                    "{} could not be read ({e}): only the summary's percentiles are drawn",
                    hlog.display()
                ))
            }
        }
        run
    }
}
