//! [`Resolver`] against a fake server: the lookup order, retries and
//! timeouts, answer validation, per-family caching, the TCP retry of a
//! truncated answer, and `/etc/resolv.conf` parsing.

use super::*;
use crate::dns::message::TYPE_OPT;
use crate::dns::test_answers::{answer_head, push_address, record_type, set_answer_count};
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
        let mut m = answer_head(query);
        if self.wrong_id {
            m[0] ^= 0xff;
        }
        let Some((addrs, ttl)) = self.table.get(&name) else {
            m[3] |= 3; // NXDOMAIN
            return m;
        };
        let mut n = 0u16;
        for a in addrs.iter().filter(|a| record_type(**a) == qtype) {
            if !full && n == 2 {
                m[2] |= 0x02; // TC: the rest did not fit
                break;
            }
            n += 1;
            push_address(&mut m, *a, *ttl);
        }
        set_answer_count(&mut m, n);
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
    let hosts = Hosts::parse("fd00::5 dual.local\n10.0.0.5 dual.local\n10.0.0.6 v4only.local\n");
    let mut r = Resolver::new(hosts, server());
    let mut f = fake();
    let t0 = Instant::ZERO;
    let mut look = |r: &mut Resolver, name: &str, t: u16| r.lookup(name, t, t0, &mut f, &mut next);
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
