//! Per-connection counters: what one connection sent, received, resent
//! and dropped, for STATUS (RFC 9293 §3.10.6) and diagnostics.

/// Per-connection counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Segments accepted by `on_segment`.
    pub segments_in: u64,
    /// Segments produced by `poll_transmit`.
    pub segments_out: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_out: u64,
    /// Payload bytes delivered in order to the receive buffer.
    pub bytes_in: u64,
    /// Segments (or parts) resent.
    pub retransmits: u64,
    /// Retransmission timer expirations.
    pub retransmit_timeouts: u64,
    /// Fast retransmits on three duplicate ACKs.
    pub fast_retransmits: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// Segments that failed the acceptability test (RFC 9293 §3.10.7.4).
    pub unacceptable: u64,
    /// In-window segments beyond `rcv_nxt` held for reassembly.
    pub out_of_order_queued: u64,
    /// Out-of-order segments dropped because the hole limit was reached.
    pub out_of_order_dropped: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Challenge ACKs not sent because of the rate limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// Segments dropped by PAWS (RFC 7323 §5).
    pub paws_rejected: u64,
    /// Duplicate ACKs for out-of-window segments not sent because of the
    /// per-connection rate limit (Linux `TCPACKSkippedSeq`).
    pub oow_acks_suppressed: u64,
    /// Connections reset by new data after the application closed them
    /// (Linux `TCPAbortOnData`).
    pub aborted_on_data: u64,
    /// Urgent bytes taken out of the stream (RFC 9293 §3.8.5; Linux
    /// without SO_OOBINLINE holds them for a MSG_OOB read, which this
    /// API does not offer).
    pub urgent_bytes: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// SACK blocks received.
    pub sack_blocks_in: u64,
    /// SACK blocks ignored as outside what is outstanding (Linux
    /// `TCPSACKDiscard`, `tcp_is_sackblock_valid`).
    pub sack_blocks_invalid: u64,
    /// Loss recoveries driven by SACK (RFC 6675).
    pub sack_recoveries: u64,
    /// ACKs held back by the delayed-ACK rule.
    pub delayed_acks: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tail_loss_probes: u64,
    /// Segments RACK marked lost by time (RFC 8985 §6.2).
    pub rack_lost: u64,
    /// Of those, retransmissions found lost again (RFC 8985 §6.2 step 5).
    pub lost_retransmits: u64,
    /// RACK reordering-timer expirations (RFC 8985 §6.3).
    pub reorder_timeouts: u64,
    /// Segments delivered out of order: never retransmitted, yet below the
    /// highest one delivered (RFC 8985 §6.2 step 3).
    pub reordering_seen: u64,
    /// Congestion-window reductions for fast recovery (one per episode).
    pub cwnd_reductions: u64,
    /// Retransmission timeouts that found the peer had dropped data it
    /// SACKed (RFC 2018 §8 reneging): SACK state forgotten, go-back-N.
    pub sack_reneging: u64,
    /// Retransmission timeouts undone as spurious: data sent before the
    /// timeout and never resent was acknowledged after it (F-RTO,
    /// RFC 5682; Linux's TCPSpuriousRTOs).
    pub spurious_rtos: u64,
    /// Fast recoveries undone at their end: D-SACKs covered every
    /// retransmission or the timestamp echo predated the first (RFC 3708,
    /// RFC 3522; Linux's TCPFullUndo).
    pub full_undos: u64,
    /// Fast recoveries undone on a partial ACK of a delayed original
    /// (RFC 3522; Linux's TCPPartialUndo).
    pub partial_undos: u64,
    /// Reductions undone when D-SACKs covered every retransmission before
    /// or after the recovery point (RFC 3708; Linux's TCPDSACKUndo).
    pub dsack_undos: u64,
    /// Timeouts undone (F-RTO included; Linux's TCPLossUndo).
    pub loss_undos: u64,
}

impl ConnStats {
    /// Every counter with its name, in declaration order.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("segments_in", self.segments_in),
            ("segments_out", self.segments_out),
            ("bytes_out", self.bytes_out),
            ("bytes_in", self.bytes_in),
            ("retransmits", self.retransmits),
            ("retransmit_timeouts", self.retransmit_timeouts),
            ("fast_retransmits", self.fast_retransmits),
            ("dup_acks", self.dup_acks),
            ("unacceptable", self.unacceptable),
            ("out_of_order_queued", self.out_of_order_queued),
            ("out_of_order_dropped", self.out_of_order_dropped),
            ("challenge_acks", self.challenge_acks),
            ("challenge_acks_suppressed", self.challenge_acks_suppressed),
            ("paws_rejected", self.paws_rejected),
            ("oow_acks_suppressed", self.oow_acks_suppressed),
            ("aborted_on_data", self.aborted_on_data),
            ("urgent_bytes", self.urgent_bytes),
            ("window_probes", self.window_probes),
            ("keepalive_probes", self.keepalive_probes),
            ("sack_blocks_in", self.sack_blocks_in),
            ("sack_blocks_invalid", self.sack_blocks_invalid),
            ("sack_recoveries", self.sack_recoveries),
            ("delayed_acks", self.delayed_acks),
            ("tail_loss_probes", self.tail_loss_probes),
            ("rack_lost", self.rack_lost),
            ("lost_retransmits", self.lost_retransmits),
            ("reorder_timeouts", self.reorder_timeouts),
            ("reordering_seen", self.reordering_seen),
            ("cwnd_reductions", self.cwnd_reductions),
            ("sack_reneging", self.sack_reneging),
            ("spurious_rtos", self.spurious_rtos),
            ("full_undos", self.full_undos),
            ("partial_undos", self.partial_undos),
            ("dsack_undos", self.dsack_undos),
            ("loss_undos", self.loss_undos),
        ]
    }
}
