//! A scripted peer of the kernel's own TCP, with the kernel as the
//! oracle: segments forged from an address on tun0's subnet go to the
//! kernel's socket and, in a second run, to tunstack's, and what each
//! writes back into tun0 must be the same. Simultaneous open, SYNs with
//! malformed options, and segments that do not belong on an established
//! connection. Each test runs over IPv4 and IPv6.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use forge::{Forge, Forger, Sniffed, Sniffer};
use std::net::SocketAddr;
use std::time::Duration;
use tunstack::TcpStream;

/// The scripted peer's ISS and SYN options (MSS 1460, SACK permitted).
const PEER_ISS: u32 = 7_000_000;
const PEER_SYN_OPTIONS: [u8; 8] = [2, 4, 0x05, 0xb4, 4, 2, 1, 1];

/// What a side in SYN-SENT did with a crossed SYN and then the crossed
/// SYN-ACK: its SYN-ACK's SEQ (relative to its own ISS) and ACK (relative
/// to the peer's), its last segment's SEQ and ACK likewise, that
/// segment's first SACK block (relative to the peer's ISS: a D-SACK of
/// the SYN), and whether its connect() succeeded.
#[derive(Debug, PartialEq, Eq)]
struct SimultaneousOpen {
    syn_ack: (u32, u32),
    ack: (u32, u32),
    first_sack: Option<(u32, u32)>,
    connected: bool,
}

/// Drives the side whose SYN to `peer` `sniffer` catches through a
/// simultaneous open: the peer's own SYN to the side's port, then, once
/// the side answered it with a SYN-ACK, the peer's SYN-ACK. `connect`
/// joins the side's connect() (true once established).
fn simultaneous_open_script(
    sniffer: &Sniffer,
    peer: SocketAddr,
    connect: impl FnOnce() -> bool,
) -> (SimultaneousOpen, Sniffed) {
    let forger = Forger::new();
    let wait = Duration::from_secs(5);
    let to_peer = |p: &Sniffed| p.dst == peer;
    let syn = sniffer
        .next_matching(wait, |p| to_peer(p) && p.syn && p.ack.is_none())
        .expect("the side's SYN");
    let forge = |seq, ack| Forge {
        syn: true,
        ack,
        options: PEER_SYN_OPTIONS.to_vec(),
        dst: Some(syn.src.ip()),
        ..Forge::new(peer, syn.src.port(), seq)
    };
    forger.send(&forge(PEER_ISS, None).bytes());
    let syn_ack = sniffer
        .next_matching(wait, |p| to_peer(p) && p.syn && p.ack.is_some())
        .expect("a SYN-ACK for the crossed SYN");
    forger.send(&forge(PEER_ISS, Some(syn.seq.wrapping_add(1))).bytes());
    let ack = sniffer
        .next_matching(wait, |p| to_peer(p) && !p.syn)
        .expect("an answer to the crossed SYN-ACK");
    let rel = |a: u32, b: u32| a.wrapping_sub(b);
    let open = SimultaneousOpen {
        syn_ack: (
            rel(syn_ack.seq, syn.seq),
            rel(syn_ack.ack.unwrap_or(0), PEER_ISS),
        ),
        ack: (rel(ack.seq, syn.seq), rel(ack.ack.unwrap_or(0), PEER_ISS)),
        first_sack: first_sack_from(&ack),
        connected: connect(),
    };
    (open, syn)
}

/// The first SACK block of `p`, relative to the peer's ISS.
fn first_sack_from(p: &Sniffed) -> Option<(u32, u32)> {
    p.options.iter().find_map(|o| match o {
        etherparse::TcpOptionElement::SelectiveAcknowledgement((l, r), _) => {
            Some((l.wrapping_sub(PEER_ISS), r.wrapping_sub(PEER_ISS)))
        }
        _ => None,
    })
}

fn simultaneous_open_is_answered_as_the_kernel_does(f: Family) {
    // RFC 9293 §3.5 figure 8: a side in SYN-SENT that gets the peer's SYN
    // answers with a SYN-ACK carrying its own ISS again (SYN-RECEIVED);
    // the peer's SYN-ACK then establishes it. Linux (`tcp_rcv_synsent_
    // state_process`, `tcp_validate_incoming`'s SYN-RECV exception, then
    // `tcp_data_queue`) also ACKs that SYN-ACK at once with a D-SACK of
    // its SYN, the sequence number it already had.
    let stack = netns();
    let kernel_peer = SocketAddr::new(f.host(77), 7700);
    let sniffer = Sniffer::kernel();
    let client = std::thread::spawn(move || {
        std::net::TcpStream::connect_timeout(&kernel_peer, Duration::from_secs(10)).is_ok()
    });
    let (kernel, _) = simultaneous_open_script(&sniffer, kernel_peer, || client.join().unwrap());
    assert!(kernel.connected, "the oracle: {kernel:?}");
    assert_eq!(kernel.syn_ack, (0, 1), "the oracle");
    let our_peer = SocketAddr::new(f.host(77), 7701);
    let sniffer = Sniffer::new();
    let got = std::thread::scope(|scope| {
        let ours = scope.spawn(|| TcpStream::connect(&stack, our_peer).is_ok());
        simultaneous_open_script(&sniffer, our_peer, || ours.join().unwrap()).0
    });
    assert_eq!(got, kernel, "tunstack in a simultaneous open");
}

/// Malformed option lists in a SYN (RFC 9293 §3.1 lengths that cannot
/// be right), each after a valid MSS option.
const MALFORMED_SYN_OPTIONS: [(&str, [u8; 8]); 3] = [
    ("option length 1", [2, 4, 5, 0xb4, 2, 1, 5, 0]),
    ("zero-length option", [2, 4, 5, 0xb4, 8, 0, 0, 0]),
    ("length past the header", [2, 4, 5, 0xb4, 2, 40, 5, 180]),
];

/// Whether a SYN to `listener` carrying each of [`MALFORMED_SYN_OPTIONS`]
/// is answered with a SYN-ACK (caught by `sniffer`), from peers at
/// `f.host(first_host + i)`.
fn answers_to_malformed_syns(
    f: Family,
    sniffer: &Sniffer,
    listener: SocketAddr,
    first_host: u8,
) -> Vec<(&'static str, bool)> {
    let forger = Forger::new();
    let mut out = Vec::new();
    for (i, (what, options)) in MALFORMED_SYN_OPTIONS.iter().enumerate() {
        let peer = SocketAddr::new(f.host(first_host + i as u8), 41000 + i as u16);
        let syn = Forge {
            syn: true,
            options: options.to_vec(),
            dst: Some(listener.ip()),
            ..Forge::new(peer, listener.port(), PEER_ISS)
        };
        forger.send(&syn.bytes());
        let answer = sniffer.next_matching(Duration::from_secs(1), |p| {
            p.dst == peer && p.syn && p.ack == Some(PEER_ISS.wrapping_add(1))
        });
        out.push((*what, answer.is_some()));
    }
    out
}

fn malformed_syn_options_are_parsed_as_far_as_they_go_as_the_kernel_does(f: Family) {
    // Linux `tcp_parse_options` stops at an option whose length cannot be
    // right ("don't parse partial options") and keeps what it parsed: the
    // segment itself is processed, so such a SYN gets its SYN-ACK.
    let stack = netns();
    let kernel_listener = std::net::TcpListener::bind(f.kernel_at(9140)).unwrap();
    let kernel = answers_to_malformed_syns(f, &Sniffer::kernel(), f.kernel_at(9140), 120);
    drop(kernel_listener);
    let _ours = tunstack::TcpListener::bind(&stack, f.any(9141)).unwrap();
    let got = answers_to_malformed_syns(f, &Sniffer::new(), f.us_at(9141), 130);
    assert_eq!(
        got, kernel,
        "tunstack's answers (the kernel's on the right)"
    );
}

/// A segment from the scripted peer on a connection it opened with the
/// side whose SYN is given (SEQ and ACK at their next values unless the
/// probe says otherwise).
type Probe = fn(Forge) -> Forge;

/// Segments that do not belong, each sent on a connection of its own
/// (the answers to them are rate-limited per connection).
const PROBES: [(&str, Probe); 8] = [
    ("an ACK of data never sent", |f| Forge {
        ack: f.ack.map(|a| a.wrapping_add(1000)),
        ..f
    }),
    ("a RST inside the window, not at RCV.NXT", |f| Forge {
        rst: true,
        seq: f.seq.wrapping_add(100),
        ..f
    }),
    ("a SYN at RCV.NXT", |f| Forge { syn: true, ..f }),
    ("data far past the window", |f| Forge {
        payload: b"x".to_vec(),
        seq: f.seq.wrapping_add(50_000_000),
        ..f
    }),
    ("data from before the connection", |f| Forge {
        payload: vec![b'y'; 10],
        seq: f.seq.wrapping_sub(101),
        ..f
    }),
    ("data ten bytes ahead", |f| Forge {
        payload: vec![b'z'; 10],
        seq: f.seq.wrapping_add(10),
        ..f
    }),
    ("an ACK older than any window", |f| Forge {
        ack: f.ack.map(|a| a.wrapping_sub(10_000_000)),
        ..f
    }),
    ("a RST at RCV.NXT - 1", |f| Forge {
        rst: true,
        seq: f.seq.wrapping_sub(1),
        ..f
    }),
];

/// What a side answered a probe with within 500 ms: SYN, RST, FIN, SEQ
/// relative to its ISS, ACK relative to the peer's, the first SACK block,
/// the payload length.
type Answer = Option<(
    bool,
    bool,
    bool,
    u32,
    Option<u32>,
    Option<(u32, u32)>,
    usize,
)>;

/// The answer to `probe` after a simultaneous open with `peer`; `open`
/// runs the side's connect() and keeps the connection until `probe` was
/// answered.
fn answer_to_probe(
    sniffer: &Sniffer,
    peer: SocketAddr,
    probe: Probe,
    open: impl FnOnce() -> bool,
) -> Answer {
    let (done, syn) = simultaneous_open_script(sniffer, peer, open);
    assert!(done.connected, "{done:?}");
    let next = Forge {
        ack: Some(syn.seq.wrapping_add(1)),
        dst: Some(syn.src.ip()),
        ..Forge::new(peer, syn.src.port(), PEER_ISS.wrapping_add(1))
    };
    let forger = Forger::new();
    forger.send(&probe(next.clone()).bytes());
    let answer = sniffer.next_matching(Duration::from_millis(500), |p| p.dst == peer);
    // Done: a RST at RCV.NXT ends the connection on both sides at once,
    // so nothing lingers retransmitting into the void.
    forger.send(
        &Forge {
            rst: true,
            ack: None,
            ..next
        }
        .bytes(),
    );
    let p = answer?;
    Some((
        p.syn,
        p.rst,
        p.fin,
        p.seq.wrapping_sub(syn.seq),
        p.ack.map(|a| a.wrapping_sub(PEER_ISS)),
        first_sack_from(&p),
        p.payload.len(),
    ))
}

fn segments_that_do_not_belong_are_answered_as_the_kernel_does(f: Family) {
    // RFC 5961 and RFC 9293 §3.10.7.4 as Linux applies them
    // (`tcp_validate_incoming`, `tcp_ack`, `tcp_send_dupack`), on an
    // established connection the scripted peer opened with each side.
    let stack = netns();
    for (i, (what, probe)) in PROBES.iter().enumerate() {
        let kernel_peer = SocketAddr::new(f.host(78), 7710 + i as u16);
        let our_peer = SocketAddr::new(f.host(78), 7720 + i as u16);
        let (kernel, got) = std::thread::scope(|scope| {
            // Each side's connect() runs in a thread that reports whether
            // it succeeded, then holds the connection until told to go.
            let (ok_tx, ok_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            scope.spawn(move || {
                let s = std::net::TcpStream::connect_timeout(&kernel_peer, Duration::from_secs(10));
                let _ = ok_tx.send(s.is_ok());
                let _ = go_rx.recv_timeout(Duration::from_secs(10));
            });
            let sniffer = Sniffer::kernel();
            let kernel = answer_to_probe(&sniffer, kernel_peer, *probe, || {
                ok_rx.recv_timeout(Duration::from_secs(10)) == Ok(true)
            });
            drop(go_tx);
            let (ok_tx, ok_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let stack = &stack;
            scope.spawn(move || {
                let s = TcpStream::connect(stack, our_peer);
                let _ = ok_tx.send(s.is_ok());
                let _ = go_rx.recv_timeout(Duration::from_secs(10));
            });
            let sniffer = Sniffer::new();
            let got = answer_to_probe(&sniffer, our_peer, *probe, || {
                ok_rx.recv_timeout(Duration::from_secs(10)) == Ok(true)
            });
            drop(go_tx);
            (kernel, got)
        });
        assert_eq!(
            got, kernel,
            "{what}: tunstack's answer (the kernel's on the right)"
        );
    }
}

per_family!(
    simultaneous_open_is_answered_as_the_kernel_does,
    malformed_syn_options_are_parsed_as_far_as_they_go_as_the_kernel_does,
    segments_that_do_not_belong_are_answered_as_the_kernel_does,
);
