//! Tail loss probe (RFC 8985 §7): when the ACKs stop while data is
//! outstanding and no recovery is running, send one probe after a probe
//! timeout (PTO) well before the RTO, so the ACK it draws lets RACK and
//! SACK repair a lost tail by fast recovery instead of a timeout.
//!
//! As Linux (`tcp_schedule_loss_probe`, `tcp_send_loss_probe`,
//! `tcp_process_tlp_ack`): PTO = 2·SRTT, plus the worst-case delayed-ACK
//! time when one segment is in flight (else 2 ms of timer slack), never
//! later than the RTO; only with SACK and outside recovery; at most one
//! probe per episode; the probe is one new segment if the peer's window
//! allows (or our FIN, queued but not sent), else the last segment again; after the probe the RTO is
//! restarted. An episode whose probe was a retransmission and that ends
//! with the ACK moving past the probe, without a DSACK saying the probe
//! was a duplicate, repaired a loss: the window is reduced once (§7.4).

use super::output::Transmit;
use super::timers::Timer;
use super::{Reason, State, Tcb};
use crate::time::{Duration, Instant};
use crate::wire::{Flags, SeqNumber};

/// RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK timer (Linux adds
/// its minimum RTO, 200 ms).
const WC_DEL_ACK: Duration = Duration::from_millis(200);
/// Linux `TCP_TIMEOUT_MIN`: slack added to the PTO with several segments
/// in flight.
const PTO_SLACK: Duration = Duration::from_millis(2);
/// PTO before any RTT sample (RFC 8985 §7.2: 1 s).
const PTO_INITIAL: Duration = Duration::from_secs(1);

/// TLP state of a connection (RFC 8985 §7.1 names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tlp {
    /// TLP.end_seq: SND.NXT after the probe, while an episode is open.
    end_seq: Option<SeqNumber>,
    /// The probe was a retransmission (TLP.is_retrans).
    is_retrans: bool,
    /// The PTO fired; the next `poll_transmit` sends the probe.
    pending: bool,
}

impl Tlp {
    /// Ends any episode (a recovery or an RTO took over).
    pub(super) fn clear(&mut self) {
        *self = Tlp::default();
    }

    /// The PTO fired and the probe has not gone yet.
    pub(super) fn is_pending(&self) -> bool {
        self.pending
    }
}

impl Tcb {
    /// RFC 8985 §7.2: may a probe be scheduled or sent now?
    fn tlp_allowed(&self) -> bool {
        self.opts.sack_ok
            && matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
            && self.loss.recover.is_none()
            && self
                .loss
                .rto_recover
                .is_none_or(|r| self.snd.una.diff(r) >= 0)
            && self.flight_size() > 0
            && self.snd.wnd > 0
    }

    /// RFC 8985 §7.2: (re)arm the PTO after new data is sent or an ACK
    /// advances SND.UNA.
    pub(super) fn schedule_loss_probe(&mut self, now: Instant) {
        if !self.tlp_allowed() || self.loss.tlp.end_seq.is_some() {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        let pto = match self.loss.rtt.srtt() {
            Some(srtt) if self.flight_size() <= self.opts.snd_mss => srtt * 2 + WC_DEL_ACK,
            Some(srtt) => srtt * 2 + PTO_SLACK,
            None => PTO_INITIAL,
        };
        let mut at = now + pto;
        if let Some(rto) = self.timers.get(Timer::Retransmit) {
            at = at.min(rto);
        }
        self.timers.set(Timer::LossProbe, at);
    }

    /// RFC 8985 §7.3: the PTO fired.
    pub(super) fn on_loss_probe_timeout(&mut self, now: Instant) {
        if !self.tlp_allowed() || self.loss.tlp.end_seq.is_some() {
            return;
        }
        self.loss.tlp.pending = true;
        self.stats.tail_loss_probes += 1;
        log::debug!(
            "{}: loss probe at {now}: flight {} {}",
            self.remote,
            self.flight_size(),
            self.loss.cc.state()
        );
        // The RTO counts from the probe.
        self.timers
            .set(Timer::Retransmit, now + self.loss.rtt.rto());
    }

    /// Linux `__tcp_retransmit_skb` for a retransmission (the probe's or a
    /// SACK hole's) of `len` bytes at `seq`: none past the peer's window
    /// (shrunk since they left), unless it starts at SND.UNA, where a shut
    /// window still takes an MSS; `None` when nothing may go (the RTO
    /// stays armed).
    pub(super) fn retransmit_room(&self, seq: SeqNumber, len: usize, mss: usize) -> Option<usize> {
        let room = (self.snd.una + self.snd.wnd).diff(seq);
        if room > 0 {
            Some(len.min(room as usize))
        } else if seq == self.snd.una {
            Some(len.min(mss))
        } else {
            None
        }
    }

    /// RFC 8985 §7.3: the probe segment, if one is due.
    pub(super) fn transmit_loss_probe(&mut self, now: Instant) -> Option<Transmit> {
        if !std::mem::take(&mut self.loss.tlp.pending) || !self.tlp_allowed() {
            return None;
        }
        let mss = self.data_mss().max(1);
        let start = self.data_start();
        // A FIN queued but never sent is new data too: Linux's FIN is the
        // send head then (`tcp_send_fin`), so the probe is the bare FIN.
        let fin_unsent = self.snd.nxt == self.snd.max && self.snd.fin == Some(self.snd.nxt);
        // New data, if there is some and the peer's window allows it.
        let new_len = if self.snd.nxt == self.snd.max && self.unsent_len() > 0 {
            let room = (self.snd.wnd as usize).saturating_sub(self.flight_size());
            self.unsent_len().min(mss).min(room)
        } else {
            0
        };
        let (seq, len, is_retrans) = if new_len > 0 || fin_unsent {
            (self.snd.nxt, new_len, false)
        } else {
            // The last segment sent, again; with our FIN only if that
            // segment carried it.
            let (s, e) = self.loss.rack.last()?;
            let s = s.max(self.snd.una);
            let fin = self
                .snd
                .fin
                .is_some_and(|f| f.diff(s) >= 0 && f.diff(e) < 0);
            let len = (e - s) as usize - usize::from(fin);
            (s, self.retransmit_room(s, len, mss)?, true)
        };
        let offset = (seq - start) as usize;
        let len = len.min(self.snd.buf.len().saturating_sub(offset));
        // A retransmission carries the FIN only if it was sent already.
        let fin = self.snd.fin == Some(seq + len) && (!is_retrans || seq + len != self.snd.max);
        if len == 0 && !fin {
            return None;
        }
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        if len > 0 && offset + len == self.snd.buf.len() {
            flags |= Flags::PSH;
        }
        if is_retrans {
            self.stats.retransmits += 1;
            if self
                .loss
                .rtt_probe
                .is_some_and(|(s, _)| s.diff(seq + len) < 0 && s.diff(seq) >= 0)
            {
                // Karn: the timed segment is being resent.
                self.loss.rtt_probe = None;
            }
        } else if self.loss.rtt_probe.is_none() {
            self.loss.rtt_probe = Some((seq, now));
        }
        let seq_len = len + usize::from(fin);
        let end = seq + seq_len;
        if !is_retrans {
            self.snd.nxt = end;
            self.snd.max = self.snd.max.max(end);
        }
        self.loss.tlp.end_seq = Some(self.snd.nxt);
        self.loss.tlp.is_retrans = is_retrans;
        self.on_data_sent(now, seq, seq_len, !is_retrans);
        let h = self.header(seq, flags);
        self.emit(now, h, offset, len, Reason::LossProbe)
    }

    /// RFC 8985 §7.4 on every ACK while a probe episode is open: `ack`
    /// the segment's ACK, `advanced` whether it moved SND.UNA,
    /// `sack_info` whether it carried new SACK information, `dsack`
    /// whether it reported a duplicate.
    pub(super) fn tlp_on_ack(
        &mut self,
        ack: SeqNumber,
        advanced: bool,
        sack_info: bool,
        dsack: bool,
    ) {
        let Some(end) = self.loss.tlp.end_seq else {
            return;
        };
        if ack.diff(end) < 0 {
            return;
        }
        if !self.loss.tlp.is_retrans || dsack {
            // New data probed, or both the original and the probe arrived.
            self.loss.tlp.clear();
        } else if ack.diff(end) > 0 {
            // The probe repaired a loss: one congestion response.
            self.loss.tlp.clear();
            if self.loss.recover.is_none() {
                self.loss.cc.on_congestion_event(self.flight_size());
                self.stats.cwnd_reductions += 1;
            }
        } else if !advanced && !sack_info {
            // A pure duplicate ACK at the probe's end: original and probe
            // both arrived.
            self.loss.tlp.clear();
        }
    }
}
