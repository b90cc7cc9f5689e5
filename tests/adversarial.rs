//! A hostile network against tunstack, in a private namespace: a raw
//! socket on the kernel side forges segments (etherparse builds them, so
//! the attack does not share tunstack's own packet code) while a real
//! transfer with the kernel's TCP runs. Blind RST, SYN, data and ACK
//! injection (RFC 5961), malformed and extreme TCP options, and an
//! unassigned spoofed source: every attack is rejected, counted, and the
//! legitimate bytes arrive intact.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use forge::{Forge, Forger};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use tunstack::{TcpListener, TcpStream};

/// Waits until `cond` holds (the forged packets cross tun0 and the driver
/// thread asynchronously).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn blind_injection_is_rejected_per_rfc_5961_and_the_transfer_survives() {
    let Some(stack) = netns() else {
        return;
    };
    let listener = std::net::TcpListener::bind("10.0.0.1:9000").unwrap();
    let ours = TcpStream::connect(&stack, SocketAddr::from(([10, 0, 0, 1], 9000))).unwrap();
    let (mut kernel, _) = listener.accept().unwrap();
    let peer = SocketAddrV4::new(KERNEL, 9000);
    let port = ours.local_addr().unwrap().port();

    // A known position in both streams: 1000 bytes in, 500 bytes out.
    kernel.write_all(&[7u8; 1000]).unwrap();
    let mut got = vec![0u8; 1000];
    (&ours).read_exact(&mut got).unwrap();
    (&ours).write_all(&[9u8; 500]).unwrap();
    let mut back = vec![0u8; 500];
    kernel.read_exact(&mut back).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // ACKs settle
    let info = ours.info().unwrap();
    let rcv_nxt = info.irs.wrapping_add(1 + 1000);
    let snd_nxt = info.iss.wrapping_add(1 + 500);
    let stats = || ours.tcp_stats().unwrap();
    let before = stats();
    let forger = Forger::new();

    // RFC 5961 §3.2: an in-window RST that is not exactly RCV.NXT gets a
    // challenge ACK; the connection stays.
    let mut rst = Forge::new(peer, port, rcv_nxt.wrapping_add(3000));
    rst.rst = true;
    forger.send(&rst.bytes());
    eventually("challenge ACK for an in-window RST", || {
        stats().challenge_acks > before.challenge_acks
    });

    // §3.2 too: a RST outside the window is dropped without a word.
    let acks = stats().challenge_acks;
    let mut far = Forge::new(peer, port, rcv_nxt.wrapping_sub(100_000));
    far.rst = true;
    forger.send(&far.bytes());

    // §4.2: a SYN on a synchronized connection gets a challenge ACK (one
    // outside the window already fails the sequence check, RFC 9293
    // §3.10.7.4, and is answered with a plain ACK).
    let mut syn = Forge::new(peer, port, rcv_nxt.wrapping_add(700));
    syn.syn = true;
    forger.send(&syn.bytes());
    eventually("challenge ACK for a SYN", || stats().challenge_acks > acks);
    let unacceptable = stats().unacceptable;
    let mut blind_syn = Forge::new(peer, port, rcv_nxt.wrapping_add(1 << 31));
    blind_syn.syn = true;
    forger.send(&blind_syn.bytes());
    eventually("an out-of-window SYN is unacceptable", || {
        stats().unacceptable > unacceptable
    });

    // RFC 9293 §3.10.7.4: data far outside the window is unacceptable.
    let unacceptable = stats().unacceptable;
    let mut evil = Forge::new(peer, port, rcv_nxt.wrapping_add(1 << 30));
    evil.ack = Some(snd_nxt);
    evil.payload = b"EVIL".to_vec();
    forger.send(&evil.bytes());
    eventually("out-of-window data counted", || {
        stats().unacceptable > unacceptable
    });

    // Old data (already received) with different bytes must not rewrite
    // the stream.
    let mut old = Forge::new(peer, port, rcv_nxt.wrapping_sub(500));
    old.ack = Some(snd_nxt);
    old.payload = vec![0xEE; 100];
    forger.send(&old.bytes());

    // RFC 9293 §3.10.7.4 / RFC 5961 §5.2: a segment acknowledging data
    // never sent is dropped (and answered) — its bytes must not enter the
    // stream, which the SHA-256 at the end checks.
    let mut ahead = Forge::new(peer, port, rcv_nxt);
    ahead.ack = Some(snd_nxt.wrapping_add(100_000));
    ahead.payload = b"AHEAD".to_vec();
    forger.send(&ahead.bytes());

    // SACK blocks far outside the window (RFC 2018 §3 says ignore them).
    let mut sack = Forge::new(peer, port, rcv_nxt);
    sack.ack = Some(snd_nxt);
    let left = snd_nxt.wrapping_add(1 << 29);
    let right = left.wrapping_add(5000);
    sack.options = vec![1, 1, 5, 10];
    sack.options.extend_from_slice(&left.to_be_bytes());
    sack.options.extend_from_slice(&right.to_be_bytes());
    forger.send(&sack.bytes());

    // §7: a burst of in-window RSTs cannot make us send more challenge
    // ACKs than the per-second limit (no amplification).
    let burst_before = stats();
    for i in 0..1000u32 {
        let mut r = Forge::new(peer, port, rcv_nxt.wrapping_add(2000 + i));
        r.rst = true;
        forger.send(&r.bytes());
    }
    eventually("the burst was counted as suppressed", || {
        stats().challenge_acks_suppressed > burst_before.challenge_acks_suppressed
    });
    let after = stats();
    assert!(
        after.challenge_acks - burst_before.challenge_acks <= 2 * 10,
        "challenge ACKs limited: {after:?}"
    );
    assert_eq!(ours.state(), tunstack::tcp::State::Established, "{after:?}");

    // An unassigned spoofed source gets a RST, nothing else happens.
    let rsts = stack.stats().tcp_rst_sent;
    let mut stray = Forge::new(
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 77), 4444),
        port,
        1,
    );
    stray.ack = Some(1);
    stray.payload = b"hello?".to_vec();
    forger.send(&stray.bytes());
    eventually("a RST for a segment of no connection", || {
        stack.stats().tcp_rst_sent > rsts
    });

    // The legitimate transfer goes on and arrives intact both ways.
    let down = random_bytes(10 << 20, 5961);
    let up = random_bytes(1 << 20, 1961);
    let expect_down = sha256(&down);
    let expect_up = sha256(&up);
    // Each side writes on one thread and reads on another, so neither
    // waits for the other to drain first.
    let mut kernel_reader = kernel.try_clone().unwrap();
    let kernel_writer = std::thread::spawn(move || kernel.write_all(&down).unwrap());
    let kernel_read = std::thread::spawn(move || {
        let mut got = vec![0u8; 1 << 20];
        kernel_reader.read_exact(&mut got).unwrap();
        got
    });
    let ours_writer = ours.try_clone().unwrap();
    let ours_write = std::thread::spawn(move || (&ours_writer).write_all(&up).unwrap());
    let mut got = vec![0u8; 10 << 20];
    (&ours).read_exact(&mut got).unwrap();
    ours_write.join().unwrap();
    kernel_writer.join().unwrap();
    assert_eq!(sha256(&got), expect_down, "no forged byte in the stream");
    assert_eq!(sha256(&kernel_read.join().unwrap()), expect_up);
    drop(ours);
    assert!(stack.shutdown(Duration::from_secs(5)));
}

#[test]
fn malformed_and_extreme_syn_options_never_break_the_listener() {
    let Some(stack) = netns() else {
        return;
    };
    let listener = TcpListener::bind(&stack, 8000).unwrap();
    let forger = Forger::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("option length 1", vec![2, 1, 5, 0]),
        ("zero-length option (would loop)", vec![8, 0, 0, 0]),
        ("length past the header", vec![2, 40, 5, 180]),
        ("MSS 0", vec![2, 4, 0, 0]),
        ("window scale 15 (> 14)", vec![3, 3, 15, 0]),
        ("window scale 255", vec![3, 3, 255, 0]),
        (
            "timestamps about to wrap",
            vec![1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        ),
        (
            "SACK block in a SYN",
            vec![1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
        ),
        ("unknown kinds", vec![99, 4, 1, 2, 200, 2, 0, 0]),
        ("all NOPs", vec![1; 40]),
        ("EOL then garbage", vec![0, 2, 1, 0xff]),
    ];
    let before = stack.stats();
    for (i, (what, options)) in cases.iter().enumerate() {
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100 + i as u8), 40000 + i as u16);
        let mut syn = Forge::new(src, 8000, 1000 * i as u32);
        syn.syn = true;
        syn.options = options.clone();
        forger.send(&syn.bytes());
        let _ = what;
    }
    eventually("every forged SYN was looked at", || {
        let s = stack.stats();
        s.rx_packets - before.rx_packets >= cases.len() as u64
    });
    let after = stack.stats();
    assert!(
        after.tcp_bad_option > before.tcp_bad_option,
        "malformed options counted: {:?}",
        after.counters()
    );

    // The listener still serves a real client.
    let client = std::thread::spawn(|| {
        let mut s = std::net::TcpStream::connect("10.0.0.2:8000").unwrap();
        s.write_all(b"still here").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v
    });
    let (conn, from) = loop {
        let (c, from) = listener.accept().unwrap();
        if from.ip() == std::net::IpAddr::V4(KERNEL) {
            break (c, from);
        }
    };
    assert_eq!(from.ip(), std::net::IpAddr::V4(KERNEL));
    let mut buf = Vec::new();
    (&conn).read_to_end(&mut buf).unwrap();
    (&conn).write_all(&buf).unwrap();
    drop(conn);
    assert_eq!(client.join().unwrap(), b"still here");
}
