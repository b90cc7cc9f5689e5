//! Forged TCP segments over IPv4 or IPv6 for the adversarial tests: built
//! with etherparse (so attacks share no packet code with tunstack) and
//! sent from a raw socket on the kernel side of tun0, with any source
//! address (the family of the source picks the IP version).
//! A [`Sniffer`] on tun0 sees what tunstack sends back, parsed by
//! etherparse too, so a test checks the reply on the wire rather than
//! trusting tunstack's own counters.

#![allow(dead_code)]

use super::common::{US, US6};
use etherparse::{
    IpNumber, Ipv4Header, Ipv4HeaderSlice, Ipv6FlowLabel, Ipv6Header, Ipv6HeaderSlice, TcpHeader,
    TcpHeaderSlice, TcpOptionElement,
};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Raw IPv4 and IPv6 sockets: packets go out with whatever source we
/// write (IPPROTO_RAW implies IP_HDRINCL, and IPV6_HDRINCL on Linux).
pub struct Forger {
    v4: i32,
    v6: i32,
}

impl Forger {
    pub fn new() -> Forger {
        let raw = |domain| {
            // SAFETY: plain socket(2).
            let fd = unsafe { libc::socket(domain, libc::SOCK_RAW, libc::IPPROTO_RAW) };
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            fd
        };
        Forger {
            v4: raw(libc::AF_INET),
            v6: raw(libc::AF_INET6),
        }
    }

    /// Sends an IPv4 or IPv6 packet (by its version nibble) to tunstack.
    pub fn send(&self, packet: &[u8]) {
        let n = if packet.first().is_some_and(|b| b >> 4 == 6) {
            // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
            let mut dst: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            dst.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            dst.sin6_addr.s6_addr = packet
                .get(24..40)
                .and_then(|a| <[u8; 16]>::try_from(a).ok())
                .unwrap_or(US6.octets());
            // SAFETY: valid buffer and address for the duration of the call.
            unsafe {
                libc::sendto(
                    self.v6,
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    (&dst as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        } else {
            let dst = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: packet
                        .get(16..20)
                        .and_then(|a| <[u8; 4]>::try_from(a).ok())
                        .map_or(u32::from(US).to_be(), u32::from_ne_bytes),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: valid buffer and address for the duration of the call.
            unsafe {
                libc::sendto(
                    self.v4,
                    packet.as_ptr().cast(),
                    packet.len(),
                    0,
                    (&dst as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        };
        assert_eq!(
            n,
            packet.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        // SAFETY: we own both descriptors.
        unsafe {
            libc::close(self.v4);
            libc::close(self.v6);
        }
    }
}

/// A forged TCP segment from `src` to tunstack (at its address of the
/// same family).
#[derive(Clone)]
pub struct Forge {
    pub src: SocketAddr,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub rst: bool,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
    /// Where it goes: tunstack's address unless set (the kernel's, for
    /// a test that scripts a peer of the kernel's own TCP).
    pub dst: Option<IpAddr>,
}

impl Forge {
    pub fn new(src: impl Into<SocketAddr>, dst_port: u16, seq: u32) -> Forge {
        Forge {
            src: src.into(),
            dst_port,
            seq,
            ack: None,
            syn: false,
            rst: false,
            options: Vec::new(),
            payload: Vec::new(),
            dst: None,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut tcp = TcpHeader::new(self.src.port(), self.dst_port, self.seq, 64240);
        tcp.syn = self.syn;
        tcp.rst = self.rst;
        if let Some(a) = self.ack {
            tcp.ack = true;
            tcp.acknowledgment_number = a;
        }
        tcp.psh = !self.payload.is_empty();
        tcp.set_options_raw(&self.options).expect("options fit");
        let len = tcp.header_len() + self.payload.len();
        let mut v = Vec::new();
        match self.src.ip() {
            IpAddr::V4(src) => {
                let dst = match self.dst {
                    Some(IpAddr::V4(d)) => d,
                    _ => US,
                };
                let mut ip =
                    Ipv4Header::new(len as u16, 64, IpNumber::TCP, src.octets(), dst.octets())
                        .unwrap();
                ip.header_checksum = ip.calc_header_checksum();
                tcp.checksum = tcp.calc_checksum_ipv4(&ip, &self.payload).unwrap();
                ip.write(&mut v).unwrap();
            }
            IpAddr::V6(src) => {
                let ip = Ipv6Header {
                    traffic_class: 0,
                    flow_label: Ipv6FlowLabel::ZERO,
                    payload_length: len as u16,
                    next_header: IpNumber::TCP,
                    hop_limit: 64,
                    source: src.octets(),
                    destination: match self.dst {
                        Some(IpAddr::V6(d)) => d.octets(),
                        _ => US6.octets(),
                    },
                };
                tcp.checksum = tcp.calc_checksum_ipv6(&ip, &self.payload).unwrap();
                ip.write(&mut v).unwrap();
            }
        }
        tcp.write(&mut v).unwrap();
        v.extend_from_slice(&self.payload);
        v
    }
}

/// A forged IPv4 fragment to tunstack: `payload` at byte `offset` (a
/// multiple of 8) of datagram `ident` from `src`, with MF as `more`.
pub fn ipv4_fragment(
    src: std::net::Ipv4Addr,
    ident: u16,
    protocol: IpNumber,
    offset: u16,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(offset % 8, 0, "fragment offsets are in 8-byte units");
    let mut ip = Ipv4Header::new(
        payload.len() as u16,
        64,
        protocol,
        src.octets(),
        US.octets(),
    )
    .unwrap();
    ip.identification = ident;
    ip.dont_fragment = false;
    ip.more_fragments = more;
    ip.fragment_offset = etherparse::IpFragOffset::try_new(offset / 8).unwrap();
    ip.header_checksum = ip.calc_header_checksum();
    let mut v = Vec::new();
    ip.write(&mut v).unwrap();
    v.extend_from_slice(payload);
    v
}

/// A forged IPv6 fragment to tunstack (RFC 8200 §4.5): a Fragment header
/// (next header `protocol`, identification `ident`, M flag `more`) and
/// `payload` at byte `offset` (a multiple of 8) of the fragmentable part.
pub fn ipv6_fragment(
    src: std::net::Ipv6Addr,
    ident: u32,
    protocol: IpNumber,
    offset: u16,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(offset % 8, 0, "fragment offsets are in 8-byte units");
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: (8 + payload.len()) as u16,
        next_header: IpNumber::IPV6_FRAGMENTATION_HEADER,
        hop_limit: 64,
        source: src.octets(),
        destination: US6.octets(),
    };
    let mut v = Vec::new();
    ip.write(&mut v).unwrap();
    // Next header, reserved, offset (13 bits) | res (2) | M, identification.
    v.extend_from_slice(&[protocol.0, 0]);
    v.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    v.extend_from_slice(&ident.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A TCP segment tunstack sent, as the kernel received it from tun0.
#[derive(Clone, Debug)]
pub struct Sniffed {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub rst: bool,
    pub fin: bool,
    pub payload: Vec<u8>,
    pub options: Vec<TcpOptionElement>,
}

impl Sniffed {
    /// A bare ACK (no SYN, RST, FIN or data) acknowledging `ack`.
    pub fn is_bare_ack(&self, ack: u32) -> bool {
        self.ack == Some(ack) && !self.syn && !self.rst && !self.fin && self.payload.is_empty()
    }

    /// The timestamps option, if any: (TSval, TSecr).
    pub fn timestamps(&self) -> Option<(u32, u32)> {
        self.options.iter().find_map(|o| match o {
            TcpOptionElement::Timestamp(v, e) => Some((*v, *e)),
            _ => None,
        })
    }

    /// True if an option matching `f` is present.
    pub fn has_option(&self, f: impl Fn(&TcpOptionElement) -> bool) -> bool {
        self.options.iter().any(f)
    }
}

/// A packet socket on tun0 that receives every TCP segment tunstack
/// writes to the device, over either family (packets the kernel sends
/// into tun0 are skipped).
pub struct Sniffer(i32, bool);

impl Sniffer {
    /// Starts capturing on tun0 (which must exist).
    pub fn new() -> Sniffer {
        Sniffer::on_tun0(false)
    }

    /// Captures what the kernel writes into tun0 instead (from any
    /// source address): its answers to a scripted peer on tun0's subnet.
    pub fn kernel() -> Sniffer {
        Sniffer::on_tun0(true)
    }

    fn on_tun0(kernel: bool) -> Sniffer {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2).
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto)) };
        assert!(
            fd >= 0,
            "packet socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(c"tun0".as_ptr()) };
        assert!(ifindex > 0, "tun0: {}", std::io::Error::last_os_error());
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: a valid address of the stated length.
        let rc = unsafe {
            libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "bind to tun0: {}", std::io::Error::last_os_error());
        Sniffer(fd, kernel)
    }

    /// The next segment from tunstack that satisfies `want`, waiting at most
    /// `timeout`; segments that do not are skipped.
    pub fn next_matching(
        &self,
        timeout: Duration,
        want: impl Fn(&Sniffed) -> bool,
    ) -> Option<Sniffed> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(seg) = self.recv(left) {
                if want(&seg) {
                    return Some(seg);
                }
            }
        }
    }

    /// Every segment from tunstack that satisfies `want` during `period`.
    pub fn all_matching(&self, period: Duration, want: impl Fn(&Sniffed) -> bool) -> Vec<Sniffed> {
        let deadline = Instant::now() + period;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return out;
            }
            if let Some(seg) = self.recv(left) {
                if want(&seg) {
                    out.push(seg);
                }
            }
        }
    }

    /// One packet tunstack wrote, within `timeout`; `None` on timeout or
    /// for anything but a TCP segment from tunstack.
    fn recv(&self, timeout: Duration) -> Option<Sniffed> {
        let mut pfd = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            return None;
        }
        let mut buf = vec![0u8; 70_000];
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: valid buffers of the stated lengths.
        let n = unsafe {
            libc::recvfrom(
                self.0,
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut from_len,
            )
        };
        // Outgoing packets are the kernel's (and our forgeries) going into
        // tun0; tunstack's arrive as incoming.
        if n <= 0 || (from.sll_pkttype == libc::PACKET_OUTGOING) != self.1 {
            return None;
        }
        buf.truncate(n as usize);
        parse(&buf, !self.1)
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// A TCP segment from tunstack's address of either family (from any,
/// unless `from_us`).
fn parse(packet: &[u8], from_us: bool) -> Option<Sniffed> {
    let (src, dst, rest) = match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4HeaderSlice::from_slice(packet).ok()?;
            if ip.protocol() != IpNumber::TCP || (from_us && ip.source_addr() != US) {
                return None;
            }
            let rest = packet.get(ip.slice().len()..usize::from(ip.total_len()))?;
            (
                IpAddr::V4(ip.source_addr()),
                IpAddr::V4(ip.destination_addr()),
                rest,
            )
        }
        6 => {
            // tunstack sends no extension headers: TCP follows at once.
            let ip = Ipv6HeaderSlice::from_slice(packet).ok()?;
            if ip.next_header() != IpNumber::TCP || (from_us && ip.source_addr() != US6) {
                return None;
            }
            let end = Ipv6Header::LEN + usize::from(ip.payload_length());
            let rest = packet.get(Ipv6Header::LEN..end)?;
            (
                IpAddr::V6(ip.source_addr()),
                IpAddr::V6(ip.destination_addr()),
                rest,
            )
        }
        _ => return None,
    };
    let tcp = TcpHeaderSlice::from_slice(rest).ok()?;
    Some(Sniffed {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        rst: tcp.rst(),
        fin: tcp.fin(),
        payload: rest.get(tcp.slice().len()..)?.to_vec(),
        options: tcp.options_iterator().filter_map(Result::ok).collect(),
    })
}
