//! Retransmission timeout estimation (RFC 6298): SRTT/RTTVAR smoothing,
//! Karn's algorithm (the caller never samples a retransmitted segment), and
//! exponential backoff bounded by `max_rto`.

use crate::time::{Duration, Instant};

/// Clock granularity G of RFC 6298 §2 (our clock ticks in µs; use 1 ms).
const GRANULARITY: Duration = Duration::from_millis(1);

/// RFC 6298 estimator state.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min_rto: Duration,
    max_rto: Duration,
    backoff: u32,
    latest: Option<Duration>,
    /// When the retransmission timer last fired (Karn's rule for
    /// timestamps).
    timed_out_at: Option<Instant>,
}

impl RttEstimator {
    /// A fresh estimator with the initial RTO of RFC 6298 §2.1.
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min_rto, max_rto.max(min_rto)),
            min_rto,
            max_rto: max_rto.max(min_rto),
            backoff: 0,
            latest: None,
            timed_out_at: None,
        }
    }

    /// Feeds one RTT measurement (RFC 6298 §2.2–§2.3) and clears backoff
    /// (§5.7: a new sample after backoff recomputes the RTO).
    pub fn sample(&mut self, r: Duration) {
        self.latest = Some(r);
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let rto = srtt + (self.rttvar * 4).max(GRANULARITY);
        self.rto = rto.clamp(self.min_rto, self.max_rto);
        self.backoff = 0;
    }

    /// The current RTO including backoff (RFC 6298 §5.5).
    pub fn rto(&self) -> Duration {
        let factor = 1u32.checked_shl(self.backoff).unwrap_or(u32::MAX);
        self.rto.saturating_mul(factor).min(self.max_rto)
    }

    /// Doubles the RTO after a timeout (RFC 6298 §5.5).
    pub fn back_off(&mut self) {
        if self.rto() < self.max_rto {
            self.backoff = self.backoff.saturating_add(1);
        }
    }

    /// Records that the retransmission timer fired at `now`.
    pub fn on_retransmit_timeout(&mut self, now: Instant) {
        self.timed_out_at = Some(now);
    }

    /// When the retransmission timer last fired.
    pub fn timed_out_at(&self) -> Option<Instant> {
        self.timed_out_at
    }

    /// Smoothed RTT, if any sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RTT variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The most recent raw sample.
    pub fn latest(&self) -> Option<Duration> {
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        // RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR.
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn later_samples_smooth_with_alpha_and_beta() {
        // RFC 6298 §2.3: RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R'|, SRTT = 7/8·SRTT + 1/8·R'.
        let mut e = est();
        e.sample(Duration::from_millis(100));
        e.sample(Duration::from_millis(200));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn rto_is_clamped_to_min_and_max() {
        let mut e = est();
        e.sample(Duration::from_micros(100));
        assert_eq!(e.rto(), Duration::from_millis(200));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(120));
    }

    #[test]
    fn backoff_doubles_and_a_sample_resets_it() {
        let mut e = est();
        e.back_off();
        assert_eq!(e.rto(), Duration::from_secs(2));
        e.back_off();
        assert_eq!(e.rto(), Duration::from_secs(4));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }
}
