//! The interface over a device with offloads: TSO segments leave through
//! `send_tso` with the pseudo-header checksum only, devices without
//! offload never see a packet over the MTU, and the transport checksum is
//! skipped exactly when the device vouches for it (`RxMeta::checksum_ok`).

use super::tests::{packet, pop_meta, tcp_header, udp_packet, PEER, US};
use super::*;
use crate::device::{Offload, RxMeta};
use crate::tcp::State;
use crate::wire::{checksum, Flags, Ipv4Packet, SeqNumber, TcpSegment};
use std::net::SocketAddrV4;

/// An in-memory device that says what offloads it has and records which
/// call each packet came through.
struct OffloadDevice {
    offload: Offload,
    /// Packets to read, with the `checksum_ok` to report for each.
    rx: VecDeque<(Vec<u8>, bool)>,
    /// Packets written with `send` / `send_with_reason`.
    sent: Vec<Vec<u8>>,
    /// Packets written with `send_tso`, and the MSS given.
    tso: Vec<(Vec<u8>, u16)>,
}

impl OffloadDevice {
    fn new(offload: bool) -> OffloadDevice {
        OffloadDevice {
            offload: Offload {
                tso: offload,
                rx_checksum: offload,
            },
            rx: VecDeque::new(),
            sent: Vec::new(),
            tso: Vec::new(),
        }
    }
}

impl Device for OffloadDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_meta(buf).map(|m| m.len)
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        pop_meta(&mut self.rx, buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.sent.push(packet.to_vec());
        Ok(())
    }
    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        self.tso.push((packet.to_vec(), mss));
        if self.offload.tso {
            Ok(())
        } else {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
    }
    fn mtu(&self) -> usize {
        1500
    }
    fn offload(&self) -> Offload {
        self.offload
    }
}

const PORT: u16 = 80;
const PEER_ISS: u32 = 7000;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// A header from the peer with timestamps (TSval `ts`, echoing `ecr`).
fn peer_header(local_port: u16, seq: u32, ack: u32, flags: Flags, ts: u32, ecr: u32) -> TcpHeader {
    let mut h = tcp_header(PORT, local_port, seq, ack, flags);
    h.options.timestamp = Some((ts, ecr));
    h
}

/// The TSval of our segment `h`.
fn tsval(h: &TcpHeader) -> u32 {
    h.options.timestamp.map_or(0, |(v, _)| v)
}

/// An active connection to PEER:80 in ESTABLISHED over `dev`, timestamps
/// on (so every segment carries 12 bytes of options). Returns the
/// interface, the handle, our local port and our next sequence number.
/// CUBIC, unpaced: the tests count the initial window as one batch.
fn established(dev: &mut OffloadDevice) -> (Interface, SocketHandle, u16, u32) {
    let mut iface = Interface::new(Config {
        tcp: tcp::Config {
            congestion: tcp::Algorithm::Cubic,
            ..tcp::Config::default()
        },
        ..Config::default()
    });
    let h = iface
        .tcp_connect(ms(0), SocketAddrV4::new(PEER, PORT))
        .unwrap();
    iface.poll(ms(0), dev);
    assert_eq!(dev.sent.len(), 1);
    let syn = dev.sent.remove(0);
    let ip = Ipv4Packet::parse(&syn).unwrap();
    let syn = TcpSegment::parse(US, PEER, ip.payload).unwrap().header;
    assert_eq!(syn.flags, Flags::SYN);
    let mut sa = peer_header(
        syn.src_port,
        PEER_ISS,
        syn.seq.0.wrapping_add(1),
        Flags::SYN | Flags::ACK,
        1,
        tsval(&syn),
    );
    sa.options.mss = Some(1460);
    dev.rx.push_back((packet(PEER, US, &sa, b""), false));
    iface.poll(ms(1), dev);
    assert_eq!(iface.tcp_mut(h).unwrap().state(), State::Established);
    assert_eq!(dev.sent.len(), 1, "the handshake's ACK");
    dev.sent.clear();
    (iface, h, syn.src_port, syn.seq.0.wrapping_add(1))
}

/// Checks a packet handed to `send_tso`: a valid IPv4 header, a TCP
/// checksum field holding just the pseudo-header sum, and, once the
/// device adds the rest, a fully valid segment. Returns (seq, payload).
fn check_tso_packet(pkt: &[u8], mss: u16) -> (SeqNumber, Vec<u8>) {
    assert!(pkt.len() > 1500, "a TSO packet within the MTU");
    assert!(pkt.len() <= 65535);
    let ip = Ipv4Packet::parse(pkt).expect("valid IPv4 header");
    assert_eq!((ip.repr.src, ip.repr.dst), (US, PEER));
    assert_eq!(ip.repr.protocol, PROTO_TCP);
    let tcp = ip.payload;
    let field = u16::from_be_bytes([tcp[16], tcp[17]]);
    let pseudo = checksum::pseudo_header(US, PEER, PROTO_TCP, tcp.len());
    assert_eq!(
        field,
        !checksum::fold(pseudo),
        "checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL)"
    );
    assert!(
        TcpSegment::parse(US, PEER, tcp).is_err(),
        "a partial checksum does not verify as it is"
    );
    // What the device does: sum from the TCP header on, complement.
    let mut full = tcp.to_vec();
    let c = checksum::fold(checksum::sum(0, &full));
    full[16..18].copy_from_slice(&c.to_be_bytes());
    let seg = TcpSegment::parse(US, PEER, &full).expect("completed checksum is valid");
    let hlen = seg.header.header_len();
    assert_eq!(hlen, 32, "timestamps on every segment");
    assert_eq!(mss, 1448, "MSS 1460 less 12 bytes of timestamps");
    assert!(
        IPV4_HEADER_LEN + hlen + usize::from(mss) <= 1500,
        "the device's segments fit the MTU"
    );
    assert!(seg.payload.len() > usize::from(mss));
    (seg.header.seq, seg.payload.to_vec())
}

/// Sends `data` over an established connection, ACKing everything each
/// round; checks that the payloads (TSO batches and plain segments in
/// sequence order) are exactly `data`, and returns the interface.
fn bulk(dev: &mut OffloadDevice, data: &[u8]) -> Interface {
    let (mut iface, h, port, iss) = established(dev);
    let mut queued = 0;
    let mut got = Vec::new();
    let mut now = 10;
    let mut ts = 2;
    let (mut plain_seen, mut tso_seen) = (0, 0);
    while got.len() < data.len() {
        if queued < data.len() {
            queued += iface.tcp_mut(h).unwrap().send(&data[queued..]).unwrap_or(0);
        }
        iface.poll(ms(now), dev);
        let mut last_ts = 0;
        // Plain and TSO packets interleave; order them by sequence.
        let mut segs: Vec<(SeqNumber, Vec<u8>)> = Vec::new();
        for p in &dev.sent[plain_seen..] {
            assert!(p.len() <= 1500, "packet over the MTU through send()");
            let ip = Ipv4Packet::parse(p).unwrap();
            let s = TcpSegment::parse(US, PEER, ip.payload).expect("full checksum");
            last_ts = last_ts.max(tsval(&s.header));
            segs.push((s.header.seq, s.payload.to_vec()));
        }
        for (p, mss) in &dev.tso[tso_seen..] {
            segs.push(check_tso_packet(p, *mss));
        }
        plain_seen = dev.sent.len();
        tso_seen = dev.tso.len();
        assert!(!segs.is_empty(), "stalled at {}", got.len());
        segs.sort_by_key(|(seq, _)| seq.0.wrapping_sub(iss));
        for (seq, payload) in segs {
            assert_eq!(seq.0.wrapping_sub(iss) as usize, got.len(), "no gap");
            got.extend_from_slice(&payload);
        }
        now += 10;
        ts += 1;
        let ack = peer_header(
            port,
            PEER_ISS + 1,
            iss.wrapping_add(got.len() as u32),
            Flags::ACK,
            ts,
            last_ts,
        );
        dev.rx.push_back((packet(PEER, US, &ack, b""), false));
    }
    assert!(got == data, "payload bytes differ from what was sent");
    iface
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 977) as u8).collect()
}

#[test]
fn tso_device_gets_large_segments_with_partial_checksums() {
    let mut dev = OffloadDevice::new(true);
    let data = pattern(256 * 1024);
    let iface = bulk(&mut dev, &data);
    assert!(dev.tso.len() >= 2, "bulk data went out as TSO batches");
    let s = iface.stats();
    assert_eq!(s.tcp_tso_out, dev.tso.len() as u64);
    assert_eq!(s.tx_errors, 0);
    // Plus the SYN and the handshake's ACK, cleared by `established`.
    assert_eq!(s.tx_packets, (dev.tso.len() + dev.sent.len() + 2) as u64);
    // The first batch is the initial window: 10 segments of 1448.
    let (_, first) = check_tso_packet(&dev.tso[0].0, dev.tso[0].1);
    assert_eq!(first.len(), 10 * 1448);
    assert!(first[..] == data[..10 * 1448]);
    // Everything through send() fits the MTU with a full checksum
    // (checked in `bulk`); the device carried most bytes as batches.
    let tso_bytes: usize = dev.tso.iter().map(|(p, _)| p.len()).sum();
    assert!(tso_bytes > data.len() * 3 / 4);
}

#[test]
fn device_without_offload_never_gets_a_packet_over_the_mtu() {
    let mut dev = OffloadDevice::new(false);
    let data = pattern(256 * 1024);
    let iface = bulk(&mut dev, &data);
    assert!(
        dev.tso.is_empty(),
        "send_tso called on a device without TSO"
    );
    assert!(dev.sent.iter().all(|p| p.len() <= 1500));
    assert!(dev.sent.len() >= data.len() / 1448);
    assert_eq!(iface.stats().tcp_tso_out, 0);
}

/// A data segment from the peer on an established connection; with
/// `corrupt`, one payload byte is flipped after the checksum was computed.
fn peer_data(port: u16, iss: u32, payload: &[u8], corrupt: bool) -> Vec<u8> {
    let h = peer_header(port, PEER_ISS + 1, iss, Flags::ACK | Flags::PSH, 5, 0);
    let mut p = packet(PEER, US, &h, payload);
    if corrupt {
        let last = p.len() - 1;
        p[last] ^= 0x5a;
    }
    p
}

#[test]
fn bad_tcp_checksum_is_dropped_unless_the_device_vouches_for_it() {
    for checksum_ok in [false, true] {
        let mut dev = OffloadDevice::new(true);
        let (mut iface, h, port, iss) = established(&mut dev);
        let pkt = peer_data(port, iss, b"offloaded", true);
        dev.rx.push_back((pkt, checksum_ok));
        iface.poll(ms(20), &mut dev);
        let mut buf = [0u8; 32];
        let got = iface.tcp_mut(h).unwrap().recv(&mut buf);
        let s = iface.stats();
        if checksum_ok {
            assert_eq!(s.tcp_bad_checksum, 0);
            assert_eq!(got, Ok(9));
            let mut want = *b"offloaded";
            want[8] ^= 0x5a;
            assert_eq!(buf[..9], want, "the payload as the device gave it");
        } else {
            assert_eq!(s.tcp_bad_checksum, 1, "verified and dropped");
            assert!(got.is_err(), "nothing delivered: {got:?}");
        }
    }
}

#[test]
fn partial_checksum_from_the_kernel_is_accepted_when_vouched_for() {
    // The local kernel hands over a GRO-sized segment whose checksum
    // field holds only the pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM):
    // with checksum_ok the stack takes it, payload larger than the MTU.
    let mut dev = OffloadDevice::new(true);
    let (mut iface, h, port, iss) = established(&mut dev);
    let payload = pattern(20_000);
    let hdr = peer_header(port, PEER_ISS + 1, iss, Flags::ACK | Flags::PSH, 5, 0);
    let mut pkt = packet(PEER, US, &hdr, &payload);
    let tcp_len = pkt.len() - IPV4_HEADER_LEN;
    hdr.emit_partial(&mut pkt[IPV4_HEADER_LEN..], PEER, US)
        .unwrap();
    assert!(TcpSegment::parse(PEER, US, &pkt[IPV4_HEADER_LEN..]).is_err());
    assert_eq!(tcp_len, 32 + 20_000);
    dev.rx.push_back((pkt.clone(), false));
    dev.rx.push_back((pkt, true));
    iface.poll(ms(20), &mut dev);
    let s = iface.stats();
    assert_eq!(s.tcp_bad_checksum, 1, "the unvouched copy is dropped");
    let mut buf = vec![0u8; 32 * 1024];
    assert_eq!(iface.tcp_mut(h).unwrap().recv(&mut buf), Ok(20_000));
    assert!(buf[..20_000] == payload[..]);
    // One ACK for it, through send() with a full checksum.
    let ack = dev.sent.last().expect("an ACK");
    let ip = Ipv4Packet::parse(ack).unwrap();
    let a = TcpSegment::parse(US, PEER, ip.payload).unwrap().header;
    assert_eq!(a.ack.0, PEER_ISS + 1 + 20_000);
}

#[test]
fn bad_udp_checksum_is_dropped_unless_the_device_vouches_for_it() {
    for checksum_ok in [false, true] {
        let mut dev = OffloadDevice::new(true);
        let mut iface = Interface::new(Config::default());
        assert_eq!(iface.udp_bind(5353), Ok(5353));
        let mut pkt = udp_packet(4000, 5353, b"datagram");
        let last = pkt.len() - 1;
        pkt[last] ^= 0x11;
        dev.rx.push_back((pkt, checksum_ok));
        iface.poll(ms(0), &mut dev);
        let mut buf = [0u8; 16];
        let got = iface.udp_recv(5353, &mut buf);
        if checksum_ok {
            assert_eq!(got, Some((8, SocketAddrV4::new(PEER, 4000).into())));
            assert_eq!(&buf[..7], b"datagra");
            assert_eq!(iface.stats().udp_malformed, 0);
        } else {
            assert_eq!(got, None);
            assert_eq!(iface.stats().udp_malformed, 1);
        }
    }
}
