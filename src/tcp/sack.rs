//! SACK-based loss recovery as a sender (RFC 6675 with RFC 2018 blocks):
//! a scoreboard of what the peer holds above SND.UNA, and the pipe
//! estimate. Which holes are lost is RACK's call (`rack.rs`, RFC 8985),
//! as in Linux; DupThresh survives in RACK's reordering window.
//!
//! The scoreboard keeps at most a fixed number of ranges; blocks beyond
//! that, or outside (SND.UNA, SND.MAX], are ignored — a hostile receiver
//! can only make us retransmit more, never corrupt the stream.

use super::Tcb;
use crate::wire::{SeqNumber, TcpSegment};

/// RFC 6675 §2 DupThresh.
pub(super) const DUP_THRESH: usize = 3;

/// Sorted, disjoint SACKed ranges `[left, right)` above SND.UNA.
#[derive(Clone, Debug)]
pub(super) struct Scoreboard {
    ranges: Vec<(SeqNumber, SeqNumber)>,
    max: usize,
}

impl Scoreboard {
    pub(super) fn new(max: usize) -> Scoreboard {
        Scoreboard {
            ranges: Vec::new(),
            max: max.max(1),
        }
    }

    pub(super) fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Records one SACK block, clipped to `(snd_una, snd_max]`. Returns
    /// true if it covered bytes not SACKed before.
    pub(super) fn add(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        snd_una: SeqNumber,
        snd_max: SeqNumber,
    ) -> bool {
        let (l, r) = (left.max(snd_una), right.min(snd_max));
        if r.diff(l) <= 0 {
            return false;
        }
        let before = self.sacked_bytes();
        let (mut l, mut r) = (l, r);
        let first = self.ranges.partition_point(|&(_, e)| e.diff(l) < 0);
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].0.diff(r) <= 0 {
            l = l.min(self.ranges[last].0);
            r = r.max(self.ranges[last].1);
            last += 1;
        }
        if first == last && self.ranges.len() >= self.max {
            return false;
        }
        self.ranges.splice(first..last, [(l, r)]);
        self.sacked_bytes() > before
    }

    /// Bytes SACKed above SND.UNA.
    pub(super) fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(l, r)| (r - l) as usize).sum()
    }

    /// Forgets everything at or below the new SND.UNA.
    pub(super) fn advance(&mut self, snd_una: SeqNumber) {
        self.ranges.retain(|&(_, r)| r.diff(snd_una) > 0);
        if let Some(first) = self.ranges.first_mut() {
            first.0 = first.0.max(snd_una);
        }
    }

    /// True when one SACKed range holds all of `[start, end)`: the first
    /// range ending after `start` is the only one that can.
    pub(super) fn covers(&self, start: SeqNumber, end: SeqNumber) -> bool {
        let i = self.ranges.partition_point(|&(_, r)| r.diff(start) <= 0);
        self.ranges
            .get(i)
            .is_some_and(|&(l, r)| l.diff(start) <= 0 && end.diff(r) <= 0)
    }

    /// The SACKed ranges `[left, right)`, lowest first.
    /// The range that holds `seq`, if one does (O(log ranges)).
    pub(super) fn range_containing(&self, seq: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let i = self.ranges.partition_point(|&(_, r)| r.diff(seq) <= 0);
        self.ranges
            .get(i)
            .copied()
            .filter(|&(l, _)| l.diff(seq) <= 0)
    }

    pub(super) fn ranges(&self) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        self.ranges.iter().copied()
    }
}

impl Tcb {
    /// Folds the SACK blocks of an arriving ACK into the scoreboard.
    /// Returns true if any block reported new data (RFC 6675 §2 "dup ACK"
    /// includes ACKs that carry new SACK information).
    pub(super) fn absorb_sack(&mut self, seg: &TcpSegment<'_>) -> bool {
        if !self.opts.sack_ok {
            return false;
        }
        let mut new = false;
        for (l, r) in seg.header.options.sack_blocks.iter().flatten() {
            self.stats.sack_blocks_in += 1;
            new |= self.loss.scoreboard.add(*l, *r, self.snd.una, self.snd.max);
        }
        new
    }

    /// RFC 6675 §4 SetPipe: bytes believed to be in the network, with
    /// losses marked by RACK (RFC 8985) rather than the DupThresh rule, as
    /// Linux counts `tcp_packets_in_flight`.
    pub(super) fn pipe(&self) -> usize {
        self.loss.rack.pipe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequence numbers near 2^32 so the tests cross the wrap.
    fn s(n: u32) -> SeqNumber {
        SeqNumber(u32::MAX - 1000) + n
    }

    #[test]
    fn scoreboard_merges_clips_and_advances_across_wrap() {
        let mut b = Scoreboard::new(8);
        assert!(b.add(s(3000), s(4000), s(0), s(10_000)));
        assert!(b.add(s(1000), s(2000), s(0), s(10_000)));
        assert!(!b.add(s(1200), s(1800), s(0), s(10_000)), "nothing new");
        assert!(
            b.add(s(2000), s(3000), s(0), s(10_000)),
            "fills the gap, merges"
        );
        assert_eq!(b.ranges, vec![(s(1000), s(4000))]);
        assert!(
            !b.add(s(20_000), s(30_000), s(0), s(10_000)),
            "beyond SND.MAX ignored"
        );
        b.advance(s(1500));
        assert_eq!(b.ranges, vec![(s(1500), s(4000))]);
        assert!(b.covers(s(3999), s(4000)) && !b.covers(s(4000), s(4001)));
        assert!(b.covers(s(1500), s(4000)) && !b.covers(s(1000), s(2000)));
    }

    #[test]
    fn scoreboard_range_limit_holds() {
        let mut b = Scoreboard::new(2);
        b.add(s(10), s(20), s(0), s(1000));
        b.add(s(30), s(40), s(0), s(1000));
        assert!(!b.add(s(50), s(60), s(0), s(1000)));
        assert_eq!(b.ranges.len(), 2);
    }
}
