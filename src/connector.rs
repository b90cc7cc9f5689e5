//! The stack-backed [`Connect`]: how [`http::Client`](crate::http::Client)
//! reaches a server through tunstack's own TCP and UDP.
//!
//! ```no_run
//! use tunstack::{http, Stack, StackConnector};
//! # fn f(stack: &Stack) -> Result<(), tunstack::http::Error> {
//! let client = http::Client::new(StackConnector::new(stack));
//! let resp = client.get("http://www.tunstack.test/")?;
//! # Ok(()) }
//! ```
//!
//! Steps 1 and 2 of a page load: the name is resolved by
//! [`dns::Resolver`] (literal address, pinned names, cache, hosts file,
//! then DNS queries over the stack's own [`UdpSocket`], RFC 1035 §4.2.1),
//! then [`TcpStream::connect_timeout`] does the handshake. For
//! `https://` the TLS handshake follows over that stream
//! ([`http::tls`](crate::http::tls)): the system's CA store by default,
//! or the roots given to [`StackConnector::with_root_certificates`] /
//! [`StackConnector::tls_config`].
//!
//! This is its own layer, above `net`, `http` and `dns`: http and dns work
//! over any transport and must not know the stack, and net deals in
//! sockets, not protocols above them (docs/architecture.md). It reads the
//! clock, for the DNS timeouts and the cache's TTLs.

use crate::dns::{self, Hosts, Resolver, Source};
use crate::http::tls::{self, MaybeTls, TlsConfig, TlsConfigBuilder, TlsError};
use crate::http::Connect;
use crate::net::{Stack, TcpStream, UdpSocket};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Default per-query DNS timeout (the resolver retries and tries every
/// server).
pub const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// Default TCP connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves names and opens TCP connections through a [`Stack`].
///
/// Shareable between threads: `Connect` is also implemented for
/// `&StackConnector`, and the resolver (with its cache) sits behind a lock.
pub struct StackConnector<'a> {
    stack: &'a Stack,
    resolver: Mutex<Resolver>,
    connect_timeout: Duration,
    dns_timeout: Duration,
    /// What to build on the first `https://` connection, and what was
    /// built: loading the system's CA store takes a while and plain http
    /// never needs it.
    tls: Mutex<(TlsConfigBuilder, Option<TlsConfig>)>,
}

impl<'a> StackConnector<'a> {
    /// A connector with the system's resolver configuration: names from
    /// `/etc/hosts`, then DNS to the first `nameserver` of
    /// `/etc/resolv.conf` (both optional).
    pub fn new(stack: &'a Stack) -> StackConnector<'a> {
        StackConnector::with_resolver(stack, system_resolver())
    }

    /// A connector resolving names with `resolver` (its own hosts table,
    /// servers and pinned names).
    pub fn with_resolver(stack: &'a Stack, resolver: Resolver) -> StackConnector<'a> {
        StackConnector {
            stack,
            resolver: Mutex::new(resolver),
            connect_timeout: CONNECT_TIMEOUT,
            dns_timeout: DNS_TIMEOUT,
            tls: Mutex::new((TlsConfigBuilder::default(), None)),
        }
    }

    /// Uses `config` for `https://` connections (roots, `insecure`,
    /// minimum version).
    #[must_use]
    pub fn tls_config(self, config: TlsConfig) -> StackConnector<'a> {
        StackConnector {
            tls: Mutex::new((TlsConfigBuilder::default(), Some(config))),
            ..self
        }
    }

    /// Builds the `https://` configuration from `builder` on first use.
    #[must_use]
    pub fn tls_builder(self, builder: TlsConfigBuilder) -> StackConnector<'a> {
        StackConnector {
            tls: Mutex::new((builder, None)),
            ..self
        }
    }

    /// Trusts exactly `roots` (DER certificates) for `https://` instead of
    /// the system's CA store.
    ///
    /// # Errors
    /// When none of `roots` is a usable certificate.
    pub fn with_root_certificates(
        self,
        roots: Vec<tls::CertificateDer<'static>>,
    ) -> Result<StackConnector<'a>, TlsError> {
        let config = TlsConfig::builder().root_certificates(roots).build()?;
        Ok(self.tls_config(config))
    }

    /// The TLS configuration, built with the defaults on first use.
    ///
    /// # Errors
    /// When the default configuration cannot be built.
    pub fn tls(&self) -> Result<TlsConfig, TlsError> {
        let mut slot = self.tls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slot.1.as_ref() {
            return Ok(c.clone());
        }
        let c = slot.0.clone().build()?;
        slot.1 = Some(c.clone());
        Ok(c)
    }

    /// Step 3 for `https://`: the TLS handshake for `host` over `tcp`,
    /// bounded by the stream's read/write timeouts.
    ///
    /// # Errors
    /// A [`TlsError`] (see [`TlsError::from_io`]) or the transport's.
    pub fn secure(&self, host: &str, tcp: TcpStream) -> io::Result<tls::TlsStream<TcpStream>> {
        let config = self.tls()?;
        tls::handshake(&config, host, tcp)
    }

    /// Replaces the hosts table (e.g. parsed from another hosts file).
    #[must_use]
    pub fn hosts(self, hosts: Hosts) -> StackConnector<'a> {
        let mut r = self
            .resolver
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        r.set_hosts(hosts);
        StackConnector {
            resolver: Mutex::new(r),
            ..self
        }
    }

    /// Sets the TCP connect timeout (default [`CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(self, timeout: Duration) -> StackConnector<'a> {
        StackConnector {
            connect_timeout: timeout,
            ..self
        }
    }

    /// Sets the per-query DNS timeout (default [`DNS_TIMEOUT`]).
    #[must_use]
    pub fn dns_timeout(self, timeout: Duration) -> StackConnector<'a> {
        StackConnector {
            dns_timeout: timeout,
            ..self
        }
    }

    /// The stack connections are opened on.
    pub fn stack(&self) -> &'a Stack {
        self.stack
    }

    /// Step 1: `host` (a name or an IPv4 address) to an address, and where
    /// the answer came from. Each DNS query waits at most `timeout`
    /// (`None`: the connector's DNS timeout).
    ///
    /// # Errors
    /// `NotFound` with the resolver's reason (no such name, no server, no
    /// answer).
    pub fn resolve(&self, host: &str, timeout: Option<Duration>) -> io::Result<(Ipv4Addr, Source)> {
        let mut transport = UdpTransport {
            stack: self.stack,
            timeout: timeout.unwrap_or(self.dns_timeout),
        };
        let mut next_id = rand::random::<u16>;
        let now = resolver_now();
        self.resolver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resolve(host, now, &mut transport, &mut next_id)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))
    }

    /// Step 2: the handshake with `addr`, waiting at most `timeout`
    /// (`None`: the connector's connect timeout).
    ///
    /// # Errors
    /// The socket's error; a timeout says how long it waited.
    pub fn open(&self, addr: SocketAddrV4, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let timeout = timeout.unwrap_or(self.connect_timeout);
        let addr = SocketAddr::V4(addr);
        TcpStream::connect_timeout(self.stack, &addr, timeout).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connection to {addr} timed out after {:.1} s",
                        timeout.as_secs_f64()
                    ),
                )
            } else {
                e
            }
        })
    }
}

impl Connect for &StackConnector<'_> {
    type Stream = MaybeTls<TcpStream>;

    fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        self.connect_scheme("http", host, port)
    }

    fn connect_scheme(&self, scheme: &str, host: &str, port: u16) -> io::Result<Self::Stream> {
        let (ip, _) = self.resolve(host, None)?;
        let tcp = self.open(SocketAddrV4::new(ip, port), None)?;
        match scheme {
            "https" => {
                // The handshake gets the connect timeout, then the stream
                // is back to blocking without limit, as it was.
                tcp.set_read_timeout(Some(self.connect_timeout))?;
                tcp.set_write_timeout(Some(self.connect_timeout))?;
                let mut t = self.secure(host, tcp)?;
                t.get_mut().set_read_timeout(None)?;
                t.get_mut().set_write_timeout(None)?;
                Ok(MaybeTls::Tls(Box::new(t)))
            }
            _ => Ok(MaybeTls::Plain(tcp)),
        }
    }
}

impl Connect for StackConnector<'_> {
    type Stream = MaybeTls<TcpStream>;

    fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        (&self).connect(host, port)
    }

    fn connect_scheme(&self, scheme: &str, host: &str, port: u16) -> io::Result<Self::Stream> {
        (&self).connect_scheme(scheme, host, port)
    }
}

/// A resolver with the system's configuration: names from `/etc/hosts`,
/// then DNS to the first `nameserver` of `/etc/resolv.conf` (both
/// optional).
pub fn system_resolver() -> Resolver {
    let hosts = std::fs::read_to_string("/etc/hosts")
        .map(|t| Hosts::parse(&t))
        .unwrap_or_default();
    let servers = std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|t| dns::nameserver_from_resolv_conf(&t))
        .map(|s| SocketAddrV4::new(s, 53))
        .into_iter()
        .collect();
    Resolver::new(hosts, servers)
}

/// The clock the resolver's cache runs on (microseconds since the first
/// use in this process).
pub fn resolver_now() -> crate::time::Instant {
    crate::time::Instant::from_micros(
        u64::try_from(process_start().elapsed().as_micros()).unwrap_or(u64::MAX),
    )
}

/// DNS over the stack's own UDP: one datagram out, one answer back.
struct UdpTransport<'a> {
    stack: &'a Stack,
    timeout: Duration,
}

impl dns::Transport for UdpTransport<'_> {
    fn exchange(&mut self, server: SocketAddrV4, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let sock = UdpSocket::bind(self.stack, ("0.0.0.0", 0))?;
        sock.set_read_timeout(Some(self.timeout))?;
        sock.send_to(query, server)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == SocketAddr::V4(server) => {
                    return Ok(buf.get(..n).map(<[u8]>::to_vec))
                }
                Ok(_) => continue, // not from the server we asked
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// A fixed origin for the resolver's cache clock.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}
