//! One `mio::Poll` waits on tunstack sockets and an OS socket together
//! (feature `mio`), and the stack-wide readiness eventfd wakes a plain
//! poll(2). Over an in-memory link and the loopback; no root.

use mio::net::UdpSocket as MioUdp;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::Duration;
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::{Stack, TcpListener, TcpStream};

fn pair() -> (Stack, Stack) {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let mk = |d, addr| {
        Stack::new(
            d,
            Config {
                addr,
                ..Config::default()
            },
        )
        .unwrap()
    };
    (
        mk(da, Ipv4Addr::new(10, 0, 0, 2)),
        mk(db, Ipv4Addr::new(10, 0, 0, 1)),
    )
}

const LISTENER: Token = Token(0);
const OS_UDP: Token = Token(1);
const CONN: Token = Token(2);

#[test]
fn one_mio_poll_serves_tunstack_and_os_sockets() {
    let (a, b) = pair();
    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind(&b, "0.0.0.0:80").unwrap();
    listener.set_nonblocking(true).unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut os = MioUdp::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut os, OS_UDP, Interest::READABLE)
        .unwrap();
    let os_addr = os.local_addr().unwrap();

    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(&a, "10.0.0.1:80").unwrap();
        c.write_all(&sent).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"from the kernel", os_addr)
            .unwrap();
        // Keep the stack until the server has read everything.
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        rest
    });

    let mut events = Events::with_capacity(16);
    let mut conn: Option<TcpStream> = None;
    let mut got = Vec::new();
    let (mut eof, mut datagram) = (false, None);
    let mut buf = vec![0u8; 65536];
    while !(eof && datagram.is_some()) {
        poll.poll(&mut events, Some(Duration::from_secs(20)))
            .unwrap();
        assert!(!events.is_empty(), "no event in 20 s");
        for ev in events.iter() {
            match ev.token() {
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut s, _)) => {
                            s.set_nonblocking(true).unwrap();
                            poll.registry()
                                .register(&mut s, CONN, Interest::READABLE)
                                .unwrap();
                            conn = Some(s);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("accept: {e}"),
                    }
                },
                CONN => {
                    let Some(s) = conn.as_mut() else { continue };
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => {
                                eof = true;
                                break;
                            }
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("read: {e}"),
                        }
                    }
                }
                OS_UDP => {
                    if let Ok((n, _)) = os.recv_from(&mut buf) {
                        datagram = Some(buf[..n].to_vec());
                    }
                }
                t => panic!("unknown token {t:?}"),
            }
        }
    }
    assert!(got == payload, "bytes read through mio differ");
    assert_eq!(datagram.as_deref(), Some(&b"from the kernel"[..]));
    let mut s = conn.expect("accepted");
    poll.registry().deregister(&mut s).unwrap();
    drop(s);
    assert!(client.join().unwrap().is_empty());
}

#[test]
fn stack_readiness_fd_wakes_poll_and_stays_quiet_when_idle() {
    let (a, b) = pair();
    let fd = b.readiness_fd().unwrap();
    let wait = |ms: i32| {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&mut p, 1, ms) }
    };
    let l = TcpListener::bind(&b, "0.0.0.0:81").unwrap();
    let mut c = TcpStream::connect(&a, "10.0.0.1:81").unwrap();
    let (mut s, _) = l.accept().unwrap();
    // Let the handshake's last segments settle, then start from quiet.
    std::thread::sleep(Duration::from_millis(300));
    fd.clear();
    assert_eq!(wait(500), 0, "an idle stack signalled its readiness fd");
    c.write_all(b"wake up").unwrap();
    assert_eq!(wait(20_000), 1, "data arrived but the fd stayed quiet");
    assert!(fd.clear());
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"wake up");
}
