//! The Internet checksum (RFC 1071): one's-complement sum of 16-bit words,
//! accumulated 32 bits at a time in a u64 and folded once at the end.

use std::net::IpAddr;

/// Adds `data` to a running one's-complement sum (not yet folded).
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        acc += u64::from(u16::from_be_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        // RFC 1071: an odd trailing byte is padded with zero on the right.
        acc += u64::from(rest[i]) << 8;
    }
    acc
}

/// Folds a running sum into the final 16-bit one's-complement checksum.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Checksum of a plain buffer (IPv4 header, ICMP message).
pub fn data(data: &[u8]) -> u16 {
    fold(sum(0, data))
}

/// Sum of the pseudo-header used by TCP, UDP and ICMPv6: IPv4's (RFC 9293
/// §3.1) when both addresses are IPv4, else IPv6's (RFC 8200 §8.1, an
/// IPv4 address taking its mapped form). The two sum alike: addresses,
/// then the protocol (next header) and the upper-layer length, whose
/// zero padding adds nothing to a one's-complement sum.
#[inline]
pub fn pseudo_header(
    src: impl Into<IpAddr>,
    dst: impl Into<IpAddr>,
    protocol: u8,
    len: usize,
) -> u64 {
    let mut acc = match (src.into(), dst.into()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum(sum(0, &s.octets()), &d.octets()),
        (s, d) => sum(sum(0, &v6_octets(s)), &v6_octets(d)),
    };
    acc += u64::from(protocol);
    acc += len as u64;
    acc
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), !0xddf2);
    }

    #[test]
    fn odd_length_pads_right() {
        assert_eq!(data(&[0xab]), !0xab00);
        assert_eq!(data(&[0x12, 0x34, 0xab]), !(0x1234u16 + 0xab00));
    }

    #[test]
    fn verifying_a_checksummed_buffer_gives_zero() {
        let mut b = [
            0x45u8, 0, 0, 40, 1, 2, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        let c = data(&b);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(data(&b), 0);
    }
}
