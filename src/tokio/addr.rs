//! Addresses for the async constructors: what `tokio::net::ToSocketAddrs`
//! takes, with host names resolved through the library's resolver over
//! the stack (asynchronously, over [`UdpSocket`](super::UdpSocket)).

// `ToSocketAddrs` is sealed: its method names a crate-private type on
// purpose, so no other crate can implement it.
#![allow(private_interfaces)]

use crate::connector::{resolver_now, system_resolver, DNS_TIMEOUT};
use crate::dns::{Answer, Resolver};
use crate::net::{Shared, UdpSocket};
use crate::Stack;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// What an address argument stands for.
#[derive(Debug)]
pub(crate) enum Addrs {
    /// Addresses ready to use.
    Resolved(Vec<SocketAddr>),
    /// A name to resolve, and the port.
    Host(String, u16),
}

mod sealed {
    /// Implemented for the address types `tokio::net` accepts.
    pub trait Sealed {
        fn addrs(&self) -> std::io::Result<super::Addrs>;
    }
}

/// Address arguments of the async constructors: `SocketAddr`s, `(ip,
/// port)`, `"host:port"` and `("host", port)` strings, slices of
/// addresses. Sealed: the set is this crate's.
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed + ?Sized> ToSocketAddrs for T {}

macro_rules! resolved {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            fn addrs(&self) -> io::Result<Addrs> {
                Ok(Addrs::Resolved(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}
resolved!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

fn host_port(host: &str, port: u16) -> Addrs {
    match host.parse::<IpAddr>() {
        Ok(ip) => Addrs::Resolved(vec![SocketAddr::new(ip, port)]),
        Err(_) => Addrs::Host(host.to_owned(), port),
    }
}

impl sealed::Sealed for str {
    fn addrs(&self) -> io::Result<Addrs> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(Addrs::Resolved(vec![a]));
        }
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"))?;
        let port = port
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"))?;
        Ok(host_port(host, port))
    }
}

impl sealed::Sealed for String {
    fn addrs(&self) -> io::Result<Addrs> {
        self.as_str().addrs()
    }
}

impl sealed::Sealed for (&str, u16) {
    fn addrs(&self) -> io::Result<Addrs> {
        Ok(host_port(self.0, self.1))
    }
}

impl sealed::Sealed for (String, u16) {
    fn addrs(&self) -> io::Result<Addrs> {
        Ok(host_port(&self.0, self.1))
    }
}

impl sealed::Sealed for [SocketAddr] {
    fn addrs(&self) -> io::Result<Addrs> {
        Ok(Addrs::Resolved(self.to_vec()))
    }
}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn addrs(&self) -> io::Result<Addrs> {
        (**self).addrs()
    }
}

/// The addresses `addr` stands for, resolving a host name over the stack
/// behind `shared`.
pub(crate) async fn resolve(
    shared: &Arc<Shared>,
    addr: &impl ToSocketAddrs,
) -> io::Result<Vec<SocketAddr>> {
    match addr.addrs()? {
        Addrs::Resolved(v) => Ok(v),
        Addrs::Host(host, port) => {
            let ip = lookup(shared, &host).await?;
            Ok(vec![SocketAddr::V4(SocketAddrV4::new(ip, port))])
        }
    }
}

fn resolver() -> MutexGuard<'static, Resolver> {
    static RESOLVER: OnceLock<Mutex<Resolver>> = OnceLock::new();
    RESOLVER
        .get_or_init(|| Mutex::new(system_resolver()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Replaces the resolver the async constructors use for host names (by
/// default the system's configuration, read on first use). Its cache is
/// shared by every stack of the process.
pub fn set_resolver(r: Resolver) {
    *resolver() = r;
}

/// Resolves `host` to an IPv4 address with the library's resolver: a
/// literal, a pinned name, the cache, the hosts table, then DNS queries
/// over `stack` (each server tried in turn, each query given
/// [`DNS_TIMEOUT`]).
///
/// # Errors
/// `NotFound` with the resolver's reason (no such name, no server, no
/// answer in time).
pub async fn lookup_host(stack: &Stack, host: &str) -> io::Result<Ipv4Addr> {
    lookup(stack.shared(), host).await
}

async fn lookup(shared: &Arc<Shared>, host: &str) -> io::Result<Ipv4Addr> {
    let not_found =
        |e: crate::dns::ResolveError| io::Error::new(io::ErrorKind::NotFound, e.to_string());
    let (servers, tries) = {
        let mut r = resolver();
        if let Some((ip, _)) = r.resolve_local(host, resolver_now()).map_err(not_found)? {
            return Ok(ip);
        }
        (r.servers().to_vec(), r.tries.max(1))
    };
    let mut buf = [0u8; 1500];
    for server in servers {
        for _ in 0..tries {
            let id: u16 = rand::random();
            let query = Resolver::query(host, id).map_err(not_found)?;
            let sock = super::UdpSocket::from_std(UdpSocket::bind_shared(
                Arc::clone(shared),
                "0.0.0.0:0",
            )?)?;
            let to = SocketAddr::V4(server);
            // Not `send_to`: its own resolving would make this recursive.
            std::future::poll_fn(|cx| sock.poll_send_to(cx, &query, to)).await?;
            let exchange = async {
                loop {
                    let (n, from) = sock.recv_from(&mut buf).await?;
                    if from != to {
                        continue;
                    }
                    let Some(datagram) = buf.get(..n) else {
                        continue;
                    };
                    match resolver().answer(host, id, datagram, resolver_now()) {
                        Answer::Address(ip) => return Ok(ip),
                        Answer::NotFound => {
                            return Err(not_found(crate::dns::ResolveError::NotFound(
                                host.to_owned(),
                            )))
                        }
                        Answer::Ignored => {}
                    }
                }
            };
            // No answer in time: the next try (or server).
            if let Ok(r) = ::tokio::time::timeout(DNS_TIMEOUT, exchange).await {
                return r;
            }
        }
    }
    Err(not_found(crate::dns::ResolveError::TimedOut(
        host.to_owned(),
    )))
}
