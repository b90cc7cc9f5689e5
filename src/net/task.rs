//! Runtime-agnostic async primitives: `poll_*` methods on the sockets that
//! try an operation and, when it would block, register the task's
//! [`Waker`](std::task::Waker) with the driver (see `wake`). Any executor
//! can build on them; the `tokio` feature's types do.
//!
//! Each method checks and registers in one critical section under the
//! interface lock, so a change the driver makes in between is never
//! missed. Nothing is consumed unless the operation completes: a future
//! dropped while pending loses no bytes, datagrams or connections.

use super::error;
use super::wake::{EventFd, Slot};
use super::{Shared, Target, TcpListener, TcpStream, UdpSocket};
use crate::stack::Interface;
use crate::tcp::{RecvError, SendError};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Registers the task for `slot` of `target` and returns `Pending`, or an
/// error if the stack has stopped (nothing would ever wake it).
fn park<T>(
    shared: &Shared,
    iface: &mut Interface,
    target: Target,
    slot: Slot,
    cx: &Context<'_>,
) -> Poll<io::Result<T>> {
    shared.tasks.register(iface, target, slot, cx.waker());
    if shared.stop.load(Ordering::Acquire) {
        return Poll::Ready(Err(io::Error::other("stack stopped")));
    }
    Poll::Pending
}

impl TcpStream {
    /// Reads what is there, or registers the task to be woken when data,
    /// the end of stream or an error arrives.
    ///
    /// # Errors
    /// As [`Read::read`](std::io::Read::read) (`ConnectionReset`, ...).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        match tcb.recv(buf) {
            Ok(n) => {
                let wake = tcb.wants_transmit();
                drop(iface);
                if wake {
                    // Reading opened the window: let the driver send the update.
                    shared.waker.wake();
                }
                Poll::Ready(Ok(n))
            }
            Err(RecvError::WouldBlock) => park(shared, &mut iface, Target::Tcp(h), Slot::Read, cx),
            Err(e) => Poll::Ready(Err(error::recv(e))),
        }
    }

    /// Like [`poll_read`](Self::poll_read) but leaves the bytes queued.
    ///
    /// # Errors
    /// As `poll_read`.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        if tcb.recv_queue() > 0 || buf.is_empty() {
            return Poll::Ready(Ok(tcb.peek(buf)));
        }
        if let Some(e) = tcb.error() {
            return Poll::Ready(Err(error::connection(e)));
        }
        if tcb.can_recv() && !tcb.is_connecting() {
            return Poll::Ready(Ok(0));
        }
        park(shared, &mut iface, Target::Tcp(h), Slot::Read, cx)
    }

    /// Queues what fits of `buf` in the send buffer, or registers the task
    /// to be woken when there is room (or the connection failed).
    ///
    /// # Errors
    /// As [`Write::write`](std::io::Write::write) (`BrokenPipe` after a
    /// shutdown, the connection's error).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        match tcb.send(buf) {
            Ok(n) => {
                drop(iface);
                if n > 0 {
                    shared.waker.wake();
                }
                Poll::Ready(Ok(n))
            }
            Err(SendError::WouldBlock) => park(shared, &mut iface, Target::Tcp(h), Slot::Write, cx),
            Err(e) => Poll::Ready(Err(error::send(e))),
        }
    }

    /// Ready once the handshake started by
    /// [`connect_nonblocking`](Self::connect_nonblocking) has finished.
    ///
    /// # Errors
    /// `ConnectionRefused`, `TimedOut` (after the SYN retries), ...
    pub fn poll_connect(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        // From the connection's events, as the blocking connect decides.
        let Some(ev) = iface.tcp_events(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        if let Some(e) = ev.error {
            return Poll::Ready(Err(error::connection(e)));
        }
        if ev.connecting() {
            return park(shared, &mut iface, Target::Tcp(h), Slot::Write, cx);
        }
        Poll::Ready(Ok(()))
    }

    /// An eventfd that becomes readable whenever this connection's
    /// readiness may have changed: for foreign event loops and `mio`.
    /// Readiness is a hint, as with mio: after it fires, call
    /// [`EventFd::clear`] (level-triggered loops) and repeat the
    /// non-blocking operation until `WouldBlock`.
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        self.shared().tasks.fd(Target::Tcp(self.handle()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        self.shared().tasks.drop_fd(Target::Tcp(self.handle()));
    }
}

impl TcpListener {
    /// Takes an established connection, or registers the task to be woken
    /// when one is queued. The stream is in non-blocking mode.
    ///
    /// # Errors
    /// `NotConnected` if the connection vanished between the handshake and
    /// the accept.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if super::shards::is_sharded(self.shared()) {
            return self.poll_accept_any(cx);
        }
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_accept(&mut iface) {
            Ok((h, peer)) => {
                drop(iface);
                let s = TcpStream::from_handle(Arc::clone(shared), h);
                let _ = s.set_nonblocking(true);
                Poll::Ready(Ok((s, peer)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => park(
                shared,
                &mut iface,
                Target::Listener(self.port()),
                Slot::Read,
                cx,
            ),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// An eventfd signalled when a connection may be waiting; see
    /// [`TcpStream::readiness_fd`].
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        super::shards::target_fd(&self.shards(), Target::Listener(self.port()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        super::shards::drop_target_fd(&self.shards(), Target::Listener(self.port()));
    }
}

impl UdpSocket {
    /// Receives one datagram (from the peer, if connected), or registers
    /// the task to be woken when one arrives.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.poll_recv_inner(cx, buf, false)
    }

    /// Like [`poll_recv_from`](Self::poll_recv_from) but leaves the
    /// datagram queued.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.poll_recv_inner(cx, buf, true)
    }

    fn poll_recv_inner(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        peek: bool,
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        if super::shards::is_sharded(self.shared()) {
            return self.poll_recv_any(cx, buf, peek);
        }
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_recv(&mut iface, buf, peek) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                park(shared, &mut iface, Target::Udp(self.port()), Slot::Read, cx)
            }
            r => Poll::Ready(r),
        }
    }

    /// Queues one datagram to `dst`, or registers the task to be woken
    /// when the send queue has room.
    ///
    /// # Errors
    /// As [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        dst: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_send(&mut iface, buf, dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => park(
                shared,
                &mut iface,
                Target::Udp(self.port()),
                Slot::Write,
                cx,
            ),
            r => {
                drop(iface);
                if r.is_ok() {
                    shared.waker.wake();
                }
                Poll::Ready(r)
            }
        }
    }

    /// An eventfd signalled when a datagram may be waiting or the send
    /// queue may have room; see [`TcpStream::readiness_fd`].
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        super::shards::target_fd(&self.shards(), Target::Udp(self.port()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        super::shards::drop_target_fd(&self.shards(), Target::Udp(self.port()));
    }
}
