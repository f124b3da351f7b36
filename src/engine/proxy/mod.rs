//! `wsload proxy`: a fault-injecting TCP proxy, one pinned reactor per core.
//!
//! ```text
//!  args (CLI → ProxyPlan) ──► one core per CPU: accept ─► relay (per connection, both ways)
//!  spec (toxics as written)                        toxics: pure arithmetic of delays, stalls, ...
//!  main thread: clock, toxic on/off events, per-interval counters ──► JSON lines on stdout
//! ```
//!
//! `wsload run` starts it as a child process when a scenario has a `[proxy]` table (see
//! `child`), and folds its report into the run's time line and summary.

pub mod args;
pub mod child;
mod relay;
pub mod spec;
pub mod stats;
pub mod toxics;

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

pub use args::{ProxyArgs, ProxyPlan};
use stats::{CoreStats, Line};
pub use toxics::Clock;

/// `wsload proxy`: 0 when stopped after --for (or at the end of stdin), 2 on a setup error.
pub fn main(a: &ProxyArgs) -> u8 {
    let fail = |e: String| {
        eprintln!("wsload: error: {e}");
        2
    };
    let plan = match ProxyPlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return fail(format!("{e}\n(see `wsload proxy --help`)")),
    };
    match run(&plan) {
        Ok(()) => 0,
        Err(e) => fail(format!("{e:#}")),
    }
}

/// Check the upstream, start the cores, then report until stopped.
pub fn run(plan: &ProxyPlan) -> anyhow::Result<()> {
    // Fail now, with the reason, rather than reset every client later.
    std::net::TcpStream::connect_timeout(&plan.upstream, Duration::from_secs(5)).with_context(|| {
        format!(
            "cannot reach the upstream {}: start the server first, or fix --upstream",
            plan.upstream
        )
    })?;
    let wanted = crate::sys::limits::fds_needed(1_000_000, plan.cpus.len());
    let fds = match crate::sys::limits::raise_nofile(wanted) {
        Ok(l) => l.soft,
        Err(_) => crate::sys::limits::raise_nofile(0).map(|l| l.soft).unwrap_or(0),
    };
    let listeners = crate::engine::server::bind_listeners(plan.listen, plan.cpus.len()).with_context(|| {
        format!(
            "cannot listen on {}: is another program using the port? (pick another with --listen, port 0 for any)",
            plan.listen
        )
    })?;
    let local = listeners[0].local_addr()?;
    let clock = Arc::new(Clock::default());
    let started = Instant::now();
    let cores: Vec<Arc<CoreStats>> = plan.cpus.iter().map(|_| Arc::default()).collect();
    let serve = {
        let (toxics, clock, cores, upstream) = (plan.toxics.clone(), clock.clone(), cores.clone(), plan.upstream);
        move |l, i: usize| {
            let core = Rc::new(relay::Core {
                toxics: toxics.clone(),
                clock: clock.clone(),
                stats: cores[i].clone(),
                rng: RefCell::new(toxics::Rng::new(
                    0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) << 32) ^ u64::from(std::process::id()),
                )),
                upstream,
                started,
            });
            relay::accept_loop(l, core)
        }
    };
    crate::engine::server::start_cores("wsload-proxy", listeners, &plan.cpus, serve)?;

    let stop = Arc::new(AtomicBool::new(false));
    if plan.clock_from_stdin {
        let (clock, stop) = (clock.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut stdin = std::io::stdin().lock();
            loop {
                line.clear();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => clock.start(Instant::now()),
                }
            }
            stop.store(true, Ordering::SeqCst);
        });
    } else {
        clock.start(started);
    }
    println!("listening on {local}");
    std::io::stdout().flush()?;
    let cpus = crate::sys::cores::format_cpu_list(&plan.cpus);
    eprintln!(
        "wsload proxy: {local} → {} (CPUs {cpus}, up to {} connections)",
        plan.upstream,
        fds.saturating_sub(64) / 2
    );
    for t in &plan.toxics {
        eprintln!("  toxic: {}", t.describe());
    }
    report(plan, &clock, &cores, started, &stop);
    Ok(())
}

/// Print the counters every interval and each toxic's on/off as it happens, until --for has
/// passed or stdin closed.
fn report(plan: &ProxyPlan, clock: &Clock, cores: &[Arc<CoreStats>], started: Instant, stop: &AtomicBool) {
    let mut on: Vec<bool> = plan.toxics.iter().map(|t| t.window().is_none()).collect();
    let mut next = started + plan.stats_interval;
    let counters = |now: Instant| {
        let (open, counters) = stats::sum(cores);
        Line::Counters {
            t_s: stats::secs(now - started),
            clock_s: clock.origin().map(|o| stats::secs(now.saturating_duration_since(o))),
            open,
            counters,
        }
    };
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = Instant::now();
        let t = clock.origin().map(|o| now.saturating_duration_since(o));
        for (i, x) in plan.toxics.iter().enumerate() {
            let a = x.active(t);
            if a != on[i] {
                on[i] = a;
                stats::emit(&Line::Event {
                    t_s: stats::secs(now - started),
                    clock_s: t.map(stats::secs),
                    toxic: i,
                    event: if a { "on" } else { "off" }.to_string(),
                    what: x.describe(),
                });
            }
        }
        let done = stop.load(Ordering::SeqCst) || plan.run_for.is_some_and(|d| now - started >= d);
        if now >= next || done {
            stats::emit(&counters(now));
            while next <= now {
                next += plan.stats_interval;
            }
        }
        if done {
            return;
        }
    }
}
