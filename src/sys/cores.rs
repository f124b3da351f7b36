//! CPU lists, the CPUs this process may run on, and how a run splits them
//! between the client and the built-in server.
//!
//! Each io_uring executor is pinned to one CPU; two executors on one CPU
//! take turns and both slow down, so the split matters for every figure a
//! run reports.

/// The largest CPU id accepted: Linux's largest `NR_CPUS` is 8192. Bigger
/// ids are typing mistakes, and refusing them keeps "0-4000000000" from
/// allocating gigabytes.
pub const MAX_CPU_ID: usize = 8191;

/// Parse a CPU list in the kernel's syntax (`taskset -c`, `cpuset.cpus`):
/// "0", "0,2", "0-3", "1,4-5". Spaces around items are allowed. Returns the
/// ids sorted and deduplicated ("1,0,1" → `[0, 1]`).
///
/// # Errors
/// A message naming the bad part: an empty list or item, a non-number, a
/// backwards range ("3-1"), or an id above [`MAX_CPU_ID`].
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    if s.trim().is_empty() {
        return Err("empty CPU list: give CPU ids like 0 or 0,2 or 0-3".to_string());
    }
    let id = |text: &str, item: &str| -> Result<usize, String> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{item:?} in CPU list {s:?} is not a CPU id or range (like 2 or 0-3)"
            ));
        }
        match text.parse::<usize>() {
            Ok(n) if n <= MAX_CPU_ID => Ok(n),
            _ => Err(format!(
                "CPU {text} in CPU list {s:?} is too large (the largest id is {MAX_CPU_ID})"
            )),
        }
    };
    let mut cpus = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("empty item in CPU list {s:?} (stray comma?)"));
        }
        match item.split_once('-') {
            None => cpus.push(id(item, item)?),
            Some((a, b)) => {
                let (a, b) = (id(a, item)?, id(b, item)?);
                if a > b {
                    return Err(format!("range {item:?} in CPU list {s:?} is backwards: write {b}-{a}"));
                }
                cpus.extend(a..=b);
            }
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Write sorted CPU ids in the kernel's compact syntax: `[0, 1, 2, 5]` →
/// "0-2,5". The inverse of [`parse_cpu_list`]; used in messages.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// CPUs this process may run on, sorted: its affinity mask
/// (`sched_getaffinity`, via `core_affinity::get_core_ids`), which `taskset`
/// and cgroup cpusets narrow. Falls back to `0..available_parallelism` if the
/// mask cannot be read, and to `[0]` if even that fails. Never empty.
pub fn available_cpus() -> Vec<usize> {
    let mut cpus: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus = (0..n).collect();
    }
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// Default CPU split for a run with the built-in server: the server gets the
/// last available CPU and the client all the others. With one CPU (or none
/// given, taken as CPU 0) both share it, and every figure the run reports is
/// then the two ends taking turns.
///
/// Returns `(client CPUs, server CPU)`.
pub fn default_split(available: &[usize]) -> (Vec<usize>, usize) {
    match available {
        [] => (vec![0], 0),
        [only] => (vec![*only], *only),
        [client @ .., server] => (client.to_vec(), *server),
    }
}

/// A `--cores` list, parsed and checked against `available`; errors start with `--cores: `.
pub fn cores_flag(list: &str, available: &[usize]) -> Result<Vec<usize>, String> {
    let l = parse_cpu_list(list).map_err(|e| format!("--cores: {e}"))?;
    check_cpus(&l, available).map_err(|e| format!("--cores: {e}"))?;
    Ok(l)
}

/// Check that every requested CPU is one this process may run on.
///
/// # Errors
/// A message naming the first missing CPU and listing the available ones,
/// or saying that no CPU was requested.
pub fn check_cpus(requested: &[usize], available: &[usize]) -> Result<(), String> {
    if requested.is_empty() {
        return Err(format!(
            "no CPU requested: pick one or more of {} with --cores",
            format_cpu_list(available)
        ));
    }
    match requested.iter().find(|c| !available.contains(c)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "CPU {missing} is not available to this process, which may run on {}: pick from \
             those with --cores, or start it with a wider affinity (taskset -c, cgroup cpuset)",
            format_cpu_list(available)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_cpu_list_table() {
        let table: &[(&str, &[usize])] = &[
            ("0", &[0]),
            ("0,2", &[0, 2]),
            ("0-3", &[0, 1, 2, 3]),
            ("1,4-5", &[1, 4, 5]),
            ("3-3", &[3]),
            ("2,0,1", &[0, 1, 2]),
            ("1,1,1", &[1]),
            ("0-2,1-3", &[0, 1, 2, 3]),
            (" 0 , 2 - 3 ", &[0, 2, 3]),
            ("8191", &[MAX_CPU_ID]),
        ];
        for &(input, want) in table {
            assert_eq!(parse_cpu_list(input).as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_cpu_list_sad_paths() {
        // (input, a part the message must contain)
        let table: &[(&str, &str)] = &[
            ("", "empty CPU list"),
            ("   ", "empty CPU list"),
            ("3-1", "\"3-1\" in CPU list \"3-1\" is backwards: write 1-3"),
            ("a", "\"a\" in CPU list \"a\" is not a CPU id"),
            ("0,a", "\"a\""),
            ("-1", "\"-1\""),
            ("1-", "\"1-\""),
            ("-", "\"-\""),
            ("1-2-3", "\"1-2-3\""),
            ("+1", "\"+1\""),
            ("0,", "stray comma"),
            (",0", "stray comma"),
            ("0,,1", "stray comma"),
            ("8192", "CPU 8192 in CPU list \"8192\" is too large"),
            ("0-4000000000", "CPU 4000000000"),
            ("99999999999999999999999", "CPU 99999999999999999999999"),
        ];
        for &(input, want) in table {
            let e = parse_cpu_list(input).expect_err(input);
            assert!(e.contains(want), "parse_cpu_list({input:?}) = {e:?}, want {want:?}");
        }
    }

    #[test]
    fn format_cpu_list_table() {
        let table: &[(&[usize], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0-1"),
            (&[0, 2], "0,2"),
            (&[0, 1, 2, 5], "0-2,5"),
            (&[5, 0, 2, 1, 1], "0-2,5"),
            (&[1, 4, 5, 7], "1,4-5,7"),
        ];
        for &(cpus, want) in table {
            assert_eq!(format_cpu_list(cpus), want, "{cpus:?}");
            if !cpus.is_empty() {
                let back = parse_cpu_list(want).unwrap();
                assert_eq!(format_cpu_list(&back), want, "round trip of {want:?}");
            }
        }
    }

    #[test]
    fn default_split_table() {
        let table: &[(&[usize], &[usize], usize)] = &[
            (&[], &[0], 0),
            (&[0], &[0], 0),
            (&[3], &[3], 3),
            (&[0, 1], &[0], 1),
            (&[0, 1, 2, 3], &[0, 1, 2], 3),
            (&[2, 5, 7], &[2, 5], 7),
        ];
        for &(available, client, server) in table {
            assert_eq!(default_split(available), (client.to_vec(), server), "{available:?}");
        }
    }

    #[test]
    fn check_cpus_table() {
        // (requested, available, Ok or a part of the message)
        let table: &[(&[usize], &[usize], Option<&str>)] = &[
            (&[0], &[0, 1], None),
            (&[0, 1], &[0, 1], None),
            (&[1, 1], &[0, 1], None),
            (&[2], &[0, 1], Some("CPU 2 is not available")),
            (&[0, 5], &[0, 1], Some("CPU 5 is not available")),
            (&[1], &[0, 2, 3], Some("may run on 0,2-3")),
            (&[0], &[], Some("CPU 0 is not available")),
            (&[], &[0, 1], Some("no CPU requested: pick one or more of 0-1")),
        ];
        for &(requested, available, want) in table {
            match (check_cpus(requested, available), want) {
                (Ok(()), None) => {}
                (Err(e), Some(part)) => assert!(e.contains(part), "{e:?} lacks {part:?}"),
                (got, want) => {
                    panic!("check_cpus({requested:?}, {available:?}) = {got:?}, want {want:?}")
                }
            }
        }
    }

    #[test]
    fn available_cpus_on_this_machine() {
        let cpus = available_cpus();
        assert!(!cpus.is_empty());
        assert!(cpus.windows(2).all(|w| w[0] < w[1]), "sorted, unique: {cpus:?}");
        check_cpus(&cpus, &cpus).unwrap();
        let (client, server) = default_split(&cpus);
        check_cpus(&client, &cpus).unwrap();
        check_cpus(&[server], &cpus).unwrap();
    }
}
