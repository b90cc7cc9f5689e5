//! ICMP and ICMPv6 against the kernel, each test over both families
//! (`NAME::v4`, `NAME::v6`):
//!
//! - `ping` / `ping -6` of tunstack is answered (RFC 792, RFC 4443 §4);
//! - a datagram to a closed port of ours comes back to the kernel's
//!   socket as "connection refused" (our port unreachable, RFC 1122
//!   §4.1.3.1, RFC 4443 §3.1 code 4);
//! - the kernel's port unreachable (nftables `reject`) refuses our TCP
//!   connection attempt and our connected UDP socket, and its host
//!   unreachable ends a connection attempt as "host unreachable" (RFC
//!   5927 §4.1, RFC 1122 §4.2.3.9);
//! - behind a 1280-byte link the kernel's "fragmentation needed" (IPv4,
//!   our packets carry DF) or Packet Too Big (IPv6, RFC 8201) lowers our
//!   MSS, and the transfer goes on.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tunstack::stack::Stats;
use tunstack::{Stack, TcpStream, UdpSocket};

/// (echo replies, errors applied to a connection or socket) of `family`.
fn icmp_counts(s: &Stats, family: Family) -> (u64, u64) {
    match family {
        Family::V4 => (s.icmp_echo_replies, s.icmp_errors_applied),
        Family::V6 => (s.icmp6_echo_replies, s.icmp6_errors_applied),
    }
}

fn ping_from_the_kernel_is_answered(f: Family) {
    let stack = netns();
    let out = f.ping_us(3);
    assert!(out.contains("3 received"), "{out}");
    assert_eq!(icmp_counts(&stack.stats(), f).0, 3);
}

fn udp_to_a_closed_port_is_refused(f: Family) {
    let stack = netns();
    let sock = std::net::UdpSocket::bind(f.kernel_at(0)).unwrap();
    sock.connect(f.us_at(9999)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send(b"anyone?").unwrap();
    let err = sock.recv(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(stack.stats().udp_no_socket, 1);
}

/// The kernel answers TCP and UDP to port 9 with `reject with TYPE`
/// (an ICMP or ICMPv6 error instead of a RST), and TCP to port 10 with
/// `reject with UNREACH`.
fn reject_port_9(f: Family) {
    let (fam, icmp) = match f {
        Family::V4 => ("ip", "icmp type port-unreachable"),
        Family::V6 => ("ip6", "icmpv6 type port-unreachable"),
    };
    let unreach = match f {
        Family::V4 => "icmp type host-unreachable",
        Family::V6 => "icmpv6 type addr-unreachable",
    };
    nft(&format!(
        "table {fam} t {{\n\
           chain in {{\n\
             type filter hook input priority 0; policy accept;\n\
             tcp dport 9 reject with {icmp}\n\
             udp dport 9 reject with {icmp}\n\
             tcp dport 10 reject with {unreach}\n\
           }}\n\
         }}\n"
    ));
}

fn the_kernels_port_unreachable_refuses_our_connect_and_udp(f: Family) {
    let stack = netns();
    reject_port_9(f);
    let err =
        TcpStream::connect_timeout(&stack, &f.kernel_at(9), Duration::from_secs(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    let st = stack.stats();
    assert_eq!(icmp_counts(&st, f).1, 1, "refused by ICMP: {st:?}");

    // A connected UDP socket learns of it on its next receive.
    let udp = UdpSocket::bind(&stack, f.any(0)).unwrap();
    udp.connect(f.kernel_at(9)).unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send(b"anyone?").unwrap();
    let err = udp.recv(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(icmp_counts(&stack.stats(), f).1, 2);
}

fn the_kernels_host_unreachable_ends_our_connect(f: Family) {
    let stack = netns();
    reject_port_9(f);
    // The first error is held as soft; the one answering the SYN's
    // retransmission ends the attempt (RFC 5927 §4.1).
    let err =
        TcpStream::connect_timeout(&stack, &f.kernel_at(10), Duration::from_secs(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HostUnreachable, "{err}");
    assert!(icmp_counts(&stack.stats(), f).1 >= 2);
}

/// The peer behind the 1280-byte link: accepts one connection on port
/// 9200 of ADDR, reads to EOF, and writes back how many bytes it read.
const SINK: &str = r#"
import socket, sys
srv = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], 9200))
srv.listen(1)
open(sys.argv[2], "w").close()
c, _ = srv.accept()
n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    n += len(b)
c.sendall(str(n).encode())
c.close()
"#;

fn a_smaller_path_mtu_lowers_our_mss(f: Family) {
    let stack: Stack = netns();
    let dir = TempDir::new("pmtu");
    // The kernel forwards tunstack's packets onto a 1280-byte link (IPv6's
    // minimum MTU), so a full-sized segment draws its error.
    let peer = PeerNs::create("pmtu", 1280);
    let addr = PeerNs::addr(f);
    std::fs::write(dir.path().join("sink.py"), SINK).unwrap();
    let ready = dir.path().join("ready");
    let _sink = peer.python(
        dir.path(),
        &dir.path().join("sink.py"),
        &[&addr.to_string(), ready.to_str().unwrap()],
        &ready,
    );
    let mut s = TcpStream::connect_timeout(
        &stack,
        &SocketAddr::new(addr, 9200),
        Duration::from_secs(10),
    )
    .expect("connect");
    // The peer's SYN-ACK offers its own link's MSS (1280 − 40 or − 60):
    // lower than ours, so it alone would shrink our segments. Our segments
    // are sized by the MSS we may send, so learn it before the transfer.
    let offered = s.info().unwrap().mss;
    let data = random_bytes(1 << 20, 1280);
    s.write_all(&data).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, data.len().to_string(), "every byte arrived");
    let mss = s.info().unwrap().mss;
    // With timestamps on each segment: 1280 − IP − 20 − 12.
    let want = f.mss(1280) - 12;
    assert_eq!(
        mss, want,
        "{f:?}: MSS after the path's error (offered {offered})"
    );
    let st = stack.stats();
    eprintln!("{f:?}: MSS {offered} offered by the peer, {mss} after the path MTU error; {st:?}");
    match f {
        Family::V4 => assert!(st.icmp_errors_applied >= 1, "{st:?}"),
        Family::V6 => assert!(st.icmp6_packet_too_big >= 1, "{st:?}"),
    }
}

per_family!(
    ping_from_the_kernel_is_answered,
    udp_to_a_closed_port_is_refused,
    the_kernels_port_unreachable_refuses_our_connect_and_udp,
    the_kernels_host_unreachable_ends_our_connect,
    a_smaller_path_mtu_lowers_our_mss,
);
