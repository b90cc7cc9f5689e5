//! The driver thread: the fallback poller. It sleeps in `epoll_wait(2)` on
//! the device, the poke eventfd and the stack's timer through the
//! driver's epoll set, which the kernel wakes only when no application
//! thread leads (see `poller`): then it lets the interface read a batch,
//! run timers and write, and wakes blocked users if anything happened
//! (while pacing holds data back, it sleeps deaf to the device until the
//! release: `Pollers::wait_paced`). A
//! device without a descriptor is polled on a 1 ms tick instead. While an
//! async runtime drives the device, the thread stands by instead
//! (`task::standby`): it serves the timer and pokes, and reads the device
//! only if the runtime stalls.

use super::poller::{Role, Woke};
use super::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn run(shared: Arc<Shared>) {
    let _ = shared.handoff.driver.set(std::thread::current());
    // Read at first, to start from a clean slate.
    let mut woke = Woke {
        dev: true,
        poke: true,
        timer: true,
        own: false,
    };
    // Wakers and eventfds to signal, gathered under the lock.
    let mut ready = super::wake::Ready::default();
    let tick = (!shared.poller.has_device_fd).then_some(Duration::from_millis(1));
    loop {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        shared.driver_polls.fetch_add(1, Ordering::Relaxed);
        let polled = shared.poll_locked(&mut shared.lock_driver(), woke, &mut ready, true);
        if polled.activity {
            shared.notify_waiters();
            ready.signal();
        }
        shared.let_woken_run();
        // Packets still queued signal nobody, and a timer already due
        // needs no sleep: poll on at once. Otherwise sleep until the
        // deadline this poll left (the driver's own timeout: the stack's
        // timer is for the others, see `Pollers::driver_deadline`).
        let again = (polled.left_queued || polled.due).then_some(Duration::ZERO);
        woke = match again {
            None => super::task::standby(&shared),
            Some(_) => None,
        }
        .unwrap_or_else(|| {
            // The device still out of the driver's set (an EPOLL_CTL_ADD
            // failed, see `poller_echo`): poll on the tick until it is back.
            let tick = tick.or_else(|| {
                shared
                    .poller
                    .unmute_failed()
                    .then_some(Duration::from_millis(1))
            });
            let timeout = [again, tick, shared.driver_timeout()]
                .into_iter()
                .flatten()
                .min();
            if polled.paced && again.is_none() {
                shared.poller.wait_paced(Role::Driver, timeout)
            } else {
                shared.poller.wait(Role::Driver, timeout)
            }
        });
        // Its own eventfd also means a leader returned with work left
        // (or the stack stops, which the loop checks first).
        woke.dev |= polled.left_queued || woke.own;
        woke.timer |= polled.due || woke.own;
    }
}
