//! A bounded channel between tasks of one core (the proxy's reader and writer of a shaped
//! direction): no locks, no atomics.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    queue: VecDeque<T>,
    cap: usize,
    senders_gone: bool,
    receiver_gone: bool,
    recv_waker: Option<Waker>,
    send_waker: Option<Waker>,
}

pub struct Sender<T>(Rc<RefCell<Shared<T>>>);
pub struct Receiver<T>(Rc<RefCell<Shared<T>>>);

/// A channel that holds at most `cap` items: a send waits while it is full.
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let s = Rc::new(RefCell::new(Shared {
        queue: VecDeque::with_capacity(cap),
        cap: cap.max(1),
        senders_gone: false,
        receiver_gone: false,
        recv_waker: None,
        send_waker: None,
    }));
    (Sender(s.clone()), Receiver(s))
}

impl<T> Sender<T> {
    /// Queue `v`, waiting for room; `Err(v)` once the receiver is gone.
    pub async fn send(&self, v: T) -> Result<(), T> {
        let mut v = Some(v);
        std::future::poll_fn(|cx| {
            let mut s = self.0.borrow_mut();
            if s.receiver_gone {
                return Poll::Ready(Err(v.take().expect("sent once")));
            }
            if s.queue.len() >= s.cap {
                s.send_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            s.queue.push_back(v.take().expect("sent once"));
            let w = s.recv_waker.take();
            drop(s);
            if let Some(w) = w {
                w.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let w = {
            let mut s = self.0.borrow_mut();
            s.senders_gone = true;
            s.recv_waker.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and the queue is empty.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv(self)
    }
}

pub struct Recv<'a, T>(&'a Receiver<T>);

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.0 .0.borrow_mut();
        if let Some(v) = s.queue.pop_front() {
            let w = s.send_waker.take();
            drop(s);
            if let Some(w) = w {
                w.wake();
            }
            return Poll::Ready(Some(v));
        }
        if s.senders_gone {
            return Poll::Ready(None);
        }
        s.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let w = {
            let mut s = self.0.borrow_mut();
            s.receiver_gone = true;
            s.queue.clear();
            s.send_waker.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}
