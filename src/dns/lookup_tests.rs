//! [`Lookup`] sans-IO: datagrams and explicit instants in, actions out.

use super::*;
use crate::dns::test_answers::{answer_head, push_address, record_type, set_answer_count};
use crate::dns::{decode, Hosts, TYPE_A, TYPE_AAAA};
use std::net::{Ipv4Addr, Ipv6Addr};

const S1: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 53);
const S2: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 53);

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn resolver(servers: &[SocketAddr]) -> Resolver {
    Resolver::new(Hosts::default(), servers.to_vec())
}

/// Ids 1, 2, 3, … so tests can tell queries apart.
fn ids() -> impl FnMut() -> u16 {
    let mut n = 0u16;
    move || {
        n += 1;
        n
    }
}

/// The answer to `query` with `addrs` (of the type asked) and `flags`
/// or'ed into byte 3 (an rcode) / byte 2 (0x02: TC).
fn reply(query: &[u8], addrs: &[IpAddr], tc: bool, rcode: u8) -> Vec<u8> {
    let qtype = decode(query).unwrap().questions[0].qtype;
    let mut m = answer_head(query);
    m[2] |= if tc { 0x02 } else { 0 };
    m[3] |= rcode;
    let mut n = 0u16;
    for a in addrs.iter().filter(|a| record_type(**a) == qtype) {
        n += 1;
        push_address(&mut m, *a, 300);
    }
    set_answer_count(&mut m, n);
    m
}

fn sent(a: Action) -> (SocketAddr, Vec<u8>) {
    match a {
        Action::Send { server, query } => (server, query),
        other => panic!("expected a query, got {other:?}"),
    }
}

const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

#[test]
fn two_lookups_share_a_socket_and_each_takes_only_its_answer() {
    let mut r = resolver(&[S1]);
    let mut next = ids();
    let mut aaaa = Lookup::new(&r, "Dual.Test.", TYPE_AAAA, Duration::from_secs(2));
    let mut a = Lookup::new(&r, "dual.test", TYPE_A, Duration::from_secs(2));
    let (_, q6) = sent(aaaa.poll(t(0), &mut next));
    let (_, q4) = sent(a.poll(t(0), &mut next));
    let ans4 = reply(&q4, &[V4, V6], false, 0);
    // The A answer is not the AAAA lookup's.
    assert!(!aaaa.on_datagram(&mut r, S1, &ans4, t(3), &mut next));
    assert!(a.on_datagram(&mut r, S1, &ans4, t(3), &mut next));
    assert_eq!(a.poll(t(3), &mut next), Action::Done);
    assert_eq!(
        a.take_result().unwrap().unwrap(),
        (vec![V4], Source::Dns(S1))
    );
    assert_eq!(aaaa.poll(t(3), &mut next), Action::Wait { until: t(2000) });
    let ans6 = reply(&q6, &[V4, V6], false, 0);
    assert!(aaaa.on_datagram(&mut r, S1, &ans6, t(9), &mut next));
    assert_eq!(aaaa.take_result().unwrap().unwrap().0, vec![V6]);
    // Both cached for the next page load.
    assert_eq!(r.cached(), 2);
}

#[test]
fn a_datagram_from_elsewhere_or_with_another_id_is_left_alone() {
    let mut r = resolver(&[S1]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "x.test", TYPE_A, Duration::from_secs(2));
    let (_, q) = sent(a.poll(t(0), &mut next));
    let good = reply(&q, &[V4], false, 0);
    assert!(!a.on_datagram(&mut r, S2, &good, t(1), &mut next));
    let mut wrong_id = good.clone();
    wrong_id[0] ^= 0xff;
    assert!(!a.on_datagram(&mut r, S1, &wrong_id, t(1), &mut next));
    assert!(!a.on_datagram(&mut r, S1, b"garbage", t(1), &mut next));
    assert!(!a.is_done());
    assert!(a.on_datagram(&mut r, S1, &good, t(1), &mut next));
    assert!(a.is_done());
}

#[test]
fn silence_retries_then_moves_to_the_next_server_then_times_out() {
    let r = resolver(&[S1, S2]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "x.test", TYPE_A, Duration::from_millis(500));
    let mut asked = Vec::new();
    let mut now = t(0);
    loop {
        match a.poll(now, &mut next) {
            Action::Send { server, .. } => asked.push((server, now)),
            Action::Wait { until } => now = until,
            Action::Done => break,
            Action::Tcp { .. } => panic!("no TCP without a truncated answer"),
        }
    }
    // Two tries per server, 500 ms apart.
    assert_eq!(
        asked,
        vec![(S1, t(0)), (S1, t(500)), (S2, t(1000)), (S2, t(1500))]
    );
    assert!(matches!(
        a.take_result(),
        Some(Err(ResolveError::TimedOut(_)))
    ));
    assert_eq!(a.poll(now, &mut next), Action::Done, "never asks again");
}

#[test]
fn nxdomain_moves_on_to_the_next_server_and_is_reported_if_none_knows() {
    let mut r = resolver(&[S1, S2]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "x.test", TYPE_AAAA, Duration::from_millis(500));
    let (s, q) = sent(a.poll(t(0), &mut next));
    assert_eq!(s, S1);
    assert!(a.on_datagram(&mut r, S1, &reply(&q, &[], false, 3), t(1), &mut next));
    let (s, q) = sent(a.poll(t(1), &mut next));
    assert_eq!(s, S2, "no second try at a server that said NXDOMAIN");
    assert!(a.on_datagram(&mut r, S2, &reply(&q, &[], false, 0), t(2), &mut next));
    assert_eq!(a.poll(t(2), &mut next), Action::Done);
    assert!(matches!(
        a.take_result(),
        Some(Err(ResolveError::NotFound(_)))
    ));
}

#[test]
fn servfail_is_retried_and_reported_when_nothing_better_comes() {
    let mut r = resolver(&[S1]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "x.test", TYPE_A, Duration::from_millis(500));
    for i in 0..2 {
        let (_, q) = sent(a.poll(t(i), &mut next));
        assert!(a.on_datagram(&mut r, S1, &reply(&q, &[], false, 2), t(i), &mut next));
    }
    assert_eq!(a.poll(t(3), &mut next), Action::Done);
    assert!(matches!(
        a.take_result(),
        Some(Err(ResolveError::ServerError(_, 2)))
    ));
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp_with_a_fresh_id() {
    let mut r = resolver(&[S1]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "big.test", TYPE_AAAA, Duration::from_secs(2));
    let (_, q) = sent(a.poll(t(0), &mut next));
    assert!(a.on_datagram(&mut r, S1, &reply(&q, &[V6], true, 0), t(1), &mut next));
    let Action::Tcp { server, query } = a.poll(t(1), &mut next) else {
        panic!("expected the TCP retry");
    };
    assert_eq!(server, S1);
    assert_ne!(query[..2], q[..2], "a fresh id");
    // The UDP path is closed meanwhile.
    assert!(!a.on_datagram(&mut r, S1, &reply(&q, &[V6], false, 0), t(2), &mut next));
    a.on_tcp_answer(&mut r, Ok(reply(&query, &[V6], false, 0)), t(5));
    assert_eq!(a.poll(t(5), &mut next), Action::Done);
    assert_eq!(
        a.take_result().unwrap().unwrap(),
        (vec![V6], Source::DnsTcp(S1))
    );
}

#[test]
fn a_failed_tcp_retry_moves_on() {
    let mut r = resolver(&[S1]);
    let mut next = ids();
    let mut a = Lookup::new(&r, "big.test", TYPE_A, Duration::from_secs(2));
    let (_, q) = sent(a.poll(t(0), &mut next));
    assert!(a.on_datagram(&mut r, S1, &reply(&q, &[V4], true, 0), t(1), &mut next));
    assert!(matches!(a.poll(t(1), &mut next), Action::Tcp { .. }));
    a.on_tcp_answer(
        &mut r,
        Err(std::io::ErrorKind::ConnectionRefused.into()),
        t(2),
    );
    // The second try over UDP.
    let (s, _) = sent(a.poll(t(2), &mut next));
    assert_eq!(s, S1);
}
