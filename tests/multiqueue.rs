//! A stack over a multiqueue TUN (`Config::queues`): many concurrent
//! connections in both directions and UDP both ways, every byte checked,
//! and every queue's own counters showing it carried traffic; with
//! offloads on (`TunConfig::offload`), every queue moving TSO batches
//! both ways over IPv4 and IPv6. Linux is the peer (its sockets in the
//! namespace the test creates).

mod common;

use common::{random_bytes, sha256, KERNEL, US};
use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tunstack::net::{Config, TcpListener, TcpStream, UdpSocket};
use tunstack::Stack;

/// Connections each way. The kernel steers a new flow to a queue by its
/// hash, so with four queues each must get some of them by chance: at 24
/// one queue was left without any about once in 250 runs, at 48 it is
/// once in about 250,000.
const CONNS: usize = 48;
const BYTES: usize = 64 * 1024;

fn stack(queues: usize) -> Arc<Stack> {
    Arc::new(common::netns_with(Config {
        queues,
        ..Config::default()
    }))
}

/// Echoes one connection of a kernel-side server until EOF.
fn kernel_echo_server(port: u16) {
    let l = std::net::TcpListener::bind((KERNEL, port)).expect("kernel bind");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Writes `data` on one thread while reading the echo on another.
fn round_trip<S>(mut w: S, mut r: S, data: Vec<u8>) -> Vec<u8>
where
    S: Read + Write + Send + 'static + HalfClose,
{
    let writer = std::thread::spawn(move || {
        w.write_all(&data).expect("write");
        w.half_close();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).expect("read");
    writer.join().expect("writer");
    got
}

trait HalfClose {
    fn half_close(&mut self);
}
impl HalfClose for TcpStream {
    fn half_close(&mut self) {
        self.shutdown(std::net::Shutdown::Write).expect("shutdown");
    }
}
impl HalfClose for std::net::TcpStream {
    fn half_close(&mut self) {
        self.shutdown(std::net::Shutdown::Write).expect("shutdown");
    }
}

fn tcp_both_ways(queues: usize) {
    let stack = stack(queues);
    let before = stack.queue_stats();
    assert_eq!(before.len(), queues);

    // tunstack clients -> kernel echo server.
    kernel_echo_server(5001);
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            let stack = Arc::clone(&stack);
            std::thread::spawn(move || {
                let data = random_bytes(BYTES, 1 + i as u64);
                let s = TcpStream::connect(&stack, (KERNEL, 5001)).expect("connect");
                let got = round_trip(s.try_clone().unwrap(), s, data.clone());
                assert_eq!(sha256(&got), sha256(&data), "client {i}: echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    let after_out = stack.queue_stats();

    // Kernel clients -> tunstack listener (bound on every queue).
    let listener = TcpListener::bind(&stack, (US, 7000)).expect("listen");
    let server = std::thread::spawn(move || {
        for _ in 0..CONNS {
            let (s, _) = listener.accept().expect("accept");
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut w = s.try_clone().unwrap();
                loop {
                    match (&s).read(&mut buf) {
                        Ok(0) => {
                            w.shutdown(std::net::Shutdown::Write).unwrap();
                            return;
                        }
                        Ok(n) => w.write_all(&buf[..n]).expect("echo write"),
                        Err(e) => panic!("echo read: {e}"),
                    }
                }
            });
        }
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            std::thread::spawn(move || {
                let data = random_bytes(BYTES, 100 + i as u64);
                let s = std::net::TcpStream::connect((US, 7000)).expect("kernel connect");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let got = round_trip(s.try_clone().unwrap(), s, data.clone());
                assert_eq!(sha256(&got), sha256(&data), "kernel client {i}");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("kernel client thread");
    }
    server.join().expect("accept loop");
    let after_in = stack.queue_stats();

    for q in 0..queues {
        let out = after_out[q].tcp_segments_in - before[q].tcp_segments_in;
        let inn = after_in[q].tcp_segments_in - after_out[q].tcp_segments_in;
        assert!(
            out > 0,
            "queue {q} carried none of our connections: {after_out:?}"
        );
        assert!(
            inn > 0,
            "queue {q} carried none of the kernel's connections"
        );
    }
    let total = stack.stats();
    let sum: u64 = after_in.iter().map(|s| s.tcp_segments_in).sum();
    assert_eq!(
        total.tcp_segments_in, sum,
        "stats() is the sum of the queues"
    );
}

#[test]
fn one_queue_carries_many_connections_both_ways() {
    tcp_both_ways(1);
}

#[test]
fn two_queues_carry_many_connections_both_ways() {
    tcp_both_ways(2);
}

#[test]
fn four_queues_carry_many_connections_both_ways() {
    tcp_both_ways(4);
}

#[test]
fn udp_both_ways_over_two_queues() {
    let stack = stack(2);
    // Kernel peers from many ports -> a tunstack socket bound on both
    // queues, which echoes each datagram back.
    let sock = UdpSocket::bind(&stack, (US, 5353)).expect("bind");
    let echo = {
        let sock = sock.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            for _ in 0..64 {
                let (n, from) = sock.recv_from(&mut buf).expect("recv");
                sock.send_to(&buf[..n], from).expect("send back");
            }
        })
    };
    for i in 0..64u32 {
        let k = std::net::UdpSocket::bind((KERNEL, 0)).unwrap();
        k.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let msg = format!("datagram {i}");
        k.send_to(msg.as_bytes(), (US, 5353)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = k.recv_from(&mut buf).expect("echo from tunstack");
        assert_eq!(&buf[..n], msg.as_bytes());
        assert_eq!(from, SocketAddr::V4(SocketAddrV4::new(US, 5353)));
    }
    echo.join().expect("echo thread");
    let per = stack.queue_stats();
    for (q, s) in per.iter().enumerate() {
        assert!(
            s.udp_delivered > 0,
            "queue {q} delivered no datagram: {per:?}"
        );
    }
    assert_eq!(per.iter().map(|s| s.udp_no_socket).sum::<u64>(), 0);

    // tunstack sockets (ephemeral ports) -> a kernel echo socket.
    let k = std::net::UdpSocket::bind((KERNEL, 6000)).unwrap();
    let kecho = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..32 {
            let (n, from) = k.recv_from(&mut buf).unwrap();
            k.send_to(&buf[..n], from).unwrap();
        }
    });
    for i in 0..32u32 {
        let s = UdpSocket::bind(&stack, (US, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.connect((KERNEL, 6000)).unwrap();
        let msg = format!("ours {i}");
        s.send(msg.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf).expect("kernel echo");
        assert_eq!(&buf[..n], msg.as_bytes());
    }
    kecho.join().unwrap();
}

/// A listener in non-blocking mode on a multiqueue stack: `accept`
/// returns `WouldBlock` with nothing queued on any queue, then each
/// connection once, whichever queue it arrived on.
#[test]
fn nonblocking_accept_takes_from_every_queue() {
    let stack = stack(2);
    let listener = TcpListener::bind(&stack, (US, 8080)).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    let kernel: Vec<_> = (0..16)
        .map(|_| std::net::TcpStream::connect((US, 8080)).unwrap())
        .collect();
    let mut peers = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while peers.len() < kernel.len() && std::time::Instant::now() < deadline {
        match listener.accept() {
            Ok((_, peer)) => peers.push(peer),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    let mut want: Vec<_> = kernel.iter().map(|s| s.local_addr().unwrap()).collect();
    want.sort();
    peers.sort();
    assert_eq!(peers, want, "every connection accepted once");
    let per = stack.queue_stats();
    assert!(per.iter().all(|s| s.tcp_segments_in > 0), "{per:?}");
}

/// An IPv4 header (`ihl` words) for `proto`, total length of `payload`.
fn ipv4(proto: u8, ihl: u8, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
    let hl = usize::from(ihl) * 4;
    let mut p = vec![0u8; hl];
    p[0] = 0x40 | ihl;
    let total = (hl + payload.len()) as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&flags_frag.to_be_bytes());
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&KERNEL.octets());
    p[16..20].copy_from_slice(&US.octets());
    p.extend_from_slice(payload);
    p
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = next;
    p[7] = 64;
    p[8..24].copy_from_slice(&common::KERNEL6.octets());
    p[24..40].copy_from_slice(&common::US6.octets());
    p.extend_from_slice(payload);
    p
}

/// Source and destination port, then 16 more bytes (a TCP or UDP head).
fn ports(src: u16, dst: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&src.to_be_bytes());
    t[2..4].copy_from_slice(&dst.to_be_bytes());
    t
}

/// The steering program, run by the kernel on crafted packets, returns
/// exactly `wire::steer::flow_hash` of the ports that matter (the quoted
/// packet's for ICMP errors), and 0 where there are none to read.
#[test]
fn steering_program_in_the_kernel_matches_flow_hash() {
    use tunstack::device::tun_mq::run_steering;
    use tunstack::wire::steer::flow_hash;
    common::require_root();
    let h = |a, b| u32::from(flow_hash(a, b));
    // TCP and UDP, with and without IPv4 options.
    assert_eq!(
        run_steering(&ipv4(6, 5, 0x4000, &ports(40000, 80))).unwrap(),
        h(40000, 80)
    );
    assert_eq!(
        run_steering(&ipv4(17, 7, 0, &ports(5353, 6000))).unwrap(),
        h(5353, 6000)
    );
    // Fragments: the first (MF) and a later one (offset) both go to 0.
    assert_eq!(
        run_steering(&ipv4(17, 5, 0x2000, &ports(5353, 6000))).unwrap(),
        0
    );
    assert_eq!(
        run_steering(&ipv4(17, 5, 0x0010, &ports(5353, 6000))).unwrap(),
        0
    );
    // An ICMP error quoting a datagram we sent (our port first).
    let mut icmp = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend(ipv4(17, 6, 0, &ports(41000, 53)));
    assert_eq!(run_steering(&ipv4(1, 5, 0, &icmp)).unwrap(), h(53, 41000));
    // A packet too short for its ports reads past the end: 0.
    assert_eq!(run_steering(&ipv4(6, 5, 0, &[0x9c])).unwrap(), 0);
    // IPv6: TCP, an ICMPv6 error quoting TCP, an extension header.
    assert_eq!(
        run_steering(&ipv6(6, &ports(443, 50001))).unwrap(),
        h(443, 50001)
    );
    let mut icmp6 = vec![1u8, 4, 0, 0, 0, 0, 0, 0];
    icmp6.extend(ipv6(6, &ports(50002, 443)));
    assert_eq!(run_steering(&ipv6(58, &icmp6)).unwrap(), h(50002, 443));
    assert_eq!(run_steering(&ipv6(0, &ports(443, 50001))).unwrap(), 0);
    // Not IP at all.
    assert!(run_steering(&[0x10, 0, 0, 0]).is_err());
}

/// The mio-shaped `Poll` on a two-queue stack: a listener (bound on both
/// queues) reports kernel clients from either queue, and non-blocking
/// connects on both queues report writable once established.
#[test]
fn poll_sees_listeners_and_connections_on_every_queue() {
    use tunstack::net::{Events, Interest, Poll, Token};
    let stack = stack(2);
    let kernel = std::net::TcpListener::bind((KERNEL, 5002)).unwrap();
    let listener = TcpListener::bind(&stack, (US, 9000)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let poll = Poll::new(&stack);
    poll.register(&listener, Token(0), Interest::READABLE)
        .unwrap();
    let ours: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect_nonblocking(&stack, SocketAddrV4::new(KERNEL, 5002)).unwrap())
        .collect();
    for (i, s) in ours.iter().enumerate() {
        poll.register(s, Token(100 + i), Interest::WRITABLE)
            .unwrap();
    }
    let theirs: Vec<_> = (0..8)
        .map(|_| std::net::TcpStream::connect((US, 9000)).unwrap())
        .collect();
    let mut accepted = Vec::new();
    let mut writable = std::collections::BTreeSet::new();
    let mut events = Events::with_capacity(64);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (accepted.len() < theirs.len() || writable.len() < ours.len())
        && std::time::Instant::now() < deadline
    {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .unwrap();
        for ev in &events {
            if ev.token() == Token(0) {
                loop {
                    match listener.accept() {
                        Ok((s, _)) => accepted.push(s),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("accept: {e}"),
                    }
                }
            } else if ev.is_writable() {
                assert!(!ev.is_error(), "connection {:?} failed", ev.token());
                writable.insert(ev.token().0);
            }
        }
    }
    assert_eq!(accepted.len(), theirs.len(), "every kernel client accepted");
    assert_eq!(writable.len(), ours.len(), "every connect reported");
    for s in &ours {
        s.peer_addr().expect("connected");
    }
    let per = stack.queue_stats();
    assert!(per.iter().all(|s| s.tcp_segments_in > 0), "{per:?}");
    drop(kernel);
}

/// A read timeout on a socket bound on two queues gives `WouldBlock`
/// after the timeout, as on one queue; a datagram arriving on either
/// queue ends the wait.
#[test]
fn udp_read_timeout_spans_every_queue() {
    let stack = stack(2);
    let sock = UdpSocket::bind(&stack, (US, 5454)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        sock.recv_from(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut queues_hit = std::collections::BTreeSet::new();
    for src in 40000u16..40016 {
        let k = std::net::UdpSocket::bind((KERNEL, src)).unwrap();
        k.send_to(b"x", (US, 5454)).unwrap();
        let (n, from) = sock.recv_from(&mut buf).expect("datagram");
        assert_eq!((n, from.port()), (1, src));
        queues_hit.insert(tunstack::wire::steer::flow_queue(src, 5454, 2));
    }
    assert_eq!(queues_hit.len(), 2, "the datagrams came over both queues");
}

/// `Config::queues` outside 1..=MAX_QUEUES is refused with `InvalidInput`
/// before any device is touched.
#[test]
fn queue_counts_out_of_range_are_invalid_input() {
    common::enter_netns();
    for queues in [0, tunstack::net::MAX_QUEUES + 1, usize::MAX] {
        let e = Stack::open_tun(
            &tunstack::device::TunConfig::default(),
            Config {
                queues,
                ..Config::default()
            },
        )
        .expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{queues}: {e}");
    }
}

/// IPv6 on two queues: our connections and the kernel's, every byte
/// intact, both queues used.
#[test]
fn ipv6_connections_both_ways_over_two_queues() {
    use common::{KERNEL6, US6};
    use std::net::SocketAddrV6;
    let stack = stack(2);
    let kl = std::net::TcpListener::bind(SocketAddrV6::new(KERNEL6, 5004, 0, 0)).unwrap();
    let kernel_side = std::thread::spawn(move || {
        for _ in 0..8 {
            let (mut s, _) = kl.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
        }
    });
    for i in 0..8u64 {
        let data = random_bytes(16 * 1024, 300 + i);
        let mut s = TcpStream::connect(&stack, SocketAddrV6::new(KERNEL6, 5004, 0, 0)).unwrap();
        s.write_all(&data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(sha256(&got), sha256(&data), "ours {i}");
    }
    kernel_side.join().unwrap();
    let l = TcpListener::bind(&stack, SocketAddrV6::new(US6, 7200, 0, 0)).unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..8 {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
        }
    });
    for i in 0..8u64 {
        let data = random_bytes(16 * 1024, 400 + i);
        let mut s = std::net::TcpStream::connect(SocketAddrV6::new(US6, 7200, 0, 0)).unwrap();
        s.write_all(&data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(sha256(&got), sha256(&data), "kernel's {i}");
    }
    server.join().unwrap();
    let per = stack.queue_stats();
    assert!(per.iter().all(|s| s.tcp_segments_in > 0), "{per:?}");
}

/// A datagram larger than the MTU arrives in fragments, which carry no
/// ports past the first: the steering program puts every fragment on
/// queue 0, which reassembles it, and the socket (bound on both queues)
/// receives it whole.
#[test]
fn fragmented_datagrams_reassemble_on_queue_zero() {
    let stack = stack(2);
    let sock = UdpSocket::bind(&stack, (US, 5555)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 8192];
    for src in 41000u16..41008 {
        let k = std::net::UdpSocket::bind((KERNEL, src)).unwrap();
        let data = random_bytes(4000, u64::from(src));
        k.send_to(&data, (US, 5555)).unwrap();
        let (n, from) = sock.recv_from(&mut buf).expect("reassembled datagram");
        assert_eq!(from.port(), src);
        assert_eq!(&buf[..n], &data[..]);
    }
    let per = stack.queue_stats();
    assert_eq!(per[0].frag_reassembled, 8, "{per:?}");
    assert_eq!(per[1].frag_received, 0, "no fragment on queue 1: {per:?}");
}

/// Echo requests land on whichever queue their bytes hash to; every
/// shard answers them (they need no state).
#[test]
fn ping_is_answered_over_two_queues() {
    let stack = stack(2);
    common::run("ping", &["-c", "8", "-i", "0.01", "-W", "2", "10.0.0.2"]);
    let per = stack.queue_stats();
    let replies: u64 = per.iter().map(|s| s.icmp_echo_replies).sum();
    assert!(replies >= 8, "{per:?}");
}

/// Two offload queues (`TunConfig { offload: true }`, `queues: 2`): two
/// connections, one per queue, each sends 16 MiB to the kernel and
/// receives 16 MiB back, every byte checked; each queue's own counters
/// show TSO batches written, reads larger than the MTU (the kernel's
/// batches), payload read straight into a receive buffer (copy-once),
/// and no checksum counted bad.
fn offload_on_every_queue(f: common::Family) {
    use tunstack::device::{Offload, TunConfig};
    const LEN: usize = 16 << 20;
    const MTU: u64 = 1500;
    common::enter_netns();
    let tun = TunConfig {
        offload: true,
        ..TunConfig::default()
    };
    let stack = Stack::open_tun(
        &tun,
        Config {
            queues: 2,
            ..Config::default()
        },
    )
    .expect("open tun0 with two offload queues");
    assert_eq!(
        stack.offload(),
        Offload {
            tso: true,
            rx_checksum: true
        }
    );
    let listener = std::net::TcpListener::bind(f.kernel_at(9100)).expect("kernel bind");
    let kernel = std::thread::spawn(move || {
        let peers: Vec<_> = (0..2u64)
            .map(|i| {
                let (mut s, _) = listener.accept().expect("kernel accept");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                std::thread::spawn(move || {
                    let mut got = Vec::with_capacity(LEN);
                    s.read_to_end(&mut got).expect("kernel read");
                    // Back: the bytes received, hashed, then our own.
                    let back = random_bytes(LEN, 900 + i);
                    s.write_all(&back).expect("kernel write");
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                    (sha256(&got), sha256(&back))
                })
            })
            .collect();
        peers
            .into_iter()
            .map(|p| p.join().expect("kernel peer"))
            .collect::<Vec<_>>()
    });
    let before = stack.queue_stats();
    // `connect` hands shards out in turn: one connection per queue.
    let conns: Vec<_> = (0..2u64)
        .map(|i| {
            let s = TcpStream::connect(&stack, f.kernel_at(9100)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            std::thread::spawn(move || {
                let data = random_bytes(LEN, 800 + i);
                let mut w = s.try_clone().unwrap();
                w.write_all(&data).expect("write");
                w.shutdown(std::net::Shutdown::Write).expect("shutdown");
                let mut got = Vec::with_capacity(LEN);
                (&s).read_to_end(&mut got).expect("read");
                (sha256(&data), sha256(&got))
            })
        })
        .collect();
    let ours: Vec<_> = conns.into_iter().map(|c| c.join().expect("conn")).collect();
    let theirs = kernel.join().expect("kernel side");
    // The kernel accepted in SYN order, which may differ from ours.
    for (sent, got) in &ours {
        assert!(
            theirs
                .iter()
                .any(|(k_got, k_sent)| k_got == sent && k_sent == got),
            "bytes differ: ours {ours:?}, the kernel's {theirs:?}"
        );
    }
    let after = stack.queue_stats();
    for q in 0..2 {
        let (b, a) = (&before[q], &after[q]);
        let tso = a.tcp_tso_out - b.tcp_tso_out;
        let rx_packets = a.rx_packets - b.rx_packets;
        let rx_bytes = a.rx_bytes - b.rx_bytes;
        let direct = a.rx_direct - b.rx_direct;
        eprintln!(
            "{f:?} queue {q}: {tso} TSO batches out, {rx_packets} packets in, \
             {} bytes each on average, {direct} read copy-once",
            rx_bytes / rx_packets.max(1)
        );
        assert!(tso > 0, "queue {q} wrote no TSO batch: {a:?}");
        assert!(
            rx_bytes / rx_packets.max(1) > MTU,
            "queue {q} read no batches larger than the MTU: {a:?}"
        );
        assert!(direct > 0, "queue {q} read nothing copy-once: {a:?}");
        assert_eq!(a.tcp_bad_checksum, 0, "queue {q}");
        assert_eq!(a.rx_errors + a.tx_errors, 0, "queue {q}");
    }
    assert!(stack.shutdown(Duration::from_secs(5)), "clean close");
}

per_family!(offload_on_every_queue);
