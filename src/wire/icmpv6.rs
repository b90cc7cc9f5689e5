//! ICMPv6 (RFC 4443): echo request/reply, the four error messages
//! (destination unreachable, packet too big, time exceeded, parameter
//! problem), parsed and emitted with the mandatory pseudo-header checksum
//! (§2.3), and the start of the packet an error quotes ([`Quoted6`]).
//! Neighbour discovery (RFC 4861) and MLD (RFC 2710, 3810) types are only
//! named, so the stack can drop them by kind.

use super::ipv6::{self, IPV6_HEADER_LEN, NEXT_ICMPV6};
use super::{be16, be32, checksum, Error, SeqNumber};
use std::net::Ipv6Addr;

/// Type: destination unreachable.
pub const DEST_UNREACHABLE: u8 = 1;
/// Type: packet too big.
pub const PACKET_TOO_BIG: u8 = 2;
/// Type: time exceeded.
pub const TIME_EXCEEDED: u8 = 3;
/// Type: parameter problem.
pub const PARAMETER_PROBLEM: u8 = 4;
/// Type: echo request.
pub const ECHO_REQUEST: u8 = 128;
/// Type: echo reply.
pub const ECHO_REPLY: u8 = 129;
/// Destination-unreachable code: administratively prohibited.
pub const CODE_ADMIN_PROHIBITED: u8 = 1;
/// Destination-unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 4;
/// Time Exceeded code: fragment reassembly time exceeded (RFC 4443 §3.3).
pub const CODE_REASSEMBLY_TIME_EXCEEDED: u8 = 1;
/// Most bytes an ICMPv6 error may take: it must fit the minimum MTU
/// (RFC 4443 §2.4 (c)), so 1280 − 40 for the message.
pub const MAX_ERROR_LEN: usize = 1280 - IPV6_HEADER_LEN;

/// True for the neighbour-discovery (RFC 4861: router/neighbour
/// solicitation and advertisement, redirect) and multicast-listener
/// (RFC 2710, RFC 3810) messages a host on a point-to-point TUN link gets
/// from the kernel and has no use for.
pub fn is_nd_or_mld(kind: u8) -> bool {
    matches!(kind, 130..=137 | 143)
}

/// A parsed ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6Message<'a> {
    /// Type.
    pub kind: u8,
    /// Code.
    pub code: u8,
    /// Bytes 4..8 of the header: identifier + sequence (echo), MTU
    /// (packet too big), pointer (parameter problem), unused (others).
    pub rest: [u8; 4],
    /// Data after the 8-byte header.
    pub data: &'a [u8],
}

impl<'a> Icmpv6Message<'a> {
    /// Parses an ICMPv6 message carried from `src` to `dst`, verifying the
    /// checksum (always present in ICMPv6).
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::BadChecksum`].
    pub fn parse(src: Ipv6Addr, dst: Ipv6Addr, buf: &'a [u8]) -> Result<Icmpv6Message<'a>, Error> {
        let (kind, code, rest, data) = super::icmp::fields(buf)?;
        let acc = checksum::pseudo_header(src, dst, NEXT_ICMPV6, buf.len());
        if checksum::fold(checksum::sum(acc, buf)) != 0 {
            return Err(Error::BadChecksum);
        }
        Ok(Icmpv6Message {
            kind,
            code,
            rest,
            data,
        })
    }

    /// Length when emitted.
    pub fn len(&self) -> usize {
        8 + self.data.len()
    }

    /// True if there is no data after the header.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// True for the error messages (types below 128, RFC 4443 §2.1).
    pub fn is_error(&self) -> bool {
        self.kind < 128
    }

    /// Writes the message with its checksum into `buf[..len()]`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<(), Error> {
        let out = super::icmp::write_fields(buf, self.kind, self.code, self.rest, self.data)?;
        let acc = checksum::pseudo_header(src, dst, NEXT_ICMPV6, out.len());
        let c = checksum::fold(checksum::sum(acc, out));
        out[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }

    /// The MTU of a Packet Too Big message (RFC 4443 §3.2).
    pub fn mtu(&self) -> u32 {
        u32::from_be_bytes(self.rest)
    }

    /// The pointer of a Parameter Problem message (RFC 4443 §3.4).
    pub fn pointer(&self) -> u32 {
        u32::from_be_bytes(self.rest)
    }

    /// The packet this error message quotes; see [`Quoted6::parse`].
    ///
    /// # Errors
    /// As [`Quoted6::parse`].
    pub fn quoted(&self) -> Result<Quoted6, Error> {
        Quoted6::parse(self.data)
    }
}

/// An error message about `invoking` (as much of it as fits
/// [`MAX_ERROR_LEN`], RFC 4443 §2.4 (c)), `rest` being its second word.
pub fn error<'a>(kind: u8, code: u8, rest: u32, invoking: &'a [u8]) -> Icmpv6Message<'a> {
    let n = invoking.len().min(MAX_ERROR_LEN - 8);
    Icmpv6Message {
        kind,
        code,
        rest: rest.to_be_bytes(),
        data: invoking.get(..n).unwrap_or(&[]),
    }
}

/// The packet an ICMPv6 error quotes, as far as the stack needs it to
/// find the connection (RFC 5927 §4.1): addresses, the upper-layer
/// protocol after the extension headers, the ports and, for TCP, the
/// sequence number. The quote is not trusted: the caller checks it names
/// one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted6 {
    /// Source address of the quoted packet (ours, if we sent it).
    pub src: Ipv6Addr,
    /// Its destination address.
    pub dst: Ipv6Addr,
    /// Its upper-layer protocol.
    pub protocol: u8,
    /// Source port (TCP or UDP: the first two bytes of the payload).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes 4..8 of the payload: the sequence number if it is TCP.
    pub seq: SeqNumber,
}

impl Quoted6 {
    /// Reads the quote at the start of an ICMPv6 error's data. The quote
    /// is cut short by the error's size limit, so its payload length is
    /// not checked against what is there; its extension headers are
    /// walked as far as they go.
    ///
    /// # Errors
    /// [`Error::Truncated`] if the header, an extension header or the 8
    /// payload bytes are missing; [`Error::BadVersion`];
    /// [`Error::Unsupported`] when the quote is a fragment past the
    /// first, or names no upper layer.
    pub fn parse(data: &[u8]) -> Result<Quoted6, Error> {
        let h = data.get(..IPV6_HEADER_LEN).ok_or(Error::Truncated)?;
        if h[0] >> 4 != 6 {
            return Err(Error::BadVersion);
        }
        let addr = |at: usize| -> Result<Ipv6Addr, Error> {
            let b: [u8; 16] = h
                .get(at..at + 16)
                .and_then(|s| s.try_into().ok())
                .ok_or(Error::Truncated)?;
            Ok(Ipv6Addr::from(b))
        };
        let (protocol, at) = ipv6::skip_ext_headers(data, h[6])?;
        let l4 = data.get(at..at + 8).ok_or(Error::Truncated)?;
        Ok(Quoted6 {
            src: addr(8)?,
            dst: addr(24)?,
            protocol,
            src_port: be16(l4, 0).ok_or(Error::Truncated)?,
            dst_port: be16(l4, 2).ok_or(Error::Truncated)?,
            seq: SeqNumber(be32(l4, 4).ok_or(Error::Truncated)?),
        })
    }
}

#[cfg(test)]
#[path = "icmpv6_tests.rs"]
mod tests;
