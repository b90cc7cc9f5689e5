//! CUBIC (RFC 9438): the window a loss-based sender grows along a cubic
//! curve of the time since the last reduction, and its multiplicative
//! decrease.
//!
//! This module owns CUBIC's per-epoch state and arithmetic, in segments:
//! - congestion avoidance ([`Cubic::on_ack`]): W(t) = C·(t − K)³ + W_max
//!   aimed one RTT ahead (§4.2, §4.4), never slower than the Reno-friendly
//!   estimate W_est (§4.3), and, as in Linux's `tcp_cubic.c`, at least 5%
//!   per RTT until the first loss;
//! - the reduction on a congestion event ([`Cubic::reduce`]): β = 0.7
//!   (§4.6) with fast convergence (§4.7).
//!
//! Slow start, its HyStart++ (RFC 9406) and ACK-train exits (`hystart.rs`),
//! the event hooks and the reset on a retransmission timeout (W_max
//! forgotten, as Linux's `bictcp_state`) are [`super::CongestionControl`]'s;
//! the tests here drive CUBIC, its slow-start exits included, through it.

use crate::time::{Duration, Instant};

/// RFC 9438 §5: C = 0.4 segments/s³.
const CUBIC_C: f64 = 0.4;
/// RFC 9438 §4.6: multiplicative decrease factor.
const CUBIC_BETA: f64 = 0.7;

/// CUBIC's per-epoch state (RFC 9438 §4.1), windows in segments.
#[derive(Clone, Debug, Default)]
pub(super) struct Cubic {
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

impl Cubic {
    /// New data acknowledged in congestion avoidance (RFC 9438 §4.2–§4.4):
    /// `acked` bytes at `now`, with the window at `cwnd_bytes` of `mss`;
    /// returns the new window in bytes, never below `cwnd_bytes`.
    pub(super) fn on_ack(
        &mut self,
        cwnd_bytes: usize,
        mss: usize,
        acked: usize,
        now: Instant,
        rtt: Duration,
    ) -> usize {
        let mss = mss as f64;
        let cwnd = cwnd_bytes as f64 / mss;
        let c = self;
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
        (grown as usize).max(cwnd_bytes)
    }

    /// The multiplicative decrease on a congestion event with the window
    /// at `cwnd_bytes` of `mss` (RFC 9438 §4.6–§4.7): starts a new epoch
    /// and returns the new ssthresh in bytes.
    pub(super) fn reduce(&mut self, cwnd_bytes: usize, mss: usize) -> usize {
        let cwnd = cwnd_bytes as f64 / mss as f64;
        let c = self;
        // Fast convergence: release bandwidth to newer flows.
        c.w_max = if cwnd < c.w_last_max {
            cwnd * (1.0 + CUBIC_BETA) / 2.0
        } else {
            cwnd
        };
        c.w_last_max = cwnd;
        c.k = (c.w_max * (1.0 - CUBIC_BETA) / CUBIC_C).cbrt();
        c.epoch_start = None;
        ((cwnd_bytes as f64 * CUBIC_BETA) as usize).max(2 * mss)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Algorithm, CongestionControl};
    use crate::time::{Duration, Instant};
    use crate::wire::SeqNumber;

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

    #[test]
    fn undo_brings_back_the_curve_before_the_spurious_reduction() {
        // RFC 9438 §4.9: a spurious congestion event is forgotten whole —
        // W_max, K, the epoch, W_est — so that the window keeps the
        // growth it had (here the no-loss floor of 5% per RTT), not the
        // plateau the reduction aimed at.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 100_000;
        c.ssthresh = 100_000;
        let now = Instant::from_secs(1);
        c.on_ack(1000, now, Some(Duration::from_millis(50)));
        let w_max = c.cubic.w_max;
        c.save_prior();
        c.on_congestion_event(c.cwnd);
        assert!(c.cubic.w_last_max > 0.0);
        c.undo();
        assert_eq!((c.cubic.w_max, c.cubic.w_last_max), (w_max, 0.0));
        assert_eq!(c.cubic.epoch_start, Some(now));
        let before = c.cwnd();
        let rtt = Duration::from_millis(50);
        for _ in 0..before / 1000 {
            c.on_ack(1000, now + rtt, Some(rtt));
        }
        assert!(
            c.cwnd() >= before * 104 / 100,
            "{} after {before}",
            c.cwnd()
        );
    }

    #[test]
    fn a_timeout_in_a_row_keeps_the_first_ones_ssthresh() {
        // Linux's tcp_enter_loss sets ssthresh on entering CA_Loss, not on
        // each backed-off timeout after it: reduced again from a window
        // of one segment it would fall to 2 SMSS, and the retransmissions'
        // slow start would end there.
        let mut c = CongestionControl::new(Algorithm::Cubic, 1000, 10);
        c.cwnd = 100_000;
        c.save_prior();
        c.on_rto(100_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 70_000));
        c.on_rto(100_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 70_000));
        // Undone as spurious, both go back to before the first.
        c.undo();
        assert_eq!((c.cwnd(), c.ssthresh()), (100_000, usize::MAX));
        // After the window grew again, a new timeout reduces again.
        c.cwnd = 10_000;
        c.on_rto(10_000);
        assert_eq!(c.ssthresh(), 7000);
    }
}
