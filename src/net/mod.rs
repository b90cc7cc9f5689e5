//! The `std::net`-shaped API: [`Stack`], [`TcpStream`], [`TcpListener`].
//!
//! The only module with threads, locks, the real clock and OS randomness.
//! A [`Stack`] owns one driver thread that owns the device; sockets share
//! the [`Interface`](crate::stack::Interface) behind a mutex and block on a
//! condition variable the driver signals after every poll that did
//! something. Blocking is the default: `write` waits while the send buffer
//! is full, `read` while the receive buffer is empty; in non-blocking mode
//! both return `io::ErrorKind::WouldBlock` instead (the EAGAIN of C
//! sockets). A `write`, `close` or `connect` pokes an eventfd so segments
//! leave at once rather than at the next timer. Over a multiqueue TUN
//! (`Config::queues > 1`) a stack is one such shard per queue (see
//! `net/shards.rs`).

mod driver;
mod error;
mod listener;
#[cfg(feature = "mio")]
mod mio_source;
pub mod poll;
mod shards;
mod stream;
mod task;
mod udp;
mod wake;

pub use crate::stack::{Config, Stats, MAX_BACKLOG, MAX_QUEUES};
pub use listener::TcpListener;
pub(crate) use poll::Target;
pub use poll::{Events, Interest, Poll, Token};
pub use stream::{TcpInfo, TcpStream};
#[cfg(feature = "tokio")]
pub(crate) use task::Claim;
pub use udp::UdpSocket;
pub use wake::EventFd;
pub(crate) use wake::Tasks;

use crate::device::{Device, Offload, TunConfig};
use crate::stack::Interface;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// An eventfd the driver sleeps on beside the device.
struct Waker(OwnedFd);

impl Waker {
    fn new() -> io::Result<Waker> {
        // SAFETY: plain eventfd(2) call.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Waker(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; EAGAIN (counter full)
        // means a wake-up is already pending, which is all we need.
        unsafe { libc::write(self.fd(), (&one as *const u64).cast(), 8) };
    }

    fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN when not signalled.
        unsafe { libc::read(self.fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

/// State shared by the driver thread and every socket of a stack.
pub(crate) struct Shared {
    iface: Mutex<Interface>,
    cond: Condvar,
    /// Threads sleeping on `cond`, counted under the lock (see
    /// [`Shared::notify_waiters`]).
    waiters: AtomicUsize,
    /// Waiters woken by the last notification that have not yet taken the
    /// lock back (see [`Shared::let_woken_run`]).
    woken: AtomicUsize,
    /// Application threads blocked on the interface lock.
    contending: AtomicUsize,
    waker: Waker,
    /// Tasks and eventfds waiting for readiness (see [`wake`]).
    pub(crate) tasks: Tasks,
    /// The device. Locked only while `iface` is held (so never contended):
    /// by the driver for each poll, and by a writer sending on an idle
    /// connection itself ([`Shared::transmit`]).
    device: Mutex<Box<dyn Device + Send>>,
    /// The stack time (µs) the driver sleeps until, `u64::MAX` for no
    /// timer; set under `iface`. Whoever arms an earlier timer wakes it.
    driver_deadline: AtomicU64,
    stop: AtomicBool,
    epoch: std::time::Instant,
    /// What the device offloads (fixed when the stack starts).
    offload: Offload,
    /// The shards of a multiqueue stack, this one among them (see
    /// [`shards`]); unset with one queue.
    group: std::sync::OnceLock<shards::Group>,
}

impl Shared {
    fn now(&self) -> crate::time::Instant {
        crate::time::Instant::from_micros(
            u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Interface> {
        if let Ok(g) = self.iface.try_lock() {
            return g;
        }
        // Counted so the driver lets this thread in before relocking.
        self.contending.fetch_add(1, Ordering::SeqCst);
        let g = self.lock_driver();
        self.contending.fetch_sub(1, Ordering::SeqCst);
        g
    }

    /// The lock, for the driver: see [`Shared::let_woken_run`].
    fn lock_driver(&self) -> MutexGuard<'_, Interface> {
        // A panic while holding the lock cannot leave the interface
        // half-updated in a way later calls can't handle; keep going.
        match self.iface.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `f` under the lock until it returns `Some`, sleeping on the
    /// condition variable in between, until `deadline`.
    ///
    /// `Err(())` means the deadline passed.
    fn wait_for<T>(
        &self,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut Interface) -> Option<T>,
    ) -> Result<T, ()> {
        let mut guard = self.lock();
        loop {
            if let Some(v) = f(&mut guard) {
                return Ok(v);
            }
            if self.stop.load(Ordering::Acquire) {
                return Err(());
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Err(());
                    }
                    Some(d - now)
                }
            };
            // Counted while the lock is held: whoever changes the interface
            // under the lock afterwards sees the count (notify_waiters).
            self.waiters.fetch_add(1, Ordering::SeqCst);
            guard = match timeout {
                None => self.cond.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(t) => {
                    self.cond
                        .wait_timeout(guard, t)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            let _ = self
                .woken
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        }
    }

    /// Sends what is ready (an idle connection's new data) from the
    /// calling thread instead of waking the driver to do it: saves the
    /// eventfd write, the driver's wake-up and its eventfd read per
    /// request or response, as a kernel socket sends from `write(2)`.
    /// Wakes the driver only when a timer armed here (the RTO) comes
    /// before the one it sleeps until.
    fn transmit(&self) {
        let mut iface = self.lock();
        let Ok(mut device) = self.device.try_lock() else {
            // Only under a panic elsewhere: leave it to the driver.
            drop(iface);
            self.waker.wake();
            return;
        };
        let now = self.now();
        let activity = iface.poll_output(now, &mut **device);
        drop(device);
        let next = iface.poll_at().map_or(u64::MAX, |t| t.total_micros());
        let mut ready = wake::Ready::default();
        if activity {
            self.tasks.collect(&mut iface, &mut ready);
            self.notify_waiters();
        }
        drop(iface);
        ready.signal();
        if next < self.driver_deadline.load(Ordering::SeqCst) {
            self.waker.wake();
        }
    }

    /// Wakes the threads waiting in [`wait_for`](Self::wait_for), if any,
    /// after a change made under the lock (a waiter counts itself before
    /// it releases the lock to sleep, so it cannot be missed). Saves the
    /// futex system call `notify_all` makes even with nobody waiting: the
    /// driver calls this after every busy poll.
    ///
    /// The one place where a change to the sockets (a segment, a timer, a
    /// user call another thread waits on) wakes those who wait: blocked
    /// reads, writes, connects, lingering closes and `Poll::poll`, which
    /// then look at the connections' events again. Only the registration
    /// changes of a `Poll` and stopping the stack notify otherwise.
    /// Wakes the tasks and eventfds of sockets a user call changed outside
    /// a poll (as [`notify_waiters`](Self::notify_waiters) does for
    /// blocked threads): compared under the interface lock, signalled
    /// after it.
    pub(crate) fn wake_tasks(&self) {
        let mut ready = wake::Ready::default();
        self.tasks.collect(&mut self.lock(), &mut ready);
        ready.signal();
    }

    fn notify_waiters(&self) {
        let n = self.waiters.load(Ordering::SeqCst);
        if n > 0 {
            self.woken.store(n, Ordering::SeqCst);
            self.cond.notify_all();
        }
    }

    /// Called by the driver between two polls: gives the threads it woke,
    /// and those blocked on the lock, the lock before it takes it again (briefly, at most
    /// [`HANDOFF`]). The mutex is not fair, and a driver that relocks at
    /// once while packets keep coming starves a woken reader until the
    /// receive window closes: the application could keep up, but never
    /// got to read.
    fn let_woken_run(&self) {
        let start = std::time::Instant::now();
        while (self.woken.load(Ordering::SeqCst) > 0 || self.contending.load(Ordering::SeqCst) > 0)
            && start.elapsed() < HANDOFF
        {
            std::thread::yield_now();
        }
    }
}

/// A TTL as `std::net` takes it (`u32`), checked to fit the IP header.
fn valid_ttl(ttl: u32) -> io::Result<u8> {
    u8::try_from(ttl)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "TTL must be 1..=255"))
}

/// Longest the driver waits for woken threads to take the lock.
const HANDOFF: std::time::Duration = std::time::Duration::from_micros(500);

/// A running TCP/IP stack: an interface plus its driver thread.
///
/// Dropping the stack stops the driver; sockets still open then fail with
/// `NotConnected`. Call [`shutdown`](Stack::shutdown) first to let open
/// connections finish closing.
pub struct Stack {
    /// The first (with one queue, the only) shard.
    shared: Arc<Shared>,
    driver: Option<JoinHandle<()>>,
    /// The other shards of a multiqueue stack (see [`shards`]).
    others: Vec<(Arc<Shared>, Option<JoinHandle<()>>)>,
}

impl Stack {
    /// Starts a stack on `device`. The ISN and port-randomization secret is
    /// drawn from the OS, replacing `config.secret`.
    ///
    /// # Errors
    /// Creating the wake-up eventfd or the driver thread failed.
    pub fn new<D: Device + Send + 'static>(device: D, mut config: Config) -> io::Result<Stack> {
        config.secret = [rand::random(), rand::random()];
        // One device, one shard: no port is reserved for another queue.
        config.queues = 1;
        config.queue = 0;
        let (shared, driver) = Stack::start(Box::new(device), config, std::time::Instant::now())?;
        Ok(Stack {
            shared,
            driver: Some(driver),
            others: Vec::new(),
        })
    }

    /// Starts one shard: an interface and its driver thread on `device`.
    fn start(
        device: Box<dyn Device + Send>,
        mut config: Config,
        epoch: std::time::Instant,
    ) -> io::Result<(Arc<Shared>, JoinHandle<()>)> {
        config.mtu = config.mtu.min(device.mtu());
        let offload = device.offload();
        let shared = Arc::new(Shared {
            iface: Mutex::new(Interface::new(config)),
            cond: Condvar::new(),
            waiters: AtomicUsize::new(0),
            woken: AtomicUsize::new(0),
            contending: AtomicUsize::new(0),
            waker: Waker::new()?,
            tasks: Tasks::default(),
            device: Mutex::new(device),
            driver_deadline: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            epoch,
            offload,
            group: std::sync::OnceLock::new(),
        });
        let s = Arc::clone(&shared);
        let driver = std::thread::Builder::new()
            .name("tunstack-driver".into())
            .spawn(move || driver::run(s))?;
        Ok((shared, driver))
    }

    /// Opens (and configures) a TUN interface and starts a stack on it.
    ///
    /// # Errors
    /// See [`TunDevice::open`](crate::device::TunDevice::open),
    /// [`VnetTunDevice::open`](crate::device::VnetTunDevice::open) and
    /// [`Stack::new`].
    pub fn open_tun(tun: &TunConfig, mut config: Config) -> io::Result<Stack> {
        if config.queues != 1 {
            return shards::open_tun(tun, config);
        }
        let dev = crate::device::open_tun(tun)?;
        config.mtu = tun.mtu;
        config.prefix_len = tun.prefix;
        Stack::new(dev, config)
    }

    /// Our IPv4 address.
    pub fn addr(&self) -> Ipv4Addr {
        self.shared.lock().addr()
    }

    /// Our IPv6 address.
    pub fn addr6(&self) -> Ipv6Addr {
        self.shared.lock().addr6()
    }

    /// What the device offloads: TSO and checksums with a
    /// [`VnetTunDevice`](crate::device::VnetTunDevice), nothing with a
    /// plain TUN or a capturing wrapper.
    pub fn offload(&self) -> Offload {
        self.shared.offload
    }

    /// A snapshot of the stack's counters (of all its queues together).
    pub fn stats(&self) -> Stats {
        let mut total = *self.shared.lock().stats();
        for (s, _) in &self.others {
            total += s.lock().stats();
        }
        total
    }

    /// The counters of each queue of a multiqueue stack, in queue order
    /// (one entry with one queue).
    pub fn queue_stats(&self) -> Vec<Stats> {
        self.shards().map(|s| *s.lock().stats()).collect()
    }

    /// TCP connections in the table, half-open and TIME-WAIT included.
    pub fn connection_count(&self) -> usize {
        self.shards().map(|s| s.lock().connection_count()).sum()
    }

    /// Every shard, the first one first.
    fn shards(&self) -> impl Iterator<Item = &Arc<Shared>> {
        std::iter::once(&self.shared).chain(self.others.iter().map(|(s, _)| s))
    }

    /// Waits up to `timeout` for every connection to finish closing (TIME-WAIT
    /// counts as finished), then stops the driver. Returns true if all
    /// connections closed in time.
    pub fn shutdown(mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let done = self.shards().all(|s| {
            s.wait_for(Some(deadline), |i| {
                (i.active_connection_count() == 0).then_some(())
            })
            .is_ok()
        });
        self.stop();
        done
    }

    fn stop(&mut self) {
        stop_shard(&self.shared, self.driver.take());
        for (s, d) in &mut self.others {
            stop_shard(s, d.take());
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// An eventfd that becomes readable whenever the stack did something
    /// (a segment, a datagram, a timer): a foreign event loop (epoll,
    /// poll, another runtime) waits on it beside its own descriptors, then
    /// calls [`EventFd::clear`] and tries its non-blocking operations (or a
    /// [`Poll::poll`] with a zero timeout). An idle stack never signals
    /// it. For one socket's readiness, see the sockets' `readiness_fd`.
    ///
    /// # Errors
    /// Creating the eventfd failed.
    pub fn readiness_fd(&self) -> io::Result<Arc<EventFd>> {
        shards::stack_fd(self)
    }
}

/// Stops one shard's driver and wakes everything waiting on it.
fn stop_shard(shared: &Shared, driver: Option<JoinHandle<()>>) {
    shared.stop.store(true, Ordering::Release);
    shared.waker.wake();
    shared.cond.notify_all();
    if let Some(d) = driver {
        let _ = d.join();
    }
    let mut ready = wake::Ready::default();
    shared.tasks.all(&mut ready);
    ready.signal();
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("addr", &self.addr()).finish()
    }
}
