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
//! then DNS queries over the stack's own [`UdpSocket`], RFC 1035 §4.2.1,
//! retried over its own [`TcpStream`] when the answer is truncated, RFC
//! 7766), AAAA and A alike, both queries sent at once (RFC 8305 §3,
//! [`resolution`]); then Happy Eyeballs v2 (RFC 8305, [`happy`]) races
//! the addresses, IPv6 first with IPv4 250 ms behind, starting as soon as
//! the AAAA answer is in (or the A answer plus 50 ms without one), and
//! keeps the first connection made. [`Family`] restricts both steps to one family
//! (curl's `-4`/`-6`). For
//! `https://` the TLS handshake follows over that stream
//! ([`http::tls`](crate::http::tls)): the system's CA store by default,
//! or the roots given to [`StackConnector::with_root_certificates`] /
//! [`StackConnector::tls_config`].
//!
//! The sans-IO halves are [`resolution`] and [`happy`]; this file drives
//! the race over the stack's sockets and reads the clock (the resolver's
//! and the race's), and `connector/lookups.rs` the DNS lookups (also for
//! the tokio resolver) and the system's resolver configuration.
//!
//! After a whole response, [`close_tls`] (`connector/close.rs`) ends a TLS connection with
//! `close_notify` traded (RFC 8446 §6.1) and no reset from either side
//! (RFC 1122 §4.2.2.13: data after close is answered with RST).
//!
//! This is its own layer, above `net`, `http` and `dns`: http and dns work
//! over any transport and must not know the stack, and net deals in
//! sockets, not protocols above them (docs/architecture.md). It reads the
//! clock, for the DNS timeouts and the cache's TTLs.

mod close;
pub mod happy;
mod lookups;
pub mod resolution;

pub use close::{close_tls, drain_time, TlsEnd, DRAIN_BYTES};
pub use happy::{Family, Note, Race, Release, ATTEMPT_DELAY};
pub use lookups::system_resolver;
pub(crate) use lookups::Answered;
// The tokio resolver drives the same lookups with its own I/O.
#[cfg(feature = "tokio")]
pub(crate) use lookups::{plan_lookups, step_lookup, LookupIo};
pub use resolution::{Resolution, RESOLUTION_DELAY};

use crate::dns::{self, Hosts, Lookup, Resolver, Source};
use crate::http::tls::{self, MaybeTls, TlsConfig, TlsConfigBuilder, TlsError};
use crate::http::Connect;
use crate::net::{Events, Interest, Poll, Stack, TcpStream, Token, UdpSocket};
use lookups::DNS;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
    family: Family,
    attempt_delay: Duration,
    /// What to build on the first `https://` connection, and what was
    /// built: loading the system's CA store takes a while and plain http
    /// never needs it.
    tls: Mutex<(TlsConfigBuilder, Option<TlsConfig>)>,
}

impl<'a> StackConnector<'a> {
    /// A connector with the system's resolver configuration: names from
    /// `/etc/hosts`, then DNS to the `nameserver`s of `/etc/resolv.conf`
    /// in order, IPv4 or IPv6 (both files optional).
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
            family: Family::Any,
            attempt_delay: ATTEMPT_DELAY,
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

    /// Restricts names and connections to one address family (curl's
    /// `-4` / `-6`); [`Family::Any`] (the default) races both.
    #[must_use]
    pub fn family(self, family: Family) -> StackConnector<'a> {
        StackConnector { family, ..self }
    }

    /// Sets the Happy Eyeballs Connection Attempt Delay (default
    /// [`ATTEMPT_DELAY`], 250 ms, RFC 8305 §5).
    #[must_use]
    pub fn attempt_delay(self, delay: Duration) -> StackConnector<'a> {
        StackConnector {
            attempt_delay: delay,
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
        let mut transport = StackTransport {
            stack: self.stack,
            timeout: timeout.unwrap_or(self.dns_timeout),
        };
        let mut next_id = rand::random::<u16>;
        self.resolver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resolve(host, resolver_now(), &mut transport, &mut next_id)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))
    }

    /// Step 1 for both families: `host` (a name, or an address literal,
    /// bracketed or not) to its addresses, AAAA first then A (RFC 8305 §3
    /// asks for AAAA first), restricted to the connector's [`Family`],
    /// each with where it came from. The two queries leave together and
    /// share one socket; this returns once both have an outcome. Each DNS
    /// query waits at most `timeout` (`None`: the connector's DNS
    /// timeout). [`connect_host`](Self::connect_host) does not wait for
    /// both: it starts connecting as RFC 8305 §3 allows.
    ///
    /// # Errors
    /// `NotFound` with the resolver's reason when neither family has an
    /// address (the A lookup's reason when both were asked).
    pub fn resolve_all(
        &self,
        host: &str,
        timeout: Option<Duration>,
    ) -> io::Result<Vec<(IpAddr, Source)>> {
        let dns_timeout = timeout.unwrap_or(self.dns_timeout);
        let (aaaa, a) = self.families(host);
        // Outcomes by family: [AAAA, A].
        let mut found: [Option<Answered>; 2] = [None, None];
        let mut record = |v6: bool, r: Answered| {
            if let Some(slot) = found.get_mut(usize::from(!v6)) {
                *slot = Some(r);
            }
        };
        let mut lookups = self.start_lookups(host, aaaa, a, dns_timeout, &mut record)?;
        let poll = Poll::new(self.stack);
        if let Some(s) = &lookups.sock {
            poll.register(s, DNS, Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(2);
        let mut next_id = rand::random::<u16>;
        loop {
            let wake = self.drive_lookups(&mut lookups, dns_timeout, &mut next_id, &mut record);
            if lookups.list.iter().all(Lookup::is_done) {
                break;
            }
            let wait = wake.map(|d| {
                let us = d.saturating_duration_since(resolver_now()).as_micros();
                Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
            });
            poll.poll(&mut events, wait)?;
            if events.iter().any(|e| e.token() == DNS) {
                self.read_answers(&mut lookups, &mut next_id);
            }
        }
        let mut out = Vec::new();
        let mut error = None;
        for r in found.into_iter().flatten() {
            match r {
                Ok((addrs, source)) => out.extend(addrs.into_iter().map(|a| (a, source.clone()))),
                Err(e) => error = Some(e),
            }
        }
        if out.is_empty() {
            let e = error.unwrap_or_else(|| dns::ResolveError::NotFound(host.to_string()));
            return Err(io::Error::new(io::ErrorKind::NotFound, e.to_string()));
        }
        Ok(out)
    }

    /// Step 2: the handshake with `addr`, waiting at most `timeout`
    /// (`None`: the connector's connect timeout).
    ///
    /// # Errors
    /// The socket's error; a timeout says how long it waited.
    pub fn open(
        &self,
        addr: impl Into<SocketAddr>,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let timeout = timeout.unwrap_or(self.connect_timeout);
        let addr = addr.into();
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

impl StackConnector<'_> {
    /// Step 2 with Happy Eyeballs v2 (RFC 8305): connects to the first of
    /// `addrs` that answers, trying them interleaved IPv6-first, each
    /// [`attempt_delay`](Self::attempt_delay) after the previous one (at
    /// once after a failure), every attempt bounded by `timeout` (`None`:
    /// the connector's connect timeout). The losers are closed. Every
    /// decision is passed to `narrate` as it happens.
    ///
    /// # Errors
    /// When every address failed: the last error, naming the others.
    pub fn connect_racing(
        &self,
        addrs: &[SocketAddr],
        timeout: Option<Duration>,
        narrate: &mut dyn FnMut(&Note),
    ) -> io::Result<TcpStream> {
        let timeout = timeout.unwrap_or(self.connect_timeout);
        let poll = Poll::new(self.stack);
        // The race runs on its own clock: microseconds since `began`.
        let began = Instant::now();
        let clock = || {
            crate::time::Instant::from_micros(
                u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
            )
        };
        let mut race = Race::new(
            happy::interleave(addrs),
            self.attempt_delay,
            timeout,
            clock(),
        );
        let mut streams: Vec<Option<TcpStream>> = Vec::new();
        let mut events = Events::with_capacity(8);
        loop {
            let now = clock();
            step_race(self.stack, &mut race, &mut streams, &poll, now)?;
            race.take_notes().iter().for_each(&mut *narrate);
            if race.is_over() {
                break;
            }
            let wait = race
                .deadline()
                .map(|d| d.saturating_duration_since(clock()));
            poll.poll(&mut events, wait)?;
            let now = clock();
            for ev in events.iter() {
                on_attempt_event(&mut race, &streams, ev, now);
            }
            race.take_notes().iter().for_each(&mut *narrate);
        }
        // The other attempts are dropped (closed) with `streams`.
        take_winner(&mut race, &mut streams, &poll)
    }
}

// Steps 1 and 2 run together (RFC 8305 §3): the AAAA and A queries
// leave at once, AAAA first, from one UDP socket; connecting starts as
// [`Resolution`] allows (the AAAA answer, or the A answer plus the
// 50 ms resolution delay), and answers that come later add their
// addresses to the Happy Eyeballs [`Race`] already running. One
// [`Poll`] waits on the DNS socket and the connection attempts alike.
//
// A truncated answer's TCP retry (RFC 7766) runs to completion where it
// happens (bounded by the DNS timeout): while it runs, the other lookup
// and the attempts wait. Large answers are rare enough, and the bound
// short enough, that this keeps the loop simple.

/// One step of a race: abandons the attempts whose time ran out and
/// starts those now due, each registered with `poll` under its index.
fn step_race(
    stack: &Stack,
    race: &mut Race,
    streams: &mut Vec<Option<TcpStream>>,
    poll: &Poll,
    now: crate::time::Instant,
) -> io::Result<()> {
    for i in race.expire(now) {
        // Dropping the stream abandons the handshake.
        streams.get_mut(i).and_then(Option::take);
    }
    while let Some((i, addr)) = race.start(now) {
        match TcpStream::connect_nonblocking(stack, addr) {
            Ok(s) => {
                poll.register(&s, Token(i), Interest::WRITABLE)?;
                streams.push(Some(s));
            }
            Err(e) => {
                streams.push(None);
                race.on_result(i, Err(e), now);
            }
        }
    }
    Ok(())
}

/// A readiness event of the attempt with the event's token: its outcome
/// (an error, or connected once writable) goes to the race.
fn on_attempt_event(
    race: &mut Race,
    streams: &[Option<TcpStream>],
    ev: &crate::net::poll::Event,
    now: crate::time::Instant,
) {
    let i = ev.token().0;
    let Some(s) = streams.get(i).and_then(Option::as_ref) else {
        return;
    };
    match s.take_error() {
        Ok(Some(e)) | Err(e) => {
            race.on_result(i, Err(e), now);
        }
        Ok(None) if ev.is_writable() => {
            race.on_result(i, Ok(()), now);
        }
        Ok(None) => {}
    }
}

/// The race's outcome: the winning stream, out of `poll` and blocking
/// again, or the race's error.
fn take_winner(
    race: &mut Race,
    streams: &mut [Option<TcpStream>],
    poll: &Poll,
) -> io::Result<TcpStream> {
    let Some(winner) = race.winner() else {
        return Err(race.error());
    };
    for (i, s) in streams.iter().enumerate() {
        if s.is_some() {
            let _ = poll.deregister(Token(i));
        }
    }
    let s = streams
        .get_mut(winner)
        .and_then(Option::take)
        .ok_or_else(|| io::Error::other("the winning connection is gone"))?;
    s.set_nonblocking(false)?;
    Ok(s)
}

impl StackConnector<'_> {
    /// Steps 1 and 2 for `host`: resolves it and connects to `port`,
    /// racing the families as their answers come (see the module docs).
    /// DNS queries wait at most `dns_timeout` each and connection
    /// attempts `connect_timeout` each (`None`: the connector's). Every
    /// decision is passed to `narrate` as it happens.
    ///
    /// # Errors
    /// `NotFound` wrapping the [`dns::ResolveError`] when the host has no
    /// address (so a caller can tell a resolution failure by downcasting);
    /// otherwise the last connect error, naming the other addresses.
    pub fn connect_host(
        &self,
        host: &str,
        port: u16,
        dns_timeout: Option<Duration>,
        connect_timeout: Option<Duration>,
        narrate: &mut dyn FnMut(&Note),
    ) -> io::Result<TcpStream> {
        let dns_timeout = dns_timeout.unwrap_or(self.dns_timeout);
        let connect_timeout = connect_timeout.unwrap_or(self.connect_timeout);
        let (aaaa, a) = self.families(host);
        let now = resolver_now();
        let mut res = Resolution::new(host, aaaa, a, now);
        let mut lookups = self.start_lookups(host, aaaa, a, dns_timeout, &mut |v6, r| {
            res.on_answer(v6, r, resolver_now());
        })?;
        let poll = Poll::new(self.stack);
        if let Some(s) = &lookups.sock {
            poll.register(s, DNS, Interest::READABLE)?;
        }
        let mut race = Race::new(Vec::new(), self.attempt_delay, connect_timeout, now);
        let mut streams: Vec<Option<TcpStream>> = Vec::new();
        let mut events = Events::with_capacity(8);
        let mut next_id = rand::random::<u16>;
        loop {
            let now = resolver_now();
            let wake = self.drive_lookups(&mut lookups, dns_timeout, &mut next_id, &mut |v6, r| {
                res.on_answer(v6, r, resolver_now());
            });
            let fresh: Vec<SocketAddr> = res
                .release(now)
                .into_iter()
                .filter(|ip| self.family.allows(ip))
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            race.add(&fresh);
            race.expect_more(!res.is_done());
            step_race(self.stack, &mut race, &mut streams, &poll, now)?;
            res.take_notes().iter().for_each(&mut *narrate);
            race.take_notes().iter().for_each(&mut *narrate);
            if !res.started() && res.is_done() {
                let e = res
                    .error()
                    .unwrap_or_else(|| dns::ResolveError::NotFound(host.to_string()));
                return Err(io::Error::new(io::ErrorKind::NotFound, e));
            }
            if race.is_over() {
                break;
            }
            let deadline = [race.deadline(), res.deadline(), wake]
                .into_iter()
                .flatten()
                .min();
            let wait = deadline.map(|d| {
                let us = d.saturating_duration_since(resolver_now()).as_micros();
                Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
            });
            poll.poll(&mut events, wait)?;
            let now = resolver_now();
            for ev in events.iter() {
                if ev.token() == DNS {
                    self.read_answers(&mut lookups, &mut next_id);
                } else {
                    on_attempt_event(&mut race, &streams, ev, now);
                }
            }
        }
        // The other attempts are dropped (closed) with `streams`; the
        // lookups still out are abandoned with the socket.
        take_winner(&mut race, &mut streams, &poll)
    }

    /// Which record types `host` is asked for (AAAA, A): the connector's
    /// family, and a literal only for its own family.
    fn families(&self, host: &str) -> (bool, bool) {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>()
            .ok();
        match (literal, self.family) {
            (Some(ip), f) => (ip.is_ipv6() && f.allows(&ip), ip.is_ipv4() && f.allows(&ip)),
            (None, Family::Any) => (true, true),
            (None, Family::V4) => (false, true),
            (None, Family::V6) => (true, false),
        }
    }
}

impl Connect for &StackConnector<'_> {
    type Stream = MaybeTls<TcpStream>;

    fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        self.connect_scheme("http", host, port)
    }

    fn connect_scheme(&self, scheme: &str, host: &str, port: u16) -> io::Result<Self::Stream> {
        let tcp = self.connect_host(host, port, None, None, &mut |_| {})?;
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

    /// For TLS, the teardown of [`close_tls`]: `close_notify` traded with the
    /// server before the socket closes, so that neither side resets.
    fn close_idle(&self, mut stream: Self::Stream, peer_closes: bool) {
        if let MaybeTls::Tls(t) = &mut stream {
            let srtt = t.get_ref().info().ok().and_then(|i| i.srtt);
            let _ = close_tls(t, drain_time(srtt), peer_closes);
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

    fn close_idle(&self, stream: Self::Stream, peer_closes: bool) {
        (&self).close_idle(stream, peer_closes);
    }
}

/// The clock the resolver's cache runs on (microseconds since the first
/// use in this process).
pub fn resolver_now() -> crate::time::Instant {
    crate::time::Instant::from_micros(
        u64::try_from(process_start().elapsed().as_micros()).unwrap_or(u64::MAX),
    )
}

/// DNS over the stack's own UDP (one datagram out, one answer back), and
/// over its own TCP for answers that came back truncated (RFC 7766).
struct StackTransport<'a> {
    stack: &'a Stack,
    timeout: Duration,
}

impl dns::Transport for StackTransport<'_> {
    fn exchange(&mut self, server: SocketAddr, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
        // `[::]`: the port takes answers of both families.
        let sock = UdpSocket::bind(self.stack, (Ipv6Addr::UNSPECIFIED, 0))?;
        sock.set_read_timeout(Some(self.timeout))?;
        sock.send_to(query, server)?;
        let deadline = Instant::now() + self.timeout;
        // EDNS(0) allows 1232 bytes; a server ignoring that may send more
        // (fragmented): take up to the largest datagram.
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == server => return Ok(buf.get(..n).map(<[u8]>::to_vec)),
                Ok(_) => continue, // not from the server we asked
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    fn exchange_tcp(&mut self, server: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
        let mut tcp = TcpStream::connect_timeout(self.stack, &server, self.timeout)?;
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        let answer = dns::tcp_exchange(&mut tcp, query);
        // RFC 7766 §6.2.1: one query per connection here, so the client
        // closes it.
        let _ = tcp.close();
        answer
    }
}

/// A fixed origin for the resolver's cache clock.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}
