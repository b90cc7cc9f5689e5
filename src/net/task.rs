//! Runtime-agnostic async primitives: `poll_*` methods on the sockets that
//! try an operation and, when it would block, register the task's
//! [`Waker`](std::task::Waker) with the driver (see `wake`). Any executor
//! can build on them; the `tokio` feature's types do.
//!
//! Each method checks and registers in one critical section under the
//! interface lock, so a change the driver makes in between is never
//! missed. Nothing is consumed unless the operation completes: a future
//! dropped while pending loses no bytes, datagrams or connections.
//!
//! An async runtime can also drive the device itself ([`Drive`]): its
//! reactor waits for the device to be readable and a task runs the poll
//! ([`runtime_round`]), so a segment is read, processed and handed to the
//! waiting task on the runtime's own thread, with no wake-up crossing
//! threads. The driver thread then stands by ([`standby`]): it services
//! timers and pokes (output the runtime's tasks leave to it), and polls
//! the device itself whenever the runtime leaves it unread for [`GRACE`]
//! (a runtime thread blocked in a system call, a current-thread runtime
//! outside `block_on`), until the runtime polls again.

use super::error;
use super::poller::Woke;
use super::wake::{EventFd, Slot};
use super::{Shared, Target, TcpListener, TcpStream, UdpSocket};
use crate::stack::Interface;
use crate::tcp::{RecvError, SendError};
use std::io;
use std::net::SocketAddr;
#[cfg(feature = "tokio")]
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Registers the task for `slot` of `target` and returns `Pending`, or an
/// error if the stack has stopped (nothing would ever wake it).
fn park<T>(
    shared: &Shared,
    iface: &mut Interface,
    target: Target,
    slot: Slot,
    cx: &Context<'_>,
) -> Poll<io::Result<T>> {
    shared.tasks.register(iface, target, slot, cx.waker());
    if shared.stop.load(Ordering::Acquire) {
        return Poll::Ready(Err(io::Error::other("stack stopped")));
    }
    Poll::Pending
}

impl TcpStream {
    /// Reads what is there, or registers the task to be woken when data,
    /// the end of stream or an error arrives.
    ///
    /// # Errors
    /// As [`Read::read`](std::io::Read::read) (`ConnectionReset`, ...).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        match tcb.recv(buf) {
            Ok(n) => {
                let wake = tcb.wants_transmit();
                drop(iface);
                if wake {
                    // Reading opened the window: let the driver send the update.
                    shared.waker.wake();
                }
                Poll::Ready(Ok(n))
            }
            Err(RecvError::WouldBlock) => park(shared, &mut iface, Target::Tcp(h), Slot::Read, cx),
            Err(e) => Poll::Ready(Err(error::recv(e))),
        }
    }

    /// Like [`poll_read`](Self::poll_read) but leaves the bytes queued.
    ///
    /// # Errors
    /// As `poll_read`.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        if tcb.recv_queue() > 0 || buf.is_empty() {
            return Poll::Ready(Ok(tcb.peek(buf)));
        }
        if let Some(e) = tcb.error() {
            return Poll::Ready(Err(error::connection(e)));
        }
        if tcb.can_recv() && !tcb.is_connecting() {
            return Poll::Ready(Ok(0));
        }
        park(shared, &mut iface, Target::Tcp(h), Slot::Read, cx)
    }

    /// Queues what fits of `buf` in the send buffer, or registers the task
    /// to be woken when there is room (or the connection failed).
    ///
    /// # Errors
    /// As [`Write::write`](std::io::Write::write) (`BrokenPipe` after a
    /// shutdown, the connection's error).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        let Some(tcb) = iface.tcp_mut(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        // As the blocking write: a request or response on an idle
        // connection leaves from this thread, at once; bulk data is left
        // to the driver, which overlaps sending with the next copy.
        let idle = tcb.send_queue() == 0;
        match tcb.send(buf) {
            Ok(n) => {
                drop(iface);
                if n > 0 && idle {
                    shared.transmit();
                } else if n > 0 {
                    shared.waker.wake();
                }
                Poll::Ready(Ok(n))
            }
            Err(SendError::WouldBlock) => park(shared, &mut iface, Target::Tcp(h), Slot::Write, cx),
            Err(e) => Poll::Ready(Err(error::send(e))),
        }
    }

    /// Ready once the handshake started by
    /// [`connect_nonblocking`](Self::connect_nonblocking) has finished.
    ///
    /// # Errors
    /// `ConnectionRefused`, `TimedOut` (after the SYN retries), ...
    pub fn poll_connect(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (shared, h) = (self.shared(), self.handle());
        let mut iface = shared.lock();
        // From the connection's events, as the blocking connect decides.
        let Some(ev) = iface.tcp_events(h) else {
            return Poll::Ready(Err(error::not_connected()));
        };
        if let Some(e) = ev.error {
            return Poll::Ready(Err(error::connection(e)));
        }
        if ev.connecting() {
            return park(shared, &mut iface, Target::Tcp(h), Slot::Write, cx);
        }
        Poll::Ready(Ok(()))
    }

    /// An eventfd that becomes readable whenever this connection's
    /// readiness may have changed: for foreign event loops and `mio`.
    /// Readiness is a hint, as with mio: after it fires, call
    /// [`EventFd::clear`] (level-triggered loops) and repeat the
    /// non-blocking operation until `WouldBlock`.
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        self.shared().tasks.fd(Target::Tcp(self.handle()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        self.shared().tasks.drop_fd(Target::Tcp(self.handle()));
    }
}

impl TcpListener {
    /// Takes an established connection, or registers the task to be woken
    /// when one is queued. The stream is in non-blocking mode.
    ///
    /// # Errors
    /// `NotConnected` if the connection vanished between the handshake and
    /// the accept.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if super::shards::is_sharded(self.shared()) {
            return self.poll_accept_any(cx);
        }
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_accept(&mut iface) {
            Ok((h, peer)) => {
                drop(iface);
                let s = TcpStream::from_handle(Arc::clone(shared), h);
                let _ = s.set_nonblocking(true);
                Poll::Ready(Ok((s, peer)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => park(
                shared,
                &mut iface,
                Target::Listener(self.port()),
                Slot::Read,
                cx,
            ),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// An eventfd signalled when a connection may be waiting; see
    /// [`TcpStream::readiness_fd`].
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        super::shards::target_fd(&self.shards(), Target::Listener(self.port()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        super::shards::drop_target_fd(&self.shards(), Target::Listener(self.port()));
    }
}

impl UdpSocket {
    /// Receives one datagram (from the peer, if connected), or registers
    /// the task to be woken when one arrives.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.poll_recv_inner(cx, buf, false)
    }

    /// Like [`poll_recv_from`](Self::poll_recv_from) but leaves the
    /// datagram queued.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.poll_recv_inner(cx, buf, true)
    }

    fn poll_recv_inner(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        peek: bool,
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        if super::shards::is_sharded(self.shared()) {
            return self.poll_recv_any(cx, buf, peek);
        }
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_recv(&mut iface, buf, peek) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                park(shared, &mut iface, Target::Udp(self.port()), Slot::Read, cx)
            }
            r => Poll::Ready(r),
        }
    }

    /// Queues one datagram to `dst`, or registers the task to be woken
    /// when the send queue has room.
    ///
    /// # Errors
    /// As [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        dst: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let shared = self.shared();
        let mut iface = shared.lock();
        match self.try_send(&mut iface, buf, dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => park(
                shared,
                &mut iface,
                Target::Udp(self.port()),
                Slot::Write,
                cx,
            ),
            r => {
                drop(iface);
                if r.is_ok() {
                    shared.waker.wake();
                }
                Poll::Ready(r)
            }
        }
    }

    /// An eventfd signalled when a datagram may be waiting or the send
    /// queue may have room; see [`TcpStream::readiness_fd`].
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        super::shards::target_fd(&self.shards(), Target::Udp(self.port()))
    }

    /// Stops signalling [`readiness_fd`](Self::readiness_fd).
    pub fn drop_readiness_fd(&self) {
        super::shards::drop_target_fd(&self.shards(), Target::Udp(self.port()));
    }
}

/// How long the standing-by driver thread leaves a readable device to the
/// runtime before it reads it itself. Also how often it checks, while the
/// device stays readable (a bulk transfer), that the runtime still runs.
const GRACE: Duration = Duration::from_millis(1);

/// No value (for the `u64` fields of [`Drive`]).
const NONE: u64 = u64::MAX;

/// The hand-over between the driver thread and an async runtime that
/// drives the device (one per stack).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) struct Drive {
    /// A runtime's driver task holds the claim.
    driven: AtomicBool,
    /// The runtime could not drive this stack (no fd, no I/O driver).
    unavailable: AtomicBool,
    /// Polls of the runtime's driver task: proof of life.
    beat: AtomicU64,
    /// `beat` when the thread last found the runtime stalled; it drives
    /// as usual until the beat moves on.
    stalled_at: AtomicU64,
    /// The driver task, woken when the stack stops.
    task: Mutex<Option<Waker>>,
}

impl Default for Drive {
    fn default() -> Drive {
        Drive {
            driven: AtomicBool::new(false),
            unavailable: AtomicBool::new(false),
            beat: AtomicU64::new(0),
            stalled_at: AtomicU64::new(NONE),
            task: Mutex::new(None),
        }
    }
}

impl Drive {
    pub(super) fn task_waker(&self) -> Option<Waker> {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Whether a runtime drives the device of `shared` now: it holds the
/// claim and was not found stalled. Blocked threads then follow rather
/// than lead (the runtime reads the device and wakes them).
pub(super) fn runtime_drives(shared: &Shared) -> bool {
    let d = &shared.tasks.drive;
    d.driven.load(Ordering::SeqCst)
        && d.stalled_at.load(Ordering::SeqCst) != d.beat.load(Ordering::SeqCst)
}

/// THE HOOK for the driver thread, in place of its epoll wait: while a
/// runtime drives the device, waits for what the thread still owns and
/// returns what woke it: a poke, the stack's timer (armed by whoever
/// polled, the runtime included), its own eventfd (stop), or a device
/// the runtime left unread for [`GRACE`] (then `dev`). `None` when no
/// runtime drives (or it is stalled): the thread waits and polls as
/// usual.
pub(super) fn standby(shared: &Shared) -> Option<Woke> {
    let d = &shared.tasks.drive;
    loop {
        let beat = d.beat.load(Ordering::SeqCst);
        if shared.stop.load(Ordering::Acquire)
            || !d.driven.load(Ordering::SeqCst)
            || d.stalled_at.load(Ordering::SeqCst) == beat
        {
            return None;
        }
        // Until the deadline the thread's own last poll left (see
        // `Pollers::driver_deadline`).
        let woke = shared
            .poller
            .stand_by(shared.poller.dev_fd, shared.driver_timeout());
        if woke.poke || woke.timer || woke.own {
            // The device is the runtime's.
            return Some(Woke { dev: false, ..woke });
        }
        if !woke.dev {
            if deadline_passed(shared) {
                // The thread's own deadline: poll, without the device.
                return Some(Woke::default());
            }
            continue; // interrupted
        }
        // The runtime reads the device; pokes and the timer still come
        // first, and the thread's own deadline if it is sooner.
        let start = std::time::Instant::now();
        let grace = shared.driver_timeout().map_or(GRACE, |t| t.min(GRACE));
        let woke = shared.poller.stand_by(None, Some(grace));
        if woke.poke || woke.timer || woke.own {
            return Some(woke);
        }
        if start.elapsed() < GRACE && deadline_passed(shared) {
            return Some(Woke::default());
        }
        if d.beat.load(Ordering::SeqCst) == beat {
            // The runtime did not run: read the device ourselves until it
            // polls again.
            d.stalled_at.store(beat, Ordering::SeqCst);
            return Some(Woke {
                dev: true,
                ..Woke::default()
            });
        }
    }
}

/// The deadline the driver thread's last poll left has come.
fn deadline_passed(shared: &Shared) -> bool {
    shared.driver_timeout().is_some_and(|t| t.is_zero())
}

/// The runtime side of [`Drive`]: a driver task holds it while it drives
/// the device; dropping it hands the device back to the thread.
#[cfg(feature = "tokio")]
pub(crate) struct Claim(Arc<Shared>);

#[cfg(feature = "tokio")]
impl Claim {
    /// Whether a runtime could claim `shared`'s device (cheap: two
    /// loads, for every poll of a tokio socket).
    pub(crate) fn wanted(shared: &Shared) -> bool {
        let d = &shared.tasks.drive;
        !d.driven.load(Ordering::Relaxed) && !d.unavailable.load(Ordering::Relaxed)
    }

    /// Claims the device of `shared` for a runtime, with its fd; `None`
    /// if a runtime drives it already or it cannot be driven so.
    pub(crate) fn take(shared: &Arc<Shared>) -> Option<(Claim, RawFd)> {
        let d = &shared.tasks.drive;
        if !Claim::wanted(shared) {
            return None;
        }
        // The device is locked only under the interface lock.
        let iface = shared.lock();
        let fd = shared
            .device
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_raw_fd();
        drop(iface);
        let Some(fd) = fd else {
            d.unavailable.store(true, Ordering::Relaxed);
            return None;
        };
        d.driven
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        Some((Claim(Arc::clone(shared)), fd))
    }

    /// [`take`](Self::take) for every shard of the stack of `shared`
    /// (just `shared` with one queue).
    pub(crate) fn take_all(shared: &Arc<Shared>) -> Vec<(Claim, RawFd)> {
        super::shards::all(shared)
            .iter()
            .filter_map(Claim::take)
            .collect()
    }

    /// Gives up for good: this stack stays with its thread.
    pub(crate) fn unavailable(self) {
        self.0
            .tasks
            .drive
            .unavailable
            .store(true, Ordering::Relaxed);
    }

    /// Called at every poll of the driver task, with its waker: counts a
    /// beat (the task runs), and returns false once the stack stopped.
    pub(crate) fn beat(&self, waker: &Waker) -> bool {
        let d = &self.0.tasks.drive;
        d.beat.fetch_add(1, Ordering::SeqCst);
        let mut task = d.task.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *task {
            Some(w) => w.clone_from(waker),
            None => *task = Some(waker.clone()),
        }
        drop(task);
        !self.0.stop.load(Ordering::Acquire)
    }

    /// Polls the interface from the runtime, reading the device: wakes
    /// the tasks (on this thread) and threads whose sockets changed.
    /// Returns true if it should round again at once (packets left
    /// queued, a timer already due).
    pub(crate) fn round(&self) -> bool {
        let shared = &*self.0;
        let mut ready = super::wake::Ready::default();
        let woke = Woke {
            dev: true,
            ..Woke::default()
        };
        // Arms the stack's timer as any poll does: the standing-by thread
        // sleeps on it.
        let polled = shared.poll_locked(&mut shared.lock_driver(), woke, &mut ready, false);
        if polled.activity {
            shared.notify_waiters();
            ready.signal();
        }
        // Packets left queued (`Interface::rx_more`) or a timer already
        // due: round again at once.
        polled.left_queued || polled.due
    }
}

#[cfg(feature = "tokio")]
impl Drop for Claim {
    fn drop(&mut self) {
        let d = &self.0.tasks.drive;
        d.driven.store(false, Ordering::SeqCst);
        d.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The thread stands by: make it look again.
        self.0.waker.wake();
    }
}
