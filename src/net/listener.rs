//! [`TcpListener`]: passive open with `std::net::TcpListener`'s shape.

use super::{error, Shared, Stack, TcpStream};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

/// A TCP socket listening on a port of the stack's addresses: both
/// families when bound to a wildcard or the IPv4 address, as a Linux
/// socket bound to `[::]` with `IPV6_V6ONLY` off
/// ([`set_only_v6`](TcpListener::set_only_v6)); IPv6 only when bound to
/// the stack's IPv6 address.
///
/// [`try_clone`](TcpListener::try_clone) gives another handle to the same
/// listener; the port is released when the last handle is dropped.
pub struct TcpListener {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The other shards of a multiqueue stack, where the port listens too
    /// (see [`shards`](super::shards)).
    rest: Vec<Arc<Shared>>,
    port: u16,
    /// The IP given to `bind` (one of the stack's or a wildcard), which
    /// `local_addr` reports as Linux's `getsockname` does.
    ip: IpAddr,
    nonblocking: AtomicBool,
    /// `IP_TTL` for accepted connections (0 = the stack's), inherited at
    /// accept as Linux's accepted sockets inherit the listener's.
    ttl: AtomicU8,
}

impl TcpListener {
    /// Listens on a port of the stack's addresses, given as
    /// `std::net::TcpListener::bind` takes it: `"0.0.0.0:80"`, `"[::]:80"`,
    /// `(Ipv4Addr::UNSPECIFIED, 80)`, a `SocketAddr`, with the stack's
    /// default accept backlog (`Config::accept_backlog`, 128 as std's). The
    /// IP must be the stack's IPv4 or IPv6 address or unspecified; port 0
    /// picks a free ephemeral port.
    ///
    /// # Errors
    /// `AddrInUse` if the port already has a listener; `AddrNotAvailable`
    /// for another IP.
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let backlog = stack.shared().lock().config().accept_backlog;
        TcpListener::bind_with_backlog(stack, addr, backlog)
    }

    /// Like [`bind`](Self::bind), with room for `backlog` established
    /// connections waiting for [`accept`](Self::accept), as `listen(2)`'s
    /// backlog: clamped to 1..=[`MAX_BACKLOG`](super::MAX_BACKLOG) (Linux's
    /// `somaxconn`). When the queue is full, new SYNs are dropped and
    /// handshake-completing ACKs ignored, as Linux does, so clients retry.
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: impl ToSocketAddrs,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        let shared = Arc::clone(stack.shared());
        super::udp::each_addr(addr, |a| {
            let mut iface = shared.lock();
            let port = super::udp::local_port(&iface, a)?;
            let port = iface
                .tcp_listen_with_backlog(port, backlog)
                .map_err(error::stack)?;
            // Bound to the stack's IPv6 address: IPv4 peers cannot reach
            // it, as on Linux.
            if matches!(a.ip(), IpAddr::V6(ip) if !ip.is_unspecified()) {
                iface.tcp_set_only_v6(port, true).map_err(error::stack)?;
            }
            drop(iface);
            let only_v6 = matches!(a.ip(), IpAddr::V6(ip) if !ip.is_unspecified());
            let rest = super::shards::bind_rest(
                &shared,
                port,
                |iface, port| {
                    iface
                        .tcp_listen_with_backlog(port, backlog)
                        .map_err(error::stack)?;
                    if only_v6 {
                        iface.tcp_set_only_v6(port, true).map_err(error::stack)?;
                    }
                    Ok(())
                },
                |iface, port| iface.tcp_unlisten(port),
            )?;
            Ok((port, rest, a.ip()))
        })
        .map(|(port, rest, ip)| TcpListener {
            inner: Arc::new(Inner {
                shared,
                rest,
                port,
                ip,
                nonblocking: AtomicBool::new(false),
                ttl: AtomicU8::new(0),
            }),
        })
    }

    /// Another handle to the same listener.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors `std::net`.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Waits for (or, non-blocking, checks for) an established connection.
    ///
    /// # Errors
    /// `WouldBlock` in non-blocking mode when none is queued.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        if !self.inner.rest.is_empty() {
            return self.accept_any(nonblocking);
        }
        let r = self
            .inner
            .shared
            .wait_for(None, |iface| match self.try_accept(iface) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => None,
                r => Some(r),
            });
        match r {
            Ok(Ok((h, peer))) => Ok((
                TcpStream::from_handle(Arc::clone(&self.inner.shared), h),
                peer,
            )),
            Ok(Err(e)) => Err(e),
            Err(()) => Err(io::Error::other("stack stopped")),
        }
    }

    /// [`accept`](Self::accept) from whichever shard of a multiqueue
    /// stack has a connection.
    fn accept_any(&self, nonblocking: bool) -> io::Result<(TcpStream, SocketAddr)> {
        let shards = self.shards();
        let r = super::shards::wait_any(
            &shards,
            super::Target::Listener(self.inner.port),
            None,
            nonblocking,
            |iface| match self.try_accept(iface) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                r => Some(r.map(|(h, peer)| (h, peer, iface.config().queue))),
            },
        );
        match r {
            Ok(Some(Ok((h, peer, queue)))) => {
                let shard = super::shards::all(&self.inner.shared)
                    .get(queue)
                    .cloned()
                    .ok_or_else(error::not_connected)?;
                Ok((TcpStream::from_handle(shard, h), peer))
            }
            Ok(Some(Err(e))) => Err(e),
            Ok(None) => Err(error::would_block()),
            Err(()) => Err(io::Error::other("stack stopped")),
        }
    }

    /// The shards the listener is bound on.
    pub(crate) fn shards(&self) -> Vec<&Arc<Shared>> {
        let mut v = Vec::with_capacity(1 + self.inner.rest.len());
        v.push(&self.inner.shared);
        v.extend(self.inner.rest.iter());
        v
    }

    /// One non-blocking accept under the lock: the connection's handle and
    /// peer, or `WouldBlock`.
    pub(crate) fn try_accept(
        &self,
        iface: &mut crate::stack::Interface,
    ) -> io::Result<(crate::stack::SocketHandle, SocketAddr)> {
        let h = match iface.tcp_accept(self.inner.port) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(error::would_block()),
            Err(e) => return Err(error::stack(e)),
        };
        let ttl = self.inner.ttl.load(Ordering::Relaxed);
        let tcb = iface.tcp_mut(h).ok_or_else(error::not_connected)?;
        if ttl != 0 {
            tcb.set_ttl(ttl);
        }
        Ok((h, tcb.remote()))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    pub(crate) fn port(&self) -> u16 {
        self.inner.port
    }

    /// An iterator of accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The bound address, as Linux's `getsockname`: the IP given to
    /// `bind` (`0.0.0.0` or `[::]` for a wildcard, which takes every
    /// address of the stack) and the port.
    ///
    /// # Errors
    /// Never fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(self.inner.ip, self.inner.port))
    }

    /// Makes the listener take IPv6 peers only (`IPV6_V6ONLY`, as std's
    /// `only_v6`), or both families (the default, like a Linux socket on
    /// `[::]`). IPv4 SYNs to a v6-only listener are answered with RST.
    ///
    /// # Errors
    /// `InvalidInput` if the port no longer has a listener.
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        for s in self.shards() {
            s.lock()
                .tcp_set_only_v6(self.inner.port, only_v6)
                .map_err(error::stack)?;
        }
        Ok(())
    }

    /// Whether the listener takes IPv6 peers only.
    ///
    /// # Errors
    /// As [`set_only_v6`](Self::set_only_v6).
    pub fn only_v6(&self) -> io::Result<bool> {
        self.inner
            .shared
            .lock()
            .tcp_only_v6(self.inner.port)
            .ok_or_else(|| error::stack(crate::stack::Error::NotListening))
    }

    /// Sets the IP TTL that connections accepted from now on use.
    ///
    /// # Errors
    /// `InvalidInput` outside 1..=255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = super::valid_ttl(ttl)?;
        self.inner.ttl.store(ttl, Ordering::Relaxed);
        Ok(())
    }

    /// The IP TTL of accepted connections.
    ///
    /// # Errors
    /// Never fails.
    pub fn ttl(&self) -> io::Result<u32> {
        Ok(match self.inner.ttl.load(Ordering::Relaxed) {
            0 => u32::from(self.inner.shared.lock().config().ttl),
            t => u32::from(t),
        })
    }

    /// The pending error (`SO_ERROR`). A listener has none: a handshake
    /// that fails never reaches the accept queue, as on Linux.
    ///
    /// # Errors
    /// Never fails.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    /// Moves the listener into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for s in std::iter::once(&self.shared).chain(&self.rest) {
            s.lock().tcp_unlisten(self.port);
            s.waker.wake();
            s.tasks.drop_fd(super::Target::Listener(self.port));
        }
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("port", &self.inner.port)
            .finish()
    }
}
