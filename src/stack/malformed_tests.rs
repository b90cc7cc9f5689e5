//! Malformed packets at the interface: each class is dropped, counted under
//! its own [`Stats`] counter, answered with nothing, and never panics.
//!
//! IPv4 options are the exception: RFC 1122 §3.2.1.8 says a host must
//! ignore options it does not implement, so a packet carrying any options
//! (well-formed or not) is accepted and its options are skipped unparsed.
//! Source routes are not honored: replies go straight back to the sender.

use super::tests::{packet, parse_tcp, poll_with, tcp_header, udp_packet, PEER, US};
use super::*;
use crate::wire::{checksum, Flags, Ipv4Repr, PROTO_ICMP, PROTO_UDP};

/// A listener on port 80 that has been fed `input` in one poll; what it
/// sent back, and its counters.
fn feed(input: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Stats) {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let out = poll_with(&mut iface, Instant::ZERO, input);
    (out, *iface.stats())
}

/// Asserts that `n` packets were read and that of every other counter only
/// `name` moved, by `n`: nothing delivered, nothing sent, no other reason.
pub(super) fn only(stats: &Stats, name: &str, n: u64) {
    let read = if name == "rx_empty" { 0 } else { n };
    let mut moved = Vec::new();
    for (counter, value) in stats.counters() {
        let expected = match counter {
            "rx_bytes" => continue,
            c if c == name => n,
            "rx_packets" => read,
            _ => 0,
        };
        if value != expected {
            moved.push((counter, value, expected));
        }
    }
    assert!(
        moved.is_empty(),
        "{name}: (counter, value, expected) {moved:?}"
    );
}

/// A SYN from the peer to port 80 (a valid packet to corrupt).
fn syn() -> Vec<u8> {
    let mut h = tcp_header(40000, 80, 1000, 0, Flags::SYN);
    h.options.mss = Some(1460);
    h.options.timestamp = Some((1, 0));
    h.options.sack_permitted = true;
    packet(PEER, US, &h, b"")
}

/// Recomputes the IPv4 header checksum over the header IHL says.
fn fix_ip_checksum(p: &mut [u8]) {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::data(&p[..ihl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the TCP checksum of the segment after a 20-byte IP header.
fn fix_tcp_checksum(p: &mut [u8]) {
    let seg = &mut p[IPV4_HEADER_LEN..];
    seg[16..18].copy_from_slice(&[0, 0]);
    let acc = checksum::pseudo_header(PEER, US, PROTO_TCP, seg.len());
    let c = checksum::fold(checksum::sum(acc, seg));
    seg[16..18].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 packet from the peer to us carrying `payload` as `protocol`.
fn ip_packet(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; IPV4_HEADER_LEN + payload.len()];
    p[IPV4_HEADER_LEN..].copy_from_slice(payload);
    Ipv4Repr {
        src: PEER,
        dst: US,
        protocol,
        ttl: 64,
        payload_len: payload.len(),
    }
    .emit(&mut p, 7)
    .unwrap();
    p
}

/// `p` with `options` inserted after the 20-byte header (IHL, total length
/// and checksum updated).
fn with_ip_options(p: &[u8], options: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut q = p.to_vec();
    q.splice(20..20, options.iter().copied());
    q[0] = 0x40 | ((20 + options.len()) / 4) as u8;
    let total = q.len() as u16;
    q[2..4].copy_from_slice(&total.to_be_bytes());
    fix_ip_checksum(&mut q);
    q
}

#[test]
fn counters_names_every_field_of_stats_in_order() {
    // `Stats::counters` feeds `--stats` and the checks in this file: it
    // must not miss a counter. Debug lists the fields as declared.
    let debug = format!("{:?}", Stats::default());
    let fields: Vec<&str> = debug
        .trim_start_matches("Stats {")
        .trim_end_matches('}')
        .split(',')
        .filter_map(|f| f.split(':').next())
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let names: Vec<&str> = Stats::default().counters().iter().map(|c| c.0).collect();
    assert_eq!(names, fields);
}

#[test]
fn the_valid_syn_gets_a_syn_ack() {
    // The baseline every other test here corrupts.
    let (out, s) = feed(vec![syn()]);
    assert_eq!(out.len(), 1);
    assert_eq!(parse_tcp(&out[0]).0.flags, Flags::SYN | Flags::ACK);
    assert_eq!((s.dropped(), s.tcp_segments_in), (0, 1));
}

#[test]
fn zero_length_reads_are_counted_and_the_batch_goes_on() {
    let (out, s) = feed(vec![vec![], vec![]]);
    assert!(out.is_empty());
    only(&s, "rx_empty", 2);
    assert_eq!(s.rx_packets, 0);
    let (out, s) = feed(vec![vec![], syn()]);
    assert_eq!(out.len(), 1, "the packet after an empty read is handled");
    assert_eq!(s.rx_empty, 1);
}

#[test]
fn truncated_ipv4_is_counted_as_ip_truncated() {
    let good = syn();
    let mut ihl_past_end = good[..24].to_vec();
    ihl_past_end[0] = 0x4f; // a 60-byte header in a 24-byte packet
    let inputs = vec![
        good[..1].to_vec(),
        good[..19].to_vec(),              // shorter than a header
        good[..good.len() - 1].to_vec(),  // shorter than its total length
        good[..IPV4_HEADER_LEN].to_vec(), // header only, total length says more
        ihl_past_end,
    ];
    let n = inputs.len() as u64;
    let (out, s) = feed(inputs);
    assert!(out.is_empty());
    only(&s, "ip_truncated", n);
}

#[test]
fn bad_ihl_and_total_length_are_counted_as_ip_bad_header_len() {
    let mut inputs = Vec::new();
    for ihl in 0..5u8 {
        let mut p = syn();
        p[0] = 0x40 | ihl;
        inputs.push(p);
    }
    let mut short_total = syn();
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    fix_ip_checksum(&mut short_total);
    inputs.push(short_total);
    let (out, s) = feed(inputs);
    assert!(out.is_empty());
    only(&s, "ip_bad_header_len", 6);
}

#[test]
fn bad_ip_checksum_is_counted_as_ip_bad_checksum() {
    let mut ttl = syn();
    ttl[8] ^= 0x01;
    let mut sum = syn();
    sum[10] ^= 0x80;
    let mut src = syn();
    src[15] ^= 0x01; // would also break the TCP checksum: IP is checked first
    let (out, s) = feed(vec![ttl, sum, src]);
    assert!(out.is_empty());
    only(&s, "ip_bad_checksum", 3);
}

#[test]
fn hostile_fragments_are_each_counted_under_their_reason() {
    // The SYN's 36 bytes as a fragment: with MF (and with DF+MF) they are
    // not a multiple of 8, so malformed; as the last fragment at offset 8
    // the TCP header could be rewritten (RFC 1858), so tiny; at offset
    // 65528 they run past 64 KiB.
    let mut inputs = Vec::new();
    for flags_offset in [0x2000u16, 0x0001, 0x2001, 0x1fff, 0x6000] {
        let mut p = syn();
        p[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        fix_ip_checksum(&mut p);
        inputs.push(p);
    }
    let (out, s) = feed(inputs);
    assert!(out.is_empty(), "not even a RST or an ICMP error");
    assert_eq!((s.ip_fragments, s.frag_received), (5, 5));
    assert_eq!(
        (s.frag_tiny, s.frag_oversize, s.frag_malformed),
        (1, 1, 3),
        "{s:?}"
    );
    assert_eq!((s.tcp_segments_in, s.frag_reassembled), (0, 0));
}

#[test]
fn neither_ipv4_nor_ipv6_is_counted_as_ip_bad_version() {
    // TUN hands us whatever the kernel routes into it; versions other than
    // 4 and 6 are dropped under their own counter.
    let mut v5 = syn();
    v5[0] = 0x55;
    let mut v0 = syn();
    v0[0] = 0x05;
    let mut v7 = syn();
    v7[0] = 0x75;
    let (out, s) = feed(vec![v5, v0, v7, vec![0xf0; 40]]);
    assert!(out.is_empty());
    only(&s, "ip_bad_version", 4);
}

#[test]
fn ipv6_to_another_host_and_short_ipv6_are_counted_apart() {
    // An IPv6 header (version 6, next header TCP, hop limit 64) to
    // fefe:…, not us, then a TCP header.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
    v6.extend_from_slice(&[0xfe; 32]);
    v6.extend_from_slice(&syn()[IPV4_HEADER_LEN..]);
    // Payload length 0x6060 with 0 bytes behind the header.
    let (out, s) = feed(vec![v6, vec![0x60; 40]]);
    assert!(out.is_empty());
    assert_eq!((s.ip6_not_for_us, s.ip6_truncated), (1, 1));
    assert_eq!(s.dropped(), 2);
}

#[test]
fn ipv4_options_are_accepted_and_ignored() {
    // RFC 1122 §3.2.1.8: a host must ignore options it does not implement.
    // Router Alert (RFC 2113), Record Route with room for one address,
    // NOP padding, EOL; then a loose source route, which is not honored:
    // the SYN-ACK goes straight back to the sender.
    let options = [
        148, 4, 0, 0, // router alert
        7, 7, 4, 0, 0, 0, 0, // record route
        0, // EOL
    ];
    let lsrr = [131, 7, 4, 10, 0, 0, 99, 1];
    let garbage = [222, 200, 0xff, 0xff]; // a length past the header
    for opts in [&options[..], &lsrr[..], &garbage[..], &[1, 1, 1, 0][..]] {
        let (out, s) = feed(vec![with_ip_options(&syn(), opts)]);
        assert_eq!(out.len(), 1, "{opts:?}");
        let ip = crate::wire::Ipv4Packet::parse(&out[0]).unwrap();
        assert_eq!((ip.repr.src, ip.repr.dst), (US, PEER), "{opts:?}");
        assert_eq!(parse_tcp(&out[0]).0.flags, Flags::SYN | Flags::ACK);
        assert_eq!((s.dropped(), s.tcp_segments_in), (0, 1), "{opts:?}");
    }
    // Options on a UDP datagram and an ICMP echo request as well.
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    let udp = with_ip_options(&udp_packet(4000, 53, b"q"), &[1, 1, 1, 1]);
    assert!(poll_with(&mut iface, Instant::ZERO, vec![udp]).is_empty());
    assert_eq!(iface.stats().udp_delivered, 1);
    let echo = crate::wire::icmp::IcmpMessage {
        kind: crate::wire::icmp::ECHO_REQUEST,
        code: 0,
        rest: [0, 1, 0, 1],
        data: b"ping",
    };
    let mut msg = vec![0u8; echo.len()];
    echo.emit(&mut msg).unwrap();
    let ping = with_ip_options(&ip_packet(PROTO_ICMP, &msg), &[148, 4, 0, 0]);
    assert_eq!(poll_with(&mut iface, Instant::ZERO, vec![ping]).len(), 1);
    assert_eq!(iface.stats().icmp_echo_replies, 1);
}

#[test]
fn truncated_tcp_is_counted_as_tcp_truncated() {
    let good = syn();
    let mut inputs = Vec::new();
    for len in [0, 1, 10, 19] {
        inputs.push(ip_packet(
            PROTO_TCP,
            &good[IPV4_HEADER_LEN..IPV4_HEADER_LEN + len],
        ));
    }
    // A data offset claiming more header than the segment holds (as for
    // IPv4, a header running past the end counts as truncation).
    let mut past_end = ip_packet(PROTO_TCP, &good[IPV4_HEADER_LEN..IPV4_HEADER_LEN + 20]);
    past_end[IPV4_HEADER_LEN + 12] = 15 << 4;
    fix_tcp_checksum(&mut past_end);
    inputs.push(past_end);
    let (out, s) = feed(inputs);
    assert!(out.is_empty(), "no RST for a segment we could not read");
    only(&s, "tcp_truncated", 5);
}

#[test]
fn bad_data_offset_is_counted_as_tcp_bad_header_len() {
    let mut inputs = Vec::new();
    for offset in 0..5u8 {
        let mut p = syn();
        p[IPV4_HEADER_LEN + 12] = offset << 4;
        fix_tcp_checksum(&mut p);
        inputs.push(p);
    }
    let (out, s) = feed(inputs);
    assert!(out.is_empty());
    only(&s, "tcp_bad_header_len", 5);
}

#[test]
fn bad_tcp_checksum_is_counted_as_tcp_bad_checksum() {
    let mut flipped = syn();
    flipped[IPV4_HEADER_LEN + 4] ^= 0x10; // the sequence number
    let mut sum = syn();
    sum[IPV4_HEADER_LEN + 17] ^= 0x01;
    // Checksummed for another destination: the pseudo-header counts.
    let mut h = tcp_header(40000, 80, 1000, 0, Flags::SYN);
    h.options.mss = Some(1460);
    let mut other = packet(PEER, Ipv4Addr::new(10, 0, 0, 3), &h, b"");
    other[16..20].copy_from_slice(&US.octets());
    fix_ip_checksum(&mut other);
    let mut data = packet(
        PEER,
        US,
        &tcp_header(40000, 80, 1, 0, Flags::ACK),
        b"payload",
    );
    let last = data.len() - 1;
    data[last] ^= 0xff;
    let (out, s) = feed(vec![flipped, sum, other, data]);
    assert!(out.is_empty(), "no RST: a corrupted segment names nobody");
    only(&s, "tcp_bad_checksum", 4);
}

#[test]
fn impossible_flags_are_counted_as_tcp_bad_flags() {
    let inputs = [Flags::SYN | Flags::FIN, Flags::SYN | Flags::RST]
        .into_iter()
        .map(|f| packet(PEER, US, &tcp_header(40000, 80, 1, 0, f), b""))
        .collect();
    let (out, s) = feed(inputs);
    assert!(out.is_empty());
    only(&s, "tcp_bad_flags", 2);
}

#[test]
fn illegal_tcp_option_lengths_end_option_parsing_and_the_syn_is_answered() {
    // Linux `tcp_parse_options` stops at such an option and the SYN is
    // processed: each gets its SYN-ACK, none is dropped as malformed.
    let mut inputs = Vec::new();
    for (port, opts) in (40000u16..).zip([[2u8, 0, 0, 0], [8, 40, 1, 1], [5, 1, 1, 1]]) {
        let mut seg = vec![0u8; 24];
        seg[0..2].copy_from_slice(&port.to_be_bytes());
        seg[2..4].copy_from_slice(&80u16.to_be_bytes());
        seg[12] = 6 << 4;
        seg[13] = Flags::SYN.0;
        seg[20..24].copy_from_slice(&opts);
        let mut p = ip_packet(PROTO_TCP, &seg);
        fix_tcp_checksum(&mut p);
        inputs.push(p);
    }
    let (out, s) = feed(inputs);
    assert_eq!(out.len(), 3, "a SYN-ACK each");
    assert_eq!(s.tcp_bad_option, 3, "each counted, none dropped");
    assert_eq!(s.dropped(), 0);
}

#[test]
fn malformed_udp_is_counted_as_udp_malformed() {
    let good = udp_packet(4000, 53, b"query");
    let short = ip_packet(PROTO_UDP, &good[IPV4_HEADER_LEN..IPV4_HEADER_LEN + 7]);
    let mut len_small = good.clone();
    len_small[IPV4_HEADER_LEN + 5] = 7;
    let mut len_big = good.clone();
    len_big[IPV4_HEADER_LEN + 5] = 200;
    let mut sum = good.clone();
    sum[IPV4_HEADER_LEN + 9] ^= 0x01;
    let (out, s) = feed(vec![short, len_small, len_big, sum]);
    assert!(out.is_empty(), "no port unreachable for a broken datagram");
    only(&s, "udp_malformed", 4);
}

#[test]
fn malformed_icmp_is_counted_as_icmp_dropped() {
    let bad_sum = ip_packet(PROTO_ICMP, &[8, 0, 0, 0, 0, 1, 0, 1]);
    let short = ip_packet(PROTO_ICMP, &[8, 0, 0]);
    let (out, s) = feed(vec![bad_sum, short]);
    assert!(out.is_empty());
    only(&s, "icmp_dropped", 2);
}

#[test]
fn unknown_protocols_are_counted_and_not_answered() {
    let (out, s) = feed(vec![ip_packet(47, &[0; 24]), ip_packet(58, &[])]);
    assert!(out.is_empty());
    only(&s, "ip_unsupported_protocol", 2);
}

#[test]
fn every_truncation_and_single_bit_flip_of_a_syn_is_dropped() {
    // A single flipped bit always changes a ones'-complement sum, so each
    // of these must fail a structural check or a checksum.
    let good = syn();
    let mut inputs: Vec<Vec<u8>> = (1..good.len()).map(|n| good[..n].to_vec()).collect();
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut p = good.clone();
            p[byte] ^= 1 << bit;
            inputs.push(p);
        }
    }
    let total = inputs.len() as u64;
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let mut sent = 0;
    for chunk in inputs.chunks(RX_BATCH) {
        sent += poll_with(&mut iface, Instant::ZERO, chunk.to_vec()).len();
    }
    let s = iface.stats();
    assert_eq!(sent, 0, "nothing answered");
    assert_eq!((s.rx_packets, s.dropped()), (total, total), "{s:?}");
    assert_eq!((s.tcp_segments_in, iface.connection_count()), (0, 0));
}

#[test]
fn malformed_packets_do_not_disturb_an_established_connection() {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn()]);
    let (sa, _) = parse_tcp(&out[0]);
    let our = sa.seq.0.wrapping_add(1);
    let ack = packet(PEER, US, &tcp_header(40000, 80, 1001, our, Flags::ACK), b"");
    poll_with(&mut iface, Instant::from_millis(1), vec![ack]);
    let h = iface.tcp_accept(80).unwrap().expect("established");
    // In-window data and a RST at RCV.NXT, each with a broken checksum or
    // a broken header: none may reach the connection.
    let data = packet(
        PEER,
        US,
        &tcp_header(40000, 80, 1001, our, Flags::ACK),
        b"evil",
    );
    let mut bad_sum = data.clone();
    bad_sum[IPV4_HEADER_LEN + 16] ^= 0x01;
    let mut rst = packet(PEER, US, &tcp_header(40000, 80, 1001, 0, Flags::RST), b"");
    rst[IPV4_HEADER_LEN + 12] = 4 << 4;
    fix_tcp_checksum(&mut rst);
    let mut frag = data.clone();
    frag[6] = 0x20;
    fix_ip_checksum(&mut frag);
    let out = poll_with(
        &mut iface,
        Instant::from_millis(2),
        vec![bad_sum, rst, frag],
    );
    assert!(out.is_empty());
    let tcb = iface.tcp_mut(h).unwrap();
    assert_eq!(tcb.state(), crate::tcp::State::Established);
    assert_eq!(tcb.recv_queue(), 0);
    let s = iface.stats();
    assert_eq!(
        (s.tcp_bad_checksum, s.tcp_bad_header_len, s.ip_fragments),
        (1, 1, 1)
    );
}
