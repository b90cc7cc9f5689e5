//! [`TcpListener`]: passive open with `std::net::TcpListener`'s shape.

use super::{error, Shared, Stack, TcpStream};
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A TCP socket listening on a port of the stack's address.
pub struct TcpListener {
    shared: Arc<Shared>,
    port: u16,
    nonblocking: AtomicBool,
}

impl TcpListener {
    /// Listens on `port` (0 picks a free ephemeral port) with the stack's
    /// default accept backlog (`Config::accept_backlog`, 128 as std's).
    ///
    /// # Errors
    /// `AddrInUse` if the port already has a listener.
    pub fn bind(stack: &Stack, port: u16) -> io::Result<TcpListener> {
        let backlog = stack.shared().lock().config().accept_backlog;
        TcpListener::bind_with_backlog(stack, port, backlog)
    }

    /// Listens on `port` with room for `backlog` established connections
    /// waiting for [`accept`](Self::accept), as `listen(2)`'s backlog:
    /// clamped to 1..=[`MAX_BACKLOG`](super::MAX_BACKLOG) (Linux's
    /// `somaxconn`). When the queue is full, new SYNs are dropped and
    /// handshake-completing ACKs ignored, as Linux does, so clients retry.
    ///
    /// # Errors
    /// `AddrInUse` if the port already has a listener.
    pub fn bind_with_backlog(stack: &Stack, port: u16, backlog: usize) -> io::Result<TcpListener> {
        let shared = Arc::clone(stack.shared());
        let port = shared
            .lock()
            .tcp_listen_with_backlog(port, backlog)
            .map_err(error::stack)?;
        Ok(TcpListener {
            shared,
            port,
            nonblocking: AtomicBool::new(false),
        })
    }

    /// Waits for (or, non-blocking, checks for) an established connection.
    ///
    /// # Errors
    /// `WouldBlock` in non-blocking mode when none is queued.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let nonblocking = self.nonblocking.load(Ordering::Relaxed);
        let port = self.port;
        let r = self
            .shared
            .wait_for(None, |iface| match iface.tcp_accept(port) {
                Ok(Some(h)) => {
                    let peer = iface.tcp(h).map(|t| t.remote());
                    Some(Ok((h, peer)))
                }
                Ok(None) if nonblocking => Some(Err(error::would_block())),
                Ok(None) => None,
                Err(e) => Some(Err(error::stack(e))),
            });
        match r {
            Ok(Ok((h, Some(peer)))) => {
                Ok((TcpStream::from_handle(Arc::clone(&self.shared), h), peer))
            }
            Ok(Ok((_, None))) => Err(error::not_connected()),
            Ok(Err(e)) => Err(e),
            Err(()) => Err(io::Error::other("stack stopped")),
        }
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// An iterator of accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The listening address.
    ///
    /// # Errors
    /// Never fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(SocketAddrV4::new(
            self.shared.lock().addr(),
            self.port,
        )))
    }

    /// Moves the listener into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.shared.lock().tcp_unlisten(self.port);
        self.shared.waker.wake();
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("port", &self.port)
            .finish()
    }
}
