//! The poller hand-off (src/net/poller.rs) over an in-memory link (no
//! root): a thread blocked in a socket call polls the device itself when
//! nobody else does, and the driver takes what arrives while no thread
//! waits. These tests check what must hold whoever polls: threads blocked
//! on different connections all progress, a thread blocked on one
//! connection lets the timers of the others fire, no wake-up is lost
//! while the role moves back and forth, and dropping the stack frees a
//! blocked thread. Every blocking call has a generous timeout, so a lost
//! wake-up fails the test instead of hanging it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tunstack::device::{Device, PipeDevice};
use tunstack::net::Config;
use tunstack::{Stack, TcpListener, TcpStream};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Far longer than any of these steps takes: only a lost wake-up reaches it.
const PATIENCE: Duration = Duration::from_secs(30);

fn stack<D: Device + Send + 'static>(dev: D, addr: Ipv4Addr) -> Stack {
    Stack::new(
        dev,
        Config {
            addr,
            ..Config::default()
        },
    )
    .unwrap()
}

fn pair() -> (Stack, Stack) {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    (stack(da, A), stack(db, B))
}

/// A connected pair: (client on `a`, server side on `b`), both with
/// [`PATIENCE`] as read and write timeout.
fn connected(a: &Stack, b: &Stack, port: u16) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, ("0.0.0.0", port)).unwrap();
    let c = TcpStream::connect(a, SocketAddrV4::new(B, port)).unwrap();
    let (s, _) = l.accept().unwrap();
    for x in [&c, &s] {
        x.set_read_timeout(Some(PATIENCE)).unwrap();
        x.set_write_timeout(Some(PATIENCE)).unwrap();
        x.set_nodelay(true).unwrap();
    }
    (c, s)
}

#[test]
fn threads_blocked_on_different_connections_all_progress() {
    let (a, b) = pair();
    let (c1, s1) = connected(&a, &b, 81);
    let (c2, s2) = connected(&a, &b, 82);
    // The first to block (and so most likely the leader) waits on a
    // connection that stays silent until the end.
    let quiet = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = (&c1).read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    // The second echoes 200 requests on the other connection, each of
    // which must reach it while the first thread is still blocked.
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        for _ in 0..200 {
            let n = (&c2).read(&mut buf).unwrap();
            assert!(n > 0, "early end of stream");
            (&c2).write_all(&buf[..n]).unwrap();
        }
    });
    for i in 0..200u32 {
        let req = i.to_be_bytes();
        (&s2).write_all(&req).unwrap();
        let mut resp = [0u8; 4];
        (&s2).read_exact(&mut resp).unwrap();
        assert_eq!(resp, req);
    }
    echo.join().unwrap();
    assert!(
        !quiet.is_finished(),
        "the quiet reader returned with no data"
    );
    (&s1).write_all(b"last").unwrap();
    assert_eq!(quiet.join().unwrap(), b"last");
}

/// A device that drops the next TCP segment with a payload once armed.
struct DropNextData {
    inner: PipeDevice,
    armed: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

impl Device for DropNextData {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        // IPv4 without options and TCP without options are 40 bytes; the
        // SYN and pure ACKs of this test carry options or nothing.
        let total = packet
            .get(2..4)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let tcp_header = packet.get(32).map_or(20, |b| usize::from(b >> 4) * 4);
        let payload = total.saturating_sub(20 + tcp_header);
        if payload > 0 && self.armed.swap(false, Ordering::SeqCst) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        self.inner.send(packet)
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_raw_fd()
    }
}

#[test]
fn a_thread_blocked_on_one_connection_lets_the_timers_of_others_fire() {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let a = stack(
        DropNextData {
            inner: da,
            armed: Arc::clone(&armed),
            dropped: Arc::clone(&dropped),
        },
        A,
    );
    let b = stack(db, B);
    let (c1, s1) = connected(&a, &b, 83);
    let (c2, s2) = connected(&a, &b, 84);
    // Blocked on c1 for the whole test: with no other thread blocked on
    // stack a, it is the one that waits on a's device and timer.
    let blocked = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = (&c1).read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    // The segment is lost: only c2's retransmission timer brings it over,
    // while no thread of this test calls into stack a.
    armed.store(true, Ordering::SeqCst);
    (&c2).write_all(b"retransmitted").unwrap();
    let mut got = [0u8; 13];
    (&s2).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"retransmitted");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the first copy was dropped"
    );
    assert!(
        c2.tcp_stats().unwrap().retransmits >= 1,
        "arrived by retransmission"
    );
    assert!(!blocked.is_finished());
    (&s1).write_all(b"done").unwrap();
    assert_eq!(blocked.join().unwrap(), b"done");
}

#[test]
fn request_response_ping_pong_loses_no_wake_up() {
    // Each side alternates between leading (blocked in read) and sending
    // inline; every request needs the previous response, so one lost
    // wake-up stalls the exchange until the 30 s read timeout fails it.
    let (a, b) = pair();
    let (c, s) = connected(&a, &b, 85);
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut served = 0u32;
        loop {
            let n = (&s).read(&mut buf).unwrap();
            if n == 0 {
                return served;
            }
            (&s).write_all(&buf[..n]).unwrap();
            served += 1;
        }
    });
    for i in 0..3000u32 {
        let req = i.to_le_bytes();
        (&c).write_all(&req).unwrap();
        let mut resp = [0u8; 4];
        (&c).read_exact(&mut resp).unwrap();
        assert_eq!(resp, req, "round trip {i}");
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(server.join().unwrap(), 3000);
}

#[test]
fn dropping_the_stack_frees_a_thread_blocked_in_read() {
    let (a, b) = pair();
    let (c, _s) = connected(&a, &b, 86);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        (&c).read(&mut buf)
    });
    // Whether or not the reader is asleep yet, it must return an error
    // (not its 30 s timeout, which reads as WouldBlock) once a is gone.
    std::thread::sleep(Duration::from_millis(50));
    drop(a);
    let r = reader.join().unwrap();
    let e = r.expect_err("read on a stopped stack");
    assert_ne!(e.kind(), ErrorKind::WouldBlock, "{e}");
}

/// An IPv4 UDP datagram from 10.0.0.1:9 to `A`:`port` (UDP checksum 0:
/// none, as IPv4 allows).
fn udp_packet(port: u16, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&B.octets());
    p[16..20].copy_from_slice(&A.octets());
    let sum = (0..20)
        .step_by(2)
        .map(|i| u32::from(u16::from_be_bytes([p[i], p[i + 1]])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    p[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    p[20..22].copy_from_slice(&9u16.to_be_bytes());
    p[22..24].copy_from_slice(&port.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

#[test]
fn a_burst_is_read_whole_after_the_reader_it_woke_returns() {
    // 200 datagrams (a poll reads 64) arrive back to back while the only
    // blocked thread, which waits on the device, takes one and returns
    // for good. The rest must still be read although no thread calls
    // into the stack again: by the driver, woken by the later arrivals or
    // told by the returning reader that it left packets queued.
    let (da, mut raw) = PipeDevice::pair(1500).unwrap();
    let a = stack(da, A);
    let sock = tunstack::UdpSocket::bind(&a, (A, 5353)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        sock.recv_from(&mut buf).map(|(n, _)| (n, sock))
    });
    // Let the reader block (it works whichever thread reads first).
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..200u32 {
        raw.send(&udp_packet(5353, &i.to_be_bytes())).unwrap();
    }
    let (n, _sock) = reader.join().unwrap().unwrap();
    assert_eq!(n, 4);
    let start = std::time::Instant::now();
    while a.stats().rx_packets < 200 {
        assert!(
            start.elapsed() < PATIENCE,
            "only {} of 200 datagrams read",
            a.stats().rx_packets
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
