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
//! The reordering window (§6.2 step 4) and how DSACKs and undone
//! recoveries adapt it live in `rack/reo.rs`.
//!
//! The record is bounded ([`MAX_SEGMENTS`]): past the limit new data joins
//! the last record (its time becomes the newest), which only makes loss
//! detection for that stretch more conservative.

mod reo;

use super::sack::Scoreboard;
use crate::time::{Duration, Instant};
use crate::wire::tcp::MAX_SACK_BLOCKS;
use crate::wire::SeqNumber;
use std::collections::VecDeque;

/// Most segment records per connection.
pub(super) const MAX_SEGMENTS: usize = 16 * 1024;

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
    /// Records the detection looked at (its cost).
    pub examined: usize,
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
    /// The records' bytes by state, kept as they change so that pipe and
    /// the first lost segment cost O(1) / O(log n) per ACK and per
    /// segment sent, not a walk of the flight (see [`Tally`]).
    tally: Tally,
}

/// Running totals over the records, so the per-ACK and per-send questions
/// (pipe, "anything lost?", where the first lost record is) do not walk
/// the flight. At 1 Gbit/s and 100 ms the flight is 8,000–17,000 records;
/// pipe alone was asked on every transmit decision under BBR, each a walk
/// of all of them, and RACK's detection walked every SACKed record below
/// RACK.fack on every ACK.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Bytes in all records.
    total: usize,
    /// Bytes in SACKed records.
    sacked: usize,
    /// Bytes in records marked lost (never SACKed: SACK clears the mark).
    lost: usize,
    /// Records marked lost.
    lost_segs: usize,
    /// No record below this one is marked lost (a hint: the records from
    /// here on are searched for the first lost one).
    lost_from: Option<SeqNumber>,
}

impl Tally {
    /// Adds (`add` true) or removes one record's bytes `len` in its state.
    fn count(&mut self, s: &Sent, len: usize, add: bool) {
        let apply = |v: &mut usize, n: usize| {
            *v = if add { *v + n } else { v.saturating_sub(n) };
        };
        apply(&mut self.total, len);
        if s.sacked {
            apply(&mut self.sacked, len);
        }
        if s.lost {
            apply(&mut self.lost, len);
        }
    }

    /// `s` becomes marked lost.
    fn mark_lost(&mut self, s: &Sent) {
        self.lost += s.len();
        self.lost_segs += 1;
        if self.lost_from.is_none_or(|f| s.start.diff(f) < 0) {
            self.lost_from = Some(s.start);
        }
    }

    /// `s` stops being marked lost (resent or SACKed).
    fn unmark_lost(&mut self, s: &Sent) {
        self.lost = self.lost.saturating_sub(s.len());
        self.lost_segs = self.lost_segs.saturating_sub(1);
        if self.lost_segs == 0 {
            self.lost_from = None;
        }
    }
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
            tally: Tally::default(),
        }
    }

    /// Counts every record afresh (after the bulk re-marking of a
    /// timeout or its undo, which touch them all anyway).
    fn recount(&mut self) {
        let mut t = Tally::default();
        for s in &self.segs {
            t.count(s, s.len(), true);
            if s.lost {
                t.lost_segs += 1;
                t.lost_from = t.lost_from.or(Some(s.start));
            }
        }
        self.tally = t;
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
                    self.tally.count(last, (e - seq) as usize, true);
                }
                _ => {
                    let s = Sent {
                        start: seq,
                        end: e,
                        xmit: now,
                        retx: false,
                        lost: false,
                        sacked: false,
                    };
                    self.tally.count(&s, s.len(), true);
                    self.segs.push_back(s);
                }
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
            if s.lost {
                s.lost = false;
                self.tally.unmark_lost(s);
                // Holes are resent lowest first (NextSeg rule 1): the
                // next lost record lies above this one.
                if self.tally.lost_from == Some(s.start) {
                    self.tally.lost_from = Some(s.end);
                }
            }
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
            if tail.lost {
                self.tally.lost_segs += 1;
            }
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
        self.deliver_cumulative(ack, now, &echo_before, &mut newest, &mut out);
        self.deliver_sacked(board, blocks, now, &mut newest, &mut out);
        self.fack = self.fack.max(ack);
        out.rtt = newest
            .filter(|n| !n.2)
            .map(|(t, _, _)| now.saturating_duration_since(t));
        out
    }

    /// The records at or below `ack`, front first: each not SACKed before
    /// is delivered, then all are dropped (a record `ack` cuts keeps its
    /// unacknowledged rest).
    fn deliver_cumulative(
        &mut self,
        ack: SeqNumber,
        now: Instant,
        echo_before: &impl Fn(Instant) -> bool,
        newest: &mut Option<(Instant, SeqNumber, bool)>,
        out: &mut Delivered,
    ) {
        let mut i = 0;
        while let Some(s) = self.segs.get(i).copied() {
            if s.end.diff(ack) > 0 {
                break;
            }
            if !s.sacked {
                let (n, reordered) = self.deliver(&s, now, echo_before, newest);
                out.bytes += n;
                out.reordered += u64::from(reordered);
                out.note_original(&s);
            }
            i += 1;
        }
        for s in self.segs.drain(..i) {
            self.tally.count(&s, s.len(), false);
            if s.lost {
                self.tally.lost_segs = self.tally.lost_segs.saturating_sub(1);
            }
        }
        if self.tally.lost_segs == 0 {
            self.tally.lost_from = None;
        }
        if let Some(first) = self.segs.front_mut() {
            if first.start.diff(ack) < 0 {
                // A partial ACK inside a record: the rest stays.
                let part = (ack - first.start) as usize;
                if !first.sacked {
                    out.bytes += part;
                }
                self.tally.count(first, part, false);
                first.start = ack;
            }
        }
    }

    /// The records this ACK's `blocks` made SACKed (now wholly covered by
    /// the scoreboard): delivered and marked. Only records the blocks
    /// touch can have changed: O(blocks · (log n + log ranges) + k),
    /// however many ranges the scoreboard holds. Lowest block first, so
    /// that a block below one just delivered does not count as
    /// reordering (step 3).
    fn deliver_sacked(
        &mut self,
        board: &Scoreboard,
        blocks: impl Iterator<Item = (SeqNumber, SeqNumber)>,
        now: Instant,
        newest: &mut Option<(Instant, SeqNumber, bool)>,
        out: &mut Delivered,
    ) {
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
                    let (n, reordered) = self.deliver(&s, now, &|_| false, newest);
                    out.bytes += n;
                    out.reordered += u64::from(reordered);
                    out.note_original(&s);
                    self.mark_sacked(j);
                    self.fack = self.fack.max(s.end);
                }
                j += 1;
            }
        }
    }

    /// Record `j` is SACKed now (no longer lost, if it was).
    fn mark_sacked(&mut self, j: usize) {
        if let Some(rec) = self.segs.get_mut(j) {
            if rec.lost {
                rec.lost = false;
                self.tally.unmark_lost(rec);
            }
            rec.sacked = true;
            self.tally.sacked += rec.len();
        }
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

    /// RFC 8985 §6.2 step 5 (RACK_detect_loss): marks lost every segment
    /// sent before RACK.xmit_ts that has waited RACK.rtt + reo_wnd, and
    /// says when the next one would be due.
    ///
    /// SACKed records cannot be lost, so a run of them is stepped over
    /// whole: `board` gives the run's end, found by binary search. The
    /// walk then costs O(holes · log n), not O(flight) — like Linux, whose
    /// time-sorted list drops SACKed segments.
    pub(super) fn detect_loss(
        &mut self,
        now: Instant,
        reo_wnd: Duration,
        board: &Scoreboard,
    ) -> Losses {
        let mut out = Losses::default();
        let Some(rack_ts) = self.xmit_ts else {
            return out;
        };
        let deadline_after = self.rtt + reo_wnd;
        let mut i = 0;
        while let Some(s) = self.segs.get(i).copied() {
            if s.sacked {
                i = match board.range_containing(s.start) {
                    Some((_, r)) => self.segs.partition_point(|x| x.end.diff(r) <= 0),
                    None => i + 1,
                }
                .max(i + 1);
                continue;
            }
            i += 1;
            out.examined += 1;
            if s.lost {
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
                if let Some(rec) = self.segs.get_mut(i - 1) {
                    rec.lost = true;
                }
                self.tally.mark_lost(&s);
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
        self.recount();
    }

    /// A spurious RTO is undone: nothing is believed lost any more (Linux's
    /// `tcp_undo_cwnd_reduction` unmarking); RACK finds real losses again.
    pub(super) fn unmark_lost(&mut self) {
        for s in self.segs.iter_mut() {
            s.lost = false;
        }
        self.recount();
    }

    /// Bytes retransmitted and still believed in the network: not SACKed,
    /// not marked lost again (Linux's `retrans_out`, for the undo state,
    /// RFC 3708). A walk of the records, asked once per recovery episode
    /// and on the rare partial ACK that proves a hole was reordering.
    pub(super) fn retransmitted_in_flight(&self) -> usize {
        let out = |s: &&Sent| s.retx && !s.sacked && !s.lost;
        self.segs.iter().filter(out).map(Sent::len).sum()
    }

    /// Bytes of `[l, r)` that lie in retransmitted records: what a D-SACK
    /// above SND.UNA proves was resent needlessly (Linux's
    /// `tcp_sacktag_one` counts only segments with TCPCB_RETRANS).
    pub(super) fn retransmitted_within(&self, l: SeqNumber, r: SeqNumber) -> usize {
        let first = self.segs.partition_point(|s| s.end.diff(l) <= 0);
        let overlap = |s: &Sent| {
            let (a, b) = (s.start.max(l), s.end.min(r));
            if b.diff(a) > 0 {
                (b - a) as usize
            } else {
                0
            }
        };
        self.segs
            .range(first..)
            .take_while(|s| s.start.diff(r) < 0)
            .filter(|s| s.retx)
            .map(overlap)
            .sum()
    }

    /// The records from the lowest one that may be marked lost on.
    fn lost_records(&self) -> impl Iterator<Item = &Sent> + '_ {
        let from = match (self.tally.lost_segs, self.tally.lost_from) {
            (0, _) | (_, None) => self.segs.len(),
            (_, Some(f)) => self.segs.partition_point(|s| s.end.diff(f) <= 0),
        };
        self.segs.range(from..).filter(|s| s.lost && !s.sacked)
    }

    /// The ranges currently marked lost and not SACKed, in sequence order
    /// (for the delivery-rate sampler's loss accounting).
    pub(super) fn lost_ranges(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.lost_records()
            .take(self.tally.lost_segs)
            .map(|s| (s.start, s.end))
    }

    /// The first lost, unSACKed segment (RFC 6675 NextSeg rule 1 with
    /// RACK's marks).
    pub(super) fn next_lost(&self) -> Option<(SeqNumber, SeqNumber)> {
        self.lost_records().next().map(|s| (s.start, s.end))
    }

    /// Bytes believed in the network: sent, not SACKed, not lost (a lost
    /// segment counts again once retransmitted). RFC 6675 §4 SetPipe with
    /// RACK's marks, as Linux's `tcp_packets_in_flight`.
    pub(super) fn pipe(&self) -> usize {
        self.tally
            .total
            .saturating_sub(self.tally.sacked + self.tally.lost)
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

    /// The tally against a walk of every record.
    fn check_tally(r: &Rack) {
        let walk = |f: fn(&Sent) -> bool| r.segs.iter().filter(|x| f(x)).map(Sent::len).sum();
        let pipe: usize = walk(|x| !x.sacked && !x.lost);
        assert_eq!(r.pipe(), pipe, "pipe");
        assert_eq!(r.tally.total, walk(|_| true), "total");
        let lost: Vec<_> = r
            .segs
            .iter()
            .filter(|x| x.lost && !x.sacked)
            .map(|x| (x.start, x.end))
            .collect();
        assert_eq!(r.lost_ranges().collect::<Vec<_>>(), lost, "lost ranges");
        assert_eq!(r.next_lost(), lost.first().copied(), "next lost");
    }

    /// A flight of `n` 1000-byte records sent 10 µs apart from ms(0),
    /// every one SACKed but each `gap`th (from the first), as ACKs that
    /// each SACK one more record, in order.
    fn sacked_flight(n: u32, gap: u32) -> (Rack, Scoreboard, SeqNumber) {
        let mut r = Rack::new(s(0));
        let mut board = Scoreboard::new(MAX_SEGMENTS / 2);
        let end = s(0) + n * 1000;
        for k in 0..n {
            let at = ms(0) + Duration::from_micros(u64::from(k) * 10);
            r.on_sent(s(k * 1000), s((k + 1) * 1000), 1000, at);
        }
        for k in (0..n).filter(|k| k % gap != 0) {
            let block = (s(k * 1000), s((k + 1) * 1000));
            board.add(block.0, block.1, s(0), end);
            r.on_ack(s(0), &board, [block].into_iter(), ms(100), |_| false);
        }
        (r, board, end)
    }

    #[test]
    fn loss_detection_steps_over_sacked_runs() {
        // 8,000 records (1 Gbit/s at 100 ms) with 80 holes (1% loss):
        // the walk looks at the holes, not at every SACKed record below
        // RACK.fack (a walk of the flight on every ACK, which bounded the
        // sender's CPU at 1 Gbit/s).
        let (mut r, board, _) = sacked_flight(8000, 100);
        check_tally(&r);
        let losses = r.detect_loss(ms(200), Duration::ZERO, &board);
        assert_eq!(losses.segments, 80, "every hole");
        assert!(
            losses.examined <= 2 * 80 + 2,
            "examined {} records for 80 holes",
            losses.examined
        );
        check_tally(&r);
        assert_eq!(r.next_lost(), Some((s(0), s(1000))));
        // Holes resent lowest first, as NextSeg does: the search for the
        // next one starts past those already resent.
        for k in 0..80 {
            let (l, e) = r.next_lost().expect("a hole left");
            assert_eq!(l, s(k * 100_000));
            r.on_sent(l, e, 1000, ms(201));
            check_tally(&r);
        }
        assert_eq!(r.next_lost(), None);
        assert_eq!(r.pipe(), 80 * 1000, "the resent holes");
    }

    #[test]
    fn tally_matches_a_walk_through_acks_losses_timeouts_and_undo() {
        let (mut r, mut board, end) = sacked_flight(300, 7);
        let losses = r.detect_loss(ms(200), Duration::ZERO, &board);
        assert!(losses.segments > 0);
        check_tally(&r);
        // A partial retransmission splits a lost record.
        let (l, _) = r.next_lost().expect("lost");
        r.on_sent(l, l + 400u32, 1000, ms(201));
        check_tally(&r);
        // A cumulative ACK into the middle of a record, then SACKs.
        r.on_ack(s(20_500), &board, std::iter::empty(), ms(210), |_| false);
        board.advance(s(20_500));
        check_tally(&r);
        let block = (s(50_000), s(60_000));
        board.add(block.0, block.1, s(20_500), end);
        r.on_ack(s(20_500), &board, [block].into_iter(), ms(211), |_| false);
        check_tally(&r);
        r.mark_lost_on_rto(true);
        check_tally(&r);
        r.unmark_lost();
        check_tally(&r);
        r.mark_lost_on_rto(false);
        check_tally(&r);
        assert_eq!(r.pipe(), 0, "all lost after a timeout without SACK");
    }

    #[test]
    fn sent_after_breaks_ties_by_sequence() {
        assert!(sent_after(ms(2), s(0), ms(1), s(100)));
        assert!(sent_after(ms(1), s(100), ms(1), s(0)));
        assert!(!sent_after(ms(1), s(0), ms(1), s(100)));
    }
}
