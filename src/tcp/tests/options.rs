//! Options: timestamps (RFC 7323 §3–§5), SACK as receiver (RFC 2018).

use super::*;

/// ESTABLISHED with timestamps and SACK negotiated; the peer's TSval is 1000.
fn established_ts_sack() -> Tcb {
    established_ts_sack_with(&cfg())
}

fn with_ts(mut s: Seg, val: u32, ecr: u32) -> Seg {
    s.h.options.timestamp = Some((val, ecr));
    s
}

#[test]
fn syn_offers_sack_and_timestamps() {
    let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, LOCAL_ISS);
    let syn = recv!(tcb, t(5));
    assert!(syn.h.options.sack_permitted);
    let (val, ecr) = syn.h.options.timestamp.expect("TS option");
    assert_eq!(ecr, 0);
    assert_ne!(
        val, 5,
        "TSval carries a per-connection offset (RFC 7323 §5.4)"
    );
}

#[test]
fn timestamps_are_echoed_and_mss_shrinks_by_twelve() {
    let mut tcb = established_ts_sack();
    assert_eq!(tcb.mss(), 1448);
    tcb.send(b"x").unwrap();
    let s = recv!(tcb, t(20));
    let (_, ecr) = s.h.options.timestamp.expect("TS on every segment");
    assert_eq!(ecr, 1000);
}

#[test]
fn timestamp_echo_gives_rtt_sample_even_after_retransmission() {
    // RFC 7323 §4.1: RTTM does not need Karn's rule.
    let mut tcb = established_ts_sack();
    tcb.send(b"hello").unwrap();
    recv!(tcb, t(100));
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    let rtx = recv!(tcb, at);
    let (val, _) = rtx.h.options.timestamp.unwrap();
    send(
        &mut tcb,
        at + Duration::from_millis(30),
        &with_ts(seg(r(0), l(5), Flags::ACK, b""), 1001, val),
    );
    assert_eq!(tcb.rtt().latest(), Some(Duration::from_millis(30)));
}

#[test]
fn timestamp_echo_older_than_a_retransmission_timeout_gives_no_rtt_sample() {
    // Karn's rule (RFC 6298 §3) applied to timestamps: a receiver echoes
    // TS.Recent, which a duplicate segment does not update (RFC 7323 §4.3),
    // so after a timeout an echo of the original's TSval may answer the
    // retransmission and would time the timeout too.
    let mut tcb = established_ts_sack();
    tcb.send(b"hello").unwrap();
    let original = recv!(tcb, t(100));
    let (val, _) = original.h.options.timestamp.unwrap();
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    recv!(tcb, at);
    let before = (tcb.rtt().latest(), tcb.rtt().rto());
    send(
        &mut tcb,
        at + Duration::from_millis(30),
        &with_ts(seg(r(0), l(5), Flags::ACK, b""), 1001, val),
    );
    assert_eq!(tcb.send_queue(), 0, "the data is acknowledged");
    assert_eq!(
        (tcb.rtt().latest(), tcb.rtt().rto()),
        before,
        "no sample: the timeout stays backed off"
    );
}

#[test]
fn paws_drops_old_timestamp_and_acks() {
    // RFC 7323 §5.3 R1.
    let mut tcb = established_ts_sack();
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(0), l(0), Flags::ACK, b"new"), 1005, 0),
    );
    recv!(tcb, t(11));
    send(
        &mut tcb,
        t(12),
        &with_ts(seg(r(3), l(0), Flags::ACK, b"old"), 900, 0),
    );
    assert_eq!(tcb.recv_queue(), 3, "the old-timestamp segment is dropped");
    assert_eq!(tcb.stats().paws_rejected, 1);
    let ack = recv!(tcb, t(12));
    assert_eq!(ack.h.options.timestamp.unwrap().1, 1005);
}

#[test]
fn paws_does_not_apply_to_rst() {
    let mut tcb = established_ts_sack();
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(0), l(0), Flags::RST, b""), 1, 0),
    );
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn out_of_order_data_is_reported_in_sack_blocks_latest_first() {
    // RFC 2018 §4: the first block holds the most recently received segment.
    let mut tcb = established_ts_sack();
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(100), l(0), Flags::ACK, &[1; 10]), 1001, 0),
    );
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(300), l(0), Flags::ACK, &[2; 10]), 1001, 0),
    );
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.ack, r(0));
    let blocks: Vec<_> = ack
        .h
        .options
        .sack_blocks
        .iter()
        .flatten()
        .copied()
        .collect();
    assert_eq!(blocks, vec![(r(300), r(310)), (r(100), r(110))]);
}

#[test]
fn data_segments_shrink_to_fit_sack_blocks_within_the_mtu() {
    let mut tcb = established_ts_sack();
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(100), l(0), Flags::ACK, &[1; 10]), 1001, 0),
    );
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(300), l(0), Flags::ACK, &[2; 10]), 1001, 0),
    );
    send(
        &mut tcb,
        t(11),
        &with_ts(seg(r(500), l(0), Flags::ACK, &[3; 10]), 1001, 0),
    );
    tcb.send(&[9u8; 5000]).unwrap();
    for s in recv(&mut tcb, t(12)) {
        assert!(
            s.h.header_len() + s.payload.len() <= 1460 + 20,
            "{} + {}",
            s.h.header_len(),
            s.payload.len()
        );
    }
}

#[test]
fn no_options_without_negotiation() {
    let mut tcb = established();
    tcb.send(b"x").unwrap();
    let s = recv!(tcb, t(20));
    assert_eq!(s.h.options, TcpOptions::default());
}

#[test]
fn blind_old_ack_gets_rate_limited_challenge_acks() {
    // RFC 5961 §5.2 (ACK far below SND.UNA - MAX.SND.WND) and §7 (rate
    // limit, as Linux: one per `invalid_ratelimit`, 500 ms).
    let mut tcb = established();
    for i in 0..20 {
        send(
            &mut tcb,
            t(11 + 100 * i),
            &seg(r(0), l(0) - 200_000u32, Flags::ACK, b"x"),
        );
    }
    assert_eq!(tcb.recv_queue(), 0, "segments with such ACKs are dropped");
    assert_eq!(tcb.stats().challenge_acks, 4);
    assert_eq!(tcb.stats().challenge_acks_suppressed, 16);
}

#[test]
fn extensions_can_be_turned_off() {
    let c = Config {
        sack: false,
        timestamps: false,
        window_scaling: false,
        ..cfg()
    };
    let mut tcb = Tcb::connect(&c, LOCAL, REMOTE, LOCAL_ISS);
    let syn = recv!(tcb, t(0));
    assert_eq!(
        syn.h.options,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        }
    );
}

#[test]
fn out_of_window_segment_does_not_update_ts_recent() {
    // RFC 7323 §4.3: TS.Recent is only taken from acceptable segments.
    let mut tcb = established_ts_sack();
    send!(
        tcb,
        t(11),
        with_ts(seg(r(500_000), l(0), Flags::ACK, b"x"), 5000, 0)
    );
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.options.timestamp.unwrap().1, 1000);
}

#[test]
fn syn_ack_echoes_the_peers_timestamp() {
    let mut syn = remote_syn();
    syn.h.options.timestamp = Some((777, 0));
    syn.h.options.sack_permitted = true;
    let mut tcb = Tcb::accept(&cfg(), LOCAL, REMOTE, LOCAL_ISS, &syn.view(), t(0));
    let sa = recv!(tcb, t(0));
    assert_eq!(sa.h.options.timestamp.unwrap().1, 777);
    assert!(sa.h.options.sack_permitted);
}

#[test]
fn paws_accepts_an_equal_timestamp() {
    // RFC 7323 §5.3: only strictly older TSvals are rejected.
    let mut tcb = established_ts_sack();
    send!(
        tcb,
        t(11),
        with_ts(seg(r(0), l(0), Flags::ACK, b"a"), 1000, 0)
    );
    assert_eq!(tcb.recv_queue(), 1);
    assert_eq!(tcb.stats().paws_rejected, 0);
}

#[test]
fn sack_blocks_need_sack_permitted() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(100), l(0), Flags::ACK, b"ooo"));
    let ack = recv!(tcb, t(11));
    assert!(ack.h.options.sack_blocks.iter().all(Option::is_none));
}

#[test]
fn timestamps_wrap_around_2_to_the_32() {
    // RFC 7323 §5.2: TSval comparison is modular.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.timestamp = Some((u32::MAX - 5, 0));
    send!(tcb, t(1), sa);
    recv(&mut tcb, t(1));
    send!(tcb, t(2), with_ts(seg(r(0), l(0), Flags::ACK, b"w"), 3, 0));
    assert_eq!(tcb.recv_queue(), 1, "3 is newer than 2^32 - 6");
    assert_eq!(tcb.stats().paws_rejected, 0);
}

#[test]
fn paws_accepts_any_tsval_after_a_syn_with_tsval_zero() {
    // A peer whose SYN-ACK carried TSval 0 leaves TS.Recent at 0; Linux's
    // tcp_paws_check then accepts any TSval, even one "older" than 0 in
    // modular terms (above 2^31), and adopts it as TS.Recent.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.timestamp = Some((0, 0));
    send!(tcb, t(1), sa);
    recv(&mut tcb, t(1));
    send!(
        tcb,
        t(2),
        with_ts(seg(r(0), l(0), Flags::ACK, b"z"), 0x9000_0000, 0)
    );
    assert_eq!(tcb.recv_queue(), 1, "TSval 0x9000_0000 after TS.Recent 0");
    assert_eq!(tcb.stats().paws_rejected, 0);
    let ack = recv!(tcb, t(2));
    assert_eq!(ack.h.options.timestamp.unwrap().1, 0x9000_0000);
}
