//! RST processing (RFC 9293 §3.10.7.4 second) and RFC 5961 hardening.

use super::*;

#[test]
fn established_rst_at_rcv_nxt_resets() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
    let mut buf = [0u8; 4];
    assert_eq!(
        tcb.recv(&mut buf),
        Err(RecvError::Failed(ConnectionError::Reset))
    );
    recv_nothing!(tcb, t(11));
}

#[test]
fn established_rst_in_window_not_exact_gets_challenge_ack() {
    // RFC 5961 §3.2: blind in-window RST → challenge ACK, connection survives.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(100), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    let ack = recv!(tcb, t(11));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(0)));
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn established_rst_out_of_window_is_ignored() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(1_000_000), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    recv_nothing!(tcb, t(11));
}

#[test]
fn established_syn_gets_challenge_ack() {
    // RFC 5961 §4.2: any SYN on a synchronized connection → challenge ACK.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), SeqNumber(0), Flags::SYN, b""));
    assert_eq!(tcb.state(), State::Established);
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.flags, Flags::ACK);
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn last_ack_rst_closes_without_error() {
    let mut tcb = established();
    send(
        &mut tcb,
        t(11),
        &seg(r(0), l(0), Flags::ACK | Flags::FIN, b""),
    );
    tcb.close();
    recv(&mut tcb, t(12));
    send!(tcb, t(13), seg(r(1), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), None);
}

#[test]
fn closing_rst_closes_without_error() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::Closing);
    send!(tcb, t(22), seg(r(1), l(0), Flags::RST, b""));
    assert_eq!((tcb.state(), tcb.error()), (State::Closed, None));
}

#[test]
fn fin_wait_1_rst_is_a_reset() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(0), Flags::RST, b""));
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
}

#[test]
fn established_rst_with_ack_outside_window_still_resets_at_rcv_nxt() {
    // RFC 5961 §3.2 judges a RST by its sequence number only.
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(12345), Flags::RST | Flags::ACK, b"")
    );
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
}

#[test]
fn syn_sent_rst_with_bad_ack_is_ignored() {
    // RFC 9293 §3.10.7.3: an unacceptable ACK with RST is dropped (no RST back).
    let mut tcb = syn_sent();
    send!(
        tcb,
        t(1),
        seg(SeqNumber(0), l(500), Flags::RST | Flags::ACK, b"")
    );
    assert_eq!(tcb.state(), State::SynSent);
    recv_nothing!(tcb, t(1));
}

#[test]
fn abort_in_syn_sent_sends_nothing() {
    let mut tcb = syn_sent();
    tcb.abort();
    recv_nothing!(tcb, t(1));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn time_wait_rst_at_rcv_nxt_closes_quietly() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::TimeWait);
    send!(tcb, t(22), seg(r(1), l(1), Flags::RST, b""));
    assert_eq!((tcb.state(), tcb.error()), (State::Closed, None));
}

#[test]
fn passive_syn_received_in_window_rst_anywhere_drops_the_connection() {
    // Linux's request socket (`tcp_check_req`, "embryonic_reset") takes
    // any in-window RST, without RFC 5961's challenge, and sends nothing.
    let mut tcb = syn_received();
    send!(tcb, t(1), seg(r(10), SeqNumber(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.stats().challenge_acks, 0);
    recv_nothing!(tcb, t(1));
}

#[test]
fn simultaneous_open_syn_received_in_window_rst_not_at_rcv_nxt_is_challenged() {
    // A full socket in SYN-RECEIVED (simultaneous open) follows
    // `tcp_validate_incoming`: RFC 5961 §3.2 applies.
    let mut tcb = syn_sent();
    send!(tcb, t(1), seg(REMOTE_ISS, SeqNumber(0), Flags::SYN, b""));
    assert_eq!(tcb.state(), State::SynReceived);
    recv(&mut tcb, t(1));
    send!(tcb, t(2), seg(r(10), SeqNumber(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::SynReceived);
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn established_rst_carrying_data_discards_the_data() {
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::RST | Flags::ACK, b"junk")
    );
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.recv_queue(), 0);
}
