//! Process and kernel limits a run depends on: open files and ephemeral ports. (Locked
//! memory is not one: since Linux 5.12 io_uring rings are charged to the memory cgroup, and
//! the engine registers no buffers.)
//!
//! Each check has a pure `*_verdict` function (figures in, verdict out) that
//! the tests drive with tables, and a thin wrapper that reads the figures
//! from the system. Where the process may fix a limit itself (raising a soft
//! limit up to its hard limit) the wrapper does so and reports how far it got,
//! as tcpkali does; where it may not, the error carries the numbers and the
//! exact command that fixes them.

use std::io;

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};

use super::thousands;

/// Open files a process needs besides its sockets: stdin/stdout/stderr, the
/// listener(s), report and log files, `/proc` reads and the aggregator's
/// channels, with room to spare. Unit: file descriptors.
pub const FD_OVERHEAD_BASE: u64 = 64;

/// Open files each core's reactor keeps besides its sockets: its ring and slack. Unit: file
/// descriptors per core.
pub const FD_OVERHEAD_PER_EXECUTOR: u64 = 8;

/// Ports per source address after `sysctl -w net.ipv4.ip_local_port_range="1024 65535"`,
/// the widest range that leaves the well-known ports alone.
pub const WIDE_PORTS: u64 = 65535 - 1024 + 1;

const PORT_RANGE_PATH: &str = "/proc/sys/net/ipv4/ip_local_port_range";
const RESERVED_PORTS_PATH: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
pub(crate) const NR_OPEN_PATH: &str = "/proc/sys/fs/nr_open";

/// A limit that stops a run before it starts. Each message names the figures
/// and the command that fixes them.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// More open files are needed than the limit allows, even after raising
    /// the soft limit to the hard limit.
    #[error("{}", too_few_files(*.needed, *.soft, *.hard))]
    TooFewFiles {
        /// Open files the run needs (see [`fds_needed`]).
        needed: u64,
        /// Soft `RLIMIT_NOFILE` in force.
        soft: u64,
        /// Hard `RLIMIT_NOFILE` in force; only root can raise it.
        hard: u64,
    },

    /// More open files are needed than the kernel lets any process have
    /// (`fs.nr_open`), so the hard limit cannot be raised far enough either.
    #[error(
        "this run needs about {} open files but the kernel caps every process at fs.nr_open = {} \
         (hard limit {}): raise both with `sysctl -w fs.nr_open={}` and then `ulimit -Hn {}` (as root), \
         or lower --connections",
        thousands(*.needed), thousands(*.nr_open), limit_text(*.hard), suggest_files(*.needed),
        suggest_files(*.needed)
    )]
    AboveNrOpen {
        /// Open files the run needs.
        needed: u64,
        /// Hard `RLIMIT_NOFILE` in force.
        hard: u64,
        /// `/proc/sys/fs/nr_open`, the ceiling for any hard limit.
        nr_open: u64,
    },

    /// Reading a resource limit failed (should not happen on Linux).
    #[error("could not read the {resource} limit: {source}")]
    GetLimit {
        /// `RLIMIT_NOFILE`.
        resource: &'static str,
        /// The errno from getrlimit(2).
        source: nix::errno::Errno,
    },

    /// Raising a soft limit up to its hard limit failed.
    #[error(
        "could not raise the soft {resource} limit to {} (its hard limit): {source}; \
         set it before starting, e.g. `{command}`",
        thousands(*.wanted)
    )]
    SetLimit {
        /// `RLIMIT_NOFILE`.
        resource: &'static str,
        /// The soft limit we asked for.
        wanted: u64,
        /// The shell command that sets it by hand.
        command: String,
        /// The errno from setrlimit(2).
        source: nix::errno::Errno,
    },

    /// `/proc/sys/net/ipv4/ip_local_port_range` could not be read or parsed.
    #[error("could not read the ephemeral port range from {PORT_RANGE_PATH}: {source}")]
    PortRange {
        /// What went wrong.
        source: io::Error,
    },

    /// More connections to one destination than the source addresses have
    /// ephemeral ports for: connect() would fail with `EADDRNOTAVAIL`.
    #[error("{}", too_few_ports(self))]
    TooFewPorts {
        /// Connections to one destination address and port.
        connections: u64,
        /// Source addresses given (0 is taken as 1: the kernel picks one).
        source_addresses: usize,
        /// Source addresses the run needs: ⌈connections / ports_per_address⌉.
        needed_addresses: u64,
        /// Usable ephemeral ports per source address: `high - low + 1 - reserved`.
        ports_per_address: u64,
        /// Low end of `net.ipv4.ip_local_port_range`.
        low: u16,
        /// High end of `net.ipv4.ip_local_port_range`.
        high: u16,
        /// Ports inside the range listed in `net.ipv4.ip_local_reserved_ports`.
        reserved: u64,
    },
}

/// The soft and hard `RLIMIT_NOFILE` after [`raise_nofile`]. Unit: open files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit when the process started.
    pub soft_before: u64,
    /// The soft limit now (equal to `hard` unless `hard` is unlimited and
    /// `fs.nr_open` could not be read).
    pub soft: u64,
    /// The hard limit; only a process with `CAP_SYS_RESOURCE` can raise it.
    pub hard: u64,
}

/// Open files a client process needs for `connections` sockets run by
/// `executors` io_uring executors:
/// `connections + FD_OVERHEAD_BASE + FD_OVERHEAD_PER_EXECUTOR × executors`,
/// i.e. `connections + 64 + 8 × executors`. Saturates instead of overflowing.
///
/// When the built-in server runs in the same process, both ends of every
/// connection are open here: pass `2 × connections`.
pub fn fds_needed(connections: u64, executors: usize) -> u64 {
    connections
        .saturating_add(FD_OVERHEAD_BASE)
        .saturating_add(FD_OVERHEAD_PER_EXECUTOR.saturating_mul(executors as u64))
}

/// Raise the soft `RLIMIT_NOFILE` up to the hard limit (never lowering it),
/// then check that `needed` open files fit.
///
/// If the hard limit is unlimited, the soft limit is raised to `fs.nr_open`,
/// the most the kernel allows. The raised limit stays in force for the rest of
/// the process's life and is inherited by its children.
///
/// # Errors
/// [`LimitError::TooFewFiles`] if `needed` exceeds the (raised) limit,
/// [`LimitError::AboveNrOpen`] if it exceeds even `fs.nr_open`, and
/// [`LimitError::GetLimit`]/[`LimitError::SetLimit`] if the syscalls fail.
pub fn raise_nofile(needed: u64) -> Result<FdLimit, LimitError> {
    const RES: &str = "open files (RLIMIT_NOFILE)";
    let (soft_before, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|source| LimitError::GetLimit { resource: RES, source })?;
    let nr_open = read_u64(NR_OPEN_PATH);
    let target = nofile_reachable(hard, nr_open);
    let soft = if target > soft_before {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).map_err(|source| LimitError::SetLimit {
            resource: RES,
            wanted: target,
            command: format!("ulimit -Sn {target}"),
            source,
        })?;
        target
    } else {
        soft_before
    };
    nofile_verdict(needed, soft, hard, nr_open)?;
    Ok(FdLimit {
        soft_before,
        soft,
        hard,
    })
}

/// The soft `RLIMIT_NOFILE` a process may raise itself to: its hard limit,
/// or `fs.nr_open` (when known) if the hard limit is unlimited. Pure.
pub fn nofile_reachable(hard: u64, nr_open: Option<u64>) -> u64 {
    match (hard, nr_open) {
        (RLIM_INFINITY, Some(n)) => n,
        _ => hard,
    }
}

/// Whether `needed` open files fit under `soft`; if not, which error explains
/// it. `nr_open` is `fs.nr_open` when known. Pure: no syscalls.
pub fn nofile_verdict(needed: u64, soft: u64, hard: u64, nr_open: Option<u64>) -> Result<(), LimitError> {
    if needed <= soft {
        return Ok(());
    }
    match nr_open {
        Some(nr_open) if needed > nr_open => Err(LimitError::AboveNrOpen { needed, hard, nr_open }),
        _ => Err(LimitError::TooFewFiles { needed, soft, hard }),
    }
}

/// `(low, high)` ports from `/proc/sys/net/ipv4/ip_local_port_range`, both
/// inclusive: the ports connect() picks from when the socket has no port.
///
/// # Errors
/// The read error, or `InvalidData` if the file does not hold two ports with
/// `low <= high`.
pub fn ephemeral_port_range() -> io::Result<(u16, u16)> {
    parse_port_range(&std::fs::read_to_string(PORT_RANGE_PATH)?)
}

/// Parse the contents of `ip_local_port_range` ("32768\t60999\n").
pub fn parse_port_range(s: &str) -> io::Result<(u16, u16)> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let mut parts = s.split_whitespace();
    let (Some(low), Some(high), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(format!("expected two ports, found {s:?}")));
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| bad(format!("{p:?} is not a port number (0-65535)")))
    };
    let (low, high) = (port(low)?, port(high)?);
    if low > high {
        return Err(bad(format!("low port {low} is above high port {high}")));
    }
    Ok((low, high))
}

/// How many ports of the list in `ip_local_reserved_ports` ("8080,9000-9010",
/// often empty) fall inside `low..=high`. Unparsable items are ignored: the
/// count only sharpens the estimate.
pub fn reserved_in_range(list: &str, low: u16, high: u16) -> u64 {
    list.trim()
        .split(',')
        .filter_map(|item| {
            let item = item.trim();
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
        })
        .map(|(a, b)| {
            let (a, b) = (a.max(low), b.min(high));
            if a <= b {
                u64::from(b - a) + 1
            } else {
                0
            }
        })
        .sum()
}

/// Check that `connections` to ONE destination address and port fit in the
/// ephemeral ports of `source_addresses` source IPs (0 is taken as 1).
///
/// Each source address offers `high - low + 1` ports of
/// `net.ipv4.ip_local_port_range`, less reserved ones. Past that, connect()
/// fails with `EADDRNOTAVAIL`. This holds when sockets bound to a source
/// address use `IP_BIND_ADDRESS_NO_PORT`; without it, bind() picks the port
/// and fewer connections fit.
///
/// # Errors
/// [`LimitError::TooFewPorts`] naming how many source addresses are needed,
/// or [`LimitError::PortRange`] if the range cannot be read.
pub fn check_ephemeral_ports(connections: u64, source_addresses: usize) -> Result<(), LimitError> {
    if connections == 0 {
        return Ok(());
    }
    let (range, reserved) = port_facts().map_err(|source| LimitError::PortRange { source })?;
    ports_verdict(connections, source_addresses, range, reserved)
}

/// The ephemeral port range and how many of its ports are reserved
/// (`ip_local_reserved_ports`; 0 if that file cannot be read): the figures
/// [`ports_verdict`] takes, read from `/proc/sys`.
///
/// # Errors
/// As [`ephemeral_port_range`].
pub fn port_facts() -> io::Result<((u16, u16), u64)> {
    let (low, high) = ephemeral_port_range()?;
    let reserved = std::fs::read_to_string(RESERVED_PORTS_PATH)
        .map(|list| reserved_in_range(&list, low, high))
        .unwrap_or(0);
    Ok(((low, high), reserved))
}

/// Usable ephemeral ports per source address: `high - low + 1 - reserved`
/// (0 if the reserved ports cover the range).
pub fn ports_per_address(range: (u16, u16), reserved: u64) -> u64 {
    (u64::from(range.1) + 1)
        .saturating_sub(u64::from(range.0))
        .saturating_sub(reserved)
}

/// Whether `connections` fit in the ports `range` (inclusive) less `reserved`
/// of `source_addresses` addresses (0 is taken as 1). Pure: no syscalls.
pub fn ports_verdict(
    connections: u64,
    source_addresses: usize,
    range: (u16, u16),
    reserved: u64,
) -> Result<(), LimitError> {
    let (low, high) = range;
    let ports_per_address = ports_per_address(range, reserved);
    let needed_addresses = addresses_for(connections, ports_per_address);
    if needed_addresses <= source_addresses.max(1) as u64 {
        return Ok(());
    }
    Err(LimitError::TooFewPorts {
        connections,
        source_addresses,
        needed_addresses,
        ports_per_address,
        low,
        high,
        reserved,
    })
}

/// Source addresses `connections` to one destination need with `ports` per
/// address: ⌈connections / ports⌉; `u64::MAX` when there are no ports at all.
pub fn addresses_for(connections: u64, ports: u64) -> u64 {
    match (connections, ports) {
        (0, _) => 0,
        (_, 0) => u64::MAX,
        (c, p) => c.div_ceil(p),
    }
}

/// Reads a single decimal number from a /proc file; `None` if anything fails.
pub(crate) fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub(crate) fn limit_text(v: u64) -> String {
    if v == RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        thousands(v)
    }
}

/// A round figure for `ulimit -n`: `needed` rounded up to the next 1,000.
pub(crate) fn suggest_files(needed: u64) -> u64 {
    needed.div_ceil(1000).saturating_mul(1000)
}

fn too_few_files(needed: u64, soft: u64, hard: u64) -> String {
    if needed <= hard {
        // Only reachable when the soft limit could not be raised to the hard one.
        format!(
            "this run needs about {} open files but the soft limit is {} (hard limit {}): \
             raise it with `ulimit -Sn {}`, or lower --connections",
            thousands(needed),
            limit_text(soft),
            limit_text(hard),
            hard.min(suggest_files(needed))
        )
    } else {
        let n = suggest_files(needed);
        format!(
            "this run needs about {} open files but the hard limit is {}: raise it with \
             `ulimit -Hn {n}` (as root) or in /etc/security/limits.conf (`* - nofile {n}`), \
             or lower --connections",
            thousands(needed),
            limit_text(hard),
        )
    }
}

fn too_few_ports(e: &LimitError) -> String {
    let LimitError::TooFewPorts {
        connections,
        source_addresses,
        needed_addresses,
        ports_per_address,
        low,
        high,
        reserved,
    } = *e
    else {
        unreachable!("too_few_ports is only called for TooFewPorts");
    };
    let reserved_text = if reserved > 0 {
        format!(" less {} reserved", thousands(reserved))
    } else {
        String::new()
    };
    let widen = "`sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"`";
    if ports_per_address == 0 {
        return format!(
            "the ephemeral port range {low}-{high}{reserved_text} leaves no port for {} \
             connections: widen it with {widen}",
            thousands(connections)
        );
    }
    let given = source_addresses.max(1);
    let wide_needed = addresses_for(connections, WIDE_PORTS);
    let widen_advice = if wide_needed <= given as u64 {
        format!("or widen the range with {widen} (as root; 64,512 ports per address)")
    } else {
        format!(
            "or widen the range with {widen} (as root; 64,512 ports per address) \
             and pass {wide_needed} source addresses"
        )
    };
    format!(
        "{needed_addresses} source addresses needed for {} connections to one destination \
         ({} ephemeral ports per source address: range {low}-{high}{reserved_text}), but only \
         {given} given: pass --source-ip {} (any 127.x.y.z works for a loopback target; for a \
         remote one use addresses assigned to this host), {widen_advice}",
        thousands(connections),
        thousands(ports_per_address),
        loopback_list(needed_addresses),
    )
}

/// "127.0.0.1,127.0.0.2,127.0.0.3" for n = 3; "127.0.0.1,127.0.0.2,...,127.0.0.10"
/// for longer lists. Counts on through 127.0.1.0 and beyond past 254.
pub(crate) fn loopback_list(n: u64) -> String {
    let addr = |i: u64| {
        let ip = std::net::Ipv4Addr::from(0x7f00_0001u32.wrapping_add(i as u32));
        ip.to_string()
    };
    if n <= 4 {
        (0..n).map(addr).collect::<Vec<_>>().join(",")
    } else {
        format!("{},{},...,{}", addr(0), addr(1), addr(n.min((1 << 24) - 1) - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds_needed_table() {
        let table: &[(u64, usize, u64)] = &[
            (0, 0, 64),
            (0, 1, 72),
            (10_000, 0, 10_064),
            (10_000, 1, 10_072),
            (10_000, 2, 10_080),
            (1_000_000, 64, 1_000_576),
            (u64::MAX, 2, u64::MAX),
            (u64::MAX - 100, 1, u64::MAX - 28),
            (u64::MAX - 10, 1, u64::MAX),
        ];
        for &(connections, executors, want) in table {
            assert_eq!(
                fds_needed(connections, executors),
                want,
                "fds_needed({connections}, {executors})"
            );
        }
    }

    #[test]
    fn nofile_verdict_table() {
        // (needed, soft, hard, nr_open, Ok / which error)
        let table: &[(u64, u64, u64, Option<u64>, &str)] = &[
            (0, 1024, 4096, None, "ok"),
            (1024, 1024, 4096, None, "ok"),
            (10_064, 20_000, 20_000, Some(1 << 20), "ok"),
            (20_000, 20_000, 20_000, Some(1 << 20), "ok"),
            (20_001, 20_000, 20_000, Some(1 << 20), "files"),
            (10_064, 4096, 4096, None, "files"),
            (2_000_000, 20_000, 20_000, Some(1 << 20), "nr_open"),
            (2_000_000, 20_000, 20_000, None, "files"),
            (u64::MAX, 20_000, 20_000, Some(1 << 20), "nr_open"),
        ];
        for &(needed, soft, hard, nr_open, want) in table {
            let got = match nofile_verdict(needed, soft, hard, nr_open) {
                Ok(()) => "ok",
                Err(LimitError::TooFewFiles { .. }) => "files",
                Err(LimitError::AboveNrOpen { .. }) => "nr_open",
                Err(e) => panic!("unexpected {e}"),
            };
            assert_eq!(got, want, "nofile_verdict({needed}, {soft}, {hard}, {nr_open:?})");
        }
    }

    #[test]
    fn too_few_files_message_has_figures_and_fix() {
        let e = nofile_verdict(10_064, 4096, 4096, Some(1 << 20)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "this run needs about 10,064 open files but the hard limit is 4,096: raise it with \
             `ulimit -Hn 11000` (as root) or in /etc/security/limits.conf (`* - nofile 11000`), \
             or lower --connections"
        );
        // The soft limit alone is short (setrlimit was not possible).
        let e = nofile_verdict(3000, 1024, 4096, None).unwrap_err().to_string();
        assert!(e.contains("soft limit is 1,024 (hard limit 4,096)"), "{e}");
        assert!(e.contains("`ulimit -Sn 3000`"), "{e}");
        let e = nofile_verdict(2_000_000, 20_000, 20_000, Some(1_048_576))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fs.nr_open = 1,048,576"), "{e}");
        assert!(e.contains("`sysctl -w fs.nr_open=2000000`"), "{e}");
        assert!(e.contains("`ulimit -Hn 2000000`"), "{e}");
    }

    #[test]
    fn raise_nofile_reaches_hard_limit_and_never_lowers() {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let got = raise_nofile(100).expect("100 files always fit");
        assert!(got.soft >= got.soft_before);
        assert_eq!(got.hard, hard);
        if hard != RLIM_INFINITY {
            assert_eq!(got.soft, hard);
        }
        // A second call finds the limit already raised and keeps it.
        let again = raise_nofile(100).unwrap();
        assert_eq!(again.soft_before, got.soft);
        assert_eq!(again.soft, got.soft);
        // Far more than any hard limit: a typed error with the figures.
        let e = raise_nofile(u64::MAX / 2).unwrap_err();
        assert!(
            matches!(e, LimitError::TooFewFiles { .. } | LimitError::AboveNrOpen { .. }),
            "{e}"
        );
    }

    #[test]
    fn parse_port_range_table() {
        let table: &[(&str, Option<(u16, u16)>)] = &[
            ("32768\t60999\n", Some((32768, 60999))),
            ("1024 65535", Some((1024, 65535))),
            ("5000 5000", Some((5000, 5000))),
            ("", None),
            ("32768", None),
            ("60999 32768", None),
            ("1 2 3", None),
            ("a b", None),
            ("1024 70000", None),
            ("-1 100", None),
        ];
        for &(input, want) in table {
            assert_eq!(parse_port_range(input).ok(), want, "parse_port_range({input:?})");
        }
    }

    #[test]
    fn ephemeral_port_range_reads_proc() {
        let (low, high) = ephemeral_port_range().expect("Linux has ip_local_port_range");
        assert!(low <= high);
    }

    #[test]
    fn reserved_in_range_table() {
        let table: &[(&str, u64)] = &[
            ("", 0),
            ("\n", 0),
            ("8080", 0),
            ("40000", 1),
            ("40000-40009", 10),
            ("30000-32770", 3),
            ("60990-61010", 10),
            ("8080,40000,40010-40011,junk", 3),
            ("50000-40000", 0),
        ];
        for &(list, want) in table {
            assert_eq!(reserved_in_range(list, 32768, 60999), want, "{list:?}");
        }
    }

    #[test]
    fn ports_verdict_table() {
        // 28,232 ports.
        const RANGE: (u16, u16) = (32768, 60999);
        // (connections, source addresses, reserved, Ok or needed addresses)
        let table: &[(u64, usize, u64, Option<u64>)] = &[
            (0, 0, 0, None),
            (0, 1, 0, None),
            (1, 0, 0, None),
            (28_232, 1, 0, None),
            (28_232, 0, 0, None),
            (28_233, 1, 0, Some(2)),
            (28_232, 1, 1, Some(2)),
            (60_000, 1, 0, Some(3)),
            (60_000, 3, 0, None),
            (250_000, 1, 0, Some(9)),
            (282_320, 9, 0, Some(10)),
            (282_320, 10, 0, None),
            (u64::MAX, 1, 0, Some(u64::MAX.div_ceil(28_232))),
            (1, 1, 28_232, Some(u64::MAX)),
        ];
        for &(connections, addrs, reserved, want) in table {
            let got = match ports_verdict(connections, addrs, RANGE, reserved) {
                Ok(()) => None,
                Err(LimitError::TooFewPorts { needed_addresses, .. }) => Some(needed_addresses),
                Err(e) => panic!("unexpected {e}"),
            };
            assert_eq!(got, want, "ports_verdict({connections}, {addrs}, reserved {reserved})");
        }
    }

    #[test]
    fn too_few_ports_message_has_figures_and_fix() {
        let e = ports_verdict(250_000, 1, (32768, 60999), 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "9 source addresses needed for 250,000 connections to one destination (28,232 \
             ephemeral ports per source address: range 32768-60999), but only 1 given: pass \
             --source-ip 127.0.0.1,127.0.0.2,...,127.0.0.9 (any 127.x.y.z works for a loopback \
             target; for a remote one use addresses assigned to this host), or widen the range \
             with `sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"` (as root; 64,512 ports \
             per address) and pass 4 source addresses"
        );
        // Widening alone is enough: no extra addresses asked for.
        let e = ports_verdict(60_000, 1, (32768, 60999), 0).unwrap_err().to_string();
        assert!(e.contains("--source-ip 127.0.0.1,127.0.0.2,127.0.0.3 "), "{e}");
        assert!(e.ends_with("64,512 ports per address)"), "{e}");
        // Reserved ports are named.
        let e = ports_verdict(30_000, 1, (32768, 60999), 10).unwrap_err().to_string();
        assert!(e.contains("28,222 ephemeral ports"), "{e}");
        assert!(e.contains("less 10 reserved"), "{e}");
        // No usable port at all.
        let e = ports_verdict(1, 1, (40000, 40000), 1).unwrap_err().to_string();
        assert!(e.contains("leaves no port"), "{e}");
    }

    #[test]
    fn loopback_list_table() {
        let table: &[(u64, &str)] = &[
            (0, ""),
            (1, "127.0.0.1"),
            (2, "127.0.0.1,127.0.0.2"),
            (4, "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"),
            (10, "127.0.0.1,127.0.0.2,...,127.0.0.10"),
            (256, "127.0.0.1,127.0.0.2,...,127.0.1.0"),
        ];
        for &(n, want) in table {
            assert_eq!(loopback_list(n), want, "loopback_list({n})");
        }
    }

    #[test]
    fn check_ephemeral_ports_on_this_machine() {
        check_ephemeral_ports(0, 0).expect("zero connections always fit");
        check_ephemeral_ports(1, 1).expect("one connection always fits");
        let (low, high) = ephemeral_port_range().unwrap();
        let ports = u64::from(high - low) + 1;
        let e = check_ephemeral_ports(ports * 3 + 1, 1).unwrap_err();
        assert!(
            matches!(e, LimitError::TooFewPorts { needed_addresses, .. } if needed_addresses >= 4),
            "{e}"
        );
    }
}

/// The soft open-files limit of another process (`Max open files` in /proc/PID/limits);
/// `None` when unreadable or unlimited.
pub fn process_nofile(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    parse_limits_nofile(&text)
}

/// The soft limit from the `Max open files` line of a /proc/PID/limits text.
pub fn parse_limits_nofile(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod process_limit_tests {
    #[test]
    fn max_open_files_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 20000                files     \n";
        assert_eq!(super::parse_limits_nofile(text), Some(1024));
        assert_eq!(
            super::parse_limits_nofile("Max open files unlimited unlimited files"),
            None
        );
        assert_eq!(super::parse_limits_nofile(""), None);
        assert!(super::process_nofile(std::process::id() as i32).is_some());
    }
}
