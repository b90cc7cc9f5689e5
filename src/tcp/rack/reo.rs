//! RACK's reordering window (RFC 8985 §6.2 step 4), as Linux adapts it
//! (`tcp_rack_reo_wnd`, `tcp_rack_update_reo_wnd`, `tcp_dsack_seen`):
//!
//! - zero until reordering has been seen while DupThresh segments are
//!   SACKed or during recovery; otherwise min_RTT/4 × RACK.reo_wnd_mult,
//!   at most SRTT;
//! - a DSACK, once reordering has been seen, adds one step per round
//!   trip and makes the widened window persist for 16 recoveries
//!   (RACK.reo_wnd_persist); a recovery that ends without being undone
//!   uses one of them up, and the multiplier falls back to 1 when none
//!   is left;
//! - a recovery proven spurious (`undo.rs`, RFC 3708 / RFC 3522) is
//!   reordering seen, and a D-SACK undo earns the window one more
//!   recovery of persistence (Linux's `tcp_try_undo_dsack`).

use super::Rack;
use crate::tcp::sack::DUP_THRESH;
use crate::time::Duration;
use crate::wire::SeqNumber;

/// RFC 8985 §6.2 step 4 / Linux `TCP_RACK_RECOVERY_THRESH`: recoveries a
/// DSACK-widened reordering window persists for.
const REO_WND_PERSIST: u32 = 16;

impl Rack {
    /// RFC 8985 §6.2 step 4: RACK.reo_wnd.
    pub(in crate::tcp) fn reo_wnd(
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

    /// RFC 8985 §6.2 step 4: a DSACK widens the reordering window by one
    /// min_RTT/4 step, at most once per round trip — only once reordering
    /// has been seen, as Linux's `tcp_dsack_seen` (a DSACK without it is
    /// a duplicate the network or a needless timeout made, not a sign
    /// that RACK was too quick).
    pub(in crate::tcp) fn on_dsack(&mut self, snd_una: SeqNumber, snd_max: SeqNumber) {
        if !self.reordering_seen || self.dsack_round.is_some_and(|r| snd_una.diff(r) < 0) {
            return;
        }
        self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(255);
        self.reo_wnd_persist = REO_WND_PERSIST;
        self.dsack_round = Some(snd_max);
    }

    /// A recovery ended without being undone (Linux's
    /// `tcp_try_undo_recovery` when it cannot undo): a widened window
    /// decays after 16 of them.
    pub(in crate::tcp) fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// A fast recovery was undone: what looked like loss was reordering
    /// (Linux's `tcp_try_undo_partial` → `tcp_check_sack_reordering`),
    /// so RACK waits a reordering window from now on; a D-SACK undo also
    /// keeps a widened window one recovery longer (`tcp_try_undo_dsack`).
    pub(in crate::tcp) fn on_recovery_undone(&mut self, by_dsack: bool) {
        self.reordering_seen = true;
        if by_dsack {
            self.reo_wnd_persist = (self.reo_wnd_persist + 1).min(REO_WND_PERSIST);
        }
    }

    /// RACK.reordering_seen.
    #[cfg(test)]
    pub(in crate::tcp) fn reordering_seen(&self) -> bool {
        self.reordering_seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(u32::MAX - 3000) + n
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
    fn dsack_without_reordering_seen_leaves_the_window() {
        // Linux's tcp_dsack_seen sets rack.dsack_seen only with reord_seen.
        let mut r = Rack::new(s(0));
        r.min_rtt = Some(Duration::from_millis(40));
        r.on_dsack(s(0), s(5000));
        assert_eq!(r.reo_wnd_mult, 1);
        r.on_recovery_undone(true);
        assert!(r.reordering_seen);
        assert_eq!(r.reo_wnd_persist, 1, "a D-SACK undo: one more recovery");
        r.on_dsack(s(5000), s(9000));
        assert_eq!((r.reo_wnd_mult, r.reo_wnd_persist), (2, REO_WND_PERSIST));
        r.on_recovery_undone(true);
        assert_eq!(r.reo_wnd_persist, REO_WND_PERSIST, "capped");
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
