//! Initial sequence numbers per RFC 6528 §3 (and RFC 9293 §3.4.1):
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where
//! M is a 4 µs clock and F is SipHash-2-4 keyed with a secret the caller
//! injects (the `net` layer draws it from the OS; tests fix it).

use crate::time::Instant;
use crate::wire::SeqNumber;
use std::net::{IpAddr, SocketAddr};

/// Keyed ISN generator.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    key: [u64; 2],
}

impl IsnGenerator {
    /// A generator with the given 128-bit secret.
    pub fn new(key: [u64; 2]) -> IsnGenerator {
        IsnGenerator { key }
    }

    /// The ISN for a connection from `local` to `remote` at `now`.
    pub fn isn(
        &self,
        now: Instant,
        local: impl Into<SocketAddr>,
        remote: impl Into<SocketAddr>,
    ) -> SeqNumber {
        let (local, remote) = (local.into(), remote.into());
        let mut msg = [0u8; 36];
        let mut n = put_ip(&mut msg, 0, local.ip());
        msg[n..n + 2].copy_from_slice(&local.port().to_be_bytes());
        n = put_ip(&mut msg, n + 2, remote.ip());
        msg[n..n + 2].copy_from_slice(&remote.port().to_be_bytes());
        let f = siphash24(self.key, &msg[..n + 2]);
        // M: a timer ticking every 4 µs (RFC 6528 §3).
        let m = (now.total_micros() / 4) as u32;
        SeqNumber(m.wrapping_add(f as u32))
    }

    /// The offset added to our timestamp clock (RFC 7323 §5.4) on every
    /// connection between the hosts `local` and `remote`: keyed, so others
    /// cannot learn our clock or uptime, but the same for successive
    /// connections to one peer (as Linux's `secure_tcp_ts_off`), so their
    /// TSvals keep increasing. A peer holding the previous connection on
    /// the same ports in TIME-WAIT accepts a new SYN only if its TSval is
    /// newer (RFC 6191 §2); a per-connection random offset failed that
    /// half of the time, and the SYN was retried a second later.
    pub fn ts_offset(&self, local: impl Into<IpAddr>, remote: impl Into<IpAddr>) -> u32 {
        let mut msg = [0u8; 33];
        let mut n = put_ip(&mut msg, 0, local.into());
        n = put_ip(&mut msg, n, remote.into());
        // Separates this use of the key from the ISN's.
        msg[n] = b'T';
        siphash24(self.key, &msg[..n + 1]) as u32
    }

    /// The IPv6 flow label of a connection (RFC 6437 §3): a keyed hash of
    /// the 4-tuple, 20 bits, never zero, so a flow's packets share one
    /// label that an observer cannot predict for other flows.
    pub fn flow_label(&self, local: impl Into<SocketAddr>, remote: impl Into<SocketAddr>) -> u32 {
        let (local, remote) = (local.into(), remote.into());
        let mut msg = [0u8; 37];
        let mut n = put_ip(&mut msg, 0, local.ip());
        msg[n..n + 2].copy_from_slice(&local.port().to_be_bytes());
        n = put_ip(&mut msg, n + 2, remote.ip());
        msg[n..n + 2].copy_from_slice(&remote.port().to_be_bytes());
        // Separates this use of the key from the ISN's.
        msg[n + 2] = b'F';
        let h = siphash24(self.key, &msg[..n + 3]);
        // Fold the hash so all of it bears on the 20 bits kept.
        let label = ((h ^ (h >> 20) ^ (h >> 40)) & 0xf_ffff) as u32;
        label.max(1)
    }
}

/// Writes `ip` at `msg[at..]` (4 or 16 bytes); returns the end.
pub(super) fn put_ip(msg: &mut [u8], at: usize, ip: IpAddr) -> usize {
    match ip {
        IpAddr::V4(a) => {
            msg[at..at + 4].copy_from_slice(&a.octets());
            at + 4
        }
        IpAddr::V6(a) => {
            msg[at..at + 16].copy_from_slice(&a.octets());
            at + 16
        }
    }
}

/// SipHash-2-4 (Aumasson & Bernstein), the keyed PRF F of RFC 6528.
pub fn siphash24(key: [u64; 2], data: &[u8]) -> u64 {
    let mut v0 = 0x736f6d6570736575u64 ^ key[0];
    let mut v1 = 0x646f72616e646f6du64 ^ key[1];
    let mut v2 = 0x6c7967656e657261u64 ^ key[0];
    let mut v3 = 0x7465646279746573u64 ^ key[1];
    #[inline]
    fn round(v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64) {
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v3 ^= m;
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        v0 ^= m;
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v3 ^= m;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    v0 ^= m;
    v2 ^= 0xff;
    for _ in 0..4 {
        round(&mut v0, &mut v1, &mut v2, &mut v3);
    }
    v0 ^ v1 ^ v2 ^ v3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn siphash_reference_vector() {
        // Reference vector from the SipHash paper, Appendix A: key 00..0f,
        // message 00..0e (15 bytes) -> a129ca6149be45e5.
        let key = [
            u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        ];
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(key, &msg), 0xa129ca6149be45e5);
    }

    #[test]
    fn isn_depends_on_tuple_key_and_clock() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40000);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
        let c = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 81);
        let g = IsnGenerator::new([1, 2]);
        let t = Instant::from_secs(5);
        assert_ne!(g.isn(t, a, b), g.isn(t, a, c));
        assert_ne!(g.isn(t, a, b), IsnGenerator::new([1, 3]).isn(t, a, b));
        // The clock component advances one per 4 µs for a fixed tuple.
        assert_eq!(
            g.isn(t + crate::time::Duration::from_micros(400), a, b) - g.isn(t, a, b),
            100
        );
    }

    #[test]
    fn ts_offset_depends_on_the_hosts_and_the_key_not_the_ports() {
        let (us, peer, other) = (
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 3),
        );
        let g = IsnGenerator::new([1, 2]);
        assert_eq!(g.ts_offset(us, peer), g.ts_offset(us, peer));
        assert_ne!(g.ts_offset(us, peer), g.ts_offset(us, other));
        assert_ne!(
            g.ts_offset(us, peer),
            IsnGenerator::new([1, 3]).ts_offset(us, peer)
        );
    }

    #[test]
    fn ipv6_tuples_key_isn_timestamps_and_flow_label() {
        use std::net::{Ipv6Addr, SocketAddrV6};
        let ip = |n| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n);
        let a = SocketAddrV6::new(ip(2), 40000, 0, 0);
        let b = SocketAddrV6::new(ip(1), 80, 0, 0);
        let c = SocketAddrV6::new(ip(3), 80, 0, 0);
        let g = IsnGenerator::new([1, 2]);
        let t = Instant::from_secs(5);
        // The whole 128-bit address counts, not only a prefix of it.
        assert_ne!(g.isn(t, a, b), g.isn(t, a, c));
        assert_ne!(g.ts_offset(ip(2), ip(1)), g.ts_offset(ip(2), ip(3)));
        // An IPv4 tuple and its IPv4-mapped twin are different inputs.
        let v4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
        let mapped = SocketAddrV6::new(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(), 80, 0, 0);
        assert_ne!(g.isn(t, a, v4), g.isn(t, a, mapped));
        let (fb, fc) = (g.flow_label(a, b), g.flow_label(a, c));
        assert!(fb != 0 && fb <= 0xf_ffff && fc != 0 && fc <= 0xf_ffff);
        assert_ne!(fb, fc);
        assert_eq!(fb, g.flow_label(a, b), "stable for the flow");
        assert_ne!(fb, IsnGenerator::new([1, 3]).flow_label(a, b), "keyed");
    }
}
