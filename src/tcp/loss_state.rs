//! What a retransmission timeout does to a connection with data in flight,
//! as Linux's `tcp_enter_loss` and `tcp_process_loss` (its CA_Loss state):
//!
//! - The timeout's reduction (RFC 5681 §3.1; BBR keeps its model).
//! - With SACK, the scoreboard survives: only segments not SACKed are
//!   marked lost (`tcp_timeout_mark_lost`). The head is resent at once,
//!   the other holes and then new data within cwnd − pipe (`output.rs`),
//!   until SND.UNA passes what had been sent when the timer fired. If the
//!   peer reneged — the cumulative ACK stopped at data it had SACKed
//!   (RFC 2018 §8) — or without SACK, or with the window shut, SACK state
//!   is forgotten and sending goes back N from SND.UNA (RFC 6675 §5.1).
//! - F-RTO (RFC 5682 §3.1, the SACK-enhanced version Linux enables by
//!   default): if an ACK after the timeout acknowledges or SACKs data
//!   that was sent before it and never resent, the original flight was
//!   delayed, not lost; the timeout is undone (cwnd and ssthresh restored,
//!   lost marks cleared) and RACK finds any real loss afresh. Linux also
//!   sends new data instead of the second hole while it waits for that
//!   evidence (step 2b); here the holes are resent at once, which costs
//!   at most a window of needless retransmissions on a spurious timeout.
//! - The timeout also starts an undo episode (`undo.rs`, Linux's
//!   `tcp_init_undo` in `tcp_enter_loss`): D-SACKs for every
//!   retransmission (RFC 3708) or a timestamp echo older than the first
//!   one (RFC 3522) undo it too (`tcp_try_undo_loss`); F-RTO's undo goes
//!   through the same restore.

use super::blocks::Control;
use super::rack::Delivered;
use super::Tcb;

impl Tcb {
    /// The retransmission timer fired on data (Linux's `tcp_enter_loss`):
    /// the timeout's reduction (RFC 5681 §3.1), then with SACK — unless the
    /// peer reneged — only the holes are lost and resent (the head at once,
    /// the others within cwnd − pipe), else go-back-N from SND.UNA.
    pub(super) fn enter_loss(&mut self) {
        let flight = self.flight_size();
        if flight > 0 {
            // Linux's `tcp_enter_loss`: a new episode for undo unless the
            // timeout breaks into a fast recovery (whose undo state
            // stays) or follows another without progress.
            let in_a_row = self.timers.retries > 1
                && self
                    .loss
                    .rto_recover
                    .is_some_and(|r| self.snd.una.diff(r) < 0);
            if self.loss.recover.is_none() && !in_a_row {
                self.undo_init(true);
            }
            self.loss.cc.on_rto(flight);
            self.rate_on_rto();
        }
        self.loss.dup_acks = 0;
        let reneged = self.opts.sack_ok && self.sack_reneged();
        // A closed window: the byte in flight is a zero-window probe,
        // resent below as the next probe.
        if self.opts.sack_ok && !reneged && self.snd.wnd > 0 {
            // Linux's tcp_enter_loss: SACKed segments stay SACKed,
            // the rest is lost; the head goes now, the other holes as
            // cwnd − pipe allows (`output.rs`).
            let in_recovery = self.loss.recover.is_some();
            self.recovery_on_rto(true);
            self.loss.rto_holes = true;
            // Linux arms F-RTO unless the timeout broke into a fast
            // recovery (whose retransmissions make "original data
            // acknowledged" ambiguous); a timeout in a row re-arms it.
            self.loss.frto = !in_recovery || self.timers.retries > 1;
            self.snd.nxt = self.snd.max;
            self.pending.add(Control::RtoRetransmit);
        } else {
            // RFC 6675 §5.1 / RFC 2018 §8: without SACK, or when the
            // peer dropped data it had SACKed, start over from
            // SND.UNA: go back N as the window allows.
            if reneged {
                self.stats.sack_reneging += 1;
            }
            self.recovery_on_rto(false);
            self.loss.rto_holes = false;
            self.loss.frto = false;
            self.loss.scoreboard.clear();
            self.snd.nxt = self.snd.una;
            if self.snd.wnd == 0 {
                // Linux `__tcp_retransmit_skb`: with the window shut to
                // zero the head still goes, up to an MSS, as the probe.
                self.pending.add(Control::RtoRetransmit);
            }
        }
    }

    /// True while the holes an RTO left are being repaired (see
    /// [`Loss::rto_holes`](super::blocks::Loss)).
    pub(super) fn repairing_rto_holes(&self) -> bool {
        self.loss.rto_holes
            && self
                .loss
                .rto_recover
                .is_some_and(|r| self.snd.una.diff(r) < 0)
    }

    /// SACK reneging (RFC 2018 §8): the cumulative ACK stopped at, or
    /// inside, data the peer had SACKed — it dropped what it reported
    /// holding (Linux's `tcp_timeout_mark_lost` tests the head the same
    /// way).
    pub(super) fn sack_reneged(&self) -> bool {
        self.loss
            .scoreboard
            .ranges()
            .next()
            .is_some_and(|(l, _)| l.diff(self.snd.una) <= 0)
    }

    /// F-RTO's judgement on one ACK during the repair (Linux's
    /// `tcp_process_loss` with `tp->frto`): original data below the
    /// timeout's SND.MAX acknowledged → spurious, undo (step 3b); new
    /// data sent and SACK information for it → the loss was real (3a).
    pub(super) fn frto_on_ack(&mut self, delivered: &Delivered, sacked_new: bool) {
        // Not `repairing_rto_holes`: SND.UNA has already moved, and the ACK
        // that ends the repair may be the one that proves it needless.
        let Some(high) = self
            .loss
            .rto_recover
            .filter(|_| self.loss.frto && self.loss.rto_holes)
        else {
            return;
        };
        if delivered.first_original.is_some_and(|e| e.diff(high) <= 0) {
            log::debug!("{}: spurious RTO undone (F-RTO)", self.remote);
            self.undo_frto();
        } else if sacked_new && self.snd.max.diff(high) > 0 {
            self.loss.frto = false;
        }
    }
}
