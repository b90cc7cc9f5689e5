//! [`Poll`] across threads, over an in-memory device (no root).

use super::*;
use crate::device::PipeDevice;
use crate::net::Config;
use std::time::Instant;

/// How long the other thread's poll sleeps. A register or deregister that
/// waited for that poll to end would take most of it; one that does not
/// wait takes microseconds. The bound is half of it, not a tight time, so a
/// loaded machine cannot fail the test.
const LONG_POLL: Duration = Duration::from_secs(2);

/// A `register` from another thread during a long `poll` returns at once
/// (it used to wait for that poll's timeout, the registrations being
/// locked across the wait), and the poll wakes up and reports the new
/// source.
#[test]
fn register_during_a_long_poll_returns_at_once_and_wakes_the_poll() {
    let (dev, _peer) = PipeDevice::pair(1500).unwrap();
    let stack = Stack::new(dev, Config::default()).unwrap();
    let udp = UdpSocket::bind(&stack, ("0.0.0.0", 5353)).unwrap();
    let poll = Poll::new(&stack);
    let started = std::sync::Barrier::new(2);
    let (register_took, polled) = std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut events = Events::with_capacity(8);
            started.wait();
            poll.poll(&mut events, Some(LONG_POLL)).unwrap();
            events.iter().map(|e| e.token()).collect::<Vec<_>>()
        });
        started.wait();
        // Let the poller go to sleep: with nothing registered it sleeps
        // until woken or the second passes.
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        poll.register(&udp, Token(7), Interest::WRITABLE).unwrap();
        let took = t0.elapsed();
        (took, poller.join().unwrap())
    });
    assert!(
        register_took < LONG_POLL / 2,
        "register took {register_took:?} while another thread polled"
    );
    assert_eq!(polled, vec![Token(7)], "the poll saw the new registration");
}

/// `deregister` from another thread during a long `poll` returns at once.
#[test]
fn deregister_during_a_long_poll_returns_at_once() {
    let (dev, _peer) = PipeDevice::pair(1500).unwrap();
    let stack = Stack::new(dev, Config::default()).unwrap();
    let udp = UdpSocket::bind(&stack, ("0.0.0.0", 5353)).unwrap();
    let poll = Poll::new(&stack);
    // Readable interest on an empty socket: nothing to report, so the poll
    // sleeps its full second.
    poll.register(&udp, Token(1), Interest::READABLE).unwrap();
    let started = std::sync::Barrier::new(2);
    let took = std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut events = Events::with_capacity(8);
            started.wait();
            poll.poll(&mut events, Some(LONG_POLL)).unwrap();
        });
        started.wait();
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        poll.deregister(Token(1)).unwrap();
        let took = t0.elapsed();
        poller.join().unwrap();
        took
    });
    assert!(
        took < LONG_POLL / 2,
        "deregister took {took:?} while another thread polled"
    );
    assert_eq!(poll.registered(), 0);
}
