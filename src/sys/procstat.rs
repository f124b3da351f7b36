//! CPU time, memory and open files of a process, read from `/proc`.
//!
//! Cheap enough to sample once a second during a run (three small reads), so
//! reports can show cost per message (CPU seconds) and cost per connection
//! (RSS). No external crates: the files are parsed by hand.
//!
//! A server under test is often more than one process (a supervisor and its
//! workers), so [`sample_tree`] sums a process and all its descendants, and
//! [`kernel_sample`] reads the system-wide socket and slab memory that the
//! per-process figures do not show.

use std::io;

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Number of open file descriptors of process `pid`. Linux 6.2 and later report it as the size
/// of `/proc/PID/fd`, which costs microseconds; listing the directory instead (older kernels,
/// which report 0) takes 10 ms at 10,000 files, and the sampler did that every interval on a
/// core that a reactor shares. For the calling process the descriptor used to list the
/// directory is not counted.
///
/// # Errors
/// `NotFound` if the process does not exist; `PermissionDenied` for another
/// user's process without `CAP_SYS_PTRACE`.
pub fn open_fds(pid: i32) -> io::Result<u64> {
    let size = std::fs::metadata(format!("/proc/{pid}/fd"))?.len();
    if size > 0 {
        return Ok(size);
    }
    listed_fds(pid)
}

/// `open_fds` by listing `/proc/PID/fd`, one entry per descriptor.
fn listed_fds(pid: i32) -> io::Result<u64> {
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

/// A process and all its descendants (found through `/proc/*/stat` ppid), summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TreeSample {
    /// User-mode CPU seconds of every process in the tree (see [`ProcSample::cpu_user_s`]).
    pub cpu_user_s: f64,
    /// Kernel-mode CPU seconds of every process in the tree.
    pub cpu_sys_s: f64,
    /// Sum of the resident memory (`VmRSS`) of the processes. Pages shared between them
    /// (libraries, memory shared after fork) are counted once per process.
    pub rss_bytes: u64,
    /// Open file descriptors of all processes (0 for those we may not list).
    pub fds: u64,
    /// Threads of all processes.
    pub threads: u64,
    /// Processes in the tree, `pid` itself included.
    pub processes: u64,
}

impl TreeSample {
    /// User plus system CPU time, in seconds.
    pub fn cpu_total_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_sys_s
    }

    fn add(&mut self, p: &ProcSample, fds: u64) {
        self.cpu_user_s += p.cpu_user_s;
        self.cpu_sys_s += p.cpu_sys_s;
        self.rss_bytes = self.rss_bytes.saturating_add(p.rss_bytes);
        self.fds += fds;
        self.threads += p.threads;
        self.processes += 1;
    }
}

/// [`sample`] of `pid` and of each of its descendants, summed, with their open
/// file descriptors.
///
/// Descendants that exit while being read are skipped, and fds that cannot be
/// listed (another user's process) count as 0 for that process. Costs one pass
/// over `/proc` plus three small reads per process in the tree.
///
/// # Errors
/// As [`sample`] for `pid` itself (`NotFound` if it is gone); never for a descendant.
pub fn sample_tree(pid: i32) -> io::Result<TreeSample> {
    let mut tree = TreeSample::default();
    let root = sample(pid)?;
    tree.add(&root, open_fds(pid).unwrap_or(0));
    for child in descendants(pid) {
        // A descendant may exit between the /proc scan and these reads.
        if let Ok(s) = sample(child) {
            tree.add(&s, open_fds(child).unwrap_or(0));
        }
    }
    Ok(tree)
}

/// The descendants of `pid` (children, grandchildren, ...), from one pass over
/// the numeric entries of `/proc`. Empty if `pid` has none or does not exist.
///
/// Each is listed once, parents before their children. A process that forks
/// or exits during the pass may be missed or still listed.
pub fn descendants(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut links: Vec<(i32, i32)> = Vec::new(); // (ppid, pid)
    for entry in dir.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if child <= 0 || child == pid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        if let Some(ppid) = parse_ppid(&stat) {
            links.push((ppid, child));
        }
    }
    descendants_in(pid, &mut links)
}

/// Walk `(ppid, pid)` links breadth first from `root`. Sorts `links` by ppid.
fn descendants_in(root: i32, links: &mut [(i32, i32)]) -> Vec<i32> {
    links.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0;
    let mut parent = root;
    loop {
        let start = links.partition_point(|&(pp, _)| pp < parent);
        for &(pp, child) in &links[start..] {
            if pp != parent {
                break;
            }
            // PIDs are unique at any instant, but a racy snapshot could in
            // principle show a cycle; never list a process twice.
            if child != root && !out.contains(&child) {
                out.push(child);
            }
        }
        let Some(&p) = out.get(next) else {
            return out;
        };
        parent = p;
        next += 1;
    }
}

/// Field 4 (ppid) of a `/proc/PID/stat` line, counted after the last `)` since
/// the command name may contain spaces and parentheses.
pub fn parse_ppid(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts with field 3 (state), then field 4 (ppid).
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The process name (`/proc/PID/comm`, without its trailing newline; at most
/// 15 bytes, truncated by the kernel).
///
/// # Errors
/// `NotFound` if the process does not exist.
pub fn name(pid: i32) -> io::Result<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))?;
    Ok(comm.trim_end_matches('\n').to_string())
}

/// System-wide kernel memory that grows with sockets (in the caller's network
/// namespace for the TCP figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelSample {
    /// TCP sockets in use (not closed).
    pub tcp_inuse: u64,
    /// TCP sockets closed by their process but not yet done (orphans).
    pub tcp_orphan: u64,
    /// TCP sockets in TIME_WAIT.
    pub tcp_tw: u64,
    /// TCP sockets allocated (in use, orphans and some in TIME_WAIT).
    pub tcp_alloc: u64,
    /// TCP socket buffer memory (sockstat "mem", pages × page size).
    pub tcp_mem_bytes: u64,
    /// Slab from /proc/meminfo (socket structs, dentries, ...).
    pub slab_bytes: u64,
    /// `MemTotal` from /proc/meminfo.
    pub mem_total_bytes: u64,
    /// `MemAvailable` from /proc/meminfo (0 on kernels before 3.14).
    pub mem_available_bytes: u64,
}

/// Read `/proc/net/sockstat` and `/proc/meminfo`.
///
/// # Errors
/// Those of reading the files, and `InvalidData` if they do not have the
/// expected layout (see [`parse_sockstat`], [`parse_meminfo`]).
pub fn kernel_sample() -> io::Result<KernelSample> {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat")?;
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let tcp = parse_sockstat(&sockstat, page_size())?;
    let mem = parse_meminfo(&meminfo)?;
    Ok(KernelSample {
        slab_bytes: mem.slab_bytes,
        mem_total_bytes: mem.mem_total_bytes,
        mem_available_bytes: mem.mem_available_bytes,
        ..tcp
    })
}

/// The TCP figures of `/proc/net/sockstat` (the `TCP:` line), with "mem"
/// converted from pages to bytes. The memory fields of the result are 0.
/// Pure: the tests feed it fixed text.
///
/// # Errors
/// `InvalidData` if there is no `TCP:` line or a value is not a number. Keys
/// the kernel does not write read as 0.
pub fn parse_sockstat(text: &str, page_size: u64) -> io::Result<KernelSample> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("TCP:"))
        .ok_or_else(|| invalid(format!("no TCP: line in /proc/net/sockstat: {text:?}")))?;
    let mut k = KernelSample::default();
    let mut words = line.split_whitespace();
    while let (Some(key), Some(value)) = (words.next(), words.next()) {
        let n: u64 = value
            .parse()
            .map_err(|_| invalid(format!("/proc/net/sockstat TCP {key} is {value:?}, not a number")))?;
        match key {
            "inuse" => k.tcp_inuse = n,
            "orphan" => k.tcp_orphan = n,
            "tw" => k.tcp_tw = n,
            "alloc" => k.tcp_alloc = n,
            "mem" => k.tcp_mem_bytes = n.saturating_mul(page_size),
            _ => {}
        }
    }
    Ok(k)
}

/// `MemTotal`, `MemAvailable` and `Slab` of `/proc/meminfo`, in bytes. The TCP
/// fields of the result are 0. Pure: the tests feed it fixed text.
///
/// # Errors
/// `InvalidData` if there is no `MemTotal` or one of the three is not a number.
/// A missing `MemAvailable` (kernels before 3.14) or `Slab` reads as 0.
pub fn parse_meminfo(text: &str) -> io::Result<KernelSample> {
    let mut k = KernelSample::default();
    let mut total = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => total.insert(0),
            "MemAvailable" => &mut k.mem_available_bytes,
            "Slab" => &mut k.slab_bytes,
            _ => continue,
        };
        let mut words = value.split_whitespace();
        let n: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| invalid(format!("/proc/meminfo {key} is {value:?}, not a number")))?;
        // The kernel writes these in kB (KiB).
        let unit = if words.next() == Some("kB") { 1024 } else { 1 };
        *slot = n.saturating_mul(unit);
    }
    k.mem_total_bytes = total.ok_or_else(|| invalid(format!("no MemTotal in /proc/meminfo: {text:?}")))?;
    Ok(k)
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Bytes per memory page (`sysconf(_SC_PAGESIZE)`; 4096 if that fails).
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant; it has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
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
    fn open_fds_agrees_with_a_listing() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let (counted, listed) = (open_fds(pid), listed_fds(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(counted.unwrap(), listed.unwrap());
    }

    #[test]
    fn clock_ticks_is_positive() {
        assert!(clock_ticks_per_second() > 0);
    }

    #[test]
    fn parse_ppid_table() {
        let table: &[(&str, Option<i32>)] = &[
            ("1234 (wsload) S 1 1234 1234 0", Some(1)),
            ("77 (a b) (c)) R 42 77 77", Some(42)),
            ("77 ()) S 9 77", Some(9)),
            ("2 (kthreadd) S 0 0 0", Some(0)),
            ("", None),
            ("77 (x) S", None),
            ("77 (x) S y", None),
        ];
        for &(stat, want) in table {
            assert_eq!(parse_ppid(stat), want, "{stat:?}");
        }
    }

    #[test]
    fn descendants_walk() {
        // (ppid, pid): 10 -> 11 -> 13 -> 14, 10 -> 12, 20 -> 21 unrelated.
        let mut links = vec![(13, 14), (10, 12), (1, 10), (20, 21), (11, 13), (10, 11), (1, 20)];
        assert_eq!(descendants_in(10, &mut links), vec![11, 12, 13, 14]);
        assert_eq!(descendants_in(13, &mut links), vec![14]);
        assert_eq!(descendants_in(14, &mut links), Vec::<i32>::new());
        assert_eq!(descendants_in(99, &mut links), Vec::<i32>::new());
        // A cycle in a racy snapshot ends, without listing the root.
        let mut cycle = vec![(5, 6), (6, 5)];
        assert_eq!(descendants_in(5, &mut cycle), vec![6]);
    }

    const SOCKSTAT: &str = "sockets: used 290\nTCP: inuse 5 orphan 1 tw 7 alloc 9 mem 310\n\
                            UDP: inuse 3 mem 2\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
    const MEMINFO: &str = "MemTotal:       24684096 kB\nMemFree:        20000000 kB\n\
                           MemAvailable:   24124028 kB\nBuffers:  100 kB\nSlab:             134528 kB\n\
                           HugePages_Total:       0\n";

    #[test]
    fn parse_sockstat_table() {
        let tcp = KernelSample {
            tcp_inuse: 5,
            tcp_orphan: 1,
            tcp_tw: 7,
            tcp_alloc: 9,
            tcp_mem_bytes: 310 * 4096,
            ..KernelSample::default()
        };
        assert_eq!(parse_sockstat(SOCKSTAT, 4096).unwrap(), tcp);
        let big_pages = parse_sockstat(SOCKSTAT, 65536).unwrap();
        assert_eq!(big_pages.tcp_mem_bytes, 310 * 65536);
        // Unknown keys are ignored, missing ones read as 0.
        let odd = parse_sockstat("TCP: inuse 2 future 8\n", 4096).unwrap();
        assert_eq!(
            odd,
            KernelSample {
                tcp_inuse: 2,
                ..KernelSample::default()
            }
        );

        let sad: &[(&str, &str)] = &[
            ("", "no TCP: line"),
            ("UDP: inuse 3 mem 2\n", "no TCP: line"),
            ("TCP: inuse x\n", "TCP inuse is \"x\", not a number"),
            ("TCP: inuse 1 mem -3\n", "TCP mem is \"-3\""),
        ];
        for (text, want) in sad {
            let e = parse_sockstat(text, 4096).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn parse_meminfo_table() {
        let want = KernelSample {
            slab_bytes: 134528 * 1024,
            mem_total_bytes: 24684096 * 1024,
            mem_available_bytes: 24124028 * 1024,
            ..KernelSample::default()
        };
        assert_eq!(parse_meminfo(MEMINFO).unwrap(), want);
        // Old kernels: no MemAvailable.
        let old = parse_meminfo("MemTotal: 1000 kB\nSlab: 10 kB\n").unwrap();
        assert_eq!(
            (old.mem_total_bytes, old.mem_available_bytes, old.slab_bytes),
            (1024000, 0, 10240)
        );

        let sad: &[(&str, &str)] = &[
            ("", "no MemTotal"),
            ("Slab: 10 kB\n", "no MemTotal"),
            ("MemTotal: lots kB\n", "MemTotal is"),
            ("MemTotal: 1 kB\nSlab:\n", "Slab is"),
        ];
        for (text, want) in sad {
            let e = parse_meminfo(text).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn kernel_sample_is_sane() {
        let k = kernel_sample().unwrap();
        assert!(k.mem_total_bytes > 0, "{k:?}");
        assert!(k.mem_available_bytes <= k.mem_total_bytes, "{k:?}");
        assert!(k.slab_bytes > 0 && k.slab_bytes < k.mem_total_bytes, "{k:?}");
        assert!(page_size() >= 4096);
    }

    #[test]
    fn name_of_own_process() {
        let me = name(std::process::id() as i32).unwrap();
        assert!(!me.is_empty() && !me.contains('\n') && me.len() <= 15, "{me:?}");
        assert_eq!(name(i32::MAX).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn tree_of_own_process() {
        let t = sample_tree(std::process::id() as i32).unwrap();
        assert!(
            t.processes >= 1 && t.fds > 0 && t.threads >= 1 && t.rss_bytes > 0,
            "{t:?}"
        );
        assert!(t.cpu_total_s() >= 0.0, "{t:?}");
        assert_eq!(sample_tree(i32::MAX).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn tree_of_a_shell_with_two_children() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5"])
            .spawn()
            .expect("spawn sh");
        let pid = sh.id() as i32;
        // The shell forks its two sleeps shortly after it starts.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
        // A forked child is named `sh` until it has exec'd `sleep`: wait for the names too.
        let (tree, kids, names) = loop {
            let tree = sample_tree(pid).unwrap();
            let kids = descendants(pid);
            let names: Vec<String> = kids.iter().map(|&k| name(k).unwrap_or_default()).collect();
            let exec_done = names.iter().all(|n| n == "sleep");
            if (tree.processes == 3 && exec_done) || std::time::Instant::now() > deadline {
                break (tree, kids, names);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        // Stop the sleeps (by PID) before the shell, so none is left behind.
        for &k in &kids {
            // SAFETY: kill has no memory-safety preconditions; these PIDs are our own grandchildren.
            unsafe { libc::kill(k, libc::SIGKILL) };
        }
        sh.kill().ok();
        sh.wait().ok();
        assert_eq!(tree.processes, 3, "{tree:?}");
        assert_eq!(kids.len(), 2, "{kids:?}");
        assert_eq!(names, ["sleep", "sleep"]);
        assert!(tree.threads >= 3 && tree.rss_bytes > 0 && tree.fds >= 3, "{tree:?}");
    }
}
