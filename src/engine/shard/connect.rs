//! Opening one connection: TCP connect and the WebSocket upgrade, bounded by a
//! timeout. Each attempt is a short-lived task started by the core's control
//! loop (which bounds how many run at once); on success it spawns the
//! long-lived connection task, so the handshake's state never sizes the future
//! that lives for the whole run.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;

use crate::engine::runtime::{sleep, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use socket2::{Domain, Protocol, Socket, Type};

use super::conn::Conn;
use super::events;
use super::state::Shard;
use crate::metrics::ErrorKind;
use crate::proto::handshake::{self, Response};
use crate::tls::stream::{ClientStream, Stream};

type Failure = (ErrorKind, String);

/// Start an attempt to open slot `local` as its own task.
pub fn spawn_attempt(shard: &Rc<Shard>, local: u32) {
    let first = events::on_attempt(shard, local);
    shard.connecting.set(shard.connecting.get() + 1);
    let shard = shard.clone();
    crate::engine::runtime::spawn_detached(async move {
        attempt(&shard, local).await;
        shard.connecting.set(shard.connecting.get() - 1);
        if first {
            shard.first_tries.set(shard.first_tries.get() + 1);
        }
        shard.poke();
    });
}

async fn attempt(shard: &Rc<Shard>, local: u32) {
    let id = shard.plan.ids.start + local as u64;
    let started = shard.now_ns();
    {
        let mut rec = shard.rec.borrow_mut();
        rec.counters.connect_attempts += 1;
        if rec.first_connect_ns.is_none() {
            rec.first_connect_ns = Some(started);
        }
    }
    let timeout = shard.scenario().connect_timeout;
    let result = futures_lite::future::or(establish(shard, id), async {
        sleep(timeout).await;
        Err((
            ErrorKind::ConnectTimeout,
            format!("no WebSocket connection within {timeout:?} (connect_timeout)"),
        ))
    })
    .await;
    match result {
        Ok(o) => {
            let now = shard.now_ns();
            {
                let mut rec = shard.rec.borrow_mut();
                rec.counters.established += 1;
                rec.counters.open += 1;
                rec.last_established_ns = Some(now);
                let span = |from: u64, to: u64| to.saturating_sub(from).max(1);
                rec.connect_time.saturating_record(span(started, now));
                rec.tcp_time.saturating_record(span(started, o.tcp_at));
                let mut upgrade_from = o.tcp_at;
                if let Some((tls_at, resumed, tls13)) = o.tls {
                    rec.tls_time.saturating_record(span(o.tcp_at, tls_at));
                    upgrade_from = tls_at;
                    rec.counters.tls13 += u64::from(tls13);
                    if resumed {
                        rec.counters.tls_resumed += 1;
                    } else {
                        rec.counters.tls_full += 1;
                    }
                }
                rec.upgrade_time.saturating_record(span(upgrade_from, now));
                rec.counters.wire.deflate_conns += u64::from(o.deflate);
            }
            events::on_established(shard, local);
            shard.live.set(shard.live.get() + 1);
            crate::engine::runtime::spawn_detached(Conn::new(shard.clone(), o.stream, local, o.leftover, o.deflate));
        }
        Err((kind, detail)) => {
            {
                let mut rec = shard.rec.borrow_mut();
                rec.counters.connect_failed += 1;
                let addr = shard.plan.addr;
                rec.error(kind, || format!("{addr}: {detail}"));
            }
            events::on_attempt_failed(shard, local);
        }
    }
}

fn io_failure(e: std::io::Error, connecting: bool) -> Failure {
    (ErrorKind::from_io(&e, connecting), e.to_string())
}

/// A non-blocking socket with TCP_NODELAY, bound to the connection's source address if any,
/// with its connect started.
fn start_connect(addr: SocketAddr, source: Option<std::net::IpAddr>) -> Result<Socket, Failure> {
    let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
    let sock = Socket::new(domain, Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))
        .map_err(|e| io_failure(e, true))?;
    sock.set_nodelay(true).map_err(|e| io_failure(e, true))?;
    if let Some(ip) = source {
        // Let connect() pick the port, so each source address gets its own full port range per target.
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::IpBindAddressNoPort, &true);
        sock.bind(&SocketAddr::new(ip, 0).into())
            .map_err(|e| io_failure(e, true))?;
    }
    match sock.connect(&addr.into()) {
        Ok(()) => Ok(sock),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(sock),
        Err(e) => Err(io_failure(e, true)),
    }
}

/// An upgraded connection, with when its TCP connect and its TLS handshake completed.
struct Opened {
    stream: ClientStream,
    /// Bytes that followed the upgrade response (already WebSocket frames).
    leftover: Vec<u8>,
    /// permessage-deflate was agreed.
    deflate: bool,
    /// ns since the epoch: the TCP handshake was done (for ws://, the socket took the request).
    tcp_at: u64,
    /// wss://: when the TLS handshake completed, whether it resumed a session, and whether it
    /// negotiated TLS 1.3.
    tls: Option<(u64, bool, bool)>,
}

async fn establish(shard: &Shard, id: u64) -> Result<Opened, Failure> {
    let plan = &shard.plan;
    let sources = &plan.run.scenario.source_ips;
    let source = (!sources.is_empty()).then(|| sources[(id % sources.len() as u64) as usize]);
    let sock = start_connect(plan.addr, source)?;
    // SAFETY: the descriptor is a connecting TCP socket we own and hand over once.
    let mut tcp = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
    // Echoes are timed by the kernel's receive time, not by when this core gets to read them.
    // Without it (never seen on Linux) they are timed when read.
    let _ = tcp.keep_rx_stamps();
    let (mut stream, mut tcp_at, tls) = match &shard.tls {
        None => (Stream::Plain(tcp), 0, None),
        Some(t) => {
            // A zero-length send completes once the TCP handshake has (a refused connect
            // surfaces here), so the TLS handshake is timed on its own.
            tcp.write(&[]).await.map_err(|e| io_failure(e, true))?;
            let tcp_at = shard.now_ns();
            let s = t
                .connector
                .connect(t.server_name.clone(), tcp)
                .await
                .map_err(|e| crate::tls::failure(&e).unwrap_or_else(|| io_failure(e, true)))?;
            let session = s.get_ref().1;
            let resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            let tls13 = session.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
            (Stream::Tls(Box::new(s)), tcp_at, Some((shard.now_ns(), resumed, tls13)))
        }
    };
    let key = handshake::new_key();
    let sc = &plan.run.scenario;
    let req = handshake::client_request(
        &plan.host_header,
        &plan.path,
        &key,
        &sc.headers,
        &sc.subprotocols,
        sc.compression,
    );
    // ws://: the first write waits for the TCP handshake; a refused connect surfaces here.
    stream.write_all(&req).await.map_err(|e| io_failure(e, true))?;
    stream.flush().await.map_err(|e| io_failure(e, true))?;
    if tls.is_none() {
        tcp_at = shard.now_ns();
    }
    // Upgrade responses are about 130 bytes; the buffer grows if one is longer.
    let mut buf = vec![0u8; 256];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await.map_err(|e| io_failure(e, true))?;
        if n == 0 {
            return Err((
                ErrorKind::HandshakeInvalid,
                "server closed the connection during the upgrade".into(),
            ));
        }
        filled += n;
        match handshake::parse_response(&buf[..filled], &key, &sc.subprotocols, sc.compression) {
            Response::Partial => continue,
            Response::Accepted { head_len, deflate } => {
                return Ok(Opened {
                    stream,
                    leftover: buf[head_len..filled].to_vec(),
                    deflate,
                    tcp_at,
                    tls,
                })
            }
            Response::Rejected { status } => {
                shard.rec.borrow_mut().upgrade_status.bump(status, 1);
                return Err((
                    ErrorKind::UpgradeRejected,
                    format!("upgrade refused with HTTP {status}"),
                ));
            }
            Response::Invalid(why) => return Err((ErrorKind::HandshakeInvalid, why)),
        }
    }
}
