//! Undoing reductions that prove spurious, as Linux does
//! (`tcp_try_undo_recovery`, `tcp_try_undo_dsack`, `tcp_try_undo_partial`,
//! `tcp_try_undo_loss`): by D-SACKs covering every retransmission
//! (RFC 3708) and by timestamp echoes older than the first retransmission
//! (RFC 3522, Eifel detection); and RACK's reordering window opening when
//! a recovery is undone (RFC 8985 §6.2 step 4).

use super::recovery::{sack_ack, sack_conn, seqs, MSS};
use super::*;
use crate::tcp::timers::Timer;

/// CUBIC's window and ssthresh right after the initial window (10
/// segments) went out, before any loss: what an undo restores.
const IW: usize = 10 * MSS as usize;

/// Segment `k` (1-based) of `out` as a byte range after ISS + 1.
fn range(out: &[Seg], k: usize) -> (u32, u32) {
    let s = &out[k - 1];
    let start = s.h.seq - l(0);
    (start, start + s.payload.len() as u32)
}

/// Our TSval on a segment we sent.
fn tsval(s: &Seg) -> u32 {
    s.h.options.timestamp.expect("timestamps negotiated").0
}

/// `a` carrying the peer's timestamp `val` echoing `ecr`.
fn with_ts(mut a: Seg, val: u32, ecr: u32) -> Seg {
    a.h.options.timestamp = Some((val, ecr));
    a
}

/// ESTABLISHED with SACK and timestamps (SRTT 10 ms), `segments` queued;
/// the initial window (10) sent at t=20.
fn ts_sack_conn(segments: u32) -> (Tcb, Vec<Seg>) {
    let mut tcb = established_ts_sack_with(&cfg());
    let data: Vec<u8> = (0..segments * MSS).map(|i| (i % 251) as u8).collect();
    assert_eq!(tcb.send(&data), Ok(data.len()));
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    (tcb, out)
}

/// Segments 2..=`last` SACKed at t=30 one ACK each (echoing `ecr` when
/// given): RACK marks segment 1 lost, recovery starts and resends it.
fn recovery_for_segment_one(tcb: &mut Tcb, out: &[Seg], last: usize, ecr: Option<u32>) {
    let first = range(out, 2).0;
    for k in 2..=last {
        let a = sack_ack(0, &[(first, range(out, k).1)]);
        let a = match ecr {
            Some(e) => with_ts(a, 1000 + k as u32, e),
            None => a,
        };
        send(tcb, t(30), &a);
    }
    assert_eq!(seqs(&recv(tcb, t(30))), vec![l(0)], "segment 1 resent");
    assert!(tcb.loss.recover.is_some());
    assert!(tcb.cwnd() < IW, "reduced: {}", tcb.cwnd());
}

#[test]
fn dsack_after_recovery_undoes_its_reduction() {
    // RFC 3708 / Linux tcp_try_undo_dsack in CA_Open: segment 1 was only
    // late. Its original fills the hole and ends recovery with the
    // reduction in place; then its retransmission arrives and the peer
    // reports it as a duplicate (D-SACK below the cumulative ACK): every
    // retransmission of the episode was needless, cwnd and ssthresh come
    // back.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 30);
    recovery_for_segment_one(&mut tcb, &out, 4, None);
    let end = range(&out, 10).1;
    send!(tcb, t(35), sack_ack(end, &[]));
    assert!(tcb.loss.recover.is_none(), "recovery point reached");
    assert_eq!(tcb.loss.cc.ssthresh(), 7 * MSS as usize, "not undone yet");
    send!(tcb, t(36), sack_ack(end, &[range(&out, 1)]));
    let s = tcb.stats();
    assert_eq!((s.dsack_undos, s.full_undos), (1, 0));
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX, "ssthresh restored");
    assert!(tcb.cwnd() >= IW, "cwnd restored: {}", tcb.cwnd());
}

#[test]
fn dsack_during_recovery_undoes_and_ends_it_and_opens_the_reordering_window() {
    // The D-SACK for segment 1's retransmission arrives before the
    // recovery point: the episode ends at once, undone, and what looked
    // like a loss counts as reordering: RACK now waits min_RTT/4 even in
    // recovery (Linux: reord_seen, reo_wnd_persist + 1).
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 30);
    recovery_for_segment_one(&mut tcb, &out, 4, None);
    assert!(!tcb.loss.rack.reordering_seen());
    let four = range(&out, 4).1;
    send!(tcb, t(32), sack_ack(four, &[]));
    assert!(tcb.loss.recover.is_some(), "a partial ACK");
    send!(tcb, t(33), sack_ack(four, &[range(&out, 1)]));
    assert!(tcb.loss.recover.is_none(), "undone: recovery over");
    assert!(tcb.loss.prr.is_none());
    assert_eq!(tcb.stats().dsack_undos, 1);
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
    assert!(tcb.cwnd() >= IW, "{}", tcb.cwnd());
    assert!(
        tcb.loss.rack.reordering_seen(),
        "reordering estimate raised"
    );
    let srtt = tcb.loss.rtt.srtt();
    let reo = tcb
        .loss
        .rack
        .reo_wnd(true, 5 * MSS as usize, MSS as usize, srtt);
    assert!(reo > Duration::ZERO, "reordering window open in recovery");
}

#[test]
fn timestamp_echo_of_the_original_undoes_recovery_at_its_end() {
    // RFC 3522 (Linux tcp_packet_delayed + tcp_try_undo_recovery): the
    // ACK that reaches the recovery point echoes the TSval of segment 1's
    // original transmission (t=20), older than its retransmission (t=30):
    // the original arrived, the reduction is undone on that ACK.
    let (mut tcb, out) = ts_sack_conn(30);
    let orig = tsval(&out[0]);
    recovery_for_segment_one(&mut tcb, &out, 4, Some(orig));
    let end = range(&out, 10).1;
    send!(tcb, t(35), with_ts(sack_ack(end, &[]), 1010, orig));
    let s = tcb.stats();
    assert_eq!((s.full_undos, s.dsack_undos), (1, 0));
    assert!(tcb.loss.recover.is_none());
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
    assert!(tcb.cwnd() >= IW, "{}", tcb.cwnd());
}

#[test]
fn timestamp_echo_on_a_partial_ack_undoes_recovery_early() {
    // Linux tcp_try_undo_partial: a partial ACK echoing the original's
    // TSval with no retransmission left in flight: undone at once, the
    // lost marks forgotten, recovery over.
    let (mut tcb, out) = ts_sack_conn(30);
    let orig = tsval(&out[0]);
    recovery_for_segment_one(&mut tcb, &out, 4, Some(orig));
    let four = range(&out, 4).1;
    send!(tcb, t(32), with_ts(sack_ack(four, &[]), 1010, orig));
    let s = tcb.stats();
    assert_eq!(s.partial_undos, 1);
    assert!(tcb.loss.recover.is_none());
    assert!(tcb.loss.rack.next_lost().is_none(), "nothing believed lost");
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
    assert!(tcb.cwnd() >= IW, "{}", tcb.cwnd());
    assert!(tcb.loss.rack.reordering_seen());
}

#[test]
fn partial_undo_waits_while_a_retransmission_is_in_flight() {
    // Segments 1 and 3 are late, both resent. The original of 1 fills its
    // hole (echo older than the first retransmission) while 3's
    // retransmission is still out: no undo yet and nothing more marked
    // lost; once 3's original arrives too, the episode is undone.
    let (mut tcb, out) = ts_sack_conn(30);
    let orig = tsval(&out[0]);
    let six = range(&out, 6).1;
    let sacks = [
        vec![range(&out, 2)],
        vec![(range(&out, 4).0, range(&out, 5).1), range(&out, 2)],
        vec![(range(&out, 4).0, six), range(&out, 2)],
    ];
    for (k, b) in sacks.iter().enumerate() {
        send!(tcb, t(30), with_ts(sack_ack(0, b), 1001 + k as u32, orig));
    }
    let resent = seqs(&recv(&mut tcb, t(30)));
    assert!(
        resent.starts_with(&[l(0), l(range(&out, 3).0)]),
        "1 and 3 resent: {resent:?}"
    );
    let lost = tcb.stats().rack_lost;
    let two = range(&out, 2).1;
    let partial = sack_ack(two, &[(range(&out, 4).0, six)]);
    send!(tcb, t(32), with_ts(partial, 1004, orig));
    assert_eq!(tcb.stats().partial_undos, 0, "3's retransmission is out");
    assert!(tcb.loss.recover.is_some());
    assert_eq!(tcb.stats().rack_lost, lost, "nothing more marked lost");
    send!(tcb, t(33), with_ts(sack_ack(six, &[]), 1005, orig));
    assert_eq!(tcb.stats().partial_undos, 1);
    assert!(tcb.loss.recover.is_none());
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
}

#[test]
fn timestamp_echo_of_the_original_undoes_a_timeout() {
    // Linux tcp_try_undo_loss: after a timeout, an ACK of new data whose
    // echo predates the timeout's retransmission acknowledges the
    // original: the timeout's reduction is undone (not F-RTO: only the
    // resent head is acknowledged).
    let (mut tcb, out) = ts_sack_conn(30);
    let pto = tcb.timers.get(Timer::LossProbe).expect("PTO armed");
    tcb.on_timeout(pto);
    assert_eq!(recv(&mut tcb, pto).len(), 1, "the probe: new data");
    let rto = tcb.timers.get(Timer::Retransmit).expect("RTO armed");
    tcb.on_timeout(rto);
    assert!(tcb.cwnd() < 2 * MSS as usize, "one segment: {}", tcb.cwnd());
    assert_eq!(seqs(&recv(&mut tcb, rto)), vec![l(0)]);
    let at = rto + Duration::from_millis(5);
    let one = range(&out, 1).1;
    send!(tcb, at, with_ts(sack_ack(one, &[]), 1010, tsval(&out[0])));
    let s = tcb.stats();
    assert_eq!((s.loss_undos, s.spurious_rtos), (1, 0));
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX, "ssthresh restored");
    assert!(tcb.cwnd() >= IW - 10 * 12, "{}", tcb.cwnd());
    assert!(tcb.loss.rack.next_lost().is_none(), "the rest not lost");
}

#[test]
fn a_needed_retransmission_is_not_undone() {
    // Segment 1 was really lost: the ACK that fills the hole echoes the
    // retransmission's TSval and no D-SACK comes. The reduction stays.
    let (mut tcb, out) = ts_sack_conn(30);
    let orig = tsval(&out[0]);
    recovery_for_segment_one(&mut tcb, &out, 4, Some(orig));
    let ssthresh = tcb.loss.cc.ssthresh();
    let rtx = tcb.ts_val(t(30));
    let end = range(&out, 10).1;
    send!(tcb, t(41), with_ts(sack_ack(end, &[]), 1010, rtx));
    let s = tcb.stats();
    assert_eq!(s.full_undos + s.partial_undos + s.dsack_undos, 0);
    assert_eq!(tcb.loss.cc.ssthresh(), ssthresh);
    assert!(ssthresh < IW);
    // Nor without timestamps, with the ACK alone.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 30);
    recovery_for_segment_one(&mut tcb, &out, 4, None);
    send!(tcb, t(41), sack_ack(range(&out, 10).1, &[]));
    assert_eq!(tcb.stats().full_undos, 0);
    assert_eq!(tcb.loss.cc.ssthresh(), 7 * MSS as usize);
}

#[test]
fn a_dsack_of_data_never_resent_does_not_undo() {
    // The network duplicated segment 3 (never retransmitted): its D-SACK
    // (inside the second block, above SND.UNA) proves nothing about
    // segment 1's retransmission.
    let (mut tcb, out) = sack_conn(Algorithm::Cubic, 30);
    recovery_for_segment_one(&mut tcb, &out, 4, None);
    let sacked = (range(&out, 2).0, range(&out, 4).1);
    send!(tcb, t(32), sack_ack(0, &[range(&out, 3), sacked]));
    assert_eq!(tcb.stats().dsack_undos, 0);
    assert!(tcb.loss.recover.is_some());
    assert_eq!(tcb.loss.cc.ssthresh(), 7 * MSS as usize);
}

#[test]
fn timestamps_undo_a_fast_recovery_without_sack() {
    // RFC 3522 needs no SACK: after three duplicate ACKs the head is
    // resent (NewReno, RFC 6582); the ACK that then covers the flight
    // echoes the original head's TSval, so the reduction is undone.
    let c = Config {
        congestion: Algorithm::NewReno,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    let mut sa = syn_ack(Some(7));
    sa.h.options.timestamp = Some((1000, 0));
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    let data = vec![7u8; 30 * MSS as usize];
    assert_eq!(tcb.send(&data), Ok(data.len()));
    let out = recv(&mut tcb, t(20));
    assert_eq!(out.len(), 10);
    let orig = tsval(&out[0]);
    // The first ACK after the SYN-ACK updates the (now scaled) window;
    // the three after it are duplicates.
    for k in 0..4 {
        send!(tcb, t(30), with_ts(sack_ack(0, &[]), 1001 + k, orig));
    }
    assert_eq!(seqs(&recv(&mut tcb, t(30))), vec![l(0)], "fast retransmit");
    assert!(tcb.loss.recover.is_some());
    assert!(tcb.loss.cc.ssthresh() < IW);
    let end = range(&out, 10).1;
    send!(tcb, t(35), with_ts(sack_ack(end, &[]), 1005, orig));
    assert_eq!(tcb.stats().full_undos, 1);
    assert!(tcb.loss.recover.is_none());
    assert_eq!(tcb.loss.cc.ssthresh(), usize::MAX);
}
