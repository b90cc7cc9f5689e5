//! The fuzz harnesses, one module per cargo-fuzz target. Each `run` takes
//! arbitrary bytes, must never panic on them, and asserts properties that
//! hold for any input (a parse that succeeds re-emits and re-parses to the
//! same fields; every packet the stack sends is well-formed; a body never
//! yields more bytes than arrived; ...).
//!
//! The harnesses use only tunstack's public API. `tests/fuzz_regressions.rs`
//! includes this file and replays `fuzz/regressions/TARGET/*` through the
//! same functions, so `cargo test` covers every input that once found a
//! bug (and keeps these harnesses compiling).

#![forbid(unsafe_code)]

use std::path::Path;

/// A cursor over the fuzzer's bytes; reads past the end yield zeros, so
/// every input decodes to some sequence of operations.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, big-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// Every file under `dir`, sorted by name (none if `dir` does not exist).
pub fn inputs_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let data = std::fs::read(e.path()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), data))
        })
        .collect();
    files.sort();
    files
}

/// Packet parsing: IPv4, TCP (with options), UDP, ICMP, the trace line.
pub mod wire {
    use std::net::{IpAddr, Ipv4Addr};
    use tunstack::wire::icmp::IcmpMessage;
    use tunstack::wire::tcp::Summary;
    use tunstack::wire::{
        checksum, Ipv4Packet, Ipv4Repr, SeqNumber, TcpSegment, UdpDatagram, PROTO_ICMP, PROTO_TCP,
        PROTO_UDP,
    };

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// Parses `data` as an IPv4 packet and its payload, and on its own as
    /// a bare TCP segment, UDP datagram and ICMP message; then does the same
    /// with every checksum fixed up, so the fuzzer gets past the checksums
    /// to the headers and options behind them.
    pub fn run(data: &[u8]) {
        parse_all(data);
        if let Some(p) = with_ip_checksums(data) {
            parse_all(&p);
        }
        for protocol in [PROTO_TCP, PROTO_UDP, PROTO_ICMP] {
            let mut seg = data.to_vec();
            if fix_transport_checksum(&mut seg, protocol, A, B) {
                parse_all(&seg);
            }
        }
    }

    /// `data` with the IPv4 header checksum and the checksum of the
    /// transport header inside made valid, if the packet is long enough.
    fn with_ip_checksums(data: &[u8]) -> Option<Vec<u8>> {
        let mut p = data.to_vec();
        let ihl = usize::from(*p.first()? & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
        if ihl < 20 || total < ihl || total > p.len() {
            return None;
        }
        let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
        let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        let protocol = p[9];
        fix_transport_checksum(&mut p[ihl..total], protocol, src, dst);
        p[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::data(&p[..ihl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        Some(p)
    }

    /// Writes a valid checksum into a TCP, UDP or ICMP message. False if
    /// it is too short to have one.
    fn fix_transport_checksum(seg: &mut [u8], protocol: u8, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let at = match protocol {
            PROTO_TCP if seg.len() >= 20 => 16,
            PROTO_UDP if seg.len() >= 8 => 6,
            PROTO_ICMP if seg.len() >= 8 => 2,
            _ => return false,
        };
        seg[at..at + 2].copy_from_slice(&[0, 0]);
        let c = if protocol == PROTO_ICMP {
            checksum::data(seg)
        } else {
            // UDP covers its length field's worth; the rest is padding.
            let len = if protocol == PROTO_UDP {
                usize::from(u16::from_be_bytes([seg[4], seg[5]])).clamp(8, seg.len())
            } else {
                seg.len()
            };
            let acc = checksum::pseudo_header(src, dst, protocol, len);
            checksum::fold(checksum::sum(acc, &seg[..len]))
        };
        seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
        true
    }

    fn parse_all(data: &[u8]) {
        let _ = tunstack::device::trace::describe(data);
        if let Ok(p) = Ipv4Packet::parse(data) {
            assert!(p.payload.len() <= data.len().saturating_sub(20));
            assert_eq!(p.repr.payload_len, p.payload.len());
            ipv4_round_trip(&p);
            let (src, dst) = (p.repr.src, p.repr.dst);
            match p.repr.protocol {
                PROTO_TCP => tcp(src.into(), dst.into(), p.payload),
                PROTO_UDP => udp(src.into(), dst.into(), p.payload),
                PROTO_ICMP => icmp(p.payload),
                _ => {}
            }
        }
        tcp(A.into(), B.into(), data);
        udp(A.into(), B.into(), data);
        icmp(data);
        checksum_agrees(data);
        seq_numbers(data);
    }

    fn ipv4_round_trip(p: &Ipv4Packet<'_>) {
        let mut buf = vec![0u8; p.repr.total_len()];
        if p.repr.emit(&mut buf, p.ident).is_err() {
            return;
        }
        buf[20..].copy_from_slice(p.payload);
        let q = Ipv4Packet::parse(&buf).expect("an emitted IPv4 packet parses");
        assert_eq!(q.repr, p.repr);
        assert_eq!(q.payload, p.payload);
        let again = Ipv4Repr { ..q.repr };
        assert_eq!(again.total_len(), buf.len());
    }

    pub(crate) fn tcp(src: IpAddr, dst: IpAddr, data: &[u8]) {
        let Ok(seg) = TcpSegment::parse(src, dst, data) else {
            return;
        };
        let h = &seg.header;
        let _ = Summary(h, seg.payload.len()).to_string();
        assert!(seg.payload.len() + 20 <= data.len());
        if let Some(w) = h.options.window_scale {
            assert!(w <= 14, "window scale clamped to 14");
        }
        // Emit the header again with the same payload: it must parse back
        // to the same fields.
        let hl = h.header_len();
        let mut buf = vec![0u8; hl + seg.payload.len()];
        buf[hl..].copy_from_slice(seg.payload);
        h.emit(&mut buf, src, dst).expect("room for the header");
        let back = TcpSegment::parse(src, dst, &buf).expect("an emitted segment parses");
        let b = &back.header;
        assert_eq!(
            (b.src_port, b.dst_port, b.seq, b.flags, b.window, b.urgent),
            (h.src_port, h.dst_port, h.seq, h.flags, h.window, h.urgent)
        );
        if h.flags.ack() {
            assert_eq!(b.ack, h.ack);
        }
        assert_eq!(back.payload, seg.payload);
        assert_eq!(
            (
                b.options.mss,
                b.options.window_scale,
                b.options.sack_permitted,
                b.options.timestamp
            ),
            (
                h.options.mss,
                h.options.window_scale,
                h.options.sack_permitted,
                h.options.timestamp
            )
        );
        assert_eq!(back.seq_len(), seg.seq_len());
    }

    pub(crate) fn udp(src: IpAddr, dst: IpAddr, data: &[u8]) {
        let Ok(d) = UdpDatagram::parse(src, dst, data) else {
            return;
        };
        let mut buf = vec![0u8; 8 + d.payload.len()];
        let n = d.emit(&mut buf, src, dst).expect("room for the datagram");
        let back = UdpDatagram::parse(src, dst, &buf[..n]).expect("an emitted datagram parses");
        assert_eq!(
            (back.src_port, back.dst_port, back.payload),
            (d.src_port, d.dst_port, d.payload)
        );
    }

    fn icmp(data: &[u8]) {
        let Ok(m) = IcmpMessage::parse(data) else {
            return;
        };
        let mut buf = vec![0u8; m.len()];
        m.emit(&mut buf).expect("room for the message");
        let back = IcmpMessage::parse(&buf).expect("an emitted message parses");
        assert_eq!(
            (back.kind, back.code, back.rest, back.data),
            (m.kind, m.code, m.rest, m.data)
        );
    }

    /// RFC 1071 by the book: 16-bit big-endian words, odd byte padded,
    /// end-around carry, complemented.
    fn checksum_agrees(data: &[u8]) {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(checksum::data(data), !(sum as u16));
    }

    fn seq_numbers(data: &[u8]) {
        let mut i = super::Input::new(data);
        let (a, b) = (SeqNumber(i.u32()), i.u32());
        let c = a + b;
        assert_eq!(c - a, b);
        assert_eq!(c.diff(a), b as i32);
        assert!(a.window_contains(b.max(1), a) || b == 0);
        if (b as i32) > 0 {
            assert_eq!(a.partial_cmp(&c), Some(std::cmp::Ordering::Less));
            assert_eq!(c.partial_cmp(&a), Some(std::cmp::Ordering::Greater));
            assert!(a.window_contains(b, a) && !a.window_contains(b, c));
        }
    }
}

/// IPv6: the header and extension-header walk, ICMPv6, TCP and UDP over
/// IPv6 pseudo-headers, the quote of an ICMPv6 error, and the family
/// dispatch of trace and capture readers.
pub mod wire6 {
    use std::net::{IpAddr, Ipv6Addr};
    use tunstack::wire::icmpv6::{Icmpv6Message, Quoted6};
    use tunstack::wire::ipv6::{self, FRAGMENT_HEADER_LEN, NEXT_ICMPV6};
    use tunstack::wire::{checksum, AnyIp, Ipv6Packet, Ipv6Repr, IPV6_HEADER_LEN};
    use tunstack::wire::{PROTO_TCP, PROTO_UDP};

    const A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    /// Parses `data` as an IPv6 packet (as it is, then with the version
    /// and payload length made right and the upper layer's checksum
    /// fixed, to get past them), and on its own as an ICMPv6 message and
    /// the quote inside an ICMPv6 error.
    pub fn run(data: &[u8]) {
        parse_all(data);
        if data.len() >= IPV6_HEADER_LEN {
            let mut p = data.to_vec();
            p[0] = 0x60 | (p[0] & 0x0f);
            let len = u16::try_from(p.len() - IPV6_HEADER_LEN).unwrap_or(u16::MAX);
            p[4..6].copy_from_slice(&len.to_be_bytes());
            parse_all(&p);
            fix_upper_checksum(&mut p);
            parse_all(&p);
        }
        let mut m = data.to_vec();
        if fix_checksum(&mut m, NEXT_ICMPV6, A, B) {
            icmp(A, B, &m);
        }
        let _ = Quoted6::parse(data);
        if let Some(&first) = data.get(6) {
            if let Ok((_, at)) = ipv6::skip_ext_headers(data, first) {
                assert!(at >= IPV6_HEADER_LEN);
            }
        }
    }

    fn parse_all(data: &[u8]) {
        let _ = tunstack::device::trace::describe(data);
        if let Ok(ip) = AnyIp::parse(data) {
            assert!(ip.payload.len() <= data.len());
        }
        let Ok(p) = Ipv6Packet::parse(data) else {
            return;
        };
        assert_eq!(p.packet.len(), IPV6_HEADER_LEN + p.repr.payload_len);
        assert!(p.packet.len() <= data.len());
        assert!(p.payload.len() <= p.packet.len() - IPV6_HEADER_LEN);
        assert!(p.next_header_at < p.packet.len());
        if let Some(f) = p.fragment {
            assert!(f.at + FRAGMENT_HEADER_LEN <= p.packet.len());
            assert_eq!(p.repr.next_header, ipv6::NEXT_FRAGMENT);
        }
        header_round_trip(&p);
        let (src, dst) = (p.repr.src, p.repr.dst);
        match p.repr.next_header {
            PROTO_TCP => super::wire::tcp(src.into(), dst.into(), p.payload),
            PROTO_UDP => udp(src, dst, p.payload),
            NEXT_ICMPV6 => icmp(src, dst, p.payload),
            _ => {}
        }
    }

    /// The fixed header re-emitted from the parsed fields parses back to
    /// them (the traffic class, which the stack never sets, aside).
    fn header_round_trip(p: &Ipv6Packet<'_>) {
        let mut buf = p.packet.to_vec();
        let repr = Ipv6Repr {
            next_header: p.packet[6],
            ..p.repr
        };
        repr.emit(&mut buf).expect("room for the header");
        let q = Ipv6Packet::parse(&buf).expect("an emitted header parses");
        assert_eq!((q.repr.src, q.repr.dst), (p.repr.src, p.repr.dst));
        assert_eq!(q.repr.flow_label, p.repr.flow_label);
        assert_eq!(q.repr.hop_limit, p.repr.hop_limit);
        assert_eq!(q.repr.next_header, p.repr.next_header);
        assert_eq!(q.payload, p.payload);
    }

    /// UDP over IPv6: a datagram that parses has a non-zero checksum
    /// (mandatory, RFC 8200 §8.1) and round-trips.
    fn udp(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8]) {
        if tunstack::wire::UdpDatagram::parse(src, dst, data).is_ok() {
            assert_ne!(data.get(6..8), Some(&[0u8, 0][..]));
        }
        super::wire::udp(IpAddr::V6(src), IpAddr::V6(dst), data);
    }

    fn icmp(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8]) {
        let Ok(m) = Icmpv6Message::parse(src, dst, data) else {
            return;
        };
        let _ = (m.mtu(), m.pointer(), m.is_error(), m.quoted());
        let mut buf = vec![0u8; m.len()];
        m.emit(&mut buf, src, dst).expect("room for the message");
        let back = Icmpv6Message::parse(src, dst, &buf).expect("an emitted message parses");
        assert_eq!(back, m);
        let e = tunstack::wire::icmpv6::error(m.kind, m.code, m.pointer(), data);
        assert!(
            IPV6_HEADER_LEN + e.len() <= 1280,
            "errors fit the minimum MTU"
        );
    }

    /// Fixes the checksum of the upper layer the walk ends on.
    fn fix_upper_checksum(p: &mut [u8]) {
        let Ok(ip) = Ipv6Packet::parse(p) else {
            return;
        };
        let (src, dst, next) = (ip.repr.src, ip.repr.dst, ip.repr.next_header);
        let start = ip.packet.len() - ip.payload.len();
        let end = ip.packet.len();
        fix_checksum(&mut p[start..end], next, src, dst);
    }

    /// Writes a valid checksum into a TCP, UDP or ICMPv6 message over
    /// IPv6. False if it is too short to have one.
    fn fix_checksum(seg: &mut [u8], next: u8, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let at = match next {
            PROTO_TCP if seg.len() >= 20 => 16,
            PROTO_UDP if seg.len() >= 8 => 6,
            NEXT_ICMPV6 if seg.len() >= 8 => 2,
            _ => return false,
        };
        let len = if next == PROTO_UDP {
            usize::from(u16::from_be_bytes([seg[4], seg[5]])).clamp(8, seg.len())
        } else {
            seg.len()
        };
        seg[at..at + 2].copy_from_slice(&[0, 0]);
        let acc = checksum::pseudo_header(src, dst, next, len);
        let mut c = checksum::fold(checksum::sum(acc, &seg[..len]));
        if c == 0 && next == PROTO_UDP {
            c = 0xffff;
        }
        seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
        true
    }
}

/// The whole [`Interface`](tunstack::stack::Interface): arbitrary packets,
/// application calls and time steps against a listener on port 80, an
/// established connection and a bound UDP port. Packets are built from the
/// fuzzer's fields with valid checksums (and sequence numbers near the
/// connection's, so they pass the window checks and reach the state
/// machine), or taken raw.
pub mod interface {
    use super::Input;
    use std::collections::VecDeque;
    use std::io;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use tunstack::device::{Device, Offload, RxMeta};
    use tunstack::stack::{Config, Interface, SocketHandle};
    use tunstack::tcp::State;
    use tunstack::time::{Duration, Instant};
    use tunstack::wire::icmp::{self, IcmpMessage};
    use tunstack::wire::{
        Flags, Ipv4Packet, Ipv4Repr, SeqNumber, TcpHeader, TcpSegment, UdpDatagram, PROTO_ICMP,
        PROTO_TCP, PROTO_UDP,
    };

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PEER_PORT: u16 = 8080;
    const PEER_ISS: u32 = 0xffff_ff00;

    /// The harness's device. With `offload` it behaves like a TUN with
    /// virtio-net headers: it vouches for every checksum it delivers (so
    /// hostile packets with wrong checksums reach the parsers' later
    /// stages) and takes TSO writes, which it completes and records with
    /// their MSS.
    #[derive(Default)]
    struct Wire {
        rx: VecDeque<Vec<u8>>,
        tx: Vec<(Vec<u8>, Option<u16>)>,
        offload: bool,
    }

    impl Device for Wire {
        fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let p = self.rx.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            Ok(n)
        }
        fn send(&mut self, packet: &[u8]) -> io::Result<()> {
            self.tx.push((packet.to_vec(), None));
            Ok(())
        }
        fn mtu(&self) -> usize {
            1500
        }
        fn offload(&self) -> Offload {
            Offload {
                tso: self.offload,
                rx_checksum: self.offload,
            }
        }
        fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
            let len = self.recv(buf)?;
            Ok(RxMeta {
                len,
                checksum_ok: self.offload,
            })
        }
        fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
            assert!(self.offload, "a TSO write to a device without TSO");
            // Finish the partial checksum as the kernel would: the field
            // holds the pseudo-header sum, the rest is added over the
            // segment.
            let mut p = packet.to_vec();
            let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
            let seg = p.get_mut(ihl..).expect("a TCP segment after the IP header");
            assert!(seg.len() >= 20, "a TCP header");
            let c = tunstack::wire::checksum::fold(tunstack::wire::checksum::sum(0, seg));
            seg[16..18].copy_from_slice(&c.to_be_bytes());
            self.tx.push((p, Some(mss)));
            Ok(())
        }
    }

    fn ip(protocol: u8, payload: &[u8], src: Ipv4Addr) -> Vec<u8> {
        let mut p = vec![0u8; 20 + payload.len()];
        p[20..].copy_from_slice(payload);
        let repr = Ipv4Repr {
            src,
            dst: US,
            protocol,
            ttl: 64,
            payload_len: payload.len(),
        };
        repr.emit(&mut p, 1).expect("a small packet");
        p
    }

    fn tcp_packet(h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
        let hl = h.header_len();
        let mut seg = vec![0u8; hl + payload.len()];
        seg[hl..].copy_from_slice(payload);
        h.emit(&mut seg, PEER, US).expect("room for the header");
        ip(PROTO_TCP, &seg, PEER)
    }

    /// A TCP segment with raw option bytes (which may be malformed) and a
    /// valid checksum.
    fn tcp_raw_options(h: &TcpHeader, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let opt_len = options.len().min(40).div_ceil(4) * 4;
        let hl = 20 + opt_len;
        let mut seg = vec![0u8; hl + payload.len()];
        let bare = TcpHeader {
            options: Default::default(),
            ..*h
        };
        bare.emit(&mut seg[..20], PEER, US).expect("20 bytes");
        seg[12] = ((hl / 4) as u8) << 4;
        seg[20..20 + options.len().min(40)].copy_from_slice(&options[..options.len().min(40)]);
        seg[hl..].copy_from_slice(payload);
        seg[16..18].copy_from_slice(&[0, 0]);
        let acc = tunstack::wire::checksum::pseudo_header(PEER, US, PROTO_TCP, seg.len());
        let c = tunstack::wire::checksum::fold(tunstack::wire::checksum::sum(acc, &seg));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        ip(PROTO_TCP, &seg, PEER)
    }

    struct Harness {
        iface: Interface,
        wire: Wire,
        now: Instant,
        /// The established connection (we connected to PEER:8080).
        conn: SocketHandle,
        local_port: u16,
        /// The peer's next sequence number on that connection.
        peer_nxt: u32,
        /// The highest sequence number we sent on it (+ length).
        our_max: u32,
        /// Connections accepted from the listener, or opened later.
        others: Vec<SocketHandle>,
        /// The last packet we sent (quoted by fuzzed ICMP errors).
        last_sent: Vec<u8>,
        /// Every TCP segment we sent to PEER:8080 from `local_port`, by
        /// sequence number, to check what we retransmit.
        sent_bytes: u64,
    }

    impl Harness {
        fn new(offload: bool) -> Harness {
            let mut iface = Interface::new(Config {
                max_connections: 32,
                syn_backlog: 4,
                accept_backlog: 4,
                udp_queue: 4,
                ..Config::default()
            });
            iface.tcp_listen(80).expect("port 80 free");
            iface.udp_bind(53).expect("port 53 free");
            let now = Instant::ZERO;
            let conn = iface
                .tcp_connect(now, SocketAddrV4::new(PEER, PEER_PORT))
                .expect("a free port");
            let mut h = Harness {
                iface,
                wire: Wire {
                    offload,
                    ..Wire::default()
                },
                now,
                conn,
                local_port: 0,
                peer_nxt: PEER_ISS.wrapping_add(1),
                our_max: 0,
                others: Vec::new(),
                last_sent: Vec::new(),
                sent_bytes: 0,
            };
            h.poll();
            let syn = h.last_tcp_to_peer().expect("our SYN");
            h.local_port = syn.src_port;
            let syn_ack = TcpHeader {
                src_port: PEER_PORT,
                dst_port: h.local_port,
                seq: SeqNumber(PEER_ISS),
                ack: syn.seq + 1u32,
                flags: Flags::SYN | Flags::ACK,
                window: 65535,
                options: tunstack::wire::TcpOptions {
                    mss: Some(1400),
                    window_scale: Some(7),
                    sack_permitted: true,
                    timestamp: Some((1000, 0)),
                    ..Default::default()
                },
                ..TcpHeader::default()
            };
            h.wire.rx.push_back(tcp_packet(&syn_ack, b""));
            h.poll();
            let state = h.iface.tcp(h.conn).map(|t| t.state());
            assert_eq!(state, Some(State::Established));
            h
        }

        fn last_tcp_to_peer(&self) -> Option<TcpHeader> {
            let p = Ipv4Packet::parse(&self.last_sent).ok()?;
            let s = TcpSegment::parse(p.repr.src, p.repr.dst, p.payload).ok()?;
            Some(s.header)
        }

        /// Polls, then checks everything that was sent.
        fn poll(&mut self) {
            self.iface.poll(self.now, &mut self.wire);
            for (p, gso) in std::mem::take(&mut self.wire.tx) {
                self.check_sent(&p, gso);
                self.last_sent = p;
            }
            if let Some(t) = self.iface.poll_at() {
                assert!(
                    t > self.now,
                    "a timer due at {t} is still armed after poll at {}",
                    self.now
                );
            }
            assert!(self.iface.connection_count() <= self.iface.config().max_connections);
        }

        /// Every packet we send is well-formed IPv4 from our address with a
        /// valid TCP, UDP or ICMP message inside, and fits the MTU; a TSO
        /// write is a TCP segment of more than one MSS whose every
        /// MSS-sized piece fits the MTU.
        fn check_sent(&mut self, p: &[u8], gso: Option<u16>) {
            let mtu = self.iface.config().mtu;
            assert!(p.len() <= mtu || gso.is_some(), "{} bytes", p.len());
            let ip = Ipv4Packet::parse(p).expect("we send valid IPv4");
            if let Some(mss) = gso {
                let s = TcpSegment::parse(US, ip.repr.dst, ip.payload).expect("valid TCP");
                let mss = usize::from(mss);
                assert!(s.payload.len() > mss, "TSO for {} bytes", s.payload.len());
                assert!(
                    20 + s.header.header_len() + mss <= mtu,
                    "TSO pieces of {mss} bytes exceed the MTU"
                );
            }
            assert_eq!(ip.repr.src, US);
            assert_eq!(ip.payload.len() + 20, p.len());
            match ip.repr.protocol {
                PROTO_TCP => {
                    let s = TcpSegment::parse(US, ip.repr.dst, ip.payload).expect("valid TCP");
                    let h = s.header;
                    assert!(
                        !h.flags.rst() || s.payload.is_empty(),
                        "RST carries no data"
                    );
                    if ip.repr.dst == PEER
                        && h.dst_port == PEER_PORT
                        && h.src_port == self.local_port
                    {
                        let end = h.seq.0.wrapping_add(s.seq_len());
                        if (end.wrapping_sub(self.our_max) as i32) > 0 || self.our_max == 0 {
                            self.our_max = end;
                        }
                        self.sent_bytes += s.payload.len() as u64;
                    }
                }
                PROTO_UDP => {
                    UdpDatagram::parse(US, ip.repr.dst, ip.payload).expect("valid UDP");
                }
                PROTO_ICMP => {
                    IcmpMessage::parse(ip.payload).expect("valid ICMP");
                }
                other => panic!("we sent protocol {other}"),
            }
        }

        fn segment_to_conn(&mut self, i: &mut Input<'_>) {
            let flags = Flags(i.u8());
            let how = i.u8();
            // Mostly near what the connection expects, sometimes anywhere.
            let seq = match how & 3 {
                0 => self.peer_nxt,
                1 => self.peer_nxt.wrapping_add(u32::from(i.u16())),
                2 => self.peer_nxt.wrapping_sub(u32::from(i.u16())),
                _ => i.u32(),
            };
            let ack = match (how >> 2) & 3 {
                0 => self.our_max,
                1 => self.our_max.wrapping_sub(u32::from(i.u16())),
                2 => self.our_max.wrapping_add(u32::from(i.u8())),
                _ => i.u32(),
            };
            let window = i.u16();
            let payload_len = usize::from(i.u16() % 1600);
            let payload = vec![i.u8(); payload_len];
            let h = TcpHeader {
                src_port: PEER_PORT,
                dst_port: self.local_port,
                seq: SeqNumber(seq),
                ack: SeqNumber(ack),
                flags,
                window,
                ..TcpHeader::default()
            };
            let pkt = if how & 0x10 != 0 {
                let n = usize::from(i.u8() % 41);
                tcp_raw_options(&h, i.bytes(n), &payload)
            } else {
                let mut h = h;
                if how & 0x20 != 0 {
                    h.options.timestamp = Some((i.u32(), i.u32()));
                }
                if how & 0x40 != 0 {
                    let l = SeqNumber(self.our_max.wrapping_sub(u32::from(i.u16())));
                    h.options.sack_blocks[0] = Some((l, l + u32::from(i.u16())));
                }
                tcp_packet(&h, &payload)
            };
            if seq == self.peer_nxt && !flags.rst() {
                let len = payload_len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
                if how & 0x80 == 0 {
                    self.peer_nxt = self.peer_nxt.wrapping_add(len);
                }
            }
            self.wire.rx.push_back(pkt);
        }

        fn segment_to_listener(&mut self, i: &mut Input<'_>) {
            let src_port = 40000 + u16::from(i.u8() % 8);
            let flags = Flags(i.u8());
            let h = TcpHeader {
                src_port,
                dst_port: if i.u8() & 7 == 0 { i.u16() } else { 80 },
                seq: SeqNumber(i.u32()),
                ack: SeqNumber(i.u32()),
                flags,
                window: i.u16(),
                options: tunstack::wire::TcpOptions {
                    mss: Some(i.u16()),
                    window_scale: Some(i.u8()),
                    sack_permitted: true,
                    timestamp: Some((i.u32(), 0)),
                    ..Default::default()
                },
                ..TcpHeader::default()
            };
            let payload = {
                let n = usize::from(i.u8());
                i.bytes(n)
            };
            self.wire.rx.push_back(tcp_packet(&h, payload));
        }

        /// Many out-of-order segments with gaps between them: a hostile
        /// peer trying to make the receiver track unbounded holes.
        fn holes(&mut self, i: &mut Input<'_>) {
            let count = u32::from(i.u8() % 48);
            let len = u32::from(i.u8()).max(1);
            for k in 0..count {
                let h = TcpHeader {
                    src_port: PEER_PORT,
                    dst_port: self.local_port,
                    seq: SeqNumber(self.peer_nxt.wrapping_add((2 * k + 1) * len)),
                    ack: SeqNumber(self.our_max),
                    flags: Flags::ACK,
                    window: 65535,
                    ..TcpHeader::default()
                };
                self.wire
                    .rx
                    .push_back(tcp_packet(&h, &vec![0xa5; len as usize]));
            }
        }

        fn udp(&mut self, i: &mut Input<'_>) {
            let dst_port = if i.u8() & 1 == 0 { 53 } else { i.u16() };
            let payload = {
                let n = usize::from(i.u16() % 1600);
                i.bytes(n)
            };
            let d = UdpDatagram {
                src_port: i.u16(),
                dst_port,
                payload,
            };
            let mut buf = vec![0u8; 8 + payload.len()];
            if let Ok(n) = d.emit(&mut buf, PEER, US) {
                self.wire.rx.push_back(ip(PROTO_UDP, &buf[..n], PEER));
            }
        }

        fn icmp(&mut self, i: &mut Input<'_>) {
            let kind = match i.u8() % 4 {
                0 => icmp::ECHO_REQUEST,
                1 => icmp::DEST_UNREACHABLE,
                2 => icmp::TIME_EXCEEDED,
                _ => i.u8(),
            };
            let code = i.u8() % 16;
            let rest = [i.u8(), i.u8(), i.u8(), i.u8()];
            // Errors quote one of our packets (as a real router would),
            // possibly cut short or altered.
            let mut quote = if i.u8() & 1 == 0 {
                self.last_sent.clone()
            } else {
                {
                    let n = usize::from(i.u8());
                    i.bytes(n)
                }
                .to_vec()
            };
            quote.truncate(usize::from(i.u8()).max(20));
            if let (Some(b), x) = (quote.get_mut(usize::from(i.u8()) % 64), i.u8()) {
                *b ^= x;
            }
            let m = IcmpMessage {
                kind,
                code,
                rest,
                data: &quote,
            };
            let mut buf = vec![0u8; m.len()];
            if m.emit(&mut buf).is_ok() {
                self.wire.rx.push_back(ip(PROTO_ICMP, &buf, PEER));
            }
        }

        fn app(&mut self, i: &mut Input<'_>) {
            let which = i.u8();
            let h = match usize::from(which >> 4) {
                0 => self.conn,
                n => match self.others.get(n - 1) {
                    Some(h) => *h,
                    None => self.conn,
                },
            };
            let Some(t) = self.iface.tcp_mut(h) else {
                return;
            };
            match which & 15 {
                0..=3 => {
                    let n = usize::from(i.u16());
                    let _ = t.send(&vec![0x5a; n]);
                }
                4..=6 => {
                    let mut buf = vec![0u8; usize::from(i.u16())];
                    if let Ok(n) = t.recv(&mut buf) {
                        assert!(n <= buf.len());
                    }
                }
                7 => t.close(),
                8 => t.shutdown_read(),
                9 => t.abort(),
                10 => t.set_nodelay(i.u8() & 1 == 1),
                11 => {
                    let _ = t.set_recv_buffer(usize::from(i.u16()) * 16);
                }
                12 => t.set_send_buffer(usize::from(i.u16()) * 16),
                13 => {
                    let idle = Duration::from_millis(u64::from(i.u16()));
                    t.set_keepalive(Some(idle), self.now);
                }
                14 => self.iface.tcp_release(h),
                _ => {
                    let mut buf = [0u8; 64];
                    let _ = t.peek(&mut buf);
                }
            }
        }

        fn sockets(&mut self, i: &mut Input<'_>) {
            match i.u8() % 6 {
                0 => {
                    if let Ok(Some(h)) = self.iface.tcp_accept(80) {
                        self.others.push(h);
                    }
                }
                1 => {
                    let port = 8000 + u16::from(i.u8() % 4);
                    if let Ok(h) = self
                        .iface
                        .tcp_connect(self.now, SocketAddrV4::new(PEER, port))
                    {
                        self.others.push(h);
                    }
                }
                2 => {
                    let mut buf = vec![0u8; usize::from(i.u16())];
                    while let Some((n, _)) = self.iface.udp_recv(53, &mut buf) {
                        assert!(n <= buf.len());
                    }
                }
                3 => {
                    let data = {
                        let n = usize::from(i.u16() % 2000);
                        i.bytes(n)
                    }
                    .to_vec();
                    let _ = self
                        .iface
                        .udp_send(53, SocketAddrV4::new(PEER, i.u16()), &data);
                }
                4 => self.iface.tcp_unlisten(80),
                _ => {
                    let _ = self.iface.tcp_listen(80);
                }
            }
            self.others.truncate(15);
        }
    }

    /// Runs one sequence of operations. An input of odd length runs on a
    /// device with offloads (checksums vouched for, TSO writes).
    pub fn run(data: &[u8]) {
        let mut h = Harness::new(data.len() % 2 == 1);
        let mut i = Input::new(data);
        let mut ops = 0;
        while !i.is_empty() && ops < 512 {
            ops += 1;
            match i.u8() % 11 {
                0 => {
                    let n = usize::from(i.u16() % 1600);
                    let raw = i.bytes(n).to_vec();
                    h.wire.rx.push_back(raw);
                }
                1 | 2 => h.segment_to_conn(&mut i),
                3 => h.segment_to_listener(&mut i),
                4 => h.udp(&mut i),
                5 => h.icmp(&mut i),
                6 => h.app(&mut i),
                7 => h.sockets(&mut i),
                8 => {
                    // Jump to the next deadline, or by up to ~65 s.
                    let step = u64::from(i.u16());
                    h.now = match (step & 1, h.iface.poll_at()) {
                        (0, Some(t)) => t.max(h.now),
                        _ => h.now + Duration::from_millis(step),
                    };
                }
                9 => h.holes(&mut i),
                _ => {}
            }
            h.poll();
        }
        // Let every timer run out: the stack must go quiet with a bounded
        // number of packets, never spin.
        for _ in 0..200 {
            let Some(t) = h.iface.poll_at() else { break };
            h.now = t.max(h.now);
            h.poll();
        }
        let _ = h.sent_bytes;
        let _ = h.iface.stats().counters();
    }
}

/// An HTTP response head followed by its body, fed in fuzzed chunks.
pub mod http {
    use super::Input;
    use std::io::{self, Read};
    use tunstack::http::{read_head, Body, BodyMode, Limits};

    /// A reader that returns the bytes in chunks of fuzzed sizes.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: &'a [u8],
        next: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = match self.sizes {
                [] => usize::MAX,
                s => usize::from(s[self.next % s.len()]).max(1),
            };
            self.next += 1;
            let n = self.data.len().min(buf.len()).min(size);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// `data`: one byte of settings, a length-prefixed list of read sizes,
    /// then the response bytes.
    pub fn run(data: &[u8]) {
        let mut i = Input::new(data);
        let settings = i.u8();
        let sizes = {
            let n = usize::from(i.u8() % 16);
            i.bytes(n)
        };
        let stream = i.bytes(usize::MAX);
        let mut r = Chunked {
            data: stream,
            sizes,
            next: 0,
        };
        let limits = if settings & 1 == 0 {
            Limits::default()
        } else {
            Limits {
                max_head_bytes: 256,
                max_headers: 4,
            }
        };
        let mut buf = Vec::new();
        let Ok(head) = read_head(&mut r, &mut buf, &limits) else {
            return;
        };
        assert!(buf.len() <= stream.len());
        let _ = head.header_str("content-type");
        let method = if settings & 2 == 0 { "GET" } else { "HEAD" };
        let Ok(mode) = BodyMode::for_response(method, &head) else {
            return;
        };
        let available = (buf.len() + r.data.len()) as u64;
        let mut body = Body::new(r, buf, mode);
        let mut out = vec![0u8; 1 + usize::from(settings >> 2) * 16];
        let mut total: u64 = 0;
        let result = loop {
            match body.read(&mut out) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    assert!(n <= out.len());
                    total += n as u64;
                    assert!(total <= available, "more body than bytes received");
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        assert_eq!(body.received(), total);
        match (mode, &result) {
            (BodyMode::NoBody, _) => assert_eq!(total, 0),
            (BodyMode::Length(n), Ok(())) => assert_eq!(total, n, "a complete body is exact"),
            (BodyMode::Length(n), Err(_)) => assert!(total <= n),
            _ => {}
        }
        let _ = body.trailers().len();
        let _ = body.is_reusable();
        if let Ok(mut decoded) = tunstack::http::decoded(&head, &[][..]) {
            let _ = decoded.read(&mut out);
        }
        // The content decoders on the raw bytes, bounded (a small input
        // can inflate a lot).
        let mut coded = head.clone();
        coded.headers = vec![(
            "Content-Encoding".into(),
            if settings & 0x80 == 0 {
                b"gzip".to_vec()
            } else {
                b"deflate".to_vec()
            },
        )];
        if let Ok(d) = tunstack::http::decoded(&coded, stream) {
            let mut sink = vec![0u8; 4096];
            let mut d = d.take(1 << 20);
            while let Ok(n) = d.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// The DNS message codec.
pub mod dns {
    use tunstack::dns::{decode, encode_query, Message, RecordData};

    /// Decodes `data` as a message; separately, queries for a name made of
    /// the same bytes must decode back to that question.
    pub fn run(data: &[u8]) {
        if let Ok(m) = decode(data) {
            check(&m);
        }
        let name = String::from_utf8_lossy(data);
        let id = data
            .iter()
            .fold(0u16, |a, &b| a.rotate_left(3) ^ u16::from(b));
        if let Ok(q) = encode_query(id, &name, 1) {
            assert!(q.len() <= 512, "a query fits a UDP message");
            let m = decode(&q).expect("our own query decodes");
            assert_eq!((m.id, m.is_response), (id, false));
            assert_eq!(m.questions.len(), 1);
            assert_eq!(
                m.questions[0].name,
                name.trim_end_matches('.').to_ascii_lowercase()
            );
            assert_eq!(m.questions[0].qtype, 1);
        }
    }

    fn check(m: &Message) {
        for q in &m.questions {
            assert!(q.name.len() <= 255, "{} bytes", q.name.len());
            let _ = m.addresses(&q.name);
        }
        for r in &m.answers {
            assert!(r.name.len() <= 255);
            if let RecordData::Cname(c) = &r.data {
                assert!(c.len() <= 255);
                let _ = m.addresses(c);
            }
        }
        let cap = tunstack::dns::message::MAX_RECORDS;
        assert!(m.questions.len() <= cap && m.answers.len() <= cap);
    }
}

/// Fragment reassembly ([`Reassembler`](tunstack::stack::Reassembler)):
/// fuzzed fragments of a few datagrams from IPv4 and IPv6 sources, time
/// steps and expiries, under default or tiny limits. Every fragment's bytes
/// come from one function of (identification, offset), so a datagram that
/// comes out must match that function byte for byte (an overlap can never
/// mix two contents into one); memory never exceeds the total cap; once
/// every timeout has passed nothing is held.
pub mod frag {
    use super::Input;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use tunstack::stack::{Expired, FragLimits, Fragment, Reassembler, Stats, QUOTE_V4, QUOTE_V6};
    use tunstack::time::{Duration, Instant};

    const US4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    /// The byte at `offset` of datagram `ident`.
    fn content(ident: u32, offset: usize) -> u8 {
        (ident as u8).wrapping_mul(31) ^ (offset as u8) ^ ((offset >> 8) as u8)
    }

    /// `data`: one byte of settings, then operations.
    pub fn run(data: &[u8]) {
        let mut i = Input::new(data);
        let settings = i.u8();
        let limits = if settings & 1 == 0 {
            FragLimits::default()
        } else {
            FragLimits {
                per_peer: 4096,
                total: 8192,
                max_fragments: 8,
                ..FragLimits::default()
            }
        };
        let total_cap = limits.total;
        let mut r = Reassembler::new(limits);
        let mut stats = Stats::default();
        let mut now = Instant::ZERO;
        let mut ops = 0;
        let mut expired = 0u64;
        while !i.is_empty() && ops < 1024 {
            ops += 1;
            match i.u8() % 8 {
                0..=4 => push(&mut i, &mut r, &mut stats, now),
                5 => now += Duration::from_millis(u64::from(i.u16()) * 4),
                6 => expired += quotes(r.expire(now, &mut stats)),
                _ => {
                    if let Some(t) = r.poll_at() {
                        assert!(r.trains() > 0, "a deadline with nothing held");
                        now = t.max(now);
                        expired += quotes(r.expire(now, &mut stats));
                    }
                }
            }
            assert!(r.memory() <= total_cap, "{} > {total_cap}", r.memory());
            assert_eq!(r.trains() == 0, r.memory() == 0);
        }
        // IPv6 trains live 60 s: past that, everything is gone.
        expired += quotes(r.expire(now + Duration::from_secs(61), &mut stats));
        assert_eq!((r.trains(), r.memory(), r.poll_at()), (0, 0, None));
        // A Time Exceeded only for a train that timed out.
        assert!(expired <= stats.frag_timeout);
        let dropped = stats.frag_overlap
            + stats.frag_after_overlap
            + stats.frag_duplicate
            + stats.frag_tiny
            + stats.frag_malformed
            + stats.frag_oversize
            + stats.frag_peer_limit
            + stats.frag_total_limit
            + stats.frag_too_many;
        assert!(dropped + stats.frag_reassembled + stats.frag_atomic <= stats.frag_received);
    }

    /// Checks the Time Exceeded quotes an expiry hands back; counts them.
    fn quotes(expired: Vec<Expired>) -> u64 {
        for e in &expired {
            let max = if e.src.is_ipv6() { QUOTE_V6 } else { QUOTE_V4 };
            assert!(!e.quote.is_empty() && e.quote.len() <= max);
        }
        expired.len() as u64
    }

    fn push(i: &mut Input<'_>, r: &mut Reassembler, stats: &mut Stats, now: Instant) {
        let who = i.u8();
        let ident = u32::from(who >> 4 & 3);
        let (src, dst): (IpAddr, IpAddr) = match who & 3 {
            0 => (Ipv4Addr::new(10, 0, 0, 1).into(), US4.into()),
            1 => (Ipv4Addr::new(10, 0, 0, 7).into(), US4.into()),
            2 => (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                US6.into(),
            ),
            _ => (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7).into(),
                US6.into(),
            ),
        };
        let protocol = [17, 6, 1, 58, 0, 43][usize::from(i.u8() % 6)];
        let shape = i.u8();
        // Mostly small offsets and lengths so fragments meet; sometimes
        // anything the header fields allow.
        let (offset, len) = if shape & 0x80 == 0 {
            (usize::from(shape & 0x1f) * 8, usize::from(i.u8()) % 80)
        } else {
            (
                usize::from(i.u16() & 0x1fff) * 8,
                usize::from(i.u16()) % 2000,
            )
        };
        let more = shape & 0x40 != 0;
        let payload: Vec<u8> = (offset..offset + len).map(|o| content(ident, o)).collect();
        // Headers as long as the family's (IPv6 with a fragment header),
        // so first fragments carry a quote of the usual size.
        let header = [0x5a; 48];
        let f = Fragment {
            src,
            dst,
            ident,
            protocol,
            offset,
            more,
            payload: &payload,
            header: &header[..if src.is_ipv6() { 48 } else { 20 }],
        };
        if let Some(d) = r.push(now, &f, stats) {
            assert_eq!((d.src, d.dst), (src, dst));
            for (o, b) in d.payload.iter().enumerate() {
                assert_eq!(*b, content(ident, o), "byte {o} of datagram {ident}");
            }
            assert!(d.payload.len() <= 65535);
        }
    }
}

/// `http::Url`: parsing (IPv6 literals, ports, userinfo), the Basic
/// credentials the userinfo carries, and reference resolution.
///
/// What must hold for any input: no panic; a parsed URL shows itself in
/// a form that parses back to the same URL (what `%{url_effective}`
/// prints is a URL), and without its userinfo when redacted; credentials
/// never hold a NUL (such a URL is refused) and their Basic header is the
/// base64 of `user:password`; resolving a reference without an authority
/// keeps the base's userinfo.
pub mod url {
    use tunstack::http::{basic_auth, Url};

    /// `data`: a URL, optionally followed by a NUL and a reference.
    pub fn run(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let (url, reference) = text.split_once('\0').unwrap_or((&text, ""));
        let Ok(u) = Url::parse(url) else {
            return;
        };
        let shown = u.to_string();
        let again = Url::parse(&shown).ok();
        assert_eq!(again.as_ref(), Some(&u), "{shown}");
        let redacted = Url::parse(&u.redacted()).expect("the redacted form parses");
        assert_eq!(redacted.userinfo, None);
        assert_eq!((&redacted.host, redacted.port), (&u.host, u.port));
        if let Some((user, password)) = u.credentials() {
            assert!(!user.contains(&0) && !password.contains(&0));
            let header = basic_auth(&user, &password);
            let pair = user.len() + 1 + password.len();
            assert_eq!(header.len(), "Basic ".len() + pair.div_ceil(3) * 4);
        }
        if let Ok(j) = u.join(reference) {
            let relative = !reference.contains("://") && !reference.trim().starts_with("//");
            if relative {
                assert_eq!(j.userinfo, u.userinfo, "{reference:?}");
                assert!(j.same_origin(&u));
            }
        }
    }
}

/// tunstack's TLS client (`http::tls`) and the HTTP body reader over it,
/// against a rustls server whose byte stream ends, resets, turns into
/// garbage or has a byte flipped at a fuzzed offset: mid-handshake,
/// mid-record, between records, or after `close_notify`.
///
/// What must hold for any input: no panic; a failed handshake is a TLS
/// error (curl's 35/60), never a bare I/O error; the body bytes that come
/// out are a prefix of what the server sent (record protection lets no
/// altered byte through); a counted body that reads to its end is exact;
/// a close reported as `close_notify` came after every byte; and our own
/// `close_notify` reaches the server.
pub mod tls {
    use super::Input;
    use std::io::{self, Read, Write};
    use std::sync::Arc;
    use tunstack::http::tls::{handshake, CertificateDer, PemObject};
    use tunstack::http::{read_head, Body, BodyMode, Limits, PeerClose, TlsConfig, TlsError};

    // A CA and a server certificate for fuzz.test, valid until 2126,
    // made once with the openssl CLI (test data, not secrets).
    const CA: &str = include_str!("../fixtures/ca.pem");
    const CERT: &str = include_str!("../fixtures/server.pem");
    const KEY: &str = include_str!("../fixtures/server.key");

    /// The client configuration and a server configuration for one
    /// version, made afresh for every input: a shared one would resume
    /// the previous input's session, and a run would depend on the ones
    /// before it.
    fn configs(tls12: bool) -> (TlsConfig, Arc<rustls::ServerConfig>) {
        let ca = CertificateDer::from_pem_slice(CA.as_bytes()).expect("fixture CA");
        let client = TlsConfig::builder()
            .root_certificates(vec![ca])
            .build()
            .expect("client config");
        let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).expect("fixture cert");
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(KEY.as_bytes()).expect("fixture key");
        let version = if tls12 {
            &rustls::version::TLS12
        } else {
            &rustls::version::TLS13
        };
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
        (client, Arc::new(server))
    }

    /// How the server's byte stream ends at the cut.
    #[derive(Clone, Copy, Debug)]
    enum End<'a> {
        Fin,
        Reset,
        /// These bytes instead of the rest, then a FIN.
        Garbage(&'a [u8]),
        /// The byte at the cut XORed with this (non-zero), then the rest.
        Flip(u8),
    }

    /// The server side of the connection, as the client's transport.
    struct Peer<'a> {
        server: rustls::ServerConnection,
        response: &'a [u8],
        head_len: usize,
        notify: bool,
        responded: bool,
        request: Vec<u8>,
        /// The server's wire bytes so far, and how many the client has.
        wire: Vec<u8>,
        delivered: usize,
        cut: usize,
        end: End<'a>,
        garbage_sent: usize,
        sizes: &'a [u8],
        next: usize,
    }

    impl Peer<'_> {
        /// The server reads the request; once its head is complete it
        /// answers with `response` (and `close_notify`, if asked).
        fn serve(&mut self) {
            if self.server.process_new_packets().is_err() {
                return;
            }
            let mut buf = [0u8; 4096];
            while let Ok(n) = self.server.reader().read(&mut buf) {
                if n == 0 {
                    break;
                }
                self.request.extend_from_slice(&buf[..n]);
                if self.request.len() > 1 << 16 {
                    break;
                }
            }
            if !self.responded && self.request.windows(4).any(|w| w == b"\r\n\r\n") {
                self.responded = true;
                // The head and the body in records of their own, so that
                // a cut can fall inside a body whose length is known.
                let (head, body) = self
                    .response
                    .split_at(self.head_len.min(self.response.len()));
                let _ = self.server.writer().write_all(head);
                let _ = self.server.writer().write_all(body);
                if self.notify {
                    self.server.send_close_notify();
                }
            }
            while self.server.wants_write() {
                if self.server.write_tls(&mut self.wire).is_err() {
                    break;
                }
            }
        }

        /// The server has read the client's close_notify.
        fn saw_close_notify(&mut self) -> bool {
            let _ = self.server.process_new_packets();
            let mut buf = [0u8; 4096];
            loop {
                match self.server.reader().read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(_) => return false,
                }
            }
        }
    }

    impl Read for Peer<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.serve();
            let size = match self.sizes {
                [] => usize::MAX,
                s => usize::from(s[self.next % s.len()]).max(1),
            };
            self.next += 1;
            let limit = match self.end {
                End::Flip(_) => self.wire.len(),
                _ => self.cut.min(self.wire.len()),
            };
            if self.delivered >= limit {
                return match self.end {
                    End::Reset if self.delivered >= self.cut => {
                        Err(io::ErrorKind::ConnectionReset.into())
                    }
                    End::Garbage(g) if self.delivered >= self.cut => {
                        let rest = &g[self.garbage_sent.min(g.len())..];
                        let n = rest.len().min(buf.len()).min(size);
                        buf[..n].copy_from_slice(&rest[..n]);
                        self.garbage_sent += n;
                        Ok(n)
                    }
                    _ => Ok(0),
                };
            }
            let n = (limit - self.delivered).min(buf.len()).min(size);
            buf[..n].copy_from_slice(&self.wire[self.delivered..self.delivered + n]);
            if let End::Flip(x) = self.end {
                if (self.delivered..self.delivered + n).contains(&self.cut) {
                    buf[self.cut - self.delivered] ^= x;
                }
            }
            self.delivered += n;
            Ok(n)
        }
    }

    impl Write for Peer<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut rest = buf;
            while !rest.is_empty() {
                match self.server.read_tls(&mut rest) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if self.server.process_new_packets().is_err() {
                            break;
                        }
                    }
                }
            }
            self.serve();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `data`: settings (TLS version, framing, close_notify, how the
    /// stream ends), the cut offset, read sizes, garbage, then the body.
    pub fn run(data: &[u8]) {
        let mut i = Input::new(data);
        let settings = i.u8();
        let cut = usize::from(i.u16());
        let sizes = {
            let n = usize::from(i.u8() % 8);
            i.bytes(n)
        };
        let garbage = {
            let n = usize::from(i.u8() % 64);
            i.bytes(n)
        };
        let flip = i.u8() | 1;
        let body = i.bytes(8192);
        let counted = settings & 2 == 0;
        let mut response = if counted {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes()
        } else {
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec()
        };
        let head_len = response.len();
        response.extend_from_slice(body);
        let end = match (settings >> 3) & 3 {
            0 => End::Fin,
            1 => End::Reset,
            2 => End::Garbage(garbage),
            _ => End::Flip(flip),
        };
        let (client, server_config) = configs(settings & 1 != 0);
        let Ok(server) = rustls::ServerConnection::new(server_config) else {
            return;
        };
        let peer = Peer {
            server,
            response: &response,
            head_len,
            notify: settings & 4 != 0,
            responded: false,
            request: Vec::new(),
            wire: Vec::new(),
            delivered: 0,
            // Ends past the whole exchange are as likely as ones inside it.
            cut: if settings & 0x80 != 0 {
                usize::MAX
            } else {
                cut
            },
            end,
            garbage_sent: 0,
            sizes,
            next: 0,
        };
        let mut tls = match handshake(&client, "fuzz.test", peer) {
            Ok(t) => t,
            Err(e) => {
                assert!(
                    TlsError::from_io(&e).is_some(),
                    "a failed handshake is a TLS error (35/60), not {e:?}"
                );
                return;
            }
        };
        if tls
            .write_all(b"GET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n")
            .and_then(|()| tls.flush())
            .is_err()
        {
            return;
        }
        let mut leftover = Vec::new();
        let Ok(head) = read_head(&mut tls, &mut leftover, &Limits::default()) else {
            return;
        };
        // Record protection: what was read is what the server sent.
        assert_eq!(head.status, 200);
        let Ok(mode) = BodyMode::for_response("GET", &head) else {
            return;
        };
        let mut reader = Body::new(tls, leftover, mode);
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 + usize::from(settings >> 5) * 700];
        let result = loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let sent = &response[head_len..];
        assert!(
            sent.starts_with(&got),
            "the body read is not a prefix of the body sent"
        );
        if counted && result.is_ok() {
            assert_eq!(got.len(), sent.len(), "a counted body read to its end");
        }
        let mut tls = reader.into_inner();
        if result.is_ok() && tls.peer_close() == Some(PeerClose::Notified) {
            assert_eq!(got, sent, "close_notify came after every byte");
        }
        // After a TLS failure the client has sent a fatal alert instead.
        let tls_failed = matches!(&result, Err(e) if TlsError::from_io(e).is_some());
        if tls.close().is_ok() && !tls_failed {
            assert!(
                tls.get_mut().saw_close_notify(),
                "our close_notify reached the server"
            );
        }
    }
}
