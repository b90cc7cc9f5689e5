//! Name resolution in the classic order of a page load: an address
//! literal, pinned names (`--resolve`), the in-memory cache (RFC 1035
//! TTLs), the hosts file, then DNS queries to the configured servers (IPv4
//! or IPv6) with a random id, retries and validation of the answer (id,
//! question). A (RFC 1035) and AAAA (RFC 3596) are looked up separately,
//! so a caller racing the two families (Happy Eyeballs, RFC 8305) can
//! start with whichever it wants. Queries carry EDNS(0) with a 1232-byte
//! UDP payload (RFC 6891); an answer with TC set is asked again over a
//! TCP-like stream (RFC 7766 §5), so large answers arrive whole. The
//! transports are the caller's (our UDP and TCP in the library), and time
//! comes in as an argument, so this is pure logic.

use super::message::{encode_query_edns, EDNS_UDP_PAYLOAD, TYPE_AAAA};
use super::{decode, Hosts, Message, TYPE_A};
use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Most (name, type) pairs cached; the entry closest to expiry is evicted
/// first.
const MAX_CACHE: usize = 1024;
/// Most addresses one `--resolve` name may be pinned to.
const MAX_OVERRIDES: usize = 64;

/// Where an answer came from (shown by `tunstack get -v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The name was an address already.
    Literal,
    /// The resolver's cache.
    Cache,
    /// A `--resolve` override.
    Override,
    /// The hosts file.
    Hosts,
    /// A DNS server's answer over UDP.
    Dns(SocketAddr),
    /// A DNS server's answer over TCP, after its UDP answer came back
    /// truncated (RFC 7766 §5).
    DnsTcp(SocketAddr),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Literal => f.write_str("literal address"),
            Source::Cache => f.write_str("cache"),
            Source::Override => f.write_str("--resolve"),
            Source::Hosts => f.write_str("hosts file"),
            Source::Dns(s) => write!(f, "DNS server {s}"),
            Source::DnsTcp(s) => {
                write!(f, "DNS server {s} over TCP (the UDP answer was truncated)")
            }
        }
    }
}

/// Why a name could not be resolved.
#[derive(Debug)]
pub enum ResolveError {
    /// The servers said the name does not exist (NXDOMAIN) or has no
    /// record of the type asked for.
    NotFound(String),
    /// No server answered in time (all tries).
    TimedOut(String),
    /// No DNS server is configured and the name is not local.
    NoServer(String),
    /// The name is not a valid host name.
    BadName(String),
    /// Every server that answered refused or failed (the last rcode:
    /// 2 SERVFAIL, 5 REFUSED, ...).
    ServerError(String, u8),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotFound(n) => write!(f, "could not resolve host: {n}"),
            ResolveError::TimedOut(n) => write!(f, "resolving {n}: no DNS answer in time"),
            ResolveError::NoServer(n) => {
                write!(f, "could not resolve host: {n} (no DNS server configured)")
            }
            ResolveError::BadName(n) => write!(f, "invalid host name {n:?}"),
            ResolveError::ServerError(n, rcode) => {
                let what = match rcode {
                    2 => "server failure (SERVFAIL)".to_string(),
                    5 => "query refused (REFUSED)".to_string(),
                    r => format!("error rcode {r}"),
                };
                write!(f, "could not resolve host: {n} (DNS answered {what})")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// How queries reach a server: datagrams, and a TCP-like stream for
/// answers too large for one.
pub trait Transport {
    /// Sends one query datagram to `server` and waits (with its own
    /// timeout) for one answer datagram. `Ok(None)` means "no answer in
    /// time".
    ///
    /// # Errors
    /// Transport failures other than a timeout.
    fn exchange(&mut self, server: SocketAddr, query: &[u8]) -> io::Result<Option<Vec<u8>>>;

    /// One query and its answer over a new TCP-like connection to
    /// `server` (RFC 7766), framed with [`tcp_exchange`](super::tcp_exchange).
    /// The default has no stream transport.
    ///
    /// # Errors
    /// `Unsupported` by default; the stream's errors (refused, timed out).
    fn exchange_tcp(&mut self, server: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
        let _ = (server, query);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no TCP transport for DNS",
        ))
    }
}

/// What an answer datagram said (see [`Resolver::answer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The name's addresses of the type asked for.
    Addresses(Vec<IpAddr>),
    /// The name does not exist, or has no record of this type.
    NotFound,
    /// The server answered with an error rcode (SERVFAIL, REFUSED, ...):
    /// another try or server may do better.
    Failed(u8),
    /// TC set: the records may be a partial set (RFC 2181 §9); ask again
    /// over a stream (RFC 7766 §5).
    Truncated,
    /// Not an answer to this query, or malformed: keep waiting.
    Ignored,
}

/// Names compare without the root dot and case (RFC 4343).
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The resolver state: cache, hosts, overrides, servers.
#[derive(Debug, Default)]
pub struct Resolver {
    hosts: Hosts,
    overrides: HashMap<String, Vec<IpAddr>>,
    servers: Vec<SocketAddr>,
    cache: HashMap<(String, u16), (Vec<IpAddr>, Instant)>,
    /// Queries per server before giving up on it.
    pub tries: u32,
}

/// What one server said about one question.
enum Outcome {
    Addresses(Vec<IpAddr>, u32, Source),
    /// NXDOMAIN, or no record of the type (NODATA).
    Missing,
    /// Nothing usable (silence, a wrong id, a failed TCP retry).
    Nothing,
    /// The server answered with an error rcode (SERVFAIL, REFUSED, ...).
    Failed(u8),
}

impl Resolver {
    /// A resolver using `hosts` and then `servers`, in order.
    pub fn new(hosts: Hosts, servers: Vec<SocketAddr>) -> Resolver {
        Resolver {
            hosts,
            overrides: HashMap::new(),
            servers,
            cache: HashMap::new(),
            tries: 2,
        }
    }

    /// Replaces the hosts table.
    pub fn set_hosts(&mut self, hosts: Hosts) {
        self.hosts = hosts;
    }

    /// Pins `name` to `addr` (curl's `--resolve`); pinning a name again
    /// adds an address (of either family).
    pub fn add_override(&mut self, name: &str, addr: impl Into<IpAddr>) {
        let addrs = self
            .overrides
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default();
        let addr = addr.into();
        if !addrs.contains(&addr) && addrs.len() < MAX_OVERRIDES {
            addrs.push(addr);
        }
    }

    /// Resolves `name` to an IPv4 address (the first A record). `next_id`
    /// supplies random query ids (RFC 5452: unpredictable ids against
    /// spoofing).
    ///
    /// # Errors
    /// [`ResolveError`].
    pub fn resolve(
        &mut self,
        name: &str,
        now: Instant,
        transport: &mut dyn Transport,
        next_id: &mut dyn FnMut() -> u16,
    ) -> Result<(Ipv4Addr, Source), ResolveError> {
        let (addrs, source) = self.lookup(name, TYPE_A, now, transport, next_id)?;
        let v4 = addrs.iter().find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        });
        v4.map(|a| (a, source))
            .ok_or_else(|| ResolveError::NotFound(name.to_string()))
    }

    /// The addresses of type `qtype` ([`TYPE_A`] or [`TYPE_AAAA`]) for
    /// `name`: a literal of that family, pinned addresses, the cache, the
    /// hosts file (a name listed there is never asked of DNS, even if it
    /// has no address of this family), then DNS.
    ///
    /// # Errors
    /// [`ResolveError`]; `NotFound` also when the name has no address of
    /// this family.
    pub fn lookup(
        &mut self,
        name: &str,
        qtype: u16,
        now: Instant,
        transport: &mut dyn Transport,
        next_id: &mut dyn FnMut() -> u16,
    ) -> Result<(Vec<IpAddr>, Source), ResolveError> {
        if let Some(found) = self.resolve_local(name, qtype, now)? {
            return Ok(found);
        }
        let key = normalise(name);
        let mut missing = false;
        let mut failed = None;
        for server in self.servers.clone() {
            for _ in 0..self.tries.max(1) {
                match ask(&key, qtype, server, transport, next_id)? {
                    Outcome::Addresses(addrs, ttl, source) => {
                        let expiry = now + Duration::from_secs(u64::from(ttl));
                        self.remember((key, qtype), addrs.clone(), expiry);
                        return Ok((addrs, source));
                    }
                    Outcome::Missing => {
                        missing = true;
                        break;
                    }
                    Outcome::Failed(rcode) => failed = Some(rcode),
                    Outcome::Nothing => {}
                }
            }
        }
        Err(match (missing, failed) {
            (true, _) => ResolveError::NotFound(key),
            (false, Some(rcode)) => ResolveError::ServerError(key, rcode),
            (false, None) => ResolveError::TimedOut(key),
        })
    }

    /// The part of [`lookup`](Self::lookup) that needs no network: a
    /// literal of the family `qtype` asks for, a pinned name, the cache,
    /// the hosts table. `Ok(None)`: ask the [`servers`](Self::servers) (for
    /// callers that drive the exchange themselves, e.g. asynchronously,
    /// with [`query`](Self::query) and [`answer`](Self::answer)).
    ///
    /// # Errors
    /// [`ResolveError::NotFound`] when the name is known locally but has
    /// no address of this family; [`ResolveError::NoServer`] when DNS is
    /// needed but none is set.
    pub fn resolve_local(
        &mut self,
        name: &str,
        qtype: u16,
        now: Instant,
    ) -> Result<Option<(Vec<IpAddr>, Source)>, ResolveError> {
        let family = |addrs: &[IpAddr]| -> Vec<IpAddr> {
            addrs
                .iter()
                .filter(|a| a.is_ipv6() == (qtype == TYPE_AAAA))
                .copied()
                .collect()
        };
        let found = |addrs: Vec<IpAddr>, source: Source| {
            if addrs.is_empty() {
                Err(ResolveError::NotFound(
                    name.trim_end_matches('.').to_string(),
                ))
            } else {
                Ok(Some((addrs, source)))
            }
        };
        let literal = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
        if let Ok(a) = literal.unwrap_or(name).parse::<IpAddr>() {
            return found(family(&[a]), Source::Literal);
        }
        let key = normalise(name);
        if let Some(a) = self.overrides.get(&key) {
            return found(family(a), Source::Override);
        }
        let cache_key = (key.clone(), qtype);
        match self.cache.get(&cache_key) {
            Some((a, expiry)) if *expiry > now => return found(a.clone(), Source::Cache),
            Some(_) => {
                self.cache.remove(&cache_key);
            }
            None => {}
        }
        if let Some(a) = self.hosts.lookup_all(&key) {
            return found(family(a), Source::Hosts);
        }
        if self.servers.is_empty() {
            return Err(ResolveError::NoServer(key));
        }
        Ok(None)
    }

    /// The DNS servers, in the order to ask them.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The query datagram for `name` (a `qtype` question, [`TYPE_A`] or
    /// [`TYPE_AAAA`], with EDNS(0)) with `id`.
    ///
    /// # Errors
    /// [`ResolveError::BadName`].
    pub fn query(name: &str, qtype: u16, id: u16) -> Result<Vec<u8>, ResolveError> {
        let key = normalise(name);
        encode_query_edns(id, &key, qtype, EDNS_UDP_PAYLOAD).map_err(|_| ResolveError::BadName(key))
    }

    /// Reads an answer datagram to the `qtype` query `id` for `name`:
    /// addresses (cached for their TTL), the name has none of this type,
    /// a server error, a truncated answer (ask again over TCP, RFC 7766
    /// §5), or a datagram to ignore (malformed, or the answer to another
    /// question: RFC 5452 §4).
    pub fn answer(
        &mut self,
        name: &str,
        qtype: u16,
        id: u16,
        answer: &[u8],
        now: Instant,
    ) -> Answer {
        let key = normalise(name);
        let Some(msg) = ours(answer, id, &key) else {
            return Answer::Ignored;
        };
        if msg.truncated {
            return Answer::Truncated;
        }
        // The source is not reported through this path.
        match judge(&msg, &key, qtype, Source::Cache) {
            Outcome::Addresses(addrs, ttl, _) => {
                let expiry = now + Duration::from_secs(u64::from(ttl));
                self.remember((key, qtype), addrs.clone(), expiry);
                Answer::Addresses(addrs)
            }
            Outcome::Missing => Answer::NotFound,
            Outcome::Failed(rcode) => Answer::Failed(rcode),
            Outcome::Nothing => Answer::Ignored,
        }
    }

    fn remember(&mut self, key: (String, u16), addrs: Vec<IpAddr>, expiry: Instant) {
        if self.cache.len() >= MAX_CACHE {
            if let Some(k) = self
                .cache
                .iter()
                .min_by_key(|(_, (_, e))| *e)
                .map(|(k, _)| k.clone())
            {
                self.cache.remove(&k);
            }
        }
        self.cache.insert(key, (addrs, expiry));
    }

    /// Names currently cached (per record type).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// One query to one server over UDP, and over TCP if the answer came back
/// truncated (RFC 7766 §5: the client should retry over TCP).
fn ask(
    key: &str,
    qtype: u16,
    server: SocketAddr,
    transport: &mut dyn Transport,
    next_id: &mut dyn FnMut() -> u16,
) -> Result<Outcome, ResolveError> {
    let id = next_id();
    let query = encode_query_edns(id, key, qtype, EDNS_UDP_PAYLOAD)
        .map_err(|_| ResolveError::BadName(key.to_string()))?;
    let Ok(Some(answer)) = transport.exchange(server, &query) else {
        return Ok(Outcome::Nothing);
    };
    let Some(msg) = ours(&answer, id, key) else {
        return Ok(Outcome::Nothing);
    };
    if !msg.truncated {
        return Ok(judge(&msg, key, qtype, Source::Dns(server)));
    }
    // The records of a truncated answer may be a partial set (RFC 2181
    // §9): ask again whole over TCP, with a fresh id.
    let id = next_id();
    let query = encode_query_edns(id, key, qtype, EDNS_UDP_PAYLOAD)
        .map_err(|_| ResolveError::BadName(key.to_string()))?;
    let Ok(answer) = transport.exchange_tcp(server, &query) else {
        return Ok(Outcome::Nothing);
    };
    Ok(match ours(&answer, id, key) {
        Some(msg) => judge(&msg, key, qtype, Source::DnsTcp(server)),
        None => Outcome::Nothing,
    })
}

/// The decoded message if it answers *this* question (RFC 5452 §4).
fn ours(answer: &[u8], id: u16, key: &str) -> Option<Message> {
    let msg = decode(answer).ok()?;
    let ok =
        msg.is_response && msg.id == id && msg.questions.first().is_some_and(|q| q.name == key);
    ok.then_some(msg)
}

fn judge(msg: &Message, key: &str, qtype: u16, source: Source) -> Outcome {
    match (msg.rcode, msg.ips(key, qtype)) {
        (0, Some((addrs, ttl))) => Outcome::Addresses(addrs, ttl, source),
        // NXDOMAIN, or NOERROR without a record of this type (NODATA).
        (0 | 3, _) => Outcome::Missing,
        // SERVFAIL, REFUSED, ...: another try or server may do better.
        (rcode, _) => Outcome::Failed(rcode),
    }
}

/// The first IPv4 `nameserver` of resolv.conf text.
pub fn nameserver_from_resolv_conf(text: &str) -> Option<Ipv4Addr> {
    nameservers_from_resolv_conf(text)
        .into_iter()
        .find_map(|a| match a {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
}

/// Every `nameserver` of resolv.conf text (IPv4 or IPv6), in order, at
/// most three as resolv.conf(5) allows (MAXNS); scoped IPv6 addresses
/// (`fe80::1%eth0`) are skipped.
pub fn nameservers_from_resolv_conf(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver"))
                .then(|| f.next()?.parse().ok())
                .flatten()
        })
        .take(3)
        .collect()
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
