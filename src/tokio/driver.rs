//! The runtime drives the device: a task per stack, woken by tokio's
//! reactor when the device fd is readable, runs the interface's poll on
//! the runtime's thread ([`Claim::round`]). A reply is then read,
//! processed and handed to the task awaiting it without a wake-up
//! crossing threads; on a current-thread runtime, without leaving the
//! thread at all. The stack's driver thread stands by meanwhile (timers,
//! output left to it, and the device whenever the runtime stalls; see
//! `net::task`).
//!
//! The first socket a runtime creates or polls on a stack starts the task
//! (`ensure`), one per queue of a multiqueue stack; one runtime drives a
//! stack at a time. The task ends when
//! the stack stops or the runtime shuts down, and the thread takes over.

use crate::net::Claim;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Rounds per poll before the task lets the runtime run the tasks it
/// woke (each reads up to a batch of packets).
const ROUNDS: usize = 4;

/// The device's fd, borrowed: the stack owns it, and the task holding
/// this holds the stack's shared state (so it stays open).
struct DeviceFd(RawFd);

impl AsRawFd for DeviceFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Starts a driver task for each queue (shard) of the stack of `shared`
/// on the current runtime, unless a runtime drives it already, there is
/// no runtime here, or the device cannot be driven so (no fd, a runtime
/// without `enable_io`).
pub(crate) fn ensure(shared: &Arc<crate::net::Shared>) {
    if !Claim::wanted(shared) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    for (claim, fd) in Claim::take_all(shared) {
        // Registering without an I/O driver panics inside tokio, as
        // tokio's own sockets do; here the thread simply keeps the device
        // (built with panic=abort, the process aborts, as with tokio's).
        let dev = std::panic::catch_unwind(|| {
            // SAFETY: the fd is the device's, open while the shard's shared
            // state lives; the `Driver` holding this holds that state (its
            // `claim`, dropped after `dev`), and the device never changes.
            unsafe { AsyncFd::register_with_interest(DeviceFd(fd), Interest::READABLE) }
        });
        match dev {
            Ok(Ok(dev)) => {
                rt.spawn(Driver {
                    dev,
                    claim,
                    more: false,
                });
            }
            _ => claim.unavailable(),
        }
    }
}

/// Fields drop in order: `dev` deregisters while `claim` keeps the fd open.
struct Driver {
    dev: AsyncFd<DeviceFd>,
    claim: Claim,
    /// The last round read a whole batch: read again without waiting.
    more: bool,
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.claim.beat(cx.waker()) {
            return Poll::Ready(());
        }
        for _ in 0..ROUNDS {
            let mut read = std::mem::take(&mut this.more);
            match this.dev.poll_read_ready(cx) {
                Poll::Ready(Ok(mut ready)) => {
                    // Cleared before reading: a packet that arrives after
                    // the read starts raises readiness again.
                    ready.clear_ready();
                    read = true;
                }
                // The reactor is gone: the thread takes over.
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {}
            }
            if !read {
                return Poll::Pending;
            }
            this.more = this.claim.round();
        }
        // Let the tasks it woke run before reading on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
