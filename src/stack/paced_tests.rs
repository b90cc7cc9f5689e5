//! [`Interface::paced_until`]: the release time a poll leaves when pacing
//! holds a connection's data back, and the property the poller's deaf
//! sleep rests on — the ACKs that arrive before it release nothing.

use super::sim::Sim;
use super::*;
use crate::device::Faults;
use crate::time::Duration;

/// 100 Mbit/s each way, 10 ms of delay each way: a path BBR paces on.
fn path(algorithm: tcp::Algorithm) -> Sim {
    let f = Faults {
        delay: Duration::from_millis(10),
        rate_bps: 100_000_000,
        queue_bytes: 250_000,
        ..Faults::default()
    };
    let mut sim = Sim::with_algorithm(f, 7, algorithm);
    sim.b.iface.tcp_listen(80).unwrap();
    sim
}

/// Runs a bulk send from A for `secs` of virtual time; calls `each` after
/// every step with the simulation and A's connection.
fn bulk(sim: &mut Sim, secs: u64, mut each: impl FnMut(&mut Sim, SocketHandle)) {
    let ca = sim
        .a
        .iface
        .tcp_connect(sim.now, sim.server_addr(80))
        .unwrap();
    let data = vec![7u8; 1 << 20];
    let mut buf = vec![0u8; 1 << 16];
    let mut cb = None;
    let end = sim.now + Duration::from_secs(secs);
    while sim.now < end {
        sim.step();
        cb = cb.or_else(|| sim.b.iface.tcp_accept(80).unwrap());
        if let Some(t) = sim.a.iface.tcp_mut(ca).filter(|t| !t.is_connecting()) {
            while t.send(&data).unwrap_or(0) > 0 {}
        }
        if let Some(t) = cb.and_then(|h| sim.b.iface.tcp_mut(h)) {
            while t.recv(&mut buf).unwrap_or(0) > 0 {}
        }
        each(sim, ca);
        if !sim.advance() {
            break;
        }
    }
}

#[test]
fn a_paced_sender_reports_its_release_and_acks_before_it_send_nothing() {
    let mut sim = path(tcp::Algorithm::Bbr);
    let (mut held, mut checked) = (0, 0);
    bulk(&mut sim, 3, |sim, ca| {
        let Some(at) = sim.a.iface.paced_until() else {
            return;
        };
        held += 1;
        let now = sim.now;
        assert!(at > now, "release {at} at {now}");
        let t = sim.a.iface.tcp_mut(ca).unwrap();
        assert_eq!(t.pacing_release(), Some(at));
        // ACKs waiting in A's device: polling them now (as a thread
        // woken for each would) releases nothing before `at`.
        if !sim.a.dev.inner_mut().rx.is_empty() {
            let before = sim.a.iface.stats().tcp_segments_out;
            sim.a.iface.poll(now, &mut sim.a.dev);
            let sent = sim.a.iface.stats().tcp_segments_out - before;
            assert_eq!(sent, 0, "sent before the release {at} at {now}");
            checked += 1;
        }
    });
    assert!(held > 100, "held back {held} times");
    assert!(checked > 10, "ACKs polled while held {checked} times");
}

#[test]
fn a_sender_that_does_not_pace_reports_no_release() {
    let mut sim = path(tcp::Algorithm::Cubic);
    let mut polls = 0;
    bulk(&mut sim, 1, |sim, _| {
        assert_eq!(sim.a.iface.paced_until(), None);
        polls += 1;
    });
    assert!(polls > 100);
}
