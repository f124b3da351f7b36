//! Runs spread over several processes or hosts: which share of the scenario this process
//! runs (`--shard i/N`) and when it starts (`--start-at`, `--start-in`).
//!
//! Shards split the connections with the rule that splits them between cores
//! ([`share`]): shard `i` takes its contiguous range of the global
//! connection ids, then its cores split that range. Every count that is "over all cores"
//! (the ramp's target at each moment, `connect_concurrency`) is split the same way, so N
//! shards of C cores add up exactly to the scenario.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// This process's share of a sharded run: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl Default for ShardSpec {
    /// The whole run in one process.
    fn default() -> Self {
        ShardSpec { index: 0, count: 1 }
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// ` (shard 3/16: connections 750..1000 of 4000)` for the start line; empty for a whole run.
pub fn describe_shard(shard: ShardSpec, connections: u64) -> String {
    if shard.count == 1 {
        return String::new();
    }
    let ids = share(connections, shard.index, shard.count);
    format!(
        " (shard {shard}: connections {}..{} of {connections})",
        ids.start, ids.end
    )
}

/// The connections part `i` of `n` owns (a shard of a run, a core of a shard): a contiguous
/// range of global ids, sizes differing by at most one.
pub fn share(total: u64, i: usize, n: usize) -> std::ops::Range<u64> {
    let (n, i) = (n as u64, i as u64);
    let base = total / n;
    let rem = total % n;
    let start = i * base + i.min(rem);
    let len = base + u64::from(i < rem);
    start..start + len
}

/// Most shards one run may have (a sanity bound on typos such as `3/16000000`).
pub const MAX_SHARDS: usize = 100_000;

/// `--shard i/N`: shard `i` (0-based) of `N`.
pub fn parse_shard(s: &str) -> Result<ShardSpec, String> {
    let bad = || format!("`{s}` is not a shard: expected INDEX/COUNT with INDEX from 0 to COUNT-1, e.g. 3/16");
    let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
    let index: usize = i.trim().parse().map_err(|_| bad())?;
    let count: usize = n.trim().parse().map_err(|_| bad())?;
    if count == 0 || count > MAX_SHARDS {
        return Err(format!("`{s}`: the shard count must be from 1 to {MAX_SHARDS}"));
    }
    if index >= count {
        return Err(format!(
            "`{s}`: shard indexes run from 0 to {} (0-based, like a Kubernetes completion index)",
            count - 1
        ));
    }
    Ok(ShardSpec { index, count })
}

/// `--start-at`: an RFC 3339 time, `2026-12-01T10:00:00Z`, with optional fractional seconds
/// and a `Z` or `±HH:MM` offset (`t` and `z` and a space for `T` are accepted, as RFC 3339 allows).
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    let bad = |why: &str| {
        format!(
            "`{s}` is not an RFC 3339 time ({why}): expected e.g. 2026-12-01T10:00:00Z or 2026-12-01T11:00:00+01:00"
        )
    };
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() < 19 {
        return Err(bad("too short"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = t.get(r).ok_or_else(|| bad("not ASCII"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("a digit is missing"));
        }
        part.parse().map_err(|_| bad("a number is malformed"))
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days_in = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in[(mo - 1) as usize] || h > 23 || mi > 59 || sec > 60 {
        return Err(bad("a field is out of range"));
    }
    let mut rest = &t[19..];
    let mut nanos = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("no digits after the decimal point"));
        }
        for (k, c) in frac.bytes().take(digits.min(9)).enumerate() {
            nanos += u64::from(c - b'0') * 10u64.pow(8 - k as u32);
        }
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().map_err(|_| bad("a malformed offset"))?;
            let om: i64 = o[4..6].parse().map_err(|_| bad("a malformed offset"))?;
            if oh > 23 || om > 59 {
                return Err(bad("a malformed offset"));
            }
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        "" => return Err(bad("the time zone is missing: add Z for UTC")),
        _ => return Err(bad("a malformed time zone: use Z or +HH:MM")),
    };
    // A leap second (:60) is taken as the next second.
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    if secs < 0 {
        return Err(bad("before 1970"));
    }
    Ok(UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_nanos(nanos))
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of `units::utc_stamp`'s).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub use super::units::rfc3339;

/// Nanoseconds since the Unix epoch (0 before it).
pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The wall clock now, ns since the Unix epoch.
pub fn unix_now_ns() -> u64 {
    unix_ns(SystemTime::now())
}

/// A start this late (the time had passed when the run was planned) is still started, with a
/// warning; later than this is an error.
pub const START_TOLERANCE: Duration = Duration::from_secs(1);

/// Check a requested start against the clock now: `Ok(lateness)` (zero when in the future),
/// an error when it passed more than [`START_TOLERANCE`] ago.
pub fn check_start(at: SystemTime, now: SystemTime, flag: &str) -> Result<Duration, String> {
    match now.duration_since(at) {
        Ok(late) if late > START_TOLERANCE => Err(format!(
            "{flag}: that time passed {:.1} s ago (this host's clock reads {} UTC): give a time in the \
             future, e.g. --start-at {} or --start-in 30s; check the clock (NTP) if it should not have passed",
            late.as_secs_f64(),
            super::units::utc_stamp(unix_ns(now) / 1_000_000_000),
            rfc3339(now + Duration::from_secs(60)),
        )),
        Ok(late) => Ok(late),
        Err(_) => Ok(Duration::ZERO),
    }
}

/// How a run with `--start-at`/`--start-in` started, for summary.json (`start`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartRecord {
    /// The requested start, ns since the Unix epoch (this host's clock).
    pub requested_unix_ns: u64,
    /// The run's actual start (the time line's 0), ns since the Unix epoch.
    pub actual_unix_ns: u64,
    /// actual − requested, ns: 0 when the wait ended in time (the cores then start on the
    /// monotonic clock at the requested instant); more when the process was set up late.
    pub late_ns: u64,
    /// How long the process waited for the start, seconds.
    pub waited_s: f64,
    /// This host's clock as the kernel saw it at the start (NTP synchronization, offset being
    /// corrected, error estimates); `null` where it cannot be read.
    pub clock: Option<crate::sys::clock::ClockStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_bad_ones_are_explained() {
        assert_eq!(parse_shard("3/16").unwrap(), ShardSpec { index: 3, count: 16 });
        assert_eq!(parse_shard(" 0 / 1 ").unwrap(), ShardSpec::default());
        for (s, needle) in [
            ("16/16", "from 0 to 15"),
            ("1/0", "from 1 to"),
            ("3", "expected INDEX/COUNT"),
            ("-1/4", "expected INDEX/COUNT"),
            ("a/b", "expected INDEX/COUNT"),
        ] {
            let e = parse_shard(s).unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn rfc3339_times() {
        let at = |s| unix_ns(parse_start_at(s).unwrap());
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("2026-11-27T02:58:37Z"), 1_795_748_317 * 1_000_000_000);
        assert_eq!(at("2000-02-29T00:00:00Z"), 951_782_400 * 1_000_000_000);
        assert_eq!(at("2026-11-27T03:58:37+01:00"), at("2026-11-27T02:58:37Z"));
        assert_eq!(at("2026-11-27t02:28:37-00:30"), at("2026-11-27T02:58:37Z"));
        assert_eq!(at("2026-11-27T02:58:37.25Z"), 1_795_748_317_250_000_000);
        assert_eq!(at("2026-11-27 02:58:37.123456789123z"), 1_795_748_317_123_456_789);
        assert_eq!(
            rfc3339(parse_start_at("2026-12-01T10:00:00Z").unwrap()),
            "2026-12-01T10:00:00Z"
        );
        for (s, needle) in [
            ("2026-12-01T10:00:00", "add Z for UTC"),
            ("2026-12-01", "too short"),
            ("2026-13-01T10:00:00Z", "out of range"),
            ("2025-02-29T10:00:00Z", "out of range"),
            ("2026-12-01T24:00:00Z", "out of range"),
            ("2026/12/01T10:00:00Z", "YYYY-MM-DD"),
            ("2026-12-01T10:00:00.Z", "no digits"),
            ("2026-12-01T10:00:00+1:00", "malformed time zone"),
            ("tomorrow at ten o'clock", "YYYY-MM-DD"),
        ] {
            let e = parse_start_at(s).unwrap_err();
            assert!(e.contains(needle) && e.contains("RFC 3339"), "{s}: {e}");
        }
    }

    #[test]
    fn a_start_in_the_past_is_refused_unless_barely_late() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            check_start(now + Duration::from_secs(5), now, "--start-at"),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            check_start(now - Duration::from_millis(300), now, "--start-at"),
            Ok(Duration::from_millis(300))
        );
        let e = check_start(now - Duration::from_secs(90), now, "--start-at").unwrap_err();
        assert!(e.contains("passed 90.0 s ago") && e.contains("--start-in 30s"), "{e}");
    }
}
