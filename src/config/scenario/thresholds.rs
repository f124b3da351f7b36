//! Pass/fail thresholds, in the spirit of k6: `latency.p99 < 200ms`,
//! `messages.lost == 0`, `errors.rate < 0.1%`, `availability >= 99.9%`.
//!
//! An expression is `<metric> <op> <limit>`, whitespace optional. The metric is one of
//! [`METRICS`] (or `latency.<type>.<stat>` for the message type named `<type>`); the operator
//! one of `<`, `<=`, `>`, `>=`, `==`, `!=`; the limit a non-negative number (digits, `_`
//! between digits allowed, an optional decimal part) with a unit that fits the metric:
//!
//! - a time ([`Unit::Seconds`]): `us`/`µs`, `ms`, `s` or `m` (minutes); **a bare number means
//!   milliseconds**, as in k6 (`latency.p99 < 200` is 200 ms);
//! - a fraction ([`Unit::Fraction`]): `%`, or a bare number from 0 to 1 (`errors.rate < 0.1%`,
//!   `availability >= 0.999`);
//! - a count ([`Unit::Count`]): no unit (`connections.established >= 10_000`);
//! - a rate ([`Unit::PerSecond`]): no unit or `/s` (`messages.rate >= 50000/s`).
//!
//! Limits are kept in canonical units (seconds, fractions), converted from the decimal text
//! exactly as a literal would be: `0.1%` is the same `f64` as `0.001`, `200ms` the same as `0.2`.
//! `==` and `!=` compare those `f64`s exactly; they are meant for counts (`messages.lost == 0`),
//! not for measured times or rates, which will almost never equal a written limit.
//!
//! [`parse`] turns an expression into a [`Threshold`] (or one plain-words error), [`evaluate`]
//! checks thresholds against the figures of a run, and [`decided_early`] says when a threshold
//! has failed for good before the run ends (for `abort_on_fail`).
//!
//! Over 600 lines on purpose: the threshold language is one piece (its grammar, its table of
//! metrics with their units, and their evaluation against a summary), and its table test.

use serde::{Deserialize, Serialize};

/// A comparison operator. `Eq` and `Ne` compare exactly (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Does `measured <op> limit` hold? False whenever either side is NaN.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => measured == limit,
            Op::Ne => !measured.is_nan() && !limit.is_nan() && measured != limit,
        }
    }
}

/// The kind of a metric, and so the canonical unit of its value and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A time, in seconds.
    Seconds,
    /// A ratio, 0 to 1 (written as a percentage or a bare fraction).
    Fraction,
    /// A number of things.
    Count,
    /// Things per second.
    PerSecond,
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The expression as written (trimmed).
    pub expr: String,
    /// The metric name, as the `lookup` of [`evaluate`] receives it.
    pub metric: String,
    pub op: Op,
    /// In canonical units: seconds for times, a fraction (0.001) for percentages.
    pub limit: f64,
    pub unit: Unit,
}

/// The outcome of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub expr: String,
    /// Empty in summaries written before it was recorded.
    #[serde(default)]
    pub metric: String,
    /// `None`: the run did not produce this metric (the threshold fails).
    pub measured: Option<f64>,
    pub limit: f64,
    pub unit: Unit,
    pub pass: bool,
    /// The measured value for people (`213 µs`, `0.12%`, `not measured`).
    pub measured_text: String,
    /// The limit for people, with its operator left out (`200 ms`).
    pub limit_text: String,
}

/// The statistics a latency metric may name (`latency.p99`, `latency.<type>.p99`).
const LATENCY_STATS: [&str; 7] = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean"];

/// Placeholder row in [`METRICS`] for the per-message-type latencies.
const PER_TYPE: &str = "latency.<type>.<stat>";

/// The metrics an expression may name, each with its unit and a one-line description.
/// The `latency.<type>.<stat>` row stands for every message type and latency statistic.
pub const METRICS: &[(&str, Unit, &str)] = &[
    (
        "latency.p50",
        Unit::Seconds,
        "median round-trip latency, from the intended send time",
    ),
    (
        "latency.p90",
        Unit::Seconds,
        "90th percentile round-trip latency, from the intended send time",
    ),
    (
        "latency.p95",
        Unit::Seconds,
        "95th percentile round-trip latency, from the intended send time",
    ),
    (
        "latency.p99",
        Unit::Seconds,
        "99th percentile round-trip latency, from the intended send time",
    ),
    (
        "latency.p99.9",
        Unit::Seconds,
        "99.9th percentile round-trip latency, from the intended send time",
    ),
    (
        "latency.max",
        Unit::Seconds,
        "largest round-trip latency, from the intended send time",
    ),
    (
        "latency.mean",
        Unit::Seconds,
        "mean round-trip latency, from the intended send time",
    ),
    (
        PER_TYPE,
        Unit::Seconds,
        "a latency statistic (p50, p90, p95, p99, p99.9, max, mean) for the message type named <type>",
    ),
    (
        "connect.p50",
        Unit::Seconds,
        "median connection setup time (TCP connect + upgrade)",
    ),
    (
        "connect.p99",
        Unit::Seconds,
        "99th percentile connection setup time (TCP connect + upgrade)",
    ),
    (
        "connect.max",
        Unit::Seconds,
        "longest connection setup time (TCP connect + upgrade)",
    ),
    ("messages.sent", Unit::Count, "messages sent"),
    ("messages.received", Unit::Count, "echoes received"),
    ("messages.lost", Unit::Count, "messages sent whose echo never came back"),
    (
        "messages.lost_by_drop",
        Unit::Count,
        "messages lost because their connection dropped",
    ),
    (
        "messages.corrupted",
        Unit::Count,
        "echoes whose payload did not match what was sent",
    ),
    ("messages.duplicated", Unit::Count, "echoes received more than once"),
    (
        "messages.out_of_order",
        Unit::Count,
        "echoes received before an earlier message's echo",
    ),
    (
        "messages.loss_rate",
        Unit::Fraction,
        "messages lost, as a fraction of messages sent",
    ),
    (
        "messages.rate",
        Unit::PerSecond,
        "echoes received per second over the load",
    ),
    ("errors.count", Unit::Count, "errors of every kind"),
    (
        "errors.rate",
        Unit::Fraction,
        "errors over connect attempts plus messages sent",
    ),
    (
        "connections.established",
        Unit::Count,
        "connections that completed the upgrade",
    ),
    ("connections.failed", Unit::Count, "connect attempts that failed"),
    (
        "connections.dropped",
        Unit::Count,
        "established connections that ended unexpectedly",
    ),
    ("connections.peak_open", Unit::Count, "most connections open at once"),
    (
        "connections.success_rate",
        Unit::Fraction,
        "connect attempts that succeeded, as a fraction",
    ),
    ("recovery.p50", Unit::Seconds, "median time from a drop to reconnected"),
    (
        "recovery.p95",
        Unit::Seconds,
        "95th percentile time from a drop to reconnected",
    ),
    (
        "recovery.p99",
        Unit::Seconds,
        "99th percentile time from a drop to reconnected",
    ),
    ("recovery.max", Unit::Seconds, "longest time from a drop to reconnected"),
    (
        "recovery.within",
        Unit::Fraction,
        "drops reconnected within the scenario's recovered_within horizon, as a fraction",
    ),
    (
        "outage.longest",
        Unit::Seconds,
        "longest time a wanted connection stayed down",
    ),
    (
        "availability",
        Unit::Fraction,
        "connection-seconds up over connection-seconds wanted",
    ),
    (
        "mtbf",
        Unit::Seconds,
        "mean time between failures (drops) of a connection",
    ),
    (
        "mttr",
        Unit::Seconds,
        "mean time to repair: mean time from a drop to reconnected",
    ),
    ("faults.injected", Unit::Count, "client-side faults injected"),
];

/// Metrics whose value never decreases during a run: counters and running maxima.
/// Once such a metric is past an upper limit, it stays past it.
const NEVER_DECREASE: &[&str] = &[
    "latency.max",
    "connect.max",
    "recovery.max",
    "outage.longest",
    "messages.sent",
    "messages.received",
    "messages.lost",
    "messages.lost_by_drop",
    "messages.corrupted",
    "messages.duplicated",
    "messages.out_of_order",
    "errors.count",
    "connections.established",
    "connections.failed",
    "connections.dropped",
    "connections.peak_open",
    "faults.injected",
];

/// The unit of a metric name, if an expression may name it (`latency.<type>.<stat>` included).
pub fn metric_unit(name: &str) -> Option<Unit> {
    if let Some(&(_, unit, _)) = METRICS.iter().find(|(n, _, _)| *n == name && *n != PER_TYPE) {
        return Some(unit);
    }
    let (ty, stat) = name.strip_prefix("latency.")?.split_once('.')?;
    (is_type_name(ty) && LATENCY_STATS.contains(&stat)).then_some(Unit::Seconds)
}

/// A message type name: letters, digits, `-` and `_`.
fn is_type_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// Syntax and metric-name check (for the scenario validator): `Ok`, or one plain-words error.
pub fn check(expr: &str) -> Result<(), String> {
    parse(expr).map(|_| ())
}

/// Parse one expression such as `latency.p99 < 200ms`.
pub fn parse(expr: &str) -> Result<Threshold, String> {
    let e = expr.trim();
    if e.is_empty() {
        return Err("empty threshold (write it as `metric < limit`, e.g. `latency.p99 < 200ms`)".into());
    }
    let (at, op, len) = find_op(e)?;
    let metric = e[..at].trim();
    let value = e[at + len..].trim();
    if metric.is_empty() {
        return Err(format!("`{e}`: no metric before {}", op.symbol()));
    }
    if value.is_empty() {
        return Err(format!("`{e}`: no limit after {}", op.symbol()));
    }
    if value.contains(['<', '>', '=', '!']) {
        return Err(format!(
            "`{e}`: more than one comparison (write each threshold as its own expression)"
        ));
    }
    let unit = metric_unit(metric).ok_or_else(|| unknown_metric(metric))?;
    let limit = parse_limit(e, metric, unit, value)?;
    Ok(Threshold {
        expr: e.to_string(),
        metric: metric.to_string(),
        op,
        limit,
        unit,
    })
}

/// The first comparison operator: its byte offset, the operator and its length.
fn find_op(e: &str) -> Result<(usize, Op, usize), String> {
    let b = e.as_bytes();
    for i in 0..b.len() {
        let next = b.get(i + 1).copied();
        let found = match (b[i], next) {
            (b'<', Some(b'=')) => Some((Op::Le, 2)),
            (b'>', Some(b'=')) => Some((Op::Ge, 2)),
            (b'=', Some(b'=')) => Some((Op::Eq, 2)),
            (b'!', Some(b'=')) => Some((Op::Ne, 2)),
            (b'<', _) => Some((Op::Lt, 1)),
            (b'>', _) => Some((Op::Gt, 1)),
            (b'=', Some(c @ (b'<' | b'>'))) => {
                return Err(format!(
                    "`{e}`: `={}` is not an operator (did you mean `{}=`?)",
                    c as char, c as char
                ))
            }
            (b'=', _) => return Err(format!("`{e}`: `=` is not a comparison (use == to test equality)")),
            _ => None,
        };
        if let Some((op, len)) = found {
            return Ok((i, op, len));
        }
    }
    Err(format!("`{e}`: no comparison operator (use <, <=, >, >=, == or !=)"))
}

/// The limit in canonical units, from text such as `200ms`, `0.1%`, `10_000` or `5/s`.
fn parse_limit(e: &str, metric: &str, unit: Unit, value: &str) -> Result<f64, String> {
    if value.starts_with('-') {
        return Err(format!("`{e}`: a limit cannot be negative"));
    }
    let num_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(value.len());
    let (num, suffix) = value.split_at(num_end);
    let digits = clean_number(num).ok_or_else(|| {
        let word = value.split_whitespace().next().unwrap_or(value);
        format!("`{e}`: `{word}` is not a number")
    })?;
    let suffix = suffix.trim_start();
    if suffix.starts_with(',') {
        return Err(format!(
            "`{value}`: write thousands with _ (10_000) or without a separator"
        ));
    }
    // Decimal exponent of the canonical unit, so `0.1%` parses to exactly the f64 of `0.001`;
    // minutes are multiplied instead.
    let (given, exp, times) = match suffix {
        "" if unit == Unit::Seconds => (Unit::Seconds, -3, 1.0), // k6: a bare number is milliseconds
        "" if unit == Unit::Fraction => (Unit::Fraction, 0, 1.0),
        "" => (unit, 0, 1.0),
        "us" | "µs" => (Unit::Seconds, -6, 1.0),
        "ms" => (Unit::Seconds, -3, 1.0),
        "s" => (Unit::Seconds, 0, 1.0),
        "m" => (Unit::Seconds, 0, 60.0),
        "%" => (Unit::Fraction, -2, 1.0),
        "/s" => (Unit::PerSecond, 0, 1.0),
        _ if unit == Unit::PerSecond => {
            return Err(format!("`{value}`: unknown unit (use /s, or no unit)"));
        }
        _ => return Err(format!("`{value}`: unknown unit (use us, ms, s, m or %)")),
    };
    if given != unit {
        return Err(wrong_kind(e, metric, unit));
    }
    let limit = format!("{digits}e{exp}")
        .parse::<f64>()
        .map(|v| v * times)
        .map_err(|_| format!("`{e}`: `{num}` is not a number"))?;
    if !limit.is_finite() {
        return Err(format!("`{e}`: `{num}` is too large"));
    }
    if unit == Unit::Fraction && limit > 1.0 {
        return Err(if suffix.is_empty() {
            format!("`{e}`: {metric} is a fraction between 0 and 1 (did you mean {num}%?)")
        } else {
            format!("`{e}`: {metric} cannot be more than 100%")
        });
    }
    Ok(limit)
}

/// Digits with `_` only between digits and at most one `.` with digits on some side; returns
/// the text without the underscores.
fn clean_number(num: &str) -> Option<String> {
    let b = num.as_bytes();
    let mut dot = false;
    let mut any_digit = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => any_digit = true,
            b'.' if !dot => dot = true,
            b'_' if i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
            _ => return None,
        }
    }
    any_digit.then(|| num.replace('_', ""))
}

/// The error for a limit written in a unit that does not fit the metric.
fn wrong_kind(e: &str, metric: &str, unit: Unit) -> String {
    let how = match unit {
        Unit::Seconds => {
            "a time; write it with a unit such as 500us, 200ms, 1.5s or 2m (a bare number means milliseconds)"
        }
        Unit::Fraction => "a fraction; write it as a percentage such as 0.1% or a number such as 0.001",
        Unit::Count => "a count; write it as a plain number such as 0 or 10_000",
        Unit::PerSecond => "a rate per second; write it as a plain number such as 50000 or 50000/s",
    };
    format!("`{e}`: {metric} is {how}")
}

/// "unknown metric `x`", with the likeliest intended name if there is one.
fn unknown_metric(name: &str) -> String {
    // `latency.small`: a message type without a statistic (but `latency.p98` is a statistic typo).
    let stat_like = |t: &str| {
        (t.starts_with('p') && t[1..].starts_with(|c: char| c.is_ascii_digit()))
            || stat_alias(t).is_some()
            || LATENCY_STATS.iter().any(|s| strsim::osa_distance(t, s) <= 1)
    };
    if let Some(ty) = name
        .strip_prefix("latency.")
        .filter(|t| is_type_name(t) && !stat_like(t))
    {
        return format!(
            "unknown metric `{name}` (add a statistic: latency.{ty}.p99, or .p50, .p90, .p95, .p99.9, .max, .mean)"
        );
    }
    match suggest(name) {
        Some(s) => format!("unknown metric `{name}` (did you mean `{s}`?)"),
        None => format!(
            "unknown metric `{name}` (metrics: latency.*, connect.*, messages.*, errors.*, connections.*, \
             recovery.*, outage.longest, availability, mtbf, mttr, faults.injected)"
        ),
    }
}

/// The metric name most likely meant by `name`.
fn suggest(name: &str) -> Option<String> {
    let mut candidates: Vec<String> = METRICS
        .iter()
        .map(|(n, _, _)| n.to_string())
        .filter(|n| n != PER_TYPE)
        .collect();
    if let Some((ty, _)) = name.strip_prefix("latency.").and_then(|r| r.split_once('.')) {
        if is_type_name(ty) {
            candidates.extend(LATENCY_STATS.iter().map(|s| format!("latency.{ty}.{s}")));
        }
    }
    // Names other tools use for a statistic offered here.
    if let Some((head, last)) = name.rsplit_once('.') {
        if let Some(stat) = stat_alias(last) {
            let c = format!("{head}.{stat}");
            if candidates.contains(&c) {
                return Some(c);
            }
        }
    }
    // A percentile that is not offered (`latency.p98`): the nearest one offered for that metric.
    if let Some((prefix, q)) = name.rsplit_once(".p").filter(|(_, q)| !q.is_empty()) {
        if let Ok(q) = q.parse::<f64>() {
            let nearest = candidates
                .iter()
                .filter_map(|c| {
                    let (p, cq) = c.rsplit_once(".p")?;
                    (p == prefix).then_some((c, cq.parse::<f64>().ok()?))
                })
                .min_by(|a, b| (a.1 - q).abs().total_cmp(&(b.1 - q).abs()));
            if let Some((c, _)) = nearest {
                return Some(c.clone());
            }
        }
    }
    let (best, d) = candidates
        .iter()
        .map(|c| (c, strsim::osa_distance(name, c)))
        .min_by_key(|&(_, d)| d)?;
    (d <= 3.max(name.chars().count() / 3)).then(|| best.clone())
}

/// The statistic offered here under another tool's name for it.
fn stat_alias(s: &str) -> Option<&'static str> {
    match s {
        "avg" | "average" => Some("mean"),
        "median" | "med" => Some("p50"),
        "p999" => Some("p99.9"),
        _ => None,
    }
}

/// `errors.rate`: errors over connection attempts (established + failed) plus messages sent;
/// 0 when nothing was attempted. The one definition, for thresholds and the readiness verdict.
pub fn error_rate(errors: u64, established: u64, failed: u64, sent: u64) -> f64 {
    errors as f64 / (established + failed + sent).max(1) as f64
}

/// Evaluate every threshold against `lookup`, which returns a metric's value in canonical
/// units (seconds, fractions) by the name in [`Threshold::metric`]. A metric the run did not
/// produce (`None`) fails with "not measured"; a measured NaN fails too.
pub fn evaluate(ts: &[Threshold], lookup: &dyn Fn(&str) -> Option<f64>) -> Vec<Verdict> {
    ts.iter()
        .map(|t| {
            let measured = lookup(&t.metric);
            let (pass, measured_text) = match measured {
                None => (false, "not measured".to_string()),
                Some(v) if v.is_nan() => (false, "not a number".to_string()),
                Some(v) => (t.op.holds(v, t.limit), format_value(v, t.unit)),
            };
            Verdict {
                expr: t.expr.clone(),
                metric: t.metric.clone(),
                measured,
                limit: t.limit,
                unit: t.unit,
                pass,
                measured_text,
                limit_text: format_value(t.limit, t.unit),
            }
        })
        .collect()
}

/// Has `t` failed for good, given the value `measured` so far in a run? True only for metrics
/// that never decrease (counters such as `messages.lost`, running maxima such as `latency.max`)
/// compared with `<`, `<=` or `==` once the value is past the limit: `messages.lost == 0`
/// with 1 lost can never pass again. Everything else (percentiles, rates, `>`, `!=`) waits for
/// the end of the run. Used with `abort_on_fail` to stop early.
pub fn decided_early(t: &Threshold, measured: f64) -> bool {
    if measured.is_nan() || !never_decreases(&t.metric) {
        return false;
    }
    match t.op {
        Op::Lt => measured >= t.limit,
        Op::Le | Op::Eq => measured > t.limit,
        Op::Gt | Op::Ge | Op::Ne => false,
    }
}

fn never_decreases(metric: &str) -> bool {
    NEVER_DECREASE.contains(&metric)
        || metric
            .strip_prefix("latency.")
            .and_then(|r| r.strip_suffix(".max"))
            .is_some_and(is_type_name)
}

/// A value in a metric's unit, for people: 0.000213 s → "213 µs", 0.0012 → "0.12%",
/// 1234 → "1,234", 5.2 per second → "5.2/s".
pub fn format_value(v: f64, unit: Unit) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    match unit {
        Unit::Seconds => {
            let a = v.abs();
            let (x, name) = if a == 0.0 {
                (0.0, "s")
            } else if a < 1e-3 {
                (v * 1e6, "µs")
            } else if a < 1.0 {
                (v * 1e3, "ms")
            } else if a < 60.0 {
                (v, "s")
            } else if a < 3600.0 {
                (v / 60.0, "min")
            } else {
                (v / 3600.0, "h")
            };
            format!("{} {name}", number(x, sig_decimals(x)))
        }
        Unit::Fraction => format!("{}%", number(v * 100.0, 4)),
        Unit::Count => number(v, 3),
        Unit::PerSecond => format!("{}/s", number(v, sig_decimals(v))),
    }
}

/// Decimals that keep about four significant digits.
fn sig_decimals(x: f64) -> usize {
    match x.abs() {
        a if a >= 100.0 => 1,
        a if a >= 10.0 => 2,
        _ => 3,
    }
}

/// `x` with at most `decimals` decimals (trailing zeros dropped) and `,` between thousands.
fn number(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) if rest.bytes().any(|c| (b'1'..=b'9').contains(&c)) => ("-", rest),
        Some(rest) => ("", rest),
        None => ("", s),
    };
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(expr: &str) -> Threshold {
        parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn every_metric_name_parses_with_its_unit() {
        for &(name, unit, desc) in METRICS {
            assert!(!desc.is_empty(), "{name} has no description");
            let names: Vec<String> = if name == PER_TYPE {
                ["small", "big-2", "a_b", "p99"]
                    .iter()
                    .flat_map(|ty| LATENCY_STATS.iter().map(move |s| format!("latency.{ty}.{s}")))
                    .collect()
            } else {
                vec![name.to_string()]
            };
            for n in names {
                let limit = match unit {
                    Unit::Seconds => "1s",
                    Unit::Fraction => "50%",
                    Unit::Count => "10",
                    Unit::PerSecond => "10/s",
                };
                let t = p(&format!("{n} < {limit}"));
                assert_eq!((t.metric.as_str(), t.unit), (n.as_str(), unit));
                assert_eq!(metric_unit(&n), Some(unit), "{n}");
            }
        }
    }

    #[test]
    fn units_convert_to_canonical_limits() {
        let cases: &[(&str, f64, Unit)] = &[
            ("latency.p99 < 200ms", 0.2, Unit::Seconds),
            ("latency.p99 < 200", 0.2, Unit::Seconds), // bare number: milliseconds, as in k6
            ("latency.p99 < 250us", 0.000_25, Unit::Seconds),
            ("latency.p99 < 250µs", 0.000_25, Unit::Seconds),
            ("latency.p99 < 1.5s", 1.5, Unit::Seconds),
            ("recovery.p95 < 5s", 5.0, Unit::Seconds),
            ("outage.longest <= 2m", 120.0, Unit::Seconds),
            ("latency.small.p99 <= 2ms", 0.002, Unit::Seconds),
            ("latency.p99.9 < 0.5 ms", 0.0005, Unit::Seconds),
            ("errors.rate < 0.1%", 0.001, Unit::Fraction),
            ("errors.rate < 0.001", 0.001, Unit::Fraction),
            ("availability >= 99.9%", 0.999, Unit::Fraction),
            ("availability >= 100%", 1.0, Unit::Fraction),
            ("connections.success_rate >= 1", 1.0, Unit::Fraction),
            ("messages.lost == 0", 0.0, Unit::Count),
            ("connections.established >= 10000", 10_000.0, Unit::Count),
            ("connections.established >= 10_000", 10_000.0, Unit::Count),
            ("messages.rate >= 50000", 50_000.0, Unit::PerSecond),
            ("messages.rate >= 5.2/s", 5.2, Unit::PerSecond),
            ("faults.injected>=.5", 0.5, Unit::Count),
        ];
        for &(expr, limit, unit) in cases {
            let t = p(expr);
            assert_eq!((t.limit, t.unit), (limit, unit), "{expr}");
        }
    }

    #[test]
    fn whitespace_is_optional_and_the_expression_is_kept_as_written() {
        let a = p("latency.p99<200ms");
        let b = p("  latency.p99   <   200 ms ");
        assert_eq!((a.metric.as_str(), a.op, a.limit), ("latency.p99", Op::Lt, 0.2));
        assert_eq!((b.metric, b.op, b.limit), (a.metric, a.op, a.limit));
        assert_eq!(b.expr, "latency.p99   <   200 ms");
    }

    #[test]
    fn operators_at_below_and_above_the_boundary() {
        // (operator, passes below, at, above the limit)
        let cases = [
            ("<", Op::Lt, [true, false, false]),
            ("<=", Op::Le, [true, true, false]),
            (">", Op::Gt, [false, false, true]),
            (">=", Op::Ge, [false, true, true]),
            ("==", Op::Eq, [false, true, false]),
            ("!=", Op::Ne, [true, false, true]),
        ];
        for (sym, op, want) in cases {
            for (expr, below, at, above) in [
                (format!("latency.p99 {sym} 200ms"), 0.199, 0.2, 0.201),
                (format!("messages.lost {sym} 5"), 4.0, 5.0, 6.0),
                // == on a fraction compares the parsed f64 exactly: 0.1% is the f64 0.001.
                (format!("errors.rate {sym} 0.1%"), 0.000_999, 0.001, 0.001_000_1),
            ] {
                let t = p(&expr);
                assert_eq!((t.op, t.op.symbol()), (op, sym));
                for (v, w) in [below, at, above].into_iter().zip(want) {
                    let got = evaluate(std::slice::from_ref(&t), &|_| Some(v));
                    assert_eq!(got[0].pass, w, "{expr} with {v}");
                }
            }
        }
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let cases = [
            ("", "empty threshold (write it as `metric < limit`, e.g. `latency.p99 < 200ms`)"),
            ("latency.p98 < 200ms", "unknown metric `latency.p98` (did you mean `latency.p99`?)"),
            ("latency.p75 < 200ms", "unknown metric `latency.p75` (did you mean `latency.p90`?)"),
            ("recovery.p90 < 5s", "unknown metric `recovery.p90` (did you mean `recovery.p95`?)"),
            ("latency.small.p98 < 2ms", "unknown metric `latency.small.p98` (did you mean `latency.small.p99`?)"),
            ("latency.avg < 1ms", "unknown metric `latency.avg` (did you mean `latency.mean`?)"),
            ("connect.median < 1s", "unknown metric `connect.median` (did you mean `connect.p50`?)"),
            ("latency.small.p999 < 1s", "unknown metric `latency.small.p999` (did you mean `latency.small.p99.9`?)"),
            ("latency.mx < 1s", "unknown metric `latency.mx` (did you mean `latency.max`?)"),
            ("erors.rate < 1%", "unknown metric `erors.rate` (did you mean `errors.rate`?)"),
            (
                "connections.establised > 5",
                "unknown metric `connections.establised` (did you mean `connections.established`?)",
            ),
            (
                "latency.small < 2ms",
                "unknown metric `latency.small` (add a statistic: latency.small.p99, or .p50, .p90, .p95, .p99.9, .max, \
                 .mean)",
            ),
            (
                "throughput > 5",
                "unknown metric `throughput` (metrics: latency.*, connect.*, messages.*, errors.*, connections.*, \
                 recovery.*, outage.longest, availability, mtbf, mttr, faults.injected)",
            ),
            ("latency.p99 < 200xs", "`200xs`: unknown unit (use us, ms, s, m or %)"),
            ("messages.rate > 5/min", "`5/min`: unknown unit (use /s, or no unit)"),
            ("latency.p99 200ms", "`latency.p99 200ms`: no comparison operator (use <, <=, >, >=, == or !=)"),
            ("latency.p99 = 200ms", "`latency.p99 = 200ms`: `=` is not a comparison (use == to test equality)"),
            ("latency.p99 =< 200ms", "`latency.p99 =< 200ms`: `=<` is not an operator (did you mean `<=`?)"),
            ("< 200ms", "`< 200ms`: no metric before <"),
            ("latency.p99 <", "`latency.p99 <`: no limit after <"),
            (
                "latency.p99 < 200ms < 300ms",
                "`latency.p99 < 200ms < 300ms`: more than one comparison (write each threshold as its own expression)",
            ),
            (
                "errors.rate < 5ms",
                "`errors.rate < 5ms`: errors.rate is a fraction; write it as a percentage such as 0.1% or a number such \
                 as 0.001",
            ),
            (
                "latency.p99 < 5%",
                "`latency.p99 < 5%`: latency.p99 is a time; write it with a unit such as 500us, 200ms, 1.5s or 2m \
                 (a bare number means milliseconds)",
            ),
            (
                "messages.lost < 1s",
                "`messages.lost < 1s`: messages.lost is a count; write it as a plain number such as 0 or 10_000",
            ),
            (
                "messages.rate > 1%",
                "`messages.rate > 1%`: messages.rate is a rate per second; write it as a plain number such as 50000 or \
                 50000/s",
            ),
            ("latency.p99 < -5ms", "`latency.p99 < -5ms`: a limit cannot be negative"),
            ("latency.p99 < fast", "`latency.p99 < fast`: `fast` is not a number"),
            ("latency.p99 < 1..5ms", "`latency.p99 < 1..5ms`: `1..5ms` is not a number"),
            ("messages.lost < 1__0", "`messages.lost < 1__0`: `1__0` is not a number"),
            ("connections.established > 10,000", "`10,000`: write thousands with _ (10_000) or without a separator"),
            (
                "availability >= 99.9",
                "`availability >= 99.9`: availability is a fraction between 0 and 1 (did you mean 99.9%?)",
            ),
            ("errors.rate < 150%", "`errors.rate < 150%`: errors.rate cannot be more than 100%"),
        ];
        for (expr, want) in cases {
            assert_eq!(parse(expr), Err(want.to_string()), "{expr}");
            assert_eq!(check(expr), Err(want.to_string()), "{expr}");
        }
        let huge = format!("messages.sent < {}", "9".repeat(400));
        assert_eq!(
            parse(&huge),
            Err(format!("`{huge}`: `{}` is too large", "9".repeat(400)))
        );
        assert_eq!(check("latency.p99 < 200ms"), Ok(()));
    }

    #[test]
    fn a_metric_the_run_did_not_produce_fails_as_not_measured() {
        let ts = [p("latency.p99 < 200ms"), p("recovery.p95 < 5s"), p("errors.rate < 1%")];
        let v = evaluate(&ts, &|m| match m {
            "latency.p99" => Some(0.000_213),
            "errors.rate" => Some(f64::NAN),
            _ => None,
        });
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[0],
            Verdict {
                expr: "latency.p99 < 200ms".into(),
                metric: "latency.p99".into(),
                measured: Some(0.000_213),
                limit: 0.2,
                unit: Unit::Seconds,
                pass: true,
                measured_text: "213 µs".into(),
                limit_text: "200 ms".into(),
            }
        );
        assert_eq!(
            (v[1].pass, v[1].measured, v[1].measured_text.as_str()),
            (false, None, "not measured")
        );
        assert_eq!(v[1].limit_text, "5 s");
        assert!(!v[2].pass, "a measured NaN fails");
        assert_eq!(v[2].measured_text, "not a number");
    }

    #[test]
    fn decided_early_only_for_never_decreasing_metrics_past_their_limit() {
        let cases = [
            ("messages.lost == 0", 1.0, true),
            ("messages.lost == 0", 0.0, false),
            ("messages.lost < 10", 10.0, true),
            ("messages.lost <= 10", 10.0, false),
            ("errors.count <= 10", 11.0, true),
            ("latency.max < 1s", 1.2, true),
            ("latency.small.max < 1s", 1.2, true),
            ("outage.longest < 5s", 6.0, true),
            ("connections.established >= 100", 5.0, false),
            ("messages.lost != 0", 0.0, false),
            ("latency.p99 < 200ms", 0.5, false),
            ("errors.rate < 1%", 0.5, false),
            ("messages.lost == 0", f64::NAN, false),
        ];
        for (expr, measured, want) in cases {
            assert_eq!(decided_early(&p(expr), measured), want, "{expr} with {measured}");
        }
    }

    #[test]
    fn values_are_formatted_for_people() {
        let cases = [
            (0.000_213, Unit::Seconds, "213 µs"),
            (0.000_000_5, Unit::Seconds, "0.5 µs"),
            (0.002_5, Unit::Seconds, "2.5 ms"),
            (0.2, Unit::Seconds, "200 ms"),
            (1.5, Unit::Seconds, "1.5 s"),
            (0.0, Unit::Seconds, "0 s"),
            (90.0, Unit::Seconds, "1.5 min"),
            (7200.0, Unit::Seconds, "2 h"),
            (0.001_2, Unit::Fraction, "0.12%"),
            (0.001, Unit::Fraction, "0.1%"),
            (0.999, Unit::Fraction, "99.9%"),
            (1.0, Unit::Fraction, "100%"),
            (0.0, Unit::Fraction, "0%"),
            (1234.0, Unit::Count, "1,234"),
            (1_234_567.0, Unit::Count, "1,234,567"),
            (0.0, Unit::Count, "0"),
            (999.0, Unit::Count, "999"),
            (5.2, Unit::PerSecond, "5.2/s"),
            (50_000.0, Unit::PerSecond, "50,000/s"),
            (f64::NAN, Unit::Count, "NaN"),
        ];
        for (v, unit, want) in cases {
            assert_eq!(format_value(v, unit), want, "{v} {unit:?}");
        }
    }
}
