//! Byte-packet devices: where IPv4 packets enter and leave the stack.
//!
//! Owns the [`Device`] trait and its implementations: [`tun::TunDevice`]
//! (a Linux TUN interface, IFF_TUN without packet info) and
//! [`pipe::PipeDevice`] (a connected in-memory pair for tests and
//! simulation). Knows nothing about TCP; middleware that inspects packets
//! (pcap, trace, fault injection) wraps another device.

pub mod fault;
pub mod pcap;
pub mod pipe;
pub mod trace;
pub mod tun;

use std::io;
use std::os::fd::RawFd;

pub use fault::{FaultInjector, FaultStats, Faults};
pub use pcap::{PcapDevice, PcapStats};
pub use pipe::PipeDevice;
pub use trace::TraceDevice;
pub use tun::{TunConfig, TunDevice};

/// A source and sink of raw IPv4 packets.
pub trait Device {
    /// Reads one packet into `buf`, returning its length.
    ///
    /// # Errors
    /// `WouldBlock` when no packet is waiting; other errors are device
    /// failures.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes one packet.
    ///
    /// # Errors
    /// Any error means the packet was not sent (the caller counts it; TCP
    /// retransmits).
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;

    /// Largest packet the device carries.
    fn mtu(&self) -> usize;

    /// A file descriptor that polls readable when `recv` has a packet.
    fn as_raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// True if the device records why packets are sent (a pcapng
    /// capture); only then does the stack format reasons.
    fn wants_reasons(&self) -> bool {
        false
    }

    /// Writes one packet with a human-readable reason (e.g. "retransmission
    /// #2, RTO 400 ms"). Devices that don't record reasons just send.
    ///
    /// # Errors
    /// As [`send`](Device::send).
    fn send_with_reason(&mut self, packet: &[u8], reason: &str) -> io::Result<()> {
        let _ = reason;
        self.send(packet)
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).recv(buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        (**self).send(packet)
    }
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn as_raw_fd(&self) -> Option<RawFd> {
        (**self).as_raw_fd()
    }
    fn wants_reasons(&self) -> bool {
        (**self).wants_reasons()
    }
    fn send_with_reason(&mut self, packet: &[u8], reason: &str) -> io::Result<()> {
        (**self).send_with_reason(packet, reason)
    }
}
