//! RFC 8305 §3 without a network: answers and explicit instants in,
//! released addresses and notes out.

use super::*;
use std::net::SocketAddr;

const V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
const V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
const DNS: SocketAddr = SocketAddr::new(V4, 53);

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn found(a: IpAddr) -> Result<(Vec<IpAddr>, Source), ResolveError> {
    Ok((vec![a], Source::Dns(DNS)))
}

fn notes(r: &mut Resolution) -> Vec<String> {
    r.take_notes().iter().map(ToString::to_string).collect()
}

#[test]
fn the_aaaa_answer_first_starts_connecting_at_once() {
    let mut r = Resolution::new("dual.test", true, true, t(0));
    assert_eq!(
        (r.release(t(0)), r.deadline()),
        (Vec::<IpAddr>::new(), None)
    );
    r.on_answer(true, found(V6), t(4));
    assert_eq!(r.release(t(4)), vec![V6]);
    assert!(r.started() && !r.is_done());
    // The A answer after that joins the race as it comes.
    r.on_answer(false, found(V4), t(9));
    assert_eq!(r.release(t(9)), vec![V4]);
    assert_eq!(r.release(t(10)), Vec::<IpAddr>::new(), "released once");
    let n = notes(&mut r);
    assert_eq!(
        n[0],
        "Resolved dual.test to fd00::1 (from the DNS server 10.0.0.1:53), AAAA answer after 4 ms"
    );
    assert!(
        n[1].starts_with("Connecting after 4 ms: the AAAA answer is in"),
        "{n:?}"
    );
    assert!(
        n[3].starts_with("A late answer after 9 ms adds 10.0.0.1"),
        "{n:?}"
    );
}

#[test]
fn an_a_answer_waits_50_ms_for_aaaa_and_takes_both_if_it_comes() {
    let mut r = Resolution::new("dual.test", true, true, t(0));
    r.on_answer(false, found(V4), t(10));
    assert_eq!(r.release(t(10)), Vec::<IpAddr>::new());
    assert_eq!(r.deadline(), Some(t(60)));
    r.on_answer(true, found(V6), t(59));
    // Both at once, IPv6 first.
    assert_eq!(r.release(t(59)), vec![V6, V4]);
    assert_eq!(r.deadline(), None);
}

#[test]
fn a_slow_aaaa_lets_ipv4_start_after_the_resolution_delay_then_joins() {
    let mut r = Resolution::new("dual.test", true, true, t(0));
    r.on_answer(false, found(V4), t(10));
    assert_eq!(r.release(t(59)), Vec::<IpAddr>::new());
    assert_eq!(r.release(t(60)), vec![V4]);
    assert_eq!(r.deadline(), None);
    assert!(!r.is_done());
    r.on_answer(true, found(V6), t(400));
    assert_eq!(r.release(t(400)), vec![V6]);
    assert!(r.is_done());
    let n = notes(&mut r);
    assert!(
        n.iter()
            .any(|l| l.starts_with("Connecting over IPv4 after 60 ms: no AAAA answer within")),
        "{n:?}"
    );
}

#[test]
fn a_negative_aaaa_answer_releases_ipv4_without_the_delay() {
    let mut r = Resolution::new("v4only.test", true, true, t(0));
    r.on_answer(
        true,
        Err(ResolveError::NotFound("v4only.test".into())),
        t(2),
    );
    assert_eq!(
        r.release(t(2)),
        Vec::<IpAddr>::new(),
        "nothing to connect to yet"
    );
    r.on_answer(false, found(V4), t(3));
    assert_eq!(r.release(t(3)), vec![V4]);
    let n = notes(&mut r);
    assert!(
        n[0].starts_with("No AAAA address for v4only.test after 2 ms"),
        "{n:?}"
    );
    assert!(
        n[2].starts_with("Connecting over IPv4 after 3 ms: no IPv6 address"),
        "{n:?}"
    );
}

#[test]
fn a_failed_a_lookup_waits_for_aaaa() {
    let mut r = Resolution::new("v6only.test", true, true, t(0));
    r.on_answer(
        false,
        Err(ResolveError::NotFound("v6only.test".into())),
        t(1),
    );
    assert_eq!(
        (r.release(t(100)), r.deadline()),
        (Vec::<IpAddr>::new(), None)
    );
    r.on_answer(true, found(V6), t(120));
    assert_eq!(r.release(t(120)), vec![V6]);
    assert!(r.error().is_none());
}

#[test]
fn one_family_is_released_as_soon_as_it_answers() {
    let mut r = Resolution::new("dual.test", false, true, t(0));
    r.on_answer(false, found(V4), t(5));
    assert_eq!(r.release(t(5)), vec![V4]);
    assert!(r.is_done());
}

#[test]
fn nothing_found_reports_the_a_lookups_reason() {
    let mut r = Resolution::new("nx.test", true, true, t(0));
    r.on_answer(true, Err(ResolveError::TimedOut("nx.test".into())), t(4000));
    assert!(r.error().is_none(), "A still out");
    r.on_answer(
        false,
        Err(ResolveError::NotFound("nx.test".into())),
        t(4001),
    );
    assert_eq!(r.release(t(4001)), Vec::<IpAddr>::new());
    assert!(matches!(r.error(), Some(ResolveError::NotFound(_))));
}

#[test]
fn a_literal_says_so() {
    let mut r = Resolution::new("fd00::1", true, false, t(0));
    r.on_answer(true, Ok((vec![V6], Source::Literal)), t(0));
    assert_eq!(r.release(t(0)), vec![V6]);
    assert_eq!(
        notes(&mut r)[0],
        "fd00::1 is an IP address: no name to resolve"
    );
}
