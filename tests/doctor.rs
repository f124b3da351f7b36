//! `wsload doctor` on this machine, and the shell side of the same checks
//! (tuning/check.sh, tuning/apply.sh's dry run), which must change nothing.
//!
//! Expected figures are read from the machine here (getrlimit, /proc/sys), so
//! the tests hold on any host; on the project's machines they are a hard
//! open-files limit of 20,000, io_uring allowed and ports 32768-60999.

use std::path::Path;
use std::process::{Command, Output};

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
use wsload::sys::thousands;

const WSLOAD: &str = env!("CARGO_BIN_EXE_wsload");

fn doctor(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(WSLOAD)
        .arg("doctor")
        .args(args)
        .output()
        .expect("run wsload doctor");
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code(), text)
}

/// The table row whose first column is `name`, split on runs of 2+ spaces:
/// [check, current, needed, status, fix].
fn row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{out}"));
    line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect()
}

fn proc_sys(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{key}"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn port_range() -> (u64, u64) {
    let r = proc_sys("net/ipv4/ip_local_port_range");
    let mut it = r.split(' ').map(|p| p.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn hard_nofile() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).unwrap().1
}

#[test]
fn doctor_reports_this_machines_limits() {
    let (code, out) = doctor(&["-c", "10000"]);
    let hard = hard_nofile();
    let hard_text = if hard == RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        thousands(hard)
    };
    let r = row(&out, "open files (hard)");
    assert_eq!(r[1], hard_text, "{out}");
    assert!(r[2].starts_with("10,0"), "needed is N + overhead: {out}");

    if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        let r = row(&out, "io_uring");
        assert_eq!(r[1], v.trim(), "{out}");
    }

    let (low, high) = port_range();
    let r = row(&out, "ephemeral ports");
    assert!(r[1].starts_with(&format!("{low}-{high}")), "{out}");

    let tenk_fit = hard >= 10_100 && high - low + 1 >= 10_000;
    if tenk_fit {
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains("verdict: this machine can run 10,000 connections"),
            "{out}"
        );
    }
    // Every row has a status.
    for name in [
        "fs.file-max",
        "fs.nr_open",
        "tcp_tw_reuse",
        "CPUs",
        "somaxconn",
        "timer wake-up",
    ] {
        let r = row(&out, name);
        assert!(r.iter().any(|c| ["ok", "WARN", "FAIL"].contains(c)), "{name}: {out}");
    }
    // The wake-up lateness is measured here: three figures, in order.
    let late = row(&out, "timer wake-up")[1];
    let us: Vec<f64> = late
        .strip_prefix("late by ")
        .unwrap_or_else(|| panic!("{out}"))
        .split(", ")
        .map(|part| {
            let (_, value) = part.split_once(' ').unwrap();
            let (n, unit) = value.split_once(' ').unwrap();
            n.parse::<f64>().unwrap() * if unit == "ms" { 1000.0 } else { 1.0 }
        })
        .collect();
    assert!(us.len() == 3 && us[0] <= us[1] && us[1] <= us[2], "{late}");
    assert_eq!(
        row(&out, "fs.nr_open")[1],
        thousands(proc_sys("fs/nr_open").parse().unwrap())
    );
}

/// The acceptance case: 50,000 connections against a hard limit of 20,000
/// and 28,232 ports per address.
#[test]
fn fifty_thousand_explains_the_fd_limit_and_source_addresses() {
    let hard = hard_nofile();
    let (low, high) = port_range();
    let ports = high - low + 1;
    if hard == RLIM_INFINITY || hard >= 50_100 || ports >= 50_000 {
        eprintln!("skipped: this machine fits 50,000 connections in one address or process");
        return;
    }
    let (code, out) = doctor(&["-c", "50000"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(row(&out, "open files (hard)")[3], "FAIL", "{out}");
    assert!(
        out.contains(&format!(
            "one process cannot hold 50,000 connections with a hard open-files limit of {}",
            thousands(hard)
        )),
        "{out}"
    );
    assert!(out.contains("/etc/security/limits.conf") && out.contains("prlimit") && out.contains("--shard"));
    let addresses = 50_000u64.div_ceil(ports);
    let r = row(&out, "ephemeral ports");
    assert_eq!(
        (r[2], r[3]),
        (format!("{addresses} addr (⌈N/{}⌉)", thousands(ports)).as_str(), "FAIL")
    );
    assert!(
        out.contains(&format!("{addresses} source addresses needed for 50,000 connections")),
        "{out}"
    );
    assert!(
        out.contains("verdict: this machine cannot run 50,000 connections"),
        "{out}"
    );
    // With the addresses given, only the open-files problem is left.
    let (_, out) = doctor(&["-c", "50000", "--source-ip", "127.0.0.1,127.0.0.2"]);
    assert_eq!(row(&out, "ephemeral ports")[3], "ok", "{out}");
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(doctor(&["-c", "0"]).0, Some(2));
    assert_eq!(doctor(&["--cores", "3-1"]).0, Some(2));
    assert_eq!(doctor(&["--rate", "fast"]).0, Some(2));
}

#[test]
fn external_server_skips_the_server_settings() {
    let (_, out) = doctor(&["-c", "1000", "--external-server"]);
    assert!(!out.contains("somaxconn  "), "{out}");
    assert!(out.contains("tuning/check.sh"), "{out}");
}

// ---- tuning/ scripts: read-only, whoever runs them ----

/// Every value under /proc/sys the scripts read or would write, as text.
fn sysctl_snapshot() -> Vec<(String, String)> {
    [
        "fs/file-max",
        "fs/nr_open",
        "net/core/somaxconn",
        "net/ipv4/tcp_max_syn_backlog",
        "net/ipv4/ip_local_port_range",
        "net/ipv4/tcp_tw_reuse",
        "net/netfilter/nf_conntrack_max",
    ]
    .iter()
    .map(|k| (k.to_string(), proc_sys(k)))
    .collect()
}

/// Run `tuning/NAME ARGS...` as the README says it: by its path, not through bash, so a script
/// committed without its run bit fails here (`Permission denied`).
fn script(name: &str, args: &[&str]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning").join(name);
    Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e} (is it executable?)", path.display()))
}

#[test]
fn tuning_scripts_dry_run_change_nothing() {
    let before = sysctl_snapshot();
    let etc_before: Vec<bool> = ["/etc/sysctl.d/99-wsload.conf", "/etc/security/limits.d/99-wsload.conf"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();

    let o = script("apply.sh", &["--connections", "10000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("dry run"), "{text}");

    let o = script("check.sh", &["--connections", "10000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("fs.nr_open") && text.contains("verdict"), "{text}");
    let (low, high) = port_range();
    assert!(text.contains(&format!("{low}-{high}")), "{text}");

    assert_eq!(sysctl_snapshot(), before, "a dry run changed /proc/sys");
    let etc_after: Vec<bool> = ["/etc/sysctl.d/99-wsload.conf", "/etc/security/limits.d/99-wsload.conf"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();
    assert_eq!(etc_after, etc_before, "a dry run wrote a file under /etc");
}

#[test]
fn check_sh_agrees_with_doctor_on_fifty_thousand() {
    let hard = hard_nofile();
    let (low, high) = port_range();
    if hard == RLIM_INFINITY || hard >= 50_100 || high - low + 1 >= 50_000 {
        return;
    }
    let o = script("check.sh", &["--connections", "50000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("2 source addresses"), "{text}");
}

/// --apply and --revert against a fake /etc and /proc/sys (WSLOAD_ETC set: sysctl is never run):
/// applying twice changes nothing the second time, and --revert restores the file that was there.
#[test]
fn apply_sh_is_idempotent_and_reverts_in_a_fake_tree() {
    let t = std::env::temp_dir().join(format!("wsload-apply-{}", std::process::id()));
    let sys = t.join("proc/sys");
    for (key, value) in [
        ("fs/file-max", "100000"),
        ("fs/nr_open", "1048576"),
        ("net/core/somaxconn", "4096"),
        ("net/ipv4/tcp_max_syn_backlog", "2048"),
        ("net/ipv4/tcp_tw_reuse", "2"),
        ("net/ipv4/ip_local_port_range", "32768\t60999"),
    ] {
        let p = sys.join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{value}\n")).unwrap();
    }
    let conf = t.join("etc/sysctl.d/99-wsload.conf");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, "# mine\n").unwrap();
    let run = |args: &[&str], uid: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/apply.sh");
        let o = Command::new(path)
            .args(args)
            .env("WSLOAD_ETC", t.join("etc"))
            .env("WSLOAD_SYSCTL_ROOT", &sys)
            .env("WSLOAD_TEST_UID", uid)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (code, out) = run(&["--connections", "50000", "--apply"], "1000");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("needs root"), "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# mine\n");

    let (code, out) = run(&["--connections", "50000", "--apply"], "0");
    assert_eq!(code, Some(0), "{out}");
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(written.contains("net.core.somaxconn = 50000"), "{written}");
    assert!(written.contains("fs.file-max = 165536"), "{written}");
    assert!(
        written.contains("net.ipv4.ip_local_port_range = 1024 65535"),
        "{written}"
    );
    let limits = std::fs::read_to_string(t.join("etc/security/limits.d/99-wsload.conf")).unwrap();
    assert!(limits
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*", "hard", "nofile", "51000"]));
    // Every setting line has its comment line above it.
    let lines: Vec<&str> = written.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with('#') {
            assert!(i > 0 && lines[i - 1].starts_with('#'), "uncommented: {l}");
        }
    }

    let (_, out) = run(&["--connections", "50000", "--apply"], "0");
    assert!(out.matches("already up to date").count() == 2, "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), written);

    let (code, out) = run(&["--revert"], "0");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# mine\n");
    assert!(!t.join("etc/security/limits.d/99-wsload.conf").exists());
    let _ = std::fs::remove_dir_all(&t);
}
