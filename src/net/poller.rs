//! Who waits on the device: the poller role and its hand-off.
//!
//! Waking another thread costs far more than the work it is woken for (on
//! a loaded machine ~25 µs against ~2.5 µs for a TUN read or write), so a
//! segment should wake the thread that wants it, not a driver that then
//! wakes that thread. An application thread that blocks in a socket call
//! while nobody else does becomes the *leader*: it sleeps in
//! `epoll_wait(2)` on the device, the poke eventfd and the stack's timer,
//! runs the interface poll itself when one of them fires, wakes the
//! threads whose sockets changed, and returns as soon as its own call can
//! complete. A request answered on the same thread then costs one wake-up,
//! as with a kernel socket.
//!
//! The driver thread is the *fallback*. It sleeps on the same three
//! descriptors through a second epoll set, registered after the leader's
//! with `EPOLLEXCLUSIVE`: the kernel wakes exactly one of the two sets for
//! each event, the leader's if a thread sleeps in it, the driver's
//! otherwise. So the driver gets no CPU while a leader waits, and the
//! moment the leader leaves (its call returned, or it is busy polling)
//! the next event goes to the driver: nothing has to be handed over, no
//! event can fall between two owners, and an application thread that is
//! busy elsewhere never delays a segment or a timer.
//!
//! The driver sleeps until the deadline its own last poll left, as an
//! `epoll_pwait2(2)` timeout. The others (a leader, a socket call sending
//! itself, a runtime) arm one `timerfd` (under the interface lock) for a
//! deadline earlier than that, with the slack the kernel gives a
//! `ppoll(2)` timeout; it fires into whichever set is waiting, like the
//! device. (The driver re-arming the `timerfd` after every poll cost bulk
//! offload send a `timerfd_settime` per poll and a timer wake-up per
//! pacing step.) A leader is woken for
//! changes others made through its own eventfd (`leader`), the driver for
//! stopping through its own (`driver`).
//!
//! While pacing holds a connection's data back (the poll just made left
//! it a release time at most [`PACED_DEFER`] away), a thread about to
//! sleep sleeps deaf to the device until then ([`Pollers::wait_paced`])
//! and reads the ACKs that queued meanwhile in one batch: they release
//! nothing before that time, and waking for each batch of them was most
//! of a paced sender's wake-ups. Pokes, the timer and the thread's own
//! eventfd still wake it; other input waits at most `PACED_DEFER`.
//!
//! One exception to "the driver's set holds the same descriptors": while
//! an application thread writes a segment the kernel answers inside the
//! `write(2)` (a SYN-ACK, a FIN), the device is out of the driver's set,
//! and that thread reads the answer itself (`poller_echo`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// An eventfd used as a wake-up line.
pub(super) struct Waker(OwnedFd);

impl Waker {
    pub(super) fn new() -> io::Result<Waker> {
        // SAFETY: plain eventfd(2) call.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Waker(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(super) fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub(super) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; EAGAIN (counter full)
        // means a wake-up is already pending, which is all we need.
        unsafe { libc::write(self.fd(), (&one as *const u64).cast(), 8) };
    }

    pub(super) fn drain(&self) {
        drain(self.fd());
    }
}

/// Reads the 8-byte counter of an eventfd or timerfd back to zero (EAGAIN
/// when it was not signalled).
fn drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64 from a descriptor the caller
    // keeps open.
    unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
}

/// What the kernel adds to a sleeping thread's timeout by default
/// (`timer_slack_ns`, 50 µs), in µs.
const TIMER_SLACK_US: u64 = 50;

/// An armed timer closer than this (µs) is moved to a later deadline; a
/// farther one is left to fire early once.
const NEAR_US: u64 = 5_000;

/// The longest a thread sleeps deaf to the device while pacing holds a
/// connection's data back ([`Pollers::wait_paced`]): any other input
/// waits at most this long. A pacing quantum is about 1 ms of data.
pub(super) const PACED_DEFER: Duration = Duration::from_millis(1);

/// A release closer than this is not slept for deaf: a sender that runs
/// flat out (tun0 alone, releases tens of µs apart) finds ACKs queued
/// whenever it looks, and reads them without sleeping at all, where a
/// deaf sleep would cost a wake-up per release. Four wake-ups' worth.
pub(super) const PACED_DEFER_MIN: Duration = Duration::from_micros(100);

/// epoll tokens.
const DEV: u64 = 0;
const POKE: u64 = 1;
const TIMER: u64 = 2;
const OWN: u64 = 3;

/// What woke a waiter. Each source is drained by [`Pollers::wait`]
/// before it returns, so a signal that arrives later stays pending for
/// the next wait.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Woke {
    /// The device is readable.
    pub(super) dev: bool,
    /// Someone poked the stack (data to send, a window to open, a close).
    pub(super) poke: bool,
    /// The timer fired: the caller must re-arm it (`timer_fired`).
    pub(super) timer: bool,
    /// The waiter's own eventfd: the leader's sockets may have changed,
    /// or the driver must look at `stop`.
    pub(super) own: bool,
}

impl Woke {
    fn all() -> Woke {
        Woke {
            dev: true,
            poke: true,
            timer: true,
            own: true,
        }
    }
}

/// Which epoll set to sleep in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Role {
    Leader,
    Driver,
}

/// The two epoll sets, the timer, and the leader flag of one stack.
pub(super) struct Pollers {
    leader_ep: OwnedFd,
    driver_ep: OwnedFd,
    timer: OwnedFd,
    /// Wakes the leader (registered in its set only).
    leader_fd: Waker,
    /// Wakes the driver (registered in its set only).
    driver_fd: Waker,
    /// The stack's poke eventfd (owned by `Shared`, which owns this too).
    poke_fd: RawFd,
    /// Stack time (µs) the timer is armed for, `u64::MAX` for none; read
    /// and written under the interface lock.
    armed: AtomicU64,
    /// Stack time (µs) the driver thread sleeps until (its own timeout,
    /// see [`driver_deadline`](Self::driver_deadline)), `u64::MAX` for
    /// none; written by the driver under the interface lock.
    driver_at: AtomicU64,
    /// An application thread holds the leader role; set and cleared
    /// under the interface lock.
    leader: AtomicBool,
    /// The device is out of the driver's set while an application
    /// thread's poll writes (see `poller_echo`); under the interface lock.
    driver_muted: AtomicBool,
    /// Putting the device back failed (see [`unmute_failed`](Self::unmute_failed)).
    unmute_failed: AtomicBool,
    /// Writing polls left that expect no answer (see `poller_echo`).
    pub(super) echo_skip: AtomicU32,
    /// The device has a descriptor: without one there is nothing to
    /// sleep on, and the driver polls on a tick alone.
    pub(super) has_device_fd: bool,
    /// The device's descriptor (for the driver standing by).
    pub(super) dev_fd: Option<RawFd>,
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn epoll() -> io::Result<OwnedFd> {
    // SAFETY: plain epoll_create1(2) call.
    let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `timeout` as the timespec `ppoll(2)` and `epoll_pwait2(2)` take; `None`
/// waits for ever.
pub(super) fn timespec(timeout: Option<Duration>) -> Option<libc::timespec> {
    timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    })
}

/// The pointer those calls take for `ts`: null for none.
pub(super) fn timespec_ptr(ts: &Option<libc::timespec>) -> *const libc::timespec {
    ts.as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec)
}

/// `epoll_pwait2(2)`: a timeout to the nanosecond, with the thread's
/// timer slack as `ppoll(2)` gives it (a pacing deadline tens of µs away
/// must not be rounded up to a millisecond). Falls back to
/// `epoll_wait(2)`, rounding up to whole milliseconds, on kernels before
/// 5.11.
fn epoll_wait(ep: &OwnedFd, events: &mut [libc::epoll_event; 4], timeout: Option<Duration>) -> i32 {
    static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
    if !NO_PWAIT2.load(Ordering::Relaxed) {
        let ts = timespec(timeout);
        let ts_ptr = timespec_ptr(&ts);
        // SAFETY: ep is a live epoll fd; events is a live array of 4;
        // ts_ptr is null or points to a live timespec; no signal mask.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                4,
                ts_ptr,
                std::ptr::null::<libc::sigset_t>(),
                0,
            )
        };
        if rc >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
            return i32::try_from(rc).unwrap_or(-1);
        }
        NO_PWAIT2.store(true, Ordering::Relaxed);
    }
    // Rounded up to whole milliseconds: a timeout never ends early.
    let ms = timeout.map_or(-1, |t| {
        let ms = t.as_micros().div_ceil(1000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    });
    // SAFETY: ep is a live epoll fd; events is a live array of 4.
    unsafe { libc::epoll_wait(ep.as_raw_fd(), events.as_mut_ptr(), 4, ms) }
}

fn add(ep: &OwnedFd, fd: RawFd, token: u64, exclusive: bool) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | if exclusive { libc::EPOLLEXCLUSIVE } else { 0 }) as u32,
        u64: token,
    };
    // SAFETY: ep and fd are live descriptors; ev is a live epoll_event.
    cvt(unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
    Ok(())
}

impl Pollers {
    /// The sets for a device with descriptor `dev` and the poke eventfd
    /// `poke`.
    pub(super) fn new(dev: Option<RawFd>, poke: RawFd) -> io::Result<Pollers> {
        // SAFETY: plain timerfd_create(2) call.
        let timer = cvt(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        })?;
        // SAFETY: timer is a fresh descriptor we own.
        let timer = unsafe { OwnedFd::from_raw_fd(timer) };
        let p = Pollers {
            leader_ep: epoll()?,
            driver_ep: epoll()?,
            timer,
            leader_fd: Waker::new()?,
            driver_fd: Waker::new()?,
            poke_fd: poke,
            armed: AtomicU64::new(u64::MAX),
            driver_at: AtomicU64::new(u64::MAX),
            leader: AtomicBool::new(false),
            driver_muted: AtomicBool::new(false),
            unmute_failed: AtomicBool::new(false),
            echo_skip: AtomicU32::new(0),
            has_device_fd: dev.is_some(),
            dev_fd: dev,
        };
        // The shared sources go into the leader's set first: the kernel
        // offers an exclusive wake-up to the waiters of a descriptor in
        // the order they were added, and skips a set nobody sleeps in.
        let shared = [
            (dev, DEV),
            (Some(poke), POKE),
            (Some(p.timer.as_raw_fd()), TIMER),
        ];
        if p.has_device_fd {
            for (fd, token) in shared {
                if let Some(fd) = fd {
                    add(&p.leader_ep, fd, token, true)?;
                }
            }
            add(&p.leader_ep, p.leader_fd.fd(), OWN, false)?;
        }
        for (fd, token) in shared {
            if let Some(fd) = fd {
                add(&p.driver_ep, fd, token, true)?;
            }
        }
        add(&p.driver_ep, p.driver_fd.fd(), OWN, false)?;
        Ok(p)
    }

    /// Takes the leader role if it is free (call under the interface
    /// lock); true if the caller is now the leader.
    pub(super) fn try_lead(&self) -> bool {
        self.has_device_fd && !self.leader.swap(true, Ordering::SeqCst)
    }

    /// Gives the leader role up (under the interface lock).
    pub(super) fn resign(&self) {
        self.leader.store(false, Ordering::SeqCst);
    }

    /// Takes the device out of the driver's set (under the interface
    /// lock, which must not be released before
    /// [`unmute_driver`](Self::unmute_driver)): a packet the kernel queues
    /// meanwhile wakes a sleeping leader, or nobody. See `poller_echo`.
    pub(super) fn mute_driver(&self) {
        let Some(dev) = self.dev_fd else { return };
        if self.driver_muted.load(Ordering::SeqCst) {
            return;
        }
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: live descriptors; ev is a live epoll_event (ignored).
        let rc = unsafe {
            libc::epoll_ctl(
                self.driver_ep.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                dev,
                &mut ev,
            )
        };
        if rc == 0 {
            self.driver_muted.store(true, Ordering::SeqCst);
        }
    }

    /// Puts the device back into the driver's set (under the interface
    /// lock). If it is readable by then, the kernel wakes the driver
    /// (`EPOLL_CTL_ADD` polls it), so nothing queued meanwhile is left
    /// unsignalled. Should the call fail, the driver is woken through its
    /// own eventfd, reads the device, and tries again.
    pub(super) fn unmute_driver(&self) {
        let Some(dev) = self.dev_fd else { return };
        if !self.driver_muted.load(Ordering::SeqCst) {
            return;
        }
        match add(&self.driver_ep, dev, DEV, true) {
            Ok(()) => {
                self.driver_muted.store(false, Ordering::SeqCst);
                self.unmute_failed.store(false, Ordering::SeqCst);
            }
            Err(e) => {
                log::error!("epoll_ctl(ADD) of the device failed: {e}");
                self.unmute_failed.store(true, Ordering::SeqCst);
                self.driver_fd.wake();
            }
        }
    }

    /// The device is out of the driver's set (under the interface lock).
    pub(super) fn driver_is_muted(&self) -> bool {
        self.driver_muted.load(Ordering::SeqCst)
    }

    /// The device could not be put back into the driver's set (a failed
    /// `EPOLL_CTL_ADD`): the driver polls on a tick until it is.
    pub(super) fn unmute_failed(&self) -> bool {
        self.unmute_failed.load(Ordering::SeqCst)
    }

    /// Wakes the leader, if there is one, to look at its socket again
    /// after a change made under the interface lock by another thread.
    pub(super) fn wake_leader(&self) {
        if self.leader.load(Ordering::SeqCst) {
            self.leader_fd.wake();
        }
    }

    /// Wakes the leader unconditionally (registration changes, stop).
    pub(super) fn wake_leader_always(&self) {
        self.leader_fd.wake();
    }

    /// Wakes the driver (to stop).
    pub(super) fn wake_driver(&self) {
        self.driver_fd.wake();
    }

    /// The timer fired: forget what it was armed for, so that the next
    /// [`arm`](Self::arm) sets it again (under the interface lock).
    pub(super) fn timer_fired(&self) {
        self.armed.store(u64::MAX, Ordering::SeqCst);
    }

    /// Arms the timer for `next` (stack µs; `None`: leave it, to fire
    /// early once at most) after a poll by anyone but the driver thread (a
    /// leader, a socket call sending itself, a runtime); `now` is the
    /// stack time. Call under the interface lock, after a poll
    /// (everything due by `now` is done). Nothing is armed while the
    /// driver's own timeout ([`driver_deadline`](Self::driver_deadline))
    /// comes first: the driver wakes by then and polls. Otherwise the
    /// timer fires into whichever set is waiting, a sleeping leader's
    /// first. Re-armed whenever the deadline moves earlier, and when it moves
    /// later from a near one: a timer left at a near deadline wakes a
    /// thread for nothing again and again (pacing, whose release time
    /// moves on with every burst, lost a third of the offload send rate
    /// that way). A far one (an RTO or delayed ACK that every request
    /// restarts) is left to fire early once, which saves a
    /// `timerfd_settime` per request.
    ///
    /// Returns true if `next` is already due: then nothing is armed, and
    /// the caller polls again without sleeping (a timer of 1 µs would
    /// cost a sleep and a wake-up for what a zero timeout does).
    pub(super) fn arm(&self, now: u64, next: Option<u64>) -> bool {
        let Some(next) = next else { return false };
        if next <= now {
            return true;
        }
        let armed = self.armed.load(Ordering::SeqCst);
        if armed == u64::MAX && next >= self.driver_at.load(Ordering::SeqCst) {
            // The driver wakes by then anyway and polls: nothing to arm.
            return false;
        }
        if next == armed || (next > armed && armed > now.saturating_add(NEAR_US)) {
            return false;
        }
        self.armed.store(next, Ordering::SeqCst);
        // Relative, plus the slack the kernel gives a ppoll(2) timeout
        // (the thread's 50 µs timer slack, or 0.1 % of the timeout), so
        // deadlines a few µs apart (pacing) are served by one wake-up.
        // At least 1 µs: zero would disarm.
        let d = next.saturating_sub(now).max(1);
        let d = Duration::from_micros(d + (d / 1000).max(TIMER_SLACK_US));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: timer is a live timerfd; spec is a live itimerspec; the
        // old value is not asked for.
        let rc = unsafe {
            libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
        };
        if rc < 0 {
            // Cannot happen with a valid descriptor and value; a poke
            // makes the driver poll and try again rather than lose it.
            log::error!("timerfd_settime failed: {}", io::Error::last_os_error());
            self.armed.store(u64::MAX, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// The driver's poll left `next` (stack µs) as the interface's next
    /// deadline at stack time `now`: the driver sleeps until then with a
    /// timeout of its own ([`driver_timeout`](Self::driver_timeout))
    /// rather than through the timer, which costs a `timerfd_settime`
    /// per poll and a timerfd wake-up and read per pacing step; that cost
    /// the offload send rate (tunstack → kernel, 1 GiB, BBR pacing) about
    /// a third. Call under the interface lock. True if `next` is already
    /// due (the driver polls again without sleeping).
    pub(super) fn driver_deadline(&self, now: u64, next: Option<u64>) -> bool {
        let next = next.unwrap_or(u64::MAX);
        self.driver_at.store(next, Ordering::SeqCst);
        next <= now
    }

    /// How long the driver may sleep from stack time `now`: until the
    /// deadline its last poll left (`None`: none).
    pub(super) fn driver_timeout(&self, now: u64) -> Option<Duration> {
        let at = self.driver_at.load(Ordering::SeqCst);
        (at != u64::MAX).then(|| Duration::from_micros(at.saturating_sub(now)))
    }

    /// The driver thread's sleep while an async runtime drives the device
    /// (`task::standby`): `ppoll(2)` on the poke eventfd, the timer, the
    /// driver's own eventfd and, if `dev`, the device, until one fires or
    /// `timeout` passes. Outside the epoll sets, so it takes no exclusive
    /// wake-up from a leader, and leaves the device (level-triggered
    /// there) unread: the runtime reads it. Drains what fired, as
    /// [`wait`](Self::wait) does.
    pub(super) fn stand_by(&self, dev: Option<RawFd>, timeout: Option<Duration>) -> Woke {
        // A negative fd is ignored by the kernel.
        match self.ppoll_drain(&self.driver_fd, dev.unwrap_or(-1), timeout) {
            Ok([poke, timer, own, dev]) => Woke {
                dev,
                poke,
                timer,
                own,
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Woke::default(),
            Err(e) => {
                log::error!("ppoll failed: {e}");
                std::thread::sleep(Duration::from_millis(1));
                Woke::all()
            }
        }
    }

    /// `ppoll(2)` on the poke eventfd, the timer, `own` and `dev` (ignored
    /// when negative) until one fires or `timeout` passes; drains the
    /// eventfds and the timer that fired (never the device) and returns
    /// which fired, in that order.
    fn ppoll_drain(
        &self,
        own: &Waker,
        dev: RawFd,
        timeout: Option<Duration>,
    ) -> io::Result<[bool; 4]> {
        let fd = |fd: RawFd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            fd(self.poke_fd),
            fd(self.timer.as_raw_fd()),
            fd(own.fd()),
            fd(dev),
        ];
        let ts = timespec(timeout);
        let ts_ptr = timespec_ptr(&ts);
        // SAFETY: fds is a live array of 4 pollfds; ts_ptr is null or
        // points to a live timespec.
        let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), 4, ts_ptr, std::ptr::null()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let fired = fds.map(|p| p.revents != 0);
        let [poke, timer, woke_own, _] = fired;
        if poke {
            drain(self.poke_fd);
        }
        if timer {
            drain(self.timer.as_raw_fd());
        }
        if woke_own {
            own.drain();
        }
        Ok(fired)
    }

    /// Sleeps like [`wait`](Self::wait) but deaf to the device, for at
    /// most [`PACED_DEFER`]: the caller's last poll left a connection
    /// held back for pacing until about then, and the ACKs arriving
    /// meanwhile release nothing before it. Each would wake a thread
    /// (~25 µs here) to process a few; read at the release time they cost
    /// one wake-up and one batch per quantum sent. `ppoll(2)` on the
    /// poke eventfd, the timer and `role`'s own eventfd, outside the epoll
    /// sets (the device's events go to a thread sleeping in one, or wait,
    /// level-triggered, for the next poll). Returns with `dev` set: the
    /// caller reads the device whatever woke it.
    pub(super) fn wait_paced(&self, role: Role, timeout: Option<Duration>) -> Woke {
        let own = match role {
            Role::Leader => &self.leader_fd,
            Role::Driver => &self.driver_fd,
        };
        let timeout = timeout.map_or(PACED_DEFER, |t| t.min(PACED_DEFER));
        let [poke, timer, own, _] = match self.ppoll_drain(own, -1, Some(timeout)) {
            Ok(fired) => fired,
            // Interrupted: nothing fired; the caller reads the device.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => [false; 4],
            Err(e) => {
                log::error!("ppoll failed: {e}");
                return Woke::all();
            }
        };
        Woke {
            dev: true,
            poke,
            timer,
            own,
        }
    }

    /// Sleeps in `role`'s set until something fires or `timeout` passes
    /// (`None`: no limit); drains what fired (the device excepted: the
    /// caller reads it). An error counts as everything, so the caller
    /// polls rather than miss anything.
    pub(super) fn wait(&self, role: Role, timeout: Option<Duration>) -> Woke {
        let ep = match role {
            Role::Leader => &self.leader_ep,
            Role::Driver => &self.driver_ep,
        };
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let rc = epoll_wait(ep, &mut events, timeout);
        let mut woke = Woke::default();
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return woke;
            }
            log::error!("epoll_wait failed: {e}");
            std::thread::sleep(Duration::from_millis(1));
            woke = Woke::all();
        }
        let n = usize::try_from(rc).unwrap_or(0);
        for ev in events.iter().take(n) {
            match ev.u64 {
                DEV => woke.dev = true,
                POKE => woke.poke = true,
                TIMER => woke.timer = true,
                _ => woke.own = true,
            }
        }
        if woke.poke {
            // Drained before the poll it asks for, never after it: a poke
            // that arrives during that poll stays pending.
            drain(self.poke_fd);
        }
        if woke.timer {
            // EAGAIN if re-armed in between (the caller re-arms anyway).
            drain(self.timer.as_raw_fd());
        }
        if woke.own {
            match role {
                Role::Leader => self.leader_fd.drain(),
                Role::Driver => self.driver_fd.drain(),
            }
        }
        woke
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the timerfd has left to run, in µs (0: disarmed).
    fn timer_left(p: &Pollers) -> u64 {
        let mut cur = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        // SAFETY: a live timerfd and a live itimerspec.
        let rc = unsafe { libc::timerfd_gettime(p.timer.as_raw_fd(), &mut cur) };
        assert_eq!(rc, 0);
        cur.it_value.tv_sec as u64 * 1_000_000 + cur.it_value.tv_nsec as u64 / 1000
    }

    #[test]
    fn a_deadline_the_drivers_own_timeout_covers_arms_no_timer() {
        let dev = Waker::new().unwrap();
        let poke = Waker::new().unwrap();
        let p = Pollers::new(Some(dev.fd()), poke.fd()).unwrap();
        // The driver's poll left a deadline 10 ms away: it sleeps until then.
        assert!(!p.driver_deadline(0, Some(10_000)));
        assert_eq!(p.driver_timeout(0), Some(Duration::from_millis(10)));
        assert_eq!(p.driver_timeout(4_000), Some(Duration::from_millis(6)));
        // A leader's later deadline: the driver wakes first anyway.
        assert!(!p.arm(0, Some(20_000)));
        assert_eq!(timer_left(&p), 0, "nothing armed");
        // An earlier one is armed, to fire into whichever set waits.
        assert!(!p.arm(0, Some(3_000)));
        let left = timer_left(&p);
        assert!(
            (2_000..=3_000 + TIMER_SLACK_US).contains(&left),
            "{left} µs"
        );
        // Already due: polled at once, nothing armed.
        assert!(p.arm(5_000, Some(5_000)));
        assert!(p.driver_deadline(5_000, Some(4_000)));
        // No deadline: the driver sleeps without a timeout.
        assert!(!p.driver_deadline(5_000, None));
        assert_eq!(p.driver_timeout(5_000), None);
    }

    #[test]
    fn a_device_readable_while_out_of_the_drivers_set_wakes_it_when_put_back() {
        let dev = Waker::new().unwrap();
        let poke = Waker::new().unwrap();
        let p = Pollers::new(Some(dev.fd()), poke.fd()).unwrap();
        p.mute_driver();
        assert!(!p.unmute_failed());
        // The kernel's answer arrives while the writer holds the device.
        dev.wake();
        assert!(!p.wait(Role::Driver, Some(Duration::ZERO)).dev, "muted");
        assert!(
            p.wait(Role::Leader, Some(Duration::ZERO)).dev,
            "a leader sees it"
        );
        // Left unread: putting the device back wakes the driver, asleep
        // already or not (either order must hold).
        std::thread::scope(|s| {
            let driver = s.spawn(|| p.wait(Role::Driver, Some(Duration::from_secs(30))));
            p.unmute_driver();
            assert!(driver.join().unwrap().dev, "the driver was not woken");
        });
        // Read: putting it back wakes nobody.
        p.mute_driver();
        dev.drain();
        p.unmute_driver();
        assert!(!p.wait(Role::Driver, Some(Duration::ZERO)).dev);
        // Back in place: the next answer wakes the driver as before.
        dev.wake();
        assert!(p.wait(Role::Driver, Some(Duration::ZERO)).dev);
    }

    #[test]
    fn a_paced_wait_sleeps_through_device_input_but_not_a_poke() {
        let dev = Waker::new().unwrap();
        let poke = Waker::new().unwrap();
        let p = Pollers::new(Some(dev.fd()), poke.fd()).unwrap();
        // ACKs queued: a plain wait returns at once for them...
        dev.wake();
        let w = p.wait(Role::Driver, Some(Duration::from_secs(30)));
        assert!(w.dev && !w.poke && !w.timer && !w.own);
        // ...a paced one sleeps its whole time (a lower bound the kernel
        // keeps, whatever the load) and then has the device read.
        let start = std::time::Instant::now();
        let w = p.wait_paced(Role::Driver, Some(Duration::from_secs(30)));
        assert!(start.elapsed() >= PACED_DEFER, "woken by the device");
        assert!(w.dev && !w.poke && !w.timer && !w.own, "{w:?}");
        // A user call's poke and the thread's own eventfd still wake it,
        // and are drained.
        poke.wake();
        let w = p.wait_paced(Role::Leader, None);
        assert!(w.poke && !w.own, "{w:?}");
        p.wake_leader_always();
        assert!(p.wait_paced(Role::Leader, None).own);
        assert!(!p.wait_paced(Role::Leader, Some(Duration::ZERO)).poke);
    }
}
