//! The owner's event queue ([`Tcb::poll_event`]): each change the
//! application may act on is reported where it happens (RFC 9293 §3.9
//! signals to the user), once per kind until drained.

use super::*;

fn drain(tcb: &mut Tcb) -> Vec<Event> {
    std::iter::from_fn(|| tcb.poll_event()).collect()
}

#[test]
fn syn_sent_syn_ack_reports_connected_once() {
    let mut tcb = syn_sent();
    assert_eq!(drain(&mut tcb), vec![], "nothing before the handshake");
    send!(tcb, t(10), syn_ack(None));
    assert_eq!(drain(&mut tcb), vec![Event::Connected]);
    assert_eq!(drain(&mut tcb), vec![], "drained");
}

#[test]
fn syn_received_ack_reports_connected() {
    let mut tcb = syn_received();
    send!(tcb, t(10), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(drain(&mut tcb), vec![Event::Connected]);
}

#[test]
fn syn_sent_rst_reports_closed_refused() {
    let mut tcb = syn_sent();
    send!(
        tcb,
        t(10),
        seg(SeqNumber(0), l(0), Flags::RST | Flags::ACK, b"")
    );
    assert_eq!(
        drain(&mut tcb),
        vec![Event::Closed(Some(ConnectionError::Refused))]
    );
}

#[test]
fn established_data_reports_readable_once_until_drained() {
    let mut tcb = established();
    drain(&mut tcb);
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b"hello"));
    send!(tcb, t(21), seg(r(5), l(0), Flags::ACK, b"world"));
    assert_eq!(drain(&mut tcb), vec![Event::Readable], "merged into one");
    // Out-of-order data is not readable yet.
    send!(tcb, t(22), seg(r(20), l(0), Flags::ACK, b"later"));
    assert_eq!(drain(&mut tcb), vec![]);
}

#[test]
fn established_ack_of_data_reports_writable() {
    let mut tcb = established();
    drain(&mut tcb);
    tcb.send(&[7u8; 3000]).unwrap();
    recv(&mut tcb, t(20));
    assert_eq!(drain(&mut tcb), vec![], "sending alone frees nothing");
    // A duplicate ACK frees nothing either.
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(drain(&mut tcb), vec![]);
    send!(tcb, t(40), seg(r(0), l(1460), Flags::ACK, b""));
    assert_eq!(drain(&mut tcb), vec![Event::Writable]);
}

#[test]
fn established_fin_reports_peer_closed_once() {
    let mut tcb = established();
    drain(&mut tcb);
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK | Flags::FIN, b"bye"));
    assert_eq!(drain(&mut tcb), vec![Event::Readable, Event::PeerClosed]);
    // A retransmitted FIN changes nothing for the application.
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK | Flags::FIN, b"bye"));
    assert_eq!(drain(&mut tcb), vec![]);
}

#[test]
fn established_rst_reports_closed_reset() {
    let mut tcb = established();
    drain(&mut tcb);
    send!(tcb, t(20), seg(r(0), l(0), Flags::RST, b""));
    assert_eq!(
        drain(&mut tcb),
        vec![Event::Closed(Some(ConnectionError::Reset))]
    );
}

#[test]
fn established_abort_reports_closed_aborted() {
    let mut tcb = established();
    drain(&mut tcb);
    tcb.abort();
    assert_eq!(
        drain(&mut tcb),
        vec![Event::Closed(Some(ConnectionError::Aborted))]
    );
}

#[test]
fn time_wait_expiry_reports_a_clean_close() {
    let mut tcb = established();
    tcb.close();
    let fin = recv_one(&mut tcb, t(20));
    assert!(fin.h.flags.fin());
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::TimeWait);
    drain(&mut tcb);
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(drain(&mut tcb), vec![Event::Closed(None)]);
}

#[test]
fn established_shutdown_read_reports_readable() {
    let mut tcb = established();
    drain(&mut tcb);
    tcb.shutdown_read();
    assert_eq!(drain(&mut tcb), vec![Event::Readable]);
}
