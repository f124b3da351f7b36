//! `wsload compare BASE NEW`: key figures of two runs side by side, with the
//! difference, and REGRESSED where the new run is worse than the base by more than
//! the tolerance (direction-aware: more latency is worse, more messages/s is better).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::model::{Percentiles, Summary};
use crate::config::units::fmt_num;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
    /// A share of time up (availability): compared on the share down (1 - value), lower better,
    /// so that 99.9% → 99% reads as ten times the downtime rather than a 0.9% change.
    Up,
}

/// One key figure: its name for --metric-tolerance, its group (also usable there), a label,
/// how to read it from a summary, and which way is better.
struct Metric {
    key: &'static str,
    group: &'static str,
    label: &'static str,
    read: fn(&Summary) -> Option<f64>,
    better: Better,
    digits: usize,
}

fn errors_total(s: &Summary) -> Option<f64> {
    Some(s.error_total() as f64)
}

/// A percentile that exists only when something was measured.
fn measured(p: &Percentiles, value: u64) -> Option<f64> {
    (p.count > 0).then_some(value as f64)
}

/// The corrected latency's percentile named `key` (`p99_9`), µs, when anything was measured.
fn corrected(s: &Summary, key: &str) -> Option<f64> {
    let p = &s.latency_us.corrected;
    measured(p, p.get(key)?)
}

/// A count, as a figure.
fn n(x: u64) -> Option<f64> {
    Some(x as f64)
}

macro_rules! m {
    ($key:literal, $group:literal, $label:literal, $better:ident, $digits:literal, $read:expr) => {
        Metric {
            key: $key,
            group: $group,
            label: $label,
            read: $read,
            better: Better::$better,
            digits: $digits,
        }
    };
}

const METRICS: &[Metric] = &[
    m!(
        "established",
        "connections",
        "connections established",
        Higher,
        0,
        |s| { n(s.connections.established) }
    ),
    m!("failed", "connections", "connections failed", Lower, 0, |s| {
        n(s.connections.failed)
    }),
    m!("dropped", "connections", "connections dropped", Lower, 0, |s| {
        n(s.connections.dropped)
    }),
    m!("rate", "throughput", "messages/s", Higher, 1, |s| {
        Some(s.messages.rate_per_s)
    }),
    m!("lost", "messages", "messages lost", Lower, 0, |s| n(s.messages.lost)),
    m!("corrupted", "messages", "messages corrupted", Lower, 0, |s| {
        n(s.messages.corrupted)
    }),
    m!("errors", "errors", "errors", Lower, 0, errors_total),
    m!("p50", "latency", "latency p50 (µs)", Lower, 0, |s| corrected(s, "p50")),
    m!("p90", "latency", "latency p90 (µs)", Lower, 0, |s| corrected(s, "p90")),
    m!("p99", "latency", "latency p99 (µs)", Lower, 0, |s| corrected(s, "p99")),
    m!("p99.9", "latency", "latency p99.9 (µs)", Lower, 0, |s| corrected(
        s, "p99_9"
    )),
    m!("max", "latency", "latency max (µs)", Lower, 0, |s| corrected(s, "max")),
    m!("connect_p99", "connect", "connect p99 (µs)", Lower, 0, |s| {
        let p = &s.latency_us.connect;
        measured(p, p.p99)
    }),
    m!("client_cpu", "cpu", "client CPU s per M msgs", Lower, 2, |s| {
        s.client.cpu_s_per_million_msgs
    }),
    m!("server_memory", "memory", "server B per connection", Lower, 0, |s| {
        let fit = s.server.as_ref()?.memory_per_connection.as_ref()?;
        Some(fit.bytes_per_connection)
    }),
    m!("server_cpu", "cpu", "server CPU s per M msgs", Lower, 2, |s| {
        s.server.as_ref()?.cpu_s_per_million_msgs
    }),
    m!("recovery_p95", "recovery", "reconnect p95 (µs)", Lower, 0, |s| {
        let p = &s.recovery.time_to_reconnect_us;
        measured(p, p.p95)
    }),
    m!("availability", "recovery", "availability (%)", Up, 3, |s| {
        s.recovery.availability.map(|a| a * 100.0)
    }),
];

/// How much worse a figure may get, as a fraction of the base: a default, and per metric key
/// or group (`latency=20%`; a metric's own key wins over its group).
#[derive(Debug, Clone)]
pub struct Tolerances {
    pub default: f64,
    pub by_name: Vec<(String, f64)>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            default: 0.10,
            by_name: Vec::new(),
        }
    }
}

/// `10%` or `10` (percent), as a fraction.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix('%').unwrap_or(t).trim();
    match n.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x / 100.0),
        _ => Err(format!("`{s}` is not a tolerance: expected a percentage such as 10%")),
    }
}

impl Tolerances {
    /// Add `latency=20%,rate=5%` (metric keys or groups).
    pub fn add_list(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, v) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected METRIC=PERCENT, e.g. latency=20%"))?;
            let name = name.trim();
            if !METRICS.iter().any(|m| m.key == name || m.group == name) {
                let mut names: Vec<&str> = METRICS.iter().flat_map(|m| [m.key, m.group]).collect();
                names.sort_unstable();
                names.dedup();
                return Err(format!("unknown metric `{name}`: one of {}", names.join(", ")));
            }
            self.by_name.push((name.to_string(), parse_percent(v)?));
        }
        Ok(())
    }

    fn of(&self, m: &Metric) -> f64 {
        let find = |n: &str| self.by_name.iter().rev().find(|(k, _)| k == n).map(|(_, v)| *v);
        find(m.key).or_else(|| find(m.group)).unwrap_or(self.default)
    }
}

/// How much worse `new` is than `base`, as a fraction of the base (negative: better).
/// From a base of 0 any worsening is infinitely worse.
fn worsening(better: Better, base: f64, new: f64) -> f64 {
    let (b, n) = match better {
        Better::Lower => (base, new),
        Better::Higher => (-base, -new),
        Better::Up => (100.0 - base, 100.0 - new),
    };
    if n == b {
        0.0
    } else if b == 0.0 {
        if n > b {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }
    } else {
        (n - b) / b.abs()
    }
}

/// How one figure moved from the base to the new run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// Equal in both.
    Same,
    Better,
    /// Worse, but within its tolerance.
    Worse,
    /// Worse beyond its tolerance (the fraction of the base it was allowed).
    Regressed {
        tolerance: f64,
    },
    /// Measured in only one of the runs.
    NotInBoth,
}

impl Status {
    /// The word(s) of the table's last column.
    pub fn text(self) -> String {
        match self {
            Status::Same => String::new(),
            Status::Better => "better".into(),
            Status::Worse => "worse, within tolerance".into(),
            Status::Regressed { tolerance } => format!("REGRESSED (tolerance {}%)", fmt_num(tolerance * 100.0, 1)),
            Status::NotInBoth => "not in both".into(),
        }
    }
}

/// One line of the comparison: a key figure in both runs and what its change means.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its name for --metric-tolerance.
    pub key: &'static str,
    pub label: &'static str,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// Decimals it is shown with.
    pub digits: usize,
    pub status: Status,
}

impl Row {
    /// `new - base`, signed (`+7.5`), empty unless both exist.
    pub fn difference(&self) -> String {
        match (self.base, self.new) {
            (Some(b), Some(n)) => {
                let d = n - b;
                format!("{}{}", if d > 0.0 { "+" } else { "" }, fmt_num(d, self.digits))
            }
            _ => String::new(),
        }
    }

    /// The difference relative to the base (`+3.7%`; `new` from a base of 0).
    pub fn change(&self) -> String {
        let (Some(b), Some(n)) = (self.base, self.new) else {
            return String::new();
        };
        let d = n - b;
        if b != 0.0 {
            format!("{}{}%", if d > 0.0 { "+" } else { "" }, fmt_num(d / b.abs() * 100.0, 1))
        } else if d == 0.0 {
            "0%".into()
        } else {
            "new".into()
        }
    }

    pub fn show(&self, x: Option<f64>) -> String {
        x.map_or("n/a".to_string(), |x| fmt_num(x, self.digits))
    }
}

/// Every key figure found in either run, judged against its tolerance. This is the one place
/// that decides what regressed: the table and the HTML page both read it.
pub fn rows(base: &Summary, new: &Summary, tol: &Tolerances) -> Vec<Row> {
    METRICS
        .iter()
        .filter_map(|m| {
            let (b, n) = ((m.read)(base), (m.read)(new));
            let status = match (b, n) {
                (None, None) => return None,
                (Some(b), Some(n)) => {
                    let (w, t) = (worsening(m.better, b, n), tol.of(m));
                    if w > t {
                        Status::Regressed { tolerance: t }
                    } else if w > 0.0 {
                        Status::Worse
                    } else if w < 0.0 {
                        Status::Better
                    } else {
                        Status::Same
                    }
                }
                _ => Status::NotInBoth,
            };
            Some(Row {
                key: m.key,
                label: m.label,
                base: b,
                new: n,
                digits: m.digits,
                status,
            })
        })
        .collect()
}

/// Did any figure regress beyond its tolerance?
pub fn regressed(rows: &[Row]) -> bool {
    rows.iter().any(|r| matches!(r.status, Status::Regressed { .. }))
}

/// The comparison table, and whether anything regressed.
pub fn table(base: &Summary, new: &Summary, tol: &Tolerances) -> (String, bool) {
    let rows = rows(base, new, tol);
    (format_table(&rows), regressed(&rows))
}

/// The rows as a text table with aligned columns.
pub fn format_table(rows: &[Row]) -> String {
    let mut cells = vec![[
        "figure".to_string(),
        "base".into(),
        "new".into(),
        "difference".into(),
        "change".into(),
        String::new(),
    ]];
    cells.extend(rows.iter().map(|r| {
        [
            r.label.to_string(),
            r.show(r.base),
            r.show(r.new),
            r.difference(),
            r.change(),
            r.status.text(),
        ]
    }));
    let widths: Vec<usize> = (0..6)
        .map(|i| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut o = String::new();
    for r in &cells {
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for i in 1..5 {
            let _ = write!(line, "  {:>w$}", r[i], w = widths[i]);
        }
        let _ = write!(line, "  {}", r[5]);
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
}

/// Two runs judged: each run's results file and summary, the rows, and whether any regressed.
pub struct Compared {
    pub base: (PathBuf, Summary),
    pub new: (PathBuf, Summary),
    pub rows: Vec<Row>,
    pub regressed: bool,
}

/// The command's text part: load both runs, print the table and the verdict. `Err(2)` when an
/// input could not be read (the exit status). The page is `report::html::compare::publish`'s.
pub fn main(base: &Path, new: &Path, tol: &Tolerances) -> Result<Compared, u8> {
    let (b, n) = match (Summary::load(base), Summary::load(new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("wsload: error: {e}");
            return Err(2);
        }
    };
    println!("base: {} ({})", b.0.display(), b.1.target);
    println!("new:  {} ({})", n.0.display(), n.1.target);
    println!();
    let rows = rows(&b.1, &n.1, tol);
    let regressed = regressed(&rows);
    print!("{}", format_table(&rows));
    println!();
    println!(
        "{}",
        if regressed {
            "REGRESSED: at least one figure is worse than the base beyond its tolerance"
        } else {
            "no regression beyond the tolerances"
        }
    );
    Ok(Compared {
        base: b,
        new: n,
        rows,
        regressed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_matters() {
        assert!(worsening(Better::Lower, 100.0, 120.0) > 0.19);
        assert!(worsening(Better::Higher, 100.0, 120.0) < 0.0);
        assert!(worsening(Better::Higher, 100.0, 80.0) > 0.19);
        assert_eq!(worsening(Better::Lower, 0.0, 3.0), f64::INFINITY);
        assert_eq!(worsening(Better::Lower, 0.0, 0.0), 0.0);
        // 99.9% → 99%: ten times the downtime.
        assert!(worsening(Better::Up, 99.9, 99.0) > 8.0);
    }

    #[test]
    fn tolerances_by_key_then_group_then_default() {
        let mut t = Tolerances::default();
        t.add_list("latency=20%, p99=5").unwrap();
        let find = |k: &str| METRICS.iter().find(|m| m.key == k).unwrap();
        assert!((t.of(find("p99")) - 0.05).abs() < 1e-12);
        assert!((t.of(find("p50")) - 0.20).abs() < 1e-12);
        assert!((t.of(find("rate")) - 0.10).abs() < 1e-12);
        assert!(t.add_list("speed=5%").unwrap_err().contains("unknown metric `speed`"));
        assert!(t.add_list("latency").is_err());
        assert!(parse_percent("x%").is_err());
    }
}
