use super::*;

const SRC: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// A packet with `ext` (already chained) after the fixed header, whose
/// Next Header is `first`, and `payload` after it.
fn packet(first: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; IPV6_HEADER_LEN];
    Ipv6Repr {
        src: SRC,
        dst: DST,
        next_header: first,
        hop_limit: 64,
        flow_label: 0x12345,
        payload_len: ext.len() + payload.len(),
    }
    .emit(&mut p)
    .unwrap();
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

#[test]
fn header_round_trips_with_flow_label() {
    let p = packet(6, &[], &[1, 2, 3, 4]);
    assert_eq!(&p[..4], &[0x60, 0x01, 0x23, 0x45]);
    let v = Ipv6Packet::parse(&p).unwrap();
    assert_eq!(v.repr.src, SRC);
    assert_eq!(v.repr.dst, DST);
    assert_eq!(v.repr.next_header, 6);
    assert_eq!(v.repr.hop_limit, 64);
    assert_eq!(v.repr.flow_label, 0x12345);
    assert_eq!(v.payload, &[1, 2, 3, 4]);
    assert_eq!(v.next_header_at, 6);
    assert!(v.fragment.is_none());
}

#[test]
fn trailing_link_padding_is_ignored_and_short_packets_are_truncated() {
    let mut p = packet(17, &[], &[9; 8]);
    p.extend_from_slice(&[0; 6]);
    assert_eq!(Ipv6Packet::parse(&p).unwrap().payload.len(), 8);
    assert_eq!(
        Ipv6Packet::parse(&p[..45]).unwrap_err(),
        Ipv6Error::Wire(Error::Truncated)
    );
    assert_eq!(
        Ipv6Packet::parse(&p[..39]).unwrap_err(),
        Ipv6Error::Wire(Error::Truncated)
    );
}

#[test]
fn version_4_is_rejected() {
    let mut p = packet(6, &[], &[]);
    p[0] = 0x45;
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Wire(Error::BadVersion)
    );
}

#[test]
fn hop_by_hop_router_alert_and_padding_are_skipped() {
    // Next = ICMPv6, len 0 (8 bytes): Router Alert (5, 2, 0, 0), PadN(0).
    let hbh = [58, 0, 5, 2, 0, 0, 1, 0];
    let p = packet(NEXT_HOP_BY_HOP, &hbh, &[128, 0, 0, 0]);
    let v = Ipv6Packet::parse(&p).unwrap();
    assert_eq!(v.repr.next_header, 58);
    assert_eq!(v.next_header_at, 40);
    assert_eq!(v.payload, &[128, 0, 0, 0]);
}

#[test]
fn destination_options_then_routing_with_no_segments_left_reach_tcp() {
    let dst_opts = [43, 0, 1, 4, 0, 0, 0, 0];
    let routing = [6, 0, 4, 0, 0, 0, 0, 0];
    let mut ext = dst_opts.to_vec();
    ext.extend_from_slice(&routing);
    let p = packet(NEXT_DEST_OPTS, &ext, &[7; 20]);
    let v = Ipv6Packet::parse(&p).unwrap();
    assert_eq!(v.repr.next_header, 6);
    assert_eq!(v.next_header_at, 48);
    assert_eq!(v.payload.len(), 20);
}

#[test]
fn routing_with_segments_left_points_at_its_type() {
    let routing = [6, 0, 4, 1, 0, 0, 0, 0];
    let p = packet(NEXT_ROUTING, &routing, &[]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Param {
            code: PARAM_ERRONEOUS_FIELD,
            pointer: 42,
            always: true
        }
    );
}

#[test]
fn unknown_options_follow_their_type_bits() {
    for (kind, want) in [
        (0x1e, None),
        (0x5e, Some(Ipv6Error::DiscardOption)),
        (
            0x9e,
            Some(Ipv6Error::Param {
                code: PARAM_UNKNOWN_OPTION,
                pointer: 42,
                always: true,
            }),
        ),
        (
            0xde,
            Some(Ipv6Error::Param {
                code: PARAM_UNKNOWN_OPTION,
                pointer: 42,
                always: false,
            }),
        ),
    ] {
        let opts = [6, 0, kind, 4, 0, 0, 0, 0];
        let p = packet(NEXT_DEST_OPTS, &opts, &[]);
        assert_eq!(Ipv6Packet::parse(&p).err(), want, "option type {kind:#x}");
    }
}

#[test]
fn option_running_past_its_header_is_truncated() {
    let opts = [6, 0, 1, 9, 0, 0, 0, 0];
    let p = packet(NEXT_DEST_OPTS, &opts, &[]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Wire(Error::Truncated)
    );
}

#[test]
fn extension_header_longer_than_the_packet_is_truncated() {
    let opts = [6, 3, 1, 4, 0, 0, 0, 0];
    let p = packet(NEXT_DEST_OPTS, &opts, &[]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Wire(Error::Truncated)
    );
}

#[test]
fn hop_by_hop_after_another_header_is_a_parameter_problem() {
    let mut ext = vec![NEXT_HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    let p = packet(NEXT_DEST_OPTS, &ext, &[]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Param {
            code: PARAM_UNKNOWN_NEXT_HEADER,
            pointer: 40,
            always: true
        }
    );
}

#[test]
fn a_long_chain_is_refused() {
    let mut ext = Vec::new();
    for _ in 0..=MAX_EXT_HEADERS {
        ext.extend_from_slice(&[NEXT_DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
    }
    let p = packet(NEXT_DEST_OPTS, &ext, &[]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::TooManyHeaders
    );
}

#[test]
fn fragment_header_fields_are_exposed() {
    // Next UDP, offset 185 (1480 bytes), M set, ident 0xdeadbeef.
    let off_m = (185u16 << 3) | 1;
    let [a, b] = off_m.to_be_bytes();
    let frag = [17, 0, a, b, 0xde, 0xad, 0xbe, 0xef];
    let p = packet(NEXT_FRAGMENT, &frag, &[5; 16]);
    let v = Ipv6Packet::parse(&p).unwrap();
    assert_eq!(v.repr.next_header, NEXT_FRAGMENT);
    assert_eq!(
        v.fragment,
        Some(FragmentHeader {
            next_header: 17,
            offset: 185,
            more: true,
            ident: 0xdead_beef,
            at: 40
        })
    );
    assert_eq!(v.payload, &[5; 16]);
}

#[test]
fn jumbogram_is_refused() {
    let mut p = packet(NEXT_HOP_BY_HOP, &[6, 0, 0xc2, 4, 0, 1, 0, 0], &[]);
    p[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(
        Ipv6Packet::parse(&p).unwrap_err(),
        Ipv6Error::Wire(Error::BadHeaderLen)
    );
}

#[test]
fn every_cut_through_the_chain_is_truncated() {
    let mut ext = vec![NEXT_ROUTING, 0, 5, 2, 0, 0, 1, 0];
    ext.extend_from_slice(&[NEXT_FRAGMENT, 0, 4, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
    let p = packet(NEXT_DEST_OPTS, &ext, &[1; 12]);
    assert!(Ipv6Packet::parse(&p).is_ok());
    for n in 0..IPV6_HEADER_LEN + ext.len() {
        let mut q = p[..n].to_vec();
        if n >= 6 {
            // Keep the payload length honest so the chain itself is cut.
            let len = n.saturating_sub(IPV6_HEADER_LEN) as u16;
            q[4..6].copy_from_slice(&len.to_be_bytes());
        }
        assert_eq!(
            Ipv6Packet::parse(&q).unwrap_err(),
            Ipv6Error::Wire(Error::Truncated),
            "cut at {n}"
        );
    }
}
