//! How much data may leave now: the decision half of segment output,
//! free of side effects. The limits are the peer's window and the
//! congestion window (RFC 5681 §3.1; within recovery PRR's allowance,
//! RFC 6937, or cwnd − pipe, RFC 6675 §5), TSO batching, sender SWS
//! avoidance (RFC 9293 §3.8.6.2.1) and Nagle's algorithm (RFC 1122
//! §4.2.3.4, Minshall's variant) and where the FIN goes (a zero-window
//! probe carries no data: see `timers`). Pacing, a token bucket that changes as it is
//! consulted, is applied to the decision by `output`.
//!
//! Sender SWS avoidance against the peer's window is Linux's
//! `tcp_snd_wnd_test`: new data leaves only if the first MSS of what is
//! queued fits the window, with the FIN when it rides on a tail no
//! longer than an MSS. A smaller window with nothing in flight is left
//! to the persist timer, whose probe then carries what fits
//! (`tcp_write_wakeup`); the MSS itself is bounded to half the largest
//! window the peer offered (`tcp_bound_to_half_wnd`, in `options`), so a
//! small-buffer peer still gets segments that fit.

use super::{State, Tcb};

/// What may be sent now from SND.NXT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DataSend {
    /// Offset of SND.NXT in the send buffer.
    pub(super) offset: usize,
    /// Queued bytes from SND.NXT on.
    pub(super) unsent: usize,
    /// Payload bytes to send now (0: none, or only a FIN).
    pub(super) len: usize,
    /// The FIN goes with (or as) this segment.
    pub(super) fin: bool,
    /// The congestion window, not the data, limits sending.
    pub(super) cwnd_limited: bool,
    /// New data (or the FIN) waits because the peer's window does not
    /// take the send head (Linux's `tcp_snd_wnd_test` failed): with
    /// nothing in flight the persist timer sends it.
    pub(super) rwnd_held: bool,
    /// A persist-timer probe sends what fits of the send head
    /// (Linux's `tcp_write_wakeup`), outside pacing and the SWS rule.
    pub(super) probe: bool,
}

impl Tcb {
    /// How much data (and whether the FIN) may leave now, before pacing.
    /// `sack_recovery`: in fast recovery with SACK.
    pub(super) fn data_decision(&self, sack_recovery: bool) -> DataSend {
        let start = self.data_start();
        let offset = if self.snd.nxt.diff(start) > 0 {
            (self.snd.nxt - start) as usize
        } else {
            0
        };
        let unsent = self.snd.buf.len().saturating_sub(offset);
        let in_flight = (self.snd.nxt - self.snd.una) as usize;
        let usable = self.usable_window(sack_recovery, in_flight);
        let mss = self.data_mss();
        let cwnd_limited = unsent > 0 && self.loss.cc.cwnd() < in_flight + mss.min(unsent);
        let new_data = self.snd.nxt.diff(self.snd.max) >= 0 && self.state != State::TimeWait;
        let waiting = unsent > 0 || self.snd.fin == Some(self.snd.nxt);
        if new_data && waiting && !self.send_head_fits() {
            return self.window_probe_data(offset, unsent, mss, cwnd_limited);
        }
        let mut len = unsent.min(usable).min(self.batch_limit(mss));
        if len > mss && len < unsent {
            len = len / mss * mss;
        }
        let fin_here = self.snd.fin == Some(self.snd.nxt + len)
            && self.state != State::TimeWait
            && self.fin_fits(self.snd.nxt + len);
        if !fin_here {
            if len == unsent && len > mss && self.snd.fin == Some(self.snd.nxt + len) {
                // The FIN does not fit behind the last of the data: that
                // last segment waits with it, as the whole tail skb
                // carrying the FIN fails `tcp_snd_wnd_test`.
                len = (len - 1) / mss * mss;
            }
            len = self.hold_small(len, unsent, in_flight, mss);
        }
        DataSend {
            offset,
            unsent,
            len,
            fin: fin_here && self.snd.fin == Some(self.snd.nxt + len),
            cwnd_limited,
            rwnd_held: false,
            probe: false,
        }
    }

    /// Linux's `tcp_snd_wnd_test` for the send head at SND.NXT: its
    /// first MSS must fit the peer's window, together with the FIN when
    /// the head is the last of the data and no longer than an MSS (the
    /// FIN takes a sequence number and rides on the tail skb). A smaller
    /// window is not sent into (sender SWS avoidance, RFC 9293
    /// §3.8.6.2.1) but left to the persist timer.
    pub(super) fn send_head_fits(&self) -> bool {
        let unsent = self.unsent_len();
        let mss = self.data_mss();
        let fin = unsent <= mss && self.snd.fin == Some(self.snd.nxt + unsent);
        let end = self.snd.nxt + unsent.min(mss) + usize::from(fin);
        end.diff(self.snd.una + self.snd.wnd) <= 0
    }

    /// The send head does not fit the window: nothing goes, unless the
    /// persist timer fired (a pending probe) and the window has room,
    /// when what fits of it goes, up to an MSS, with the FIN if that fits
    /// too (Linux's `tcp_write_wakeup`, "probing the opening of a window
    /// … a result of SWS avoidance").
    fn window_probe_data(
        &self,
        offset: usize,
        unsent: usize,
        mss: usize,
        cwnd_limited: bool,
    ) -> DataSend {
        let room = (self.snd.una + self.snd.wnd).diff(self.snd.nxt).max(0) as usize;
        let probe = self.pending.has(super::blocks::Control::Probe) && room > 0;
        let len = if probe { unsent.min(room).min(mss) } else { 0 };
        let fin = probe && self.snd.fin == Some(self.snd.nxt + len) && len < room;
        DataSend {
            offset,
            unsent,
            len,
            fin,
            cwnd_limited,
            rwnd_held: true,
            probe: probe && (len > 0 || fin),
        }
    }

    /// Whether a FIN at `seq` may go: inside the peer's window (it takes a
    /// sequence number; Linux's `tcp_snd_wnd_test` holds it otherwise and
    /// probes), or resent after going out once.
    fn fin_fits(&self, seq: crate::wire::SeqNumber) -> bool {
        seq.diff(self.snd.una + self.snd.wnd) < 0 || self.snd.max.diff(seq) > 0
    }

    /// Bytes beyond SND.NXT the windows allow.
    fn usable_window(&self, sack_recovery: bool, in_flight: usize) -> usize {
        let peer = (self.snd.wnd as usize).saturating_sub(in_flight);
        if sack_recovery {
            // RFC 6675 §5 NextSeg rule 2 (new data) within PRR's allowance
            // (RFC 6937) or cwnd − pipe.
            self.recovery_allowance().min(peer)
        } else if self.opts.sack_ok && self.loss.cc.bbr().is_some() {
            // BBR's window bounds what is in the network (Linux's
            // tcp_packets_in_flight), not SND.NXT − SND.UNA: SACKed bytes
            // above a hole RACK has not yet marked do not hold it back.
            self.loss.cc.cwnd().saturating_sub(self.pipe()).min(peer)
        } else {
            (self.snd.wnd as usize)
                .min(self.loss.cc.cwnd())
                .saturating_sub(in_flight)
        }
    }

    /// Most payload one transmit may carry. With TSO, up to `tso_max` in
    /// one go, cut to whole segments unless it is the last of the data:
    /// the device sends the same MSS-sized segments that
    /// segment-at-a-time output would (a partial tail is left to the SWS
    /// and Nagle rules). Only new data is batched: go-back-N after a
    /// timeout resends one segment at a time.
    fn batch_limit(&self, mss: usize) -> usize {
        let resending = self.snd.nxt.diff(self.snd.max) < 0;
        if self.snd.tso_max > mss && !resending {
            // Paced, a batch is at most one send quantum.
            self.snd.tso_max.min(self.pacing_quantum().max(mss)) / mss * mss
        } else {
            mss
        }
    }

    /// `len` after the small-segment rules, when no FIN rides on it.
    fn hold_small(&self, len: usize, unsent: usize, in_flight: usize, mss: usize) -> usize {
        let small_unacked = self.snd.nagle && self.snd.sml.diff(self.snd.una) > 0;
        if len > 0 && len < mss && in_flight > 0 {
            // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): hold back a runt
            // while data is in flight and more is queued than fits. Nagle
            // (RFC 1122 §4.2.3.4, Minshall's variant): hold a small tail
            // while an earlier small segment is unacknowledged.
            let runt = len < unsent;
            if runt || small_unacked {
                return 0;
            }
        }
        // A batch ending in a partial segment: on its own that tail would
        // follow the batch's whole segments in flight, so Nagle holds it as
        // above (SWS does not: it is the last of the data).
        if len > mss && len % mss != 0 && small_unacked {
            return len / mss * mss;
        }
        len
    }
}
