//! Code that runs on one pinned core: its share of the connections, the pacer,
//! the shared buffers, and the control loop that walks the phases of a run.
//!
//! Phases: connect (the ramp) → load (the scenario's traffic phases; the ramp
//! may still be running with `traffic = "with-ramp"`) → drain (no new
//! messages; wait for outstanding echoes) → ramp-down (optional) → close →
//! abort (whatever is still open is counted and dropped). Through connect and
//! load the control loop keeps the slots filled: it opens what the ramp wants,
//! reconnects dropped connections by the scenario's policy, ends connections
//! whose lifetime is over, and injects the scheduled faults. A snapshot goes to
//! the aggregator every interval and once more at the end.

mod conn;
mod connect;
mod events;
mod keeper;
pub mod mix;
pub mod pacer;
mod pacing;
pub mod seq;
pub mod slots;
mod state;
mod wire;

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::metrics::{Recorder, Snapshot};
use state::Shard;
pub use state::{Control, CorePlan, Phase, ShardTls, Traffic, CLOSE_TIMEOUT, READ_BUF};

/// Run one core's share on a pinned reactor of its own, on a new thread.
pub fn run_core(
    plan: CorePlan,
    epoch: Instant,
    ctl: Arc<Control>,
    tx: Sender<Snapshot>,
) -> std::thread::JoinHandle<()> {
    let name = format!("wsload-core{}", plan.index);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // A core that cannot be pinned still runs where the kernel puts it.
            core_affinity::set_for_current(core_affinity::CoreId { id: plan.cpu });
            let (index, cpu) = (plan.index, plan.cpu);
            let (ctl2, tx2) = (ctl.clone(), tx.clone());
            if let Err(e) = crate::engine::runtime::block_on(
                crate::engine::runtime::RingConfig::client(),
                core_main(plan, epoch, ctl, tx),
            ) {
                eprintln!("wsload: core {index} (CPU {cpu}): cannot start its io_uring: {e}");
                ctl2.ready.fetch_add(1, Ordering::SeqCst);
                ctl2.connected.fetch_add(1, Ordering::SeqCst);
                let mut r = Recorder::default();
                let at = epoch.elapsed().as_nanos() as u64;
                let _ = tx2.send(r.snapshot(index, at, true, &crate::metrics::Spares::new()));
            }
        })
        .expect("spawn core thread")
}

async fn core_main(plan: CorePlan, epoch: Instant, ctl: Arc<Control>, tx: Sender<Snapshot>) {
    keeper::run(Rc::new(Shard::new(plan, epoch)), ctl, tx).await;
}
