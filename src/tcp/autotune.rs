//! Buffers that grow with the path: receive-buffer autotuning (Dynamic
//! Right-Sizing, as Linux's `tcp_rcv_space_adjust`) with the receiver's
//! own RTT estimate, and send-buffer growth with the congestion window (as
//! Linux's `tcp_sndbuf_expand`).
//!
//! The receiver measures how many bytes the application read during one
//! receiver RTT. When that is more than in the previous RTT, the receive
//! buffer becomes at least twice as large (plus headroom for the sender's
//! growth), so the advertised window stays ahead of a sender in slow start
//! and a flow is never limited by a window the application could have
//! drained. The window scale was chosen in the SYN for the maximum
//! (`Config::recv_buffer_max`), so the larger window can be advertised.
//!
//! The maximum is memory, as Linux's `tcp_rmem[2]`: the largest window it
//! allows is [`window_from_space`] of it, the share of a receive buffer's
//! memory that Linux's receiver advertises as window (`tcp_win_from_space`
//! with the `scaling_ratio` it measures at MTU 1500). The same setting
//! therefore opens the same window on both stacks: a window larger than
//! the peer's BDP plus the bottleneck's queue lets a sender in slow start
//! or BBR's STARTUP overfill that queue.
//!
//! The receiver RTT comes from timestamps (the time since the TSval our
//! peer echoes, RFC 7323 §4) or, without them, from the time it takes to
//! receive one window's worth of data (an upper bound, so the smallest
//! sample is kept).
//!
//! A socket whose buffer size is set explicitly (`SO_RCVBUF`,
//! `SO_SNDBUF`) keeps it: autotuning stops for that direction.

use super::Tcb;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpSegment};

/// Segments of headroom added to twice the measured rate (Linux: 16).
const HEADROOM_SEGMENTS: usize = 16;
/// Shortest interval the receive buffer is sized for: how long a reading
/// thread may reasonably wait for a CPU.
const SCHEDULING_JITTER: Duration = Duration::from_millis(10);
/// Initial DRS space: the initial window a sender may use (10 segments).
const INITIAL_SPACE_SEGMENTS: usize = 10;

/// Window per byte of receive-buffer memory, as a fraction over 256: the
/// `scaling_ratio` (payload / `skb->truesize`) Linux's receiver measures
/// for 1448-byte segments arriving one per packet at MTU 1500, 160/256 =
/// 5/8. Linux advertises at most `tcp_rmem[2]` × ratio (its window clamp,
/// `tcp_win_from_space`); on the WAN line of the bench, 32 MiB of
/// `tcp_rmem[2]` gave a largest window of 20,970,496 bytes (5/8, to the
/// window scale's 1 KiB unit), and over a veth from a sender without
/// TSO, 6 MiB gave 3,980,800 (0.633). The ratio depends on how packets reach
/// Linux: before its first measurement it assumes 1/2, and segments that
/// arrive coalesced (GRO, or a veth passing its sender's 64 KB TSO
/// buffers) measure up to 0.9; 5/8 is the case of a host behind an
/// MTU-1500 link, the one tunstack's benchmarks compare against.
const WINDOW_PER_256_BYTES_OF_SPACE: usize = 160;

/// The largest window a receive buffer of `space` bytes of memory
/// advertises (Linux `tcp_win_from_space` at the ratio above): 5/8 of it,
/// so the default 6 MiB opens 3.75 MiB of window.
pub fn window_from_space(space: usize) -> usize {
    let r = WINDOW_PER_256_BYTES_OF_SPACE;
    space / 256 * r + space % 256 * r / 256
}

/// Autotuning state of one connection.
#[derive(Clone, Debug)]
pub(super) struct Autotune {
    /// Grow the receive buffer (off once set explicitly or in `Config`).
    pub rx: bool,
    /// Grow the send buffer.
    pub tx: bool,
    /// Bytes the application has read in total.
    copied: u64,
    /// Bytes read in the last measured RTT (Linux `rcvq_space.space`).
    space: usize,
    /// `copied` and the time when the current measurement began.
    mark: (u64, Instant),
    /// Smoothed receiver RTT (Linux `rcv_rtt_est`).
    rtt: Option<Duration>,
    /// Window-based RTT measurement in progress: the sequence number that
    /// ends it and when it began.
    window_probe: Option<(SeqNumber, Instant)>,
    /// The TSecr of the last timestamp sample (one sample per echo).
    last_tsecr: u32,
    /// The congestion window the send buffer is sized for: cwnd as of the
    /// last ACK that found the flow using it (see
    /// [`sndbuf_expand`](Tcb::sndbuf_expand)).
    snd_cwnd: usize,
}

impl Autotune {
    pub fn new(rx: bool, tx: bool) -> Autotune {
        Autotune {
            rx,
            tx,
            copied: 0,
            space: 0,
            mark: (0, Instant::ZERO),
            rtt: None,
            window_probe: None,
            last_tsecr: 0,
            snd_cwnd: 0,
        }
    }

    /// The receiver's RTT estimate, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The application read `n` bytes.
    pub fn on_read(&mut self, n: usize) {
        self.copied += n as u64;
    }

    /// Folds in an RTT sample: a timestamp sample is smoothed (gain 1/8);
    /// a window-based one only ever lowers the estimate, since it measures
    /// at least one RTT.
    fn sample(&mut self, sample: Duration, window_based: bool) {
        let sample = sample.max(Duration::from_micros(1));
        self.rtt = Some(match self.rtt {
            None => sample,
            Some(old) if window_based => old.min(sample),
            Some(old) => old - old / 8 + sample / 8,
        });
    }
}

impl Tcb {
    /// Starts the DRS measurement with the first data received.
    fn autotune_start(&mut self, now: Instant) {
        self.tune.space = INITIAL_SPACE_SEGMENTS * self.rcv.mss.max(usize::from(self.cfg.mss));
        self.tune.space = self.tune.space.min(self.rcv.buf.capacity()).max(1);
        self.tune.mark = (self.tune.copied, now);
    }

    /// Receiver RTT measurement for an arriving in-order data segment
    /// (before RCV.NXT moves past it).
    pub(super) fn rcv_rtt_measure(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        if self.opts.ts_ok {
            let Some((_, ecr)) = seg.header.options.timestamp else {
                return;
            };
            // Only full-sized segments (a small one may answer a delayed
            // ACK) and one sample per echoed value.
            if ecr == 0 || ecr == self.tune.last_tsecr || seg.payload.len() < self.rcv.mss {
                return;
            }
            self.tune.last_tsecr = ecr;
            let elapsed = self.ts_val(now).wrapping_sub(ecr);
            if elapsed > 600_000 {
                return;
            }
            // Millisecond timestamps: a path under 1 ms reads as 1 ms.
            self.tune
                .sample(Duration::from_millis(u64::from(elapsed.max(1))), false);
            return;
        }
        match self.tune.window_probe {
            Some((end, start)) if self.rcv.nxt.diff(end) >= 0 => {
                self.tune.sample(now.saturating_duration_since(start), true);
            }
            Some(_) => return,
            None => {}
        }
        self.tune.window_probe = Some((self.rcv.nxt + self.rcv.wnd.max(1), now));
    }

    /// Dynamic Right-Sizing: once per receiver RTT, if the application
    /// read more than in the previous interval, make the receive buffer at
    /// least twice that (plus headroom, plus the growth seen), up to the
    /// window `recv_buffer_max` of memory allows ([`window_from_space`]).
    ///
    /// What was read is scaled to at least [`SCHEDULING_JITTER`]: on a path
    /// of a fraction of a millisecond, two RTTs of data are less than
    /// arrives while the reading thread waits for a CPU, and the window
    /// would close although the application keeps up on average. The
    /// capacity is only a promise; memory follows the bytes actually held.
    pub(super) fn rcv_space_adjust(&mut self, now: Instant) {
        if self.tune.space == 0 {
            self.autotune_start(now);
            return;
        }
        let Some(rtt) = self.tune.rtt else {
            return;
        };
        let (mark_copied, mark_time) = self.tune.mark;
        let elapsed = now.saturating_duration_since(mark_time);
        if elapsed < rtt || elapsed.is_zero() {
            return;
        }
        let copied = u128::from(self.tune.copied - mark_copied);
        let horizon = rtt.max(SCHEDULING_JITTER);
        let per_horizon = copied * horizon.as_micros() / elapsed.as_micros().max(1);
        let copied = usize::try_from(per_horizon).unwrap_or(usize::MAX);
        if copied > self.tune.space {
            if self.tune.rx {
                let mss = self.rcv.mss.max(1);
                let mut want = copied.saturating_mul(2) + HEADROOM_SEGMENTS * mss;
                // A sender still speeding up sends more next time: add the
                // growth seen, twice (as Linux does; the growth counted is
                // at most twofold, so one interval multiplies by at most 5).
                let space = self.tune.space.max(1);
                let grow = want.saturating_mul((copied - self.tune.space).min(2 * space)) / space;
                want = want.saturating_add(grow.saturating_mul(2));
                let want = want.min(self.cfg.recv_window_max());
                if want > self.rcv.buf.capacity() {
                    log::trace!(
                        "{}: receive buffer {} -> {} (read {} per {:?})",
                        self.remote,
                        self.rcv.buf.capacity(),
                        want,
                        copied,
                        horizon
                    );
                    self.rcv.buf.set_capacity(want);
                }
            }
            self.tune.space = copied;
        }
        self.tune.mark = (self.tune.copied, now);
    }

    /// Send-buffer growth with the congestion window, on an ACK of new
    /// data that found `flight` bytes in flight: room for twice the
    /// window, so a full window can be in flight while the application
    /// queues the next one, up to `send_buffer_max`.
    ///
    /// Only a window the flow actually uses counts, as on Linux, whose
    /// cwnd grows only while `tcp_is_cwnd_limited` (in slow start: cwnd
    /// below twice the flight; else sending stopped at cwnd) and whose
    /// `tcp_sndbuf_expand` follows cwnd. A flow held back by the peer's
    /// window (a receiver that stopped reading, opening its window a
    /// little at a time) does not use its cwnd, however the controller
    /// grows it, so the buffer stays put and a writer blocks once it is
    /// full instead of being let in a little more with every ACK.
    pub(super) fn sndbuf_expand(&mut self, flight: usize) {
        if !self.tune.tx {
            return;
        }
        let cwnd = self.loss.cc.cwnd();
        let mss = self.data_mss();
        let limited = if cwnd < self.loss.cc.ssthresh() {
            cwnd < flight.saturating_mul(2)
        } else {
            self.loss.cwnd_limited || flight + mss >= cwnd
        };
        if limited || cwnd < self.tune.snd_cwnd {
            self.tune.snd_cwnd = cwnd;
        }
        let want = self
            .tune
            .snd_cwnd
            .saturating_mul(2)
            .min(self.cfg.send_buffer_max);
        if want > self.snd.buf.capacity() {
            self.snd.buf.set_capacity(want);
            self.events.push(super::Event::Writable);
        }
    }

    /// Gives back the storage of rings that can never be used again: the
    /// send ring once our FIN is acknowledged (or the connection closed),
    /// the receive ring once the peer's FIN was read.
    pub(super) fn release_finished_buffers(&mut self) {
        if self.fin_acked() || self.state == super::State::Closed {
            self.snd.buf.release_if_empty();
        }
        if (self.rcv.fin || self.state == super::State::Closed) && self.rcv.ooo.is_empty() {
            self.rcv.buf.release_if_empty();
        }
    }

    /// The receiver's RTT estimate (from timestamps or from the time to
    /// receive a window), once measured.
    pub fn recv_rtt(&self) -> Option<Duration> {
        self.tune.rtt()
    }

    /// True while the receive buffer grows with the path.
    pub fn recv_autotuning(&self) -> bool {
        self.tune.rx
    }

    /// True while the send buffer grows with the congestion window.
    pub fn send_autotuning(&self) -> bool {
        self.tune.tx
    }

    /// Bytes of ring storage this connection holds now (send plus
    /// receive): what its buffers cost in memory, as opposed to their
    /// capacities.
    pub fn buffer_memory(&self) -> usize {
        self.snd.buf.allocated() + self.rcv.buf.allocated()
    }
}
