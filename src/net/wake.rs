//! Readiness for async code and foreign event loops: the wakers and
//! eventfds that the driver signals at its one notification point, beside
//! the condition variable blocked threads sleep on.
//!
//! A registration names a socket ([`Target`]), what it waits for
//! ([`Slot`]), and the socket's readiness-change counter when it last
//! looked (under the interface lock, in the same critical section as the
//! failed operation). After every poll that did something, the driver
//! compares each registration's counter with the socket's (under the same
//! lock): a task whose socket changed is woken once and forgotten, as
//! `Waker` semantics want; an eventfd is signalled and stays registered.
//! No change can slip between an operation's check and its registration,
//! so no wake-up is lost, and an idle stack signals nothing.

use super::poll::Target;
use crate::stack::Interface;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// What a registration waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// A task waiting to read, accept or receive.
    Read,
    /// A task waiting to write, send or finish connecting.
    Write,
    /// An eventfd signalled on every change (mio, foreign loops).
    Fd,
}

enum Notify {
    Task(Waker),
    Fd(Arc<EventFd>),
}

struct Entry {
    /// The socket's counter when the registrant last looked; `None`:
    /// signal at the next notification (a fresh eventfd).
    seen: Option<u64>,
    notify: Notify,
}

/// The registrations of one stack.
#[derive(Default)]
pub(crate) struct Tasks {
    /// Registrations, read without the lock by the driver's fast path:
    /// a stack nobody awaits pays one atomic load per busy poll.
    count: AtomicUsize,
    map: Mutex<HashMap<(Target, Slot), Entry>>,
    /// The stack-wide readiness fd, signalled after every poll that did
    /// something (see [`Stack::readiness_fd`](super::Stack::readiness_fd)).
    stack: Mutex<Option<Arc<EventFd>>>,
    /// Whether an async runtime drives the device (see `task::standby`).
    pub(crate) drive: super::task::Drive,
}

/// What one notification must signal, gathered under the interface lock
/// and signalled after it is released.
#[derive(Default)]
pub(crate) struct Ready {
    wakers: Vec<Waker>,
    fds: Vec<Arc<EventFd>>,
}

impl Ready {
    pub(crate) fn is_empty(&self) -> bool {
        self.wakers.is_empty() && self.fds.is_empty()
    }

    pub(crate) fn signal(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
        for f in self.fds.drain(..) {
            f.signal();
        }
    }
}

/// The readiness-change counter of a target; `None` once it is gone.
pub(crate) fn counter(iface: &mut Interface, t: Target) -> Option<u64> {
    match t {
        Target::Tcp(h) => iface.tcp_events(h).map(|e| e.count),
        Target::Listener(port) => iface.listener_events(port),
        Target::Udp(port) => iface.udp_events(port),
    }
}

impl Tasks {
    fn map(&self) -> MutexGuard<'_, HashMap<(Target, Slot), Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `waker` to be woken when `target` changes after now. Call
    /// under the interface lock, right after the operation that would
    /// block; replaces the slot's earlier waker (only the last poll's
    /// waker is woken, as `Future::poll` requires).
    pub(crate) fn register(
        &self,
        iface: &mut Interface,
        target: Target,
        slot: Slot,
        waker: &Waker,
    ) {
        let seen = counter(iface, target);
        let mut map = self.map();
        match map.get_mut(&(target, slot)) {
            Some(e) => {
                e.seen = seen;
                match &mut e.notify {
                    Notify::Task(w) => w.clone_from(waker),
                    n @ Notify::Fd(_) => *n = Notify::Task(waker.clone()),
                }
            }
            None => {
                map.insert(
                    (target, slot),
                    Entry {
                        seen,
                        notify: Notify::Task(waker.clone()),
                    },
                );
            }
        }
        self.recount(map.len());
    }

    /// The eventfd of `target`, created (and signalled once, so the first
    /// readiness is reported) on first use.
    pub(crate) fn fd(&self, target: Target) -> io::Result<Arc<EventFd>> {
        let mut map = self.map();
        if let Some(Entry {
            notify: Notify::Fd(f),
            ..
        }) = map.get(&(target, Slot::Fd))
        {
            return Ok(Arc::clone(f));
        }
        let fd = Arc::new(EventFd::new()?);
        fd.signal();
        map.insert(
            (target, Slot::Fd),
            Entry {
                seen: None,
                notify: Notify::Fd(Arc::clone(&fd)),
            },
        );
        self.recount(map.len());
        Ok(fd)
    }

    /// Makes `fd` the eventfd of `target` here too: one readiness fd for
    /// a socket bound on every shard of a multiqueue stack.
    pub(crate) fn attach_fd(&self, target: Target, fd: &Arc<EventFd>) {
        let mut map = self.map();
        map.insert(
            (target, Slot::Fd),
            Entry {
                seen: None,
                notify: Notify::Fd(Arc::clone(fd)),
            },
        );
        self.recount(map.len());
    }

    /// Makes `fd` the stack-wide readiness fd here too (for the shards of
    /// a multiqueue stack).
    pub(crate) fn attach_stack_fd(&self, fd: &Arc<EventFd>) {
        *self.stack_fd() = Some(Arc::clone(fd));
        let len = self.map().len();
        self.recount(len);
    }

    fn stack_fd(&self) -> MutexGuard<'_, Option<Arc<EventFd>>> {
        self.stack.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stack-wide readiness fd, created on first use.
    pub(crate) fn stack_fd_get(&self) -> io::Result<Arc<EventFd>> {
        let mut slot = self.stack_fd();
        if let Some(f) = &*slot {
            return Ok(Arc::clone(f));
        }
        let fd = Arc::new(EventFd::new()?);
        *slot = Some(Arc::clone(&fd));
        // Counted as a registration so the driver's fast path sees it.
        self.count.fetch_add(1, Ordering::AcqRel);
        Ok(fd)
    }

    /// Forgets `target`'s eventfd.
    pub(crate) fn drop_fd(&self, target: Target) {
        let mut map = self.map();
        map.remove(&(target, Slot::Fd));
        self.recount(map.len());
    }

    fn recount(&self, registrations: usize) {
        let stack = usize::from(self.stack_fd().is_some());
        self.count.store(registrations + stack, Ordering::Release);
    }

    /// THE HOOK: called by the driver under the interface lock after a
    /// poll that did something. Moves the wakers of changed (or vanished)
    /// sockets into `ready` and collects the eventfds to signal.
    pub(crate) fn collect(&self, iface: &mut Interface, ready: &mut Ready) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut map = self.map();
        map.retain(|(target, _), e| {
            // A vanished socket counts as one last change (its waiters
            // then see the error), reported once.
            let now = counter(iface, *target).unwrap_or(u64::MAX);
            if e.seen == Some(now) {
                return true;
            }
            match &e.notify {
                Notify::Task(w) => {
                    ready.wakers.push(w.clone());
                    false
                }
                Notify::Fd(f) => {
                    e.seen = Some(now);
                    ready.fds.push(Arc::clone(f));
                    true
                }
            }
        });
        if let Some(f) = &*self.stack_fd() {
            ready.fds.push(Arc::clone(f));
        }
        self.recount(map.len());
    }

    /// Signals everything (the stack is stopping: every operation now
    /// fails, and its waiters must hear it).
    pub(crate) fn all(&self, ready: &mut Ready) {
        let mut map = self.map();
        for (_, e) in map.drain() {
            match e.notify {
                Notify::Task(w) => ready.wakers.push(w),
                Notify::Fd(f) => ready.fds.push(f),
            }
        }
        if let Some(f) = &*self.stack_fd() {
            ready.fds.push(Arc::clone(f));
        }
        self.recount(0);
        // A runtime's driver task hears it too, and ends.
        if let Some(w) = self.drive.task_waker() {
            ready.wakers.push(w);
        }
    }
}

/// A Linux eventfd: readable while signalled. Non-blocking; `clear` reads
/// the counter back to zero.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: plain eventfd(2) call.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the fd readable.
    pub(crate) fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; EAGAIN (counter full)
        // means it is signalled already, which is all we need.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the fd to not readable; true if it was signalled.
    pub fn clear(&self) -> bool {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN when not signalled.
        let n = unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        n == 8
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
