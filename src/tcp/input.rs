//! SEGMENT ARRIVES (RFC 9293 §3.10.7.3–§3.10.7.4), in the RFC's order:
//! sequence check, RST, (security), SYN, ACK, (URG), text, FIN — with the
//! RFC 5961 hardening of RST and SYN handling (challenge ACKs).
//!
//! LISTEN and CLOSED (§3.10.7.1–2) are handled by the stack's demux, which
//! owns the listener table.

use super::timers::Timer;
use super::{AckReason, ConnectionError, State, Tcb};
use crate::time::Instant;
use crate::wire::TcpSegment;

impl Tcb {
    /// Processes one arriving segment for this connection.
    pub fn on_segment(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        self.stats.segments_in += 1;
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_segment_syn_sent(now, seg),
            _ => self.on_segment_synchronized(now, seg),
        }
    }

    /// §3.10.7.3: SYN-SENT.
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        // First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
        if h.flags.ack() && (h.ack.diff(self.iss) <= 0 || h.ack.diff(self.snd_nxt) > 0) {
            if !h.flags.rst() {
                self.rst_reply = Some(h.ack);
            }
            return;
        }
        // Second: RST. Only acceptable with an acceptable ACK.
        if h.flags.rst() {
            if h.flags.ack() {
                self.set_closed(Some(ConnectionError::Refused));
            }
            return;
        }
        // Fourth: SYN.
        if !h.flags.syn() {
            return;
        }
        self.irs = h.seq;
        self.rcv_nxt = h.seq + 1u32;
        // What our ACK (or SYN-ACK) acknowledges, before it is polled out:
        // a segment handled in between is judged against it (RFC 7323 §4.3).
        self.last_ack_sent = self.rcv_nxt;
        // Our SYN's window counts from here: its right edge was computed
        // while RCV.NXT was still unknown (0).
        self.rcv_adv = self.rcv_nxt + self.rcv_wnd_adv;
        self.negotiate(seg, now);
        self.snd_wnd = u32::from(h.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = h.seq;
        self.snd_wl2 = h.ack;
        self.ack_now = true;
        if h.flags.ack() {
            self.snd_una = h.ack;
            self.syn_acked = true;
            self.sample_rtt(seg, now);
            self.retries = 0;
            self.retransmitting = false;
            self.timers.stop(Timer::Retransmit);
            self.set_state(State::Established);
            self.restart_keepalive(now);
        } else {
            // Simultaneous open: answer with SYN-ACK from SYN-RECEIVED.
            self.snd_nxt = self.iss;
            self.set_state(State::SynReceived);
        }
    }

    /// The RFC 9293 §3.10.7.4 acceptability test.
    fn acceptable(&self, seg: &TcpSegment<'_>) -> bool {
        let seq = seg.header.seq;
        let len = seg.seq_len();
        let wnd = self.rcv_wnd();
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => self.rcv_nxt.window_contains(wnd, seq),
            (_, 0) => false,
            (_, _) => {
                self.rcv_nxt.window_contains(wnd, seq)
                    || self.rcv_nxt.window_contains(wnd, seq + (len - 1))
            }
        }
    }

    /// §3.10.7.4: SYN-RECEIVED and all synchronized states.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        // PAWS precedes the sequence check (RFC 7323 §5.3 R1).
        if self.paws_rejects(seg, now) {
            self.stats.paws_rejected += 1;
            self.ack_now = true;
            return;
        }
        // First: sequence number.
        let mut text_ok = true;
        if !self.acceptable(seg) {
            if h.flags.rst() {
                return;
            }
            self.stats.unacceptable += 1;
            self.ack_for(AckReason::Unacceptable);
            self.note_duplicate(seg);
            if self.state == State::TimeWait && h.flags.fin() {
                // A retransmitted FIN: ACK it and restart 2·MSL (§3.10.7.4 eighth).
                self.timers.set(Timer::TimeWait, now + self.cfg.time_wait);
            }
            // With a zero window, still process the ACK of a segment sent at
            // RCV.NXT (the "special allowance" of §3.10.7.4) — typically a
            // zero-window probe.
            if !(self.rcv_wnd() == 0 && h.seq == self.rcv_nxt && h.flags.ack()) {
                return;
            }
            text_ok = false;
        }
        self.update_ts_recent(seg, now);
        self.restart_keepalive(now);
        // Second: RST (RFC 5961 §3.2).
        if h.flags.rst() {
            if h.seq == self.rcv_nxt {
                let err = match self.state {
                    State::Closing | State::LastAck | State::TimeWait => None,
                    _ => Some(ConnectionError::Reset),
                };
                self.set_closed(err);
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fourth: SYN in a synchronized state (RFC 5961 §4.2).
        if h.flags.syn() {
            if self.state == State::SynReceived && h.seq == self.irs {
                // Our SYN-ACK was lost: the retransmitted SYN gets it again.
                self.ack_now = true;
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fifth: ACK.
        if !h.flags.ack() {
            return;
        }
        if self.state == State::SynReceived {
            // ACK must acknowledge our SYN: SND.UNA < SEG.ACK =< SND.NXT.
            if h.ack.diff(self.snd_una) <= 0 || h.ack.diff(self.snd_nxt) > 0 {
                self.rst_reply = Some(h.ack);
                return;
            }
            self.snd_una = self.iss + 1u32;
            self.syn_acked = true;
            self.sample_rtt(seg, now);
            self.retries = 0;
            self.retransmitting = false;
            self.timers.stop(Timer::Retransmit);
            self.snd_wnd = u32::from(h.window) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = h.seq;
            self.snd_wl2 = h.ack;
            let next = if self.fin_queued() {
                State::FinWait1
            } else {
                State::Established
            };
            self.set_state(next);
            // As on an active open: the idle clock starts with the
            // handshake, not with the peer's first segment after it.
            self.restart_keepalive(now);
        }
        if !self.process_ack(now, seg) {
            return;
        }
        if self.fin_acked() {
            self.release_finished_buffers();
        }
        match self.state {
            State::FinWait1 if self.fin_acked() => self.set_state(State::FinWait2),
            State::Closing if self.fin_acked() => self.enter_time_wait(now),
            State::LastAck if self.fin_acked() => {
                self.set_closed(None);
                return;
            }
            _ => {}
        }
        // Seventh: segment text.
        if text_ok && !seg.payload.is_empty() && self.state.can_receive() {
            self.process_text(seg, now);
        }
        // Eighth: FIN, only once everything before it has arrived.
        if h.flags.fin() && text_ok {
            let fin_seq = h.seq + seg.payload.len();
            if fin_seq == self.rcv_nxt - u32::from(self.rcv_fin) {
                self.process_fin(now);
            } else if self.state.can_receive() && fin_seq.diff(self.rcv_nxt) > 0 {
                // Out of order: remember it for when the gap fills.
                self.fin_pending = Some(fin_seq);
                self.ack_now = true;
            }
        }
        if self.fin_pending == Some(self.rcv_nxt) && !self.rcv_fin {
            self.fin_pending = None;
            self.process_fin(now);
        }
    }

    /// RFC 5961 §3.2 / §4.2: an in-window RST not at RCV.NXT, or any SYN on a
    /// synchronized connection, is answered with an ACK instead of acting.
    /// Challenge ACKs are rate-limited per connection (RFC 5961 §7) so
    /// they can not be used to amplify a blind attack.
    fn challenge_ack(&mut self, now: Instant) {
        let (start, sent) = &mut self.challenge_window;
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

    /// One RTT sample for an ACK of new data: from the timestamp echo if
    /// there is one (RFC 7323 §4), else from the timed segment (Karn).
    fn sample_rtt(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        if self.ts_rtt_sample(seg, now) {
            self.rtt_probe = None;
        } else {
            self.take_rtt_sample(now);
        }
    }

    fn take_rtt_sample(&mut self, now: Instant) {
        if let Some((seq, sent)) = self.rtt_probe {
            if self.snd_una.diff(seq) > 0 {
                self.rtt.sample(now - sent);
                self.rtt_probe = None;
            }
        }
    }

    /// ACK processing of §3.10.7.4 "fifth" plus RFC 5681/6582 loss
    /// detection. Returns false when the segment must be dropped.
    fn process_ack(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        let ack = h.ack;
        if ack.diff(self.snd_max) > 0 {
            // Acknowledges something not yet sent: ACK and drop.
            self.ack_now = true;
            return false;
        }
        if ack.diff(self.snd_una - self.max_snd_wnd) < 0 {
            // RFC 5961 §5.2: far older than any window we could have had
            // outstanding — a blind injection. Challenge and drop.
            self.challenge_ack(now);
            return false;
        }
        let window = u32::from(h.window) << self.snd_wscale;
        let flight = self.flight_size();
        let dsack = self.sack_ok && self.is_dsack(seg);
        if dsack {
            self.rack.on_dsack(self.snd_una, self.snd_max);
        }
        let sacked_new = self.absorb_sack(seg);
        let advanced = ack.diff(self.snd_una) > 0;
        if advanced {
            let acked = (ack - self.snd_una) as usize;
            let fin_acked = self.fin_seq.is_some_and(|f| ack == f + 1u32);
            let data_acked = acked - usize::from(fin_acked);
            self.tx.discard(data_acked);
            self.snd_una = ack;
            self.scoreboard.advance(ack);
            if self.snd_nxt.diff(ack) < 0 {
                self.snd_nxt = ack;
            }
            self.dup_acks = 0;
            self.retries = 0;
            self.soft_error = false;
            self.sample_rtt(seg, now);
        }
        // RFC 8985 §6.2 steps 1–3: what this ACK delivered, and when.
        let delivered = self.rack_on_ack(now, seg, ack, sacked_new);
        if advanced {
            let acked = delivered.bytes.max(1);
            match self.recovery {
                Some(recover) if ack.diff(recover) >= 0 => self.exit_recovery(),
                // With SACK, RACK and the scoreboard drive retransmission.
                Some(_) if self.sack_ok => {}
                Some(_) => {
                    self.cc.on_partial_ack(acked);
                    self.fast_retransmit = true;
                }
                None => {
                    self.cc.on_ack_sample(ack, self.snd_nxt, delivered.rtt);
                    self.cc.on_ack(acked, now, self.rtt.srtt());
                }
            }
            self.sndbuf_expand();
            if self.snd_una == self.snd_max {
                self.retransmitting = false;
                self.timers.stop(Timer::Retransmit);
                self.timers.stop(Timer::UserTimeout);
            } else {
                // RFC 6298 §5.3: restart the timer on new data acknowledged.
                self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                if let Some(uto) = self.cfg.user_timeout {
                    self.timers.set(Timer::UserTimeout, now + uto);
                }
            }
        } else if ack == self.snd_una
            && flight > 0
            && seg.payload.is_empty()
            && !h.flags.fin()
            && (window == self.snd_wnd || sacked_new)
        {
            // A duplicate ACK (RFC 5681 §2; RFC 6675 §2 counts new SACK
            // information too).
            self.dup_acks += 1;
            self.stats.dup_acks += 1;
            if self.recovery.is_some() {
                if !self.sack_ok {
                    self.cc.on_dup_ack_in_recovery();
                }
            } else if self.sack_ok && self.dup_acks >= 3 && self.scoreboard.is_empty() {
                // SACK negotiated, but the peer sends no blocks: DupThresh.
                self.dup_ack_threshold_reached();
            } else if !self.sack_ok && self.dup_acks == 3 && self.may_enter_recovery() {
                // Fast retransmit and NewReno recovery (RFC 6582 §3.2 step 2).
                self.recovery = Some(self.snd_max);
                self.cc.on_fast_retransmit(flight);
                self.fast_retransmit = true;
                self.stats.fast_retransmits += 1;
                self.stats.cwnd_reductions += 1;
            }
        }
        // RACK (RFC 8985 §6.2 step 5): losses by time, recovery entry, the
        // reordering timer; then PRR's share of this ACK (RFC 6937).
        self.rack_detect(now);
        self.prr_on_ack(&delivered);
        self.tlp_on_ack(ack, advanced, sacked_new, dsack);
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Reorder);
            self.timers.stop(Timer::LossProbe);
        } else if advanced {
            self.schedule_loss_probe(now);
        }
        self.rate_on_ack(now, seg, flight);
        if window == 0 && flight > 0 && ack == self.snd_una {
            // The peer is alive and answering probes of its closed window.
            self.retries = 0;
        }
        // Window update (§3.10.7.4): only from a segment not older than the
        // last one that updated it.
        if self.snd_wl1.diff(h.seq) < 0 || (self.snd_wl1 == h.seq && self.snd_wl2.diff(ack) <= 0) {
            let reopened = self.snd_wnd == 0 && window > 0;
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = h.seq;
            self.snd_wl2 = ack;
            if window > 0 {
                self.timers.stop(Timer::Persist);
            }
            if reopened && ack == self.snd_una && self.snd_nxt.diff(self.snd_una) == 1 {
                // The one byte out is a zero-window probe the receiver
                // dropped: send it again now, with whatever follows it,
                // rather than after a retransmission timeout.
                self.snd_nxt = self.snd_una;
            }
        }
        true
    }

    /// A segment whose data all arrived before: reported in the next
    /// ACK's first SACK block (D-SACK, RFC 2883 §4).
    fn note_duplicate(&mut self, seg: &TcpSegment<'_>) {
        let (start, len) = (seg.header.seq, seg.payload.len());
        if self.sack_ok && len > 0 && (start + len).diff(self.rcv_nxt) <= 0 {
            self.dsack = Some((start, start + len));
        }
    }

    /// §3.10.7.4 "seventh": deliver in-order text to the receive buffer.
    fn process_text(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        let mut payload = seg.payload;
        let mut seq = seg.header.seq;
        if seq.diff(self.rcv_nxt) < 0 {
            // Trim what we already have (a partial retransmission).
            let skip = (self.rcv_nxt - seq) as usize;
            payload = payload.get(skip..).unwrap_or(&[]);
            seq = self.rcv_nxt;
        }
        if payload.is_empty() {
            // A pure duplicate: ACK at once so the sender resynchronizes,
            // and report it in a D-SACK block (RFC 2883 §4) so a sender
            // can tell a spurious retransmission from a loss.
            self.note_duplicate(seg);
            self.ack_now = true;
            return;
        }
        if self.rd_shutdown {
            // SHUT_RD: acknowledge and discard (only in-order data moves on).
            if seq == self.rcv_nxt {
                self.rcv_nxt += payload.len() as u32;
            }
            self.ack_now = true;
            return;
        }
        let offset = (seq - self.rcv_nxt) as usize;
        if offset > 0 {
            // Reassembly: park the bytes past the end of the receive buffer.
            // Out-of-order data is ACKed at once (RFC 5681 §4.2) so the
            // sender sees the duplicate ACK and our SACK blocks.
            self.ack_for(AckReason::OutOfOrder);
            let written = self.rx.write_unallocated(offset, payload);
            if written == 0 {
                return;
            }
            match self.ooo.add(offset, written) {
                Ok(()) => self.stats.out_of_order_queued += 1,
                Err(_) => self.stats.out_of_order_dropped += 1,
            }
            return;
        }
        let filled_hole = !self.ooo.is_empty();
        // In place when the device read the payload into the buffer
        // (`Tcb::rx_spare`), else copied.
        let n = self.rx.enqueue_in_place(payload);
        // Anything parked right after this segment is now in order too.
        let _ = self.ooo.add(0, n);
        let contiguous = self.ooo.take_front();
        let extra = self.rx.enqueue_unallocated(contiguous.saturating_sub(n));
        self.rcv_nxt += (n + extra) as u32;
        self.stats.bytes_in += (n + extra) as u64;
        let small = payload.len() < self.rcv_mss;
        self.rcv_mss = self
            .rcv_mss
            .max(payload.len())
            .min(usize::from(self.cfg.mss));
        self.unacked_rx += n + extra;
        self.rcv_rtt_measure(seg, now);
        self.rcv_space_adjust(now);
        // Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): ACK at least every
        // second full-sized segment; at once when a hole was filled or the
        // buffer could not take everything.
        if filled_hole
            || n < payload.len()
            || self.cfg.delayed_ack.is_zero()
            || self.unacked_rx >= 2 * self.rcv_mss
        {
            self.ack_now = true;
        } else {
            self.ack_on_drain = small;
            if !self.timers.is_armed(Timer::DelayedAck) {
                self.stats.delayed_acks += 1;
                self.timers
                    .set(Timer::DelayedAck, now + self.cfg.delayed_ack);
            }
        }
    }

    /// §3.10.7.4 "eighth": the peer's FIN, in order.
    fn process_fin(&mut self, now: Instant) {
        if !self.rcv_fin {
            self.rcv_fin = true;
            self.rcv_nxt += 1u32;
        }
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now),
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 | State::TimeWait => self.enter_time_wait(now),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        if self.state != State::TimeWait {
            self.set_state(State::TimeWait);
        }
        self.timers.clear();
        self.timers.set(Timer::TimeWait, now + self.cfg.time_wait);
    }
}
