//! A connection's stream: plain TCP, or TLS behind a box, so a plain connection pays one word
//! at most for the possibility of TLS, and a TLS connection's session state (kilobytes of
//! buffers) lives on the heap.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::engine::runtime::TcpStream;
use futures_lite::{AsyncRead, AsyncWrite};

/// The client's and the server's streams.
pub type ClientStream = Stream<futures_rustls::client::TlsStream<TcpStream>>;
pub type ServerStream = Stream<futures_rustls::server::TlsStream<TcpStream>>;

pub enum Stream<T> {
    Plain(TcpStream),
    Tls(Box<T>),
}

/// What the TLS session can tell about itself.
pub trait Session {
    /// Encrypted bytes the socket has not taken yet.
    fn wants_write(&self) -> bool;
}

impl Session for futures_rustls::client::TlsStream<TcpStream> {
    fn wants_write(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

impl Session for futures_rustls::server::TlsStream<TcpStream> {
    fn wants_write(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

impl<T: Session> Stream<T> {
    /// Bytes accepted by a write that are still waiting in the TLS session (never for plain TCP).
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.wants_write(),
        }
    }
}

impl<T: AsRawFd> AsRawFd for Stream<T> {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Plain(s) => s.as_raw_fd(),
            Stream::Tls(t) => t.as_raw_fd(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stream<T> {
    #[inline]
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(t) => Pin::new(&mut **t).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stream<T> {
    #[inline]
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(t) => Pin::new(&mut **t).poll_write(cx, buf),
        }
    }

    /// TLS: write out the records a write left in the session (plain TCP has nothing to flush).
    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(_) => Poll::Ready(Ok(())),
            Stream::Tls(t) => Pin::new(&mut **t).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(t) => Pin::new(&mut **t).poll_close(cx),
        }
    }
}
