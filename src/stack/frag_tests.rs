//! Reassembler tests, sans-IO: fragments and explicit instants in,
//! datagrams and counters out (RFC 791 §3.2, RFC 8200 §4.5, RFC 5722,
//! RFC 1858, RFC 6946).

use super::*;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// A UDP-like payload of `n` bytes whose every byte says where it is.
fn datagram(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `data` cut into fragments of `size` bytes (a multiple of 8), as
/// (offset, more, bytes).
fn cut(data: &[u8], size: usize) -> Vec<(usize, bool, &[u8])> {
    let n = data.len().div_ceil(size);
    data.chunks(size)
        .enumerate()
        .map(|(i, c)| (i * size, i + 1 < n, c))
        .collect()
}

fn v4<'a>(src: Ipv4Addr, ident: u16, proto: u8, f: (usize, bool, &'a [u8])) -> Fragment<'a> {
    Fragment::v4(src, US, ident, proto, f.0, f.1, f.2)
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn reassembler() -> (Reassembler, Stats) {
    (Reassembler::new(FragLimits::default()), Stats::default())
}

#[test]
fn in_order_fragments_rebuild_the_datagram_and_free_everything() {
    let (mut r, mut s) = reassembler();
    let data = datagram(4000);
    let frags = cut(&data, 1480);
    assert_eq!(frags.len(), 3);
    for (i, f) in frags.iter().enumerate() {
        let out = r.push(t(i as u64), &v4(A, 7, PROTO_UDP, *f), &mut s);
        if i < 2 {
            assert_eq!(out, None);
            assert!(r.memory() > 0);
        } else {
            let d = out.expect("the last fragment completes it");
            assert_eq!((d.src, d.dst, d.protocol), (A.into(), US.into(), PROTO_UDP));
            assert_eq!(d.payload, data);
        }
    }
    assert_eq!((r.memory(), r.trains(), r.poll_at()), (0, 0, None));
    assert_eq!((s.frag_received, s.frag_reassembled), (3, 1));
}

#[test]
fn any_arrival_order_rebuilds_the_same_bytes() {
    let data = datagram(60000);
    let frags = cut(&data, 1480);
    let n = frags.len();
    // Reversed, then a stride permutation (odd positions first).
    let orders: [Vec<usize>; 2] = [
        (0..n).rev().collect(),
        (0..n)
            .filter(|i| i % 2 == 1)
            .chain((0..n).step_by(2))
            .collect(),
    ];
    for order in orders {
        let (mut r, mut s) = reassembler();
        let mut done = None;
        for (k, &i) in order.iter().enumerate() {
            let out = r.push(t(0), &v4(A, 1, PROTO_UDP, frags[i]), &mut s);
            assert_eq!(out.is_some(), k + 1 == n, "only the last arrival completes");
            done = done.or(out);
        }
        assert_eq!(done.unwrap().payload, data);
        assert_eq!(r.memory(), 0);
    }
}

#[test]
fn trains_are_kept_apart_by_source_ident_and_protocol() {
    let (mut r, mut s) = reassembler();
    let x = datagram(16);
    let y: Vec<u8> = x.iter().map(|b| !b).collect();
    // Same ident from two sources, and same source with another protocol.
    let keys = [(A, PROTO_UDP, &x), (B, PROTO_UDP, &y), (A, PROTO_ICMP, &y)];
    for (src, proto, d) in keys {
        assert_eq!(
            r.push(t(0), &v4(src, 5, proto, (0, true, &d[..8])), &mut s),
            None
        );
    }
    assert_eq!(r.trains(), 3);
    for (src, proto, d) in keys {
        let out = r.push(t(0), &v4(src, 5, proto, (8, false, &d[8..])), &mut s);
        assert_eq!(out.unwrap().payload, *d);
    }
    assert_eq!(s.frag_reassembled, 3);
}

#[test]
fn overlap_discards_the_datagram_and_what_follows_until_the_timeout() {
    // RFC 5722 §4: the whole datagram, fragments still to come included.
    let (mut r, mut s) = reassembler();
    let data = datagram(3000);
    r.push(t(0), &v4(A, 9, PROTO_UDP, (0, true, &data[..1480])), &mut s);
    // Starts inside the first fragment.
    let overlapping = (1472, true, &data[1472..2952]);
    assert_eq!(
        r.push(t(1), &v4(A, 9, PROTO_UDP, overlapping), &mut s),
        None
    );
    assert_eq!(s.frag_overlap, 1);
    // The rest arrives: dropped, never delivered.
    let rest = [
        (1480, true, &data[1480..2960]),
        (2960, false, &data[2960..]),
    ];
    for f in rest {
        assert_eq!(r.push(t(2), &v4(A, 9, PROTO_UDP, f), &mut s), None);
    }
    assert_eq!((s.frag_after_overlap, s.frag_reassembled), (2, 0));
    // Only the tombstone's overhead is held; it goes at 30 s and is not a
    // timed-out train.
    assert_eq!(r.memory(), TRAIN_OVERHEAD);
    assert_eq!(r.expire(t(29_999), &mut s), vec![]);
    assert_eq!(r.trains(), 1);
    // A discarded train is owed no Time Exceeded (Linux kills the queue).
    assert_eq!(r.expire(t(30_000), &mut s), vec![]);
    assert_eq!((r.trains(), r.memory(), s.frag_timeout), (0, 0, 0));
    // The same ident is usable again after the timeout.
    for f in cut(&data, 1480) {
        if let Some(d) = r.push(t(30_001), &v4(A, 9, PROTO_UDP, f), &mut s) {
            assert_eq!(d.payload, data);
        }
    }
    assert_eq!(s.frag_reassembled, 1);
}

#[test]
fn overlap_from_the_right_and_a_covering_fragment_are_overlaps_too() {
    let data = datagram(64);
    let cases: [[(usize, bool, &[u8]); 2]; 3] = [
        // Second ends inside the first.
        [(16, true, &data[16..32]), (8, true, &data[8..24])],
        // Second covers the first entirely.
        [(16, true, &data[16..24]), (8, true, &data[8..32])],
        // Same offset, different length (not a duplicate).
        [(16, true, &data[16..24]), (16, true, &data[16..32])],
    ];
    for case in cases {
        let (mut r, mut s) = reassembler();
        for f in case {
            r.push(t(0), &v4(A, 3, PROTO_UDP, f), &mut s);
        }
        assert_eq!(s.frag_overlap, 1, "{case:?}");
    }
}

#[test]
fn an_exact_duplicate_is_ignored_and_the_datagram_still_completes() {
    // RFC 5722 erratum 3089, as Linux: duplicates are not overlaps.
    let (mut r, mut s) = reassembler();
    let data = datagram(24);
    r.push(t(0), &v4(A, 4, PROTO_UDP, (0, true, &data[..16])), &mut s);
    r.push(t(0), &v4(A, 4, PROTO_UDP, (0, true, &data[..16])), &mut s);
    let out = r.push(t(0), &v4(A, 4, PROTO_UDP, (16, false, &data[16..])), &mut s);
    assert_eq!(out.unwrap().payload, data);
    assert_eq!((s.frag_duplicate, s.frag_overlap), (1, 0));
}

#[test]
fn tiny_first_fragments_and_tcp_at_offset_8_are_dropped_with_their_train() {
    let (mut r, mut s) = reassembler();
    // A 16-byte first TCP fragment cannot hold the 20-byte header.
    let tcp = datagram(40);
    r.push(t(0), &v4(A, 1, PROTO_TCP, (16, false, &tcp[16..])), &mut s);
    assert_eq!(r.trains(), 1);
    assert_eq!(
        r.push(t(0), &v4(A, 1, PROTO_TCP, (0, true, &tcp[..16])), &mut s),
        None
    );
    assert_eq!((s.frag_tiny, r.trains(), r.memory()), (1, 0, 0));
    // 24 bytes, but the data offset claims a 60-byte header.
    let mut long_header = datagram(24);
    long_header[12] = 0xf0;
    r.push(t(0), &v4(A, 2, PROTO_TCP, (0, true, &long_header)), &mut s);
    // RFC 1858 §3.2: offset 8 would rewrite the TCP flags.
    r.push(t(0), &v4(A, 3, PROTO_TCP, (8, true, &tcp[8..16])), &mut s);
    assert_eq!((s.frag_tiny, r.trains()), (3, 0));
    // A first fragment with a whole TCP header is fine.
    let mut ok = datagram(32);
    ok[12] = 0x50;
    r.push(t(0), &v4(A, 4, PROTO_TCP, (0, true, &ok)), &mut s);
    assert_eq!((s.frag_tiny, r.trains()), (3, 1));
}

#[test]
fn never_completed_trains_are_freed_by_the_timeout() {
    let (mut r, mut s) = reassembler();
    let data = datagram(3000);
    r.push(
        t(1000),
        &v4(A, 1, PROTO_UDP, (0, true, &data[..1480])),
        &mut s,
    );
    let f6 = Fragment::v6(A6, US6, 77, PROTO_UDP, 0, true, &data[..1448]);
    r.push(t(2000), &f6, &mut s);
    assert_eq!(r.poll_at(), Some(t(31_000)));
    assert_eq!(r.expire(t(30_999), &mut s), vec![]);
    assert_eq!((r.trains(), s.frag_timeout), (2, 0));
    let v4 = r.expire(t(31_000), &mut s);
    assert_eq!(v4.len(), 1);
    assert_eq!(v4[0].src, IpAddr::V4(A));
    assert_eq!((r.trains(), s.frag_timeout), (1, 1));
    // IPv6 waits 60 s (RFC 8200 §4.5).
    assert_eq!(r.poll_at(), Some(t(62_000)));
    assert_eq!(r.expire(t(61_999), &mut s), vec![]);
    let v6 = r.expire(t(62_000), &mut s);
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0].src, IpAddr::V6(A6));
    assert_eq!((r.trains(), r.memory(), s.frag_timeout), (0, 0, 2));
    assert_eq!(r.poll_at(), None);
}

#[test]
fn the_timeout_runs_from_the_first_fragment() {
    let (mut r, mut s) = reassembler();
    let data = datagram(4000);
    let frags = cut(&data, 1480);
    r.push(t(0), &v4(A, 1, PROTO_UDP, frags[0]), &mut s);
    r.push(t(29_000), &v4(A, 1, PROTO_UDP, frags[1]), &mut s);
    assert_eq!(r.expire(t(30_000), &mut s).len(), 1);
    // The last fragment, after the deadline, starts a new train.
    assert_eq!(
        r.push(t(30_001), &v4(A, 1, PROTO_UDP, frags[2]), &mut s),
        None
    );
    assert_eq!((s.frag_timeout, s.frag_reassembled, r.trains()), (1, 0, 1));
}

/// A reassembler with 16 KiB per peer and 40 KiB in all.
fn capped() -> Reassembler {
    Reassembler::new(FragLimits {
        per_peer: 16 * 1024,
        total: 40 * 1024,
        ..FragLimits::default()
    })
}

#[test]
fn one_peer_is_capped_and_others_are_not_starved() {
    let mut r = capped();
    let mut s = Stats::default();
    let chunk = datagram(1480);
    // Peer A opens trains until its cap refuses one.
    for ident in 0..100u16 {
        r.push(t(0), &v4(A, ident, PROTO_UDP, (0, true, &chunk)), &mut s);
    }
    assert!(s.frag_peer_limit > 0);
    assert!(r.memory() <= 16 * 1024);
    // Peer B still reassembles.
    let data = datagram(2000);
    let mut got = None;
    for f in cut(&data, 1480) {
        got = got.or(r.push(t(0), &v4(B, 1, PROTO_UDP, f), &mut s));
    }
    assert_eq!(got.unwrap().payload, data);
    assert_eq!(s.frag_total_limit, 0);
}

#[test]
fn the_total_cap_holds_across_peers() {
    let mut r = capped();
    let mut s = Stats::default();
    let chunk = datagram(1480);
    for host in 1..=20u8 {
        for ident in 0..4u16 {
            let src = Ipv4Addr::new(10, 0, 1, host);
            r.push(t(0), &v4(src, ident, PROTO_UDP, (0, true, &chunk)), &mut s);
        }
    }
    assert!(s.frag_total_limit > 0);
    assert!(r.memory() <= 40 * 1024, "{}", r.memory());
    let expired = r.expire(t(30_000), &mut s);
    assert_eq!(expired.len() as u64, s.frag_timeout);
    assert_eq!(r.memory(), 0);
}

#[test]
fn contradictions_are_malformed_and_free_the_train() {
    let data = datagram(64);
    let (mut r, mut s) = reassembler();
    // Not the last, and not a multiple of 8.
    r.push(t(0), &v4(A, 1, PROTO_UDP, (0, true, &data[..12])), &mut s);
    // Empty and not the last.
    r.push(t(0), &v4(A, 1, PROTO_UDP, (0, true, &data[..0])), &mut s);
    assert_eq!((s.frag_malformed, r.trains()), (2, 0));
    // Two different ends.
    r.push(
        t(0),
        &v4(A, 2, PROTO_UDP, (32, false, &data[32..40])),
        &mut s,
    );
    r.push(
        t(0),
        &v4(A, 2, PROTO_UDP, (40, false, &data[40..48])),
        &mut s,
    );
    assert_eq!((s.frag_malformed, r.trains()), (3, 0));
    // Data past the known end.
    r.push(t(0), &v4(A, 3, PROTO_UDP, (8, false, &data[8..16])), &mut s);
    r.push(
        t(0),
        &v4(A, 3, PROTO_UDP, (16, true, &data[16..24])),
        &mut s,
    );
    // A last fragment ending before data already held.
    r.push(
        t(0),
        &v4(A, 4, PROTO_UDP, (32, true, &data[32..48])),
        &mut s,
    );
    r.push(t(0), &v4(A, 4, PROTO_UDP, (0, false, &data[..16])), &mut s);
    assert_eq!((s.frag_malformed, r.trains(), r.memory()), (5, 0, 0));
}

#[test]
fn a_datagram_past_64_kib_is_refused() {
    let (mut r, mut s) = reassembler();
    let data = datagram(16);
    // Offset 65528 (the largest the 13-bit field gives) + 16 bytes.
    r.push(t(0), &v4(A, 1, PROTO_UDP, (65528, false, &data)), &mut s);
    let f6 = Fragment::v6(A6, US6, 1, PROTO_UDP, 65528, false, &data);
    r.push(t(0), &f6, &mut s);
    assert_eq!((s.frag_oversize, r.trains()), (2, 0));
    // Exactly 65535 is fine for IPv6's payload.
    let f6 = Fragment::v6(A6, US6, 2, PROTO_UDP, 65528, false, &data[..7]);
    r.push(t(0), &f6, &mut s);
    assert_eq!((s.frag_oversize, r.trains()), (2, 1));
}

#[test]
fn too_many_fragments_free_the_train() {
    let limits = FragLimits {
        max_fragments: 4,
        ..FragLimits::default()
    };
    let mut r = Reassembler::new(limits);
    let mut s = Stats::default();
    let data = datagram(80);
    for i in 0..5 {
        r.push(
            t(0),
            &v4(A, 1, PROTO_UDP, (i * 16, true, &data[i * 16..i * 16 + 8])),
            &mut s,
        );
    }
    assert_eq!((s.frag_too_many, r.trains(), r.memory()), (1, 0, 0));
}

#[test]
fn ipv6_takes_the_protocol_from_offset_zero() {
    // RFC 8200 §4.5: later fragments' next header values may differ.
    let (mut r, mut s) = reassembler();
    let data = datagram(2000);
    let last = Fragment::v6(A6, US6, 0xdead_beef, 0, 1232, false, &data[1232..]);
    assert_eq!(r.push(t(0), &last, &mut s), None);
    let first = Fragment::v6(A6, US6, 0xdead_beef, PROTO_UDP, 0, true, &data[..1232]);
    let d = r.push(t(0), &first, &mut s).unwrap();
    assert_eq!((d.src, d.protocol), (A6.into(), PROTO_UDP));
    assert_eq!(d.payload, data);
    // Tiny applies to IPv6 first fragments too (RFC 7112).
    let tiny = Fragment::v6(A6, US6, 3, 6, 0, true, &data[..8]);
    r.push(t(0), &tiny, &mut s);
    assert_eq!((s.frag_tiny, r.trains()), (1, 0));
}

#[test]
fn an_atomic_fragment_is_delivered_alone_and_leaves_trains_untouched() {
    // RFC 6946 §4: processed in isolation from any queued fragments.
    let (mut r, mut s) = reassembler();
    let data = datagram(2000);
    let first = Fragment::v6(A6, US6, 42, PROTO_UDP, 0, true, &data[..1232]);
    r.push(t(0), &first, &mut s);
    let atomic = Fragment::v6(A6, US6, 42, PROTO_UDP, 0, false, b"whole datagram");
    let d = r.push(t(0), &atomic, &mut s).unwrap();
    assert_eq!(d.payload, b"whole datagram");
    assert_eq!((s.frag_atomic, s.frag_overlap), (1, 0));
    let last = Fragment::v6(A6, US6, 42, 58, 1232, false, &data[1232..]);
    assert_eq!(r.push(t(0), &last, &mut s).unwrap().payload, data);
}

#[test]
fn the_same_fragments_at_the_same_instants_give_the_same_result() {
    let run = || {
        let (mut r, mut s) = reassembler();
        let data = datagram(9000);
        let (mut out, mut expired) = (Vec::new(), Vec::new());
        for (i, f) in cut(&data, 1480).into_iter().enumerate().rev() {
            let ident = (i % 2) as u16;
            out.push(r.push(t(i as u64 * 5000), &v4(A, ident, PROTO_UDP, f), &mut s));
            expired.extend(r.expire(t(i as u64 * 5000), &mut s));
        }
        (out, expired, s, r.memory(), r.poll_at())
    };
    assert_eq!(run(), run());
}

/// A 20-byte IPv4 header as the first fragment of `ident` arrived with
/// (its content only has to come back verbatim in the quote).
fn v4_header(ident: u16) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0x05, 0xdc, 0, 0, 0x20, 0, 64, PROTO_UDP, 0, 0];
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&A.octets());
    h.extend_from_slice(&US.octets());
    h
}

#[test]
fn an_expired_train_hands_back_its_first_fragment_for_a_time_exceeded() {
    // RFC 792 / Linux ip_expire: the header as received and the start of
    // the data, 548 bytes at most (an error within 576 bytes).
    let (mut r, mut s) = reassembler();
    let data = datagram(4000);
    let frags = cut(&data, 1480);
    let header = v4_header(3);
    r.push(t(0), &v4(A, 3, PROTO_UDP, frags[1]), &mut s);
    let before = r.memory();
    let first = v4(A, 3, PROTO_UDP, frags[0]).with_header(&header);
    r.push(t(5), &first, &mut s);
    // The quote is charged like the data it copies.
    assert_eq!(r.memory() - before, 1480 + FRAGMENT_OVERHEAD + QUOTE_V4);
    assert_eq!(r.expire(t(29_999), &mut s), vec![]);
    let expired = r.expire(t(30_000), &mut s);
    let mut quote = header.clone();
    quote.extend_from_slice(&data[..QUOTE_V4 - header.len()]);
    assert_eq!(
        expired,
        vec![Expired {
            src: IpAddr::V4(A),
            quote
        }]
    );
    assert_eq!((s.frag_timeout, r.memory(), r.trains()), (1, 0, 0));
}

#[test]
fn a_v6_quote_is_cut_to_what_an_icmpv6_error_carries() {
    let (mut r, mut s) = reassembler();
    let data = datagram(3000);
    let header = [0x60u8; 48];
    let first = Fragment::v6(A6, US6, 9, PROTO_UDP, 0, true, &data[..1448]).with_header(&header);
    r.push(t(0), &first, &mut s);
    assert_eq!(r.expire(t(59_999), &mut s), vec![]);
    let expired = r.expire(t(60_000), &mut s);
    assert_eq!(expired.len(), 1);
    let q = &expired[0].quote;
    assert_eq!(q.len(), QUOTE_V6);
    assert_eq!((&q[..48], &q[48..]), (&header[..], &data[..QUOTE_V6 - 48]));
}

#[test]
fn a_short_first_fragment_is_quoted_whole() {
    let (mut r, mut s) = reassembler();
    let header = v4_header(4);
    let piece = [9u8; 16];
    r.push(
        t(0),
        &v4(A, 4, PROTO_UDP, (0, true, &piece)).with_header(&header),
        &mut s,
    );
    let expired = r.expire(t(30_000), &mut s);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].quote, [&header[..], &piece[..]].concat());
}

#[test]
fn no_time_exceeded_without_the_first_fragment_or_after_an_overlap() {
    let (mut r, mut s) = reassembler();
    let data = datagram(4000);
    let frags = cut(&data, 1480);
    // Train 1: only the middle and last fragments.
    r.push(t(0), &v4(A, 1, PROTO_UDP, frags[1]), &mut s);
    r.push(t(0), &v4(A, 1, PROTO_UDP, frags[2]), &mut s);
    // Train 2: the first fragment, then an overlap discards it.
    r.push(t(0), &v4(A, 2, PROTO_UDP, frags[0]), &mut s);
    r.push(t(0), &v4(A, 2, PROTO_UDP, (8, true, &data[8..16])), &mut s);
    // Train 3: a tiny first fragment is refused before it is kept.
    r.push(t(0), &v4(A, 3, PROTO_TCP, (0, true, &data[..8])), &mut s);
    assert_eq!((s.frag_overlap, s.frag_tiny), (1, 1));
    assert_eq!(r.expire(t(30_000), &mut s), vec![]);
    assert_eq!((s.frag_timeout, r.trains(), r.memory()), (1, 0, 0));
}

#[test]
fn a_duplicate_first_fragment_is_quoted_and_charged_once() {
    let (mut r, mut s) = reassembler();
    let data = datagram(4000);
    let first = cut(&data, 1480)[0];
    r.push(t(0), &v4(A, 1, PROTO_UDP, first), &mut s);
    let held = r.memory();
    r.push(t(1), &v4(A, 1, PROTO_UDP, first), &mut s);
    assert_eq!((r.memory(), s.frag_duplicate), (held, 1));
    assert_eq!(r.expire(t(30_000), &mut s).len(), 1);
    assert_eq!(r.memory(), 0);
}

mod interface {
    //! Fragments through a whole [`Interface`]: IPv4 ingress to UDP.
    use crate::stack::tests::{poll_with, PEER, US};
    use crate::stack::{Config, FragLimits, Interface};
    use crate::time::Instant;
    use crate::wire::icmp::{self, IcmpMessage};
    use crate::wire::{Ipv4Packet, Ipv4Repr, UdpDatagram, PROTO_UDP};

    /// A UDP datagram from the peer cut into IPv4 fragments of at most
    /// `mtu` bytes, as the kernel would send it.
    fn fragmented(dport: u16, payload: &[u8], mtu: usize, ident: u16) -> Vec<Vec<u8>> {
        let d = UdpDatagram {
            src_port: 5353,
            dst_port: dport,
            payload,
        };
        let mut udp = vec![0u8; 8 + payload.len()];
        d.emit(&mut udp, PEER, US).unwrap();
        let size = (mtu - 20) / 8 * 8;
        let n = udp.len().div_ceil(size);
        udp.chunks(size)
            .enumerate()
            .map(|(i, c)| {
                let mut p = vec![0u8; 20 + c.len()];
                p[20..].copy_from_slice(c);
                let repr = Ipv4Repr {
                    src: PEER,
                    dst: US,
                    protocol: PROTO_UDP,
                    ttl: 64,
                    payload_len: c.len(),
                };
                repr.emit(&mut p, ident).unwrap();
                let more = if i + 1 < n { 0x2000 } else { 0 };
                let field = more | ((i * size / 8) as u16);
                p[6..8].copy_from_slice(&field.to_be_bytes());
                p[10..12].copy_from_slice(&[0, 0]);
                let c = crate::wire::checksum::data(&p[..20]);
                p[10..12].copy_from_slice(&c.to_be_bytes());
                p
            })
            .collect()
    }

    #[test]
    fn a_fragmented_udp_datagram_reaches_its_socket_intact() {
        let mut iface = Interface::new(Config::default());
        iface.udp_bind(9000).unwrap();
        for len in [4000usize, 60000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let mut frags = fragmented(9000, &data, 1500, len as u16);
            frags.reverse();
            let out = poll_with(&mut iface, Instant::ZERO, frags);
            assert!(out.is_empty());
            let mut buf = vec![0u8; 65536];
            let (n, from) = iface.udp_recv(9000, &mut buf).expect("delivered");
            assert_eq!(
                (&buf[..n], from.ip()),
                (&data[..], std::net::IpAddr::V4(PEER))
            );
        }
        let s = iface.stats();
        assert_eq!((s.frag_reassembled, s.udp_delivered), (2, 2));
        assert_eq!((iface.reassembler().memory(), iface.poll_at()), (0, None));
    }

    #[test]
    fn a_reassembled_datagram_to_a_closed_port_quotes_the_original_header() {
        let mut iface = Interface::new(Config::default());
        let data = vec![7u8; 3000];
        let out = poll_with(&mut iface, Instant::ZERO, fragmented(9, &data, 1500, 99));
        assert_eq!(out.len(), 1);
        let ip = Ipv4Packet::parse(&out[0]).unwrap();
        let msg = IcmpMessage::parse(ip.payload).unwrap();
        assert_eq!(
            (msg.kind, msg.code),
            (icmp::DEST_UNREACHABLE, icmp::CODE_PORT_UNREACHABLE)
        );
        let quoted = msg.quoted().unwrap();
        assert_eq!((quoted.src, quoted.dst, quoted.dst_port), (PEER, US, 9));
        // The quoted header is the whole datagram's: 20 + 8 + 3000 bytes.
        assert_eq!(msg.data[2..4], 3028u16.to_be_bytes());
    }

    #[test]
    fn an_unfinished_train_sets_the_poll_deadline_and_is_freed_by_it() {
        let mut iface = Interface::new(Config::default());
        iface.udp_bind(9000).unwrap();
        let mut frags = fragmented(9000, &[1u8; 4000], 1500, 5);
        frags.pop();
        poll_with(&mut iface, Instant::from_millis(10), frags);
        assert_eq!(iface.poll_at(), Some(Instant::from_millis(30_010)));
        assert!(iface.reassembler().memory() > 2 * 1480);
        assert!(poll_with(&mut iface, Instant::from_millis(30_009), vec![]).is_empty());
        let out = poll_with(&mut iface, Instant::from_millis(30_010), vec![]);
        let s = iface.stats();
        assert_eq!((s.frag_timeout, s.udp_delivered), (1, 0));
        assert_eq!((iface.reassembler().memory(), iface.poll_at()), (0, None));
        // RFC 792, Linux's ip_expire: Time Exceeded, code 1, to the
        // source, quoting the first fragment as it arrived (its header
        // says offset 0, MF, ident 5) and the start of its data.
        assert_eq!(out.len(), 1);
        let ip = Ipv4Packet::parse(&out[0]).unwrap();
        assert_eq!((ip.repr.src, ip.repr.dst), (US, PEER));
        let msg = IcmpMessage::parse(ip.payload).unwrap();
        assert_eq!(
            (msg.kind, msg.code),
            (icmp::TIME_EXCEEDED, icmp::CODE_REASSEMBLY_TIME_EXCEEDED)
        );
        assert_eq!(msg.data.len(), 548);
        assert_eq!(msg.data[4..8], [0, 5, 0x20, 0]);
        let quoted = msg.quoted().unwrap();
        assert_eq!((quoted.src, quoted.dst, quoted.dst_port), (PEER, US, 9000));
        assert_eq!(s.frag_time_exceeded_sent, 1);
    }

    #[test]
    fn time_exceeded_messages_share_the_reply_rate_limit() {
        // 1200 unfinished trains whose deadlines fall in six polls within
        // one second: the first 1000 Time Exceeded go out, the rest are
        // refused by the 1000-a-second limit of every stack reply.
        let mut iface = Interface::new(Config {
            frag: FragLimits {
                per_peer: 4 << 20,
                ..FragLimits::default()
            },
            ..Config::default()
        });
        let mut sent = 0;
        for batch in 0..6u16 {
            let now = Instant::from_millis(u64::from(batch));
            for i in 0..200 {
                let mut frags = fragmented(9000, &[0u8; 16], 28, batch * 200 + i);
                frags.truncate(1);
                iface.ingress(now, &frags[0]);
            }
        }
        assert_eq!(iface.reassembler().trains(), 1200);
        for batch in 0..6u64 {
            let out = poll_with(&mut iface, Instant::from_millis(30_000 + batch), vec![]);
            assert!(out.len() <= 256, "the reply queue is bounded");
            sent += out.len();
        }
        let s = iface.stats();
        assert_eq!((sent, s.frag_timeout), (1000, 1200));
        assert_eq!(
            (s.frag_time_exceeded_sent, s.replies_rate_limited),
            (1000, 200)
        );
        assert_eq!(iface.reassembler().memory(), 0);
    }
}
