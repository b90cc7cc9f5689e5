//! Flow control (RFC 9293 §3.8.6): windows in both directions, scaling,
//! zero windows and their probes, and trimming at the window edge.

use super::*;

#[test]
fn established_large_buffer_is_advertised_scaled() {
    // RFC 7323 §2.3: 1 MiB needs shift 5 to fit the 16-bit field.
    let c = Config {
        recv_buffer: 1 << 20,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(1), syn_ack(Some(7)));
    let ack = recv!(tcb, t(1));
    assert_eq!(u32::from(ack.h.window) << 5, 1 << 20);
}

#[test]
fn established_peer_zero_window_stops_sending_until_update() {
    let mut tcb = established();
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.send(&[1u8; 3000]).unwrap();
    recv_nothing!(tcb, t(12));
    let mut open = seg(r(0), l(0), Flags::ACK, b"");
    open.h.window = 3000;
    send!(tcb, t(13), open);
    let out = recv(&mut tcb, t(13));
    assert_eq!(out.iter().map(|s| s.payload.len()).sum::<usize>(), 3000);
    assert!(
        !tcb.timers.is_armed(super::super::timers::Timer::Persist),
        "window open: no persist timer"
    );
}

#[test]
fn established_shrunk_peer_window_is_respected() {
    // RFC 9293 §3.8.6: the sender must cope with a window that shrinks.
    let mut tcb = established();
    tcb.send(&[2u8; 10_000]).unwrap();
    let first = recv(&mut tcb, t(20));
    let sent: usize = first.iter().map(|s| s.payload.len()).sum();
    let mut shrink = seg(r(0), l(1460), Flags::ACK, b"");
    shrink.h.window = 1460;
    send!(tcb, t(21), shrink);
    // snd_una + wnd = l(2920) is already below snd_nxt: nothing new goes out.
    assert!(sent > 2920);
    recv_nothing!(tcb, t(22));
}

#[test]
fn established_data_exactly_filling_the_window_is_accepted() {
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![3u8; 64 * 1024])
    );
    assert_eq!(tcb.recv_queue(), 64 * 1024);
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
}

#[test]
fn established_segment_straddling_the_right_edge_is_dropped_while_data_is_queued() {
    // Linux's `tcp_sequence` (6.17+): a segment running past the edge we
    // advertised is refused whole while unread data is queued (RFC 9293
    // §3.10.7.4 would keep the part inside the window).
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![4u8; 64 * 1024 - 10])
    );
    send!(
        tcb,
        t(12),
        seg(r(64 * 1024 - 10), l(0), Flags::ACK, &[5u8; 100])
    );
    assert_eq!(tcb.recv_queue(), 64 * 1024 - 10);
    assert_eq!(
        recv(&mut tcb, t(12)).last().unwrap().h.ack,
        r(64 * 1024 - 10)
    );
}

#[test]
fn syn_received_window_from_the_syn_is_not_scaled() {
    // RFC 7323 §2.2: the window field of a SYN is never scaled.
    let tcb = syn_received();
    assert_eq!(tcb.send_window(), 65535);
}

#[test]
fn established_window_update_after_zero_window_reopens_the_peer() {
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![6u8; 64 * 1024])
    );
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
    let mut buf = vec![0u8; 32 * 1024];
    tcb.recv(&mut buf).unwrap();
    let upd = recv!(tcb, t(12));
    assert_eq!(
        (upd.h.flags, u32::from(upd.h.window)),
        (Flags::ACK, 32 * 1024)
    );
}

#[test]
fn established_probe_is_answered_with_the_current_window() {
    // A zero-window probe (one byte at RCV.NXT) gets an ACK stating the window.
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![6u8; 64 * 1024])
    );
    recv!(tcb, t(11));
    send!(tcb, t(500), seg(r(64 * 1024), l(0), Flags::ACK, b"p"));
    let ack = recv!(tcb, t(500));
    assert_eq!((ack.h.ack, ack.h.window), (r(64 * 1024), 0));
}

#[test]
fn established_timeout_retransmission_fits_a_shrunk_window() {
    // Linux `__tcp_retransmit_skb`: the head goes again only as far as
    // the peer's window reaches now (it shrank to 500 after our data left).
    let mut tcb = established();
    tcb.send(&[2u8; 3000]).unwrap();
    let first = recv(&mut tcb, t(20));
    assert_eq!(first[0].payload.len(), 1460);
    let mut shrink = seg(r(0), l(0), Flags::ACK, b"");
    shrink.h.window = 500;
    send!(tcb, t(21), shrink);
    let mut rtx = None;
    while rtx.is_none() {
        let at = tcb.poll_at().expect("a timer is armed");
        tcb.on_timeout(at);
        rtx = recv(&mut tcb, at).into_iter().find(|s| s.h.seq == l(0));
    }
    assert_eq!(rtx.unwrap().payload.len(), 500);
}

#[test]
fn established_bare_fin_is_taken_with_the_window_shut() {
    // Linux `tcp_data_queue` takes a bare FIN at RCV.NXT even with the
    // receive window at zero: the peer's close is seen while the
    // application has not read.
    let mut tcb = established();
    send!(
        tcb,
        t(11),
        seg(r(0), l(0), Flags::ACK, &vec![6u8; 64 * 1024])
    );
    assert_eq!(recv!(tcb, t(11)).h.window, 0);
    send!(
        tcb,
        t(20),
        seg(r(64 * 1024), l(0), Flags::ACK | Flags::FIN, b"")
    );
    assert_eq!(tcb.state(), State::CloseWait);
    let ack = recv!(tcb, t(20));
    assert_eq!((ack.h.ack, ack.h.window), (r(64 * 1024 + 1), 0));
    assert_eq!(tcb.stats().unacceptable, 0);
}

/// The right edge (SEG.ACK + scaled window) each segment advertises.
fn edges(tcb: &Tcb, out: &[Seg]) -> Vec<SeqNumber> {
    out.iter()
        .map(|s| s.h.ack + (u32::from(s.h.window) << tcb.opts.rcv_wscale))
        .collect()
}

#[test]
fn established_scaled_window_edge_never_moves_left() {
    // Linux `tcp_select_window`: a window that would pull the right edge
    // left is replaced by the one still offered, rounded up to the scale
    // (RFC 7323 §2.4). Odd-sized segments left unread make the free
    // space a non-multiple of 2^wscale, which the field rounds down.
    let c = Config {
        recv_buffer: 1 << 20,
        ..cfg()
    };
    let mut tcb = established_ts_sack_with(&c);
    assert!(tcb.opts.rcv_wscale >= 3, "a scale whose rounding shows");
    let mut last = tcb.rcv.adv;
    for i in 0..200u32 {
        let mut s = seg(r(i * 7), l(0), Flags::ACK, &[1u8; 7]);
        s.h.options.timestamp = Some((1000 + i, 0));
        send!(tcb, t(11 + u64::from(i)), s);
        let out = recv(&mut tcb, t(11 + u64::from(i)));
        for edge in edges(&tcb, &out) {
            assert!(
                edge.diff(last) >= 0,
                "edge moved left at {i}: {edge:?} < {last:?} ws {}",
                tcb.opts.rcv_wscale
            );
            last = edge;
        }
    }
}

#[test]
fn established_window_edge_stays_when_the_buffer_is_made_smaller() {
    // A smaller SO_RCVBUF does not take back the window offered: Linux
    // keeps advertising the old edge (`tcp_select_window`) until data
    // reaches it.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &[1u8; 1000]));
    let first = recv!(tcb, t(11));
    let edge = first.h.ack + u32::from(first.h.window);
    assert!(tcb.set_recv_buffer(8 * 1024));
    send!(tcb, t(12), seg(r(1000), l(0), Flags::ACK, &[1u8; 1000]));
    let second = recv!(tcb, t(12));
    assert_eq!(second.h.ack + u32::from(second.h.window), edge);
}

/// Bytes of new data that leave after `tcb.send(3000 bytes)`.
fn sent_of_3000(tcb: &mut Tcb, now: Instant) -> usize {
    tcb.send(&[6u8; 3000]).unwrap();
    recv(tcb, now).iter().map(|s| s.payload.len()).sum()
}

#[test]
fn established_duplicate_ack_does_not_shrink_the_send_window() {
    // Linux `tcp_may_update_window`: with SEG.SEQ and SEG.ACK unchanged,
    // only a larger (or a zero) window counts, so a reordered older
    // duplicate ACK cannot take back a window (RFC 9293 §3.10.7.4 would
    // take it, as SND.WL2 =< SEG.ACK).
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b""));
    let mut small = seg(r(0), l(0), Flags::ACK, b"");
    small.h.window = 1000;
    send!(tcb, t(12), small);
    assert_eq!(sent_of_3000(&mut tcb, t(13)), 3000);
}

#[test]
fn established_old_ack_does_not_update_the_send_window() {
    // Linux `tcp_ack` ("old_ack"): an ACK below SND.UNA updates no
    // window, whatever its SEG.SEQ; here it would have shut it.
    let mut tcb = established();
    tcb.send(&[1u8; 100]).unwrap();
    recv!(tcb, t(11));
    send!(tcb, t(12), seg(r(0), l(100), Flags::ACK, b""));
    let mut old = seg(r(1), l(50), Flags::ACK, b"");
    old.h.window = 0;
    send!(tcb, t(13), old);
    assert_eq!(sent_of_3000(&mut tcb, t(14)), 3000);
}
