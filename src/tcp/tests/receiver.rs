//! The receiver's ACKs as a bulk sender sees them: quick ACKs while data
//! starts to flow (Linux's quick-ACK mode) and SACK blocks that report
//! every out-of-order range even when a batch of segments is handled
//! before one ACK leaves (RFC 2018 §4, as Linux's `tcp_sack_new_ofo_skb`).

use super::*;

fn established_default() -> Tcb {
    let mut tcb = syn_sent_with(&Config::default());
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    tcb
}

/// SACK and timestamps negotiated (three SACK blocks per ACK), default
/// delayed ACKs.
fn established_ts_sack() -> Tcb {
    established_ts_sack_with(&Config::default())
}

fn data(off: u32, len: usize) -> Seg {
    let mut s = seg(r(off), l(0), Flags::ACK, &vec![7u8; len]);
    s.h.options.timestamp = Some((1001, 0));
    s
}

#[test]
fn first_flight_full_segments_are_each_acked_at_once() {
    // Linux's tcp_event_data_recv enters quick-ACK mode with the first
    // data: every full-sized segment is ACKed at once, up to 16 ACKs. A
    // sender in slow start whose odd last segment waited 40 ms for the
    // delayed-ACK timer would lose most of a 50 ms round.
    let mut tcb = established_default();
    let full = vec![1u8; 1460];
    for k in 0..16u32 {
        let at = t(100 + u64::from(k));
        send!(tcb, at, seg(r(k * 1460), l(0), Flags::ACK, &full));
        assert_eq!(recv!(tcb, at).h.ack, r((k + 1) * 1460), "segment {k}");
    }
    // The quick ACKs are spent: back to one ACK per two segments.
    send!(tcb, t(120), seg(r(16 * 1460), l(0), Flags::ACK, &full));
    recv_nothing!(tcb, t(120));
    assert_eq!(tcb.poll_at(), Some(t(160)), "the delayed-ACK timer");
    send!(tcb, t(121), seg(r(17 * 1460), l(0), Flags::ACK, &full));
    assert_eq!(recv!(tcb, t(121)).h.ack, r(18 * 1460));
}

#[test]
fn quick_acks_resume_after_a_silence_longer_than_the_rto() {
    // Linux: data after a gap longer than the RTO means the sender
    // restarts from a small window; ACK it quickly again.
    let mut tcb = established_default();
    let full = vec![1u8; 1460];
    for k in 0..18u32 {
        send!(tcb, t(100), seg(r(k * 1460), l(0), Flags::ACK, &full));
        recv(&mut tcb, t(100));
    }
    let mut buf = vec![0u8; 64 * 1024];
    while tcb.recv(&mut buf).is_ok_and(|n| n > 0) {}
    recv(&mut tcb, t(100));
    // A lone segment within the RTO of the last one waits ...
    send!(tcb, t(200), seg(r(18 * 1460), l(0), Flags::ACK, &full));
    recv_nothing!(tcb, t(200));
    tcb.on_timeout(t(240));
    assert_eq!(recv!(tcb, t(240)).h.ack, r(19 * 1460));
    // ... one after five seconds of silence is ACKed at once.
    send!(tcb, t(5300), seg(r(19 * 1460), l(0), Flags::ACK, &full));
    assert_eq!(recv!(tcb, t(5300)).h.ack, r(20 * 1460));
}

#[test]
fn a_short_first_segment_is_acked_at_once() {
    // Linux `tcp_in_quickack_mode` (seen on the wire): a connection's
    // first data is ACKed on arrival, short or not, until it turns
    // interactive; the answer then goes in a segment of its own.
    let mut tcb = established_default();
    send!(
        tcb,
        t(100),
        seg(
            r(0),
            l(0),
            Flags::ACK | Flags::PSH,
            b"GET / HTTP/1.1\r\n\r\n"
        )
    );
    let ack = recv!(tcb, t(100));
    assert_eq!((ack.h.ack, ack.payload.len()), (r(18), 0));
    tcb.send(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    let answer = recv!(tcb, t(101));
    assert_eq!((answer.h.ack, answer.payload.len()), (r(18), 19));
    // Answered within the delayed-ACK time: interactive, so the next
    // request's ACK waits for its answer.
    send!(
        tcb,
        t(150),
        seg(r(18), l(19), Flags::ACK | Flags::PSH, b"GET /2\r\n")
    );
    recv_nothing!(tcb, t(150));
    tcb.send(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    let answer = recv!(tcb, t(151));
    assert_eq!((answer.h.ack, answer.payload.len()), (r(26), 19));
}

#[test]
fn a_batch_of_out_of_order_segments_reports_every_range() {
    // Five segments, each past a hole, handled before the next ACK is
    // polled (a driver reading a batch from the device). One ACK carries
    // three blocks; the ranges it has no room for follow in further ACKs
    // at once, oldest first, so the sender learns of every range in the
    // order it sent them. Otherwise the two oldest go unreported, and a
    // sender's RACK retransmits data that arrived.
    let mut tcb = established_ts_sack();
    for k in 0..5u32 {
        send!(tcb, t(20), data(2000 * (k + 1), 1000));
    }
    let acks = recv(&mut tcb, t(20));
    assert_eq!(acks.len(), 2, "{acks:#?}");
    let blocks = |s: &Seg| {
        s.h.options
            .sack_blocks
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    let range = |k: u32| (r(2000 * k), r(2000 * k + 1000));
    // The first answers the third segment, as if each had been ACKed.
    assert_eq!(blocks(&acks[0]), vec![range(3), range(2), range(1)]);
    // The last answers the fifth: the latest first (RFC 2018 §4).
    assert_eq!(blocks(&acks[1]), vec![range(5), range(4), range(3)]);
    assert!(acks.iter().all(|a| a.h.ack == r(0)));
    // Reported once, a range is not repeated ahead of newer ones.
    send!(tcb, t(21), data(12_000, 1000));
    let next = recv!(tcb, t(21));
    assert_eq!(
        blocks(&next),
        vec![(r(12_000), r(13_000)), range(5), range(4)]
    );
}

#[test]
fn without_sack_a_batch_of_out_of_order_segments_is_one_ack() {
    let mut tcb = syn_sent_with(&Config::default());
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    for k in 0..5u32 {
        send!(
            tcb,
            t(20),
            seg(r(2000 * (k + 1)), l(0), Flags::ACK, &[7u8; 1000])
        );
    }
    let ack = recv!(tcb, t(20));
    assert_eq!(ack.h.ack, r(0));
    assert!(ack.h.options.sack_blocks.iter().all(Option::is_none));
}

#[test]
fn an_overshoot_that_lost_every_other_segment_is_held_whole() {
    // A tail-drop queue overflowing under a sender in slow start (or
    // BBR's STARTUP) drops up to every other segment of a flight: 300
    // separate ranges here. Every one is held (a range limit of 128
    // dropped 172 of them, which the sender then had to resend), and the
    // retransmissions of the holes complete the stream.
    let mut tcb = established_ts_sack();
    const MSS: u32 = 1448;
    for k in 0..300u32 {
        send!(tcb, t(20), data((2 * k + 1) * MSS, MSS as usize));
        recv(&mut tcb, t(20));
    }
    assert_eq!(tcb.stats().out_of_order_dropped, 0);
    assert_eq!(tcb.stats().out_of_order_queued, 300);
    for k in 0..300u32 {
        send!(tcb, t(70), data(2 * k * MSS, MSS as usize));
    }
    let acks = recv(&mut tcb, t(70));
    assert_eq!(acks.last().map(|a| a.h.ack), Some(r(600 * MSS)));
    assert_eq!(tcb.recv_queue(), 600 * MSS as usize);
}
