//! IPv6 through the interface: echo, ND/MLD, TCP and UDP over IPv6,
//! ICMPv6 errors (Packet Too Big with RFC 5927 validation), extension
//! header refusals, dual-stack and v6-only listeners, drop counters.

use super::tests::{connecting, packet, poll_with, tcp_header, PEER, US};
use super::*;
use crate::tcp::State;
use crate::wire::icmpv6::{self, Icmpv6Message};
use crate::wire::ipv6::{NEXT_FRAGMENT, NEXT_HOP_BY_HOP, NEXT_ICMPV6, NEXT_ROUTING};
use crate::wire::{Flags, Ipv6Packet, Ipv6Repr, SeqNumber, TcpSegment, PROTO_UDP};
use std::net::SocketAddrV6;

pub(super) const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
pub(super) const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

/// An IPv6 packet from `src` to `dst` whose payload is `payload`.
pub(super) fn ip6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; IPV6_HEADER_LEN + payload.len()];
    p[IPV6_HEADER_LEN..].copy_from_slice(payload);
    Ipv6Repr {
        src,
        dst,
        next_header: next,
        hop_limit: 64,
        flow_label: 0,
        payload_len: payload.len(),
    }
    .emit(&mut p)
    .unwrap();
    p
}

pub(super) fn packet6(src: Ipv6Addr, dst: Ipv6Addr, h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
    let hl = h.header_len();
    let mut seg = vec![0u8; hl + payload.len()];
    seg[hl..].copy_from_slice(payload);
    h.emit(&mut seg, src, dst).unwrap();
    ip6(src, dst, PROTO_TCP, &seg)
}

pub(super) fn parse_tcp6(p: &[u8]) -> (Ipv6Repr, TcpHeader, Vec<u8>) {
    let ip = Ipv6Packet::parse(p).unwrap();
    assert_eq!(ip.repr.next_header, PROTO_TCP);
    let s = TcpSegment::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
    (ip.repr, s.header, s.payload.to_vec())
}

fn icmp6(src: Ipv6Addr, dst: Ipv6Addr, m: &Icmpv6Message<'_>) -> Vec<u8> {
    let mut b = vec![0u8; m.len()];
    m.emit(&mut b, src, dst).unwrap();
    ip6(src, dst, NEXT_ICMPV6, &b)
}

fn parse_icmp6(p: &[u8]) -> (Ipv6Repr, u8, u8, [u8; 4], Vec<u8>) {
    let ip = Ipv6Packet::parse(p).unwrap();
    assert_eq!(ip.repr.next_header, NEXT_ICMPV6);
    let m = Icmpv6Message::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
    (ip.repr, m.kind, m.code, m.rest, m.data.to_vec())
}

fn udp6(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let d = crate::wire::UdpDatagram {
        src_port: sport,
        dst_port: dport,
        payload,
    };
    let mut b = vec![0u8; 8 + payload.len()];
    d.emit(&mut b, PEER6, US6).unwrap();
    ip6(PEER6, US6, PROTO_UDP, &b)
}

/// A passive IPv6 connection on port 80, established; returns its handle
/// and the SYN-ACK.
fn accepted6(iface: &mut Interface, mss: u16) -> (SocketHandle, Ipv6Repr, TcpHeader) {
    iface.tcp_listen(80).unwrap();
    let mut syn = tcp_header(40000, 80, 1, 0, Flags::SYN);
    syn.options.mss = Some(mss);
    let out = poll_with(iface, Instant::ZERO, vec![packet6(PEER6, US6, &syn, b"")]);
    let (ip, sa, _) = parse_tcp6(&out[0]);
    let ack = packet6(
        PEER6,
        US6,
        &tcp_header(40000, 80, 2, sa.seq.0.wrapping_add(1), Flags::ACK),
        b"",
    );
    poll_with(iface, Instant::from_millis(1), vec![ack]);
    let h = iface.tcp_accept(80).unwrap().expect("accepted");
    (h, ip, sa)
}

#[test]
fn ping6_gets_an_echo_reply() {
    // RFC 4443 §4.2: identifier, sequence and data come back unchanged.
    let mut iface = Interface::new(Config::default());
    let req = Icmpv6Message {
        kind: icmpv6::ECHO_REQUEST,
        code: 0,
        rest: [0, 7, 0, 1],
        data: b"abcdefgh",
    };
    let out = poll_with(&mut iface, Instant::ZERO, vec![icmp6(PEER6, US6, &req)]);
    assert_eq!(out.len(), 1);
    let (ip, kind, code, rest, data) = parse_icmp6(&out[0]);
    assert_eq!((ip.src, ip.dst), (US6, PEER6));
    assert_eq!((kind, code, rest), (icmpv6::ECHO_REPLY, 0, [0, 7, 0, 1]));
    assert_eq!(data, b"abcdefgh");
    assert_eq!(iface.stats().icmp6_echo_replies, 1);
    // A bad checksum is dropped and counted.
    let mut bad = icmp6(PEER6, US6, &req);
    bad[IPV6_HEADER_LEN + 9] ^= 1;
    assert!(poll_with(&mut iface, Instant::ZERO, vec![bad]).is_empty());
    assert_eq!(iface.stats().icmp6_dropped, 1);
}

#[test]
fn neighbour_discovery_and_mld_are_dropped_quietly() {
    let mut iface = Interface::new(Config::default());
    let all_routers = "ff02::2".parse().unwrap();
    let solicited: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
    let mld_group: Ipv6Addr = "ff02::16".parse().unwrap();
    let msg = |kind| Icmpv6Message {
        kind,
        code: 0,
        rest: [0; 4],
        data: &[0; 16],
    };
    let rs = icmp6(Ipv6Addr::UNSPECIFIED, all_routers, &msg(133));
    let ns = icmp6(PEER6, solicited, &msg(135));
    // MLDv2 report behind a hop-by-hop header with Router Alert.
    let mut report = vec![0u8; 8 + 24];
    report[..8].copy_from_slice(&[NEXT_ICMPV6, 0, 5, 2, 0, 0, 1, 0]);
    let m = msg(143);
    m.emit(&mut report[8..], PEER6, mld_group).unwrap();
    let mld = ip6(PEER6, mld_group, NEXT_HOP_BY_HOP, &report);
    let out = poll_with(&mut iface, Instant::ZERO, vec![rs, ns, mld]);
    assert!(out.is_empty(), "nothing answered");
    assert_eq!(iface.stats().ip6_nd_mld_dropped, 3);
    assert_eq!(iface.stats().icmp6_dropped, 0);
}

#[test]
fn listener_handshake_over_ipv6_advertises_mtu_minus_60() {
    // RFC 8200 §8.3: the MSS leaves room for the 40-byte IPv6 header.
    let mut iface = Interface::new(Config::default());
    let (h, ip, sa) = accepted6(&mut iface, 1440);
    assert_eq!(sa.flags, Flags::SYN | Flags::ACK);
    assert_eq!(sa.options.mss, Some(1440));
    assert_eq!((ip.src, ip.dst), (US6, PEER6));
    let tcb = iface.tcp(h).unwrap();
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(
        tcb.remote(),
        SocketAddr::V6(SocketAddrV6::new(PEER6, 40000, 0, 0))
    );
    assert_eq!(
        tcb.local(),
        SocketAddr::V6(SocketAddrV6::new(US6, 80, 0, 0))
    );
    // The flow label is set, and the same on every packet of the flow
    // (RFC 6437 §3).
    assert_ne!(ip.flow_label, 0);
    iface.tcp_mut(h).unwrap().send(&[1u8; 4000]).unwrap();
    let data = poll_with(&mut iface, Instant::from_millis(2), vec![]);
    assert!(data.len() >= 2);
    for p in &data {
        let (ip2, _, payload) = parse_tcp6(p);
        assert_eq!(ip2.flow_label, ip.flow_label);
        assert!(p.len() <= 1500 && payload.len() <= 1440);
    }
    // IPv4 still gets MTU − 40 from the same interface.
    assert_eq!(iface.config().tcp.mss, 1460);
}

#[test]
fn flow_labels_differ_between_connections() {
    let mut iface = Interface::new(Config::default());
    let mut labels = Vec::new();
    for port in [81u16, 82, 83] {
        iface
            .tcp_connect(Instant::ZERO, SocketAddrV6::new(PEER6, port, 0, 0))
            .unwrap();
        let out = poll_with(&mut iface, Instant::ZERO, vec![]);
        let (ip, syn, _) = parse_tcp6(&out[0]);
        assert_eq!(syn.flags, Flags::SYN);
        assert_eq!(syn.options.mss, Some(1440));
        assert_eq!(ip.src, US6);
        assert!(ip.flow_label != 0 && ip.flow_label <= 0xf_ffff);
        labels.push(ip.flow_label);
    }
    labels.dedup();
    assert_eq!(labels.len(), 3, "one label per 4-tuple: {labels:?}");
}

#[test]
fn closed_port_v6_syn_gets_rst_ack_from_our_v6_address() {
    let mut iface = Interface::new(Config::default());
    let syn = packet6(PEER6, US6, &tcp_header(5555, 81, 1000, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn]);
    let (ip, h, _) = parse_tcp6(&out[0]);
    assert_eq!((ip.src, ip.dst), (US6, PEER6));
    assert_eq!(h.flags, Flags::RST | Flags::ACK);
    assert_eq!(h.ack, SeqNumber(1001));
    assert_eq!(iface.stats().tcp_no_socket, 1);
}

#[test]
fn listener_takes_both_families_unless_v6_only() {
    // Linux: a socket bound to [::] with IPV6_V6ONLY off accepts IPv4.
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    assert_eq!(iface.tcp_only_v6(80), Some(false));
    let syn4 = packet(PEER, US, &tcp_header(40000, 80, 1, 0, Flags::SYN), b"");
    let syn6 = packet6(PEER6, US6, &tcp_header(40000, 80, 1, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn4.clone(), syn6.clone()]);
    assert_eq!(out.len(), 2);
    let mut versions: Vec<u8> = out.iter().map(|p| p[0] >> 4).collect();
    versions.sort();
    assert_eq!(versions, [4, 6], "a SYN-ACK per family");
    assert_eq!(iface.connection_count(), 2, "one per family");

    let mut v6only = Interface::new(Config::default());
    v6only.tcp_listen(80).unwrap();
    v6only.tcp_set_only_v6(80, true).unwrap();
    assert_eq!(v6only.tcp_only_v6(80), Some(true));
    let out = poll_with(&mut v6only, Instant::ZERO, vec![syn4, syn6]);
    assert_eq!(out.len(), 2);
    let (v4, v6): (Vec<_>, Vec<_>) = out.iter().partition(|p| p[0] >> 4 == 4);
    let (h4, _) = super::tests::parse_tcp(v4[0]);
    assert_eq!(h4.flags, Flags::RST | Flags::ACK, "IPv4 refused");
    let (_, h6, _) = parse_tcp6(v6[0]);
    assert_eq!(h6.flags, Flags::SYN | Flags::ACK);
    assert_eq!(v6only.connection_count(), 1);
    assert_eq!(v6only.tcp_set_only_v6(81, true), Err(Error::NotListening));
}

#[test]
fn udp_over_ipv6_delivers_replies_and_requires_a_checksum() {
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    assert!(poll_with(&mut iface, Instant::ZERO, vec![udp6(4000, 53, b"query")]).is_empty());
    let mut buf = [0u8; 16];
    let from = SocketAddr::V6(SocketAddrV6::new(PEER6, 4000, 0, 0));
    assert_eq!(iface.udp_recv(53, &mut buf), Some((5, from)));
    iface.udp_send(53, from, b"answer").unwrap();
    // Over IPv6 the largest payload leaves room for the 40-byte header.
    assert_eq!(iface.udp_max_payload_to(from.ip()), 1452);
    assert_eq!(
        iface.udp_send(53, from, &[0; 1453]),
        Err(UdpSendError::TooLarge)
    );
    let out = poll_with(&mut iface, Instant::ZERO, vec![]);
    let ip = Ipv6Packet::parse(&out[0]).unwrap();
    assert_eq!((ip.repr.src, ip.repr.dst), (US6, PEER6));
    let d = crate::wire::UdpDatagram::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
    assert_eq!(
        (d.src_port, d.dst_port, d.payload),
        (53, 4000, &b"answer"[..])
    );
    // RFC 8200 §8.1: a zero checksum is dropped over IPv6.
    let mut zero = udp6(4000, 53, b"x");
    zero[IPV6_HEADER_LEN + 6..IPV6_HEADER_LEN + 8].copy_from_slice(&[0, 0]);
    assert!(poll_with(&mut iface, Instant::ZERO, vec![zero]).is_empty());
    assert_eq!(iface.stats().udp6_zero_checksum, 1);
    assert!(!iface.udp_can_recv(53));
}

#[test]
fn udp_to_a_closed_v6_port_gets_port_unreachable() {
    let mut iface = Interface::new(Config::default());
    let dgram = udp6(5000, 9999, b"hi");
    let out = poll_with(&mut iface, Instant::ZERO, vec![dgram.clone()]);
    let (ip, kind, code, _, data) = parse_icmp6(&out[0]);
    assert_eq!((ip.src, ip.dst), (US6, PEER6));
    assert_eq!(
        (kind, code),
        (icmpv6::DEST_UNREACHABLE, icmpv6::CODE_PORT_UNREACHABLE)
    );
    assert_eq!(data, dgram, "quotes the whole invoking packet");
    assert_eq!(iface.stats().udp_no_socket, 1);
}

/// An ICMPv6 error from the peer quoting `quoted` (one of our packets).
fn icmp6_error(kind: u8, code: u8, rest: u32, quoted: &[u8]) -> Vec<u8> {
    icmp6(PEER6, US6, &icmpv6::error(kind, code, rest, quoted))
}

#[test]
fn packet_too_big_lowers_the_mss_to_the_quoted_mtu() {
    // RFC 8201 §4 with RFC 5927 §4.1: the quote names a segment in flight.
    let mut iface = Interface::new(Config::default());
    let (h, _, _) = accepted6(&mut iface, 1440);
    assert_eq!(iface.tcp(h).unwrap().mss(), 1440);
    iface.tcp_mut(h).unwrap().send(&[7u8; 4000]).unwrap();
    let data = poll_with(&mut iface, Instant::from_millis(2), vec![]);
    let ptb = icmp6_error(icmpv6::PACKET_TOO_BIG, 0, 1400, &data[0]);
    let resent = poll_with(&mut iface, Instant::from_millis(3), vec![ptb]);
    assert_eq!(iface.tcp(h).unwrap().mss(), 1340);
    assert!(!resent.is_empty());
    assert!(resent.iter().all(|p| p.len() <= 1400), "fits the path MTU");
    assert_eq!(iface.stats().icmp6_packet_too_big, 1);
    // Below IPv6's minimum MTU a Packet Too Big only takes it to 1280.
    let ptb = icmp6_error(icmpv6::PACKET_TOO_BIG, 0, 600, &resent[0]);
    poll_with(&mut iface, Instant::from_millis(4), vec![ptb]);
    assert_eq!(iface.tcp(h).unwrap().mss(), 1220);
}

#[test]
fn packet_too_big_quoting_a_sequence_not_in_flight_is_ignored() {
    let mut iface = Interface::new(Config::default());
    let (h, _, _) = accepted6(&mut iface, 1440);
    iface.tcp_mut(h).unwrap().send(&[7u8; 3000]).unwrap();
    let mut data = poll_with(&mut iface, Instant::from_millis(2), vec![]).remove(0);
    data[IPV6_HEADER_LEN + 4] ^= 0x80; // the quoted sequence number
    let ptb = icmp6_error(icmpv6::PACKET_TOO_BIG, 0, 1280, &data);
    poll_with(&mut iface, Instant::from_millis(3), vec![ptb]);
    assert_eq!(iface.tcp(h).unwrap().mss(), 1440, "forgery ignored");
    assert_eq!(iface.stats().icmp6_errors_ignored, 1);
    assert_eq!(iface.stats().icmp6_packet_too_big, 0);
}

#[test]
fn port_unreachable_v6_refuses_a_connection_attempt() {
    let (mut iface, h, syn) = connecting(SocketAddrV6::new(PEER6, 81, 0, 0));
    let err = icmp6_error(
        icmpv6::DEST_UNREACHABLE,
        icmpv6::CODE_PORT_UNREACHABLE,
        0,
        &syn,
    );
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(
        iface.tcp(h).unwrap().error(),
        Some(crate::tcp::ConnectionError::Refused)
    );
    assert_eq!(iface.stats().icmp6_errors_applied, 1);
}

#[test]
fn port_unreachable_v6_quoting_our_datagram_is_kept_for_the_udp_socket() {
    // RFC 4443 §3.1 / RFC 1122 §4.1.3.3: as over IPv4, the socket that
    // sent the datagram hears of it (a connected one as ECONNREFUSED).
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(5353).unwrap();
    let to = SocketAddr::V6(SocketAddrV6::new(PEER6, 9, 0, 0));
    iface.udp_send(5353, to, b"anyone?").unwrap();
    let sent = poll_with(&mut iface, Instant::ZERO, vec![]).remove(0);
    let err = icmp6_error(
        icmpv6::DEST_UNREACHABLE,
        icmpv6::CODE_PORT_UNREACHABLE,
        0,
        &sent,
    );
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(
        iface.udp_take_error(5353),
        Some((to, crate::tcp::IcmpError::PortUnreachable))
    );
    assert_eq!(iface.stats().icmp6_errors_applied, 1);
    // One quoting a port nobody has bound is ignored.
    let mut stray = sent;
    stray[IPV6_HEADER_LEN..IPV6_HEADER_LEN + 2].copy_from_slice(&5354u16.to_be_bytes());
    let err = icmp6_error(
        icmpv6::DEST_UNREACHABLE,
        icmpv6::CODE_PORT_UNREACHABLE,
        0,
        &stray,
    );
    poll_with(&mut iface, Instant::from_millis(2), vec![err]);
    assert_eq!(iface.stats().icmp6_errors_ignored, 1);
}

#[test]
fn time_exceeded_v6_is_soft() {
    let (mut iface, h, syn) = connecting(SocketAddrV6::new(PEER6, 81, 0, 0));
    let err = icmp6_error(icmpv6::TIME_EXCEEDED, 0, 0, &syn);
    poll_with(&mut iface, Instant::from_millis(1), vec![err]);
    assert_eq!(iface.tcp(h).unwrap().state(), State::SynSent);
}

/// An IPv6 packet carrying a Fragment header (RFC 8200 §4.5) over
/// `data`, the bytes at `offset` of the fragmentable part.
fn frag6(ident: u32, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let field = (offset as u16) | u16::from(more);
    let mut body = vec![PROTO_UDP, 0];
    body.extend_from_slice(&field.to_be_bytes());
    body.extend_from_slice(&ident.to_be_bytes());
    body.extend_from_slice(data);
    ip6(PEER6, US6, NEXT_FRAGMENT, &body)
}

#[test]
fn fragments_are_reassembled_whatever_their_order() {
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let whole = udp6(4000, 53, &data);
    let udp = &whole[IPV6_HEADER_LEN..];
    // Three pieces, the first two a multiple of 8 octets, sent last first.
    let (a, rest) = udp.split_at(1232);
    let (b, c) = rest.split_at(1232);
    let frags = [
        frag6(42, 2464, false, c),
        frag6(42, 1232, true, b),
        frag6(42, 0, true, a),
    ];
    let (first, last) = frags.split_at(2);
    assert!(poll_with(&mut iface, Instant::ZERO, first.to_vec()).is_empty());
    assert!(!iface.udp_can_recv(53), "nothing before the train is whole");
    assert!(poll_with(&mut iface, Instant::ZERO, last.to_vec()).is_empty());
    let mut buf = vec![0u8; 4096];
    let (n, from) = iface.udp_recv(53, &mut buf).expect("reassembled");
    assert_eq!((&buf[..n], from.ip()), (&data[..], IpAddr::V6(PEER6)));
    assert_eq!(iface.stats().frag_reassembled, 1);
}

#[test]
fn an_unfinished_v6_train_is_held_then_freed_after_60_s() {
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    let p = frag6(7, 0, true, &udp6(1, 53, &[0; 16])[IPV6_HEADER_LEN..]);
    assert!(poll_with(&mut iface, Instant::ZERO, vec![p.clone()]).is_empty());
    assert!(!iface.udp_can_recv(53));
    let at = iface.poll_at().expect("the train's timeout is a deadline");
    assert_eq!(at, Instant::ZERO + crate::time::Duration::from_secs(60));
    let early = at - crate::time::Duration::from_millis(1);
    assert!(poll_with(&mut iface, early, vec![]).is_empty());
    // RFC 8200 §4.5: the first fragment arrived, so its source hears of
    // the timeout: Time Exceeded, code 1, quoting that fragment whole
    // (fragment header included), as Linux's ip6_expire_frag_queue.
    let out = poll_with(&mut iface, at, vec![]);
    assert_eq!(out.len(), 1);
    let (ip, kind, code, rest, data) = parse_icmp6(&out[0]);
    assert_eq!((ip.src, ip.dst), (US6, PEER6));
    assert_eq!((kind, code, rest), (icmpv6::TIME_EXCEEDED, 1, [0; 4]));
    assert_eq!(data, p);
    let s = iface.stats();
    assert_eq!((s.frag_timeout, s.frag_time_exceeded_sent), (1, 1));
    assert!(!iface.udp_can_recv(53));
    assert_eq!((iface.reassembler().memory(), iface.poll_at()), (0, None));
}

#[test]
fn a_v6_train_without_its_first_fragment_expires_silently() {
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    let p = frag6(8, 1232, false, &[0; 16]);
    assert!(poll_with(&mut iface, Instant::ZERO, vec![p]).is_empty());
    let at = iface.poll_at().expect("the train's timeout is a deadline");
    assert!(poll_with(&mut iface, at, vec![]).is_empty());
    let s = iface.stats();
    assert_eq!((s.frag_timeout, s.frag_time_exceeded_sent), (1, 0));
}

#[test]
fn unknown_next_header_gets_a_parameter_problem_pointing_at_it() {
    // RFC 8200 §4: code 1, pointer to the Next Header field.
    let mut iface = Interface::new(Config::default());
    let p = ip6(PEER6, US6, 99, &[0; 8]);
    let out = poll_with(&mut iface, Instant::ZERO, vec![p.clone()]);
    let (_, kind, code, rest, data) = parse_icmp6(&out[0]);
    assert_eq!((kind, code), (icmpv6::PARAMETER_PROBLEM, 1));
    assert_eq!(u32::from_be_bytes(rest), 6);
    assert_eq!(data, p);
    assert_eq!(iface.stats().ip6_unsupported_protocol, 1);
}

#[test]
fn routing_header_with_segments_left_gets_a_parameter_problem() {
    // RFC 8200 §4.4: code 0, pointer to the routing type.
    let mut iface = Interface::new(Config::default());
    let p = ip6(PEER6, US6, NEXT_ROUTING, &[PROTO_TCP, 0, 0, 1, 0, 0, 0, 0]);
    let out = poll_with(&mut iface, Instant::ZERO, vec![p]);
    let (_, kind, code, rest, _) = parse_icmp6(&out[0]);
    assert_eq!((kind, code), (icmpv6::PARAMETER_PROBLEM, 0));
    assert_eq!(u32::from_be_bytes(rest), 42);
    assert_eq!(iface.stats().ip6_bad_ext_header, 1);
}

#[test]
fn bad_v6_packets_are_counted_by_reason_and_never_answered() {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let syn = |src, dst| packet6(src, dst, &tcp_header(1, 80, 1, 0, Flags::SYN), b"");
    let martians = [
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::LOCALHOST,
        "ff02::1".parse().unwrap(),
        Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 1),
        US6,
    ];
    let mut inputs: Vec<Vec<u8>> = martians.iter().map(|&m| syn(m, US6)).collect();
    inputs.push(syn(PEER6, "fd00::9".parse().unwrap()));
    inputs.push(syn(PEER6, US6)[..50].to_vec());
    // Unknown option with type 01xxxxxx: discarded silently.
    inputs.push(ip6(PEER6, US6, 60, &[PROTO_TCP, 0, 0x41, 4, 0, 0, 0, 0]));
    let mut bad_sum = syn(PEER6, US6);
    bad_sum[IPV6_HEADER_LEN + 17] ^= 1;
    inputs.push(bad_sum);
    let out = poll_with(&mut iface, Instant::ZERO, inputs);
    assert!(out.is_empty(), "{} replies", out.len());
    let s = iface.stats();
    assert_eq!(s.ip6_martian_source, 5);
    assert_eq!(s.ip6_not_for_us, 1);
    assert_eq!(s.ip6_truncated, 1);
    assert_eq!(s.ip6_unknown_option, 1);
    assert_eq!(s.tcp_bad_checksum, 1);
    assert_eq!(s.dropped(), 9);
    assert_eq!(iface.connection_count(), 0);
}
