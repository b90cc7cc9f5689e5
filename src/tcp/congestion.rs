//! Congestion control: the window a sender may have in flight.
//!
//! The two loss-based algorithms share RFC 5681 slow start (counting
//! every acknowledged byte, as Linux's `tcp_slow_start`, rather than
//! RFC 3465's L = 2·SMSS per ACK), the RFC 6928 initial window, and the
//! RFC 6582 NewReno fast-recovery window arithmetic. They differ in how
//! much the window shrinks on loss and how it grows in congestion
//! avoidance:
//! - [`Algorithm::NewReno`]: halve; grow one SMSS per window (RFC 5681 §3.1),
//!   in `congestion/newreno.rs`.
//! - [`Algorithm::Cubic`]: shrink to β = 0.7; grow along
//!   W(t) = C·(t − K)³ + W_max, never slower than Reno (RFC 9438 §4), in
//!   `congestion/cubic.rs`.
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
//! [`on_rto`](CongestionControl::on_rto); [`save_prior`](CongestionControl::save_prior)
//! and [`undo`](CongestionControl::undo) take back a reduction that
//! proved spurious (`undo.rs`: RFC 3708 D-SACK, RFC 3522 Eifel, RFC 5682
//! F-RTO). During recovery the sending
//! rate of the loss-based algorithms is governed by PRR (`prr.rs`) when
//! [`uses_prr`](CongestionControl::uses_prr) says so; BBR's recovery
//! sends by cwnd − pipe.

mod cubic;
mod newreno;

use super::bbr::{AckContext, Bbr, BbrMode};
use super::hystart::{HyStart, Verdict, CSS_GROWTH_DIVISOR};
use super::rate::RateSample;
use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;
use core::fmt;
use core::str::FromStr;
use cubic::Cubic;
use newreno::NewReno;

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

/// What a reduction changed, saved before it so that an undo can take it
/// back.
#[derive(Clone, Debug)]
struct Prior {
    cwnd: usize,
    ssthresh: usize,
    /// CUBIC's curve (W_max, K, the epoch, W_est): RFC 9438 §4.9.
    cubic: Cubic,
}

/// Sender congestion state, in bytes.
#[derive(Clone, Debug)]
pub struct CongestionControl {
    algorithm: Algorithm,
    cwnd: usize,
    ssthresh: usize,
    mss: usize,
    reno: NewReno,
    cubic: Cubic,
    hystart: HyStart,
    bytes_lost: u64,
    /// BBR's model, when the algorithm is BBR.
    bbr: Option<Box<Bbr>>,
    /// Seed for BBR's randomized probing.
    seed: u64,
    /// cwnd and ssthresh before the reduction of the current loss episode
    /// (Linux's `prior_cwnd`/`prior_ssthresh`), saved by
    /// [`save_prior`](Self::save_prior), restored by [`undo`](Self::undo)
    /// if the episode proves spurious (`undo.rs`).
    prior: Option<Prior>,
    /// A timeout reduced the window and no undo followed: a timeout with
    /// the window still at one segment is one in a row.
    timed_out: bool,
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
            reno: NewReno::default(),
            cubic: Cubic::default(),
            hystart: HyStart::default(),
            bytes_lost: 0,
            bbr: None,
            seed: 0,
            prior: None,
            timed_out: false,
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
        self.reno = NewReno::default();
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
        let mut acked = acked;
        if self.cwnd < self.ssthresh {
            if self.in_css() {
                // A quarter of the slow-start growth in HyStart++ CSS
                // (RFC 9406 §4.2).
                self.cwnd = self.cwnd.saturating_add(acked / CSS_GROWTH_DIVISOR);
                return;
            }
            // Slow start counts every byte an ACK covers, up to ssthresh,
            // and what is left over grows the window in congestion
            // avoidance: Linux's `tcp_slow_start`, not RFC 3465's limit of
            // L = 2·SMSS per ACK. The limit matters when the receiver
            // stretches its ACKs, as Linux's does at high rates: at
            // 1 Gbit/s 39–53% of slow-start segments were covered by ACKs
            // of more than two segments (one ACK covered 32), so a window
            // grown by 2·SMSS per ACK grew ×1.55–1.75 per RTT against
            // Linux's ×1.69–1.95, met the first loss smaller, and the
            // CUBIC and NewReno uploads ran at 0.68–0.93× Linux's.
            let grow = acked.min(self.ssthresh - self.cwnd);
            self.cwnd = self.cwnd.saturating_add(grow);
            acked -= grow;
            if acked == 0 {
                return;
            }
        }
        match self.algorithm {
            Algorithm::NewReno => self.cwnd = self.reno.on_ack(self.cwnd, self.mss, acked),
            Algorithm::Cubic => {
                let rtt = srtt.unwrap_or(Duration::from_millis(100));
                self.cwnd = self.cubic.on_ack(self.cwnd, self.mss, acked, now, rtt);
            }
            Algorithm::Bbr => {}
        }
    }

    /// The multiplicative decrease on a congestion event, returning the new
    /// ssthresh (RFC 5681 eq. 4; RFC 9438 §4.6–§4.7).
    fn reduce(&mut self, flight: usize) -> usize {
        // Any congestion event ends slow start, HyStart++ included.
        self.hystart.leave_css();
        match self.algorithm {
            Algorithm::NewReno => newreno::ssthresh_after_loss(self.cwnd, flight, self.mss),
            Algorithm::Bbr => (flight / 2).max(2 * self.mss),
            Algorithm::Cubic => self.cubic.reduce(self.cwnd, self.mss),
        }
    }

    /// Retransmission timeout: loss window of 1 SMSS (RFC 5681 §3.1).
    pub fn on_rto(&mut self, flight: usize) {
        if self.bbr.is_some() {
            // BBR reacts to losses through its rate samples instead.
            return;
        }
        // A timeout in a row keeps the ssthresh the first set (Linux's
        // `tcp_enter_loss` sets it only on entering CA_Loss): reduced
        // again from a window of one segment it would be 2 SMSS.
        let in_a_row = self.timed_out && self.cwnd <= self.mss;
        if !in_a_row {
            self.ssthresh = self.reduce(flight);
        }
        self.timed_out = true;
        self.cwnd = self.mss;
        self.reno = NewReno::default();
        // Linux's CUBIC on entering CA_Loss (`bictcp_state` →
        // `bictcp_reset`): W_max, the epoch and HyStart start over.
        self.cubic = Cubic::default();
        self.hystart = HyStart::default();
    }

    /// A loss episode begins and may later prove spurious: remember the
    /// window and the slow-start threshold before its reduction (Linux's
    /// `prior_cwnd` and `prior_ssthresh = tcp_current_ssthresh`, the
    /// larger of ssthresh and ¾ cwnd). The caller saves before the
    /// reduction, once per episode.
    pub fn save_prior(&mut self) {
        let cwnd = self.cwnd();
        self.prior = Some(Prior {
            cwnd,
            ssthresh: self.ssthresh.max(cwnd / 2 + cwnd / 4),
            cubic: self.cubic.clone(),
        });
    }

    /// The episode's reduction proved spurious (RFC 3708, RFC 3522,
    /// RFC 5682; Linux's `tcp_undo_cwnd_reduction`): cwnd = max(cwnd,
    /// prior cwnd) (Linux's `tcp_reno_undo_cwnd`) and ssthresh =
    /// max(ssthresh, prior ssthresh), back to slow start if the episode
    /// ended it. When the window comes back, so does CUBIC's curve
    /// (W_max, K, the epoch and W_est; RFC 9438 §4.9). Linux's CUBIC
    /// keeps the curve the reduction set: W_max at the spurious window,
    /// K = 0 from it, so the window stays on the plateau there, and the
    /// growth floor CUBIC keeps until its first loss is gone: where the
    /// window was undone below the path's BDP it stayed there (50 ms, 1%
    /// of packets 20 ms late: 40–67 Mbit/s in half the rounds against
    /// Linux's 89; `docs/wan-traces.md`, "Undo of spurious reductions").
    /// BBR keeps its
    /// window (`bbr_undo_cwnd`), starts full-pipe detection over, and
    /// gets back the window a timeout saved.
    pub fn undo(&mut self) {
        let prior = self.prior.take();
        self.timed_out = false;
        if let Some(b) = self.bbr.as_deref_mut() {
            b.undo();
            return;
        }
        if let Some(p) = prior {
            if self.cwnd < p.cwnd {
                self.cwnd = p.cwnd;
                self.cubic = p.cubic;
            }
            self.ssthresh = self.ssthresh.max(p.ssthresh);
            self.reno = NewReno::default();
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
        self.reno = NewReno::default();
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
        self.reno = NewReno::default();
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

    #[test]
    fn initial_window_is_ten_segments() {
        assert_eq!(
            CongestionControl::new(Algorithm::NewReno, 1460, 10).cwnd(),
            14600
        );
        assert_eq!(
            CongestionControl::new(Algorithm::Cubic, 1460, 10).cwnd(),
            14600
        );
    }

    #[test]
    fn undo_restores_the_larger_window_and_ssthresh_once() {
        // Linux's tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd (CUBIC
        // and Reno alike): cwnd = max(cwnd, prior), ssthresh = max(ssthresh,
        // prior ssthresh = max(ssthresh, ¾ cwnd)).
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 40_000;
        c.ssthresh = 20_000;
        c.save_prior();
        c.on_congestion_event(40_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (28_000, 28_000));
        c.cwnd = 45_000;
        c.undo();
        assert_eq!((c.cwnd(), c.ssthresh()), (45_000, 30_000), "¾ of 40,000");
        c.on_congestion_event(45_000);
        c.undo();
        assert!(c.cwnd() < 45_000, "nothing saved: nothing to undo");
        assert_eq!(c.cwnd(), c.ssthresh());
    }

    #[test]
    fn bbr_undo_keeps_its_window() {
        // Linux's bbr_undo_cwnd returns the current window.
        let mut c = CongestionControl::new(Algorithm::Bbr, 1000, 10);
        let cwnd = c.cwnd();
        c.save_prior();
        c.undo();
        assert_eq!(c.cwnd(), cwnd);
    }
}
