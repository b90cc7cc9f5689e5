//! [`TcpListener`] and [`UdpSocket`] for tokio.

use super::addr::{resolve, ToSocketAddrs};
use super::TcpStream;
use crate::net;
use crate::Stack;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// A TCP listener on a port of the stack's address, for tokio.
#[derive(Debug)]
pub struct TcpListener {
    inner: net::TcpListener,
}

impl TcpListener {
    /// Listens on the stack's IPv4 or IPv6 address or a wildcard
    /// (`"0.0.0.0:80"`, `"[::]:80"`), as
    /// [`net::TcpListener::bind`](crate::net::TcpListener::bind); port 0
    /// picks a free ephemeral port.
    ///
    /// # Errors
    /// `AddrInUse`, `AddrNotAvailable` for another IP.
    pub async fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::driver::ensure(stack.shared());
        let addrs = resolve(stack.shared(), &addr).await?;
        let inner = net::TcpListener::bind(stack, &addrs[..])?;
        inner.set_nonblocking(true)?;
        Ok(TcpListener { inner })
    }

    /// Waits for an established connection.
    ///
    /// # Errors
    /// `NotConnected` if the connection vanished before it was taken.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Takes an established connection, or registers the task.
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        super::driver::ensure(self.inner.shared());
        self.inner
            .poll_accept(cx)
            .map(|r| r.and_then(|(s, peer)| Ok((TcpStream::from_std(s)?, peer))))
    }

    /// Wraps a blocking-API listener.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors tokio.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        super::driver::ensure(listener.shared());
        listener.set_nonblocking(true)?;
        Ok(TcpListener { inner: listener })
    }

    /// The blocking-API listener.
    pub fn into_std(self) -> net::TcpListener {
        self.inner
    }

    delegate! {
        /// The listening address.
        ///
        /// # Errors
        /// Never fails.
        fn local_addr(&self) -> io::Result<SocketAddr>;

        /// The IP TTL of accepted connections.
        ///
        /// # Errors
        /// Never fails.
        fn ttl(&self) -> io::Result<u32>;

        /// Sets the IP TTL of connections accepted from now on.
        ///
        /// # Errors
        /// `InvalidInput` outside 1..=255.
        fn set_ttl(&self, ttl: u32) -> io::Result<()>;
    }
}

/// A UDP socket on a port of the stack's address, for tokio.
#[derive(Debug)]
pub struct UdpSocket {
    inner: net::UdpSocket,
}

impl UdpSocket {
    /// Binds the stack's IPv4 or IPv6 address or a wildcard
    /// (`"0.0.0.0:0"`, `"[::]:0"`); the port takes both families.
    ///
    /// # Errors
    /// `AddrInUse`, `AddrNotAvailable` for another IP.
    pub async fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        super::driver::ensure(stack.shared());
        let addrs = resolve(stack.shared(), &addr).await?;
        let inner = net::UdpSocket::bind(stack, &addrs[..])?;
        inner.set_nonblocking(true)?;
        Ok(UdpSocket { inner })
    }

    /// Wraps a blocking-API socket.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors tokio.
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        super::driver::ensure(socket.shared());
        socket.set_nonblocking(true)?;
        Ok(UdpSocket { inner: socket })
    }

    /// The blocking-API socket.
    pub fn into_std(self) -> net::UdpSocket {
        self.inner
    }

    /// Sends one datagram to the first address `target` stands for (a
    /// host name resolves over the stack); waits while the send queue is
    /// full.
    ///
    /// # Errors
    /// As [`net::UdpSocket::send_to`].
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let addrs = resolve(self.inner.shared(), &target).await;
        let dst = addrs?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        poll_fn(|cx| self.inner.poll_send_to(cx, buf, dst)).await
    }

    /// Receives one datagram (truncated to `buf`) and its sender.
    ///
    /// # Errors
    /// As [`net::UdpSocket::recv_from`].
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.inner.poll_recv_from(cx, buf)).await
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    ///
    /// # Errors
    /// As `recv_from`.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.inner.poll_peek_from(cx, buf)).await
    }

    /// Sets the peer: `send`/`recv` then talk to it only.
    ///
    /// # Errors
    /// `NotFound` for a name that does not resolve.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = resolve(self.inner.shared(), &addr).await?;
        self.inner.connect(&addrs[..])
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let peer = self.inner.peer_addr()?;
        poll_fn(|cx| self.inner.poll_send_to(cx, buf, peer)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peer_addr()?;
        poll_fn(|cx| self.inner.poll_recv_from(cx, buf))
            .await
            .map(|(n, _)| n)
    }

    /// Receives one datagram, or registers the task.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_recv_from(cx, buf)
    }

    /// Queues one datagram, or registers the task.
    ///
    /// # Errors
    /// As `send_to`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_send_to(cx, buf, target)
    }

    delegate! {
        /// The bound address.
        ///
        /// # Errors
        /// Never fails.
        fn local_addr(&self) -> io::Result<SocketAddr>;

        /// The connected peer.
        ///
        /// # Errors
        /// `NotConnected` without [`connect`](Self::connect).
        fn peer_addr(&self) -> io::Result<SocketAddr>;

        /// `SO_BROADCAST`.
        ///
        /// # Errors
        /// Never fails.
        fn set_broadcast(&self, on: bool) -> io::Result<()>;

        /// The `SO_BROADCAST` setting.
        ///
        /// # Errors
        /// Never fails.
        fn broadcast(&self) -> io::Result<bool>;

        /// Sets the IP TTL.
        ///
        /// # Errors
        /// `InvalidInput` outside 1..=255.
        fn set_ttl(&self, ttl: u32) -> io::Result<()>;

        /// The IP TTL.
        ///
        /// # Errors
        /// `NotConnected` if the stack stopped.
        fn ttl(&self) -> io::Result<u32>;

        /// The pending ICMP error about the connected peer.
        ///
        /// # Errors
        /// Never fails.
        fn take_error(&self) -> io::Result<Option<io::Error>>;
    }
}
