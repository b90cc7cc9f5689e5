//! Loss recovery episodes: when one starts and ends, and what each ACK
//! does inside it.
//!
//! - Entry: RACK (RFC 8985 §6) marks a segment lost on an ACK or when the
//!   reordering timer fires (§6.3); or DupThresh duplicate ACKs arrive
//!   without SACK information (RFC 6675 §5 step 4). The recovery point is
//!   SND.MAX (RFC 6675 §5 step 4.1, RFC 6582 "recover").
//! - Exactly one window reduction per episode (RFC 6675 §5, RFC 6582
//!   §3.2): losses found later inside the episode — including lost
//!   retransmissions — do not reduce again. An RTO is a separate event
//!   with its own reduction (RFC 5681 §3.1); after it, fast recovery is
//!   not entered again until SND.UNA passes what had been sent when it
//!   fired (RFC 6582 §3.2 step 2, Linux's CA_Loss state).
//! - Sending inside the episode follows PRR (RFC 6937, `prr.rs`) for the
//!   loss-based algorithms, else cwnd − pipe.
//! - Exit: an ACK at or beyond the recovery point — or earlier, when the
//!   episode proves spurious and its reduction is undone (RFC 3708 D-SACK,
//!   RFC 3522 timestamps; `undo.rs`). Entry records what that undo needs.

use super::prr::Prr;
use super::rack::Delivered;
use super::timers::Timer;
use super::Tcb;
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpSegment};

impl Tcb {
    /// RFC 2883 §4: the first SACK block reports a duplicate (DSACK) when it
    /// lies below the cumulative ACK or inside the second block.
    pub(super) fn is_dsack(&self, seg: &TcpSegment<'_>) -> bool {
        let blocks = &seg.header.options.sack_blocks;
        let Some((l, r)) = blocks.first().copied().flatten() else {
            return false;
        };
        if r.diff(seg.header.ack) <= 0 && r.diff(l) > 0 {
            return true;
        }
        blocks
            .get(1)
            .copied()
            .flatten()
            .is_some_and(|(l2, r2)| l2.diff(l) <= 0 && r.diff(r2) <= 0)
    }

    /// RACK's part of ACK processing (RFC 8985 §6.2 steps 1–3): what this
    /// ACK delivered. `ack` is the new SND.UNA.
    pub(super) fn rack_on_ack(
        &mut self,
        now: Instant,
        seg: &TcpSegment<'_>,
        ack: SeqNumber,
        sacked_new: bool,
    ) -> Delivered {
        // RFC 8985 §6.2 step 2: with timestamps, an echo older than a
        // retransmission acknowledges the original.
        let echo_ms = match (self.opts.ts_ok, seg.header.options.timestamp) {
            (true, Some((_, ecr))) if ecr != 0 => {
                let elapsed = self.ts_val(now).wrapping_sub(ecr);
                (elapsed <= 600_000).then(|| now.total_millis().saturating_sub(u64::from(elapsed)))
            }
            _ => None,
        };
        let echo_before = |xmit: Instant| echo_ms.is_some_and(|e| e < xmit.total_millis());
        let blocks = seg.header.options.sack_blocks.iter().flatten().copied();
        let blocks = blocks.filter(|_| sacked_new);
        let d = self
            .loss
            .rack
            .on_ack(ack, &self.loss.scoreboard, blocks, now, echo_before);
        self.stats.reordering_seen += d.reordered;
        d
    }

    /// False after an RTO until SND.UNA passes what was outstanding when it
    /// fired (RFC 6582 §3.2 step 2; Linux's CA_Loss): those losses are
    /// already answered by the timeout's reduction.
    pub(super) fn may_enter_recovery(&mut self) -> bool {
        match self.loss.rto_recover {
            Some(r) if self.snd.una.diff(r) < 0 => false,
            _ => {
                self.loss.rto_recover = None;
                self.loss.rto_holes = false;
                true
            }
        }
    }

    /// RFC 8985 §6.2 step 5 and §6.3 after an ACK or a reordering
    /// timeout: mark what is lost, (re)arm the reordering timer, and start
    /// a recovery episode if a loss is new.
    pub(super) fn rack_detect(&mut self, now: Instant) {
        // An ACK that showed a hole filled by its delayed original while
        // retransmissions are out marks nothing more lost (`undo.rs`).
        if self.loss.undo.take_hold() || !self.opts.sack_ok {
            return;
        }
        let mss = self.opts.snd_mss.max(1);
        let reo_wnd = self.loss.rack.reo_wnd(
            self.loss.recover.is_some(),
            self.loss.scoreboard.sacked_bytes(),
            mss,
            self.loss.rtt.srtt(),
        );
        let losses = self
            .loss
            .rack
            .detect_loss(now, reo_wnd, &self.loss.scoreboard);
        if losses.segments > 0 {
            self.stats.rack_lost += losses.segments;
            self.stats.lost_retransmits += losses.retransmissions;
            self.loss.cc.on_lost(losses.bytes);
            self.rate_on_lost();
        }
        match losses.timeout {
            Some(wait) => self.timers.set(Timer::Reorder, now + wait),
            None => self.timers.stop(Timer::Reorder),
        }
        if self.loss.recover.is_none()
            && self.loss.rack.next_lost().is_some()
            && self.may_enter_recovery()
        {
            self.enter_recovery(now);
        }
    }

    /// RFC 6675 §5 steps 4.1–4.3: a SACK recovery episode begins, with its
    /// one reduction.
    pub(super) fn enter_recovery(&mut self, now: Instant) {
        let flight = self.flight_size();
        let cwnd = self.loss.cc.cwnd();
        self.loss.recover = Some(self.snd.max);
        self.undo_init(false);
        self.loss.cc.on_congestion_event(flight);
        // One line per episode (RUST_LOG=tunstack::tcp::recovery=debug).
        log::debug!(
            "{}: recovery in at {now}: cwnd {cwnd} -> {} flight {flight} pipe {} lost {} retx {}",
            self.remote,
            self.loss.cc.state(),
            self.pipe(),
            self.stats.rack_lost,
            self.stats.retransmits
        );
        self.loss.prr = self
            .loss
            .cc
            .uses_prr()
            .then(|| Prr::start(self.loss.cc.ssthresh(), flight, self.opts.snd_mss.max(1)));
        // A probe outstanding is subsumed by the recovery (Linux resets
        // tlp_high_seq when a reduction starts).
        self.loss.tlp.clear();
        self.timers.stop(Timer::LossProbe);
        self.stats.fast_retransmits += 1;
        self.stats.sack_recoveries += 1;
        self.stats.cwnd_reductions += 1;
    }

    /// RFC 6937 §3 "on every ACK during recovery".
    pub(super) fn prr_on_ack(&mut self, delivered: &Delivered) {
        if self.loss.recover.is_none() {
            return;
        }
        let pipe = self.pipe();
        let mss = self.opts.snd_mss.max(1);
        if let Some(p) = self.loss.prr.as_mut() {
            p.on_ack(delivered.bytes, pipe, mss);
        }
    }

    /// Recovery ends: the cumulative ACK reached the recovery point.
    pub(super) fn exit_recovery(&mut self, now: Instant) {
        self.loss.recover = None;
        self.loss.prr = None;
        self.loss.cc.on_recovery_end();
        self.loss.rack.on_recovery_end();
        log::debug!(
            "{}: recovery out at {now}: {} flight {} lost {} retx {} lost retx {} tlp {}",
            self.remote,
            self.loss.cc.state(),
            self.flight_size(),
            self.stats.rack_lost,
            self.stats.retransmits,
            self.stats.lost_retransmits,
            self.stats.tail_loss_probes
        );
    }

    /// Bytes fast recovery may send now: PRR's allowance for the
    /// loss-based algorithms, else cwnd − pipe (RFC 6675 §5).
    pub(super) fn recovery_allowance(&self) -> usize {
        match &self.loss.prr {
            Some(p) => p.allowance(),
            None => self.loss.cc.cwnd().saturating_sub(self.pipe()),
        }
    }

    /// Every data segment sent (new, retransmitted or probe): recorded for
    /// RACK, counted for PRR, debited from the pacer and recorded for rate
    /// sampling (`rate.rs`), and — for new data outside recovery — the
    /// tail loss probe timer is (re)armed (RFC 8985 §7.2).
    /// Call after SND.NXT / SND.MAX have moved past the segment.
    pub(super) fn on_data_sent(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        seq_len: usize,
        new_data: bool,
    ) {
        self.loss
            .rack
            .on_sent(seq, seq + seq_len, self.data_mss().max(1), now);
        if let Some(p) = self.loss.prr.as_mut() {
            p.on_sent(seq_len);
        }
        self.rate_on_data_sent(now, seq, seq_len);
        if new_data {
            self.schedule_loss_probe(now);
        } else {
            self.undo_on_retransmit(seq_len);
        }
    }

    /// The RTO fired: everything outstanding and not SACKed is lost (with
    /// `keep_sacks` false, everything: SACK state is forgotten), the
    /// episode (if any) is over, and fast recovery waits until the
    /// timeout's losses are repaired.
    pub(super) fn recovery_on_rto(&mut self, keep_sacks: bool) {
        self.loss.recover = None;
        self.loss.prr = None;
        self.loss.rto_recover = Some(self.snd.max);
        self.loss.rack.mark_lost_on_rto(keep_sacks);
        self.loss.tlp.clear();
        self.timers.stop(Timer::Reorder);
        self.timers.stop(Timer::LossProbe);
    }

    /// RFC 8985 §6.3: the reordering timer fired.
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        self.stats.reorder_timeouts += 1;
        self.rack_detect(now);
    }
}
