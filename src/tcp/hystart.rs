//! When CUBIC's initial slow start should end, before the bottleneck's
//! queue overflows: HyStart++ (RFC 9406) with the ACK train of Linux's
//! HyStart (`tcp_cubic.c`) beside it.
//!
//! - **Delay (RFC 9406 §4.2).** When a round's minimum RTT (after eight
//!   samples) rises by clamp(last round's / 8, 4 ms, 16 ms) over the last
//!   round's, slow start gives way to Conservative Slow Start (CSS, a
//!   quarter of the growth); after five CSS rounds, to congestion
//!   avoidance. A round minimum back under the CSS baseline resumes slow
//!   start.
//! - **ACK train.** An unpaced slow start sends at twice the rate its
//!   ACKs arrive, so the ACKs come back as a train spaced by the
//!   bottleneck. A train longer than half the minimum RTT means the
//!   bottleneck stayed busy that long with this flight: the window has
//!   reached the bandwidth-delay product, and slow start ends at once
//!   (ssthresh = cwnd), in CSS too. ACKs at most 2 ms apart form a train
//!   (Linux `hystart_ack_delta_us`).
//!
//! The delay test alone misses the bandwidth-delay product at long RTTs:
//! each slow-start burst drains before the next round's first ACKs, so a
//! round's minimum stays at the path's until the window is far past the
//! BDP plus the queue. Two differences from Linux's train, both because
//! this sender lives in user space:
//! - A train is measured from its own first ACK, not from the round's:
//!   the flight of a slow start is made of clumps separated by idle gaps,
//!   and a round can begin at the end of one, which cut every train short.
//! - A gap over 2 ms ends the train only if the bottleneck was idle. The
//!   stack reads the device in batches, one clock reading per batch: when
//!   the process was not scheduled for a few milliseconds (a loaded host),
//!   the ACKs that queued meanwhile arrive together, at the instant the
//!   gap ends. If that batch holds at least half of what the train's rate
//!   would have delivered over the gap, the gap was a stall of this
//!   process, not of the bottleneck, and the train goes on. On the WAN
//!   bench at load 2–4 every train at 100 ms broke on such gaps before
//!   this, and slow start ran on to 2.6–3.2 MB on a 2.5 MB path (2,000
//!   segments lost); the kernel's train, free of stalls, ends at 1.2 BDP.

use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// RFC 9406 §4.3 constants.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u32 = 8;
/// CSS grows by a quarter of slow start's rate (CSS_GROWTH_DIVISOR).
pub(super) const CSS_GROWTH_DIVISOR: usize = 4;
const CSS_ROUNDS: u32 = 5;
/// ACKs closer together than this belong to one train (Linux
/// `hystart_ack_delta_us`: 2 ms).
const ACK_DELTA: Duration = Duration::from_millis(2);
/// ACKs this close to the first one after a gap count as one batch read
/// with it (a 2-segment ACK every 0.23 ms at 100 Mbit/s: a bottleneck
/// that was really idle delivers one or two ACKs in this time, not the
/// backlog of a stall).
const BATCH: Duration = Duration::from_micros(250);
/// Smallest window, in segments, at which HyStart judges (Linux
/// `hystart_low_window`: 16): below it a round is too short to measure.
pub(super) const LOW_WINDOW: usize = 16;

/// What HyStart says after an ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Go on as before.
    Continue,
    /// Enter CSS (RFC 9406 §4.2).
    EnterCss,
    /// Leave CSS for slow start again: the RTT fell back.
    ResumeSlowStart,
    /// End slow start: ssthresh = cwnd.
    Exit(Exit),
}

/// Why slow start ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exit {
    /// CSS_ROUNDS rounds in CSS.
    CssRounds,
    /// An ACK train longer than half the minimum RTT.
    AckTrain,
}

/// A train of ACKs that has not ended.
#[derive(Clone, Copy, Debug)]
struct Train {
    start: Instant,
    last: Instant,
    /// Bytes acknowledged since `start`.
    bytes: u64,
    /// A gap over [`ACK_DELTA`] whose verdict waits for the batch that
    /// ended it: when the batch began, and the bytes it must reach.
    gap: Option<(Instant, u64)>,
}

/// HyStart++ state (RFC 9406 §4.2 names) and the ACK train.
#[derive(Clone, Debug, Default)]
pub(super) struct HyStart {
    /// Sequence number ending the current round (windowEnd).
    window_end: Option<SeqNumber>,
    last_round_min_rtt: Option<Duration>,
    current_round_min_rtt: Option<Duration>,
    rtt_sample_count: u32,
    /// `Some` while in Conservative Slow Start (cssBaselineMinRtt).
    css_baseline_min_rtt: Option<Duration>,
    css_rounds: u32,
    /// The last SND.UNA seen (bytes per ACK for the train).
    una: Option<SeqNumber>,
    train: Option<Train>,
    /// Smallest RTT seen in slow start.
    min_rtt: Option<Duration>,
}

impl HyStart {
    /// True while in CSS.
    pub(super) fn in_css(&self) -> bool {
        self.css_baseline_min_rtt.is_some()
    }

    /// A congestion event ended slow start, CSS included.
    pub(super) fn leave_css(&mut self) {
        self.css_baseline_min_rtt = None;
    }

    /// One ACK of new data in the initial slow start: `ack` the new
    /// SND.UNA, `snd_nxt` the next sequence to send, `rtt` this ACK's
    /// sample if it gave one, `cwnd_segments` the window.
    pub(super) fn on_ack(
        &mut self,
        ack: SeqNumber,
        snd_nxt: SeqNumber,
        rtt: Option<Duration>,
        now: Instant,
        cwnd_segments: usize,
    ) -> Verdict {
        let acked = self
            .una
            .map_or(0, |u| u64::try_from(ack.diff(u)).unwrap_or(0));
        self.una = Some(ack);
        if self.window_end.is_none_or(|end| ack.diff(end) >= 0) {
            // A new round begins.
            self.window_end = Some(snd_nxt);
            self.last_round_min_rtt = self.current_round_min_rtt.take();
            self.rtt_sample_count = 0;
            if self.css_baseline_min_rtt.is_some() {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    self.css_baseline_min_rtt = None;
                    return Verdict::Exit(Exit::CssRounds);
                }
            }
        }
        if let Some(rtt) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        if cwnd_segments >= LOW_WINDOW && self.ack_train(now, acked) {
            self.css_baseline_min_rtt = None;
            return Verdict::Exit(Exit::AckTrain);
        }
        let Some(rtt) = rtt else {
            return Verdict::Continue;
        };
        self.current_round_min_rtt = Some(self.current_round_min_rtt.map_or(rtt, |m| m.min(rtt)));
        self.rtt_sample_count += 1;
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return Verdict::Continue;
        }
        let (Some(current), Some(last)) = (self.current_round_min_rtt, self.last_round_min_rtt)
        else {
            return Verdict::Continue;
        };
        match self.css_baseline_min_rtt {
            None => {
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last + thresh {
                    self.css_baseline_min_rtt = Some(current);
                    self.css_rounds = 0;
                    return Verdict::EnterCss;
                }
                Verdict::Continue
            }
            // The RTT fell back: the increase was spurious.
            Some(base) if current < base => {
                self.css_baseline_min_rtt = None;
                Verdict::ResumeSlowStart
            }
            Some(_) => Verdict::Continue,
        }
    }

    /// The ACK-train test for an ACK of `acked` bytes at `now`: true when
    /// the train has lasted longer than half the minimum RTT.
    fn ack_train(&mut self, now: Instant, acked: u64) -> bool {
        let Some(min_rtt) = self.min_rtt else {
            return false;
        };
        let fresh = Train {
            start: now,
            last: now,
            bytes: 0,
            gap: None,
        };
        let mut t = self.train.unwrap_or(fresh);
        if let Some((batch, need)) = t.gap {
            if now.saturating_duration_since(batch) <= BATCH {
                // Still the batch that ended the gap.
                t.bytes += acked;
                if acked >= need {
                    t.gap = None;
                } else {
                    t.gap = Some((batch, need - acked));
                }
                t.last = now;
                self.train = Some(t);
                return false;
            }
            // Too little came with the gap's end: the bottleneck had been
            // idle. A train may begin at that batch.
            log::trace!(
                "hystart: train of {:?} ended by a gap, {need} bytes short, at {now}",
                batch.saturating_duration_since(t.start)
            );
            t = Train {
                start: batch,
                last: batch,
                bytes: 0,
                gap: None,
            };
        }
        let since = now.saturating_duration_since(t.last);
        if since > ACK_DELTA {
            let span = t.last.saturating_duration_since(t.start);
            if span >= ACK_DELTA {
                log::trace!("hystart: gap of {since:?} after a train of {span:?} at {now}");
            }
            self.train = Some(if span >= ACK_DELTA && t.bytes > 0 {
                // Half of what the train's rate would have delivered over
                // the gap must come in the batch that ends it.
                let rate = t.bytes as f64 / span.as_secs_f64();
                let need = (rate * since.as_secs_f64() / 2.0) as u64;
                Train {
                    gap: Some((now, need.saturating_sub(acked))),
                    bytes: t.bytes + acked,
                    last: now,
                    ..t
                }
                .settle()
            } else {
                fresh
            });
            return false;
        }
        t.last = now;
        t.bytes += acked;
        self.train = Some(t);
        now.saturating_duration_since(t.start) > min_rtt / 2
    }
}

impl Train {
    /// A gap whose batch already holds enough is no gap.
    fn settle(mut self) -> Train {
        if self.gap.is_some_and(|(_, need)| need == 0) {
            self.gap = None;
        }
        self
    }
}
