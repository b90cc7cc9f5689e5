//! ESTABLISHED data transfer: SEND (§3.10.2), RECEIVE (§3.10.3), segment
//! text (§3.10.7.4 seventh), windows (§3.8.6), congestion (RFC 5681).

use super::*;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn established_send_segments_at_mss_with_psh_on_last() {
    let mut tcb = established();
    let data = pattern(4000);
    assert_eq!(tcb.send(&data), Ok(4000));
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 3);
    assert_eq!(
        out.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        vec![1460, 1460, 1080]
    );
    assert_eq!(out[0].h.seq, l(0));
    assert_eq!(out[1].h.seq, l(1460));
    assert!(!out[0].h.flags.psh() && out[2].h.flags.psh());
    let sent: Vec<u8> = out.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(sent, data);
    assert!(out.iter().all(|s| s.h.flags.ack() && s.h.ack == r(0)));
}

#[test]
fn established_send_respects_peer_window() {
    // RFC 9293 §3.8.6: never send beyond SND.UNA + SND.WND.
    let mut tcb = established();
    let mut w = seg(r(0), l(0), Flags::ACK, b"");
    w.h.window = 1000;
    send!(tcb, t(11), w);
    tcb.send(&pattern(5000)).unwrap();
    // A window smaller than the first MSS is not sent into at once
    // (Linux's `tcp_snd_wnd_test`); the persist timer sends what fits
    // (`tcp_write_wakeup`).
    recv_nothing!(tcb, t(12));
    let at = tcb.poll_at().expect("the persist timer");
    tcb.on_timeout(at);
    let out = recv(&mut tcb, at);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.len(), 1000);
    // An ACK opening the window releases more.
    let mut a = seg(r(0), l(1000), Flags::ACK, b"");
    a.h.window = 3000;
    let now = at + Duration::from_millis(10);
    send!(tcb, now, a);
    let out = recv(&mut tcb, now);
    // Two full segments; the 80-byte runt waits (sender SWS avoidance,
    // RFC 9293 §3.8.6.2.1) while data is in flight.
    assert_eq!(
        out.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        vec![1460, 1460]
    );
    assert_eq!(out[0].h.seq, l(1000));
}

#[test]
fn established_send_respects_initial_cwnd() {
    // RFC 6928: IW = 10 segments.
    let mut tcb = established();
    tcb.send(&pattern(60_000)).unwrap();
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.iter().map(|s| s.payload.len()).sum::<usize>(), 14600);
}

#[test]
fn established_send_full_buffer_would_block_until_acked() {
    let mut tcb = established();
    assert_eq!(tcb.send(&pattern(100_000)), Ok(64 * 1024));
    assert_eq!(tcb.send(b"x"), Err(SendError::WouldBlock));
    assert!(!tcb.can_send());
    let out = recv(&mut tcb, t(20));
    let sent: usize = out.iter().map(|s| s.payload.len()).sum();
    send!(tcb, t(30), seg(r(0), l(sent as u32), Flags::ACK, b""));
    assert!(tcb.can_send());
    assert_eq!(tcb.send(&pattern(100_000)), Ok(sent));
}

#[test]
fn established_recv_delivers_in_order_and_acks_with_smaller_window() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"abc"));
    send(
        &mut tcb,
        t(11),
        &seg(r(3), l(0), Flags::ACK | Flags::PSH, b"def"),
    );
    // Both segments are acknowledged by one ACK (ACKs coalesce per poll).
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.ack, r(6));
    // The handshake advertised 65535 (the 16-bit maximum); the right edge
    // stays put (receiver SWS avoidance), so the window shrinks by 6.
    assert_eq!(u32::from(ack.h.window), 65535 - 6);
    let mut buf = [0u8; 4];
    assert_eq!(tcb.recv(&mut buf), Ok(4));
    assert_eq!(&buf, b"abcd");
    assert_eq!(tcb.recv(&mut buf), Ok(2));
    assert_eq!(tcb.recv(&mut buf), Err(RecvError::WouldBlock));
}

#[test]
fn established_recv_overlapping_retransmission_is_trimmed() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"abcd"));
    send!(tcb, t(12), seg(r(2), l(0), Flags::ACK, b"cdef"));
    let mut buf = [0u8; 16];
    assert_eq!(tcb.recv(&mut buf), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
}

#[test]
fn established_out_of_order_is_reassembled_after_duplicate_ack() {
    // RFC 9293 §3.10.7.4 seventh (segments beyond RCV.NXT may be held) and
    // RFC 5681 §4.2 (immediate duplicate ACK for out-of-order data).
    let mut tcb = established();
    send!(tcb, t(11), seg(r(6), l(0), Flags::ACK, b"ghi"));
    send!(tcb, t(11), seg(r(3), l(0), Flags::ACK, b"def"));
    assert_eq!(recv!(tcb, t(11)).h.ack, r(0));
    assert_eq!(tcb.stats().out_of_order_queued, 2);
    assert_eq!(
        tcb.recv(&mut [0u8; 4]),
        Err(RecvError::WouldBlock),
        "nothing in order yet"
    );
    send!(tcb, t(12), seg(r(0), l(0), Flags::ACK, b"abc"));
    assert_eq!(recv!(tcb, t(12)).h.ack, r(9));
    let mut buf = [0u8; 16];
    assert_eq!(tcb.recv(&mut buf), Ok(9));
    assert_eq!(&buf[..9], b"abcdefghi");
}

#[test]
fn established_out_of_order_hole_limit_drops_and_counts() {
    let mut tcb = Tcb::connect(
        &Config {
            max_ooo_ranges: 2,
            ..cfg()
        },
        LOCAL,
        REMOTE,
        LOCAL_ISS,
    );
    recv(&mut tcb, t(0));
    send!(tcb, t(1), syn_ack(None));
    for k in 1..=3 {
        send!(tcb, t(2), seg(r(k * 10), l(0), Flags::ACK, b"x"));
    }
    assert_eq!(tcb.stats().out_of_order_queued, 2);
    assert_eq!(tcb.stats().out_of_order_dropped, 1);
    // The stream stays correct: fill in order and only queued bytes appear.
    let data: Vec<u8> = (0..40u8).collect();
    send!(tcb, t(3), seg(r(0), l(0), Flags::ACK, &data[..10]));
    let mut buf = [0u8; 64];
    assert_eq!(
        tcb.recv(&mut buf),
        Ok(11),
        "0..10 plus the parked byte at 10"
    );
}

#[test]
fn established_out_of_order_fin_is_processed_when_the_gap_fills() {
    let mut tcb = established();
    send(
        &mut tcb,
        t(11),
        &seg(r(3), l(0), Flags::ACK | Flags::FIN, b"def"),
    );
    assert_eq!(tcb.state(), State::Established);
    send!(tcb, t(12), seg(r(0), l(0), Flags::ACK, b"abc"));
    assert_eq!(tcb.state(), State::CloseWait);
    assert_eq!(recv(&mut tcb, t(12)).last().unwrap().h.ack, r(7));
    let mut buf = [0u8; 16];
    assert_eq!(tcb.recv(&mut buf), Ok(6));
    assert_eq!(tcb.recv(&mut buf), Ok(0));
}

#[test]
fn established_segment_past_the_window_is_dropped_whole_while_data_is_queued() {
    // Linux's `tcp_sequence` (6.17+): a segment running past the right
    // edge we advertised (65535: the SYN's unscaled field) is not
    // accepted while unread data is queued; the ACK repeats RCV.NXT.
    let mut tcb = established();
    let big = pattern(70_000);
    for (i, chunk) in big.chunks(1000).enumerate() {
        send(
            &mut tcb,
            t(11),
            &seg(r(i as u32 * 1000), l(0), Flags::ACK, chunk),
        );
    }
    let acks = recv(&mut tcb, t(11));
    assert_eq!(acks.last().unwrap().h.ack, r(65_000));
    let mut buf = vec![0u8; 100_000];
    assert_eq!(tcb.recv(&mut buf), Ok(65_000));
    assert_eq!(&buf[..65_000], &big[..65_000]);
}

#[test]
fn established_segment_past_the_window_is_taken_into_an_empty_queue_and_the_window_shuts() {
    // `tcp_sequence`: with nothing queued, a segment starting inside the
    // window is taken whole, what the buffer holds of it; the rest is
    // dropped for want of space, and that ACK advertises the space really
    // free, a zero window (`ICSK_ACK_NOMEM` in `tcp_select_window`).
    let mut tcb = established();
    let big = pattern(70_000);
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &big));
    let ack = recv!(tcb, t(11));
    assert_eq!((ack.h.ack, ack.h.window), (r(64 * 1024), 0));
    let mut buf = vec![0u8; 100_000];
    assert_eq!(tcb.recv(&mut buf), Ok(64 * 1024));
    assert_eq!(&buf[..64 * 1024], &big[..64 * 1024]);
}

#[test]
fn established_reading_sends_window_update() {
    // RFC 9293 §3.8.6.2.2: announce the window once it opens by min(MSS, buf/2).
    let mut tcb = established();
    // One segment fills the buffer (the queue was empty, so it is taken
    // though it runs a byte past the 65535 the SYN offered).
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &pattern(64 * 1024)));
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
    let mut buf = [0u8; 100];
    tcb.recv(&mut buf).unwrap();
    assert!(
        !tcb.wants_transmit(),
        "100 bytes is below the SWS threshold"
    );
    recv_nothing!(tcb, t(12));
    let mut buf = [0u8; 2000];
    tcb.recv(&mut buf).unwrap();
    assert!(tcb.wants_transmit());
    let upd = recv!(tcb, t(12));
    assert_eq!(upd.h.window, 2100);
}

#[test]
fn established_unacceptable_segment_is_acked_and_dropped() {
    // RFC 9293 §3.10.7.4 first: not acceptable → send ACK, drop.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(100_000), l(0), Flags::ACK, b"zzz"));
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.ack, r(0));
    assert_eq!(tcb.recv_queue(), 0);
    assert_eq!(tcb.stats().unacceptable, 1);
}

#[test]
fn established_ack_of_unsent_data_is_acked_and_dropped() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(500), Flags::ACK, b"data"));
    let ack = recv!(tcb, t(11));
    assert_eq!((ack.h.seq, ack.h.ack), (l(0), r(0)));
    assert_eq!(tcb.recv_queue(), 0, "the segment is dropped");
}

#[test]
fn established_segment_without_ack_is_dropped() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::PSH, b"data"));
    assert_eq!(tcb.recv_queue(), 0);
}

#[test]
fn established_acks_free_the_send_buffer_and_sample_rtt() {
    let mut tcb = established();
    tcb.send(&pattern(1000)).unwrap();
    recv(&mut tcb, t(100));
    send!(tcb, t(150), seg(r(0), l(1000), Flags::ACK, b""));
    assert_eq!(tcb.send_queue(), 0);
    assert_eq!(tcb.rtt().latest(), Some(Duration::from_millis(50)));
    assert_eq!(tcb.poll_at(), None);
}

#[test]
fn established_three_dup_acks_trigger_fast_retransmit() {
    // RFC 5681 §3.2, RFC 6582 §3.2.
    let mut tcb = established();
    tcb.send(&pattern(10 * 1460)).unwrap();
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    for _ in 0..3 {
        send!(tcb, t(30), seg(r(0), l(1460), Flags::ACK, b""));
    }
    // The first ACK advanced snd_una; the next two are duplicates.
    recv_nothing!(tcb, t(30));
    send!(tcb, t(31), seg(r(0), l(1460), Flags::ACK, b""));
    let rtx = recv(&mut tcb, t(31));
    assert_eq!(rtx.len(), 1);
    assert_eq!(rtx[0].h.seq, l(1460));
    assert_eq!(rtx[0].payload, out[1].payload);
    assert_eq!(tcb.stats().fast_retransmits, 1);
    // A partial ACK retransmits the next hole at once (RFC 6582 step 5).
    send!(tcb, t(40), seg(r(0), l(2920), Flags::ACK, b""));
    let rtx = recv(&mut tcb, t(40));
    assert_eq!(rtx[0].h.seq, l(2920));
}

#[test]
fn established_zero_window_is_probed_with_backoff() {
    // RFC 9293 §3.8.6.1: persist timer and probes, shaped as Linux's
    // `tcp_xmit_probe_skb`: a bare ACK at SND.UNA - 1.
    let mut tcb = established();
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.send(b"queued").unwrap();
    recv_nothing!(tcb, t(12));
    let at = tcb.poll_at().expect("persist timer armed");
    tcb.on_timeout(at);
    let probe = recv!(tcb, at);
    assert_eq!((probe.h.seq, probe.payload.len()), (l(0) - 1u32, 0));
    // The peer still advertises zero: the probe is retransmitted later, not given up.
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, at, z);
    assert_eq!(tcb.state(), State::Established);
    // Window opens: the rest flows.
    let mut open = seg(r(0), l(0), Flags::ACK, b"");
    open.h.window = 1000;
    send!(tcb, at + Duration::from_millis(1), open);
    let rest = recv!(tcb, at + Duration::from_millis(1));
    assert_eq!(rest.payload, b"queued");
}

#[test]
fn established_older_segment_does_not_update_the_window() {
    // RFC 9293 §3.10.7.4: update SND.WND only if SND.WL1 < SEG.SEQ or
    // (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK).
    let mut tcb = established();
    let mut newer = seg(r(10), l(0), Flags::ACK, b"");
    newer.h.window = 5000;
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &[0u8; 10]));
    send!(tcb, t(12), newer);
    let mut older = seg(r(5), l(0), Flags::ACK, b"");
    older.h.window = 100;
    send!(tcb, t(13), older);
    assert_eq!(tcb.send_window(), 5000);
}

#[test]
fn established_ack_with_window_change_is_not_a_duplicate() {
    // RFC 5681 §2: a duplicate ACK leaves the window unchanged.
    let mut tcb = established();
    tcb.send(&[1u8; 5000]).unwrap();
    recv(&mut tcb, t(20));
    for w in [1000u16, 2000, 3000, 4000] {
        let mut a = seg(r(0), l(0), Flags::ACK, b"");
        a.h.window = w;
        send!(tcb, t(21), a);
    }
    assert_eq!(tcb.stats().dup_acks, 0);
}

#[test]
fn established_zero_window_data_probe_is_dropped_ack_and_all_while_data_is_queued() {
    // Linux's `tcp_sequence` (6.17+): a probe byte at RCV.NXT runs past a
    // shut window, and unread data is queued, so the whole segment is
    // unacceptable — its ACK field too, where RFC 9293 §3.10.7.4 would
    // still process it; it gets the duplicate ACK. A bare ACK at RCV.NXT
    // is acceptable and counts.
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![7u8; 64 * 1024])
    );
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
    tcb.send(b"reply").unwrap();
    recv!(tcb, t(12));
    send!(tcb, t(13), seg(r(64 * 1024), l(5), Flags::ACK, b"x"));
    assert_eq!(tcb.send_queue(), 5, "the probe's ACK did not count");
    assert_eq!(
        tcb.recv_queue(),
        64 * 1024,
        "the probe byte was not accepted"
    );
    assert_eq!(recv!(tcb, t(13)).h.ack, r(64 * 1024));
    send!(tcb, t(14), seg(r(64 * 1024), l(5), Flags::ACK, b""));
    assert_eq!(tcb.send_queue(), 0, "the bare ACK counted");
}

#[test]
fn established_empty_calls_are_harmless() {
    let mut tcb = established();
    assert_eq!(tcb.send(b""), Ok(0));
    assert_eq!(tcb.recv(&mut []), Ok(0));
    assert_eq!(tcb.recv(&mut [0u8; 4]), Err(RecvError::WouldBlock));
    recv_nothing!(tcb, t(11));
}

#[test]
fn established_peek_does_not_consume() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"peekaboo"));
    let mut buf = [0u8; 4];
    assert_eq!(tcb.peek(&mut buf), 4);
    assert_eq!(&buf, b"peek");
    let mut all = [0u8; 8];
    assert_eq!(tcb.recv(&mut all), Ok(8));
    assert_eq!(&all, b"peekaboo");
}

#[test]
fn established_recv_list_form_of_the_macro() {
    let mut tcb = established();
    tcb.set_nodelay(true);
    tcb.send(b"ab").unwrap();
    let mut want = seg(r(0), l(0), Flags::ACK | Flags::PSH, b"ab");
    want.h.seq = l(0);
    want.h.ack = r(0);
    want.h.src_port = LOCAL.port();
    want.h.dst_port = REMOTE.port();
    want.h.window = 65535;
    recv!(tcb, t(20), [want]);
}

#[test]
fn fin_wait_2_still_receives_data() {
    // RFC 9293 §3.10.7.4 seventh: FIN-WAIT-1/2 deliver text.
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(1), Flags::ACK, b"late data"));
    assert_eq!(tcb.state(), State::FinWait2);
    let mut buf = [0u8; 16];
    assert_eq!(tcb.recv(&mut buf), Ok(9));
}

#[test]
fn close_wait_data_from_peer_is_not_accepted() {
    // After the peer's FIN, more text is a protocol error: ignored.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    send!(tcb, t(12), seg(r(1), l(0), Flags::ACK, b"after fin"));
    assert_eq!(tcb.recv_queue(), 0);
}

#[test]
fn established_small_reads_do_not_advance_the_window_edge() {
    // RFC 9293 §3.8.6.2.2 (Clark): after a full buffer, a few bytes read
    // keep advertising zero until min(MSS, buffer/2) is free.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &[3u8; 64 * 1024]));
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
    tcb.recv(&mut [0u8; 100]).unwrap();
    tcb.send(b"x").unwrap();
    let s = recv!(tcb, t(12));
    assert_eq!(
        (s.payload.as_slice(), s.h.window),
        (&b"x"[..], 0),
        "100 bytes free is not announced"
    );
    tcb.recv(&mut [0u8; 1400]).unwrap();
    assert_eq!(recv!(tcb, t(13)).h.window, 1500, "a full MSS free is");
}
