//! [`UdpSocket`]: datagrams with `std::net::UdpSocket`'s shape, blocking
//! by default, `WouldBlock` in non-blocking mode or on a timeout.
//!
//! A connected socket (RFC 1122 §4.1.3.4 leaves the filtering to the
//! application interface; this is what Linux does) sends to its peer with
//! `send`, receives only its peer's datagrams (others are discarded, as
//! Linux drops them at lookup), and reports an ICMP port unreachable from
//! it as `ConnectionRefused` on the next receive or `take_error`.

use super::timeout::{check_timeout, deadline};
use super::{error, Shared, Stack};
use crate::stack::{Interface, UdpSendError};
use crate::tcp::IcmpError;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A UDP socket bound to a port of the stack's address.
///
/// [`try_clone`](UdpSocket::try_clone) gives another handle to the same
/// socket (options, peer and queues shared); the port is released when the
/// last handle is dropped.
pub struct UdpSocket {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The other shards of a multiqueue stack, where the port is bound
    /// too: datagrams arrive on the shard their ports are steered to (see
    /// [`shards`](super::shards)). Sending uses `shared`.
    rest: Vec<Arc<Shared>>,
    port: u16,
    /// The IP given to `bind`: one of the stack's or a wildcard.
    ip: IpAddr,
    nonblocking: AtomicBool,
    broadcast: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    /// The peer of a connected socket.
    peer: Mutex<Option<SocketAddr>>,
}

fn get<T: Copy>(m: &Mutex<T>) -> T {
    *m.lock().unwrap_or_else(|p| p.into_inner())
}

fn set<T>(m: &Mutex<T>, v: T) {
    *m.lock().unwrap_or_else(|p| p.into_inner()) = v;
}

/// The ICMP errors a UDP socket reports, as Linux maps them for a connected
/// socket (`ECONNREFUSED`, `EHOSTUNREACH`; others are soft and dropped).
fn icmp(e: IcmpError) -> Option<io::Error> {
    match e {
        IcmpError::PortUnreachable => Some(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "port unreachable",
        )),
        IcmpError::Unreachable => Some(io::Error::new(
            io::ErrorKind::HostUnreachable,
            "host unreachable",
        )),
        IcmpError::FragmentationNeeded(_) | IcmpError::Other => None,
    }
}

/// Resolves a local address to bind and checks that it is ours (or the
/// wildcard): the port to bind.
pub(super) fn local_port(iface: &Interface, a: SocketAddr) -> io::Result<u16> {
    let ours = match a.ip() {
        std::net::IpAddr::V4(ip) => ip == iface.addr(),
        std::net::IpAddr::V6(ip) => ip == iface.addr6(),
    };
    if !a.ip().is_unspecified() && !ours {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "not an address of this stack",
        ));
    }
    Ok(a.port())
}

/// Runs `f` on every address `addr` resolves to until one succeeds, as
/// `std::net` does; the last error otherwise.
pub(super) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

impl UdpSocket {
    /// Binds a port of the stack's addresses, given as `std::net::UdpSocket::bind`
    /// takes it: `"0.0.0.0:53"`, `"[::]:53"`, `(Ipv4Addr::UNSPECIFIED, 0)`, a
    /// `SocketAddr`. The IP must be one of the stack's own (IPv4 or IPv6) or
    /// unspecified; the port takes datagrams of both families. Port 0 picks
    /// a free ephemeral port.
    ///
    /// # Errors
    /// `AddrInUse` if the port is taken; `AddrNotAvailable` for another IP.
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::bind_shared(Arc::clone(stack.shared()), addr)
    }

    /// [`bind`](Self::bind) on the stack behind `shared`.
    pub(crate) fn bind_shared(
        shared: Arc<Shared>,
        addr: impl ToSocketAddrs,
    ) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let mut iface = shared.lock();
            let port = local_port(&iface, a)?;
            let port = iface.udp_bind(port).map_err(error::stack)?;
            drop(iface);
            let rest = super::shards::bind_rest(
                &shared,
                port,
                |iface, port| iface.udp_bind(port).map(|_| ()).map_err(error::stack),
                |iface, port| iface.udp_unbind(port),
            )?;
            Ok((port, rest, a.ip()))
        })
        .map(|(port, rest, ip)| UdpSocket {
            inner: Arc::new(Inner {
                shared,
                rest,
                port,
                ip,
                nonblocking: AtomicBool::new(false),
                broadcast: AtomicBool::new(false),
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
                peer: Mutex::new(None),
            }),
        })
    }

    /// Another handle to the same socket.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors `std::net`.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Sends one datagram to `addr`; returns the payload length.
    ///
    /// # Errors
    /// `InvalidInput` for a datagram larger than the MTU allows
    /// (no fragmentation); `PermissionDenied` for a broadcast address
    /// without [`set_broadcast`](Self::set_broadcast); `WouldBlock` when
    /// the send queue is full in non-blocking mode or after the write
    /// timeout.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let dst = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.send_addr(buf, dst, self.inner.nonblocking.load(Ordering::Relaxed))
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect); as `send_to`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let peer = get(&self.inner.peer).ok_or_else(error::not_connected)?;
        self.send_addr(buf, peer, self.inner.nonblocking.load(Ordering::Relaxed))
    }

    fn send_addr(&self, buf: &[u8], dst: SocketAddr, nonblocking: bool) -> io::Result<usize> {
        let r = self.inner.shared.wait_for(
            if nonblocking {
                None
            } else {
                deadline(get(&self.inner.write_timeout))
            },
            |iface| match self.try_send(iface, buf, dst) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => None,
                r => Some(r),
            },
        );
        if matches!(r, Ok(Ok(_))) {
            self.inner.shared.waker.wake();
        }
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    /// One non-blocking send under the lock: `WouldBlock` when the send
    /// queue is full.
    pub(crate) fn try_send(
        &self,
        iface: &mut Interface,
        buf: &[u8],
        dst: SocketAddr,
    ) -> io::Result<usize> {
        if !self.inner.broadcast.load(Ordering::Relaxed) && is_broadcast(iface, dst) {
            // Linux: EACCES without SO_BROADCAST.
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "broadcast address without set_broadcast(true)",
            ));
        }
        match iface.udp_send(self.inner.port, dst, buf) {
            Ok(()) => Ok(buf.len()),
            Err(UdpSendError::QueueFull) => Err(error::would_block()),
            Err(UdpSendError::TooLarge) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "message too long (no fragmentation)",
            )),
            Err(UdpSendError::NotBound) => Err(error::not_connected()),
        }
    }

    /// Receives one datagram; a datagram longer than `buf` is truncated.
    ///
    /// # Errors
    /// `WouldBlock` when none is waiting in non-blocking mode or after the
    /// read timeout; on a connected socket, the peer's ICMP error
    /// (`ConnectionRefused` for port unreachable).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_inner(buf, false)
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_inner(buf, true)
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect); as `recv_from`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        get(&self.inner.peer).ok_or_else(error::not_connected)?;
        self.recv_inner(buf, false).map(|(n, _)| n)
    }

    /// Like [`recv`](Self::recv) but leaves the datagram queued.
    ///
    /// # Errors
    /// As `recv`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        get(&self.inner.peer).ok_or_else(error::not_connected)?;
        self.recv_inner(buf, true).map(|(n, _)| n)
    }

    fn recv_inner(&self, buf: &mut [u8], peek: bool) -> io::Result<(usize, SocketAddr)> {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        if !self.inner.rest.is_empty() {
            let deadline = if nonblocking {
                None
            } else {
                deadline(get(&self.inner.read_timeout))
            };
            let r = super::shards::wait_any(
                &self.shards(),
                super::Target::Udp(self.inner.port),
                deadline,
                nonblocking,
                |iface| match self.try_recv(iface, buf, peek) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                    r => Some(r),
                },
            );
            return match r {
                Ok(Some(r)) => r,
                Ok(None) | Err(()) => Err(error::would_block()),
            };
        }
        let r = self.inner.shared.wait_for(
            if nonblocking {
                None
            } else {
                deadline(get(&self.inner.read_timeout))
            },
            |iface| match self.try_recv(iface, buf, peek) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => None,
                r => Some(r),
            },
        );
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    /// One non-blocking receive under the lock: `WouldBlock` when nothing
    /// (from the peer, if connected) is queued.
    pub(crate) fn try_recv(
        &self,
        iface: &mut Interface,
        buf: &mut [u8],
        peek: bool,
    ) -> io::Result<(usize, SocketAddr)> {
        let port = self.inner.port;
        let peer = get(&self.inner.peer);
        if let Some(peer) = peer {
            if let Some(e) = self.peer_error(iface, peer) {
                return Err(e);
            }
        }
        loop {
            let got = if peek {
                iface.udp_peek(port, buf)
            } else {
                iface.udp_recv(port, buf)
            };
            let Some((n, from)) = got else {
                return Err(error::would_block());
            };
            match peer {
                Some(p) if p != from => {
                    if peek {
                        iface.udp_discard(port);
                    }
                }
                _ => return Ok((n, from)),
            }
        }
    }

    /// The pending ICMP error if it concerns `peer`; errors about other
    /// destinations are dropped, as an unconnected Linux socket ignores them.
    fn peer_error(&self, iface: &mut Interface, peer: SocketAddr) -> Option<io::Error> {
        let (to, e) = iface.udp_take_error(self.inner.port)?;
        (to == peer).then(|| icmp(e)).flatten()
    }

    /// Sets the peer: `send`/`recv` then talk to it only, and datagrams
    /// from anyone else are discarded.
    ///
    /// # Errors
    /// `InvalidInput` for an address that does not resolve.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, Ok).map(|a| set(&self.inner.peer, Some(a)))
    }

    /// The connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        get(&self.inner.peer).ok_or_else(error::not_connected)
    }

    /// The bound address, as Linux's `getsockname`: the IP given to
    /// `bind`, except that a wildcard socket connected to a peer reports
    /// the stack's address of the peer's family (the source its datagrams
    /// carry), IPv4-mapped when an IPv6 wildcard talks to an IPv4 peer.
    ///
    /// # Errors
    /// Never fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let port = self.inner.port;
        let ip = self.inner.ip;
        let Some(peer) = get(&self.inner.peer).filter(|_| ip.is_unspecified()) else {
            return Ok(SocketAddr::new(ip, port));
        };
        let iface = self.inner.shared.lock();
        let chosen = match (ip, peer.ip()) {
            (_, IpAddr::V6(_)) => IpAddr::V6(iface.addr6()),
            (IpAddr::V4(_), IpAddr::V4(_)) => IpAddr::V4(iface.addr()),
            (IpAddr::V6(_), IpAddr::V4(_)) => IpAddr::V6(iface.addr().to_ipv6_mapped()),
        };
        Ok(SocketAddr::new(chosen, port))
    }

    /// The pending error (`SO_ERROR`): an ICMP error about a datagram to
    /// the connected peer; reading clears it.
    ///
    /// # Errors
    /// Never fails.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        for s in self.shards() {
            let mut iface = s.lock();
            let e = match get(&self.inner.peer) {
                Some(peer) => self.peer_error(&mut iface, peer),
                None => iface
                    .udp_take_error(self.inner.port)
                    .and_then(|(_, e)| icmp(e)),
            };
            if e.is_some() {
                return Ok(e);
            }
        }
        Ok(None)
    }

    /// The shards the socket is bound on.
    pub(crate) fn shards(&self) -> Vec<&Arc<Shared>> {
        let mut v = Vec::with_capacity(1 + self.inner.rest.len());
        v.push(&self.inner.shared);
        v.extend(self.inner.rest.iter());
        v
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    ///
    /// # Errors
    /// Never fails.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.broadcast.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// The `SO_BROADCAST` setting.
    ///
    /// # Errors
    /// Never fails.
    pub fn broadcast(&self) -> io::Result<bool> {
        Ok(self.inner.broadcast.load(Ordering::Relaxed))
    }

    /// Sets the IP TTL of this socket's datagrams.
    ///
    /// # Errors
    /// `InvalidInput` outside 1..=255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = super::valid_ttl(ttl)?;
        for s in self.shards() {
            s.lock().udp_set_ttl(self.inner.port, Some(ttl));
        }
        Ok(())
    }

    /// The IP TTL of this socket's datagrams.
    ///
    /// # Errors
    /// `NotConnected` if the port was released (the stack stopped).
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner
            .shared
            .lock()
            .udp_ttl(self.inner.port)
            .map(u32::from)
            .ok_or_else(error::not_connected)
    }

    /// Moves the socket into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Sets the read timeout (`None` blocks forever).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        set(&self.inner.read_timeout, t);
        Ok(())
    }

    /// Sets the write timeout (`None` blocks forever).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        set(&self.inner.write_timeout, t);
        Ok(())
    }

    /// The read timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(get(&self.inner.read_timeout))
    }

    /// The write timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(get(&self.inner.write_timeout))
    }

    pub(crate) fn port(&self) -> u16 {
        self.inner.port
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }
}

/// IPv4 broadcast (limited or the subnet's directed one); IPv6 has none.
fn is_broadcast(iface: &Interface, dst: SocketAddr) -> bool {
    match dst {
        SocketAddr::V4(d) => {
            d.ip().is_broadcast() || iface.config().directed_broadcast() == Some(*d.ip())
        }
        SocketAddr::V6(_) => false,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for s in std::iter::once(&self.shared).chain(&self.rest) {
            s.lock().udp_unbind(self.port);
            s.tasks.drop_fd(super::Target::Udp(self.port));
        }
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("port", &self.inner.port)
            .field("peer", &get(&self.inner.peer))
            .finish()
    }
}
