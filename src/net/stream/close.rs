//! How a [`TcpStream`] ends: `shutdown` of either side, `abort` (RST),
//! and `close` of the last handle (explicit or on drop), which hands the
//! connection to the stack and, with `SO_LINGER`, waits for the peer to
//! acknowledge it.

use super::{deadline, Inner, TcpStream};
use crate::tcp::State;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl TcpStream {
    /// Shuts down the reading side, the writing side (sends FIN after the
    /// queued data), or both. As on Linux, shutting down the reading side
    /// discards nothing: data queued or still arriving is read first, and
    /// reads return end of stream (rather than block) once none is left;
    /// data left unread when the last handle closes resets the connection.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.with_tcb(|tcb| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                tcb.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                tcb.close();
            }
        })?;
        self.inner.shared.waker.wake();
        self.inner.shared.notify_waiters();
        self.inner.shared.wake_tasks();
        Ok(())
    }

    /// Closes this handle. When it is the last one (no clones left), the
    /// connection closes as on drop, following [`set_linger`](Self::set_linger);
    /// unlike drop, this reports how a lingering close ended. With other
    /// clones alive the connection stays open, as `close(2)` of one of
    /// several descriptors leaves the socket open.
    ///
    /// # Errors
    /// `WouldBlock` when the linger time passed before the peer
    /// acknowledged everything: the connection was reset.
    pub fn close(self) -> io::Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => inner.close(),
            Err(_) => Ok(()),
        }
    }

    /// Resets the connection at once (RST), discarding queued data.
    pub fn abort(&self) {
        let _ = self.with_tcb(|t| t.abort());
        self.inner.shared.waker.wake();
    }
}

impl Inner {
    /// CLOSE from the last handle: hands the connection to the stack, which
    /// frees it once it reaches CLOSED, lingering as `SO_LINGER` says.
    fn close(&mut self) -> io::Result<()> {
        self.closed = true;
        let linger = *self.linger.lock().unwrap_or_else(|p| p.into_inner());
        let mut iface = self.shared.lock();
        if linger == Some(Duration::ZERO) {
            if let Some(t) = iface.tcp_mut(self.handle) {
                t.abort();
            }
        }
        // Graceful close: FIN after the queued data.
        iface.tcp_release(self.handle);
        drop(iface);
        self.shared
            .tasks
            .drop_fd(crate::net::Target::Tcp(self.handle));
        // The FIN (or RST) leaves from this thread, as from close(2).
        self.shared.transmit();
        match linger {
            Some(t) if !t.is_zero() => self.linger(t),
            _ => Ok(()),
        }
    }

    /// Waits up to `t` for the peer to acknowledge our data and FIN
    /// (Linux's `sk_stream_wait_close`: until the connection leaves
    /// FIN-WAIT-1, CLOSING and LAST-ACK); resets it if `t` passes first.
    fn linger(&self, t: Duration) -> io::Result<()> {
        let handle = self.handle;
        let acked = self
            .shared
            .wait_for(deadline(Some(t)), |iface| match iface.tcp(handle) {
                // Freed: it reached CLOSED.
                None => Some(()),
                Some(tcb) => (!matches!(
                    tcb.state(),
                    State::SynReceived | State::FinWait1 | State::Closing | State::LastAck
                ))
                .then_some(()),
            });
        if acked.is_ok() || self.shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(tcb) = self.shared.lock().tcp_mut(handle) {
            tcb.abort();
        }
        self.shared.waker.wake();
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "linger time passed before the peer acknowledged the data; connection reset",
        ))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.closed {
            // Drop cannot report a linger timeout; `close` can.
            let _ = self.close();
        }
    }
}
