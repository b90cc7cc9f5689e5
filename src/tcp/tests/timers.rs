//! TIMEOUTS (RFC 9293 §3.10.8) and RFC 6298 retransmission.

use super::*;

#[test]
fn established_lost_segment_is_retransmitted_on_rto() {
    let mut tcb = established();
    tcb.send(b"hello").unwrap();
    let first = recv_one(&mut tcb, t(100));
    // RFC 6298 §5.1: timer armed with the RTO (SRTT 10 ms → RTO at min 200 ms).
    let at = tcb.poll_at().expect("timer");
    assert_eq!(at, t(300));
    tcb.on_timeout(t(299));
    recv_nothing(&mut tcb, t(299));
    tcb.on_timeout(at);
    let again = recv_one(&mut tcb, at);
    assert_eq!(
        (again.h.seq, again.payload.clone()),
        (first.h.seq, first.payload)
    );
    // §5.5: backed off.
    assert_eq!(tcb.poll_at(), Some(at + Duration::from_millis(400)));
    assert_eq!(tcb.stats().retransmits, 1);
    send(
        &mut tcb,
        at + Duration::from_millis(5),
        &seg(r(0), l(5), Flags::ACK, b""),
    );
    assert_eq!(tcb.poll_at(), None);
    assert_eq!(tcb.send_queue(), 0);
}

#[test]
fn established_rto_goes_back_n_and_collapses_cwnd() {
    // RFC 5681 §3.1: after RTO cwnd = 1 SMSS.
    let mut tcb = established();
    tcb.send(&[7u8; 5000]).unwrap();
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 4);
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    assert_eq!(tcb.cwnd(), 1460);
    let rtx = recv(&mut tcb, at);
    assert_eq!(rtx.len(), 1);
    assert_eq!(rtx[0].h.seq, l(0));
    // Each ACK of new data lets more of the old flight go again.
    send(
        &mut tcb,
        at + Duration::from_millis(10),
        &seg(r(0), l(1460), Flags::ACK, b""),
    );
    let more = recv(&mut tcb, at + Duration::from_millis(10));
    assert_eq!(more[0].h.seq, l(1460));
    assert_eq!(more.len(), 2);
}

#[test]
fn established_retries_exhausted_times_out() {
    let c = Config {
        data_retries: 3,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send(&mut tcb, t(10), &syn_ack(None));
    recv(&mut tcb, t(10));
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(10));
    for _ in 0..3 {
        let now = tcb.poll_at().unwrap();
        tcb.on_timeout(now);
        assert_eq!(recv(&mut tcb, now).len(), 1);
    }
    let now = tcb.poll_at().unwrap();
    tcb.on_timeout(now);
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn early_on_timeout_is_a_no_op() {
    let mut tcb = established();
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(10));
    tcb.on_timeout(t(11));
    recv_nothing(&mut tcb, t(11));
    assert_eq!(tcb.stats().retransmit_timeouts, 0);
}
