//! ICMP against the kernel: `ping 10.0.0.2` is answered (RFC 792 echo),
//! and a UDP datagram to a closed port comes back as "connection refused"
//! through the kernel's handling of our port-unreachable (RFC 1122
//! §4.1.3.1).

mod common;

use common::*;
use std::net::SocketAddrV4;
use std::time::Duration;

#[test]
fn ping_from_the_kernel_is_answered() {
    let stack = netns();
    let out = run("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"]);
    assert!(out.contains("3 received"), "{out}");
    assert_eq!(stack.stats().icmp_echo_replies, 3);
}

#[test]
fn udp_to_a_closed_port_is_refused() {
    let stack = netns();
    let sock = std::net::UdpSocket::bind(SocketAddrV4::new(KERNEL, 0)).unwrap();
    sock.connect(SocketAddrV4::new(US, 9999)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send(b"anyone?").unwrap();
    let err = sock.recv(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(stack.stats().udp_no_socket, 1);
}
