//! Delayed ACKs after a duplicate segment: Linux's `tcp_send_dupack` and
//! `tcp_data_queue` answer old data at once and enter quick-ACK mode
//! (`tcp_enter_quickack_mode`), which also ends interactive (pingpong)
//! mode, so the next data is ACKed on arrival (RFC 5681 §4.2 leaves the
//! choice; Linux is the reference here).

use super::*;
use crate::tcp::timers::Timer;

/// ESTABLISHED with default delayed ACKs, made interactive: the peer's
/// "q1" at t=100 is read and answered with "a1", then "q2" at t=110 is
/// read and answered with "a2" (each answer carries the ACK).
fn interactive() -> Tcb {
    let mut tcb = syn_sent_with(&Config::default());
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    let mut buf = [0u8; 16];
    send!(tcb, t(100), seg(r(0), l(0), Flags::ACK | Flags::PSH, b"q1"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    assert_eq!(recv!(tcb, t(100)).h.ack, r(2));
    tcb.send(b"a1").unwrap();
    recv!(tcb, t(101));
    send!(tcb, t(110), seg(r(2), l(2), Flags::ACK | Flags::PSH, b"q2"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    recv_nothing!(tcb, t(110));
    tcb.send(b"a2").unwrap();
    let a2 = recv!(tcb, t(111));
    assert_eq!((a2.h.ack, a2.payload.len()), (r(4), 2));
    send!(tcb, t(112), seg(r(4), l(4), Flags::ACK, b""));
    tcb
}

#[test]
fn established_interactive_data_waits_for_the_delayed_ack() {
    // The baseline the tests below change: interactive, a request that is
    // not answered is ACKed by the delayed-ACK timer.
    let mut tcb = interactive();
    send!(tcb, t(120), seg(r(4), l(4), Flags::ACK | Flags::PSH, b"q3"));
    recv_nothing!(tcb, t(120));
    assert!(tcb.timers.is_armed(Timer::DelayedAck));
}

#[test]
fn established_old_duplicate_is_acked_at_once_and_ends_interactive_mode() {
    // `tcp_send_dupack`: "q1" again, wholly before the window (RCV.WUP is
    // 4): an ACK at once, and quick-ACK mode, so "q3" is ACKed on arrival
    // instead of waiting for the delayed-ACK timer.
    let mut tcb = interactive();
    send!(tcb, t(120), seg(r(0), l(4), Flags::ACK | Flags::PSH, b"q1"));
    assert_eq!(recv!(tcb, t(120)).h.ack, r(4));
    send!(tcb, t(121), seg(r(4), l(4), Flags::ACK | Flags::PSH, b"q3"));
    assert_eq!(recv!(tcb, t(121)).h.ack, r(6));
    assert!(!tcb.timers.is_armed(Timer::DelayedAck));
}

#[test]
fn established_duplicate_of_unacked_data_is_acked_at_once_and_ends_interactive_mode() {
    // `tcp_data_queue` ("a retransmit … force an immediate ACK"): "q3"
    // arrives and its ACK is delayed; "q3" again, its ACK not yet sent
    // (inside the window): the pending ACK goes at once, and quick-ACK
    // mode ACKs "q4" on arrival.
    let mut tcb = interactive();
    send!(tcb, t(120), seg(r(4), l(4), Flags::ACK | Flags::PSH, b"q3"));
    recv_nothing!(tcb, t(120));
    send!(tcb, t(121), seg(r(4), l(4), Flags::ACK | Flags::PSH, b"q3"));
    let ack = recv!(tcb, t(121));
    assert_eq!(ack.h.ack, r(6));
    assert!(!tcb.timers.is_armed(Timer::DelayedAck));
    send!(tcb, t(122), seg(r(6), l(4), Flags::ACK | Flags::PSH, b"q4"));
    assert_eq!(recv!(tcb, t(122)).h.ack, r(8));
}

#[test]
fn established_out_of_window_ack_does_not_end_interactive_mode() {
    // `tcp_send_dupack` enters quick-ACK mode only for old data: a bare
    // ACK before the window is answered (rate-limited) and nothing else.
    let mut tcb = interactive();
    send!(tcb, t(120), seg(r(0) - 10u32, l(4), Flags::ACK, b""));
    assert_eq!(recv!(tcb, t(120)).h.ack, r(4));
    send!(tcb, t(121), seg(r(4), l(4), Flags::ACK | Flags::PSH, b"q3"));
    recv_nothing!(tcb, t(121));
}
