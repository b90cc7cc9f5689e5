//! Linux's own TCP as the peer, through tun0 in a private namespace:
//! handshake both ways, 1 MiB echo both ways, refused connections, read
//! timeouts, and non-blocking WouldBlock on empty / full buffers. Every
//! test runs over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`).

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::{TcpListener, TcpStream};

fn connect_to_closed_port_is_refused(f: Family) {
    let stack = netns();
    let err = TcpStream::connect(&stack, f.kernel_at(9)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert!(stack.stats().rx_packets >= 1);
}

fn connect_timeout_to_silent_port_times_out(f: Family) {
    let stack = netns();
    // Drop our SYNs in the kernel so nothing answers (no RST either).
    run("nft", &["add", "table", f.nft(), "t"]);
    run(
        "nft",
        &[&format!(
            "add chain {} t in {{ type filter hook input priority 0; }}",
            f.nft()
        )],
    );
    run(
        "nft",
        &[&format!("add rule {} t in tcp dport 9 drop", f.nft())],
    );
    let start = Instant::now();
    let err = TcpStream::connect_timeout(&stack, &f.kernel_at(9), Duration::from_millis(1500))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

fn kernel_client_echoes_one_mebibyte_through_our_listener(f: Family) {
    let dir = TempDir::new("echo-listener");
    let (stack, pcap) = netns_captured(&dir);
    let listener = TcpListener::bind(&stack, f.any(7)).expect("bind");
    let server = std::thread::spawn(move || {
        let (s, peer) = listener.accept().expect("accept");
        assert_eq!(peer.ip(), f.kernel());
        let s = Arc::new(s);
        let mut buf = vec![0u8; 32 * 1024];
        let mut total = 0;
        loop {
            let n = (&*s).read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            (&*s).write_all(&buf[..n]).expect("write");
            total += n;
        }
        s.shutdown(Shutdown::Write).expect("shutdown");
        total
    });
    let data = random_bytes(1 << 20, 7);
    let kernel = std::net::TcpStream::connect(f.us_at(7)).expect("kernel connect");
    let got = echo_round_trip(kernel, data.clone());
    assert_eq!(server.join().unwrap(), data.len());
    assert_eq!(got.len(), data.len());
    assert_eq!(sha256(&got), sha256(&data));
    assert!(stack.shutdown(Duration::from_secs(5)));
    check_capture_family(&pcap, f);
}

fn we_echo_one_mebibyte_through_a_kernel_echo_server(f: Family) {
    let dir = TempDir::new("echo-client");
    let (stack, pcap) = netns_captured(&dir);
    let listener = std::net::TcpListener::bind(f.kernel_at(7007)).expect("kernel bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("kernel accept");
        let mut r = s.try_clone().unwrap();
        std::io::copy(&mut r, &mut s).expect("kernel echo");
        s.shutdown(Shutdown::Write).unwrap();
    });
    let s = Arc::new(TcpStream::connect(&stack, f.kernel_at(7007)).expect("connect"));
    let data = random_bytes(1 << 20, 11);
    let w = {
        let s = Arc::clone(&s);
        let data = data.clone();
        std::thread::spawn(move || {
            (&*s).write_all(&data).expect("write");
            s.shutdown(Shutdown::Write).expect("shutdown");
        })
    };
    let mut got = Vec::new();
    (&*s).read_to_end(&mut got).expect("read");
    w.join().unwrap();
    server.join().unwrap();
    assert_eq!(sha256(&got), sha256(&data));
    let st = s.tcp_stats().unwrap();
    assert!(st.bytes_in >= data.len() as u64);
    drop(s);
    assert!(
        stack.shutdown(Duration::from_secs(5)),
        "connection closed cleanly"
    );
    check_capture_family(&pcap, f);
}

fn blocking_read_with_timeout_returns_would_block_at_deadline(f: Family) {
    let stack = netns();
    let listener = std::net::TcpListener::bind(f.kernel_at(7100)).unwrap();
    let t = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        drop(s);
    });
    let mut s = TcpStream::connect(&stack, f.kernel_at(7100)).unwrap();
    assert_eq!(
        s.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    let err = s.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(start.elapsed() >= Duration::from_millis(300));
    // After the kernel closes, the read sees end of stream.
    s.set_read_timeout(None).unwrap();
    assert_eq!(s.read(&mut [0u8; 16]).unwrap(), 0);
    t.join().unwrap();
}

fn nonblocking_read_and_write_return_would_block(f: Family) {
    let stack = netns();
    let listener = std::net::TcpListener::bind(f.kernel_at(7200)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Do not read until told: our writes must fill both buffers.
        rx.recv().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let mut s = TcpStream::connect(&stack, f.kernel_at(7200)).unwrap();
    s.set_nonblocking(true).unwrap();
    assert_eq!(
        s.read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "empty receive buffer"
    );
    let chunk = random_bytes(64 * 1024, 3);
    let mut sent = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut blocked = 0;
    // Keep writing until the send buffer stays full: the kernel's receive
    // window closes first, then ours fills.
    while blocked < 20 {
        match s.write(&chunk) {
            Ok(n) => {
                assert!(n > 0);
                sent.extend_from_slice(&chunk[..n]);
                blocked = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                blocked += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(Instant::now() < deadline, "send buffer never filled");
    }
    assert!(
        sent.len() >= 256 * 1024,
        "at least our send buffer was accepted ({})",
        sent.len()
    );
    tx.send(()).unwrap();
    s.set_nonblocking(false).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let all = kernel.join().unwrap();
    assert_eq!(all.len(), sent.len());
    assert_eq!(sha256(&all), sha256(&sent));
}

fn stream_options_clone_peek_nodelay_ttl_and_linger_reset(f: Family) {
    let stack = netns();
    let listener = std::net::TcpListener::bind(f.kernel_at(7300)).unwrap();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hello").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        // The peer resets: the kernel sees ECONNRESET (or EOF first on some kernels).
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).map_err(|e| e.kind())
    });
    let s = TcpStream::connect(&stack, f.kernel_at(7300)).unwrap();
    assert!(!s.nodelay().unwrap());
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
    assert_eq!(s.ttl().unwrap(), 64);
    s.set_ttl(32).unwrap();
    assert_eq!(s.ttl().unwrap(), 32);
    assert_eq!(s.set_ttl(0).unwrap_err().kind(), ErrorKind::InvalidInput);
    let mut buf = [0u8; 5];
    assert_eq!(s.peek(&mut buf).unwrap(), 5);
    assert_eq!(&buf, b"hello");
    let mut clone = s.try_clone().unwrap();
    let mut got = [0u8; 5];
    (&s).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello", "peeked bytes are still there");
    clone.write_all(b"ping").unwrap();
    assert_eq!(clone.local_addr().unwrap(), s.local_addr().unwrap());
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    // The clone keeps the connection alive until it is dropped too.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(clone.state(), tunstack::tcp::State::Established);
    drop(clone);
    assert_eq!(kernel.join().unwrap(), Err(ErrorKind::ConnectionReset));
}

fn blocking_write_waits_for_a_reader_while_nonblocking_returns_would_block(f: Family) {
    // The seed's lesson: with the send buffer full, a blocking write waits
    // and a non-blocking one returns EAGAIN (WouldBlock); draining releases both.
    let stack = netns();
    let listener = std::net::TcpListener::bind(f.kernel_at(7500)).unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        wait.recv().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all.len()
    });
    let s = Arc::new(TcpStream::connect(&stack, f.kernel_at(7500)).unwrap());
    s.set_send_buffer_size(64 * 1024).unwrap();
    let total = 8 << 20;
    let writer = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            (&*s).write_all(&vec![9u8; total]).unwrap();
            Instant::now()
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !writer.is_finished(),
        "the blocking write waits: nobody reads 8 MiB"
    );
    // A second, non-blocking handle on the same socket gets WouldBlock now.
    let nb = s.try_clone().unwrap();
    nb.set_nonblocking(true).unwrap();
    assert_eq!((&nb).write(b"x").unwrap_err().kind(), ErrorKind::WouldBlock);
    nb.set_nonblocking(false).unwrap();
    let released = Instant::now();
    go.send(()).unwrap();
    let done = writer.join().unwrap();
    assert!(
        done >= released,
        "the write finished only after the reader drained"
    );
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(kernel.join().unwrap(), total);
}

per_family!(
    connect_to_closed_port_is_refused,
    connect_timeout_to_silent_port_times_out,
    kernel_client_echoes_one_mebibyte_through_our_listener,
    we_echo_one_mebibyte_through_a_kernel_echo_server,
    blocking_read_with_timeout_returns_would_block_at_deadline,
    nonblocking_read_and_write_return_would_block,
    stream_options_clone_peek_nodelay_ttl_and_linger_reset,
    blocking_write_waits_for_a_reader_while_nonblocking_returns_would_block,
);
