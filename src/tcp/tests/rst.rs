//! RST processing (RFC 9293 §3.10.7.4 second) and RFC 5961 hardening.

use super::*;

#[test]
fn established_rst_at_rcv_nxt_resets() {
    let mut tcb = established();
    send(&mut tcb, t(11), &seg(r(0), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::Reset));
    let mut buf = [0u8; 4];
    assert_eq!(
        tcb.recv(&mut buf),
        Err(RecvError::Failed(ConnectionError::Reset))
    );
    recv_nothing(&mut tcb, t(11));
}

#[test]
fn established_rst_in_window_not_exact_gets_challenge_ack() {
    // RFC 5961 §3.2: blind in-window RST → challenge ACK, connection survives.
    let mut tcb = established();
    send(&mut tcb, t(11), &seg(r(100), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    let ack = recv_one(&mut tcb, t(11));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(0)));
    assert_eq!(tcb.stats().challenge_acks, 1);
}

#[test]
fn established_rst_out_of_window_is_ignored() {
    let mut tcb = established();
    send(&mut tcb, t(11), &seg(r(1_000_000), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Established);
    recv_nothing(&mut tcb, t(11));
}

#[test]
fn established_syn_gets_challenge_ack() {
    // RFC 5961 §4.2: any SYN on a synchronized connection → challenge ACK.
    let mut tcb = established();
    send(&mut tcb, t(11), &seg(r(0), SeqNumber(0), Flags::SYN, b""));
    assert_eq!(tcb.state(), State::Established);
    let ack = recv_one(&mut tcb, t(11));
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
    send(&mut tcb, t(13), &seg(r(1), l(0), Flags::RST, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), None);
}
