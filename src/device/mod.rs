//! Byte-packet devices: where IPv4 packets enter and leave the stack.
//!
//! Owns the [`Device`] trait and its implementations: [`tun::TunDevice`]
//! (a Linux TUN interface, IFF_TUN without packet info),
//! [`vnet::VnetTunDevice`] (the same with virtio-net headers: checksum
//! offload and TSO, so one system call moves a 64 KiB batch) and
//! [`pipe::PipeDevice`] (a connected in-memory pair for tests and
//! simulation), and [`tun_mq::TunQueue`] (one queue of a multiqueue TUN,
//! with the steering program that assigns flows to queues). Knows nothing about TCP; middleware that inspects packets
//! (pcap, trace, fault injection) wraps another device.

pub mod fault;
pub mod pcap;
pub mod pipe;
pub mod trace;
pub mod tun;
pub mod tun_mq;
pub mod vnet;

use std::io;
use std::os::fd::RawFd;

pub use fault::{FaultInjector, FaultStats, Faults};
pub use pcap::{PcapDevice, PcapFile, PcapStats};
pub use pipe::PipeDevice;
pub use trace::TraceDevice;
pub use tun::{TunConfig, TunDevice};
pub use tun_mq::TunQueue;
pub use vnet::{VnetStats, VnetTunDevice};

/// Opens the TUN interface `cfg` describes: a [`VnetTunDevice`] if
/// `cfg.offload`, else a [`TunDevice`].
///
/// # Errors
/// As [`TunDevice::open`] and [`VnetTunDevice::open`].
pub fn open_tun(cfg: &TunConfig) -> io::Result<Box<dyn Device + Send>> {
    Ok(if cfg.offload {
        Box::new(VnetTunDevice::open(cfg)?)
    } else {
        Box::new(TunDevice::open(cfg)?)
    })
}

/// What a device can do beyond carrying MTU-sized packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// [`Device::send_tso`] takes a TCP segment of up to 64 KiB whose
    /// checksum field holds only the pseudo-header sum, and the other end
    /// treats it as MSS-sized segments (TCP segmentation offload).
    pub tso: bool,
    /// [`Device::recv_meta`] tells when a packet's checksum was built or
    /// verified by the other end, so the stack need not verify it.
    pub rx_checksum: bool,
}

/// A packet read by [`Device::recv_meta`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// Length of the packet in the buffer.
    pub len: usize,
    /// The transport checksum is known good (or left partial by the local
    /// kernel, which vouches for the data): skip verifying it.
    pub checksum_ok: bool,
}

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

    /// The offloads this device offers. Wrappers (pcap, trace, faults)
    /// offer none, so the stack sends them only MTU-sized packets with
    /// full checksums.
    fn offload(&self) -> Offload {
        Offload::default()
    }

    /// Reads one packet, saying whether its checksum needs checking.
    ///
    /// # Errors
    /// As [`recv`](Device::recv).
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        let len = self.recv(buf)?;
        Ok(RxMeta {
            len,
            checksum_ok: false,
        })
    }

    /// True if [`recv_vectored`](Device::recv_vectored) works.
    fn can_recv_vectored(&self) -> bool {
        false
    }

    /// Reads one packet scattered over `bufs` in order (`readv(2)`): its
    /// first bytes fill `bufs[0]`, the next ones `bufs[1]`, and so on; the
    /// returned length is the whole packet's. Lets the stack read a
    /// segment's payload straight into a receive buffer (copy-once
    /// receive). Bytes past the total length of `bufs` are lost.
    ///
    /// # Errors
    /// `Unsupported` unless [`can_recv_vectored`](Device::can_recv_vectored);
    /// otherwise as [`recv`](Device::recv).
    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        let _ = bufs;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "device has no scatter read",
        ))
    }

    /// Writes an IPv4 TCP segment larger than the MTU for the other end to
    /// treat as segments of `mss` payload bytes each (TSO); the TCP
    /// checksum field holds the pseudo-header sum only. Only called when
    /// [`offload`](Device::offload) says `tso`.
    ///
    /// # Errors
    /// `Unsupported` by default; otherwise as [`send`](Device::send).
    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        let _ = (packet, mss);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "device has no TCP segmentation offload",
        ))
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
    fn offload(&self) -> Offload {
        (**self).offload()
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        (**self).recv_meta(buf)
    }
    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        (**self).send_tso(packet, mss)
    }
    fn can_recv_vectored(&self) -> bool {
        (**self).can_recv_vectored()
    }
    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        (**self).recv_vectored(bufs)
    }
}

/// Most buffers [`Device::recv_vectored`] takes (the stack uses three).
pub const MAX_RX_IOVECS: usize = 4;

/// `readv(2)` on `fd` into `head` (if any) followed by `bufs`, at most
/// [`MAX_RX_IOVECS`] of them; returns the byte count.
pub(crate) fn readv(
    fd: RawFd,
    head: Option<&mut [u8]>,
    bufs: &mut [io::IoSliceMut<'_>],
) -> io::Result<usize> {
    let empty = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut iov = [empty; MAX_RX_IOVECS + 1];
    let mut n = 0;
    if let Some(h) = head {
        iov[0] = libc::iovec {
            iov_base: h.as_mut_ptr().cast(),
            iov_len: h.len(),
        };
        n = 1;
    }
    for b in bufs.iter_mut() {
        let Some(slot) = iov.get_mut(n) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many buffers for one read",
            ));
        };
        *slot = libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        };
        n += 1;
    }
    // SAFETY: the first n iovecs point into live, writable buffers of the
    // stated lengths, borrowed mutably for the duration of the call.
    let r = unsafe { libc::readv(fd, iov.as_ptr(), n as libc::c_int) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}
