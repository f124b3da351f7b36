//! Failures concentrated on one client core (`kind: "imbalance"`), from the summary's `cores`.
//!
//! The rule: with at least [`MIN_CORES`] cores and at least [`MIN_FAILURES`] failures in total
//! (errors + connect_failed + dropped + lost, summed over the cores), core *i* is reported when
//! its failures are more than [`OVER_FAIR`] × its fair share of them (fair share = all failures ×
//! the core's established + connect_failed over all cores' established + connect_failed) and at
//! least [`MIN_SHARE`] of all failures. Failures spread over two or more cores roughly in
//! proportion to their connections give no finding: no finding means the load was spread.
//! Confidence is medium: one core's failures point at that core (its CPU, its source address,
//! its share of the ramp) but do not prove a cause.

use super::figures::CoreFigures;
use super::finding::{num, Confidence, Finding, Kind};
use crate::report::model::{CoreSection, Summary};

pub const MIN_CORES: usize = 2;
pub const MIN_FAILURES: u64 = 20;
pub const OVER_FAIR: f64 = 2.0;
pub const MIN_SHARE: f64 = 0.75;

/// The finding, when one core holds most of the run's failures.
pub fn imbalance(s: &Summary) -> Option<Finding> {
    let cores = &s.cores;
    if cores.len() < MIN_CORES {
        return None;
    }
    let total: u64 = cores.iter().map(|c| c.failures()).sum();
    if total < MIN_FAILURES {
        return None;
    }
    let attempted: u64 = cores.iter().map(|c| c.attempted()).sum();
    let share = |c: &CoreSection| {
        if attempted > 0 {
            c.attempted() as f64 / attempted as f64
        } else {
            1.0 / cores.len() as f64
        }
    };
    let worst = cores.iter().max_by_key(|c| c.failures())?;
    let held = worst.failures() as f64 / total as f64;
    let fair = share(worst) * total as f64;
    if !(worst.failures() as f64 > OVER_FAIR * fair && held >= MIN_SHARE) {
        return None;
    }
    let evidence = cores
        .iter()
        .map(|c| {
            format!(
                "core {} (CPU {}): {} failures ({} errors, {} failed connects, {} dropped, {} lost) of {} \
                 connections attempted ({}% of the run's)",
                c.core,
                c.cpu,
                c.failures(),
                c.errors,
                c.connect_failed,
                c.dropped,
                c.lost,
                c.attempted(),
                num(share(c) * 100.0)
            )
        })
        .collect();
    Some(Finding {
        kind: Kind::Imbalance,
        title: format!("Failures concentrated on core {}", worst.core),
        detail: format!(
            "Core {} (CPU {}) holds {} of the {total} failures ({}%), against a fair share of {} by its \
             connections ({}%). The rule: a core with more than {} × its fair share and at least {}% of \
             all failures, with {MIN_CORES} or more cores and {MIN_FAILURES} or more failures (errors + \
             failed connects + drops + lost messages). Look at what differs on that core: its CPU's other \
             load, its source address, or the part of the ramp it ran.",
            worst.core,
            worst.cpu,
            worst.failures(),
            num(held * 100.0),
            num(fair),
            num(share(worst) * 100.0),
            num(OVER_FAIR),
            num(MIN_SHARE * 100.0),
        ),
        evidence,
        confidence: Confidence::Medium,
        start_s: None,
        end_s: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(i: usize, established: u64, errors: u64, connect_failed: u64) -> CoreSection {
        CoreSection {
            core: i,
            cpu: i,
            established,
            connect_failed,
            errors,
            ..CoreSection::default()
        }
    }

    fn summary(cores: Vec<CoreSection>) -> Summary {
        Summary {
            cores,
            ..Summary::default()
        }
    }

    #[test]
    fn failures_on_one_core_are_reported() {
        let i = summary(vec![
            core(0, 500, 2, 0),
            core(1, 480, 30, 20),
            core(2, 500, 1, 0),
            core(3, 500, 0, 0),
        ]);
        let f = imbalance(&i).expect("a finding");
        assert_eq!(f.kind, Kind::Imbalance);
        assert_eq!(f.confidence, Confidence::Medium);
        assert!(f.title.contains("core 1"), "{}", f.title);
        assert!(f.detail.contains("50 of the 53 failures"), "{}", f.detail);
        assert_eq!(f.evidence.len(), 4);
    }

    #[test]
    fn failures_in_proportion_give_nothing() {
        let i = summary(vec![core(0, 1000, 40, 0), core(1, 500, 20, 0)]);
        assert_eq!(imbalance(&i), None);
        // Most failures on a core that also holds most connections: still its fair share.
        let i = summary(vec![core(0, 900, 85, 5), core(1, 100, 10, 0)]);
        assert_eq!(imbalance(&i), None);
    }

    #[test]
    fn a_single_core_gives_nothing() {
        assert_eq!(imbalance(&summary(vec![core(0, 100, 500, 50)])), None);
        assert_eq!(imbalance(&summary(vec![])), None);
    }

    #[test]
    fn few_failures_give_nothing() {
        let i = summary(vec![core(0, 100, 19, 0), core(1, 100, 0, 0)]);
        assert_eq!(imbalance(&i), None);
    }
}
