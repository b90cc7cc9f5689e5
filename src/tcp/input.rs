//! SEGMENT ARRIVES (RFC 9293 §3.10.7.4), in the RFC's order: sequence
//! check, RST, (security), SYN, ACK, URG, text, FIN — with the RFC 5961
//! hardening of RST and SYN handling (challenge ACKs).
//!
//! SYN-SENT (§3.10.7.3), the ACK that completes a handshake and the
//! crossed SYN-ACK of a simultaneous open are in `handshake.rs`.
//!
//! Urgent data (§3.8.5) is in `urgent.rs`: URG records the mark here,
//! the reader skips the byte.
//!
//! LISTEN and CLOSED (§3.10.7.1–2) are handled by the stack's demux, which
//! owns the listener table. The answers to segments that do not belong
//! (challenge and duplicate ACKs, their limit, PAWS) are in `validate`.

use super::blocks::Control;
use super::event::Event;
use super::rack::Delivered;
use super::timers::Timer;
use super::{AckReason, ConnectionError, State, Tcb};
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpSegment};

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

    /// §3.10.7.4: SYN-RECEIVED and all synchronized states.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        if self.screen(now, seg) {
            return;
        }
        let Some(text_ok) = self.check_sequence(now, seg) else {
            return;
        };
        self.update_ts_recent(seg, now);
        self.restart_keepalive(now);
        if self.on_rst_or_syn(now, seg) {
            return;
        }
        // Fifth: ACK.
        if !h.flags.ack() || !self.on_handshake_ack(now, seg) || !self.process_ack(now, seg) {
            return;
        }
        if self.on_fin_acked(now) {
            return;
        }
        if text_ok && self.new_data_after_close(seg) {
            return;
        }
        if self.state == State::TimeWait {
            // `tcp_timewait_state_process`: only a bare ACK at RCV.NXT is
            // taken in silence; anything else gets the rate-limited ACK.
            if h.seq != self.rcv.nxt || seg.seq_len() > 0 {
                self.oow_dup_ack(now, seg);
            }
            return;
        }
        if text_ok {
            self.process_urg_text_fin(now, seg);
        }
        if self.rcv.fin_pending == Some(self.rcv.nxt) && !self.rcv.fin {
            self.rcv.fin_pending = None;
            self.process_fin(now);
        }
    }

    /// What Linux decides before the sequence check. True when the
    /// segment was dealt with: dropped (none of ACK, RST, SYN), taken by
    /// the embryonic connection's own rules, or the crossed SYN-ACK of a
    /// simultaneous open. In TIME-WAIT it restarts 2·MSL.
    fn screen(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if !h.flags.ack() && !h.flags.rst() && !h.flags.syn() && self.state != State::TimeWait {
            // Linux checks this before the sequence number (`tcp_rcv_established`,
            // `tcp_rcv_state_process`): a segment with none of ACK, RST, SYN
            // is dropped without an answer, even out of window.
            self.stats.unacceptable += 1;
            return true;
        }
        if self.state == State::TimeWait && !h.flags.rst() && (h.flags.ack() || seg.seq_len() == 0)
        {
            // Linux `tcp_timewait_state_process`: anything but a RST that
            // reaches TIME-WAIT (a bare ACK at RCV.NXT, a retransmitted
            // FIN, an old duplicate) shows the peer may still send, so
            // 2·MSL starts again.
            self.timers.set(Timer::TimeWait, now + self.cfg.time_wait);
        }
        if self.state == State::SynReceived && self.passive && self.embryonic_check(now, seg) {
            return true;
        }
        if self.is_crossed_syn_ack(seg) {
            self.on_crossed_syn_ack(now, seg);
            return true;
        }
        false
    }

    /// The state changes an ACK of our FIN makes (§3.10.7.4 "fifth",
    /// FIN-WAIT-1, CLOSING, LAST-ACK). True when the connection closed.
    fn on_fin_acked(&mut self, now: Instant) -> bool {
        if !self.fin_acked() {
            return false;
        }
        self.release_finished_buffers();
        match self.state {
            State::FinWait1 => {
                self.set_state(State::FinWait2);
                self.arm_fin_timeout(now);
            }
            State::Closing => self.enter_time_wait(now),
            State::LastAck => {
                self.set_closed(None);
                return true;
            }
            _ => {}
        }
        false
    }

    /// §3.10.7.4 "sixth" to "eighth" for a segment whose text may be
    /// taken: the urgent mark, the text, and the FIN once everything
    /// before it has arrived (one past the data is remembered).
    fn process_urg_text_fin(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        if h.flags.contains(crate::wire::Flags::URG) && self.state.can_receive() {
            self.check_urg(seg);
        }
        if !seg.payload.is_empty() && self.state.can_receive() {
            self.process_text(seg, now);
        }
        if !h.flags.fin() {
            return;
        }
        let fin_seq = h.seq + seg.payload.len();
        if fin_seq == self.rcv.nxt - u32::from(self.rcv.fin) {
            self.process_fin(now);
        } else if self.state.can_receive() && fin_seq.diff(self.rcv.nxt) > 0 {
            // Out of order: remember it for when the gap fills.
            self.rcv.fin_pending = Some(fin_seq);
            self.pending.add(Control::Ack);
        }
    }

    /// §3.10.7.4 "first": PAWS (RFC 7323 §5.3 R1, before the sequence
    /// check), then the sequence number. `None`: drop the segment (after
    /// scheduling whatever ACK it calls for); `Some(text_ok)`: go on, and
    /// whether its text and FIN may be taken.
    fn check_sequence(&mut self, now: Instant, seg: &TcpSegment<'_>) -> Option<bool> {
        let h = &seg.header;
        if self.paws_drops(now, seg) {
            return None;
        }
        if self.acceptable(seg) {
            if self.past_window(seg) {
                // `tcp_data_queue` "out_of_window": its ACK counts, its
                // text and FIN are dropped, answered at once in quick-ACK
                // mode; an old part is D-SACKed first.
                self.stats.unacceptable += 1;
                if self.opts.sack_ok && h.seq.diff(self.rcv.nxt) < 0 {
                    self.pending.dsack = Some((h.seq, self.rcv.nxt));
                }
                self.ack_duplicate_data();
                return Some(false);
            }
            return Some(true);
        }
        let embryonic = self.state == State::SynReceived && self.passive;
        if h.flags.syn() && self.state != State::TimeWait && !embryonic {
            // Linux `tcp_validate_incoming` ("syn_challenge"): a SYN outside
            // the window draws a challenge ACK too (RFC 5961 §4.2), not the
            // duplicate ACK of other unacceptable segments. (Linux's
            // request socket answers it with the plain rate-limited ACK.)
            self.stats.unacceptable += 1;
            self.challenge_ack(now);
            return None;
        }
        if h.flags.rst() {
            if self.rst_at_peer_fin(seg) {
                self.reset_by_peer();
            }
            return None;
        }
        // `tcp_send_dupack`: the (rate-limited) duplicate ACK; old data
        // is D-SACKed and puts us in quick-ACK mode too.
        self.stats.unacceptable += 1;
        self.oow_dup_ack(now, seg);
        self.note_duplicate(seg);
        if !seg.payload.is_empty() && h.seq.diff(self.rcv.nxt) < 0 {
            self.ack_duplicate_data();
        }
        None
    }

    /// Linux `tcp_reset_check`: after the peer's FIN, a RST at the FIN's
    /// own sequence number (RCV.NXT - 1, as a peer that does not count its
    /// FIN sends it) still resets the connection, in or out of the window.
    fn rst_at_peer_fin(&self, seg: &TcpSegment<'_>) -> bool {
        self.rcv.fin
            && seg.header.seq == self.rcv.nxt - 1u32
            && matches!(
                self.state,
                State::CloseWait | State::Closing | State::LastAck
            )
    }

    /// §3.10.7.4 "second" (RST, RFC 5961 §3.2) and "fourth" (SYN in a
    /// synchronized state, RFC 5961 §4.2). True when the segment was one
    /// of them and processing ends here.
    fn on_rst_or_syn(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if h.flags.rst() {
            // Linux's request socket (passive SYN-RECEIVED, `tcp_check_req`)
            // and an orphan's FIN-WAIT-2 timewait socket
            // (`tcp_timewait_state_process`) take any in-window RST.
            let embryonic = self.state == State::SynReceived && self.passive;
            let orphan_fw2 = self.state == State::FinWait2 && self.orphaned;
            if h.seq == self.rcv.nxt
                || self.rst_at_peer_fin(seg)
                || Some(h.seq) == self.highest_sack_edge()
                || embryonic
                || orphan_fw2
            {
                self.reset_by_peer();
            } else if self.state != State::TimeWait {
                self.challenge_ack(now);
            }
            // In TIME-WAIT Linux answers only a RST exactly at RCV.NXT
            // (`tcp_timewait_state_process`); any other is dropped silently.
            return true;
        }
        if h.flags.syn() {
            if self.state == State::SynReceived && self.passive {
                // `tcp_check_req` ("embryonic_reset"): a new SYN in the
                // window is reset, and the half-open connection with it.
                self.set_closed(Some(ConnectionError::Reset));
                let end = h.seq + seg.seq_len();
                if h.flags.ack() {
                    self.pending.rst_reply = Some(h.ack);
                } else {
                    self.pending.rst_ack_reply = Some(end);
                }
            } else if self.state == State::TimeWait {
                // Linux `tcp_timewait_state_process`: a SYN that does not
                // start a new connection gets the rate-limited ACK of any
                // out-of-window segment.
                self.oow_dup_ack(now, seg);
            } else {
                self.challenge_ack(now);
            }
            return true;
        }
        false
    }

    /// An acceptable RST (RFC 9293 §3.10.7.4 "second"): CLOSED, an error
    /// for the application unless it had already closed its side.
    fn reset_by_peer(&mut self) {
        let err = match self.state {
            State::Closing | State::LastAck | State::TimeWait => None,
            _ => Some(ConnectionError::Reset),
        };
        self.set_closed(err);
    }

    /// One RTT sample for an ACK of new data: from the timestamp echo if
    /// there is one (RFC 7323 §4), else from the timed segment (Karn).
    pub(super) fn sample_rtt(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        if self.ts_rtt_sample(seg, now) {
            self.loss.rtt_probe = None;
        } else {
            self.take_rtt_sample(now);
        }
    }

    fn take_rtt_sample(&mut self, now: Instant) {
        if let Some((seq, sent)) = self.loss.rtt_probe {
            if self.snd.una.diff(seq) > 0 {
                self.loss.rtt.sample(now - sent, self.snd.una, self.snd.max);
                self.loss.rtt_probe = None;
            }
        }
    }

    /// ACK processing of §3.10.7.4 "fifth" plus RFC 5681/6582 loss
    /// detection. Returns false when the segment must be dropped.
    pub(super) fn process_ack(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        let ack = h.ack;
        if ack.diff(self.snd.max) > 0 {
            // Acknowledges something not yet sent: ACK and drop (RFC 9293
            // §3.10.7.4), the ACK rate-limited as a challenge ACK as Linux
            // does (RFC 5961 §5.2), so a forged stream can not amplify.
            self.challenge_ack(now);
            return false;
        }
        // Linux bounds the window by the bytes ever acknowledged too
        // (`tcp_ack`): early in a connection few old ACKs are plausible.
        let max_window = u64::from(self.snd.max_wnd).min(self.bytes_acked) as u32;
        if ack.diff(self.snd.una - max_window) < 0 {
            // RFC 5961 §5.2: far older than any window we could have had
            // outstanding — a blind injection. Challenge and drop.
            self.challenge_ack(now);
            return false;
        }
        let window = u32::from(h.window) << self.opts.snd_wscale;
        let flight = self.flight_size();
        let dsack = self.opts.sack_ok && self.is_dsack(seg);
        let valid = self.without_invalid_sack_blocks(seg, dsack);
        let seg = &valid;
        if dsack {
            self.undo_on_dsack(seg);
        }
        let sacked_new = self.absorb_sack(seg);
        let advanced = ack.diff(self.snd.una) > 0;
        let prior_una = self.snd.una;
        if advanced {
            self.advance_una(now, seg);
        }
        // RFC 8985 §6.2 steps 1–3: what this ACK delivered, and when.
        let delivered = self.rack_on_ack(now, seg, ack, sacked_new);
        self.frto_on_ack(&delivered, sacked_new);
        self.undo_on_ack(seg, advanced);
        if advanced {
            self.on_new_ack(now, ack, &delivered);
        } else if ack == self.snd.una
            && flight > 0
            && seg.payload.is_empty()
            && !h.flags.fin()
            && (window == self.snd.wnd || sacked_new)
        {
            self.on_dup_ack(flight);
        }
        // RACK (RFC 8985 §6.2 step 5): losses by time, recovery entry, the
        // reordering timer; then PRR's share of this ACK (RFC 6937).
        self.rack_detect(now);
        self.prr_on_ack(&delivered);
        self.tlp_on_ack(ack, advanced, sacked_new, dsack);
        self.retrans_clock_on_ack();
        if self.snd.una == self.snd.max {
            self.timers.stop(Timer::Reorder);
            self.timers.stop(Timer::LossProbe);
        } else if advanced {
            self.schedule_loss_probe(now);
        }
        self.rate_on_ack(now, seg, flight);
        if window == 0 && flight > 0 && ack == self.snd.una {
            // Data went out before the window shut (Linux's "receiver
            // dastardly shrinks window" case of `tcp_retransmit_timer`):
            // a peer answering its retransmissions is alive, and the
            // retry limit does not apply.
            self.timers.retries = 0;
        }
        self.update_send_window(seg, window, prior_una);
        // Linux `tcp_ack`: any acceptable ACK shows the peer alive.
        self.timers.probes_out = 0;
        self.timers.ack_at = Some(now);
        if flight == 0 {
            self.ack_probe(now);
        }
        true
    }

    /// An ACK of new data: SND.UNA moves to SEG.ACK, the acknowledged bytes
    /// leave the send buffer, and the retry count and RTT sample follow.
    fn advance_una(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let ack = seg.header.ack;
        let acked = (ack - self.snd.una) as usize;
        self.bytes_acked += acked as u64;
        let fin_acked = self.snd.fin.is_some_and(|f| ack == f + 1u32);
        let data_acked = acked - usize::from(fin_acked);
        self.snd.buf.discard(data_acked);
        if data_acked > 0 {
            self.events.push(Event::Writable);
        }
        self.snd.una = ack;
        self.loss.scoreboard.advance(ack);
        if self.snd.nxt.diff(ack) < 0 {
            self.snd.nxt = ack;
        }
        self.loss.dup_acks = 0;
        self.timers.retries = 0;
        self.soft_error = false;
        self.sample_rtt(seg, now);
    }

    /// After SND.UNA advanced: the congestion controller's share (or
    /// recovery's, RFC 6582), send-buffer growth, and the retransmission
    /// and user timers (RFC 6298 §5.2–5.3).
    fn on_new_ack(&mut self, now: Instant, ack: SeqNumber, delivered: &Delivered) {
        let acked = delivered.bytes.max(1);
        match self.loss.recover {
            Some(recover) if ack.diff(recover) >= 0 => self.exit_recovery(now),
            // With SACK, RACK and the scoreboard drive retransmission.
            Some(_) if self.opts.sack_ok => {}
            Some(_) => {
                self.loss.cc.on_partial_ack(acked);
                self.pending.add(Control::FastRetransmit);
            }
            None => {
                self.loss
                    .cc
                    .on_ack_sample(ack, self.snd.nxt, delivered.rtt, now);
                self.loss.cc.on_ack(acked, now, self.loss.rtt.srtt());
            }
        }
        // The flight this ACK found: what is still out plus what it acked.
        self.sndbuf_expand(self.flight_size() + acked);
        if self.snd.una == self.snd.max {
            self.loss.retransmitting = false;
            self.timers.stop(Timer::Retransmit);
            self.timers.stop(Timer::UserTimeout);
        } else {
            // RFC 6298 §5.3: restart the timer on new data acknowledged.
            self.timers
                .set(Timer::Retransmit, now + self.loss.rtt.rto());
            if let Some(uto) = self.cfg.user_timeout {
                self.timers.set(Timer::UserTimeout, now + uto);
            }
        }
    }

    /// A duplicate ACK (RFC 5681 §2; RFC 6675 §2 counts new SACK
    /// information too): counted, and without SACK at DupThresh the start
    /// of fast retransmit and NewReno recovery.
    ///
    /// With SACK negotiated, a duplicate ACK itself marks nothing lost, as
    /// in Linux (`tcp_fastretrans_alert`: only a Reno connection counts
    /// duplicates, `tcp_add_reno_sack`; `tcp_time_to_recover` wants a
    /// segment marked lost, which RACK does only from SACKed data). A
    /// peer that negotiated SACK and sends none leaves the loss to the
    /// tail loss probe and the retransmission timer.
    fn on_dup_ack(&mut self, flight: usize) {
        self.loss.dup_acks += 1;
        self.stats.dup_acks += 1;
        if self.loss.recover.is_some() {
            if !self.opts.sack_ok {
                self.loss.cc.on_dup_ack_in_recovery();
            }
        } else if !self.opts.sack_ok && self.loss.dup_acks == 3 && self.may_enter_recovery() {
            // Fast retransmit and NewReno recovery (RFC 6582 §3.2 step 2).
            self.loss.recover = Some(self.snd.max);
            self.undo_init(false);
            self.loss.cc.on_fast_retransmit(flight);
            self.pending.add(Control::FastRetransmit);
            self.stats.fast_retransmits += 1;
            self.stats.cwnd_reductions += 1;
        }
    }

    /// Window update as Linux's `tcp_ack_update_window` decides it
    /// (`tcp_may_update_window`), where RFC 9293 §3.10.7.4 compares
    /// SND.WL1/WL2: an ACK older than SND.UNA (`prior_una`, before this
    /// ACK) never updates; one that acknowledges new data always does; else
    /// a newer SEG.SEQ does, and the same SEG.SEQ only if the window grows
    /// or shuts (a duplicate ACK cannot shrink it, so a reordered older
    /// duplicate does not take back a window a later one opened). `window`
    /// is the segment's, scaled.
    fn update_send_window(&mut self, seg: &TcpSegment<'_>, window: u32, prior_una: SeqNumber) {
        let (h, ack) = (&seg.header, seg.header.ack);
        let may_update = ack.diff(prior_una) > 0
            || h.seq.diff(self.snd.wl1) > 0
            || (h.seq == self.snd.wl1 && (window > self.snd.wnd || window == 0));
        if ack.diff(prior_una) >= 0 && may_update {
            self.snd.wnd = window;
            self.snd.max_wnd = self.snd.max_wnd.max(window);
            self.snd.wl1 = h.seq;
            self.snd.wl2 = ack;
            // Linux's `tcp_ack_probe`: only a window that takes the send
            // head ends probing; a smaller one leaves it to the persist
            // timer, its backoff kept.
            if window > 0 && self.send_head_fits() {
                self.timers.stop(Timer::Persist);
                self.timers.probe_backoff = 0;
                self.timers.probing_since = None;
            }
        }
    }

    /// RFC 1122 §4.2.2.13 as Linux does it (`tcp_rcv_state_process` step
    /// 7, `TCPAbortOnData`): new data (not a bare FIN, not old duplicates)
    /// that can never be read resets the connection, the RST answering the
    /// segment (SEQ = its ACK): in FIN-WAIT-1/2 once the application closed
    /// the connection or shut its reading side; after the peer's FIN
    /// (CLOSE-WAIT, CLOSING, LAST-ACK) when a segment starting before
    /// RCV.NXT runs past it (one starting at or after it is ignored).
    /// True when it was reset.
    fn new_data_after_close(&mut self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        let end = h.seq + seg.payload.len();
        if seg.payload.is_empty() || end.diff(self.rcv.nxt) <= 0 {
            return false;
        }
        let unreadable = match self.state {
            State::FinWait1 | State::FinWait2 => self.orphaned || self.rcv.shutdown,
            State::CloseWait | State::Closing | State::LastAck => h.seq.diff(self.rcv.nxt) < 0,
            _ => false,
        };
        if !unreadable {
            return false;
        }
        self.stats.aborted_on_data += 1;
        self.set_closed(Some(ConnectionError::Reset));
        self.pending.rst_reply = Some(h.ack);
        true
    }

    /// A segment whose data all arrived before: reported in the next
    /// ACK's first SACK block (D-SACK, RFC 2883 §4).
    fn note_duplicate(&mut self, seg: &TcpSegment<'_>) {
        let (start, len) = (seg.header.seq, seg.payload.len());
        if self.opts.sack_ok && len > 0 && (start + len).diff(self.rcv.nxt) <= 0 {
            self.pending.dsack = Some((start, start + len));
        }
    }

    /// §3.10.7.4 "seventh": deliver in-order text to the receive buffer.
    fn process_text(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        let mut payload = seg.payload;
        let mut seq = seg.header.seq;
        if seq.diff(self.rcv.nxt) < 0 {
            // Trim what we already have (a partial retransmission), and
            // report that part in a D-SACK block (RFC 2883 §4, Linux's
            // `tcp_data_queue`: "partial packet").
            let skip = (self.rcv.nxt - seq) as usize;
            payload = payload.get(skip..).unwrap_or(&[]);
            if self.opts.sack_ok && !payload.is_empty() {
                self.pending.dsack = Some((seq, self.rcv.nxt));
            }
            seq = self.rcv.nxt;
        }
        if payload.is_empty() {
            // A pure duplicate: ACK at once so the sender resynchronizes,
            // and report it in a D-SACK block (RFC 2883 §4) so a sender
            // can tell a spurious retransmission from a loss.
            self.note_duplicate(seg);
            self.ack_duplicate_data();
            return;
        }
        let offset = (seq - self.rcv.nxt) as usize;
        if offset > 0 {
            self.queue_out_of_order(offset, payload);
            return;
        }
        let filled_hole = !self.rcv.ooo.is_empty();
        let n = self.take_in_order(payload, now);
        let small = payload.len() < self.rcv.mss;
        self.rcv.mss = self
            .rcv
            .mss
            .max(payload.len())
            .min(usize::from(self.cfg.mss));
        self.rcv_rtt_measure(seg, now);
        self.rcv_space_adjust(now);
        if seg.header.flags.fin() && self.rcv.nxt == seg.header.seq + seg.payload.len() {
            // The FIN follows in order and will make the connection
            // interactive before this ACK is decided, as Linux's
            // `tcp_fin` does inside `tcp_data_queue`.
            self.fin_enters_pingpong();
        }
        self.ack_in_order(now, filled_hole || n < payload.len(), small);
    }

    /// Reassembly: parks `payload`, `offset` bytes past RCV.NXT, beyond
    /// the end of the receive buffer. Out-of-order data is ACKed at once
    /// (RFC 5681 §4.2) so the sender sees the duplicate ACK and our SACK
    /// blocks.
    fn queue_out_of_order(&mut self, offset: usize, payload: &[u8]) {
        self.ack_for(AckReason::OutOfOrder);
        let written = self.rcv.buf.write_unallocated(offset, payload);
        if written == 0 {
            return;
        }
        match self.rcv.ooo.add(offset, written) {
            Ok(()) => self.stats.out_of_order_queued += 1,
            Err(_) => self.stats.out_of_order_dropped += 1,
        }
    }

    /// In-order `payload` at RCV.NXT into the receive buffer (or a
    /// waiting reader's), with whatever was parked right after it:
    /// RCV.NXT advances. Returns how much of `payload` was taken.
    fn take_in_order(&mut self, payload: &[u8], now: Instant) -> usize {
        // Delivered when the device read the payload into a waiting
        // reader's buffer (`Tcb::posted_spare`); in place when it read it
        // into the receive buffer (`Tcb::rx_spare`); else copied.
        let n = if self.deliver_posted(payload) {
            payload.len()
        } else {
            self.rcv.buf.enqueue_in_place(payload)
        };
        // Anything parked right after this segment is now in order too.
        let contiguous = self.rcv.ooo.add_front_and_take(n);
        let extra = self
            .rcv
            .buf
            .enqueue_unallocated(contiguous.saturating_sub(n));
        // Past the buffer: the next ACK tells the truth (`ICSK_ACK_NOMEM`).
        self.rcv.nomem |= n < payload.len();
        self.rcv.nxt += (n + extra) as u32;
        self.stats.bytes_in += (n + extra) as u64;
        self.rcv.unacked += n + extra;
        if n + extra > 0 {
            self.events.push(Event::Readable);
            self.quickack_on_data(now);
            self.rcv.data_at = Some(now);
        }
        n
    }

    /// §3.10.7.4 "eighth": the peer's FIN, in order.
    fn process_fin(&mut self, now: Instant) {
        let first = !self.rcv.fin;
        if first {
            self.rcv.fin = true;
            self.rcv.nxt += 1u32;
            self.events.push(Event::PeerClosed);
        }
        if first && self.fin_enters_pingpong() {
            // The application is told of the close and usually closes
            // too: its FIN carries this ACK, one segment instead of two.
            // Delayed as Linux delays it (`tcp_fin` enters pingpong
            // mode, which ends quick ACKs); the timer sends it alone if
            // the application waits. An ACK already due at once (a hole
            // filled, two segments unacknowledged) still goes, and a
            // delayed one keeps its deadline (`tcp_send_delayed_ack`).
            if !self.pending.has(Control::Ack) && !self.timers.is_armed(Timer::DelayedAck) {
                self.stats.delayed_acks += 1;
                let at = self.delayed_ack_at(now, true);
                self.timers.set(Timer::DelayedAck, at);
            }
        } else {
            self.pending.add(Control::Ack);
        }
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now),
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 | State::TimeWait => self.enter_time_wait(now),
            _ => {}
        }
    }

    /// Linux `tcp_fin` in SYN-RECEIVED or ESTABLISHED: the peer's first
    /// FIN makes the connection interactive (pingpong), so its ACK is
    /// delayed, quick-ACK mode or not. False when ACKs are not delayed
    /// or the state does not call for it.
    fn fin_enters_pingpong(&mut self) -> bool {
        let delaying = !self.cfg.delayed_ack.is_zero()
            && matches!(self.state, State::SynReceived | State::Established);
        if delaying {
            self.rcv.pingpong = true;
        }
        delaying
    }

    fn enter_time_wait(&mut self, now: Instant) {
        if self.state != State::TimeWait {
            self.set_state(State::TimeWait);
        }
        self.timers.clear();
        self.timers.set(Timer::TimeWait, now + self.cfg.time_wait);
    }
}
