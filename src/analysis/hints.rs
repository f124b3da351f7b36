//! Root-cause hints: rules that map evidence to likely causes and fixes. Each
//! hint lists its evidence and a confidence, and says "likely" where the rule
//! infers rather than reads the cause:
//!
//! | evidence | hint | confidence |
//! |---|---|---|
//! | errors or drops within [`FAULT_WINDOW_S`] after an injected fault | they follow the fault (other rules leave those intervals out) | high |
//! | `emfile` errors | the client's open-files limit | high |
//! | `eaddrnotavail` errors | ephemeral ports: add source addresses | high |
//! | `unreachable` errors | routing / network | high |
//! | `connect_refused` and nothing established | nothing listens at the target | high |
//! | refused or timed-out connects, mostly during a fast ramp (burst, exponential or ≥ [`FAST_RAMP_PER_S`]/s), some established | accept backlog (somaxconn) | medium with a local server, low otherwise |
//! | errors start while open connections stay flat below the target | a connection cap in the server or in front of it | medium |
//! | upgrade status 401/403, 404, 400 | authentication, path, request | high |
//! | upgrade status 429/503 or close code 1013 | the server sheds load | medium |
//! | a latency knee and server CPU ≥ [`super::hints_server::CPU_BOUND`] cores | the server is CPU-bound | medium |
//! | server RSS rising ≥ 10% at a constant connection count | server memory growth | medium |
//! | the server section's memory findings | as stated there | low |
//! | the server no longer accepts after the run | the server crashed or wedged | high |
//! | client warnings | the client may be the bottleneck | medium |

use std::collections::BTreeMap;

use super::bursts::{interval_start, onset, ramp_end};
use super::figures::{first_error, ramp_kind, ramp_per_s, server_local, Own, PointFigures};
use super::finding::{hint, num, secs, Confidence, Finding, Kind};
use super::hints_server::{cpu_bound, memory, stopped_accepting, upgrade};
use super::knee::LatencyKnee;
use crate::aggregate::timeline::TimelinePoint;
use crate::report::model::Summary;

/// Errors this long after an injected fault are taken as its effect.
pub const FAULT_WINDOW_S: f64 = 5.0;
/// A linear ramp at least this fast (connections per second) is fast.
pub const FAST_RAMP_PER_S: f64 = 1000.0;

/// The intervals explained by injected faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultEffects {
    /// Per time-line point: within [`FAULT_WINDOW_S`] after an injected fault.
    pub explained: Vec<bool>,
    pub finding: Option<Finding>,
    events: Vec<(f64, String)>,
}

impl FaultEffects {
    /// A sentence for a burst between `start` and `end` that follows injected faults.
    pub fn note_for(&self, start: f64, end: f64) -> Option<String> {
        let hits: Vec<String> = self
            .events
            .iter()
            .filter(|(t, _)| *t <= end && start <= t + FAULT_WINDOW_S)
            .map(|(t, k)| format!("{k} at {}", secs(*t)))
            .collect();
        (!hits.is_empty()).then(|| format!("It follows the injected fault(s): {}.", hits.join(", ")))
    }
}

pub fn fault_effects(s: &Summary) -> FaultEffects {
    let p = &s.timeline;
    let faults = &s.faults.events;
    let mut explained = vec![false; p.len()];
    for f in faults {
        for (i, e) in explained.iter_mut().enumerate() {
            if p[i].t_s > f.t_s && interval_start(p, i) < f.t_s + FAULT_WINDOW_S {
                *e = true;
            }
        }
    }
    let events: Vec<(f64, String)> = faults.iter().map(|f| (f.t_s, f.kind.clone())).collect();
    let (mut errors, mut drops) = (BTreeMap::<&str, u64>::new(), 0);
    for (q, _) in p.iter().zip(&explained).filter(|x| *x.1) {
        drops += q.dropped;
        for (k, n) in &q.errors_new {
            *errors.entry(k).or_default() += n;
        }
    }
    let mut evidence: Vec<String> = faults
        .iter()
        .map(|f| {
            format!(
                "injected {} at {} into {} connections",
                f.kind,
                secs(f.t_s),
                f.connections
            )
        })
        .collect();
    let total: u64 = errors.values().sum();
    if drops > 0 {
        evidence.push(format!(
            "{drops} connections dropped in the {} s after them",
            num(FAULT_WINDOW_S)
        ));
    }
    for (k, n) in &errors {
        evidence.push(format!("{n} {k} errors in the {} s after them", num(FAULT_WINDOW_S)));
    }
    for (code, kind) in [("1002", "corrupt"), ("1009", "oversized")] {
        let n = s.close_codes.get(code).copied().unwrap_or(0);
        if n > 0 && faults.iter().any(|f| f.kind == kind) {
            evidence.push(format!(
                "{n} close code {code}: the server's answer to the {kind} fault"
            ));
        }
    }
    let finding = (drops + total > 0).then(|| {
        let (start, end) = span(p, &explained);
        Finding {
            kind: Kind::Hint,
            title: "These errors follow the injected faults".into(),
            detail: format!(
                "{drops} drops and {total} errors came within {} s after injected faults: they are the \
                 faults' effect, not the server's own failures, and the other rules leave those intervals out.",
                num(FAULT_WINDOW_S)
            ),
            evidence,
            confidence: Confidence::High,
            start_s: start,
            end_s: end,
        }
    });
    FaultEffects {
        explained,
        finding,
        events,
    }
}

fn span(p: &[TimelinePoint], mask: &[bool]) -> (Option<f64>, Option<f64>) {
    let first = mask.iter().position(|x| *x);
    let last = mask.iter().rposition(|x| *x);
    (first.map(|i| interval_start(p, i)), last.map(|i| p[i].t_s))
}

/// The summary with the errors and drops of explained intervals taken out (totals too).
pub fn without_fault_effects<'a>(s: &'a Summary, explained: &[bool]) -> Own<'a> {
    let mut own = Own {
        summary: s,
        timeline: s.timeline.clone(),
        errors: s.errors.clone(),
    };
    for (q, _) in own.timeline.iter_mut().zip(explained).filter(|x| *x.1) {
        for (k, n) in std::mem::take(&mut q.errors_new) {
            if let Some(t) = own.errors.get_mut(&k) {
                *t = t.saturating_sub(n);
            }
        }
        q.dropped = 0;
    }
    own
}

fn first_seen(own: &Own, class: &str) -> Vec<String> {
    first_error(own.summary, class)
        .map(|m| format!("first {class}: {m}"))
        .into_iter()
        .collect()
}

/// Every rule but the injected-fault one (see [`fault_effects`]), on the run without the
/// faults' effects.
pub fn hints(own: &Own, knee: Option<&LatencyKnee>) -> Vec<Finding> {
    let mut out: Vec<Finding> = [
        fd_limit(own),
        ephemeral_ports(own),
        unreachable(own),
        refused(own),
        ceiling(own),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.extend(upgrade(own));
    out.extend(knee.and_then(|k| cpu_bound(own, k)));
    out.extend(memory(own));
    out.extend(stopped_accepting(own.summary));
    out.extend(client_warnings(own.summary));
    out
}

/// `emfile` errors: the client's open-files limit.
fn fd_limit(own: &Own) -> Option<Finding> {
    let emfile = own.count("emfile");
    if emfile == 0 {
        return None;
    }
    let mut ev = vec![format!(
        "{emfile} emfile errors (EMFILE/ENFILE: no file descriptor left)"
    )];
    ev.extend(first_seen(own, "emfile"));
    let mut f = hint(
        "The client ran out of file descriptors (open-files limit)",
        "Each connection needs a descriptor: raise the client's `ulimit -n` (see tuning/apply.sh) \
         or fs.file-max, or lower --connections."
            .into(),
        ev,
        Confidence::High,
    );
    if let Some((s, e, open)) = onset(&own.timeline, "emfile") {
        f.evidence
            .push(format!("first in the interval ending at {}, with {open} open", secs(e)));
        (f.start_s, f.end_s) = (Some(s), Some(e));
    }
    Some(f)
}

/// `eaddrnotavail` errors: out of ephemeral ports for the source addresses.
fn ephemeral_ports(own: &Own) -> Option<Finding> {
    let ports = own.count("eaddrnotavail");
    if ports == 0 {
        return None;
    }
    let mut ev = vec![
        format!("{ports} eaddrnotavail errors (EADDRNOTAVAIL: no free ephemeral port)"),
        format!(
            "{} source address(es) configured",
            own.summary.scenario.source_ips.len().max(1)
        ),
    ];
    ev.extend(first_seen(own, "eaddrnotavail"));
    if let Some((_, e, open)) = onset(&own.timeline, "eaddrnotavail") {
        ev.push(format!("first in the interval ending at {}, with {open} open", secs(e)));
    }
    Some(hint(
        "Out of ephemeral ports: add source addresses",
        "About 28,000 connections fit per source address and target: add --source-ip \
         127.0.0.2,127.0.0.3,... (or a range) or widen net.ipv4.ip_local_port_range."
            .into(),
        ev,
        Confidence::High,
    ))
}

/// `unreachable` errors: routing or the network.
fn unreachable(own: &Own) -> Option<Finding> {
    let unreachable = own.count("unreachable");
    if unreachable == 0 {
        return None;
    }
    let mut ev = vec![format!("{unreachable} unreachable errors (ENETUNREACH/EHOSTUNREACH)")];
    ev.extend(first_seen(own, "unreachable"));
    Some(hint(
        "No route to the target",
        "Check the target address, routes and firewalls between client and server.".into(),
        ev,
        Confidence::High,
    ))
}

/// Refused connects and nothing established: nothing listens. Refused or timed-out connects
/// with some established: maybe the accept backlog ([`backlog`]).
fn refused(own: &Own) -> Option<Finding> {
    let established = own.summary.connections.established;
    let refused = own.count("connect_refused");
    let timeouts = own.count("connect_timeout");
    if refused > 0 && established == 0 {
        let mut ev = vec![format!("{refused} connects refused, none established")];
        ev.extend(first_seen(own, "connect_refused"));
        Some(hint(
            "Nothing accepts connections at the target",
            "Every connect was refused (ECONNREFUSED): check the URL's host and port and that the server is running."
                .into(),
            ev,
            Confidence::High,
        ))
    } else if refused + timeouts > 0 && established > 0 {
        backlog(own, refused, timeouts)
    } else {
        None
    }
}

/// Conditions the client itself reported under which it may be the bottleneck.
fn client_warnings(s: &Summary) -> Option<Finding> {
    (!s.client.warnings.is_empty()).then(|| {
        hint(
            "The client may be the bottleneck",
            "The client reported conditions under which the figures may describe it rather than the server.".into(),
            s.client.warnings.clone(),
            Confidence::Medium,
        )
    })
}

/// Refused or timed-out connects, mostly during a fast ramp: the accept backlog.
fn backlog(own: &Own, refused: u64, timeouts: u64) -> Option<Finding> {
    let p = &own.timeline;
    let ramp = &own.summary.scenario.ramp;
    let (kind, per_s) = (ramp_kind(ramp), ramp_per_s(ramp));
    let fast_kind = matches!(kind, "burst" | "exponential");
    let peak_rate = p.iter().map(|q| q.connects_per_s).fold(0.0, f64::max);
    let fast = fast_kind || per_s.unwrap_or(0.0) >= FAST_RAMP_PER_S || peak_rate >= FAST_RAMP_PER_S;
    if !fast {
        return None;
    }
    let end = ramp_end(p).map_or(p.len(), |r| r + 1);
    let in_ramp: u64 = p[..end.min(p.len())]
        .iter()
        .map(|q| q.errors_of("connect_refused") + q.errors_of("connect_timeout"))
        .sum();
    // Mostly during the ramp (without a time line, only the totals speak: low).
    let timed = !p.is_empty();
    if timed && 2 * in_ramp < refused + timeouts {
        return None;
    }
    let local = server_local(own.summary);
    let mut ev = vec![
        format!(
            "{refused} connects refused, {timeouts} timed out; {} established",
            own.summary.connections.established
        ),
        format!(
            "ramp: {kind}{}, peak {} connects/s",
            per_s.map(|r| format!(" at {}/s", num(r))).unwrap_or_default(),
            num(peak_rate)
        ),
    ];
    if timed {
        ev.push(format!("{in_ramp} of them during the ramp"));
    }
    ev.push(
        if local {
            "the server is on this machine"
        } else {
            "the server is remote"
        }
        .into(),
    );
    ev.extend(first_seen(own, "connect_refused"));
    ev.extend(first_seen(own, "connect_timeout"));
    let confidence = if local && timed {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    Some(hint(
        "Accept backlog overflow during the fast ramp (likely)",
        format!(
            "Connects failed while connections arrived faster than the server accepted them: its listen \
             backlog likely overflowed. Raise net.core.somaxconn and net.ipv4.tcp_max_syn_backlog, and the \
             server's listen() backlog, or ramp slower (--connect-rate).{}",
            if local {
                ""
            } else {
                " With a remote server a load balancer or firewall may drop them too."
            }
        ),
        ev,
        confidence,
    ))
}

/// Errors start while the open connections stay flat below the target: a connection cap.
fn ceiling(own: &Own) -> Option<Finding> {
    const CLASSES: [&str; 6] = [
        "reset",
        "connect_refused",
        "connect_timeout",
        "eof_without_close",
        "closed_by_server",
        "upgrade_rejected",
    ];
    let p = &own.timeline;
    let connections = &own.summary.connections;
    let target = own.summary.scenario.connections.max(connections.target);
    let errs = |i: usize| CLASSES.iter().map(|c| p[i].errors_of(c)).sum::<u64>();
    let first = (0..p.len()).find(|&i| errs(i) > 0)?;
    let level = p[first].open;
    if level == 0 || level as f64 >= 0.95 * target as f64 || first == 0 {
        return None;
    }
    // The count stays within 2% of the level from the onset on, for at least two intervals with errors.
    let rest = &p[first..];
    let flat = rest
        .iter()
        .all(|q| (q.open as f64 - level as f64).abs() <= 0.02 * level as f64 + 1.0);
    let with_errors = (first..p.len()).filter(|&i| errs(i) > 0).count();
    let clean_before = p[..first].iter().all(|q| q.errors_total() == 0);
    if !flat || with_errors < 2 || !clean_before || rest.len() < 2 {
        return None;
    }
    let total: u64 = (first..p.len()).map(errs).sum();
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for q in rest {
        for c in CLASSES {
            *by.entry(c).or_default() += q.errors_of(c);
        }
    }
    by.retain(|_, n| *n > 0);
    let classes = by
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut ev = vec![
        format!("no errors while open connections rose to {}", p[first - 1].open),
        format!(
            "from the interval ending at {} on, open connections stayed at {level} (±2%) while {target} were wanted",
            secs(p[first].t_s)
        ),
        format!("{total} errors after that: {classes}"),
        format!("established {} of {target}", connections.established),
    ];
    if let Some(fds) = p.iter().filter_map(|q| q.server.map(|s| s.fds)).max() {
        ev.push(format!("the server held at most {fds} open files"));
    }
    Some(Finding {
        kind: Kind::Hint,
        title: format!("The server (or something in front of it) likely caps connections near {level}"),
        detail: format!(
            "New connections failed ({classes}) once about {level} were open, and the count stopped growing: \
             look for a maximum-connections setting, the server process's open-files limit (ulimit -n), a \
             proxy's or load balancer's connection limit, or memory running out."
        ),
        evidence: ev,
        confidence: Confidence::Medium,
        start_s: Some(interval_start(p, first)),
        end_s: p.last().map(|q| q.t_s),
    })
}

#[cfg(test)]
#[path = "hints_tests.rs"]
mod tests;
