use super::*;
use crate::wire::ipv6::{Ipv6Repr, NEXT_DEST_OPTS, NEXT_FRAGMENT};
use crate::wire::PROTO_TCP;

const US: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const PEER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const OTHER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3);

fn quoted_tcp(ext: &[u8], first: u8) -> Vec<u8> {
    let mut q = vec![0u8; IPV6_HEADER_LEN];
    Ipv6Repr {
        src: US,
        dst: PEER,
        next_header: first,
        hop_limit: 64,
        flow_label: 7,
        payload_len: ext.len() + 20,
    }
    .emit(&mut q)
    .unwrap();
    q.extend_from_slice(ext);
    q.extend_from_slice(&[0x30, 0x39, 0, 80, 0xde, 0xad, 0xbe, 0xef]);
    q.extend_from_slice(&[0; 12]);
    q
}

#[test]
fn echo_round_trip_checksum_covers_the_pseudo_header() {
    let m = Icmpv6Message {
        kind: ECHO_REQUEST,
        code: 0,
        rest: [0, 1, 0, 2],
        data: b"ping",
    };
    let mut buf = vec![0u8; m.len()];
    m.emit(&mut buf, PEER, US).unwrap();
    assert_eq!(Icmpv6Message::parse(PEER, US, &buf).unwrap(), m);
    // The same bytes between other hosts do not verify.
    assert_eq!(
        Icmpv6Message::parse(OTHER, US, &buf).unwrap_err(),
        Error::BadChecksum
    );
    buf[9] ^= 1;
    assert_eq!(
        Icmpv6Message::parse(PEER, US, &buf).unwrap_err(),
        Error::BadChecksum
    );
    assert_eq!(
        Icmpv6Message::parse(PEER, US, &buf[..7]).unwrap_err(),
        Error::Truncated
    );
}

#[test]
fn etherparse_agrees_on_our_checksum() {
    let m = Icmpv6Message {
        kind: ECHO_REPLY,
        code: 0,
        rest: [0x12, 0x34, 0, 9],
        data: b"abcdefgh",
    };
    let mut icmp = vec![0u8; m.len()];
    m.emit(&mut icmp, US, PEER).unwrap();
    let mut pkt = vec![0u8; IPV6_HEADER_LEN];
    Ipv6Repr {
        src: US,
        dst: PEER,
        next_header: NEXT_ICMPV6,
        hop_limit: 64,
        flow_label: 0,
        payload_len: icmp.len(),
    }
    .emit(&mut pkt)
    .unwrap();
    pkt.extend_from_slice(&icmp);
    let sliced = etherparse::SlicedPacket::from_ip(&pkt).unwrap();
    let Some(etherparse::TransportSlice::Icmpv6(s)) = sliced.transport else {
        panic!("not ICMPv6: {:?}", sliced.transport);
    };
    assert!(s.is_checksum_valid(US.octets(), PEER.octets()));
    assert!(!s.is_checksum_valid(OTHER.octets(), PEER.octets()));
}

#[test]
fn packet_too_big_mtu_and_parameter_pointer() {
    let q = quoted_tcp(&[], PROTO_TCP);
    let ptb = error(PACKET_TOO_BIG, 0, 1400, &q);
    assert_eq!(ptb.mtu(), 1400);
    let pp = error(PARAMETER_PROBLEM, 1, 40, &q);
    assert_eq!(pp.pointer(), 40);
    assert!(pp.is_error());
    let mut buf = vec![0u8; ptb.len()];
    ptb.emit(&mut buf, PEER, US).unwrap();
    let back = Icmpv6Message::parse(PEER, US, &buf).unwrap();
    assert_eq!(back.mtu(), 1400);
    assert_eq!(back.data, &q[..]);
}

#[test]
fn an_error_never_exceeds_the_minimum_mtu() {
    let big = vec![0x60u8; 3000];
    let m = error(DEST_UNREACHABLE, CODE_PORT_UNREACHABLE, 0, &big);
    assert_eq!(IPV6_HEADER_LEN + m.len(), 1280);
}

#[test]
fn a_quote_reads_past_extension_headers() {
    let plain = quoted_tcp(&[], PROTO_TCP);
    let want = Quoted6 {
        src: US,
        dst: PEER,
        protocol: PROTO_TCP,
        src_port: 12345,
        dst_port: 80,
        seq: SeqNumber(0xdead_beef),
    };
    assert_eq!(Quoted6::parse(&plain), Ok(want));
    let mut ext = vec![NEXT_FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
    // First fragment (offset 0, M set).
    ext.extend_from_slice(&[PROTO_TCP, 0, 0, 1, 0, 0, 0, 9]);
    let chained = quoted_tcp(&ext, NEXT_DEST_OPTS);
    assert_eq!(Quoted6::parse(&chained), Ok(want));
    // A later fragment quotes no transport header.
    let mut later = ext.clone();
    later[10] = 0x01;
    let q = quoted_tcp(&later, NEXT_DEST_OPTS);
    assert_eq!(Quoted6::parse(&q), Err(Error::Unsupported));
    // Cut anywhere before the 8 transport bytes end: truncated.
    for n in 0..IPV6_HEADER_LEN + ext.len() + 8 {
        assert_eq!(
            Quoted6::parse(&chained[..n]),
            Err(Error::Truncated),
            "cut at {n}"
        );
    }
    let mut v4 = plain.clone();
    v4[0] = 0x45;
    assert_eq!(Quoted6::parse(&v4), Err(Error::BadVersion));
}

#[test]
fn nd_and_mld_types_are_recognised() {
    for k in [130, 131, 132, 133, 134, 135, 136, 137, 143] {
        assert!(is_nd_or_mld(k), "{k}");
    }
    for k in [1, 2, 3, 4, 128, 129, 138, 142] {
        assert!(!is_nd_or_mld(k), "{k}");
    }
}
