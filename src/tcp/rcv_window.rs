//! The receive window: what we advertise (RFC 9293 §3.8.6.2.2 receiver
//! SWS avoidance, RFC 7323 §2.3 scaling) and which arriving segments it
//! lets in (§3.10.7.4 "first"), as Linux's `tcp_select_window` and
//! `tcp_sequence` do.
//!
//! The window offered is RCV.ADV − RCV.NXT (Linux's `tcp_receive_window`):
//! the right edge our last segment announced. That edge never moves left
//! (RFC 7323 §2.4, RFC 9293 §3.8.6 "shrinking the window is strongly
//! discouraged"), however the free buffer space changes, except right
//! after data was dropped for want of buffer space, when Linux
//! (`ICSK_ACK_NOMEM`) announces what is really free.

use super::Tcb;
use crate::wire::TcpSegment;

impl Tcb {
    /// The window our last ACK left open (Linux `tcp_receive_window`):
    /// from RCV.NXT to the right edge we advertised, never negative.
    pub(super) fn rcv_offered(&self) -> u32 {
        self.rcv.adv.diff(self.rcv.nxt).max(0) as u32
    }

    /// Linux's `tcp_sequence` (6.17 and later): a segment is acceptable
    /// unless it ends before RCV.WUP (the RCV.NXT our last ACK carried;
    /// a segment straddling RCV.NXT is trimmed and D-SACKed later), or
    /// runs past the offered window's right edge and either starts past
    /// it or finds unread data queued. A FIN may stick out one past the
    /// edge (stacks send bare FINs into a shut window). A segment at
    /// exactly the edge is accepted for its ACK (its text is dropped by
    /// [`past_window`](Self::past_window)).
    pub(super) fn acceptable(&self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        let end = h.seq + seg.seq_len();
        if end.diff(self.opts.last_ack_sent) < 0 {
            return false;
        }
        let limit = self.rcv.nxt + self.rcv_offered();
        if end.diff(limit) <= 0 || (end - u32::from(h.flags.fin())).diff(limit) <= 0 {
            return true;
        }
        h.seq.diff(limit) <= 0 && self.rcv.buf.is_empty()
    }

    /// Linux `tcp_data_queue`'s out-of-window drop, for an acceptable
    /// segment with new text: it starts at or past the right edge (a
    /// one-byte probe of a shut window, data at the edge), or the window is
    /// shut (a bare FIN at RCV.NXT excepted). Its ACK counts; its text
    /// and FIN do not.
    pub(super) fn past_window(&self, seg: &TcpSegment<'_>) -> bool {
        let (seq, len) = (seg.header.seq, seg.payload.len());
        let end = seq + len + usize::from(seg.header.flags.fin());
        if end.diff(self.rcv.nxt) <= 0 || end == seq {
            return false;
        }
        let offered = self.rcv_offered();
        if seq == self.rcv.nxt {
            offered == 0 && len > 0
        } else if seq.diff(self.rcv.nxt) > 0 {
            seq.diff(self.rcv.nxt + offered) >= 0
        } else {
            offered == 0
        }
    }

    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, Clark's algorithm): the
    /// right edge of the window moves only by at least
    /// min(buffer/2, MSS); smaller gains are held back (a full buffer stays
    /// a zero window until it can open usefully).
    pub(super) fn window_to_advertise(&self) -> u32 {
        let free = self.rcv_wnd();
        let edge = self.rcv.nxt + free;
        let gain = edge.diff(self.rcv.adv);
        if gain > 0 && (gain as u32) < self.sws_threshold() && self.rcv.adv.diff(self.rcv.nxt) >= 0
        {
            self.rcv.adv - self.rcv.nxt
        } else {
            free
        }
    }

    /// The window field of a segment other than a SYN (Linux
    /// `tcp_select_window`), in units of 2^wscale; takes the no-memory
    /// flag. The scaled field rounds down, which would pull a held right
    /// edge back by up to 2^wscale − 1 bytes; the window is rounded up
    /// instead when the buffer has the room. Whatever the buffer, the edge
    /// never moves left of the one advertised last: that window goes
    /// again, rounded up to the scale (Linux's `ALIGN(cur_win, 1 <<
    /// rcv_wscale)`), unless data was just dropped for want of space.
    pub(super) fn select_window(&mut self) -> u32 {
        let wnd = self.window_to_advertise();
        let unit = 1u32 << self.opts.rcv_wscale;
        let up = wnd.div_ceil(unit).saturating_mul(unit);
        let mut wnd = if up <= self.rcv_wnd() {
            up
        } else {
            wnd / unit * unit
        };
        let offered = self.rcv_offered();
        let nomem = std::mem::take(&mut self.rcv.nomem);
        if wnd < offered && !nomem {
            wnd = offered.div_ceil(unit).saturating_mul(unit);
        }
        (wnd >> self.opts.rcv_wscale).min(65535)
    }
}
