//! `TraceDevice<D>`: wraps a device and logs one tcpdump-style line per
//! packet at `trace` level, e.g.
//! `> 10.0.0.2:40312 > 10.0.0.1:80 [S] seq 3188812312 win 65535 <mss 1460,sackOK,TS val 1 ecr 0,wscale 7> length 0`
//! (`>` sent, `<` received). Enable with `RUST_LOG=tunstack=trace`.

use super::{Device, Offload, RxMeta};
use crate::wire::ipv6::NEXT_ICMPV6;
use crate::wire::tcp::Summary;
use crate::wire::{AnyIp, TcpSegment, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use std::io;
use std::os::fd::RawFd;

/// A device that logs every packet.
pub struct TraceDevice<D> {
    inner: D,
}

impl<D> TraceDevice<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> TraceDevice<D> {
        TraceDevice { inner }
    }
}

/// The one-line description of a packet.
pub fn describe(packet: &[u8]) -> String {
    describe_with(packet, true)
}

/// As [`describe`]; `verify` false skips the TCP checksum (offloaded).
fn describe_with(packet: &[u8], verify: bool) -> String {
    let ip = match AnyIp::parse(packet) {
        Ok(ip) => ip,
        Err(e) => return format!("{} bytes, not a valid IP packet: {e}", packet.len()),
    };
    let (src, dst) = (ip.src, ip.dst);
    // tcpdump's notation: an IPv6 address with a port in brackets.
    let at = |a: std::net::IpAddr, port: u16| std::net::SocketAddr::new(a, port);
    match ip.protocol {
        PROTO_TCP => match TcpSegment::parse_with(src, dst, ip.payload, verify) {
            Ok(s) => format!(
                "{} > {} {}",
                at(src, s.header.src_port),
                at(dst, s.header.dst_port),
                Summary(&s.header, s.payload.len())
            ),
            Err(e) => format!("{src} > {dst} TCP, invalid: {e}"),
        },
        PROTO_UDP => format!("{src} > {dst} UDP, length {}", ip.payload.len()),
        PROTO_ICMP if src.is_ipv4() => format!(
            "{src} > {dst} ICMP type {}",
            ip.payload.first().copied().unwrap_or(0)
        ),
        NEXT_ICMPV6 if src.is_ipv6() => format!(
            "{src} > {dst} ICMPv6 type {}",
            ip.payload.first().copied().unwrap_or(0)
        ),
        p => format!("{src} > {dst} protocol {p}, length {}", ip.payload.len()),
    }
}

impl<D: Device> Device for TraceDevice<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.recv(buf)?;
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("< {}", describe(buf.get(..n).unwrap_or(&[])));
        }
        Ok(n)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("> {}", describe(packet));
        }
        self.inner.send(packet)
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_raw_fd()
    }

    fn wants_reasons(&self) -> bool {
        log::log_enabled!(log::Level::Trace) || self.inner.wants_reasons()
    }

    fn send_with_reason(&mut self, packet: &[u8], reason: &str) -> io::Result<()> {
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("> {} ({reason})", describe(packet));
        }
        self.inner.send_with_reason(packet, reason)
    }

    fn offload(&self) -> Offload {
        self.inner.offload()
    }

    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        let m = self.inner.recv_meta(buf)?;
        if log::log_enabled!(log::Level::Trace) {
            let p = buf.get(..m.len).unwrap_or(&[]);
            log::trace!("< {}", describe_with(p, !m.checksum_ok));
        }
        Ok(m)
    }

    /// Scatter reads pass through only while tracing is off: a traced
    /// packet is described whole, and a scattered one is not whole
    /// anywhere. Off, the tracer costs the copy-once receive nothing.
    fn can_recv_vectored(&self) -> bool {
        !log::log_enabled!(log::Level::Trace) && self.inner.can_recv_vectored()
    }

    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        self.inner.recv_vectored(bufs)
    }

    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("> {} (TSO, MSS {mss})", describe_with(packet, false));
        }
        self.inner.send_tso(packet, mss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Flags, Ipv4Repr, SeqNumber, TcpHeader, TcpOptions};
    use std::net::Ipv4Addr;

    #[test]
    fn describes_a_syn_like_tcpdump() {
        let h = TcpHeader {
            src_port: 40312,
            dst_port: 80,
            seq: SeqNumber(3188812312),
            flags: Flags::SYN,
            window: 65535,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                ..TcpOptions::default()
            },
            ..TcpHeader::default()
        };
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        let mut pkt = vec![0u8; 20 + h.header_len()];
        h.emit(&mut pkt[20..], src, dst).unwrap();
        Ipv4Repr {
            src,
            dst,
            protocol: PROTO_TCP,
            ttl: 64,
            payload_len: h.header_len(),
        }
        .emit(&mut pkt, 1)
        .unwrap();
        assert_eq!(
            describe(&pkt),
            "10.0.0.2:40312 > 10.0.0.1:80 [S] seq 3188812312 win 65535 <mss 1460,wscale 7> length 0"
        );
        assert!(describe(&[1, 2, 3]).contains("not a valid IP packet"));
    }

    #[test]
    fn describes_ipv6_tcp_and_icmpv6() {
        use crate::wire::icmpv6::Icmpv6Message;
        use crate::wire::Ipv6Repr;
        use std::net::Ipv6Addr;
        let h = TcpHeader {
            src_port: 40312,
            dst_port: 80,
            seq: SeqNumber(7),
            flags: Flags::SYN,
            window: 65535,
            ..TcpHeader::default()
        };
        let (src, dst) = (
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
        );
        let ip = |next, len| Ipv6Repr {
            src,
            dst,
            next_header: next,
            hop_limit: 64,
            flow_label: 1,
            payload_len: len,
        };
        let mut pkt = vec![0u8; 40 + h.header_len()];
        h.emit(&mut pkt[40..], src, dst).unwrap();
        ip(PROTO_TCP, h.header_len()).emit(&mut pkt).unwrap();
        assert_eq!(
            describe(&pkt),
            "[fd00::2]:40312 > [fd00::1]:80 [S] seq 7 win 65535 length 0"
        );
        let m = Icmpv6Message {
            kind: 128,
            code: 0,
            rest: [0; 4],
            data: &[],
        };
        let mut pkt = vec![0u8; 48];
        m.emit(&mut pkt[40..], src, dst).unwrap();
        ip(NEXT_ICMPV6, 8).emit(&mut pkt).unwrap();
        assert_eq!(describe(&pkt), "fd00::2 > fd00::1 ICMPv6 type 128");
    }
}
