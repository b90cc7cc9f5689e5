//! Forged IPv4/TCP packets for the adversarial tests: built with
//! etherparse (so attacks share no packet code with tunstack) and sent
//! from a raw socket on the kernel side of tun0, with any source address.

#![allow(dead_code)]

use super::common::US;
use etherparse::{IpNumber, Ipv4Header, TcpHeader};
use std::net::SocketAddrV4;

/// A raw IPv4 socket: packets go out with whatever source we write.
pub struct Forger(i32);

impl Forger {
    pub fn new() -> Forger {
        // SAFETY: plain socket(2); IPPROTO_RAW implies IP_HDRINCL.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        Forger(fd)
    }

    pub fn send(&self, packet: &[u8]) {
        let dst = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(US).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: valid buffer and address for the duration of the call.
        let n = unsafe {
            libc::sendto(
                self.0,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&dst as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(
            n,
            packet.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// A forged TCP segment from `src` to tunstack.
#[derive(Clone)]
pub struct Forge {
    pub src: SocketAddrV4,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub rst: bool,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Forge {
    pub fn new(src: SocketAddrV4, dst_port: u16, seq: u32) -> Forge {
        Forge {
            src,
            dst_port,
            seq,
            ack: None,
            syn: false,
            rst: false,
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut tcp = TcpHeader::new(self.src.port(), self.dst_port, self.seq, 64240);
        tcp.syn = self.syn;
        tcp.rst = self.rst;
        if let Some(a) = self.ack {
            tcp.ack = true;
            tcp.acknowledgment_number = a;
        }
        tcp.psh = !self.payload.is_empty();
        tcp.set_options_raw(&self.options).expect("options fit");
        let len = tcp.header_len() + self.payload.len();
        let mut ip = Ipv4Header::new(
            len as u16,
            64,
            IpNumber::TCP,
            self.src.ip().octets(),
            US.octets(),
        )
        .unwrap();
        ip.header_checksum = ip.calc_header_checksum();
        tcp.checksum = tcp.calc_checksum_ipv4(&ip, &self.payload).unwrap();
        let mut v = Vec::new();
        ip.write(&mut v).unwrap();
        tcp.write(&mut v).unwrap();
        v.extend_from_slice(&self.payload);
        v
    }
}
