//! Connection timers as data (RFC 9293 §3.10.8 TIMEOUTS) and the timeout
//! event: retransmission with RFC 6298 §5 backoff, zero-window probing
//! (RFC 9293 §3.8.6.1, shaped as Linux's `tcp_probe_timer`), TIME-WAIT
//! expiry, and the loss-detection timers of RFC 8985 (RACK reordering
//! timer, tail loss probe).
//!
//! Zero-window probes follow Linux rather than the RFC's one byte past the
//! window: a bare ACK at SND.UNA - 1 (`tcp_xmit_probe_skb`), every
//! max(RTO, min RTO) · 2^backoff capped at the maximum RTO
//! (`tcp_probe0_when`). Any ACK resets the count of unanswered probes but
//! not the backoff, which only an opened window clears (`tcp_ack_probe`);
//! the connection times out after `data_retries` unanswered probes (an
//! orphan after 8, or once the interval reaches the maximum RTO:
//! `tcp_orphan_retries`), or when probing outlasts the user timeout. A
//! window open to less than the send head needs (see `sendable`) is
//! probed by the same timer, with the data that fits (`tcp_write_wakeup`).
//!
//! Retransmission gives up by time, as Linux's `retransmits_timed_out`:
//! the budget for `data_retries` is what that many retransmissions take
//! with the RTO doubling from the minimum to the maximum RTO, counted
//! from the first retransmission of the data outstanding, fast or timed
//! out, until recovery ends; the handshake counts its SYNs.

use super::blocks::Control;
use super::{ConnectionError, State, Tcb};
use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// The timers a connection can have armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Retransmission of the oldest unacknowledged segment (or SYN).
    Retransmit = 0,
    /// Persist: probe a zero window.
    Persist = 1,
    /// 2·MSL in TIME-WAIT.
    TimeWait = 2,
    /// Send a delayed ACK.
    DelayedAck = 3,
    /// Probe an idle connection.
    KeepAlive = 4,
    /// Give up on unacknowledged data.
    UserTimeout = 5,
    /// RACK reordering timer: look for losses again once the reordering
    /// window has passed (RFC 8985 §6.3).
    Reorder = 6,
    /// Tail loss probe timeout, PTO (RFC 8985 §7.2).
    LossProbe = 7,
}

const TIMERS: usize = 8;

/// The shortest keepalive idle time and probe interval: Linux takes
/// `TCP_KEEPIDLE` and `TCP_KEEPINTVL` from 1 s up.
const KEEPALIVE_MIN: Duration = Duration::from_secs(1);

/// Retransmissions (or zero-window probes) of a connection the application
/// has released, before it is given up (Linux `tcp_orphan_retries` = 0,
/// which means 8 while the RTO is below its maximum).
const ORPHAN_RETRIES: u32 = 8;

/// Deadlines indexed by [`Timer`]; the earliest one is the connection's.
#[derive(Clone, Debug, Default)]
pub struct TimerTable {
    deadlines: [Option<Instant>; TIMERS],
    /// Retransmission timeouts in a row without progress (RFC 9293
    /// §3.8.3 R1/R2 count them).
    pub(super) retries: u32,
    /// Keepalive probes sent without an answer.
    pub(super) keepalive_sent: u32,
    /// Zero-window probes sent since the last ACK (Linux `icsk_probes_out`).
    pub(super) probes_out: u32,
    /// Doublings of the zero-window probe interval (Linux `icsk_backoff`).
    pub(super) probe_backoff: u32,
    /// When the current stretch of zero-window probing began (Linux
    /// `icsk_probes_tstamp`), for the user timeout.
    pub(super) probing_since: Option<Instant>,
    /// When the last acceptable ACK arrived (Linux `rcv_tstamp`): a
    /// shut window with data in flight is given up only after a long
    /// silence (see `zero_window_rtx_timed_out`).
    pub(super) ack_at: Option<Instant>,
    /// When the first retransmission of the data outstanding left — fast,
    /// SACK/RACK, go-back-N or timeout alike (Linux `retrans_stamp`, set
    /// once by `tcp_retransmit_skb`): the retry budget is time since then.
    pub(super) retrans_start: Option<Instant>,
    /// The end of the highest byte retransmitted while `retrans_start` is
    /// set: until SND.UNA passes it something retransmitted is still out
    /// (Linux `tcp_any_retrans_done`).
    pub(super) retrans_high: Option<SeqNumber>,
}

impl TimerTable {
    /// Arms `t` for `at`, replacing any earlier setting.
    pub fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines[t as usize] = Some(at);
    }

    /// Disarms `t`.
    pub fn stop(&mut self, t: Timer) {
        self.deadlines[t as usize] = None;
    }

    /// The deadline of `t`, if armed.
    pub fn get(&self, t: Timer) -> Option<Instant> {
        self.deadlines[t as usize]
    }

    /// True if `t` is armed.
    pub fn is_armed(&self, t: Timer) -> bool {
        self.get(t).is_some()
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.deadlines = [None; TIMERS];
    }

    fn expired(&self, t: Timer, now: Instant) -> bool {
        self.get(t).is_some_and(|d| d <= now)
    }
}

impl Tcb {
    /// The earliest instant at which [`on_timeout`](Self::on_timeout) has
    /// work to do.
    /// Includes the release time of data held back by pacing.
    pub fn poll_at(&self) -> Option<Instant> {
        let paced = self
            .loss
            .pacer
            .wake
            .filter(|_| self.state.is_synchronized());
        match (self.timers.next(), paced) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// TIMEOUTS (RFC 9293 §3.10.8). Calls before a deadline are no-ops.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timers.expired(Timer::TimeWait, now) {
            self.timers.clear();
            self.set_closed(None);
            return;
        }
        if self.timers.expired(Timer::UserTimeout, now) {
            log::debug!("{}: user timeout with data unacknowledged", self.remote);
            self.set_closed(Some(ConnectionError::TimedOut));
            return;
        }
        if self.timers.expired(Timer::KeepAlive, now) {
            self.timers.stop(Timer::KeepAlive);
            self.on_keepalive(now);
            if self.state == State::Closed {
                return;
            }
        }
        if self.timers.expired(Timer::DelayedAck, now) {
            self.timers.stop(Timer::DelayedAck);
            // Linux `tcp_delack_timer_handler`: a delayed ACK that had to
            // be sent by the timer doubles the timeout (up to the RTO);
            // in an interactive connection it resets it instead, as the
            // application did not answer in time: not interactive.
            self.rcv.ato = if self.rcv.pingpong {
                self.cfg.delayed_ack
            } else {
                self.rcv.ato.saturating_mul(2).min(self.loss.rtt.rto())
            };
            self.rcv.pingpong = false;
            self.ack_for(super::AckReason::Delayed);
        }
        if self.timers.expired(Timer::Persist, now) {
            self.timers.stop(Timer::Persist);
            self.on_persist(now);
        }
        if self.timers.expired(Timer::Reorder, now) {
            self.timers.stop(Timer::Reorder);
            self.on_reorder_timeout(now);
        }
        // The probe goes first: it restarts the RTO (RFC 8985 §7.3).
        if self.timers.expired(Timer::LossProbe, now) {
            self.timers.stop(Timer::LossProbe);
            self.on_loss_probe_timeout(now);
        }
        if self.timers.expired(Timer::Retransmit, now) {
            self.timers.stop(Timer::Retransmit);
            self.on_retransmit_timeout(now);
        }
    }

    fn on_retransmit_timeout(&mut self, now: Instant) {
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        // Linux `tcp_retransmit_timer`: with the peer's window shut the
        // retransmissions are window probes ("receiver dastardly shrinks
        // window"), and the retry budget does not apply; an orphan and the
        // handshake keep it.
        let shut = self.snd.wnd == 0 && !handshake && !self.orphaned;
        let give_up = if shut {
            self.zero_window_rtx_timed_out(now)
        } else {
            self.retries_exhausted(now, handshake)
        };
        if give_up {
            log::debug!(
                "{}: retransmissions exhausted in {}",
                self.remote,
                self.state
            );
            self.timers.clear();
            let e = if self.soft_error {
                ConnectionError::Unreachable
            } else {
                ConnectionError::TimedOut
            };
            self.set_closed(Some(e));
            return;
        }
        if !handshake {
            // Linux stamps the timeout's retransmission even if it cannot
            // leave (`tcp_retransmit_skb`: "first (attempted) retransmit");
            // an earlier fast or RACK retransmission keeps its stamp. The
            // handshake counts its SYNs instead.
            self.timers.retrans_start.get_or_insert(now);
        }
        self.timers.retries += 1;
        self.stats.retransmit_timeouts += 1;
        // RFC 6298 §5.5–5.6: back off, retransmit the earliest segment.
        self.loss.rtt.back_off();
        self.loss.rtt.on_retransmit_timeout(now);
        // Karn: no sample from a retransmitted segment.
        self.loss.rtt_probe = None;
        if handshake {
            self.snd.nxt = self.snd.iss;
        } else {
            self.enter_loss();
        }
        self.loss.retransmitting = true;
        log::debug!(
            "{}: RTO fired in {}, next RTO {:?}",
            self.remote,
            self.state,
            self.loss.rtt.rto()
        );
        self.timers
            .set(Timer::Retransmit, now + self.loss.rtt.rto());
    }

    /// Linux `tcp_write_timeout`: whether the retransmission timer that
    /// fired at `now` ends the connection instead. The handshake counts
    /// its retransmissions (`tcp_syn_retries`, `tcp_synack_retries`). A
    /// synchronized connection gives up by time (`retransmits_timed_out`):
    /// once the time since its first retransmission reaches what `limit`
    /// retransmissions would take with the RTO doubling from the minimum
    /// RTO to its cap (`tcp_model_timeout`; 924.6 s for 15). With the
    /// RTO starting at its minimum that is the count; a larger RTO runs
    /// out of time in fewer retransmissions. A user timeout replaces this
    /// budget (its own timer ends the connection).
    fn retries_exhausted(&self, now: Instant, handshake: bool) -> bool {
        let limit = match self.state {
            State::SynReceived if self.passive => self.cfg.synack_retries,
            _ if handshake => self.cfg.syn_retries,
            // `tcp_orphan_retries` with its default of 0: 8 while the RTO
            // is below its maximum, none once it reached it.
            _ if self.orphaned && self.loss.rtt.rto() >= self.cfg.max_rto => 0,
            _ if self.orphaned => self.cfg.data_retries.min(ORPHAN_RETRIES),
            _ if self.cfg.user_timeout.is_some() => return false,
            _ => self.cfg.data_retries,
        };
        if handshake {
            return self.timers.retries >= limit;
        }
        let Some(start) = self
            .timers
            .retrans_start
            .filter(|_| self.timers.retries > 0)
        else {
            return false;
        };
        now.saturating_duration_since(start) >= self.model_timeout(limit)
    }

    /// Linux `tcp_rtx_probe0_timed_out`, for the retransmission timer
    /// with the peer's window shut: the connection ends once the peer has
    /// been silent (no acceptable ACK) for longer than twice the maximum
    /// RTO and the retransmissions have gone on that long; a user timeout
    /// shortens both, and retransmitting for longer than it ends the
    /// connection even while the peer answers.
    fn zero_window_rtx_timed_out(&self, now: Instant) -> bool {
        let rtx = self
            .timers
            .retrans_start
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let mut limit = self.cfg.max_rto.saturating_mul(2);
        if let Some(uto) = self.cfg.user_timeout {
            if rtx > uto {
                return true;
            }
            limit = limit.min(uto);
        }
        self.ack_silence(now) > limit && rtx > limit
    }

    /// How long the peer has been silent at `now`: time since its last
    /// acceptable ACK (Linux `rcv_tstamp`), unbounded if none came yet.
    fn ack_silence(&self, now: Instant) -> Duration {
        self.timers
            .ack_at
            .map_or(Duration::MAX, |a| now.saturating_duration_since(a))
    }

    /// A retransmission of data or FIN up to `end` left at `now` (fast,
    /// SACK/RACK, go-back-N or timeout; not a tail loss probe, which Linux
    /// sends with `__tcp_retransmit_skb` and does not stamp): the first
    /// one starts the retry budget's clock (`tcp_retransmit_skb` sets
    /// `retrans_stamp` only when it is zero).
    pub(super) fn note_retransmission(&mut self, now: Instant, end: SeqNumber) {
        self.timers.retrans_start.get_or_insert(now);
        let high = self.timers.retrans_high.get_or_insert(end);
        if end.diff(*high) > 0 {
            *high = end;
        }
    }

    /// After an ACK: once recovery (fast or the timeout's) is over and
    /// nothing retransmitted is outstanding, the retry clock stops, so the
    /// next loss starts a fresh budget (Linux clears `retrans_stamp` in
    /// `tcp_try_to_open` and at `tcp_fastretrans_alert`'s return to Open
    /// when `tcp_any_retrans_done` is false). A partial ACK during
    /// recovery leaves it running even though it resets the count.
    pub(super) fn retrans_clock_on_ack(&mut self) {
        let una = self.snd.una;
        let in_loss = self.loss.rto_recover.is_some_and(|r| una.diff(r) < 0);
        let retrans_out = self.timers.retrans_high.is_some_and(|h| una.diff(h) < 0);
        if self.loss.recover.is_none() && !in_loss && !retrans_out {
            self.timers.retrans_start = None;
            self.timers.retrans_high = None;
        }
    }

    /// Linux `tcp_model_timeout`: the time `boundary` retransmissions take
    /// when the RTO starts at the minimum RTO and doubles up to the
    /// maximum: (2^(boundary+1) − 1) · min while the doubling lasts, then
    /// a maximum RTO for each retransmission after it.
    fn model_timeout(&self, boundary: u32) -> Duration {
        let base = self.cfg.min_rto.as_millis().max(1) as u64;
        let max = (self.cfg.max_rto.as_millis() as u64).max(base);
        let thresh = (max / base).ilog2();
        let ms = if boundary <= thresh {
            ((2u64 << boundary) - 1) * base
        } else {
            ((2u64 << thresh) - 1) * base + u64::from(boundary - thresh).saturating_mul(max)
        };
        Duration::from_millis(ms)
    }

    /// RFC 1122 §4.2.3.6: after the idle time, probe; after the allowed
    /// number of unanswered probes, the connection is dead.
    fn on_keepalive(&mut self, now: Instant) {
        let Some(_) = self.cfg.keepalive else { return };
        if !self.state.is_synchronized() || self.state == State::TimeWait {
            return;
        }
        if !self.snd.buf.is_empty() {
            // Linux `tcp_keepalive_timer`: data waiting to be sent or
            // acknowledged is watched by the other timers; look again later.
            if let Some(idle) = self.keepalive_idle() {
                self.timers.set(Timer::KeepAlive, now + idle);
            }
            return;
        }
        if self.keepalive_exhausted(now) {
            // Linux `tcp_keepalive_timer`: the dead connection is reset
            // (`tcp_send_active_reset`) and reports ETIMEDOUT, or the
            // soft error seen meanwhile (`tcp_write_err`).
            let e = if self.soft_error {
                ConnectionError::Unreachable
            } else {
                ConnectionError::TimedOut
            };
            self.set_closed(Some(e));
            self.pending.add(Control::Rst);
            return;
        }
        self.timers.keepalive_sent += 1;
        self.pending.add(Control::Keepalive);
        self.stats.keepalive_probes += 1;
        let interval = self.cfg.keepalive_interval.max(KEEPALIVE_MIN);
        self.timers.set(Timer::KeepAlive, now + interval);
    }

    /// Linux `tcp_keepalive_timer`: without a user timeout, the probes
    /// allowed went unanswered; with one, a probe went unanswered and
    /// the peer has been silent (no acceptable ACK) for the user timeout.
    fn keepalive_exhausted(&self, now: Instant) -> bool {
        match self.cfg.user_timeout {
            Some(uto) => self.timers.keepalive_sent > 0 && self.ack_silence(now) >= uto,
            None => self.timers.keepalive_sent >= self.cfg.keepalive_probes,
        }
    }

    /// The idle time before the first keepalive probe, at least
    /// [`KEEPALIVE_MIN`]: a zero idle time would re-arm the timer at the
    /// instant it fired.
    fn keepalive_idle(&self) -> Option<Duration> {
        self.cfg.keepalive.map(|idle| idle.max(KEEPALIVE_MIN))
    }

    /// Any segment from the peer shows it is alive: restart the idle clock.
    pub(super) fn restart_keepalive(&mut self, now: Instant) {
        self.timers.keepalive_sent = 0;
        if let Some(idle) = self.keepalive_idle() {
            if self.state.is_synchronized() && self.state != State::TimeWait {
                self.timers.set(Timer::KeepAlive, now + idle);
            }
        }
    }

    /// Linux `tcp_probe_timer` and `tcp_send_probe0`.
    fn on_persist(&mut self, now: Instant) {
        if self.flight_size() > 0 || !self.waiting_to_send() || self.send_head_fits() {
            self.timers.probes_out = 0;
            self.timers.probing_since = None;
            return;
        }
        let since = *self.timers.probing_since.get_or_insert(now);
        if self
            .cfg
            .user_timeout
            .is_some_and(|uto| now.saturating_duration_since(since) >= uto)
        {
            self.probe_abort();
            return;
        }
        let mut max_probes = self.cfg.data_retries;
        if self.orphaned {
            // `tcp_orphan_retries` with its default of 0: 8 probes while
            // the interval is below the maximum RTO, none after.
            let alive =
                self.probe0_base() * (1u32 << self.timers.probe_backoff.min(20)) < self.cfg.max_rto;
            max_probes = if alive { ORPHAN_RETRIES } else { 0 };
            if !alive && self.timers.probe_backoff >= max_probes {
                self.probe_abort();
                return;
            }
        }
        if self.timers.probes_out >= max_probes {
            self.probe_abort();
            return;
        }
        self.pending.add(Control::Probe);
        if self.snd.wnd == 0 {
            // A window open to less than the send head is probed with what
            // fits of it (`tcp_write_wakeup`), not counted as a window probe.
            self.stats.window_probes += 1;
        }
        self.timers.probes_out += 1;
        if self.timers.probe_backoff < self.cfg.data_retries {
            self.timers.probe_backoff += 1;
        }
        self.timers.set(Timer::Persist, now + self.probe0_when(now));
    }

    /// Data or our FIN waits to go out for the first time.
    fn waiting_to_send(&self) -> bool {
        self.unsent_len() > 0 || self.fin_unsent()
    }

    /// Our FIN is queued and has never been sent.
    pub(super) fn fin_unsent(&self) -> bool {
        self.snd.fin.is_some_and(|f| self.snd.max.diff(f) <= 0)
    }

    /// The peer stopped answering zero-window probes (`tcp_write_err`).
    fn probe_abort(&mut self) {
        log::debug!("{}: zero-window probes unanswered", self.remote);
        let e = if self.soft_error {
            ConnectionError::Unreachable
        } else {
            ConnectionError::TimedOut
        };
        self.set_closed(Some(e));
    }

    /// Linux `tcp_probe0_base`: the RTO, at least the minimum RTO.
    fn probe0_base(&self) -> crate::time::Duration {
        self.loss.rtt.rto().max(self.cfg.min_rto)
    }

    /// Linux `tcp_probe0_when`, clamped to what is left of the user
    /// timeout (`tcp_clamp_probe0_to_user_timeout`): the next probe's delay.
    pub(super) fn probe0_when(&self, now: Instant) -> crate::time::Duration {
        let shift = 1u32 << self.timers.probe_backoff.min(20);
        let when = self
            .probe0_base()
            .saturating_mul(shift)
            .min(self.cfg.max_rto);
        match (self.cfg.user_timeout, self.timers.probing_since) {
            (Some(uto), Some(since)) => {
                let left = uto.saturating_sub(now.saturating_duration_since(since));
                when.min(left.max(crate::time::Duration::from_millis(2)))
            }
            _ => when,
        }
    }

    /// Linux `tcp_ack_probe`, for an ACK that found nothing in flight
    /// while data waits: an opened window ends probing (and its backoff),
    /// a shut one puts the next probe a full interval after this answer.
    pub(super) fn ack_probe(&mut self, now: Instant) {
        if !self.waiting_to_send() {
            return;
        }
        if self.send_head_fits() {
            self.timers.probe_backoff = 0;
            self.timers.probing_since = None;
            self.timers.stop(Timer::Persist);
        } else {
            self.timers.set(Timer::Persist, now + self.probe0_when(now));
        }
    }
}
