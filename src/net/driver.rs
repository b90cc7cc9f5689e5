//! The driver thread: the only code that touches the device, unless an
//! async runtime drives it while the thread stands by (`task::standby`).
//! It sleeps in `ppoll(2)` on the device fd and the wake eventfd until the
//! interface's next timer, then lets the interface read a batch, run timers
//! and write, and wakes blocked users if anything happened. (A writer on an
//! idle connection sends its segment itself, `Shared::transmit`; the device
//! lives in `Shared` for that, locked under the interface lock.)

use super::Shared;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn run(shared: Arc<Shared>) {
    let dev_fd = shared
        .device
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_raw_fd();
    let wake_fd = shared.waker.fd();
    // What the last ppoll reported: read the device only when it is
    // readable, drain the eventfd only when it was signalled (each saves a
    // system call per wake-up). Read at first, to start from a clean slate.
    let mut dev_ready = true;
    // Wakers and eventfds to signal, gathered under the lock.
    let mut ready = super::wake::Ready::default();
    loop {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        // Without an fd the device can only be polled by reading it.
        let Round {
            activity, deadline, ..
        } = round(&shared, dev_ready || dev_fd.is_none(), &mut ready);
        if activity {
            shared.notify_waiters();
            ready.signal();
        }
        shared.let_woken_run();
        // A device without an fd (pure in-memory) is polled on a short tick.
        let timeout = match (dev_fd, deadline) {
            (None, d) => Some(
                d.unwrap_or(Duration::from_millis(1))
                    .min(Duration::from_millis(1)),
            ),
            (Some(_), d) => d,
        };
        let woken;
        // While an async runtime drives the device, the thread stands by
        // for timers, pokes and a stalled runtime (see `task::standby`).
        (dev_ready, woken) = match super::task::standby(&shared, dev_fd, wake_fd) {
            Some(r) => r,
            None => wait(dev_fd, wake_fd, timeout),
        };
        // Drained before the next poll, never after it: a poke that
        // arrives during that poll stays pending for the next ppoll.
        if woken {
            shared.waker.drain();
        }
    }
}

/// Sleeps until `dev` is readable, `wake` is signalled, or `timeout`;
/// returns (device readable, wake fd signalled). An error counts as both,
/// so the caller reads and drains rather than miss anything.
pub(super) fn wait(dev: Option<RawFd>, wake: RawFd, timeout: Option<Duration>) -> (bool, bool) {
    let mut fds = [
        libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: dev.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fds is a valid array of 2 pollfds (a negative fd is ignored by
    // the kernel); ts_ptr is null or points to a live timespec.
    let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, ts_ptr, std::ptr::null()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            log::error!("ppoll failed: {e}");
            std::thread::sleep(Duration::from_millis(1));
        }
        return (true, true);
    }
    let ready = |p: &libc::pollfd| p.revents != 0;
    (ready(&fds[1]), ready(&fds[0]))
}

/// What one [`round`] did.
pub(super) struct Round {
    /// Anything happened that a waiting user might care about.
    pub(super) activity: bool,
    /// Time until the next timer.
    pub(super) deadline: Option<Duration>,
    /// The device was read for a whole batch: more may be waiting.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(super) more: bool,
}

/// One poll of the interface under the lock: reads the device if `read`
/// (else only runs timers and writes), gathers the wakers and eventfds to
/// signal into `ready`, and publishes the next deadline. The caller
/// signals (`notify_waiters`, `ready.signal()`) after it.
pub(super) fn round(shared: &Shared, read: bool, ready: &mut super::wake::Ready) -> Round {
    let mut iface = shared.lock_driver();
    let mut device = shared.device.lock().unwrap_or_else(|p| p.into_inner());
    let now = shared.now();
    let reads = |s: &crate::stack::Stats| s.rx_packets + s.rx_empty + s.rx_errors;
    let before = reads(iface.stats());
    let activity = if read {
        iface.poll(now, &mut **device)
    } else {
        iface.poll_output(now, &mut **device)
    };
    drop(device);
    let more = reads(iface.stats()).saturating_sub(before) >= crate::stack::RX_BATCH as u64;
    if activity {
        shared.tasks.collect(&mut iface, ready);
    }
    let next = iface.poll_at();
    // Published under the lock: a writer that arms an earlier timer
    // after this sees it and wakes the driver.
    shared.driver_deadline.store(
        next.map_or(u64::MAX, |t| t.total_micros()),
        Ordering::SeqCst,
    );
    Round {
        activity,
        deadline: next.map(|t| t.saturating_duration_since(shared.now())),
        more,
    }
}
