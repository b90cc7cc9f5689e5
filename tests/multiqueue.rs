//! A stack over a multiqueue TUN (`Config::queues`): many concurrent
//! connections in both directions and UDP both ways, every byte checked,
//! and every queue's own counters showing it carried traffic. Linux is
//! the peer (its sockets in the namespace the test creates).

mod common;

use common::{random_bytes, sha256, KERNEL, US};
use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tunstack::net::{Config, TcpListener, TcpStream, UdpSocket};
use tunstack::Stack;

const CONNS: usize = 24;
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
fn round_trip<S: Read + Write + Send + 'static>(mut w: S, mut r: S, data: Vec<u8>) -> Vec<u8>
where
    S: HalfClose,
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
                let s = TcpStream::connect(&*stack, (KERNEL, 5001)).expect("connect");
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
    let listener = TcpListener::bind(&*stack, (US, 7000)).expect("listen");
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
        assert!(out > 0, "queue {q} carried none of our connections: {after_out:?}");
        assert!(inn > 0, "queue {q} carried none of the kernel's connections");
    }
    let total = stack.stats();
    let sum: u64 = after_in.iter().map(|s| s.tcp_segments_in).sum();
    assert_eq!(total.tcp_segments_in, sum, "stats() is the sum of the queues");
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
    let sock = UdpSocket::bind(&*stack, (US, 5353)).expect("bind");
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
        assert!(s.udp_delivered > 0, "queue {q} delivered no datagram: {per:?}");
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
        let s = UdpSocket::bind(&*stack, (US, 0)).unwrap();
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
    let listener = TcpListener::bind(&*stack, (US, 8080)).unwrap();
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
