//! Sender silly-window avoidance against the peer's window and the FIN's
//! place in it, checked against Linux (net/ipv4/tcp_output.c
//! `tcp_write_xmit` / `tcp_snd_wnd_test`, `tcp_check_probe_timer`,
//! `tcp_write_wakeup`; tcp_input.c `tcp_ack_probe`).

use super::*;

/// ESTABLISHED (MSS 1460), the peer's window set to `wnd` by an ACK at
/// t=11 ms.
fn window(wnd: u16) -> Tcb {
    let mut tcb = established();
    let mut w = seg(r(0), l(0), Flags::ACK, b"");
    w.h.window = wnd;
    send!(tcb, t(11), w);
    recv_nothing!(tcb, t(11));
    tcb
}

/// `tcp_probe0_base`: the RTO, at least 200 ms.
fn probe_base(tcb: &Tcb) -> Duration {
    tcb.rtt().rto().max(Duration::from_millis(200))
}

/// Fires the earliest timer; what it sends.
fn fire(tcb: &mut Tcb) -> (Instant, Vec<Seg>) {
    let at = tcb.poll_at().expect("a timer is armed");
    tcb.on_timeout(at);
    (at, recv(tcb, at))
}

#[test]
fn window_below_one_mss_is_left_to_the_persist_timer_with_nothing_in_flight() {
    // `tcp_snd_wnd_test`: the head's first MSS must fit; it does not, and
    // `tcp_check_probe_timer` arms the probe timer at `tcp_probe0_base`.
    // When it fires, `tcp_write_wakeup` sends what fits, pushed.
    let mut tcb = window(500);
    tcb.send(&[7u8; 2000]).unwrap();
    recv_nothing!(tcb, t(12));
    let base = probe_base(&tcb);
    let (at, out) = fire(&mut tcb);
    assert_eq!(at - t(12), base, "persist timer at the probe base");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].h.seq, out[0].payload.len(), out[0].h.flags),
        (l(0), 500, Flags::ACK | Flags::PSH)
    );
    assert_eq!(tcb.stats().window_probes, 0, "data, not a window probe");
    // The probe's data is in flight: the retransmission timer watches it,
    // and nothing more goes until the peer answers.
    recv_nothing!(tcb, at);
    let rto = tcb.rtt().rto();
    assert_eq!(tcb.poll_at(), Some(at + rto));
    // The answer opens the window fully: the rest goes at once.
    let mut a = seg(r(0), l(500), Flags::ACK, b"");
    a.h.window = 65535;
    let now = at + Duration::from_millis(5);
    send!(tcb, now, a);
    let out = recv(&mut tcb, now);
    assert_eq!(
        out.iter().map(|s| s.payload.len()).collect::<Vec<_>>(),
        vec![1460, 40]
    );
    assert_eq!(out[0].h.seq, l(500));
}

#[test]
fn data_smaller_than_the_window_and_an_mss_goes_at_once() {
    // The whole head fits: `tcp_snd_wnd_test` passes.
    let mut tcb = window(500);
    tcb.send(&[7u8; 300]).unwrap();
    let out = recv_one(&mut tcb, t(12));
    assert_eq!((out.h.seq, out.payload.len()), (l(0), 300));
    tcb.send(&[7u8; 200]).unwrap();
    let mut a = seg(r(0), l(300), Flags::ACK, b"");
    a.h.window = 200;
    send!(tcb, t(20), a);
    let out = recv_one(&mut tcb, t(20));
    assert_eq!((out.h.seq, out.payload.len()), (l(300), 200));
}

#[test]
fn window_reopening_below_the_head_keeps_the_probe_backoff() {
    // `tcp_ack_probe`: a window that does not take the head re-arms the
    // probe timer at `tcp_probe0_when` (backoff kept); the next probe
    // then carries what fits.
    let mut tcb = window(0);
    tcb.send(&[7u8; 3000]).unwrap();
    recv_nothing!(tcb, t(12));
    let base = probe_base(&tcb);
    for _ in 0..2 {
        let (_, out) = fire(&mut tcb);
        assert_eq!(out.len(), 1);
        assert!(out[0].payload.is_empty(), "a bare zero-window probe");
    }
    let now = tcb.poll_at().unwrap() - Duration::from_millis(100);
    let mut a = seg(r(0), l(0), Flags::ACK, b"");
    a.h.window = 1000;
    send!(tcb, now, a);
    recv_nothing!(tcb, now);
    assert_eq!(tcb.poll_at(), Some(now + base * 4), "backoff 2 kept");
    let (_, out) = fire(&mut tcb);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].h.seq, out[0].payload.len()), (l(0), 1000));
    assert_eq!(tcb.stats().window_probes, 2);
}

#[test]
fn fin_not_fitting_behind_a_small_tail_holds_the_tail_too() {
    // The FIN rides on the tail skb and counts in `tcp_snd_wnd_test`'s
    // end_seq when that skb is no longer than an MSS: 500 bytes and the
    // FIN do not fit a 500-byte window, so neither goes. The probe
    // (`tcp_write_wakeup`) sends the 500 bytes without the FIN, which
    // follows once the window has room for it.
    let mut tcb = window(500);
    tcb.send(&[7u8; 500]).unwrap();
    tcb.close();
    recv_nothing!(tcb, t(12));
    let (at, out) = fire(&mut tcb);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].h.seq, out[0].payload.len(), out[0].h.flags.fin()),
        (l(0), 500, false)
    );
    let mut a = seg(r(0), l(500), Flags::ACK, b"");
    a.h.window = 500;
    let now = at + Duration::from_millis(5);
    send!(tcb, now, a);
    let fin = recv_one(&mut tcb, now);
    assert_eq!((fin.h.seq, fin.payload.len()), (l(500), 0));
    assert!(fin.h.flags.fin());
}

#[test]
fn fin_not_fitting_behind_a_window_filling_batch_holds_the_last_segment() {
    // 3000 bytes and a FIN against a 3000-byte window: two full segments
    // go; the 80-byte tail with the FIN fails `tcp_snd_wnd_test` and
    // waits for the window to move.
    let mut tcb = window(3000);
    tcb.send(&[7u8; 3000]).unwrap();
    tcb.close();
    let out = recv(&mut tcb, t(12));
    assert_eq!(
        out.iter()
            .map(|s| (s.payload.len(), s.h.flags.fin()))
            .collect::<Vec<_>>(),
        vec![(1460, false), (1460, false)]
    );
    let mut a = seg(r(0), l(2920), Flags::ACK, b"");
    a.h.window = 3000;
    send!(tcb, t(20), a);
    let tail = recv_one(&mut tcb, t(20));
    assert_eq!((tail.h.seq, tail.payload.len()), (l(2920), 80));
    assert!(tail.h.flags.fin());
}

#[test]
fn fin_fitting_with_its_data_goes_with_it() {
    let mut tcb = window(501);
    tcb.send(&[7u8; 500]).unwrap();
    tcb.close();
    let out = recv_one(&mut tcb, t(12));
    assert_eq!(out.payload.len(), 500);
    assert!(out.h.flags.fin());
}

#[test]
fn segments_to_a_small_window_peer_are_half_its_largest_window() {
    // `tcp_bound_to_half_wnd`: a receiver that never offered more than
    // 1152 bytes (a minimal SO_RCVBUF) gets 576-byte segments, which fit
    // its window and go at once, as a kernel sender does on loopback
    // (MTU 1500); without the bound, no 1460-byte segment would ever fit
    // and each would wait for the persist timer.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.window = 1152;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    tcb.send(&[7u8; 6000]).unwrap();
    let out = recv(&mut tcb, t(11));
    assert_eq!(
        out.iter()
            .map(|s| (s.h.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        vec![(l(0), 576), (l(576), 576)]
    );
    let mut a = seg(r(0), l(1152), Flags::ACK, b"");
    a.h.window = 576;
    send!(tcb, t(20), a);
    let out = recv_one(&mut tcb, t(20));
    assert_eq!((out.h.seq, out.payload.len()), (l(1152), 576));
    // The MSS was sized at the handshake (`tcp_sync_mss`): a window that
    // opens wide later does not grow the segments.
    let mut a = seg(r(0), l(1728), Flags::ACK, b"");
    a.h.window = 65535;
    send!(tcb, t(30), a);
    let out = recv(&mut tcb, t(30));
    assert!(out.len() > 2, "{out:?}");
    assert!(out.iter().all(|s| s.payload.len() <= 576), "{out:?}");
}

#[test]
fn a_window_opening_before_the_probe_leaves_sends_data_not_the_probe() {
    // The persist timer fired but the peer's window opened before the
    // probe went: `tcp_write_wakeup` sends the data that now fits instead
    // of a bare probe, and nothing else follows it.
    let mut tcb = window(0);
    tcb.send(&[7u8; 100]).unwrap();
    recv_nothing!(tcb, t(12));
    let at = tcb.poll_at().expect("the persist timer");
    tcb.on_timeout(at);
    let mut a = seg(r(0), l(0), Flags::ACK, b"");
    a.h.window = 65535;
    send!(tcb, at, a);
    let out = recv(&mut tcb, at);
    assert_eq!(
        out.iter()
            .map(|s| (s.h.seq, s.payload.len()))
            .collect::<Vec<_>>(),
        vec![(l(0), 100)]
    );
}
