//! Congestion control: the window a sender may have in flight.
//!
//! The two loss-based algorithms share RFC 5681 slow start (with appropriate byte
//! counting, RFC 3465 L = 2·SMSS), the RFC 6928 initial window, and the
//! RFC 6582 NewReno fast-recovery window arithmetic. They differ in how
//! much the window shrinks on loss and how it grows in congestion
//! avoidance:
//! - [`Algorithm::NewReno`]: halve; grow one SMSS per window (RFC 5681 §3.1).
//! - [`Algorithm::Cubic`]: shrink to β = 0.7; grow along
//!   W(t) = C·(t − K)³ + W_max, never slower than Reno (RFC 9438 §4).
//! - [`Algorithm::Bbr`] (default, as Linux here): model-based (draft-ietf-ccwg-bbr), in
//!   [`super::bbr`]; it ignores the loss-based hooks below and is driven by
//!   delivery-rate samples ([`CongestionControl::on_rate_sample`]), whose
//!   losses are RACK's marks. It also sets a pacing rate.
//!
//! CUBIC's initial slow start ends on HyStart++ (RFC 9406) or on an ACK
//! train (Linux's HyStart), both in `hystart.rs`, before the queue
//! overflows. As in Linux's `tcp_cubic.c`, CUBIC then grows at least 5%
//! per RTT until its first loss, and a retransmission timeout forgets
//! W_max.
//!
//! Loss *detection* (RACK, duplicate ACKs, recovery point) lives in the
//! input path; this type only owns `cwnd` and `ssthresh` and reacts to
//! events: [`on_ack`](CongestionControl::on_ack) (bytes acknowledged
//! outside recovery), [`on_ack_sample`](CongestionControl::on_ack_sample)
//! (round and RTT bookkeeping), [`on_congestion_event`](CongestionControl::on_congestion_event)
//! (recovery entered: one reduction per episode),
//! [`on_lost`](CongestionControl::on_lost) (bytes deemed lost),
//! [`on_recovery_end`](CongestionControl::on_recovery_end) and
//! [`on_rto`](CongestionControl::on_rto). During recovery the sending
//! rate of the loss-based algorithms is governed by PRR (`prr.rs`) when
//! [`uses_prr`](CongestionControl::uses_prr) says so; BBR's recovery
//! sends by cwnd − pipe.

use super::bbr::{AckContext, Bbr, BbrMode};
use super::hystart::{HyStart, Verdict, CSS_GROWTH_DIVISOR};
use super::rate::RateSample;
use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;
use core::fmt;
use core::str::FromStr;

/// Which congestion-avoidance algorithm a connection uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// RFC 9438 CUBIC.
    #[default]
    Cubic,
    /// RFC 5681 / RFC 6582 NewReno.
    NewReno,
    /// BBR (draft-ietf-ccwg-bbr) with pacing.
    Bbr,
}

impl Algorithm {
    /// The name Linux uses (`tcp_congestion_control`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Cubic => "cubic",
            Algorithm::NewReno => "newreno",
            Algorithm::Bbr => "bbr",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown algorithm name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown congestion control `{}` (expected bbr, cubic or newreno)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// `bbr`, `cubic`, `newreno` (or `reno`), any case.
    fn from_str(s: &str) -> Result<Algorithm, UnknownAlgorithm> {
        match s.to_ascii_lowercase().as_str() {
            "bbr" => Ok(Algorithm::Bbr),
            "cubic" => Ok(Algorithm::Cubic),
            "newreno" | "reno" => Ok(Algorithm::NewReno),
            _ => Err(UnknownAlgorithm(s.to_string())),
        }
    }
}

/// A snapshot of the congestion controller (for `--stats` and traces).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CcState {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Slow-start threshold (CUBIC, NewReno); `None` while unset or for BBR.
    pub ssthresh: Option<usize>,
    /// Pacing rate in bytes per second (BBR).
    pub pacing_rate: Option<u64>,
    /// BBR's state.
    pub mode: Option<BbrMode>,
    /// BBR's bandwidth estimate in bytes per second.
    pub bandwidth: Option<u64>,
    /// BBR's minimum RTT estimate.
    pub min_rtt: Option<Duration>,
    /// BBR's long-term inflight bound in bytes, once set.
    pub inflight_hi: Option<u64>,
}

impl fmt::Display for CcState {
    /// `bbr PROBE_BW:CRUISE cwnd 912000 pacing 98.1 Mbit/s bw 99.1 Mbit/s
    /// min_rtt 50.0 ms` or `cubic cwnd 146000 ssthresh 102200`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.algorithm)?;
        if let Some(m) = self.mode {
            write!(f, " {m}")?;
        }
        write!(f, " cwnd {}", self.cwnd)?;
        if let Some(s) = self.ssthresh {
            write!(f, " ssthresh {s}")?;
        }
        let mbit = |b: u64| b as f64 * 8.0 / 1e6;
        if let Some(p) = self.pacing_rate {
            write!(f, " pacing {:.1} Mbit/s", mbit(p))?;
        }
        if let Some(b) = self.bandwidth {
            write!(f, " bw {:.1} Mbit/s", mbit(b))?;
        }
        if let Some(r) = self.min_rtt {
            write!(f, " min_rtt {:.1} ms", r.as_secs_f64() * 1e3)?;
        }
        if let Some(h) = self.inflight_hi {
            write!(f, " inflight_hi {h}")?;
        }
        Ok(())
    }
}

/// RFC 9438 §5: C = 0.4 segments/s³.
const CUBIC_C: f64 = 0.4;
/// RFC 9438 §4.6: multiplicative decrease factor.
const CUBIC_BETA: f64 = 0.7;

/// CUBIC's per-epoch state (RFC 9438 §4.1), windows in segments.
#[derive(Clone, Debug, Default)]
struct Cubic {
    w_max: f64,
    /// W_max before the last reduction, for fast convergence (§4.7).
    w_last_max: f64,
    k: f64,
    epoch_start: Option<Instant>,
    /// Reno-friendly estimate W_est (§4.3).
    w_est: f64,
}

/// Until the first loss, CUBIC's window grows at least this share per
/// RTT (Linux's `bictcp_update`: at most 20 ACKed segments per increment
/// while `last_max_cwnd` is 0): after a HyStart exit the curve has no
/// W_max to aim at and would creep from the exit point.
const CUBIC_NO_LOSS_GROWTH: f64 = 0.05;

/// Sender congestion state, in bytes.
#[derive(Clone, Debug)]
pub struct CongestionControl {
    algorithm: Algorithm,
    cwnd: usize,
    ssthresh: usize,
    mss: usize,
    acked_in_ca: usize,
    cubic: Cubic,
    hystart: HyStart,
    bytes_lost: u64,
    /// BBR's model, when the algorithm is BBR.
    bbr: Option<Box<Bbr>>,
    /// Seed for BBR's randomized probing.
    seed: u64,
    /// cwnd and ssthresh before the last RTO, to undo it if it proves
    /// spurious (F-RTO, RFC 5682; Linux's `prior_cwnd`/`prior_ssthresh`).
    before_rto: Option<(usize, usize)>,
}

impl CongestionControl {
    /// Initial window per RFC 6928: min(iw·MSS, max(2·MSS, 14600)) for iw = 10.
    pub fn new(algorithm: Algorithm, mss: usize, initial_segments: u32) -> CongestionControl {
        let mss = mss.max(1);
        let iw = (initial_segments as usize).max(1).saturating_mul(mss);
        CongestionControl {
            algorithm,
            cwnd: iw.min((2 * mss).max(14600)).max(mss),
            ssthresh: usize::MAX,
            mss,
            acked_in_ca: 0,
            cubic: Cubic::default(),
            hystart: HyStart::default(),
            bytes_lost: 0,
            bbr: None,
            seed: 0,
            before_rto: None,
        }
        .with_bbr_if_chosen()
    }

    fn with_bbr_if_chosen(mut self) -> CongestionControl {
        if self.algorithm == Algorithm::Bbr {
            self.bbr = Some(Box::new(Bbr::new(
                self.mss,
                self.cwnd,
                self.seed,
                Instant::ZERO,
            )));
        }
        self
    }

    /// Seeds BBR's randomized probe timing (deterministic per connection).
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        if self.bbr.is_some() {
            self.bbr = None;
            *self = self.clone().with_bbr_if_chosen();
        }
    }

    /// Updates the segment size after MSS negotiation.
    pub fn set_mss(&mut self, mss: usize, initial_segments: u32) {
        let seed = self.seed;
        *self = CongestionControl::new(self.algorithm, mss, initial_segments);
        self.set_seed(seed);
    }

    /// Switches algorithm mid-connection, keeping the window (as Linux's
    /// `TCP_CONGESTION` does).
    pub fn switch_to(&mut self, algorithm: Algorithm) {
        if algorithm == self.algorithm {
            return;
        }
        let cwnd = self.cwnd();
        self.algorithm = algorithm;
        self.cwnd = cwnd;
        self.acked_in_ca = 0;
        self.cubic = Cubic::default();
        self.hystart = HyStart::default();
        self.bbr = None;
        *self = self.clone().with_bbr_if_chosen();
        if let Some(b) = &mut self.bbr {
            b.set_cwnd_from(cwnd);
        }
    }

    /// BBR's model, when the algorithm is BBR.
    pub(super) fn bbr(&self) -> Option<&Bbr> {
        self.bbr.as_deref()
    }

    pub(super) fn bbr_mut(&mut self) -> Option<&mut Bbr> {
        self.bbr.as_deref_mut()
    }

    /// Pacing rate in bytes per second, if the algorithm paces.
    pub fn pacing_rate(&self) -> Option<f64> {
        self.bbr
            .as_ref()
            .map(|b| b.pacing_rate())
            .filter(|r| *r > 0.0)
    }

    /// A delivery-rate sample (BBR's per-ACK input; others ignore it).
    pub(super) fn on_rate_sample(&mut self, now: Instant, rs: &RateSample, ctx: AckContext) {
        if let Some(b) = &mut self.bbr {
            b.on_ack(now, rs, ctx);
        }
    }

    /// The snapshot for stats and traces.
    pub fn state(&self) -> CcState {
        let bbr = self.bbr.as_deref();
        CcState {
            algorithm: self.algorithm,
            cwnd: self.cwnd(),
            ssthresh: (bbr.is_none() && self.ssthresh != usize::MAX).then_some(self.ssthresh),
            pacing_rate: self.pacing_rate().map(|r| r as u64),
            mode: bbr.map(Bbr::mode),
            bandwidth: bbr.map(|b| b.bandwidth() as u64),
            min_rtt: bbr.and_then(Bbr::min_rtt),
            inflight_hi: bbr.and_then(Bbr::inflight_hi),
        }
    }

    /// The algorithm in use.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Congestion window.
    pub fn cwnd(&self) -> usize {
        match &self.bbr {
            Some(b) => b.cwnd(),
            None => self.cwnd,
        }
    }

    /// Slow-start threshold.
    pub fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// True when fast recovery's sending is governed by PRR (RFC 6937):
    /// the loss-based algorithms.
    pub fn uses_prr(&self) -> bool {
        matches!(self.algorithm, Algorithm::Cubic | Algorithm::NewReno)
    }

    /// Bytes reported lost so far ([`on_lost`](Self::on_lost)).
    pub fn bytes_lost(&self) -> u64 {
        self.bytes_lost
    }

    /// Bytes were deemed lost (by RACK or the scoreboard). The loss-based
    /// algorithms reduce once per recovery episode
    /// ([`on_congestion_event`](Self::on_congestion_event)), not per loss;
    /// this only counts.
    pub fn on_lost(&mut self, bytes: usize) {
        self.bytes_lost += bytes as u64;
    }

    /// True while in HyStart++ Conservative Slow Start (RFC 9406 §4.2).
    pub fn in_css(&self) -> bool {
        self.hystart.in_css()
    }

    /// Per-ACK bookkeeping for an ACK of new data outside recovery: `ack`
    /// is the new SND.UNA, `snd_nxt` the next sequence to send, `rtt` a
    /// sample from this ACK if it gave one, `now` its arrival. In CUBIC's
    /// initial slow start, HyStart++ and the ACK train (`hystart.rs`) may
    /// end it: ssthresh = cwnd.
    pub fn on_ack_sample(
        &mut self,
        ack: SeqNumber,
        snd_nxt: SeqNumber,
        rtt: Option<Duration>,
        now: Instant,
    ) {
        if self.algorithm != Algorithm::Cubic || self.ssthresh != usize::MAX {
            return;
        }
        let segments = self.cwnd / self.mss;
        let verdict = self.hystart.on_ack(ack, snd_nxt, rtt, now, segments);
        if verdict != Verdict::Continue {
            // RUST_LOG=tunstack::tcp::congestion=debug
            log::debug!("hystart: {verdict:?} at cwnd {} at {now}", self.cwnd);
        }
        if let Verdict::Exit(_) = verdict {
            self.ssthresh = self.cwnd;
        }
    }

    /// New data acknowledged outside recovery (RFC 5681 §3.1).
    pub fn on_ack(&mut self, acked: usize, now: Instant, srtt: Option<Duration>) {
        if self.bbr.is_some() {
            return;
        }
        if self.cwnd < self.ssthresh {
            // Slow start with ABC, L = 2·SMSS (RFC 3465 §2.2); a quarter
            // of that in HyStart++ CSS (RFC 9406 §4.2).
            let mut grow = acked.min(2 * self.mss);
            if self.in_css() {
                grow /= CSS_GROWTH_DIVISOR;
            }
            self.cwnd = self.cwnd.saturating_add(grow);
            return;
        }
        match self.algorithm {
            Algorithm::NewReno => self.reno_avoidance(acked),
            Algorithm::Cubic => {
                self.cubic_avoidance(acked, now, srtt.unwrap_or(Duration::from_millis(100)))
            }
            Algorithm::Bbr => {}
        }
    }

    /// One SMSS per cwnd of acknowledged bytes (RFC 5681 §3.1).
    fn reno_avoidance(&mut self, acked: usize) {
        self.acked_in_ca += acked;
        if self.acked_in_ca >= self.cwnd {
            self.acked_in_ca -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    /// RFC 9438 §4.2–§4.4.
    fn cubic_avoidance(&mut self, acked: usize, now: Instant, rtt: Duration) {
        let mss = self.mss as f64;
        let cwnd = self.cwnd as f64 / mss;
        let c = &mut self.cubic;
        let start = match c.epoch_start {
            Some(s) => s,
            None => {
                // A new epoch (e.g. after slow start without a loss).
                c.epoch_start = Some(now);
                if c.w_max < cwnd {
                    c.w_max = cwnd;
                    c.k = 0.0;
                } else {
                    c.k = ((c.w_max - cwnd) / CUBIC_C).cbrt();
                }
                c.w_est = cwnd;
                now
            }
        };
        let t = now.saturating_duration_since(start).as_secs_f64();
        let w_cubic = |t: f64| CUBIC_C * (t - c.k).powi(3) + c.w_max;
        // §4.3: Reno-friendly estimate, α = 3(1−β)/(1+β).
        let alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
        c.w_est += alpha * (acked as f64 / mss) / cwnd;
        let mut target = if w_cubic(t) < c.w_est {
            c.w_est
        } else {
            // §4.4: aim one RTT ahead, growing at most 1.5× per RTT.
            w_cubic(t + rtt.as_secs_f64()).clamp(cwnd, 1.5 * cwnd)
        };
        if c.w_last_max == 0.0 {
            // No loss yet (or none since a timeout): Linux's floor.
            target = target.max(cwnd * (1.0 + CUBIC_NO_LOSS_GROWTH));
        }
        let increment = (target - cwnd) / cwnd * (acked as f64 / mss);
        let grown = (cwnd + increment.max(0.0)) * mss;
        self.cwnd = (grown as usize).max(self.cwnd);
    }

    /// The multiplicative decrease on a congestion event, returning the new
    /// ssthresh (RFC 5681 eq. 4; RFC 9438 §4.6–§4.7).
    fn reduce(&mut self, flight: usize) -> usize {
        // Any congestion event ends slow start, HyStart++ included.
        self.hystart.leave_css();
        match self.algorithm {
            Algorithm::NewReno | Algorithm::Bbr => (flight / 2).max(2 * self.mss),
            Algorithm::Cubic => {
                let mss = self.mss as f64;
                let cwnd = self.cwnd as f64 / mss;
                let c = &mut self.cubic;
                // Fast convergence: release bandwidth to newer flows.
                c.w_max = if cwnd < c.w_last_max {
                    cwnd * (1.0 + CUBIC_BETA) / 2.0
                } else {
                    cwnd
                };
                c.w_last_max = cwnd;
                c.k = (c.w_max * (1.0 - CUBIC_BETA) / CUBIC_C).cbrt();
                c.epoch_start = None;
                ((self.cwnd as f64 * CUBIC_BETA) as usize).max(2 * self.mss)
            }
        }
    }

    /// Retransmission timeout: loss window of 1 SMSS (RFC 5681 §3.1).
    pub fn on_rto(&mut self, flight: usize) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        // A timeout in a row keeps what was there before the first.
        if self.before_rto.is_none() || self.cwnd > self.mss {
            self.before_rto = Some((self.cwnd, self.ssthresh));
        }
        self.ssthresh = self.reduce(flight);
        self.cwnd = self.mss;
        self.acked_in_ca = 0;
        // Linux's CUBIC on entering CA_Loss (`bictcp_state` →
        // `bictcp_reset`): W_max, the epoch and HyStart start over.
        self.cubic = Cubic::default();
        self.hystart = HyStart::default();
    }

    /// The last RTO was spurious (RFC 5682 §3.1 step 3b, Linux's
    /// `tcp_undo_cwnd_reduction`): cwnd and ssthresh go back to at least
    /// what they were before it. BBR restores its saved window.
    pub fn undo_rto(&mut self) {
        if let Some(b) = self.bbr.as_deref_mut() {
            b.undo_rto();
            return;
        }
        if let Some((cwnd, ssthresh)) = self.before_rto.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = self.ssthresh.max(ssthresh);
            self.acked_in_ca = 0;
        }
    }

    /// Entering fast recovery on the third duplicate ACK (RFC 6582 §3.2 step 2).
    pub fn on_fast_retransmit(&mut self, flight: usize) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        self.ssthresh = self.reduce(flight);
        self.cwnd = self.ssthresh + 3 * self.mss;
        self.acked_in_ca = 0;
    }

    /// A congestion event that starts a SACK-based recovery episode
    /// (RFC 6675 §5 step 4.2) or ends a tail-loss-probe episode with loss
    /// (RFC 8985 §7.4): cwnd = ssthresh. During recovery PRR and the pipe
    /// estimate, not window inflation, pace sending. The caller calls this
    /// once per episode.
    pub fn on_congestion_event(&mut self, flight: usize) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        self.ssthresh = self.reduce(flight);
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }

    /// A further duplicate ACK during recovery inflates the window (step 3).
    pub fn on_dup_ack_in_recovery(&mut self) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        self.cwnd = self.cwnd.saturating_add(self.mss);
    }

    /// A partial ACK during recovery (RFC 6582 §3.2 step 5): deflate by the
    /// amount acknowledged, add back one SMSS.
    pub fn on_partial_ack(&mut self, acked: usize) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        self.cwnd = self
            .cwnd
            .saturating_sub(acked)
            .saturating_add(self.mss)
            .max(self.mss);
    }

    /// A full ACK ends recovery: cwnd = ssthresh, as Linux's
    /// `tcp_end_cwnd_reduction` and RFC 6582 §3.2 step 5 option 2, not
    /// option 1's min(ssthresh, FlightSize + SMSS). With PRR the flight
    /// at the end of an episode is ssthresh scaled by the share of the
    /// old flight delivered (a loss or two less): option 1 cut the window
    /// a second time, by that share, on every recovery, and the sender
    /// then spent part of a round in slow start to get back to ssthresh.
    pub fn on_recovery_end(&mut self) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        self.cwnd = self.ssthresh.max(self.mss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reno(mss: usize) -> CongestionControl {
        CongestionControl::new(Algorithm::NewReno, mss, 10)
    }

    #[test]
    fn initial_window_is_ten_segments() {
        assert_eq!(reno(1460).cwnd(), 14600);
        assert_eq!(
            CongestionControl::new(Algorithm::Cubic, 1460, 10).cwnd(),
            14600
        );
    }

    #[test]
    fn slow_start_then_reno_avoidance() {
        let now = Instant::ZERO;
        let mut c = reno(1000);
        c.on_ack(1000, now, None);
        assert_eq!(c.cwnd(), 11_000);
        c.on_ack(5000, now, None);
        assert_eq!(c.cwnd(), 13_000, "ABC caps growth at 2·SMSS per ACK");
        c.on_rto(20_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        while c.cwnd() < 10_000 {
            c.on_ack(1000, now, None);
        }
        let before = c.cwnd();
        c.on_ack(before - 1, now, None);
        assert_eq!(c.cwnd(), before, "less than a window acknowledged");
        c.on_ack(1, now, None);
        assert_eq!(c.cwnd(), before + 1000);
    }

    #[test]
    fn fast_recovery_window_arithmetic() {
        let mut c = reno(1000);
        c.on_fast_retransmit(10_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (8000, 5000));
        c.on_dup_ack_in_recovery();
        assert_eq!(c.cwnd(), 9000);
        c.on_partial_ack(3000);
        assert_eq!(c.cwnd(), 7000);
        c.on_recovery_end();
        assert_eq!(c.cwnd(), 5000, "ssthresh, whatever the flight");
    }

    /// Drives CUBIC in congestion avoidance with one ACK of one segment per
    /// cwnd/RTT and returns cwnd (segments) after `secs`.
    fn cubic_after_loss(w: usize, secs: f64) -> (f64, CongestionControl) {
        let mss = 1000;
        let mut c = CongestionControl::new(Algorithm::Cubic, mss, 10);
        c.cwnd = w * mss;
        c.on_fast_retransmit(w * mss);
        c.on_recovery_end();
        let rtt = Duration::from_millis(100);
        let mut now = Instant::from_secs(1);
        let end = now + Duration::from_secs_f64(secs);
        while now < end {
            let segs = c.cwnd() / mss;
            for _ in 0..segs {
                c.on_ack(mss, now, Some(rtt));
            }
            now += rtt;
        }
        (c.cwnd() as f64 / mss as f64, c)
    }

    #[test]
    fn cubic_reduces_by_beta_and_regains_w_max_near_k() {
        // RFC 9438: after loss at W_max = 100, cwnd = 70 and the curve
        // returns to W_max at K = cbrt(100·0.3/0.4) ≈ 4.2 s.
        let (_, c) = cubic_after_loss(100, 0.0);
        assert_eq!(c.ssthresh(), 70_000);
        assert_eq!(c.cwnd(), 70_000);
        let (w, _) = cubic_after_loss(100, 2.0);
        assert!(w > 85.0 && w < 100.0, "concave region, {w}");
        let (w, _) = cubic_after_loss(100, 4.2);
        assert!((97.0..=103.0).contains(&w), "plateau near W_max, {w}");
        let (w, _) = cubic_after_loss(100, 7.0);
        assert!(w > 105.0, "convex region probes beyond W_max, {w}");
    }

    #[test]
    fn cubic_fast_convergence_lowers_w_max_on_repeated_loss() {
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 100_000;
        c.on_fast_retransmit(100_000);
        c.cwnd = 80_000;
        c.on_fast_retransmit(80_000);
        assert!((c.cubic.w_max - 68.0).abs() < 1e-9, "80·(1+β)/2 = 68");
    }

    /// One round of ACKs, one per MSS of the window at the round's start,
    /// the i-th with an RTT sample of `rtt_ms(i)`, SND.NXT = SND.UNA +
    /// cwnd; returns the round's growth. The rounds line up with
    /// HyStart's: each begins with the ACK that passes the SND.NXT of the
    /// last round's first ACK.
    fn round_with(
        c: &mut CongestionControl,
        una: &mut u32,
        rtt_ms: impl Fn(usize) -> u64,
    ) -> usize {
        let before = c.cwnd();
        for i in 0..before.div_ceil(1000) {
            *una += 1000;
            let snd_nxt = SeqNumber(*una) + c.cwnd();
            let rtt = Some(Duration::from_millis(rtt_ms(i)));
            c.on_ack_sample(SeqNumber(*una), snd_nxt, rtt, Instant::ZERO);
            c.on_ack(1000, Instant::ZERO, None);
        }
        c.cwnd() - before
    }

    fn hystart_round(c: &mut CongestionControl, una: &mut u32, rtt_ms: u64) -> usize {
        round_with(c, una, |_| rtt_ms)
    }

    #[test]
    fn hystart_leaves_slow_start_on_rtt_increase_after_css_rounds() {
        // RFC 9406 §4.2: a round whose min RTT is at least
        // lastRoundMinRTT + clamp(lastRoundMinRTT/8, 4 ms, 16 ms) enters
        // CSS (growth / 4); after CSS_ROUNDS = 5 rounds, ssthresh = cwnd.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let mut una = 0;
        assert_eq!(
            hystart_round(&mut c, &mut una, 50),
            10_000,
            "slow start doubles"
        );
        assert_eq!(hystart_round(&mut c, &mut una, 50), 20_000);
        assert!(!c.in_css());
        // +6 ms < 50/8 = 6.25 ms: still slow start.
        assert_eq!(hystart_round(&mut c, &mut una, 56), 40_000);
        assert!(!c.in_css());
        // +7 ms over the last round's 56 ms (threshold 7 ms): CSS after
        // N_RTT_SAMPLE = 8 samples; from then on the round grows by 1/4.
        let grown = hystart_round(&mut c, &mut una, 63);
        assert!(c.in_css());
        assert_eq!(grown, 7 * 1000 + 73 * 250, "the 8th sample switches");
        assert_eq!(c.ssthresh(), usize::MAX);
        for _ in 0..4 {
            hystart_round(&mut c, &mut una, 63);
            assert!(c.in_css() && c.ssthresh() == usize::MAX);
        }
        // The fifth CSS round ends: congestion avoidance.
        una += 1000;
        c.on_ack_sample(
            SeqNumber(una),
            SeqNumber(una) + c.cwnd(),
            None,
            Instant::ZERO,
        );
        assert!(!c.in_css());
        assert_eq!(c.ssthresh(), c.cwnd());
    }

    /// One round of ACKs at 100 ms RTT, one per MSS of the window at the
    /// round's start, `spacing` apart from `t` on; `gap` = (the ACK
    /// numbered `at`, a gap before it, how many ACKs from it on arrive at
    /// the same instant, as one batch read after a stall). Stops early
    /// when slow start ends. Returns the time after the round.
    fn train_round(
        c: &mut CongestionControl,
        una: &mut u32,
        t: Instant,
        spacing: Duration,
        gap: Option<(usize, Duration, usize)>,
    ) -> Instant {
        let acks = c.cwnd() / 1000;
        let mut now = t;
        for i in 0..acks {
            let batched = gap.is_some_and(|(at, _, n)| i >= at && i + 1 < at + n);
            if let Some((_, d, _)) = gap.filter(|(at, _, _)| *at == i) {
                now += d;
            }
            *una += 1000;
            let snd_nxt = SeqNumber(*una) + c.cwnd();
            c.on_ack_sample(
                SeqNumber(*una),
                snd_nxt,
                Some(Duration::from_millis(100)),
                now,
            );
            c.on_ack(1000, now, None);
            if c.ssthresh() != usize::MAX {
                break;
            }
            if !batched {
                now += spacing;
            }
        }
        // The rest of the RTT passes before the next round's first ACK.
        t + Duration::from_millis(100)
    }

    #[test]
    fn hystart_ack_train_ends_slow_start_at_half_the_min_rtt() {
        // Linux's HyStart ACK train: ACKs 100 µs apart (the bottleneck's
        // spacing) on a 100 ms path. While a round's train is shorter
        // than 50 ms slow start goes on; the round whose train passes
        // 50 ms (the 501st ACK, from a window of 640 segments) ends it
        // with ssthresh = cwnd, before the queue overflows.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let (mut una, mut t) = (0, Instant::ZERO);
        let spacing = Duration::from_micros(100);
        for _ in 0..6 {
            t = train_round(&mut c, &mut una, t, spacing, None);
            assert_eq!(c.ssthresh(), usize::MAX, "cwnd {}", c.cwnd());
        }
        assert_eq!(c.cwnd(), 640_000, "slow start doubled six times");
        train_round(&mut c, &mut una, t, spacing, None);
        assert_eq!(c.ssthresh(), (640 + 501) * 1000);
        assert!(c.cwnd() - c.ssthresh() < 1000, "congestion avoidance");
    }

    #[test]
    fn hystart_ack_train_broken_by_a_gap_does_not_end_slow_start() {
        // A gap over 2 ms (a stall of the sender or of the host) ends the
        // train without a verdict: the round's later ACKs do not count,
        // so scheduling jitter cannot end slow start early.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let (mut una, mut t) = (0, Instant::ZERO);
        let spacing = Duration::from_micros(100);
        for _ in 0..6 {
            t = train_round(&mut c, &mut una, t, spacing, None);
        }
        let gap = Some((300, Duration::from_millis(3), 1));
        t = train_round(&mut c, &mut una, t, spacing, gap);
        assert_eq!(c.ssthresh(), usize::MAX, "slow start goes on");
        assert_eq!(c.cwnd(), 1_280_000);
        // The next round's unbroken train ends it.
        train_round(&mut c, &mut una, t, spacing, None);
        assert!(c.ssthresh() < usize::MAX);
        assert!(c.cwnd() - c.ssthresh() < 1000, "congestion avoidance");
    }

    #[test]
    fn hystart_ack_train_survives_a_stall_of_the_sender() {
        // The process is not scheduled for 3 ms in the middle of a train:
        // the 30 ACKs that arrived meanwhile are read in one batch, at one
        // instant, when it runs again. They hold what the train's rate
        // would have delivered, so the bottleneck stayed busy: the train
        // goes on, and ends slow start where it would have without the
        // stall (50 ms of ACKs, stall included).
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let (mut una, mut t) = (0, Instant::ZERO);
        let spacing = Duration::from_micros(100);
        for _ in 0..6 {
            t = train_round(&mut c, &mut una, t, spacing, None);
        }
        let stall = Some((300, Duration::from_millis(3), 31));
        train_round(&mut c, &mut una, t, spacing, stall);
        assert_eq!(c.ssthresh(), (640 + 501) * 1000);
        // A batch with less than half the gap's worth (10 of 30 ACKs) is
        // an idle bottleneck: the train restarts and this round cannot
        // reach 50 ms.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let (mut una, mut t) = (0, Instant::ZERO);
        for _ in 0..6 {
            t = train_round(&mut c, &mut una, t, spacing, None);
        }
        let idle = Some((300, Duration::from_millis(3), 10));
        train_round(&mut c, &mut una, t, spacing, idle);
        assert_eq!(c.ssthresh(), usize::MAX);
        assert_eq!(c.cwnd(), 1_280_000);
    }

    #[test]
    fn hystart_ack_train_waits_for_sixteen_segments() {
        // Below Linux's hystart_low_window (16 segments) a round is too
        // short to judge: even ACKs a full RTT apart in one train do not
        // end slow start.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let (mut una, t) = (0, Instant::ZERO);
        train_round(&mut c, &mut una, t, Duration::from_millis(2), None);
        assert_eq!(c.cwnd(), 20_000);
        assert_eq!(c.ssthresh(), usize::MAX);
    }

    #[test]
    fn hystart_css_returns_to_slow_start_when_the_rtt_falls_back() {
        // RFC 9406 §4.2: in CSS, a round min RTT below cssBaselineMinRtt
        // means the increase was spurious: resume slow start.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        let mut una = 0;
        hystart_round(&mut c, &mut una, 100);
        hystart_round(&mut c, &mut una, 100);
        hystart_round(&mut c, &mut una, 120);
        assert!(c.in_css(), "+20 ms > clamp(100/8, 4, 16) = 12.5 ms");
        hystart_round(&mut c, &mut una, 110);
        assert!(!c.in_css());
        assert_eq!(c.ssthresh(), usize::MAX);
        let before = c.cwnd();
        hystart_round(&mut c, &mut una, 110);
        assert_eq!(c.cwnd(), 2 * before, "slow start again");
    }

    #[test]
    fn hystart_is_cubic_only_and_initial_slow_start_only() {
        let mut c = CongestionControl::new(Algorithm::NewReno, 1000, 10);
        let mut una = 0;
        for rtt in [50, 50, 80, 80, 80, 80, 80, 80, 80] {
            hystart_round(&mut c, &mut una, rtt);
        }
        assert!(!c.in_css());
        assert_eq!(c.ssthresh(), usize::MAX, "NewReno: plain slow start");
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.on_rto(20_000);
        for rtt in [50, 50, 80, 80] {
            hystart_round(&mut c, &mut una, rtt);
        }
        assert!(
            !c.in_css(),
            "after an RTO ssthresh already bounds slow start"
        );
    }

    #[test]
    fn cubic_grows_at_least_five_percent_per_rtt_until_the_first_loss() {
        // Linux's bictcp_update caps cnt at 20 while last_max_cwnd is 0:
        // after a HyStart exit at 100 segments with no loss, the cubic
        // curve (K = 0) and the Reno estimate would add about one segment
        // in the first RTT; the floor adds five.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 100_000;
        c.ssthresh = 100_000;
        let rtt = Duration::from_millis(100);
        let now = Instant::from_secs(1);
        for _ in 0..100 {
            c.on_ack(1000, now, Some(rtt));
        }
        let w = c.cwnd() as f64 / 1000.0;
        assert!((104.9..=105.2).contains(&w), "5% in one RTT: {w}");
        // After a loss the curve aims at W_max again, with no floor: it
        // is still on the plateau near W_max at K (42 RTTs later).
        let (w, _) = cubic_after_loss(100, 4.2);
        assert!((97.0..=103.0).contains(&w), "{w}");
    }

    #[test]
    fn cubic_timeout_forgets_w_max_as_linux_does() {
        // Linux's bictcp_state(TCP_CA_Loss) resets the CUBIC state: after
        // a timeout the window grows from the new ssthresh with K = 0 and
        // the 5% floor, not back toward the old W_max along a concave
        // curve.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 100_000;
        c.on_fast_retransmit(100_000);
        assert!(c.cubic.w_max > 0.0);
        c.cwnd = 70_000;
        c.on_rto(70_000);
        assert_eq!((c.cubic.w_max, c.cubic.w_last_max), (0.0, 0.0));
        assert_eq!(c.ssthresh(), 49_000, "0.7 of the cwnd at the timeout");
        assert_eq!(c.cwnd(), 1000);
    }
}
