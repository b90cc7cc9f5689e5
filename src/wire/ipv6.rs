//! IPv6 header parse and emit (RFC 8200 §3) and the extension-header chain
//! (§4): hop-by-hop and destination options (§4.2–4.3, §4.6), routing
//! (§4.4) and fragment (§4.5) headers.
//!
//! Parsing walks the chain with every length checked against the packet
//! and stops at the first upper-layer header or at a Fragment header,
//! whose fields are exposed ([`FragmentHeader`]) for a reassembler. An
//! error that RFC 8200 answers with an ICMPv6 Parameter Problem carries
//! the code and the pointer the message needs ([`Ipv6Error::Param`]).

use super::{be16, be32, Error};
use std::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Next header: hop-by-hop options.
pub const NEXT_HOP_BY_HOP: u8 = 0;
/// Next header: routing header.
pub const NEXT_ROUTING: u8 = 43;
/// Next header: fragment header.
pub const NEXT_FRAGMENT: u8 = 44;
/// Next header: ICMPv6.
pub const NEXT_ICMPV6: u8 = 58;
/// Next header: no next header (RFC 8200 §4.7).
pub const NEXT_NONE: u8 = 59;
/// Next header: destination options.
pub const NEXT_DEST_OPTS: u8 = 60;
/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;
/// Most extension headers walked before the packet is dropped: a chain
/// this long is an attack on the parser, not a packet (RFC 8200 §4.1
/// orders at most six kinds, destination options twice).
pub const MAX_EXT_HEADERS: usize = 8;

/// Parameter Problem code: erroneous header field (RFC 4443 §3.4).
pub const PARAM_ERRONEOUS_FIELD: u8 = 0;
/// Parameter Problem code: unrecognized Next Header type.
pub const PARAM_UNKNOWN_NEXT_HEADER: u8 = 1;
/// Parameter Problem code: unrecognized IPv6 option.
pub const PARAM_UNKNOWN_OPTION: u8 = 2;

/// The fields of an IPv6 header this stack uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header of the fixed header (emit), or the upper-layer protocol
    /// the chain ends in (parse).
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Flow label (20 bits, RFC 6437).
    pub flow_label: u32,
    /// Length of everything after the fixed header.
    pub payload_len: usize,
}

/// The fields of a Fragment header (RFC 8200 §4.5), for the reassembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentHeader {
    /// Next header of the fragmentable part (of the first fragment's).
    pub next_header: u8,
    /// Fragment offset in 8-octet units.
    pub offset: u16,
    /// M flag: more fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
    /// Offset of the fragment header in the packet (the unfragmentable
    /// part is `packet[..at]`, its data `packet[at + 8..]`).
    pub at: usize,
}

/// Why an IPv6 packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Error {
    /// A structural error with no ICMPv6 answer.
    Wire(Error),
    /// RFC 8200 asks for a Parameter Problem with this code, pointing at
    /// byte `pointer` of the packet; `always` is false when the option
    /// type says "only if the destination was not multicast" (§4.2).
    Param {
        /// ICMPv6 Parameter Problem code.
        code: u8,
        /// Offset of the offending byte.
        pointer: u32,
        /// Answer even a multicast destination.
        always: bool,
    },
    /// An option whose type says "discard silently" (§4.2, `01`).
    DiscardOption,
    /// More than [`MAX_EXT_HEADERS`] extension headers.
    TooManyHeaders,
}

impl From<Error> for Ipv6Error {
    fn from(e: Error) -> Ipv6Error {
        Ipv6Error::Wire(e)
    }
}

/// A validated IPv6 packet: header fields, the end of its extension
/// headers, and a borrowed payload.
#[derive(Debug)]
pub struct Ipv6Packet<'a> {
    /// Header fields; `next_header` is the upper-layer protocol (or
    /// [`NEXT_FRAGMENT`] when a fragment header stopped the walk, or
    /// [`NEXT_NONE`]).
    pub repr: Ipv6Repr,
    /// Offset of the byte holding the Next Header value that named the
    /// upper layer (the Parameter Problem pointer for an unknown one).
    pub next_header_at: usize,
    /// The Fragment header, when there is one.
    pub fragment: Option<FragmentHeader>,
    /// The packet up to its payload length (fixed header included).
    pub packet: &'a [u8],
    /// The upper-layer payload (after every extension header; after the
    /// fragment header when there is one).
    pub payload: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// Parses the fixed header and walks the extension headers.
    ///
    /// # Errors
    /// [`Ipv6Error::Wire`] with [`Error::Truncated`] (shorter than the
    /// header, its payload length or an extension header),
    /// [`Error::BadVersion`] or [`Error::BadHeaderLen`] (a jumbogram's
    /// zero payload length); [`Ipv6Error::Param`] for what RFC 8200
    /// answers with a Parameter Problem; [`Ipv6Error::DiscardOption`];
    /// [`Ipv6Error::TooManyHeaders`].
    pub fn parse(buf: &'a [u8]) -> Result<Ipv6Packet<'a>, Ipv6Error> {
        let h = buf.get(..IPV6_HEADER_LEN).ok_or(Error::Truncated)?;
        if h[0] >> 4 != 6 {
            return Err(Error::BadVersion.into());
        }
        let payload_len = usize::from(be16(h, 4).ok_or(Error::Truncated)?);
        if payload_len == 0 && h[6] == NEXT_HOP_BY_HOP {
            // A jumbogram (RFC 2675): never on a link of our MTU.
            return Err(Error::BadHeaderLen.into());
        }
        // Bytes past the payload length (link padding) are ignored.
        let packet = buf
            .get(..IPV6_HEADER_LEN + payload_len)
            .ok_or(Error::Truncated)?;
        let word = be32(h, 0).ok_or(Error::Truncated)?;
        let mut repr = Ipv6Repr {
            src: addr(h, 8)?,
            dst: addr(h, 24)?,
            next_header: h[6],
            hop_limit: h[7],
            flow_label: word & 0x000f_ffff,
            payload_len,
        };
        let (next, next_at, at, fragment) = walk(packet)?;
        repr.next_header = next;
        let payload = packet.get(at..).ok_or(Error::Truncated)?;
        Ok(Ipv6Packet {
            repr,
            next_header_at: next_at,
            fragment,
            packet,
            payload,
        })
    }
}

fn addr(h: &[u8], at: usize) -> Result<Ipv6Addr, Error> {
    let b: [u8; 16] = h
        .get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated)?;
    Ok(Ipv6Addr::from(b))
}

/// Walks the extension headers of `packet`: returns the Next Header value
/// the walk ended on, where that value sits, where its payload starts, and
/// the fragment header if one ended the walk.
#[allow(clippy::type_complexity)]
fn walk(packet: &[u8]) -> Result<(u8, usize, usize, Option<FragmentHeader>), Ipv6Error> {
    let mut next = *packet.get(6).ok_or(Error::Truncated)?;
    let mut next_at = 6;
    let mut at = IPV6_HEADER_LEN;
    for i in 0..=MAX_EXT_HEADERS {
        match next {
            NEXT_HOP_BY_HOP | NEXT_DEST_OPTS | NEXT_ROUTING => {
                if i == MAX_EXT_HEADERS {
                    return Err(Ipv6Error::TooManyHeaders);
                }
                if next == NEXT_HOP_BY_HOP && i != 0 {
                    // §4.1: hop-by-hop only right after the fixed header.
                    return Err(param(PARAM_UNKNOWN_NEXT_HEADER, next_at, true));
                }
                let hdr = packet.get(at..at + 2).ok_or(Error::Truncated)?;
                let len = (usize::from(hdr[1]) + 1) * 8;
                let ext = packet.get(at..at + len).ok_or(Error::Truncated)?;
                if next == NEXT_ROUTING {
                    routing(ext, at)?;
                } else {
                    options(ext, at)?;
                }
                next = ext[0];
                next_at = at;
                at += len;
            }
            NEXT_FRAGMENT => {
                let f = packet
                    .get(at..at + FRAGMENT_HEADER_LEN)
                    .ok_or(Error::Truncated)?;
                let word = be16(f, 2).ok_or(Error::Truncated)?;
                let frag = FragmentHeader {
                    next_header: f[0],
                    offset: word >> 3,
                    more: word & 1 != 0,
                    ident: be32(f, 4).ok_or(Error::Truncated)?,
                    at,
                };
                return Ok((NEXT_FRAGMENT, next_at, at + FRAGMENT_HEADER_LEN, Some(frag)));
            }
            _ => return Ok((next, next_at, at, None)),
        }
    }
    Err(Ipv6Error::TooManyHeaders)
}

/// RFC 8200 §4.4: a routing header with segments left is for a router to
/// act on; as the final destination we can only refuse it, pointing at
/// its type. With none left it is ignored.
fn routing(ext: &[u8], at: usize) -> Result<(), Ipv6Error> {
    let segments_left = *ext.get(3).ok_or(Error::Truncated)?;
    if segments_left != 0 {
        return Err(param(PARAM_ERRONEOUS_FIELD, at + 2, true));
    }
    Ok(())
}

/// RFC 8200 §4.2: the TLV options of a hop-by-hop or destination options
/// header. Pad1, PadN and Router Alert (RFC 2711, which MLD carries) are
/// known; an unknown one is handled as the two high bits of its type say.
fn options(ext: &[u8], at: usize) -> Result<(), Ipv6Error> {
    let mut i = 2;
    while i < ext.len() {
        let kind = ext[i];
        if kind == 0 {
            i += 1;
            continue;
        }
        let len = usize::from(*ext.get(i + 1).ok_or(Error::Truncated)?);
        if i + 2 + len > ext.len() {
            return Err(Error::Truncated.into());
        }
        match kind {
            1 | 5 => {}
            _ => match kind >> 6 {
                0 => {}
                1 => return Err(Ipv6Error::DiscardOption),
                b => return Err(param(PARAM_UNKNOWN_OPTION, at + i, b == 2)),
            },
        }
        i += 2 + len;
    }
    Ok(())
}

/// Skips the extension headers of a quoted packet (an ICMPv6 error's,
/// not validated: only lengths are checked) starting with Next Header
/// `next` after the fixed header; returns the upper-layer protocol and
/// where its header starts.
///
/// # Errors
/// [`Error::Truncated`] if a header runs past `data`;
/// [`Error::Unsupported`] for a fragment that is not the first, for "no
/// next header", or past [`MAX_EXT_HEADERS`].
pub fn skip_ext_headers(data: &[u8], mut next: u8) -> Result<(u8, usize), Error> {
    let mut at = IPV6_HEADER_LEN;
    for _ in 0..MAX_EXT_HEADERS {
        match next {
            NEXT_HOP_BY_HOP | NEXT_DEST_OPTS | NEXT_ROUTING => {
                let hdr = data.get(at..at + 2).ok_or(Error::Truncated)?;
                next = hdr[0];
                at += (usize::from(hdr[1]) + 1) * 8;
            }
            NEXT_FRAGMENT => {
                let f = data
                    .get(at..at + FRAGMENT_HEADER_LEN)
                    .ok_or(Error::Truncated)?;
                if be16(f, 2).ok_or(Error::Truncated)? >> 3 != 0 {
                    return Err(Error::Unsupported);
                }
                next = f[0];
                at += FRAGMENT_HEADER_LEN;
            }
            NEXT_NONE => return Err(Error::Unsupported),
            _ => return Ok((next, at)),
        }
    }
    Err(Error::Unsupported)
}

fn param(code: u8, pointer: usize, always: bool) -> Ipv6Error {
    Ipv6Error::Param {
        code,
        pointer: pointer as u32,
        always,
    }
}

impl Ipv6Repr {
    /// Total packet length (header + payload).
    pub fn total_len(&self) -> usize {
        IPV6_HEADER_LEN + self.payload_len
    }

    /// Writes the 40-byte fixed header into `buf[..40]` (traffic class 0).
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is shorter than 40 bytes or the payload
    /// exceeds 65535 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let len = u16::try_from(self.payload_len).map_err(|_| Error::Truncated)?;
        let h = buf.get_mut(..IPV6_HEADER_LEN).ok_or(Error::Truncated)?;
        let word = (6u32 << 28) | (self.flow_label & 0x000f_ffff);
        h[0..4].copy_from_slice(&word.to_be_bytes());
        h[4..6].copy_from_slice(&len.to_be_bytes());
        h[6] = self.next_header;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        Ok(())
    }
}

#[cfg(test)]
#[path = "ipv6_tests.rs"]
mod tests;
