//! Out-of-order reception bookkeeping: which byte ranges past the in-order
//! point have arrived, with a hard limit on the number of separate ranges
//! (holes) so a hostile peer can not make us track unbounded state.
//!
//! Offsets are relative to the in-order point (RCV.NXT); when in-order data
//! arrives the caller asks how many contiguous bytes became available and
//! everything shifts down.

/// A range set of received-but-not-contiguous bytes.
#[derive(Debug, Clone)]
pub struct Assembler {
    /// Sorted, disjoint, non-adjacent `[start, end)` ranges; `start > 0`
    /// unless contiguous data is waiting to be taken.
    ranges: Vec<(usize, usize)>,
    max_ranges: usize,
    /// The most recently extended ranges, latest first (for SACK ordering,
    /// RFC 2018 §4: the first block reports the latest segment, the
    /// following ones the most recently reported others). Each entry is a
    /// current range: one merged into a larger range is removed then.
    recent: Vec<(usize, usize)>,
    /// Ranges added or extended since a SACK block last reported them,
    /// oldest change first (at most one entry per held range). A batch of
    /// segments processed before the next ACK leaves can change more
    /// ranges than one ACK's blocks carry; these are reported in the ACKs
    /// that follow, so no range goes unreported (Linux sends its pending
    /// ACK before it forgets a SACK block, `tcp_sack_new_ofo_skb`).
    unreported: Vec<(usize, usize)>,
}

/// How many recently extended ranges are remembered for SACK ordering (a
/// SACK option carries at most four blocks).
const RECENT: usize = 4;

/// The range would need more than the allowed number of ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHoles;

impl Assembler {
    /// An empty assembler tracking at most `max_ranges` ranges.
    pub fn new(max_ranges: usize) -> Assembler {
        Assembler {
            ranges: Vec::new(),
            max_ranges: max_ranges.max(1),
            recent: Vec::new(),
            unreported: Vec::new(),
        }
    }

    /// True if nothing out of order is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of ranges held.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// Records `[offset, offset + len)` as received.
    ///
    /// # Errors
    /// [`TooManyHoles`] if recording it would exceed the range limit; the
    /// set is unchanged then.
    pub fn add(&mut self, offset: usize, len: usize) -> Result<(), TooManyHoles> {
        if len == 0 {
            return Ok(());
        }
        let (mut start, mut end) = (offset, offset.saturating_add(len));
        // Ranges that overlap or touch [start, end) merge with it.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].0 <= end {
            start = start.min(self.ranges[last].0);
            end = end.max(self.ranges[last].1);
            last += 1;
        }
        // A range at offset 0 is in-order data the caller takes at once
        // with take_front: refusing it would leave every held range
        // unshifted while RCV.NXT moves on, misplacing their bytes.
        if first == last && self.ranges.len() >= self.max_ranges && start != 0 {
            return Err(TooManyHoles);
        }
        self.ranges.splice(first..last, [(start, end)]);
        self.recent.retain(|&(s, e)| e < start || s > end);
        self.recent.insert(0, (start, end));
        self.recent.truncate(RECENT);
        // A merge keeps the place of the oldest unreported range it took in.
        let at = self
            .unreported
            .iter()
            .position(|&(s, e)| e >= start && s <= end);
        self.unreported.retain(|&(s, e)| e < start || s > end);
        let at = at
            .unwrap_or(self.unreported.len())
            .min(self.unreported.len());
        self.unreported.insert(at, (start, end));
        Ok(())
    }

    /// Removes and returns the length of the contiguous run at offset 0,
    /// shifting the remaining ranges down by it.
    pub fn take_front(&mut self) -> usize {
        match self.ranges.first() {
            Some(&(0, end)) => {
                self.ranges.remove(0);
                for r in &mut self.ranges {
                    r.0 -= end;
                    r.1 -= end;
                }
                self.recent.retain(|&(s, _)| s >= end);
                for r in &mut self.recent {
                    r.0 -= end;
                    r.1 -= end;
                }
                self.unreported.retain(|&(s, _)| s >= end);
                for r in &mut self.unreported {
                    r.0 -= end;
                    r.1 -= end;
                }
                end
            }
            _ => 0,
        }
    }

    /// Records `n` bytes that arrived in order (at offset 0) and takes the
    /// contiguous run now at the front, as [`add`](Self::add)`(0, n)` and
    /// then [`take_front`](Self::take_front) would, returning its length.
    /// With nothing held out of order that run is the `n` bytes, and
    /// nothing is touched: this is the path of every in-order segment, and
    /// inserting a range only to take it out again cost a Vec splice per
    /// packet.
    pub fn add_front_and_take(&mut self, n: usize) -> usize {
        if self.ranges.is_empty() {
            // `recent` holds only current ranges, so it is empty too.
            return n;
        }
        // At offset 0 the range limit never refuses (see `add`).
        let _ = self.add(0, n);
        self.take_front()
    }

    /// The held ranges, the most recently extended first, then the other
    /// recently extended ones, then the rest in order (RFC 2018 §4 block
    /// ordering).
    pub fn ranges_latest_first(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let recent = self
            .recent
            .iter()
            .copied()
            .filter(|r| self.ranges.binary_search(r).is_ok());
        recent.chain(
            self.ranges
                .iter()
                .copied()
                .filter(move |r| !self.recent.contains(r)),
        )
    }

    /// The held ranges in the order the next SACK option of `room` blocks
    /// lists them: the oldest `room` ranges changed since they were last
    /// reported, the latest of them first, then the reported ones as
    /// [`ranges_latest_first`](Self::ranges_latest_first). Normally only
    /// the latest segment's range is unreported, so this is RFC 2018 §4's
    /// order. After a batch of segments handled before one ACK, each ACK
    /// is the one that would have answered the last segment of its share
    /// (`room` ranges, in arrival order): a sender learns of the ranges in
    /// the order it sent them, and its RACK (RFC 8985) marks no delivered
    /// segment lost.
    pub fn ranges_for_sack(&self, room: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let share = self.unreported.get(..room.min(self.unreported.len()));
        share.unwrap_or(&[]).iter().rev().copied().chain(
            self.ranges_latest_first()
                .filter(move |r| !self.unreported.contains(r)),
        )
    }

    /// The ranges in `blocks` went out in a SACK option.
    pub fn reported(&mut self, blocks: &[(usize, usize)]) {
        self.unreported.retain(|r| !blocks.contains(r));
    }

    /// True while some range changed since a SACK block last reported it.
    pub fn has_unreported(&self) -> bool {
        !self.unreported.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.recent.clear();
        self.unreported.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_and_adjacent_ranges() {
        let mut a = Assembler::new(4);
        a.add(10, 5).unwrap();
        a.add(20, 5).unwrap();
        a.add(15, 5).unwrap();
        assert_eq!(a.ranges_latest_first().collect::<Vec<_>>(), vec![(10, 25)]);
        a.add(5, 30).unwrap();
        assert_eq!(a.range_count(), 1);
        assert_eq!(a.take_front(), 0, "a hole at 0..5 remains");
        a.add(0, 5).unwrap();
        assert_eq!(a.take_front(), 35);
        assert!(a.is_empty());
    }

    #[test]
    fn in_order_data_is_taken_even_with_the_range_limit_reached() {
        // Two holes held at the limit; in-order bytes that touch neither
        // must still shift them, or their bytes land at the wrong offsets.
        let mut a = Assembler::new(2);
        a.add(100, 10).unwrap();
        a.add(200, 10).unwrap();
        a.add(0, 50).unwrap();
        assert_eq!(a.take_front(), 50);
        // Shifted by 50, the most recently added first (RFC 2018 §4).
        assert_eq!(
            a.ranges_latest_first().collect::<Vec<_>>(),
            vec![(150, 160), (50, 60)]
        );
        assert_eq!(a.add(70, 5), Err(TooManyHoles), "the limit still holds");
    }

    #[test]
    fn take_front_shifts_the_rest() {
        let mut a = Assembler::new(4);
        a.add(100, 10).unwrap();
        a.add(0, 50).unwrap();
        assert_eq!(a.take_front(), 50);
        assert_eq!(a.ranges_latest_first().collect::<Vec<_>>(), vec![(50, 60)]);
    }

    #[test]
    fn hole_limit_is_enforced_without_changing_state() {
        let mut a = Assembler::new(2);
        a.add(10, 1).unwrap();
        a.add(20, 1).unwrap();
        assert_eq!(a.add(30, 1), Err(TooManyHoles));
        assert_eq!(a.range_count(), 2);
        // Extending an existing range is always allowed.
        a.add(21, 5).unwrap();
        assert_eq!(a.ranges_latest_first().next(), Some((20, 26)));
    }

    #[test]
    fn latest_range_is_reported_first() {
        let mut a = Assembler::new(8);
        a.add(10, 1).unwrap();
        a.add(30, 1).unwrap();
        a.add(20, 1).unwrap();
        assert_eq!(
            a.ranges_latest_first().collect::<Vec<_>>(),
            vec![(20, 21), (30, 31), (10, 11)],
            "latest first, then the most recently reported others"
        );
        // Extending the oldest range makes it the first block; a merge
        // removes the merged range from the recency list.
        a.add(11, 2).unwrap();
        a.add(21, 9).unwrap();
        assert_eq!(
            a.ranges_latest_first().collect::<Vec<_>>(),
            vec![(20, 31), (10, 13)]
        );
        a.add(0, 10).unwrap();
        assert_eq!(a.take_front(), 13);
        assert_eq!(a.ranges_latest_first().collect::<Vec<_>>(), vec![(7, 18)]);
    }

    #[test]
    fn add_front_and_take_is_add_then_take_front() {
        // From states with nothing, one and several ranges held (and the
        // range limit reached), in-order runs short of, up to and past
        // the first range: the same result and the same state as the two
        // calls.
        let states: [&[(usize, usize)]; 4] = [&[], &[(100, 10)], &[(30, 5), (60, 5)], &[(5, 5)]];
        for held in states {
            for n in [0, 1, 5, 30, 35, 40, 100, 120] {
                let mut fast = Assembler::new(2);
                for &(off, len) in held {
                    fast.add(off, len).unwrap();
                }
                let mut slow = fast.clone();
                let _ = slow.add(0, n);
                let want = slow.take_front();
                assert_eq!(fast.add_front_and_take(n), want, "{held:?} + {n}");
                assert_eq!(
                    fast.ranges_latest_first().collect::<Vec<_>>(),
                    slow.ranges_latest_first().collect::<Vec<_>>(),
                    "{held:?} + {n}"
                );
                assert_eq!(fast.recent, slow.recent, "{held:?} + {n}");
            }
        }
    }

    #[test]
    fn blocks_beyond_the_recent_ones_follow_in_order() {
        let mut a = Assembler::new(16);
        for off in [60, 50, 40, 30, 20, 10] {
            a.add(off, 1).unwrap();
        }
        assert_eq!(
            a.ranges_latest_first().collect::<Vec<_>>(),
            vec![(10, 11), (20, 21), (30, 31), (40, 41), (50, 51), (60, 61)]
        );
    }

    #[test]
    fn every_changed_range_is_reported_once_oldest_first() {
        let mut a = Assembler::new(16);
        for off in [10, 30, 50, 70, 90] {
            a.add(off, 5).unwrap();
        }
        // Extending the oldest keeps its place; a merge keeps the older.
        a.add(15, 2).unwrap();
        a.add(35, 15).unwrap();
        assert_eq!(
            a.ranges_for_sack(2).collect::<Vec<_>>(),
            vec![(30, 55), (10, 17)],
            "the two oldest changes, the later first; no other unreported one"
        );
        a.reported(&[(30, 55), (10, 17)]);
        assert!(a.has_unreported());
        assert_eq!(
            a.ranges_for_sack(3).collect::<Vec<_>>(),
            vec![(90, 95), (70, 75), (30, 55), (10, 17)],
            "then the most recent reported ones"
        );
        a.reported(&[(90, 95), (70, 75), (30, 55)]);
        assert!(!a.has_unreported());
        a.add(95, 1).unwrap();
        assert_eq!(a.ranges_for_sack(3).next(), Some((90, 96)));
        // In-order data takes the front and shifts what stays unreported.
        a.add(0, 10).unwrap();
        assert_eq!(a.take_front(), 17);
        assert_eq!(a.ranges_for_sack(3).next(), Some((73, 79)));
        a.clear();
        assert!(!a.has_unreported());
    }

    #[test]
    fn matches_a_bitmap_model() {
        let mut a = Assembler::new(1000);
        let mut model = vec![false; 400];
        let mut x: u32 = 99;
        for _ in 0..300 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let off = (x >> 8) as usize % 350;
            let len = (x >> 20) as usize % 40;
            a.add(off, len).unwrap();
            for b in &mut model[off..off + len] {
                *b = true;
            }
        }
        let mut from_ranges = vec![false; 400];
        for (s, e) in a.ranges_latest_first() {
            for b in &mut from_ranges[s..e] {
                *b = true;
            }
        }
        assert_eq!(from_ranges, model);
    }
}
