//! The socket API over an in-memory link (no root): two stacks joined by a
//! `PipeDevice` pair, each with its own driver thread and real clock.
//! Covers std::net parity, every ErrorKind, blocking and non-blocking
//! modes, timeouts (deadline reached, never exact times), UDP and Poll.
//! Each test runs over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`): A is
//! 10.0.0.2 / fd00::2, B 10.0.0.1 / fd00::1.

mod common;

use common::{pipe_pair_with, Family};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::net::{Events, Interest, Poll, Token};
use tunstack::{Stack, TcpListener, TcpStream, UdpSocket};

fn pair() -> (Stack, Stack) {
    pipe_pair_with(|_| {})
}

/// A connection over `f` from `a` to `b`'s `port`: (client, server).
fn connected(f: Family, a: &Stack, b: &Stack, port: u16) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, f.any(port)).unwrap();
    let c = TcpStream::connect(a, f.kernel_at(port)).unwrap();
    let (s, peer) = l.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    (c, s)
}

fn connect_accept_addresses_and_echo_both_ways_on_two_threads(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b, 80);
    assert_eq!(c.peer_addr().unwrap(), f.kernel_at(80));
    assert_eq!(s.local_addr().unwrap(), f.kernel_at(80));
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7) as u8).collect();
    let s = Arc::new(s);
    let echo = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = (&*s).read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                (&*s).write_all(&buf[..n]).unwrap();
            }
            s.shutdown(Shutdown::Write).unwrap();
        })
    };
    let c = Arc::new(c);
    let writer = {
        let c = Arc::clone(&c);
        let data = data.clone();
        std::thread::spawn(move || {
            (&*c).write_all(&data).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut got = Vec::new();
    (&*c).read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    assert!(
        got == data,
        "echoed bytes differ ({} of {})",
        got.len(),
        data.len()
    );
}

fn refused_addr_in_use_not_connected_and_invalid_input(f: Family) {
    let (a, b) = pair();
    let e = TcpStream::connect(&a, f.kernel_at(9)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let _l = TcpListener::bind(&b, f.any(80)).unwrap();
    assert_eq!(
        TcpListener::bind(&b, f.any(80)).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    // Addresses no segment of ours can reach fail at once, as Linux's
    // ENETUNREACH, instead of retrying SYNs into the void.
    for bad in ["[::1]:80", "127.0.0.1:80", "[ff02::1]:80", "0.0.0.0:80"] {
        let addr: SocketAddr = bad.parse().unwrap();
        assert_eq!(
            TcpStream::connect(&a, addr).unwrap_err().kind(),
            ErrorKind::NetworkUnreachable,
            "{bad}"
        );
    }
    let l0 = TcpListener::bind(&b, f.any(0)).unwrap();
    assert_ne!(
        l0.local_addr().unwrap().port(),
        0,
        "port 0 picks an ephemeral port"
    );
    let (c, _s) = connected(f, &a, &b, 81);
    assert_eq!(
        c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        c.set_write_timeout(Some(Duration::ZERO))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    // After a reset the stream reports ConnectionReset, and BrokenPipe after
    // our own shutdown.
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
}

fn reset_by_peer_and_take_error(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b, 82);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    let e = (&c).read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    assert_eq!(
        c.take_error().unwrap().map(|e| e.kind()),
        Some(ErrorKind::ConnectionReset)
    );
}

fn read_timeout_returns_would_block_and_eof_after_fin(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b, 83);
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(200)));
    let t0 = Instant::now();
    assert_eq!(
        (&c).read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(t0.elapsed() >= Duration::from_millis(200));
    (&s).write_all(b"bye").unwrap();
    drop(s);
    let mut all = Vec::new();
    (&c).read_to_end(&mut all).unwrap();
    assert_eq!(all, b"bye");
    assert_eq!((&c).read(&mut [0u8; 8]).unwrap(), 0, "EOF stays EOF");
}

fn nonblocking_modes_and_a_full_send_buffer(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b, 84);
    c.set_nonblocking(true).unwrap();
    assert_eq!(
        (&c).read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    // The peer does not read: our writes fill both buffers, then WouldBlock.
    let chunk = vec![5u8; 64 * 1024];
    let mut written = 0usize;
    let t0 = Instant::now();
    loop {
        match (&c).write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "never filled");
    }
    assert!(written >= 256 * 1024, "{written}");
    // In-flight data is still being acknowledged, which frees our send
    // buffer again. Keep writing until nothing more can move: the peer
    // (which never reads) has advertised a zero window with less than one
    // MSS of its receive buffer left (receiver SWS avoidance keeps it shut
    // until a full segment fits), and our send buffer is full. Only then is a blocking
    // write certain to block.
    let peer_buffer = s.recv_buffer_size().unwrap();
    let t0 = Instant::now();
    loop {
        match (&c).write(&chunk) {
            Ok(n) => {
                written += n;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        let (ours, peer) = (c.info().unwrap(), s.info().unwrap());
        if peer.recv_window == 0
            && peer.recv_queue + ours.mss > peer_buffer
            && ours.send_window == 0
            && ours.send_queue > 0
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the peer's window never closed: ours {ours:?}, peer {peer:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A blocking write with a timeout waits for the timeout, then reports
    // WouldBlock, as Linux's SO_SNDTIMEO does when nothing was written.
    c.set_nonblocking(false).unwrap();
    c.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let t0 = Instant::now();
    let e = (&c)
        .write(&chunk)
        .expect_err("a write into full buffers must time out");
    let waited = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
        "the write timed out after {waited:?}, not 200 ms"
    );
    // Draining on the other side lets everything through.
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = (&s).read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert_eq!(got, written);
    let l = TcpListener::bind(&b, f.any(85)).unwrap();
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

fn nonblocking_connect_completes_when_writable(f: Family) {
    let (a, b) = pair();
    let _l = TcpListener::bind(&b, f.any(86)).unwrap();
    let c = TcpStream::connect_nonblocking(&a, f.kernel_at(86)).unwrap();
    let poll = Poll::new(&a);
    poll.register(&c, Token(1), Interest::WRITABLE).unwrap();
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let ev = events.iter().next().expect("writable event");
    assert!(ev.is_writable() && ev.token() == Token(1));
    assert!(c.take_error().unwrap().is_none());
    // And a refused one reports an error event.
    let r = TcpStream::connect_nonblocking(&a, f.kernel_at(9)).unwrap();
    poll.register(&r, Token(2), Interest::WRITABLE).unwrap();
    let t0 = Instant::now();
    let mut saw = false;
    while !saw && t0.elapsed() < Duration::from_secs(5) {
        poll.poll(&mut events, Some(Duration::from_millis(500)))
            .unwrap();
        saw = events.iter().any(|e| e.token() == Token(2) && e.is_error());
    }
    assert!(saw);
    assert_eq!(
        r.take_error().unwrap().map(|e| e.kind()),
        Some(ErrorKind::ConnectionRefused)
    );
}

fn poll_serves_many_nonblocking_clients_from_one_thread(f: Family) {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, f.any(7)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let poll = Poll::new(&b);
    poll.register(&listener, Token(0), Interest::READABLE)
        .unwrap();
    const CLIENTS: usize = 200;
    let server = std::thread::spawn(move || {
        let mut conns: Vec<Option<TcpStream>> = Vec::new();
        let mut events = Events::with_capacity(256);
        let mut done = 0;
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        while done < CLIENTS {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "server stuck at {done}"
            );
            poll.poll(&mut events, Some(Duration::from_millis(200)))
                .unwrap();
            for ev in &events {
                if ev.token() == Token(0) {
                    loop {
                        match listener.accept() {
                            Ok((s, _)) => {
                                s.set_nonblocking(true).unwrap();
                                poll.register(&s, Token(conns.len() + 1), Interest::READABLE)
                                    .unwrap();
                                conns.push(Some(s));
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    continue;
                }
                let i = ev.token().0 - 1;
                let Some(s) = conns[i].as_ref() else { continue };
                // Drain until WouldBlock (mio's contract).
                loop {
                    match (&*s).read(&mut buf) {
                        Ok(0) => {
                            poll.deregister(ev.token()).unwrap();
                            conns[i] = None;
                            done += 1;
                            break;
                        }
                        Ok(n) => {
                            s.set_nonblocking(false).unwrap();
                            (&*s).write_all(&buf[..n]).unwrap();
                            s.set_nonblocking(true).unwrap();
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut c = TcpStream::connect(&a, f.kernel_at(7)).unwrap();
            let msg = format!("hello from client {i}");
            c.write_all(msg.as_bytes()).unwrap();
            (c, msg)
        })
        .collect();
    for (mut c, msg) in clients {
        let mut back = vec![0u8; msg.len()];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
        c.shutdown(Shutdown::Write).unwrap();
    }
    server.join().unwrap();
}

fn udp_send_recv_timeouts_and_poll(f: Family) {
    let (a, b) = pair();
    let ua = UdpSocket::bind(&a, f.any(0)).unwrap();
    let ub = UdpSocket::bind(&b, f.any(53)).unwrap();
    assert_eq!(
        UdpSocket::bind(&b, f.any(53)).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    ub.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(
        ub.recv_from(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let poll = Poll::new(&b);
    poll.register(&ub, Token(5), Interest::READABLE).unwrap();
    ua.send_to(b"ping", f.kernel_at(53)).unwrap();
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.token() == Token(5) && e.is_readable()));
    let mut buf = [0u8; 16];
    let (n, from) = ub.recv_from(&mut buf).unwrap();
    // From A's address of the family sent over, at A's port. (A socket
    // on either wildcard reports A's IPv4 address as its own, as a
    // listener taking both families does.)
    let port = ua.local_addr().unwrap().port();
    assert_eq!(
        (&buf[..n], from),
        (&b"ping"[..], SocketAddr::new(f.us(), port))
    );
    ub.send_to(b"pong", from).unwrap();
    let (n, back) = ua.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], back), (&b"pong"[..], f.kernel_at(53)));
    ub.set_nonblocking(true).unwrap();
    assert_eq!(
        ub.recv_from(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        ua.send_to(&[0u8; 2000], f.kernel_at(53))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

fn buffer_sizes_bound_what_a_write_accepts(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b, 87);
    assert_eq!(c.send_buffer_size().unwrap(), 256 * 1024);
    assert_eq!(
        c.set_send_buffer_size(0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    c.set_send_buffer_size(4096).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    assert_eq!(s.recv_buffer_size().unwrap(), 4096);
    c.set_nonblocking(true).unwrap();
    let mut accepted = 0;
    let t0 = Instant::now();
    // The peer does not read: at most its 4 KiB window plus our 4 KiB buffer.
    while t0.elapsed() < Duration::from_millis(500) {
        match (&c).write(&[1u8; 1000]) {
            Ok(n) => accepted += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!((4096..=8192 + 1000).contains(&accepted), "{accepted}");
}

fn timed_out_and_not_connected(f: Family) {
    let (a, _b) = pair();
    // Nobody owns 10.0.0.9 (fd00::9) on this link: SYNs go unanswered.
    let nobody = SocketAddr::new(f.host(9), 80);
    let t0 = Instant::now();
    let e = TcpStream::connect_timeout(&a, &nobody, Duration::from_millis(300)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        TcpStream::connect_timeout(&a, &nobody, Duration::ZERO)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let pending = TcpStream::connect_nonblocking(&a, nobody).unwrap();
    assert_eq!(
        (&pending).read(&mut [0u8; 4]).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(pending.state(), tunstack::tcp::State::SynSent);
}

per_family!(
    connect_accept_addresses_and_echo_both_ways_on_two_threads,
    refused_addr_in_use_not_connected_and_invalid_input,
    reset_by_peer_and_take_error,
    read_timeout_returns_would_block_and_eof_after_fin,
    nonblocking_modes_and_a_full_send_buffer,
    nonblocking_connect_completes_when_writable,
    poll_serves_many_nonblocking_clients_from_one_thread,
    udp_send_recv_timeouts_and_poll,
    buffer_sizes_bound_what_a_write_accepts,
    timed_out_and_not_connected,
);
