//! Segment output (RFC 9293 §3.8, §3.10.2 SEND and §3.10.7 replies): what to
//! send next, in priority order — RSTs, SYN / SYN-ACK, a tail loss probe
//! (RFC 8985 §7), a fast retransmit, segments RACK found lost (RFC 6675
//! NextSeg within PRR's allowance, or cwnd − pipe for BBR), new or
//! go-back-N data and FIN within min(cwnd, snd_wnd), a zero-window probe,
//! and finally a bare ACK or window update.
//!
//! Pacing: when the congestion controller sets a pacing rate (BBR), data
//! segments leave only while the [`Pacer`]'s credit — the rate times the
//! time elapsed, capped at one send quantum (about 1 ms of data, at least
//! two segments) — is positive; [`Tcb::poll_at`] then reports when a full
//! quantum is available again, and nothing leaves before (an ACK arriving
//! earlier releases nothing). Segments thus leave in bursts of a quantum,
//! which bounds the driver's wake-ups, at the paced average rate. A
//! driver that runs late (a descheduled process) may send what it owed
//! for up to 10 ms of lateness at once (`Pacer::allows`). Every
//! data segment waits for the pacer: new data, fast and SACK retransmits
//! and tail loss probes (as in Linux, where a probe goes through the paced
//! `tcp_write_xmit`); bare ACKs, window updates and zero-window probes do
//! not.

use super::blocks::Control;
use super::sendable::DataSend;
use super::timers::Timer;
use super::{AckReason, Reason, State, Tcb};
use crate::time::{Duration, Instant};
use crate::wire::{Flags, SeqNumber, TcpHeader, TcpOptions};

/// One segment to send. The payload stays in the send buffer until the
/// caller copies it with [`Tcb::copy_payload`], straight into the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The header to emit.
    pub header: TcpHeader,
    /// Offset of the payload in the send buffer.
    pub payload_offset: usize,
    /// Payload length.
    pub payload_len: usize,
    /// Nonzero when the payload is longer than one segment may carry: a
    /// segment for a TSO device to cut into segments of this many payload
    /// bytes (the last may be shorter). Only with
    /// [`Tcb::set_tso_max`].
    pub gso_size: usize,
    /// Why it is sent.
    pub reason: Reason,
}

/// The pacing budget: a token bucket in bytes.
#[derive(Clone, Debug, Default)]
pub(super) struct Pacer {
    credit: f64,
    last: Option<Instant>,
    /// When held-back data may leave (set while pacing holds it).
    pub(super) wake: Option<Instant>,
    /// When the data pacing last held back was due to leave.
    due: Option<Instant>,
    /// The credit holds what a late wake-up made up, above the usual cap.
    catch_up: bool,
}

/// The most sending time a late wake-up may make up (`Pacer::allows`).
const PACING_CATCH_UP: Duration = Duration::from_millis(10);

impl Pacer {
    /// Refills at `rate` bytes/s up to `quantum`; true if a segment may
    /// leave now, else sets [`wake`](Self::wake) to when a quantum is due.
    /// Once held, it holds until then: data leaves a quantum at a time.
    ///
    /// Held data that leaves late (the process ran after its release
    /// time) may take the credit of the time it was late, up to
    /// [`PACING_CATCH_UP`]: the sending time a descheduled userspace
    /// sender lost is made up instead of lost for good. Linux paces from
    /// kernel timers and sends from softirq, so it does not lose that
    /// time. Measured on the bench line (1 Gbit/s, no loss, load 2–5,
    /// paired): at 100 ms 678 against 590 Mbit/s without (Linux 721), at
    /// 50 ms 739 against 677 (Linux 823); the sender had been descheduled
    /// for 10–107 ms at a time on the loaded machine, and pacing at the
    /// line's rate left the line idle for the time it lost. At most
    /// 10 ms: a burst of that much, 125 kB at 100 Mbit/s, fits the
    /// bench's shortest queue (10 ms at 10 ms RTT).
    pub(super) fn allows(&mut self, now: Instant, rate: f64, quantum: f64) -> bool {
        if let Some(due) = self.due.filter(|&d| now < d) {
            // Held until a whole quantum is due: an ACK arriving before
            // then releases nothing, even with some credit refilled. Linux
            // holds its queue until the pacing timer the same way
            // (`tcp_pacing_check`), and sends a quantum per timer
            // (`tcp_tso_autosize`); released per ACK, the credit left
            // single segments, each a device write and a wake-up.
            self.wake = Some(due);
            return false;
        }
        let late = self
            .due
            .map_or(Duration::ZERO, |d| now.saturating_duration_since(d))
            .min(PACING_CATCH_UP)
            .as_secs_f64();
        let cap = 2.0 * quantum;
        self.credit = match self.last {
            None => quantum,
            Some(l) => {
                let refill = self.credit + rate * now.saturating_duration_since(l).as_secs_f64();
                if late > 0.0 {
                    self.catch_up = true;
                    refill.min(cap + rate * late)
                } else if self.catch_up && self.credit > cap {
                    // Still sending what the late wake-up made up.
                    refill.min(self.credit)
                } else {
                    self.catch_up = false;
                    refill.min(cap)
                }
            }
        };
        self.last = Some(now);
        if self.credit > 0.0 {
            self.due = None;
            return true;
        }
        let wait = ((quantum - self.credit) / rate * 1e6).ceil().max(1.0);
        let at = now + Duration::from_micros(wait as u64);
        self.wake = Some(at);
        self.due = Some(at);
        false
    }

    /// Nothing waits for the pacer (the windows or the application hold
    /// the data): a later send is not late.
    fn idle(&mut self) {
        self.due = None;
    }

    /// Debits a segment that left.
    pub(super) fn spend(&mut self, bytes: usize) {
        self.credit -= bytes as f64;
    }
}

impl Tcb {
    /// True when pacing holds data back at `now` (the release time is then
    /// in `pacer.wake`).
    fn paced_out(&mut self, now: Instant) -> bool {
        let Some(rate) = self.loss.cc.pacing_rate() else {
            return false;
        };
        let quantum = self.pacing_quantum() as f64;
        !self.loss.pacer.allows(now, rate, quantum)
    }

    /// When data that pacing holds back may leave, if pacing holds any
    /// (as of the last [`poll_transmit`](Self::poll_transmit)). Until
    /// then nothing but a timer or a user call changes what this
    /// connection sends: an ACK read meanwhile releases nothing.
    pub fn pacing_release(&self) -> Option<Instant> {
        self.loss
            .pacer
            .wake
            .filter(|_| self.state.is_synchronized())
    }

    /// Bytes that may leave in one paced burst (BBR's send quantum).
    pub(super) fn pacing_quantum(&self) -> usize {
        self.loss
            .cc
            .bbr()
            .map_or(usize::MAX, |b| b.send_quantum() as usize)
    }

    pub(super) fn header(&self, seq: SeqNumber, flags: Flags) -> TcpHeader {
        TcpHeader {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: self.rcv.nxt,
            flags,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        }
    }

    /// Fills in the window field (`rcv_window.rs`; never scaled in a
    /// SYN, RFC 7323 §2.2) and records what it advertises.
    fn with_window(&mut self, mut h: TcpHeader) -> TcpHeader {
        let field = if h.flags.syn() {
            self.window_to_advertise().min(65535)
        } else {
            self.select_window()
        };
        h.window = field as u16;
        self.rcv.wnd = if h.flags.syn() {
            field
        } else {
            field << self.opts.rcv_wscale
        };
        self.rcv.adv = self.rcv.nxt + self.rcv.wnd;
        h
    }

    pub(super) fn emit(
        &mut self,
        now: Instant,
        mut h: TcpHeader,
        payload_offset: usize,
        payload_len: usize,
        reason: Reason,
    ) -> Option<Transmit> {
        if !h.flags.syn() && !h.flags.rst() {
            h.options = self.segment_options(now, h.flags.ack());
        }
        let h = if h.flags.rst() && !h.flags.ack() {
            h
        } else {
            self.with_window(h)
        };
        if h.flags.ack() {
            if payload_len > 0 {
                // An answer: sent while their ACK waits, or within the
                // delayed-ACK time of their data (Linux's
                // `tcp_event_data_sent`), also when a drain's ACK left
                // before it.
                let answer = self
                    .rcv
                    .data_at
                    .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.delayed_ack);
                self.rcv.pingpong = self.timers.is_armed(Timer::DelayedAck) || answer;
            }
            self.pending.clear(Control::Ack);
            self.pending.ack_reason = AckReason::Data;
            self.rcv.unacked = 0;
            self.rcv.quick = self.rcv.quick.saturating_sub(1);
            self.timers.stop(Timer::DelayedAck);
            if self.opts.sack_ok && self.rcv.ooo.has_unreported() {
                // Out-of-order ranges this ACK had no room for: the next
                // ACK follows at once with them.
                self.ack_for(AckReason::OutOfOrder);
            }
        }
        // Counted as the segments they become on the wire.
        let seg = self.data_mss().max(1);
        self.stats.segments_out += payload_len.div_ceil(seg).max(1) as u64;
        self.stats.bytes_out += payload_len as u64;
        Some(Transmit {
            header: h,
            payload_offset,
            payload_len,
            gso_size: if payload_len > seg { seg } else { 0 },
            reason,
        })
    }

    /// Copies the payload of `t` (from the send buffer) into `dst`, which
    /// must hold `t.payload_len` bytes; returns the count copied.
    pub fn copy_payload(&self, t: &Transmit, dst: &mut [u8]) -> usize {
        let n = t.payload_len.min(dst.len());
        self.snd.buf.read_at(t.payload_offset, &mut dst[..n])
    }

    /// The next segment to send, if any. Call until `None` after every
    /// input or user call.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        // Recomputed by this call if pacing still holds data back.
        self.loss.pacer.wake = None;
        // Released while already in FIN-WAIT-2: the limit starts now.
        self.arm_fin_timeout(now);
        if let Some(seq) = self.pending.rst_reply.take() {
            let h = self.header(seq, Flags::RST);
            return self.emit(now, h, 0, 0, Reason::ResetReply);
        }
        if let Some(ack) = self.pending.rst_ack_reply.take() {
            let mut h = self.header(SeqNumber(0), Flags::RST | Flags::ACK);
            h.ack = ack;
            return self.emit(now, h, 0, 0, Reason::ResetReply);
        }
        if self.pending.take(Control::Rst) {
            let h = self.header(self.rst_seq(), Flags::RST | Flags::ACK);
            return self.emit(now, h, 0, 0, Reason::Abort);
        }
        match self.state {
            State::Closed | State::Listen => None,
            State::SynSent | State::SynReceived => self.transmit_syn(now),
            _ => self.transmit_data(now),
        }
    }

    /// The sequence number of an ABORT's RST: SND.MAX, unless that lies
    /// past the peer's window (the peer shrank it after data went out), where
    /// the peer would drop the RST as out of window (RFC 9293 §3.10.7.4);
    /// then the window's right edge, as Linux's `tcp_acceptable_seq`.
    /// Before our SYN is acknowledged there is no window to go by.
    fn rst_seq(&self) -> SeqNumber {
        let edge = self.snd.una + self.snd.wnd;
        if self.snd.una != self.snd.iss && self.snd.max.diff(edge) > 0 {
            edge
        } else {
            self.snd.max
        }
    }

    /// SYN or SYN-ACK with our options (RFC 9293 §3.10.7.2–3).
    fn transmit_syn(&mut self, now: Instant) -> Option<Transmit> {
        let syn_ack = self.state == State::SynReceived;
        if self.snd.nxt != self.snd.iss && !(syn_ack && self.pending.has(Control::Ack)) {
            return None;
        }
        let flags = if syn_ack {
            Flags::SYN | Flags::ACK
        } else {
            Flags::SYN
        };
        let mut h = self.header(self.snd.iss, flags);
        h.options = self.syn_options(now, syn_ack);
        if let (None, Some((val, _)), false) = (self.syn_ts, h.options.timestamp, syn_ack) {
            self.syn_ts = Some(val);
        }
        if self.snd.nxt == self.snd.iss
            && !self.loss.retransmitting
            && self.loss.rtt_probe.is_none()
        {
            self.loss.rtt_probe = Some((self.snd.iss, now));
        }
        if self.loss.retransmitting {
            self.stats.retransmits += 1;
        }
        self.snd.nxt = self.snd.iss + 1u32;
        self.snd.max = self.snd.max.max(self.snd.nxt);
        self.arm_retransmit(now);
        let retry = if self.loss.retransmitting {
            self.timers.retries
        } else {
            0
        };
        self.emit(
            now,
            h,
            0,
            0,
            Reason::Syn {
                ack: syn_ack,
                retry,
            },
        )
    }

    /// Data, FIN, a zero-window probe, or else a bare ACK or keepalive
    /// probe, in a synchronized state: repairs first, then what
    /// [`data_decision`](Self::data_decision) allows, if pacing lets it
    /// leave now.
    fn transmit_data(&mut self, now: Instant) -> Option<Transmit> {
        let sack_recovery =
            self.opts.sack_ok && (self.loss.recover.is_some() || self.repairing_rto_holes());
        if let Some(t) = self.transmit_repair(now, sack_recovery) {
            return Some(t);
        }
        let d = self.data_decision(sack_recovery);
        if d.cwnd_limited {
            self.loss.cwnd_limited = true;
        }
        if d.rwnd_held && d.unsent > 0 {
            self.loss.rwnd_limited = true;
        }
        let paced = d.len > 0 && !d.probe && self.paced_out(now);
        if d.len == 0 {
            self.loss.pacer.idle();
        }
        if d.len == 0 && !d.fin {
            self.note_app_limited(d.unsent, self.data_mss());
        }
        if !paced && (d.len > 0 || d.fin) {
            return self.emit_data(now, &d);
        }
        // Linux's `tcp_check_probe_timer`: nothing in flight and the send
        // head does not fit the window (shut, or open less than it needs).
        if d.rwnd_held && self.snd.una == self.snd.max && !self.timers.is_armed(Timer::Persist) {
            self.timers.set(Timer::Persist, now + self.probe0_when(now));
        }
        self.transmit_control(now)
    }

    /// Loss repair ahead of new data, each waiting for the pacer: a tail
    /// loss probe, a fast or timeout retransmission of the first segment,
    /// then (in SACK recovery, or repairing what an RTO found lost) the
    /// first segment marked lost.
    fn transmit_repair(&mut self, now: Instant, sack_recovery: bool) -> Option<Transmit> {
        if self.loss.tlp.is_pending() && !self.paced_out(now) {
            if let Some(t) = self.transmit_loss_probe(now) {
                return Some(t);
            }
        }
        if self.pending.has(Control::RtoRetransmit) && !self.paced_out(now) {
            self.pending.clear(Control::RtoRetransmit);
            let reason = Reason::Retransmit {
                count: self.timers.retries,
                rto_ms: self.loss.rtt.rto().as_millis() as u64,
            };
            if let Some(t) = self.retransmit_first(now, reason) {
                return Some(t);
            }
        }
        if self.pending.has(Control::FastRetransmit) && !self.paced_out(now) {
            self.pending.clear(Control::FastRetransmit);
            if let Some(t) = self.retransmit_first(now, Reason::FastRetransmit) {
                return Some(t);
            }
        }
        if sack_recovery && !self.paced_out(now) {
            return self.sack_retransmit(now);
        }
        None
    }

    /// Sends what `d` decided: advances SND.NXT, records the segment for
    /// RTT, RACK and rate sampling, and arms the timers.
    fn emit_data(&mut self, now: Instant, d: &DataSend) -> Option<Transmit> {
        let (len, fin) = (d.len, d.fin);
        // Data leaving answers a pending probe (`tcp_write_wakeup` sends
        // data whenever some fits).
        self.pending.clear(Control::Probe);
        if d.probe {
            // `tcp_send_probe0`: the probe put data in flight, which the
            // retransmission timer now watches; probing is over.
            self.timers.probes_out = 0;
            self.timers.probe_backoff = 0;
            self.timers.probing_since = None;
        }
        let mss = self.data_mss();
        let seq = self.snd.nxt;
        let mut flags = Flags::ACK;
        if len > 0 && (len == d.unsent || d.probe) {
            // `tcp_write_wakeup` pushes what a probe sends.
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        let is_retx = seq.diff(self.snd.max) < 0;
        if is_retx {
            self.stats.retransmits += 1;
            self.note_retransmission(now, seq + len + usize::from(fin));
        } else if self.loss.rtt_probe.is_none() {
            self.loss.rtt_probe = Some((seq, now));
        }
        self.snd.nxt = seq + len + usize::from(fin);
        self.snd.max = self.snd.max.max(self.snd.nxt);
        self.on_data_sent(now, seq, len + usize::from(fin), !is_retx);
        if len < mss || len % mss != 0 {
            // The end of a small segment, or of a batch's partial tail.
            self.snd.sml = seq + len;
        }
        self.arm_retransmit(now);
        if let (Some(uto), false) = (
            self.cfg.user_timeout,
            self.timers.is_armed(Timer::UserTimeout),
        ) {
            self.timers.set(Timer::UserTimeout, now + uto);
        }
        self.timers.stop(Timer::Persist);
        let h = self.header(seq, flags);
        let reason = if is_retx {
            Reason::Retransmit {
                count: self.timers.retries,
                rto_ms: self.loss.rtt.rto().as_millis() as u64,
            }
        } else if len == 0 {
            Reason::Fin
        } else {
            Reason::Data
        };
        self.emit(now, h, d.offset, len, reason)
    }

    /// A pending bare ACK (or window update), else a keepalive probe.
    fn transmit_control(&mut self, now: Instant) -> Option<Transmit> {
        if self.pending.has(Control::Ack) {
            // After a go-back-N retransmission snd_nxt lags the highest
            // byte sent; a bare ACK carries snd_max so the peer, whose
            // RCV.NXT may be past snd_nxt, finds it acceptable (as BSD does).
            let h = self.header(self.snd.max, Flags::ACK);
            return self.emit(now, h, 0, 0, Reason::Ack(self.pending.ack_reason));
        }
        if self.pending.take(Control::Probe) {
            // Linux `tcp_xmit_probe_skb`: a zero-window probe is a bare ACK
            // at SND.UNA - 1, which the receiver must answer with its window.
            let h = self.header(self.snd.una - 1u32, Flags::ACK);
            return self.emit(now, h, 0, 0, Reason::ZeroWindowProbe);
        }
        if self.pending.take(Control::Keepalive) {
            // RFC 1122 §4.2.3.6: a probe with SEG.SEQ = SND.NXT - 1 and no
            // data, which any live peer must answer with an ACK.
            let h = self.header(self.snd.una - 1u32, Flags::ACK);
            return self.emit(now, h, 0, 0, Reason::KeepAlive);
        }
        None
    }

    /// RFC 6675 §5 step (C) with RACK's marks: resend the first segment
    /// deemed lost (NextSeg rule 1), within PRR's allowance (RFC 6937) or
    /// cwnd − pipe.
    fn sack_retransmit(&mut self, now: Instant) -> Option<Transmit> {
        let (seq, end) = self.loss.rack.next_lost()?;
        let mss = self.data_mss();
        let start = self.data_start();
        if seq.diff(start) < 0 {
            return None;
        }
        let offset = (seq - start) as usize;
        let fin_in = self
            .snd
            .fin
            .is_some_and(|f| f.diff(seq) >= 0 && f.diff(end) < 0);
        let len = ((end - seq) as usize - usize::from(fin_in))
            .min(mss)
            .min(self.snd.buf.len().saturating_sub(offset));
        // `__tcp_retransmit_skb`: a hole past the window the peer shrank
        // waits (-EAGAIN ends `tcp_xmit_retransmit_queue`'s walk); one
        // running past it is trimmed to the edge.
        let len = self.retransmit_room(seq, len, mss)?;
        let fin = fin_in && self.snd.fin == Some(seq + len);
        let seq_len = len + usize::from(fin);
        if seq_len == 0 || self.recovery_allowance() < seq_len {
            return None;
        }
        if self
            .loss
            .rtt_probe
            .is_some_and(|(s, _)| s.diff(seq + len) < 0 && s.diff(seq) >= 0)
        {
            self.loss.rtt_probe = None;
        }
        self.stats.retransmits += 1;
        self.note_retransmission(now, seq + seq_len);
        if seq == self.snd.una {
            // `tcp_xmit_retransmit_queue`: resending the head re-arms the RTO.
            self.timers
                .set(Timer::Retransmit, now + self.loss.rtt.rto());
        }
        self.on_data_sent(now, seq, seq_len, false);
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        let h = self.header(seq, flags);
        self.emit(now, h, offset, len, Reason::SackRetransmit)
    }

    /// Resends the first unacknowledged segment (fast retransmit, RFC 5681
    /// §3.2; NewReno partial ACK, RFC 6582 §3.2 step 5; the timeout's
    /// retransmission, RFC 6298 §5.4).
    fn retransmit_first(&mut self, now: Instant, reason: Reason) -> Option<Transmit> {
        let outstanding = (self.snd.max - self.snd.una) as usize;
        let mss = self.data_mss();
        let seq = self.snd.una;
        // Linux `__tcp_retransmit_skb`: no further than the peer's window
        // (shrunk since), but an MSS when it is shut (the probe).
        let room = if self.snd.wnd > 0 {
            self.snd.wnd as usize
        } else {
            mss
        };
        let data = outstanding.min(self.snd.buf.len()).min(mss).min(room);
        let fin_here = data < mss && self.snd.fin == Some(seq + data) && outstanding > data;
        if data == 0 && !fin_here {
            return None;
        }
        if self
            .loss
            .rtt_probe
            .is_some_and(|(s, _)| s.diff(seq + data) < 0)
        {
            // Karn: the timed segment is being resent.
            self.loss.rtt_probe = None;
        }
        self.stats.retransmits += 1;
        let end = seq + data + usize::from(fin_here);
        if self.snd.nxt == seq {
            // Going back N (the timeout's probe of a shut window): these
            // bytes are sent; the next new segment follows them.
            self.snd.nxt = end;
        }
        self.note_retransmission(now, end);
        self.on_data_sent(now, seq, data + usize::from(fin_here), false);
        let mut flags = Flags::ACK;
        if fin_here {
            flags |= Flags::FIN;
        }
        self.timers
            .set(Timer::Retransmit, now + self.loss.rtt.rto());
        let h = self.header(seq, flags);
        self.emit(now, h, 0, data, reason)
    }
}
