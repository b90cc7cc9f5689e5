//! Edge cases checked against Linux's TCP (net/ipv4/tcp_input.c,
//! tcp_minisocks.c, tcp.c) as the reference: what a scripted peer sees
//! when it pokes at corners the RFCs leave open — closing with unread
//! data, orphaned FIN-WAIT-2, data after close, the rate limit on ACKs
//! for out-of-window segments, and RSTs in closing states.

use super::*;

/// ESTABLISHED with `n` bytes from the peer received and left unread.
fn established_with_unread(n: usize) -> Tcb {
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, &vec![b'x'; n]));
    recv!(tcb, t(20));
    assert_eq!(tcb.recv_queue(), n);
    tcb
}

#[test]
fn release_with_unread_data_resets_instead_of_fin() {
    // Linux `tcp_close`: data the application never read is lost, so the
    // connection is reset (RST|ACK at SND.NXT, ACK = RCV.NXT; RFC 2525
    // §2.17), not closed with a FIN.
    let mut tcb = established_with_unread(100);
    tcb.release();
    let rst = recv!(tcb, t(30));
    assert_eq!(rst.h.flags, Flags::RST | Flags::ACK);
    assert_eq!((rst.h.seq, rst.h.ack), (l(0), r(100)));
    assert_eq!(tcb.state(), State::Closed);
    assert!(tcb.is_closed());
}

#[test]
fn release_in_close_wait_with_unread_data_resets() {
    let mut tcb = established_with_unread(10);
    send!(tcb, t(25), seg(r(10), l(0), Flags::ACK | Flags::FIN, b""));
    recv!(tcb, t(25));
    assert_eq!(tcb.state(), State::CloseWait);
    tcb.release();
    let rst = recv!(tcb, t(30));
    assert_eq!(rst.h.flags, Flags::RST | Flags::ACK);
    assert_eq!((rst.h.seq, rst.h.ack), (l(0), r(11)));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn release_after_reading_everything_sends_fin() {
    let mut tcb = established_with_unread(10);
    let mut buf = [0u8; 10];
    assert_eq!(tcb.recv(&mut buf), Ok(10));
    recv(&mut tcb, t(21));
    tcb.release();
    let fin = recv!(tcb, t(30));
    assert_eq!(fin.h.flags, Flags::ACK | Flags::FIN);
    assert_eq!(tcb.state(), State::FinWait1);
}

#[test]
fn orphan_fin_wait_2_ends_silently_after_fin_timeout() {
    // Linux: an orphan in FIN-WAIT-2 becomes a timewait socket that
    // vanishes after tcp_fin_timeout (60 s) without sending anything.
    let mut tcb = orphan_fin_wait_2();
    assert_eq!(tcb.poll_at(), Some(t(30) + Duration::from_secs(60)));
    tcb.on_timeout(t(30) + Duration::from_secs(60));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), None);
    recv_nothing!(tcb, t(30) + Duration::from_secs(60));
    assert!(tcb.is_closed());
}

#[test]
fn fin_wait_2_after_shutdown_write_waits_for_the_peer_forever() {
    // shutdown(SHUT_WR) keeps the socket: Linux applies no FIN-WAIT-2
    // limit while the application may still read.
    let mut tcb = established();
    tcb.close();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::FinWait2);
    assert_eq!(tcb.poll_at(), None);
    // Data still arrives and is readable.
    send!(tcb, t(40), seg(r(0), l(1), Flags::ACK, b"late"));
    assert_eq!(recv!(tcb, t(40)).h.ack, r(4));
    assert_eq!(tcb.recv_queue(), 4);
}

#[test]
fn release_in_fin_wait_2_arms_the_fin_timeout_from_then() {
    let mut tcb = established();
    tcb.close();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    assert_eq!(tcb.poll_at(), None);
    tcb.release();
    recv_nothing!(tcb, t(1000));
    assert_eq!(tcb.poll_at(), Some(t(1000) + Duration::from_secs(60)));
}

#[test]
fn released_fin_wait_2_new_data_is_answered_with_rst() {
    // Linux (`tcp_rcv_state_process` step 7 / the FIN-WAIT-2 timewait
    // socket): RFC 1122 §4.2.2.13 — new data after close() can never be
    // read: RST with SEQ = the segment's ACK, and the connection is gone.
    let mut tcb = orphan_fin_wait_2();
    send!(tcb, t(40), seg(r(0), l(1), Flags::ACK, b"data"));
    let rst = recv!(tcb, t(40));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(1)));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.stats().aborted_on_data, 1);
    assert!(tcb.is_closed());
}

#[test]
fn released_fin_wait_1_new_data_is_answered_with_rst() {
    let mut tcb = established();
    tcb.release();
    let fin = recv!(tcb, t(20));
    assert!(fin.h.flags.fin());
    // The peer has not acknowledged our FIN yet and sends data.
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b"data"));
    let rst = recv!(tcb, t(30));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(0)));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn released_fin_wait_2_bare_fin_and_old_data_are_not_reset() {
    // Only new data resets: the peer's FIN alone completes the close, and
    // a retransmission of bytes already received is a duplicate.
    let mut tcb = established();
    tcb.release();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    send!(tcb, t(35), seg(r(0) - 3u32, l(1), Flags::ACK, b"old"));
    assert_eq!(recv!(tcb, t(35)).h.ack, r(0));
    assert_eq!(tcb.state(), State::FinWait2);
    send!(tcb, t(40), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::TimeWait);
    let ack = recv!(tcb, t(40));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(1)));
}

#[test]
fn established_out_of_window_pure_acks_are_answered_at_most_every_500ms() {
    // Linux `tcp_oow_rate_limited` (tcp_invalid_ratelimit = 500 ms): two
    // hosts that disagree on the sequence space must not ping-pong ACKs.
    let mut tcb = established();
    let stray = seg(r(100_000), l(0), Flags::ACK, b"");
    send!(tcb, t(100), stray);
    let ack = recv!(tcb, t(100));
    assert_eq!(
        (ack.h.flags, ack.h.seq, ack.h.ack),
        (Flags::ACK, l(0), r(0))
    );
    send!(tcb, t(300), stray);
    recv_nothing!(tcb, t(300));
    assert_eq!(tcb.stats().oow_acks_suppressed, 1);
    send!(tcb, t(600), stray);
    assert_eq!(recv!(tcb, t(600)).h.ack, r(0));
}

#[test]
fn established_out_of_window_data_is_always_acked() {
    // Segments carrying data are exempt from the limit: their sender
    // needs the ACK to resynchronize.
    let mut tcb = established();
    let far = seg(r(100_000), l(0), Flags::ACK, b"zz");
    for ms in [100, 101, 102] {
        send!(tcb, t(ms), far);
        assert_eq!(recv!(tcb, t(ms)).h.ack, r(0));
    }
    // An old duplicate: the ACK reports it in a D-SACK block at once.
    send!(tcb, t(110), seg(r(0), l(0), Flags::ACK, b"abc"));
    recv!(tcb, t(110));
    send!(tcb, t(120), seg(r(0), l(0), Flags::ACK, b"abc"));
    assert_eq!(recv!(tcb, t(120)).h.ack, r(3));
    assert_eq!(tcb.stats().oow_acks_suppressed, 0);
}

#[test]
fn established_ack_of_unsent_data_gets_one_rate_limited_ack() {
    // Linux `tcp_ack` (ACK above SND.NXT): drop the segment, its data too,
    // and answer with a challenge ACK (rate-limited, RFC 5961 §5.2/§7).
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(5000), Flags::ACK, b"no"));
    let ack = recv!(tcb, t(20));
    assert_eq!(
        (ack.h.flags, ack.h.seq, ack.h.ack),
        (Flags::ACK, l(0), r(0))
    );
    assert_eq!(tcb.recv_queue(), 0);
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn time_wait_rst_not_at_rcv_nxt_is_ignored_silently() {
    // Linux `tcp_timewait_state_process`: only a RST exactly at RCV.NXT
    // kills TIME-WAIT; any other RST is dropped without a challenge ACK.
    let mut tcb = time_wait();
    send!(tcb, t(40), seg(r(10), l(1), Flags::RST, b""));
    recv_nothing!(tcb, t(40));
    assert_eq!(tcb.state(), State::TimeWait);
    assert_eq!(tcb.stats().challenge_acks, 0);
}

#[test]
fn time_wait_old_duplicate_data_is_acked_and_restarts_2msl() {
    let mut tcb = time_wait();
    send!(tcb, t(5000), seg(r(0) - 10u32, l(1), Flags::ACK, b"old"));
    let ack = recv!(tcb, t(5000));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(1)));
    assert_eq!(tcb.poll_at(), Some(t(5000) + Duration::from_secs(60)));
}

#[test]
fn close_wait_rst_at_the_fin_sequence_resets() {
    // Linux `tcp_reset_check`: after the peer's FIN, a RST carrying the
    // FIN's own sequence number (RCV.NXT - 1) is accepted.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    recv!(tcb, t(20));
    assert_eq!(tcb.state(), State::CloseWait);
    send!(tcb, t(30), seg(r(0), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
    recv_nothing!(tcb, t(30));
}

#[test]
fn established_rst_one_below_rcv_nxt_is_ignored() {
    // Without a FIN received, RCV.NXT - 1 is simply outside the window.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0) - 1u32, l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    recv_nothing!(tcb, t(20));
}

#[test]
fn established_segment_without_ack_rst_or_syn_is_dropped_without_an_answer() {
    // Linux drops such a segment before the sequence check: no data taken,
    // no duplicate ACK even when it is out of window.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::PSH, b"data"));
    recv_nothing!(tcb, t(20));
    assert_eq!(tcb.recv_queue(), 0);
    send!(tcb, t(30), seg(r(100_000), l(0), Flags::FIN, b""));
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn syn_received_segment_without_ack_is_dropped_without_an_answer() {
    let mut tcb = syn_received();
    send!(tcb, t(10), seg(r(0), SeqNumber(0), Flags::FIN, b"x"));
    recv_nothing!(tcb, t(10));
    assert_eq!(tcb.state(), State::SynReceived);
}

#[test]
fn paws_rejected_pure_acks_are_answered_at_most_every_500ms_but_data_always() {
    // Linux `tcp_validate_incoming`: a PAWS failure draws a duplicate ACK
    // through the same per-connection limit as an out-of-window segment.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.timestamp = Some((1000, 0));
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    let old = |payload: &[u8]| {
        let mut s = seg(r(0), l(0), Flags::ACK, payload);
        s.h.options.timestamp = Some((500, 0));
        s
    };
    send!(tcb, t(20), old(b""));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(0));
    send!(tcb, t(30), old(b""));
    recv_nothing!(tcb, t(30));
    send!(tcb, t(40), old(b"data"));
    assert_eq!(recv!(tcb, t(40)).h.ack, r(0));
    assert_eq!(tcb.stats().paws_rejected, 3);
    assert_eq!(tcb.stats().oow_acks_suppressed, 1);
    assert_eq!(tcb.recv_queue(), 0);
}

/// A data segment from the peer with timestamp `val`.
fn data_with_ts(seq: SeqNumber, val: u32, payload: &[u8]) -> Seg {
    let mut s = seg(seq, l(0), Flags::ACK, payload);
    s.h.options.timestamp = Some((val, 0));
    s
}

#[test]
fn established_paws_takes_a_tsval_one_tick_behind_ts_recent() {
    // Linux `tcp_paws_check(&tp->rx_opt, TCP_PAWS_WINDOW)`: a TSval one
    // behind TS.Recent (1000, from the SYN-ACK) passes; two behind is an
    // old duplicate, dropped and answered with a duplicate ACK.
    let mut tcb = established_ts_sack_with(&cfg());
    send!(tcb, t(20), data_with_ts(r(0), 999, b"a"));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(1));
    assert_eq!(tcb.recv_queue(), 1);
    send!(tcb, t(30), data_with_ts(r(1), 998, b"b"));
    assert_eq!(recv!(tcb, t(30)).h.ack, r(1));
    assert_eq!(tcb.recv_queue(), 1);
    assert_eq!(tcb.stats().paws_rejected, 1);
}

#[test]
fn sack_blocks_outside_the_outstanding_data_are_ignored_whole() {
    // Linux `tcp_is_sackblock_valid`: a block must start after SND.UNA
    // and end by SND.NXT; one reaching past SND.NXT, or starting at
    // SND.UNA, is dropped whole (`TCPSACKDiscard`), not clipped to what
    // was sent, so it marks nothing delivered.
    use super::recovery::{sack_ack, sack_conn, segment, MSS};
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 10);
    let sent = 10 * MSS;
    send!(tcb, t(30), sack_ack(0, &[(segment(2).0, sent + 1)]));
    send!(tcb, t(31), sack_ack(0, &[(0, segment(3).1)]));
    send!(tcb, t(32), sack_ack(0, &[(segment(5).1, segment(5).0)]));
    assert_eq!(tcb.loss.scoreboard.ranges().count(), 0);
    assert_eq!(tcb.stats().sack_blocks_invalid, 3);
    // A valid block in the same ACK as an invalid one still counts.
    send!(
        tcb,
        t(33),
        sack_ack(0, &[(segment(2).0, sent + 1), segment(10)])
    );
    assert_eq!(tcb.loss.scoreboard.sacked_bytes(), MSS as usize);
    assert_eq!(tcb.stats().sack_blocks_invalid, 4);
}

/// [`established`] with delayed ACKs, past the quick ACKs of the start,
/// 100 bytes of ours in flight (sent at t=100 with the ACK of everything
/// so far), then 3 bytes of the peer's whose ACK is being delayed: RCV.WUP
/// is `base`, RCV.NXT `base + 3`.
fn delaying_an_ack() -> (Tcb, u32) {
    let c = Config {
        delayed_ack: Duration::from_millis(40),
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    let base = past_quick_acks(&mut tcb);
    tcb.send(&[9u8; 100]).unwrap();
    assert_eq!(recv!(tcb, t(100)).h.ack, r(base));
    send!(
        tcb,
        t(101),
        seg(r(base), l(0), Flags::ACK | Flags::PSH, b"abc")
    );
    recv_nothing!(tcb, t(101));
    (tcb, base)
}

#[test]
fn ack_below_rcv_nxt_but_not_below_the_last_ack_sent_is_taken() {
    // Linux `tcp_sequence` takes RCV.WUP (the RCV.NXT of our last ACK) as
    // the left edge: a pure ACK the peer sent before its 3 bytes, arriving
    // after them, still acknowledges our data, without an answer.
    let (mut tcb, base) = delaying_an_ack();
    send!(tcb, t(102), seg(r(base), l(100), Flags::ACK, b""));
    assert_eq!(tcb.send_queue(), 0, "our 100 bytes acknowledged");
    recv_nothing!(tcb, t(102));
    assert_eq!(tcb.stats().unacceptable, 0);
    // The delayed ACK still goes at its time.
    tcb.on_timeout(t(141));
    assert_eq!(recv!(tcb, t(141)).h.ack, r(base + 3));
}

#[test]
fn retransmission_of_the_last_segment_carries_its_ack_in() {
    // An exact retransmission (ends at RCV.NXT) is in Linux's window: its
    // ACK field counts, and the old text is ACKed at once, D-SACKed when
    // SACK is on (`tcp_data_queue`).
    let (mut tcb, base) = delaying_an_ack();
    send!(
        tcb,
        t(102),
        seg(r(base), l(100), Flags::ACK | Flags::PSH, b"abc")
    );
    assert_eq!(tcb.send_queue(), 0, "our 100 bytes acknowledged");
    assert_eq!(recv!(tcb, t(102)).h.ack, r(base + 3));
}

#[test]
fn rst_below_rcv_nxt_but_not_below_the_last_ack_sent_is_challenged() {
    // In Linux's window but not at RCV.NXT: RFC 5961 §3.2 challenge ACK.
    let (mut tcb, base) = delaying_an_ack();
    send!(tcb, t(102), seg(r(base + 1), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.stats().challenge_acks, 1);
    assert_eq!(recv!(tcb, t(102)).h.ack, r(base + 3));
}
