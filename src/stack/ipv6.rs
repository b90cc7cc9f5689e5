//! IPv6 (RFC 8200): the packet builder and the replies the stack makes
//! itself over IPv6.

use super::Reply;
use crate::wire::ipv6::NEXT_ICMPV6;
use crate::wire::{Ipv6Repr, IPV6_HEADER_LEN, PROTO_TCP};
use std::net::{IpAddr, Ipv6Addr};

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
