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
mod tests {
    use super::*;
    use crate::dns::message::TYPE_OPT;
    use crate::dns::CLASS_IN;
    use std::net::{Ipv6Addr, SocketAddrV4};

    /// A fake server: answers A and AAAA from a table, can drop the first
    /// N queries, set TC on every UDP answer, and records what it saw.
    struct Fake {
        table: HashMap<String, (Vec<IpAddr>, u32)>,
        drop_first: u32,
        seen: u32,
        tcp_seen: u32,
        wrong_id: bool,
        truncate_udp: bool,
        tcp: bool,
    }

    impl Fake {
        fn answer(&self, query: &[u8], full: bool) -> Vec<u8> {
            let q = decode(query).unwrap();
            let (name, qtype) = (q.questions[0].name.clone(), q.questions[0].qtype);
            // The question only: drop the OPT record the query carries.
            let opt = query.len() - 11;
            assert_eq!(query[opt + 1..opt + 3], TYPE_OPT.to_be_bytes());
            assert_eq!(query[opt + 3..opt + 5], 1232u16.to_be_bytes());
            let mut m = query[..opt].to_vec();
            m[2] |= 0x80;
            m[11] = 0;
            if self.wrong_id {
                m[0] ^= 0xff;
            }
            let Some((addrs, ttl)) = self.table.get(&name) else {
                m[3] |= 3; // NXDOMAIN
                return m;
            };
            let mut n = 0u16;
            for a in addrs {
                let (t, bytes) = match a {
                    IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
                    IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
                };
                if t != qtype {
                    continue;
                }
                if !full && n == 2 {
                    m[2] |= 0x02; // TC: the rest did not fit
                    break;
                }
                n += 1;
                m.extend_from_slice(&[0xc0, 12]);
                m.extend_from_slice(&t.to_be_bytes());
                m.extend_from_slice(&CLASS_IN.to_be_bytes());
                m.extend_from_slice(&ttl.to_be_bytes());
                m.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                m.extend_from_slice(&bytes);
            }
            m[6..8].copy_from_slice(&n.to_be_bytes());
            m
        }
    }

    impl Transport for Fake {
        fn exchange(&mut self, _server: SocketAddr, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
            self.seen += 1;
            if self.seen <= self.drop_first {
                return Ok(None);
            }
            Ok(Some(self.answer(query, !self.truncate_udp)))
        }

        fn exchange_tcp(&mut self, _server: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
            self.tcp_seen += 1;
            if !self.tcp {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            Ok(self.answer(query, true))
        }
    }

    fn v4(a: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, a))
    }

    fn v6(a: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a))
    }

    fn fake() -> Fake {
        let mut table = HashMap::new();
        table.insert("web.test".to_string(), (vec![v4(1)], 30));
        table.insert("dual.test".to_string(), (vec![v6(1), v4(1)], 30));
        let many: Vec<IpAddr> = (1..=100)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)))
            .collect();
        table.insert("big.test".to_string(), (many, 30));
        Fake {
            table,
            drop_first: 0,
            seen: 0,
            tcp_seen: 0,
            wrong_id: false,
            truncate_udp: false,
            tcp: true,
        }
    }

    fn server() -> Vec<SocketAddr> {
        vec![SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 0, 0, 1),
            53,
        ))]
    }

    #[test]
    fn order_is_literal_override_cache_hosts_dns() {
        let mut ids = 100u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::parse("10.0.0.7 local.test\n"), server());
        let mut f = fake();
        let t0 = Instant::from_secs(100);
        assert_eq!(
            r.resolve("10.1.2.3", t0, &mut f, &mut next).unwrap(),
            (Ipv4Addr::new(10, 1, 2, 3), Source::Literal)
        );
        assert_eq!(
            r.resolve("local.test", t0, &mut f, &mut next).unwrap().1,
            Source::Hosts
        );
        let (a, src) = r.resolve("Web.Test.", t0, &mut f, &mut next).unwrap();
        assert_eq!(
            (a, src),
            (Ipv4Addr::new(10, 0, 0, 1), Source::Dns(server()[0]))
        );
        assert_eq!(
            r.resolve("web.test", t0 + Duration::from_secs(29), &mut f, &mut next)
                .unwrap()
                .1,
            Source::Cache
        );
        assert_eq!(f.seen, 1);
        // After the TTL the cache entry is gone and DNS is asked again.
        assert!(matches!(
            r.resolve("web.test", t0 + Duration::from_secs(31), &mut f, &mut next)
                .unwrap()
                .1,
            Source::Dns(_)
        ));
        r.add_override("web.test", Ipv4Addr::new(10, 0, 0, 99));
        assert_eq!(
            r.resolve("web.test", t0, &mut f, &mut next).unwrap(),
            (Ipv4Addr::new(10, 0, 0, 99), Source::Override)
        );
    }

    #[test]
    fn retries_after_a_lost_query_and_reports_nxdomain_and_timeouts() {
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        let mut f = Fake {
            drop_first: 1,
            ..fake()
        };
        assert!(r
            .resolve("web.test", Instant::ZERO, &mut f, &mut next)
            .is_ok());
        assert_eq!(f.seen, 2);
        assert!(matches!(
            r.resolve("nope.test", Instant::ZERO, &mut fake(), &mut next),
            Err(ResolveError::NotFound(_))
        ));
        let mut silent = Fake {
            drop_first: 100,
            ..fake()
        };
        assert!(matches!(
            r.resolve("x.test", Instant::ZERO, &mut silent, &mut next),
            Err(ResolveError::TimedOut(_))
        ));
        let mut none = Resolver::new(Hosts::default(), vec![]);
        assert!(matches!(
            none.resolve("x.test", Instant::ZERO, &mut fake(), &mut next),
            Err(ResolveError::NoServer(_))
        ));
    }

    #[test]
    fn answers_with_the_wrong_id_are_ignored() {
        // RFC 5452: a spoofed answer must match the id we chose.
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        let mut f = Fake {
            wrong_id: true,
            ..fake()
        };
        assert!(matches!(
            r.resolve("web.test", Instant::ZERO, &mut f, &mut next),
            Err(ResolveError::TimedOut(_))
        ));
    }

    #[test]
    fn aaaa_and_a_are_looked_up_and_cached_separately() {
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        let mut f = fake();
        let t0 = Instant::ZERO;
        let (a6, src) = r
            .lookup("dual.test", TYPE_AAAA, t0, &mut f, &mut next)
            .unwrap();
        assert_eq!((a6, src), (vec![v6(1)], Source::Dns(server()[0])));
        let (a4, _) = r
            .lookup("dual.test", TYPE_A, t0, &mut f, &mut next)
            .unwrap();
        assert_eq!(a4, vec![v4(1)]);
        assert_eq!((f.seen, r.cached()), (2, 2));
        assert_eq!(
            r.lookup("dual.test", TYPE_AAAA, t0, &mut f, &mut next)
                .unwrap()
                .1,
            Source::Cache
        );
        // NODATA: the name exists, but not with an IPv6 address.
        assert!(matches!(
            r.lookup("web.test", TYPE_AAAA, t0, &mut f, &mut next),
            Err(ResolveError::NotFound(_))
        ));
    }

    #[test]
    fn literals_overrides_and_hosts_answer_per_family() {
        let mut next = || 7u16;
        let hosts =
            Hosts::parse("fd00::5 dual.local\n10.0.0.5 dual.local\n10.0.0.6 v4only.local\n");
        let mut r = Resolver::new(hosts, server());
        let mut f = fake();
        let t0 = Instant::ZERO;
        let mut look =
            |r: &mut Resolver, name: &str, t: u16| r.lookup(name, t, t0, &mut f, &mut next);
        assert_eq!(
            look(&mut r, "[fd00::1]", TYPE_AAAA).unwrap(),
            (vec![v6(1)], Source::Literal)
        );
        assert_eq!(look(&mut r, "fd00::1", TYPE_AAAA).unwrap().0, vec![v6(1)]);
        assert!(
            look(&mut r, "fd00::1", TYPE_A).is_err(),
            "a v6 literal has no A"
        );
        assert_eq!(
            look(&mut r, "dual.local", TYPE_AAAA).unwrap(),
            (vec![v6(5)], Source::Hosts)
        );
        assert_eq!(look(&mut r, "dual.local", TYPE_A).unwrap().0, vec![v4(5)]);
        // Listed in hosts without an IPv6 address: not asked of DNS.
        assert!(matches!(
            look(&mut r, "v4only.local", TYPE_AAAA),
            Err(ResolveError::NotFound(_))
        ));
        r.add_override("pin.test", v6(9));
        r.add_override("pin.test", v4(9));
        assert_eq!(
            look(&mut r, "pin.test", TYPE_AAAA).unwrap(),
            (vec![v6(9)], Source::Override)
        );
        assert_eq!(look(&mut r, "pin.test", TYPE_A).unwrap().0, vec![v4(9)]);
        assert_eq!(f.seen, 0, "none of these asked DNS");
    }

    #[test]
    fn a_truncated_answer_is_asked_again_over_tcp_and_arrives_whole() {
        // RFC 7766 §5.
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        let mut f = Fake {
            truncate_udp: true,
            ..fake()
        };
        let (addrs, src) = r
            .lookup("big.test", TYPE_A, Instant::ZERO, &mut f, &mut next)
            .unwrap();
        assert_eq!(addrs.len(), 100);
        assert_eq!(src, Source::DnsTcp(server()[0]));
        assert_eq!((f.seen, f.tcp_seen), (1, 1));
        // A short answer that fits is never retried.
        let (addrs, src) = r
            .lookup("web.test", TYPE_A, Instant::ZERO, &mut f, &mut next)
            .unwrap();
        assert_eq!((addrs.len(), src), (1, Source::Dns(server()[0])));
        assert_eq!((f.seen, f.tcp_seen), (2, 1));
    }

    #[test]
    fn a_truncated_answer_without_tcp_is_not_used() {
        // RFC 2181 §9: the partial set is not cached or returned.
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        let mut f = Fake {
            truncate_udp: true,
            tcp: false,
            ..fake()
        };
        assert!(matches!(
            r.lookup("big.test", TYPE_A, Instant::ZERO, &mut f, &mut next),
            Err(ResolveError::TimedOut(_))
        ));
        assert_eq!((f.seen, f.tcp_seen, r.cached()), (2, 2, 0));
    }

    #[test]
    fn the_sans_io_steps_answer_both_families_and_cache() {
        // What an async caller drives: local first, then query/answer.
        let mut r = Resolver::new(Hosts::parse("fd00::5 dual.local\n"), server());
        let f = fake();
        let t0 = Instant::ZERO;
        assert_eq!(
            r.resolve_local("dual.local", TYPE_AAAA, t0).unwrap(),
            Some((vec![v6(5)], Source::Hosts))
        );
        assert!(matches!(
            r.resolve_local("dual.local", TYPE_A, t0),
            Err(ResolveError::NotFound(_))
        ));
        assert_eq!(r.resolve_local("dual.test", TYPE_AAAA, t0).unwrap(), None);
        let q6 = Resolver::query("Dual.Test.", TYPE_AAAA, 41).unwrap();
        let q4 = Resolver::query("dual.test", TYPE_A, 42).unwrap();
        // An answer to the other question or id is not ours (RFC 5452 §4).
        let a4 = f.answer(&q4, true);
        assert_eq!(
            r.answer("dual.test", TYPE_AAAA, 41, &a4, t0),
            Answer::Ignored
        );
        assert_eq!(
            r.answer("dual.test", TYPE_A, 42, b"\x00junk", t0),
            Answer::Ignored
        );
        assert_eq!(
            r.answer("dual.test", TYPE_AAAA, 41, &f.answer(&q6, true), t0),
            Answer::Addresses(vec![v6(1)])
        );
        assert_eq!(
            r.answer("dual.test", TYPE_A, 42, &a4, t0),
            Answer::Addresses(vec![v4(1)])
        );
        // Both cached for their TTL (30 s), per type.
        assert_eq!(
            r.resolve_local("dual.test", TYPE_AAAA, t0).unwrap(),
            Some((vec![v6(1)], Source::Cache))
        );
        assert_eq!(
            r.resolve_local("dual.test", TYPE_A, t0 + Duration::from_secs(29))
                .unwrap(),
            Some((vec![v4(1)], Source::Cache))
        );
        assert_eq!(
            r.resolve_local("dual.test", TYPE_A, t0 + Duration::from_secs(31))
                .unwrap(),
            None
        );
        // NXDOMAIN, and NODATA for a family the name lacks.
        let qn = Resolver::query("none.test", TYPE_A, 43).unwrap();
        assert_eq!(
            r.answer("none.test", TYPE_A, 43, &f.answer(&qn, true), t0),
            Answer::NotFound
        );
        let qw = Resolver::query("web.test", TYPE_AAAA, 44).unwrap();
        assert_eq!(
            r.answer("web.test", TYPE_AAAA, 44, &f.answer(&qw, true), t0),
            Answer::NotFound
        );
        // A truncated answer says so and is not cached (RFC 2181 §9).
        let qb = Resolver::query("big.test", TYPE_A, 45).unwrap();
        assert_eq!(
            r.answer("big.test", TYPE_A, 45, &f.answer(&qb, false), t0),
            Answer::Truncated
        );
        assert_eq!(r.resolve_local("big.test", TYPE_A, t0).unwrap(), None);
        assert!(matches!(
            Resolver::query("bad..name", TYPE_A, 1),
            Err(ResolveError::BadName(_))
        ));
    }

    /// A server that answers every query with `rcode`.
    struct Refusing(u8);

    impl Transport for Refusing {
        fn exchange(&mut self, _server: SocketAddr, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
            let mut m = query[..query.len() - 11].to_vec();
            m[2] |= 0x80;
            m[3] |= self.0;
            m[11] = 0;
            Ok(Some(m))
        }
    }

    #[test]
    fn refused_and_servfail_are_reported_as_such_not_as_timeouts() {
        let mut ids = 1u16..;
        let mut next = || ids.next().unwrap_or(0);
        let mut r = Resolver::new(Hosts::default(), server());
        for rcode in [2u8, 5] {
            let e = r
                .lookup(
                    "x.test",
                    TYPE_A,
                    Instant::ZERO,
                    &mut Refusing(rcode),
                    &mut next,
                )
                .unwrap_err();
            assert!(
                matches!(e, ResolveError::ServerError(_, c) if c == rcode),
                "{e}"
            );
        }
        let e = ResolveError::ServerError("x.test".into(), 5);
        assert_eq!(
            e.to_string(),
            "could not resolve host: x.test (DNS answered query refused (REFUSED))"
        );
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# generated\nsearch example\nnameserver ::1\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n";
        assert_eq!(
            nameserver_from_resolv_conf(text),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        let all: Vec<IpAddr> = ["::1", "10.0.0.1", "10.0.0.2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(nameservers_from_resolv_conf(text), all);
        assert_eq!(nameserver_from_resolv_conf("search x\n"), None);
    }
}
