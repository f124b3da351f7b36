//! Sleeping on the core's timers: a sleep registers once, when first polled, and dropping it
//! frees its timer at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::executor;

/// Resolves at `deadline`.
pub struct Sleep {
    deadline: Instant,
    entry: Option<(u32, u32)>,
}

/// Sleep for `d` (a zero duration resolves at once).
pub fn sleep(d: Duration) -> Sleep {
    sleep_until(Instant::now() + d)
}

pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, entry: None }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(e) = self.entry.take() {
                executor::core().timers.borrow_mut().remove(e);
            }
            return Poll::Ready(());
        }
        let core = executor::core();
        let mut timers = core.timers.borrow_mut();
        match self.entry {
            Some(e) => timers.update(e, cx.waker()),
            None => self.entry = Some(timers.add(self.deadline, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            if let Some(core) = executor::try_core() {
                // The waker is dropped after the borrow ends (it may own the last count of a task).
                let w = core.timers.borrow_mut().remove(e);
                drop(w);
            }
        }
    }
}
