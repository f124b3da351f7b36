//! The built-in WebSocket echo server: one pinned reactor per CPU,
//! each with its own SO_REUSEPORT listener (built with socket2 for a deep
//! backlog), a shared read and write buffer per core, and one small echo
//! future per connection.

mod broadcast;
mod echo;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::Duration;

use crate::engine::runtime::TcpListener;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::ServePlan;
use crate::engine::shard::READ_BUF;
use crate::proto::handshake::{self, Request};
use crate::tls::stream::{ServerStream, Stream};
use echo::{Echo, ServerCore};

/// Listen backlog asked for (the kernel caps it at net.core.somaxconn).
pub const BACKLOG: i32 = 65_535;

/// Bind one SO_REUSEPORT listener per core on the same address. With port 0 the
/// first listener picks the port and the others join it.
pub fn bind_listeners(addr: SocketAddr, count: usize) -> std::io::Result<Vec<StdListener>> {
    let mut out: Vec<StdListener> = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count {
        let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
        let s = Socket::new(domain, Type::STREAM.cloexec(), Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.set_nodelay(true)?;
        s.bind(&addr.into())?;
        s.listen(BACKLOG)?;
        let l: StdListener = s.into();
        addr = l.local_addr()?;
        out.push(l);
    }
    Ok(out)
}

/// Run the echo server until killed (or for `plan.run_for`). Prints
/// `listening on ADDR` on stdout once every core accepts.
pub fn serve(plan: &ServePlan) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let wanted = crate::sys::limits::fds_needed(1_000_000, plan.cpus.len());
    // Take as many descriptors as the hard limit allows; the server cannot know its load.
    let fd = match crate::sys::limits::raise_nofile(wanted) {
        Ok(l) => l.soft,
        Err(_) => crate::sys::limits::raise_nofile(0).map(|l| l.soft).unwrap_or(0),
    };
    let addr = SocketAddr::new(plan.bind, plan.port);
    let listeners = bind_listeners(addr, plan.cpus.len()).with_context(|| {
        format!("cannot listen on {addr}: is another server using the port? (pick another with --port, or 0 for any)")
    })?;
    let local = listeners[0].local_addr()?;
    let max_frame = plan.max_frame;
    let push = plan
        .broadcast
        .map(|(rate, size)| (rate, size, broadcast::Broadcast::epoch_now()));
    let tls = plan.tls.clone();
    let threads = start_cores("wsload-serve", listeners, &plan.cpus, move |l, _| {
        // Each core its own config (and TLS 1.2 session cache); the ticket key is shared.
        let acceptor = tls.clone().map(|t| futures_rustls::TlsAcceptor::from(t.config()));
        accept_loop(l, max_frame, acceptor, push)
    })?;
    let cpus = crate::sys::cores::format_cpu_list(&plan.cpus);
    println!("listening on {local}");
    std::io::stdout().flush()?;
    let scheme = if plan.tls.is_some() { "wss" } else { "ws" };
    match plan.broadcast {
        Some((rate, size)) => eprintln!(
            "wsload serve: broadcast server on {scheme}://{local}/ ({rate} messages/s of {size} B to every connection; \
             CPUs {cpus}, up to {fd} open files)"
        ),
        None => eprintln!("wsload serve: echo server on {scheme}://{local}/ (CPUs {cpus}, up to {fd} open files)"),
    }
    match plan.run_for {
        Some(d) => {
            std::thread::sleep(d);
            Ok(())
        }
        None => {
            for t in threads {
                let _ = t.join();
            }
            Ok(())
        }
    }
}

/// Start one pinned reactor per listener (on the matching CPU of `cpus`), each running `serve(listener, index)`. Returns once every
/// core runs, or the first core's error. `name` prefixes the threads' names.
pub fn start_cores<F, Fut>(
    name: &str,
    listeners: Vec<StdListener>,
    cpus: &[usize],
    serve: F,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>>
where
    F: Fn(TcpListener, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<(), String>>(cpus.len());
    let mut threads = Vec::new();
    for (i, (l, &cpu)) in listeners.into_iter().zip(cpus).enumerate() {
        let ready = ready_tx.clone();
        let fd = l.into_raw_fd();
        let serve = serve.clone();
        let thread = std::thread::Builder::new().name(format!("{name}{cpu}"));
        threads.push(thread.spawn(move || {
            core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
            let failed = ready.clone();
            let run = crate::engine::runtime::block_on(crate::engine::runtime::RingConfig::server(), async move {
                // SAFETY: `fd` is a listening socket we own, handed over exactly once.
                let listener = unsafe { TcpListener::from_raw_fd(fd) };
                let _ = ready.send(Ok(()));
                serve(listener, i).await;
            });
            if let Err(e) = run {
                let _ = failed.send(Err(format!("CPU {cpu}: cannot start an io_uring: {e}")));
            }
        })?);
    }
    drop(ready_tx);
    for _ in 0..cpus.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => anyhow::bail!("{e}"),
            Err(_) => anyhow::bail!("a core failed to start"),
        }
    }
    Ok(threads)
}

/// `push`: broadcast (rate, size, epoch) instead of echoing.
async fn accept_loop(
    listener: TcpListener,
    max_frame: u64,
    tls: Option<futures_rustls::TlsAcceptor>,
    push: Option<(f64, usize, u64)>,
) {
    let core = Rc::new(ServerCore {
        rbuf: RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()),
        wbuf: RefCell::new(Vec::with_capacity(READ_BUF)),
        max_frame,
        conns: Cell::new(0),
        broadcast: push.map(|(rate, size, epoch)| broadcast::Broadcast::new(rate, size, epoch)),
    });
    if core.broadcast.is_some() {
        let core = core.clone();
        crate::engine::runtime::spawn_detached(async move { core.broadcast.as_ref().expect("set").ticker().await });
    }
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let core = core.clone();
                let tls = tls.clone();
                crate::engine::runtime::spawn(async move {
                    let stream = match tls {
                        None => Stream::Plain(stream),
                        // A failed handshake (a client that does not trust us) just ends here.
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(s) => Stream::Tls(Box::new(s)),
                            Err(_) => return,
                        },
                    };
                    upgrade(core, stream).await
                });
            }
            Err(e) => {
                // Out of descriptors or similar: back off instead of spinning.
                eprintln!("wsload serve: accept failed: {e}");
                crate::engine::runtime::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Read the upgrade request, answer it, and hand the stream to a long-lived echo task.
async fn upgrade(core: Rc<ServerCore>, mut stream: ServerStream) {
    let mut buf = vec![0u8; 1024];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        match handshake::parse_request(&buf[..filled]) {
            Request::Partial => continue,
            Request::Refuse { reply } => {
                let _ = stream.write_all(&reply).await;
                let _ = stream.flush().await;
                return;
            }
            Request::Upgrade { reply, head_len } => {
                if stream.write_all(&reply).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                core.conns.set(core.conns.get() + 1);
                let mut echo = Echo::new(core.clone(), stream);
                echo.feed_initial(&buf[head_len..filled]);
                crate::engine::runtime::spawn_detached(echo);
                return;
            }
        }
    }
}
