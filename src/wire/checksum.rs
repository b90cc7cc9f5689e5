//! The Internet checksum (RFC 1071): one's-complement sum of 16-bit words,
//! accumulated 32 bits at a time in a u64 and folded once at the end.

use std::net::Ipv4Addr;

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

/// Sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 §3.1).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u64 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc += u64::from(protocol);
    acc += len as u64;
    acc
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
