//! IPv4 fragment reassembly against the kernel (issue 18): the kernel
//! fragments large UDP datagrams on its own and they must reach a
//! tunstack `UdpSocket` intact; forged overlapping, tiny and never-completed
//! trains (built with etherparse, sent from a raw socket) must be dropped,
//! counted under their own counters and freed by the reassembly timeout,
//! without ever reaching the socket.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use etherparse::IpNumber;
use forge::{ipv4_fragment, Forger};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};
use tunstack::net::{Config, Stats, UdpSocket};
use tunstack::stack::FragLimits;
use tunstack::Stack;

const PORT: u16 = 9000;

/// Waits (up to a generous bound, not a timing assertion) until the
/// stack's counters satisfy `done`; returns them either way.
fn wait_for(stack: &Stack, done: impl Fn(&Stats) -> bool) -> Stats {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let s = stack.stats();
        if done(&s) || Instant::now() > until {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `data` from the kernel to our port: more than the MTU, so the
/// kernel fragments it. Returns what our socket received, after checking
/// it came from the kernel's socket.
fn kernel_sends(sock: &UdpSocket, data: &[u8]) -> Vec<u8> {
    let k = std::net::UdpSocket::bind(SocketAddrV4::new(KERNEL, 0)).unwrap();
    assert_eq!(
        k.send_to(data, SocketAddrV4::new(US, PORT)).unwrap(),
        data.len()
    );
    let mut buf = vec![0u8; 65536];
    let (n, from) = sock.recv_from(&mut buf).expect("the datagram arrives");
    buf.truncate(n);
    assert_eq!(from, k.local_addr().unwrap());
    buf
}

#[test]
fn kernel_fragmented_udp_datagrams_arrive_intact() {
    let stack = netns();
    let sock = UdpSocket::bind(&stack, ("0.0.0.0", PORT)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for (len, seed) in [(4000usize, 1u64), (60000, 2)] {
        let data = random_bytes(len, seed);
        let got = kernel_sends(&sock, &data);
        assert_eq!(got.len(), len);
        assert_eq!(sha256(&got), sha256(&data), "{len} bytes");
    }
    let s = stack.stats();
    // 4000 bytes + 8 of UDP header in 1480-byte pieces is 3 fragments;
    // 60008 is 41.
    assert_eq!((s.ip_fragments, s.frag_reassembled), (44, 2), "{s:?}");
    assert_eq!(s.udp_delivered, 2);
    assert_eq!(s.dropped(), 0, "{s:?}");
}

#[test]
fn forged_overlapping_tiny_and_unfinished_trains_are_dropped_counted_and_freed() {
    let stack = netns_with(Config {
        frag: FragLimits {
            timeout_v4: tunstack::time::Duration::from_secs(2),
            ..FragLimits::default()
        },
        ..Config::default()
    });
    let sock = UdpSocket::bind(&stack, ("0.0.0.0", PORT)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let forger = Forger::new();
    let udp_head = {
        let mut h = vec![0u8; 8];
        h[0..2].copy_from_slice(&4000u16.to_be_bytes());
        h[2..4].copy_from_slice(&PORT.to_be_bytes());
        h[4..6].copy_from_slice(&40u16.to_be_bytes());
        h
    };
    let mut first = udp_head.clone();
    first.extend_from_slice(&[0xaa; 8]);
    let udp = IpNumber::UDP;
    // Overlap: bytes 8..24 collide with the first fragment's 0..16; the
    // datagram is discarded and its last fragment dropped after it.
    forger.send(&ipv4_fragment(KERNEL, 100, udp, 0, true, &first));
    forger.send(&ipv4_fragment(KERNEL, 100, udp, 8, true, &[0xbb; 16]));
    forger.send(&ipv4_fragment(KERNEL, 100, udp, 24, false, &[0xcc; 16]));
    // Tiny: a first TCP fragment of 8 bytes cannot hold the TCP header.
    forger.send(&ipv4_fragment(KERNEL, 200, IpNumber::TCP, 0, true, &[0; 8]));
    // Never completed: the last fragment never comes.
    forger.send(&ipv4_fragment(KERNEL, 300, udp, 0, true, &first));
    let s = wait_for(&stack, |s| s.frag_received >= 5);
    assert_eq!(s.frag_received, 5, "{s:?}");
    assert_eq!((s.frag_overlap, s.frag_after_overlap), (1, 1), "{s:?}");
    assert_eq!(s.frag_tiny, 1, "{s:?}");
    assert_eq!((s.frag_reassembled, s.frag_timeout), (0, 0), "{s:?}");
    // The timeout frees the unfinished train (the overlap's tombstone goes
    // too, but is not a timed-out datagram).
    let s = wait_for(&stack, |s| s.frag_timeout >= 1);
    assert_eq!((s.frag_timeout, s.frag_reassembled), (1, 0), "{s:?}");
    // Nothing forged reached the socket: the first datagram it holds is
    // the kernel's own, sent after the forgeries.
    let data = random_bytes(5000, 3);
    let got = kernel_sends(&sock, &data);
    assert_eq!(sha256(&got), sha256(&data));
    let s = stack.stats();
    assert_eq!((s.frag_reassembled, s.udp_delivered), (1, 1), "{s:?}");
}
