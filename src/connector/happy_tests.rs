//! Happy Eyeballs (RFC 8305) without a network: a fake clock and made-up
//! connect results drive [`Race`].

use super::*;

fn v6(port: u16) -> SocketAddr {
    SocketAddr::new("fd00::1".parse().unwrap(), port)
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::new("10.0.0.1".parse().unwrap(), port)
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

fn race(addrs: Vec<SocketAddr>, t0: Instant) -> Race {
    Race::new(addrs, ATTEMPT_DELAY, Duration::from_secs(10), t0)
}

#[test]
fn addresses_interleave_ipv6_first() {
    let a6: Vec<SocketAddr> = (1..=3).map(v6).collect();
    let a4: Vec<SocketAddr> = (1..=2).map(v4).collect();
    let mixed = vec![a4[0], a4[1], a6[0], a6[1], a6[2]];
    assert_eq!(interleave(&mixed), vec![a6[0], a4[0], a6[1], a4[1], a6[2]]);
    assert_eq!(interleave(&a4), a4);
    assert!(interleave(&[]).is_empty());
}

#[test]
fn ipv6_connecting_within_the_delay_means_ipv4_never_starts() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v6(80), v4(80)], t0);
    assert_eq!(r.start(t0), Some((0, v6(80))));
    assert_eq!(r.start(ms(t0, 1)), None);
    assert_eq!(r.deadline(), Some(ms(t0, 250)));
    assert!(r.on_result(0, Ok(()), ms(t0, 40)));
    assert!(r.is_over());
    assert_eq!(r.start(ms(t0, 300)), None, "no IPv4 attempt after a win");
    assert_eq!(
        (r.winner(), r.live(), r.deadline()),
        (Some(0), vec![], None)
    );
    let notes: Vec<String> = r.take_notes().iter().map(ToString::to_string).collect();
    assert_eq!(notes[0], "  Trying [fd00::1]:80...");
    assert!(
        notes[1].starts_with("IPv6 won: [fd00::1]:80 connected first"),
        "{notes:?}"
    );
}

#[test]
fn a_silent_ipv6_gets_ipv4_started_exactly_250_ms_later() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v6(80), v4(80)], t0);
    r.start(t0);
    assert_eq!(r.start(ms(t0, 249)), None);
    assert_eq!(r.start(ms(t0, 250)), Some((1, v4(80))));
    // IPv4 connects one round trip later; the IPv6 attempt is closed.
    assert!(r.on_result(1, Ok(()), ms(t0, 251)));
    assert_eq!((r.winner(), r.live()), (Some(1), vec![0]));
    let notes: Vec<String> = r.take_notes().iter().map(ToString::to_string).collect();
    assert_eq!(
        notes[1],
        "IPv6 connect to [fd00::1]:80 timed out after 250 ms, trying 10.0.0.1:80"
    );
    assert_eq!(notes[2], "  Trying 10.0.0.1:80...");
    assert!(notes[3].starts_with("IPv4 won: 10.0.0.1:80 connected first, after 251 ms"));
    assert!(
        notes[3].ends_with("(1 other attempt(s) closed)"),
        "{notes:?}"
    );
}

#[test]
fn a_failed_ipv6_attempt_starts_ipv4_at_once() {
    // RFC 8305 §5: no need to wait out the delay after a failure.
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v6(80), v4(80)], t0);
    r.start(t0);
    let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
    assert!(!r.on_result(0, Err(refused), ms(t0, 3)));
    assert_eq!(r.deadline(), Some(ms(t0, 3)));
    assert_eq!(r.start(ms(t0, 3)), Some((1, v4(80))));
    assert!(r.on_result(1, Ok(()), ms(t0, 5)));
    let notes: Vec<String> = r.take_notes().iter().map(ToString::to_string).collect();
    assert_eq!(
        notes[1],
        "IPv6 connect to [fd00::1]:80 failed after 3 ms: connection refused, trying 10.0.0.1:80"
    );
    assert!(r.live().is_empty());
}

#[test]
fn the_first_to_connect_wins_even_if_it_started_first() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v6(80), v4(80)], t0);
    r.start(t0);
    r.start(ms(t0, 250));
    // IPv6 answers late but before IPv4 does.
    assert!(r.on_result(0, Ok(()), ms(t0, 270)));
    assert!(!r.on_result(1, Ok(()), ms(t0, 271)), "only one winner");
    assert_eq!((r.winner(), r.live()), (Some(0), vec![1]));
}

#[test]
fn every_address_failing_is_one_error_naming_all() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v6(80), v4(80)], t0);
    r.start(t0);
    let e = |m: &str| io::Error::new(io::ErrorKind::ConnectionRefused, m.to_string());
    r.on_result(0, Err(e("v6 refused")), ms(t0, 1));
    r.start(ms(t0, 1));
    assert!(!r.is_over());
    r.on_result(1, Err(e("v4 refused")), ms(t0, 2));
    assert!(r.is_over());
    assert_eq!((r.start(ms(t0, 5)), r.deadline()), (None, None));
    let err = r.error();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(
        err.to_string(),
        "v4 refused (also tried [fd00::1]:80: v6 refused)"
    );
}

#[test]
fn each_attempt_times_out_on_its_own_clock() {
    let t0 = Instant::from_secs(7);
    let mut r = Race::new(
        vec![v6(80), v4(80)],
        ATTEMPT_DELAY,
        Duration::from_secs(1),
        t0,
    );
    r.start(t0);
    r.start(ms(t0, 250));
    assert_eq!(r.deadline(), Some(ms(t0, 1000)));
    assert_eq!(r.expire(ms(t0, 999)), Vec::<usize>::new());
    assert_eq!(r.expire(ms(t0, 1000)), vec![0]);
    assert!(!r.is_over());
    assert_eq!(r.deadline(), Some(ms(t0, 1250)));
    assert_eq!(r.expire(ms(t0, 1250)), vec![1]);
    assert!(r.is_over());
    let e = r.error();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(
        e.to_string().starts_with(
            "connection to 10.0.0.1:80 timed out after 1.0 s (also tried [fd00::1]:80: "
        ),
        "{e}"
    );
}

#[test]
fn a_single_family_list_is_tried_in_order() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![v4(1), v4(2)], t0);
    assert_eq!(r.start(t0), Some((0, v4(1))));
    assert_eq!(r.start(ms(t0, 250)), Some((1, v4(2))));
    assert_eq!(r.start(ms(t0, 500)), None, "nothing left to start");
    assert_eq!(r.deadline(), Some(ms(t0, 10_000)));
}

#[test]
fn families_restrict_addresses() {
    let (a6, a4) = (v6(1).ip(), v4(1).ip());
    assert!(Family::Any.allows(&a6) && Family::Any.allows(&a4));
    assert!(Family::V4.allows(&a4) && !Family::V4.allows(&a6));
    assert!(Family::V6.allows(&a6) && !Family::V6.allows(&a4));
}

#[test]
fn no_addresses_is_over_at_once() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![], t0);
    assert!(r.is_over());
    assert_eq!(r.start(t0), None);
    assert_eq!(r.error().kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_race_begun_empty_waits_for_addresses_and_starts_them_at_once() {
    let t0 = Instant::from_secs(7);
    let mut r = race(vec![], t0);
    r.expect_more(true);
    assert_eq!(
        (r.start(t0), r.is_over(), r.deadline()),
        (None, false, None)
    );
    r.add(&[v4(80)]);
    assert_eq!(r.start(ms(t0, 60)), Some((0, v4(80))));
    // RFC 8305 §4: the late AAAA answer's address comes next, after the
    // attempt delay from the IPv4 start.
    r.add(&[v6(80), v4(80)]);
    assert_eq!(r.start(ms(t0, 309)), None);
    assert_eq!(r.start(ms(t0, 310)), Some((1, v6(80))));
    assert!(r.on_result(1, Ok(()), ms(t0, 311)));
    assert!(r.is_over());
}

#[test]
fn late_addresses_alternate_from_the_family_tried_last() {
    let t0 = Instant::from_secs(1);
    let mut r = race(vec![v6(1), v6(2)], t0);
    assert_eq!(r.start(t0), Some((0, v6(1))));
    r.add(&[v4(1), v4(2)]);
    r.on_result(0, Err(io::ErrorKind::ConnectionRefused.into()), ms(t0, 1));
    let order: Vec<SocketAddr> = (0..3)
        .map(|i| {
            let (_, a) = r.start(ms(t0, 1 + i * 250)).unwrap();
            a
        })
        .collect();
    assert_eq!(order, vec![v4(1), v6(2), v4(2)]);
}

#[test]
fn every_attempt_failed_is_not_over_while_more_addresses_may_come() {
    let t0 = Instant::from_secs(1);
    let mut r = race(vec![v4(80)], t0);
    r.expect_more(true);
    r.start(t0);
    r.on_result(0, Err(io::ErrorKind::ConnectionRefused.into()), ms(t0, 1));
    assert!(!r.is_over());
    r.add(&[v6(80)]);
    assert_eq!(
        r.start(ms(t0, 2)),
        Some((1, v6(80))),
        "at once after a failure"
    );
    r.expect_more(false);
    r.on_result(1, Err(io::ErrorKind::ConnectionRefused.into()), ms(t0, 3));
    assert!(r.is_over());
    assert!(r.error().to_string().contains("also tried 10.0.0.1:80"));
}
