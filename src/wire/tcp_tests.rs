use super::*;
use std::net::Ipv4Addr;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn build(h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
    let hl = h.header_len();
    let mut buf = vec![0u8; hl + payload.len()];
    buf[hl..].copy_from_slice(payload);
    h.emit(&mut buf, SRC, DST).unwrap();
    buf
}

fn syn() -> TcpHeader {
    TcpHeader {
        src_port: 40312,
        dst_port: 80,
        seq: SeqNumber(0xfffffff0),
        flags: Flags::SYN,
        window: 65535,
        options: TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((1, 0)),
            ..TcpOptions::default()
        },
        ..TcpHeader::default()
    }
}

#[test]
fn seq_numbers_compare_across_wrap() {
    let a = SeqNumber(u32::MAX - 5);
    let b = a + 10u32;
    assert_eq!(b.0, 4);
    assert!(a < b);
    assert!(b > a);
    assert_eq!(b - a, 10);
    assert_eq!(a.diff(b), -10);
    assert!(a.window_contains(10, a + 9u32));
    assert!(!a.window_contains(10, b));
    assert!(!a.window_contains(0, a));
    assert_eq!(a.max(b), b);
    assert_eq!(a.min(b), a);
}

#[test]
fn syn_round_trips_with_all_options_and_etherparse_agrees() {
    let h = syn();
    let buf = build(&h, b"");
    assert_eq!(buf.len(), 40, "20 + mss 4 + sackOK/TS 12 + wscale 4");
    let seg = TcpSegment::parse(SRC, DST, &buf).unwrap();
    assert_eq!(seg.header, h);
    assert_eq!(seg.seq_len(), 1);
    let eth = etherparse::TcpHeaderSlice::from_slice(&buf).unwrap();
    assert_eq!(
        eth.checksum(),
        eth.calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), &[])
            .unwrap()
    );
    assert_eq!(
        Summary(&seg.header, 0).to_string(),
        "[S] seq 4294967280 win 65535 <mss 1460,sackOK,TS val 1 ecr 0,wscale 7> length 0"
    );
}

#[test]
fn data_segment_with_sack_blocks_round_trips() {
    let mut h = TcpHeader {
        src_port: 1,
        dst_port: 2,
        seq: SeqNumber(100),
        ack: SeqNumber(200),
        flags: Flags::ACK | Flags::PSH,
        window: 512,
        ..TcpHeader::default()
    };
    h.options.timestamp = Some((7, 8));
    h.options.sack_blocks[0] = Some((SeqNumber(300), SeqNumber(400)));
    h.options.sack_blocks[1] = Some((SeqNumber(500), SeqNumber(600)));
    let buf = build(&h, b"odd");
    let seg = TcpSegment::parse(SRC, DST, &buf).unwrap();
    assert_eq!(seg.header, h);
    assert_eq!(seg.payload, b"odd");
    assert_eq!(seg.seq_len(), 3);
}

#[test]
fn sack_blocks_never_overflow_option_space() {
    let mut h = TcpHeader {
        flags: Flags::ACK,
        ..TcpHeader::default()
    };
    h.options.timestamp = Some((1, 2));
    for i in 0..4u32 {
        h.options.sack_blocks[i as usize] = Some((SeqNumber(i * 10), SeqNumber(i * 10 + 5)));
    }
    let buf = build(&h, b"");
    assert!(buf.len() <= 60);
    let seg = TcpSegment::parse(SRC, DST, &buf).unwrap();
    assert_eq!(seg.header.options.sack_blocks.iter().flatten().count(), 3);
}

#[test]
fn bad_checksum_and_lengths_are_rejected() {
    let buf = build(&syn(), b"data");
    let mut bad = buf.clone();
    bad[42] ^= 0xff;
    assert_eq!(
        TcpSegment::parse(SRC, DST, &bad).unwrap_err(),
        Error::BadChecksum
    );
    // The pseudo-header covers the addresses.
    assert_eq!(
        TcpSegment::parse(SRC, Ipv4Addr::new(10, 0, 0, 3), &buf).unwrap_err(),
        Error::BadChecksum
    );
    assert_eq!(
        TcpSegment::parse(SRC, DST, &buf[..19]).unwrap_err(),
        Error::Truncated
    );
    assert_eq!(
        TcpSegment::parse(SRC, DST, &buf[..30]).unwrap_err(),
        Error::Truncated
    );
    let mut off = build(&TcpHeader::default(), b"");
    off[12] = 4 << 4;
    assert_eq!(
        TcpSegment::parse(SRC, DST, &off).unwrap_err(),
        Error::BadHeaderLen
    );
}

fn with_raw_options(opts: &[u8], flags: Flags) -> Vec<u8> {
    let hl = 20 + opts.len().div_ceil(4) * 4;
    let mut buf = vec![0u8; hl];
    buf[12] = ((hl / 4) as u8) << 4;
    buf[13] = flags.0;
    buf[20..20 + opts.len()].copy_from_slice(opts);
    let acc = checksum::pseudo_header(SRC, DST, PROTO_TCP, buf.len());
    let c = checksum::fold(checksum::sum(acc, &buf));
    buf[16..18].copy_from_slice(&c.to_be_bytes());
    buf
}

#[test]
fn illegal_option_lengths_end_option_parsing() {
    // Linux `tcp_parse_options`: an option whose length cannot be right
    // ends parsing; the options before it stand, the segment is kept.
    for opts in [
        &[2u8, 4, 5, 0xb4, 2, 0, 0, 0][..],
        &[2, 4, 5, 0xb4, 5, 1],
        &[2, 4, 5, 0xb4, 8, 40, 0, 0],
        &[2, 4, 5, 0xb4, 2],
    ] {
        let buf = with_raw_options(opts, Flags::SYN);
        let seg = TcpSegment::parse(SRC, DST, &buf).unwrap();
        assert_eq!(seg.header.options.mss, Some(1460), "{opts:?}");
        assert_eq!(seg.header.options.timestamp, None, "{opts:?}");
        assert!(seg.header.options.malformed, "{opts:?}");
    }
}

#[test]
fn odd_but_legal_options_are_tolerated() {
    // wscale 20 is clamped to 14 (RFC 7323 §2.3); MSS with length 3 is ignored;
    // unknown kind 99 skipped; EOL ends parsing even with junk after it.
    let buf = with_raw_options(&[3, 3, 20, 2, 3, 9, 99, 2, 0, 0xff], Flags::SYN);
    let seg = TcpSegment::parse(SRC, DST, &buf).unwrap();
    assert_eq!(seg.header.options.window_scale, Some(14));
    assert_eq!(seg.header.options.mss, None);
    assert!(!seg.header.options.malformed);
}

#[test]
fn impossible_flags_are_rejected() {
    for f in [Flags::SYN | Flags::RST, Flags::SYN | Flags::FIN] {
        let buf = with_raw_options(&[], f);
        assert_eq!(
            TcpSegment::parse(SRC, DST, &buf).unwrap_err(),
            Error::BadFlags
        );
    }
}

#[test]
fn flags_display_like_tcpdump() {
    assert_eq!((Flags::SYN | Flags::ACK).to_string(), "S.");
    assert_eq!((Flags::FIN | Flags::ACK | Flags::PSH).to_string(), "FP.");
    assert_eq!(Flags(0).to_string(), "none");
}
