//! Why a segment was sent — carried with every [`Transmit`](super::Transmit)
//! so a pcapng capture (or a trace) can explain each packet:
//! "retransmission #2, RTO 400 ms", "challenge ACK (RFC 5961)",
//! "zero-window probe", "window update".

use core::fmt;

/// Why a bare ACK is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum AckReason {
    /// Acknowledging in-order data or a FIN.
    #[default]
    Data,
    /// The delayed-ACK timer fired (RFC 1122 §4.2.3.2).
    Delayed,
    /// A segment outside the window or a duplicate (RFC 9293 §3.10.7.4).
    Unacceptable,
    /// Out-of-order data: a duplicate ACK for the sender (RFC 5681 §4.2).
    OutOfOrder,
    /// Reading opened the receive window (RFC 9293 §3.8.6.2.2).
    WindowUpdate,
    /// A challenge ACK (RFC 5961 §3–§5).
    Challenge,
}

/// Why a segment is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// SYN (or SYN-ACK), with the retransmission count.
    Syn {
        /// SYN-ACK rather than SYN.
        ack: bool,
        /// 0 for the first transmission.
        retry: u32,
    },
    /// New data (possibly with our FIN).
    Data,
    /// A bare FIN: we have nothing more to send (RFC 9293 §3.10.4 CLOSE).
    Fin,
    /// Resent after a retransmission timeout (RFC 6298 §5).
    Retransmit {
        /// Consecutive timeouts so far.
        count: u32,
        /// The RTO now in force, in milliseconds.
        rto_ms: u64,
    },
    /// Fast retransmit / NewReno partial ACK (RFC 5681 §3.2, RFC 6582).
    FastRetransmit,
    /// A lost segment resent during SACK recovery (RFC 6675, losses marked
    /// by RACK, RFC 8985 §6).
    SackRetransmit,
    /// A tail loss probe (RFC 8985 §7): new data, or the last segment again.
    LossProbe,
    /// One byte into a zero window (RFC 9293 §3.8.6.1).
    ZeroWindowProbe,
    /// A keepalive probe (RFC 1122 §4.2.3.6).
    KeepAlive,
    /// A bare ACK.
    Ack(AckReason),
    /// RST answering an unacceptable ACK during the handshake.
    ResetReply,
    /// RST because the user aborted the connection.
    Abort,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Syn {
                ack: false,
                retry: 0,
            } => f.write_str("SYN: active open, our ISN and options"),
            Reason::Syn {
                ack: true,
                retry: 0,
            } => f.write_str("SYN-ACK: passive open, our ISN and options"),
            Reason::Syn { ack, retry } => {
                write!(
                    f,
                    "{} retransmission #{retry}",
                    if *ack { "SYN-ACK" } else { "SYN" }
                )
            }
            Reason::Data => f.write_str("new data"),
            Reason::Fin => f.write_str("FIN: no more data from us"),
            Reason::Retransmit { count, rto_ms } => {
                write!(f, "retransmission #{count}, RTO {rto_ms} ms")
            }
            Reason::FastRetransmit => f.write_str("fast retransmit (3 duplicate ACKs)"),
            Reason::SackRetransmit => {
                f.write_str("retransmission of a segment SACK and RACK found lost")
            }
            Reason::LossProbe => f.write_str("tail loss probe (RFC 8985)"),
            Reason::ZeroWindowProbe => f.write_str("zero-window probe"),
            Reason::KeepAlive => f.write_str("keepalive probe"),
            Reason::Ack(AckReason::Data) => f.write_str("ACK"),
            Reason::Ack(AckReason::Delayed) => f.write_str("delayed ACK (timer)"),
            Reason::Ack(AckReason::Unacceptable) => f.write_str("ACK for an unacceptable segment"),
            Reason::Ack(AckReason::OutOfOrder) => {
                f.write_str("duplicate ACK for out-of-order data")
            }
            Reason::Ack(AckReason::WindowUpdate) => f.write_str("window update"),
            Reason::Ack(AckReason::Challenge) => f.write_str("challenge ACK (RFC 5961)"),
            Reason::ResetReply => f.write_str("RST: unacceptable ACK during the handshake"),
            Reason::Abort => f.write_str("RST: connection aborted"),
        }
    }
}
