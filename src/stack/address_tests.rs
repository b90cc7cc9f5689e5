//! Addresses no reply may go to (RFC 1122 §3.2.1.3, §4.2.3.10): a packet
//! from a broadcast, multicast, unspecified or our own address, or to any
//! address but ours, is dropped under its counter and answered with
//! nothing: no SYN-ACK, no RST, no ICMP error, no echo reply. Answering
//! would let one forged packet draw replies to a whole subnet, or to
//! ourselves.

use super::malformed_tests::only;
use super::tests::{packet, tcp_header, udp_packet, PEER, US};
use super::*;
use crate::wire::icmp::{self, IcmpMessage};
use crate::wire::{checksum, Flags, Ipv4Repr, PROTO_ICMP, PROTO_UDP};

/// The subnet's directed broadcast with `prefix_len` 24.
const SUBNET_BROADCAST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 255);

/// An interface on 10.0.0.2/24 with a TCP listener on 80 and a UDP socket
/// on 53, fed `p`: what it sent, and its counters.
fn feed(p: Vec<u8>) -> (Vec<Vec<u8>>, Stats) {
    let mut iface = Interface::new(Config {
        prefix_len: 24,
        ..Config::default()
    });
    iface.tcp_listen(80).unwrap();
    iface.udp_bind(53).unwrap();
    let out = tests::poll_with(&mut iface, Instant::ZERO, vec![p]);
    (out, *iface.stats())
}

/// `p` (an IPv4 packet from the peer to us) re-addressed from `src` to
/// `dst`, with the IPv4 and transport checksums recomputed, so nothing
/// but the addresses can get it dropped.
fn readdress(p: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut q = p.to_vec();
    q[12..16].copy_from_slice(&src.octets());
    q[16..20].copy_from_slice(&dst.octets());
    q[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::data(&q[..IPV4_HEADER_LEN]);
    q[10..12].copy_from_slice(&c.to_be_bytes());
    let protocol = q[9];
    let at = match protocol {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => return q,
    };
    let seg = &mut q[IPV4_HEADER_LEN..];
    seg[at..at + 2].copy_from_slice(&[0, 0]);
    let acc = checksum::pseudo_header(src, dst, protocol, seg.len());
    let c = match checksum::fold(checksum::sum(acc, seg)) {
        // RFC 768: a computed UDP checksum of zero is sent as all ones.
        0 if protocol == PROTO_UDP => 0xffff,
        c => c,
    };
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    q
}

/// An ICMP echo request from the peer to us.
fn echo_request() -> Vec<u8> {
    let req = IcmpMessage {
        kind: icmp::ECHO_REQUEST,
        code: 0,
        rest: [0, 7, 0, 1],
        data: b"abcdefgh",
    };
    let mut p = vec![0u8; IPV4_HEADER_LEN + req.len()];
    req.emit(&mut p[IPV4_HEADER_LEN..]).unwrap();
    Ipv4Repr {
        src: PEER,
        dst: US,
        protocol: PROTO_ICMP,
        ttl: 64,
        payload_len: req.len(),
    }
    .emit(&mut p, 3)
    .unwrap();
    p
}

/// One packet of each kind the stack answers, from the peer to us: a SYN
/// to the listener (SYN-ACK), a SYN and an ACK to a closed port (RST), UDP
/// to a closed port (ICMP port unreachable), UDP to the bound port
/// (delivered), and an echo request (echo reply).
fn probes() -> Vec<(&'static str, Vec<u8>)> {
    let syn = tcp_header(40000, 80, 1000, 0, Flags::SYN);
    let closed_syn = tcp_header(40000, 81, 1000, 0, Flags::SYN);
    let closed_ack = tcp_header(40000, 81, 1000, 5000, Flags::ACK);
    vec![
        ("SYN to a listener", packet(PEER, US, &syn, b"")),
        ("SYN to a closed port", packet(PEER, US, &closed_syn, b"")),
        ("ACK to a closed port", packet(PEER, US, &closed_ack, b"x")),
        ("UDP to a closed port", udp_packet(4000, 54, b"query")),
        ("UDP to a bound port", udp_packet(4000, 53, b"query")),
        ("ICMP echo request", echo_request()),
    ]
}

/// The probes really are answered (or delivered) from a normal source, so
/// the silence below is the address's doing.
#[test]
fn every_probe_is_answered_from_a_unicast_peer() {
    for (what, p) in probes() {
        let (out, stats) = feed(p);
        let delivered = stats.udp_delivered == 1;
        assert!(
            out.len() == 1 || delivered,
            "{what}: {} replies, {stats:?}",
            out.len()
        );
        assert_eq!(stats.dropped(), 0, "{what}");
    }
}

/// Checks that `src` → `dst` draws no reply for any probe and moves only
/// `counter`.
fn silently_dropped(src: Ipv4Addr, dst: Ipv4Addr, counter: &str) {
    for (what, p) in probes() {
        let (out, stats) = feed(readdress(&p, src, dst));
        assert!(
            out.is_empty(),
            "{what} from {src} to {dst}: answered with {} packets",
            out.len()
        );
        assert_eq!(
            stats.dropped(),
            1,
            "{what} from {src} to {dst}: dropped once"
        );
        only(&stats, counter, 1);
    }
}

#[test]
fn source_limited_broadcast_is_dropped_silently() {
    silently_dropped(Ipv4Addr::BROADCAST, US, "ip_martian_source");
}

#[test]
fn source_directed_broadcast_of_our_subnet_is_dropped_silently() {
    silently_dropped(SUBNET_BROADCAST, US, "ip_martian_source");
}

#[test]
fn source_multicast_is_dropped_silently() {
    for src in [
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 255, 255, 250),
        Ipv4Addr::new(232, 1, 2, 3),
    ] {
        silently_dropped(src, US, "ip_martian_source");
    }
}

#[test]
fn source_unspecified_is_dropped_silently() {
    silently_dropped(Ipv4Addr::UNSPECIFIED, US, "ip_martian_source");
}

#[test]
fn source_our_own_address_is_dropped_silently() {
    silently_dropped(US, US, "ip_martian_source");
}

/// A /31 or /32 subnet has no broadcast address (RFC 3021): its top
/// address is a host, and an unknown prefix (the default) guesses none.
#[test]
fn directed_broadcast_needs_a_subnet_with_one() {
    let cfg = |prefix_len| Config {
        addr: Ipv4Addr::new(192, 168, 7, 130),
        prefix_len,
        ..Config::default()
    };
    assert_eq!(
        cfg(25).directed_broadcast(),
        Some(Ipv4Addr::new(192, 168, 7, 255))
    );
    assert_eq!(
        cfg(30).directed_broadcast(),
        Some(Ipv4Addr::new(192, 168, 7, 131))
    );
    assert_eq!(cfg(0).directed_broadcast(), Some(Ipv4Addr::BROADCAST));
    assert_eq!(cfg(31).directed_broadcast(), None);
    assert_eq!(cfg(32).directed_broadcast(), None);
    assert_eq!(cfg(33).directed_broadcast(), None);
}

/// Packets to any address but ours (broadcast, multicast, another host)
/// are not ours to answer, even from a valid peer.
#[test]
fn destination_not_ours_is_dropped_silently() {
    for dst in [
        Ipv4Addr::BROADCAST,
        SUBNET_BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 255, 255, 250),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(10, 0, 0, 3),
    ] {
        silently_dropped(PEER, dst, "ip_not_for_us");
    }
}
