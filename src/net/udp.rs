//! [`UdpSocket`]: datagrams with `std::net::UdpSocket`'s shape, blocking
//! by default, `WouldBlock` in non-blocking mode or on a read timeout.

use super::{error, Shared, Stack};
use crate::stack::UdpSendError;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A UDP socket bound to a port of the stack's address.
pub struct UdpSocket {
    shared: Arc<Shared>,
    port: u16,
    nonblocking: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

fn deadline(t: Option<Duration>) -> Option<std::time::Instant> {
    t.map(|t| std::time::Instant::now() + t)
}

impl UdpSocket {
    /// Binds `port` (0 picks a free ephemeral port).
    ///
    /// # Errors
    /// `AddrInUse` if the port is taken.
    pub fn bind(stack: &Stack, port: u16) -> io::Result<UdpSocket> {
        let shared = Arc::clone(stack.shared());
        let port = shared.lock().udp_bind(port).map_err(error::stack)?;
        Ok(UdpSocket {
            shared,
            port,
            nonblocking: AtomicBool::new(false),
            read_timeout: Mutex::new(None),
            write_timeout: Mutex::new(None),
        })
    }

    /// Sends one datagram to `addr`; returns the payload length.
    ///
    /// # Errors
    /// `InvalidInput` for a datagram larger than the MTU allows
    /// (no fragmentation); `WouldBlock` when the send queue is full in
    /// non-blocking mode or after the write timeout.
    pub fn send_to(&self, buf: &[u8], addr: impl Into<SocketAddr>) -> io::Result<usize> {
        let dst = addr.into();
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        let timeout = *self.write_timeout.lock().unwrap_or_else(|p| p.into_inner());
        let port = self.port;
        let r = self.shared.wait_for(
            if nonblocking { None } else { deadline(timeout) },
            |iface| match iface.udp_send(port, dst, buf) {
                Ok(()) => Some(Ok(buf.len())),
                Err(UdpSendError::QueueFull) if nonblocking => Some(Err(error::would_block())),
                Err(UdpSendError::QueueFull) => None,
                Err(UdpSendError::TooLarge) => Some(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "message too long (no fragmentation)",
                ))),
                Err(UdpSendError::NotBound) => Some(Err(error::not_connected())),
            },
        );
        if matches!(r, Ok(Ok(_))) {
            self.shared.waker.wake();
        }
        r.unwrap_or_else(|()| Err(error::would_block()))
    }

    /// Receives one datagram; a datagram longer than `buf` is truncated.
    ///
    /// # Errors
    /// `WouldBlock` when none is waiting in non-blocking mode or after the
    /// read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        let timeout = *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner());
        let port = self.port;
        let r = self.shared.wait_for(
            if nonblocking { None } else { deadline(timeout) },
            |iface| match iface.udp_recv(port, buf) {
                Some((n, from)) => Some(Ok((n, from))),
                None if nonblocking => Some(Err(error::would_block())),
                None => None,
            },
        );
        r.unwrap_or_else(|()| Err(error::would_block()))
    }

    /// The bound address.
    ///
    /// # Errors
    /// Never fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(SocketAddrV4::new(
            self.shared.lock().addr(),
            self.port,
        )))
    }

    /// Moves the socket into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Sets the read timeout (`None` blocks forever).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check(t)?;
        *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// Sets the write timeout (`None` blocks forever).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check(t)?;
        *self.write_timeout.lock().unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

fn check(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.shared.lock().udp_unbind(self.port);
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("port", &self.port)
            .finish()
    }
}
