//! When our ACKs go: delayed ACKs (RFC 1122 §4.2.3.2, RFC 5681 §4.2) with
//! Linux's adaptive timeout (`ato`), quick-ACK mode, and the immediate
//! ACK with quick-ACK mode that a duplicate segment calls for (Linux's
//! `tcp_send_dupack`, `tcp_enter_quickack_mode`).

use super::blocks::Control;
use super::timers::Timer;
use super::Tcb;
use crate::time::{Duration, Instant};

/// Most ACKs of one quick-ACK period (Linux's `TCP_MAX_QUICKACKS`).
const MAX_QUICKACKS: usize = 16;

/// Longest delay of an interactive or pushed segment's ACK (Linux's
/// `TCP_DELACK_MAX`), and of any other (`HZ / 2`).
const DELACK_MAX: Duration = Duration::from_millis(200);
const DELACK_CAP: Duration = Duration::from_millis(500);

impl Tcb {
    /// Quick-ACK mode as Linux's `tcp_event_data_recv` enters it: with the
    /// first data, and with data after a silence longer than the RTO (a
    /// sender restarting from a small window). Up to 16 ACKs, at most one
    /// per two segments of the window (`tcp_incr_quickack`).
    pub(super) fn quickack_on_data(&mut self, now: Instant) {
        let gap = self.rcv.data_at.map(|t| now.saturating_duration_since(t));
        self.update_ato(gap);
        let silent = gap.is_none_or(|m| m > self.loss.rtt.rto());
        if silent {
            self.incr_quickack();
        }
    }

    /// Linux `tcp_incr_quickack`: up to 16 quick ACKs, one per two
    /// segments of the window (two when it holds less).
    fn incr_quickack(&mut self) {
        let per_window = self.rcv_wnd() as usize / (2 * self.rcv.mss.max(1));
        let quick = if per_window == 0 {
            2
        } else {
            per_window.min(MAX_QUICKACKS)
        };
        self.rcv.quick = self.rcv.quick.max(quick as u8);
    }

    /// A segment with data we already have (Linux's `tcp_send_dupack` for
    /// one before the window, `tcp_data_queue` for one inside it): the
    /// peer resent it, so our ACK of it was lost or late. Linux ACKs at
    /// once (the D-SACK is the caller's) and enters quick-ACK mode
    /// (`tcp_enter_quickack_mode`): quick ACKs as above, interactive
    /// mode ended, the delayed-ACK timeout back at its minimum; the next
    /// data is ACKed on arrival, not held for the timer.
    pub(super) fn ack_duplicate_data(&mut self) {
        self.incr_quickack();
        self.rcv.pingpong = false;
        self.rcv.ato = self.cfg.delayed_ack;
        self.pending.add(Control::Ack);
    }

    /// Linux `tcp_event_data_recv`: the delayed-ACK timeout starts at the
    /// configured minimum (`TCP_ATO_MIN`, 40 ms) with the first data and
    /// follows the `gap` since the previous data: near half the minimum
    /// for back-to-back segments, else half the old value plus the gap
    /// (at most the RTO) when the gap is shorter than it; a longer gap
    /// leaves it.
    fn update_ato(&mut self, gap: Option<Duration>) {
        let min = self.cfg.delayed_ack;
        let ato = self.rcv.ato;
        self.rcv.ato = match gap {
            _ if ato.is_zero() => min,
            None => min,
            Some(m) if m <= min / 2 => ato / 2 + min / 2,
            Some(m) if m < ato => (ato / 2 + m).min(self.loss.rtt.rto()),
            Some(_) => ato,
        };
    }

    /// Linux `tcp_send_delayed_ack`: when a delayed ACK is due — after the
    /// adapted timeout, at most 200 ms for an interactive connection or a
    /// short (pushed) segment and 500 ms otherwise, and at most the
    /// smoothed RTT (but not below the minimum).
    pub(super) fn delayed_ack_at(&self, now: Instant, small: bool) -> Instant {
        let min = self.cfg.delayed_ack;
        let mut max = if self.rcv.pingpong || small {
            DELACK_MAX
        } else {
            DELACK_CAP
        };
        if let Some(srtt) = self.loss.rtt.srtt() {
            max = max.min(srtt.max(min));
        }
        now + self.rcv.ato.max(min).min(max.max(min))
    }

    /// Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2) for in-order data:
    /// ACK at least every second full-sized segment, and at once when
    /// `urgent` (a hole was filled or the buffer could not take
    /// everything); `small`: the segment was shorter than the peer's MSS.
    ///
    /// In quick-ACK mode (see [`quickack_on_data`](Self::quickack_on_data))
    /// every segment is ACKed at once while the connection is not
    /// interactive, as Linux's `tcp_in_quickack_mode` has it: a sender in
    /// slow start otherwise waits the delayed-ACK time for the odd last
    /// segment of a flight (40 ms of a 50 ms round), and a connection's
    /// first request is ACKed on arrival. Once our answers follow the
    /// peer's data (`pingpong`), a request's ACK rides on the answer.
    pub(super) fn ack_in_order(&mut self, now: Instant, urgent: bool, small: bool) {
        let quick = self.rcv.quick > 0 && !self.rcv.pingpong;
        if urgent || quick || self.cfg.delayed_ack.is_zero() || self.rcv.unacked >= 2 * self.rcv.mss
        {
            self.pending.add(Control::Ack);
        } else {
            self.rcv.ack_on_drain = small;
            if !self.timers.is_armed(Timer::DelayedAck) {
                self.stats.delayed_acks += 1;
                let at = self.delayed_ack_at(now, small);
                self.timers.set(Timer::DelayedAck, at);
            }
        }
    }
}
