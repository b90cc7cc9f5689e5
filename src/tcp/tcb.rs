//! The transmission control block (RFC 9293 §3.3.1) and the user calls of
//! §3.10.1–§3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS.
//!
//! Field names are the RFC's (`snd_una`, `snd_nxt`, `snd_wnd`, `rcv_nxt`,
//! `iss`, `irs`, …) so the code reads side by side with the RFC.

use super::timers::{Timer, TimerTable};
use super::{
    Config, CongestionControl, ConnectionError, RecvError, RttEstimator, SendError, State,
};
use crate::buffer::{Assembler, RingBuffer};
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpSegment};
use std::net::SocketAddrV4;

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
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// SACK blocks received.
    pub sack_blocks_in: u64,
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
            ("window_probes", self.window_probes),
            ("keepalive_probes", self.keepalive_probes),
            ("sack_blocks_in", self.sack_blocks_in),
            ("sack_recoveries", self.sack_recoveries),
            ("delayed_acks", self.delayed_acks),
            ("tail_loss_probes", self.tail_loss_probes),
            ("rack_lost", self.rack_lost),
            ("lost_retransmits", self.lost_retransmits),
            ("reorder_timeouts", self.reorder_timeouts),
            ("reordering_seen", self.reordering_seen),
            ("cwnd_reductions", self.cwnd_reductions),
        ]
    }
}

/// One TCP connection's state.
#[derive(Debug)]
pub struct Tcb {
    pub(super) cfg: Config,
    pub(super) state: State,
    pub(super) local: SocketAddrV4,
    pub(super) remote: SocketAddrV4,

    // Send sequence space (RFC 9293 §3.3.1, figure 3).
    pub(super) iss: SeqNumber,
    pub(super) snd_una: SeqNumber,
    pub(super) snd_nxt: SeqNumber,
    /// Highest sequence number sent so far (snd_nxt moves back on RTO).
    pub(super) snd_max: SeqNumber,
    pub(super) snd_wnd: u32,
    pub(super) snd_wl1: SeqNumber,
    pub(super) snd_wl2: SeqNumber,
    /// Shift applied to the peer's window field (RFC 7323 §2.2).
    pub(super) snd_wscale: u8,
    /// Effective send MSS: min(peer's MSS, our MSS).
    pub(super) snd_mss: usize,
    /// Unacknowledged and unsent data; `tx[0]` has sequence number `snd_una`
    /// once the SYN is acknowledged (`iss + 1` before).
    pub(super) tx: RingBuffer,
    /// Sequence number of our FIN, fixed when the user closes the sending
    /// side (no data can be queued after it).
    pub(super) fin_seq: Option<SeqNumber>,
    /// Our SYN has been acknowledged.
    pub(super) syn_acked: bool,

    // Receive sequence space (RFC 9293 §3.3.1, figure 4).
    pub(super) irs: SeqNumber,
    pub(super) rcv_nxt: SeqNumber,
    /// Shift applied to the window we advertise.
    pub(super) rcv_wscale: u8,
    pub(super) rx: RingBuffer,
    /// Out-of-order ranges already written past the end of `rx`.
    pub(super) ooo: Assembler,
    /// Sequence number of a FIN that arrived before the data preceding it.
    pub(super) fin_pending: Option<SeqNumber>,
    /// The peer's FIN has been received (in order).
    pub(super) rcv_fin: bool,
    /// Window (bytes) in the last segment we sent.
    pub(super) rcv_wnd_adv: u32,
    /// Right edge of the window we last advertised (RCV.NXT + window).
    pub(super) rcv_adv: SeqNumber,
    /// The local user has shut down the reading side.
    pub(super) rd_shutdown: bool,

    // Control.
    pub(super) ack_now: bool,
    /// Why the pending bare ACK is sent (the most specific reason wins).
    pub(super) ack_reason: super::AckReason,
    /// RST to send for the current connection (ABORT).
    pub(super) send_rst: bool,
    /// RST answering an unacceptable ACK during the handshake
    /// (RFC 9293 §3.10.7.3): `<SEQ=SEG.ACK><CTL=RST>`.
    pub(super) rst_reply: Option<SeqNumber>,
    /// The peer's SYN carried a window-scale option.
    pub(super) wscale_ok: bool,
    /// Both SYNs carried SACK-permitted (RFC 2018 §2).
    pub(super) sack_ok: bool,
    /// Both SYNs carried timestamps (RFC 7323 §3.2).
    pub(super) ts_ok: bool,
    /// Added to our millisecond clock in TSval, so TSvals do not reveal
    /// uptime (RFC 7323 §5.4).
    pub(super) ts_offset: u32,
    /// TS.Recent: the peer's TSval to echo (RFC 7323 §4.3).
    pub(super) ts_recent: u32,
    /// When TS.Recent was last updated (PAWS 24-day rule, RFC 7323 §5.5).
    pub(super) ts_recent_at: Instant,
    /// RCV.NXT in the last ACK we sent (Last.ACK.sent, RFC 7323 §4.3):
    /// set to IRS + 1 when the peer's SYN arrives (what our SYN-ACK or
    /// handshake ACK acknowledges), then by every non-SYN ACK we send.
    pub(super) last_ack_sent: SeqNumber,
    /// Largest window the peer ever advertised (MAX.SND.WND, RFC 5961 §5).
    pub(super) max_snd_wnd: u32,
    /// Start of the current challenge-ACK rate-limit window and the count
    /// sent in it (RFC 5961 §7).
    pub(super) challenge_window: (Instant, u32),
    pub(super) force_probe: bool,
    /// In-order bytes received since the last ACK we sent (delayed ACK).
    pub(super) unacked_rx: usize,
    /// The last in-order segment was shorter than the peer's MSS and its
    /// ACK is being delayed: ACK as soon as the application drains the
    /// receive buffer (as Linux does for "pushed" data), so a peer whose
    /// Nagle holds the rest of its reply is not stalled by our delayed ACK.
    pub(super) ack_on_drain: bool,
    /// Interactive ("pingpong", as Linux calls it): our last data left
    /// while we were delaying an ACK, so the application answers what it
    /// receives and its answer carries the ACK. Then a drained short
    /// segment's ACK waits for that answer (or the delayed-ACK timer, which
    /// ends the mode) instead of leaving alone, as in Linux's
    /// `tcp_cleanup_rbuf`: one segment per request and per response.
    pub(super) pingpong: bool,
    /// A duplicate segment to report in the next ACK's first SACK block
    /// (D-SACK, RFC 2883 §4).
    pub(super) dsack: Option<(SeqNumber, SeqNumber)>,
    /// Buffer autotuning (receive DRS and send-buffer growth).
    pub(super) tune: super::autotune::Autotune,
    /// Largest segment payload seen from the peer (estimated RCV.MSS).
    pub(super) rcv_mss: usize,
    /// Largest payload of one transmitted segment when the device does TCP
    /// segmentation offload (0: none, segments are at most the MSS).
    pub(super) tso_max: usize,
    /// Nagle's algorithm on (cleared by `set_nodelay(true)`).
    pub(super) nagle: bool,
    /// End of the last sub-MSS segment sent (Minshall's SND.SML).
    pub(super) snd_sml: SeqNumber,
    /// Keepalive probes sent without an answer.
    pub(super) keepalive_sent: u32,
    /// A keepalive probe is due.
    pub(super) keepalive_probe: bool,
    pub(super) retransmitting: bool,
    pub(super) retries: u32,
    pub(super) dup_acks: u32,
    /// What the peer has SACKed above SND.UNA (RFC 6675 scoreboard).
    pub(super) scoreboard: super::sack::Scoreboard,
    /// Transmit times of outstanding segments and RACK state (RFC 8985).
    pub(super) rack: super::rack::Rack,
    /// Tail loss probe state (RFC 8985 §7).
    pub(super) tlp: super::tlp::Tlp,
    /// PRR state while a loss-based algorithm is in fast recovery (RFC 6937).
    pub(super) prr: Option<super::prr::Prr>,
    /// Recovery point (RFC 6582 "recover"), `Some` while in fast recovery.
    pub(super) recovery: Option<SeqNumber>,
    /// SND.MAX when the last RTO fired: no fast recovery until SND.UNA
    /// passes it (RFC 6582 §3.2 step 2).
    pub(super) rto_recover: Option<SeqNumber>,
    /// Segment to resend at once (fast retransmit / partial ACK).
    pub(super) fast_retransmit: bool,
    /// Sequence number being timed and when it was sent (one sample per RTT).
    pub(super) rtt_probe: Option<(SeqNumber, Instant)>,
    pub(super) rtt: RttEstimator,
    pub(super) cc: CongestionControl,
    /// Delivery-rate sampler (fed only while BBR is the algorithm).
    pub(super) rate: super::rate::RateSampler,
    /// Pacing budget (used while the algorithm sets a pacing rate).
    pub(super) pacer: super::output::Pacer,
    /// Sending was limited by cwnd since the last ACK.
    pub(super) cwnd_limited: bool,
    pub(super) timers: TimerTable,
    pub(super) error: Option<ConnectionError>,
    pub(super) stats: ConnStats,
    /// IP TTL for this connection's packets (`None`: the stack default).
    pub(super) ttl: Option<u8>,
    /// A soft ICMP error seen since the last progress (RFC 5927): reported
    /// instead of a plain timeout if retransmissions run out.
    pub(super) soft_error: bool,
}

/// Largest window-scale shift that keeps `buffer >> shift` within 16 bits
/// (RFC 7323 §2.3: at most 14).
fn scale_for(buffer: usize) -> u8 {
    let mut shift = 0u8;
    while (buffer >> shift) > 65535 && shift < crate::wire::tcp::MAX_WINDOW_SHIFT {
        shift += 1;
    }
    shift
}

impl Tcb {
    fn new(
        cfg: &Config,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        state: State,
    ) -> Tcb {
        let mss = usize::from(cfg.mss.max(64));
        Tcb {
            cfg: cfg.clone(),
            state,
            local,
            remote,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            snd_wscale: 0,
            // RFC 9293 §3.7.1: without an MSS option assume 536.
            snd_mss: 536,
            tx: RingBuffer::new(cfg.send_buffer),
            fin_seq: None,
            syn_acked: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            // Chosen for the largest buffer this connection may grow to:
            // the scale is fixed by the SYN (RFC 7323 §2.2).
            rcv_wscale: if cfg.window_scaling {
                scale_for(if cfg.buffer_autotuning {
                    cfg.recv_buffer.max(cfg.recv_buffer_max)
                } else {
                    cfg.recv_buffer
                })
            } else {
                0
            },
            rx: RingBuffer::new(cfg.recv_buffer),
            ooo: Assembler::new(cfg.max_ooo_ranges),
            fin_pending: None,
            rcv_fin: false,
            rcv_wnd_adv: 0,
            rcv_adv: SeqNumber(0),
            rd_shutdown: false,
            ack_now: false,
            ack_reason: super::AckReason::Data,
            send_rst: false,
            rst_reply: None,
            wscale_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_offset: iss.0.rotate_left(13) ^ 0x5bd1_e995,
            ts_recent: 0,
            ts_recent_at: Instant::ZERO,
            last_ack_sent: SeqNumber(0),
            max_snd_wnd: 0,
            challenge_window: (Instant::ZERO, 0),
            force_probe: false,
            unacked_rx: 0,
            ack_on_drain: false,
            pingpong: false,
            dsack: None,
            tune: super::autotune::Autotune::new(cfg.buffer_autotuning, cfg.buffer_autotuning),
            rcv_mss: 536,
            tso_max: 0,
            nagle: cfg.nagle,
            snd_sml: iss,
            keepalive_sent: 0,
            keepalive_probe: false,
            retransmitting: false,
            retries: 0,
            dup_acks: 0,
            scoreboard: super::sack::Scoreboard::new(32),
            rack: super::rack::Rack::new(iss),
            tlp: super::tlp::Tlp::default(),
            prr: None,
            recovery: None,
            rto_recover: None,
            fast_retransmit: false,
            rtt_probe: None,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            cc: {
                let mut cc =
                    CongestionControl::new(cfg.congestion, mss.min(536), cfg.initial_window);
                cc.set_seed(u64::from(iss.0));
                cc
            },
            rate: super::rate::RateSampler::default(),
            pacer: super::output::Pacer::default(),
            cwnd_limited: false,
            timers: TimerTable::default(),
            error: None,
            stats: ConnStats::default(),
            ttl: None,
            soft_error: false,
        }
    }

    /// OPEN, active (RFC 9293 §3.10.1): a connection in SYN-SENT whose SYN
    /// goes out on the next [`poll_transmit`](Self::poll_transmit).
    pub fn connect(cfg: &Config, local: SocketAddrV4, remote: SocketAddrV4, iss: SeqNumber) -> Tcb {
        Tcb::new(cfg, local, remote, iss, State::SynSent)
    }

    /// OPEN, passive, completed by an arriving SYN (RFC 9293 §3.10.7.2):
    /// a connection in SYN-RECEIVED that answers with SYN-ACK. The caller
    /// has checked that `syn` carries SYN and no ACK/RST.
    pub fn accept(
        cfg: &Config,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        syn: &TcpSegment<'_>,
        now: Instant,
    ) -> Tcb {
        let mut tcb = Tcb::new(cfg, local, remote, iss, State::SynReceived);
        tcb.irs = syn.header.seq;
        tcb.rcv_nxt = syn.header.seq + 1u32;
        // The SYN-ACK acknowledges RCV.NXT: that is Last.ACK.sent for the
        // TS.Recent rule (RFC 7323 §4.3) until our next ACK.
        tcb.last_ack_sent = tcb.rcv_nxt;
        tcb.negotiate(syn, now);
        tcb.max_snd_wnd = tcb.snd_wnd.max(u32::from(syn.header.window));
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        tcb.snd_wnd = u32::from(syn.header.window);
        tcb.snd_wl1 = syn.header.seq;
        tcb.snd_wl2 = iss;
        tcb.ack_now = true;
        tcb.stats.segments_in += 1;
        tcb
    }

    // ---- getters (STATUS, RFC 9293 §3.10.6) ----

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Local address and port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// Remote address and port.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Counters.
    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// The terminal error, if the connection failed.
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// Bytes waiting in the receive buffer.
    pub fn recv_queue(&self) -> usize {
        self.rx.len()
    }

    /// Bytes in the send buffer (unsent plus unacknowledged).
    pub fn send_queue(&self) -> usize {
        self.tx.len()
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.tx.free()
    }

    /// Effective send MSS.
    pub fn mss(&self) -> usize {
        self.snd_mss
    }

    /// Congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }

    /// The congestion controller's state: algorithm, cwnd, ssthresh, and
    /// for BBR its mode, pacing rate and model.
    pub fn cc_state(&self) -> super::CcState {
        self.cc.state()
    }

    /// The congestion-control algorithm in use.
    pub fn congestion_control(&self) -> super::Algorithm {
        self.cc.algorithm()
    }

    /// Switches the congestion-control algorithm (`TCP_CONGESTION`), before
    /// or during the connection; the window carries over.
    pub fn set_congestion_control(&mut self, algorithm: super::Algorithm) {
        if algorithm == self.cc.algorithm() {
            return;
        }
        self.cc.switch_to(algorithm);
        // The sampler starts from what is sent from now on.
        self.rate.clear();
        self.pacer = super::output::Pacer::default();
    }

    /// The peer's advertised window in bytes (scaled).
    pub fn send_window(&self) -> u32 {
        self.snd_wnd
    }

    /// The window (bytes) we last advertised to the peer.
    pub fn recv_window(&self) -> u32 {
        self.rcv_wnd_adv
    }

    /// The RTT estimator (SRTT, RTTVAR, RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The initial send sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.iss
    }

    /// The peer's initial sequence number, once its SYN arrived (0 before).
    pub fn irs(&self) -> SeqNumber {
        self.irs
    }

    /// True when `recv` would return data or end-of-stream or an error.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty() || self.rcv_fin || self.error.is_some() || self.rd_shutdown
    }

    /// True when `send` would accept at least one byte or fail at once.
    pub fn can_send(&self) -> bool {
        match self.state {
            State::SynSent | State::SynReceived => false,
            s if s.can_send() && !self.fin_queued() => !self.tx.is_full(),
            _ => true,
        }
    }

    /// RFC 9293 §3.10.7.4 / RFC 6191: a SYN arriving in TIME-WAIT may open
    /// a new incarnation of the connection if it is unambiguously new: its
    /// timestamp is newer than TS.Recent or, without timestamps, its
    /// sequence number is beyond RCV.NXT.
    pub fn time_wait_accepts_syn(&self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if self.state != State::TimeWait || !h.flags.syn() || h.flags.ack() || h.flags.rst() {
            return false;
        }
        match (self.ts_ok, h.options.timestamp) {
            (true, Some((val, _))) => (val.wrapping_sub(self.ts_recent) as i32) > 0,
            _ => h.seq.diff(self.rcv_nxt) > 0,
        }
    }

    /// An ISN for a new incarnation replacing this TIME-WAIT connection:
    /// above anything this one sent (as Linux: SND.NXT + 65535 + 2).
    pub fn successor_iss(&self) -> SeqNumber {
        self.snd_max + 65537u32
    }

    /// Schedules a bare ACK for `reason` (kept if more specific than the
    /// one already pending).
    pub(super) fn ack_for(&mut self, reason: super::AckReason) {
        self.ack_now = true;
        self.ack_reason = self.ack_reason.max(reason);
    }

    /// True when an ACK or window update is waiting to be sent.
    pub fn wants_transmit(&self) -> bool {
        self.ack_now
    }

    /// True while the handshake is in progress.
    pub fn is_connecting(&self) -> bool {
        matches!(self.state, State::SynSent | State::SynReceived)
    }

    /// True when the TCB can be forgotten.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed && !self.send_rst && self.rst_reply.is_none()
    }

    // ---- application calls ----

    /// SEND (RFC 9293 §3.10.2): copies as much of `data` as fits into the
    /// send buffer and returns the count, like `send(2)`.
    ///
    /// # Errors
    /// [`SendError::WouldBlock`] when the buffer is full,
    /// [`SendError::Closed`] after `close`, [`SendError::Failed`] after a
    /// reset or timeout, [`SendError::NotConnected`] when closed.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Failed(e));
        }
        if self.fin_queued() || !self.state.can_send() {
            return Err(match self.state {
                State::Closed => SendError::NotConnected,
                _ => SendError::Closed,
            });
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.tx.enqueue_slice(data) {
            0 => Err(SendError::WouldBlock),
            n => Ok(n),
        }
    }

    /// RECEIVE (RFC 9293 §3.10.3): moves buffered bytes into `buf`.
    /// `Ok(0)` means end of stream (the peer's FIN arrived and every byte
    /// before it was read).
    ///
    /// # Errors
    /// [`RecvError::WouldBlock`] when nothing is buffered yet,
    /// [`RecvError::NotConnected`] while connecting, [`RecvError::Failed`]
    /// after a reset or timeout.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.rx.dequeue_slice(buf);
        if n > 0 {
            self.tune.on_read(n);
            self.release_finished_buffers();
            self.maybe_window_update();
            if self.ack_on_drain && self.rx.is_empty() {
                self.ack_on_drain = false;
                if !self.pingpong && self.timers.is_armed(super::timers::Timer::DelayedAck) {
                    self.ack_now = true;
                }
            }
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(RecvError::Failed(e));
        }
        if self.rcv_fin || self.rd_shutdown {
            return Ok(0);
        }
        match self.state {
            State::SynSent | State::SynReceived => Err(RecvError::NotConnected),
            // A graceful close of a connection that never got the peer's
            // FIN (e.g. closed by TIME-WAIT expiry) reads as end of stream.
            State::Closed => Ok(0),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Copies buffered bytes into `buf` without consuming them.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        self.rx.read_at(0, buf)
    }

    /// Schedules a window update once reading has opened the window by at
    /// least min(MSS, buffer/2) — receiver SWS avoidance, RFC 9293
    /// §3.8.6.2.2 — or reopened a window we had closed.
    fn maybe_window_update(&mut self) {
        if !self.state.can_receive() {
            return;
        }
        // Only what the window field can carry counts: without window
        // scaling a buffer over 64 KiB must not turn every read into a
        // "window update" that announces the same 65535.
        let most = 65535u32 << self.rcv_wscale;
        let edge = self.rcv_nxt + self.rcv_wnd().min(most);
        // An explicit update only matters to a peer that is running out of
        // window: while it still has half a buffer to send into, the ACKs
        // of that data carry the new edge (Linux waits until the window
        // would double). Saves an ACK — a TUN write and a driver wake-up —
        // per application read during bulk transfers.
        let peer_room = self.rcv_adv.diff(self.rcv_nxt).max(0) as usize;
        let half = (self.rx.capacity() / 2).min(most as usize);
        if peer_room < half && edge.diff(self.rcv_adv) >= self.sws_threshold() as i32 {
            self.ack_for(super::AckReason::WindowUpdate);
        }
    }

    /// The smallest window increase worth announcing: min(buffer/2, MSS).
    pub(super) fn sws_threshold(&self) -> u32 {
        u32::from(self.cfg.mss)
            .min(self.rx.capacity() as u32 / 2)
            .max(1)
    }

    /// CLOSE (RFC 9293 §3.10.4): no more sends; a FIN follows the queued
    /// data. Reading continues until the peer's FIN.
    pub fn close(&mut self) {
        match self.state {
            State::SynSent => self.set_closed(None),
            // RFC 9293 §3.10.4: in SYN-RECEIVED the FIN waits until the
            // handshake completes; the input path then enters FIN-WAIT-1.
            State::SynReceived => self.queue_fin(),
            State::Established => {
                self.queue_fin();
                self.set_state(State::FinWait1);
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(State::LastAck);
            }
            _ => {}
        }
    }

    /// Turns Nagle's algorithm off (`true`) or on (`false`), like
    /// `TCP_NODELAY`. Turning it off lets a held small segment go at once.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nagle = !nodelay;
    }

    /// True when Nagle's algorithm is off.
    pub fn nodelay(&self) -> bool {
        !self.nagle
    }

    /// Sets the send buffer size (`SO_SNDBUF`), never below what it holds,
    /// and stops it growing with the congestion window.
    pub fn set_send_buffer(&mut self, bytes: usize) {
        self.tune.tx = false;
        self.tx.set_capacity(bytes.max(1));
    }

    /// Send buffer capacity.
    pub fn send_buffer(&self) -> usize {
        self.tx.capacity()
    }

    /// Sets the receive buffer size (`SO_RCVBUF`), never below what it
    /// holds, and stops autotuning it (as Linux does once `SO_RCVBUF` is
    /// set). The window scale was fixed by the handshake, so the advertised
    /// window stays at most 65535 << scale. Shrinking is refused (returns
    /// false) while out-of-order data is parked past the end.
    pub fn set_recv_buffer(&mut self, bytes: usize) -> bool {
        let bytes = bytes.max(1);
        if !self.ooo.is_empty() && bytes < self.rx.capacity() {
            return false;
        }
        self.tune.rx = false;
        self.rx.set_capacity(bytes);
        self.maybe_window_update();
        true
    }

    /// Where the next in-order payload of up to `want` bytes would go in
    /// the receive buffer, for a device to read it there directly (copy-once
    /// receive): the free space right after the buffered bytes. `None`
    /// while the connection takes no data, or has out-of-order data parked
    /// there. A segment then given to [`on_segment`](Self::on_segment)
    /// whose payload is this slice's front, at exactly [`rcv_nxt`](Self::rcv_nxt),
    /// is committed without a copy.
    pub fn rx_spare(&mut self, want: usize) -> Option<&mut [u8]> {
        if !self.state.can_receive() || self.rcv_fin || self.rd_shutdown || !self.ooo.is_empty() {
            return None;
        }
        let spare = self.rx.spare_front(want);
        (!spare.is_empty()).then_some(spare)
    }

    /// RCV.NXT: the next sequence number expected from the peer.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// Receive buffer capacity.
    pub fn recv_buffer(&self) -> usize {
        self.rx.capacity()
    }

    /// Sets the IP TTL of this connection's packets (`IP_TTL`).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.ttl = Some(ttl);
    }

    /// Lets [`poll_transmit`](Self::poll_transmit) build new-data segments
    /// of up to `bytes` of payload (a whole number of MSS-sized segments,
    /// marked by [`Transmit::gso_size`](super::Transmit::gso_size)) for a
    /// device that cuts them at the MSS (TSO); 0 turns that off. Segments
    /// on the wire are the same either way: only the number of device
    /// writes changes.
    pub fn set_tso_max(&mut self, bytes: usize) {
        self.tso_max = bytes;
    }

    /// Sets the offset of our timestamp clock (see
    /// [`IsnGenerator::ts_offset`](super::IsnGenerator::ts_offset)); call
    /// before the first segment leaves. By default it is derived from the
    /// ISS.
    pub fn set_ts_offset(&mut self, offset: u32) {
        self.ts_offset = offset;
    }

    /// The IP TTL override, if set.
    pub fn ttl(&self) -> Option<u8> {
        self.ttl
    }

    /// Sets the keepalive idle time (`None` turns keepalive off).
    pub fn set_keepalive(&mut self, idle: Option<crate::time::Duration>, now: Instant) {
        self.cfg.keepalive = idle;
        if idle.is_none() {
            self.timers.stop(Timer::KeepAlive);
        } else {
            self.restart_keepalive(now);
        }
    }

    /// Shuts down the reading side: buffered and future data are discarded
    /// and `recv` returns end of stream.
    pub fn shutdown_read(&mut self) {
        self.rd_shutdown = true;
        let n = self.rx.len();
        self.rx.discard(n);
    }

    /// ABORT (RFC 9293 §3.10.5): queued data is dropped and, in a
    /// synchronized state, a RST is sent.
    pub fn abort(&mut self) {
        let send_rst = matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        );
        self.set_closed(Some(ConnectionError::Aborted));
        self.send_rst = send_rst;
    }

    /// Enters CLOSED, recording `error` (None for an orderly close).
    pub(super) fn set_closed(&mut self, error: Option<ConnectionError>) {
        if self.state != State::Closed {
            log::debug!(
                "{} -> {}: {} -> CLOSED ({:?})",
                self.local,
                self.remote,
                self.state,
                error
            );
        }
        self.state = State::Closed;
        if self.error.is_none() {
            self.error = error;
        }
        self.timers.clear();
        let n = self.tx.len();
        self.tx.discard(n);
        if error.is_some() && error != Some(ConnectionError::Aborted) {
            // Unread data stays readable after a graceful close, but a reset
            // connection reports the error (Linux: ECONNRESET on read).
            let n = self.rx.len();
            self.rx.discard(n);
        }
        self.ooo.clear();
        self.release_finished_buffers();
    }

    pub(super) fn set_state(&mut self, s: State) {
        log::debug!("{} -> {}: {} -> {}", self.local, self.remote, self.state, s);
        self.state = s;
    }

    // ---- sequence-space helpers ----

    /// Sequence number just past the queued data.
    pub(super) fn tx_end(&self) -> SeqNumber {
        self.data_start() + self.tx.len()
    }

    /// Sequence number of `tx[0]`.
    pub(super) fn data_start(&self) -> SeqNumber {
        if self.syn_acked {
            self.snd_una
        } else {
            self.iss + 1u32
        }
    }

    /// True once the user closed the sending side.
    pub(super) fn fin_queued(&self) -> bool {
        self.fin_seq.is_some()
    }

    /// Queues our FIN after the buffered data.
    fn queue_fin(&mut self) {
        if self.fin_seq.is_none() {
            self.fin_seq = Some(self.tx_end());
        }
    }

    /// True once our FIN has been acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una == f + 1u32)
    }

    /// Bytes sent and not yet acknowledged.
    pub(super) fn flight_size(&self) -> usize {
        (self.snd_max - self.snd_una) as usize
    }

    /// Queued data not yet sent.
    pub(super) fn unsent_len(&self) -> usize {
        let end = self.tx_end();
        if self.snd_nxt.diff(end) >= 0 {
            0
        } else {
            (end - self.snd_nxt.max(self.data_start())) as usize
        }
    }

    /// Window to advertise now, in bytes (before scaling).
    pub(super) fn rcv_wnd(&self) -> u32 {
        if self.rd_shutdown {
            // Data after SHUT_RD is discarded; keep the window open so the
            // peer is not stalled.
            return self.rx.capacity() as u32;
        }
        self.rx.free() as u32
    }

    pub(super) fn arm_retransmit(&mut self, now: Instant) {
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }
}
