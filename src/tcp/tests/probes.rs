//! Zero-window probing and the answers to segments that do not belong,
//! checked against Linux (net/ipv4/tcp_timer.c `tcp_probe_timer`,
//! tcp_output.c `tcp_send_probe0` / `tcp_xmit_probe_skb`, tcp_input.c
//! `tcp_ack_probe`, `tcp_oow_rate_limited`, `tcp_send_challenge_ack`,
//! `tcp_validate_incoming`).

use super::*;

fn established_with(c: &Config) -> Tcb {
    let mut tcb = syn_sent_with(c);
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    tcb
}

/// ESTABLISHED, the peer's window shut, `data` queued behind it.
fn shut_window_with(c: &Config, data: &[u8]) -> Tcb {
    let mut tcb = established_with(c);
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.send(data).unwrap();
    recv_nothing!(tcb, t(12));
    tcb
}

/// Linux `tcp_probe0_base`: the RTO, at least 200 ms (here 210 ms: the
/// handshake's 10 ms plus the 200 ms floor of the variance term).
fn probe_base(tcb: &Tcb) -> Duration {
    tcb.rtt().rto().max(Duration::from_millis(200))
}

fn zero_window_ack() -> Seg {
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    z
}

/// Fires the next timer; the probe it sent, if any.
fn next_probe(tcb: &mut Tcb) -> (Instant, Option<Seg>) {
    let at = tcb.poll_at().expect("a timer is armed");
    tcb.on_timeout(at);
    let mut out = recv(tcb, at);
    assert!(out.len() <= 1, "{out:?}");
    (at, out.pop())
}

#[test]
fn zero_window_probes_are_bare_acks_below_snd_una_backing_off_to_the_max_rto() {
    // Linux `tcp_xmit_probe_skb`: SEQ = SND.UNA - 1, no data; every
    // max(RTO, 200 ms) << backoff, capped at TCP_RTO_MAX (120 s).
    let mut tcb = shut_window_with(&cfg(), b"queued");
    let base = probe_base(&tcb);
    let mut last = t(12);
    for k in 0..12u32 {
        let (at, probe) = next_probe(&mut tcb);
        let probe = probe.expect("a probe");
        assert_eq!(
            (probe.h.flags, probe.h.seq, probe.h.ack, probe.payload.len()),
            (Flags::ACK, l(0) - 1u32, r(0), 0),
            "probe {k}"
        );
        let want = (base * (1 << k)).min(Duration::from_secs(120));
        assert_eq!(at - last, want, "interval before probe {k}");
        last = at;
    }
    assert_eq!(tcb.stats().window_probes, 12);
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.send_queue(), 6, "no byte was sent past the window");
}

#[test]
fn zero_window_unanswered_probes_time_out_after_tcp_retries2() {
    // `tcp_probe_timer`: icsk_probes_out >= tcp_retries2 (15) ends it.
    let mut tcb = shut_window_with(&cfg(), b"queued");
    let mut probes = 0;
    while tcb.state() != State::Closed {
        if next_probe(&mut tcb).1.is_some() {
            probes += 1;
        }
    }
    assert_eq!(probes, 15);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn zero_window_answered_probes_go_on_with_their_backoff() {
    // Any ACK resets the count of unanswered probes (`tcp_ack`), but only
    // an opened window clears the backoff (`tcp_ack_probe` rearms the timer
    // a full backed-off interval after the answer).
    let mut tcb = shut_window_with(&cfg(), b"queued");
    let base = probe_base(&tcb);
    for k in 0..20u32 {
        let (at, probe) = next_probe(&mut tcb);
        assert!(probe.is_some(), "probe {k}");
        send!(tcb, at + Duration::from_millis(5), zero_window_ack());
        let want = (base * (1 << (k + 1))).min(Duration::from_secs(120));
        assert_eq!(
            tcb.poll_at(),
            Some(at + Duration::from_millis(5) + want),
            "after answer {k}"
        );
    }
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn zero_window_opening_sends_at_once_and_clears_the_backoff() {
    let mut tcb = shut_window_with(&cfg(), b"queued");
    let mut at = t(12);
    for _ in 0..3 {
        at = next_probe(&mut tcb).0;
    }
    let mut open = seg(r(0), l(0), Flags::ACK, b"");
    open.h.window = 1000;
    send!(tcb, at + Duration::from_millis(1), open);
    let data = recv!(tcb, at + Duration::from_millis(1));
    assert_eq!(
        (data.h.seq, data.payload.as_slice()),
        (l(0), &b"queued"[..])
    );
    // Everything acknowledged, the window shut again, more data: probing
    // starts over from the base interval.
    let mut z = seg(r(0), l(6), Flags::ACK, b"");
    z.h.window = 0;
    let now = at + Duration::from_millis(50);
    send!(tcb, now, z);
    tcb.send(b"more").unwrap();
    recv_nothing!(tcb, now);
    assert_eq!(tcb.poll_at(), Some(now + probe_base(&tcb)));
}

#[test]
fn zero_window_orphan_gives_up_after_8_probes() {
    // `tcp_orphan_retries` (tcp_orphan_retries = 0 means 8 while the
    // interval is below TCP_RTO_MAX).
    let mut tcb = shut_window_with(&cfg(), b"queued");
    tcb.release();
    let mut probes = 0;
    while tcb.state() != State::Closed {
        if next_probe(&mut tcb).1.is_some() {
            probes += 1;
        }
    }
    assert_eq!(probes, 8);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn keepalive_does_not_probe_while_data_waits_behind_a_shut_window() {
    // `tcp_keepalive_timer`: with data queued the keepalive only re-arms;
    // the zero-window probes watch the peer.
    let c = Config {
        keepalive: Some(Duration::from_secs(2)),
        keepalive_interval: Duration::from_secs(1),
        keepalive_probes: 2,
        ..cfg()
    };
    let mut tcb = shut_window_with(&c, b"queued");
    while tcb.poll_at().is_some_and(|at| at < t(30_000)) {
        let (at, probe) = next_probe(&mut tcb);
        if probe.is_some() {
            send!(tcb, at, zero_window_ack());
        }
    }
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.stats().keepalive_probes, 0);
    assert!(tcb.stats().window_probes > 5);
}

#[test]
fn challenge_acks_and_out_of_window_acks_share_one_500ms_clock() {
    // Linux `tcp_send_challenge_ack` first asks `__tcp_oow_rate_limited`
    // with the socket's `last_oow_ack_time`, the clock of the duplicate
    // ACKs for out-of-window segments.
    let mut tcb = established();
    send!(tcb, t(100), seg(r(100_000), l(0), Flags::ACK, b""));
    assert_eq!(recv!(tcb, t(100)).h.ack, r(0));
    send!(tcb, t(200), seg(r(10), l(0), Flags::RST, b""));
    recv_nothing!(tcb, t(200));
    assert_eq!(tcb.stats().challenge_acks_suppressed, 1);
    send!(tcb, t(700), seg(r(10), l(0), Flags::RST, b""));
    assert_eq!(recv!(tcb, t(700)).h.ack, r(0));
    assert_eq!(tcb.stats().challenge_acks, 1);
    send!(tcb, t(800), seg(r(100_000), l(0), Flags::ACK, b""));
    recv_nothing!(tcb, t(800));
    assert_eq!(tcb.stats().oow_acks_suppressed, 1);
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn challenge_acks_for_segments_with_data_are_rate_limited_too() {
    // The challenge limit has no exemption for data (unlike the duplicate
    // ACK of an out-of-window segment).
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(5000), Flags::ACK, b"no"));
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(5000), Flags::ACK, b"no"));
    recv_nothing!(tcb, t(30));
    assert_eq!(
        (
            tcb.stats().challenge_acks,
            tcb.stats().challenge_acks_suppressed
        ),
        (1, 1)
    );
}

#[test]
fn out_of_window_syn_draws_a_challenge_ack() {
    // `tcp_validate_incoming`: a SYN failing the sequence check goes to
    // "syn_challenge", not to the duplicate ACK.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(1 << 30), SeqNumber(0), Flags::SYN, b""));
    let ack = recv!(tcb, t(20));
    assert_eq!(
        (ack.h.flags, ack.h.seq, ack.h.ack),
        (Flags::ACK, l(0), r(0))
    );
    assert_eq!(tcb.stats().challenge_acks, 1);
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn time_wait_syn_gets_the_rate_limited_ack_not_a_challenge() {
    // `tcp_timewait_state_process`: a SYN that opens nothing is answered
    // by `tcp_timewait_check_oow_rate_limit`.
    let mut tcb = time_wait();
    send!(tcb, t(40), seg(r(1), SeqNumber(0), Flags::SYN, b""));
    assert_eq!(recv!(tcb, t(40)).h.ack, r(1));
    send!(tcb, t(50), seg(r(1), SeqNumber(0), Flags::SYN, b""));
    recv_nothing!(tcb, t(50));
    assert_eq!(tcb.stats().challenge_acks, 0);
    assert_eq!(tcb.stats().oow_acks_suppressed, 1);
    assert_eq!(tcb.state(), State::TimeWait);
}

/// ESTABLISHED with timestamps and SACK; the peer sent "abc" with TSval
/// 2000, then a pure ACK at RCV.NXT (so SND.WL1 = RCV.NXT).
fn established_ts_after_data() -> Tcb {
    let mut tcb = established_ts_sack_with(&cfg());
    let mut d = seg(r(0), l(0), Flags::ACK, b"abc");
    d.h.options.timestamp = Some((2000, 0));
    send!(tcb, t(20), d);
    recv!(tcb, t(20));
    let mut a = seg(r(3), l(0), Flags::ACK, b"");
    a.h.options.timestamp = Some((2000, 0));
    send!(tcb, t(21), a);
    recv_nothing!(tcb, t(21));
    tcb
}

fn with_ts(mut s: Seg, val: u32) -> Seg {
    s.h.options.timestamp = Some((val, 0));
    s
}

#[test]
fn paws_old_pure_ack_below_rcv_nxt_is_dropped_without_an_answer() {
    // Linux (6.14+) `tcp_disordered_ack_check`: PAWS_OLD_ACK, no dupack.
    let mut tcb = established_ts_after_data();
    send!(tcb, t(30), with_ts(seg(r(0), l(0), Flags::ACK, b""), 1500));
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.stats().paws_rejected, 1);
}

#[test]
fn paws_disordered_duplicate_ack_is_accepted() {
    // A duplicate ACK at RCV.NXT that changes no window and trails
    // TS.Recent by less than an RTO was overtaken, not replayed.
    let mut tcb = established_ts_after_data();
    send!(tcb, t(30), with_ts(seg(r(3), l(0), Flags::ACK, b""), 1990));
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.stats().paws_rejected, 0);
    // Far older than an RTO: rejected, with a duplicate ACK.
    send!(tcb, t(40), with_ts(seg(r(3), l(0), Flags::ACK, b""), 2));
    assert_eq!(recv!(tcb, t(40)).h.ack, r(3));
    assert_eq!(tcb.stats().paws_rejected, 1);
}

#[test]
fn paws_failing_syn_draws_a_challenge_ack() {
    let mut tcb = established_ts_after_data();
    send!(
        tcb,
        t(30),
        with_ts(seg(r(3), SeqNumber(0), Flags::SYN, b""), 1500)
    );
    assert_eq!(recv!(tcb, t(30)).h.ack, r(3));
    assert_eq!(tcb.stats().challenge_acks, 1);
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn paws_failing_rst_at_rcv_nxt_still_resets() {
    // "Reset is accepted even if it did not pass PAWS."
    let mut tcb = established_ts_after_data();
    send!(tcb, t(30), with_ts(seg(r(3), l(0), Flags::RST, b""), 1500));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
}

#[test]
fn rst_at_the_right_edge_of_the_highest_sack_block_resets() {
    // `tcp_validate_incoming`: a peer that resets after data we hold out
    // of order sends its RST at the end of that data.
    let mut tcb = established_ts_after_data();
    send!(
        tcb,
        t(30),
        with_ts(seg(r(103), l(0), Flags::ACK, b"later"), 2001)
    );
    let ack = recv!(tcb, t(30));
    assert!(ack.h.options.sack_blocks[0].is_some());
    send!(
        tcb,
        t(40),
        with_ts(seg(r(108), l(0), Flags::RST, b""), 2002)
    );
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
}

#[test]
fn ack_older_than_the_bytes_ever_acknowledged_is_challenged() {
    // Linux `tcp_ack`: the plausible window is min(max_window,
    // bytes_acked); nothing acknowledged yet, an ACK below SND.UNA is a
    // blind injection: challenge ACK, segment (and its data) dropped.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0) - 2u32, Flags::ACK, b"data"));
    let ack = recv!(tcb, t(20));
    assert_eq!((ack.h.seq, ack.h.ack), (l(0), r(0)));
    assert_eq!(tcb.recv_queue(), 0);
    assert_eq!(tcb.stats().challenge_acks, 1);
}

/// ESTABLISHED with 1000 bytes sent at t=20 and then the peer's window
/// shut by an ACK of nothing at t=30: data in flight behind a zero window.
fn shrunk_with_data_in_flight() -> Tcb {
    let mut tcb = established_with(&cfg());
    tcb.send(&[7u8; 1000]).unwrap();
    assert_eq!(recv!(tcb, t(20)).payload.len(), 1000);
    send!(tcb, t(30), zero_window_ack());
    tcb
}

#[test]
fn zero_window_with_data_in_flight_gives_up_after_twice_the_max_rto_of_silence() {
    // Linux `tcp_retransmit_timer` ("receiver dastardly shrinks window")
    // and `tcp_rtx_probe0_timed_out`: the retransmissions behind a shut
    // window are probes, not counted against tcp_retries2 (whose 924.6 s
    // budget would end it later); the connection ends at the first timeout
    // after 2 · TCP_RTO_MAX (240 s) without an ACK, with ETIMEDOUT.
    let mut tcb = shrunk_with_data_in_flight();
    let mut last = t(30);
    while tcb.state() != State::Closed {
        let at = tcb.poll_at().expect("a timer is armed");
        tcb.on_timeout(at);
        let out = recv(&mut tcb, at);
        assert!(out.iter().all(|s| s.h.seq == l(0)), "{out:?}");
        last = at;
    }
    let silent = last - t(30);
    assert!(
        silent > Duration::from_secs(240) && silent <= Duration::from_secs(360),
        "gave up after {silent:?} of silence"
    );
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn zero_window_with_data_in_flight_lives_while_the_peer_answers() {
    // The same, the peer answering every retransmission with its shut
    // window: past the retry budget (924.6 s) the connection lives on.
    let mut tcb = shrunk_with_data_in_flight();
    let mut at = t(30);
    while at < t(2_000_000) {
        at = tcb.poll_at().expect("a timer is armed");
        tcb.on_timeout(at);
        let out = recv(&mut tcb, at);
        if !out.is_empty() {
            send!(tcb, at + Duration::from_millis(5), zero_window_ack());
        }
    }
    assert_eq!(tcb.state(), State::Established);
    // Each timeout resent the head (`__tcp_retransmit_skb`: up to an MSS
    // of it goes however shut the window), and each was answered.
    let s = tcb.stats();
    assert!(s.retransmit_timeouts > 15, "{s:?}");
    assert_eq!(s.retransmits, s.retransmit_timeouts, "{s:?}");
}
