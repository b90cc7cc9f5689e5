//! Every segment says why it was sent (shown as pcapng comments).

use super::*;

fn reason_of(tcb: &mut Tcb, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(t) = tcb.poll_transmit(now) {
        out.push(t.reason.to_string());
    }
    out
}

#[test]
fn handshake_data_and_retransmission_reasons() {
    let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, LOCAL_ISS);
    assert_eq!(
        reason_of(&mut tcb, t(0)),
        vec!["SYN: active open, our ISN and options"]
    );
    tcb.on_timeout(t(1000));
    assert_eq!(reason_of(&mut tcb, t(1000)), vec!["SYN retransmission #1"]);
    send!(tcb, t(1010), syn_ack(None));
    assert_eq!(reason_of(&mut tcb, t(1010)), vec!["ACK"]);
    tcb.send(b"hello").unwrap();
    assert_eq!(reason_of(&mut tcb, t(1020)), vec!["new data"]);
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    let rto = tcb.rtt().rto().as_millis();
    assert_eq!(
        reason_of(&mut tcb, at),
        vec![format!("retransmission #1, RTO {rto} ms")]
    );
}

#[test]
fn ack_reasons_name_the_mechanism() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(1_000_000), l(0), Flags::ACK, b"x"));
    assert_eq!(
        reason_of(&mut tcb, t(11)),
        vec!["ACK for an unacceptable segment"]
    );
    send!(tcb, t(12), seg(r(10), l(0), Flags::RST, b""));
    assert_eq!(reason_of(&mut tcb, t(12)), vec!["challenge ACK (RFC 5961)"]);
    send!(tcb, t(13), seg(r(100), l(0), Flags::ACK, b"ooo"));
    assert_eq!(
        reason_of(&mut tcb, t(13)),
        vec!["duplicate ACK for out-of-order data"]
    );
}

#[test]
fn window_update_and_zero_window_probe_reasons() {
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![1u8; 64 * 1024])
    );
    reason_of(&mut tcb, t(11));
    tcb.recv(&mut vec![0u8; 32 * 1024]).unwrap();
    assert_eq!(reason_of(&mut tcb, t(12)), vec!["window update"]);
    let mut z = seg(r(64 * 1024), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(13), z);
    tcb.send(b"q").unwrap();
    reason_of(&mut tcb, t(13));
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    assert_eq!(reason_of(&mut tcb, at), vec!["zero-window probe"]);
}
