//! The handshake's side of SEGMENT ARRIVES (RFC 9293 §3.10.7.3 and the
//! SYN-RECEIVED part of §3.10.7.4): SYN-SENT, the ACK that completes a
//! handshake, and the crossed SYN-ACK of a simultaneous open (§3.5
//! figure 8), each as Linux's `tcp_rcv_synsent_state_process` and
//! `tcp_rcv_state_process` take them. The rest of segment processing is
//! in `input`.

use super::blocks::Control;
use super::timers::Timer;
use super::{ConnectionError, State, Tcb};
use crate::time::Instant;
use crate::wire::TcpSegment;

impl Tcb {
    /// §3.10.7.3: SYN-SENT.
    pub(super) fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        let h = &seg.header;
        // First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
        if h.flags.ack() && (h.ack.diff(self.snd.iss) <= 0 || h.ack.diff(self.snd.nxt) > 0) {
            if !h.flags.rst() {
                self.pending.rst_reply = Some(h.ack);
            }
            return;
        }
        // Linux `tcp_rcv_synsent_state_process` (PAWSActiveRejected): the
        // SYN-ACK must echo a TSval we sent since our first SYN; else it is
        // answered with a RST (a RST with it is dropped).
        if h.flags.ack() && !self.echoes_our_syn_ts(seg, now) {
            self.stats.paws_rejected += 1;
            if !h.flags.rst() {
                self.pending.rst_reply = Some(h.ack);
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
        self.rcv.irs = h.seq;
        self.rcv.nxt = h.seq + 1u32;
        // What our ACK (or SYN-ACK) acknowledges, before it is polled out:
        // a segment handled in between is judged against it (RFC 7323 §4.3).
        self.opts.last_ack_sent = self.rcv.nxt;
        // Our SYN's window counts from here: its right edge was computed
        // while RCV.NXT was still unknown (0).
        self.rcv.adv = self.rcv.nxt + self.rcv.wnd;
        self.negotiate(seg, now);
        self.snd.wnd = u32::from(h.window);
        self.snd.max_wnd = self.snd.wnd;
        self.snd.mss_wnd = self.snd.max_wnd;
        self.snd.wl1 = h.seq;
        self.snd.wl2 = h.ack;
        self.pending.add(Control::Ack);
        if h.flags.ack() {
            self.snd.una = h.ack;
            self.snd.syn_acked = true;
            self.timers.ack_at = Some(now);
            self.sample_rtt(seg, now);
            self.timers.retries = 0;
            self.loss.retransmitting = false;
            self.timers.stop(Timer::Retransmit);
            self.set_state(State::Established);
            self.restart_keepalive(now);
        } else {
            // Simultaneous open: answer with SYN-ACK from SYN-RECEIVED.
            self.snd.nxt = self.snd.iss;
            self.set_state(State::SynReceived);
        }
    }

    /// True unless the segment echoes a timestamp (non-zero TSecr) outside
    /// [TSval of our first SYN, our TSval now].
    fn echoes_our_syn_ts(&self, seg: &TcpSegment<'_>, now: Instant) -> bool {
        let (Some(first), Some((_, ecr))) = (self.syn_ts, seg.header.options.timestamp) else {
            return true;
        };
        ecr == 0 || ecr.wrapping_sub(first) <= self.ts_val(now).wrapping_sub(first)
    }

    /// Simultaneous open (RFC 9293 §3.5 figure 8): in SYN-RECEIVED after
    /// SYN-SENT, the peer's SYN-ACK — its SYN at RCV.NXT - 1, without
    /// data or FIN, acknowledging our SYN — crossed ours. Linux lets it
    /// through `tcp_validate_incoming` instead of challenging the SYN.
    pub(super) fn is_crossed_syn_ack(&self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        self.state == State::SynReceived
            && !self.passive
            && h.flags.syn()
            && h.flags.ack()
            && !h.flags.rst()
            && !h.flags.fin()
            && seg.payload.is_empty()
            && h.seq + 1u32 == self.rcv.nxt
            && h.ack == self.snd.nxt
    }

    /// The crossed SYN-ACK completes the handshake (§3.10.7.4 "fifth");
    /// its SYN, already received, is ACKed at once as Linux's
    /// `tcp_data_queue` answers a segment wholly below RCV.NXT: reported
    /// as a D-SACK block (RFC 2883) when SACK is on.
    pub(super) fn on_crossed_syn_ack(&mut self, now: Instant, seg: &TcpSegment<'_>) {
        if self.paws_drops(now, seg) {
            return;
        }
        self.update_ts_recent(seg, now);
        self.restart_keepalive(now);
        if !self.on_handshake_ack(now, seg) || !self.process_ack(now, seg) {
            return;
        }
        let syn = seg.header.seq;
        if self.opts.sack_ok {
            self.pending.dsack = Some((syn, syn + 1u32));
        }
        self.pending.add(Control::Ack);
    }

    /// In SYN-RECEIVED, the ACK must acknowledge our SYN (SND.UNA < SEG.ACK
    /// =< SND.NXT, else a RST answers it): the handshake completes. False
    /// when the segment is dropped.
    pub(super) fn on_handshake_ack(&mut self, now: Instant, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if self.state != State::SynReceived {
            return true;
        }
        if h.ack.diff(self.snd.una) <= 0 || h.ack.diff(self.snd.nxt) > 0 {
            self.pending.rst_reply = Some(h.ack);
            return false;
        }
        self.snd.una = self.snd.iss + 1u32;
        self.snd.syn_acked = true;
        self.sample_rtt(seg, now);
        self.timers.retries = 0;
        self.loss.retransmitting = false;
        self.timers.stop(Timer::Retransmit);
        self.snd.wnd = u32::from(h.window) << self.opts.snd_wscale;
        self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
        self.snd.wl1 = h.seq;
        self.snd.wl2 = h.ack;
        let next = if self.fin_queued() {
            State::FinWait1
        } else {
            State::Established
        };
        self.set_state(next);
        // As on an active open: the idle clock starts with the handshake,
        // not with the peer's first segment after it.
        self.restart_keepalive(now);
        true
    }
}
