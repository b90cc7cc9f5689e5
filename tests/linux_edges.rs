//! Closing edges, urgent data, retries and ACK timing with the kernel's
//! TCP as the oracle, in a private namespace: the same script runs once
//! between two kernel sockets and once with tunstack in the middle, and
//! the outcome must be the same both times. Each test runs over IPv4 and
//! IPv6.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use forge::Sniffer;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};
use tunstack::TcpStream;

/// Reads from the peer until it reports end of stream or an error (the
/// peer's RST crosses tun0 and the driver thread asynchronously).
fn read_outcome(peer: &mut std::net::TcpStream) -> Result<usize, io::ErrorKind> {
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    match peer.read(&mut buf) {
        Ok(n) => Ok(n),
        Err(e) => Err(e.kind()),
    }
}

/// Writes to `peer` until a write fails (the RST arrived), for at most 5 s.
fn write_until_error(peer: &mut std::net::TcpStream) -> io::ErrorKind {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Err(e) = peer.write_all(b"more") {
            return e.kind();
        }
        assert!(Instant::now() < deadline, "writes never failed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The kernel's answer: a kernel client sends `sent` bytes to a kernel
/// server that closes without reading `unread` of them; what the client
/// then reads.
fn kernel_close_outcome(addr: SocketAddr, read_first: bool) -> Result<usize, io::ErrorKind> {
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.write_all(&[1u8; 100]).unwrap();
    let mut buf = [0u8; 100];
    if read_first {
        (&server).read_exact(&mut buf).unwrap();
    } else {
        // Wait until the bytes are there, without consuming them.
        server.peek(&mut buf[..1]).unwrap();
    }
    drop(server);
    read_outcome(&mut client)
}

/// The same script with tunstack as the server's side.
fn tunstack_close_outcome(
    stack: &tunstack::Stack,
    addr: SocketAddr,
    read_first: bool,
) -> Result<usize, io::ErrorKind> {
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(stack, addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(&[1u8; 100]).unwrap();
    let mut buf = [0u8; 100];
    if read_first {
        (&ours).read_exact(&mut buf).unwrap();
    } else {
        ours.peek(&mut buf[..1]).unwrap();
    }
    drop(ours);
    read_outcome(&mut peer)
}

fn close_with_unread_data_resets_the_peer_as_the_kernel_does(f: Family) {
    let stack = netns();
    // Linux `tcp_close`: unread data turns the close into a RST.
    let kernel = kernel_close_outcome(f.kernel_at(9101), false);
    assert_eq!(kernel, Err(io::ErrorKind::ConnectionReset), "the oracle");
    let ours = tunstack_close_outcome(&stack, f.kernel_at(9102), false);
    assert_eq!(ours, kernel, "tunstack closing with unread data");
    // Everything read: an orderly FIN, end of stream for the peer.
    let kernel = kernel_close_outcome(f.kernel_at(9103), true);
    assert_eq!(kernel, Ok(0), "the oracle");
    let ours = tunstack_close_outcome(&stack, f.kernel_at(9104), true);
    assert_eq!(ours, kernel, "tunstack closing after reading everything");
}

fn data_after_close_is_reset_as_the_kernel_does(f: Family) {
    let stack = netns();
    // Kernel pair: the server closes (FIN), the client keeps writing: the
    // closed server answers the data with a RST (RFC 1122 §4.2.2.13), and
    // the client's writes start failing.
    let addr = f.kernel_at(9105);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    drop(server);
    assert_eq!(read_outcome(&mut client), Ok(0), "the oracle's FIN");
    let kernel = write_until_error(&mut client);
    // tunstack closing the same way.
    let addr = f.kernel_at(9106);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    drop(ours);
    assert_eq!(read_outcome(&mut peer), Ok(0), "our FIN");
    assert_eq!(write_until_error(&mut peer), kernel);
    let _ = peer.shutdown(Shutdown::Both);
}

/// The reading-side shutdown script, with `$server` the side under test
/// and `$client` a kernel socket: the server shuts its reading side, the
/// client sends 100 bytes; what the server then reads (polling, as reads
/// return end of stream while nothing is queued), and, after the client
/// sends 50 more bytes the server leaves unread and the server closes,
/// what the client reads.
macro_rules! shutdown_read_script {
    ($server:expr, $client:expr) => {{
        let (server, client) = ($server, &mut $client);
        server.shutdown(Shutdown::Read).unwrap();
        let mut buf = [0u8; 200];
        let eof_at_once = (&server).read(&mut buf).unwrap();
        client.write_all(&[3u8; 100]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = 0;
        while got < 100 && Instant::now() < deadline {
            match (&server).read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(20)),
                Ok(n) => got += n,
                Err(e) => panic!("read after SHUT_RD: {e}"),
            }
        }
        client.write_all(&[4u8; 50]).unwrap();
        while server.peek(&mut buf[..1]).unwrap_or(0) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(server);
        (eof_at_once, got, read_outcome(client))
    }};
}

fn data_after_shutdown_read_is_queued_as_the_kernel_does(f: Family) {
    let stack = netns();
    // Linux `shutdown(SHUT_RD)`: reads return 0 while nothing is queued,
    // but later data is queued and read; left unread, close(2) resets.
    let addr = f.kernel_at(9110);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    let kernel = shutdown_read_script!(server, client);
    assert_eq!(
        kernel,
        (0, 100, Err(io::ErrorKind::ConnectionReset)),
        "the oracle"
    );
    let addr = f.kernel_at(9111);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let outcome = shutdown_read_script!(ours, peer);
    assert_eq!(outcome, kernel, "tunstack after shutdown(Read)");
}

/// The kernel's `TcpExt` counter `name` in this thread's namespace.
fn tcp_ext(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let (names, values) = (rows[0], rows[1]);
    let at = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

/// Adds a rule to the input chain of this namespace's `edges` table
/// (both created on first use): on the input path, so a drop is a loss
/// the sender does not know of (a drop on its own output path is
/// reported back to its TCP, which resends at once).
fn input_rule(rule: &[&str]) {
    run("nft", &["add", "table", "inet", "edges"]);
    run(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "edges",
            "input",
            "{ type filter hook input priority 0; }",
        ],
    );
    let mut args = vec!["add", "rule", "inet", "edges", "input"];
    args.extend_from_slice(rule);
    run("nft", &args);
}

/// Drops every segment arriving for `port` (to the kernel's sockets).
fn blackhole(port: u16) {
    input_rule(&["tcp", "dport", &port.to_string(), "drop"]);
}

/// Writes each of `writes` into a black hole and reads until the
/// connection fails (a read timeout, set by the caller far past the
/// retry budget, fails the test instead of hanging it).
fn write_until_given_up(mut s: impl Read + Write, writes: &[&[u8]]) -> io::ErrorKind {
    for w in writes {
        s.write_all(w).unwrap();
    }
    let mut buf = [0u8; 8];
    match s.read(&mut buf) {
        Ok(n) => panic!("read {n} bytes from a black hole"),
        Err(e) => e.kind(),
    }
}

/// A namespace whose stack and kernel both give up after the retry
/// budget of 3 (`data_retries`, `tcp_retries2`).
fn netns_with_three_retries() -> tunstack::Stack {
    let stack = netns_with(tunstack::net::Config {
        tcp: tunstack::tcp::Config {
            data_retries: 3,
            ..tunstack::tcp::Config::default()
        },
        ..tunstack::net::Config::default()
    });
    // Net sysctls belong to the namespace of the thread that opens them:
    // this one's, not the host's.
    std::fs::write("/proc/sys/net/ipv4/tcp_retries2", "3").unwrap();
    stack
}

fn retransmissions_give_up_by_time_as_the_kernel_does(f: Family) {
    // tcp_retries2 = 3 is a budget of (2^4 − 1) · 200 ms = 3 s from the
    // first retransmission (`retransmits_timed_out`), not three
    // retransmissions: with an RTO near 200 ms three use only about
    // 2.8 s of it, and a fourth goes.
    let stack = netns_with_three_retries();
    let kernel_addr = f.kernel_at(9112);
    let listener = std::net::TcpListener::bind(kernel_addr).unwrap();
    let client = std::net::TcpStream::connect(kernel_addr).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let addr = f.kernel_at(9113);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    blackhole(9112);
    blackhole(9113);
    let before = tcp_ext("TCPTimeouts");
    let kernel_error = write_until_given_up(&client, &[b"x"]);
    // Each firing of the timer counts, the last (giving up) too.
    let kernel_rtos = tcp_ext("TCPTimeouts") - before - 1;
    assert_eq!(kernel_error, io::ErrorKind::TimedOut, "the oracle");
    let our_error = write_until_given_up(&ours, &[b"x"]);
    let our_rtos = ours.tcp_stats().unwrap().retransmit_timeouts;
    assert_eq!(
        (our_error, our_rtos),
        (kernel_error, kernel_rtos),
        "how tunstack gave up (error, timeout retransmissions)"
    );
}

/// Loses every segment for `port` whose payload starts with 'A': the head of the data written by
/// [`HEAD_AND_FOUR`] never arrives, however it is resent,
/// while the rest arrives and is SACKed, so the sender resends the head
/// before its first timeout (fast retransmit, or RACK after a tail loss
/// probe when the sender sent everything in one burst).
fn lose_the_head(port: u16) {
    input_rule(&["tcp", "dport", &port.to_string(), "@ih,0,8", "0x41", "drop"]);
}

/// 1000 bytes of 'A', then four times 1000 of 'B': separate writes.
const HEAD_AND_FOUR: [&[u8]; 5] = [
    &[b'A'; 1000],
    &[b'B'; 1000],
    &[b'B'; 1000],
    &[b'B'; 1000],
    &[b'B'; 1000],
];

fn retry_budget_starts_at_the_fast_retransmit_as_the_kernel_does(f: Family) {
    // tcp_retries2 = 3 is 3 s from the first retransmission of any kind
    // (`retrans_stamp`, set by `tcp_retransmit_skb`). Here the first is
    // the fast (or RACK) retransmit of the lost head; with the RTO near 200 ms the
    // timer fires about 0.2, 0.6, 1.4 and 3.0 s after it, and the fourth
    // firing gives up: three timeout retransmissions. Counted from the
    // first RTO instead, 2.8 s would have passed and a fourth would go.
    let stack = netns_with_three_retries();
    // No corking: each write leaves as its own segment.
    std::fs::write("/proc/sys/net/ipv4/tcp_autocorking", "0").unwrap();
    let kernel_addr = f.kernel_at(9124);
    let listener = std::net::TcpListener::bind(kernel_addr).unwrap();
    let client = std::net::TcpStream::connect(kernel_addr).unwrap();
    client.set_nodelay(true).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (_server, _) = listener.accept().unwrap();
    let addr = f.kernel_at(9125);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    ours.set_nodelay(true).unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (_peer, _) = listener.accept().unwrap();
    lose_the_head(9124);
    lose_the_head(9125);
    let (rtos, fast) = (tcp_ext("TCPTimeouts"), tcp_ext("TCPFastRetrans"));
    let kernel_error = write_until_given_up(&client, &HEAD_AND_FOUR);
    let kernel_rtos = tcp_ext("TCPTimeouts") - rtos - 1;
    assert_eq!(kernel_error, io::ErrorKind::TimedOut, "the oracle");
    assert!(
        tcp_ext("TCPFastRetrans") > fast,
        "the oracle: no retransmission before the first timeout"
    );
    assert_eq!(kernel_rtos, 3, "the oracle's timeout retransmissions");
    let our_error = write_until_given_up(&ours, &HEAD_AND_FOUR);
    let stats = ours.tcp_stats().unwrap();
    assert!(
        stats.retransmits > stats.retransmit_timeouts,
        "no retransmission before the first timeout: {stats:?}"
    );
    assert_eq!(
        (our_error, stats.retransmit_timeouts),
        (kernel_error, kernel_rtos),
        "how tunstack gave up (error, timeout retransmissions): {stats:?}"
    );
}

/// The kernel side of the urgent-data script: "ab", then "c" sent with
/// MSG_OOB (its urgent pointer follows 'c'), then "de", then FIN.
fn send_with_urgent_byte(sender: &mut std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    sender.write_all(b"ab").unwrap();
    let c = b"c";
    // SAFETY: a valid open socket and a live one-byte buffer.
    let sent = unsafe {
        libc::send(
            sender.as_raw_fd(),
            c.as_ptr().cast(),
            c.len(),
            libc::MSG_OOB,
        )
    };
    assert_eq!(sent, 1, "send(MSG_OOB): {}", io::Error::last_os_error());
    sender.write_all(b"de").unwrap();
    sender.shutdown(Shutdown::Write).unwrap();
}

fn urgent_byte_leaves_the_stream_as_the_kernel_does(f: Family) {
    let stack = netns();
    // Linux without SO_OOBINLINE: a plain read never returns the urgent
    // byte (it waits for a MSG_OOB read).
    let addr = f.kernel_at(9107);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    send_with_urgent_byte(&mut client);
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut kernel = Vec::new();
    server.read_to_end(&mut kernel).unwrap();
    assert_eq!(kernel, b"abde", "the oracle");
    // tunstack reading what the kernel sends the same way.
    let addr = f.kernel_at(9108);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    send_with_urgent_byte(&mut peer);
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    (&ours).read_to_end(&mut got).unwrap();
    assert_eq!(got, kernel, "tunstack reading urgent data");
    assert_eq!(ours.tcp_stats().unwrap().urgent_bytes, 1);
}

/// Drops, once, the first segment arriving for `port` whose payload
/// starts with "ab" (its retransmission passes: the connection is
/// marked).
fn drop_ab_once_on_input(port: u16) {
    let port = port.to_string();
    input_rule(&[
        "tcp", "dport", &port, "@ih,0,16", "0x6162", "ct", "mark", "0", "ct", "mark", "set", "1",
        "drop",
    ]);
}

/// tun0, losing the first packet from the kernel whose TCP payload starts
/// with "ab" (before tunstack sees it, so the kernel sender does not know).
struct DropAbOnce {
    inner: tunstack::device::TunDevice,
    dropped: bool,
}

/// Where a TCP payload starts in an IPv4 or IPv6 packet without options
/// or extension headers.
fn tcp_payload(p: &[u8]) -> Option<&[u8]> {
    let ip = match p.first()? >> 4 {
        4 => usize::from(p[0] & 0xf) * 4,
        6 => 40,
        _ => return None,
    };
    let tcp = usize::from(p.get(ip + 12)? >> 4) * 4;
    p.get(ip + tcp..)
}

impl tunstack::device::Device for DropAbOnce {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.recv(buf)?;
            if !self.dropped && tcp_payload(&buf[..n]).is_some_and(|d| d.starts_with(b"ab")) {
                self.dropped = true;
                continue;
            }
            return Ok(n);
        }
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.inner.send(packet)
    }
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn as_raw_fd(&self) -> Option<std::os::fd::RawFd> {
        self.inner.as_raw_fd()
    }
}

/// Reads everything `reader` sends, then its end of stream.
fn read_stream(mut reader: impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    got
}

fn urgent_byte_after_a_hole_leaves_the_stream_as_the_kernel_does(f: Family) {
    // The segment before the urgent one is lost once: the urgent byte
    // arrives out of order and completes the stream through reassembly.
    // Linux records the mark on arrival (`tcp_check_urg`, `tcp_urg`) and
    // the reader still skips the byte.
    enter_netns();
    let tun =
        tunstack::device::TunDevice::open(&tunstack::device::TunConfig::default()).expect("tun0");
    let dev = DropAbOnce {
        inner: tun,
        dropped: false,
    };
    let stack = tunstack::Stack::new(dev, tunstack::net::Config::default()).unwrap();
    // No corking: "ab", "c" and "de" leave as three segments.
    std::fs::write("/proc/sys/net/ipv4/tcp_autocorking", "0").unwrap();
    drop_ab_once_on_input(9122);
    let addr = f.kernel_at(9122);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.set_nodelay(true).unwrap();
    let (server, _) = listener.accept().unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ofo = tcp_ext("TCPOFOQueue");
    send_with_urgent_byte(&mut client);
    let kernel = read_stream(&server);
    assert_eq!(kernel, b"abde", "the oracle");
    assert!(tcp_ext("TCPOFOQueue") > ofo, "the oracle saw no hole");
    let addr = f.kernel_at(9123);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_nodelay(true).unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    send_with_urgent_byte(&mut peer);
    let got = read_stream(&ours);
    assert_eq!(got, kernel, "tunstack reading urgent data after a hole");
    let stats = ours.tcp_stats().unwrap();
    assert!(stats.out_of_order_queued >= 1, "no hole: {stats:?}");
    assert_eq!(stats.urgent_bytes, 1);
}

fn zero_window_probes_keep_a_kernel_receiver_and_carry_no_data(f: Family) {
    let stack = netns();
    // tunstack sends 4 MiB to a kernel socket that reads nothing for 3 s:
    // its window shuts, and tunstack probes it as Linux does
    // (`tcp_xmit_probe_skb`): bare ACKs at SND.UNA - 1, no byte past the
    // window. The kernel answers them; when it reads, everything arrives.
    let addr = f.kernel_at(9109);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (mut kernel, _) = listener.accept().unwrap();
    let port = ours.local_addr().unwrap().port();
    let from_us = f.us_at(port);
    let sniffer = Sniffer::new();
    let data = random_bytes(4 << 20, 9109);
    let expect = sha256(&data);
    let writer = std::thread::spawn(move || {
        (&ours).write_all(&data).unwrap();
        ours
    });
    let seen = sniffer.all_matching(Duration::from_secs(3), |p| {
        p.src == from_us && p.dst == addr
    });
    let mut end = 0u32;
    let mut probes = 0;
    for p in &seen {
        let len = p.payload.len() as u32;
        assert_ne!(len, 1, "a one-byte segment past the window: {p:?}");
        if len == 0 && end != 0 && p.seq == end.wrapping_sub(1) {
            probes += 1;
        }
        let e = p.seq.wrapping_add(len);
        if end == 0 || e.wrapping_sub(end) as i32 > 0 {
            end = e;
        }
    }
    assert!(probes >= 2, "{probes} zero-window probes in 3 s");
    kernel
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = vec![0u8; 4 << 20];
    kernel.read_exact(&mut got).unwrap();
    assert_eq!(sha256(&got), expect);
    let ours = writer.join().unwrap();
    assert_eq!(
        ours.state(),
        tunstack::tcp::State::Established,
        "{:?}",
        ours.tcp_stats()
    );
    assert!(ours.tcp_stats().unwrap().window_probes >= 2);
}

/// How many ACKs the delayed-ACK timer of `$receiver` sent or was armed
/// for (read by `$delayed`) while it took a connection's first data, a
/// short segment from `$sender`, left unanswered for 200 ms.
macro_rules! first_short_segment_script {
    ($sender:expr, $receiver:expr, $delayed:expr) => {{
        let (mut sender, mut receiver) = ($sender, $receiver);
        let before = $delayed;
        sender.write_all(b"q").unwrap();
        let mut buf = [0u8; 1];
        receiver.read_exact(&mut buf).unwrap();
        // Long enough for a delayed ACK (40 ms) to have gone out.
        std::thread::sleep(Duration::from_millis(200));
        $delayed - before
    }};
}

fn first_short_segment_is_acked_at_once_as_the_kernel_does(f: Family) {
    // Linux `tcp_in_quickack_mode`: the first data of a connection is
    // ACKed on arrival, short or not; its delayed-ACK timer never sends
    // that ACK (TcpExt DelayedACKs stays put).
    let stack = netns();
    let addr = f.kernel_at(9126);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    let kernel = first_short_segment_script!(client, &server, tcp_ext("DelayedACKs"));
    assert_eq!(kernel, 0, "the oracle's delayed ACKs");
    // tunstack receiving the same from a kernel sender.
    let addr = f.kernel_at(9127);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let delayed = || ours.tcp_stats().unwrap().delayed_acks;
    let got = first_short_segment_script!(peer, &ours, delayed());
    assert_eq!(
        got,
        kernel,
        "tunstack's delayed ACKs: {:?}",
        ours.tcp_stats()
    );
}

/// Sends "abc" and the FIN in one segment (corked until the FIN is
/// queued).
fn send_data_with_fin(s: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let set_cork = |on: libc::c_int| {
        // SAFETY: a valid open socket and a live c_int of the right size.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_CORK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "TCP_CORK: {}", io::Error::last_os_error());
    };
    set_cork(1);
    (&*s).write_all(b"abc").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    set_cork(0);
}

/// How many ACKs `$receiver`'s delayed-ACK rule held back (read by
/// `$delayed`) for a connection's first segment, carrying data and the
/// FIN, left unread for 200 ms.
macro_rules! data_with_fin_script {
    ($sender:expr, $delayed:expr) => {{
        let before = $delayed;
        send_data_with_fin($sender);
        std::thread::sleep(Duration::from_millis(200));
        $delayed - before
    }};
}

fn data_with_fin_is_acked_by_the_delayed_ack_timer_as_the_kernel_does(f: Family) {
    // Linux `tcp_fin` enters pingpong mode inside `tcp_data_queue`, before
    // the ACK is decided: the first data, with the FIN, is not quick-ACKed
    // but left to the delayed-ACK timer (TcpExt DelayedACKs + 1).
    let stack = netns();
    let addr = f.kernel_at(9128);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let kernel = data_with_fin_script!(&client, tcp_ext("DelayedACKs"));
    assert_eq!(kernel, 1, "the oracle's delayed ACKs");
    let addr = f.kernel_at(9129);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let delayed = || ours.tcp_stats().unwrap().delayed_acks;
    let got = data_with_fin_script!(&peer, delayed());
    assert_eq!(
        got,
        kernel,
        "tunstack's delayed ACKs: {:?}",
        ours.tcp_stats()
    );
    let mut buf = [0u8; 8];
    assert_eq!((&ours).read(&mut buf).unwrap(), 3);
    assert_eq!((&ours).read(&mut buf).unwrap(), 0, "the FIN arrived");
}

/// The kernel's `Tcp` counter `name` (/proc/net/snmp) in this thread's
/// namespace.
fn tcp_snmp(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("Tcp:")).collect();
    let (names, values) = (rows[0], rows[1]);
    let at = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

/// Keepalive after 1 s idle, one probe 1 s apart (the kernel's
/// minimums), on a kernel socket.
fn kernel_keepalive(s: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let set = |level: libc::c_int, name: libc::c_int, v: libc::c_int| {
        // SAFETY: a valid open socket and a live c_int of the right size.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                level,
                name,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "setsockopt: {}", io::Error::last_os_error());
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 1);
}

fn keepalive_gives_up_with_a_reset_as_the_kernel_does(f: Family) {
    // Linux `tcp_keepalive_timer`: when the probes go unanswered the
    // connection fails with ETIMEDOUT and a RST goes out
    // (`tcp_send_active_reset`, counted in Tcp OutRsts).
    let stack = netns_with(tunstack::net::Config {
        tcp: tunstack::tcp::Config {
            keepalive: Some(Duration::from_secs(1)),
            keepalive_interval: Duration::from_secs(1),
            keepalive_probes: 1,
            ..tunstack::tcp::Config::default()
        },
        ..tunstack::net::Config::default()
    });
    let addr = f.kernel_at(9130);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (_server, _) = listener.accept().unwrap();
    kernel_keepalive(&client);
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    blackhole(9130);
    let rsts = tcp_snmp("OutRsts");
    let kernel = write_until_given_up(&client, &[]);
    assert_eq!(kernel, io::ErrorKind::TimedOut, "the oracle");
    assert_eq!(tcp_snmp("OutRsts") - rsts, 1, "the oracle's RST");
    // tunstack, with the same keepalive, against a silent kernel peer.
    let addr = f.kernel_at(9131);
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let ours = TcpStream::connect(&stack, addr).unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let from_us = f.us_at(ours.local_addr().unwrap().port());
    let sniffer = Sniffer::new();
    blackhole(9131);
    assert_eq!(write_until_given_up(&ours, &[]), kernel);
    let rst = sniffer.next_matching(Duration::from_secs(5), |p| {
        p.src == from_us && p.dst == addr && p.rst
    });
    assert!(rst.is_some(), "no RST when keepalive gave up");
    assert_eq!(ours.tcp_stats().unwrap().keepalive_probes, 1);
}

per_family!(
    keepalive_gives_up_with_a_reset_as_the_kernel_does,
    data_with_fin_is_acked_by_the_delayed_ack_timer_as_the_kernel_does,
    first_short_segment_is_acked_at_once_as_the_kernel_does,
    close_with_unread_data_resets_the_peer_as_the_kernel_does,
    data_after_close_is_reset_as_the_kernel_does,
    urgent_byte_leaves_the_stream_as_the_kernel_does,
    urgent_byte_after_a_hole_leaves_the_stream_as_the_kernel_does,
    zero_window_probes_keep_a_kernel_receiver_and_carry_no_data,
    data_after_shutdown_read_is_queued_as_the_kernel_does,
    retransmissions_give_up_by_time_as_the_kernel_does,
    retry_budget_starts_at_the_fast_retransmit_as_the_kernel_does,
);
