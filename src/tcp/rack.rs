//! RACK: time-based loss detection (RFC 8985 §6), as Linux enables it by
//! default for SACK connections.
//!
//! Every segment sent is recorded with its (latest) transmit time. When
//! an ACK or SACK delivers a segment, every unacknowledged segment sent
//! *before* it that has been outstanding longer than RACK.rtt plus a
//! reordering window is deemed lost (§6.2 steps 1–5). This detects losses
//! the SACK scoreboard alone cannot: a lost retransmission (its new transmit
//! time is before a later delivered one), and tail losses once a tail loss
//! probe (TLP, `tlp.rs`) draws an ACK.
//!
//! The reordering window (§6.2 step 4, Linux `tcp_rack_reo_wnd`) is zero
//! until reordering has been seen while DupThresh segments are SACKed or
//! during recovery; otherwise min_RTT/4 × a multiplier that DSACKs raise
//! (RFC 8985 §6.2 step 4, "reo_wnd_mult") and that decays after 16
//! recoveries without DSACK.
//!
//! The record is bounded ([`MAX_SEGMENTS`]): past the limit new data joins
//! the last record (its time becomes the newest), which only makes loss
//! detection for that stretch more conservative.

use super::sack::{Scoreboard, DUP_THRESH};
use crate::time::{Duration, Instant};
use crate::wire::tcp::MAX_SACK_BLOCKS;
use crate::wire::SeqNumber;
use std::collections::VecDeque;

/// Most segment records per connection.
pub(super) const MAX_SEGMENTS: usize = 16 * 1024;

/// RFC 8985 §6.2 step 4 / Linux `TCP_RACK_RECOVERY_THRESH`: recoveries a
/// DSACK-widened reordering window persists for.
const REO_WND_PERSIST: u32 = 16;

/// One transmitted segment: `[start, end)` in sequence space (a FIN counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sent {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// Time of the latest (re)transmission.
    pub xmit: Instant,
    /// Retransmitted at least once.
    pub retx: bool,
    /// Deemed lost and not retransmitted since.
    pub lost: bool,
    /// Covered by SACK blocks.
    pub sacked: bool,
}

impl Sent {
    fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

/// What one ACK delivered (RFC 8985 §6.2 steps 1–3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Delivered {
    /// Bytes newly acknowledged or SACKed (PRR's DeliveredData).
    pub bytes: usize,
    /// RTT of the most recently sent segment this ACK delivered, if that
    /// segment was not retransmitted (usable by HyStart++).
    pub rtt: Option<Duration>,
    /// Never-retransmitted segments delivered below RACK.fack: reordering.
    pub reordered: u64,
    /// The lowest end of a never-retransmitted segment this ACK delivered
    /// (F-RTO, RFC 5682: original data arriving after an RTO).
    pub first_original: Option<SeqNumber>,
}

impl Delivered {
    fn note_original(&mut self, s: &Sent) {
        if !s.retx && self.first_original.is_none_or(|e| s.end.diff(e) < 0) {
            self.first_original = Some(s.end);
        }
    }
}

/// Losses found by one run of the detection (§6.2 step 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Losses {
    /// Segments newly marked lost.
    pub segments: u64,
    /// Bytes newly marked lost.
    pub bytes: usize,
    /// Of the segments, how many were retransmissions.
    pub retransmissions: u64,
    /// When to look again: the reordering timer (§6.3).
    pub timeout: Option<Duration>,
}

/// RACK state (RFC 8985 §5.2 names).
#[derive(Clone, Debug)]
pub(super) struct Rack {
    segs: VecDeque<Sent>,
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment
    /// delivered so far.
    xmit_ts: Option<Instant>,
    end_seq: SeqNumber,
    /// RACK.rtt: RTT of that segment.
    rtt: Duration,
    /// Smallest RTT seen from segments never retransmitted.
    min_rtt: Option<Duration>,
    /// RACK.fack: highest end of a segment SACKed or ACKed.
    fack: SeqNumber,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult and RACK.reo_wnd_persist.
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    /// RACK.dsack_round: no second widening until SND.UNA passes this.
    dsack_round: Option<SeqNumber>,
}

/// RFC 8985 §6.2 RACK_sent_after: was (t1, seq1) sent after (t2, seq2)?
fn sent_after(t1: Instant, seq1: SeqNumber, t2: Instant, seq2: SeqNumber) -> bool {
    t1 > t2 || (t1 == t2 && seq1.diff(seq2) > 0)
}

impl Rack {
    pub(super) fn new(iss: SeqNumber) -> Rack {
        Rack {
            segs: VecDeque::new(),
            xmit_ts: None,
            end_seq: iss,
            rtt: Duration::ZERO,
            min_rtt: None,
            fack: iss,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
        }
    }

    /// Records a transmission of `[start, end)` at `now`: new data is cut
    /// into records of at most `mss`; bytes sent before are a
    /// retransmission and take the new time.
    pub(super) fn on_sent(&mut self, start: SeqNumber, end: SeqNumber, mss: usize, now: Instant) {
        if end.diff(start) <= 0 {
            return;
        }
        let top = self.segs.back().map_or(start, |s| s.end);
        if start.diff(top) < 0 {
            self.on_retransmit(start, end.min(top), now);
        }
        let mut seq = start.max(top);
        while end.diff(seq) > 0 {
            let e = seq + ((end - seq) as usize).min(mss.max(1));
            let full = self.segs.len() >= MAX_SEGMENTS;
            match self.segs.back_mut() {
                Some(last) if full => {
                    last.end = e;
                    last.xmit = now;
                }
                _ => self.segs.push_back(Sent {
                    start: seq,
                    end: e,
                    xmit: now,
                    retx: false,
                    lost: false,
                    sacked: false,
                }),
            }
            seq = e;
        }
    }

    fn on_retransmit(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        self.split_at(start);
        self.split_at(end);
        let first = self.segs.partition_point(|s| s.end.diff(start) <= 0);
        for s in self.segs.iter_mut().skip(first) {
            if s.start.diff(end) >= 0 {
                break;
            }
            s.xmit = now;
            s.retx = true;
            s.lost = false;
        }
    }

    /// Splits the record containing `seq` strictly inside, if room allows.
    fn split_at(&mut self, seq: SeqNumber) {
        if self.segs.len() >= MAX_SEGMENTS {
            return;
        }
        let i = self.segs.partition_point(|s| s.end.diff(seq) <= 0);
        let Some(s) = self.segs.get_mut(i) else {
            return;
        };
        if s.start.diff(seq) < 0 && s.end.diff(seq) > 0 {
            let mut tail = *s;
            s.end = seq;
            tail.start = seq;
            self.segs.insert(i + 1, tail);
        }
    }

    /// RFC 8985 §6.2 steps 1–3 for one ACK: every segment it newly
    /// delivers (cumulatively, or SACKed: inside one of its `blocks` and
    /// now wholly covered by the scoreboard) updates RACK.xmit_ts /
    /// end_seq / rtt and the reordering state; records below `ack` are
    /// dropped. `echo_before(xmit)` says whether the ACK's timestamp echo
    /// predates a retransmission at `xmit` (RFC 8985 §6.2 step 2: then it
    /// acknowledges the original); it is asked only about cumulatively
    /// acknowledged records.
    pub(super) fn on_ack(
        &mut self,
        ack: SeqNumber,
        board: &Scoreboard,
        blocks: impl Iterator<Item = (SeqNumber, SeqNumber)>,
        now: Instant,
        echo_before: impl Fn(Instant) -> bool,
    ) -> Delivered {
        let mut out = Delivered::default();
        let mut newest: Option<(Instant, SeqNumber, bool)> = None;
        // Cumulatively acknowledged records, front first.
        let mut i = 0;
        while let Some(s) = self.segs.get(i).copied() {
            if s.end.diff(ack) > 0 {
                break;
            }
            if !s.sacked {
                let (n, reordered) = self.deliver(&s, now, &echo_before, &mut newest);
                out.bytes += n;
                out.reordered += u64::from(reordered);
                out.note_original(&s);
            }
            i += 1;
        }
        self.segs.drain(..i);
        if let Some(first) = self.segs.front_mut() {
            if first.start.diff(ack) < 0 {
                // A partial ACK inside a record: the rest stays.
                out.bytes += (ack - first.start) as usize;
                first.start = ack;
            }
        }
        // Only records this ACK's blocks touch can have become SACKed:
        // O(blocks · (log n + log ranges) + k), however many ranges the
        // scoreboard holds. Lowest block first, so that a block below one
        // just delivered does not count as reordering (step 3).
        let mut sorted = [(SeqNumber(0), SeqNumber(0)); MAX_SACK_BLOCKS];
        let mut n = 0;
        for (b, slot) in blocks.zip(sorted.iter_mut()) {
            *slot = b;
            n += 1;
        }
        let sorted = sorted.get_mut(..n).unwrap_or_default();
        sorted.sort_unstable_by(|a, b| a.0.diff(b.0).cmp(&0));
        for &mut (l, r) in sorted {
            let mut j = self.segs.partition_point(|s| s.end.diff(l) <= 0);
            while let Some(s) = self.segs.get(j).copied() {
                if s.start.diff(r) >= 0 {
                    break;
                }
                if !s.sacked && board.covers(s.start, s.end) {
                    // The echo says nothing here: a receiver echoes the
                    // segment that last advanced its left edge (RFC 7323
                    // §4.3), older than anything SACKed above a hole. Only
                    // RACK.min_RTT tells the original from the
                    // retransmission, as in Linux's `tcp_rack_advance`.
                    let (n, reordered) = self.deliver(&s, now, &|_| false, &mut newest);
                    out.bytes += n;
                    out.reordered += u64::from(reordered);
                    out.note_original(&s);
                    if let Some(rec) = self.segs.get_mut(j) {
                        rec.sacked = true;
                        rec.lost = false;
                    }
                    self.fack = self.fack.max(s.end);
                }
                j += 1;
            }
        }
        self.fack = self.fack.max(ack);
        out.rtt = newest
            .filter(|n| !n.2)
            .map(|(t, _, _)| now.saturating_duration_since(t));
        out
    }

    /// One newly delivered segment (RFC 8985 §6.2 steps 2–3); returns its
    /// length. `newest` tracks the most recently sent one of this ACK.
    fn deliver(
        &mut self,
        s: &Sent,
        now: Instant,
        echo_before: &impl Fn(Instant) -> bool,
        newest: &mut Option<(Instant, SeqNumber, bool)>,
    ) -> (usize, bool) {
        let rtt = now.saturating_duration_since(s.xmit);
        // Step 2: an ACK that may be for the original transmission of a
        // retransmitted segment says nothing about the retransmission.
        let ambiguous = s.retx && (self.min_rtt.is_some_and(|m| rtt < m) || echo_before(s.xmit));
        if !ambiguous {
            if !s.retx {
                self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            }
            if self
                .xmit_ts
                .is_none_or(|t| sent_after(s.xmit, s.end, t, self.end_seq))
            {
                self.xmit_ts = Some(s.xmit);
                self.end_seq = s.end;
                self.rtt = rtt;
            }
            if newest.is_none_or(|(t, e, _)| sent_after(s.xmit, s.end, t, e)) {
                *newest = Some((s.xmit, s.end, s.retx));
            }
        }
        // Step 3: a never-retransmitted segment below the highest
        // delivered one arrived out of order.
        let reordered = !s.retx && s.end.diff(self.fack) < 0;
        self.reordering_seen |= reordered;
        (s.len(), reordered)
    }

    /// RFC 8985 §6.2 step 4: RACK.reo_wnd.
    pub(super) fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_bytes: usize,
        mss: usize,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_bytes > (DUP_THRESH - 1) * mss) {
            return Duration::ZERO;
        }
        let Some(min_rtt) = self.min_rtt else {
            return Duration::ZERO;
        };
        let wnd = min_rtt / 4 * self.reo_wnd_mult;
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// RFC 8985 §6.2 step 5 (RACK_detect_loss): marks lost every segment
    /// sent before RACK.xmit_ts that has waited RACK.rtt + reo_wnd, and
    /// says when the next one would be due.
    pub(super) fn detect_loss(&mut self, now: Instant, reo_wnd: Duration) -> Losses {
        let mut out = Losses::default();
        let Some(rack_ts) = self.xmit_ts else {
            return out;
        };
        let deadline_after = self.rtt + reo_wnd;
        for s in self.segs.iter_mut() {
            if s.sacked || s.lost {
                continue;
            }
            if !sent_after(rack_ts, self.end_seq, s.xmit, s.end) {
                if !s.retx {
                    // Originals go out in sequence order: every later
                    // record was (last) sent after RACK.xmit_ts too.
                    break;
                }
                continue;
            }
            let due = s.xmit + deadline_after;
            if due <= now {
                s.lost = true;
                out.segments += 1;
                out.bytes += s.len();
                out.retransmissions += u64::from(s.retx);
            } else {
                let wait = due - now;
                out.timeout = Some(out.timeout.map_or(wait, |t: Duration| t.max(wait)));
            }
        }
        out
    }

    /// RFC 8985 §6.2 step 4: a DSACK widens the reordering window by one
    /// min_RTT/4 step, at most once per round trip.
    pub(super) fn on_dsack(&mut self, snd_una: SeqNumber, snd_max: SeqNumber) {
        if self.dsack_round.is_some_and(|r| snd_una.diff(r) < 0) {
            return;
        }
        self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(255);
        self.reo_wnd_persist = REO_WND_PERSIST;
        self.dsack_round = Some(snd_max);
    }

    /// A recovery ended: a widened window decays after 16 of them.
    pub(super) fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// After a retransmission timeout every segment not SACKed is lost
    /// (Linux's `tcp_timeout_mark_lost`); with `keep_sacks` false SACK
    /// state is forgotten too and everything is lost (RFC 6675 §5.1).
    pub(super) fn mark_lost_on_rto(&mut self, keep_sacks: bool) {
        for s in self.segs.iter_mut() {
            if !keep_sacks {
                s.sacked = false;
            }
            s.lost |= !s.sacked;
        }
    }

    /// A spurious RTO is undone: nothing is believed lost any more (Linux's
    /// `tcp_undo_cwnd_reduction` unmarking); RACK finds real losses again.
    pub(super) fn unmark_lost(&mut self) {
        for s in self.segs.iter_mut() {
            s.lost = false;
        }
    }

    /// Marks the first unSACKed segment lost (DupThresh duplicate ACKs
    /// without SACK information, RFC 6675 §5 step 4). Returns its length.
    pub(super) fn mark_front_lost(&mut self) -> usize {
        match self.segs.iter_mut().find(|s| !s.sacked) {
            Some(s) if !s.lost => {
                s.lost = true;
                s.len()
            }
            _ => 0,
        }
    }

    /// The ranges currently marked lost and not SACKed, in sequence order
    /// (for the delivery-rate sampler's loss accounting).
    pub(super) fn lost_ranges(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.segs
            .iter()
            .filter(|s| s.lost && !s.sacked)
            .map(|s| (s.start, s.end))
    }

    /// The first lost, unSACKed segment (RFC 6675 NextSeg rule 1 with
    /// RACK's marks).
    pub(super) fn next_lost(&self) -> Option<(SeqNumber, SeqNumber)> {
        self.segs
            .iter()
            .find(|s| s.lost && !s.sacked)
            .map(|s| (s.start, s.end))
    }

    /// Bytes believed in the network: sent, not SACKed, not lost (a lost
    /// segment counts again once retransmitted). RFC 6675 §4 SetPipe with
    /// RACK's marks, as Linux's `tcp_packets_in_flight`.
    pub(super) fn pipe(&self) -> usize {
        self.segs
            .iter()
            .filter(|s| !s.sacked && !s.lost)
            .map(Sent::len)
            .sum()
    }

    /// The last segment sent (highest sequence), for a tail loss probe.
    pub(super) fn last(&self) -> Option<(SeqNumber, SeqNumber)> {
        self.segs.back().map(|s| (s.start, s.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(u32::MAX - 3000) + n
    }

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn records_split_on_partial_retransmission_and_stay_bounded() {
        let mut r = Rack::new(s(0));
        r.on_sent(s(0), s(3000), 1000, ms(0));
        assert_eq!(r.segs.len(), 3);
        r.on_sent(s(500), s(1500), 1000, ms(5));
        let spans: Vec<_> = r.segs.iter().map(|x| (x.start, x.end, x.retx)).collect();
        assert_eq!(
            spans,
            vec![
                (s(0), s(500), false),
                (s(500), s(1000), true),
                (s(1000), s(1500), true),
                (s(1500), s(2000), false),
                (s(2000), s(3000), false),
            ]
        );
        let mut r = Rack::new(s(0));
        r.on_sent(s(0), s(0) + (MAX_SEGMENTS + 10) * 10, 10, ms(0));
        assert_eq!(r.segs.len(), MAX_SEGMENTS, "bounded");
        assert_eq!(
            r.segs.back().map(|x| x.end),
            Some(s(0) + (MAX_SEGMENTS + 10) * 10)
        );
    }

    #[test]
    fn sent_after_breaks_ties_by_sequence() {
        assert!(sent_after(ms(2), s(0), ms(1), s(100)));
        assert!(sent_after(ms(1), s(100), ms(1), s(0)));
        assert!(!sent_after(ms(1), s(0), ms(1), s(100)));
    }

    #[test]
    fn dsack_widens_the_reordering_window_once_per_round_and_it_decays() {
        // RFC 8985 §6.2 step 4: reo_wnd = min_RTT/4 · reo_wnd_mult, at
        // most SRTT; a DSACK adds one step per round trip; 16 recoveries
        // without one bring the multiplier back to 1.
        let mut r = Rack::new(s(0));
        r.min_rtt = Some(Duration::from_millis(40));
        r.reordering_seen = true;
        let srtt = Some(Duration::from_millis(45));
        assert_eq!(r.reo_wnd(true, 0, 1000, srtt), Duration::from_millis(10));
        r.on_dsack(s(0), s(5000));
        assert_eq!(r.reo_wnd(true, 0, 1000, srtt), Duration::from_millis(20));
        r.on_dsack(s(1000), s(6000));
        assert_eq!(r.reo_wnd_mult, 2, "same round: no second step");
        r.on_dsack(s(5000), s(9000));
        r.on_dsack(s(9000), s(12_000));
        r.on_dsack(s(12_000), s(15_000));
        assert_eq!(
            r.reo_wnd(true, 0, 1000, srtt),
            Duration::from_millis(45),
            "capped at SRTT"
        );
        for _ in 0..15 {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd_mult, 5);
        r.on_recovery_end();
        assert_eq!(r.reo_wnd_mult, 1);
    }

    #[test]
    fn reo_wnd_is_zero_without_reordering_past_dup_thresh_or_in_recovery() {
        // RFC 8985 §6.2 step 4 (Linux tcp_rack_reo_wnd).
        let mut r = Rack::new(s(0));
        r.min_rtt = Some(Duration::from_millis(40));
        assert_eq!(
            r.reo_wnd(false, 2000, 1000, None),
            Duration::from_millis(10)
        );
        assert_eq!(r.reo_wnd(false, 2001, 1000, None), Duration::ZERO);
        assert_eq!(r.reo_wnd(true, 0, 1000, None), Duration::ZERO);
        r.reordering_seen = true;
        assert_eq!(r.reo_wnd(true, 5000, 1000, None), Duration::from_millis(10));
    }
}
