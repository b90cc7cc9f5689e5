//! A Linux TUN interface opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
//! (checksum offload and TSO for IPv4 and IPv6): every packet read or written
//! carries a 10-byte `struct virtio_net_hdr` in front, which lets one
//! `write(2)` hand the kernel a TCP segment of up to 64 KiB that it treats
//! as a batch of MSS-sized segments (GSO), and lets one `read(2)` return a
//! batch the kernel built the same way (TSO towards us). One system call
//! then moves up to 45 segments instead of one: the per-packet syscall is
//! what bounds a plain TUN device.
//!
//! The `tun-tap` crate cannot set these flags, so this device is opened
//! by ioctl on `/dev/net/tun` directly. Interface set-up (address, MTU,
//! link up, quiet IPv6) is shared with [`TunDevice`](super::TunDevice).
//!
//! The header layout and flags are the kernel's
//! (`include/uapi/linux/virtio_net.h`), in native byte order as the
//! kernel uses for a legacy header.

use super::tun::{configure, ifreq, validate};
use super::{Device, Offload, RxMeta, TunConfig};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Size of `struct virtio_net_hdr` (no `num_buffers`).
const HDR_LEN: usize = 10;
/// `flags`: the checksum at `csum_start + csum_offset` holds only the
/// pseudo-header sum; the rest is to be added (`CHECKSUM_PARTIAL`).
const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the kernel has verified the checksum.
const F_DATA_VALID: u8 = 2;
/// `gso_type`: none, TCP over IPv4, TCP over IPv6.
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
/// Offset of the TCP checksum in the TCP header.
const TCP_CSUM_OFFSET: u16 = 16;

/// The fields of a `virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct VnetHdr {
    flags: u8,
    gso_type: u8,
    hdr_len: u16,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
}

impl VnetHdr {
    fn encode(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    fn decode(b: &[u8; HDR_LEN]) -> VnetHdr {
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        }
    }
}

/// Counters of the offload device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetStats {
    /// Packets read that the kernel had batched (GSO: one TCP segment of
    /// several MSS).
    pub rx_gso_packets: u64,
    /// Packets written as one TSO batch.
    pub tx_gso_packets: u64,
    /// Reads shorter than the virtio header (ignored).
    pub rx_runts: u64,
}

/// An open TUN interface with virtio-net headers and offloads on.
pub struct VnetTunDevice {
    fd: OwnedFd,
    name: String,
    mtu: usize,
    stats: VnetStats,
}

impl std::fmt::Debug for VnetTunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnetTunDevice")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("stats", &self.stats)
            .finish()
    }
}

impl VnetTunDevice {
    /// Opens (creating if needed) the interface with `IFF_VNET_HDR`,
    /// turns on checksum offload and TSO for IPv4 and IPv6 (`TUN_F_CSUM |
    /// TUN_F_TSO4 | TUN_F_TSO6`), and, if `cfg.configure`, configures it like
    /// [`TunDevice::open`](super::TunDevice::open).
    ///
    /// # Errors
    /// As `TunDevice::open`; `Unsupported`-like OS errors from a kernel
    /// without TUN offloads.
    pub fn open(cfg: &TunConfig) -> io::Result<VnetTunDevice> {
        validate(cfg)?;
        let path = c"/dev/net/tun";
        // SAFETY: plain open(2) of a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by open(2) and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut req = ifreq(&cfg.name);
        req.ifr_ifru.ifru_flags =
            (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
        // SAFETY: TUNSETIFF takes a pointer to a valid ifreq.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETIFF: {e}")));
        }
        enable_offloads(fd.as_raw_fd())?;
        // SAFETY: fcntl on an fd we own.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        if fl < 0
            || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        let name = req
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8 as char)
            .collect::<String>();
        if cfg.configure {
            configure(&name, cfg)?;
        }
        Ok(VnetTunDevice {
            fd,
            name,
            mtu: cfg.mtu,
            stats: VnetStats::default(),
        })
    }

    /// One queue of a multiqueue interface as an offload device: `fd` was
    /// attached with `IFF_VNET_HDR` and is non-blocking, and
    /// [`enable_offloads`] has run on one queue of the interface (the
    /// header size and offloads are the interface's, not the queue's).
    pub(super) fn from_queue(fd: OwnedFd, name: &str, mtu: usize) -> VnetTunDevice {
        VnetTunDevice {
            fd,
            name: name.to_string(),
            mtu,
            stats: VnetStats::default(),
        }
    }

    /// The interface name the kernel gave us.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counters.
    pub fn stats(&self) -> VnetStats {
        self.stats
    }

    /// Reads one packet and its virtio header.
    fn read_packet(&mut self, buf: &mut [u8]) -> io::Result<(usize, VnetHdr)> {
        self.read_vectored(&mut [io::IoSliceMut::new(buf)])
    }

    /// Reads one packet, scattered over `bufs`, and its virtio header.
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<(usize, VnetHdr)> {
        let mut hdr = [0u8; HDR_LEN];
        let n = super::readv(self.fd.as_raw_fd(), Some(&mut hdr), bufs)?;
        if n < HDR_LEN {
            self.stats.rx_runts += 1;
            return Ok((0, VnetHdr::default()));
        }
        let h = VnetHdr::decode(&hdr);
        if h.gso_type != GSO_NONE {
            self.stats.rx_gso_packets += 1;
        }
        Ok((n - HDR_LEN, h))
    }

    fn write_packet(&mut self, h: &VnetHdr, packet: &[u8]) -> io::Result<()> {
        let hdr = h.encode();
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: HDR_LEN,
            },
            libc::iovec {
                iov_base: packet.as_ptr() as *mut libc::c_void,
                iov_len: packet.len(),
            },
        ];
        // SAFETY: both iovecs point into live buffers of the stated
        // lengths; writev only reads them.
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Sets the virtio header size and turns on checksum offload and TSO for
/// IPv4 and IPv6 (`TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`) on the
/// interface `fd` is attached to, which must have `IFF_VNET_HDR`. Both
/// settings belong to the interface (`struct tun_struct`), so for a
/// multiqueue interface this runs once, on any one queue.
///
/// # Errors
/// OS errors from the ioctls, named after them.
pub(super) fn enable_offloads(fd: RawFd) -> io::Result<()> {
    let hdr_len = HDR_LEN as libc::c_int;
    // SAFETY: TUNSETVNETHDRSZ takes a pointer to an int.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETVNETHDRSZ as _, &hdr_len) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETVNETHDRSZ: {e}")));
    }
    let offloads = (libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6) as libc::c_ulong;
    // SAFETY: TUNSETOFFLOAD takes its argument by value.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD as _, offloads) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETOFFLOAD: {e}")));
    }
    Ok(())
}

/// Completes a `CHECKSUM_PARTIAL` packet in place: sums everything from
/// `csum_start` (the field already holds the pseudo-header sum) and stores
/// the complement, so the packet is valid for any reader. Out-of-range
/// offsets leave the packet alone (the stack then drops it on the bad
/// checksum).
fn complete_checksum(packet: &mut [u8], h: &VnetHdr) {
    let start = usize::from(h.csum_start);
    let at = start + usize::from(h.csum_offset);
    if at + 2 > packet.len() {
        return;
    }
    let acc = crate::wire::checksum::sum(0, &packet[start..]);
    let c = crate::wire::checksum::fold(acc);
    packet[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

impl Device for VnetTunDevice {
    /// Reads one packet with a complete checksum: a packet the kernel left
    /// `CHECKSUM_PARTIAL` is finished in software. It may be larger than
    /// the MTU (a TSO batch, one TCP segment).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, h) = self.read_packet(buf)?;
        if h.flags & F_NEEDS_CSUM != 0 {
            if let Some(p) = buf.get_mut(..n) {
                complete_checksum(p, &h);
            }
        }
        Ok(n)
    }

    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        let (n, h) = self.read_packet(buf)?;
        Ok(RxMeta {
            len: n,
            // Built by the local kernel (partial) or verified by it.
            checksum_ok: h.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0,
        })
    }

    fn can_recv_vectored(&self) -> bool {
        true
    }

    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        let (n, h) = self.read_vectored(bufs)?;
        Ok(RxMeta {
            len: n,
            checksum_ok: h.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0,
        })
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.write_packet(&VnetHdr::default(), packet)
    }

    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        let (ihl, doff) = crate::wire::header_lens(packet).unwrap_or((0, 0));
        if ihl < 20 || doff < 20 || packet.len() <= ihl + doff || mss == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a TCP segment with payload",
            ));
        }
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            hdr_len: (ihl + doff) as u16,
            gso_size: mss,
            csum_start: ihl as u16,
            csum_offset: TCP_CSUM_OFFSET,
        };
        self.write_packet(&h, packet)?;
        self.stats.tx_gso_packets += 1;
        Ok(())
    }

    fn offload(&self) -> Offload {
        Offload {
            tso: true,
            rx_checksum: true,
        }
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 52,
            gso_size: 1448,
            csum_start: 20,
            csum_offset: 16,
        };
        assert_eq!(VnetHdr::decode(&h.encode()), h);
        assert_eq!(h.encode()[0], 1);
        assert_eq!(h.encode()[1], 1);
    }

    #[test]
    fn partial_checksum_is_completed_to_the_full_one() {
        use crate::wire::{checksum, Flags, SeqNumber, TcpHeader, TcpOptions};
        use std::net::Ipv4Addr;
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let hdr = TcpHeader {
            src_port: 80,
            dst_port: 40000,
            seq: SeqNumber(7),
            ack: SeqNumber(9),
            flags: Flags::ACK,
            window: 100,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let mut full = vec![0u8; 20 + 3001];
        for (i, b) in full[20..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        hdr.emit(&mut full, src, dst).unwrap();
        let mut partial = full.clone();
        hdr.emit_partial(&mut partial, src, dst).unwrap();
        assert_ne!(partial, full);
        // As the kernel hands it over: an IP header in front.
        let mut pkt = vec![0x45u8; 20];
        pkt.extend_from_slice(&partial);
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        complete_checksum(&mut pkt, &h);
        assert_eq!(&pkt[20..], &full[..]);
        let acc = checksum::pseudo_header(src, dst, 6, full.len());
        assert_eq!(checksum::fold(checksum::sum(acc, &pkt[20..])), 0);
        // Offsets past the end leave the packet alone.
        let before = pkt.clone();
        complete_checksum(
            &mut pkt,
            &VnetHdr {
                csum_start: 60000,
                ..h
            },
        );
        assert_eq!(pkt, before);
    }
}
