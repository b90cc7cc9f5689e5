//! Core tests: synthetic segments in, segments out, time moved by hand.
//! One file per state or mechanism; names are `<state>_<event>_<outcome>`
//! and cite the RFC section they check.

/// `send!(tcb, now, segment)`: the remote sends `segment` at `now`.
macro_rules! send {
    ($tcb:expr, $now:expr, $seg:expr) => {
        $crate::tcp::tests::send(&mut $tcb, $now, &$seg)
    };
}

/// `recv!(tcb, now)`: exactly one segment comes out at `now` (returned);
/// `recv!(tcb, now, [a, b])`: exactly these segments' headers and payloads.
macro_rules! recv {
    ($tcb:expr, $now:expr) => {
        $crate::tcp::tests::recv_one(&mut $tcb, $now)
    };
    ($tcb:expr, $now:expr, [$($seg:expr),* $(,)?]) => {{
        let got = $crate::tcp::tests::recv(&mut $tcb, $now);
        let want: Vec<$crate::tcp::tests::Seg> = vec![$($seg),*];
        let strip = |v: &[$crate::tcp::tests::Seg]| v.iter().map(|s| (s.h, s.payload.clone())).collect::<Vec<_>>();
        assert_eq!(strip(&got), strip(&want));
    }};
}

/// `recv_nothing!(tcb, now)`: nothing to send at `now`.
macro_rules! recv_nothing {
    ($tcb:expr, $now:expr) => {
        $crate::tcp::tests::recv_nothing(&mut $tcb, $now)
    };
}

mod autotune;
mod bbr;
mod close;
mod congestion;
mod data;
mod delack;
mod edges;
mod events;
mod handshake;
mod options;
mod pacing;
mod posted;
mod probes;
mod reasons;
mod receiver;
mod recovery;
mod rst;
mod rto;
mod sack;
mod states;
mod sws;
mod timers;
mod timestamps;
mod tso;
mod undo;
mod urgent;
mod window;

use super::*;
use crate::time::{Duration, Instant};
use crate::wire::{Flags, SeqNumber, TcpHeader, TcpOptions, TcpSegment};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 49500);
pub const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
/// Chosen so sequence arithmetic wraps during the tests.
pub const LOCAL_ISS: SeqNumber = SeqNumber(0xffff_ff00);
pub const REMOTE_ISS: SeqNumber = SeqNumber(0xffff_fff0);

pub fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Fixed 64 KiB buffers (autotuning has its own tests in `autotune.rs`);
/// ACKs not delayed so each test sees the ACK its segment causes (delayed
/// ACKs have their own tests in `timers.rs`); CUBIC, whose window
/// arithmetic (no pacing, ssthresh, slow start) the core tests assert —
/// BBR has its own tests in `bbr/`.
pub fn cfg() -> Config {
    Config {
        congestion: Algorithm::Cubic,
        send_buffer: 64 * 1024,
        recv_buffer: 64 * 1024,
        buffer_autotuning: false,
        delayed_ack: Duration::ZERO,
        ..Config::default()
    }
}

/// A segment the remote sends, with owned payload.
#[derive(Clone, Debug)]
pub struct Seg {
    pub h: TcpHeader,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn view(&self) -> TcpSegment<'_> {
        TcpSegment {
            header: self.h,
            payload: &self.payload,
        }
    }
}

/// A remote segment with ACK set: `seg(seq, ack, flags, payload)`.
pub fn seg(seq: SeqNumber, ack: SeqNumber, flags: Flags, payload: &[u8]) -> Seg {
    Seg {
        h: TcpHeader {
            src_port: REMOTE.port(),
            dst_port: LOCAL.port(),
            seq,
            ack,
            flags,
            window: 65535,
            urgent: 0,
            options: TcpOptions::default(),
        },
        payload: payload.to_vec(),
    }
}

pub fn send(tcb: &mut Tcb, now: Instant, s: &Seg) {
    tcb.on_segment(now, &s.view());
}

/// Everything the TCB wants to send at `now`.
pub fn recv(tcb: &mut Tcb, now: Instant) -> Vec<Seg> {
    let mut out = Vec::new();
    while let Some(tx) = tcb.poll_transmit(now) {
        let mut payload = vec![0u8; tx.payload_len];
        assert_eq!(tcb.copy_payload(&tx, &mut payload), tx.payload_len);
        out.push(Seg {
            h: tx.header,
            payload,
        });
        assert!(out.len() < 10_000, "poll_transmit never returned None");
    }
    out
}

/// Exactly one segment out.
pub fn recv_one(tcb: &mut Tcb, now: Instant) -> Seg {
    let mut v = recv(tcb, now);
    assert_eq!(v.len(), 1, "expected one segment, got {v:#?}");
    v.remove(0)
}

pub fn recv_nothing(tcb: &mut Tcb, now: Instant) {
    let v = recv(tcb, now);
    assert!(v.is_empty(), "expected nothing, got {v:#?}");
}

pub fn syn_sent_with(cfg: &Config) -> Tcb {
    let mut tcb = Tcb::connect(cfg, LOCAL, REMOTE, LOCAL_ISS);
    let syn = recv_one(&mut tcb, t(0));
    assert_eq!(syn.h.flags, Flags::SYN);
    tcb
}

pub fn syn_sent() -> Tcb {
    syn_sent_with(&cfg())
}

/// ESTABLISHED under `cfg` with timestamps and SACK negotiated (three
/// SACK blocks per ACK); the peer's TSval is 1000, its MSS 1460, wscale 7.
pub fn established_ts_sack_with(cfg: &Config) -> Tcb {
    let mut tcb = syn_sent_with(cfg);
    let mut sa = syn_ack(Some(7));
    sa.h.options.sack_permitted = true;
    sa.h.options.timestamp = Some((1000, 0));
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    tcb
}

/// SYN-ACK from the remote offering MSS 1460 and wscale `ws`.
pub fn syn_ack(ws: Option<u8>) -> Seg {
    let mut s = seg(REMOTE_ISS, LOCAL_ISS + 1u32, Flags::SYN | Flags::ACK, b"");
    s.h.options.mss = Some(1460);
    s.h.options.window_scale = ws;
    s
}

/// An active connection in ESTABLISHED, no window scaling, at t=10 ms.
pub fn established() -> Tcb {
    let mut tcb = syn_sent();
    send(&mut tcb, t(10), &syn_ack(None));
    let ack = recv_one(&mut tcb, t(10));
    assert_eq!(ack.h.flags, Flags::ACK);
    assert_eq!(tcb.state(), State::Established);
    tcb
}

/// [`established`], released by the application (an orphan), its FIN
/// sent at t=20 and acknowledged at t=30: FIN-WAIT-2.
pub fn orphan_fin_wait_2() -> Tcb {
    let mut tcb = established();
    tcb.release();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK, b""));
    assert_eq!(tcb.state(), State::FinWait2);
    tcb
}

/// [`established`] closed by us (FIN at t=20) and then by the peer (its
/// FIN, acknowledging ours, at t=30, answered): TIME-WAIT with RCV.NXT =
/// r(1).
pub fn time_wait() -> Tcb {
    let mut tcb = established();
    tcb.close();
    recv!(tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(1), Flags::ACK | Flags::FIN, b""));
    recv!(tcb, t(30));
    assert_eq!(tcb.state(), State::TimeWait);
    tcb
}

/// Takes 16 full segments from the peer at t=99 ms, each ACKed at once
/// (Linux's quick-ACK mode as data starts, `tcp_incr_quickack`) and read:
/// afterwards in-order data waits for the delayed-ACK rules. Returns the
/// peer's next byte offset.
pub fn past_quick_acks(tcb: &mut Tcb) -> u32 {
    let full = vec![1u8; 1460];
    let mut buf = vec![0u8; 1460];
    for k in 0..16u32 {
        send(tcb, t(99), &seg(r(k * 1460), l(0), Flags::ACK, &full));
        assert_eq!(recv_one(tcb, t(99)).h.ack, r((k + 1) * 1460));
        assert_eq!(tcb.recv(&mut buf).unwrap(), 1460);
    }
    16 * 1460
}

/// Our next sequence number after the handshake (ISS + 1).
pub fn l(n: u32) -> SeqNumber {
    LOCAL_ISS + 1u32 + n
}

/// The remote's sequence number `n` bytes after its SYN.
pub fn r(n: u32) -> SeqNumber {
    REMOTE_ISS + 1u32 + n
}

/// A SYN from the remote to a listener.
pub fn remote_syn() -> Seg {
    let mut s = seg(REMOTE_ISS, SeqNumber(0), Flags::SYN, b"");
    s.h.options.mss = Some(1400);
    s.h.options.window_scale = Some(7);
    s
}

/// A passive connection after SYN / SYN-ACK, in SYN-RECEIVED.
pub fn syn_received() -> Tcb {
    let syn = remote_syn();
    let mut tcb = Tcb::accept(&cfg(), LOCAL, REMOTE, LOCAL_ISS, &syn.view(), t(0));
    let sa = recv_one(&mut tcb, t(0));
    assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK);
    tcb
}
