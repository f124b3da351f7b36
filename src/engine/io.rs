//! The write path shared by client and server connections: bytes are staged in
//! the core's shared write buffer and written straight from it; only what the
//! socket does not take is copied into a per-connection backlog, which keeps
//! order for later writes and is given back once drained if it grew large.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::AsyncWrite;

/// Backlog capacity kept for reuse once empty; larger buffers are freed.
pub const KEEP_CAPACITY: usize = 16 * 1024;

/// Bytes a socket has not taken yet. Empty, it owns no heap memory.
#[derive(Debug, Default)]
pub struct Backlog {
    buf: Vec<u8>,
    pos: usize,
}

impl Backlog {
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Queue `bytes` behind what is waiting, without writing; the next flush sends them first.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Write `staged` (and anything already waiting, first) to `stream` until it would block.
    /// `staged` is empty afterwards; what was not written waits here.
    pub fn flush<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
        staged: &mut Vec<u8>,
    ) -> io::Result<()> {
        let direct = self.is_empty();
        if !direct {
            // Drop what was written before appending, so a backlog that never quite
            // empties does not grow with everything ever sent.
            if self.pos >= self.buf.len() / 2 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.extend_from_slice(staged);
            staged.clear();
        }
        let (buf, mut pos) = if direct {
            (&staged[..], 0)
        } else {
            (&self.buf[..], self.pos)
        };
        while pos < buf.len() {
            match Pin::new(&mut *stream).poll_write(cx, &buf[pos..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => pos += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if direct {
            if pos < staged.len() {
                self.buf.clear();
                self.buf.extend_from_slice(&staged[pos..]);
                self.pos = 0;
            }
            staged.clear();
        } else if pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            }
        } else {
            self.pos = pos;
        }
        // TLS keeps the records a write could not send; plain TCP has nothing to flush.
        match Pin::new(&mut *stream).poll_flush(cx) {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }
}
