//! The proxy as `wsload run` uses it: `wsload proxy` as a child process in front of the target
//! (client and proxy connections together would not fit under one process's open-file limit),
//! its toxics' clock started at the start of traffic, and its JSON lines read on a thread and
//! folded, after the run, into the time line (`proxy_new`) and the summary's `proxy` section.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ChildStdin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::spec::Toxic;
use super::stats::Line;
use crate::aggregate::timeline::TimelinePoint;
use crate::config::scenario::ProxyConfig;
use crate::engine::shard::Control;
use crate::sys::child::ChildServer;

/// The proxy's part of summary.json.
#[derive(Debug, Clone, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ProxySection {
    /// Where the clients connected (the proxy), and where it forwarded.
    pub listen: String,
    pub upstream: String,
    pub cpu: usize,
    pub toxics: Vec<ToxicNote>,
    /// Each windowed toxic turning on and off, on the time line's clock.
    pub events: Vec<ProxyEvent>,
    /// The proxy's counters at the end of the run.
    pub totals: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToxicNote {
    pub what: String,
    #[serde(flatten)]
    pub toxic: Toxic,
}

#[derive(Debug, Clone, Serialize, Default, Deserialize)]
#[serde(default)]
pub struct ProxyEvent {
    /// Seconds since the start of the run.
    pub t_s: f64,
    pub toxic: usize,
    /// "on" or "off".
    pub event: String,
    pub what: String,
}

/// A line and when it arrived.
type Stamped = (Instant, Line);

pub struct ProxyChild {
    server: ChildServer,
    pub cpu: usize,
    upstream: SocketAddr,
    toxics: Vec<Toxic>,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    lines: Arc<Mutex<Vec<Stamped>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ProxyChild {
    /// Start `wsload proxy` on `cpu`, forwarding to `upstream`; its report lines come every
    /// `interval` / 10 (so the time line's intervals get their counters with little lag).
    pub fn start(
        cfg: &ProxyConfig,
        upstream: SocketAddr,
        cpu: usize,
        interval: Duration,
    ) -> anyhow::Result<ProxyChild> {
        let stats = (interval / 10).max(Duration::from_millis(10));
        let mut args: Vec<String> = [
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.to_string(),
            "--cores",
            &cpu.to_string(),
            "--stats-interval",
            &format!("{}ms", stats.as_millis()),
            "--clock-from-stdin",
        ]
        .map(String::from)
        .to_vec();
        for t in &cfg.toxics {
            args.push("--toxic".into());
            args.push(t.to_spec());
        }
        let mut server = ChildServer::spawn(&args, "the network-fault proxy", true)?;
        let stdin = server.child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reader = server.stdout.take().map(|out| {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in out.lines() {
                    let Ok(l) = l else { break };
                    if let Ok(line) = serde_json::from_str::<Line>(&l) {
                        lines.lock().expect("not poisoned").push((Instant::now(), line));
                    }
                }
            })
        });
        Ok(ProxyChild {
            server,
            cpu,
            upstream,
            toxics: cfg.toxics.clone(),
            stdin: Arc::new(Mutex::new(stdin)),
            lines,
            reader,
        })
    }

    /// Where the clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Start the toxics' clock when the traffic starts (`ctl.load_start_ns`, ns since `epoch`).
    pub fn start_clock_with_traffic(&self, ctl: Arc<Control>, epoch: Instant) {
        let stdin = self.stdin.clone();
        std::thread::spawn(move || loop {
            let start = ctl.load_start_ns.load(Ordering::SeqCst);
            if start != u64::MAX {
                let at = epoch + Duration::from_nanos(start);
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                if let Some(s) = stdin.lock().expect("not poisoned").as_mut() {
                    let _ = s.write_all(b"start\n").and_then(|_| s.flush());
                }
                return;
            }
            if stdin.lock().expect("not poisoned").is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        });
    }

    /// Stop the proxy (end of stdin: it prints its last counters and exits) and put what it
    /// reported on the run's clock: `run_start` is the time line's 0.
    pub fn finish(mut self, run_start: Instant, timeline: &mut [TimelinePoint]) -> ProxySection {
        drop(self.stdin.lock().expect("not poisoned").take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.server.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(r) = self.reader.take() {
            if self.server.child.try_wait().ok().flatten().is_some() {
                let _ = r.join();
            }
        }
        let listen = self.server.addr.to_string();
        self.server.stop();
        let lines = std::mem::take(&mut *self.lines.lock().expect("not poisoned"));
        let (events, totals) = fold(&lines, run_start, timeline);
        ProxySection {
            listen,
            upstream: self.upstream.to_string(),
            cpu: self.cpu,
            toxics: self
                .toxics
                .iter()
                .map(|t| ToxicNote {
                    what: t.describe(),
                    toxic: t.clone(),
                })
                .collect(),
            events,
            totals,
        }
    }
}

/// Seconds from `run_start` to `t` (negative before it).
fn run_secs(t: Instant, run_start: Instant) -> f64 {
    if t >= run_start {
        (t - run_start).as_secs_f64()
    } else {
        -(run_start - t).as_secs_f64()
    }
}

/// Put the proxy's lines on the run's clock: each time-line point gets the counters' growth over
/// its interval (`proxy_new`, nonzero ones only), from the last counter line that had arrived by
/// the point's time. Events are placed by their arrival (within a few ms of the switch).
pub fn fold(
    lines: &[Stamped],
    run_start: Instant,
    timeline: &mut [TimelinePoint],
) -> (Vec<ProxyEvent>, BTreeMap<String, u64>) {
    let mut events = Vec::new();
    let mut counts: Vec<(f64, &BTreeMap<String, u64>)> = Vec::new();
    for (at, l) in lines {
        let t = run_secs(*at, run_start);
        match l {
            Line::Counters { counters, .. } => counts.push((t, counters)),
            Line::Event { toxic, event, what, .. } => events.push(ProxyEvent {
                t_s: (t * 1e3).round() / 1e3,
                toxic: *toxic,
                event: event.clone(),
                what: what.clone(),
            }),
        }
    }
    let empty = BTreeMap::new();
    let at = |t: f64| {
        counts
            .iter()
            .take_while(|(ct, _)| *ct <= t)
            .last()
            .map_or(&empty, |(_, c)| *c)
    };
    let mut prev = &empty;
    for p in timeline.iter_mut() {
        let now = at(p.t_s);
        p.proxy_new = now
            .iter()
            .map(|(k, v)| (k.clone(), v.saturating_sub(prev.get(k).copied().unwrap_or(0))))
            .filter(|(_, d)| *d > 0)
            .collect();
        prev = now;
    }
    let totals = counts.last().map_or_else(BTreeMap::new, |(_, c)| (*c).clone());
    (events, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64) -> TimelinePoint {
        TimelinePoint {
            t_s,
            ..Default::default()
        }
    }

    fn counters(t: f64, resets: u64) -> Line {
        Line::Counters {
            t_s: t,
            clock_s: None,
            open: 0,
            counters: [("resets".to_string(), resets), ("accepted".to_string(), 10)].into(),
        }
    }

    #[test]
    fn counters_land_in_the_interval_they_grew_in() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let lines = vec![
            (at(0.5), counters(0.5, 0)),
            (at(1.5), counters(1.5, 3)),
            (
                at(1.6),
                Line::Event {
                    t_s: 1.6,
                    clock_s: Some(0.6),
                    toxic: 0,
                    event: "on".into(),
                    what: "reset".into(),
                },
            ),
            (at(2.9), counters(2.9, 5)),
        ];
        let mut tl: Vec<TimelinePoint> = [1.0, 2.0, 3.0, 4.0].into_iter().map(point).collect();
        let (events, totals) = fold(&lines, t0, &mut tl);
        let resets: Vec<u64> = tl
            .iter()
            .map(|p| p.proxy_new.get("resets").copied().unwrap_or(0))
            .collect();
        assert_eq!(resets, [0, 3, 2, 0]);
        assert_eq!(tl[0].proxy_new.get("accepted"), Some(&10));
        assert_eq!(events.len(), 1);
        assert!((events[0].t_s - 1.6).abs() < 1e-9);
        assert_eq!(totals["resets"], 5);
    }
}
