//! The transmission control block (RFC 9293 §3.3.1) and the user calls of
//! §3.10.1–§3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS.
//!
//! The block is grouped by concern (module `blocks`): `snd` and `rcv`
//! are the sequence spaces of figures 3 and 4, so `snd.una` is SND.UNA and
//! `rcv.nxt` is RCV.NXT and the code reads side by side with the RFC.

use super::blocks::{Control, Loss, Negotiated, Pending, Rcv, Snd};
use super::event::{Event, EventQueue};
use super::timers::{Timer, TimerTable};
use super::ConnStats;
use super::{Config, ConnectionError, RecvError, RttEstimator, SendError, State};
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpSegment};
use std::net::SocketAddr;

/// One TCP connection's state: the transmission control block of RFC
/// 9293 §3.3.1, grouped by concern (see [`blocks`](super::blocks)).
#[derive(Debug)]
pub struct Tcb {
    pub(super) cfg: Config,
    pub(super) state: State,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    /// Send sequence space and send buffer.
    pub(super) snd: Snd,
    /// Receive sequence space, receive buffer and ACK bookkeeping.
    pub(super) rcv: Rcv,
    /// What the SYNs negotiated, and timestamp state.
    pub(super) opts: Negotiated,
    /// Loss recovery, RTT estimation and congestion control.
    pub(super) loss: Loss,
    /// Deadlines, with the retry counts that back them off.
    pub(super) timers: TimerTable,
    /// Control segments waiting to be sent.
    pub(super) pending: Pending,
    /// Buffer autotuning (receive DRS and send-buffer growth).
    pub(super) tune: super::autotune::Autotune,
    /// Events for the owner (see [`poll_event`](Self::poll_event)).
    pub(super) events: EventQueue,
    pub(super) error: Option<ConnectionError>,
    /// A soft ICMP error seen since the last progress (RFC 5927): reported
    /// instead of a plain timeout if retransmissions run out.
    pub(super) soft_error: bool,
    pub(super) stats: ConnStats,
    /// IP TTL for this connection's packets (`None`: the stack default).
    pub(super) ttl: Option<u8>,
    /// The application let go of the connection ([`release`](Self::release)):
    /// nobody reads any more, and FIN-WAIT-2 has a time limit.
    pub(super) orphaned: bool,
    /// When the last duplicate ACK for an out-of-window segment went out
    /// (Linux `last_oow_ack_time`), for the rate limit of
    /// `Config::invalid_ratelimit`.
    pub(super) last_oow_ack: Option<Instant>,
    /// Sequence space the peer has acknowledged since the handshake
    /// (Linux `bytes_acked`), which bounds how old an acceptable ACK is.
    pub(super) bytes_acked: u64,
    /// The sequence number of the peer's latest urgent byte until the
    /// reader has stepped over it (Linux `urg_seq` with `urg_data` set;
    /// see `urgent.rs`).
    pub(super) urg_mark: Option<SeqNumber>,
    /// Opened by an arriving SYN: SYN-RECEIVED then follows Linux's
    /// request socket (`tcp_check_req`), not RFC 5961's challenges.
    pub(super) passive: bool,
    /// TSval of our first SYN (Linux `retrans_stamp` in SYN-SENT): a
    /// SYN-ACK must echo one between it and now.
    pub(super) syn_ts: Option<u32>,
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
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNumber,
        state: State,
    ) -> Tcb {
        // Chosen for the largest buffer this connection may grow to (its
        // memory, as Linux chooses it for tcp_rmem[2]): the scale is fixed
        // by the SYN (RFC 7323 §2.2).
        let rcv_wscale = if cfg.window_scaling {
            scale_for(if cfg.buffer_autotuning {
                cfg.recv_buffer.max(cfg.recv_buffer_max)
            } else {
                cfg.recv_buffer
            })
        } else {
            0
        };
        Tcb {
            cfg: cfg.clone(),
            state,
            local,
            remote,
            snd: Snd::new(iss, cfg.send_buffer, cfg.nagle),
            rcv: Rcv::new(cfg.recv_buffer, cfg.max_ooo_ranges),
            opts: Negotiated::new(iss, rcv_wscale),
            loss: Loss::new(cfg, iss),
            timers: TimerTable::default(),
            pending: Pending::default(),
            tune: super::autotune::Autotune::new(cfg.buffer_autotuning, cfg.buffer_autotuning),
            events: EventQueue::default(),
            error: None,
            soft_error: false,
            stats: ConnStats::default(),
            ttl: None,
            orphaned: false,
            last_oow_ack: None,
            bytes_acked: 0,
            urg_mark: None,
            passive: false,
            syn_ts: None,
        }
    }

    /// OPEN, active (RFC 9293 §3.10.1): a connection in SYN-SENT whose SYN
    /// goes out on the next [`poll_transmit`](Self::poll_transmit).
    pub fn connect(
        cfg: &Config,
        local: impl Into<SocketAddr>,
        remote: impl Into<SocketAddr>,
        iss: SeqNumber,
    ) -> Tcb {
        Tcb::new(cfg, local.into(), remote.into(), iss, State::SynSent)
    }

    /// OPEN, passive, completed by an arriving SYN (RFC 9293 §3.10.7.2):
    /// a connection in SYN-RECEIVED that answers with SYN-ACK. The caller
    /// has checked that `syn` carries SYN and no ACK/RST.
    pub fn accept(
        cfg: &Config,
        local: impl Into<SocketAddr>,
        remote: impl Into<SocketAddr>,
        iss: SeqNumber,
        syn: &TcpSegment<'_>,
        now: Instant,
    ) -> Tcb {
        let mut tcb = Tcb::new(cfg, local.into(), remote.into(), iss, State::SynReceived);
        tcb.passive = true;
        tcb.rcv.irs = syn.header.seq;
        tcb.rcv.nxt = syn.header.seq + 1u32;
        // The SYN-ACK acknowledges RCV.NXT: that is Last.ACK.sent for the
        // TS.Recent rule (RFC 7323 §4.3) until our next ACK.
        tcb.opts.last_ack_sent = tcb.rcv.nxt;
        tcb.negotiate(syn, now);
        tcb.snd.max_wnd = tcb.snd.wnd.max(u32::from(syn.header.window));
        tcb.snd.mss_wnd = tcb.snd.max_wnd;
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        tcb.snd.wnd = u32::from(syn.header.window);
        tcb.snd.wl1 = syn.header.seq;
        tcb.snd.wl2 = iss;
        tcb.pending.add(Control::Ack);
        tcb.stats.segments_in += 1;
        tcb
    }

    // ---- getters (STATUS, RFC 9293 §3.10.6) ----

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Local address and port.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Remote address and port.
    pub fn remote(&self) -> SocketAddr {
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

    /// Bytes waiting in the receive buffer, less an urgent byte the
    /// reader has reached (it is skipped, never read: see `urgent.rs`).
    pub fn recv_queue(&self) -> usize {
        self.readable_bytes()
    }

    /// Bytes in the send buffer (unsent plus unacknowledged).
    pub fn send_queue(&self) -> usize {
        self.snd.buf.len()
    }

    /// Bytes in the send buffer not yet sent (what output may still take).
    pub fn send_unsent(&self) -> usize {
        self.unsent_len()
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.snd.buf.free()
    }

    /// Effective send MSS.
    pub fn mss(&self) -> usize {
        self.opts.snd_mss
    }

    /// Congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.loss.cc.cwnd()
    }

    /// The congestion controller's state: algorithm, cwnd, ssthresh, and
    /// for BBR its mode, pacing rate and model.
    pub fn cc_state(&self) -> super::CcState {
        self.loss.cc.state()
    }

    /// The congestion-control algorithm in use.
    pub fn congestion_control(&self) -> super::Algorithm {
        self.loss.cc.algorithm()
    }

    /// Switches the congestion-control algorithm (`TCP_CONGESTION`), before
    /// or during the connection; the window carries over.
    pub fn set_congestion_control(&mut self, algorithm: super::Algorithm) {
        if algorithm == self.loss.cc.algorithm() {
            return;
        }
        self.loss.cc.switch_to(algorithm);
        // The sampler starts from what is sent from now on.
        self.loss.rate.clear();
        self.loss.pacer = super::output::Pacer::default();
    }

    /// The peer's advertised window in bytes (scaled).
    pub fn send_window(&self) -> u32 {
        self.snd.wnd
    }

    /// The window (bytes) we last advertised to the peer.
    pub fn recv_window(&self) -> u32 {
        self.rcv.wnd
    }

    /// The RTT estimator (SRTT, RTTVAR, RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.loss.rtt
    }

    /// The initial send sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.snd.iss
    }

    /// The peer's initial sequence number, once its SYN arrived (0 before).
    pub fn irs(&self) -> SeqNumber {
        self.rcv.irs
    }

    /// True when `recv` would return data or end-of-stream or an error.
    pub fn can_recv(&self) -> bool {
        self.recv_queue() > 0 || self.rcv.fin || self.error.is_some() || self.rcv.shutdown
    }

    /// True when `send` would accept at least one byte or fail at once.
    pub fn can_send(&self) -> bool {
        match self.state {
            State::SynSent | State::SynReceived => false,
            s if s.can_send() && !self.fin_queued() => !self.snd.buf.is_full(),
            _ => true,
        }
    }

    /// RFC 9293 §3.10.7.4 / RFC 6191 as Linux's
    /// `tcp_timewait_state_process`: a SYN arriving in TIME-WAIT may open
    /// a new incarnation of the connection if PAWS does not reject it (its
    /// timestamp is not older than TS.Recent) and it is new: its sequence
    /// number is beyond RCV.NXT or its timestamp newer than TS.Recent.
    pub fn time_wait_accepts_syn(&self, seg: &TcpSegment<'_>) -> bool {
        let h = &seg.header;
        if self.state != State::TimeWait || !h.flags.syn() || h.flags.ack() || h.flags.rst() {
            return false;
        }
        let ts = h.options.timestamp.filter(|_| self.opts.ts_ok);
        let age = ts.map(|(val, _)| self.opts.ts_recent.wrapping_sub(val) as i32);
        // `tcp_paws_reject`, no window; a TS.Recent of 0 rejects nothing.
        if age.is_some_and(|a| a > 0 && self.opts.ts_recent != 0) {
            return false;
        }
        h.seq.diff(self.rcv.nxt) > 0 || age.is_some_and(|a| a < 0)
    }

    /// An ISN for a new incarnation replacing this TIME-WAIT connection:
    /// above anything this one sent (as Linux: SND.NXT + 65535 + 2).
    pub fn successor_iss(&self) -> SeqNumber {
        self.snd.max + 65537u32
    }

    /// Schedules a bare ACK for `reason` (kept if more specific than the
    /// one already pending).
    pub(super) fn ack_for(&mut self, reason: super::AckReason) {
        self.pending.add(Control::Ack);
        self.pending.ack_reason = self.pending.ack_reason.max(reason);
    }

    /// True when an ACK or window update is waiting to be sent.
    pub fn wants_transmit(&self) -> bool {
        self.pending.has(Control::Ack)
    }

    /// True while the handshake is in progress.
    pub fn is_connecting(&self) -> bool {
        matches!(self.state, State::SynSent | State::SynReceived)
    }

    /// True when the TCB can be forgotten.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
            && !self.pending.has(Control::Rst)
            && self.pending.rst_reply.is_none()
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
        match self.snd.buf.enqueue_slice(data) {
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
        // The urgent byte is skipped, and a read stops before it.
        let (limit, skipped) = self.read_limit(buf.len());
        let n = self.rcv.buf.dequeue_slice(&mut buf[..limit]);
        if n + skipped > 0 {
            self.after_read(n + skipped);
        }
        if n > 0 {
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(RecvError::Failed(e));
        }
        if self.rcv.fin || self.rcv.shutdown {
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

    /// What reading `n` bytes (queued or delivered into a posted buffer)
    /// sets off: autotuning's count, a window update, an ACK held for the
    /// drain.
    pub(super) fn after_read(&mut self, n: usize) {
        self.tune.on_read(n);
        self.release_finished_buffers();
        self.maybe_window_update();
        if self.rcv.ack_on_drain && self.rcv.buf.is_empty() {
            self.rcv.ack_on_drain = false;
            if !self.rcv.pingpong && self.timers.is_armed(super::timers::Timer::DelayedAck) {
                self.pending.add(Control::Ack);
            }
        }
    }

    /// Copies buffered bytes into `buf` without consuming them: what
    /// [`recv`](Self::recv) would return (Linux's MSG_PEEK steps over
    /// the urgent byte the same way).
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        let (skip, limit) = match self.urgent_offset() {
            Some(0) => (1, buf.len()),
            Some(k) => (0, k.min(buf.len())),
            None => (0, buf.len()),
        };
        self.rcv.buf.read_at(skip, &mut buf[..limit])
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
        let most = 65535u32 << self.opts.rcv_wscale;
        let edge = self.rcv.nxt + self.rcv_wnd().min(most);
        // An explicit update only matters to a peer that is running out of
        // window: while it still has half a buffer to send into, the ACKs
        // of that data carry the new edge (Linux waits until the window
        // would double). Saves an ACK — a TUN write and a driver wake-up —
        // per application read during bulk transfers.
        let peer_room = self.rcv.adv.diff(self.rcv.nxt).max(0) as usize;
        let half = (self.rcv.buf.capacity() / 2).min(most as usize);
        if peer_room < half && edge.diff(self.rcv.adv) >= self.sws_threshold() as i32 {
            self.ack_for(super::AckReason::WindowUpdate);
        }
    }

    /// The smallest window increase worth announcing: min(buffer/2, MSS).
    pub(super) fn sws_threshold(&self) -> u32 {
        u32::from(self.cfg.mss)
            .min(self.rcv.buf.capacity() as u32 / 2)
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

    /// The application closed its last handle (`close(2)`), as Linux's
    /// `tcp_close`: received data it never read is dropped and the
    /// connection is reset instead of closed (RFC 2525 §2.17; Linux counts
    /// `TCPAbortOnClose`), since the peer could not otherwise learn that
    /// its data was lost. Otherwise a graceful [`close`](Self::close) of
    /// an orphan: nothing reads any more (data arriving in FIN-WAIT-1/2
    /// resets the connection, RFC 1122 §4.2.2.13), and FIN-WAIT-2 lasts
    /// at most `Config::fin_timeout`.
    pub fn release(&mut self) {
        self.orphaned = true;
        self.rcv.shutdown = true;
        let unread = self.rcv.buf.len();
        if unread > 0 && self.state.is_synchronized() && self.state != State::TimeWait {
            self.rcv.buf.discard(unread);
            self.abort();
            return;
        }
        self.close();
    }

    /// Arms the FIN-WAIT-2 limit of an orphan (Linux `tcp_fin_timeout`):
    /// a peer that never sends its FIN can not hold the connection forever.
    /// When it expires the connection vanishes silently, as Linux's
    /// FIN-WAIT-2 timewait socket does.
    pub(super) fn arm_fin_timeout(&mut self, now: Instant) {
        if self.orphaned && self.state == State::FinWait2 && !self.timers.is_armed(Timer::TimeWait)
        {
            self.timers.set(Timer::TimeWait, now + self.cfg.fin_timeout);
        }
    }

    /// Turns Nagle's algorithm off (`true`) or on (`false`), like
    /// `TCP_NODELAY`. Turning it off lets a held small segment go at once.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.snd.nagle = !nodelay;
    }

    /// True when Nagle's algorithm is off.
    pub fn nodelay(&self) -> bool {
        !self.snd.nagle
    }

    /// Sets the send buffer size (`SO_SNDBUF`), never below what it holds,
    /// and stops it growing with the congestion window.
    pub fn set_send_buffer(&mut self, bytes: usize) {
        self.tune.tx = false;
        let before = self.snd.buf.free();
        self.snd.buf.set_capacity(bytes.max(1));
        if self.snd.buf.free() > before {
            self.events.push(Event::Writable);
        }
    }

    /// Send buffer capacity.
    pub fn send_buffer(&self) -> usize {
        self.snd.buf.capacity()
    }

    /// Sets the receive buffer size (`SO_RCVBUF`), never below what it
    /// holds, and stops autotuning it (as Linux does once `SO_RCVBUF` is
    /// set). The window scale was fixed by the handshake, so the advertised
    /// window stays at most 65535 << scale. Shrinking is refused (returns
    /// false) while out-of-order data is parked past the end. `bytes` is
    /// window, unlike `Config::recv_buffer_max`: Linux reserves twice a
    /// `SO_RCVBUF` value as memory for its overhead, a window of 1–1.25
    /// times the value.
    pub fn set_recv_buffer(&mut self, bytes: usize) -> bool {
        let bytes = bytes.max(1);
        if !self.rcv.ooo.is_empty() && bytes < self.rcv.buf.capacity() {
            return false;
        }
        self.tune.rx = false;
        self.rcv.buf.set_capacity(bytes);
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
        if !self.state.can_receive()
            || self.rcv.fin
            || self.rcv.shutdown
            || !self.rcv.ooo.is_empty()
        {
            return None;
        }
        let spare = self.rcv.buf.spare_front(want);
        (!spare.is_empty()).then_some(spare)
    }

    /// RCV.NXT: the next sequence number expected from the peer.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv.nxt
    }

    /// Receive buffer capacity.
    pub fn recv_buffer(&self) -> usize {
        self.rcv.buf.capacity()
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
        self.snd.tso_max = bytes;
    }

    /// Sets the offset of our timestamp clock (see
    /// [`IsnGenerator::ts_offset`](super::IsnGenerator::ts_offset)); call
    /// before the first segment leaves. By default it is derived from the
    /// ISS.
    pub fn set_ts_offset(&mut self, offset: u32) {
        self.opts.ts_offset = offset;
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

    /// Shuts down the reading side (`shutdown(SHUT_RD)`), as Linux sets
    /// `RCV_SHUTDOWN`: `recv` returns end of stream whenever nothing is
    /// buffered instead of blocking, but data keeps being queued (and
    /// read), against the receive buffer and so the advertised window.
    /// What is left unread when the application closes resets the
    /// connection ([`release`](Self::release)).
    pub fn shutdown_read(&mut self) {
        self.rcv.shutdown = true;
        // Reading now returns end of stream at once.
        self.events.push(Event::Readable);
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
        if send_rst {
            self.pending.add(Control::Rst);
        }
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
        self.events.push(Event::Closed(self.error));
        self.timers.clear();
        let n = self.snd.buf.len();
        self.snd.buf.discard(n);
        if error.is_some() && error != Some(ConnectionError::Aborted) {
            // Unread data stays readable after a graceful close, but a reset
            // connection reports the error (Linux: ECONNRESET on read).
            let n = self.rcv.buf.len();
            self.rcv.buf.discard(n);
        }
        self.rcv.ooo.clear();
        self.release_finished_buffers();
    }

    pub(super) fn set_state(&mut self, s: State) {
        log::debug!("{} -> {}: {} -> {}", self.local, self.remote, self.state, s);
        if self.is_connecting() && s.is_synchronized() {
            self.events.push(Event::Connected);
        }
        self.state = s;
    }

    // ---- sequence-space helpers ----

    /// Sequence number just past the queued data.
    pub(super) fn tx_end(&self) -> SeqNumber {
        self.data_start() + self.snd.buf.len()
    }

    /// Sequence number of `tx[0]`.
    pub(super) fn data_start(&self) -> SeqNumber {
        if self.snd.syn_acked {
            self.snd.una
        } else {
            self.snd.iss + 1u32
        }
    }

    /// True once the user closed the sending side.
    pub(super) fn fin_queued(&self) -> bool {
        self.snd.fin.is_some()
    }

    /// Queues our FIN after the buffered data.
    fn queue_fin(&mut self) {
        if self.snd.fin.is_none() {
            self.snd.fin = Some(self.tx_end());
        }
    }

    /// True once our FIN has been acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.snd.fin.is_some_and(|f| self.snd.una == f + 1u32)
    }

    /// Bytes sent and not yet acknowledged.
    pub(super) fn flight_size(&self) -> usize {
        (self.snd.max - self.snd.una) as usize
    }

    /// Queued data not yet sent.
    pub(super) fn unsent_len(&self) -> usize {
        let end = self.tx_end();
        if self.snd.nxt.diff(end) >= 0 {
            0
        } else {
            (end - self.snd.nxt.max(self.data_start())) as usize
        }
    }

    /// Window to advertise now, in bytes (before scaling).
    pub(super) fn rcv_wnd(&self) -> u32 {
        self.rcv.buf.free() as u32
    }

    pub(super) fn arm_retransmit(&mut self, now: Instant) {
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers
                .set(Timer::Retransmit, now + self.loss.rtt.rto());
        }
    }
}
