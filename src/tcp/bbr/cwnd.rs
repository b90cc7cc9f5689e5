//! BBR's control parameters (draft-ietf-ccwg-bbr §5.6): the pacing
//! rate, the congestion window with its model bounds, and the window's
//! handling of fast recovery and retransmission timeouts (§5.6.4.4).

use super::{AckContext, Bbr, BbrMode, INF, LOSS_THRESH, PACING_MARGIN};
use crate::tcp::rate::RateSample;

impl Bbr {
    pub(super) fn set_pacing_rate(&mut self) {
        if self.bw <= 0.0 {
            return;
        }
        let rate = self.pacing_gain * self.bw * (1.0 - PACING_MARGIN);
        if self.full_bw_reached || rate > self.pacing_rate {
            self.pacing_rate = rate;
        }
    }

    /// BBRSaveCwnd (§5.6.4.4): the window to come back to, unless one is
    /// already saved — in loss recovery, which includes the time after a
    /// retransmission timeout until its window is restored. Fast recovery
    /// entered in that time (the next loss, often within a round at 1%)
    /// had saved the window slow-starting from one segment instead; its
    /// end then "restored" that: traced on the bench line at 50 ms, 1%,
    /// cwnd 100–250 kB on a 600 kB BDP for a second after a timeout.
    pub(super) fn save_cwnd(&mut self) {
        let in_loss_recovery = self.in_recovery || self.restore_at.is_some();
        self.prior_cwnd = if !in_loss_recovery && self.mode != BbrMode::ProbeRtt {
            self.cwnd
        } else {
            self.cwnd.max(self.prior_cwnd)
        };
    }

    pub(super) fn restore_cwnd(&mut self) {
        self.cwnd = self.cwnd.max(self.prior_cwnd);
    }

    /// §5.6.4.4 BBRSetCwnd.
    pub(super) fn set_cwnd(&mut self, rs: &RateSample, ctx: AckContext) {
        let max_inflight = self.inflight(self.bw, self.cwnd_gain) + self.extra_acked();
        // §5.6.4.4 BBRModulateCwndForRecovery.
        if rs.newly_lost > 0 {
            self.cwnd = self.cwnd.saturating_sub(rs.newly_lost).max(self.mss);
        }
        if self.packet_conservation && rs.total_delivered >= self.conservation_until {
            self.packet_conservation = false;
        }
        if self.restore_at.is_some_and(|d| rs.total_delivered >= d) {
            self.restore_at = None;
            self.restore_cwnd();
        }
        if self.packet_conservation {
            self.cwnd = self.cwnd.max(ctx.in_flight + rs.newly_acked);
        } else if self.full_bw_reached {
            self.cwnd = (self.cwnd + rs.newly_acked).min(max_inflight);
        } else if self.cwnd < max_inflight || rs.total_delivered < self.initial_cwnd {
            self.cwnd += rs.newly_acked;
        }
        self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.probe_rtt_cwnd());
        }
        // §5.6.4.7 BBRBoundCwndForModel.
        let mut cap = INF;
        if self.mode.is_probe_bw() && self.mode != BbrMode::ProbeBwCruise {
            cap = self.inflight_hi;
        } else if self.mode == BbrMode::ProbeRtt {
            cap = self.inflight_with_headroom();
        } else if self.mode == BbrMode::ProbeBwCruise {
            cap = self.cruise_cap();
        }
        cap = cap.min(self.inflight_lo).max(self.min_pipe_cwnd());
        self.cwnd = self.cwnd.min(cap);
    }

    // ---- loss recovery (§5.6.4.4) ----

    /// Fast recovery begins: packet conservation for one round.
    ///
    /// Unless it begins within a round of the last one's end (before the
    /// flight at that end is delivered): then it continues that one, with
    /// no new conservation round and no cut of cwnd to the flight. This
    /// is what Linux's BBR sees: a new loss marked by the ACK that ends a
    /// recovery starts the next on the same ACK, so the congestion
    /// control's state never leaves Recovery and conservation applies
    /// only to the first round of the chain. Here RACK may mark that loss
    /// a few ACKs later. At 1% random loss and a flight of thousands of
    /// segments recovery never really ends, and each fresh episode cut
    /// cwnd to pipe (the flight less the SACKed data above the holes,
    /// 40–60% of it) and held it a round. Traced on the bench line
    /// (1 Gbit/s, 100 ms, 1%): episodes 5–60 ms apart, cwnd 657 → 250 kB
    /// at each, STARTUP's delivery flat for three rounds, so it ended at
    /// 31 Mbit/s; in PROBE_BW each 1.25× probe gained 10–15%, and the
    /// sender averaged 30–130 Mbit/s against Linux's 380.
    ///
    /// Only after a recovery that lost at most [`LOSS_THRESH`] of what it
    /// accounted for, though: a queue overflowing (STARTUP's 2.77× into
    /// a queue of one BDP) loses far more, and there conservation each
    /// episode is what keeps the retransmissions from overflowing it
    /// again (the WAN simulation's 50 ms, 1% cell took a timeout when
    /// every chained episode skipped it).
    pub fn on_enter_recovery(&mut self, in_flight: u64, delivered: u64) {
        if self
            .recovery_chain_until
            .take()
            .is_some_and(|until| delivered < until)
        {
            self.in_recovery = true;
            return;
        }
        self.save_cwnd();
        self.in_recovery = true;
        self.recovery_lost = 0;
        self.recovery_acked = 0;
        self.cwnd = (in_flight + self.mss).max(self.min_pipe_cwnd());
        self.packet_conservation = true;
        self.conservation_until = delivered + in_flight;
    }

    /// Fast recovery ends: back to the window before it.
    pub fn on_exit_recovery(&mut self) {
        self.in_recovery = false;
        self.packet_conservation = false;
        self.restore_cwnd();
        let accounted = self.recovery_lost + self.recovery_acked;
        self.recovery_chain_until = (self.recovery_lost as f64 <= LOSS_THRESH * accounted as f64)
            .then_some(self.delivered + self.last_in_flight);
    }

    /// A retransmission timeout: one segment, restored once the flight at
    /// the timeout has been delivered.
    pub fn on_rto(&mut self, flight: u64, delivered: u64) {
        self.save_cwnd();
        self.recovery_chain_until = None;
        self.in_recovery = false;
        self.packet_conservation = false;
        self.cwnd = self.mss;
        self.restore_at = Some(delivered + flight);
    }

    /// The last RTO was spurious (F-RTO): the window before it comes back
    /// now instead of once its flight is delivered.
    pub fn undo_rto(&mut self) {
        if self.restore_at.take().is_some() {
            self.restore_cwnd();
        }
    }

    /// Adopts `cwnd` (switching to BBR mid-connection).
    pub fn set_cwnd_from(&mut self, cwnd: usize) {
        self.cwnd = (cwnd as u64).max(self.min_pipe_cwnd());
        self.prior_cwnd = self.cwnd;
    }
}
