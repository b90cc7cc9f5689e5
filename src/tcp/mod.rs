//! The sans-IO TCP connection core (RFC 9293).
//!
//! Owns one connection's transmission control block ([`Tcb`]): the state
//! machine of RFC 9293 §3.3.2, sequence-space bookkeeping (§3.4), the
//! event processing of §3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT
//! ARRIVES, TIMEOUTS), retransmission timing (RFC 6298 as Linux refines
//! it; timeouts keep the SACK scoreboard and are undone when F-RTO,
//! RFC 5682, finds them spurious), congestion control
//! (RFC 5681, RFC 6582 NewReno recovery, RFC 9438 CUBIC with RFC 9406
//! HyStart++, BBR per draft-ietf-ccwg-bbr with delivery-rate sampling and
//! pacing), loss recovery (RFC 6675 SACK recovery with RFC 8985 RACK-TLP
//! loss detection and RFC 6937 PRR), window scaling
//! and timestamps (RFC 7323), SACK blocks (RFC 2018), delayed ACK and Nagle
//! (RFC 1122 §4.2.3), keepalive (RFC 1122 §4.2.3.6),
//! RST and challenge-ACK rules (RFC 5961 §3–§4) and ISN generation
//! (RFC 6528), and SYN cookies for a full SYN queue (RFC 4987 §3.6).
//!
//! It performs no I/O and reads no clock: inputs are segments plus an
//! explicit [`Instant`](crate::time::Instant), outputs are segments to send
//! and a deadline. The method taxonomy follows quinn-proto:
//! - getters: [`Tcb::state`], [`Tcb::stats`], [`Tcb::recv_queue`], …
//! - inputs: [`Tcb::on_segment`], [`Tcb::on_timeout`] (early calls are no-ops)
//! - application calls: [`Tcb::send`], [`Tcb::recv`], [`Tcb::close`], [`Tcb::abort`]
//! - outputs: [`Tcb::poll_transmit`] (call until `None`), [`Tcb::poll_at`].
//!
//! Must not use threads, locks, `std::io`, the real clock or OS randomness.

mod autotune;
pub mod bbr;
mod blocks;
mod congestion;
mod delack;
mod event;
mod handshake;
mod hystart;
mod icmp;
mod input;
pub mod isn;
mod loss_state;
mod options;
mod output;
mod posted;
mod prr;
mod rack;
pub mod rate;
mod rcv_window;
mod reason;
mod recovery;
mod rtt;
mod sack;
mod sendable;
mod state;
mod stats;
pub mod syncookie;
mod tcb;
mod timers;
mod tlp;
mod undo;
mod urgent;
mod validate;

#[cfg(test)]
mod tests;

pub use autotune::window_from_space;
pub use bbr::BbrMode;
pub use congestion::{Algorithm, CcState, CongestionControl, UnknownAlgorithm};
pub use event::Event;
pub use isn::IsnGenerator;
pub use output::Transmit;
pub use reason::{AckReason, Reason};
pub use rtt::RttEstimator;
pub use state::State;
pub use stats::ConnStats;
pub use tcb::Tcb;

use crate::time::Duration;
use core::fmt;

/// Tunables of a connection. Defaults follow Linux where the RFCs leave a
/// choice.
#[derive(Clone, Debug)]
pub struct Config {
    /// MSS we advertise (MTU − 40 for IPv4 without options).
    pub mss: u16,
    /// Initial send buffer capacity in bytes. With `buffer_autotuning` it
    /// grows to twice the congestion window, up to `send_buffer_max`.
    pub send_buffer: usize,
    /// Largest send buffer autotuning may reach (Linux `tcp_wmem[2]`: 4 MiB).
    pub send_buffer_max: usize,
    /// Initial receive buffer capacity in bytes of payload (window, not
    /// memory: see `recv_buffer_max`); the advertised window derives from
    /// its free space. With `buffer_autotuning` it grows with what the
    /// application reads per RTT, up to [`Config::recv_window_max`].
    ///
    /// The default, 1 MiB, is sized for the start of a transfer, before
    /// the application has read anything that autotuning could measure:
    /// it holds what a sender at about 1 Gbit/s (a kernel peer on the
    /// same host, which slow start reaches within a few sub-millisecond
    /// round trips) delivers in 10 ms, the time a reading thread may wait
    /// for a CPU on a busy machine — the interval autotuning sizes the
    /// buffer for later on. A 256 KiB buffer (twice Linux's `tcp_rmem[1]`)
    /// was filled at the start of 3–6% of downloads from a local kernel
    /// server on a loaded machine, where the reader waited up to 4 ms
    /// for a CPU after the response head: the sender reached the right
    /// edge of the window ("window full", sometimes a zero window).
    /// Linux's own receiver, starting from a 64 KiB window, is pushed to
    /// the edge more often under the same load. A capacity costs no
    /// memory until bytes are held, and the most a connection can hold
    /// stays what `recv_buffer_max` allows (or this, if larger).
    ///
    /// Linux starts from `tcp_rmem[1]`, 128 KiB of memory, and advertises
    /// half of it until it has measured its ratio, rounded down to whole
    /// segments: its SYN offers 64,240 (44 of 1460), its SYN-ACK 65,160
    /// (45 of 1448), with scale 7 for 6 MiB, and its window then grows
    /// with every segment received. tunstack's SYN and SYN-ACK offer
    /// 65,535 with the same scale (a SYN's window is never scaled; the
    /// difference is under 2% of a window no peer can fill in its first
    /// round trip of 10 segments), and its first ACK the whole 1 MiB, for
    /// the reason above.
    pub recv_buffer: usize,
    /// Largest receive buffer autotuning may reach, in bytes of memory
    /// as Linux's `tcp_rmem[2]` (default 6 MiB, the kernel's): the window
    /// grows to at most [`window_from_space`] of it, 5/8 (3.75 MiB), the
    /// window Linux's receiver advertises from the same memory at MTU
    /// 1500, where each 1448-byte segment costs about 2.3 KB of buffer.
    /// Counted as payload, the same 6 MiB opened a window 1.6 times
    /// Linux's, and a window past the path's BDP plus its queue lets a
    /// BBR sender in STARTUP overfill the queue (at 1 Gbit/s and 100 ms,
    /// 17.9k drops and 0.66× of Linux's receiver, against 1.00× with
    /// Linux's window). The window scale offered in the SYN is chosen for
    /// this memory, as Linux chooses it for `tcp_rmem[2]`.
    pub recv_buffer_max: usize,
    /// Grow both buffers with the path (Linux `tcp_moderate_rcvbuf` and
    /// send-buffer expansion). Off: the buffers keep `send_buffer` and
    /// `recv_buffer`, and the window scale fits `recv_buffer`. Per socket,
    /// setting a buffer size turns it off for that buffer.
    pub buffer_autotuning: bool,
    /// RTO before any RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound on the RTO (Linux: 200 ms).
    pub min_rto: Duration,
    /// Upper bound on the RTO (Linux: 120 s).
    pub max_rto: Duration,
    /// SYN retransmissions of an active open (and SYN-ACKs of a simultaneous
    /// open) before giving up (Linux `tcp_syn_retries`: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions of a passive open before giving up (Linux
    /// `tcp_synack_retries`: 5).
    pub synack_retries: u32,
    /// Data retransmissions before giving up (Linux `tcp_retries2`: 15),
    /// as Linux counts them: a time budget from the first retransmission,
    /// what this many take with the RTO doubling from `min_rto` to
    /// `max_rto` (924.6 s for 15), so fewer when the RTO starts higher.
    /// Also the limit on unanswered zero-window probes.
    pub data_retries: u32,
    /// TIME-WAIT duration, 2·MSL (Linux: 60 s).
    pub time_wait: Duration,
    /// How long FIN-WAIT-2 may last once the application has closed the
    /// connection (Linux `tcp_fin_timeout`: 60 s).
    pub fin_timeout: Duration,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer timestamps: RTTM and PAWS (RFC 7323 §3–§5).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Most challenge ACKs sent per second per connection (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// Least time between two duplicate ACKs answering out-of-window (or
    /// PAWS-rejected) segments without data, so two endpoints that
    /// disagree about the sequence space do not ping-pong ACKs forever
    /// (Linux `tcp_invalid_ratelimit`: 500 ms). Segments carrying data
    /// are always answered. Zero disables the limit.
    pub invalid_ratelimit: Duration,
    /// Delayed-ACK timeout (RFC 1122 §4.2.3.2; Linux: 40 ms). An ACK still
    /// goes out for every second full-sized segment. Zero disables delay.
    pub delayed_ack: Duration,
    /// Nagle's algorithm (RFC 1122 §4.2.3.4, Minshall's variant as in
    /// Linux); `set_nodelay` turns it off per connection.
    pub nagle: bool,
    /// Keepalive idle time (RFC 1122 §4.2.3.6), at least 1 s as Linux
    /// takes it (so is `keepalive_interval`); `None` (the default) is off.
    pub keepalive: Option<Duration>,
    /// Interval between unanswered keepalive probes (Linux: 75 s).
    pub keepalive_interval: Duration,
    /// Unanswered probes before the connection times out (Linux: 9).
    pub keepalive_probes: u32,
    /// User timeout (RFC 9293 §3.10.8, RFC 5482): fail the connection when
    /// sent data stays unacknowledged this long. `None` uses the retry limit.
    pub user_timeout: Option<Duration>,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_window: u32,
    /// Congestion-control algorithm (BBR by default); per connection
    /// with [`Tcb::set_congestion_control`].
    pub congestion: Algorithm,
    /// Most separate out-of-order ranges held for reassembly; segments that
    /// would open another hole are dropped (and counted), and the sender
    /// must resend them. Random loss makes few holes (1% of a 6 MiB window
    /// of 4,300 segments: 43), but a tail-drop queue overflowing under a
    /// sender in slow start or BBR's STARTUP drops up to every other
    /// segment of a flight: at 50 ms and 100 Mbit/s the survivors of one
    /// overshoot formed 325–438 ranges on the wire, where a limit of 128
    /// turned hundreds of received segments into losses. 4096 holds one
    /// range per two full-sized segments of a 6 MiB window (2,170) with
    /// room to spare, and the default window stops at 3.75 MiB; Linux
    /// bounds its out-of-order queue by memory only.
    pub max_ooo_ranges: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mss: 1460,
            send_buffer: 256 * 1024,
            send_buffer_max: 4 << 20,
            recv_buffer: 1 << 20,
            recv_buffer_max: 6 << 20,
            buffer_autotuning: true,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            time_wait: Duration::from_secs(60),
            fin_timeout: Duration::from_secs(60),
            window_scaling: true,
            timestamps: true,
            sack: true,
            challenge_ack_limit: 10,
            invalid_ratelimit: Duration::from_millis(500),
            delayed_ack: Duration::from_millis(40),
            nagle: true,
            keepalive: None,
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            user_timeout: None,
            initial_window: 10,
            congestion: Algorithm::Bbr,
            max_ooo_ranges: 4096,
        }
    }
}

impl Config {
    /// The largest receive window autotuning may open:
    /// [`window_from_space`] of `recv_buffer_max`.
    pub fn recv_window_max(&self) -> usize {
        window_from_space(self.recv_buffer_max)
    }
}

/// Why a connection ended abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionError {
    /// RST in answer to our SYN (RFC 9293 §3.10.7.3).
    Refused,
    /// RST received on a synchronized connection.
    Reset,
    /// Retransmissions exhausted (RFC 9293 §3.8.3 R2, RFC 1122 §4.2.3.5).
    TimedOut,
    /// The local user aborted the connection.
    Aborted,
    /// An ICMP unreachable ended the handshake, or the connection timed out
    /// after ICMP reported the destination unreachable (RFC 5927 §4.1).
    Unreachable,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionError::Refused => "connection refused",
            ConnectionError::Reset => "connection reset by peer",
            ConnectionError::TimedOut => "connection timed out",
            ConnectionError::Aborted => "connection aborted",
            ConnectionError::Unreachable => "destination unreachable",
        })
    }
}

/// An ICMP error about one of this connection's segments (RFC 5927).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    /// Protocol or port unreachable: hard (RFC 1122 §4.2.3.9).
    PortUnreachable,
    /// Fragmentation needed; the next-hop MTU (RFC 1191), 0 if unknown.
    FragmentationNeeded(u16),
    /// Net or host unreachable and similar: soft.
    Unreachable,
    /// Time exceeded, parameter problem: soft.
    Other,
}

/// Result of [`Tcb::send`] that moved no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The send buffer is full; retry after ACKs free space.
    WouldBlock,
    /// The sending side was closed by `close`/`shutdown` (EPIPE).
    Closed,
    /// The connection is not open (never connected or already closed).
    NotConnected,
    /// The connection failed.
    Failed(ConnectionError),
}

/// Result of [`Tcb::recv`] that moved no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The receive buffer is empty and the peer may still send.
    WouldBlock,
    /// The connection is not open (still connecting).
    NotConnected,
    /// The connection failed.
    Failed(ConnectionError),
}
