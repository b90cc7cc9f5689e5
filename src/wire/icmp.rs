//! ICMP messages the stack answers or sends (RFC 792): echo request/reply
//! and destination unreachable, and the start of the datagram an ICMP
//! error quotes ([`Quoted`]).

use super::{be16, be32, checksum, Error, SeqNumber, IPV4_HEADER_LEN};
use std::net::Ipv4Addr;

/// ICMP type: echo reply.
pub const ECHO_REPLY: u8 = 0;
/// ICMP type: destination unreachable.
pub const DEST_UNREACHABLE: u8 = 3;
/// ICMP type: echo request.
pub const ECHO_REQUEST: u8 = 8;
/// ICMP type: time exceeded.
pub const TIME_EXCEEDED: u8 = 11;
/// ICMP type: parameter problem.
pub const PARAMETER_PROBLEM: u8 = 12;
/// Destination-unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Time Exceeded code: fragment reassembly time exceeded (RFC 792).
pub const CODE_REASSEMBLY_TIME_EXCEEDED: u8 = 1;

/// A parsed ICMP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpMessage<'a> {
    /// Type.
    pub kind: u8,
    /// Code.
    pub code: u8,
    /// Bytes 4..8 of the header (identifier + sequence for echo).
    pub rest: [u8; 4],
    /// Data after the 8-byte header.
    pub data: &'a [u8],
}

impl<'a> IcmpMessage<'a> {
    /// Parses and checksum-verifies an ICMP message.
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::BadChecksum`].
    pub fn parse(buf: &'a [u8]) -> Result<IcmpMessage<'a>, Error> {
        let (kind, code, rest, data) = fields(buf)?;
        if checksum::data(buf) != 0 {
            return Err(Error::BadChecksum);
        }
        Ok(IcmpMessage {
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

    /// Writes the message with its checksum into `buf[..len()]`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let out = write_fields(buf, self.kind, self.code, self.rest, self.data)?;
        let c = checksum::data(out);
        out[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

/// Type, code, the four bytes after the checksum, and the data.
pub(super) type Fields<'a> = (u8, u8, [u8; 4], &'a [u8]);

/// The layout ICMP and ICMPv6 share (RFC 792; RFC 4443 §2.1): type,
/// code, the checksum (the caller's to verify), four bytes whose meaning
/// depends on the type, then data.
///
/// # Errors
/// [`Error::Truncated`] below 8 bytes.
pub(super) fn fields(buf: &[u8]) -> Result<Fields<'_>, Error> {
    let h = buf.get(..8).ok_or(Error::Truncated)?;
    let data = buf.get(8..).unwrap_or_default();
    Ok((h[0], h[1], [h[4], h[5], h[6], h[7]], data))
}

/// Writes that layout, checksum zero, into the start of `buf`; returns
/// the message's bytes for the caller's checksum.
///
/// # Errors
/// [`Error::Truncated`] if `buf` is too short.
pub(super) fn write_fields<'b>(
    buf: &'b mut [u8],
    kind: u8,
    code: u8,
    rest: [u8; 4],
    data: &[u8],
) -> Result<&'b mut [u8], Error> {
    let out = buf.get_mut(..8 + data.len()).ok_or(Error::Truncated)?;
    out[0] = kind;
    out[1] = code;
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..8].copy_from_slice(&rest);
    out[8..].copy_from_slice(data);
    Ok(out)
}

/// Bytes of the offending datagram's payload an ICMP error must quote
/// (RFC 792): enough for the ports and, for TCP, the sequence number.
pub const QUOTED_PAYLOAD_LEN: usize = 8;

/// The datagram an ICMP error quotes (RFC 792: its IPv4 header plus the
/// first [`QUOTED_PAYLOAD_LEN`] bytes of its payload), as far as the stack
/// needs it to find the connection (RFC 5927 §4.1, RFC 1122 §4.2.3.9).
/// The quote is not trusted: the caller checks it names one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// Source address of the quoted datagram (ours, if we sent it).
    pub src: Ipv4Addr,
    /// Its destination address.
    pub dst: Ipv4Addr,
    /// Its IP protocol.
    pub protocol: u8,
    /// Source port (TCP or UDP: the first two bytes of the payload).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes 4..8 of the payload: the sequence number if it is TCP.
    pub seq: SeqNumber,
}

impl Quoted {
    /// Reads the quote at the start of an ICMP error's data.
    ///
    /// # Errors
    /// [`Error::Truncated`] if the IP header (as long as its IHL says) or
    /// the 8 payload bytes are missing; [`Error::BadHeaderLen`] for an IHL
    /// below 5.
    pub fn parse(data: &[u8]) -> Result<Quoted, Error> {
        let ihl = usize::from(data.first().ok_or(Error::Truncated)? & 0x0f) * 4;
        let ip = data.get(..IPV4_HEADER_LEN).ok_or(Error::Truncated)?;
        let l4 = data
            .get(ihl..ihl + QUOTED_PAYLOAD_LEN)
            .ok_or(Error::Truncated)?;
        if ihl < IPV4_HEADER_LEN {
            return Err(Error::BadHeaderLen);
        }
        let addr = |at: usize| be32(ip, at).map(Ipv4Addr::from).ok_or(Error::Truncated);
        Ok(Quoted {
            protocol: *ip.get(9).ok_or(Error::Truncated)?,
            src: addr(12)?,
            dst: addr(16)?,
            src_port: be16(l4, 0).ok_or(Error::Truncated)?,
            dst_port: be16(l4, 2).ok_or(Error::Truncated)?,
            seq: SeqNumber(be32(l4, 4).ok_or(Error::Truncated)?),
        })
    }
}

impl IcmpMessage<'_> {
    /// The datagram this error message quotes; see [`Quoted::parse`].
    ///
    /// # Errors
    /// As [`Quoted::parse`].
    pub fn quoted(&self) -> Result<Quoted, Error> {
        Quoted::parse(self.data)
    }

    /// The next-hop MTU of a "fragmentation needed" message (RFC 1191
    /// §4: the low 16 bits of the second header word).
    pub fn next_hop_mtu(&self) -> u16 {
        u16::from_be_bytes([self.rest[2], self.rest[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Repr, PROTO_TCP};

    #[test]
    fn a_quoted_tcp_header_reads_addresses_ports_and_sequence() {
        let mut q = vec![0u8; IPV4_HEADER_LEN + 8];
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            protocol: PROTO_TCP,
            ttl: 64,
            payload_len: 8,
        }
        .emit(&mut q, 7)
        .unwrap();
        q[20..28].copy_from_slice(&[0x30, 0x39, 0, 80, 0xde, 0xad, 0xbe, 0xef]);
        let m = IcmpMessage {
            kind: DEST_UNREACHABLE,
            code: 4,
            rest: [0, 0, 0x05, 0xdc],
            data: &q,
        };
        assert_eq!(
            m.quoted(),
            Ok(Quoted {
                src: Ipv4Addr::new(10, 0, 0, 2),
                dst: Ipv4Addr::new(10, 0, 0, 1),
                protocol: PROTO_TCP,
                src_port: 12345,
                dst_port: 80,
                seq: SeqNumber(0xdead_beef),
            })
        );
        assert_eq!(m.next_hop_mtu(), 1500);
        // Short quotes and impossible header lengths are refused.
        assert_eq!(Quoted::parse(&q[..27]), Err(Error::Truncated));
        assert_eq!(Quoted::parse(&[]), Err(Error::Truncated));
        q[0] = 0x44;
        assert_eq!(Quoted::parse(&q), Err(Error::BadHeaderLen));
        // Options in the quoted header move the payload.
        let mut long = q[..20].to_vec();
        long[0] = 0x46;
        long.extend_from_slice(&[1, 1, 1, 1]);
        long.extend_from_slice(&q[20..]);
        assert_eq!(Quoted::parse(&long).unwrap().dst_port, 80);
        assert_eq!(Quoted::parse(&long[..31]), Err(Error::Truncated));
    }

    #[test]
    fn echo_round_trip_and_bad_checksum() {
        let m = IcmpMessage {
            kind: ECHO_REQUEST,
            code: 0,
            rest: [0, 1, 0, 2],
            data: b"ping",
        };
        let mut buf = vec![0u8; m.len()];
        m.emit(&mut buf).unwrap();
        assert_eq!(IcmpMessage::parse(&buf).unwrap(), m);
        buf[9] ^= 1;
        assert_eq!(IcmpMessage::parse(&buf).unwrap_err(), Error::BadChecksum);
        assert_eq!(IcmpMessage::parse(&buf[..7]).unwrap_err(), Error::Truncated);
    }
}
