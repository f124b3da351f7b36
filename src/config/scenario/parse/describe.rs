//! `describe`: a scenario in a few human lines.

use std::fmt::Write;
use std::time::Duration;

use super::super::model::*;
use crate::config::units::{fmt_bytes, fmt_dur, fmt_rate, trim_float};

/// How long the ramp takes to reach `connections`, when it can be known in advance (not for a
/// burst, which is bounded only by how fast connections open).
pub(super) fn ramp_time(s: &Scenario) -> Option<Duration> {
    match s.ramp {
        Ramp::Burst => None,
        _ => Some(s.ramp.full_at(s.connections)),
    }
}

fn describe_phase(k: &PhaseKind) -> String {
    match k {
        PhaseKind::Sustained { rate } => format!("sustained {} per connection", fmt_rate(*rate)),
        PhaseKind::Burst {
            rate,
            burst_rate,
            burst_for,
            every,
        } => format!(
            "burst {} per connection, {} for {} every {}",
            fmt_rate(*rate),
            fmt_rate(*burst_rate),
            fmt_dur(*burst_for),
            fmt_dur(*every)
        ),
        PhaseKind::Ramp { from, to } => format!("ramp {} -> {} per connection", fmt_rate(*from), fmt_rate(*to)),
        PhaseKind::Idle => "idle (connections open, no messages)".to_string(),
        PhaseKind::InFlight { window } => format!("closed loop, {window} in flight per connection"),
    }
}

fn describe_size(s: &SizeDist) -> String {
    match s {
        SizeDist::Fixed(n) => fmt_bytes(*n as f64),
        SizeDist::Uniform { min, max } => format!("{}..{}", fmt_bytes(*min as f64), fmt_bytes(*max as f64)),
        SizeDist::List(l) => {
            let v: Vec<String> = l.iter().map(|n| fmt_bytes(*n as f64)).collect();
            format!("one of {}", v.join(", "))
        }
    }
}

/// A few human lines describing a scenario (for `wsload validate`).
/// Mode, matching, compression and the first message, in one line.
fn describe_wire(s: &Scenario) -> String {
    let mut parts = vec![match s.mode {
        Mode::Echo => "mode: echo".to_string(),
        Mode::Subscribe => "mode: subscribe (receive only)".to_string(),
    }];
    if s.mode == Mode::Echo {
        parts.push(match &s.correlate {
            Correlate::Stamp => "replies checked by their stamp".into(),
            Correlate::Fifo => "replies matched in order (fifo)".into(),
            Correlate::Pointer(p) => format!("replies matched by the id at {}", p.as_str()),
        });
    }
    if let Some(t) = &s.push.timestamp {
        parts.push(format!("latency from {} ({})", t.as_str(), s.push.unit.name()));
    }
    if let Some(q) = &s.push.sequence {
        parts.push(format!("gaps from {}", q.as_str()));
    }
    parts.push(
        if s.compression {
            "permessage-deflate offered"
        } else {
            "no compression"
        }
        .into(),
    );
    if let Some(f) = &s.first_message {
        parts.push(format!("first message {}", f.source()));
    }
    parts.join("; ")
}

/// A scenario in a few human lines: target, ramp, phases, messages, wire options, churn and
/// faults, thresholds, and the planned time.
pub fn describe(s: &Scenario) -> String {
    let mut o = String::new();
    let target = s
        .target
        .as_ref()
        .map_or("the built-in echo server".to_string(), |t| t.redacted.clone());
    let _ = writeln!(
        o,
        "scenario {}: target {target}",
        s.name.as_deref().unwrap_or("(unnamed)")
    );
    describe_connections(&mut o, s);
    describe_phases(&mut o, s);
    describe_messages(&mut o, s);
    let plain = s.mode == Mode::Echo && s.correlate == Correlate::Stamp && !s.compression && s.first_message.is_none();
    if !plain {
        let _ = writeln!(o, "{}", describe_wire(s));
    }
    describe_churn(&mut o, s);
    describe_faults(&mut o, s);
    if !s.thresholds.is_empty() {
        let abort = if s.abort_on_fail {
            " (abort as soon as one fails)"
        } else {
            ""
        };
        let _ = writeln!(o, "thresholds{abort}: {}", s.thresholds.join("; "));
    }
    describe_planned_time(&mut o, s);
    o
}

/// `connections: N, <ramp>, about <time>; traffic after the ramp`, and the ramp down.
fn describe_connections(o: &mut String, s: &Scenario) {
    let ramp = match &s.ramp {
        Ramp::Burst => format!("all at once ({} connecting at a time)", s.connect_concurrency),
        Ramp::Linear { per_s } => format!("linear ramp, {} new connections", fmt_rate(*per_s)),
        Ramp::Exponential { start, factor, every } => {
            format!(
                "exponential ramp from {start}, x{} every {}",
                trim_float(*factor),
                fmt_dur(*every)
            )
        }
        Ramp::Stepped { step, hold } => format!("stepped ramp, {step} more every {}", fmt_dur(*hold)),
    };
    let took = ramp_time(s).map_or(String::new(), |d| format!(", about {}", fmt_dur(d)));
    let traffic = match s.traffic_start {
        TrafficStart::AfterRamp => "traffic after the ramp",
        TrafficStart::WithRamp => "traffic during the ramp",
    };
    let _ = writeln!(o, "connections: {}, {ramp}{took}; {traffic}", s.connections);
    if let Some(d) = s.ramp_down {
        let _ = writeln!(o, "ramp down: over {} at the end", fmt_dur(d));
    }
}

fn describe_phases(o: &mut String, s: &Scenario) {
    let _ = writeln!(o, "phases (from the start of traffic):");
    for p in &s.phases {
        let _ = writeln!(
            o,
            "  {:<12} {:>8} .. {:<8} {}",
            p.name,
            fmt_dur(p.start),
            fmt_dur(p.end()),
            describe_phase(&p.kind)
        );
    }
}

/// Each message type: kind, size, weight and its share, and its templates.
fn describe_messages(o: &mut String, s: &Scenario) {
    let total_weight: u64 = s.messages.iter().map(|m| m.weight as u64).sum();
    let _ = writeln!(o, "messages:");
    for m in &s.messages {
        let kind = match m.kind {
            MessageKind::Binary => "binary",
            MessageKind::Text => "text",
            MessageKind::Ping => "ping",
        };
        let share = 100.0 * m.weight as f64 / total_weight.max(1) as f64;
        let _ = writeln!(
            o,
            "  {:<12} {kind}, {}, weight {} ({}%)",
            m.name,
            describe_size(&m.size),
            m.weight,
            trim_float((share * 10.0).round() / 10.0)
        );
        match m.templates.as_slice() {
            [] => {}
            [t] => {
                let _ = writeln!(o, "               template {}", t.source());
            }
            ts => {
                let _ = writeln!(o, "               {} templates, used in turn", ts.len());
            }
        }
    }
}

/// Connection lifetime and reconnection.
fn describe_churn(o: &mut String, s: &Scenario) {
    if let Some(l) = s.lifetime {
        let _ = writeln!(o, "connection lifetime: {} (then closed and reopened)", fmt_dur(l));
    }
    let reconnect = match &s.reconnect {
        Reconnect::Off => "off".to_string(),
        Reconnect::Immediate => "immediate".to_string(),
        Reconnect::Backoff {
            initial,
            max,
            factor,
            jitter,
        } => format!(
            "backoff from {} to {}, x{} per attempt, ±{}% jitter",
            fmt_dur(*initial),
            fmt_dur(*max),
            trim_float(*factor),
            trim_float(jitter * 100.0)
        ),
    };
    let _ = writeln!(
        o,
        "reconnect: {reconnect}; recovered within {}",
        fmt_dur(s.recovered_within)
    );
}

/// Connection faults, then the proxy's network faults.
fn describe_faults(o: &mut String, s: &Scenario) {
    for f in &s.faults {
        let every = f.every.map_or(String::new(), |e| format!(", every {}", fmt_dur(e)));
        let lasting = f.lasting.map_or(String::new(), |d| format!(", lasting {}", fmt_dur(d)));
        let _ = writeln!(
            o,
            "fault: {} {}% of connections at {}{every}{lasting}",
            f.kind.key(),
            trim_float(f.fraction * 100.0),
            fmt_dur(f.at)
        );
    }
    if let Some(p) = &s.proxy {
        let cpu = p.cpu.map_or("the last CPU".to_string(), |c| format!("CPU {c}"));
        let _ = writeln!(o, "proxy (network faults, on {cpu}; times from the start of traffic):");
        for t in &p.toxics {
            let _ = writeln!(o, "  {}", t.describe());
        }
    }
}

/// `planned time: ramp 10s + traffic 1m + drain 5s = 1m15s`.
fn describe_planned_time(o: &mut String, s: &Scenario) {
    let traffic = s.traffic_duration();
    let ramp = ramp_time(s);
    let loaded = match (s.traffic_start, ramp) {
        (TrafficStart::AfterRamp, Some(r)) => r + traffic,
        (TrafficStart::WithRamp, Some(r)) => r.max(traffic),
        (_, None) => traffic,
    };
    let total = loaded + s.drain + s.ramp_down.unwrap_or(Duration::ZERO);
    let ramp_part = match (s.traffic_start, ramp) {
        (TrafficStart::AfterRamp, Some(r)) => format!("ramp {} + ", fmt_dur(r)),
        (TrafficStart::AfterRamp, None) => "connecting + ".to_string(),
        _ => String::new(),
    };
    let down = s
        .ramp_down
        .map_or(String::new(), |d| format!(" + ramp down {}", fmt_dur(d)));
    let _ = write!(
        o,
        "planned time: {ramp_part}traffic {} + drain {}{down} = {}{}",
        fmt_dur(traffic),
        fmt_dur(s.drain),
        if ramp.is_none() && s.traffic_start == TrafficStart::AfterRamp {
            "about "
        } else {
            ""
        },
        fmt_dur(total)
    );
}

#[cfg(test)]
mod tests {
    use super::super::tests::{defaults, secs};
    use super::*;

    #[test]
    fn formatting_helpers() {
        assert_eq!(fmt_dur(secs(30.0)), "30s");
        assert_eq!(fmt_dur(secs(0.25)), "250ms");
        assert_eq!(fmt_dur(secs(150.0)), "2m30s");
        assert_eq!(fmt_dur(secs(1.5)), "1.5s");
        assert_eq!(fmt_bytes((64 << 10) as f64), "64 KiB");
        assert_eq!(fmt_bytes(100.0), "100 B");
        assert_eq!(fmt_rate(0.5), "0.5/s");
        assert_eq!(describe(&defaults()).lines().count(), 8, "{}", describe(&defaults()));
    }
}
