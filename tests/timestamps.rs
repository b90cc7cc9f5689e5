//! Timestamp bookkeeping on accepted connections, from the outside
//! (RFC 7323 §4.3, §5.3): a peer at 10.0.0.77 (or fd00::4d: each test
//! runs over both families, `NAME::v4` and `NAME::v6`) forges every segment on a
//! raw socket (tests/common/forge.rs, built with etherparse) and reads
//! tunstack's answers off tun0 with a packet socket, against an echo
//! server on the library's `TcpListener`.
//!
//! Each scenario runs on 8 fresh connections whose peer ISNs lie in both
//! halves of sequence space and across 2^31 and 2^32 (tunstack's own ISNs
//! are random): the TS.Recent rule compares the peer's sequence numbers
//! with Last.ACK.sent, so a Last.ACK.sent never set from the handshake
//! fails for about half of all ISNs.
//!
//! Every segment tunstack sends is checked by its acknowledgment number:
//! whatever acknowledges the same point of the stream echoes the same
//! TSval, the one of the segment that reached that point in order.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use forge::{Forge, Forger, Sniffed, Sniffer};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tunstack::TcpListener;

/// The peer's host number on tun0's subnet (10.0.0.77, fd00::4d): not the
/// kernel's, so the kernel's own TCP never answers tunstack's segments to
/// it.
const PEER: u8 = 77;
/// The echo server's port.
const PORT: u16 = 7;
/// Payload of each of the peer's data segments.
const L: u32 = 100;
/// Connections per scenario.
const RUNS: usize = 8;

/// One segment tunstack sent to the peer.
#[derive(Debug)]
struct Reply {
    seq: u32,
    ack: u32,
    syn: bool,
    rst: bool,
    ts: Option<(u32, u32)>,
    payload: Vec<u8>,
}

impl From<Sniffed> for Reply {
    fn from(s: Sniffed) -> Reply {
        Reply {
            seq: s.seq,
            ack: s.ack.unwrap_or(0),
            syn: s.syn,
            rst: s.rst,
            ts: s.timestamps(),
            payload: s.payload,
        }
    }
}

fn ts_option(val: u32, ecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&val.to_be_bytes());
    o.extend_from_slice(&ecr.to_be_bytes());
    o
}

/// The forged peer of one connection.
struct Peer<'a> {
    forger: &'a Forger,
    sniffer: &'a Sniffer,
    addr: SocketAddr,
    /// Our ISN and tunstack's.
    iss: u32,
    their_iss: u32,
    /// tunstack's latest TSval (what we echo).
    their_ts: u32,
    /// For each acknowledgment number (relative to `iss + 1`) that
    /// tunstack may send, the TSecr it must carry.
    expect: Vec<(u32, u32)>,
    /// Echoed bytes by offset from tunstack's ISN + 1.
    echoed: Vec<u8>,
    log: Vec<Reply>,
}

impl<'a> Peer<'a> {
    /// Handshake from `addr`: our SYN (TSval `ts_syn`, MSS,
    /// SACK-permitted, window scale), tunstack's SYN-ACK, our ACK (TSval
    /// `ts_ack`).
    fn connect(
        forger: &'a Forger,
        sniffer: &'a Sniffer,
        addr: SocketAddr,
        iss: u32,
        ts_syn: u32,
        ts_ack: u32,
    ) -> Peer<'a> {
        let mut p = Peer {
            forger,
            sniffer,
            addr,
            iss,
            their_iss: 0,
            their_ts: 0,
            expect: Vec::new(),
            echoed: Vec::new(),
            log: Vec::new(),
        };
        let mut syn = Forge::new(p.addr, PORT, iss);
        syn.syn = true;
        syn.options = vec![2, 4, 0x05, 0xb4, 4, 2];
        syn.options.extend_from_slice(&ts_option(ts_syn, 0)[2..]);
        syn.options.extend_from_slice(&[1, 3, 3, 7]);
        forger.send(&syn.bytes());
        let sa = p.wait("SYN-ACK", |_, r| r.syn && r.ack == iss.wrapping_add(1));
        let (val, ecr) = sa.ts.expect("timestamps in the SYN-ACK");
        assert_eq!(ecr, ts_syn, "the SYN-ACK echoes our SYN's TSval");
        p.their_iss = sa.seq;
        p.their_ts = val;
        // From here on, anything acknowledging only our SYN echoes the
        // handshake ACK's TSval (RFC 7323 §4.3: SEG.SEQ = Last.ACK.sent).
        p.expect.push((0, ts_ack));
        p.segment(0, b"", ts_ack);
        p
    }

    /// Sends `payload` at offset `off` of our stream with TSval `val`.
    fn segment(&self, off: u32, payload: &[u8], val: u32) {
        let mut s = Forge::new(self.addr, PORT, self.iss.wrapping_add(1 + off));
        s.ack = Some(self.their_iss.wrapping_add(1));
        s.options = ts_option(val, self.their_ts);
        s.payload = payload.to_vec();
        self.forger.send(&s.bytes());
    }

    /// Reads tunstack's segments until `done` accepts one (returned),
    /// checking every one against `expect` on the way.
    fn wait(&mut self, what: &str, mut done: impl FnMut(&Self, &Reply) -> bool) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(
                Instant::now() < deadline,
                "not within 5 s: {what} (peer ISN {:#010x}, tunstack ISN {:#010x}); tunstack sent:\n{:#?}",
                self.iss,
                self.their_iss,
                self.log
            );
            let to_peer = |s: &Sniffed| s.dst == self.addr && s.src.port() == PORT;
            let Some(r) = self
                .sniffer
                .next_matching(Duration::from_millis(20), to_peer)
            else {
                continue;
            };
            let r = Reply::from(r);
            assert!(!r.rst, "tunstack reset the connection: {r:?}");
            self.check(&r);
            if !r.syn && !r.payload.is_empty() {
                let off = r.seq.wrapping_sub(self.their_iss.wrapping_add(1)) as usize;
                assert!(off < 1 << 16, "data far outside what was echoed: {r:?}");
                let end = off + r.payload.len();
                if self.echoed.len() < end {
                    self.echoed.resize(end, 0);
                }
                self.echoed[off..end].copy_from_slice(&r.payload);
            }
            if let Some((val, _)) = r.ts {
                self.their_ts = val;
            }
            let ok = done(self, &r);
            self.log.push(r);
            if ok {
                return self.log.pop().expect("just pushed");
            }
        }
    }

    /// The TSecr rule: a segment acknowledging a point of our stream
    /// echoes the TSval of the segment that reached it in order.
    fn check(&self, r: &Reply) {
        if r.syn {
            return;
        }
        let acked = r.ack.wrapping_sub(self.iss.wrapping_add(1));
        let (_, ecr) = r.ts.expect("timestamps on every segment");
        match self.expect.iter().find(|(at, _)| *at == acked) {
            Some(&(_, want)) => assert_eq!(
                ecr, want,
                "TSecr of a segment acknowledging {acked} bytes (peer ISN {:#010x}, tunstack ISN {:#010x}): {r:?}; before:\n{:#?}",
                self.iss, self.their_iss, self.log
            ),
            None => panic!(
                "unexpected acknowledgment of {acked} bytes (peer ISN {:#010x}): {r:?}",
                self.iss
            ),
        }
    }

    /// Waits until `n` echoed bytes have arrived.
    fn wait_echo(&mut self, n: usize) {
        self.wait(&format!("{n} bytes echoed"), |p, _| p.echoed.len() >= n);
    }

    /// Ends the connection with a RST at our next sequence number.
    fn reset(&self, off: u32) {
        let mut rst = Forge::new(self.addr, PORT, self.iss.wrapping_add(1 + off));
        rst.rst = true;
        self.forger.send(&rst.bytes());
    }
}

/// Peer ISNs: both halves of sequence space, just below 2^31 and 2^32
/// (the stream crosses them), and random ones.
fn peer_isns() -> Vec<u32> {
    let mut v = vec![0x0000_1000, 0x8000_1000, 0x7fff_ffc0, 0xffff_ffc0];
    while v.len() < RUNS {
        v.push(rand::random());
    }
    v
}

/// An echo server accepting `n` connections, each on its own thread.
fn echo_server(listener: TcpListener, n: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..n {
            let (s, _) = listener.accept().expect("accept");
            s.set_nodelay(true).unwrap();
            conns.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // The peer ends each connection with a RST: read fails.
                while let Ok(k @ 1..) = (&s).read(&mut buf) {
                    if (&s).write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
            }));
        }
        for c in conns {
            c.join().unwrap();
        }
    })
}

/// The forged peer's address with `port`.
fn peer(f: Family, port: u16) -> SocketAddr {
    SocketAddr::new(f.host(PEER), port)
}

fn pattern(tag: u8) -> Vec<u8> {
    vec![tag; L as usize]
}

fn accepted_connection_reordered_first_segment_passes_paws_and_is_echoed(f: Family) {
    // Issue scenario (a): right after the handshake the peer sends its
    // 2nd segment (TSval T+1), then its 1st (T), then its 3rd (T+2).
    let stack = netns();
    let server = echo_server(TcpListener::bind(&stack, f.any(PORT)).unwrap(), RUNS);
    let sniffer = Sniffer::new();
    let forger = Forger::new();
    for (run, iss) in peer_isns().into_iter().enumerate() {
        let ts_syn = 1000 * (run as u32 + 1);
        let ts_ack = ts_syn + 1;
        let t = ts_syn + 10;
        let mut p = Peer::connect(
            &forger,
            &sniffer,
            peer(f, 40_000 + run as u16),
            iss,
            ts_syn,
            ts_ack,
        );

        // The 2nd segment is out of order: TS.Recent must stay ts_ack.
        p.segment(L, &pattern(2), t + 1);
        p.wait("duplicate ACK for the 2nd segment", |_, r| {
            r.ack == iss.wrapping_add(1)
        });

        // The 1st fills the hole: it passes PAWS (T ≥ TS.Recent) and
        // becomes TS.Recent (SEG.SEQ = Last.ACK.sent).
        p.expect.push((2 * L, t));
        p.segment(0, &pattern(1), t);
        p.wait("ACK of the 1st and 2nd segments", |_, r| {
            r.ack == iss.wrapping_add(1 + 2 * L)
        });
        p.wait_echo(2 * L as usize);

        // The 3rd is in order at Last.ACK.sent: its TSval is echoed.
        p.expect.push((3 * L, t + 2));
        p.segment(2 * L, &pattern(3), t + 2);
        p.wait_echo(3 * L as usize);
        assert_eq!(
            p.echoed,
            [pattern(1), pattern(2), pattern(3)].concat(),
            "peer ISN {iss:#010x}"
        );
        p.reset(3 * L);
    }
    server.join().unwrap();
    assert!(stack.shutdown(Duration::from_secs(5)));
}

fn accepted_connection_echoes_the_newer_tsval_of_the_first_data(f: Family) {
    // Issue scenario (b): right after the handshake the peer sends data
    // whose TSval is well ahead of the handshake ACK's; that TSval, not
    // the handshake's, is echoed.
    let stack = netns();
    let server = echo_server(TcpListener::bind(&stack, f.any(PORT)).unwrap(), RUNS);
    let sniffer = Sniffer::new();
    let forger = Forger::new();
    for (run, iss) in peer_isns().into_iter().enumerate() {
        let ts_syn = 5000 * (run as u32 + 1);
        let ts_ack = ts_syn + 1;
        let ahead = ts_ack + 1_000_000;
        let mut p = Peer::connect(
            &forger,
            &sniffer,
            peer(f, 41_000 + run as u16),
            iss,
            ts_syn,
            ts_ack,
        );
        p.expect.push((L, ahead));
        p.segment(0, &pattern(9), ahead);
        p.wait("ACK of the data", |_, r| r.ack == iss.wrapping_add(1 + L));
        p.wait_echo(L as usize);
        assert_eq!(p.echoed, pattern(9), "peer ISN {iss:#010x}");
        p.reset(L);
    }
    server.join().unwrap();
    assert!(stack.shutdown(Duration::from_secs(5)));
}

per_family!(
    accepted_connection_reordered_first_segment_passes_paws_and_is_echoed,
    accepted_connection_echoes_the_newer_tsval_of_the_first_data,
);
