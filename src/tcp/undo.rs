//! Undoing a congestion reduction that proves spurious, as Linux does
//! (`tcp_try_undo_recovery`, `tcp_try_undo_dsack`, `tcp_try_undo_partial`,
//! `tcp_try_undo_loss`, `tcp_undo_cwnd_reduction`):
//!
//! - When a loss episode starts — fast recovery, or a timeout that is not
//!   one in a row nor breaks into a recovery — SND.UNA becomes the undo
//!   marker, the window and ssthresh are saved, and the bytes already
//!   retransmitted and still out are counted (Linux's `tcp_init_undo`).
//!   Every retransmission after it adds its bytes.
//! - RFC 3708 (D-SACK): a D-SACK for a retransmission above the marker
//!   subtracts the bytes it proves were resent needlessly: of data below
//!   SND.UNA all of it, above only retransmitted bytes (Linux's
//!   `tcp_check_dsack` and `tcp_sacktag_one`). A D-SACK longer than the
//!   largest window, or one that would make the duplicates outnumber all
//!   bytes ever retransmitted, is ignored (`tcp_dsack_seen`). When nothing
//!   is left unproven, the episode was spurious.
//! - RFC 3522 (Eifel detection, Linux's `tcp_packet_delayed`): an ACK of
//!   new data whose timestamp echo predates the first retransmission
//!   acknowledges an original transmission, not the retransmission.
//! - The undo (RFC 3708 §3, RFC 4015's restore without the "carefully"
//!   part, as Linux): cwnd = max(cwnd, prior cwnd), ssthresh = max(ssthresh,
//!   prior ssthresh) (`congestion.rs`). It happens:
//!   - at the end of fast recovery, on the ACK that reaches the recovery
//!     point, if either test holds (full undo);
//!   - on a partial ACK during fast recovery with the echo test: the hole
//!     was filled by the delayed original. With no retransmission out the
//!     episode is undone and the lost marks are cleared (partial undo);
//!     else this ACK marks nothing more lost and the episode goes on;
//!   - on any ACK once D-SACKs have proven every retransmission needless,
//!     in recovery or after it (D-SACK undo);
//!   - after a timeout, on an ACK of new data if either test holds (loss
//!     undo; F-RTO's own test, RFC 5682, is in `loss_state.rs`).
//!
//!   A fast recovery undone was reordering: RACK's reordering window opens
//!   (`rack/reo.rs`).

use super::Tcb;
use crate::wire::TcpSegment;

/// What the undo of the current (or last) loss episode needs (Linux's
/// `undo_marker`, `undo_retrans`, `total_retrans`, `dsack_dups`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Undo {
    /// SND.UNA when the episode's reduction was made; `None` when there
    /// is nothing to undo.
    marker: Option<crate::wire::SeqNumber>,
    /// Bytes retransmitted since the marker (or out at it) that no D-SACK
    /// has proven needless; `None` until a retransmission is counted
    /// (Linux's −1: an episode without one is not proven spurious by zero).
    unproven: Option<usize>,
    /// Bytes ever retransmitted on the connection.
    retransmitted: u64,
    /// Bytes ever reported duplicate by D-SACKs that counted.
    dsacked: u64,
    /// This ACK showed a hole filled by its delayed original while
    /// retransmissions are out: it marks nothing more lost (Linux returns
    /// from `tcp_fastretrans_alert` before `tcp_identify_packet_loss`).
    hold: bool,
}

/// Which undo happened (for the counters and the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The recovery point reached with the episode proven spurious.
    Full,
    /// A partial ACK of the delayed original, no retransmission out.
    Partial,
    /// D-SACKs covered every retransmission.
    Dsack,
    /// After a retransmission timeout.
    Loss,
}

impl Undo {
    /// The undo may happen if D-SACKs proved every retransmission
    /// needless or `delayed` (the ACK echoes an original): Linux's
    /// `tcp_may_undo`.
    fn may_undo(&self, delayed: bool) -> bool {
        self.marker.is_some() && (self.unproven == Some(0) || delayed)
    }

    /// True (once) if the last ACK is to mark nothing more lost.
    pub(super) fn take_hold(&mut self) -> bool {
        std::mem::take(&mut self.hold)
    }
}

impl Tcb {
    /// A loss episode starts, before its reduction (Linux's
    /// `tcp_init_undo` with `prior_cwnd`/`prior_ssthresh`).
    /// After a timeout nothing retransmitted is out any more: every
    /// segment not SACKed is lost (Linux marks them before
    /// `tcp_init_undo`), so `timeout` counts none.
    pub(super) fn undo_init(&mut self, timeout: bool) {
        let out = if timeout {
            0
        } else {
            self.loss.rack.retransmitted_in_flight()
        };
        let u = &mut self.loss.undo;
        u.marker = Some(self.snd.una);
        u.unproven = (out > 0).then_some(out);
        u.hold = false;
        self.loss.cc.save_prior();
    }

    /// `len` bytes were retransmitted (any retransmission: fast, RACK,
    /// timeout, go-back-N or a probe).
    pub(super) fn undo_on_retransmit(&mut self, len: usize) {
        let u = &mut self.loss.undo;
        u.retransmitted += len as u64;
        if u.marker.is_some() {
            u.unproven = Some(u.unproven.unwrap_or(0) + len);
        }
    }

    /// An ACK whose first SACK block is a D-SACK (RFC 2883 §4), before
    /// SND.UNA moves: count what it proves resent needlessly (RFC 3708
    /// §2), and let RACK widen its reordering window (RFC 8985 §6.2
    /// step 4).
    pub(super) fn undo_on_dsack(&mut self, seg: &TcpSegment<'_>) {
        let Some((l, r)) = seg.header.options.sack_blocks.first().copied().flatten() else {
            return;
        };
        let len = r.diff(l);
        // Linux's `tcp_dsack_seen`: an empty block or one wider than any
        // window we had is dubious.
        if len <= 0 || len as usize > (self.snd.max_wnd as usize).max(self.opts.snd_mss) {
            return;
        }
        let below_una = r.diff(self.snd.una) <= 0;
        let dup = if below_una {
            // Data already acknowledged is forgotten: count it whole.
            len as usize
        } else {
            self.loss.rack.retransmitted_within(l, r)
        };
        let u = &mut self.loss.undo;
        u.dsacked += len as u64;
        if u.dsacked > u.retransmitted {
            // More duplicates than we ever resent: the network or the
            // peer duplicated them, not our retransmissions.
            return;
        }
        if let (Some(m), Some(n)) = (u.marker, u.unproven) {
            if r.diff(m) > 0 {
                u.unproven = Some(n.saturating_sub(dup));
            }
        }
        self.loss.rack.on_dsack(self.snd.una, self.snd.max);
    }

    /// RFC 3522 §3.2 (Linux's `tcp_packet_delayed`): the ACK's timestamp
    /// echo is older than the first retransmission of the episode, so it
    /// was sent for an original transmission.
    fn packet_delayed(&self, seg: &TcpSegment<'_>) -> bool {
        let Some(first) = self.timers.retrans_start.filter(|_| self.opts.ts_ok) else {
            return false;
        };
        match seg.header.options.timestamp {
            Some((_, ecr)) if ecr != 0 => (ecr.wrapping_sub(self.ts_val(first)) as i32) < 0,
            _ => false,
        }
    }

    /// The undo checks of Linux's `tcp_fastretrans_alert` and
    /// `tcp_process_loss` for one ACK, after SACK processing and SND.UNA's
    /// move (`advanced`), before the recovery point ends the episode.
    pub(super) fn undo_on_ack(&mut self, seg: &TcpSegment<'_>, advanced: bool) {
        self.loss.undo.hold = false;
        if self.loss.undo.marker.is_none() {
            return;
        }
        let delayed = advanced && self.packet_delayed(seg);
        if let Some(recover) = self.loss.recover {
            if self.snd.una.diff(recover) >= 0 {
                // The full ACK (`tcp_try_undo_recovery`); without an undo
                // the recovery ends as usual in `on_new_ack`.
                if self.loss.undo.may_undo(delayed) {
                    self.undo_recovery(Kind::Full, false);
                }
            } else if delayed {
                // `tcp_try_undo_partial`: the hole was filled by the
                // original.
                self.loss.rack.on_recovery_undone(false);
                if self.loss.rack.retransmitted_in_flight() > 0 {
                    self.loss.undo.hold = true;
                } else {
                    self.undo_recovery(Kind::Partial, true);
                }
            } else if self.loss.undo.unproven == Some(0) {
                self.undo_recovery(Kind::Dsack, false);
            }
            return;
        }
        if let Some(high) = self.loss.rto_recover {
            let repairing = self.snd.una.diff(high) < 0;
            // `tcp_process_loss`: `tcp_try_undo_loss` on an ACK of new
            // data, `tcp_try_undo_recovery` on the one that ends it. Going
            // back N (no SACK, or reneging) resends from SND.UNA whatever
            // the marks say: only its end may be undone.
            let gbn = repairing && !self.loss.rto_holes;
            if advanced && !gbn && self.loss.undo.may_undo(delayed) {
                self.undo_loss(Kind::Loss, repairing);
                return;
            }
            if repairing {
                return;
            }
        }
        // Open again: late D-SACKs may still prove the last episode
        // needless (`tcp_try_undo_dsack` in CA_Open / CA_Disorder).
        if self.loss.undo.unproven == Some(0) {
            self.undo_recovery(Kind::Dsack, false);
        }
    }

    /// Restores cwnd and ssthresh, and with `unmark` forgets RACK's lost
    /// marks so that it finds real losses afresh (Linux's
    /// `tcp_undo_cwnd_reduction`).
    fn undo_reduction(&mut self, kind: Kind, unmark: bool) {
        if unmark {
            self.loss.rack.unmark_lost();
        }
        let before = self.loss.cc.state();
        self.loss.cc.undo();
        self.loss.undo.marker = None;
        self.loss.undo.unproven = None;
        self.loss.undo.hold = false;
        log::debug!(
            "{}: {kind:?} undo: {before} -> {}",
            self.remote,
            self.loss.cc.state()
        );
        match kind {
            Kind::Full => self.stats.full_undos += 1,
            Kind::Partial => self.stats.partial_undos += 1,
            Kind::Dsack => self.stats.dsack_undos += 1,
            Kind::Loss => self.stats.loss_undos += 1,
        }
    }

    /// A fast recovery (in progress or just ended) was spurious: undo its
    /// reduction and end it; it was reordering (`rack/reo.rs`).
    fn undo_recovery(&mut self, kind: Kind, unmark: bool) {
        self.undo_reduction(kind, unmark);
        self.loss.recover = None;
        self.loss.prr = None;
        self.loss.rack.on_recovery_undone(kind == Kind::Dsack);
    }

    /// A timeout was spurious (RFC 3522 / RFC 3708 evidence, or F-RTO's
    /// with `Kind::Loss` from `loss_state.rs`): undo its reduction and
    /// end its repair; with `unmark` the rest of the old flight is no
    /// longer believed lost.
    fn undo_loss(&mut self, kind: Kind, unmark: bool) {
        self.undo_reduction(kind, unmark);
        self.loss.rto_recover = None;
        self.loss.rto_holes = false;
        self.loss.frto = false;
        self.timers.retries = 0;
    }

    /// F-RTO proved the timeout spurious (RFC 5682 §3.1 step 3b).
    pub(super) fn undo_frto(&mut self) {
        self.undo_loss(Kind::Loss, true);
        self.stats.spurious_rtos += 1;
    }
}
