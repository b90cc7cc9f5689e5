//! The retransmission timeout as Linux takes it (`tcp_enter_loss`): the
//! timer's value (SRTT + max(4·mdev, 200 ms), `rtt.rs`), and what is
//! resent after it — with SACK only the holes, the head at once and the
//! rest within cwnd − pipe, unless the peer reneged (RFC 2018 §8), when
//! it goes back N from SND.UNA.

use super::recovery::{sack_ack, sack_conn, segment, seqs, MSS};
use super::*;
use crate::tcp::timers::Timer;

/// Segments 1, 2 and 6 of the first ten lost, 3–5 and 7–10 SACKed at
/// t=30; the fast retransmissions are lost too, and the RTO fires.
/// Returns the connection and when the RTO fired.
fn rto_after_failed_recovery() -> (Tcb, Instant) {
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let (s3, _) = segment(3);
    let (_, e5) = segment(5);
    let (s7, _) = segment(7);
    let (_, e10) = segment(10);
    send!(tcb, t(30), sack_ack(0, &[(s3, e5)]));
    send!(tcb, t(30), sack_ack(0, &[(s7, e10), (s3, e5)]));
    let repaired = recv(&mut tcb, t(30));
    assert!(seqs(&repaired).contains(&l(0)), "{:?}", seqs(&repaired));
    assert_eq!(tcb.stats().sack_recoveries, 1);
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert_eq!(tcb.stats().retransmit_timeouts, 1);
    (tcb, rto)
}

#[test]
fn established_rto_keeps_sacks_and_resends_only_the_holes() {
    let (mut tcb, rto) = rto_after_failed_recovery();
    assert_eq!(tcb.cwnd(), MSS as usize, "RFC 5681 §3.1 loss window");
    // The head goes at once.
    let head = recv(&mut tcb, rto);
    assert_eq!(seqs(&head), vec![l(0)]);
    assert_eq!(head[0].payload.len(), MSS as usize);
    // Its ACK (the receiver still SACKs what it holds) grows cwnd to two
    // segments: the other two holes go, not the SACKed segment 3.
    let at = rto + Duration::from_millis(10);
    let (s3, e5) = (segment(3).0, segment(5).1);
    let (s7, e10) = (segment(7).0, segment(10).1);
    send!(tcb, at, sack_ack(MSS, &[(s3, e5), (s7, e10)]));
    let holes = recv(&mut tcb, at);
    assert_eq!(seqs(&holes), vec![l(segment(2).0), l(segment(6).0)]);
    // Both repaired: SND.UNA jumps past everything SACKed. Segments 11–14,
    // sent during the fast recovery and lost with the rest, go next.
    let at = at + Duration::from_millis(10);
    send!(tcb, at, sack_ack(segment(5).1, &[(s7, e10)]));
    send!(tcb, at, sack_ack(e10, &[]));
    let new = recv(&mut tcb, at);
    assert_eq!(new.first().map(|s| s.h.seq), Some(l(segment(11).0)));
    assert!(
        new.iter().all(|s| s.h.seq.diff(l(e10)) >= 0),
        "nothing SACKed was resent: {:?}",
        seqs(&new)
    );
    let s = tcb.stats();
    assert_eq!((s.retransmit_timeouts, s.sack_reneging), (1, 0));
    assert_eq!(
        seqs(&new),
        (11..=14).map(|k| l(segment(k).0)).collect::<Vec<_>>()
    );
    assert_eq!(s.retransmits, 3 + 3 + 4, "three fast, seven after the RTO");
}

#[test]
fn established_rto_after_sack_reneging_goes_back_n() {
    // The receiver SACKed 2–4, then acknowledges only segment 1 with no
    // blocks: SND.UNA sits at the start of SACKed data it no longer
    // holds. At the RTO the scoreboard is forgotten and the SACKed
    // segments are resent in order.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let (s2, e4) = (segment(2).0, segment(4).1);
    send!(tcb, t(30), sack_ack(0, &[(s2, e4)]));
    send!(tcb, t(31), sack_ack(0, &[(s2, e4 + MSS)]));
    send!(tcb, t(32), sack_ack(0, &[(s2, e4 + 2 * MSS)]));
    recv(&mut tcb, t(32));
    send!(tcb, t(40), sack_ack(MSS, &[]));
    recv(&mut tcb, t(40));
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert_eq!(tcb.stats().sack_reneging, 1);
    let head = recv(&mut tcb, rto);
    assert_eq!(seqs(&head), vec![l(segment(2).0)]);
    let at = rto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(segment(2).1, &[]));
    let next = recv(&mut tcb, at);
    assert_eq!(seqs(&next), vec![l(segment(3).0), l(segment(4).0)]);
}

#[test]
fn established_rto_is_srtt_plus_the_minimum_on_a_steady_path() {
    // Linux: RTO = SRTT + max(4·mdev, 200 ms). On a path that stays at
    // 50 ms the timeout stays 200 ms above SRTT (RFC 6298 would decay it
    // to max(SRTT, 200 ms)).
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 40);
    let mut now = t(20);
    for _ in 0..8 {
        now += Duration::from_millis(50);
        let all = tcb.snd.max - l(0);
        send!(tcb, now, sack_ack(all, &[]));
        tcb.send(&vec![1u8; all as usize]).unwrap();
        assert!(!recv(&mut tcb, now).is_empty());
    }
    let srtt = tcb.rtt().srtt().unwrap_or_default();
    assert!(srtt > Duration::from_millis(30), "{srtt:?}");
    assert_eq!(tcb.rtt().rto(), srtt + Duration::from_millis(200));
    assert_eq!(
        tcb.timers.get(Timer::Retransmit),
        Some(now + srtt + Duration::from_millis(200))
    );
}

#[test]
fn established_spurious_rto_is_undone_by_an_ack_of_original_data() {
    // F-RTO (RFC 5682 §3.1 step 3b, SACK-enhanced as in Linux): the path
    // stalls, the RTO fires and resends the head, then the ACK for the
    // original flight arrives: segment 2 was never resent, so the timeout
    // was spurious. cwnd and ssthresh come back and the rest of the old
    // flight is not resent.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let cwnd = tcb.cwnd();
    let pto = tcb.timers.get(Timer::LossProbe).expect("PTO armed");
    tcb.on_timeout(pto);
    assert_eq!(recv(&mut tcb, pto).len(), 1, "the probe");
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert_eq!(tcb.cwnd(), MSS as usize);
    assert_eq!(seqs(&recv(&mut tcb, rto)), vec![l(0)]);
    // The original segments 2 and 3 are SACKed.
    let at = rto + Duration::from_millis(5);
    send!(tcb, at, sack_ack(0, &[(MSS, 3 * MSS)]));
    let s = tcb.stats();
    assert_eq!((s.retransmit_timeouts, s.spurious_rtos), (1, 1));
    assert_eq!(tcb.cwnd(), cwnd, "cwnd restored");
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX, "ssthresh restored");
    assert!(tcb.loss.rack.next_lost().is_none(), "nothing believed lost");
    // Then the whole original flight: new data follows (segment 11 went
    // as the probe), in slow start from the restored window; nothing old
    // is resent.
    let at = at + Duration::from_millis(5);
    send!(tcb, at, sack_ack(10 * MSS, &[]));
    let next = recv(&mut tcb, at);
    assert_eq!(next.first().map(|s| s.h.seq), Some(l(segment(12).0)));
    assert!(next.len() >= 10, "{:?}", seqs(&next));
    assert_eq!(tcb.stats().retransmits, 1, "only the head");
}

#[test]
fn established_real_rto_is_not_undone_by_acks_of_retransmissions() {
    // The whole flight and the tail loss probe are lost. After the RTO
    // only retransmitted data is acknowledged: no F-RTO undo, and the
    // holes keep going out in order as cwnd grows.
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let pto = tcb.timers.get(Timer::LossProbe).expect("PTO armed");
    tcb.on_timeout(pto);
    assert_eq!(recv(&mut tcb, pto).len(), 1, "the probe");
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert_eq!(seqs(&recv(&mut tcb, rto)), vec![l(0)]);
    let at = rto + Duration::from_millis(10);
    send!(tcb, at, sack_ack(MSS, &[]));
    assert_eq!(
        seqs(&recv(&mut tcb, at)),
        vec![l(segment(2).0), l(segment(3).0)]
    );
    let at = at + Duration::from_millis(10);
    send!(tcb, at, sack_ack(3 * MSS, &[]));
    assert_eq!(
        seqs(&recv(&mut tcb, at)),
        (4..=7).map(|k| l(segment(k).0)).collect::<Vec<_>>()
    );
    let s = tcb.stats();
    assert_eq!((s.retransmit_timeouts, s.spurious_rtos), (1, 0));
    assert_eq!(
        tcb.loss.cc.ssthresh(),
        7 * MSS as usize,
        "0.7 · flight (CUBIC)"
    );
}

#[test]
fn established_spurious_rto_is_undone_by_the_ack_that_covers_the_flight() {
    // The ACK for the whole original flight arrives after the timeout: it
    // ends the repair and proves it needless in one go, as in Linux
    // (FLAG_ORIG_SACK_ACKED on the ACK that leaves CA_Loss).
    let (mut tcb, _) = sack_conn(Algorithm::Cubic, 30);
    let pto = tcb.timers.get(Timer::LossProbe).expect("PTO armed");
    tcb.on_timeout(pto);
    recv(&mut tcb, pto);
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert_eq!(seqs(&recv(&mut tcb, rto)), vec![l(0)]);
    let at = rto + Duration::from_millis(5);
    send!(tcb, at, sack_ack(11 * MSS, &[]));
    assert_eq!(tcb.stats().spurious_rtos, 1);
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX, "ssthresh restored");
    assert!(tcb.cwnd() > 10 * MSS as usize, "{}", tcb.cwnd());
}
