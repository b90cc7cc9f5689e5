//! Loss detection and recovery through the connection: RACK-TLP
//! (RFC 8985), PRR (RFC 6937), and one window reduction per recovery
//! episode (RFC 6675 §5, RFC 6582 §3.2).

use super::*;
use crate::tcp::timers::Timer;

pub(super) const MSS: u32 = 1460;

/// ESTABLISHED with SACK (no timestamps) at t=10 ms, SRTT 10 ms, with
/// `segments` full segments queued; the initial window (10) sent at t=20.
pub(super) fn sack_conn(congestion: Algorithm, segments: u32) -> (Tcb, Vec<Seg>) {
    let c = Config {
        congestion,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    let data: Vec<u8> = (0..segments * MSS).map(|i| (i % 251) as u8).collect();
    assert_eq!(tcb.send(&data), Ok(data.len()));
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    (tcb, out)
}

/// An ACK of `ack` (bytes after ISS+1) with SACK blocks in bytes.
pub(super) fn sack_ack(ack: u32, blocks: &[(u32, u32)]) -> Seg {
    let mut s = seg(r(0), l(ack), Flags::ACK, b"");
    for (slot, &(a, b)) in s.h.options.sack_blocks.iter_mut().zip(blocks) {
        *slot = Some((l(a), l(b)));
    }
    s
}

/// Segment `k` (1-based) as a byte range.
pub(super) fn segment(k: u32) -> (u32, u32) {
    ((k - 1) * MSS, k * MSS)
}

pub(super) fn seqs(out: &[Seg]) -> Vec<SeqNumber> {
    out.iter().map(|s| s.h.seq).collect()
}

#[test]
fn established_tail_loss_is_recovered_by_a_probe_without_rto() {
    // RFC 8985 §7: segments 9 and 10 of 10 are lost; nothing more comes
    // back. After PTO = 2·SRTT (+2 ms) the last segment is probed, its SACK
    // lets RACK mark segment 9 lost (§6.2), and fast recovery repairs it.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    send!(tcb, t(30), sack_ack(8 * MSS, &[]));
    recv_nothing!(tcb, t(30));
    let pto = tcb.poll_at().unwrap();
    assert_eq!(tcb.timers.get(Timer::LossProbe), Some(pto));
    assert_eq!(pto, t(30) + Duration::from_millis(22), "2·SRTT + 2 ms");
    assert!(pto < tcb.timers.get(Timer::Retransmit).unwrap());
    tcb.on_timeout(pto);
    let probe = recv!(tcb, pto);
    assert_eq!(probe.h.seq, l(9 * MSS), "the last segment again");
    assert_eq!(probe.payload, out[9].payload);
    assert_eq!(tcb.stats().tail_loss_probes, 1);
    let at = pto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(8 * MSS, &[segment(10)]));
    let rtx = recv(&mut tcb, at);
    assert_eq!(seqs(&rtx), vec![l(8 * MSS)], "RACK: sent before the probe");
    assert_eq!(rtx[0].payload, out[8].payload);
    send!(tcb, at + Duration::from_millis(10), sack_ack(10 * MSS, &[]));
    let s = tcb.stats();
    assert_eq!(s.retransmit_timeouts, 0);
    assert_eq!((s.rack_lost, s.cwnd_reductions), (1, 1));
    assert_eq!(tcb.send_queue(), 0);
    assert_eq!(tcb.poll_at(), None, "no timer left");
}

#[test]
fn probe_with_only_our_fin_unsent_is_the_bare_fin() {
    // The ACKs stop with the whole tail in flight and the application
    // closes just as the PTO fires: the FIN is new data, so the probe is
    // the FIN alone, as Linux sends its FIN skb as the send head. It was
    // the last segment again with the FIN on it, then the FIN by itself:
    // both bytes and the FIN twice, which the peer reports as a D-SACK.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    send!(tcb, t(30), sack_ack(8 * MSS, &[]));
    recv_nothing!(tcb, t(30));
    let pto = tcb.poll_at().unwrap();
    tcb.close();
    tcb.on_timeout(pto);
    let sent = recv(&mut tcb, pto);
    assert_eq!(sent.len(), 1, "one probe: {:?}", seqs(&sent));
    let probe = &sent[0];
    assert_eq!(probe.h.seq, l(10 * MSS), "at SND.NXT, not resent");
    assert!(probe.h.flags.contains(Flags::FIN) && probe.payload.is_empty());
    let s = tcb.stats();
    assert_eq!((s.tail_loss_probes, s.retransmits), (1, 0));
    assert_eq!(out.len(), 10);
}

#[test]
fn probe_resending_the_last_segment_leaves_an_unsent_fin_off_it() {
    // The last segment again (no new data, the FIN already sent) carries
    // the FIN only because it was sent with it: the retransmission is
    // exactly what went before.
    let (mut tcb, _out) = sack_conn(Algorithm::Cubic, 10);
    tcb.close();
    let fin = recv(&mut tcb, t(21));
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].h.seq, l(10 * MSS));
    assert!(fin[0].h.flags.contains(Flags::FIN));
    send!(tcb, t(30), sack_ack(8 * MSS, &[]));
    recv_nothing!(tcb, t(30));
    let pto = tcb.poll_at().unwrap();
    tcb.on_timeout(pto);
    let probe = recv!(tcb, pto);
    assert_eq!(probe.h.seq, l(10 * MSS), "the last segment sent: the FIN");
    assert!(probe.h.flags.contains(Flags::FIN) && probe.payload.is_empty());
    assert_eq!(tcb.stats().retransmits, 1);
}

#[test]
fn established_probe_sends_new_data_when_the_window_allows() {
    // RFC 8985 §7.3: with unsent data and room in the peer's window, the
    // probe is one new segment, beyond cwnd.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let pto = tcb.timers.get(Timer::LossProbe).unwrap();
    assert_eq!(
        pto,
        t(20) + Duration::from_millis(22),
        "2·SRTT (handshake) + 2 ms"
    );
    tcb.on_timeout(pto);
    let probe = recv!(tcb, pto);
    assert_eq!(probe.h.seq, l(10 * MSS), "new data");
    assert_eq!(probe.payload.len(), MSS as usize);
    recv_nothing!(tcb, pto);
}

#[test]
fn established_lost_retransmission_is_detected_by_rack() {
    // RFC 8985 §6.2 step 5 (and its §2.2 motivation): segment 1 is lost,
    // and so is its retransmission. A segment sent after that
    // retransmission is SACKed one RACK.rtt later, so the retransmission
    // is lost too: resent again, without waiting for the RTO.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 30);
    for k in 2..=4 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    assert_eq!(seqs(&recv(&mut tcb, t(30))), vec![l(0)], "fast retransmit");
    // SACKs for 5..=10 arrive; PRR lets new data out.
    let mut first_new = None;
    for k in 5..=10u32 {
        let now = t(26 + u64::from(k));
        send!(tcb, now, sack_ack(0, &[(MSS, k * MSS)]));
        for s in recv(&mut tcb, now) {
            assert!(
                s.h.seq.diff(l(10 * MSS)) >= 0,
                "only new data: {:?}",
                s.h.seq
            );
            first_new.get_or_insert((s.h.seq, now));
        }
    }
    let (new_seq, sent_at) = first_new.expect("PRR sent new data");
    assert_eq!((new_seq, sent_at), (l(10 * MSS), t(31)));
    let at = sent_at + Duration::from_millis(10);
    let mut s = sack_ack(0, &[(10 * MSS, 11 * MSS), (MSS, 10 * MSS)]);
    s.h.seq = r(0);
    send!(tcb, at, s);
    let rtx = recv(&mut tcb, at);
    assert_eq!(
        seqs(&rtx).first(),
        Some(&l(0)),
        "resent again: {:?}",
        seqs(&rtx)
    );
    assert_eq!(rtx[0].payload, out[0].payload);
    let st = tcb.stats();
    assert_eq!(st.lost_retransmits, 1);
    assert_eq!(st.retransmit_timeouts, 0);
    assert_eq!(
        st.cwnd_reductions, 1,
        "still the same episode: no second reduction"
    );
}

#[test]
fn established_reordering_within_the_window_is_not_marked_lost() {
    // RFC 8985 §6.2 steps 3–4: once reordering has been seen, the
    // reordering window (min_RTT/4) tolerates even more than DupThresh
    // segments arriving ahead of a late one — where RFC 6675's DupThresh
    // rule alone would have retransmitted.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 40);
    // Round 1: segment 1 arrives after segment 2.
    send!(tcb, t(30), sack_ack(0, &[segment(2)]));
    recv_nothing!(tcb, t(30));
    assert!(
        tcb.timers.is_armed(Timer::Reorder),
        "RFC 8985 §6.3 timer armed"
    );
    send!(tcb, t(31), sack_ack(10 * MSS, &[]));
    assert_eq!(tcb.stats().reordering_seen, 1);
    assert!(!tcb.timers.is_armed(Timer::Reorder));
    let round2 = recv(&mut tcb, t(31));
    assert!(round2.len() >= 4);
    // Round 2: the first segment of the round arrives after four others.
    let base = 10 * MSS;
    for k in 2..=5 {
        send!(tcb, t(41), sack_ack(base, &[(base + MSS, base + k * MSS)]));
    }
    let out = recv(&mut tcb, t(41));
    assert!(
        out.iter()
            .all(|s| s.h.seq.diff(l(base + 20 * MSS)) >= 0 || s.h.seq != l(base)),
        "nothing resent: {:?}",
        seqs(&out)
    );
    let deadline = tcb
        .timers
        .get(Timer::Reorder)
        .expect("waiting out the window");
    assert!(deadline > t(41));
    send!(tcb, t(42), sack_ack(base + 5 * MSS, &[]));
    let s = tcb.stats();
    assert_eq!(
        (s.fast_retransmits, s.sack_recoveries, s.rack_lost),
        (0, 0, 0)
    );
    assert_eq!(s.retransmits, 0);
    assert!(!tcb.timers.is_armed(Timer::Reorder));
}

#[test]
fn established_lost_last_retransmission_with_nothing_new_waits_for_the_rto() {
    // The tail of a transfer: all ten segments are sent and nothing new is
    // left. Segment 1 is lost, 2–10 are SACKed, and its fast
    // retransmission is lost too. Nothing sent after that retransmission
    // can be delivered, so RACK has nothing to compare it with (RFC 8985
    // §6.2 marks a segment lost only once one sent later is delivered; no
    // reordering timer is armed), and no loss probe is scheduled during
    // recovery: Linux's `tcp_schedule_loss_probe` probes only in the Open
    // and CWR states. As on Linux, the RTO repairs it.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    for k in 3..=10 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    let rtx = recv(&mut tcb, t(30));
    assert_eq!(seqs(&rtx), vec![l(0)], "fast retransmit of the only hole");
    assert_eq!(tcb.stats().sack_recoveries, 1);
    // The retransmission is lost: no ACK comes back.
    recv_nothing!(tcb, t(30));
    assert_eq!(
        tcb.timers.get(Timer::LossProbe),
        None,
        "no probe in recovery"
    );
    assert_eq!(tcb.timers.get(Timer::Reorder), None, "nothing sent later");
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    assert_eq!(tcb.poll_at(), Some(rto), "the RTO is the next event");
    assert!(
        rto >= t(30) + Duration::from_millis(200),
        "SRTT + max(4·RTTVAR, 200 ms) from the retransmission: {rto:?}"
    );
    tcb.on_timeout(rto);
    let again = recv(&mut tcb, rto);
    assert_eq!(seqs(&again), vec![l(0)], "only the hole, SACKs kept");
    assert_eq!(again[0].payload, out[0].payload);
    let s = tcb.stats();
    assert_eq!((s.retransmit_timeouts, s.tail_loss_probes), (1, 0));
    send!(
        tcb,
        rto + Duration::from_millis(10),
        sack_ack(10 * MSS, &[])
    );
    assert_eq!(tcb.send_queue(), 0);
}

#[test]
fn established_lost_retransmission_at_the_tail_is_found_by_a_later_one() {
    // The tail again, with two holes: segments 1 and 9 of 10 are lost,
    // both resent at once, 1 first. The retransmission of 1 is lost, that
    // of 9 arrives: it was sent after 1's, so once it is SACKed RACK marks
    // 1's retransmission lost after RACK.rtt + reo_wnd (RFC 8985 §6.2
    // step 5, §6.3) — no RTO.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    let (s9, e9) = segment(9);
    for k in 3..=8 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    send!(tcb, t(30), sack_ack(0, &[(e9, 10 * MSS), (MSS, 8 * MSS)]));
    assert_eq!(
        seqs(&recv(&mut tcb, t(30))),
        vec![l(0), l(s9)],
        "both holes"
    );
    // 9's retransmission is SACKed one RTT later; 1's never arrives.
    let acked = t(40);
    send!(tcb, acked, sack_ack(0, &[(MSS, 10 * MSS)]));
    let mut resent = recv(&mut tcb, acked);
    if resent.is_empty() {
        let at = tcb.timers.get(Timer::Reorder).expect("reordering timer");
        assert!(at < tcb.timers.get(Timer::Retransmit).expect("RTO armed"));
        tcb.on_timeout(at);
        resent = recv(&mut tcb, at);
    }
    assert_eq!(seqs(&resent), vec![l(0)], "1 resent again");
    assert_eq!(resent[0].payload, out[0].payload);
    let st = tcb.stats();
    assert_eq!((st.lost_retransmits, st.retransmit_timeouts), (1, 0));
}

#[test]
fn established_sacked_retransmission_with_an_old_echo_still_advances_rack() {
    // The same tail with timestamps. The receiver echoes the segment that
    // last advanced its left edge (RFC 7323 §4.3): with segment 1 missing,
    // every ACK echoes the handshake's timestamp, older than any
    // retransmission. That echo says nothing about a segment SACKed above
    // the hole, so the SACK of 9's retransmission still advances RACK (as
    // Linux's `tcp_rack_advance`, which tests only RACK.min_RTT), and 1's
    // lost retransmission is found without an RTO.
    let c = Config {
        congestion: Algorithm::Cubic,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    sa.h.options.timestamp = Some((1000, tcb.ts_val(t(0))));
    send!(tcb, t(10), sa);
    let hs = recv!(tcb, t(10));
    let (echo, _) = hs.h.options.timestamp.expect("timestamps on");
    // Ten full segments, each 12 bytes short of the MSS for the option.
    let d = MSS - 12;
    let data: Vec<u8> = (0..10 * d).map(|i| (i % 251) as u8).collect();
    assert_eq!(tcb.send(&data), Ok(data.len()));
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    assert_eq!(out[0].payload.len(), d as usize);
    let ack = |at: u64, blocks: &[(u32, u32)]| {
        let mut a = sack_ack(0, blocks);
        a.h.options.timestamp = Some((1000 + at as u32, echo));
        a
    };
    for k in 3..=8 {
        send!(tcb, t(30), ack(30, &[(d, k * d)]));
    }
    send!(tcb, t(30), ack(30, &[(9 * d, 10 * d), (d, 8 * d)]));
    let rtx = recv(&mut tcb, t(30));
    assert_eq!(seqs(&rtx), vec![l(0), l(8 * d)], "both holes");
    send!(tcb, t(40), ack(40, &[(d, 10 * d)]));
    let mut resent = recv(&mut tcb, t(40));
    if resent.is_empty() {
        let at = tcb.timers.get(Timer::Reorder).expect("reordering timer");
        assert!(at < tcb.timers.get(Timer::Retransmit).expect("RTO armed"));
        tcb.on_timeout(at);
        resent = recv(&mut tcb, at);
    }
    assert_eq!(seqs(&resent), vec![l(0)], "1 resent again");
    assert_eq!(resent[0].payload, out[0].payload);
    let st = tcb.stats();
    assert_eq!((st.lost_retransmits, st.retransmit_timeouts), (1, 0));
}

#[test]
fn established_reorder_timer_marks_a_loss_the_acks_alone_do_not() {
    // RFC 8985 §6.3: one segment SACKed above a hole is not enough for
    // DupThresh; the reordering timer fires after RACK.rtt + min_RTT/4
    // and the hole is resent.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    send!(tcb, t(30), sack_ack(8 * MSS, &[segment(10)]));
    recv_nothing!(tcb, t(30));
    let at = tcb.timers.get(Timer::Reorder).unwrap();
    assert_eq!(
        at,
        t(20) + Duration::from_micros(10_000 + 2_500),
        "xmit + RACK.rtt + min_RTT/4"
    );
    assert_eq!(tcb.poll_at(), Some(at));
    tcb.on_timeout(at);
    let rtx = recv(&mut tcb, at);
    assert_eq!(seqs(&rtx), vec![l(8 * MSS)]);
    assert_eq!(rtx[0].payload, out[8].payload);
    let s = tcb.stats();
    assert_eq!(
        (s.reorder_timeouts, s.rack_lost, s.sack_recoveries),
        (1, 1, 1)
    );
}

#[test]
fn established_prr_paces_recovery_by_deliveries() {
    // RFC 6937 §3: NewReno halves (ssthresh 5 segments of 10 in flight).
    // While pipe > ssthresh, PRR sends ceil(delivered·ssthresh/RecoverFS)
    // − prr_out; once pipe ≤ ssthresh, PRR-SSRB sends at most what was
    // delivered (+1 MSS) up to ssthresh. Segments sent per SACK, from the
    // one that starts recovery (segment 4's) to segment 10's:
    let (mut tcb, _) = sack_conn(Algorithm::NewReno, 30);
    send!(tcb, t(30), sack_ack(0, &[segment(2)]));
    send!(tcb, t(30), sack_ack(0, &[(MSS, 3 * MSS)]));
    recv_nothing!(tcb, t(30));
    let mut per_ack = Vec::new();
    for k in 4..=10u32 {
        let now = t(27 + u64::from(k));
        send!(tcb, now, sack_ack(0, &[(MSS, k * MSS)]));
        per_ack.push(recv(&mut tcb, now).len());
    }
    assert_eq!(tcb.loss.cc.ssthresh(), 5 * MSS as usize);
    assert_eq!(per_ack, vec![1, 0, 0, 1, 1, 1, 1]);
    // The full ACK ends recovery with cwnd = ssthresh (RFC 6937 §3).
    let end = 10 * MSS;
    send!(tcb, t(50), sack_ack(end + 4 * MSS, &[]));
    assert!(tcb.loss.recover.is_none());
    assert!(tcb.cwnd() <= 5 * MSS as usize);
}

#[test]
fn established_recovery_ends_at_ssthresh_whatever_the_flight() {
    // Linux's tcp_end_cwnd_reduction (RFC 6582 §3.2 step 5, option 2):
    // the ACK that ends recovery sets cwnd = ssthresh. Here it
    // acknowledges everything, so the flight is empty; option 1,
    // min(ssthresh, FlightSize + SMSS), would leave one segment.
    let (mut tcb, _) = sack_conn(Algorithm::NewReno, 10);
    for k in 3..=10 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    let resent = recv(&mut tcb, t(30));
    assert_eq!(seqs(&resent), vec![l(0)], "segment 1 resent");
    let ssthresh = tcb.loss.cc.ssthresh();
    assert_eq!(ssthresh, 5 * MSS as usize, "NewReno halves 10 segments");
    send!(tcb, t(40), sack_ack(10 * MSS, &[]));
    assert!(tcb.loss.recover.is_none());
    assert_eq!(tcb.flight_size(), 0);
    assert_eq!(tcb.cwnd(), ssthresh);
    let s = tcb.stats();
    assert_eq!((s.cwnd_reductions, s.retransmit_timeouts), (1, 0));
}

/// Grows a SACK connection's window by slow start to 80 segments
/// (rounds of 10, 20, 40 each fully acknowledged); the flight of 80
/// segments (70..150) is sent at t(50).
fn eighty_in_flight() -> Tcb {
    // A send buffer and a peer window (scale 4: 1 MB) for 150 segments.
    let c = Config {
        congestion: Algorithm::NewReno,
        send_buffer: 256 * 1024,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    let mut sa = syn_ack(Some(4));
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    let data = vec![7u8; 150 * MSS as usize];
    assert_eq!(tcb.send(&data), Ok(data.len()));
    let mut out = recv(&mut tcb, t(20));
    let mut acked = 0;
    for (round, at) in [(10, 30), (20, 40), (40, 50)] {
        assert_eq!(out.len(), round);
        for _ in 0..round {
            acked += MSS;
            send!(tcb, t(at), sack_ack(acked, &[]));
        }
        out = recv(&mut tcb, t(at));
    }
    assert_eq!(out.len(), 80);
    tcb
}

#[test]
fn established_sacks_of_many_holes_are_all_kept() {
    // Every other segment of an 80-segment flight is lost (a queue
    // overflowing under slow start drops like this): 40 holes, 40 SACKed
    // ranges. Linux keeps SACK state per segment; a scoreboard that
    // forgot ranges past 32 left their segments un-SACKed, the holes
    // among them unrepaired, and once later retransmissions were
    // delivered RACK marked the SACKed segments lost: on the WAN bench
    // 1,494 of 1,815 retransmissions drew D-SACKs. Every hole, and only
    // the holes, must be resent.
    let mut tcb = eighty_in_flight();
    let mut resent = Vec::new();
    // The receiver holds 71, 73, …, 149 (0-based segments): one ACK per
    // arrival, the newest block first, as Linux sends them.
    for k in (71..150u32).step_by(2) {
        let blocks: Vec<(u32, u32)> = [k, k - 2, k - 4]
            .into_iter()
            .filter(|&j| j >= 71)
            .map(|j| (j * MSS, (j + 1) * MSS))
            .collect();
        send!(tcb, t(60), sack_ack(70 * MSS, &blocks));
        resent.extend(seqs(&recv(&mut tcb, t(60))));
    }
    // The first hole's retransmission arrives: the cumulative ACK moves
    // past 70 and 71; RACK now times everything from t(60).
    send!(tcb, t(70), sack_ack(72 * MSS, &[(149 * MSS, 150 * MSS)]));
    resent.extend(seqs(&recv(&mut tcb, t(70))));
    let sacked: Vec<SeqNumber> = (71..150u32).step_by(2).map(|k| l(k * MSS)).collect();
    let wrong: Vec<_> = resent.iter().filter(|s| sacked.contains(s)).collect();
    assert!(wrong.is_empty(), "SACKed segments resent: {wrong:?}");
    assert!(resent.contains(&l(70 * MSS)) && resent.contains(&l(148 * MSS)));
    assert_eq!(tcb.stats().sack_recoveries, 1);
}

#[test]
fn established_second_loss_in_the_same_window_does_not_reduce_again() {
    // RFC 6675 §5 / RFC 6582 §3.2: one reduction per recovery episode.
    // Segments 1 and 6 are lost; the second is found during recovery.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    for k in 2..=4 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    recv(&mut tcb, t(30));
    let (cwnd_reduced, ssthresh) = (tcb.cwnd(), tcb.loss.cc.ssthresh());
    assert_eq!(ssthresh, 10_220, "CUBIC: 0.7 · 14600");
    for k in 7..=10 {
        send!(
            tcb,
            t(31),
            sack_ack(0, &[(6 * MSS, k * MSS), (MSS, 5 * MSS)])
        );
    }
    let out = recv(&mut tcb, t(31));
    assert!(
        seqs(&out).contains(&l(5 * MSS)),
        "segment 6 resent: {:?}",
        seqs(&out)
    );
    assert_eq!(tcb.loss.cc.ssthresh(), ssthresh, "no second reduction");
    assert!(tcb.cwnd() <= cwnd_reduced.max(ssthresh));
    let s = tcb.stats();
    assert_eq!(
        (s.cwnd_reductions, s.sack_recoveries, s.rack_lost),
        (1, 1, 2)
    );
}

#[test]
fn established_rto_during_recovery_is_a_separate_reduction_and_no_new_episode() {
    // RFC 5681 §3.1 / RFC 6582 §3.2 step 2: an RTO in recovery reduces
    // again (loss window of one segment); SACKs for data sent before it
    // do not start another fast recovery until SND.UNA passes the point
    // the RTO had reached.
    let (mut tcb, _) = sack_conn(Algorithm::NewReno, 30);
    for k in 2..=4 {
        send!(tcb, t(30), sack_ack(0, &[(MSS, k * MSS)]));
    }
    recv(&mut tcb, t(30));
    assert_eq!(tcb.stats().cwnd_reductions, 1);
    let rto = tcb.timers.get(Timer::Retransmit).unwrap();
    tcb.on_timeout(rto);
    assert_eq!(tcb.stats().retransmit_timeouts, 1);
    assert_eq!(tcb.cwnd(), MSS as usize, "loss window");
    assert!(tcb.loss.recover.is_none());
    let resent = recv(&mut tcb, rto);
    assert_eq!(seqs(&resent), vec![l(0)]);
    // The receiver still holds 2..=10 and SACKs them again; an ACK for
    // segment 1 and more SACKs do not open a fast recovery.
    let at = rto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(MSS, &[(2 * MSS, 10 * MSS)]));
    send!(tcb, at, sack_ack(MSS, &[(2 * MSS, 10 * MSS)]));
    send!(tcb, at, sack_ack(MSS, &[(2 * MSS, 10 * MSS)]));
    recv(&mut tcb, at);
    let s = tcb.stats();
    assert_eq!((s.sack_recoveries, s.cwnd_reductions), (1, 1));
    assert!(tcb.loss.recover.is_none());
}

#[test]
fn established_newreno_without_sack_reduces_once_per_episode() {
    // RFC 6582 §3.2: further duplicate ACKs and partial ACKs inside the
    // episode do not reduce again; a new loss after the full ACK does.
    let mut tcb = syn_sent_with(&Config {
        congestion: Algorithm::NewReno,
        ..cfg()
    });
    send!(tcb, t(10), syn_ack(None));
    recv(&mut tcb, t(10));
    tcb.send(&vec![1u8; 20 * MSS as usize]).unwrap();
    recv(&mut tcb, t(20));
    for _ in 0..6 {
        send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    }
    recv(&mut tcb, t(30));
    let ssthresh = tcb.loss.cc.ssthresh();
    send!(tcb, t(40), seg(r(0), l(3 * MSS), Flags::ACK, b""));
    for _ in 0..4 {
        send!(tcb, t(41), seg(r(0), l(3 * MSS), Flags::ACK, b""));
    }
    recv(&mut tcb, t(41));
    assert_eq!(tcb.loss.cc.ssthresh(), ssthresh);
    assert_eq!(tcb.stats().cwnd_reductions, 1);
}

/// Ten segments at t=20, the first nine ACKed at t=30, the last probed at
/// the PTO; returns the PTO.
fn probe_the_tail(tcb: &mut Tcb) -> Instant {
    send!(*tcb, t(30), sack_ack(9 * MSS, &[]));
    recv_nothing!(*tcb, t(30));
    let pto = tcb.timers.get(Timer::LossProbe).unwrap();
    tcb.on_timeout(pto);
    assert_eq!(recv!(*tcb, pto).h.seq, l(9 * MSS), "the last segment again");
    pto
}

#[test]
fn established_probe_that_repaired_a_loss_reduces_once() {
    // RFC 8985 §7.4: the probe retransmitted the last segment, and the
    // ACKs move past it with no DSACK saying the original arrived too:
    // the probe repaired a loss, so the window is reduced (once).
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 10);
    let pto = probe_the_tail(&mut tcb);
    let at = pto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(10 * MSS, &[]));
    assert_eq!(
        tcb.stats().cwnd_reductions,
        0,
        "not yet known: ACK = probe end"
    );
    tcb.send(&[1u8; MSS as usize]).unwrap();
    recv(&mut tcb, at);
    let before = tcb.cwnd();
    send!(tcb, at + Duration::from_millis(10), sack_ack(11 * MSS, &[]));
    let s = tcb.stats();
    assert_eq!(
        (s.cwnd_reductions, s.sack_recoveries, s.retransmit_timeouts),
        (1, 0, 0)
    );
    assert!(
        tcb.loss.cc.ssthresh() < before,
        "reduced: {} from {before}",
        tcb.loss.cc.ssthresh()
    );
    assert_eq!(tcb.cwnd(), tcb.loss.cc.ssthresh());
}

#[test]
fn established_probe_answered_by_a_dsack_is_not_a_loss() {
    // RFC 8985 §7.4 with RFC 2883: a DSACK for the probe says the
    // original arrived as well; nothing was lost, nothing is reduced.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 10);
    let pto = probe_the_tail(&mut tcb);
    let at = pto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(10 * MSS, &[]));
    send!(tcb, at, sack_ack(10 * MSS, &[segment(10)]));
    tcb.send(&[1u8; MSS as usize]).unwrap();
    recv(&mut tcb, at);
    send!(tcb, at + Duration::from_millis(10), sack_ack(11 * MSS, &[]));
    assert_eq!(tcb.stats().cwnd_reductions, 0);
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
}

#[test]
fn bbr_window_counts_bytes_in_the_network_not_sacked_ones() {
    // A SACK above a hole RACK has not yet marked lost (still inside the
    // reordering window): the SACKed segment has left the network, so
    // BBR may send cwnd − pipe, as Linux checks cwnd against
    // tcp_packets_in_flight — not cwnd − (SND.NXT − SND.UNA), which would
    // stall the sender for the reordering window on every random loss.
    let c = Config {
        congestion: Algorithm::Bbr,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    let data = vec![7u8; 40 * MSS as usize];
    assert_eq!(tcb.send(&data), Ok(data.len()));
    // BBR paces the initial window out; run the pacer until it is sent.
    let sent_until = |tcb: &mut Tcb, mut now: Instant, until: Instant| {
        let mut sent = Vec::new();
        while now < until {
            sent.extend(recv(tcb, now));
            match tcb.poll_at() {
                Some(at) if at > now => now = at,
                _ => break,
            }
        }
        sent
    };
    let first = sent_until(&mut tcb, t(20), t(25));
    assert_eq!(first.len(), 10, "the initial window");
    send!(tcb, t(25), sack_ack(0, &[segment(2)]));
    assert_eq!(tcb.stats().rack_lost, 0, "inside the reordering window");
    let reorder = tcb.timers.get(Timer::Reorder).expect("reordering timer");
    let sent = sent_until(&mut tcb, t(25), reorder);
    assert!(
        sent.iter().all(|s| s.h.seq.diff(l(10 * MSS)) >= 0),
        "new data only"
    );
    let cwnd = tcb.cc_state().cwnd as u32;
    let pipe = 9 * MSS;
    assert_eq!(sent.len() as u32, (cwnd - pipe) / MSS, "cwnd {cwnd}");
    assert!(
        sent.len() as u32 > (cwnd - 10 * MSS) / MSS,
        "more than cwnd − (SND.NXT − SND.UNA) allows"
    );
}

#[test]
fn loss_probe_is_not_sent_past_a_shrunk_window() {
    // Linux `tcp_send_loss_probe` resends the last segment through
    // `__tcp_retransmit_skb`, which refuses a segment past the peer's
    // window unless it starts at SND.UNA: with the window shrunk to two
    // segments, the probe time passes in silence and the timeout resends
    // the head.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 10);
    let mut shrink = sack_ack(0, &[]);
    shrink.h.window = (2 * MSS) as u16;
    send!(tcb, t(30), shrink);
    recv_nothing!(tcb, t(30));
    let pto = tcb.poll_at().expect("loss probe armed");
    assert_eq!(tcb.timers.get(Timer::LossProbe), Some(pto));
    tcb.on_timeout(pto);
    recv_nothing!(tcb, pto);
    let rto = tcb.poll_at().expect("retransmission timer armed");
    tcb.on_timeout(rto);
    let rtx = recv(&mut tcb, rto);
    assert_eq!(seqs(&rtx)[0], l(0));
    assert_eq!(rtx[0].payload, out[0].payload);
}
