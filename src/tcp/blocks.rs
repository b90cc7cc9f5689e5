//! The parts of the transmission control block (RFC 9293 §3.3.1), one
//! structure per concern: the send and receive sequence spaces (figures 3
//! and 4, with the buffers they describe), the options the SYNs
//! negotiated (RFC 9293 §3.7.1 MSS, RFC 7323 window scale and timestamps,
//! RFC 2018 SACK-permitted), loss recovery and congestion control (RFC
//! 6675 scoreboard, RFC 6298 RTO, RFC 8985 RACK-TLP, RFC 6937 PRR, RFC
//! 5681/9438/BBR), and the set of control segments waiting to be sent.
//!
//! Field names follow the RFC's variables without their prefix:
//! `snd.una` is SND.UNA, `rcv.nxt` is RCV.NXT.

use super::{CongestionControl, RttEstimator};
use crate::buffer::{Assembler, RingBuffer};
use crate::time::Instant;
use crate::wire::SeqNumber;

/// Send sequence space (RFC 9293 §3.3.1, figure 3) and the send buffer.
#[derive(Debug)]
pub(super) struct Snd {
    /// ISS: our initial sequence number.
    pub(super) iss: SeqNumber,
    /// SND.UNA: oldest unacknowledged sequence number.
    pub(super) una: SeqNumber,
    /// SND.NXT: next sequence number to send.
    pub(super) nxt: SeqNumber,
    /// Highest sequence number sent so far (SND.NXT moves back on RTO).
    pub(super) max: SeqNumber,
    /// SND.WND: the peer's window, scaled.
    pub(super) wnd: u32,
    /// SND.WL1: segment sequence number of the last window update.
    pub(super) wl1: SeqNumber,
    /// SND.WL2: segment acknowledgment number of the last window update.
    pub(super) wl2: SeqNumber,
    /// Largest window the peer ever advertised (MAX.SND.WND, RFC 5961 §5).
    pub(super) max_wnd: u32,
    /// `max_wnd` when the send MSS was last sized (the handshake, a PMTU
    /// change), as Linux's `tcp_sync_mss` bounds it to half of that.
    pub(super) mss_wnd: u32,
    /// Unacknowledged and unsent data; `buf[0]` has sequence number
    /// SND.UNA once the SYN is acknowledged (ISS + 1 before).
    pub(super) buf: RingBuffer,
    /// Sequence number of our FIN, fixed when the user closes the sending
    /// side (no data can be queued after it).
    pub(super) fin: Option<SeqNumber>,
    /// Our SYN has been acknowledged.
    pub(super) syn_acked: bool,
    /// End of the last sub-MSS segment sent (Minshall's SND.SML).
    pub(super) sml: SeqNumber,
    /// Nagle's algorithm on (cleared by `set_nodelay(true)`).
    pub(super) nagle: bool,
    /// Largest payload of one transmitted segment when the device does TCP
    /// segmentation offload (0: none, segments are at most the MSS).
    pub(super) tso_max: usize,
}

impl Snd {
    pub(super) fn new(iss: SeqNumber, buffer: usize, nagle: bool) -> Snd {
        Snd {
            iss,
            una: iss,
            nxt: iss,
            max: iss,
            wnd: 0,
            wl1: SeqNumber(0),
            wl2: iss,
            max_wnd: 0,
            mss_wnd: 0,
            buf: RingBuffer::new(buffer),
            fin: None,
            syn_acked: false,
            sml: iss,
            nagle,
            tso_max: 0,
        }
    }
}

/// Receive sequence space (RFC 9293 §3.3.1, figure 4), the receive buffer
/// and the acknowledgment bookkeeping that depends on it.
#[derive(Debug)]
pub(super) struct Rcv {
    /// IRS: the peer's initial sequence number.
    pub(super) irs: SeqNumber,
    /// RCV.NXT: next sequence number expected.
    pub(super) nxt: SeqNumber,
    /// Window (bytes) in the last segment we sent.
    pub(super) wnd: u32,
    /// Right edge of the window we last advertised (RCV.NXT + window).
    pub(super) adv: SeqNumber,
    /// In-order data not yet read by the user.
    pub(super) buf: RingBuffer,
    /// Out-of-order ranges already written past the end of `buf`.
    pub(super) ooo: Assembler,
    /// Sequence number of a FIN that arrived before the data preceding it.
    pub(super) fin_pending: Option<SeqNumber>,
    /// The peer's FIN has been received (in order).
    pub(super) fin: bool,
    /// The local user has shut down the reading side.
    pub(super) shutdown: bool,
    /// In-order bytes received since the last ACK we sent (delayed ACK).
    pub(super) unacked: usize,
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
    /// ACKs still to be sent at once for in-order full-sized data (Linux's
    /// quick-ACK count, `icsk_ack.quick`): set when data starts to flow, so
    /// a sender in slow start gets an ACK for every segment instead of
    /// waiting for the delayed-ACK timer on an odd one; each ACK sent
    /// takes one.
    pub(super) quick: u8,
    /// When in-order data last arrived (Linux's `lrcvtime`): data of ours
    /// leaving within the delayed-ACK time of it answers it, which makes
    /// the connection interactive even when the request's ACK already
    /// left on its own (see `pingpong`).
    pub(super) data_at: Option<Instant>,
    /// The delayed-ACK timeout as it adapts to the gaps between the
    /// peer's segments (Linux's `icsk_ack.ato`; zero before any data):
    /// see `Tcb::update_ato`.
    pub(super) ato: crate::time::Duration,
    /// In-order data was just dropped for want of buffer space: the next
    /// ACK advertises the space really free, even if that shrinks the
    /// window (Linux's `ICSK_ACK_NOMEM`).
    pub(super) nomem: bool,
    /// A waiting reader's buffer for direct delivery (`posted.rs`).
    pub(super) posted: Option<super::posted::Posted>,
    /// Largest segment payload seen from the peer (estimated RCV.MSS).
    pub(super) mss: usize,
    /// Start of the current challenge-ACK rate-limit window and the count
    /// sent in it (RFC 5961 §7).
    pub(super) challenge_window: (Instant, u32),
}

impl Rcv {
    pub(super) fn new(buffer: usize, max_ooo_ranges: usize) -> Rcv {
        Rcv {
            irs: SeqNumber(0),
            nxt: SeqNumber(0),
            wnd: 0,
            adv: SeqNumber(0),
            buf: RingBuffer::new(buffer),
            ooo: Assembler::new(max_ooo_ranges),
            fin_pending: None,
            fin: false,
            shutdown: false,
            unacked: 0,
            ack_on_drain: false,
            pingpong: false,
            quick: 0,
            data_at: None,
            ato: crate::time::Duration::ZERO,
            nomem: false,
            posted: None,
            // RFC 9293 §3.7.1: without an MSS option assume 536.
            mss: 536,
            challenge_window: (Instant::ZERO, 0),
        }
    }
}

/// What the SYNs negotiated (RFC 9293 §3.7.1, RFC 7323, RFC 2018) and the
/// timestamp state that follows from it (RFC 7323 §4).
#[derive(Debug)]
pub(super) struct Negotiated {
    /// Effective send MSS: min(peer's MSS, our MSS).
    pub(super) snd_mss: usize,
    /// Shift applied to the peer's window field (RFC 7323 §2.2).
    pub(super) snd_wscale: u8,
    /// Shift applied to the window we advertise.
    pub(super) rcv_wscale: u8,
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
}

impl Negotiated {
    pub(super) fn new(iss: SeqNumber, rcv_wscale: u8) -> Negotiated {
        Negotiated {
            // RFC 9293 §3.7.1: without an MSS option assume 536.
            snd_mss: 536,
            snd_wscale: 0,
            rcv_wscale,
            wscale_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_offset: iss.0.rotate_left(13) ^ 0x5bd1_e995,
            ts_recent: 0,
            ts_recent_at: Instant::ZERO,
            last_ack_sent: SeqNumber(0),
        }
    }
}

/// Loss detection and recovery, RTT estimation and congestion control.
#[derive(Debug)]
pub(super) struct Loss {
    /// What the peer has SACKed above SND.UNA (RFC 6675 scoreboard).
    pub(super) scoreboard: super::sack::Scoreboard,
    /// Transmit times of outstanding segments and RACK state (RFC 8985).
    pub(super) rack: super::rack::Rack,
    /// Tail loss probe state (RFC 8985 §7).
    pub(super) tlp: super::tlp::Tlp,
    /// PRR state while a loss-based algorithm is in fast recovery (RFC 6937).
    pub(super) prr: Option<super::prr::Prr>,
    /// Recovery point (RFC 6582 "recover"), `Some` while in fast recovery.
    pub(super) recover: Option<SeqNumber>,
    /// SND.MAX when the last RTO fired: no fast recovery until SND.UNA
    /// passes it (RFC 6582 §3.2 step 2).
    pub(super) rto_recover: Option<SeqNumber>,
    /// Duplicate ACKs in a row (RFC 5681 §3.2).
    pub(super) dup_acks: u32,
    /// What undoing the last loss episode's reduction needs (`undo.rs`).
    pub(super) undo: super::undo::Undo,
    /// Resending after an RTO.
    pub(super) retransmitting: bool,
    /// After an RTO with SACK (and no reneging): only the segments marked
    /// lost are resent, within cwnd − pipe, until SND.UNA passes
    /// `rto_recover` (Linux's CA_Loss with `tcp_xmit_retransmit_queue`).
    /// Without SACK, or when the peer reneged, the RTO goes back N.
    pub(super) rto_holes: bool,
    /// F-RTO (RFC 5682 §3.1, SACK-enhanced, as Linux's `tp->frto`): while
    /// repairing an RTO's holes, an ACK of original data sent before the
    /// timeout proves it spurious and undoes it.
    pub(super) frto: bool,
    /// Sequence number being timed and when it was sent (one sample per RTT).
    pub(super) rtt_probe: Option<(SeqNumber, Instant)>,
    /// SRTT, RTTVAR and RTO (RFC 6298).
    pub(super) rtt: RttEstimator,
    /// The congestion controller (NewReno, CUBIC or BBR).
    pub(super) cc: CongestionControl,
    /// Delivery-rate sampler (fed only while BBR is the algorithm).
    pub(super) rate: super::rate::RateSampler,
    /// Pacing budget (used while the algorithm sets a pacing rate).
    pub(super) pacer: super::output::Pacer,
    /// Sending was limited by cwnd since the last ACK.
    pub(super) cwnd_limited: bool,
    /// Data waited for the peer's window since the last ACK (Linux's
    /// `tcp_snd_wnd_test` failed; shown in BBR's per-round trace).
    pub(super) rwnd_limited: bool,
}

impl Loss {
    pub(super) fn new(cfg: &super::Config, iss: SeqNumber) -> Loss {
        let mss = usize::from(cfg.mss.max(64));
        let mut cc = CongestionControl::new(cfg.congestion, mss.min(536), cfg.initial_window);
        cc.set_seed(u64::from(iss.0));
        Loss {
            // As many ranges as RACK keeps records (a range per two).
            scoreboard: super::sack::Scoreboard::new(super::rack::MAX_SEGMENTS / 2),
            rack: super::rack::Rack::new(iss),
            tlp: super::tlp::Tlp::default(),
            prr: None,
            recover: None,
            rto_recover: None,
            dup_acks: 0,
            undo: super::undo::Undo::default(),
            retransmitting: false,
            rto_holes: false,
            frto: false,
            rtt_probe: None,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            cc,
            rate: super::rate::RateSampler::default(),
            pacer: super::output::Pacer::default(),
            cwnd_limited: false,
            rwnd_limited: false,
        }
    }
}

/// A control segment (or segment-sending action) waiting for the next
/// `poll_transmit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Control {
    /// A bare ACK or window update.
    Ack = 1,
    /// A RST for the current connection (ABORT).
    Rst = 2,
    /// A zero-window probe, or one new segment beyond the window.
    Probe = 4,
    /// A keepalive probe (RFC 9293 §3.8.4).
    Keepalive = 8,
    /// Resend the first unacknowledged segment at once (fast retransmit
    /// or a partial ACK).
    FastRetransmit = 16,
    /// Resend the first unacknowledged segment because the retransmission
    /// timer fired (RFC 6298 §5.4), whatever cwnd says.
    RtoRetransmit = 32,
}

/// The controls waiting to be sent, as one set, with the details some of
/// them carry.
#[derive(Debug, Default)]
pub(super) struct Pending {
    set: u8,
    /// Why the pending bare ACK is sent (the most specific reason wins).
    pub(super) ack_reason: super::AckReason,
    /// RST answering an unacceptable ACK during the handshake
    /// (RFC 9293 §3.10.7.3): `<SEQ=SEG.ACK><CTL=RST>`.
    pub(super) rst_reply: Option<SeqNumber>,
    /// RST answering a segment without ACK: `<SEQ=0><ACK=this><CTL=RST,ACK>`.
    pub(super) rst_ack_reply: Option<SeqNumber>,
    /// A duplicate segment to report in the next ACK's first SACK block
    /// (D-SACK, RFC 2883 §4).
    pub(super) dsack: Option<(SeqNumber, SeqNumber)>,
}

impl Pending {
    /// True when `c` is pending.
    pub(super) fn has(&self, c: Control) -> bool {
        self.set & c as u8 != 0
    }

    /// Marks `c` pending.
    pub(super) fn add(&mut self, c: Control) {
        self.set |= c as u8;
    }

    /// Clears `c`.
    pub(super) fn clear(&mut self, c: Control) {
        self.set &= !(c as u8);
    }

    /// Clears `c`, returning whether it was pending.
    pub(super) fn take(&mut self, c: Control) -> bool {
        let was = self.has(c);
        self.clear(c);
        was
    }
}
