//! The single-threaded executor: tasks are reference-counted futures on this core, woken into
//! a run queue; the loop alternates between running them and asking the ring for completions.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::reactor::Reactor;
use super::ring::RingConfig;
use super::timer::Timers;

/// Task polls per loop before the ring is looked at again (so a busy core still reaps its
/// completions and fires its timers).
const POLLS_PER_LOOP: usize = 4096;

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

pub(crate) struct Task {
    /// Taken out while it is polled; `None` once finished or cancelled.
    future: RefCell<Option<BoxFuture>>,
    queued: Cell<bool>,
    cancelled: Cell<bool>,
}

impl Task {
    /// A task that runs `fut`, not yet queued.
    fn new(fut: impl Future<Output = ()> + 'static) -> Rc<Task> {
        Rc::new(Task {
            future: RefCell::new(Some(Box::pin(fut))),
            queued: Cell::new(false),
            cancelled: Cell::new(false),
        })
    }
}

/// Everything one core's loop owns. Lives in a thread-local for the duration of `block_on`.
pub(crate) struct Core {
    pub queue: RefCell<VecDeque<Rc<Task>>>,
    pub reactor: Reactor,
    pub timers: RefCell<Timers>,
}

thread_local! {
    static CORE: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// The current core. Panics outside `block_on`: engine futures only run on a core.
pub(crate) fn core() -> Rc<Core> {
    CORE.with(|c| c.borrow().clone())
        .expect("engine futures run inside engine::block_on")
}

/// The current core, if this thread runs one (drops during teardown may find none).
pub(crate) fn try_core() -> Option<Rc<Core>> {
    CORE.try_with(|c| c.borrow().clone()).ok().flatten()
}

fn schedule(task: Rc<Task>) {
    if task.queued.replace(true) {
        return;
    }
    // A waker outlives its core only at thread exit; then there is nothing left to run.
    if let Some(core) = try_core() {
        core.queue.borrow_mut().push_back(task);
    }
}

// The waker is an `Rc<Task>` behind a raw pointer. Wakers never leave their core's thread:
// every future that holds one is owned by this thread's tasks, the reactor or the timers.
static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

fn raw(task: Rc<Task>) -> RawWaker {
    RawWaker::new(Rc::into_raw(task) as *const (), &VTABLE)
}

unsafe fn clone_raw(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Rc::into_raw` of a live task (this waker holds a count).
    unsafe { Rc::increment_strong_count(p as *const Task) };
    RawWaker::new(p, &VTABLE)
}

unsafe fn wake_raw(p: *const ()) {
    // SAFETY: takes over the count this waker held.
    schedule(unsafe { Rc::from_raw(p as *const Task) });
}

unsafe fn wake_by_ref_raw(p: *const ()) {
    // SAFETY: a new count for the queue; the waker keeps its own.
    unsafe { Rc::increment_strong_count(p as *const Task) };
    schedule(unsafe { Rc::from_raw(p as *const Task) });
}

unsafe fn drop_raw(p: *const ()) {
    // SAFETY: gives back the count this waker held.
    drop(unsafe { Rc::from_raw(p as *const Task) });
}

fn waker(task: &Rc<Task>) -> Waker {
    // SAFETY: the vtable keeps the Rc counts balanced (see above); wakers stay on this thread.
    unsafe { Waker::from_raw(raw(task.clone())) }
}

/// A spawned task's handle: await it for its output, `detach` it to let it run on its own, or
/// `cancel` it to drop its future now. Dropping the handle detaches.
pub struct JoinHandle<T> {
    task: Rc<Task>,
    out: Rc<Slot<T>>,
}

struct Slot<T> {
    value: Cell<Option<T>>,
    waiter: Cell<Option<Waker>>,
}

impl<T> JoinHandle<T> {
    pub fn detach(self) {}

    /// Drop the task's future (closing what it owns) without running it again.
    pub fn cancel(self) {
        self.task.cancelled.set(true);
        let f = self.task.future.borrow_mut().take();
        drop(f);
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.out.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                self.out.waiter.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

/// Run `fut` as a task of this core.
pub fn spawn<F: Future + 'static>(fut: F) -> JoinHandle<F::Output> {
    let out = Rc::new(Slot {
        value: Cell::new(None),
        waiter: Cell::new(None),
    });
    let slot = out.clone();
    let task = Task::new(async move {
        let v = fut.await;
        slot.value.set(Some(v));
        if let Some(w) = slot.waiter.take() {
            w.wake();
        }
    });
    schedule(task.clone());
    JoinHandle { task, out }
}

/// Run `fut` as a task of this core that nothing waits for or cancels (a connection, an
/// accept loop): no output slot and no wrapping future, so the task costs two allocations, its
/// header and the future itself. Paid once per connection, 10,000 times in the default run.
pub fn spawn_detached<F: Future<Output = ()> + 'static>(fut: F) {
    schedule(Task::new(fut));
}

fn poll_task(task: Rc<Task>) {
    task.queued.set(false);
    let Some(mut fut) = task.future.borrow_mut().take() else {
        return;
    };
    let w = waker(&task);
    let mut cx = Context::from_waker(&w);
    if fut.as_mut().poll(&mut cx).is_pending() && !task.cancelled.get() {
        *task.future.borrow_mut() = Some(fut);
    }
}

pub(crate) fn block_on<F: Future>(cfg: RingConfig, root: F) -> std::io::Result<F::Output> {
    let core = Rc::new(Core {
        queue: RefCell::new(VecDeque::with_capacity(1024)),
        reactor: Reactor::new(cfg)?,
        timers: RefCell::new(Timers::default()),
    });
    CORE.with(|c| *c.borrow_mut() = Some(core.clone()));
    let out = run(&core, root);
    teardown(&core);
    CORE.with(|c| *c.borrow_mut() = None);
    Ok(out)
}

fn run<F: Future>(core: &Rc<Core>, root: F) -> F::Output {
    let mut root = std::pin::pin!(root);
    let root_task = Rc::new(Task {
        future: RefCell::new(None),
        queued: Cell::new(false),
        cancelled: Cell::new(false),
    });
    let root_waker = waker(&root_task);
    let mut root_ready = true;
    loop {
        if root_ready {
            root_ready = false;
            if let Poll::Ready(v) = root.as_mut().poll(&mut Context::from_waker(&root_waker)) {
                return v;
            }
        }
        let mut polls = 0;
        while polls < POLLS_PER_LOOP {
            let next = core.queue.borrow_mut().pop_front();
            let Some(t) = next else { break };
            polls += 1;
            if Rc::ptr_eq(&t, &root_task) {
                t.queued.set(false);
                root_ready = true;
                continue;
            }
            poll_task(t);
        }
        let now = std::time::Instant::now();
        let next_timer = core.timers.borrow_mut().fire(now);
        let busy = root_ready || !core.queue.borrow().is_empty();
        // Busy: reap without waiting. Idle: wait for a completion or the next timer.
        let wait = if busy {
            Some(std::time::Duration::ZERO)
        } else {
            next_timer.map(|t| t.saturating_duration_since(now))
        };
        core.reactor.park(wait);
    }
}

/// Drop what is left on this core: queued tasks, and the wakers the reactor and the timers
/// hold (which own the tasks that wait on them), so their sockets close.
fn teardown(core: &Rc<Core>) {
    loop {
        let queued: Vec<_> = core.queue.borrow_mut().drain(..).collect();
        let wakers = core.reactor.take_wakers();
        let timers = core.timers.borrow_mut().take_wakers();
        if queued.is_empty() && wakers.is_empty() && timers.is_empty() {
            break;
        }
        for t in queued {
            let f = t.future.borrow_mut().take();
            drop(f);
        }
        drop(wakers);
        drop(timers);
    }
    core.reactor.flush();
}
