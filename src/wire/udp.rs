//! UDP header parse and emit (RFC 768) with the pseudo-header checksum.

use super::{be16, checksum, Error, PROTO_UDP};
use std::net::IpAddr;

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// A parsed UDP datagram borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> UdpDatagram<'a> {
    /// Parses a datagram carried from `src` to `dst`. Over IPv4 a zero
    /// checksum means "not computed" (RFC 768) and is accepted; over IPv6
    /// it is an error (RFC 8200 §8.1).
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadHeaderLen`] (length field below 8
    /// or beyond the packet) or [`Error::BadChecksum`].
    pub fn parse(
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        buf: &'a [u8],
    ) -> Result<UdpDatagram<'a>, Error> {
        UdpDatagram::parse_with(src, dst, buf, true)
    }

    /// Parses like [`parse`](Self::parse) but verifies the checksum only
    /// if `verify`: false when the device vouches for it (checksum
    /// offload).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_with(
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        buf: &'a [u8],
        verify: bool,
    ) -> Result<UdpDatagram<'a>, Error> {
        let h = buf.get(..UDP_HEADER_LEN).ok_or(Error::Truncated)?;
        let len = usize::from(be16(h, 4).ok_or(Error::Truncated)?);
        if len < UDP_HEADER_LEN || len > buf.len() {
            return Err(Error::BadHeaderLen);
        }
        let dgram = &buf[..len];
        let (src, dst) = (src.into(), dst.into());
        if be16(h, 6) == Some(0) && (src.is_ipv6() || dst.is_ipv6()) {
            // RFC 8200 §8.1: over IPv6 the checksum is mandatory; a zero
            // one is discarded.
            return Err(Error::BadChecksum);
        }
        if verify && be16(h, 6) != Some(0) {
            let acc = checksum::pseudo_header(src, dst, PROTO_UDP, len);
            if checksum::fold(checksum::sum(acc, dgram)) != 0 {
                return Err(Error::BadChecksum);
            }
        }
        Ok(UdpDatagram {
            src_port: be16(h, 0).ok_or(Error::Truncated)?,
            dst_port: be16(h, 2).ok_or(Error::Truncated)?,
            payload: &dgram[UDP_HEADER_LEN..],
        })
    }

    /// Writes header + payload with checksum into `buf[..8 + payload.len()]`.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is too short or the datagram too long.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<usize, Error> {
        let len = UDP_HEADER_LEN + self.payload.len();
        let len16 = u16::try_from(len).map_err(|_| Error::Truncated)?;
        let out = buf.get_mut(..len).ok_or(Error::Truncated)?;
        out[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        out[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        out[4..6].copy_from_slice(&len16.to_be_bytes());
        out[6..8].copy_from_slice(&[0, 0]);
        out[8..].copy_from_slice(self.payload);
        let acc = checksum::pseudo_header(src, dst, PROTO_UDP, len);
        let mut c = checksum::fold(checksum::sum(acc, out));
        if c == 0 {
            // RFC 768: a computed zero is sent as all ones.
            c = 0xffff;
        }
        out[6..8].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[test]
    fn round_trip_and_etherparse_agrees() {
        let d = UdpDatagram {
            src_port: 5353,
            dst_port: 53,
            payload: b"query",
        };
        let mut buf = [0u8; 64];
        let n = d.emit(&mut buf, A, B).unwrap();
        assert_eq!(UdpDatagram::parse(A, B, &buf[..n]).unwrap(), d);
        let (h, _) = etherparse::UdpHeader::from_slice(&buf[..n]).unwrap();
        assert_eq!(
            h.checksum,
            h.calc_checksum_ipv4_raw(A.octets(), B.octets(), b"query")
                .unwrap()
        );
    }

    #[test]
    fn malformed_datagrams_are_rejected() {
        let d = UdpDatagram {
            src_port: 1,
            dst_port: 2,
            payload: b"abc",
        };
        let mut buf = [0u8; 16];
        let n = d.emit(&mut buf, A, B).unwrap();
        assert_eq!(
            UdpDatagram::parse(A, B, &buf[..7]).unwrap_err(),
            Error::Truncated
        );
        let mut short = buf;
        short[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(
            UdpDatagram::parse(A, B, &short[..n]).unwrap_err(),
            Error::BadHeaderLen
        );
        let mut bad = buf;
        bad[9] ^= 1;
        assert_eq!(
            UdpDatagram::parse(A, B, &bad[..n]).unwrap_err(),
            Error::BadChecksum
        );
        let mut nosum = buf;
        nosum[6..8].copy_from_slice(&[0, 0]);
        nosum[9] ^= 1;
        assert!(
            UdpDatagram::parse(A, B, &nosum[..n]).is_ok(),
            "zero checksum = not computed"
        );
    }
}
