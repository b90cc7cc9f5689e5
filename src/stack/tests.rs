//! Interface tests: demux, LISTEN/CLOSED replies, UDP, drop counters, and
//! the helpers the other interface tests share (the in-memory
//! [`VecDevice`], packet builders, [`Fam`]).
//!
//! The TCP demux tests take a [`Fam`] and run over both families
//! ([`both_families!`] makes `NAME::v4` and `NAME::v6`); ICMP has its own
//! tests per family, in `icmp_tests.rs` and `ipv6_tests.rs`.

use super::*;
use crate::tcp::State;
use crate::wire::icmp::{self, IcmpMessage};
use crate::wire::{Flags, Ipv4Packet, Ipv4Repr, SeqNumber, TcpSegment};
use std::net::SocketAddrV4;

/// The address family an interface test runs over: the peer is 10.0.0.1
/// or fd00::1, we are 10.0.0.2 or fd00::2.
#[derive(Clone, Copy, Debug)]
pub(super) enum Fam {
    V4,
    V6,
}

impl Fam {
    /// Host `n` of the link's subnet (10.0.0.n or fd00::n).
    pub(super) fn host(self, n: u8) -> IpAddr {
        match self {
            Fam::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            Fam::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n))),
        }
    }

    /// The peer's `port`.
    pub(super) fn peer_at(self, port: u16) -> SocketAddr {
        SocketAddr::new(self.host(1), port)
    }

    /// A TCP segment from the peer to us.
    pub(super) fn segment(self, h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
        match self {
            Fam::V4 => packet(PEER, US, h, payload),
            Fam::V6 => super::ipv6_tests::packet6(
                super::ipv6_tests::PEER6,
                super::ipv6_tests::US6,
                h,
                payload,
            ),
        }
    }
}

/// Turns each `fn NAME(fam: Fam)` into the tests `NAME::v4` and
/// `NAME::v6`.
macro_rules! both_families {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn v4() {
                    super::$name(super::Fam::V4)
                }
                #[test]
                fn v6() {
                    super::$name(super::Fam::V6)
                }
            }
        )+
    };
}

/// An in-memory device: packets to read, packets written.
#[derive(Default)]
pub(crate) struct VecDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
}

/// The next of a test device's queued packets, each with the
/// `checksum_ok` its read reports, copied into `buf`; `WouldBlock` when
/// none is left.
pub(super) fn pop_meta(
    rx: &mut VecDeque<(Vec<u8>, bool)>,
    buf: &mut [u8],
) -> io::Result<crate::device::RxMeta> {
    let (p, ok) = rx.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
    buf[..p.len()].copy_from_slice(&p);
    Ok(crate::device::RxMeta {
        len: p.len(),
        checksum_ok: ok,
    })
}

impl Device for VecDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = self.rx.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        Ok(n)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.tx.push(packet.to_vec());
        Ok(())
    }
    fn mtu(&self) -> usize {
        1500
    }
}

pub(super) const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(super) const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub(super) fn packet(src: Ipv4Addr, dst: Ipv4Addr, h: &TcpHeader, payload: &[u8]) -> Vec<u8> {
    let hl = h.header_len();
    let mut buf = vec![0u8; IPV4_HEADER_LEN + hl + payload.len()];
    buf[IPV4_HEADER_LEN + hl..].copy_from_slice(payload);
    h.emit(&mut buf[IPV4_HEADER_LEN..], src, dst).unwrap();
    Ipv4Repr {
        src,
        dst,
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: hl + payload.len(),
    }
    .emit(&mut buf, 1)
    .unwrap();
    buf
}

pub(super) fn tcp_header(sport: u16, dport: u16, seq: u32, ack: u32, flags: Flags) -> TcpHeader {
    TcpHeader {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags,
        window: 65535,
        ..TcpHeader::default()
    }
}

/// The TCP header and payload of a packet we sent, over either family.
pub(super) fn parse_tcp(p: &[u8]) -> (TcpHeader, Vec<u8>) {
    if p.first().is_some_and(|b| b >> 4 == 6) {
        let (_, h, payload) = super::ipv6_tests::parse_tcp6(p);
        return (h, payload);
    }
    let ip = Ipv4Packet::parse(p).unwrap();
    assert_eq!(ip.repr.protocol, PROTO_TCP);
    let s = TcpSegment::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
    (s.header, s.payload.to_vec())
}

/// A fresh interface with one connection attempt to `remote`: the
/// interface, the connection's handle and the SYN it sent.
pub(super) fn connecting(remote: impl Into<SocketAddr>) -> (Interface, SocketHandle, Vec<u8>) {
    let mut iface = Interface::new(Config::default());
    let h = iface.tcp_connect(Instant::ZERO, remote).unwrap();
    let syn = poll_with(&mut iface, Instant::ZERO, vec![]).remove(0);
    (iface, h, syn)
}

pub(super) fn poll_with(iface: &mut Interface, now: Instant, input: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut dev = VecDevice {
        rx: input.into(),
        tx: Vec::new(),
    };
    iface.poll(now, &mut dev);
    dev.tx
}

fn closed_port_syn_gets_rst_ack(fam: Fam) {
    // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    let mut iface = Interface::new(Config::default());
    let syn = fam.segment(&tcp_header(5555, 81, 1000, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn]);
    assert_eq!(out.len(), 1);
    let (h, _) = parse_tcp(&out[0]);
    assert_eq!(h.flags, Flags::RST | Flags::ACK);
    assert_eq!((h.seq, h.ack), (SeqNumber(0), SeqNumber(1001)));
    assert_eq!((h.src_port, h.dst_port), (81, 5555));
    assert_eq!(iface.stats().tcp_no_socket, 1);
}

fn closed_port_ack_gets_rst_with_seq_of_ack_and_rst_gets_nothing(fam: Fam) {
    let mut iface = Interface::new(Config::default());
    let ack = fam.segment(&tcp_header(5555, 81, 1000, 777, Flags::ACK), b"x");
    let rst = fam.segment(&tcp_header(5555, 81, 1000, 777, Flags::RST), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![ack, rst]);
    assert_eq!(out.len(), 1, "never RST a RST");
    let (h, _) = parse_tcp(&out[0]);
    assert_eq!((h.flags, h.seq), (Flags::RST, SeqNumber(777)));
}

#[test]
fn malformed_packets_are_counted_by_reason() {
    let mut iface = Interface::new(Config::default());
    let good = packet(PEER, US, &tcp_header(5555, 81, 1, 0, Flags::SYN), b"");
    let mut bad_ip_sum = good.clone();
    bad_ip_sum[8] = 3;
    let mut bad_tcp_sum = good.clone();
    bad_tcp_sum[30] ^= 0x55;
    let mut frag = good.clone();
    frag[6] = 0x20; // MF
    frag[10..12].copy_from_slice(&[0, 0]);
    let c = crate::wire::checksum::data(&frag[..20]);
    frag[10..12].copy_from_slice(&c.to_be_bytes());
    let other = packet(
        PEER,
        Ipv4Addr::new(10, 0, 0, 9),
        &tcp_header(1, 2, 3, 0, Flags::SYN),
        b"",
    );
    let inputs = vec![
        vec![],
        vec![0x70; 40],
        good[..10].to_vec(),
        bad_ip_sum,
        bad_tcp_sum,
        frag,
        other,
    ];
    let out = poll_with(&mut iface, Instant::ZERO, inputs);
    assert!(out.is_empty());
    let s = iface.stats();
    assert_eq!(s.rx_empty, 1);
    assert_eq!(s.ip_bad_version, 1);
    assert_eq!(s.ip_truncated, 1);
    assert_eq!(s.ip_bad_checksum, 1);
    assert_eq!(s.tcp_bad_checksum, 1);
    assert_eq!(s.ip_fragments, 1);
    assert_eq!(s.ip_not_for_us, 1);
}

pub(super) fn udp_packet(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let d = crate::wire::UdpDatagram {
        src_port: sport,
        dst_port: dport,
        payload,
    };
    let mut pkt = vec![0u8; 20 + 8 + payload.len()];
    d.emit(&mut pkt[20..], PEER, US).unwrap();
    Ipv4Repr {
        src: PEER,
        dst: US,
        protocol: crate::wire::PROTO_UDP,
        ttl: 64,
        payload_len: 8 + payload.len(),
    }
    .emit(&mut pkt, 9)
    .unwrap();
    pkt
}

#[test]
fn udp_to_closed_port_gets_port_unreachable() {
    // RFC 1122 §4.1.3.1.
    let mut iface = Interface::new(Config::default());
    let out = poll_with(
        &mut iface,
        Instant::ZERO,
        vec![udp_packet(5000, 9999, b"hi")],
    );
    let ip = Ipv4Packet::parse(&out[0]).unwrap();
    let m = IcmpMessage::parse(ip.payload).unwrap();
    assert_eq!(
        (m.kind, m.code),
        (icmp::DEST_UNREACHABLE, icmp::CODE_PORT_UNREACHABLE)
    );
    assert_eq!(
        &m.data[..20],
        &udp_packet(5000, 9999, b"hi")[..20],
        "quotes the offending header"
    );
    assert_eq!(iface.stats().udp_no_socket, 1);
}

#[test]
fn udp_bound_port_receives_and_replies() {
    let mut iface = Interface::new(Config {
        udp_queue: 2,
        ..Config::default()
    });
    assert_eq!(iface.udp_bind(53), Ok(53));
    assert_eq!(iface.udp_bind(53), Err(Error::AddrInUse));
    let inputs = vec![
        udp_packet(4000, 53, b"one"),
        udp_packet(4000, 53, b"two"),
        udp_packet(4000, 53, b"three"),
    ];
    assert!(poll_with(&mut iface, Instant::ZERO, inputs).is_empty());
    assert_eq!(iface.stats().udp_queue_full, 1, "queue bounded at 2");
    let mut buf = [0u8; 2];
    assert_eq!(
        iface.udp_recv(53, &mut buf),
        Some((2, SocketAddrV4::new(PEER, 4000).into()))
    );
    assert_eq!(&buf, b"on", "truncated like recv_from");
    iface
        .udp_send(53, SocketAddrV4::new(PEER, 4000), b"reply")
        .unwrap();
    assert_eq!(
        iface.udp_send(53, SocketAddrV4::new(PEER, 4000), &vec![0; 2000]),
        Err(UdpSendError::TooLarge)
    );
    let out = poll_with(&mut iface, Instant::ZERO, vec![]);
    let ip = Ipv4Packet::parse(&out[0]).unwrap();
    let d = crate::wire::UdpDatagram::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
    assert_eq!(
        (d.src_port, d.dst_port, d.payload),
        (53, 4000, &b"reply"[..])
    );
    let eph = iface.udp_bind(0).unwrap();
    assert!((32768..=60999).contains(&eph));
}

#[test]
fn udp_datagrams_queued_before_unbind_still_leave() {
    // Linux sends what a socket queued before close(2).
    let mut iface = Interface::new(Config::default());
    iface.udp_bind(53).unwrap();
    iface
        .udp_send(53, SocketAddrV4::new(PEER, 4000), b"last words")
        .unwrap();
    iface.udp_unbind(53);
    assert_eq!(iface.udp_events(53), None, "unbound for the application");
    assert!(
        poll_with(
            &mut iface,
            Instant::ZERO,
            vec![udp_packet(4000, 53, b"late")]
        )
        .iter()
        .any(|p| {
            let ip = Ipv4Packet::parse(p).unwrap();
            crate::wire::UdpDatagram::parse(ip.repr.src, ip.repr.dst, ip.payload)
                .is_ok_and(|d| d.payload == b"last words")
        }),
        "the queued datagram left"
    );
    assert_eq!(iface.udp_bind(53), Ok(53), "the port is free again");
    let mut buf = [0u8; 8];
    assert_eq!(iface.udp_recv(53, &mut buf), None, "nothing inherited");
}

fn listener_completes_handshake_and_queues_for_accept(fam: Fam) {
    let mut iface = Interface::new(Config::default());
    assert_eq!(iface.tcp_listen(80), Ok(80));
    assert_eq!(iface.tcp_listen(80), Err(Error::AddrInUse));
    let syn = fam.segment(&tcp_header(40000, 80, 5000, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn]);
    let (sa, _) = parse_tcp(&out[0]);
    assert_eq!(sa.flags, Flags::SYN | Flags::ACK);
    assert_eq!(sa.ack, SeqNumber(5001));
    assert_eq!(iface.tcp_accept(80), Ok(None));
    let ack = fam.segment(
        &tcp_header(40000, 80, 5001, sa.seq.0.wrapping_add(1), Flags::ACK),
        b"hi",
    );
    poll_with(&mut iface, Instant::from_millis(1), vec![ack]);
    let h = iface.tcp_accept(80).unwrap().expect("queued connection");
    let tcb = iface.tcp_mut(h).unwrap();
    assert_eq!(tcb.state(), State::Established);
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(2));
    assert_eq!(iface.tcp_accept(81), Err(Error::NotListening));
}

fn listener_full_syn_queue_evicts_the_oldest_half_open_connection_without_cookies(fam: Fam) {
    let mut iface = Interface::new(Config {
        syn_backlog: 2,
        syn_cookies: false,
        ..Config::default()
    });
    iface.tcp_listen(80).unwrap();
    let syns: Vec<_> = (0..5)
        .map(|i| fam.segment(&tcp_header(40000 + i, 80, 1, 0, Flags::SYN), b""))
        .collect();
    let out = poll_with(&mut iface, Instant::ZERO, syns);
    assert_eq!(iface.stats().tcp_syn_evicted, 3);
    assert_eq!(iface.stats().tcp_listen_overflow, 0);
    assert_eq!(iface.connection_count(), 2, "the queue stays at its cap");
    // The two newest SYNs hold the queue and were answered.
    let segs: Vec<_> = out.iter().map(|p| parse_tcp(p).0).collect();
    let mut ports: Vec<u16> = segs.iter().map(|h| h.dst_port).collect();
    ports.sort_unstable();
    assert_eq!(ports, [40003, 40004]);
    let seg = segs.iter().find(|h| h.dst_port == 40004).unwrap();
    let ack = fam.segment(
        &tcp_header(40004, 80, 2, (seg.seq + 1u32).0, Flags::ACK),
        b"",
    );
    poll_with(&mut iface, Instant::ZERO, vec![ack]);
    assert!(
        matches!(iface.tcp_accept(80), Ok(Some(_))),
        "the newest SYN's handshake completed"
    );
    // The oldest one was forgotten: its ACK now meets only the listener.
    let stale = fam.segment(&tcp_header(40000, 80, 2, 12345, Flags::ACK), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![stale]);
    assert!(parse_tcp(&out[0]).0.flags.rst());
}

fn replies_to_strays_are_limited_per_second(fam: Fam) {
    // One RST per stray segment (RFC 9293 §3.10.7.1), but never more than
    // the per-second budget: a flood cannot turn us into a traffic source.
    let mut iface = Interface::new(Config::default());
    let stray = |i: u16| fam.segment(&tcp_header(1000 + i, 9, 1, 0, Flags::SYN), b"");
    let mut rsts = 0;
    for round in 0..75u16 {
        let input = (0..16).map(|i| stray(round * 16 + i)).collect();
        rsts += poll_with(&mut iface, Instant::ZERO, input).len();
    }
    assert_eq!(rsts, REPLIES_PER_SECOND as usize);
    assert_eq!(iface.stats().replies_rate_limited, 200);
    let later = Instant::ZERO + crate::time::Duration::from_millis(1000);
    assert_eq!(
        poll_with(&mut iface, later, vec![stray(9999)]).len(),
        1,
        "a new second, a new budget"
    );
}

#[test]
fn mss_follows_the_mtu_unless_capped() {
    // RFC 9293 §3.7.1: MSS = MTU − 20 (IPv4) − 20 (TCP).
    for (mtu, mss) in [(1500, 1460), (9000, 8960), (65535, 65495), (576, 536)] {
        let iface = Interface::new(Config {
            mtu,
            ..Config::default()
        });
        assert_eq!(iface.config().tcp.mss, mss, "MTU {mtu}");
    }
    let mut capped = Config {
        mtu: 9000,
        ..Config::default()
    };
    capped.tcp.mss = 1200;
    assert_eq!(Interface::new(capped).config().tcp.mss, 1200);
}

fn listener_full_accept_queue_drops_new_syns(fam: Fam) {
    let mut iface = Interface::new(Config {
        accept_backlog: 1,
        ..Config::default()
    });
    iface.tcp_listen(80).unwrap();
    let syn = fam.segment(&tcp_header(40000, 80, 1, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn]);
    let (synack, _) = parse_tcp(&out[0]);
    let ack = fam.segment(
        &tcp_header(40000, 80, 2, (synack.seq + 1u32).0, Flags::ACK),
        b"",
    );
    poll_with(&mut iface, Instant::ZERO, vec![ack]);
    let syn = fam.segment(&tcp_header(40001, 80, 1, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::ZERO, vec![syn]);
    assert!(out.is_empty(), "nobody accepts: no new handshake");
    assert_eq!(iface.stats().tcp_listen_overflow, 1);
}

fn ephemeral_ports_are_randomized_and_in_range(fam: Fam) {
    let mut iface = Interface::new(Config::default());
    let remote = fam.peer_at(80);
    let ports: Vec<u16> = (0..20)
        .map(|_| {
            let h = iface.tcp_connect(Instant::ZERO, remote).unwrap();
            iface.tcp(h).unwrap().local().port()
        })
        .collect();
    assert!(ports.iter().all(|p| (32768..=60999).contains(p)));
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        ports.len(),
        "no port reused for the same destination"
    );
    assert_ne!(
        ports.windows(2).filter(|w| w[1] == w[0] + 1).count(),
        ports.len() - 1,
        "not sequential"
    );
}

/// The TSval of the SYN the interface sent last.
fn last_syn_tsval(dev: &VecDevice) -> u32 {
    let (syn, _) = parse_tcp(dev.tx.last().expect("a packet"));
    assert!(syn.flags.syn());
    syn.options.timestamp.expect("timestamps offered").0
}

fn timestamps_keep_increasing_across_connections_to_one_peer(fam: Fam) {
    // RFC 6191 §2: a peer still holding an earlier connection on the same
    // ports in TIME-WAIT takes a new SYN only if its TSval is newer, so
    // the timestamp clock must not jump per connection, only per peer.
    let mut iface = Interface::new(Config::default());
    let mut dev = VecDevice::default();
    let remote = fam.peer_at(80);
    let mut last = None;
    for i in 0..20u64 {
        let now = Instant::from_millis(1000 * i + 1);
        iface.tcp_connect(now, remote).unwrap();
        iface.poll(now, &mut dev);
        let ts = last_syn_tsval(&dev);
        if let Some(prev) = last {
            assert_eq!(
                ts.wrapping_sub(prev),
                1000,
                "one tick per ms, connection {i}"
            );
        }
        last = Some(ts);
    }
    // Another peer sees an unrelated clock.
    let other = SocketAddr::new(fam.host(3), 80);
    let now = Instant::from_millis(20_001);
    iface.tcp_connect(now, other).unwrap();
    iface.poll(now, &mut dev);
    let ts = last_syn_tsval(&dev);
    assert!(ts.wrapping_sub(last.unwrap()).abs_diff(1000) > 1_000_000);
}

fn table_limit_is_enforced(fam: Fam) {
    let mut iface = Interface::new(Config {
        max_connections: 3,
        ..Config::default()
    });
    let remote = fam.peer_at(80);
    for _ in 0..3 {
        iface.tcp_connect(Instant::ZERO, remote).unwrap();
    }
    assert_eq!(
        iface.tcp_connect(Instant::ZERO, remote),
        Err(Error::TableFull)
    );
}

/// Drives a passive connection on port 80 over `fam` through an active
/// close by us into TIME-WAIT; returns (our ISS, the peer's next sequence number).
pub(super) fn server_in_time_wait(iface: &mut Interface, fam: Fam) -> (u32, u32) {
    iface.tcp_listen(80).unwrap();
    let out = poll_with(
        iface,
        Instant::ZERO,
        vec![fam.segment(&tcp_header(40000, 80, 1000, 0, Flags::SYN), b"")],
    );
    let (sa, _) = parse_tcp(&out[0]);
    let our = sa.seq.0.wrapping_add(1);
    poll_with(
        iface,
        Instant::from_millis(1),
        vec![fam.segment(&tcp_header(40000, 80, 1001, our, Flags::ACK), b"")],
    );
    let h = iface.tcp_accept(80).unwrap().unwrap();
    iface.tcp_release(h);
    let out = poll_with(iface, Instant::from_millis(2), vec![]);
    let (fin, _) = parse_tcp(&out[0]);
    assert!(fin.flags.fin());
    let fin_ack = fam.segment(
        &tcp_header(40000, 80, 1001, our + 1, Flags::ACK | Flags::FIN),
        b"",
    );
    let out = poll_with(iface, Instant::from_millis(3), vec![fin_ack]);
    assert_eq!(parse_tcp(&out[0]).0.ack, SeqNumber(1002));
    assert_eq!(iface.tcp(h).unwrap().state(), State::TimeWait);
    (sa.seq.0, 1002)
}

fn time_wait_new_syn_with_higher_seq_starts_a_new_incarnation(fam: Fam) {
    // RFC 9293 §3.10.7.4 / RFC 6191: a SYN beyond RCV.NXT may reuse the
    // 4-tuple; the new ISN is above anything the old connection sent.
    let mut iface = Interface::new(Config::default());
    let (old_iss, next) = server_in_time_wait(&mut iface, fam);
    let syn = fam.segment(&tcp_header(40000, 80, next + 100_000, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::from_millis(10), vec![syn]);
    let (sa, _) = parse_tcp(&out[0]);
    assert_eq!(sa.flags, Flags::SYN | Flags::ACK);
    assert_eq!(
        sa.seq,
        SeqNumber(old_iss) + 2u32 + 65537u32,
        "ISN = old SND.NXT + 65537"
    );
    assert_eq!(iface.stats().tcp_time_wait_reused, 1);
}

fn time_wait_old_syn_gets_an_ack_not_a_new_connection(fam: Fam) {
    let mut iface = Interface::new(Config::default());
    let (_, next) = server_in_time_wait(&mut iface, fam);
    let syn = fam.segment(&tcp_header(40000, 80, next - 500, 0, Flags::SYN), b"");
    let out = poll_with(&mut iface, Instant::from_millis(10), vec![syn]);
    let (h, _) = parse_tcp(&out[0]);
    assert_eq!(
        h.flags,
        Flags::ACK,
        "challenge/duplicate ACK from TIME-WAIT"
    );
    assert_eq!(iface.stats().tcp_time_wait_reused, 0);
    assert_eq!(iface.tcp_accept(80), Ok(None));
}

fn segment_for_a_closed_connection_still_held_by_the_user_gets_rst(fam: Fam) {
    // RFC 9293 §3.10.7.1: a CLOSED connection answers with RST, even while
    // the user's handle keeps its entry; otherwise a peer whose last ACK was
    // lost would retransmit into silence until it gives up.
    let (mut iface, h, syn) = connecting(fam.peer_at(80));
    let (syn, _) = parse_tcp(&syn);
    let refuse = fam.segment(
        &tcp_header(
            80,
            syn.src_port,
            0,
            syn.seq.0.wrapping_add(1),
            Flags::RST | Flags::ACK,
        ),
        b"",
    );
    assert!(poll_with(&mut iface, Instant::from_millis(1), vec![refuse]).is_empty());
    assert_eq!(iface.tcp(h).unwrap().state(), State::Closed);
    let late = fam.segment(
        &tcp_header(80, syn.src_port, 5000, 777, Flags::ACK | Flags::FIN),
        b"late",
    );
    let rst = fam.segment(&tcp_header(80, syn.src_port, 5000, 0, Flags::RST), b"");
    let out = poll_with(&mut iface, Instant::from_millis(2), vec![late, rst]);
    assert_eq!(out.len(), 1, "one RST, and none for the RST");
    let (r, _) = parse_tcp(&out[0]);
    assert_eq!((r.flags, r.seq), (Flags::RST, SeqNumber(777)));
    assert_eq!((r.src_port, r.dst_port), (syn.src_port, 80));
    assert_eq!(iface.stats().tcp_no_socket, 2);
    assert!(iface.tcp(h).is_some(), "the handle stays valid");
}

fn listen_ack_without_syn_gets_rst_and_rst_is_ignored(fam: Fam) {
    // RFC 9293 §3.10.7.2: in LISTEN an ACK gets <SEQ=SEG.ACK><CTL=RST>, a
    // RST is ignored, and a segment with neither SYN nor ACK is dropped.
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let ack = fam.segment(&tcp_header(40000, 80, 5, 999, Flags::ACK), b"");
    let rst = fam.segment(&tcp_header(40000, 80, 5, 0, Flags::RST), b"");
    let bare = fam.segment(&tcp_header(40000, 80, 5, 0, Flags::PSH), b"x");
    let out = poll_with(&mut iface, Instant::ZERO, vec![ack, rst, bare]);
    assert_eq!(out.len(), 1);
    let (h, _) = parse_tcp(&out[0]);
    assert_eq!((h.flags, h.seq), (Flags::RST, SeqNumber(999)));
    assert_eq!(iface.connection_count(), 0);
}

both_families!(
    closed_port_syn_gets_rst_ack,
    closed_port_ack_gets_rst_with_seq_of_ack_and_rst_gets_nothing,
    listener_completes_handshake_and_queues_for_accept,
    listener_full_syn_queue_evicts_the_oldest_half_open_connection_without_cookies,
    replies_to_strays_are_limited_per_second,
    listener_full_accept_queue_drops_new_syns,
    ephemeral_ports_are_randomized_and_in_range,
    timestamps_keep_increasing_across_connections_to_one_peer,
    table_limit_is_enforced,
    time_wait_new_syn_with_higher_seq_starts_a_new_incarnation,
    time_wait_old_syn_gets_an_ack_not_a_new_connection,
    segment_for_a_closed_connection_still_held_by_the_user_gets_rst,
    listen_ack_without_syn_gets_rst_and_rst_is_ignored,
);
