//! Addresses for the async constructors: what `tokio::net::ToSocketAddrs`
//! takes, with host names resolved through the library's resolver over
//! the stack (asynchronously, over [`UdpSocket`](super::UdpSocket)).

// `ToSocketAddrs` is sealed: its method names a crate-private type on
// purpose, so no other crate can implement it.
#![allow(private_interfaces)]

use crate::connector::{resolver_now, system_resolver, DNS_TIMEOUT};
use crate::dns::{Answer, ResolveError, Resolver, TYPE_A, TYPE_AAAA};
use crate::net::{self, Shared, UdpSocket};
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
            let ips = lookup(shared, &host).await?;
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
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

/// Resolves `host` with the library's resolver: a literal, a pinned
/// name, the cache, the hosts table, then DNS queries over `stack` (each
/// server tried in turn, each query given [`DNS_TIMEOUT`]; an answer that
/// comes back truncated is asked again over the stack's TCP, RFC 7766 §5).
/// IPv6 addresses (AAAA) come first, then IPv4 (A), the order RFC 8305 §3
/// asks connections to be tried in.
///
/// # Errors
/// `NotFound` with the resolver's reason (no such name, no server, no
/// answer in time) when neither family has an address.
pub async fn lookup_host(stack: &Stack, host: &str) -> io::Result<Vec<IpAddr>> {
    lookup(stack.shared(), host).await
}

fn not_found(e: ResolveError) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, e.to_string())
}

async fn lookup(shared: &Arc<Shared>, host: &str) -> io::Result<Vec<IpAddr>> {
    let mut addrs = Vec::new();
    let mut last = None;
    for qtype in [TYPE_AAAA, TYPE_A] {
        match lookup_type(shared, host, qtype).await {
            Ok(found) => addrs.extend(found),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if addrs.is_empty() => Err(not_found(e)),
        _ => Ok(addrs),
    }
}

/// The addresses of one record type (`TYPE_A` or `TYPE_AAAA`).
async fn lookup_type(
    shared: &Arc<Shared>,
    host: &str,
    qtype: u16,
) -> Result<Vec<IpAddr>, ResolveError> {
    let (servers, tries) = {
        let mut r = resolver();
        if let Some((addrs, _)) = r.resolve_local(host, qtype, resolver_now())? {
            return Ok(addrs);
        }
        (r.servers().to_vec(), r.tries.max(1))
    };
    let name = host.trim_end_matches('.').to_owned();
    let mut failed = None;
    for server in servers {
        for _ in 0..tries {
            let id: u16 = rand::random();
            let query = Resolver::query(host, qtype, id)?;
            let answer = match ask_udp(shared, server, &query, host, qtype, id).await {
                Ok(Some(a)) => a,
                // Not sent (no route, no port) or no answer in time.
                Ok(None) | Err(_) => continue,
            };
            let answer = if answer == Answer::Truncated {
                // A fresh id for the stream, as for a new query.
                let id: u16 = rand::random();
                let query = Resolver::query(host, qtype, id)?;
                match ask_tcp(shared, server, &query).await {
                    Ok(a) => resolver().answer(host, qtype, id, &a, resolver_now()),
                    Err(_) => continue,
                }
            } else {
                answer
            };
            match answer {
                Answer::Addresses(addrs) => return Ok(addrs),
                Answer::NotFound => return Err(ResolveError::NotFound(name)),
                Answer::Failed(rcode) => failed = Some(rcode),
                Answer::Truncated | Answer::Ignored => {}
            }
        }
    }
    Err(match failed {
        Some(rcode) => ResolveError::ServerError(name, rcode),
        None => ResolveError::TimedOut(name),
    })
}

/// One query datagram to `server` and the answer to it (datagrams from
/// elsewhere, or answering something else, are ignored); `None` after
/// [`DNS_TIMEOUT`].
async fn ask_udp(
    shared: &Arc<Shared>,
    server: SocketAddr,
    query: &[u8],
    host: &str,
    qtype: u16,
    id: u16,
) -> io::Result<Option<Answer>> {
    // `[::]`: the port takes answers of both families.
    let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
    let sock = super::UdpSocket::from_std(UdpSocket::bind_shared(Arc::clone(shared), any)?)?;
    // Not `send_to`: its own resolving would make this recursive.
    std::future::poll_fn(|cx| sock.poll_send_to(cx, query, server)).await?;
    let mut buf = [0u8; 1500];
    let exchange = async {
        loop {
            let (n, from) = sock.recv_from(&mut buf).await?;
            if from != server {
                continue;
            }
            let Some(datagram) = buf.get(..n) else {
                continue;
            };
            match resolver().answer(host, qtype, id, datagram, resolver_now()) {
                Answer::Ignored => {}
                a => return Ok(a),
            }
        }
    };
    match ::tokio::time::timeout(DNS_TIMEOUT, exchange).await {
        Ok(r) => r.map(Some),
        Err(_) => Ok(None),
    }
}

/// The query again over a TCP connection to `server` (RFC 7766: a
/// two-byte length before each message), within [`DNS_TIMEOUT`].
async fn ask_tcp(shared: &Arc<Shared>, server: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let exchange = async {
        let stack_conn = net::TcpStream::connect_nonblocking_shared(Arc::clone(shared), server)?;
        std::future::poll_fn(|cx| stack_conn.poll_connect(cx)).await?;
        let len = u16::try_from(query.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "dns query over 65535 bytes")
        })?;
        let mut framed = Vec::with_capacity(2 + query.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        let mut at = 0;
        while at < framed.len() {
            let rest = framed.get(at..).unwrap_or_default();
            at += std::future::poll_fn(|cx| stack_conn.poll_write(cx, rest)).await?;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(prefix) = got.get(..2) {
                let want = 2 + usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
                if got.len() >= want {
                    got.truncate(want);
                    return Ok(got.split_off(2));
                }
            }
            let n = std::future::poll_fn(|cx| stack_conn.poll_read(cx, &mut buf)).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            got.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    };
    ::tokio::time::timeout(DNS_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut)))
}
