//! Retransmission timeout estimation as Linux does it (`tcp_rtt_estimator`
//! and `tcp_set_rto` in net/ipv4/tcp_input.c), which refines RFC 6298:
//!
//! - SRTT is smoothed with gain 1/8 (RFC 6298 §2.3).
//! - The mean deviation `mdev` is smoothed with gain 1/4, except that a
//!   sample *below* SRTT by more than the deviation counts with 1/32: an
//!   RTT that drops must not inflate the timeout.
//! - The variance term added to SRTT is not 4·RTTVAR of the last sample but
//!   the largest 4·mdev seen during the last round trip (`mdev_max`), never
//!   below the minimum RTO; when a round trip ends (SND.UNA passes what
//!   was SND.NXT when it began) the term decays a quarter of the way down
//!   toward that round's maximum. So RTO = SRTT + max(4·mdev, min_rto):
//!   `min_rto` (Linux's `tcp_rto_min`, 200 ms) is a floor on the variance
//!   term, not on the whole timeout as in RFC 6298 §2.4, and a path with
//!   a 100 ms RTT gets a 300 ms timeout, not 200 ms.
//! - The first sample R gives SRTT = R and a term of max(2R, min_rto):
//!   RTO = 3R on long paths (RFC 6298 §2.2's R + 4·R/2 is the same).
//!
//! Karn's algorithm holds as in RFC 6298 §3 (callers never sample a
//! retransmitted segment), and timeouts back off exponentially up to
//! `max_rto` (§5.5); a fresh sample ends the backoff (§5.7).

use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// The estimator state (Linux's `srtt_us`, `mdev_us`, `mdev_max_us`,
/// `rttvar_us` and `rtt_seq`, in µs and unscaled).
#[derive(Clone, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    /// 4·mean deviation, smoothed.
    mdev: Duration,
    /// Largest `mdev` in the current round trip (at least `min_rto`).
    mdev_max: Duration,
    /// The variance term of the RTO (at least `min_rto`).
    rttvar: Duration,
    /// The round trip ends when SND.UNA passes this.
    rtt_seq: SeqNumber,
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
        let max_rto = max_rto.max(min_rto);
        RttEstimator {
            srtt: None,
            mdev: Duration::ZERO,
            mdev_max: Duration::ZERO,
            rttvar: Duration::ZERO,
            rtt_seq: SeqNumber(0),
            rto: initial.min(max_rto),
            min_rto,
            max_rto,
            backoff: 0,
            latest: None,
            timed_out_at: None,
        }
    }

    /// Feeds one RTT measurement `r`, taken on an ACK that moved SND.UNA
    /// to `snd_una` while SND.NXT was `snd_nxt`, and clears backoff
    /// (RFC 6298 §5.7: a new sample after backoff recomputes the RTO).
    pub fn sample(&mut self, r: Duration, snd_una: SeqNumber, snd_nxt: SeqNumber) {
        self.latest = Some(r);
        let r = r.max(Duration::from_micros(1));
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.mdev = r * 2;
                self.rttvar = self.mdev.max(self.min_rto);
                self.mdev_max = self.rttvar;
                self.rtt_seq = snd_nxt;
            }
            Some(srtt) => {
                self.srtt = Some((srtt * 7 + r) / 8);
                let quarter = self.mdev / 4;
                let err = srtt.abs_diff(r);
                self.mdev = if r < srtt && err > quarter {
                    // Falling RTT: the excess over the deviation counts
                    // with 1/32 instead of 1/4.
                    self.mdev + (err - quarter) / 8
                } else {
                    self.mdev - quarter + err
                };
                if self.mdev > self.mdev_max {
                    self.mdev_max = self.mdev;
                    self.rttvar = self.rttvar.max(self.mdev_max);
                }
                if snd_una.diff(self.rtt_seq) > 0 {
                    // A round trip ended: decay toward its maximum.
                    if self.mdev_max < self.rttvar {
                        self.rttvar -= (self.rttvar - self.mdev_max) / 4;
                    }
                    self.rtt_seq = snd_nxt;
                    self.mdev_max = self.min_rto;
                }
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + self.rttvar).min(self.max_rto);
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

    /// The smoothed mean deviation (RFC 6298's RTTVAR; Linux reports
    /// `mdev_us / 4` as `tcpi_rttvar`).
    pub fn rttvar(&self) -> Duration {
        self.mdev / 4
    }

    /// The most recent raw sample.
    pub fn latest(&self) -> Option<Duration> {
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn est() -> RttEstimator {
        RttEstimator::new(Duration::from_secs(1), ms(200), Duration::from_secs(120))
    }

    /// A sample inside the round trip that began at the first one.
    fn same_round(e: &mut RttEstimator, r: Duration) {
        e.sample(r, SeqNumber(500), SeqNumber(1000));
    }

    /// The variance term: RTO − SRTT (no backoff).
    fn term(e: &RttEstimator) -> Duration {
        e.rto() - e.srtt().unwrap_or_default()
    }

    #[test]
    fn first_sample_gives_three_rtt_or_the_minimum_term() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1), "RFC 6298 §2.1");
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50), "R/2 as RFC 6298 §2.2");
        assert_eq!(e.rto(), ms(300), "3R");
        // A short path: the minimum bounds the variance term, so the RTO
        // is SRTT + 200 ms (RFC 6298 would clamp 20 + 40 ms up to 200).
        let mut e = est();
        e.sample(ms(20), SeqNumber(0), SeqNumber(1000));
        assert_eq!(e.rto(), ms(220));
    }

    #[test]
    fn steady_rtt_keeps_the_minimum_term_across_rounds() {
        // RFC 6298 lets RTTVAR decay to 0 and the RTO to max(SRTT, 200 ms);
        // Linux keeps SRTT + 200 ms.
        let mut e = est();
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        for round in 1..20u32 {
            e.sample(
                ms(100),
                SeqNumber(1000 * round + 1),
                SeqNumber(1000 * (round + 1)),
            );
            assert_eq!(e.rto(), ms(300), "round {round}");
        }
        assert!(e.rttvar() < ms(1), "{:?}", e.rttvar());
    }

    #[test]
    fn rising_sample_raises_the_term_at_once() {
        // mdev = 3/4·200 + 100 = 250 ms; SRTT = 7/8·100 + 1/8·200.
        let mut e = est();
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        same_round(&mut e, ms(200));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(term(&e), ms(250));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn falling_sample_counts_one_eighth_as_much() {
        // |err| = 80 ms exceeds mdev/4 = 50 ms by 30 ms, which adds 30/8
        // (RFC 6298 would weigh all 80 ms with 1/4).
        let mut e = est();
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        same_round(&mut e, ms(20));
        assert_eq!(e.srtt(), Some(ms(90)));
        assert_eq!(term(&e), Duration::from_micros(203_750));
        assert_eq!(e.rto(), Duration::from_micros(293_750));
    }

    #[test]
    fn term_decays_by_a_quarter_toward_each_rounds_maximum() {
        let mut e = est();
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        same_round(&mut e, ms(400));
        // mdev = 150 + 300 = 450 ms; SRTT = 137.5 ms.
        assert_eq!(term(&e), ms(450));
        // The round ends (SND.UNA passes 1000): its maximum was 450 ms, so
        // no decay yet; mdev = 450 − 112.5 + 37.5 = 375 ms.
        e.sample(ms(100), SeqNumber(1500), SeqNumber(3000));
        assert_eq!(term(&e), ms(450));
        assert_eq!(
            e.srtt(),
            Some(Duration::from_micros(132_812) + Duration::from_nanos(500))
        );
        // Next round: mdev = 375 − 93.75 + 32.8125 = 314.0625 ms is its
        // maximum; the term moves a quarter of the way: 450 − 135.9375/4.
        e.sample(ms(100), SeqNumber(3500), SeqNumber(5000));
        assert_eq!(term(&e), Duration::from_nanos(416_015_625));
    }

    #[test]
    fn rto_is_capped_at_max() {
        let mut e = est();
        e.sample(Duration::from_micros(100), SeqNumber(0), SeqNumber(1000));
        assert_eq!(e.rto(), Duration::from_micros(200_100));
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
        e.sample(ms(100), SeqNumber(0), SeqNumber(1000));
        assert_eq!(e.rto(), ms(300));
    }
}
