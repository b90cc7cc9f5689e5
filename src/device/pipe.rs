//! A connected pair of packet devices over a `SOCK_SEQPACKET` socketpair:
//! packet boundaries are preserved and each end has a pollable fd, so the
//! pair works both in single-threaded simulations and under the `net`
//! driver thread.

use super::Device;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One end of an in-memory packet link.
#[derive(Debug)]
pub struct PipeDevice {
    fd: OwnedFd,
    mtu: usize,
}

impl PipeDevice {
    /// Creates two connected, non-blocking ends carrying packets up to `mtu`.
    ///
    /// # Errors
    /// The `socketpair(2)` error.
    pub fn pair(mtu: usize) -> io::Result<(PipeDevice, PipeDevice)> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid array of two ints for socketpair to fill.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socketpair succeeded, so both fds are open and ours alone.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&a, &b] {
            // Deep buffers so a simulated burst is not dropped by the kernel.
            let size: libc::c_int = 4 << 20;
            // SAFETY: valid fd and a pointer to a c_int of the given size.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUF,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok((PipeDevice { fd: a, mtu }, PipeDevice { fd: b, mtu }))
    }
}

impl Device for PipeDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        // SAFETY: packet is valid for reads of packet.len() bytes.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
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
    fn packets_keep_their_boundaries() {
        let (mut a, mut b) = PipeDevice::pair(1500).unwrap();
        a.send(b"one").unwrap();
        a.send(b"three").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
        assert_eq!(b.recv(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"three");
        assert_eq!(
            b.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
