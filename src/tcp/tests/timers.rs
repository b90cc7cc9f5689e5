//! TIMEOUTS (RFC 9293 §3.10.8) and RFC 6298 retransmission.

use super::*;
use crate::tcp::timers::Timer;

#[test]
fn established_lost_segment_is_retransmitted_on_rto() {
    let mut tcb = established();
    tcb.send(b"hello").unwrap();
    let first = recv!(tcb, t(100));
    // RFC 6298 §5.1: timer armed with the RTO; as in Linux the minimum
    // bounds the variance term: SRTT 10 ms + 200 ms.
    let at = tcb.poll_at().expect("timer");
    assert_eq!(at, t(310));
    tcb.on_timeout(t(309));
    recv_nothing!(tcb, t(309));
    tcb.on_timeout(at);
    let again = recv!(tcb, at);
    assert_eq!(
        (again.h.seq, again.payload.clone()),
        (first.h.seq, first.payload)
    );
    // §5.5: backed off.
    assert_eq!(tcb.poll_at(), Some(at + Duration::from_millis(420)));
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
    // Linux `retransmits_timed_out`: 3 retries are a budget of
    // (2^4 − 1) · 200 ms = 3 s from the first retransmission. With the
    // RTO at 210 ms, three retransmissions (at 220, 640 and 1480 ms) use
    // 2.94 s of it when the timer fires at 3160 ms, so a fourth goes; the
    // kernel does the same (tcp_retries2 = 3 on loopback, RTO 204 ms:
    // four RTO retransmissions, then ETIMEDOUT).
    let c = Config {
        data_retries: 3,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(10), syn_ack(None));
    recv(&mut tcb, t(10));
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(10));
    assert_eq!(tcb.rtt().rto(), Duration::from_millis(210));
    for _ in 0..4 {
        let now = tcb.poll_at().unwrap();
        tcb.on_timeout(now);
        assert_eq!(recv(&mut tcb, now).len(), 1);
    }
    let now = tcb.poll_at().unwrap();
    tcb.on_timeout(now);
    assert_eq!(now, t(6520));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn established_retries_are_a_time_budget_not_a_count() {
    // tcp_retries2 = 15 is 924.6 s from the first retransmission
    // (`tcp_model_timeout`: 1023 · 200 ms + 6 · 120 s). An RTO that
    // starts at 3 s (a 1 s RTT) backs off 3, 6, … 96, 120, 120 … s and
    // has used 906 s by its 12th retransmission; at the next firing,
    // 1026 s in, the connection is given up: 12 retransmissions, not 15.
    let mut tcb = syn_sent_with(&cfg());
    send!(tcb, t(1000), syn_ack(None));
    recv(&mut tcb, t(1000));
    assert_eq!(tcb.rtt().rto(), Duration::from_secs(3));
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(1000));
    let mut retransmissions = 0;
    let mut last = t(1000);
    while tcb.state() != State::Closed {
        last = tcb.poll_at().expect("the retransmission timer");
        tcb.on_timeout(last);
        retransmissions += recv(&mut tcb, last).len();
    }
    assert_eq!(retransmissions, 12);
    assert_eq!(last - t(1000), Duration::from_secs(1029));
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn early_on_timeout_is_a_no_op() {
    let mut tcb = established();
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(10));
    tcb.on_timeout(t(11));
    recv_nothing!(tcb, t(11));
    assert_eq!(tcb.stats().retransmit_timeouts, 0);
}

fn established_with(c: &Config) -> Tcb {
    let mut tcb = syn_sent_with(c);
    send!(tcb, t(10), syn_ack(None));
    recv!(tcb, t(10));
    tcb
}

#[test]
fn established_delayed_ack_waits_40ms_for_one_segment() {
    // RFC 1122 §4.2.3.2: an ACK may be delayed, by less than 0.5 s
    // (once the quick ACKs of the start are spent).
    let mut tcb = established_with(&Config::default());
    let base = past_quick_acks(&mut tcb);
    send(
        &mut tcb,
        t(100),
        &seg(r(base), l(0), Flags::ACK | Flags::PSH, b"request"),
    );
    recv_nothing!(tcb, t(100));
    assert_eq!(tcb.poll_at(), Some(t(140)));
    tcb.on_timeout(t(140));
    assert_eq!(recv!(tcb, t(140)).h.ack, r(base + 7));
    assert_eq!(tcb.stats().delayed_acks, 1);
}

#[test]
fn established_small_segment_is_acked_when_the_application_drains_it() {
    // A server that wrote its reply head and body separately holds the body
    // (Nagle, RFC 1122 §4.2.3.4) until the head is ACKed; delaying that ACK
    // for 40 ms would stall every kept-alive request. Like Linux, a short
    // segment is ACKed once the application has read everything.
    let mut tcb = established_with(&Config::default());
    let base = past_quick_acks(&mut tcb);
    send(
        &mut tcb,
        t(100),
        &seg(
            r(base),
            l(0),
            Flags::ACK | Flags::PSH,
            b"HTTP/1.1 200 OK\r\n\r\n",
        ),
    );
    recv_nothing!(tcb, t(100));
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf).unwrap(), 8);
    recv_nothing!(tcb, t(101));
    let mut rest = [0u8; 64];
    assert_eq!(tcb.recv(&mut rest).unwrap(), 11);
    let ack = recv!(tcb, t(102));
    assert_eq!(ack.h.ack, r(base + 19));
    assert_eq!(tcb.poll_at(), None, "the delayed-ACK timer was cancelled");
}

#[test]
fn interactive_requests_are_acked_by_the_response_not_on_drain() {
    // Linux's pingpong mode (tcp_cleanup_rbuf): once our data has left
    // while an ACK of theirs was being delayed, the application answers
    // what it reads, so a drained short request's ACK waits for the
    // answer: one segment per response instead of an ACK and a response.
    let mut tcb = established_with(&Config::default());
    let mut buf = [0u8; 16];
    // First exchange: not yet interactive, so the drain ACKs at once.
    send!(tcb, t(100), seg(r(0), l(0), Flags::ACK | Flags::PSH, b"q1"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    assert_eq!(recv!(tcb, t(100)).h.ack, r(2));
    // A request answered before the delayed ACK is due.
    send!(tcb, t(110), seg(r(2), l(0), Flags::ACK | Flags::PSH, b"q2"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    tcb.send(b"a2").unwrap();
    let a2 = recv!(tcb, t(111));
    assert_eq!((a2.h.ack, a2.payload.as_slice()), (r(4), &b"a2"[..]));
    // Now interactive: draining the next request sends nothing alone ...
    send!(tcb, t(120), seg(r(4), l(2), Flags::ACK | Flags::PSH, b"q3"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    recv_nothing!(tcb, t(121));
    // ... the answer carries the ACK.
    tcb.send(b"a3").unwrap();
    let a3 = recv!(tcb, t(122));
    assert_eq!((a3.h.ack, a3.payload.as_slice()), (r(6), &b"a3"[..]));
    // An answer that does not come in time: the delayed ACK goes out and
    // ends the mode, so the next drain ACKs at once again.
    send!(tcb, t(130), seg(r(6), l(4), Flags::ACK | Flags::PSH, b"q4"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    recv_nothing!(tcb, t(131));
    tcb.on_timeout(t(170));
    assert_eq!(recv!(tcb, t(170)).h.ack, r(8));
    send!(tcb, t(200), seg(r(8), l(4), Flags::ACK | Flags::PSH, b"q5"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    assert_eq!(recv!(tcb, t(200)).h.ack, r(10));
}

#[test]
fn an_answer_after_the_drains_own_ack_still_makes_the_connection_interactive() {
    // Linux's tcp_event_data_sent: data leaving within the delayed-ACK
    // time of the peer's data is an answer, whether or not the request's
    // ACK already left alone (a reader that sends its drain's ACK at once,
    // before the application answers). Without this the first exchange's
    // lone ACK would repeat on every request: two segments per response.
    let mut tcb = established_with(&Config::default());
    let mut buf = [0u8; 16];
    send!(tcb, t(100), seg(r(0), l(0), Flags::ACK | Flags::PSH, b"q1"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    assert_eq!(recv!(tcb, t(100)).h.ack, r(2));
    tcb.send(b"a1").unwrap();
    let a1 = recv!(tcb, t(101));
    assert_eq!((a1.h.ack, a1.payload.as_slice()), (r(2), &b"a1"[..]));
    // Interactive now: the next drained request sends nothing alone ...
    send!(tcb, t(110), seg(r(2), l(2), Flags::ACK | Flags::PSH, b"q2"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    recv_nothing!(tcb, t(110));
    // ... and the answer carries its ACK.
    tcb.send(b"a2").unwrap();
    let a2 = recv!(tcb, t(111));
    assert_eq!((a2.h.ack, a2.payload.as_slice()), (r(4), &b"a2"[..]));
    // Data sent long after the last request is no answer: the mode ends.
    send!(tcb, t(112), seg(r(4), l(4), Flags::ACK, b""));
    recv_nothing!(tcb, t(112));
    tcb.send(b"late").unwrap();
    let late = recv!(tcb, t(500));
    assert_eq!(late.payload.as_slice(), &b"late"[..]);
    send!(tcb, t(501), seg(r(4), l(8), Flags::ACK | Flags::PSH, b"q3"));
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2);
    assert_eq!(recv!(tcb, t(501)).h.ack, r(6));
}

#[test]
fn established_read_without_window_scaling_sends_no_useless_window_update() {
    // RFC 9293 §3.8.6.2.2: a window update must move the right edge. With
    // no window scaling the field tops out at 65535; a 256 KiB buffer read
    // from cannot announce more, so reading sends nothing.
    let mut tcb = established_with(&Config::default());
    let full = vec![1u8; 1460];
    send!(tcb, t(100), seg(r(0), l(0), Flags::ACK, &full));
    send!(tcb, t(101), seg(r(1460), l(0), Flags::ACK, &full));
    assert_eq!(recv!(tcb, t(101)).h.window, 65535);
    let mut buf = vec![0u8; 4096];
    assert_eq!(tcb.recv(&mut buf).unwrap(), 2920);
    recv_nothing!(tcb, t(102));
}

#[test]
fn established_every_second_full_segment_is_acked_at_once() {
    // RFC 5681 §4.2: ACK at least every second full-sized segment. (The
    // first 16 are each ACKed at once, Linux's quick-ACK mode: see
    // receiver.rs.)
    let mut tcb = established_with(&Config::default());
    let full = vec![1u8; 1460];
    let mut buf = vec![0u8; 1460];
    for k in 0..16u32 {
        send!(tcb, t(99), seg(r(k * 1460), l(0), Flags::ACK, &full));
        assert_eq!(recv!(tcb, t(99)).h.ack, r((k + 1) * 1460));
        assert_eq!(tcb.recv(&mut buf).unwrap(), 1460);
    }
    let base = 16 * 1460;
    send!(tcb, t(100), seg(r(base), l(0), Flags::ACK, &full));
    recv_nothing!(tcb, t(100));
    send!(tcb, t(101), seg(r(base + 1460), l(0), Flags::ACK, &full));
    assert_eq!(recv!(tcb, t(101)).h.ack, r(base + 2920));
    assert_eq!(tcb.poll_at(), None, "the delayed-ACK timer was cancelled");
}

#[test]
fn established_delayed_ack_rides_on_response_data() {
    let mut tcb = established_with(&Config::default());
    send(
        &mut tcb,
        t(100),
        &seg(r(0), l(0), Flags::ACK | Flags::PSH, b"ping"),
    );
    tcb.send(b"pong").unwrap();
    let s = recv!(tcb, t(101));
    assert_eq!((s.h.ack, s.payload.as_slice()), (r(4), &b"pong"[..]));
    assert!(!tcb.timers.is_armed(super::super::timers::Timer::DelayedAck));
}

#[test]
fn established_nagle_holds_small_tail_while_small_segment_unacked() {
    // RFC 1122 §4.2.3.4 (Minshall's variant, as Linux).
    let mut tcb = established();
    tcb.send(b"a").unwrap();
    assert_eq!(recv!(tcb, t(20)).payload, b"a");
    tcb.send(b"b").unwrap();
    recv_nothing!(tcb, t(21));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    assert_eq!(recv!(tcb, t(30)).payload, b"b");
}

#[test]
fn established_nodelay_sends_small_segments_at_once() {
    let mut tcb = established();
    tcb.set_nodelay(true);
    assert!(tcb.nodelay());
    tcb.send(b"a").unwrap();
    recv!(tcb, t(20));
    tcb.send(b"b").unwrap();
    assert_eq!(recv!(tcb, t(21)).payload, b"b");
}

#[test]
fn established_keepalive_probes_then_times_out() {
    // RFC 1122 §4.2.3.6: probes after the idle time; a dead peer times out.
    let c = Config {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(1),
        keepalive_probes: 2,
        ..cfg()
    };
    let mut tcb = established_with(&c);
    assert_eq!(tcb.poll_at(), Some(t(10_010)));
    tcb.on_timeout(t(10_010));
    let probe = recv!(tcb, t(10_010));
    assert_eq!((probe.h.seq, probe.payload.len()), (l(0) - 1u32, 0));
    // The peer answers: idle clock restarts, probe count resets.
    send!(tcb, t(10_020), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.poll_at(), Some(t(20_020)));
    for at in [20_020, 21_020] {
        tcb.on_timeout(t(at));
        recv!(tcb, t(at));
    }
    tcb.on_timeout(t(22_020));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
    assert_eq!(tcb.stats().keepalive_probes, 3);
    // Linux `tcp_keepalive_timer` resets the dead connection
    // (`tcp_send_active_reset`: SEQ = SND.NXT).
    let rst = recv!(tcb, t(22_020));
    assert_eq!((rst.h.flags, rst.h.seq), (Flags::RST | Flags::ACK, l(0)));
}

#[test]
fn keepalive_with_a_user_timeout_gives_up_by_the_peers_silence() {
    // Linux `tcp_keepalive_timer` with TCP_USER_TIMEOUT: once a probe is
    // out, the connection ends when the peer has been silent for the
    // user timeout, however many probes the count allows.
    let c = Config {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(1),
        keepalive_probes: 9,
        user_timeout: Some(Duration::from_millis(12_500)),
        ..cfg()
    };
    let mut tcb = established_with(&c);
    for at in [10_010, 11_010, 12_010] {
        tcb.on_timeout(t(at));
        assert_eq!(recv!(tcb, t(at)).h.seq, l(0) - 1u32, "probe at {at}");
    }
    tcb.on_timeout(t(13_010));
    assert_eq!(tcb.state(), State::Closed);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
    assert_eq!(recv!(tcb, t(13_010)).h.flags, Flags::RST | Flags::ACK);
}

#[test]
fn keepalive_of_zero_is_taken_as_one_second_and_never_re_arms_at_once() {
    // A zero idle time or interval (a hostile or careless setting) would
    // re-arm the timer at the instant it fired, with data waiting or after
    // a probe, and spin whoever drives the timers; Linux takes both from
    // 1 s up.
    let c = Config {
        keepalive_interval: Duration::ZERO,
        ..cfg()
    };
    let mut tcb = established_with(&c);
    tcb.send(b"waiting").unwrap();
    recv!(tcb, t(20));
    tcb.set_keepalive(Some(Duration::ZERO), t(30));
    tcb.on_timeout(t(30));
    let next = tcb.poll_at().unwrap();
    assert!(next > t(30), "a timer still due at {next}");
    // Nothing waits any more: after the idle time a probe, then the next
    // one an interval (1 s) later.
    send!(tcb, t(40), seg(r(0), l(7), Flags::ACK, b""));
    assert_eq!(tcb.poll_at(), Some(t(1_040)));
    tcb.on_timeout(t(1_040));
    let probe = recv!(tcb, t(1_040));
    assert_eq!(probe.payload.len(), 0);
    assert_eq!(tcb.poll_at(), Some(t(2_040)));
}

#[test]
fn syn_received_ack_arms_keepalive_as_an_active_open_does() {
    // A passive connection whose peer goes silent right after the
    // handshake is probed after the idle time, like an active one.
    let c = Config {
        keepalive: Some(Duration::from_secs(10)),
        ..cfg()
    };
    let mut tcb = Tcb::accept(&c, LOCAL, REMOTE, LOCAL_ISS, &remote_syn().view(), t(0));
    recv!(tcb, t(0));
    send!(tcb, t(5), seg(r(0), l(0), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.poll_at(), Some(t(10_005)));
    tcb.on_timeout(t(10_005));
    let probe = recv!(tcb, t(10_005));
    assert_eq!((probe.h.seq, probe.payload.len()), (l(0) - 1u32, 0));
    assert_eq!(tcb.stats().keepalive_probes, 1);
}

#[test]
fn established_user_timeout_fails_unacknowledged_data() {
    // RFC 9293 §3.10.8 USER TIMEOUT.
    let c = Config {
        user_timeout: Some(Duration::from_secs(2)),
        ..cfg()
    };
    let mut tcb = established_with(&c);
    tcb.send(b"never acked").unwrap();
    recv(&mut tcb, t(100));
    let mut now = t(100);
    while tcb.state() != State::Closed {
        now = tcb.poll_at().expect("a timer is always armed");
        tcb.on_timeout(now);
        recv(&mut tcb, now);
    }
    assert_eq!(now, t(2100));
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn rto_backoff_is_capped_at_max_rto() {
    // RFC 6298 §5.5 with a 120 s maximum (Linux TCP_RTO_MAX).
    let c = Config {
        data_retries: 30,
        ..cfg()
    };
    let mut tcb = established_with(&c);
    tcb.send(b"x").unwrap();
    recv(&mut tcb, t(20));
    let mut last = t(20);
    let mut gap = Duration::ZERO;
    for _ in 0..12 {
        let at = tcb.poll_at().unwrap();
        gap = at - last;
        last = at;
        tcb.on_timeout(at);
        recv(&mut tcb, at);
    }
    assert_eq!(gap, Duration::from_secs(120));
}

#[test]
fn keepalive_is_off_by_default() {
    let tcb = established();
    assert_eq!(tcb.poll_at(), None, "an idle connection arms no timer");
}

#[test]
fn persist_probes_back_off() {
    let mut tcb = established();
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z);
    tcb.send(b"queued").unwrap();
    recv_nothing!(tcb, t(12));
    let first = tcb.poll_at().unwrap();
    tcb.on_timeout(first);
    recv!(tcb, first);
    let second = tcb.poll_at().unwrap();
    assert!(second - first > first - t(12), "the probe interval grows");
}

#[test]
fn persist_zero_window_forever_ends_with_the_user_timeout() {
    // RFC 9293 §3.8.6.1: probing goes on while the peer answers, so a peer
    // that keeps its window shut forever is bounded only by the user
    // timeout (RFC 5482; Linux applies TCP_USER_TIMEOUT to probing too).
    let c = Config {
        user_timeout: Some(Duration::from_secs(5)),
        ..cfg()
    };
    let mut tcb = established_with(&c);
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z.clone());
    tcb.send(b"queued behind a closed window").unwrap();
    recv_nothing!(tcb, t(12));
    let mut probes = 0;
    while tcb.state() != State::Closed {
        let now = tcb.poll_at().expect("the persist or user timer is armed");
        assert!(now <= t(12 + 5_000 + 1_000), "bounded: {now:?}");
        tcb.on_timeout(now);
        if !recv(&mut tcb, now).is_empty() {
            probes += 1;
            // The peer answers every probe, window still zero.
            send!(tcb, now, z.clone());
        }
    }
    assert!(probes >= 2, "{probes} probes");
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn persist_probing_goes_on_while_the_peer_answers_then_data_flows() {
    // RFC 9293 §3.8.6.1: a closed window is probed for as long as the
    // receiver keeps answering; when it opens, the queued data goes out.
    let mut tcb = established_with(&cfg());
    let mut z = seg(r(0), l(0), Flags::ACK, b"");
    z.h.window = 0;
    send!(tcb, t(11), z.clone());
    tcb.send(b"patience").unwrap();
    recv_nothing!(tcb, t(12));
    let mut now = t(12);
    let mut probes = 0;
    while probes < 25 {
        now = tcb.poll_at().expect("probing never stops");
        tcb.on_timeout(now);
        let out = recv(&mut tcb, now);
        if !out.is_empty() {
            assert_eq!(
                (out[0].h.seq, out[0].payload.len()),
                (l(0) - 1u32, 0),
                "a probe is a bare ACK at SND.UNA - 1"
            );
            probes += 1;
            send!(tcb, now, z.clone());
        }
    }
    assert_eq!(
        tcb.state(),
        State::Established,
        "alive after {probes} probes"
    );
    let mut open = seg(r(0), l(0), Flags::ACK, b"");
    open.h.window = 65535;
    send!(tcb, now, open);
    let data = recv!(tcb, now);
    assert_eq!(data.payload, b"patience");
}

#[test]
fn time_wait_duration_is_configurable() {
    let c = Config {
        time_wait: Duration::from_secs(5),
        ..cfg()
    };
    let mut tcb = established_with(&c);
    tcb.close();
    recv(&mut tcb, t(20));
    send!(tcb, t(21), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    assert_eq!(tcb.poll_at(), Some(t(5021)));
}

#[test]
fn syn_retries_default_give_up_after_about_two_minutes() {
    // Linux: 6 retries, 1+2+4+8+16+32+64 = 127 s.
    let mut tcb = syn_sent_with(&Config::default());
    let mut last = t(0);
    while tcb.state() == State::SynSent {
        last = tcb.poll_at().expect("retransmission timer");
        tcb.on_timeout(last);
        recv(&mut tcb, last);
    }
    assert_eq!(last, t(127_000));
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn retransmit_timer_restarts_on_each_new_ack() {
    // RFC 6298 §5.3.
    let mut tcb = established();
    tcb.send(&[1u8; 4000]).unwrap();
    recv(&mut tcb, t(20));
    assert_eq!(tcb.poll_at(), Some(t(230)));
    send!(tcb, t(100), seg(r(0), l(1460), Flags::ACK, b""));
    assert_eq!(tcb.poll_at(), Some(t(100) + tcb.rtt().rto()));
}

#[test]
fn user_timeout_is_not_armed_while_idle() {
    let c = Config {
        user_timeout: Some(Duration::from_secs(1)),
        ..cfg()
    };
    let tcb = established_with(&c);
    assert_eq!(tcb.poll_at(), None);
}

#[test]
fn keepalive_answer_resets_the_probe_count() {
    let c = Config {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(1),
        keepalive_probes: 2,
        ..cfg()
    };
    let mut tcb = established_with(&c);
    for round in 0..3u64 {
        let at = tcb.poll_at().unwrap();
        tcb.on_timeout(at);
        recv!(tcb, at);
        send!(
            tcb,
            at + Duration::from_millis(1),
            seg(r(0), l(0), Flags::ACK, b"")
        );
        assert_eq!(tcb.state(), State::Established, "round {round}");
    }
}

/// ESTABLISHED with `data_retries` 3 (a budget of (2^4 − 1) · 200 ms =
/// 3 s) and the RTO at 210 ms; five full segments sent at t=10.
fn five_segments_out_with_three_retries() -> Tcb {
    let c = Config {
        data_retries: 3,
        ..cfg()
    };
    let mut tcb = established_with(&c);
    tcb.set_nodelay(true);
    for _ in 0..5 {
        tcb.send(&[7; 1460]).unwrap();
        assert_eq!(recv(&mut tcb, t(10)).len(), 1);
    }
    assert_eq!(tcb.rtt().rto(), Duration::from_millis(210));
    tcb
}

/// Fires the retransmission timer until the connection closes; the
/// firing times.
fn fire_until_closed(tcb: &mut Tcb) -> Vec<Instant> {
    let mut fired = Vec::new();
    while tcb.state() != State::Closed {
        let now = tcb.poll_at().expect("the retransmission timer");
        tcb.on_timeout(now);
        recv(tcb, now);
        fired.push(now);
        assert!(fired.len() < 20, "never gave up: {fired:?}");
    }
    fired
}

#[test]
fn established_retry_budget_starts_at_a_fast_retransmit() {
    // Linux `tcp_retransmit_skb` stamps `retrans_stamp` at the first
    // retransmission of any kind, and `retransmits_timed_out` measures
    // the budget from it. The fast retransmit at 20 ms starts the 3 s:
    // the RTOs fire at 230, 650, 1490 and 3170 ms, and at 3170 ms
    // (3150 ms after the fast retransmit) the connection is given up.
    // Counted from the first RTO (230 ms) only 2940 ms would have passed
    // and a fourth RTO retransmission would go.
    let mut tcb = five_segments_out_with_three_retries();
    for _ in 0..3 {
        send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b""));
    }
    let fast = recv!(tcb, t(20));
    assert_eq!((fast.h.seq, fast.payload.len()), (l(0), 1460));
    let fired = fire_until_closed(&mut tcb);
    assert_eq!(fired, vec![t(230), t(650), t(1490), t(3170)]);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn established_retry_budget_survives_a_partial_ack_in_loss() {
    // A partial ACK after an RTO resets the count (`icsk_retransmits`)
    // but not `retrans_stamp`: Linux is still in CA_Loss until SND.UNA
    // passes what was outstanding when the timer fired. The first RTO
    // retransmission (220 ms) starts the clock; the ACK of its segment
    // at 300 ms lets the go-back-N retransmission of the second go and
    // restarts the timer (RTO still backed off: 420 ms); the RTOs at
    // 720, 1560 and 3240 ms follow, and at 3240 ms (3020 ms after the
    // first retransmission) the connection is given up. Restarting the
    // clock at the RTO after the partial ACK (720 ms) would allow 2520 ms
    // only and one more retransmission.
    let mut tcb = five_segments_out_with_three_retries();
    tcb.on_timeout(t(220));
    let first = recv!(tcb, t(220));
    assert_eq!(first.h.seq, l(0));
    send!(tcb, t(300), seg(r(0), l(1460), Flags::ACK, b""));
    let next = recv(&mut tcb, t(300));
    assert_eq!(next.first().map(|s| s.h.seq), Some(l(1460)));
    let fired = fire_until_closed(&mut tcb);
    assert_eq!(fired, vec![t(720), t(1560), t(3240)]);
    assert_eq!(tcb.error(), Some(ConnectionError::TimedOut));
}

#[test]
fn established_retry_budget_starts_afresh_after_recovery_ends() {
    // Once everything retransmitted is acknowledged and recovery is
    // over, Linux clears `retrans_stamp` (`tcp_try_to_open`): a later
    // loss gets the whole budget from its own first retransmission.
    let mut tcb = five_segments_out_with_three_retries();
    for _ in 0..3 {
        send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b""));
    }
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(5 * 1460), Flags::ACK, b""));
    assert_eq!(tcb.poll_at(), None);
    tcb.send(&[8; 100]).unwrap();
    recv!(tcb, t(5000));
    let rto = tcb.rtt().rto().as_millis() as u64;
    let fired = fire_until_closed(&mut tcb);
    // Budget from the first RTO retransmission at 5000 + RTO: four
    // retransmissions, closed at the fifth firing.
    let first = t(5000 + rto);
    assert_eq!(fired.first(), Some(&first));
    assert_eq!(fired.len(), 5);
    assert!(fired[3] - first < Duration::from_millis(3000));
    assert!(fired[4] - first >= Duration::from_millis(3000));
}

#[test]
fn rack_retransmission_of_the_head_restarts_the_rto() {
    // Linux `tcp_xmit_retransmit_queue`: resending the first segment in
    // recovery re-arms the retransmission timer a full RTO from then, as
    // a fast retransmit does; otherwise the timeout would fire an RTO
    // after the original transmission and the retry budget, counted from
    // the head's first retransmission, would see one firing more.
    let (mut tcb, out) = super::recovery::sack_conn(Algorithm::Cubic, 10);
    let mss = super::recovery::MSS;
    send!(
        tcb,
        t(30),
        super::recovery::sack_ack(0, &[super::recovery::segment(10)])
    );
    recv_nothing!(tcb, t(30));
    let at = tcb
        .timers
        .get(Timer::Reorder)
        .expect("the reordering timer");
    tcb.on_timeout(at);
    let rtx = recv(&mut tcb, at);
    assert_eq!(rtx.first().map(|s| s.h.seq), Some(l(0)));
    assert_eq!(rtx[0].payload, out[0].payload);
    assert_eq!(rtx[0].payload.len(), mss as usize);
    assert_eq!(
        tcb.timers.get(Timer::Retransmit),
        Some(at + tcb.rtt().rto())
    );
}

#[test]
fn delayed_ack_timeout_doubles_when_the_timer_sends_it_up_to_the_srtt() {
    // Linux `tcp_delack_timer_handler` doubles the delayed-ACK timeout
    // (ato) each time the timer has to send the ACK of a connection that
    // is not interactive; `tcp_send_delayed_ack` caps it at the smoothed
    // RTT (here 100 ms, from the handshake), and gaps between the peer's
    // segments longer than ato leave it (`tcp_event_data_recv`). Short
    // segments every 200 ms are ACKed 40, 80, then 100 ms after arrival.
    let mut tcb = Tcb::connect(&Config::default(), LOCAL, REMOTE, LOCAL_ISS);
    recv_one(&mut tcb, t(0));
    send(&mut tcb, t(100), &syn_ack(None));
    recv_one(&mut tcb, t(100));
    let full = vec![1u8; 1460];
    let mut buf = vec![0u8; 1460];
    for k in 0..16u32 {
        send!(tcb, t(200), seg(r(k * 1460), l(0), Flags::ACK, &full));
        assert_eq!(recv!(tcb, t(200)).h.ack, r((k + 1) * 1460));
        assert_eq!(tcb.recv(&mut buf).unwrap(), 1460);
    }
    let mut next = 16 * 1460;
    for (k, delay) in [40u64, 80, 100, 100].into_iter().enumerate() {
        let at = 300 + 200 * k as u64;
        send!(
            tcb,
            t(at),
            seg(r(next), l(0), Flags::ACK | Flags::PSH, b"tick")
        );
        next += 4;
        recv_nothing!(tcb, t(at));
        assert_eq!(tcb.poll_at(), Some(t(at + delay)), "ACK {k}");
        tcb.on_timeout(t(at + delay));
        assert_eq!(recv!(tcb, t(at + delay)).h.ack, r(next));
    }
}
