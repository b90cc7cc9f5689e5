//! CLOSE (RFC 9293 §3.10.4), FIN processing (§3.10.7.4 eighth), TIME-WAIT.

use super::*;

#[test]
fn established_close_sends_fin_after_data_then_fin_wait_2_time_wait_closed() {
    let mut tcb = established();
    tcb.send(b"bye").unwrap();
    tcb.close();
    assert_eq!(tcb.state(), State::FinWait1);
    let out = recv!(tcb, t(20));
    assert_eq!(out.h.flags, Flags::ACK | Flags::PSH | Flags::FIN);
    assert_eq!(out.payload, b"bye");
    assert_eq!(tcb.send(b"more"), Err(SendError::Closed));
    send!(tcb, t(30), seg(r(0), l(4), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::FinWait2);
    send(
        &mut tcb,
        t(40),
        &seg(r(0), l(4), Flags::ACK | Flags::FIN, b""),
    );
    assert_eq!(tcb.state(), State::TimeWait);
    let ack = recv!(tcb, t(40));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(1)));
    let mut buf = [0u8; 4];
    assert_eq!(tcb.recv(&mut buf), Ok(0), "end of stream");
    // 2·MSL later the connection is gone.
    assert_eq!(tcb.poll_at(), Some(t(40) + Duration::from_secs(60)));
    tcb.on_timeout(t(40) + Duration::from_secs(60));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), None);
    assert!(tcb.is_closed());
}

#[test]
fn time_wait_retransmitted_fin_is_acked_and_restarts_timer() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send(
        &mut tcb,
        t(30),
        &seg(r(0), l(1), Flags::ACK | Flags::FIN, b""),
    );
    assert_eq!(tcb.state(), State::TimeWait);
    recv!(tcb, t(30));
    send(
        &mut tcb,
        t(5000),
        &seg(r(0), l(1), Flags::ACK | Flags::FIN, b""),
    );
    let ack = recv!(tcb, t(5000));
    assert_eq!(ack.h.ack, r(1));
    assert_eq!(tcb.poll_at(), Some(t(5000) + Duration::from_secs(60)));
}

#[test]
fn established_peer_fin_gives_close_wait_then_last_ack_closed() {
    let mut tcb = established();
    send(
        &mut tcb,
        t(11),
        &seg(r(0), l(0), Flags::ACK | Flags::FIN, b"last"),
    );
    assert_eq!(tcb.state(), State::CloseWait);
    let ack = recv!(tcb, t(11));
    assert_eq!(ack.h.ack, r(5), "4 bytes + FIN");
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(4));
    assert_eq!(tcb.recv(&mut buf), Ok(0));
    // We can still send in CLOSE-WAIT.
    tcb.send(b"reply").unwrap();
    tcb.close();
    assert_eq!(tcb.state(), State::LastAck);
    let fin = recv!(tcb, t(12));
    assert_eq!(fin.h.flags, Flags::ACK | Flags::PSH | Flags::FIN);
    send!(tcb, t(20), seg(r(5), l(6), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), None);
}

#[test]
fn fin_wait_1_peer_fin_before_ack_is_simultaneous_close() {
    // RFC 9293 §3.6 figure 13: FIN-WAIT-1 → CLOSING → TIME-WAIT.
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send(
        &mut tcb,
        t(21),
        &seg(r(0), l(0), Flags::ACK | Flags::FIN, b""),
    );
    assert_eq!(tcb.state(), State::Closing);
    recv!(tcb, t(21));
    send!(tcb, t(22), seg(r(1), l(1), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::TimeWait);
}

#[test]
fn fin_wait_1_fin_with_ack_of_our_fin_goes_to_time_wait() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send(
        &mut tcb,
        t(21),
        &seg(r(0), l(1), Flags::ACK | Flags::FIN, b""),
    );
    assert_eq!(tcb.state(), State::TimeWait);
}

#[test]
fn fin_wait_1_lost_fin_is_retransmitted() {
    let mut tcb = established();
    tcb.close();
    let fin = recv!(tcb, t(20));
    assert!(fin.h.flags.fin());
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    let again = recv!(tcb, at);
    assert_eq!(
        (again.h.flags, again.h.seq),
        (Flags::ACK | Flags::FIN, l(0))
    );
}

#[test]
fn out_of_order_fin_is_not_processed() {
    let mut tcb = established();
    send(
        &mut tcb,
        t(11),
        &seg(r(5), l(0), Flags::ACK | Flags::FIN, b""),
    );
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(recv!(tcb, t(11)).h.ack, r(0));
}

#[test]
fn syn_sent_close_just_closes() {
    let mut tcb = syn_sent();
    tcb.close();
    assert_eq!(tcb.state(), State::Closed);
    recv_nothing!(tcb, t(1));
}

#[test]
fn syn_received_close_sends_fin_after_handshake() {
    let mut tcb = syn_received();
    tcb.close();
    assert_eq!(tcb.state(), State::SynReceived);
    send!(tcb, t(5), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::FinWait1);
    let fin = recv!(tcb, t(5));
    assert!(fin.h.flags.fin());
}

#[test]
fn abort_sends_rst_and_fails_calls() {
    let mut tcb = established();
    tcb.send(b"dropped").unwrap();
    tcb.abort();
    let rst = recv!(tcb, t(20));
    assert!(rst.h.flags.rst());
    assert_eq!(rst.h.seq, l(0));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(
        tcb.send(b"x"),
        Err(SendError::Failed(ConnectionError::Aborted))
    );
    assert!(tcb.is_closed());
}

#[test]
fn abort_after_a_zero_window_probe_sends_rst_at_the_window_edge() {
    // A lingering close that times out resets a peer that advertises a
    // zero window. Its window is [RCV.NXT, RCV.NXT): the RST must sit
    // exactly there (RFC 9293 §3.10.7.4, RFC 5961 §3.2), not at the
    // probe's SND.UNA - 1 (Linux's tcp_acceptable_seq).
    let mut tcb = established();
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.send(b"queued").unwrap();
    tcb.close();
    recv_nothing!(tcb, t(12));
    let at = tcb.poll_at().expect("persist timer armed");
    tcb.on_timeout(at);
    let probe = recv!(tcb, at);
    assert_eq!((probe.h.seq, probe.payload.len()), (l(0) - 1u32, 0));
    tcb.abort();
    let rst = recv!(tcb, at);
    assert!(rst.h.flags.rst());
    assert_eq!(rst.h.seq, l(0), "RST at SND.UNA + SND.WND, not SND.MAX");
}

#[test]
fn last_ack_lost_fin_is_retransmitted() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    tcb.close();
    let fin = recv!(tcb, t(12));
    assert!(fin.h.flags.fin());
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    let again = recv!(tcb, at);
    assert_eq!(
        (again.h.flags, again.h.seq),
        (Flags::ACK | Flags::FIN, l(0))
    );
}

#[test]
fn close_twice_is_a_no_op() {
    let mut tcb = established();
    tcb.close();
    tcb.close();
    assert_eq!(tcb.state(), State::FinWait1);
    assert_eq!(recv(&mut tcb, t(20)).len(), 1, "one FIN");
}

#[test]
fn time_wait_bare_ack_restarts_2msl_without_a_reply() {
    // Linux `tcp_timewait_state_process`: a bare ACK at RCV.NXT is not
    // answered, but restarts the TIME-WAIT timer.
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    recv(&mut tcb, t(21));
    assert_eq!(tcb.poll_at(), Some(t(21) + Duration::from_secs(60)));
    send!(tcb, t(22), seg(r(1), l(1), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::TimeWait);
    recv_nothing!(tcb, t(22));
    assert_eq!(tcb.poll_at(), Some(t(22) + Duration::from_secs(60)));
}

#[test]
fn shutdown_read_keeps_queued_data_readable_and_reads_eof_when_empty() {
    // Linux `shutdown(SHUT_RD)` sets RCV_SHUTDOWN only: `tcp_recvmsg`
    // still copies what the receive queue holds, and returns 0 instead of
    // blocking when it is empty; data arriving later is queued
    // (`tcp_data_queue`) and read the same way.
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"unread"));
    tcb.shutdown_read();
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(6));
    assert_eq!(&buf[..6], b"unread");
    assert_eq!(tcb.recv(&mut buf), Ok(0));
    send!(tcb, t(12), seg(r(6), l(0), Flags::ACK, b"more"));
    assert_eq!(recv(&mut tcb, t(12)).last().unwrap().h.ack, r(10));
    assert_eq!(tcb.recv_queue(), 4);
    assert_eq!(tcb.recv(&mut buf), Ok(4));
    assert_eq!(tcb.recv(&mut buf), Ok(0));
}

#[test]
fn data_after_shutdown_read_fills_the_buffer_and_closes_the_window() {
    // What arrives after SHUT_RD counts against the receive buffer as any
    // data does: unread, it shuts the window (Linux's Recv-Q grows and
    // `tcp_select_window` shrinks), where it was once acknowledged and
    // dropped with the window kept open.
    let c = Config {
        recv_buffer: 4000,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    tcb.shutdown_read();
    let mut acks = Vec::new();
    for k in 0..4u32 {
        let at = t(20 + u64::from(k));
        send!(tcb, at, seg(r(k * 1000), l(0), Flags::ACK, &[9u8; 1000]));
        acks.extend(recv(&mut tcb, at));
    }
    let last = acks.last().expect("ACKs");
    assert_eq!((last.h.ack, last.h.window), (r(4000), 0));
    assert_eq!(tcb.recv_queue(), 4000);
    // Beyond the shut window: dropped, not acknowledged.
    send!(tcb, t(30), seg(r(4000), l(0), Flags::ACK, &[9u8; 100]));
    assert_eq!(recv!(tcb, t(30)).h.ack, r(4000));
    assert_eq!(tcb.recv_queue(), 4000);
}

#[test]
fn close_after_shutdown_read_with_data_unread_resets() {
    // Linux `tcp_close`: the data queued after SHUT_RD is unread data,
    // so close(2) sends a RST (TCPAbortOnClose).
    let mut tcb = established();
    tcb.shutdown_read();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"late"));
    recv(&mut tcb, t(11));
    tcb.release();
    let rst = recv!(tcb, t(12));
    assert!(rst.h.flags.rst(), "{rst:?}");
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn fin_wait_2_fin_with_data_delivers_then_time_wait() {
    let mut tcb = established();
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(1), Flags::ACK, b""));
    send!(
        tcb,
        t(22),
        seg(r(0), l(1), Flags::ACK | Flags::FIN, b"tail")
    );
    assert_eq!(tcb.state(), State::TimeWait);
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(4));
    assert_eq!(tcb.recv(&mut buf), Ok(0));
}

#[test]
fn close_wait_retransmitted_fin_is_acked_again() {
    let mut tcb = established();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    recv(&mut tcb, t(11));
    send!(tcb, t(12), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    assert_eq!(recv!(tcb, t(12)).h.ack, r(1));
    assert_eq!(tcb.state(), State::CloseWait);
}

#[test]
fn close_with_a_full_send_buffer_sends_everything_before_the_fin() {
    let mut tcb = established();
    let n = tcb.send(&vec![8u8; 100_000]).unwrap();
    tcb.close();
    let mut total = 0;
    let mut now = t(20);
    let mut fin_seen = false;
    for _ in 0..200 {
        for s in recv(&mut tcb, now) {
            assert!(!fin_seen, "nothing after the FIN");
            total += s.payload.len();
            fin_seen |= s.h.flags.fin();
            let end = s.h.seq + s.payload.len() + usize::from(s.h.flags.fin());
            send!(tcb, now, seg(r(0), end, Flags::ACK, b""));
        }
        now += Duration::from_millis(1);
    }
    assert!(fin_seen);
    assert_eq!(total, n);
    assert_eq!(tcb.state(), State::FinWait2);
}

/// ESTABLISHED with delayed ACKs on (40 ms, Linux's minimum).
fn established_delaying_acks() -> Tcb {
    let cfg = Config {
        delayed_ack: Duration::from_millis(40),
        ..cfg()
    };
    let mut tcb = syn_sent_with(&cfg);
    send(&mut tcb, t(10), &syn_ack(None));
    assert_eq!(recv_one(&mut tcb, t(10)).h.flags, Flags::ACK);
    tcb
}

#[test]
fn established_peer_fin_is_acked_by_our_fin_when_the_application_closes() {
    // As Linux: the FIN's ACK is delayed (pingpong), and the application
    // that closes on end of stream sends one FIN|ACK, not an ACK and a FIN.
    let mut tcb = established_delaying_acks();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.state(), State::CloseWait);
    recv_nothing!(tcb, t(11));
    assert_eq!(tcb.recv(&mut [0u8; 4]), Ok(0));
    tcb.close();
    recv!(
        tcb,
        t(12),
        [Seg {
            h: TcpHeader {
                src_port: LOCAL.port(),
                dst_port: REMOTE.port(),
                seq: l(0),
                ack: r(1),
                flags: Flags::ACK | Flags::FIN,
                // The right edge stays put; the FIN took a number.
                window: 65534,
                urgent: 0,
                options: TcpOptions::default(),
            },
            payload: Vec::new(),
        }]
    );
    // Nothing more when the delayed-ACK timer would have fired.
    tcb.on_timeout(t(60));
    recv_nothing!(tcb, t(60));
    send!(tcb, t(61), seg(r(1), l(1), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::Closed);
}

#[test]
fn established_peer_fin_is_acked_alone_when_the_application_waits() {
    let mut tcb = established_delaying_acks();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    recv_nothing!(tcb, t(11));
    // The delayed-ACK timer sends it by itself.
    assert_eq!(tcb.poll_at(), Some(t(51)));
    tcb.on_timeout(t(51));
    let ack = recv!(tcb, t(51));
    assert_eq!((ack.h.flags, ack.h.ack), (Flags::ACK, r(1)));
    // A retransmitted FIN is acknowledged at once.
    send!(tcb, t(60), seg(r(0), l(0), Flags::ACK | Flags::FIN, b""));
    assert_eq!(recv!(tcb, t(60)).h.ack, r(1));
}

#[test]
fn established_fin_after_quick_acked_data_is_delayed() {
    // Linux, seen on the wire: the first data is ACKed at once (quick-ACK
    // mode), the FIN that follows is ACKed 40 ms later (`tcp_fin` enters
    // pingpong mode, which ends quick ACKs).
    let mut tcb = established_delaying_acks();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::PSH, b"abc"));
    assert_eq!(recv!(tcb, t(11)).h.ack, r(3));
    send!(tcb, t(21), seg(r(3), l(0), Flags::ACK | Flags::FIN, b""));
    recv_nothing!(tcb, t(21));
    assert_eq!(tcb.poll_at(), Some(t(61)));
    tcb.on_timeout(t(61));
    assert_eq!(recv!(tcb, t(61)).h.ack, r(4));
}

#[test]
fn established_data_with_fin_is_acked_after_the_delayed_ack_time() {
    // Linux, seen on the wire: data and FIN in one segment at the start
    // are ACKed 40 ms later, not at once: `tcp_fin` runs inside
    // `tcp_data_queue`, before the ACK is decided.
    let mut tcb = established_delaying_acks();
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK | Flags::FIN, b"abc"));
    recv_nothing!(tcb, t(11));
    assert_eq!(tcb.poll_at(), Some(t(51)));
    tcb.on_timeout(t(51));
    assert_eq!(recv!(tcb, t(51)).h.ack, r(4));
}

#[test]
fn established_fin_keeps_the_deadline_of_a_delayed_ack() {
    // Past the quick ACKs, data's ACK is delayed; the FIN that follows
    // leaves the timer where it was (`tcp_send_delayed_ack` keeps an
    // earlier deadline) and the one ACK covers both.
    let mut tcb = established_delaying_acks();
    let base = past_quick_acks(&mut tcb);
    send!(
        tcb,
        t(100),
        seg(r(base), l(0), Flags::ACK | Flags::PSH, b"abc")
    );
    recv_nothing!(tcb, t(100));
    send!(
        tcb,
        t(110),
        seg(r(base + 3), l(0), Flags::ACK | Flags::FIN, b"")
    );
    recv_nothing!(tcb, t(110));
    assert_eq!(tcb.poll_at(), Some(t(140)));
    tcb.on_timeout(t(140));
    assert_eq!(recv!(tcb, t(140)).h.ack, r(base + 4));
}

/// [`established_ts_sack_with`] (peer TSval 1000) closed actively: in
/// TIME-WAIT with TS.Recent 1001 and RCV.NXT after the peer's FIN.
fn time_wait_with_timestamps() -> Tcb {
    let mut tcb = established_ts_sack_with(&cfg());
    tcb.close();
    recv(&mut tcb, t(20));
    let mut fin = seg(r(0), l(1), Flags::ACK | Flags::FIN, b"");
    fin.h.options.timestamp = Some((1001, 0));
    send!(tcb, t(30), fin);
    assert_eq!(tcb.state(), State::TimeWait);
    tcb
}

fn syn_with(seq: SeqNumber, ts: Option<u32>) -> Seg {
    let mut s = remote_syn();
    s.h.seq = seq;
    s.h.options.timestamp = ts.map(|v| (v, 0));
    s
}

#[test]
fn time_wait_syn_reuse_follows_tcp_timewait_state_process() {
    // A new incarnation needs a SYN that PAWS does not reject (TSval not
    // older than TS.Recent, no window) and that is new: sequence number
    // beyond RCV.NXT, or TSval newer than TS.Recent.
    let tcb = time_wait_with_timestamps();
    let (beyond, at) = (r(100_000), r(1));
    let accepts = |seq, ts| tcb.time_wait_accepts_syn(&syn_with(seq, ts).view());
    assert!(accepts(at, Some(1002)), "newer TSval");
    assert!(accepts(beyond, Some(1001)), "same TSval, sequence beyond");
    assert!(!accepts(at, Some(1001)), "same TSval, old sequence");
    assert!(!accepts(beyond, Some(1000)), "PAWS: one tick older");
    assert!(accepts(beyond, None), "no timestamp: by sequence");
    assert!(!accepts(at, None), "no timestamp, old sequence");
    let mut syn_ack = syn_with(beyond, Some(1002));
    syn_ack.h.flags |= Flags::ACK;
    assert!(!tcb.time_wait_accepts_syn(&syn_ack.view()));
}
