//! What a segment that does not belong gets, as Linux answers it: the
//! RFC 5961 challenge ACK (§3.2, §4.2, §5.2) and its limit (§7, Linux's
//! `tcp_send_challenge_ack`), the duplicate ACK for an out-of-window or
//! PAWS-rejected segment (RFC 9293 §3.10.7.4, RFC 7323 §5.3) behind the
//! same per-connection 500 ms clock (`tcp_oow_rate_limited`), PAWS with
//! Linux's exemptions (`tcp_validate_incoming`, `tcp_disordered_ack_check`),
//! and the checks a passive SYN-RECEIVED makes first (`tcp_check_req`).

use super::blocks::Control;
use super::{AckReason, State, Tcb};
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpSegment};

impl Tcb {
    /// Linux `tcp_check_req` before its sequence check: an ACK that is not
    /// of our SYN-ACK is answered with a RST wherever it lies (none for a
    /// RST), and a retransmitted SYN gets the SYN-ACK again, at most every
    /// `invalid_ratelimit`. True when the segment was handled.
    pub(super) fn embryonic_check(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if h.flags.ack() && h.ack != self.snd.iss + 1u32 {
            if !h.flags.rst() {
                self.pending.rst_reply = Some(h.ack);
            }
            return true;
        }
        if h.flags == crate::wire::Flags::SYN && h.seq == self.rcv.irs {
            if self.oow_limited(now) {
                self.stats.oow_acks_suppressed += 1;
            } else {
                self.pending.add(Control::Ack);
            }
            return true;
        }
        false
    }

    /// Linux `tcp_oow_rate_limited`: the duplicate ACK that an
    /// out-of-window or PAWS-rejected segment calls for, unless one (or a
    /// challenge ACK) went out less than `Config::invalid_ratelimit` ago.
    /// Segments with data (and no SYN) are always answered: they are not
    /// part of an ACK loop, and their sender needs the ACK to resynchronize.
    pub(super) fn oow_dup_ack(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let exempt = seg.seq_len() > 0 && !seg.header.flags.syn();
        if !exempt && self.oow_limited(now) {
            self.stats.oow_acks_suppressed += 1;
            return;
        }
        self.ack_for(AckReason::Unacceptable);
    }

    /// Linux `__tcp_oow_rate_limited`: true when an answer to a segment
    /// that does not belong must be skipped, because one went out less than
    /// `Config::invalid_ratelimit` ago; else records this one's time. One
    /// clock per connection, shared by duplicate and challenge ACKs.
    pub(super) fn oow_limited(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last_oow_ack {
            if now.saturating_duration_since(last) < self.cfg.invalid_ratelimit {
                return true;
            }
        }
        self.last_oow_ack = Some(now);
        false
    }

    /// RFC 5961 §3.2 / §4.2 / §5.2: an in-window RST not at RCV.NXT, a SYN
    /// on a synchronized connection, or an unacceptable ACK is answered
    /// with an ACK instead of acting. Limited as Linux's
    /// `tcp_send_challenge_ack` does (RFC 5961 §7): first by the
    /// connection's out-of-window clock (no exemption for data), then by
    /// `Config::challenge_ack_limit` per second. Linux's second limit is
    /// per network namespace and off by default since 6.0
    /// (`tcp_challenge_ack_limit` = INT_MAX); here it is per connection
    /// and, with the 500 ms clock in front of it, binds only when
    /// `invalid_ratelimit` is zero.
    pub(super) fn challenge_ack(&mut self, now: Instant) {
        if self.oow_limited(now) {
            self.stats.challenge_acks_suppressed += 1;
            return;
        }
        let (start, sent) = &mut self.rcv.challenge_window;
        if now.saturating_duration_since(*start) >= crate::time::Duration::from_secs(1) {
            *start = now;
            *sent = 0;
        }
        if *sent >= self.cfg.challenge_ack_limit {
            self.stats.challenge_acks_suppressed += 1;
            return;
        }
        *sent += 1;
        self.stats.challenge_acks += 1;
        self.ack_for(AckReason::Challenge);
    }

    /// PAWS (RFC 7323 §5.3 R1) as Linux's `tcp_validate_incoming` applies
    /// it: true when the segment is dropped. A RST is never dropped by
    /// PAWS; a SYN draws a challenge ACK; an old pure ACK (below RCV.NXT)
    /// is dropped silently, as reordered ACKs are common
    /// (`PAWSOldAck`); a duplicate ACK that changes nothing and is only a
    /// little older than TS.Recent is accepted (`tcp_disordered_ack_check`);
    /// anything else gets a rate-limited duplicate ACK.
    pub(super) fn paws_drops(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if h.flags.rst() || !self.paws_rejects(seg, now) {
            return false;
        }
        let pure_ack = h.flags.ack() && seg.seq_len() == 0;
        if self.state != State::TimeWait && pure_ack && self.disordered_ack(seg) {
            return false;
        }
        self.stats.paws_rejected += 1;
        if self.state == State::TimeWait {
            self.oow_dup_ack(now, seg);
        } else if h.flags.syn() {
            self.challenge_ack(now);
        } else if !(pure_ack && h.seq.diff(self.rcv.nxt) < 0) {
            self.oow_dup_ack(now, seg);
        }
        true
    }

    /// Linux `tcp_disordered_ack_check`: a pure duplicate ACK at RCV.NXT
    /// that would not update the window, whose TSval trails TS.Recent by
    /// at most about one RTO, is an ACK overtaken by a newer segment:
    /// accepted despite PAWS.
    fn disordered_ack(&self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        let Some((val, _)) = h.options.timestamp else {
            return false;
        };
        let window = u32::from(h.window) << self.opts.snd_wscale;
        let may_update = h.ack.diff(self.snd.una) > 0
            || h.seq.diff(self.snd.wl1) > 0
            || (h.seq == self.snd.wl1 && (window > self.snd.wnd || window == 0));
        // `tcp_tsval_replay`: the RTO in (millisecond) timestamp ticks.
        let replay = (self.loss.rtt.rto().as_millis() as u64 * 1024 / 1000) as i64;
        h.seq == self.rcv.nxt
            && h.ack == self.snd.una
            && !may_update
            && i64::from(self.opts.ts_recent.wrapping_sub(val) as i32) <= replay
    }

    /// The right edge of the highest SACK block we report (of the four
    /// most recent), where Linux's `tcp_validate_incoming` also accepts a
    /// RST: a peer that resets after sending data we hold out of order.
    pub(super) fn highest_sack_edge(&self) -> Option<SeqNumber> {
        if !self.opts.sack_ok {
            return None;
        }
        let end = self
            .rcv
            .ooo
            .ranges_latest_first()
            .take(4)
            .map(|r| r.1)
            .max()?;
        Some(self.rcv.nxt + end)
    }

    /// Linux `tcp_is_sackblock_valid`: a SACK block counts only if it lies
    /// within what is outstanding — starting after SND.UNA, ending at or
    /// before SND.NXT, not reversed; any other block is ignored whole, not
    /// clipped (a block reaching past SND.NXT, or starting at SND.UNA
    /// which the cumulative ACK would then have covered, is bogus). A
    /// D-SACK block (the first, when `dsack`) is kept for its own checks.
    pub(super) fn without_invalid_sack_blocks<'a>(
        &mut self,
        seg: &TcpSegment<'a>,
        dsack: bool,
    ) -> TcpSegment<'a> {
        let mut valid = *seg;
        let (una, max) = (self.snd.una, self.snd.max);
        for (i, slot) in valid.header.options.sack_blocks.iter_mut().enumerate() {
            let Some((l, r)) = *slot else { continue };
            let within = l.diff(una) > 0 && r.diff(l) > 0 && r.diff(max) <= 0;
            let keep = within || (dsack && i == 0);
            if !keep {
                *slot = None;
                self.stats.sack_blocks_invalid += 1;
            }
        }
        valid
    }
}
