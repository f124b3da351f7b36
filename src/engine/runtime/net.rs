//! Non-blocking TCP sockets on the core's reactor, as `AsyncRead`/`AsyncWrite` streams (which
//! rustls' stream adapters also take).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::future::poll_fn;
use futures_lite::io::{AsyncRead, AsyncWrite};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::executor;

fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// A connected (or connecting) TCP socket registered with the core's reactor.
pub struct TcpStream {
    fd: RawFd,
    idx: u32,
}

impl TcpStream {
    /// Open a connection to `addr` (non-blocking connect, then wait until it is writable).
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
        let sock = Socket::new(domain, Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))?;
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        // SAFETY: a non-blocking socket we own, handed over once.
        let s = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
        let core = executor::core();
        core.reactor.clear_writable(s.idx);
        poll_fn(|cx| {
            if core.reactor.poll_writable(s.idx, cx.waker()) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        match SockRef::from(&s).take_error()? {
            Some(e) => Err(e),
            None => Ok(s),
        }
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        SockRef::from(self).set_nodelay(on)
    }

    /// Have the kernel stamp the time each packet arrives (SO_TIMESTAMPNS), and read with
    /// `recvmsg` to get it: after a read, [`take_rx_stamp`] tells when its data arrived, however
    /// long it waited in the socket before this core came round to read it.
    pub fn keep_rx_stamps(&self) -> io::Result<()> {
        use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestampns};
        setsockopt(self, ReceiveTimestampns, &true)?;
        executor::core().reactor.keep_stamps(self.idx);
        Ok(())
    }
}

/// The kernel's receive time (Unix ns) of the data the last read on this core returned, if that
/// read was on a socket that keeps them ([`TcpStream::keep_rx_stamps`]); taking it clears it.
/// A read that took nothing from a socket (TLS handing out plaintext it already held) leaves
/// it clear if it was taken before: take it before the read and after.
pub fn take_rx_stamp() -> Option<u64> {
    let ns = executor::core().reactor.rx_stamp.replace(0);
    (ns != 0).then_some(ns)
}

/// Control buffer for one SCM_TIMESTAMPNS (a cmsghdr and a timespec: 32 bytes), aligned.
#[repr(C, align(8))]
struct StampBuf([u8; 64]);

/// `recvmsg`, keeping the packet's receive time in `stamp`.
fn recv_stamped(fd: RawFd, buf: &mut [u8], stamp: &std::cell::Cell<u64>) -> isize {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut ctl = StampBuf([0; 64]);
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.0.as_mut_ptr().cast();
    msg.msg_controllen = ctl.0.len();
    // SAFETY: the header points at our buffer and control buffer, both live and of their lengths.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n > 0 {
        stamp.set(0);
        // SAFETY: walking the control messages the kernel wrote into `ctl`, within msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                    stamp.set(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
    }
    n
}

impl FromRawFd for TcpStream {
    /// `fd` must be a non-blocking stream socket (connecting, connected or accepted).
    unsafe fn from_raw_fd(fd: RawFd) -> TcpStream {
        TcpStream {
            fd,
            idx: executor::core().reactor.register(fd),
        }
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the descriptor is open for as long as `self` lives.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) }
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if let Some(core) = executor::try_core() {
            let wakers = core.reactor.deregister(self.idx);
            drop(wakers);
        }
        // SAFETY: we own the descriptor; the ring's polls (removed above) held their own
        // reference to the socket, so it closes when they are gone.
        unsafe { libc::close(self.fd) };
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let core = executor::core();
        loop {
            if !core.reactor.poll_readable(self.idx, cx.waker()) {
                return Poll::Pending;
            }
            let n = if core.reactor.keeps_stamps(self.idx) {
                recv_stamped(self.fd, buf, &core.reactor.rx_stamp)
            } else {
                // SAFETY: reading into a buffer we hold mutably, of its length.
                unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) }
            };
            if n >= 0 {
                let n = n as usize;
                // A short read drained the socket: the poll reports the next data, so no
                // syscall is spent finding it empty. (End of file stays readable.)
                if n > 0 && n < buf.len() {
                    core.reactor.drained(self.idx);
                }
                return Poll::Ready(Ok(n));
            }
            let e = errno();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => core.reactor.clear_readable(self.idx),
                Some(libc::EINTR) => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let core = executor::core();
        loop {
            if !core.reactor.poll_writable(self.idx, cx.waker()) {
                return Poll::Pending;
            }
            // SAFETY: sending from a buffer we hold, of its length.
            let n = unsafe {
                libc::send(
                    self.fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                if (n as usize) < buf.len() {
                    // The socket's buffer is full: the next write waits for room.
                    core.reactor.clear_writable(self.idx);
                }
                return Poll::Ready(Ok(n as usize));
            }
            let e = errno();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => core.reactor.clear_writable(self.idx),
                Some(libc::EINTR) => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts the write side (a FIN); the socket closes when the stream is dropped.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: shutdown(2) on the descriptor we own.
        let r = unsafe { libc::shutdown(self.fd, libc::SHUT_WR) };
        if r < 0 && errno().raw_os_error() != Some(libc::ENOTCONN) {
            return Poll::Ready(Err(errno()));
        }
        Poll::Ready(Ok(()))
    }
}

/// A listening socket on the core's reactor.
pub struct TcpListener {
    inner: TcpStream,
}

impl TcpListener {
    /// Accept the next connection (non-blocking, close-on-exec).
    pub async fn accept(&self) -> io::Result<TcpStream> {
        let core = executor::core();
        let idx = self.inner.idx;
        poll_fn(|cx| loop {
            if !core.reactor.poll_readable(idx, cx.waker()) {
                return Poll::Pending;
            }
            // SAFETY: accept4 with no address buffers.
            let fd = unsafe {
                libc::accept4(
                    self.inner.fd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd >= 0 {
                // SAFETY: a fresh non-blocking socket, ours.
                return Poll::Ready(Ok(unsafe { TcpStream::from_raw_fd(fd) }));
            }
            let e = errno();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => core.reactor.clear_readable(idx),
                Some(libc::EINTR | libc::ECONNABORTED) => {}
                _ => return Poll::Ready(Err(e)),
            }
        })
        .await
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        SockRef::from(&self.inner)
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket"))
    }
}

impl FromRawFd for TcpListener {
    /// `fd` must be a listening socket; it is made non-blocking.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpListener {
        // SAFETY: fcntl on a descriptor the caller hands over.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        TcpListener {
            // SAFETY: as the caller promised.
            inner: unsafe { TcpStream::from_raw_fd(fd) },
        }
    }
}
