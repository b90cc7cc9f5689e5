//! The state × segment sweep against Linux (tcp_minisocks.c
//! `tcp_check_req`, `tcp_timewait_state_process`; tcp_input.c
//! `tcp_rcv_state_process`): the answers that differed from Linux's.

use super::*;

#[test]
fn passive_syn_received_bad_ack_is_reset_even_out_of_window() {
    // `tcp_check_req` checks the ACK before the sequence number.
    let mut tcb = syn_received();
    send!(tcb, t(10), seg(r(100_000), l(50), Flags::ACK, b""));
    let rst = recv!(tcb, t(10));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(50)));
    assert_eq!(tcb.state(), State::SynReceived);
}

#[test]
fn passive_syn_received_retransmitted_syn_gets_a_syn_ack_at_most_every_500ms() {
    // `tcp_check_req`: `inet_rtx_syn_ack` behind `tcp_oow_rate_limited`.
    let mut tcb = syn_received();
    send!(tcb, t(100), remote_syn());
    assert_eq!(recv!(tcb, t(100)).h.flags, Flags::SYN | Flags::ACK);
    send!(tcb, t(200), remote_syn());
    recv_nothing!(tcb, t(200));
    send!(tcb, t(700), remote_syn());
    assert_eq!(recv!(tcb, t(700)).h.flags, Flags::SYN | Flags::ACK);
    assert_eq!(tcb.state(), State::SynReceived);
}

#[test]
fn orphan_fin_wait_2_in_window_rst_anywhere_closes_it() {
    // The orphan's timewait socket (`tcp_timewait_state_process`,
    // TCP_FIN_WAIT2 substate) takes any in-window RST: no challenge ACK.
    let mut tcb = orphan_fin_wait_2();
    send!(tcb, t(40), seg(r(10), l(1), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    recv_nothing!(tcb, t(40));
    assert_eq!(tcb.stats().challenge_acks, 0);
}

#[test]
fn fin_wait_2_not_orphaned_in_window_rst_is_still_challenged() {
    let mut tcb = established();
    tcb.close();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    send!(tcb, t(40), seg(r(10), l(1), Flags::RST, b""));
    assert_eq!(tcb.state(), State::FinWait2);
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn time_wait_data_after_the_fin_is_acked() {
    // Not a bare ACK at RCV.NXT: TCP_TW_ACK (data is never rate-limited).
    let mut tcb = time_wait();
    for ms in [40, 50] {
        send!(tcb, t(ms), seg(r(1), l(1), Flags::ACK, b"late"));
        let ack = recv!(tcb, t(ms));
        assert_eq!(
            (ack.h.flags, ack.h.seq, ack.h.ack),
            (Flags::ACK, l(1), r(1))
        );
    }
    assert_eq!(tcb.state(), State::TimeWait);
}

#[test]
fn time_wait_bare_ack_off_rcv_nxt_gets_a_rate_limited_ack() {
    let mut tcb = time_wait();
    send!(tcb, t(40), seg(r(5), l(1), Flags::ACK, b""));
    assert_eq!(recv!(tcb, t(40)).h.ack, r(1));
    send!(tcb, t(50), seg(r(5), l(1), Flags::ACK, b""));
    recv_nothing!(tcb, t(50));
    // A bare ACK at RCV.NXT is taken in silence.
    send!(tcb, t(600), seg(r(1), l(1), Flags::ACK, b""));
    recv_nothing!(tcb, t(600));
    assert_eq!(tcb.state(), State::TimeWait);
}

#[test]
fn close_wait_data_running_past_the_peers_fin_is_reset() {
    // `tcp_rcv_state_process` step 7: in CLOSE-WAIT a segment starting
    // before RCV.NXT with data past it falls through to the
    // RCV_SHUTDOWN check: TCPAbortOnData, a RST.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    recv!(tcb, t(20));
    assert_eq!(tcb.state(), State::CloseWait);
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b"ab"));
    let rst = recv!(tcb, t(30));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(0)));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.stats().aborted_on_data, 1);
}

#[test]
fn close_wait_data_after_the_peers_fin_is_ignored() {
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(1), l(0), Flags::ACK, b"zz"));
    recv_nothing!(tcb, t(30));
    assert_eq!(tcb.state(), State::CloseWait);
    assert_eq!(tcb.recv_queue(), 0);
}

#[test]
fn fin_wait_after_shutdown_of_both_sides_resets_on_new_data() {
    // RCV_SHUTDOWN from shutdown(SHUT_RD) counts as close() does.
    let mut tcb = established();
    tcb.shutdown_read();
    tcb.close();
    assert!(recv!(tcb, t(20)).h.flags.fin());
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b"data"));
    let rst = recv!(tcb, t(30));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, l(0)));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn passive_syn_received_gives_up_after_5_syn_ack_retransmissions() {
    // Linux `tcp_synack_retries` (5), not `tcp_syn_retries` (6).
    let mut tcb = syn_received();
    let mut syn_acks = 0;
    while tcb.state() != State::Closed {
        let at = tcb.poll_at().expect("the SYN-ACK timer");
        tcb.on_timeout(at);
        syn_acks += recv(&mut tcb, at).len();
    }
    assert_eq!(syn_acks, 5);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn orphan_with_unacknowledged_data_gives_up_after_8_retransmissions() {
    // Linux `tcp_write_timeout` for a dead socket: `tcp_orphan_retries`.
    let mut tcb = established();
    tcb.send(b"never acknowledged").unwrap();
    recv!(tcb, t(20));
    tcb.release();
    recv(&mut tcb, t(20));
    let mut retransmissions = 0;
    while tcb.state() != State::Closed {
        let at = tcb.poll_at().expect("the retransmission timer");
        tcb.on_timeout(at);
        retransmissions += recv(&mut tcb, at).len();
    }
    assert_eq!(retransmissions, 8);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn fin_waits_for_the_peers_window_and_is_probed_for() {
    // Linux `tcp_snd_wnd_test` holds a FIN that does not fit the window
    // (its sequence number counts), and `tcp_write_wakeup` probes for it.
    let mut tcb = established();
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.close();
    recv_nothing!(tcb, t(12));
    let at = tcb.poll_at().expect("the persist timer");
    tcb.on_timeout(at);
    let probe = recv!(tcb, at);
    assert_eq!((probe.h.flags, probe.h.seq), (Flags::ACK, l(0) - 1u32));
    // The window opens: the FIN goes at once.
    send!(tcb, at, seg(r(0), l(0), Flags::ACK, b""));
    let fin = recv!(tcb, at);
    assert_eq!((fin.h.flags, fin.h.seq), (Flags::ACK | Flags::FIN, l(0)));
    assert_eq!(tcb.state(), State::FinWait1);
}

#[test]
fn passive_syn_received_new_syn_in_the_window_is_reset() {
    // `tcp_check_req`: RST|ACK answering the SYN (SEQ 0, ACK = its end),
    // and the half-open connection is dropped.
    let mut tcb = syn_received();
    send!(tcb, t(10), seg(r(100), SeqNumber(0), Flags::SYN, b""));
    let rst = recv!(tcb, t(10));
    assert_eq!(
        (rst.h.flags, rst.h.seq, rst.h.ack),
        (Flags::RST | Flags::ACK, SeqNumber(0), r(101))
    );
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn syn_sent_syn_ack_echoing_a_timestamp_never_sent_is_reset() {
    // Linux `tcp_rcv_synsent_state_process`: TSecr must lie between the
    // TSval of our first SYN and now (PAWSActiveRejected).
    let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, LOCAL_ISS);
    let syn = recv_one(&mut tcb, t(0));
    let (first, _) = syn.h.options.timestamp.expect("our SYN offers timestamps");
    let mut sa = syn_ack(None);
    sa.h.options.timestamp = Some((1000, first.wrapping_add(5000)));
    send!(tcb, t(10), sa.clone());
    let rst = recv!(tcb, t(10));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST, LOCAL_ISS + 1u32));
    assert_eq!(tcb.state(), State::SynSent);
    // Echoing our SYN's TSval: the handshake completes.
    sa.h.options.timestamp = Some((1000, first));
    send!(tcb, t(20), sa);
    assert_eq!(tcb.state(), State::Established);
}
