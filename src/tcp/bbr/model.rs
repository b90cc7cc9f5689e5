//! BBR's model of the path (draft-ietf-ccwg-bbr §5.5): the BDP and
//! inflight targets (§5.6.3), the send quantum (§5.6.1), the
//! bandwidth max filter over PROBE_BW cycles (§5.5.5), the ACK
//! aggregation estimate (§5.5.9) and the minimum RTT filters
//! (§5.5.6, §5.3.4).

use super::{
    Bbr, BbrMode, EXTRA_ACKED_HALF_ROUNDS, MIN_PIPE_SEGMENTS, MIN_RTT_FILTER, PROBE_RTT_CWND_GAIN,
    PROBE_RTT_INTERVAL, STARTUP_PACING_GAIN,
};
use crate::tcp::rate::RateSample;
use crate::time::{Duration, Instant};

impl Bbr {
    /// BDP at `gain` for bandwidth `bw` (§5.6.3 BBRBDPMultiple); the
    /// initial window before any RTT sample.
    pub(super) fn bdp_multiple(&self, bw: f64, gain: f64) -> u64 {
        match self.min_rtt {
            Some(rtt) if bw > 0.0 => (gain * bw * rtt.as_secs_f64()) as u64,
            _ => self.initial_cwnd,
        }
    }

    /// §5.6.3 BBRInflight: a BDP multiple plus room for ACK aggregation
    /// and send quanta, and two extra segments when probing up.
    pub(super) fn inflight(&self, bw: f64, gain: f64) -> u64 {
        let mut inflight = self.bdp_multiple(bw, gain) + 3 * self.send_quantum();
        if self.mode == BbrMode::ProbeBwUp {
            inflight += 2 * self.mss;
        }
        inflight
    }

    /// §5.6.1: pacing_rate · 1 ms, within [2, 64 KiB / MSS] segments.
    pub fn send_quantum(&self) -> u64 {
        let q = (self.pacing_rate * 0.001) as u64;
        q.clamp(2 * self.mss, (64 * 1024).max(2 * self.mss))
    }

    pub(super) fn min_pipe_cwnd(&self) -> u64 {
        MIN_PIPE_SEGMENTS * self.mss
    }

    pub(super) fn probe_rtt_cwnd(&self) -> u64 {
        self.bdp_multiple(self.bw, PROBE_RTT_CWND_GAIN)
            .max(self.min_pipe_cwnd())
    }

    /// §5.6.2 BBRInitPacingRate, from the handshake's SRTT (or 1 ms).
    pub fn init_pacing_rate(&mut self, srtt: Option<Duration>) {
        if self.pacing_rate > 0.0 {
            return;
        }
        let rtt = srtt
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_millis(1));
        let nominal = self.cwnd as f64 / rtt.as_secs_f64();
        self.pacing_rate = STARTUP_PACING_GAIN * nominal;
    }

    pub(super) fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// §5.5.5: a new PROBE_BW cycle ages the max filter by one slot.
    pub(super) fn advance_max_bw_filter(&mut self) {
        self.bw_hi[0] = self.bw_hi[1];
        self.bw_hi[1] = 0.0;
        self.max_bw = self.bw_hi[0];
    }

    /// §5.5.9 BBRUpdateACKAggregation.
    pub(super) fn update_ack_aggregation(&mut self, now: Instant, rs: &RateSample) {
        if self.round_start {
            self.extra_acked_round += 1;
            if self.extra_acked_round >= EXTRA_ACKED_HALF_ROUNDS {
                self.extra_acked_round = 0;
                self.extra_acked[0] = self.extra_acked[1];
                self.extra_acked[1] = 0;
            }
        }
        let start = *self.extra_acked_interval_start.get_or_insert(now);
        let interval = now.saturating_duration_since(start).as_secs_f64();
        let mut expected = (self.bw * interval) as u64;
        if self.extra_acked_delivered <= expected {
            self.extra_acked_delivered = 0;
            self.extra_acked_interval_start = Some(now);
            expected = 0;
        }
        self.extra_acked_delivered += rs.newly_acked;
        let extra = self
            .extra_acked_delivered
            .saturating_sub(expected)
            .min(self.cwnd);
        self.extra_acked[1] = self.extra_acked[1].max(extra);
    }

    pub(super) fn extra_acked(&self) -> u64 {
        self.extra_acked[0].max(self.extra_acked[1])
    }

    pub(super) fn update_min_rtt(&mut self, now: Instant, rs: &RateSample) {
        if self.probe_rtt_min_delay.is_none() {
            // BBRInit stamps both filters with the connection's start. The
            // model is made before the connection knows the clock (at
            // Instant::ZERO, the stack's start), so until the first RTT
            // sample the windows start now: a connection accepted more
            // than 5 s after the stack started would otherwise begin in
            // PROBE_RTT at its first ACK.
            self.probe_rtt_min_stamp = now;
            self.min_rtt_stamp = now;
        }
        self.probe_rtt_expired =
            now.saturating_duration_since(self.probe_rtt_min_stamp) > PROBE_RTT_INTERVAL;
        if let Some(rtt) = rs.rtt {
            if self.probe_rtt_min_delay.is_none_or(|d| rtt < d) || self.probe_rtt_expired {
                self.probe_rtt_min_delay = Some(rtt);
                self.probe_rtt_min_stamp = now;
            }
        }
        let min_expired = now.saturating_duration_since(self.min_rtt_stamp) > MIN_RTT_FILTER;
        if let Some(d) = self.probe_rtt_min_delay {
            if self.min_rtt.is_none_or(|m| d < m) || min_expired {
                self.min_rtt = Some(d);
                self.min_rtt_stamp = self.probe_rtt_min_stamp;
            }
        }
    }
}
