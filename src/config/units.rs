//! Parsing of human units on the command line: durations, byte sizes, rates, address lists.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::sys::thousands;

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

/// A number for people: integers without decimals, others with at most `digits` decimals
/// (trailing zeros dropped).
pub fn fmt_num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Bytes for people, the one formatting of byte counts: in the largest unit the count reaches,
/// as a whole number when it is one (`64 KiB`, `16 MiB`); else the count in bytes below 10 KiB
/// (`100 B`, `1500 B`), and above it with one decimal (`12.2 MiB`). A scenario's sizes read
/// back exactly; a measured figure reads at a glance. `–` for NaN or infinity.
pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if !b.is_finite() {
        return "–".to_string();
    }
    let sign = if b < 0.0 { "-" } else { "" };
    let b = b.abs();
    let unit = |i: usize| 1024f64.powi(i as i32);
    // The largest unit the count reaches.
    let i = (1..UNITS.len()).rev().find(|&i| b >= unit(i)).unwrap_or(0);
    let v = b / unit(i);
    if i > 0 && v.fract() == 0.0 {
        format!("{sign}{v} {}", UNITS[i])
    } else if b < 10.0 * 1024.0 {
        format!("{sign}{} B", b.round())
    } else {
        format!("{sign}{v:.1} {}", UNITS[i])
    }
}

/// `5/s`, `0.5/s`.
pub fn fmt_rate(r: f64) -> String {
    format!("{}/s", trim_float(r))
}

/// A number with at most 3 decimals and no trailing zeros: `1.5`, `0.333`, `2`.
pub fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Microseconds for people: `381 µs`, `3.84 ms`, `1.20 s`; `–` for NaN or infinity.
pub fn fmt_us(us: f64) -> String {
    if !us.is_finite() {
        "–".to_string()
    } else if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{} µs", us.round() as i64)
    }
}

/// `30s`, `1.5s`, `250ms`, `2m30s`.
pub fn fmt_dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if d.is_zero() {
        "0s".to_string()
    } else if ms < 1000.0 {
        format!("{}ms", trim_float(ms))
    } else if d.as_secs() >= 60 && d.subsec_nanos() == 0 {
        let (m, s) = (d.as_secs() / 60, d.as_secs() % 60);
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else {
        format!("{}s", trim_float(d.as_secs_f64()))
    }
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

/// Most addresses one range may give: far more than any host binds, small enough that a typo
/// (`10.0.0.1-10.1.0.1`) is an error rather than a list of 65,537 addresses.
pub const MAX_IP_RANGE: u64 = 1024;

/// The addresses of one `--source-ip` (a list, ranges expanded). A plain name, not `Vec<..>`, so
/// clap's derive takes it as one value per occurrence instead of one per list item.
pub type IpList = Vec<IpAddr>;

/// A comma-separated list of IP addresses and inclusive IPv4 ranges:
/// `"127.0.0.1,::1"`, `"127.0.0.1-127.0.0.8"`, `"127.0.0.1-8"`, `"10.0.0.250-1.5"` (the end may
/// give only the last octets; the rest come from the start). Ranges give at most
/// [`MAX_IP_RANGE`] addresses. The order is kept, ranges expanded in place.
pub fn parse_ip_list(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("`{s}`: empty entry (separate addresses with one comma)"));
        }
        match item.split_once('-') {
            None => out.push(item.parse::<IpAddr>().map_err(|_| {
                format!("`{item}` is not an IP address (examples: 127.0.0.2, ::1, 127.0.0.1-127.0.0.8)")
            })?),
            Some((start, end)) => out.extend(parse_ipv4_range(item, start.trim(), end.trim())?.map(IpAddr::V4)),
        }
    }
    Ok(out)
}

/// `start-end` of [`parse_ip_list`]; `item` is the whole range, for messages.
fn parse_ipv4_range(item: &str, start: &str, end: &str) -> Result<impl Iterator<Item = Ipv4Addr>, String> {
    let first: Ipv4Addr = start
        .parse()
        .map_err(|_| format!("`{item}`: the range start `{start}` is not an IPv4 address (ranges are IPv4 only)"))?;
    let bad_end =
        || format!("`{item}`: the range end `{end}` is not an IPv4 address or its last octets (as in 127.0.0.1-8)");
    let octets: Vec<u8> = end
        .split('.')
        .map(|o| {
            let digits = (1..=3).contains(&o.len()) && o.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| o.parse().ok()).flatten()
        })
        .collect::<Option<_>>()
        .ok_or_else(bad_end)?;
    if octets.len() > 4 {
        return Err(bad_end());
    }
    let mut last = first.octets();
    last[4 - octets.len()..].copy_from_slice(&octets);
    let (a, b) = (u32::from(first), u32::from_be_bytes(last));
    if b < a {
        return Err(format!(
            "`{item}`: the range ends at {} before it starts at {first}",
            Ipv4Addr::from(b)
        ));
    }
    let count = u64::from(b - a) + 1;
    if count > MAX_IP_RANGE {
        return Err(format!(
            "`{item}`: {} addresses; a range may give at most {}",
            thousands(count),
            thousands(MAX_IP_RANGE)
        ));
    }
    Ok((a..=b).map(Ipv4Addr::from))
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (civil-from-days, proleptic Gregorian).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// `2026-12-01T10:00:00Z` (whole seconds) for messages.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let s = utc_stamp(t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    // YYYYMMDDTHHMMSSZ → YYYY-MM-DDTHH:MM:SSZ
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    )
}

/// The address of `--metrics-listen`: `PORT`, `:PORT`, `IP:PORT`, `[IPv6]:PORT` or
/// `localhost:PORT`; a bare port means 127.0.0.1. Checked only, nothing resolved.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let bad = || format!("`{s}`: expected ADDRESS:PORT, e.g. 127.0.0.1:9464 (or a port alone, for 127.0.0.1)");
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    s.parse::<SocketAddr>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(fmt_num(3.0, 2), "3");
        assert_eq!(fmt_num(1.23456, 2), "1.23");
        assert_eq!(fmt_num(0.1, 3), "0.1");
        assert_eq!(fmt_num(-0.0001, 2), "0");
    }

    #[test]
    fn bytes_for_people() {
        for (b, want) in [
            (0.0, "0 B"),
            (100.0, "100 B"),
            (1500.0, "1500 B"),
            (1024.0, "1 KiB"),
            ((64 << 10) as f64, "64 KiB"),
            ((16 << 20) as f64, "16 MiB"),
            ((3u64 << 30) as f64, "3 GiB"),
            (10_241.0, "10.0 KiB"),
            (12_779_520.0, "12.2 MiB"),
            (-12_779_520.0, "-12.2 MiB"),
            (954.4, "954 B"),
            (f64::NAN, "–"),
            (f64::INFINITY, "–"),
        ] {
            assert_eq!(fmt_bytes(b), want, "{b}");
        }
    }

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

    #[test]
    fn ip_lists() {
        let ips = |list: &str| -> Vec<IpAddr> { list.split(' ').map(|a| a.parse().unwrap()).collect() };
        let ok: &[(&str, &str)] = &[
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("127.0.0.1,127.0.0.2", "127.0.0.1 127.0.0.2"),
            (" 127.0.0.1 , ::1 ", "127.0.0.1 ::1"),
            ("127.0.0.1-127.0.0.3", "127.0.0.1 127.0.0.2 127.0.0.3"),
            ("127.0.0.1-3", "127.0.0.1 127.0.0.2 127.0.0.3"),
            ("127.0.0.5-5", "127.0.0.5"),
            ("127.0.0.1-0.2", "127.0.0.1 127.0.0.2"),
            ("10.0.0.254-1.1", "10.0.0.254 10.0.0.255 10.0.1.0 10.0.1.1"),
            ("10.0.0.255-10.0.1.0", "10.0.0.255 10.0.1.0"),
            ("127.0.0.1 - 2,::1,127.0.0.9", "127.0.0.1 127.0.0.2 ::1 127.0.0.9"),
            ("127.0.0.1-2,127.0.0.2", "127.0.0.1 127.0.0.2 127.0.0.2"),
            ("255.255.255.255-255", "255.255.255.255"),
        ];
        for (s, want) in ok {
            assert_eq!(parse_ip_list(s).unwrap(), ips(want), "{s}");
        }
        let full = parse_ip_list("10.0.0.0-10.0.3.255").unwrap();
        assert_eq!((full.len(), full[1023]), (1024, "10.0.3.255".parse().unwrap()));

        let bad: &[(&str, &str)] = &[
            ("", "``: empty entry (separate addresses with one comma)"),
            (
                "127.0.0.1,,::1",
                "`127.0.0.1,,::1`: empty entry (separate addresses with one comma)",
            ),
            (
                "127.0.0.1,",
                "`127.0.0.1,`: empty entry (separate addresses with one comma)",
            ),
            (
                "localhost",
                "`localhost` is not an IP address (examples: 127.0.0.2, ::1, 127.0.0.1-127.0.0.8)",
            ),
            (
                "10.0.0.300",
                "`10.0.0.300` is not an IP address (examples: 127.0.0.2, ::1, 127.0.0.1-127.0.0.8)",
            ),
            (
                "::1-::5",
                "`::1-::5`: the range start `::1` is not an IPv4 address (ranges are IPv4 only)",
            ),
            (
                "-127.0.0.2",
                "`-127.0.0.2`: the range start `` is not an IPv4 address (ranges are IPv4 only)",
            ),
            (
                "127.0.0.1-",
                "`127.0.0.1-`: the range end `` is not an IPv4 address or its last octets (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.1-256",
                "`127.0.0.1-256`: the range end `256` is not an IPv4 address or its last octets (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.1-1.2.3.4.5",
                "`127.0.0.1-1.2.3.4.5`: the range end `1.2.3.4.5` is not an IPv4 address or its last octets \
                 (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.1-2-3",
                "`127.0.0.1-2-3`: the range end `2-3` is not an IPv4 address or its last octets (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.1-+5",
                "`127.0.0.1-+5`: the range end `+5` is not an IPv4 address or its last octets (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.1-::5",
                "`127.0.0.1-::5`: the range end `::5` is not an IPv4 address or its last octets (as in 127.0.0.1-8)",
            ),
            (
                "127.0.0.8-127.0.0.1",
                "`127.0.0.8-127.0.0.1`: the range ends at 127.0.0.1 before it starts at 127.0.0.8",
            ),
            (
                "127.0.0.8-1",
                "`127.0.0.8-1`: the range ends at 127.0.0.1 before it starts at 127.0.0.8",
            ),
            (
                "10.0.0.0-10.0.4.0",
                "`10.0.0.0-10.0.4.0`: 1,025 addresses; a range may give at most 1,024",
            ),
            (
                "0.0.0.0-255.255.255.255",
                "`0.0.0.0-255.255.255.255`: 4,294,967,296 addresses; a range may give at most 1,024",
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_ip_list(s).unwrap_err(), *want, "{s}");
        }
    }

    #[test]
    fn listen_addresses() {
        let a = |s: &str| parse_listen(s).map(|a| a.to_string());
        assert_eq!(a("9464").unwrap(), "127.0.0.1:9464");
        assert_eq!(a(":9464").unwrap(), "127.0.0.1:9464");
        assert_eq!(a("localhost:0").unwrap(), "127.0.0.1:0");
        assert_eq!(a("0.0.0.0:9464").unwrap(), "0.0.0.0:9464");
        assert_eq!(a("[::1]:9464").unwrap(), "[::1]:9464");
        assert!(a("9464x").unwrap_err().contains("ADDRESS:PORT"));
        assert!(a("127.0.0.1:70000").is_err());
        assert!(a("example.com:9464").is_err(), "names are not resolved");
        assert!(a("").is_err());
    }
}
