//! Step 1 over the stack: the DNS lookups of a connection. A host's AAAA
//! and A queries leave at once from one UDP socket of the stack (RFC 8305
//! §3, RFC 1035 §4.2.1), each a sans-IO [`Lookup`] driven here; an answer
//! that comes back truncated is asked again over the stack's own TCP (RFC
//! 7766). The blocking connector and the tokio resolver share the
//! planning ([`plan_lookups`]) and the stepping ([`step_lookup`]) and
//! differ only in how they wait ([`LookupIo`]). This module also owns the
//! system's resolver configuration (`/etc/hosts`, `/etc/resolv.conf`).
//! Time comes from `connector.rs` (`resolver_now`), which reads the clock.

use super::{resolver_now, StackConnector, StackTransport};
use crate::dns::{self, Action, Hosts, Lookup, Resolver, Source, Transport, TYPE_A, TYPE_AAAA};
use crate::net::{Token, UdpSocket};
use crate::time::Duration;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::PoisonError;

/// The poll token of the DNS socket (attempts use their index).
pub(super) const DNS: Token = Token(usize::MAX);

/// The lookups in flight and the socket they share.
pub(super) struct Lookups {
    pub(super) list: Vec<Lookup>,
    pub(super) sock: Option<UdpSocket>,
}

impl StackConnector<'_> {
    /// Local answers (literal, pinned, cache, hosts) go straight to
    /// `on_answer` (true: AAAA); the rest become lookups, AAAA first,
    /// sharing one socket.
    pub(super) fn start_lookups(
        &self,
        host: &str,
        aaaa: bool,
        a: bool,
        dns_timeout: Duration,
        on_answer: &mut dyn FnMut(bool, Answered),
    ) -> io::Result<Lookups> {
        let list = {
            let mut r = self
                .resolver
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            plan_lookups(&mut r, host, aaaa, a, dns_timeout, on_answer)
        };
        let sock = if list.is_empty() {
            None
        } else {
            // `[::]`: the port takes answers of both families.
            let s = UdpSocket::bind(self.stack, (Ipv6Addr::UNSPECIFIED, 0))?;
            s.set_nonblocking(true)?;
            Some(s)
        };
        Ok(Lookups { list, sock })
    }

    /// Sends what the lookups want sent, runs a TCP retry, and hands the
    /// outcome of each finished lookup to `on_answer` (true: AAAA).
    /// Returns the earliest query timeout.
    pub(super) fn drive_lookups(
        &self,
        lookups: &mut Lookups,
        dns_timeout: Duration,
        next_id: &mut dyn FnMut() -> u16,
        on_answer: &mut dyn FnMut(bool, Answered),
    ) -> Option<crate::time::Instant> {
        let mut io = BlockingLookupIo {
            connector: self,
            sock: lookups.sock.as_ref(),
            dns_timeout,
        };
        let mut wake = None;
        for l in &mut lookups.list {
            if let Some(until) = step_lookup(l, &mut io, next_id, on_answer) {
                wake = Some(wake.map_or(until, |w: crate::time::Instant| w.min(until)));
            }
        }
        wake
    }

    /// Every datagram waiting on the DNS socket, offered to each lookup
    /// until one takes it (the others, strays, are dropped).
    pub(super) fn read_answers(&self, lookups: &mut Lookups, next_id: &mut dyn FnMut() -> u16) {
        let Some(sock) = &lookups.sock else {
            return;
        };
        // EDNS(0) allows 1232 bytes; a server ignoring that may send more
        // (fragmented): take up to the largest datagram.
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Some(datagram) = buf.get(..n) else {
                continue;
            };
            let mut r = self
                .resolver
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for l in &mut lookups.list {
                if l.on_datagram(&mut r, from, datagram, resolver_now(), next_id) {
                    break;
                }
            }
        }
    }
}

/// A resolver with the system's configuration: names from `/etc/hosts`,
/// then DNS to the `nameserver`s of `/etc/resolv.conf` in order, IPv4 or
/// IPv6 (both files optional).
pub fn system_resolver() -> Resolver {
    let hosts = std::fs::read_to_string("/etc/hosts")
        .map(|t| Hosts::parse(&t))
        .unwrap_or_default();
    let servers = std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| dns::nameservers_from_resolv_conf(&t))
        .unwrap_or_default()
        .into_iter()
        .map(|s| SocketAddr::new(s, 53))
        .collect();
    Resolver::new(hosts, servers)
}

/// A lookup's outcome: the addresses and where they came from.
pub(crate) type Answered = Result<(Vec<IpAddr>, Source), dns::ResolveError>;

/// The start of resolving `host` for AAAA (if `aaaa`) and A (if `a`):
/// local answers (literal, pinned, cache, hosts) go straight to
/// `on_answer` (true: AAAA); the rest become [`Lookup`]s, AAAA first, to
/// run at once from one socket (RFC 8305 §3), each query waiting at most
/// `dns_timeout`. Shared by the blocking connector and the tokio
/// resolver, which differ only in how they wait.
pub(crate) fn plan_lookups(
    r: &mut Resolver,
    host: &str,
    aaaa: bool,
    a: bool,
    dns_timeout: Duration,
    on_answer: &mut dyn FnMut(bool, Answered),
) -> Vec<Lookup> {
    let mut list = Vec::new();
    for (_, qtype) in [(aaaa, TYPE_AAAA), (a, TYPE_A)]
        .into_iter()
        .filter(|(asked, _)| *asked)
    {
        match r.resolve_local(host, qtype, resolver_now()) {
            Ok(Some(found)) => on_answer(qtype == TYPE_AAAA, Ok(found)),
            Ok(None) => list.push(Lookup::new(r, host, qtype, dns_timeout)),
            Err(e) => on_answer(qtype == TYPE_AAAA, Err(e)),
        }
    }
    list
}

/// The I/O a [`Lookup`] asks of [`step_lookup`]'s caller.
pub(crate) trait LookupIo {
    /// Sends `query` to `server` over UDP; a failed send is silence (the
    /// query's timeout moves the lookup on).
    fn send(&mut self, server: SocketAddr, query: &[u8]);
    /// The stream retry of a truncated answer (RFC 7766): its answer now,
    /// or `None` while it runs (the caller feeds the answer to the lookup
    /// when it comes).
    fn tcp(&mut self, server: SocketAddr, query: Vec<u8>) -> Option<io::Result<Vec<u8>>>;
    /// The resolver, locked, that validates and caches answers.
    fn resolver(&mut self) -> std::sync::MutexGuard<'_, Resolver>;
}

/// Runs `l` until it waits: its queries go out through `io`, a stream
/// retry runs (or starts) there, its outcome goes to `on_answer` (true:
/// AAAA). Returns its query timeout when it waits for one. Shared by the
/// blocking connector and the tokio resolver.
pub(crate) fn step_lookup(
    l: &mut Lookup,
    io: &mut dyn LookupIo,
    next_id: &mut dyn FnMut() -> u16,
    on_answer: &mut dyn FnMut(bool, Answered),
) -> Option<crate::time::Instant> {
    loop {
        match l.poll(resolver_now(), next_id) {
            Action::Send { server, query } => io.send(server, &query),
            Action::Tcp { server, query } => {
                let answer = io.tcp(server, query)?;
                l.on_tcp_answer(&mut io.resolver(), answer, resolver_now());
            }
            Action::Wait { until } => return Some(until),
            Action::Done => {
                if let Some(result) = l.take_result() {
                    on_answer(l.qtype() == TYPE_AAAA, result);
                }
                return None;
            }
        }
    }
}

/// The blocking connector's [`LookupIo`]: its nonblocking UDP socket, and
/// the stream retry run to completion where it happens.
struct BlockingLookupIo<'c, 's> {
    connector: &'c StackConnector<'s>,
    sock: Option<&'c UdpSocket>,
    dns_timeout: Duration,
}

impl LookupIo for BlockingLookupIo<'_, '_> {
    fn send(&mut self, server: SocketAddr, query: &[u8]) {
        if let Some(s) = self.sock {
            let _ = s.send_to(query, server);
        }
    }

    fn tcp(&mut self, server: SocketAddr, query: Vec<u8>) -> Option<io::Result<Vec<u8>>> {
        let mut t = StackTransport {
            stack: self.connector.stack,
            timeout: self.dns_timeout,
        };
        Some(t.exchange_tcp(server, &query))
    }

    fn resolver(&mut self) -> std::sync::MutexGuard<'_, Resolver> {
        self.connector
            .resolver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
