//! The operating system side of a run: limits, cores and process figures.
//!
//! Everything here is checked *before* the first connection is opened, so a
//! run that cannot succeed stops at once with a message that names the
//! numbers and the command that fixes them, instead of dying half-way with
//! `EMFILE` or `EADDRNOTAVAIL`.
//!
//! - [`limits`]: open files (`RLIMIT_NOFILE`, raised where we may), locked
//!   memory for io_uring (`RLIMIT_MEMLOCK`) and ephemeral ports.
//! - [`cores`]: CPU lists, the CPUs we may run on and the client/server split.
//! - [`doctor`]: `wsload doctor`, every check above and the kernel settings,
//!   as a table of current value, needed value (a formula in N) and fix.
//! - [`procstat`]: CPU time, memory and open files of a process, read from
//!   `/proc` while a run goes on.
//! - [`wakeup`]: how late this machine wakes a sleeping thread (the floor under measured
//!   latency), for `wsload doctor`.
//!
//! The shell side of the same advice (sysctl values as formulas in the number
//! of connections N) is in `tuning/`.

pub mod child;
pub mod clock;
pub mod cores;
pub mod limits;
pub mod procstat;
pub mod wakeup;

/// Format an integer with thousands separators: `10064` → `"10,064"`.
///
/// Used by every message in this module so that large figures are readable.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_table() {
        let table: &[(u64, &str)] = &[
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (10_064, "10,064"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ];
        for &(n, want) in table {
            assert_eq!(thousands(n), want, "thousands({n})");
        }
    }
}
