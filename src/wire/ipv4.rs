//! IPv4 header parse and emit (RFC 791 §3.1).
//!
//! Ingress validation order: structure (version, IHL) via etherparse, total
//! length against the buffer, header checksum, then fragmentation. Options
//! in the header are tolerated and skipped (RFC 1122 §3.2.1.8: a host must
//! ignore options it does not implement). [`Ipv4Packet::parse`] rejects
//! fragments; [`Ipv4Packet::parse_fragment`] accepts them and reports the
//! offset and MF flag for reassembly (which lives in the stack). The stack
//! itself sets DF on everything it sends.

use super::{checksum, Error};
use etherparse::err::ipv4::{HeaderError, HeaderSliceError};
use etherparse::Ipv4HeaderSlice;
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// The fields of an IPv4 header this stack uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Upper-layer protocol number.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Length of the payload after the header.
    pub payload_len: usize,
}

/// A validated IPv4 packet: header fields plus a borrowed payload.
#[derive(Debug)]
pub struct Ipv4Packet<'a> {
    /// Header fields.
    pub repr: Ipv4Repr,
    /// Identification field (reassembly, pcap and trace).
    pub ident: u16,
    /// Fragment offset in bytes (the header's 13-bit field × 8).
    pub frag_offset: usize,
    /// More Fragments flag.
    pub more_fragments: bool,
    /// The payload, trimmed to the header's total length.
    pub payload: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    /// Parses and validates an IPv4 packet that is not a fragment.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadVersion`], [`Error::BadHeaderLen`],
    /// [`Error::BadChecksum`] or [`Error::Fragment`].
    pub fn parse(buf: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        let p = Ipv4Packet::parse_fragment(buf)?;
        if p.is_fragment() {
            return Err(Error::Fragment);
        }
        Ok(p)
    }

    /// True if this is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }

    /// Parses and validates an IPv4 packet that may be a fragment
    /// ([`is_fragment`](Self::is_fragment)); its payload is then the
    /// fragment's data, for reassembly.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadVersion`], [`Error::BadHeaderLen`]
    /// or [`Error::BadChecksum`].
    pub fn parse_fragment(buf: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        let hdr = Ipv4HeaderSlice::from_slice(buf).map_err(|e| match e {
            HeaderSliceError::Len(_) => Error::Truncated,
            HeaderSliceError::Content(HeaderError::UnexpectedVersion { .. }) => Error::BadVersion,
            HeaderSliceError::Content(_) => Error::BadHeaderLen,
        })?;
        let header_len = hdr.slice().len();
        let total_len = usize::from(hdr.total_len());
        if total_len < header_len {
            return Err(Error::BadHeaderLen);
        }
        // Bytes past total_len (link padding) are ignored; fewer is truncation.
        let packet = buf.get(..total_len).ok_or(Error::Truncated)?;
        if checksum::data(hdr.slice()) != 0 {
            return Err(Error::BadChecksum);
        }
        let payload = packet.get(header_len..).ok_or(Error::Truncated)?;
        Ok(Ipv4Packet {
            repr: Ipv4Repr {
                src: hdr.source_addr(),
                dst: hdr.destination_addr(),
                protocol: hdr.protocol().0,
                ttl: hdr.ttl(),
                payload_len: payload.len(),
            },
            ident: hdr.identification(),
            frag_offset: usize::from(hdr.fragments_offset().value()) * 8,
            more_fragments: hdr.more_fragments(),
            payload,
        })
    }
}

impl Ipv4Repr {
    /// Total packet length (header + payload).
    pub fn total_len(&self) -> usize {
        IPV4_HEADER_LEN + self.payload_len
    }

    /// Writes a 20-byte header with DF set and a valid checksum into
    /// `buf[..20]`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is shorter than 20 bytes or the packet
    /// would exceed 65535 bytes.
    pub fn emit(&self, buf: &mut [u8], ident: u16) -> Result<(), Error> {
        let total = u16::try_from(self.total_len()).map_err(|_| Error::Truncated)?;
        let h = buf.get_mut(..IPV4_HEADER_LEN).ok_or(Error::Truncated)?;
        h[0] = 0x45;
        h[1] = 0;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        // DF: RFC 1191 path MTU discovery; we never fragment.
        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::data(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            protocol: PROTO_TCP,
            ttl: 64,
            payload_len: payload.len(),
        };
        let mut buf = vec![0u8; repr.total_len()];
        repr.emit(&mut buf, 0x1234).unwrap();
        buf[IPV4_HEADER_LEN..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn emit_parse_round_trip_and_etherparse_agrees() {
        let buf = sample(b"hello");
        let p = Ipv4Packet::parse(&buf).unwrap();
        assert_eq!(p.repr.src, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.repr.protocol, PROTO_TCP);
        assert_eq!(p.payload, b"hello");
        assert_eq!(p.ident, 0x1234);
        let (h, _) = etherparse::Ipv4Header::from_slice(&buf).unwrap();
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        assert!(h.dont_fragment);
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let mut buf = sample(b"abc");
        buf.extend_from_slice(&[0, 0, 0]);
        assert_eq!(Ipv4Packet::parse(&buf).unwrap().payload, b"abc");
    }

    #[test]
    fn malformed_packets_each_have_their_error() {
        let good = sample(b"abcd");
        assert_eq!(Ipv4Packet::parse(&[]).unwrap_err(), Error::Truncated);
        assert_eq!(
            Ipv4Packet::parse(&good[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv4Packet::parse(&good[..22]).unwrap_err(),
            Error::Truncated
        );

        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(Ipv4Packet::parse(&v6).unwrap_err(), Error::BadVersion);

        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(Ipv4Packet::parse(&ihl).unwrap_err(), Error::BadHeaderLen);

        let mut ihl_long = good.clone();
        ihl_long[0] = 0x4f; // 60-byte header in a 24-byte packet
        assert_eq!(Ipv4Packet::parse(&ihl_long).unwrap_err(), Error::Truncated);

        let mut short_total = good.clone();
        short_total[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::parse(&short_total).unwrap_err(),
            Error::BadHeaderLen
        );

        let mut bad_sum = good.clone();
        bad_sum[8] = 1;
        assert_eq!(Ipv4Packet::parse(&bad_sum).unwrap_err(), Error::BadChecksum);
    }

    #[test]
    fn fragments_are_rejected() {
        for (flags_frag, what) in [(0x2000u16, "MF"), (0x0001u16, "offset")] {
            let mut buf = sample(b"abcd");
            buf[6..8].copy_from_slice(&flags_frag.to_be_bytes());
            buf[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::data(&buf[..20]);
            buf[10..12].copy_from_slice(&c.to_be_bytes());
            assert_eq!(
                Ipv4Packet::parse(&buf).unwrap_err(),
                Error::Fragment,
                "{what}"
            );
        }
    }

    #[test]
    fn parse_fragment_reports_offset_and_more_fragments() {
        // MF with offset 185 (1480 bytes), then the last one at 370.
        for (flags_frag, offset, more) in [(0x20b9u16, 1480, true), (0x0172, 2960, false)] {
            let mut buf = sample(b"abcdefgh");
            buf[6..8].copy_from_slice(&flags_frag.to_be_bytes());
            buf[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::data(&buf[..20]);
            buf[10..12].copy_from_slice(&c.to_be_bytes());
            let p = Ipv4Packet::parse_fragment(&buf).unwrap();
            assert!(p.is_fragment());
            assert_eq!((p.frag_offset, p.more_fragments), (offset, more));
            assert_eq!((p.ident, p.payload), (0x1234, &b"abcdefgh"[..]));
        }
        let whole = sample(b"abcd");
        assert!(!Ipv4Packet::parse_fragment(&whole).unwrap().is_fragment());
    }

    #[test]
    fn header_options_are_skipped() {
        let mut buf = sample(b"xy");
        // Insert 4 bytes of options (NOP NOP NOP EOL) and fix IHL, length, checksum.
        buf.splice(20..20, [1u8, 1, 1, 0]);
        buf[0] = 0x46;
        let total = buf.len() as u16;
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        buf[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::data(&buf[..24]);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(Ipv4Packet::parse(&buf).unwrap().payload, b"xy");
    }
}
