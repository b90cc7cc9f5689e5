//! Option negotiation and per-segment options: MSS (RFC 9293 §3.7.1,
//! RFC 6691), window scale and timestamps (RFC 7323 §2–§5: RTTM and PAWS),
//! SACK-permitted and SACK blocks as a receiver (RFC 2018 §2–§4, with
//! D-SACK blocks for duplicates, RFC 2883 §4).
//!
//! An extension is used only when both SYNs carried it.

use super::Tcb;
use crate::time::{Duration, Instant};
use crate::wire::tcp::MAX_SACK_BLOCKS;
use crate::wire::{TcpOptions, TcpSegment};

/// Smallest send MSS a peer's option can impose (Linux `tcp_min_snd_mss`).
const MIN_SND_MSS: usize = 48;

/// RFC 7323 §5.5: TS.Recent older than 24 days is invalid for PAWS.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

impl Tcb {
    /// Applies the peer's SYN options: MSS, window scale, SACK-permitted
    /// and timestamps.
    pub(super) fn negotiate(&mut self, syn: &TcpSegment<'_>, now: Instant) {
        let opts = &syn.header.options;
        // As Linux: an MSS option of 0 is ignored (the IPv4 default, 536,
        // stands, RFC 9293 §3.7.1), and a tiny one is raised to
        // `tcp_min_snd_mss` (48) so a peer can not make us send a
        // segment per handful of bytes.
        let peer_mss = match opts.mss {
            None | Some(0) => 536,
            Some(m) => usize::from(m),
        };
        self.opts.snd_mss = peer_mss.min(usize::from(self.cfg.mss)).max(MIN_SND_MSS);
        match (self.cfg.window_scaling, opts.window_scale) {
            (true, Some(shift)) => {
                // RFC 7323 §2.3 (and Linux): a shift above 14 counts as 14.
                self.opts.snd_wscale = shift.min(crate::wire::tcp::MAX_WINDOW_SHIFT);
                self.opts.wscale_ok = true;
            }
            _ => {
                self.opts.snd_wscale = 0;
                self.opts.rcv_wscale = 0;
            }
        }
        self.opts.sack_ok = self.cfg.sack && opts.sack_permitted;
        if let (true, Some((val, _))) = (self.cfg.timestamps, opts.timestamp) {
            self.opts.ts_ok = true;
            self.opts.ts_recent = val;
            self.opts.ts_recent_at = now;
            // RFC 7323 §3.2: the option costs 12 bytes in every segment.
            // Linux takes the option room from the floored MSS (48 - 12).
            self.opts.snd_mss = self.opts.snd_mss.saturating_sub(12).max(1);
        }
        self.loss
            .cc
            .set_mss(self.opts.snd_mss, self.cfg.initial_window);
    }

    /// Our TSval: a millisecond clock plus a per-connection offset.
    pub(super) fn ts_val(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.opts.ts_offset)
    }

    /// Options of our SYN (or SYN-ACK, answering only what the peer offered).
    pub(super) fn syn_options(&self, now: Instant, syn_ack: bool) -> TcpOptions {
        let mut o = TcpOptions {
            mss: Some(self.cfg.mss),
            ..TcpOptions::default()
        };
        if self.cfg.window_scaling && (!syn_ack || self.opts.wscale_ok) {
            o.window_scale = Some(self.opts.rcv_wscale);
        }
        if self.cfg.sack && (!syn_ack || self.opts.sack_ok) {
            o.sack_permitted = true;
        }
        if self.cfg.timestamps && (!syn_ack || self.opts.ts_ok) {
            o.timestamp = Some((
                self.ts_val(now),
                if syn_ack { self.opts.ts_recent } else { 0 },
            ));
        }
        o
    }

    /// Options of a non-SYN segment: timestamps and, on an ACK while data
    /// is parked out of order, SACK blocks (most recent first, RFC 2018 §4).
    pub(super) fn segment_options(&mut self, now: Instant, ack: bool) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.opts.ts_ok {
            o.timestamp = Some((self.ts_val(now), self.opts.ts_recent));
        }
        let dsack = if ack { self.pending.dsack.take() } else { None };
        if ack && self.opts.sack_ok && (!self.rcv.ooo.is_empty() || dsack.is_some()) {
            let base = self.rcv.nxt;
            let room = if self.opts.ts_ok { 3 } else { MAX_SACK_BLOCKS };
            // A D-SACK block goes first (RFC 2883 §4), then the block of
            // the latest segment and the most recent others (RFC 2018 §4).
            // After a batch, ranges its ACK could not carry come first
            // (`Assembler::ranges_for_sack`); each ACK leaves with as many
            // as fit and the rest keep an ACK pending (see `emit`).
            let ranges = self
                .rcv
                .ooo
                .ranges_for_sack(room - usize::from(dsack.is_some()));
            let mut used = [(0usize, 0usize); MAX_SACK_BLOCKS];
            let mut n = 0;
            let blocks = dsack.into_iter().chain(ranges.map(|(start, end)| {
                if let Some(u) = used.get_mut(n) {
                    *u = (start, end);
                    n += 1;
                }
                (base + start, base + end)
            }));
            for (slot, block) in o.sack_blocks.iter_mut().zip(blocks).take(room) {
                *slot = Some(block);
            }
            self.rcv.ooo.reported(used.get(..n).unwrap_or(&[]));
        }
        if ack {
            self.opts.last_ack_sent = self.rcv.nxt;
        }
        o
    }

    /// Payload that fits one segment now: the send MSS (which already
    /// accounts for timestamps) less the SACK blocks the next ACK carries.
    pub(super) fn data_mss(&self) -> usize {
        let mss = self.bound_to_half_window(self.opts.snd_mss);
        let dsack = usize::from(self.pending.dsack.is_some());
        if !self.opts.sack_ok || (self.rcv.ooo.is_empty() && dsack == 0) {
            return mss;
        }
        let room = if self.opts.ts_ok { 3 } else { MAX_SACK_BLOCKS };
        let blocks = (self.rcv.ooo.range_count() + dsack).min(room);
        mss.saturating_sub(4 + 8 * blocks).max(1)
    }

    /// Linux `tcp_bound_to_half_wnd`: against a peer whose window had
    /// not exceeded two segments when the MSS was sized (`tcp_sync_mss`,
    /// at the handshake and on a PMTU change), segments are at most half
    /// the largest window it offered (all of it up to 536 bytes), but not
    /// below 68 bytes less our header: a small-buffer receiver gets
    /// segments that fit its window instead of none (sender SWS avoidance
    /// holds a segment whose first MSS does not fit, see `sendable`).
    fn bound_to_half_window(&self, mss: usize) -> usize {
        let max_wnd = self.snd.mss_wnd as usize;
        let cutoff = if max_wnd > 536 { max_wnd / 2 } else { max_wnd };
        if cutoff == 0 || mss <= cutoff {
            return mss;
        }
        let header = 20 + if self.opts.ts_ok { 12 } else { 0 };
        cutoff.max(68 - header)
    }

    /// PAWS (RFC 7323 §5.3 R1): true if the segment carries a timestamp
    /// older than TS.Recent (beyond Linux's one-tick window) and must be
    /// dropped as an old duplicate.
    pub(super) fn paws_rejects(&self, seg: &TcpSegment<'_>, now: Instant) -> bool {
        if !self.opts.ts_ok || seg.header.flags.rst() {
            return false;
        }
        let Some((val, _)) = seg.header.options.timestamp else {
            return false;
        };
        // TS.Recent of 0 means the peer's SYN carried TSval 0 (no clock yet,
        // as some middleboxes and stacks send): any TSval is acceptable then,
        // as in Linux's tcp_paws_check; otherwise a peer whose clock starts
        // above 2^31 would be locked out by the modular compare.
        // Linux's `tcp_paws_check` takes a TSval one tick behind TS.Recent
        // (`TCP_PAWS_WINDOW`) for a connection; the request socket and
        // TIME-WAIT use no such window (`tcp_paws_reject`).
        let window = match self.state {
            super::State::TimeWait => 0,
            super::State::SynReceived if self.passive => 0,
            _ => 1,
        };
        let older =
            self.opts.ts_recent != 0 && (self.opts.ts_recent.wrapping_sub(val) as i32) > window;
        older && now.saturating_duration_since(self.opts.ts_recent_at) < PAWS_IDLE
    }

    /// RFC 7323 §4.3 (2): adopt the segment's TSval as TS.Recent when it
    /// covers Last.ACK.sent.
    pub(super) fn update_ts_recent(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        let Some((val, _)) = seg.header.options.timestamp else {
            return;
        };
        if !self.opts.ts_ok
            || (self.opts.ts_recent != 0 && (val.wrapping_sub(self.opts.ts_recent) as i32) < 0)
        {
            return;
        }
        if seg.header.seq.diff(self.opts.last_ack_sent) <= 0 {
            self.opts.ts_recent = val;
            self.opts.ts_recent_at = now;
        }
    }

    /// RTTM (RFC 7323 §4): an ACK of new data echoing our TSval gives an
    /// RTT sample, even for retransmitted segments.
    pub(super) fn ts_rtt_sample(&mut self, seg: &TcpSegment<'_>, now: Instant) -> bool {
        let Some((_, ecr)) = seg.header.options.timestamp else {
            return false;
        };
        if !self.opts.ts_ok || ecr == 0 {
            return false;
        }
        let elapsed = self.ts_val(now).wrapping_sub(ecr);
        // An echo from the future or from long ago is bogus.
        if elapsed > 600_000 {
            return false;
        }
        // Karn's rule for timestamps: after a retransmission timeout, an
        // echo of a TSval sent before it may answer the retransmission (a
        // receiver echoes TS.Recent, which a duplicate segment does not
        // update, RFC 7323 §4.3) and would time the backed-off timeout
        // too. Such samples inflate the RTO, and with loss in both
        // directions each inflated timeout inflates the next sample.
        let echoed_ms = now.total_millis().saturating_sub(u64::from(elapsed));
        if self
            .loss
            .rtt
            .timed_out_at()
            .is_some_and(|t| t.total_millis() > echoed_ms)
        {
            return false;
        }
        self.loss.rtt.sample(
            Duration::from_millis(u64::from(elapsed)),
            self.snd.una,
            self.snd.max,
        );
        true
    }
}
