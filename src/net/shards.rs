//! A stack over a multiqueue TUN device: one shard (an
//! [`Interface`](crate::stack::Interface), its `Shared` state and a driver
//! thread) per queue, so each queue's packets are read, processed and
//! answered on a core of their own without a lock in common.
//!
//! Ownership. The kernel puts each packet on the queue that the steering
//! program of [`device::tun_mq`](crate::device::tun_mq) computes from its
//! ports ([`crate::wire::steer`]); a connection lives in the shard of
//! that queue:
//! - `connect` picks a shard (round robin) and that shard picks a local
//!   port whose flow is steered to it (`stack::Config::queue`), so the
//!   SYN-ACK and everything after it arrive where the connection is;
//! - listeners and UDP sockets are bound on every shard under one port: a
//!   SYN is handled, and its connection accepted, by the shard its flow
//!   lands on; `accept`/`recv_from` take from whichever shard has
//!   something, starting at a rotating shard so none starves.
//!
//! Offloads. With `TunConfig::offload` every queue is an offload queue
//! (virtio-net headers, see [`device::tun_mq`](crate::device::tun_mq)):
//! each shard writes TSO batches of up to 64 KiB and reads the kernel's
//! batches whole, with copy-once receive into its own connections, just
//! as the single stack does on a [`VnetTunDevice`](crate::device::VnetTunDevice).
//!
//! Every shard has the same configuration and secrets (ISN, SYN cookie,
//! timestamp and port keys) and the same clock epoch, so a shard answers
//! exactly as the single stack would.
//!
//! Waiting on several shards. A blocking `accept` or `recv_from` cannot
//! sleep on one shard's condition variable; it sleeps in `ppoll(2)` on
//! the socket's readiness eventfd, which is registered with every shard
//! (`Tasks::attach_fd`), so whichever driver changes the socket wakes it.
//! (That is the fd `readiness_fd` returns: a foreign loop waiting on it
//! while another thread blocks in `accept` on the same listener may find
//! it cleared; readiness is a hint there anyway.) Async tasks register
//! their waker with every shard; a `Poll` looks at every shard and sleeps
//! on the stack's readiness fd, which every shard signals. With one queue
//! none of this runs: the socket has one shard and the paths of a single
//! stack are taken.

use super::poll::Target;
use super::wake::{EventFd, Slot};
use super::{Config, Shared, Stack, TcpListener, TcpStream, UdpSocket};
use crate::device::{Device, TunConfig, TunQueue};
use crate::stack::Interface;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll as TaskPoll};
use std::time::Duration;

/// The shards of one multiqueue stack, known to each of them.
pub(super) struct Group {
    shards: Vec<Weak<Shared>>,
    /// Round-robin cursor for `connect` and for the first shard a
    /// multi-shard wait looks at.
    next: AtomicUsize,
}

/// Opens `config.queues` queues of the TUN interface (offload queues if
/// `tun.offload`) and starts a shard on each.
pub(super) fn open_tun(tun: &TunConfig, config: Config) -> io::Result<Stack> {
    open_tun_with(tun, config, |q| Ok(Box::new(q)))
}

impl Stack {
    /// Opens a multiqueue TUN interface as [`Stack::open_tun`] does with
    /// `config.queues` of 2 or more, but passes each queue through `wrap`
    /// (in queue order, before its shard starts): a capture or a tracer
    /// around every queue, e.g. [`PcapDevice::with_file`] with one shared
    /// [`PcapFile`] for a single capture of the whole interface.
    ///
    /// [`PcapDevice::with_file`]: crate::device::PcapDevice::with_file
    /// [`PcapFile`]: crate::device::PcapFile
    ///
    /// # Errors
    /// `InvalidInput` for `config.queues` outside 2..=[`MAX_QUEUES`](super::MAX_QUEUES);
    /// as [`Stack::open_tun`]; whatever `wrap` returns.
    pub fn open_tun_queues_with(
        tun: &TunConfig,
        config: Config,
        wrap: impl FnMut(TunQueue) -> io::Result<Box<dyn Device + Send>>,
    ) -> io::Result<Stack> {
        if config.queues < 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("wrapped queues need 2 or more, not {}", config.queues),
            ));
        }
        open_tun_with(tun, config, wrap)
    }
}

/// [`open_tun`], each queue's device made by `wrap`.
fn open_tun_with(
    tun: &TunConfig,
    mut config: Config,
    mut wrap: impl FnMut(TunQueue) -> io::Result<Box<dyn Device + Send>>,
) -> io::Result<Stack> {
    if !(1..=super::MAX_QUEUES).contains(&config.queues) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "queues must be 1..={}, not {}",
                super::MAX_QUEUES,
                config.queues
            ),
        ));
    }
    let queues = crate::device::tun_mq::open_queues(tun, config.queues)?;
    config.mtu = tun.mtu;
    config.prefix_len = tun.prefix;
    config.secret = [rand::random(), rand::random()];
    let epoch = std::time::Instant::now();
    let mut started = Vec::with_capacity(queues.len());
    for q in queues {
        let cfg = Config {
            queue: q.index(),
            ..config.clone()
        };
        match wrap(q).and_then(|dev| Stack::start(dev, cfg, epoch)) {
            Ok(s) => started.push(s),
            Err(e) => {
                // Stop the drivers already running before giving up.
                for (s, d) in started {
                    super::stop_shard(&s, Some(d));
                }
                return Err(e);
            }
        }
    }
    let group = |shards: &[(Arc<Shared>, _)]| Group {
        shards: shards.iter().map(|(s, _)| Arc::downgrade(s)).collect(),
        next: AtomicUsize::new(0),
    };
    for (s, _) in &started {
        let _ = s.group.set(group(&started));
    }
    let mut it = started.into_iter();
    let Some((shared, driver)) = it.next() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no queues"));
    };
    Ok(Stack {
        shared,
        driver: Some(driver),
        others: it.map(|(s, d)| (s, Some(d))).collect(),
    })
}

/// Every shard of the stack `shared` belongs to, in queue order (just
/// `shared` with one queue).
pub(super) fn all(shared: &Arc<Shared>) -> Vec<Arc<Shared>> {
    match shared.group.get() {
        Some(g) => g.shards.iter().filter_map(Weak::upgrade).collect(),
        None => vec![Arc::clone(shared)],
    }
}

/// True if `shared` is one shard of several.
pub(super) fn is_sharded(shared: &Shared) -> bool {
    shared.group.get().is_some_and(|g| g.shards.len() > 1)
}

/// The shard a new connection goes to: the next in turn.
pub(super) fn pick(shared: &Arc<Shared>) -> Arc<Shared> {
    let Some(g) = shared.group.get() else {
        return Arc::clone(shared);
    };
    let n = g.shards.len().max(1);
    let i = g.next.fetch_add(1, Ordering::Relaxed) % n;
    g.shards
        .get(i)
        .and_then(Weak::upgrade)
        .unwrap_or_else(|| Arc::clone(shared))
}

/// Where a multi-shard search starts, rotating so no shard starves.
fn start(shared: &Shared, n: usize) -> usize {
    match shared.group.get() {
        Some(g) => g.next.fetch_add(1, Ordering::Relaxed) % n.max(1),
        None => 0,
    }
}

/// Binds what `bind` binds on `primary` (which chose the port) on the
/// other shards too; on failure unbinds it everywhere with `unbind`.
pub(super) fn bind_rest(
    primary: &Arc<Shared>,
    port: u16,
    mut bind: impl FnMut(&mut Interface, u16) -> io::Result<()>,
    mut unbind: impl FnMut(&mut Interface, u16),
) -> io::Result<Vec<Arc<Shared>>> {
    let rest: Vec<_> = all(primary)
        .into_iter()
        .filter(|s| !Arc::ptr_eq(s, primary))
        .collect();
    for (i, s) in rest.iter().enumerate() {
        if let Err(e) = bind(&mut s.lock(), port) {
            for s in rest.iter().take(i).chain(std::iter::once(primary)) {
                unbind(&mut s.lock(), port);
            }
            return Err(e);
        }
    }
    Ok(rest)
}

/// The readiness eventfd of `target`, one for all of `shards` (created
/// by the first, attached to the others).
pub(super) fn target_fd(shards: &[&Arc<Shared>], target: Target) -> io::Result<Arc<EventFd>> {
    let Some((first, rest)) = shards.split_first() else {
        return Err(io::Error::other("no shards"));
    };
    let fd = first.tasks.fd(target)?;
    for s in rest {
        s.tasks.attach_fd(target, &fd);
    }
    Ok(fd)
}

/// Forgets `target`'s readiness eventfd on every shard.
pub(super) fn drop_target_fd(shards: &[&Arc<Shared>], target: Target) {
    for s in shards {
        s.tasks.drop_fd(target);
    }
}

/// The stack-wide readiness fd, signalled by every shard.
pub(super) fn stack_fd(stack: &Stack) -> io::Result<Arc<EventFd>> {
    stack_fd_of(&all(&stack.shared))
}

/// The stack-wide readiness fd of `shards` (created by the first,
/// attached to the others).
pub(super) fn stack_fd_of(shards: &[Arc<Shared>]) -> io::Result<Arc<EventFd>> {
    let Some((first, rest)) = shards.split_first() else {
        return Err(io::Error::other("no shards"));
    };
    let fd = first.tasks.stack_fd_get()?;
    for s in rest {
        s.tasks.attach_stack_fd(&fd);
    }
    Ok(fd)
}

/// Runs `f` under each shard's lock in turn until one returns `Some`; if
/// none does, returns `Ok(None)` when `once`, else sleeps until
/// `target` changes on any shard or `deadline` and tries again.
///
/// `Err(())` means the deadline passed or the stack stopped.
pub(super) fn wait_any<T>(
    shards: &[&Arc<Shared>],
    target: Target,
    deadline: Option<std::time::Instant>,
    once: bool,
    mut f: impl FnMut(&mut Interface) -> Option<T>,
) -> Result<Option<T>, ()> {
    let n = shards.len();
    let fd = if once {
        None
    } else {
        Some(target_fd(shards, target).map_err(|_| ())?)
    };
    loop {
        // Cleared before looking: a change after the look signals it again.
        if let Some(fd) = &fd {
            fd.clear();
        }
        let first = shards.first().map_or(0, |s| start(s, n));
        for i in 0..n {
            let Some(s) = shards.get((first + i) % n) else {
                continue;
            };
            if let Some(v) = f(&mut s.lock()) {
                return Ok(Some(v));
            }
            if s.stop.load(Ordering::Acquire) {
                return Err(());
            }
        }
        let Some(fd) = &fd else {
            return Ok(None);
        };
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
        sleep_on(fd, timeout);
    }
}

/// Sleeps until `fd` is readable or `timeout` passes.
pub(super) fn sleep_on(fd: &EventFd, timeout: Option<Duration>) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = super::poller::timespec(timeout);
    let ts_ptr = super::poller::timespec_ptr(&ts);
    // SAFETY: one valid pollfd; ts_ptr is null or points to a live
    // timespec. EINTR just means looking again.
    unsafe { libc::ppoll(&mut p, 1, ts_ptr, std::ptr::null()) };
}

/// Tries `f` on every shard under its lock; where it returns `None`,
/// registers the task for `slot` of `target` in the same critical
/// section (so no change is missed). `Pending` if no shard had anything.
fn poll_any<T>(
    shards: &[&Arc<Shared>],
    target: Target,
    slot: Slot,
    cx: &Context<'_>,
    mut f: impl FnMut(&mut Interface) -> Option<io::Result<T>>,
) -> TaskPoll<io::Result<T>> {
    let n = shards.len();
    let first = shards.first().map_or(0, |s| start(s, n));
    for i in 0..n {
        let Some(s) = shards.get((first + i) % n) else {
            continue;
        };
        let mut iface = s.lock();
        if let Some(r) = f(&mut iface) {
            return TaskPoll::Ready(r);
        }
        s.tasks.register(&mut iface, target, slot, cx.waker());
        if s.stop.load(Ordering::Acquire) {
            return TaskPoll::Ready(Err(io::Error::other("stack stopped")));
        }
    }
    TaskPoll::Pending
}

impl TcpListener {
    /// [`poll_accept`](TcpListener::poll_accept) over every shard.
    pub(super) fn poll_accept_any(
        &self,
        cx: &Context<'_>,
    ) -> TaskPoll<io::Result<(TcpStream, SocketAddr)>> {
        let r = poll_any(
            &self.shards(),
            Target::Listener(self.port()),
            Slot::Read,
            cx,
            |iface| match self.try_accept(iface) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                r => Some(r.map(|(h, peer)| (h, peer, iface.config().queue))),
            },
        );
        r.map(|r| {
            let (h, peer, queue) = r?;
            let shard = all(self.shared())
                .get(queue)
                .cloned()
                .ok_or_else(super::error::not_connected)?;
            let s = TcpStream::from_handle(shard, h);
            s.set_nonblocking(true)?;
            Ok((s, peer))
        })
    }
}

impl UdpSocket {
    /// `poll_recv_from` / `poll_peek_from` over every shard.
    pub(super) fn poll_recv_any(
        &self,
        cx: &Context<'_>,
        buf: &mut [u8],
        peek: bool,
    ) -> TaskPoll<io::Result<(usize, SocketAddr)>> {
        poll_any(
            &self.shards(),
            Target::Udp(self.port()),
            Slot::Read,
            cx,
            |iface| match self.try_recv(iface, buf, peek) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                r => Some(r),
            },
        )
    }
}
