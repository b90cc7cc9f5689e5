//! RFC 9293 §3.5 handshake, §3.10.7.3 SYN-SENT, §3.10.7.2 SYN-RECEIVED.

use super::*;

#[test]
fn closed_connect_sends_syn_with_mss_and_window_scale() {
    // RFC 9293 §3.7.1: the SYN carries our MSS; RFC 7323 §2.2: and wscale.
    let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, LOCAL_ISS);
    assert_eq!(tcb.state(), State::SynSent);
    let syn = recv!(tcb, t(0));
    assert_eq!(syn.h.flags, Flags::SYN);
    assert_eq!(syn.h.seq, LOCAL_ISS);
    assert_eq!(syn.h.options.mss, Some(1460));
    assert_eq!(
        syn.h.options.window_scale,
        Some(1),
        "64 KiB needs shift 1 to fit 16 bits"
    );
    assert_eq!(syn.h.window, 65535);
    assert!(syn.payload.is_empty());
    recv_nothing!(tcb, t(1));
    assert!(tcb.poll_at().is_some(), "SYN retransmission timer armed");
}

#[test]
fn syn_sent_syn_ack_establishes_and_acks() {
    let mut tcb = syn_sent();
    send!(tcb, t(30), syn_ack(Some(7)));
    assert_eq!(tcb.state(), State::Established);
    let ack = recv!(tcb, t(30));
    assert_eq!(ack.h.flags, Flags::ACK);
    assert_eq!(ack.h.seq, l(0));
    assert_eq!(ack.h.ack, r(0));
    assert_eq!(tcb.mss(), 1460);
    // RFC 6298 §2.2: first sample sets SRTT.
    assert_eq!(tcb.rtt().srtt(), Some(Duration::from_millis(30)));
    assert_eq!(tcb.poll_at(), None, "no timer once the SYN is acknowledged");
}

#[test]
fn syn_sent_peer_window_scale_applies_after_handshake() {
    let mut tcb = syn_sent();
    send!(tcb, t(1), syn_ack(Some(4)));
    recv(&mut tcb, t(1));
    // The SYN-ACK's window is not scaled (RFC 7323 §2.2).
    assert_eq!(tcb.send_window(), 65535);
    let mut upd = seg(r(0), l(0), Flags::ACK, b"");
    upd.h.window = 100;
    send!(tcb, t(2), upd);
    assert_eq!(tcb.send_window(), 1600);
}

#[test]
fn syn_sent_no_window_scale_from_peer_disables_ours() {
    // RFC 7323 §2.2: scaling only when both SYNs carry the option.
    let mut tcb = Tcb::connect(
        &Config {
            recv_buffer: 1 << 20,
            ..cfg()
        },
        LOCAL,
        REMOTE,
        LOCAL_ISS,
    );
    let syn = recv!(tcb, t(0));
    assert_eq!(syn.h.options.window_scale, Some(5));
    send!(tcb, t(1), syn_ack(None));
    let ack = recv!(tcb, t(1));
    assert_eq!(ack.h.window, 65535, "unscaled window capped at 65535");
}

#[test]
fn syn_sent_mss_zero_is_ignored_as_linux_does() {
    // Linux `tcp_parse_options` ignores an MSS option of 0: the default
    // 536 applies, as if the option were absent.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.mss = Some(0);
    send!(tcb, t(1), sa);
    assert_eq!(tcb.mss(), 536);
}

#[test]
fn syn_sent_tiny_mss_is_raised_to_linux_min_snd_mss() {
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.mss = Some(1);
    send!(tcb, t(1), sa);
    assert_eq!(tcb.mss(), 48);
}

#[test]
fn syn_sent_window_scale_above_14_counts_as_14() {
    // RFC 7323 §2.3 and Linux: the shift is clamped, even when the
    // option reaches the core unclamped.
    let mut tcb = syn_sent_with(&Config {
        window_scaling: true,
        ..cfg()
    });
    send!(tcb, t(1), syn_ack(Some(30)));
    recv!(tcb, t(1));
    // The SYN-ACK's own window is never scaled; the next segment's is.
    send!(tcb, t(2), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.send_window(), 65535 << 14);
}

#[test]
fn syn_sent_no_mss_option_assumes_536() {
    // RFC 9293 §3.7.1: default send MSS 536 for IPv4.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.mss = None;
    send!(tcb, t(1), sa);
    assert_eq!(tcb.mss(), 536);
}

#[test]
fn syn_sent_bad_ack_is_answered_with_rst() {
    // RFC 9293 §3.10.7.3: ACK outside ISS < SEG.ACK =< SND.NXT → <SEQ=SEG.ACK><CTL=RST>.
    let mut tcb = syn_sent();
    let mut bad = syn_ack(None);
    bad.h.ack = LOCAL_ISS + 100u32;
    send!(tcb, t(1), bad);
    let rst = recv!(tcb, t(1));
    assert_eq!(rst.h.flags, Flags::RST);
    assert_eq!(rst.h.seq, LOCAL_ISS + 100u32);
    assert_eq!(tcb.state(), State::SynSent);
}

#[test]
fn syn_sent_rst_with_good_ack_is_refused() {
    let mut tcb = syn_sent();
    send(
        &mut tcb,
        t(1),
        &seg(SeqNumber(0), l(0), Flags::RST | Flags::ACK, b""),
    );
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Refused));
    assert_eq!(
        tcb.send(b"x"),
        Err(SendError::Failed(ConnectionError::Refused))
    );
}

#[test]
fn syn_sent_rst_without_ack_is_ignored() {
    let mut tcb = syn_sent();
    send(
        &mut tcb,
        t(1),
        &seg(SeqNumber(0), SeqNumber(0), Flags::RST, b""),
    );
    assert_eq!(tcb.state(), State::SynSent);
    recv_nothing!(tcb, t(1));
}

#[test]
fn syn_sent_syn_without_ack_is_simultaneous_open() {
    // RFC 9293 §3.5 figure 8: SYN-SENT + SYN → SYN-RECEIVED, send SYN-ACK.
    let mut tcb = syn_sent();
    let mut s = remote_syn();
    s.h.dst_port = LOCAL.port();
    send!(tcb, t(1), s);
    assert_eq!(tcb.state(), State::SynReceived);
    let sa = recv!(tcb, t(1));
    assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK);
    assert_eq!((sa.h.seq, sa.h.ack), (LOCAL_ISS, r(0)));
    send!(tcb, t(2), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::Established);
}

#[test]
fn syn_sent_timeout_retransmits_syn_with_backoff_then_times_out() {
    // RFC 6298 §5.5 backoff from the 1 s initial RTO; §3.8.3 give up.
    let c = Config {
        syn_retries: 2,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    assert_eq!(tcb.poll_at(), Some(t(1000)));
    tcb.on_timeout(t(999));
    recv_nothing!(tcb, t(999));
    tcb.on_timeout(t(1000));
    let syn = recv!(tcb, t(1000));
    assert_eq!((syn.h.flags, syn.h.seq), (Flags::SYN, LOCAL_ISS));
    assert_eq!(tcb.poll_at(), Some(t(3000)));
    tcb.on_timeout(t(3000));
    recv!(tcb, t(3000));
    assert_eq!(tcb.poll_at(), Some(t(7000)));
    tcb.on_timeout(t(7000));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
    recv_nothing!(tcb, t(7000));
}

#[test]
fn syn_sent_retransmitted_syn_gives_no_rtt_sample() {
    // Karn's algorithm (RFC 6298 §3).
    let mut tcb = syn_sent();
    tcb.on_timeout(t(1000));
    recv!(tcb, t(1000));
    send!(tcb, t(1010), syn_ack(None));
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.rtt().srtt(), None);
}

#[test]
fn listen_syn_gets_syn_ack_with_negotiated_options() {
    let syn = remote_syn();
    let mut tcb = Tcb::accept(&cfg(), LOCAL, REMOTE, LOCAL_ISS, &syn.view(), t(0));
    assert_eq!(tcb.state(), State::SynReceived);
    let sa = recv!(tcb, t(0));
    assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK);
    assert_eq!(sa.h.seq, LOCAL_ISS);
    assert_eq!(sa.h.ack, r(0));
    assert_eq!(sa.h.options.mss, Some(1460));
    assert_eq!(sa.h.options.window_scale, Some(1));
    assert_eq!(tcb.mss(), 1400, "min(peer MSS, ours)");
}

#[test]
fn listen_syn_without_wscale_gets_none_back() {
    let mut syn = remote_syn();
    syn.h.options.window_scale = None;
    let mut tcb = Tcb::accept(&cfg(), LOCAL, REMOTE, LOCAL_ISS, &syn.view(), t(0));
    let sa = recv!(tcb, t(0));
    assert_eq!(sa.h.options.window_scale, None);
}

#[test]
fn syn_received_ack_establishes_and_delivers_data() {
    let mut tcb = syn_received();
    send(
        &mut tcb,
        t(5),
        &seg(r(0), l(0), Flags::ACK | Flags::PSH, b"hello"),
    );
    assert_eq!(tcb.state(), State::Established);
    let mut buf = [0u8; 16];
    assert_eq!(tcb.recv(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    let ack = recv!(tcb, t(5));
    assert_eq!(ack.h.ack, r(5));
}

#[test]
fn syn_received_bad_ack_gets_rst() {
    // RFC 9293 §3.10.7.4 fifth: unacceptable ACK in SYN-RECEIVED → RST.
    let mut tcb = syn_received();
    send!(tcb, t(5), seg(r(0), l(10), Flags::ACK, b""));
    let rst = recv!(tcb, t(5));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(10)));
    assert_eq!(tcb.state(), State::SynReceived);
}

#[test]
fn syn_received_retransmitted_syn_resends_syn_ack() {
    let mut tcb = syn_received();
    send!(tcb, t(5), remote_syn());
    let sa = recv!(tcb, t(5));
    assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK);
}

#[test]
fn syn_received_timeout_resends_syn_ack() {
    let mut tcb = syn_received();
    tcb.on_timeout(t(1000));
    let sa = recv!(tcb, t(1000));
    assert_eq!((sa.h.flags, sa.h.seq), (Flags::SYN | Flags::ACK, LOCAL_ISS));
}

#[test]
fn syn_received_rst_closes() {
    let mut tcb = syn_received();
    send!(tcb, t(5), seg(r(0), SeqNumber(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn syn_sent_ack_without_syn_is_ignored() {
    // RFC 9293 §3.10.7.3 fifth: neither SYN nor RST → drop.
    let mut tcb = syn_sent();
    send!(tcb, t(1), seg(REMOTE_ISS, l(0), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::SynSent);
    recv_nothing!(tcb, t(1));
}

#[test]
fn syn_received_fin_with_ack_goes_to_close_wait() {
    // RFC 9293 §3.10.7.4 eighth: FIN in SYN-RECEIVED → CLOSE-WAIT.
    let mut tcb = syn_received();
    send!(tcb, t(5), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::CloseWait);
    assert_eq!(recv!(tcb, t(5)).h.ack, r(1));
}

#[test]
fn syn_sent_send_queues_data_until_established() {
    // RFC 9293 §3.10.2 SEND in SYN-SENT: queue for after ESTABLISHED.
    let mut tcb = syn_sent();
    assert_eq!(tcb.send(b"early"), Ok(5));
    recv_nothing!(tcb, t(1));
    send!(tcb, t(2), syn_ack(None));
    let out = recv!(tcb, t(2));
    assert_eq!((out.h.seq, out.payload.as_slice()), (l(0), &b"early"[..]));
}

#[test]
fn syn_sent_recv_is_not_connected() {
    let mut tcb = syn_sent();
    assert_eq!(tcb.recv(&mut [0u8; 4]), Err(RecvError::NotConnected));
    assert!(tcb.is_connecting());
}

#[test]
fn syn_sent_ack_of_iss_itself_is_unacceptable() {
    // RFC 9293 §3.10.7.3: SEG.ACK =< ISS is unacceptable → RST.
    let mut tcb = syn_sent();
    let mut bad = syn_ack(None);
    bad.h.ack = LOCAL_ISS;
    send!(tcb, t(1), bad);
    let rst = recv!(tcb, t(1));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, LOCAL_ISS));
}

#[test]
fn syn_sent_peer_mss_above_ours_is_clamped() {
    // RFC 6691: send no more than min(peer MSS, our MTU-derived MSS).
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.mss = Some(9000);
    send!(tcb, t(1), sa);
    assert_eq!(tcb.mss(), 1460);
}

#[test]
fn listen_syn_payload_is_not_delivered_and_not_acknowledged() {
    // Data on a SYN is not kept (no TFO); the ACK covers only the SYN, so
    // the peer resends it: nothing is lost or duplicated.
    let mut syn = remote_syn();
    syn.payload = b"early".to_vec();
    let mut tcb = Tcb::accept(&cfg(), LOCAL, REMOTE, LOCAL_ISS, &syn.view(), t(0));
    let sa = recv!(tcb, t(0));
    assert_eq!(sa.h.ack, r(0));
    send!(tcb, t(1), seg(r(0), l(0), Flags::ACK, b"early"));
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(5));
}

#[test]
fn isn_is_used_for_the_syn_and_acknowledged_plus_one() {
    // RFC 9293 §3.4: the SYN occupies one sequence number.
    let mut tcb = syn_sent();
    send!(tcb, t(1), syn_ack(None));
    tcb.send(b"x").unwrap();
    let out = recv(&mut tcb, t(2));
    assert_eq!(out.last().unwrap().h.seq, LOCAL_ISS + 1u32);
    assert_eq!(tcb.iss(), LOCAL_ISS);
}

#[test]
fn syn_sent_first_ack_advertises_the_whole_window_for_any_peer_isn() {
    // The window in our SYN was advertised before the peer's ISN was
    // known (RCV.NXT was 0): its right edge counts from IRS + 1 once the
    // SYN-ACK arrives, as on a passive open. Taken from 0 instead, receiver
    // SWS avoidance could hold back part of the window for peer ISNs just
    // above 0.
    for peer in [0x0000_0100u32, 0x0000_1000, 0x8000_0100, 0xffff_ff00] {
        let mut tcb = syn_sent();
        let mut sa = seg(SeqNumber(peer), l(0), Flags::SYN | Flags::ACK, b"");
        sa.h.options.mss = Some(1460);
        send(&mut tcb, t(10), &sa);
        let ack = recv_one(&mut tcb, t(10));
        assert_eq!(ack.h.ack, SeqNumber(peer) + 1u32);
        assert_eq!(ack.h.window, 65535, "peer ISN {peer:#x}");
    }
}

#[test]
fn simultaneous_open_syn_ack_establishes_at_once_with_a_dsack_ack() {
    // Linux, checked on the wire with a socket connected to itself:
    // SYN-SENT + SYN → SYN-RECEIVED, answered by a SYN-ACK with our ISN
    // and our SYN's options (MSS, SACK-permitted, the timestamp echoing
    // the peer's SYN, window scale), its window unscaled
    // (`tcp_send_synack`). The peer's SYN-ACK (SEQ = its ISN, ACK =
    // ISS + 1) passes `tcp_validate_incoming` (the SYN-RECEIVED exception
    // for a crossed SYN-ACK) and establishes the connection at once; its
    // SYN lies below RCV.NXT, so `tcp_data_queue` ACKs it immediately,
    // reported as a D-SACK block.
    let mut tcb = syn_sent();
    let mut syn = seg(REMOTE_ISS, SeqNumber(0), Flags::SYN, b"");
    syn.h.options.mss = Some(1460);
    syn.h.options.window_scale = Some(7);
    syn.h.options.sack_permitted = true;
    syn.h.options.timestamp = Some((1000, 0));
    send!(tcb, t(1), syn);
    assert_eq!(tcb.state(), State::SynReceived);
    let sa = recv!(tcb, t(1));
    assert_eq!(
        (sa.h.flags, sa.h.seq, sa.h.ack),
        (Flags::SYN | Flags::ACK, LOCAL_ISS, r(0))
    );
    let o = &sa.h.options;
    assert!(
        o.mss.is_some() && o.window_scale.is_some() && o.sack_permitted,
        "{o:?}"
    );
    let (our_ts, echo) = o.timestamp.expect("timestamps");
    assert_eq!(echo, 1000);
    assert_eq!(sa.h.window, 65535, "64 KiB, unscaled, capped at 65535");
    let mut peer_sa = seg(REMOTE_ISS, l(0), Flags::SYN | Flags::ACK, b"");
    peer_sa.h.options.mss = Some(1460);
    peer_sa.h.options.window_scale = Some(7);
    peer_sa.h.options.sack_permitted = true;
    peer_sa.h.options.timestamp = Some((1001, our_ts));
    send!(tcb, t(2), peer_sa);
    assert_eq!(tcb.state(), State::Established);
    let ack = recv!(tcb, t(2));
    assert_eq!(
        (ack.h.flags, ack.h.seq, ack.h.ack),
        (Flags::ACK, l(0), r(0))
    );
    assert_eq!(ack.h.options.sack_blocks[0], Some((REMOTE_ISS, r(0))));
    assert_eq!(tcb.stats().challenge_acks, 0);
}
