//! Parsing of human units on the command line: durations, byte sizes, rates.

use std::time::Duration;

/// Split `"250ms"` into `(250.0, "ms")`: the number, then the unit (the rest from the first letter).
fn number_and_unit<'a>(s: &'a str, what: &str, examples: &str) -> Result<(f64, &'a str), String> {
    let t = s.trim();
    let split = t.find(char::is_alphabetic).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not {what} (examples: {examples})"))?;
    Ok((v, unit))
}

/// `"10s"`, `"500ms"`, `"2m"`, `"1h"`, `"250us"`, or a bare number of seconds (`"1.5"`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (v, unit) = number_and_unit(s, "a duration", "10s, 500ms, 2m")?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1e3,
        "us" | "µs" => v / 1e6,
        "ns" => v / 1e9,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("`{s}`: unknown time unit `{unit}` (use ns, us, ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{s}` is not a usable duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `"64"`, `"16KiB"`, `"1MiB"`, `"1MB"`, `"2k"`. Binary (KiB) and decimal (kB) units.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (v, unit) = number_and_unit(s, "a size", "64, 16KiB, 1MiB")?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        _ => {
            return Err(format!(
                "`{s}`: unknown size unit `{unit}` (use B, KiB, MiB, GiB, kB, MB, GB)"
            ))
        }
    };
    let bytes = v * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= 2f64.powi(62) || bytes.fract() != 0.0 {
        return Err(format!("`{s}` is not a usable size in whole bytes"));
    }
    Ok(bytes as u64)
}

/// `"100"`, `"100/s"`, `"6000/m"`: events per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, p)) => (n, p.trim()),
        None => (t, "s"),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a rate (examples: 2, 100/s, 600/m)"))?;
    let div = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}`: unknown rate unit `/{per}` (use /s, /m or /h)")),
    };
    let r = v / div;
    if !r.is_finite() || r < 0.0 {
        return Err(format!("`{s}` is not a usable rate (it must be 0 or more)"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("10s", 10.0),
            ("500ms", 0.5),
            ("2m", 120.0),
            ("1.5", 1.5),
            ("0", 0.0),
            (" 3 s", 3.0),
            ("250us", 0.00025),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s).unwrap(), Duration::from_secs_f64(want), "{s}");
        }
        for bad in ["", "s", "-1s", "10x", "nan", "1e300s", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("64", 64),
            ("16MiB", 16 << 20),
            ("1k", 1024),
            ("1kB", 1000),
            ("2MB", 2_000_000),
            ("0", 0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_bytes(s).unwrap(), want, "{s}");
        }
        for bad in ["", "-1", "1.5", "64XB", "1e30", "MiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        let ok = [
            ("2", 2.0),
            ("100/s", 100.0),
            ("600/m", 10.0),
            ("0", 0.0),
            ("7200/h", 2.0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_rate(s).unwrap(), want, "{s}");
        }
        for bad in ["", "-1", "5/day", "x/s", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
