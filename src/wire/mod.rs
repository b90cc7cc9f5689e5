//! Packet parsing and emission: the only code that touches raw header bytes.
//!
//! Owns IPv4 (RFC 791), IPv6 and its extension headers (RFC 8200), ICMP
//! echo/unreachable (RFC 792), ICMPv6 (RFC 4443), TCP headers and
//! options (RFC 9293 §3.1, RFC 7323, RFC 2018) and the Internet checksum
//! (RFC 1071). Parsing is total: every accessor works on lengths checked up
//! front, so hostile input yields an [`Error`], never a panic. Structural
//! header validation of ingress IPv4 and TCP uses `etherparse`'s zero-copy
//! slices; emission is hand-written into caller buffers so the hot path does
//! not allocate.
//!
//! Must not use any other crate module.

pub mod checksum;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod steer;
pub mod tcp;
pub mod udp;

pub use icmp::{IcmpMessage, Quoted};
pub use ipv4::{Ipv4Packet, Ipv4Repr, IPV4_HEADER_LEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
pub use ipv6::{FragmentHeader, Ipv6Error, Ipv6Packet, Ipv6Repr, IPV6_HEADER_LEN};
pub use tcp::{
    header_lens, Flags, SeqNumber, TcpHeader, TcpOptions, TcpSegment, TCP_HEADER_LEN,
    TCP_MAX_HEADER_LEN,
};
pub use udp::{UdpDatagram, UDP_HEADER_LEN};

use core::fmt;
use std::net::IpAddr;

/// Why a packet was rejected. One variant per class so the stack can count
/// drops by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Shorter than its headers (as long as IHL or the TCP data offset
    /// claims) or than the length its header claims.
    Truncated,
    /// IP version is not 4.
    BadVersion,
    /// IHL or TCP data offset smaller than the minimum header, an IPv4
    /// total length shorter than the header, or a UDP length below 8 or
    /// past the end.
    BadHeaderLen,
    /// A header or segment checksum does not verify.
    BadChecksum,
    /// An IPv4 fragment (MF set or non-zero offset); reassembly is not supported.
    Fragment,
    /// An impossible flag combination (e.g. SYN+RST).
    BadFlags,
    /// A protocol or message type this stack does not handle.
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::Truncated => "truncated packet",
            Error::BadVersion => "not the IP version expected",
            Error::BadHeaderLen => "bad header length",
            Error::BadChecksum => "bad checksum",
            Error::Fragment => "IPv4 fragment",
            Error::BadFlags => "impossible flag combination",
            Error::Unsupported => "unsupported protocol",
        };
        f.write_str(s)
    }
}

impl std::error::Error for Error {}

/// Reads a big-endian u16 at `at`; callers check the length first.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Reads a big-endian u32 at `at`.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A packet of either family, as far as tools that read captures (trace,
/// ladder) need it: addresses, the upper-layer protocol (after IPv6's
/// extension headers) and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct AnyIp<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (IPv6: [`ipv6::NEXT_FRAGMENT`] for a fragment).
    pub protocol: u8,
    /// The upper-layer bytes.
    pub payload: &'a [u8],
}

impl<'a> AnyIp<'a> {
    /// Parses an IPv4 or IPv6 packet, told apart by the version nibble.
    ///
    /// # Errors
    /// As [`Ipv4Packet::parse`]; for IPv6 the [`Error`] of
    /// [`Ipv6Packet::parse`], or [`Error::BadHeaderLen`] for a refused
    /// extension header.
    pub fn parse(packet: &'a [u8]) -> Result<AnyIp<'a>, Error> {
        if packet.first().map(|b| b >> 4) == Some(6) {
            let ip = Ipv6Packet::parse(packet).map_err(|e| match e {
                Ipv6Error::Wire(e) => e,
                _ => Error::BadHeaderLen,
            })?;
            return Ok(AnyIp {
                src: IpAddr::V6(ip.repr.src),
                dst: IpAddr::V6(ip.repr.dst),
                protocol: ip.repr.next_header,
                payload: ip.payload,
            });
        }
        let ip = Ipv4Packet::parse(packet)?;
        Ok(AnyIp {
            src: IpAddr::V4(ip.repr.src),
            dst: IpAddr::V4(ip.repr.dst),
            protocol: ip.repr.protocol,
            payload: ip.payload,
        })
    }
}
