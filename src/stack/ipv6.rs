//! IPv6 ingress (RFC 8200: header and extension-header validation, §4)
//! and the replies the stack makes itself over IPv6: ICMPv6 echo replies
//! (RFC 4443 §4.2), port unreachable for UDP to a closed port and
//! parameter problems (§3.1, §3.4), and RSTs. Packet Too Big lowers a
//! connection's path MTU (RFC 8201) once its quote proves it is about a
//! segment in flight (RFC 5927 §4.1). Neighbour discovery and MLD, which
//! the kernel may still send on the point-to-point TUN link, are dropped
//! under their own counter. A Fragment header goes to [`fragment`].
//!
//! No error is ever sent about an ICMPv6 error, to a source that is not
//! a unicast address of another host, or about a packet not addressed to
//! our unicast address (RFC 4443 §2.4 (e)).

use super::frag::Fragment;
use super::{Interface, Reply};
use crate::tcp::IcmpError;
use crate::time::Instant;
use crate::wire::icmpv6::{self, Icmpv6Message};
use crate::wire::ipv6::{self, FragmentHeader, Ipv6Error, Ipv6Packet, NEXT_ICMPV6, NEXT_NONE};
use crate::wire::{Error, Ipv6Repr, TcpSegment, UdpDatagram, IPV6_HEADER_LEN};
use crate::wire::{PROTO_TCP, PROTO_UDP};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// RFC 8200 §5: the minimum link MTU, below which no Packet Too Big may
/// take a path's MTU (RFC 8201 §4).
pub const MIN_MTU: u32 = 1280;

/// Handles one IPv6 packet; `verify` is false when the device vouched
/// for the transport checksum (offload).
pub(super) fn ingress(iface: &mut Interface, now: Instant, packet: &[u8], verify: bool) {
    let ip = match Ipv6Packet::parse(packet) {
        Ok(p) => p,
        Err(e) => return parse_error(iface, packet, e),
    };
    let (src, dst) = (ip.repr.src, ip.repr.dst);
    if ip.repr.next_header == NEXT_ICMPV6
        && ip.fragment.is_none()
        && ip.payload.first().is_some_and(|&k| icmpv6::is_nd_or_mld(k))
    {
        // The kernel's side of a TUN link still solicits, reports and
        // resolves; we answer none of it (the link has no link layer).
        iface.stats.ip6_nd_mld_dropped += 1;
        return;
    }
    if dst != iface.cfg.addr6 {
        iface.stats.ip6_not_for_us += 1;
        return;
    }
    if martian_source(&iface.cfg, src) {
        log::trace!("drop: martian source {src}");
        iface.stats.ip6_martian_source += 1;
        return;
    }
    if let Some(frag) = ip.fragment {
        return fragment(iface, now, &ip, frag);
    }
    let payload = ip.payload;
    match ip.repr.next_header {
        PROTO_TCP => match TcpSegment::parse_with(src, dst, payload, verify) {
            Ok(seg) => {
                log::trace!(
                    "{src} > {dst}: {}",
                    crate::wire::tcp::Summary(&seg.header, seg.payload.len())
                );
                iface.tcp_ingress(now, IpAddr::V6(src), &seg);
            }
            Err(e) => {
                log::trace!("drop TCP from {src}: {e}");
                iface.stats.tcp_error(e);
            }
        },
        PROTO_UDP => udp_ingress(iface, &ip, verify),
        NEXT_ICMPV6 => icmp_ingress(iface, &ip),
        NEXT_NONE => iface.stats.ip6_no_next_header += 1,
        _ => {
            iface.stats.ip6_unsupported_protocol += 1;
            let pointer = ip.next_header_at as u32;
            let code = ipv6::PARAM_UNKNOWN_NEXT_HEADER;
            let msg = icmpv6::error(icmpv6::PARAMETER_PROBLEM, code, pointer, ip.packet);
            queue_icmp(iface, src, &msg);
        }
    }
}

/// RFC 8200 §4.5: a packet with a Fragment header goes to the
/// reassembler; the datagram a train completes comes back through
/// [`ingress`] as one packet: the fixed header (next header and payload
/// length rewritten) and the reassembled fragmentable part. Extension
/// headers of the unfragmentable part were processed with each fragment
/// and are not repeated. Checksums of a reassembled datagram are always
/// verified: no device vouches for them.
fn fragment(iface: &mut Interface, now: Instant, ip: &Ipv6Packet<'_>, frag: FragmentHeader) {
    let (Some(header), Some(data)) = (ip.packet.get(..frag.at + 8), ip.packet.get(frag.at + 8..))
    else {
        iface.stats.frag_malformed += 1;
        return;
    };
    let (src, dst) = (ip.repr.src, ip.repr.dst);
    let offset = usize::from(frag.offset) * 8;
    let piece = Fragment::v6(
        src,
        dst,
        frag.ident,
        frag.next_header,
        offset,
        frag.more,
        data,
    )
    .with_header(header);
    let Some(d) = iface.frag.push(now, &piece, &mut iface.stats) else {
        return;
    };
    let repr = Ipv6Repr {
        next_header: d.protocol,
        payload_len: d.payload.len(),
        ..ip.repr
    };
    let mut whole = vec![0u8; IPV6_HEADER_LEN + d.payload.len()];
    let (head, rest) = whole.split_at_mut(IPV6_HEADER_LEN);
    if repr.emit(head).is_err() {
        iface.stats.frag_oversize += 1;
        return;
    }
    rest.copy_from_slice(&d.payload);
    ingress(iface, now, &whole, true);
}

/// Counts a packet the header walk refused, answering with a Parameter
/// Problem where RFC 8200 asks for one.
fn parse_error(iface: &mut Interface, packet: &[u8], e: Ipv6Error) {
    log::trace!("drop IPv6: {e:?}");
    let s = &mut iface.stats;
    match e {
        Ipv6Error::Wire(Error::Truncated) => s.ip6_truncated += 1,
        Ipv6Error::Wire(_) => s.ip6_bad_header += 1,
        Ipv6Error::DiscardOption => s.ip6_unknown_option += 1,
        Ipv6Error::TooManyHeaders => s.ip6_too_many_ext_headers += 1,
        Ipv6Error::Param { code, pointer, .. } => {
            s.ip6_bad_ext_header += 1;
            // Parsed as far as the chain: the fixed header is whole.
            let (Some(src), Some(dst)) = (addr_at(packet, 8), addr_at(packet, 24)) else {
                return;
            };
            // Answered only about a packet to our unicast address (so an
            // option's "not if multicast" case never arises).
            if dst == iface.cfg.addr6 && !martian_source(&iface.cfg, src) {
                let msg = icmpv6::error(icmpv6::PARAMETER_PROBLEM, code, pointer, packet);
                queue_icmp(iface, src, &msg);
            }
        }
    }
}

fn addr_at(packet: &[u8], at: usize) -> Option<Ipv6Addr> {
    let b: [u8; 16] = packet.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

/// A source no host may send from, or one we must never answer (RFC 4443
/// §2.4 (e), RFC 4291 §2.5.2, §2.5.5.2): the unspecified address,
/// loopback, multicast, an IPv4-mapped address (never on the wire), or
/// our own address (a forgery, or a loop).
pub(super) fn martian_source(cfg: &super::Config, src: Ipv6Addr) -> bool {
    src.is_unspecified()
        || src.is_loopback()
        || src.is_multicast()
        || src.to_ipv4_mapped().is_some()
        || src == cfg.addr6
}

/// UDP over IPv6: the checksum is mandatory (RFC 8200 §8.1).
fn udp_ingress(iface: &mut Interface, ip: &Ipv6Packet<'_>, verify: bool) {
    let (src, dst) = (ip.repr.src, ip.repr.dst);
    if ip.payload.get(6..8) == Some(&[0, 0]) {
        iface.stats.udp6_zero_checksum += 1;
        return;
    }
    match UdpDatagram::parse_with(src, dst, ip.payload, verify) {
        Ok(d) => {
            if !iface.udp_ingress(IpAddr::V6(src), &d) {
                iface.stats.udp_no_socket += 1;
                let msg = icmpv6::error(
                    icmpv6::DEST_UNREACHABLE,
                    icmpv6::CODE_PORT_UNREACHABLE,
                    0,
                    ip.packet,
                );
                queue_icmp(iface, src, &msg);
            }
        }
        Err(_) => iface.stats.udp_malformed += 1,
    }
}

fn icmp_ingress(iface: &mut Interface, ip: &Ipv6Packet<'_>) {
    let (src, dst) = (ip.repr.src, ip.repr.dst);
    let msg = match Icmpv6Message::parse(src, dst, ip.payload) {
        Ok(m) => m,
        Err(_) => {
            iface.stats.icmp6_dropped += 1;
            return;
        }
    };
    if msg.is_error() {
        icmp_error(iface, &msg);
        return;
    }
    if msg.kind != icmpv6::ECHO_REQUEST
        || msg.code != 0
        || msg.len() > iface.cfg.mtu - IPV6_HEADER_LEN
    {
        iface.stats.icmp6_dropped += 1;
        return;
    }
    iface.stats.icmp6_echo_replies += 1;
    let reply = Icmpv6Message {
        kind: icmpv6::ECHO_REPLY,
        ..msg
    };
    queue_icmp(iface, src, &reply);
}

/// An ICMPv6 error quoting one of our TCP segments or UDP datagrams:
/// hand it to the connection or UDP socket it names. A connection applies
/// it only if the quoted sequence number is in flight (RFC 5927 §4.1) — a
/// forged Packet Too Big cannot shrink a connection's segments without
/// guessing it; a UDP socket only keeps the error for the application to
/// read (RFC 4443 §3.1, RFC 1122 §4.1.3.3), as over IPv4.
fn icmp_error(iface: &mut Interface, msg: &Icmpv6Message<'_>) {
    let Ok(quoted) = msg.quoted() else {
        iface.stats.icmp6_dropped += 1;
        return;
    };
    let udp = quoted.protocol == PROTO_UDP;
    if (quoted.protocol != PROTO_TCP && !udp) || quoted.src != iface.cfg.addr6 {
        iface.stats.icmp6_errors_ignored += 1;
        return;
    }
    let remote = SocketAddr::V6(SocketAddrV6::new(quoted.dst, quoted.dst_port, 0, 0));
    let error = match (msg.kind, msg.code) {
        (icmpv6::PACKET_TOO_BIG, _) => {
            // RFC 8201 §4: never below the minimum MTU; no increase
            // beyond our own link's either (the connection only lowers).
            let mtu = msg.mtu().max(MIN_MTU).min(u32::from(u16::MAX));
            IcmpError::FragmentationNeeded(mtu as u16)
        }
        // RFC 4443 §3.1 code 4 and §3.4 code 1 (no such port, no such
        // protocol) are hard errors (as RFC 1122 §4.2.3.9 for ICMP).
        (icmpv6::DEST_UNREACHABLE, icmpv6::CODE_PORT_UNREACHABLE)
        | (icmpv6::PARAMETER_PROBLEM, ipv6::PARAM_UNKNOWN_NEXT_HEADER) => {
            IcmpError::PortUnreachable
        }
        (icmpv6::DEST_UNREACHABLE, _) => IcmpError::Unreachable,
        _ => IcmpError::Other,
    };
    let applied = if udp {
        iface.udp_icmp_error(quoted.src_port, remote, error)
    } else {
        iface.tcp_icmp_error(remote, quoted.src_port, quoted.seq, error)
    };
    if applied {
        iface.stats.icmp6_errors_applied += 1;
        if msg.kind == icmpv6::PACKET_TOO_BIG && !udp {
            iface.stats.icmp6_packet_too_big += 1;
        }
    } else {
        iface.stats.icmp6_errors_ignored += 1;
    }
}

/// RFC 8200 §4.5, RFC 4443 §3.3 (Time Exceeded, code 1): a train from
/// `dst` timed out after its first fragment arrived; `quote` is that
/// fragment as received (through its fragment header, and the start of
/// its data). Rate-limited with every other reply. Returns true if it
/// was queued.
pub(super) fn reassembly_time_exceeded(iface: &mut Interface, dst: Ipv6Addr, quote: &[u8]) -> bool {
    let msg = icmpv6::error(
        icmpv6::TIME_EXCEEDED,
        icmpv6::CODE_REASSEMBLY_TIME_EXCEEDED,
        0,
        quote,
    );
    queue_icmp(iface, dst, &msg)
}

fn queue_icmp(iface: &mut Interface, dst: Ipv6Addr, msg: &Icmpv6Message<'_>) -> bool {
    let mut message = vec![0u8; msg.len()];
    msg.emit(&mut message, iface.cfg.addr6, dst).is_ok()
        && iface.queue_reply(Reply::Icmpv6 { dst, message })
}

/// The one IPv6 packet builder: `pkt[IPV6_HEADER_LEN..]` already holds the
/// `next_header` payload; writes the fixed header in front of it.
pub(super) fn build(
    pkt: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    hop_limit: u8,
    flow_label: u32,
) -> Result<(), crate::wire::Error> {
    Ipv6Repr {
        src,
        dst,
        next_header,
        hop_limit,
        flow_label,
        payload_len: pkt.len().saturating_sub(IPV6_HEADER_LEN),
    }
    .emit(pkt)
}

/// Builds the packet for a demux reply to an IPv6 peer in `buf`; returns
/// the packet slice.
pub(super) fn build_reply<'b>(
    r: &Reply,
    src: Ipv6Addr,
    hop_limit: u8,
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    let (dst, next, len) = match r {
        Reply::Tcp {
            dst: IpAddr::V6(dst),
            header,
        } => (*dst, PROTO_TCP, header.header_len()),
        Reply::Icmpv6 { dst, message } => (*dst, NEXT_ICMPV6, message.len()),
        _ => return None,
    };
    let pkt = buf.get_mut(..IPV6_HEADER_LEN + len)?;
    match r {
        Reply::Tcp { header, .. } => header.emit(&mut pkt[IPV6_HEADER_LEN..], src, dst).ok()?,
        Reply::Icmpv6 { message, .. } => pkt[IPV6_HEADER_LEN..].copy_from_slice(message),
        _ => return None,
    }
    build(pkt, src, dst, next, hop_limit, 0).ok()?;
    Some(pkt)
}
