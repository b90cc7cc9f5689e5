//! Addresses for the async constructors: what `tokio::net::ToSocketAddrs`
//! takes, with host names resolved through the library's resolver over
//! the stack (asynchronously, over [`UdpSocket`](super::UdpSocket)).

// `ToSocketAddrs` is sealed: its method names a crate-private type on
// purpose, so no other crate can implement it.
#![allow(private_interfaces)]

use crate::connector::{
    plan_lookups, resolver_now, step_lookup, system_resolver, Answered, LookupIo, DNS_TIMEOUT,
};
use crate::dns::{Lookup, ResolveError, Resolver};
use crate::net::{self, Shared, UdpSocket};
use crate::Stack;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};

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

/// What `addr` stands for, without resolving a host name yet.
pub(crate) fn addrs_of(addr: &impl ToSocketAddrs) -> io::Result<Addrs> {
    addr.addrs()
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
/// The AAAA and A queries leave together from one socket (RFC 8305 §3);
/// this returns once both have an outcome. IPv6 addresses (AAAA) come
/// first, then IPv4 (A), the order RFC 8305 §3 asks connections to be
/// tried in.
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

/// Both families at once (RFC 8305 §3), returning once both have an
/// outcome: AAAA addresses first, then A.
async fn lookup(shared: &Arc<Shared>, host: &str) -> io::Result<Vec<IpAddr>> {
    // Outcomes by family: [AAAA, A].
    let mut found: [Option<Answered>; 2] = [None, None];
    let mut record = |v6: bool, r: Answered| {
        if let Some(slot) = found.get_mut(usize::from(!v6)) {
            *slot = Some(r);
        }
    };
    let mut lookups = Lookups::start(shared, host, &mut record)?;
    std::future::poll_fn(|cx| lookups.poll(cx, &mut record)).await;
    let mut addrs = Vec::new();
    let mut last = None;
    for r in found.into_iter().flatten() {
        match r {
            Ok((found, _)) => addrs.extend(found),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if addrs.is_empty() => Err(not_found(e)),
        None if addrs.is_empty() => Err(not_found(ResolveError::NotFound(host.to_owned()))),
        _ => Ok(addrs),
    }
}

/// A truncated answer's stream retry in flight.
type TcpRetry = Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>>;

/// The AAAA and A lookups of one name in flight, their queries sent
/// together from one socket (RFC 8305 §3), driven by the sans-IO
/// [`Lookup`]s the blocking connector uses: this only sends, receives
/// and waits the tokio way.
pub(crate) struct Lookups {
    shared: Arc<Shared>,
    list: Vec<Lookup>,
    /// Each lookup's stream retry (RFC 7766), when its answer came back
    /// truncated.
    tcp: Vec<Option<TcpRetry>>,
    sock: Option<super::UdpSocket>,
    /// The earliest query timeout.
    timer: Option<Pin<Box<::tokio::time::Sleep>>>,
    buf: Vec<u8>,
}

impl Lookups {
    /// Starts resolving `host` for both families: local answers
    /// (literal, pinned, cache, hosts) go straight to `on_answer` (true:
    /// AAAA); the rest are asked by [`poll`](Self::poll).
    ///
    /// # Errors
    /// Binding the socket failed.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        host: &str,
        on_answer: &mut dyn FnMut(bool, Answered),
    ) -> io::Result<Lookups> {
        let list = plan_lookups(&mut resolver(), host, true, true, DNS_TIMEOUT, on_answer);
        let sock = if list.is_empty() {
            None
        } else {
            // `[::]`: the port takes answers of both families.
            let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
            let s = UdpSocket::bind_shared(Arc::clone(shared), any)?;
            Some(super::UdpSocket::from_std(s)?)
        };
        Ok(Lookups {
            shared: Arc::clone(shared),
            tcp: list.iter().map(|_| None).collect(),
            list,
            sock,
            timer: None,
            // EDNS(0) allows 1232 bytes; a server ignoring that may send
            // more (fragmented): take up to the largest datagram.
            buf: vec![0u8; 65536],
        })
    }

    /// Sends what the lookups want sent, reads their answers, runs the
    /// stream retries, and hands each outcome to `on_answer` (true: AAAA)
    /// as it comes; ready once every lookup has its outcome.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        on_answer: &mut dyn FnMut(bool, Answered),
    ) -> Poll<()> {
        let mut next_id = rand::random::<u16>;
        loop {
            let wake = self.step(cx, &mut next_id, on_answer);
            if self.list.iter().all(Lookup::is_done) {
                return Poll::Ready(());
            }
            if self.read_answers(cx, &mut next_id) || self.poll_tcp(cx) {
                continue;
            }
            let Some(until) = wake else {
                return Poll::Pending;
            };
            let wait = until.saturating_duration_since(resolver_now());
            let timer = self.timer.insert(Box::pin(::tokio::time::sleep(wait)));
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Runs each lookup until it waits: sends its queries, starts its
    /// stream retry, reports its outcome. Returns the earliest timeout.
    fn step(
        &mut self,
        cx: &mut Context<'_>,
        next_id: &mut dyn FnMut() -> u16,
        on_answer: &mut dyn FnMut(bool, Answered),
    ) -> Option<crate::time::Instant> {
        let mut wake: Option<crate::time::Instant> = None;
        for (l, tcp) in self.list.iter_mut().zip(&mut self.tcp) {
            let mut io = AsyncLookupIo {
                cx: &mut *cx,
                sock: self.sock.as_ref(),
                shared: &self.shared,
                tcp,
            };
            if let Some(until) = step_lookup(l, &mut io, next_id, on_answer) {
                wake = Some(wake.map_or(until, |w| w.min(until)));
            }
        }
        wake
    }

    /// Every datagram waiting, offered to each lookup until one takes it
    /// (the others, strays, are dropped). True if any came.
    fn read_answers(&mut self, cx: &mut Context<'_>, next_id: &mut dyn FnMut() -> u16) -> bool {
        let Some(sock) = &self.sock else {
            return false;
        };
        let mut any = false;
        // An error (a stray ICMP report) ends this round; the query
        // timeouts keep the lookups moving.
        while let Poll::Ready(Ok((n, from))) = sock.poll_recv_from(cx, &mut self.buf) {
            any = true;
            let Some(datagram) = self.buf.get(..n) else {
                continue;
            };
            let mut r = resolver();
            for l in &mut self.list {
                if l.on_datagram(&mut r, from, datagram, resolver_now(), next_id) {
                    break;
                }
            }
        }
        any
    }

    /// Hands the finished stream retries to their lookups. True if any
    /// finished.
    fn poll_tcp(&mut self, cx: &mut Context<'_>) -> bool {
        let mut any = false;
        for (l, tcp) in self.list.iter_mut().zip(&mut self.tcp) {
            let Some(f) = tcp else {
                continue;
            };
            if let Poll::Ready(answer) = f.as_mut().poll(cx) {
                *tcp = None;
                l.on_tcp_answer(&mut resolver(), answer, resolver_now());
                any = true;
            }
        }
        any
    }
}

/// The tokio resolver's [`LookupIo`] for one lookup: datagrams queued on
/// its socket, the stream retry started as a future of its own (polled
/// by [`Lookups::poll_tcp`]).
struct AsyncLookupIo<'a, 'c> {
    cx: &'a mut Context<'c>,
    sock: Option<&'a super::UdpSocket>,
    shared: &'a Arc<Shared>,
    tcp: &'a mut Option<TcpRetry>,
}

impl LookupIo for AsyncLookupIo<'_, '_> {
    fn send(&mut self, server: SocketAddr, query: &[u8]) {
        if let Some(s) = self.sock {
            let _ = s.poll_send_to(self.cx, query, server);
        }
    }

    fn tcp(&mut self, server: SocketAddr, query: Vec<u8>) -> Option<io::Result<Vec<u8>>> {
        if self.tcp.is_none() {
            let shared = Arc::clone(self.shared);
            *self.tcp = Some(Box::pin(ask_tcp(shared, server, query)));
        }
        None
    }

    fn resolver(&mut self) -> MutexGuard<'_, Resolver> {
        resolver()
    }
}

/// The query again over a TCP connection to `server` (RFC 7766: a
/// two-byte length before each message), within [`DNS_TIMEOUT`].
async fn ask_tcp(shared: Arc<Shared>, server: SocketAddr, query: Vec<u8>) -> io::Result<Vec<u8>> {
    let exchange = async {
        let stack_conn = net::TcpStream::connect_nonblocking_shared(shared, server)?;
        std::future::poll_fn(|cx| stack_conn.poll_connect(cx)).await?;
        let len = u16::try_from(query.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "dns query over 65535 bytes")
        })?;
        let mut framed = Vec::with_capacity(2 + query.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&query);
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
