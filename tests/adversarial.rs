//! A hostile network against tunstack, in a private namespace: a raw
//! socket on the kernel side forges segments (etherparse builds them, so
//! the attack does not share tunstack's own packet code) while a real
//! transfer with the kernel's TCP runs. Blind RST, SYN, data and ACK
//! injection (RFC 5961), malformed and extreme TCP options, and an
//! unassigned spoofed source: every attack is rejected, counted, and the
//! legitimate bytes arrive intact. A scripted peer that negotiates SACK
//! and sends only plain duplicate ACKs draws no fast retransmit, as with
//! Linux. Each test runs over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`).

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use etherparse::TcpOptionElement;
use forge::{Forge, Forger, Sniffed, Sniffer};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tunstack::{TcpListener, TcpStream};

/// How long to watch the wire for a reply (or for its absence) once a
/// forged segment has been processed: replies leave at once.
const QUIET: Duration = Duration::from_millis(300);

/// More than the per-connection limit on answers to segments that do not
/// belong (`Config::invalid_ratelimit`, Linux's 500 ms).
const RATELIMIT: Duration = Duration::from_millis(600);

/// Waits until `cond` holds (the forged packets cross tun0 and the driver
/// thread asynchronously).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn blind_injection_is_rejected_per_rfc_5961_and_the_transfer_survives(f: Family) {
    let stack = netns();
    let peer = f.kernel_at(9000);
    let listener = std::net::TcpListener::bind(peer).unwrap();
    let ours = TcpStream::connect(&stack, peer).unwrap();
    let (mut kernel, _) = listener.accept().unwrap();
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
    let forger = Forger::new();
    let sniffer = Sniffer::new();
    let from_us = f.us_at(port);
    let ours_to_peer = |p: &Sniffed| p.src == from_us && p.dst == peer;
    // Sends `seg` and waits until the connection has processed it (its
    // segments_in counter moved), so "nothing happened" is not a race.
    // Probes are spaced by more than Linux's tcp_invalid_ratelimit (500
    // ms): duplicate and challenge ACKs share one per-connection clock, so
    // an answer within 500 ms of the previous one is (rightly) withheld.
    let inject = |what: &str, seg: &Forge| {
        std::thread::sleep(RATELIMIT);
        let before = stats();
        forger.send(&seg.bytes());
        eventually(&format!("{what} reaches the connection"), || {
            stats().segments_in > before.segments_in
        });
        before
    };
    // The single reply to an injected segment: a bare ACK at SND.NXT
    // acknowledging RCV.NXT (a challenge ACK has exactly this shape, RFC
    // 5961 §3.2; so has the ACK of an unacceptable segment, RFC 9293
    // §3.10.7.4). Nothing else may follow it.
    let one_ack = |what: &str| {
        let got = sniffer.all_matching(QUIET, ours_to_peer);
        assert!(
            got.len() == 1 && got[0].is_bare_ack(rcv_nxt) && got[0].seq == snd_nxt,
            "{what}: want one ACK <SEQ={snd_nxt}><ACK={rcv_nxt}>, got {got:?}"
        );
    };
    let nothing = |what: &str| {
        let got = sniffer.all_matching(QUIET, ours_to_peer);
        assert!(got.is_empty(), "{what}: want no reply, got {got:?}");
    };
    let established = |what: &str| {
        assert_eq!(
            ours.state(),
            tunstack::tcp::State::Established,
            "{what}: {:?}",
            stats()
        );
    };

    // RFC 5961 §3.2: an in-window RST that is not exactly RCV.NXT gets a
    // challenge ACK; the connection stays.
    let mut rst = Forge::new(peer, port, rcv_nxt.wrapping_add(3000));
    rst.rst = true;
    let before = inject("in-window RST", &rst);
    one_ack("in-window RST");
    assert_eq!(stats().challenge_acks, before.challenge_acks + 1);
    established("after an in-window RST");

    // §3.2 too: a RST outside the window is dropped without a word: no
    // challenge ACK, no ACK, and the connection stays.
    let mut far = Forge::new(peer, port, rcv_nxt.wrapping_sub(100_000));
    far.rst = true;
    let before = inject("out-of-window RST", &far);
    nothing("out-of-window RST");
    let after = stats();
    assert_eq!(
        (after.challenge_acks, after.unacceptable),
        (before.challenge_acks, before.unacceptable),
        "an out-of-window RST is dropped silently"
    );
    established("after an out-of-window RST");

    // §4.2: a SYN on a synchronized connection gets a challenge ACK, and it
    // alone accounts for the one counted here.
    let mut syn = Forge::new(peer, port, rcv_nxt.wrapping_add(700));
    syn.syn = true;
    let before = inject("in-window SYN", &syn);
    one_ack("in-window SYN");
    let after = stats();
    assert_eq!(
        (after.challenge_acks, after.unacceptable),
        (before.challenge_acks + 1, before.unacceptable),
        "an in-window SYN draws a challenge ACK"
    );
    established("after an in-window SYN");

    // A SYN outside the window fails the sequence check (RFC 9293
    // §3.10.7.4) and, as in Linux's tcp_validate_incoming, still draws a
    // challenge ACK (RFC 5961 §4.2), not the plain duplicate ACK.
    let mut blind_syn = Forge::new(peer, port, rcv_nxt.wrapping_add(1 << 31));
    blind_syn.syn = true;
    let before = inject("out-of-window SYN", &blind_syn);
    one_ack("out-of-window SYN");
    let after = stats();
    assert_eq!(
        (after.challenge_acks, after.unacceptable),
        (before.challenge_acks + 1, before.unacceptable + 1),
        "an out-of-window SYN is unacceptable and challenged"
    );
    established("after an out-of-window SYN");

    // RFC 9293 §3.10.7.4: data far outside the window is unacceptable and
    // answered with an ACK.
    let mut evil = Forge::new(peer, port, rcv_nxt.wrapping_add(1 << 30));
    evil.ack = Some(snd_nxt);
    evil.payload = b"EVIL".to_vec();
    let before = inject("out-of-window data", &evil);
    one_ack("out-of-window data");
    assert_eq!(stats().unacceptable, before.unacceptable + 1);

    // Old data (already received) with different bytes must not rewrite
    // the stream (the SHA-256 at the end checks): a duplicate, ACKed.
    let mut old = Forge::new(peer, port, rcv_nxt.wrapping_sub(500));
    old.ack = Some(snd_nxt);
    old.payload = vec![0xEE; 100];
    let before = inject("old data", &old);
    one_ack("old data");
    assert_eq!(stats().unacceptable, before.unacceptable + 1);

    // RFC 9293 §3.10.7.4 / RFC 5961 §5.2: a segment acknowledging data
    // never sent is dropped and answered with an ACK; its bytes must not
    // enter the stream.
    let mut ahead = Forge::new(peer, port, rcv_nxt);
    ahead.ack = Some(snd_nxt.wrapping_add(100_000));
    ahead.payload = b"AHEAD".to_vec();
    let before = inject("ACK of unsent data", &ahead);
    one_ack("ACK of unsent data");
    assert_eq!(stats().bytes_in, before.bytes_in, "no byte of it delivered");

    // SACK blocks far outside the window (RFC 2018 §3 says ignore them): a
    // pure ACK with nothing outstanding draws no reply, and starts no
    // recovery or retransmission.
    let mut sack = Forge::new(peer, port, rcv_nxt);
    sack.ack = Some(snd_nxt);
    let left = snd_nxt.wrapping_add(1 << 29);
    let right = left.wrapping_add(5000);
    sack.options = vec![1, 1, 5, 10];
    sack.options.extend_from_slice(&left.to_be_bytes());
    sack.options.extend_from_slice(&right.to_be_bytes());
    let before = inject("out-of-window SACK", &sack);
    nothing("out-of-window SACK");
    let after = stats();
    assert_eq!(
        (
            after.retransmits,
            after.fast_retransmits,
            after.sack_recoveries,
            after.unacceptable
        ),
        (
            before.retransmits,
            before.fast_retransmits,
            before.sack_recoveries,
            before.unacceptable
        ),
        "out-of-window SACK blocks change nothing: {after:?}"
    );
    established("after out-of-window SACK blocks");
    drop(sniffer);

    // §7: a burst of in-window RSTs cannot make us send more challenge
    // ACKs than one per 500 ms (no amplification).
    std::thread::sleep(RATELIMIT);
    let burst_before = stats();
    let burst_start = Instant::now();
    for i in 0..1000u32 {
        let mut r = Forge::new(peer, port, rcv_nxt.wrapping_add(2000 + i));
        r.rst = true;
        forger.send(&r.bytes());
    }
    eventually("the burst was counted as suppressed", || {
        stats().challenge_acks_suppressed > burst_before.challenge_acks_suppressed
    });
    let after = stats();
    // One when the burst begins, then one per 500 ms of its duration.
    let allowed = 1 + burst_start.elapsed().as_millis() as u64 / 500;
    assert!(
        after.challenge_acks - burst_before.challenge_acks <= allowed,
        "challenge ACKs limited to {allowed}: {after:?}"
    );
    assert_eq!(ours.state(), tunstack::tcp::State::Established, "{after:?}");

    // An unassigned spoofed source gets a RST, nothing else happens.
    let rsts = stack.stats().tcp_rst_sent;
    let mut stray = Forge::new(SocketAddr::new(f.host(77), 4444), port, 1);
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

fn malformed_and_extreme_syn_options_never_break_the_listener(f: Family) {
    let stack = netns();
    let listener = TcpListener::bind(&stack, f.any(8000)).unwrap();
    let forger = Forger::new();
    let sniffer = Sniffer::new();
    let syn_ack_to = |src: SocketAddr, isn: u32| {
        move |p: &Sniffed| p.dst == src && p.syn && p.ack == Some(isn.wrapping_add(1)) && !p.rst
    };
    let has_ts = |p: &Sniffed| p.timestamps().is_some();
    let has_wscale = |p: &Sniffed| p.has_option(|o| matches!(o, TcpOptionElement::WindowScale(_)));
    let has_sack_ok = |p: &Sniffed| {
        p.has_option(|o| matches!(o, TcpOptionElement::SelectiveAcknowledgementPermitted))
    };
    // Each case: its options, and a check that must hold on the SYN-ACK
    // it gets (unknown options skipped, values out of range clamped,
    // RFC 7323 §2.3 for window scale). A malformed option list (RFC 9293
    // §3.1: a length that cannot be right) ends option parsing, as in
    // Linux's `tcp_parse_options`, and the SYN is answered all the same
    // (linux_edges.rs compares that with the kernel).
    type Check = Box<dyn Fn(&Sniffed) -> bool>;
    let plain: fn(&Sniffed) -> bool = |_| true;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("option length 1", vec![2, 1, 5, 0], Box::new(plain)),
        (
            "zero-length option (would loop)",
            vec![8, 0, 0, 0],
            Box::new(move |p: &Sniffed| !has_ts(p)),
        ),
        (
            "length past the header",
            vec![2, 40, 5, 180],
            Box::new(plain),
        ),
        ("MSS 0", vec![2, 4, 0, 0], Box::new(plain)),
        (
            "window scale 15 (> 14)",
            vec![3, 3, 15, 0],
            Box::new(has_wscale),
        ),
        ("window scale 255", vec![3, 3, 255, 0], Box::new(has_wscale)),
        (
            "timestamps about to wrap",
            vec![1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            Box::new(|p: &Sniffed| p.timestamps().map(|(_, ecr)| ecr) == Some(0xffff_ffff)),
        ),
        (
            "SACK block in a SYN",
            vec![1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            Box::new(move |p: &Sniffed| !has_sack_ok(p)),
        ),
        (
            "unknown kinds",
            vec![99, 4, 1, 2, 200, 2, 0, 0],
            Box::new(plain),
        ),
        (
            "all NOPs",
            vec![1; 40],
            Box::new(move |p: &Sniffed| !has_ts(p) && !has_wscale(p) && !has_sack_ok(p)),
        ),
        ("EOL then garbage", vec![0, 2, 1, 0xff], Box::new(plain)),
    ];
    for (i, (what, options, check)) in cases.iter().enumerate() {
        let src = SocketAddr::new(f.host(100 + i as u8), 40000 + i as u16);
        let isn = 1000 * i as u32;
        let mut syn = Forge::new(src, 8000, isn);
        syn.syn = true;
        syn.options = options.clone();
        let before = stack.stats();
        forger.send(&syn.bytes());
        let reply = sniffer
            .next_matching(Duration::from_secs(5), syn_ack_to(src, isn))
            .unwrap_or_else(|| panic!("{what}: no SYN-ACK"));
        assert!(check(&reply), "{what}: wrong SYN-ACK {reply:?}");
        // The three lists with a length that cannot be right are counted
        // (processed all the same); every other list is not.
        let malformed = matches!(
            *what,
            "option length 1" | "zero-length option (would loop)" | "length past the header"
        );
        assert_eq!(
            stack.stats().tcp_bad_option,
            before.tcp_bad_option + u64::from(malformed),
            "{what}: counted in tcp_bad_option only if malformed"
        );
    }
    drop(sniffer);

    // The listener still serves a real client.
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(f.us_at(8000)).unwrap();
        s.write_all(b"still here").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v
    });
    let (conn, from) = loop {
        let (c, from) = listener.accept().unwrap();
        if from.ip() == f.kernel() {
            break (c, from);
        }
    };
    assert_eq!(from.ip(), f.kernel());
    let mut buf = Vec::new();
    (&conn).read_to_end(&mut buf).unwrap();
    (&conn).write_all(&buf).unwrap();
    drop(conn);
    assert_eq!(client.join().unwrap(), b"still here");
}

fn plain_duplicate_acks_on_a_sack_connection_start_no_fast_retransmit(f: Family) {
    // A scripted peer negotiates SACK, then answers our five segments
    // with four duplicate ACKs and no SACK block. Linux counts duplicates
    // only without SACK (`tcp_add_reno_sack`), and RACK marks nothing lost
    // without SACKed data: no fast retransmit; the timeout resends the
    // head.
    let stack = netns();
    let listener = TcpListener::bind(&stack, f.any(8001)).unwrap();
    let forger = Forger::new();
    let sniffer = Sniffer::new();
    let src = SocketAddr::new(f.host(150), 41000);
    let isn = 5000u32;
    let mut syn = Forge::new(src, 8001, isn);
    syn.syn = true;
    // MSS 1000, NOP, NOP, SACK-permitted.
    syn.options = vec![2, 4, 3, 232, 1, 1, 4, 2];
    forger.send(&syn.bytes());
    let syn_ack = sniffer
        .next_matching(Duration::from_secs(5), |p: &Sniffed| {
            p.dst == src && p.syn && p.ack == Some(isn + 1)
        })
        .expect("SYN-ACK");
    let una = syn_ack.seq.wrapping_add(1);
    let mut ack = Forge::new(src, 8001, isn + 1);
    ack.ack = Some(una);
    forger.send(&ack.bytes());
    let conn = loop {
        let (c, from) = listener.accept().unwrap();
        if from == src {
            break c;
        }
    };
    (&conn).write_all(&[b'x'; 5000]).unwrap();
    for k in 0..5u32 {
        let want = una.wrapping_add(k * 1000);
        sniffer
            .next_matching(Duration::from_secs(5), |p: &Sniffed| {
                p.dst == src && p.seq == want && p.payload.len() == 1000
            })
            .unwrap_or_else(|| panic!("segment {k}"));
    }
    for _ in 0..4 {
        forger.send(&ack.bytes());
    }
    eventually("the duplicate ACKs counted", || {
        conn.tcp_stats().unwrap().dup_acks == 4
    });
    // The head goes again only when the retransmission timer fires.
    sniffer
        .next_matching(Duration::from_secs(5), |p: &Sniffed| {
            p.dst == src && p.seq == una && !p.payload.is_empty()
        })
        .expect("the head resent");
    let stats = conn.tcp_stats().unwrap();
    assert_eq!(
        (stats.fast_retransmits, stats.sack_recoveries),
        (0, 0),
        "{stats:?}"
    );
    assert!(stats.retransmit_timeouts >= 1, "{stats:?}");
}

per_family!(
    plain_duplicate_acks_on_a_sack_connection_start_no_fast_retransmit,
    blind_injection_is_rejected_per_rfc_5961_and_the_transfer_survives,
    malformed_and_extreme_syn_options_never_break_the_listener,
);
