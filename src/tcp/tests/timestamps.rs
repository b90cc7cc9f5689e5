//! Timestamp bookkeeping on both kinds of open (RFC 7323 §4.3, §5.3):
//! TS.Recent is taken only from a segment with SEG.SEQ ≤ Last.ACK.sent,
//! so an out-of-order segment never moves it and the segment that fills
//! the hole passes PAWS. Every test runs with our ISS and the peer's ISS
//! in both halves of sequence space and near 2^32, because a wrapping
//! compare against a value never set from the handshake goes one way or
//! the other depending on where the ISNs fall.

use super::*;

/// ISNs at the bottom and top of both halves of sequence space; the last
/// ones wrap (past 2^31 and past 2^32) within the first few hundred bytes.
const ISNS: [u32; 5] = [
    0x0000_1000,
    0x8000_1000,
    0x7fff_ff80,
    0xffff_ff80,
    0xffff_ffff,
];

/// The peer's TSval in its SYN.
const TS_SYN: u32 = 100;
/// The peer's TSval in the ACK that completes the handshake.
const TS_ACK: u32 = 101;

fn ts(mut s: Seg, val: u32, ecr: u32) -> Seg {
    s.h.options.timestamp = Some((val, ecr));
    s
}

fn tsecr(s: &Seg) -> u32 {
    s.h.options.timestamp.expect("timestamps negotiated").1
}

/// Both ISNs of one passive connection.
#[derive(Clone, Copy, Debug)]
struct Isns {
    ours: SeqNumber,
    peer: SeqNumber,
}

impl Isns {
    /// Every combination of [`ISNS`].
    fn all() -> Vec<Isns> {
        ISNS.iter()
            .flat_map(|&o| {
                ISNS.iter().map(move |&p| Isns {
                    ours: SeqNumber(o),
                    peer: SeqNumber(p),
                })
            })
            .collect()
    }

    /// The peer's sequence number `n` bytes after its SYN.
    fn r(&self, n: u32) -> SeqNumber {
        self.peer + 1u32 + n
    }

    /// Our sequence number `n` bytes after our SYN.
    fn l(&self, n: u32) -> SeqNumber {
        self.ours + 1u32 + n
    }

    /// A segment from the peer with ACK set.
    fn seg(&self, seq: SeqNumber, payload: &[u8], val: u32, ecr: u32) -> Seg {
        ts(seg(seq, self.l(0), Flags::ACK, payload), val, ecr)
    }
}

/// A passive connection with timestamps and SACK: the peer's SYN (TSval
/// [`TS_SYN`]) and our SYN-ACK, at t=0. Returns the TCB and our SYN-ACK's
/// TSval.
fn syn_received(c: &Config, i: Isns) -> (Tcb, u32) {
    let mut syn = seg(i.peer, SeqNumber(0), Flags::SYN, b"");
    syn.h.options.mss = Some(1460);
    syn.h.options.window_scale = Some(7);
    syn.h.options.sack_permitted = true;
    syn.h.options.timestamp = Some((TS_SYN, 0));
    let mut tcb = Tcb::accept(c, LOCAL, REMOTE, i.ours, &syn.view(), t(0));
    let sa = recv_one(&mut tcb, t(0));
    assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK, "{i:x?}");
    assert_eq!(sa.h.ack, i.r(0), "{i:x?}");
    let (val, ecr) = sa.h.options.timestamp.expect("SYN-ACK timestamps");
    assert_eq!(ecr, TS_SYN, "{i:x?}");
    (tcb, val)
}

/// [`syn_received`] plus the peer's handshake ACK (TSval [`TS_ACK`]) at
/// t=1 ms: ESTABLISHED, nothing to send.
fn established(c: &Config, i: Isns) -> (Tcb, u32) {
    let (mut tcb, our_ts) = syn_received(c, i);
    send(&mut tcb, t(1), &i.seg(i.r(0), b"", TS_ACK, our_ts));
    assert_eq!(tcb.state(), State::Established, "{i:x?}");
    recv_nothing(&mut tcb, t(1));
    (tcb, our_ts)
}

#[test]
fn passive_handshake_ack_timestamp_becomes_ts_recent() {
    // RFC 7323 §4.3 (2): the handshake ACK has SEG.SEQ = Last.ACK.sent
    // (the SYN-ACK acknowledged RCV.NXT), so its TSval is the one to echo.
    for i in Isns::all() {
        let (mut tcb, _) = syn_received(&cfg(), i);
        send(&mut tcb, t(1), &i.seg(i.r(0), b"", 5000, 0));
        tcb.send(b"hi").unwrap();
        let data = recv_one(&mut tcb, t(2));
        assert_eq!(data.payload, b"hi", "{i:x?}");
        assert_eq!(tsecr(&data), 5000, "{i:x?}");
    }
}

#[test]
fn passive_first_data_with_newer_tsval_is_echoed() {
    // Issue scenario (b): data right after the handshake with a TSval well
    // ahead of the handshake ACK's must be echoed, not the old one.
    let newer = TS_ACK + 1_000_000;
    for i in Isns::all() {
        let (mut tcb, our_ts) = established(&cfg(), i);
        send(&mut tcb, t(2), &i.seg(i.r(0), &[1; 100], newer, our_ts));
        assert_eq!(tcb.recv_queue(), 100, "{i:x?}");
        let ack = recv_one(&mut tcb, t(2));
        assert_eq!(ack.h.ack, i.r(100), "{i:x?}");
        assert_eq!(tsecr(&ack), newer, "{i:x?}");
        // The echo of that data carries it too.
        let mut buf = [0u8; 100];
        assert_eq!(tcb.recv(&mut buf).unwrap(), 100);
        tcb.send(&buf).unwrap();
        let echo = recv_one(&mut tcb, t(3));
        assert_eq!(echo.payload.len(), 100, "{i:x?}");
        assert_eq!(tsecr(&echo), newer, "{i:x?}");
    }
}

#[test]
fn passive_out_of_order_segments_do_not_move_ts_recent() {
    // RFC 7323 §4.3: a segment beyond RCV.NXT (SEG.SEQ > Last.ACK.sent)
    // leaves TS.Recent alone, however new its TSval; its duplicate ACK
    // echoes the last in-order segment's.
    for i in Isns::all() {
        let (mut tcb, our_ts) = established(&cfg(), i);
        for k in 1..=3u32 {
            send(
                &mut tcb,
                t(1 + u64::from(k)),
                &i.seg(i.r(200 * k), &[2; 100], TS_ACK + 10 * k, our_ts),
            );
            let dup = recv_one(&mut tcb, t(1 + u64::from(k)));
            assert_eq!(dup.h.ack, i.r(0), "{i:x?} k={k}");
            assert_eq!(tsecr(&dup), TS_ACK, "{i:x?} k={k}");
            assert!(dup.h.options.sack_blocks[0].is_some(), "{i:x?} k={k}");
        }
        assert_eq!(tcb.stats().paws_rejected, 0, "{i:x?}");
    }
}

#[test]
fn passive_reordered_first_segment_passes_paws_and_is_delivered() {
    // Issue scenario (a): the peer's 2nd segment (TSval T+1), then its 1st
    // (TSval T), then its 3rd (T+2). The 1st must pass PAWS because the
    // 2nd never became TS.Recent; the ACK for the filled hole echoes T.
    const T: u32 = TS_ACK + 10;
    for i in Isns::all() {
        let (mut tcb, our_ts) = established(&cfg(), i);
        send(&mut tcb, t(2), &i.seg(i.r(100), &[2; 100], T + 1, our_ts));
        let dup = recv_one(&mut tcb, t(2));
        assert_eq!((dup.h.ack, tsecr(&dup)), (i.r(0), TS_ACK), "{i:x?}");

        send(&mut tcb, t(3), &i.seg(i.r(0), &[1; 100], T, our_ts));
        assert_eq!(tcb.stats().paws_rejected, 0, "{i:x?}");
        assert_eq!(tcb.recv_queue(), 200, "{i:x?}");
        let ack = recv_one(&mut tcb, t(3));
        assert_eq!((ack.h.ack, tsecr(&ack)), (i.r(200), T), "{i:x?}");

        send(&mut tcb, t(4), &i.seg(i.r(200), &[3; 100], T + 2, our_ts));
        assert_eq!(tcb.recv_queue(), 300, "{i:x?}");
        let ack = recv_one(&mut tcb, t(4));
        assert_eq!((ack.h.ack, tsecr(&ack)), (i.r(300), T + 2), "{i:x?}");
        let mut buf = [0u8; 300];
        assert_eq!(tcb.recv(&mut buf).unwrap(), 300);
        assert_eq!(&buf[..100], &[1; 100], "{i:x?}");
        assert_eq!(&buf[100..200], &[2; 100], "{i:x?}");
        assert_eq!(&buf[200..], &[3; 100], "{i:x?}");
    }
}

#[test]
fn passive_data_on_the_handshake_ack_updates_ts_recent() {
    // The ACK completing the handshake may carry data (and a newer TSval
    // than the SYN's): it is in order at Last.ACK.sent.
    for i in Isns::all() {
        let (mut tcb, our_ts) = syn_received(&cfg(), i);
        send(&mut tcb, t(1), &i.seg(i.r(0), &[1; 10], 7000, our_ts));
        assert_eq!(tcb.recv_queue(), 10, "{i:x?}");
        let ack = recv_one(&mut tcb, t(1));
        assert_eq!((ack.h.ack, tsecr(&ack)), (i.r(10), 7000), "{i:x?}");
    }
}

#[test]
fn active_segment_before_our_first_ack_does_not_move_ts_recent() {
    // The same rule on an active open: between the SYN-ACK and the ACK
    // that answers it (both handled before the next poll_transmit), a
    // segment beyond RCV.NXT must not become TS.Recent.
    for i in Isns::all() {
        let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, i.ours);
        let syn = recv_one(&mut tcb, t(0));
        let (our_ts, _) = syn.h.options.timestamp.expect("SYN timestamps");
        let mut sa = ts(
            seg(i.peer, i.l(0), Flags::SYN | Flags::ACK, b""),
            TS_SYN,
            our_ts,
        );
        sa.h.options.mss = Some(1460);
        sa.h.options.sack_permitted = true;
        send(&mut tcb, t(1), &sa);
        send(
            &mut tcb,
            t(1),
            &i.seg(i.r(100), &[2; 100], TS_SYN + 50, our_ts),
        );
        send(
            &mut tcb,
            t(1),
            &i.seg(i.r(0), &[1; 100], TS_SYN + 40, our_ts),
        );
        assert_eq!(tcb.stats().paws_rejected, 0, "{i:x?}");
        assert_eq!(tcb.recv_queue(), 200, "{i:x?}");
        let ack = recv_one(&mut tcb, t(1));
        assert_eq!((ack.h.ack, tsecr(&ack)), (i.r(200), TS_SYN + 40), "{i:x?}");
    }
}

#[test]
fn simultaneous_open_takes_ts_recent_from_the_completing_ack() {
    // SYN-SENT → SYN-RECEIVED (RFC 9293 §3.10.7.3): our SYN-ACK
    // acknowledges RCV.NXT, so the peer's ACK at RCV.NXT updates TS.Recent.
    for i in Isns::all() {
        let mut tcb = Tcb::connect(&cfg(), LOCAL, REMOTE, i.ours);
        recv_one(&mut tcb, t(0));
        let mut syn = ts(seg(i.peer, SeqNumber(0), Flags::SYN, b""), TS_SYN, 0);
        syn.h.options.mss = Some(1460);
        send(&mut tcb, t(1), &syn);
        assert_eq!(tcb.state(), State::SynReceived, "{i:x?}");
        let sa = recv_one(&mut tcb, t(1));
        assert_eq!(sa.h.flags, Flags::SYN | Flags::ACK, "{i:x?}");
        send(&mut tcb, t(2), &i.seg(i.r(0), b"", 9000, 0));
        assert_eq!(tcb.state(), State::Established, "{i:x?}");
        tcb.send(b"x").unwrap();
        let data = recv_one(&mut tcb, t(3));
        assert_eq!(tsecr(&data), 9000, "{i:x?}");
    }
}
