//! The driver thread: the fallback poller. It sleeps in `epoll_wait(2)` on
//! the device, the poke eventfd and the stack's timer through the
//! driver's epoll set, which the kernel wakes only when no application
//! thread leads (see `poller`): then it lets the interface read a batch,
//! run timers and write, and wakes blocked users if anything happened. A
//! device without a descriptor is polled on a 1 ms tick instead.

use super::poller::{Role, Woke};
use super::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn run(shared: Arc<Shared>) {
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
        let (activity, left_queued) = {
            let mut iface = shared.lock_driver();
            let activity = shared.poll_locked(&mut iface, woke, &mut ready);
            (activity, woke.dev && iface.rx_more())
        };
        if activity {
            shared.notify_waiters();
            ready.signal();
        }
        shared.let_woken_run();
        // Packets still queued signal nobody: read on without sleeping.
        let more = left_queued.then_some(Duration::ZERO);
        woke = shared.poller.wait(Role::Driver, more.or(tick));
        // Its own eventfd also means a leader returned with packets left
        // queued (or the stack stops, which the loop checks first).
        woke.dev |= left_queued || woke.own;
    }
}
