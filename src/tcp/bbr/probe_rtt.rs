//! PROBE_RTT (draft-ietf-ccwg-bbr §5.3.4): every 5 s without a new
//! RTT low, cwnd drops to half the BDP for 200 ms and a round.

use super::{
    AckContext, AckPhase, Bbr, BbrMode, PROBE_RTT_CWND_GAIN, PROBE_RTT_DURATION, STARTUP_CWND_GAIN,
    STARTUP_PACING_GAIN,
};
use crate::time::Instant;

impl Bbr {
    /// True when the caller should mark the connection app-limited
    /// (PROBE_RTT holds inflight low on purpose).
    pub fn wants_app_limited(&self) -> bool {
        self.mode == BbrMode::ProbeRtt
    }

    pub(super) fn check_probe_rtt(&mut self, now: Instant, ctx: AckContext) {
        if self.mode != BbrMode::ProbeRtt && self.probe_rtt_expired && self.min_rtt.is_some() {
            self.mode = BbrMode::ProbeRtt;
            self.pacing_gain = 1.0;
            self.cwnd_gain = PROBE_RTT_CWND_GAIN;
            self.save_cwnd();
            self.probe_rtt_done_stamp = None;
            self.ack_phase = AckPhase::ProbeStopping;
            self.start_round();
        }
        if self.mode == BbrMode::ProbeRtt {
            self.handle_probe_rtt(now, ctx);
        }
    }

    pub(super) fn handle_probe_rtt(&mut self, now: Instant, ctx: AckContext) {
        match self.probe_rtt_done_stamp {
            None if ctx.in_flight <= self.probe_rtt_cwnd() => {
                self.probe_rtt_done_stamp = Some(now + PROBE_RTT_DURATION);
                self.probe_rtt_round_done = false;
                self.start_round();
            }
            None => {}
            Some(done) => {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done && now > done {
                    self.probe_rtt_min_stamp = now;
                    self.restore_cwnd();
                    self.exit_probe_rtt(now);
                }
            }
        }
    }

    pub(super) fn exit_probe_rtt(&mut self, now: Instant) {
        self.reset_lower_bounds();
        if self.full_bw_reached {
            self.start_probe_bw_down(now);
            self.start_probe_bw_cruise();
        } else {
            self.mode = BbrMode::Startup;
            self.pacing_gain = STARTUP_PACING_GAIN;
            self.cwnd_gain = STARTUP_CWND_GAIN;
        }
    }
}
