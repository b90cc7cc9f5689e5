//! IPv4 ingress (RFC 791; RFC 1122 §3.2.1 validation, §3.2.1.3 source
//! addresses) and the replies the stack makes itself: ICMP echo reply
//! (RFC 792, RFC 1122 §3.2.2.6), ICMP port unreachable for UDP to a closed
//! port (RFC 1122 §4.1.3.1), and RSTs. Nothing from or to a broadcast or
//! multicast address is ever answered.

use super::frag::Fragment;
use super::{Interface, Reply};
use crate::tcp::IcmpError;
use crate::time::Instant;
use crate::wire::icmp::{self, IcmpMessage};
use crate::wire::UdpDatagram;
use crate::wire::{
    Ipv4Packet, Ipv4Repr, TcpSegment, IPV4_HEADER_LEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

/// Most bytes of an offending datagram quoted in an ICMP error (RFC 1812
/// §4.3.2.3 allows up to 576 total; RFC 792 requires header + 8 bytes).
const ICMP_QUOTE: usize = 548;

/// Handles one packet; `verify` is false when the device vouched for the
/// transport checksum (offload).
pub(super) fn ingress(iface: &mut Interface, now: Instant, packet: &[u8], verify: bool) {
    let ip = match Ipv4Packet::parse_fragment(packet) {
        Ok(p) => p,
        Err(e) => {
            log::trace!("drop: {e}");
            iface.stats.ip_error(e);
            return;
        }
    };
    let src = ip.repr.src;
    // Broadcast and multicast destinations are not ours either: nothing
    // addressed to them is ever answered (RFC 1122 §3.2.2, §4.2.3.10).
    if ip.repr.dst != iface.cfg.addr {
        iface.stats.ip_not_for_us += 1;
        return;
    }
    if martian_source(&iface.cfg, src) {
        log::trace!("drop: martian source {src}");
        iface.stats.ip_martian_source += 1;
        return;
    }
    if ip.is_fragment() {
        iface.stats.ip_fragments += 1;
        let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
        reassemble(iface, now, &ip, packet.get(..ihl).unwrap_or(&[]));
        return;
    }
    let header = packet.get(..packet.len() - ip.payload.len()).unwrap_or(&[]);
    deliver(iface, now, &ip, header, verify);
}

/// Hands a fragment (with `header`, its IPv4 header as received, for a
/// Time Exceeded should the train expire) to the reassembler (RFC 791
/// §3.2) and delivers the datagram it completes. Checksums of a
/// reassembled datagram are always verified: no device vouches for them.
fn reassemble(iface: &mut Interface, now: Instant, ip: &Ipv4Packet<'_>, header: &[u8]) {
    let r = &ip.repr;
    let frag = Fragment::v4(
        r.src,
        r.dst,
        ip.ident,
        r.protocol,
        ip.frag_offset,
        ip.more_fragments,
        ip.payload,
    )
    .with_header(header);
    let Some(d) = iface.frag.push(now, &frag, &mut iface.stats) else {
        return;
    };
    let whole = Ipv4Packet {
        repr: Ipv4Repr {
            payload_len: d.payload.len(),
            ..*r
        },
        ident: ip.ident,
        frag_offset: 0,
        more_fragments: false,
        payload: &d.payload,
    };
    // The header an ICMP error quotes: the datagram as it was before
    // fragmentation (RFC 1812 §4.3.2.3 quotes the original datagram).
    let mut header = [0u8; IPV4_HEADER_LEN];
    if whole.repr.emit(&mut header, ip.ident).is_err() {
        iface.stats.frag_oversize += 1;
        return;
    }
    deliver(iface, now, &whole, &header, true);
}

/// Dispatches a whole datagram to TCP, ICMP or UDP; `header` is its IP
/// header, quoted (with the start of the payload) in an ICMP error.
fn deliver(iface: &mut Interface, now: Instant, ip: &Ipv4Packet<'_>, header: &[u8], verify: bool) {
    let src = ip.repr.src;
    match ip.repr.protocol {
        PROTO_TCP => match TcpSegment::parse_with(src, ip.repr.dst, ip.payload, verify) {
            Ok(seg) => {
                log::trace!(
                    "{src} > {}: {}",
                    ip.repr.dst,
                    crate::wire::tcp::Summary(&seg.header, seg.payload.len())
                );
                iface.tcp_ingress(now, IpAddr::V4(src), &seg);
            }
            Err(e) => {
                log::trace!("drop TCP from {src}: {e}");
                iface.stats.tcp_error(e);
            }
        },
        PROTO_ICMP => icmp_ingress(iface, src, ip.payload),
        PROTO_UDP => match UdpDatagram::parse_with(src, ip.repr.dst, ip.payload, verify) {
            Ok(d) => {
                if !iface.udp_ingress(IpAddr::V4(src), &d) {
                    iface.stats.udp_no_socket += 1;
                    let room = ICMP_QUOTE.saturating_sub(header.len());
                    let mut quote = header.to_vec();
                    quote.extend_from_slice(ip.payload.get(..room).unwrap_or(ip.payload));
                    let msg = IcmpMessage {
                        kind: icmp::DEST_UNREACHABLE,
                        code: icmp::CODE_PORT_UNREACHABLE,
                        rest: [0; 4],
                        data: &quote,
                    };
                    queue_icmp(iface, src, &msg);
                }
            }
            Err(_) => iface.stats.udp_malformed += 1,
        },
        _ => iface.stats.ip_unsupported_protocol += 1,
    }
}

/// RFC 1122 §3.2.1.3: a host must silently discard a datagram whose
/// source is not a unicast address of another host: 0.0.0.0 (only a host
/// learning its address may send from it, and we answer no such
/// protocol), the limited or our subnet's directed broadcast, a multicast
/// group, or our own address (a forgery, or a loop). §4.2.3.10 says the
/// same for TCP. A reply to any of these would go to many hosts or to us.
pub(super) fn martian_source(cfg: &super::Config, src: Ipv4Addr) -> bool {
    src.is_unspecified()
        || src.is_broadcast()
        || src.is_multicast()
        || src == cfg.addr
        || cfg.directed_broadcast() == Some(src)
}

fn icmp_ingress(iface: &mut Interface, src: Ipv4Addr, payload: &[u8]) {
    let msg = match IcmpMessage::parse(payload) {
        Ok(m) => m,
        Err(_) => {
            iface.stats.icmp_dropped += 1;
            return;
        }
    };
    if matches!(
        msg.kind,
        icmp::DEST_UNREACHABLE | icmp::TIME_EXCEEDED | icmp::PARAMETER_PROBLEM
    ) {
        icmp_error(iface, &msg);
        return;
    }
    if msg.kind != icmp::ECHO_REQUEST
        || msg.code != 0
        || msg.len() > iface.cfg.mtu - IPV4_HEADER_LEN
    {
        iface.stats.icmp_dropped += 1;
        return;
    }
    iface.stats.icmp_echo_replies += 1;
    let reply = IcmpMessage {
        kind: icmp::ECHO_REPLY,
        ..msg
    };
    queue_icmp(iface, src, &reply);
}

/// An ICMP error quoting one of our TCP segments or UDP datagrams (RFC
/// 792: the IP header plus at least 8 bytes): hand it to the connection or
/// UDP socket it names. RFC 5927 §4.1: for TCP the quoted sequence number
/// must be in flight, or the message is a forgery and is ignored; UDP has
/// no such check, so a UDP socket only keeps the error for the
/// application to read (RFC 1122 §4.1.3.3), which acts on it only for its
/// connected peer.
fn icmp_error(iface: &mut Interface, msg: &IcmpMessage<'_>) {
    let Ok(quoted) = msg.quoted() else {
        iface.stats.icmp_dropped += 1;
        return;
    };
    let udp = quoted.protocol == PROTO_UDP;
    if (quoted.protocol != PROTO_TCP && !udp) || quoted.src != iface.cfg.addr {
        iface.stats.icmp_dropped += 1;
        return;
    }
    let remote = SocketAddr::V4(SocketAddrV4::new(quoted.dst, quoted.dst_port));
    let local_port = quoted.src_port;
    let seq = quoted.seq;
    let error = match (msg.kind, msg.code) {
        // RFC 1122 §4.2.3.9: protocol and port unreachable are hard errors.
        (icmp::DEST_UNREACHABLE, 2 | 3) => IcmpError::PortUnreachable,
        (icmp::DEST_UNREACHABLE, 4) => IcmpError::FragmentationNeeded(msg.next_hop_mtu()),
        (icmp::DEST_UNREACHABLE, _) => IcmpError::Unreachable,
        _ => IcmpError::Other,
    };
    let applied = if udp {
        iface.udp_icmp_error(local_port, remote, error)
    } else {
        iface.tcp_icmp_error(remote, local_port, seq, error)
    };
    if applied {
        iface.stats.icmp_errors_applied += 1;
    } else {
        iface.stats.icmp_errors_ignored += 1;
    }
}

/// RFC 792 (Time Exceeded, code 1): a train from `dst` timed out after
/// its first fragment arrived; `quote` is that fragment (header and the
/// start of its data). Rate-limited with every other reply. Returns true
/// if it was queued.
pub(super) fn reassembly_time_exceeded(iface: &mut Interface, dst: Ipv4Addr, quote: &[u8]) -> bool {
    let msg = IcmpMessage {
        kind: icmp::TIME_EXCEEDED,
        code: icmp::CODE_REASSEMBLY_TIME_EXCEEDED,
        rest: [0; 4],
        data: quote.get(..ICMP_QUOTE).unwrap_or(quote),
    };
    queue_icmp(iface, dst, &msg)
}

fn queue_icmp(iface: &mut Interface, dst: Ipv4Addr, msg: &IcmpMessage<'_>) -> bool {
    let mut message = vec![0u8; msg.len()];
    msg.emit(&mut message).is_ok() && iface.queue_reply(Reply::Icmp { dst, message })
}

/// IPv4 Identification values: one counter per interface, bumped once
/// for every packet built ([`build`]), so no two packets in flight share
/// one (RFC 6864 §4.1; with DF set it is never used for reassembly).
#[derive(Debug, Default)]
pub(super) struct Idents(u16);

impl Idents {
    fn next(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// The one IPv4 packet builder: `pkt[IPV4_HEADER_LEN..]` already holds the
/// `protocol` payload; writes the header in front of it with the next
/// identification.
pub(super) fn build(
    pkt: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ttl: u8,
    idents: &mut Idents,
) -> Result<(), crate::wire::Error> {
    let ident = idents.next();
    Ipv4Repr {
        src,
        dst,
        protocol,
        ttl,
        payload_len: pkt.len().saturating_sub(IPV4_HEADER_LEN),
    }
    .emit(pkt, ident)
}

/// Builds the packet for a demux reply in `buf`; returns the packet slice.
pub(super) fn build_reply<'b>(
    r: &Reply,
    src: Ipv4Addr,
    ttl: u8,
    idents: &mut Idents,
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    let (dst, protocol, len) = match r {
        Reply::Tcp {
            dst: IpAddr::V4(dst),
            header,
        } => (*dst, PROTO_TCP, header.header_len()),
        Reply::Icmp { dst, message } => (*dst, PROTO_ICMP, message.len()),
        _ => return None,
    };
    let total = IPV4_HEADER_LEN + len;
    let pkt = buf.get_mut(..total)?;
    match r {
        Reply::Tcp { header, .. } => header.emit(&mut pkt[IPV4_HEADER_LEN..], src, dst).ok()?,
        Reply::Icmp { message, .. } => pkt[IPV4_HEADER_LEN..].copy_from_slice(message),
        Reply::Icmpv6 { .. } => return None,
    }
    build(pkt, src, dst, protocol, ttl, idents).ok()?;
    Some(pkt)
}
