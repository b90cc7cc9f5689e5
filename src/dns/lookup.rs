//! One DNS lookup (a name and a record type, A or AAAA) driven from
//! outside, sans-IO: the caller sends the datagrams it is told to, feeds
//! back every datagram that arrives and the time, and runs the TCP retry
//! of a truncated answer. Several lookups can share one socket and run at
//! once, which is what RFC 8305 §3 asks of a client racing the families
//! (the AAAA and A queries sent together).
//!
//! The policy is [`Resolver::lookup`]'s (RFC 1035 §4.2.1): each server in
//! turn, [`Resolver::tries`] queries each, a fresh random id per query
//! (RFC 5452), a per-query timeout; NXDOMAIN or NODATA from a server moves
//! on to the next one, as does silence after its last try; a truncated
//! answer is asked again over TCP (RFC 7766 §5). Answers are validated
//! (id, question) and cached by the [`Resolver`].

use super::resolver::{Answer, ResolveError, Resolver, Source};
use crate::time::{Duration, Instant};
use std::net::{IpAddr, SocketAddr};

/// What the caller does next for a [`Lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `query` to `server` over UDP; then wait for datagrams.
    Send {
        /// The server to ask.
        server: SocketAddr,
        /// The query datagram.
        query: Vec<u8>,
    },
    /// The answer came back truncated: send `query` to `server` over a
    /// stream (RFC 7766) and hand the answer to [`Lookup::on_tcp_answer`].
    Tcp {
        /// The server to ask.
        server: SocketAddr,
        /// The query message (without the length prefix).
        query: Vec<u8>,
    },
    /// Nothing to send before `until` (the current query's timeout), unless
    /// a datagram arrives.
    Wait {
        /// When to call [`Lookup::poll`] again.
        until: Instant,
    },
    /// The lookup is over.
    Done,
}

/// One (name, type) lookup across the resolver's servers; see the module
/// docs.
#[derive(Debug)]
pub struct Lookup {
    name: String,
    qtype: u16,
    /// One entry per query to send: each server, [`Resolver::tries`] times.
    plan: Vec<SocketAddr>,
    /// Index in `plan` of the query in flight (or next to send).
    at: usize,
    /// The query in flight: its id and when it times out.
    inflight: Option<(u16, Instant)>,
    /// A truncated answer asks for the stream retry, with this id.
    tcp: Option<(SocketAddr, u16, Vec<u8>)>,
    timeout: Duration,
    missing: bool,
    failed: Option<u8>,
    result: Option<Result<(Vec<IpAddr>, Source), ResolveError>>,
    /// The outcome is known (and may have been taken).
    finished: bool,
}

impl Lookup {
    /// A lookup of `name`'s `qtype` records from `resolver`'s servers,
    /// each query waiting at most `timeout`. Local answers (literal,
    /// pinned, cache, hosts) are the caller's
    /// ([`Resolver::resolve_local`]) before this.
    pub fn new(resolver: &Resolver, name: &str, qtype: u16, timeout: Duration) -> Lookup {
        let tries = resolver.tries.max(1) as usize;
        let plan = resolver
            .servers()
            .iter()
            .flat_map(|s| std::iter::repeat_n(*s, tries))
            .collect();
        Lookup {
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            qtype,
            plan,
            at: 0,
            inflight: None,
            tcp: None,
            timeout,
            missing: false,
            failed: None,
            result: None,
            finished: false,
        }
    }

    /// The record type asked for.
    pub fn qtype(&self) -> u16 {
        self.qtype
    }

    /// What to do now: the next query to send (the first, or the next
    /// after a timeout), the stream retry, how long to wait, or done.
    /// `next_id` supplies random query ids.
    pub fn poll(&mut self, now: Instant, next_id: &mut dyn FnMut() -> u16) -> Action {
        if self.finished {
            return Action::Done;
        }
        if let Some((server, _, query)) = &self.tcp {
            return Action::Tcp {
                server: *server,
                query: query.clone(),
            };
        }
        match self.inflight {
            Some((_, until)) if now < until => return Action::Wait { until },
            Some(_) => {
                // Silence: the next try (or server).
                self.inflight = None;
                self.at += 1;
            }
            None => {}
        }
        let Some(&server) = self.plan.get(self.at) else {
            self.finish_unanswered();
            return Action::Done;
        };
        let id = next_id();
        match Resolver::query(&self.name, self.qtype, id) {
            Ok(query) => {
                self.inflight = Some((id, now + self.timeout));
                Action::Send { server, query }
            }
            Err(e) => {
                self.finish(Err(e));
                Action::Done
            }
        }
    }

    /// A datagram from `from`: consumed (true) if it answers this
    /// lookup's query in flight; anything else (another lookup's answer,
    /// a stray or forged datagram) is left alone (false).
    pub fn on_datagram(
        &mut self,
        resolver: &mut Resolver,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
        next_id: &mut dyn FnMut() -> u16,
    ) -> bool {
        let (Some((id, _)), Some(&server)) = (self.inflight, self.plan.get(self.at)) else {
            return false;
        };
        if from != server || self.finished || self.tcp.is_some() {
            return false;
        }
        let answer = resolver.answer(&self.name, self.qtype, id, datagram, now);
        if answer == Answer::Ignored {
            return false;
        }
        self.inflight = None;
        if answer == Answer::Truncated {
            // RFC 7766 §5, with a fresh id as for a new query.
            let id = next_id();
            match Resolver::query(&self.name, self.qtype, id) {
                Ok(q) => self.tcp = Some((server, id, q)),
                Err(e) => self.finish(Err(e)),
            }
            return true;
        }
        self.judge(answer, Source::Dns(server));
        true
    }

    /// The stream retry's answer (or why it failed: then the next server
    /// is tried).
    pub fn on_tcp_answer(
        &mut self,
        resolver: &mut Resolver,
        answer: std::io::Result<Vec<u8>>,
        now: Instant,
    ) {
        let Some((server, id, _)) = self.tcp.take() else {
            return;
        };
        let answer = match answer {
            Ok(a) => resolver.answer(&self.name, self.qtype, id, &a, now),
            Err(_) => Answer::Ignored,
        };
        self.judge(answer, Source::DnsTcp(server));
    }

    fn judge(&mut self, answer: Answer, source: Source) {
        match answer {
            Answer::Addresses(addrs) => self.finish(Ok((addrs, source))),
            Answer::NotFound => {
                // This server has nothing: the next one may.
                self.missing = true;
                self.next_server();
            }
            Answer::Failed(rcode) => {
                self.failed = Some(rcode);
                self.at += 1;
            }
            Answer::Truncated | Answer::Ignored => self.at += 1,
        }
    }

    fn next_server(&mut self) {
        let Some(&server) = self.plan.get(self.at) else {
            return;
        };
        while self.plan.get(self.at) == Some(&server) {
            self.at += 1;
        }
    }

    fn finish_unanswered(&mut self) {
        let name = self.name.clone();
        self.finish(Err(match (self.missing, self.failed) {
            (true, _) => ResolveError::NotFound(name),
            (false, Some(rcode)) => ResolveError::ServerError(name, rcode),
            (false, None) => ResolveError::TimedOut(name),
        }));
    }

    fn finish(&mut self, result: Result<(Vec<IpAddr>, Source), ResolveError>) {
        self.result = Some(result);
        self.finished = true;
        self.inflight = None;
    }

    /// True once the outcome is known.
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// The outcome, once [`poll`](Self::poll) said [`Action::Done`].
    pub fn take_result(&mut self) -> Option<Result<(Vec<IpAddr>, Source), ResolveError>> {
        self.result.take()
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
