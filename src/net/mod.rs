//! The `std::net`-shaped API: [`Stack`], [`TcpStream`], [`TcpListener`].
//!
//! The only module with threads, locks, the real clock and OS randomness.
//! Sockets share the [`Interface`](crate::stack::Interface) behind a
//! mutex. A thread that blocks in a socket call while nobody else waits on
//! the device becomes the leader: it waits on the device, the poke
//! eventfd and the stack's timer itself, polls the interface when one
//! fires, and returns as soon as its own call can complete, so a segment
//! wakes the thread that wants it and nobody else. Other blocked threads
//! wait on a condition variable that whoever polled signals. A [`Stack`]'s
//! driver thread is the fallback poller: the kernel wakes it only when no
//! leader sleeps (see `poller`), nor for the kernel's answer to a segment
//! an application thread writes, which that thread reads itself (see
//! `poller_echo`). Blocking is the default: `write` waits
//! while the send buffer is full, `read` while the receive buffer is empty;
//! in non-blocking mode both return `io::ErrorKind::WouldBlock` instead
//! (the EAGAIN of C sockets). A write to an idle connection, a connect's
//! SYN, a close's FIN and a read's due ACK leave from the calling thread;
//! other calls poke the eventfd so segments leave at once rather than at
//! the next timer. While an async runtime drives the device the driver
//! stands by and blocked threads follow (see `task`). Over a multiqueue
//! TUN (`Config::queues > 1`) a stack is one such shard per queue, each
//! with its own leader, driver and timer (see `net/shards.rs`).

mod driver;
mod error;
mod listener;
#[cfg(feature = "mio")]
mod mio_source;
pub mod poll;
mod poller;
mod poller_echo;
mod shards;
mod stream;
mod task;
mod timeout;
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
use poller::{Pollers, Role, Waker, Woke};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// The driver thread, parked in [`Shared::let_woken_run`] until the
    /// threads it let in have the lock.
    handoff: Handoff,
    waker: Waker,
    /// Tasks and eventfds waiting for readiness (see [`wake`]).
    pub(crate) tasks: Tasks,
    /// The device. Locked only while `iface` is held (so never contended):
    /// by whoever polls (the driver or a leader), and by a writer sending
    /// on an idle connection itself ([`Shared::transmit`]).
    device: Mutex<Box<dyn Device + Send>>,
    /// Who sleeps on the device and the timer (see [`poller`]).
    poller: Pollers,
    stop: AtomicBool,
    epoch: std::time::Instant,
    /// Polls by the driver thread (`Stats::driver_polls`).
    driver_polls: std::sync::atomic::AtomicU64,
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

    /// The interface's counters, with the driver's polls.
    fn stats(&self) -> Stats {
        let mut st = *self.lock().stats();
        st.driver_polls = self.driver_polls.load(Ordering::Relaxed);
        st
    }

    fn lock(&self) -> MutexGuard<'_, Interface> {
        if let Ok(g) = self.iface.try_lock() {
            return g;
        }
        // Counted so the driver lets this thread in before relocking.
        self.contending.fetch_add(1, Ordering::SeqCst);
        let g = self.lock_driver();
        self.contending.fetch_sub(1, Ordering::SeqCst);
        self.took_lock();
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

    /// Runs `f` under the lock until it returns `Some`, until `deadline`.
    /// In between, the calling thread either leads (if nobody else
    /// waits on the device: it sleeps in the leader's epoll set and polls
    /// the interface itself when the device, a poke or the timer fires)
    /// or follows (sleeps on the condition variable until whoever polls
    /// says something changed). See [`poller`].
    ///
    /// `Err(())` means the deadline passed.
    fn wait_for<T>(
        &self,
        deadline: Option<std::time::Instant>,
        f: impl FnMut(&mut Interface) -> Option<T>,
    ) -> Result<T, ()> {
        self.wait_as(Wait::MayLead, deadline, f)
    }

    /// [`wait_for`](Self::wait_for), saying whether the caller may lead.
    fn wait_as<T>(
        &self,
        how: Wait,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut Interface) -> Option<T>,
    ) -> Result<T, ()> {
        let mut guard = self.lock();
        // This thread led and left packets queued (a full batch): the
        // device will not signal them again, so whoever polls next must
        // be told; the leader itself, if it waits again.
        let mut last = Polled::default();
        let r = loop {
            if let Some(v) = f(&mut guard) {
                break Ok(v);
            }
            if self.stop.load(Ordering::Acquire) {
                break Err(());
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        break Err(());
                    }
                    Some(d - now)
                }
            };
            // While an async runtime drives the device it reads it, and
            // wakes this thread as the driver would: a leader would only
            // race it for every packet.
            if how == Wait::MayLead && !task::runtime_drives(self) && self.poller.try_lead() {
                // Taken under the lock: a change made under it from now
                // on signals the leader's eventfd (notify_waiters), which
                // stays readable until this thread drains it after waking.
                drop(guard);
                let again = last.left_queued || last.due;
                let mut woke = if again {
                    self.poller.wait(Role::Leader, Some(Duration::ZERO))
                } else if last.paced {
                    self.poller.wait_paced(Role::Leader, timeout)
                } else {
                    self.poller.wait(Role::Leader, timeout)
                };
                woke.dev |= last.left_queued;
                woke.timer |= last.due;
                (guard, last) = self.lead_poll(self.lock(), woke);
                // Given up at once: if `f` still says wait, the loop takes
                // it again without releasing the lock; if not, the next
                // event goes to the driver, which sleeps on the same
                // descriptors (nothing to hand over).
                self.poller.resign();
                continue;
            }
            guard = self.follow(guard, timeout);
        };
        if last.left_queued || last.due {
            // Work this thread would have done next: the driver does it.
            self.poller.wake_driver();
        }
        r
    }

    /// Waits as a follower: on the condition variable until whoever polls
    /// says something changed, or `timeout` passes; returns with the lock.
    fn follow<'a>(
        &'a self,
        guard: MutexGuard<'a, Interface>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Interface> {
        // Counted while the lock is held: whoever changes the interface
        // under the lock afterwards sees the count (notify_waiters).
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let guard = match timeout {
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
        self.took_lock();
        guard
    }

    /// The error for a blocking call whose [`wait_for`](Self::wait_for)
    /// gave up: the stack stopped (`NotConnected`, as for any socket of a
    /// dropped stack) or the timeout passed (`WouldBlock`, as Linux's
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` report it).
    fn gave_up(&self) -> io::Error {
        if self.stop.load(Ordering::Acquire) {
            error::not_connected()
        } else {
            error::would_block()
        }
    }

    /// The leader's poll after it woke for `woke` (under the lock, which
    /// it releases and retakes only if it has tasks to wake): what the
    /// driver does, except that the leader needs no wake-up itself.
    fn lead_poll<'a>(
        &'a self,
        mut guard: MutexGuard<'a, Interface>,
        woke: Woke,
    ) -> (MutexGuard<'a, Interface>, Polled) {
        if !(woke.dev || woke.poke || woke.timer) {
            // Woken by another thread's change, or timed out: `f` looks.
            return (guard, Polled::default());
        }
        let mut ready = wake::Ready::default();
        let polled = self.poll_locked(&mut guard, woke, &mut ready, false);
        if polled.activity {
            self.notify_followers();
            if !ready.is_empty() {
                // Wakers run foreign code: never under the interface lock.
                drop(guard);
                ready.signal();
                guard = self.lock();
            }
        }
        (guard, polled)
    }

    /// One poll of the interface by whoever woke for `woke` (the driver
    /// or a leader), under the lock: reads the device if it is readable,
    /// runs due timers, writes what is ready, gathers the tasks and
    /// eventfds to signal into `ready`, and re-arms the timer, or for the
    /// driver thread (`driver`) sets the deadline it sleeps until.
    fn poll_locked(
        &self,
        iface: &mut Interface,
        woke: Woke,
        ready: &mut wake::Ready,
        driver: bool,
    ) -> Polled {
        if woke.timer {
            self.poller.timer_fired();
        }
        let mut device = self.device.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now();
        // Without an fd the device can only be polled by reading it.
        let read = woke.dev || !self.poller.has_device_fd;
        // Whether the device was read with a descriptor to signal it.
        let mut read_dev = woke.dev;
        let (activity, changed) = if driver {
            // Only after a failed EPOLL_CTL_ADD is there anything to undo.
            self.poller.unmute_driver();
            let activity = if read {
                iface.poll(now, &mut **device)
            } else {
                iface.poll_output(now, &mut **device)
            };
            (activity, iface.poll_changed())
        } else {
            let (activity, reread, changed) = self.poll_answered(iface, now, &mut **device, read);
            read_dev |= reread;
            (activity, changed)
        };
        drop(device);
        // A poll for the device or the timer that only sent segments (a
        // pacing step, most of a paced sender's polls) changed nothing
        // anyone waits on: waking a sleeping leader or the followers for
        // it cost a wake-up per pacing step. A poke or the own eventfd
        // may stand for a user call's change, which still wakes them.
        let activity = activity && (changed || woke.poke || woke.own);
        if activity {
            self.tasks.collect(iface, ready);
        }
        let after = self.now();
        let paced = self.poller.has_device_fd
            && iface.paced_until().is_some_and(|t| {
                let left = t.saturating_duration_since(after).as_micros();
                (poller::PACED_DEFER_MIN.as_micros()..=poller::PACED_DEFER.as_micros())
                    .contains(&left)
            });
        Polled {
            activity,
            paced,
            left_queued: read_dev && iface.rx_more(),
            due: if driver {
                let next = iface.poll_at().map(|t| t.total_micros());
                self.poller.driver_deadline(self.now().total_micros(), next)
            } else {
                self.arm_timer(iface)
            },
        }
    }

    /// A poll by an application thread (`read`: of the device too, or
    /// of the output alone) that reads the kernel's synchronous answers to
    /// what it writes itself rather than let them wake the driver (see
    /// [`poller_echo`]). Returns the activity, whether it re-read the
    /// device, and whether any of its polls changed more than the output
    /// ([`Interface::poll_changed`]). Under the interface lock, with the
    /// device locked.
    fn poll_answered(
        &self,
        iface: &mut Interface,
        now: crate::time::Instant,
        device: &mut dyn crate::device::Device,
        read: bool,
    ) -> (bool, bool, bool) {
        let mut dev = poller_echo::Echo::new(device, &self.poller);
        let mut activity = if read {
            iface.poll(now, &mut dev)
        } else {
            iface.poll_output(now, &mut dev)
        };
        let mut changed = iface.poll_changed();
        if !dev.expecting {
            return (activity, false, changed);
        }
        for i in 0..poller_echo::MAX_REREADS {
            let (rx, tx) = (iface.stats().rx_packets, iface.stats().tx_packets);
            dev.reread_until_data();
            activity |= iface.poll(now, &mut dev);
            changed |= iface.poll_changed();
            let answered = iface.stats().rx_packets > rx;
            if i == 0 {
                self.poller.echo_seen(answered);
            }
            if !answered || iface.stats().tx_packets == tx || iface.rx_more() {
                break;
            }
        }
        self.poller.unmute_driver();
        (activity, true, changed)
    }

    /// Arms the stack's timer for the interface's next deadline, if
    /// neither the timer nor the driver's own timeout comes first (under
    /// the lock).
    /// True if a timer is already due (see [`Pollers::arm`]).
    fn arm_timer(&self, iface: &Interface) -> bool {
        let next = iface.poll_at().map(|t| t.total_micros());
        self.poller.arm(self.now().total_micros(), next)
    }

    /// Sends what is ready (an idle connection's new data) from the
    /// calling thread instead of waking the driver to do it: saves the
    /// eventfd write, the driver's wake-up and its eventfd read per
    /// request or response, as a kernel socket sends from `write(2)`.
    /// A timer armed here (the RTO) goes to the stack's timerfd, which
    /// wakes whoever polls when it is due.
    fn transmit(&self) {
        if self.stop.load(Ordering::Acquire) {
            // A stopped stack sends nothing more.
            return;
        }
        let mut iface = self.lock();
        let Ok(mut device) = self.device.try_lock() else {
            // Only under a panic elsewhere: leave it to the driver.
            drop(iface);
            self.waker.wake();
            return;
        };
        let now = self.now();
        // All activity counts here: the caller's own change is in it.
        let (activity, reread, _) = self.poll_answered(&mut iface, now, &mut **device, false);
        drop(device);
        if reread && iface.rx_more() {
            // A full batch of answers: the rest is the driver's.
            self.poller.wake_driver();
        }
        let due = self.arm_timer(&iface);
        let mut ready = wake::Ready::default();
        if activity {
            self.tasks.collect(&mut iface, &mut ready);
            self.notify_waiters();
        }
        drop(iface);
        ready.signal();
        if due {
            self.waker.wake();
        }
    }

    /// Wakes the tasks and eventfds of sockets a user call changed outside
    /// a poll (as [`notify_waiters`](Self::notify_waiters) does for
    /// blocked threads): compared under the interface lock, signalled
    /// after it.
    pub(crate) fn wake_tasks(&self) {
        let mut ready = wake::Ready::default();
        self.tasks.collect(&mut self.lock(), &mut ready);
        ready.signal();
    }

    /// Wakes the threads waiting in [`wait_for`](Self::wait_for), if any,
    /// after a change made under the lock (a waiter counts itself, and a
    /// leader raises its flag, before it releases the lock to sleep, so
    /// neither can be missed). Saves the system call with nobody waiting:
    /// the driver calls this after every busy poll.
    ///
    /// The one place where a change to the sockets (a segment, a timer, a
    /// user call another thread waits on) wakes those who wait: blocked
    /// reads, writes, connects, lingering closes and `Poll::poll`, which
    /// then look at the connections' events again. Only the registration
    /// changes of a `Poll` and stopping the stack notify otherwise.
    fn notify_waiters(&self) {
        self.notify_followers();
        self.poller.wake_leader();
    }

    /// [`notify_waiters`](Self::notify_waiters) without the leader: for
    /// the leader itself.
    fn notify_followers(&self) {
        let n = self.waiters.load(Ordering::SeqCst);
        if n > 0 {
            self.woken.store(n, Ordering::SeqCst);
            self.cond.notify_all();
        }
    }

    /// Wakes every thread in [`wait_for`](Self::wait_for) to look again
    /// although no socket changed (a `Poll`'s registrations did). Taking
    /// the lock first closes the window between a waiter's last check
    /// (made under the lock) and its sleep, in which the notify would be
    /// lost.
    pub(crate) fn wake_all(&self) {
        drop(self.lock());
        self.cond.notify_all();
        self.poller.wake_leader();
    }

    /// How long the driver thread may sleep: until the deadline its last
    /// poll left (see [`Pollers::driver_deadline`]).
    fn driver_timeout(&self) -> Option<Duration> {
        self.poller.driver_timeout(self.now().total_micros())
    }

    /// Called by the driver between two polls: gives the threads it woke,
    /// and those blocked on the lock, the lock before it takes it again
    /// (at most [`HANDOFF`]). The mutex is not fair, and a driver that
    /// relocks at once while packets keep coming starves a woken reader
    /// until the receive window closes: the application could keep up,
    /// but never got to read.
    ///
    /// The driver sleeps meanwhile rather than spinning: on two loaded
    /// cores the thread it waits for is often queued behind the spinner
    /// itself, and a `sched_yield` loop then burned its whole limit at
    /// every hand-off (~90,000 calls per GiB of offload send). A few
    /// yields first cover the common case of a thread that is already
    /// running and takes the lock within microseconds, without the two
    /// futex calls of a park.
    fn let_woken_run(&self) {
        if !self.handing_off() {
            return;
        }
        for _ in 0..HANDOFF_YIELDS {
            std::thread::yield_now();
            if !self.handing_off() {
                return;
            }
        }
        let start = std::time::Instant::now();
        // Raised before the last look (both SeqCst): a thread that takes
        // the lock after it sees the flag and unparks (see `took_lock`).
        self.handoff.parked.store(true, Ordering::SeqCst);
        while self.handing_off() {
            let Some(left) = HANDOFF.checked_sub(start.elapsed()) else {
                break;
            };
            std::thread::park_timeout(left);
        }
        self.handoff.parked.store(false, Ordering::SeqCst);
    }

    /// Threads woken by the last notification, or blocked on the lock,
    /// that have not taken it yet.
    fn handing_off(&self) -> bool {
        self.woken.load(Ordering::SeqCst) > 0 || self.contending.load(Ordering::SeqCst) > 0
    }

    /// Called by a thread that took the lock after being counted in
    /// `woken` or `contending` (after the count went down): the last one
    /// unparks a driver waiting in [`let_woken_run`](Self::let_woken_run).
    fn took_lock(&self) {
        if self.handoff.parked.load(Ordering::SeqCst) && !self.handing_off() {
            if let Some(t) = self.handoff.driver.get() {
                t.unpark();
            }
        }
    }
}

/// The driver's side of [`Shared::let_woken_run`].
#[derive(Default)]
struct Handoff {
    /// The driver thread (set when it starts), to unpark.
    driver: std::sync::OnceLock<std::thread::Thread>,
    /// The driver is parked waiting for the hand-off.
    parked: AtomicBool,
}

/// What one [`Shared::poll_locked`] did and left.
#[derive(Clone, Copy, Debug, Default)]
struct Polled {
    /// Something happened that waiters may care about.
    activity: bool,
    /// It read a whole batch: packets may be left queued, which the
    /// device will not signal again.
    left_queued: bool,
    /// A timer is already due again.
    due: bool,
    /// Pacing holds a connection's data back for at least
    /// [`poller::PACED_DEFER_MIN`] and at most [`poller::PACED_DEFER`]:
    /// the next sleep may be deaf to the device until then
    /// ([`poller::Pollers::wait_paced`]).
    paced: bool,
}

/// Whether a thread in [`Shared::wait_as`] may take the leader role.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wait {
    /// Reads, accepts, connects, `Poll::poll`: lead if nobody else does,
    /// so the thread is woken by the device itself.
    MayLead,
    /// A writer waiting for send-buffer space: the driver sends and
    /// processes ACKs on its own core while the writer copies its next
    /// chunk in, which leading would serialise on one thread.
    Follow,
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

/// Yields the driver tries before it parks for the hand-off.
const HANDOFF_YIELDS: u32 = 2;

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
        let waker = Waker::new()?;
        let poller = Pollers::new(device.as_raw_fd(), waker.fd())?;
        let shared = Arc::new(Shared {
            iface: Mutex::new(Interface::new(config)),
            cond: Condvar::new(),
            waiters: AtomicUsize::new(0),
            woken: AtomicUsize::new(0),
            contending: AtomicUsize::new(0),
            handoff: Handoff::default(),
            waker,
            tasks: Tasks::default(),
            device: Mutex::new(device),
            poller,
            stop: AtomicBool::new(false),
            epoch,
            driver_polls: std::sync::atomic::AtomicU64::new(0),
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
        let mut total = Stats::default();
        for s in self.shards() {
            total += &s.stats();
        }
        total
    }

    /// The counters of each queue of a multiqueue stack, in queue order
    /// (one entry with one queue).
    pub fn queue_stats(&self) -> Vec<Stats> {
        self.shards().map(|s| s.stats()).collect()
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
    // The driver sleeps in its epoll set or stands by; a leader in its
    // own set: each is woken through its own eventfd.
    shared.poller.wake_driver();
    shared.poller.wake_leader_always();
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
