//! CPU time, memory and open files of a process, read from `/proc`.
//!
//! Cheap enough to sample once a second during a run (three small reads), so
//! reports can show cost per message (CPU seconds) and cost per connection
//! (RSS). No external crates: the files are parsed by hand.

use std::io;

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ProcSample {
    /// CPU time spent in user mode since the process started, all threads,
    /// in seconds (clock-tick resolution, usually 10 ms).
    pub cpu_user_s: f64,
    /// CPU time spent in the kernel on the process's behalf, all threads, in
    /// seconds. With io_uring most socket work is charged here.
    pub cpu_sys_s: f64,
    /// Resident memory now (`VmRSS`), in bytes. Includes shared libraries.
    pub rss_bytes: u64,
    /// Highest resident memory so far (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
    /// Threads in the process now.
    pub threads: u64,
}

impl ProcSample {
    /// User plus system CPU time, in seconds.
    pub fn cpu_total_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_sys_s
    }
}

/// Read `/proc/PID/stat` (utime, stime) and `/proc/PID/status` (VmRSS,
/// VmHWM, Threads) of process `pid`.
///
/// Kernel threads have no `VmRSS`/`VmHWM`; those read as 0.
///
/// # Errors
/// `NotFound` if the process does not exist (or has exited), and
/// `InvalidData` if a file does not have the expected layout.
pub fn sample(pid: i32) -> io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse(&stat, &status, clock_ticks_per_second())
}

/// [`sample`] of the calling process.
pub fn sample_self() -> io::Result<ProcSample> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse(&stat, &status, clock_ticks_per_second())
}

/// Number of open file descriptors of process `pid` (entries of
/// `/proc/PID/fd`). For the calling process the descriptor used to list the
/// directory is not counted.
///
/// # Errors
/// `NotFound` if the process does not exist; `PermissionDenied` for another
/// user's process without `CAP_SYS_PTRACE`.
pub fn open_fds(pid: i32) -> io::Result<u64> {
    let mut count = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        entry?;
        count += 1;
    }
    if i64::from(pid) == i64::from(std::process::id()) {
        count = count.saturating_sub(1);
    }
    Ok(count)
}

/// Clock ticks per second for `/proc/PID/stat` times (`sysconf(_SC_CLK_TCK)`,
/// 100 on every common Linux; 100 is also the fallback).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a constant; it has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// Build a sample from the text of `/proc/PID/stat` and `/proc/PID/status`.
/// Pure: the tests feed it fixed text.
pub fn parse(stat: &str, status: &str, ticks_per_second: u64) -> io::Result<ProcSample> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and ')', so fields are counted from the LAST ')'.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| bad(format!("no ')' in /proc/PID/stat: {stat:?}")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
    let field = |n: usize| -> io::Result<u64> {
        let text = fields
            .get(n - 3)
            .ok_or_else(|| bad(format!("/proc/PID/stat has no field {n}")))?;
        text.parse()
            .map_err(|_| bad(format!("/proc/PID/stat field {n} is {text:?}, not a number")))
    };
    let ticks = ticks_per_second.max(1) as f64;
    let (utime, stime, stat_threads) = (field(14)?, field(15)?, field(20)?);

    let mut sample = ProcSample {
        cpu_user_s: utime as f64 / ticks,
        cpu_sys_s: stime as f64 / ticks,
        threads: stat_threads,
        ..ProcSample::default()
    };
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = || -> io::Result<u64> {
            let text = value.split_whitespace().next().unwrap_or("");
            text.parse()
                .map_err(|_| bad(format!("/proc/PID/status {key} is {value:?}, not a number")))
        };
        match key {
            // The kernel writes these in kB (KiB).
            "VmRSS" => sample.rss_bytes = number()?.saturating_mul(1024),
            "VmHWM" => sample.peak_rss_bytes = number()?.saturating_mul(1024),
            "Threads" => sample.threads = number()?,
            _ => {}
        }
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (wsload) S 1 1234 1234 0 -1 4194560 2000 0 0 0 \
                        250 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615 \
                        1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    const STATUS: &str = "Name:\twsload\nState:\tS (sleeping)\nVmPeak:\t  20000 kB\n\
                          VmHWM:\t    4096 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";

    #[test]
    fn parse_table() {
        let odd_name = STAT.replace("(wsload)", "(a b) (c))");
        let kernel_status = "Name:\tkthreadd\nThreads:\t1\n";
        // (stat, status, ticks, expected)
        let table: &[(&str, &str, u64, ProcSample)] = &[
            (
                STAT,
                STATUS,
                100,
                ProcSample {
                    cpu_user_s: 2.5,
                    cpu_sys_s: 0.75,
                    rss_bytes: 2048 * 1024,
                    peak_rss_bytes: 4096 * 1024,
                    threads: 3,
                },
            ),
            (
                &odd_name,
                STATUS,
                250,
                ProcSample {
                    cpu_user_s: 1.0,
                    cpu_sys_s: 0.3,
                    rss_bytes: 2048 * 1024,
                    peak_rss_bytes: 4096 * 1024,
                    threads: 3,
                },
            ),
            (
                STAT,
                kernel_status,
                100,
                ProcSample {
                    cpu_user_s: 2.5,
                    cpu_sys_s: 0.75,
                    rss_bytes: 0,
                    peak_rss_bytes: 0,
                    threads: 1,
                },
            ),
            // ticks = 0 must not divide by zero.
            (
                STAT,
                "",
                0,
                ProcSample {
                    cpu_user_s: 250.0,
                    cpu_sys_s: 75.0,
                    threads: 3,
                    ..ProcSample::default()
                },
            ),
        ];
        for (stat, status, ticks, want) in table {
            let got = parse(stat, status, *ticks).unwrap();
            assert_eq!(got, *want, "stat {stat:?} status {status:?} ticks {ticks}");
        }
    }

    #[test]
    fn parse_sad_paths() {
        let table: &[(&str, &str, &str)] = &[
            ("", STATUS, "no ')'"),
            ("1 (x) S 1 2", STATUS, "no field 14"),
            ("1 (x) S 1 2 3 4 5 6 7 8 9 10 x 1 2 3 4 5 6", STATUS, "field 14"),
            (STAT, "VmRSS:\tlots kB\n", "VmRSS"),
        ];
        for (stat, status, want) in table {
            let e = parse(stat, status, 100).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn sample_of_own_process_is_sane() {
        // Burn a little CPU so the counters have something to show.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let me = sample_self().unwrap();
        let by_pid = sample(std::process::id() as i32).unwrap();
        for s in [me, by_pid] {
            assert!(s.rss_bytes > 0, "{s:?}");
            assert!(s.peak_rss_bytes >= s.rss_bytes / 2, "{s:?}");
            assert!(s.threads >= 1, "{s:?}");
            assert!(s.cpu_user_s >= 0.0 && s.cpu_sys_s >= 0.0, "{s:?}");
            // A test process cannot have used an hour of CPU.
            assert!(s.cpu_total_s() < 3600.0, "{s:?}");
        }
        assert!(by_pid.cpu_total_s() >= me.cpu_total_s());
    }

    #[test]
    fn missing_process_is_not_found() {
        // PIDs are at most 2^22 on Linux, so this one cannot exist.
        let pid = i32::MAX;
        assert_eq!(sample(pid).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(open_fds(pid).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn open_fds_counts_a_new_file() {
        // Other tests run in parallel threads and may open files, so retry
        // until an undisturbed before/after pair is seen.
        let pid = std::process::id() as i32;
        let ok = (0..20).any(|_| {
            let before = open_fds(pid).unwrap();
            let file = std::fs::File::open("/proc/self/stat").unwrap();
            let during = open_fds(pid).unwrap();
            drop(file);
            let after = open_fds(pid).unwrap();
            during == before + 1 && after == before
        });
        assert!(ok, "opening one file should add exactly one fd");
    }

    #[test]
    fn clock_ticks_is_positive() {
        assert!(clock_ticks_per_second() > 0);
    }
}
