//! The I/O engine's own behaviour, on real loopback sockets: what glommio used to guarantee
//! and wsload relies on. A closed connection reads as end of file; a full send buffer parks the
//! writer until the peer reads (nothing lost, nothing reordered); a peer that stops reading
//! does not make the writer spin or starve the core's timers; 10,000 receives can wait at once
//! (each socket's multishot poll fires when its data comes); a timer fires while many sockets
//! are busy; a read on a socket that keeps receive times tells when the kernel received its
//! data, however late the core reads it.

mod common;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future::poll_fn;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use wsload::engine::runtime::{self as engine, RingConfig, TcpListener, TcpStream};

fn listener() -> (TcpListener, SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // SAFETY: a listening socket we own, handed over once.
    (unsafe { TcpListener::from_raw_fd(l.into_raw_fd()) }, addr)
}

fn on_core<F: std::future::Future>(f: F) -> F::Output {
    engine::block_on(RingConfig::client(), f).expect("an io_uring on this machine")
}

#[test]
fn a_closed_connection_reads_as_end_of_file() {
    on_core(async {
        let (l, addr) = listener();
        let client = engine::spawn(TcpStream::connect(addr));
        let mut server = l.accept().await.unwrap();
        let mut client = client.await.unwrap();
        client.write_all(b"bye").await.unwrap();
        drop(client);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    });
}

#[test]
fn a_read_tells_when_the_kernel_received_its_data_not_when_it_was_read() {
    // Echoes are timed by their arrival (SO_TIMESTAMPNS), so a core that comes round late to
    // read them does not add its lateness to the server's latency.
    fn wall_ns() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }
    on_core(async {
        let (l, addr) = listener();
        let client = engine::spawn(TcpStream::connect(addr));
        let mut server = l.accept().await.unwrap();
        let mut client = client.await.unwrap();
        let mut plain = engine::spawn(TcpStream::connect(addr)).await.unwrap();
        let mut plain_peer = l.accept().await.unwrap();
        client.keep_rx_stamps().unwrap();
        // The kernel turns receive stamping on for the whole machine from a work queue, a little
        // after the first socket asks for it (packets before that carry none): wait until an
        // exchange comes back stamped.
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            server.write_all(b"w").await.unwrap();
            let mut one = [0u8; 1];
            client.read_exact(&mut one).await.unwrap();
            if engine::take_rx_stamp().is_some() {
                break;
            }
            assert!(Instant::now() < give_up, "no receive time within 10 s");
            engine::sleep(Duration::from_millis(1)).await;
        }
        let before = wall_ns();
        server.write_all(b"stamped").await.unwrap();
        plain_peer.write_all(b"plain").await.unwrap();
        // The core is busy elsewhere for 200 ms while the data waits in the sockets.
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 16];
        let n = client.read(&mut buf).await.unwrap();
        let read_at = wall_ns();
        assert_eq!(&buf[..n], b"stamped");
        let rx = engine::take_rx_stamp().expect("a receive time");
        assert!(rx >= before, "received {} ns before the write", before - rx);
        assert!(
            read_at - rx >= 200_000_000,
            "the receive time is the arrival, 200 ms before the read: {} ms",
            (read_at - rx) / 1_000_000
        );
        assert_eq!(engine::take_rx_stamp(), None, "taken");
        let n = plain.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"plain");
        assert_eq!(engine::take_rx_stamp(), None, "a socket that keeps no receive times");
    });
}

#[test]
fn a_refused_connect_is_an_error_not_a_hang() {
    on_core(async {
        let port = common::dead_port();
        let e = TcpStream::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
        let e = e.err().expect("nothing listens there");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    });
}

#[test]
fn a_full_send_buffer_parks_the_writer_until_the_peer_reads() {
    const TOTAL: usize = 16 << 20;
    on_core(async {
        let (l, addr) = listener();
        let client = engine::spawn(TcpStream::connect(addr));
        let mut server = l.accept().await.unwrap();
        let mut client = client.await.unwrap();
        let polls = Rc::new(Cell::new(0u64));
        let p = polls.clone();
        // 16 MiB is far more than the socket buffers hold: the writer must wait for the reader.
        let writer = engine::spawn(async move {
            let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
            let mut sent = 0;
            while sent < TOTAL {
                p.set(p.get() + 1);
                client.write_all(&chunk).await.unwrap();
                sent += chunk.len();
            }
            client
        });
        // The peer does not read for a while: the writer is parked, and a timer still fires.
        let t = Instant::now();
        engine::sleep(Duration::from_millis(200)).await;
        assert!(t.elapsed() >= Duration::from_millis(200));
        let parked_at = polls.get();
        assert!((parked_at as usize) < TOTAL / 65536, "the writer never had to wait");
        engine::sleep(Duration::from_millis(100)).await;
        assert_eq!(polls.get(), parked_at, "a parked writer made progress without a reader");
        // Now read everything: every byte arrives, in order.
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0usize;
        while got < TOTAL {
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 0, "early end of file at {got}");
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, (((got + i) % 65536) % 251) as u8, "byte {} out of order", got + i);
            }
            got += n;
        }
        drop(writer.await);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    });
}

const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

async fn read_some(s: &RefCell<TcpStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *s.borrow_mut()).poll_read(cx, buf)).await
}

async fn write_all(s: &RefCell<TcpStream>, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf))
            .await
            .unwrap();
        buf = &buf[n..];
    }
}

#[test]
fn ten_thousand_receives_wait_at_once_and_each_completes() {
    const N: usize = 10_000;
    wsload::sys::limits::raise_nofile(N as u64 + 200).expect("10,000 descriptors (the server is another process)");
    let server = common::spawn_wsload_server();
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let (waiting, done) = on_core(async move {
        let waiting = Rc::new(Cell::new(0usize));
        let done = Rc::new(Cell::new(0usize));
        let mut conns = Vec::with_capacity(N);
        for _ in 0..N {
            conns.push(Rc::new(RefCell::new(TcpStream::connect(addr).await.unwrap())));
        }
        // Every connection waits on a read; the server says nothing until it gets a request.
        let mut readers = Vec::with_capacity(N);
        for s in &conns {
            let (s, waiting, done) = (s.clone(), waiting.clone(), done.clone());
            readers.push(engine::spawn(async move {
                let mut buf = [0u8; 512];
                waiting.set(waiting.get() + 1);
                let n = read_some(&s, &mut buf).await.unwrap();
                assert!(
                    buf[..n].starts_with(b"HTTP/1.1 101"),
                    "{}",
                    String::from_utf8_lossy(&buf[..n])
                );
                done.set(done.get() + 1);
            }));
        }
        engine::sleep(Duration::from_millis(50)).await;
        let all_waiting = waiting.get();
        assert_eq!(done.get(), 0, "a read completed before any request was sent");
        for s in &conns {
            write_all(s, UPGRADE).await;
        }
        for r in readers {
            r.await;
        }
        (all_waiting, done.get())
    });
    drop(server);
    assert_eq!(waiting, N);
    assert_eq!(done, N);
}

#[test]
fn a_timer_fires_while_many_sockets_are_busy() {
    const PAIRS: usize = 200;
    on_core(async {
        let (l, addr) = listener();
        let stop = Rc::new(Cell::new(false));
        let moved = Rc::new(Cell::new(0u64));
        for _ in 0..PAIRS {
            let client = engine::spawn(TcpStream::connect(addr));
            let server = l.accept().await.unwrap();
            let client = client.await.unwrap();
            // Each pair bounces 64 bytes back and forth as fast as it can.
            for (mut s, first) in [(client, true), (server, false)] {
                let (stop, moved) = (stop.clone(), moved.clone());
                engine::spawn(async move {
                    let mut buf = [0u8; 64];
                    if first {
                        s.write_all(&buf).await.unwrap();
                    }
                    while !stop.get() {
                        if s.read_exact(&mut buf).await.is_err() || s.write_all(&buf).await.is_err() {
                            return;
                        }
                        moved.set(moved.get() + 1);
                    }
                })
                .detach();
            }
        }
        let t = Instant::now();
        let before = moved.get();
        engine::sleep(Duration::from_millis(50)).await;
        let slept = t.elapsed();
        let during = moved.get() - before;
        stop.set(true);
        assert!(slept >= Duration::from_millis(50), "woke early: {slept:?}");
        // Bounded only to catch starvation (a timer that never fires would hang the test).
        assert!(slept < Duration::from_secs(10), "the timer was starved: {slept:?}");
        assert!(
            during > PAIRS as u64,
            "the sockets were not busy while the timer waited ({during} messages)"
        );
    });
}
