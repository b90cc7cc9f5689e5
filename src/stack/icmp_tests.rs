//! ICMP (IPv4) through the interface: echo replies (RFC 792), and errors
//! about our connections (RFC 1122 §4.2.3.9, RFC 5927): a hard error
//! aborts a connection attempt, a soft one does not, fragmentation needed
//! lowers the MSS (RFC 1191), and an error quoting a sequence number not
//! in flight is ignored; a malformed message is dropped and counted.
//! ICMPv6 is in `ipv6_tests.rs`.

use super::tests::{connecting, packet, parse_tcp, poll_with, tcp_header, PEER, US};
use super::*;
use crate::tcp::State;
use crate::wire::icmp::{self, IcmpMessage};
use crate::wire::{Flags, Ipv4Packet, Ipv4Repr};
use std::net::SocketAddrV4;

#[test]
fn icmp_echo_request_gets_reply() {
    let mut iface = Interface::new(Config::default());
    let req = IcmpMessage {
        kind: icmp::ECHO_REQUEST,
        code: 0,
        rest: [0, 7, 0, 1],
        data: b"abcdefgh",
    };
    let out = poll_with(&mut iface, Instant::ZERO, vec![icmp_from_peer(&req, 9)]);
    assert_eq!(out.len(), 1);
    let ip = Ipv4Packet::parse(&out[0]).unwrap();
    assert_eq!((ip.repr.src, ip.repr.dst), (US, PEER));
    let reply = IcmpMessage::parse(ip.payload).unwrap();
    assert_eq!(
        (reply.kind, reply.rest, reply.data),
        (icmp::ECHO_REPLY, [0, 7, 0, 1], &b"abcdefgh"[..])
    );
}

/// `msg` from the peer to us, in an IPv4 packet with identification
/// `ident`.
fn icmp_from_peer(msg: &IcmpMessage, ident: u16) -> Vec<u8> {
    let mut m = vec![0u8; msg.len()];
    msg.emit(&mut m).unwrap();
    let mut pkt = vec![0u8; 20 + m.len()];
    pkt[20..].copy_from_slice(&m);
    Ipv4Repr {
        src: PEER,
        dst: US,
        protocol: crate::wire::PROTO_ICMP,
        ttl: 64,
        payload_len: m.len(),
    }
    .emit(&mut pkt, ident)
    .unwrap();
    pkt
}

/// An ICMP error from the peer quoting `quoted` (one of our packets).
fn icmp_error_packet(kind: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let msg = IcmpMessage {
        kind,
        code,
        rest,
        data: &quoted[..quoted.len().min(28)],
    };
    icmp_from_peer(&msg, 3)
}

/// Port unreachable from the peer, quoting `quoted`.
fn port_unreachable(quoted: &[u8]) -> Vec<u8> {
    icmp_error_packet(
        icmp::DEST_UNREACHABLE,
        icmp::CODE_PORT_UNREACHABLE,
        [0; 4],
        quoted,
    )
}

#[test]
fn icmp_port_unreachable_refuses_a_connection_attempt() {
    // RFC 1122 §4.2.3.9: a hard error aborts SYN-SENT.
    let (mut iface, h, syn) = connecting(SocketAddrV4::new(PEER, 81));
    let err = port_unreachable(&syn);
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(
        iface.tcp(h).unwrap().error(),
        Some(crate::tcp::ConnectionError::Refused)
    );
    assert_eq!(iface.stats().icmp_errors_applied, 1);
}

#[test]
fn icmp_error_with_a_sequence_not_in_flight_is_ignored() {
    // RFC 5927 §4.1: blind ICMP attacks must guess an in-flight sequence.
    let (mut iface, h, mut syn) = connecting(SocketAddrV4::new(PEER, 81));
    syn[24] ^= 0x80; // corrupt the quoted sequence number
    let err = port_unreachable(&syn);
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(iface.tcp(h).unwrap().state(), State::SynSent);
    assert_eq!(iface.stats().icmp_errors_ignored, 1);
}

#[test]
fn icmp_fragmentation_needed_lowers_the_mss() {
    // RFC 1191: path MTU discovery.
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let mut syn = tcp_header(40000, 80, 1, 0, Flags::SYN);
    syn.options.mss = Some(1460);
    let out = poll_with(&mut iface, Instant::ZERO, vec![packet(PEER, US, &syn, b"")]);
    let (sa, _) = parse_tcp(&out[0]);
    let ack = packet(
        PEER,
        US,
        &tcp_header(40000, 80, 2, sa.seq.0.wrapping_add(1), Flags::ACK),
        b"",
    );
    poll_with(&mut iface, Instant::from_millis(1), vec![ack]);
    let h = iface.tcp_accept(80).unwrap().unwrap();
    assert_eq!(iface.tcp(h).unwrap().mss(), 1460);
    iface.tcp_mut(h).unwrap().send(&[7u8; 3000]).unwrap();
    let data = poll_with(&mut iface, Instant::from_millis(2), vec![]);
    let mtu = 1000u16.to_be_bytes();
    let err = icmp_error_packet(icmp::DEST_UNREACHABLE, 4, [0, 0, mtu[0], mtu[1]], &data[0]);
    let resent = poll_with(&mut iface, Instant::from_millis(3), vec![err]);
    assert_eq!(iface.tcp(h).unwrap().mss(), 960);
    assert!(
        resent.iter().all(|p| p.len() <= 1000),
        "segments now fit the path MTU"
    );
}

#[test]
fn icmp_time_exceeded_is_soft() {
    let (mut iface, h, syn) = connecting(SocketAddrV4::new(PEER, 81));
    let err = icmp_error_packet(icmp::TIME_EXCEEDED, 0, [0; 4], &syn);
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(
        iface.tcp(h).unwrap().state(),
        State::SynSent,
        "soft: keep trying"
    );
}

#[test]
fn a_truncated_icmp_message_is_dropped_and_counted() {
    // Four bytes, shorter than an ICMP header: no reply, counted.
    let mut iface = Interface::new(Config::default());
    let mut pkt = vec![0u8; 24];
    Ipv4Repr {
        src: PEER,
        dst: US,
        protocol: crate::wire::PROTO_ICMP,
        ttl: 64,
        payload_len: 4,
    }
    .emit(&mut pkt, 1)
    .unwrap();
    assert!(poll_with(&mut iface, Instant::ZERO, vec![pkt]).is_empty());
    assert_eq!(iface.stats().icmp_dropped, 1);
}
