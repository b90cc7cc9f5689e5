//! `tunstack::tokio` over an in-memory link (no root): two stacks joined by
//! a `PipeDevice` pair. Echo on both runtime flavours, split halves,
//! graceful shutdown, UDP, and clean cancellation: a dropped read loses no
//! bytes, a dropped connect leaves no connection behind. The runtime
//! drives the devices (one task per stack, gone with the stack), blocking
//! users share them, timers fire, and the stacks' threads take over while
//! the runtime's thread is blocked or after the runtime is dropped.

mod common;

use common::{current_thread, echo_round_trip, multi_thread, pipe_pair_with};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::tokio::{TcpListener, TcpStream, UdpSocket};
use tunstack::Stack;

/// Two stacks over a pipe: A (10.0.0.2, fd00::2) and B (10.0.0.1,
/// fd00::1).
fn pair() -> (Arc<Stack>, Arc<Stack>) {
    let (a, b) = pipe_pair_with(|_| {});
    (Arc::new(a), Arc::new(b))
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Server echoes each connection with `tokio::io::copy` over split halves;
/// the client writes 4 MiB and reads it back concurrently.
async fn echo_4mib(a: Arc<Stack>, b: Arc<Stack>) {
    let l = TcpListener::bind(&b, "0.0.0.0:7").await.unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        n
    });
    let c = TcpStream::connect(&a, "10.0.0.1:7").await.unwrap();
    c.set_nodelay(true).unwrap();
    let data = pattern(4 << 20, 3);
    let (mut r, mut w) = c.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    let w = writer.await.unwrap();
    assert_eq!(server.await.unwrap(), data.len() as u64);
    assert!(back == data, "echoed bytes differ");
    let c = r.reunite(w).expect("same stream");
    assert_eq!(c.peer_addr().unwrap().to_string(), "10.0.0.1:7");
}

#[test]
fn echo_on_the_current_thread_runtime() {
    let (a, b) = pair();
    current_thread().block_on(echo_4mib(a, b));
}

#[test]
fn echo_on_the_multi_thread_runtime() {
    let (a, b) = pair();
    multi_thread().block_on(echo_4mib(a, b));
}

#[tokio::test]
async fn a_dropped_read_loses_no_bytes() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, "0.0.0.0:9").await.unwrap();
    let mut c = TcpStream::connect(&a, "10.0.0.1:9").await.unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    let mut buf = [0u8; 64];
    // Nothing there yet: the read is pending, then dropped.
    let r = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
    assert!(r.is_err(), "read completed with nothing sent");
    c.write_all(b"after the cancelled read").await.unwrap();
    c.shutdown().await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"after the cancelled read");
}

#[tokio::test]
async fn a_dropped_connect_leaves_no_connection() {
    let (a, _b) = pair();
    // Nobody answers for 10.0.0.77: the handshake stays in SYN-SENT.
    let r = tokio::time::timeout(
        Duration::from_millis(100),
        TcpStream::connect(&a, "10.0.0.77:80"),
    )
    .await;
    assert!(r.is_err(), "connect finished without a peer");
    // The abandoned connection is closed and freed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a.connection_count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} connections left after the connect was dropped",
            a.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn connect_refused_and_dropped_accept_is_harmless() {
    let (a, b) = pair();
    let e = TcpStream::connect(&a, ("10.0.0.1", 1)).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let l = TcpListener::bind(&b, ("0.0.0.0", 10)).await.unwrap();
    // An accept dropped while pending takes nothing from the queue.
    assert!(tokio::time::timeout(Duration::from_millis(30), l.accept())
        .await
        .is_err());
    let _c = TcpStream::connect(&a, "10.0.0.1:10").await.unwrap();
    let (s, peer) = l.accept().await.unwrap();
    assert_eq!(s.peer_addr().unwrap(), peer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_send_to_recv_from_and_connected() {
    let (a, b) = pair();
    let ua = UdpSocket::bind(&a, "0.0.0.0:0").await.unwrap();
    let ub = UdpSocket::bind(&b, "0.0.0.0:5300").await.unwrap();
    let receiver = tokio::spawn(async move {
        let mut buf = [0u8; 100];
        let (n, from) = ub.recv_from(&mut buf).await.unwrap();
        ub.send_to(&buf[..n], from).await.unwrap();
        (buf[..n].to_vec(), from)
    });
    ua.connect("10.0.0.1:5300").await.unwrap();
    ua.send(b"datagram").await.unwrap();
    let mut buf = [0u8; 100];
    let n = ua.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"datagram");
    let (got, from) = receiver.await.unwrap();
    assert_eq!(got, b"datagram");
    assert_eq!(from, ua.local_addr().unwrap());
}

#[test]
fn stopping_the_stack_fails_pending_operations() {
    let (a, b) = pair();
    let rt = current_thread();
    rt.block_on(async move {
        let l = TcpListener::bind(&b, "0.0.0.0:11").await.unwrap();
        let mut c = TcpStream::connect(&a, "10.0.0.1:11").await.unwrap();
        let _s = l.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            c.read(&mut buf).await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The reader holds no Stack; dropping ours stops the driver.
        assert!(Arc::try_unwrap(a).is_ok(), "only handle");
        let r = tokio::time::timeout(Duration::from_secs(20), reader)
            .await
            .expect("the pending read was woken")
            .unwrap();
        assert!(r.is_err(), "a read on a stopped stack must fail, got {r:?}");
    });
}

/// The names the dual-stack tests use, pinned (the resolver is the
/// process's: every test sets the same one). `dual.pipe` is the server
/// over both families; `v6dead.pipe` has an IPv6 address nobody holds.
fn pinned() -> tunstack::dns::Resolver {
    let mut r = tunstack::dns::Resolver::new(tunstack::dns::Hosts::default(), Vec::new());
    let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
    r.add_override("dual.pipe", Ipv4Addr::new(10, 0, 0, 1));
    r.add_override("dual.pipe", v6("fd00::1"));
    r.add_override("v6dead.pipe", Ipv4Addr::new(10, 0, 0, 1));
    r.add_override("v6dead.pipe", v6("fd00::9"));
    r
}

/// A name with both families resolves AAAA first (RFC 8305 §3), so the
/// connection goes over IPv6 to a dual-stack `[::]` listener; UDP carries
/// IPv6 datagrams both ways on a `[::]` socket.
#[test]
fn a_dual_stack_name_connects_over_ipv6_and_udp_speaks_ipv6() {
    let (a, b) = pair();
    tunstack::tokio::set_resolver(pinned());
    current_thread().block_on(async move {
        let ips = tunstack::tokio::lookup_host(&a, "dual.pipe").await.unwrap();
        let want: Vec<std::net::IpAddr> = vec![
            "fd00::1".parse().unwrap(),
            Ipv4Addr::new(10, 0, 0, 1).into(),
        ];
        assert_eq!(ips, want);
        let l = TcpListener::bind(&b, "[::]:9").await.unwrap();
        let server = tokio::spawn(async move {
            let (mut s, peer) = l.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.shutdown().await.unwrap();
            peer
        });
        let mut c = TcpStream::connect(&a, "dual.pipe:9").await.unwrap();
        assert_eq!(c.peer_addr().unwrap().to_string(), "[fd00::1]:9");
        c.write_all(b"hello").await.unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"hello");
        let peer = server.await.unwrap();
        assert_eq!(peer.ip().to_string(), "fd00::2");

        let ub = UdpSocket::bind(&b, "[::]:53").await.unwrap();
        let ua = UdpSocket::bind(&a, "[::]:0").await.unwrap();
        ua.send_to(b"ping", "[fd00::1]:53").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = ub.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from.ip().to_string()),
            (&b"ping"[..], "fd00::2".into())
        );
        ub.send_to(b"pong", from).await.unwrap();
        let (n, from) = ua.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from.to_string(), "[fd00::1]:53");
    });
}

/// Happy Eyeballs (RFC 8305): the IPv6 address goes nowhere, so IPv4
/// starts after the attempt delay (or at once if IPv6 is refused) and
/// wins.
#[test]
fn connect_falls_back_to_ipv4_when_ipv6_goes_nowhere() {
    let (a, b) = pair();
    tunstack::tokio::set_resolver(pinned());
    current_thread().block_on(async move {
        let l = TcpListener::bind(&b, "0.0.0.0:10").await.unwrap();
        let server = tokio::spawn(async move {
            let (mut s, peer) = l.accept().await.unwrap();
            s.write_all(b"v4").await.unwrap();
            s.shutdown().await.unwrap();
            peer
        });
        let mut c = TcpStream::connect(&a, "v6dead.pipe:10").await.unwrap();
        assert_eq!(c.peer_addr().unwrap().to_string(), "10.0.0.1:10");
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"v4");
        assert_eq!(server.await.unwrap().ip().to_string(), "10.0.0.2");
    });
}

/// A blocking-API echo of `n` bytes from `a` to a blocking server on
/// `b`'s `port`, each side in a thread of its own; returns what came back.
fn blocking_echo(a: &Arc<Stack>, b: &Arc<Stack>, port: u16, n: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let l = tunstack::net::TcpListener::bind(b, ("0.0.0.0", port)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf).unwrap() {
                0 => break,
                k => s.write_all(&buf[..k]).unwrap(),
            }
        }
    });
    let c = tunstack::net::TcpStream::connect(a, ("10.0.0.1", port)).unwrap();
    let back = echo_round_trip(c, pattern(n, 5));
    server.join().unwrap();
    back
}

#[test]
fn the_runtime_drives_the_stack_and_its_task_ends_with_the_stack() {
    let (a, b) = pair();
    current_thread().block_on(async move {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        // The first socket on each stack starts one driver task.
        let l = TcpListener::bind(&b, "0.0.0.0:20").await.unwrap();
        let c = TcpStream::connect(&a, "10.0.0.1:20").await.unwrap();
        assert_eq!(
            metrics.num_alive_tasks(),
            before + 2,
            "one driver per stack"
        );
        let (mut s, _) = l.accept().await.unwrap();
        let (mut cr, mut cw) = c.into_split();
        for i in 0..100u8 {
            cw.write_all(&[i]).await.unwrap();
            let mut b1 = [0u8; 1];
            s.read_exact(&mut b1).await.unwrap();
            s.write_all(&b1).await.unwrap();
            cr.read_exact(&mut b1).await.unwrap();
            assert_eq!(b1[0], i);
        }
        // A blocking user in another thread shares the driven stacks.
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let back = tokio::task::spawn_blocking(move || blocking_echo(&a2, &b2, 21, 1 << 20))
            .await
            .unwrap();
        assert!(back == pattern(1 << 20, 5), "blocking echo differs");
        drop((s, cr, cw, l));
        // Dropping the stacks inside the runtime stops them (no deadlock
        // with the driver tasks) and ends the tasks.
        assert!(Arc::try_unwrap(a).is_ok() && Arc::try_unwrap(b).is_ok());
        for _ in 0..1000 {
            if metrics.num_alive_tasks() == before {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(metrics.num_alive_tasks(), before, "driver tasks ended");
    });
}

#[test]
fn a_runtime_thread_blocked_in_a_system_call_does_not_stall_the_stack() {
    let (a, b) = pair();
    current_thread().block_on(async {
        // Both stacks driven by this runtime...
        let _la = TcpListener::bind(&a, "0.0.0.0:30").await.unwrap();
        let _lb = TcpListener::bind(&b, "0.0.0.0:30").await.unwrap();
        // ...whose only thread now blocks in a join, on work that needs
        // both stacks: their threads take the devices over.
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let back = std::thread::spawn(move || blocking_echo(&a2, &b2, 31, 256 * 1024))
            .join()
            .unwrap();
        assert!(back == pattern(256 * 1024, 5), "blocking echo differs");
        // And the runtime drives again once it runs.
        echo_4mib(Arc::clone(&a), Arc::clone(&b)).await;
    });
}

#[test]
fn after_the_runtime_is_dropped_the_stack_runs_on_and_another_runtime_drives_it() {
    let (a, b) = pair();
    current_thread().block_on(echo_4mib(Arc::clone(&a), Arc::clone(&b)));
    // The runtime is gone with its driver tasks: the threads drive.
    let back = blocking_echo(&a, &b, 40, 256 * 1024);
    assert!(back == pattern(256 * 1024, 5), "blocking echo differs");
    let rt = multi_thread();
    rt.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let _l = TcpListener::bind(&b, "0.0.0.0:41").await.unwrap();
        assert_eq!(
            metrics.num_alive_tasks(),
            before + 1,
            "the new runtime drives"
        );
    });
    rt.block_on(echo_4mib(a, b));
}

#[test]
fn timers_fire_while_the_runtime_drives_syn_retries_then_timeout() {
    // The peer end of the link is never read: every SYN is lost.
    let (da, _silent) = PipeDevice::pair(1500).unwrap();
    let mut config = Config {
        addr: Ipv4Addr::new(10, 0, 0, 2),
        ..Config::default()
    };
    config.tcp.initial_rto = Duration::from_millis(20);
    config.tcp.syn_retries = 3;
    let a = Stack::new(da, config).unwrap();
    current_thread().block_on(async {
        let e = TcpStream::connect(&a, "10.0.0.1:80").await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    });
    // The retries, each sent by a timer; counted once the failed
    // connection is reaped.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a.connection_count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connection never reaped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(a.stats().tcp_retransmits, 3);
}

#[test]
fn a_runtime_without_an_io_driver_leaves_the_device_to_the_thread() {
    let (a, b) = pair();
    // Only the timer: tunstack cannot register the device with this
    // runtime (tokio panics inside, caught), and the threads drive.
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async {
            let metrics = tokio::runtime::Handle::current().metrics();
            let tasks = metrics.num_alive_tasks();
            let l = TcpListener::bind(&b, "0.0.0.0:50").await.unwrap();
            assert_eq!(metrics.num_alive_tasks(), tasks, "no driver task");
            drop(l);
            echo_4mib(Arc::clone(&a), Arc::clone(&b)).await;
        });
}
