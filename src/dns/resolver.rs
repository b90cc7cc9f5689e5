//! Name resolution in the classic order of a page load: an IPv4 literal,
//! the in-memory cache (RFC 1035 TTLs), the hosts file, then DNS queries
//! to the configured servers with a random id, retries and validation of
//! the answer (id, question). The transport is the caller's (our UDP in
//! the CLI), and time comes in as an argument, so this is pure logic.

use super::{decode, encode_query, Hosts, TYPE_A};
use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Most names cached; the entry closest to expiry is evicted first.
const MAX_CACHE: usize = 1024;

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
    /// A DNS server's answer.
    Dns(SocketAddrV4),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Literal => f.write_str("literal address"),
            Source::Cache => f.write_str("cache"),
            Source::Override => f.write_str("--resolve"),
            Source::Hosts => f.write_str("hosts file"),
            Source::Dns(s) => write!(f, "DNS server {s}"),
        }
    }
}

/// Why a name could not be resolved.
#[derive(Debug)]
pub enum ResolveError {
    /// The servers said the name does not exist (NXDOMAIN) or has no A record.
    NotFound(String),
    /// No server answered in time (all tries).
    TimedOut(String),
    /// No DNS server is configured and the name is not local.
    NoServer(String),
    /// The name is not a valid host name.
    BadName(String),
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
        }
    }
}

impl std::error::Error for ResolveError {}

/// Sends one query datagram to a server and waits (with its own timeout)
/// for one answer datagram. `Ok(None)` means "no answer in time".
pub trait Transport {
    /// One exchange.
    ///
    /// # Errors
    /// Transport failures other than a timeout.
    fn exchange(&mut self, server: SocketAddrV4, query: &[u8]) -> io::Result<Option<Vec<u8>>>;
}

/// What an answer datagram said (see [`Resolver::answer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The name's address.
    Address(Ipv4Addr),
    /// The name does not exist (NXDOMAIN or no address records).
    NotFound,
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
    overrides: HashMap<String, Ipv4Addr>,
    servers: Vec<SocketAddrV4>,
    cache: HashMap<String, (Ipv4Addr, Instant)>,
    /// Queries per server before giving up on it.
    pub tries: u32,
}

impl Resolver {
    /// A resolver using `hosts` and then `servers`, in order.
    pub fn new(hosts: Hosts, servers: Vec<SocketAddrV4>) -> Resolver {
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

    /// Pins `name` to `addr` (curl's `--resolve`).
    pub fn add_override(&mut self, name: &str, addr: Ipv4Addr) {
        self.overrides
            .insert(name.trim_end_matches('.').to_ascii_lowercase(), addr);
    }

    /// Resolves `name` to an IPv4 address. `next_id` supplies random
    /// query ids (RFC 5452: unpredictable ids against spoofing).
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
        if let Some(found) = self.resolve_local(name, now)? {
            return Ok(found);
        }
        let key = normalise(name);
        let mut nxdomain = false;
        for server in self.servers.clone() {
            for _ in 0..self.tries.max(1) {
                let id = next_id();
                let query = Resolver::query(&key, id)?;
                let Ok(Some(answer)) = transport.exchange(server, &query) else {
                    continue;
                };
                match self.answer(&key, id, &answer, now) {
                    Answer::Address(addr) => return Ok((addr, Source::Dns(server))),
                    Answer::NotFound => {
                        nxdomain = true;
                        break;
                    }
                    Answer::Ignored => {}
                }
            }
        }
        Err(if nxdomain {
            ResolveError::NotFound(key)
        } else {
            ResolveError::TimedOut(key)
        })
    }

    /// The part of [`resolve`](Self::resolve) that needs no network: a
    /// literal address, a pinned name, the cache, the hosts table.
    /// `Ok(None)`: ask the [`servers`](Self::servers) (for callers that
    /// drive the exchange themselves, e.g. asynchronously, with
    /// [`query`](Self::query) and [`answer`](Self::answer)).
    ///
    /// # Errors
    /// [`ResolveError::NoServer`] when DNS is needed but none is set.
    pub fn resolve_local(
        &mut self,
        name: &str,
        now: Instant,
    ) -> Result<Option<(Ipv4Addr, Source)>, ResolveError> {
        if let Ok(a) = name.parse::<Ipv4Addr>() {
            return Ok(Some((a, Source::Literal)));
        }
        let key = normalise(name);
        if let Some(a) = self.overrides.get(&key) {
            return Ok(Some((*a, Source::Override)));
        }
        match self.cache.get(&key) {
            Some((a, expiry)) if *expiry > now => return Ok(Some((*a, Source::Cache))),
            Some(_) => {
                self.cache.remove(&key);
            }
            None => {}
        }
        if let Some(a) = self.hosts.lookup(&key) {
            return Ok(Some((a, Source::Hosts)));
        }
        if self.servers.is_empty() {
            return Err(ResolveError::NoServer(key));
        }
        Ok(None)
    }

    /// The DNS servers, in the order to ask them.
    pub fn servers(&self) -> &[SocketAddrV4] {
        &self.servers
    }

    /// The query datagram for `name` (an A question) with `id`.
    ///
    /// # Errors
    /// [`ResolveError::BadName`].
    pub fn query(name: &str, id: u16) -> Result<Vec<u8>, ResolveError> {
        let key = normalise(name);
        encode_query(id, &key, TYPE_A).map_err(|_| ResolveError::BadName(key))
    }

    /// Reads an answer datagram to the query `id` for `name`: an address
    /// (cached for its TTL), the name does not exist, or a datagram to
    /// ignore (malformed, or the answer to another question: RFC 5452 §4).
    pub fn answer(&mut self, name: &str, id: u16, answer: &[u8], now: Instant) -> Answer {
        let key = normalise(name);
        let Ok(msg) = decode(answer) else {
            return Answer::Ignored;
        };
        let ours =
            msg.is_response && msg.id == id && msg.questions.first().is_some_and(|q| q.name == key);
        if !ours {
            return Answer::Ignored;
        }
        match msg.addresses(&key) {
            Some((addrs, ttl)) => {
                let Some(&addr) = addrs.first() else {
                    return Answer::Ignored;
                };
                self.remember(key, addr, now + Duration::from_secs(u64::from(ttl)));
                Answer::Address(addr)
            }
            None => Answer::NotFound,
        }
    }

    fn remember(&mut self, key: String, addr: Ipv4Addr, expiry: Instant) {
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
        self.cache.insert(key, (addr, expiry));
    }

    /// Names currently cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// The first IPv4 `nameserver` of resolv.conf text.
pub fn nameserver_from_resolv_conf(text: &str) -> Option<Ipv4Addr> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some("nameserver"))
            .then(|| f.next()?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::CLASS_IN;

    /// A fake server: answers from a table, can drop the first N queries,
    /// and records what it saw.
    struct Fake {
        table: HashMap<String, (Ipv4Addr, u32)>,
        drop_first: u32,
        seen: u32,
        wrong_id: bool,
    }

    impl Transport for Fake {
        fn exchange(&mut self, _server: SocketAddrV4, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
            self.seen += 1;
            if self.seen <= self.drop_first {
                return Ok(None);
            }
            let q = decode(query).unwrap();
            let name = q.questions[0].name.clone();
            let mut m = query.to_vec();
            m[2] |= 0x80;
            if self.wrong_id {
                m[0] ^= 0xff;
            }
            match self.table.get(&name) {
                Some((a, ttl)) => {
                    m[7] = 1;
                    m.extend_from_slice(&[0xc0, 12, 0, 1]);
                    m.extend_from_slice(&CLASS_IN.to_be_bytes());
                    m.extend_from_slice(&ttl.to_be_bytes());
                    m.extend_from_slice(&[0, 4]);
                    m.extend_from_slice(&a.octets());
                }
                None => m[3] |= 3, // NXDOMAIN
            }
            Ok(Some(m))
        }
    }

    fn fake() -> Fake {
        let mut table = HashMap::new();
        table.insert("web.test".to_string(), (Ipv4Addr::new(10, 0, 0, 1), 30));
        Fake {
            table,
            drop_first: 0,
            seen: 0,
            wrong_id: false,
        }
    }

    fn server() -> Vec<SocketAddrV4> {
        vec![SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 53)]
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
    fn resolv_conf_nameserver() {
        let text = "# generated\nsearch example\nnameserver ::1\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n";
        assert_eq!(
            nameserver_from_resolv_conf(text),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(nameserver_from_resolv_conf("search x\n"), None);
    }
}
