//! BBR's congestion signals and the bounds loss sets on the model
//! (draft-ietf-ccwg-bbr §5.5.10.3 BBRUpdateCongestionSignals, the short-
//! term bounds bw_lo/inflight_lo, §5.6.4.7 CRUISE's headroom), with the
//! deviations for lossy links that the WAN bench measured.

use super::{AckPhase, Bbr, BbrMode, BETA, CONGESTED_ROUNDS, FULL_LOSS_COUNT, INF, LOSS_THRESH};
use crate::tcp::rate::RateSample;

impl Bbr {
    /// §5.5.1 BBRUpdateRound and §5.5.5 BBRUpdateMaxBw.
    pub(super) fn update_congestion_signals(&mut self, rs: &RateSample) {
        self.round_start = false;
        if rs.newly_acked > 0 && rs.prior_delivered >= self.next_round_delivered {
            self.next_round_delivered = rs.total_delivered;
            self.round_count += 1;
            self.rounds_since_bw_probe += 1;
            self.round_start = true;
        }
        if rs.delivery_rate > 0.0 && (rs.delivery_rate >= self.max_bw || !rs.is_app_limited) {
            self.bw_hi[1] = self.bw_hi[1].max(rs.delivery_rate);
            self.max_bw = self.bw_hi[0].max(self.bw_hi[1]);
        }
        // §5.5.10.3 BBRUpdateCongestionSignals, with LossThresh applied to
        // the round as a whole: the draft (and Linux) react to any loss in
        // a round, which under random loss (a lossy link, not a queue)
        // ratchets bw_lo down round after round between probes, since
        // pacing 1% under the estimate makes bw_latest ≈ 0.99·bw_lo. A
        // round counts as congested when more than 2% of what it accounted
        // for was lost — the threshold the draft already uses for
        // inflight_hi. Measured in the WAN simulation (100 Mbit/s, 50 ms,
        // 1% random loss): 0.87x of the bottleneck with this rule, 0.78x
        // with the draft's any-loss rule. The round also needs
        // FULL_LOSS_COUNT loss events (`is_loss_rate_too_high`). Everything
        // else — inflight_hi cut only by probing samples, β-scaled bounds
        // never below the latest round's delivery, reset at each REFILL —
        // is the draft's.
        self.round_lost += rs.newly_lost;
        self.round_acked += rs.newly_acked;
        if !self.loss_round_start {
            return;
        }
        let accounted = self.round_lost + self.round_acked;
        self.loss_in_round = self.is_loss_rate_too_high(self.round_lost, accounted);
        self.adapt_lower_bounds_from_congestion();
        self.loss_in_round = false;
        self.last_round = (self.round_lost, self.round_acked, self.loss_events_in_round);
        self.round_lost = 0;
        self.round_acked = 0;
    }

    pub(super) fn update_latest_delivery_signals(&mut self, rs: &RateSample) {
        self.loss_round_start = false;
        self.bw_latest = self.bw_latest.max(rs.delivery_rate);
        self.inflight_latest = self.inflight_latest.max(rs.delivered);
        if rs.newly_acked > 0 && rs.prior_delivered >= self.loss_round_delivered {
            self.loss_round_delivered = rs.total_delivered;
            self.loss_round_start = true;
        }
    }

    pub(super) fn advance_latest_delivery_signals(&mut self, rs: &RateSample) {
        if self.loss_round_start {
            self.bw_latest = rs.delivery_rate;
            self.inflight_latest = rs.delivered;
            self.loss_events_in_round = 0;
        }
    }

    /// "More than [`LOSS_THRESH`] of `of` was lost": `lost` over the
    /// threshold, and at least [`FULL_LOSS_COUNT`] loss events in this
    /// round. Deliberate deviation from the draft's IsInflightTooHigh,
    /// which compares the bytes only: in a round of n segments random
    /// loss at rate p marks about Poisson(n·p) of them, and 2% of n is
    /// one or two segments when n is under a hundred (100 Mbit/s at
    /// 10 ms). At 1% random loss such a round crosses 2% by chance one
    /// time in five (P[Poisson(0.87) ≥ 2] = 0.22), each time cutting
    /// bw_lo; six events happen by chance once in ten thousand rounds,
    /// while a queue overflowing under a 1.25× probe drops a fifth of
    /// what it is sent. Measured in the WAN simulation (100 Mbit/s,
    /// 64 MiB, 1% random loss): 10 ms went from 0.72× to 0.93× of the
    /// bottleneck, 50 ms from 0.85× to 0.90×.
    pub(super) fn is_loss_rate_too_high(&self, lost: u64, of: u64) -> bool {
        self.loss_events_in_round >= FULL_LOSS_COUNT && lost as f64 > LOSS_THRESH * of as f64
    }

    pub(super) fn is_probing_bw(&self) -> bool {
        matches!(
            self.mode,
            BbrMode::Startup | BbrMode::ProbeBwRefill | BbrMode::ProbeBwUp
        )
    }

    /// §5.5.10.3: once per round with loss, outside bandwidth probing,
    /// scale the short-term bounds by β (never below the latest delivery).
    ///
    /// Also not while the ACKs are still for a probe's packets (ack phase
    /// ProbeStopping, §5.5.10.1: the round after UP, or after STARTUP):
    /// their losses are the probe's overshoot, which inflight_hi answers.
    /// Judged as congestion they cut bw_lo for the whole 2–3 s until the
    /// next probe; traced at 100 ms (docs/wan-traces.md): 165 kB of
    /// STARTUP's overshoot, reported in the first CRUISE round, held the
    /// pacing rate at 85 Mbit/s for 2.4 s.
    ///
    /// Deliberate deviation: the bounds are cut only from the second of
    /// [`CONGESTED_ROUNDS`] consecutive too-lossy rounds (the draft and
    /// Linux's BBRv3 cut at the first). Congestion that calls for them
    /// (a queue kept full by another flow) loses in round after round; a
    /// lossy link does not: at 1% random loss and 50 ms a round of 414
    /// segments crosses 2% with six events about one round in fifty, two
    /// in a row about once in 2,500 rounds (bursty loss, Gilbert-Elliott
    /// with ~4 packets at 50%, more often: in four of five 5 s runs,
    /// each then cutting bw_lo to 93–96 Mbit/s). Each lone cut held
    /// pacing at 78–92 Mbit/s and inflight_lo under the BDP until the
    /// next probe, 2–3 s later (traced on the bench line: 50 ms bursty,
    /// 72.3 against Linux's 87.3 Mbit/s; docs/wan-traces.md). Linux's BBR
    /// v1, the kernel's default here, has no short-term bounds at all.
    pub(super) fn adapt_lower_bounds_from_congestion(&mut self) {
        if self.is_probing_bw() || self.ack_phase == AckPhase::ProbeStopping || !self.loss_in_round
        {
            self.congested_rounds = 0;
            return;
        }
        self.congested_rounds = self.congested_rounds.saturating_add(1);
        if self.congested_rounds < CONGESTED_ROUNDS {
            return;
        }
        if self.bw_lo.is_infinite() {
            self.bw_lo = self.max_bw;
        }
        if self.inflight_lo == INF {
            self.inflight_lo = self.cwnd;
        }
        self.bw_lo = self.bw_latest.max(BETA * self.bw_lo);
        self.inflight_lo = self
            .inflight_latest
            .max((BETA * self.inflight_lo as f64) as u64);
    }

    pub(super) fn reset_lower_bounds(&mut self) {
        self.bw_lo = f64::INFINITY;
        self.inflight_lo = INF;
    }

    pub(super) fn reset_congestion_signals(&mut self) {
        self.loss_in_round = false;
        self.bw_latest = 0.0;
        self.inflight_latest = 0;
    }

    pub(super) fn bound_bw_for_model(&mut self) {
        self.bw = self.max_bw.min(self.bw_lo);
    }

    /// The cwnd bound in PROBE_BW:CRUISE: inflight_hi less 15% headroom
    /// (§5.6.4.7), but not below the model's BDP (nor above inflight_hi).
    /// Deliberate deviation: random loss during a bandwidth probe cuts
    /// inflight_hi to the flight at the loss, about one BDP (the queue
    /// was far from full), and the headroom then held cwnd at 0.85–0.91
    /// of the BDP for the 2–3 s until the next probe: cwnd-limited under
    /// the pacing rate (traced on the bench line, 50 ms, 1% and bursty
    /// loss: inflight_hi 617–656 kB on a 609 kB BDP, cwnd 524–558 kB).
    /// The headroom leaves room in a queue for other flows' probes; a
    /// window under the BDP leaves the link idle instead. Linux's BBR v1
    /// keeps cwnd at twice the BDP in that state.
    pub(super) fn cruise_cap(&self) -> u64 {
        let bdp = self.bdp_multiple(self.bw, 1.0);
        self.inflight_with_headroom().max(self.inflight_hi.min(bdp))
    }
}
