//! IPv4 and IPv6 fragment reassembly against the kernel (issue 18; each
//! test runs over both families, `NAME::v4` and `NAME::v6`): the kernel
//! fragments large UDP datagrams on its own and they must reach a
//! tunstack `UdpSocket` intact; forged overlapping, tiny and never-completed
//! trains (built with etherparse, sent from a raw socket) must be dropped,
//! counted under their own counters and freed by the reassembly timeout,
//! without ever reaching the socket. A train that times out after its
//! first fragment arrived earns the kernel an ICMP / ICMPv6 Time Exceeded
//! (code 1) quoting that fragment, seen on a raw ICMP socket.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use etherparse::IpNumber;
use forge::{ipv4_fragment, ipv6_fragment, Forger};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tunstack::net::{Config, Stats, UdpSocket};
use tunstack::stack::FragLimits;
use tunstack::Stack;

const PORT: u16 = 9000;

/// Waits (up to a generous bound, not a timing assertion) until the
/// stack's counters satisfy `done`; returns them either way.
fn wait_for(stack: &Stack, done: impl Fn(&Stats) -> bool) -> Stats {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let s = stack.stats();
        if done(&s) || Instant::now() > until {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `data` from the kernel to our port over `f`: more than the MTU,
/// so the kernel fragments it. Returns what our socket received, after
/// checking it came from the kernel's socket.
fn kernel_sends(f: Family, sock: &UdpSocket, data: &[u8]) -> Vec<u8> {
    let k = std::net::UdpSocket::bind(f.kernel_at(0)).unwrap();
    assert_eq!(k.send_to(data, f.us_at(PORT)).unwrap(), data.len());
    let mut buf = vec![0u8; 65536];
    let (n, from) = sock.recv_from(&mut buf).expect("the datagram arrives");
    buf.truncate(n);
    assert_eq!(from, k.local_addr().unwrap());
    buf
}

/// Fragments the kernel makes of a `len`-byte UDP payload on a 1500-byte
/// link: 1480 bytes of each over IPv4, 1448 over IPv6 (40 bytes of
/// header and 8 of Fragment header, rounded down to a multiple of 8).
fn fragments(f: Family, len: usize) -> u64 {
    let piece = match f {
        Family::V4 => 1480,
        Family::V6 => 1448,
    };
    (len + 8).div_ceil(piece) as u64
}

fn kernel_fragmented_udp_datagrams_arrive_intact(f: Family) {
    let stack = netns();
    let sock = UdpSocket::bind(&stack, f.any(PORT)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for (len, seed) in [(4000usize, 1u64), (60000, 2)] {
        let data = random_bytes(len, seed);
        let got = kernel_sends(f, &sock, &data);
        assert_eq!(got.len(), len);
        assert_eq!(sha256(&got), sha256(&data), "{len} bytes");
    }
    let s = stack.stats();
    // 4000 bytes + 8 of UDP header is 3 fragments either way; 60008 is 41
    // over IPv4 and 42 over IPv6.
    let n = fragments(f, 4000) + fragments(f, 60000);
    assert_eq!(n, if f == Family::V4 { 44 } else { 45 });
    assert_eq!((s.frag_received, s.frag_reassembled), (n, 2), "{s:?}");
    if f == Family::V4 {
        assert_eq!(s.ip_fragments, n, "{s:?}");
    }
    assert_eq!(s.udp_delivered, 2);
    assert_eq!(s.dropped(), 0, "{s:?}");
}

/// A forged fragment from the kernel's address over `f`: `payload` at
/// `offset` of datagram `ident`.
fn forged(
    f: Family,
    ident: u16,
    protocol: IpNumber,
    offset: u16,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    match f.kernel() {
        IpAddr::V4(k) => ipv4_fragment(k, ident, protocol, offset, more, payload),
        IpAddr::V6(k) => ipv6_fragment(k, u32::from(ident), protocol, offset, more, payload),
    }
}

fn forged_overlapping_tiny_and_unfinished_trains_are_dropped_counted_and_freed(f: Family) {
    // Both timeouts at 2 s (30 s and 60 s by default), so the test waits
    // for one.
    let stack = netns_with(Config {
        frag: FragLimits {
            timeout_v4: tunstack::time::Duration::from_secs(2),
            timeout_v6: tunstack::time::Duration::from_secs(2),
            ..FragLimits::default()
        },
        ..Config::default()
    });
    let sock = UdpSocket::bind(&stack, f.any(PORT)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let forger = Forger::new();
    let udp_head = {
        let mut h = vec![0u8; 8];
        h[0..2].copy_from_slice(&4000u16.to_be_bytes());
        h[2..4].copy_from_slice(&PORT.to_be_bytes());
        h[4..6].copy_from_slice(&40u16.to_be_bytes());
        h
    };
    let mut first = udp_head.clone();
    first.extend_from_slice(&[0xaa; 8]);
    let udp = IpNumber::UDP;
    // Overlap: bytes 8..24 collide with the first fragment's 0..16; the
    // datagram is discarded and its last fragment dropped after it.
    forger.send(&forged(f, 100, udp, 0, true, &first));
    forger.send(&forged(f, 100, udp, 8, true, &[0xbb; 16]));
    forger.send(&forged(f, 100, udp, 24, false, &[0xcc; 16]));
    // Tiny: a first TCP fragment of 8 bytes cannot hold the TCP header
    // (over IPv6 the first fragment must hold the whole header chain,
    // RFC 8200 §4.5, RFC 7112).
    forger.send(&forged(f, 200, IpNumber::TCP, 0, true, &[0; 8]));
    // Never completed: the last fragment never comes.
    forger.send(&forged(f, 300, udp, 0, true, &first));
    let s = wait_for(&stack, |s| s.frag_received >= 5);
    assert_eq!(s.frag_received, 5, "{s:?}");
    assert_eq!((s.frag_overlap, s.frag_after_overlap), (1, 1), "{s:?}");
    assert_eq!(s.frag_tiny, 1, "{s:?}");
    assert_eq!((s.frag_reassembled, s.frag_timeout), (0, 0), "{s:?}");
    // The timeout frees the unfinished train (the overlap's tombstone goes
    // too, but is not a timed-out datagram).
    let s = wait_for(&stack, |s| s.frag_timeout >= 1);
    assert_eq!((s.frag_timeout, s.frag_reassembled), (1, 0), "{s:?}");
    // Nothing forged reached the socket: the first datagram it holds is
    // the kernel's own, sent after the forgeries.
    let data = random_bytes(5000, 3);
    let got = kernel_sends(f, &sock, &data);
    assert_eq!(sha256(&got), sha256(&data));
    let s = stack.stats();
    assert_eq!((s.frag_reassembled, s.udp_delivered), (1, 1), "{s:?}");
}

per_family!(
    kernel_fragmented_udp_datagrams_arrive_intact,
    forged_overlapping_tiny_and_unfinished_trains_are_dropped_counted_and_freed,
);

/// A raw ICMP (or ICMPv6) socket on the kernel side: sees every ICMP
/// message the kernel receives, so a test checks what tunstack sent as
/// the kernel got it.
struct IcmpListener {
    fd: i32,
    v6: bool,
}

impl IcmpListener {
    fn new(v6: bool) -> IcmpListener {
        let (family, proto) = if v6 {
            (libc::AF_INET6, libc::IPPROTO_ICMPV6)
        } else {
            (libc::AF_INET, libc::IPPROTO_ICMP)
        };
        // SAFETY: plain socket(2).
        let fd = unsafe { libc::socket(family, libc::SOCK_RAW, proto) };
        assert!(
            fd >= 0,
            "raw ICMP socket: {}",
            std::io::Error::last_os_error()
        );
        IcmpListener { fd, v6 }
    }

    /// The next ICMP message (type, code, body after the 8-byte header)
    /// of `kind`, waiting at most `timeout`.
    fn next(&self, kind: u8, timeout: Duration) -> Option<(u8, u8, Vec<u8>)> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } <= 0 {
                continue;
            }
            let mut buf = vec![0u8; 2048];
            // SAFETY: a valid buffer of the stated length.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                continue;
            }
            buf.truncate(n as usize);
            // An IPv4 raw socket hands over the IP header too.
            let at = if self.v6 {
                0
            } else {
                usize::from(buf[0] & 0x0f) * 4
            };
            let Some(msg) = buf.get(at..) else { continue };
            if msg.len() >= 8 && msg[0] == kind {
                return Some((msg[0], msg[1], msg[8..].to_vec()));
            }
        }
    }
}

impl Drop for IcmpListener {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.fd) };
    }
}

/// A UDP header to our port with a length promising more than arrives.
fn udp_head(len: u16) -> Vec<u8> {
    let mut h = vec![0u8; 8];
    h[0..2].copy_from_slice(&4000u16.to_be_bytes());
    h[2..4].copy_from_slice(&PORT.to_be_bytes());
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h
}

fn short_timeouts() -> Config {
    Config {
        frag: FragLimits {
            timeout_v4: tunstack::time::Duration::from_secs(2),
            timeout_v6: tunstack::time::Duration::from_secs(2),
            ..FragLimits::default()
        },
        ..Config::default()
    }
}

#[test]
fn an_expired_v4_train_earns_the_kernel_a_time_exceeded_quoting_its_first_fragment() {
    // RFC 792 and Linux's ip_expire: only a train whose offset-0 fragment
    // arrived is answered, with type 11 code 1 quoting that fragment.
    let stack = netns_with(short_timeouts());
    let _sock = UdpSocket::bind(&stack, ("0.0.0.0", PORT)).unwrap();
    let icmp = IcmpListener::new(false);
    let forger = Forger::new();
    let mut first = udp_head(2000);
    first.extend_from_slice(&[0x11; 1000]);
    let first = ipv4_fragment(KERNEL, 0x4242, IpNumber::UDP, 0, true, &first);
    forger.send(&first);
    // A second train has only a later fragment: it expires silently.
    forger.send(&ipv4_fragment(
        KERNEL,
        0x4343,
        IpNumber::UDP,
        1008,
        false,
        &[0x22; 16],
    ));
    let (kind, code, quote) = icmp
        .next(11, Duration::from_secs(20))
        .expect("the kernel receives a Time Exceeded");
    assert_eq!(code, 1, "fragment reassembly time exceeded");
    // The quote is the first fragment as sent, cut at 548 bytes (an
    // error within 576, RFC 1812 §4.3.2.3).
    assert_eq!((kind, quote.len()), (11, 548));
    assert_eq!(quote[..], first[..548]);
    let s = wait_for(&stack, |s| s.frag_timeout >= 2);
    assert_eq!((s.frag_timeout, s.frag_time_exceeded_sent), (2, 1), "{s:?}");
    assert_eq!(icmp.next(11, Duration::from_millis(500)), None, "only one");
}

/// A forged IPv6 fragment to tunstack from the kernel's address: the
/// fixed header, a fragment header, then `data`.
fn raw_ipv6_fragment(ident: u32, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(8 + data.len() as u16).to_be_bytes());
    p.extend_from_slice(&[44, 64]);
    p.extend_from_slice(&KERNEL6.octets());
    p.extend_from_slice(&US6.octets());
    p.extend_from_slice(&[17, 0]);
    p.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// Sends a whole IPv6 packet (header included) from a raw socket.
fn send_raw6(packet: &[u8]) {
    // SAFETY: plain socket(2); IPPROTO_RAW implies IPV6_HDRINCL.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    to.sin6_addr.s6_addr = US6.octets();
    // SAFETY: valid buffer and address for the duration of the call.
    let n = unsafe {
        libc::sendto(
            fd,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: we own the descriptor.
    unsafe { libc::close(fd) };
    assert_eq!(n, packet.len() as isize, "sendto: {err}");
}

#[test]
fn an_expired_v6_train_earns_the_kernel_a_time_exceeded_quoting_its_first_fragment() {
    // RFC 8200 §4.5 and Linux's ip6_expire_frag_queue: ICMPv6 type 3
    // code 1, quoting the first fragment (fragment header included).
    let stack = netns_with(short_timeouts());
    let _sock = UdpSocket::bind(&stack, "[::]:9000").unwrap();
    let icmp = IcmpListener::new(true);
    let mut data = udp_head(3000);
    data.extend_from_slice(&[0x33; 1400]);
    let first = raw_ipv6_fragment(0x0bad_cafe, 0, true, &data);
    send_raw6(&first);
    send_raw6(&raw_ipv6_fragment(0x0bad_f00d, 1408, false, &[0x44; 16]));
    let (_, code, quote) = icmp
        .next(3, Duration::from_secs(20))
        .expect("the kernel receives a Time Exceeded");
    assert_eq!(code, 1, "fragment reassembly time exceeded");
    // The error fits the minimum MTU: 1280 − 40 − 8 bytes of quote.
    assert_eq!(quote.len(), 1232);
    assert_eq!(quote[..], first[..1232]);
    let s = wait_for(&stack, |s| s.frag_timeout >= 2);
    assert_eq!((s.frag_timeout, s.frag_time_exceeded_sent), (2, 1), "{s:?}");
    assert_eq!(icmp.next(3, Duration::from_millis(500)), None, "only one");
}
