//! SACK-based loss recovery as a sender (RFC 6675, RFC 2018).

use super::*;

/// ESTABLISHED with SACK (no timestamps) and 10 full segments in flight.
fn in_flight_ten() -> (Tcb, Vec<Seg>) {
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    tcb.send(&[5u8; 10 * 1460]).unwrap();
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    (tcb, out)
}

fn sack_ack(ack: SeqNumber, blocks: &[(u32, u32)]) -> Seg {
    let mut s = seg(r(0), ack, Flags::ACK, b"");
    for (slot, &(a, b)) in s.h.options.sack_blocks.iter_mut().zip(blocks) {
        *slot = Some((l(a), l(b)));
    }
    s
}

#[test]
fn established_sack_dup_acks_retransmit_only_the_hole() {
    // RFC 6675 §5: segment 1 lost; the receiver SACKs 2, 3, 4.
    let (mut tcb, out) = in_flight_ten();
    for k in 2..=4u32 {
        send!(tcb, t(30), sack_ack(l(0), &[(1460, 1460 * k)]));
    }
    let rtx = recv(&mut tcb, t(30));
    assert_eq!(rtx.len(), 1, "{rtx:#?}");
    assert_eq!((rtx[0].h.seq, rtx[0].payload.len()), (l(0), 1460));
    assert_eq!(rtx[0].payload, out[0].payload);
    assert_eq!(tcb.stats().sack_recoveries, 1);
    assert_eq!(tcb.cwnd(), 10_220, "cwnd = ssthresh = 0.7 · 14600 (CUBIC)");
}

#[test]
fn established_sack_second_hole_is_retransmitted_after_partial_ack() {
    // Segments 1 and 6 lost; SACKs cover 2–5 and 7–10.
    let (mut tcb, _) = in_flight_ten();
    for k in 2..=5u32 {
        send!(tcb, t(30), sack_ack(l(0), &[(1460, 1460 * k)]));
    }
    let first = recv(&mut tcb, t(30));
    assert_eq!(first[0].h.seq, l(0));
    send(
        &mut tcb,
        t(31),
        &sack_ack(l(0), &[(7 * 1460, 10 * 1460), (1460, 5 * 1460)]),
    );
    let next = recv(&mut tcb, t(31));
    assert!(
        next.iter().any(|s| s.h.seq == l(5 * 1460)),
        "hole at segment 6 resent: {next:#?}"
    );
    assert!(
        next.iter().all(|s| s.h.seq != l(1460)),
        "SACKed data is not resent"
    );
    // The partial ACK up to the second hole keeps recovery going; the full
    // ACK ends it.
    send(
        &mut tcb,
        t(40),
        &sack_ack(l(5 * 1460), &[(7 * 1460, 10 * 1460)]),
    );
    send!(tcb, t(41), seg(r(0), l(10 * 1460), Flags::ACK, b""));
    assert_eq!(tcb.send_queue(), 0);
    assert_eq!(tcb.poll_at(), None);
}

#[test]
fn established_sack_blocks_outside_the_window_are_ignored() {
    // RFC 2018 blocks beyond SND.MAX or below SND.UNA change nothing.
    let (mut tcb, _) = in_flight_ten();
    for _ in 0..3 {
        let mut s = seg(r(0), l(0), Flags::ACK, b"");
        s.h.options.sack_blocks[0] = Some((l(100_000), l(200_000)));
        s.h.options.sack_blocks[1] = Some((l(0) - 5000u32, l(0)));
        send!(tcb, t(30), s);
    }
    // Nothing is marked SACKed, so nothing is lost: as plain duplicate
    // ACKs on a SACK connection (Linux `tcp_sacktag_write_queue` skips
    // such blocks), they start no recovery.
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.stats().sack_recoveries, 0);
    assert_eq!(tcb.pipe(), 10 * 1460, "all in flight, unSACKed");
}

#[test]
fn established_sack_dup_acks_without_blocks_do_not_retransmit() {
    // Linux with SACK negotiated (`tcp_fastretrans_alert`): duplicate
    // ACKs are counted only on a Reno connection (`tcp_add_reno_sack`),
    // and recovery starts only once a segment is marked lost
    // (`tcp_time_to_recover`), which RACK does from SACKed data alone. A
    // peer that sends plain duplicates draws no fast retransmit: the tail
    // loss probe, then the retransmission timer, repair the loss.
    let (mut tcb, out) = in_flight_ten();
    for _ in 0..5 {
        send!(tcb, t(30), sack_ack(l(0), &[]));
    }
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.stats().dup_acks, 5);
    assert_eq!(tcb.stats().fast_retransmits, 0);
    assert_eq!(tcb.stats().sack_recoveries, 0);
    assert_eq!(tcb.cwnd(), 10 * 1460, "no reduction");
    let pto = tcb.poll_at().expect("loss probe armed");
    tcb.on_timeout(pto);
    let probe = recv!(tcb, pto);
    assert_eq!(probe.h.seq, l(9 * 1460), "the probe is the last segment");
    assert_eq!(tcb.stats().tail_loss_probes, 1);
    send!(tcb, pto, sack_ack(l(0), &[]));
    recv_nothing!(tcb, pto);
    let rto = tcb.poll_at().expect("retransmission timer armed");
    tcb.on_timeout(rto);
    let rtx = recv(&mut tcb, rto);
    assert_eq!(rtx[0].h.seq, l(0), "the timeout resends the head");
    assert_eq!(rtx[0].payload, out[0].payload);
    assert_eq!(tcb.stats().retransmit_timeouts, 1);
    assert_eq!(tcb.stats().fast_retransmits, 0);
}

#[test]
fn established_no_sack_three_dup_acks_still_retransmit() {
    // RFC 6582 §3.2 step 2 (Linux `tcp_add_reno_sack` and
    // `tcp_newreno_mark_lost` at `tp->reordering` = 3): without SACK the
    // third duplicate ACK starts fast retransmit, the second does not.
    let mut tcb = established();
    tcb.send(&[5u8; 10 * 1460]).unwrap();
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    for _ in 0..2 {
        send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    }
    recv_nothing!(tcb, t(30));
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    let rtx = recv(&mut tcb, t(30));
    assert_eq!(rtx[0].h.seq, l(0));
    assert_eq!(tcb.stats().fast_retransmits, 1);
}

#[test]
fn established_partly_old_segment_reports_its_old_part_as_a_dsack() {
    // Linux `tcp_data_queue` ("partial packet", seq < RCV.NXT < end):
    // the new bytes are taken and the ACK reports the old ones in a
    // D-SACK block (RFC 2883 §4).
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, &[1u8; 1000]));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(1000));
    send!(tcb, t(30), seg(r(500), l(0), Flags::ACK, &[1u8; 1000]));
    let ack = recv!(tcb, t(30));
    assert_eq!(ack.h.ack, r(1500));
    assert_eq!(ack.h.options.sack_blocks[0], Some((r(500), r(1000))));
    assert_eq!(tcb.recv_queue(), 1500);
}

/// Segments 1 and 6 lost and segment 1 resent; then the peer, its byte at
/// RCV.NXT received (a newer SEG.SEQ, so every stack takes the window),
/// SACKs 2–5 and 7–10 and shrinks its window to `window`. What goes out.
fn second_hole_under_a_shrunk_window(window: u16) -> Vec<Seg> {
    let (mut tcb, _) = in_flight_ten();
    for k in 2..=5u32 {
        send!(tcb, t(30), sack_ack(l(0), &[(1460, 1460 * k)]));
    }
    let first = recv(&mut tcb, t(30));
    assert_eq!(first[0].h.seq, l(0));
    let mut byte = sack_ack(l(0), &[(1460, 5 * 1460)]);
    byte.payload = b"x".to_vec();
    send!(tcb, t(31), byte);
    let mut shrink = sack_ack(l(0), &[(7 * 1460, 10 * 1460), (1460, 5 * 1460)]);
    shrink.h.seq = r(1);
    shrink.h.window = window;
    send!(tcb, t(31), shrink);
    recv(&mut tcb, t(31))
        .into_iter()
        .filter(|s| !s.payload.is_empty())
        .collect()
}

#[test]
fn established_sack_hole_past_a_shrunk_window_is_not_resent() {
    // Linux `__tcp_retransmit_skb`: a segment starting at or past the
    // peer's window edge (SND.UNA + SND.WND) is not resent unless it is
    // the head; the window now ends at byte 3000, the hole starts at 7300.
    let out = second_hole_under_a_shrunk_window(3000);
    assert!(out.is_empty(), "sent past the window: {out:#?}");
}

#[test]
fn established_sack_hole_running_past_a_shrunk_window_is_trimmed() {
    // `__tcp_retransmit_skb` trims the resent segment to the window edge:
    // the window ends at byte 8000, the hole is 7300..8760.
    let out = second_hole_under_a_shrunk_window(8000);
    let got: Vec<_> = out.iter().map(|s| (s.h.seq, s.payload.len())).collect();
    assert_eq!(got, vec![(l(5 * 1460), 700)]);
}
