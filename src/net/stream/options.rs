//! [`TcpStream`]'s socket options and timeouts: `TCP_NODELAY`,
//! `SO_SNDBUF` / `SO_RCVBUF`, the IP TTL, `SO_LINGER` (the setting; the
//! lingering close is in `close`), non-blocking mode, `SO_RCVTIMEO` /
//! `SO_SNDTIMEO`, and `TCP_CONGESTION`.

use super::{check_timeout, TcpStream};
use crate::net::error;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl TcpStream {
    /// Disables (`true`) or enables Nagle's algorithm (`TCP_NODELAY`).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        // Only data Nagle was holding back needs a push, sent from this
        // thread as Linux's setsockopt(TCP_NODELAY) does: poking the
        // driver for every accepted connection woke it (and had it take
        // the lock against the caller) for nothing.
        let push = self.with_tcb(|t| {
            let held = nodelay && !t.nodelay() && t.send_queue() > 0;
            t.set_nodelay(nodelay);
            held
        })?;
        if push {
            self.inner.shared.transmit();
        }
        Ok(())
    }

    /// True when Nagle's algorithm is off.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with_tcb(|t| t.nodelay())
    }

    /// Sets the send buffer size in bytes (`SO_SNDBUF`); queued data is
    /// kept. The buffer then no longer grows with the congestion window.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `NotConnected` if the connection is gone.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer size must be positive",
            ));
        }
        self.with_tcb(|t| t.set_send_buffer(bytes))?;
        self.inner.shared.notify_waiters();
        self.inner.shared.wake_tasks();
        Ok(())
    }

    /// The send buffer size.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.with_tcb(|t| t.send_buffer())
    }

    /// Sets the receive buffer size in bytes (`SO_RCVBUF`); unread data is
    /// kept, and the buffer no longer grows with the path (autotuning is
    /// off for this socket, as on Linux). The advertised window is bounded
    /// by the scale negotiated at connect time (chosen for
    /// `tcp::Config::recv_buffer_max`). `bytes` is window: Linux doubles a
    /// `SO_RCVBUF` value as memory, a window of 1–1.25 times it.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `WouldBlock` when shrinking while out-of-order
    /// data is parked (retry later); `NotConnected` if the connection is gone.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer size must be positive",
            ));
        }
        if !self.with_tcb(|t| t.set_recv_buffer(bytes))? {
            return Err(error::would_block());
        }
        self.inner.shared.waker.wake();
        Ok(())
    }

    /// The receive buffer size.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.with_tcb(|t| t.recv_buffer())
    }

    /// Sets the IP TTL of this connection's packets.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `NotConnected` if the connection is gone.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = crate::net::valid_ttl(ttl)?;
        self.with_tcb(|t| t.set_ttl(ttl))
    }

    /// The IP TTL of this connection's packets.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn ttl(&self) -> io::Result<u32> {
        let default = u32::from(self.inner.shared.lock().config().ttl);
        self.with_tcb(|t| t.ttl().map_or(default, u32::from))
    }

    /// `SO_LINGER`: what closing the last handle (dropping it, or
    /// [`close`](Self::close)) does.
    ///
    /// - `None` (the default): return at once; the queued data and the
    ///   FIN are sent in the background.
    /// - `Some(Duration::ZERO)`: abortive close: the queued data is
    ///   dropped and the connection reset (RST), with no TIME-WAIT.
    /// - `Some(t)`: send the FIN after the queued data and block until the
    ///   peer has acknowledged all of it and the FIN, or `t` has passed.
    ///   In blocking and non-blocking mode alike, as on Linux. If `t`
    ///   passes first, the connection is reset (RST) and `close` reports
    ///   `WouldBlock` (the BSD `EWOULDBLOCK`); Linux would instead let the
    ///   unacknowledged data keep trying in the background, which makes
    ///   the linger time no bound at all.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        *self.inner.linger.lock().unwrap_or_else(|p| p.into_inner()) = linger;
        Ok(())
    }

    /// The linger setting.
    ///
    /// # Errors
    /// Never fails.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(*self.inner.linger.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Moves the socket into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors `std::net`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Sets the read timeout; `None` blocks forever. A timed-out read
    /// returns `WouldBlock`, as on Linux.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// Sets the write timeout; `None` blocks forever.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// The read timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
    }

    /// The write timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
    }

    /// Chooses the congestion-control algorithm for this connection, like
    /// Linux's `TCP_CONGESTION` socket option: before the handshake
    /// completes (after [`connect_nonblocking`](Self::connect_nonblocking))
    /// or mid-connection, where the current window carries over. The
    /// stack-wide default is [`tcp::Config::congestion`](crate::tcp::Config::congestion).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn set_congestion_control(&self, algorithm: crate::tcp::Algorithm) -> io::Result<()> {
        self.with_tcb(|t| t.set_congestion_control(algorithm))?;
        self.inner.shared.waker.wake();
        Ok(())
    }

    /// The congestion-control algorithm in use.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn congestion_control(&self) -> io::Result<crate::tcp::Algorithm> {
        self.with_tcb(|t| t.congestion_control())
    }
}
