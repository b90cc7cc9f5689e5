//! Readiness polling with mio's shape: [`Poll`], [`Events`], [`Token`],
//! [`Interest`], so one thread can serve thousands of non-blocking sockets.
//!
//! Semantics follow mio: readiness is edge-like and only a hint. A source
//! is reported when it is ready and something happened to it since it was
//! last reported (a segment, a timer, a new connection, a datagram);
//! after an event, repeat the operation until it returns `WouldBlock`
//! ("draining readiness"), or the next event may never come.

// `Source` is sealed: its method names crate-private types on purpose, so
// no other crate can implement it.
#![allow(private_interfaces)]

use super::{Shared, Stack, TcpListener, TcpStream, UdpSocket};
use crate::stack::{Interface, SocketHandle};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Associates an event with its registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

/// Which readiness a registration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Readable: data, end of stream, an error, or a connection to accept.
    pub const READABLE: Interest = Interest(1);
    /// Writable: room in the send buffer, or connecting finished.
    pub const WRITABLE: Interest = Interest(2);

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// True if readable interest is set.
    pub const fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// True if writable interest is set.
    pub const fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        self.add(rhs)
    }
}

/// One readiness event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    token: Token,
    readable: bool,
    writable: bool,
    error: bool,
    read_closed: bool,
}

impl Event {
    /// The registration's token.
    pub fn token(&self) -> Token {
        self.token
    }
    /// Reading would not block.
    pub fn is_readable(&self) -> bool {
        self.readable
    }
    /// Writing would not block.
    pub fn is_writable(&self) -> bool {
        self.writable
    }
    /// The connection failed (reset, refused, timed out).
    pub fn is_error(&self) -> bool {
        self.error
    }
    /// The peer closed its sending side.
    pub fn is_read_closed(&self) -> bool {
        self.read_closed
    }
}

/// A reusable list of events filled by [`Poll::poll`].
#[derive(Debug)]
pub struct Events {
    list: Vec<Event>,
    capacity: usize,
}

impl Events {
    /// Room for at most `capacity` events per poll.
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            list: Vec::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }
    /// The events of the last poll.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.list.iter()
    }
    /// True if the last poll returned no events.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// What a registration watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Tcp(SocketHandle),
    Listener(u16),
    Udp(u16),
}

mod sealed {
    use super::{Shared, Target};
    use std::sync::Arc;

    /// Implemented only by this crate's sockets.
    pub trait Sealed {
        fn target(&self) -> (Arc<Shared>, Target);
    }
}

/// A socket that can be registered with a [`Poll`]: [`TcpStream`],
/// [`TcpListener`] and [`UdpSocket`].
pub trait Source: sealed::Sealed {}

impl sealed::Sealed for TcpStream {
    fn target(&self) -> (Arc<Shared>, Target) {
        let (shared, h) = self.parts();
        (shared, Target::Tcp(h))
    }
}

impl sealed::Sealed for TcpListener {
    fn target(&self) -> (Arc<Shared>, Target) {
        (Arc::clone(self.shared()), Target::Listener(self.port()))
    }
}

impl sealed::Sealed for UdpSocket {
    fn target(&self) -> (Arc<Shared>, Target) {
        (Arc::clone(self.shared()), Target::Udp(self.port()))
    }
}

impl Source for TcpStream {}
impl Source for TcpListener {}
impl Source for UdpSocket {}

#[derive(Debug)]
struct Registration {
    target: Target,
    interest: Interest,
    /// Event counter when last reported; `None` = never (report at once).
    seen: Option<u64>,
}

/// Registrations by token and shard (the shard's index in
/// [`Poll::shards`]): a connection is watched on its shard, a listener or
/// UDP socket of a multiqueue stack on every shard (one entry each, their
/// events merged under the token). Ordered, so events come out in the
/// same order every run.
type Regs = BTreeMap<(Token, usize), Registration>;

/// Waits for readiness of registered sockets of one [`Stack`].
pub struct Poll {
    shared: Arc<Shared>,
    /// Every shard of the stack: just `shared` with one queue.
    shards: Vec<Arc<Shared>>,
    regs: Mutex<Regs>,
    /// With several shards: the stack's readiness fd, which every shard
    /// signals after doing something, to sleep on (a thread can sleep on
    /// one condition variable only).
    fd: std::sync::OnceLock<Arc<super::EventFd>>,
}

impl Poll {
    /// A poller for sockets of `stack`.
    pub fn new(stack: &Stack) -> Poll {
        Poll {
            shared: Arc::clone(stack.shared()),
            shards: super::shards::all(stack.shared()),
            regs: Mutex::new(BTreeMap::new()),
            fd: std::sync::OnceLock::new(),
        }
    }

    fn regs(&self) -> std::sync::MutexGuard<'_, Regs> {
        self.regs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shards (indices) that watching `source` takes.
    fn watched(&self, source: &impl Source) -> io::Result<(Target, Vec<usize>)> {
        let (shared, target) = source.target();
        let Some(i) = self.shards.iter().position(|s| Arc::ptr_eq(s, &shared)) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "socket of another stack",
            ));
        };
        Ok(match target {
            Target::Tcp(_) => (target, vec![i]),
            // Bound on every shard.
            Target::Listener(_) | Target::Udp(_) => (target, (0..self.shards.len()).collect()),
        })
    }

    fn insert(regs: &mut Regs, token: Token, target: Target, interest: Interest, on: &[usize]) {
        for &shard in on {
            regs.insert(
                (token, shard),
                Registration {
                    target,
                    interest,
                    seen: None,
                },
            );
        }
    }

    /// Removes every entry of `token`; false if there was none.
    fn remove(regs: &mut Regs, token: Token) -> bool {
        let keys: Vec<_> = regs
            .range((token, 0)..=(token, usize::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in &keys {
            regs.remove(k);
        }
        !keys.is_empty()
    }

    /// Registers `source` under `token`.
    ///
    /// # Errors
    /// `AlreadyExists` if `token` is taken; `InvalidInput` if the socket
    /// belongs to another stack.
    pub fn register(
        &self,
        source: &impl Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        let (target, on) = self.watched(source)?;
        let mut regs = self.regs();
        if regs
            .range((token, 0)..=(token, usize::MAX))
            .next()
            .is_some()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "token already registered",
            ));
        }
        Poll::insert(&mut regs, token, target, interest, &on);
        drop(regs);
        self.wake_poll();
        Ok(())
    }

    /// Changes the interest (and re-arms the first report).
    ///
    /// # Errors
    /// `NotFound` if `token` is not registered.
    pub fn reregister(
        &self,
        source: &impl Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        let (target, on) = self.watched(source)?;
        let mut regs = self.regs();
        if !Poll::remove(&mut regs, token) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "token not registered",
            ));
        }
        Poll::insert(&mut regs, token, target, interest, &on);
        drop(regs);
        self.wake_poll();
        Ok(())
    }

    /// Removes the registration of `token`.
    ///
    /// # Errors
    /// `NotFound` if `token` is not registered.
    pub fn deregister(&self, token: Token) -> io::Result<()> {
        if Poll::remove(&mut self.regs(), token) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "token not registered",
            ))
        }
    }

    /// Lets a `poll` sleeping in another thread look at the registrations
    /// again. (With several shards the poll sleeps on the readiness fd
    /// instead, cleared before it looks.)
    fn wake_poll(&self) {
        if let Some(fd) = self.fd.get() {
            fd.signal();
            return;
        }
        self.shared.wake_all();
    }

    /// Number of registrations.
    pub fn registered(&self) -> usize {
        let regs = self.regs();
        let mut tokens: Vec<Token> = regs.keys().map(|k| k.0).collect();
        tokens.dedup();
        tokens.len()
    }

    /// Fills `events` with ready sources, waiting up to `timeout` (`None`:
    /// until something is ready; `Some(ZERO)`: just check).
    ///
    /// # Errors
    /// Never fails while the stack runs (with several queues: creating the
    /// readiness eventfd may); an empty `events` means timeout.
    pub fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.list.clear();
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let cap = events.capacity;
        if self.shards.len() > 1 {
            return self.poll_shards(events, deadline);
        }
        // The registrations are locked per check (under the interface
        // lock), not across the wait: a register from another thread must
        // not wait for this poll to time out.
        let found = self.shared.wait_for(deadline, |iface| {
            collect(iface, 0, &mut self.regs(), &mut events.list, cap);
            (!events.list.is_empty()).then_some(())
        });
        let _ = found;
        Ok(())
    }

    /// [`poll`](Self::poll) over the shards of a multiqueue stack: looks
    /// at each under its lock, then sleeps on the readiness fd every
    /// shard signals (cleared before looking, so nothing is missed).
    fn poll_shards(
        &self,
        events: &mut Events,
        deadline: Option<std::time::Instant>,
    ) -> io::Result<()> {
        let fd = match self.fd.get() {
            Some(fd) => Arc::clone(fd),
            None => {
                let fd = super::shards::stack_fd_of(&self.shards)?;
                Arc::clone(self.fd.get_or_init(|| fd))
            }
        };
        let cap = events.capacity;
        loop {
            fd.clear();
            for (i, s) in self.shards.iter().enumerate() {
                let mut iface = s.lock();
                collect(&mut iface, i, &mut self.regs(), &mut events.list, cap);
            }
            if !events.list.is_empty()
                || self
                    .shards
                    .iter()
                    .any(|s| s.stop.load(std::sync::atomic::Ordering::Acquire))
            {
                return Ok(());
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Ok(());
                    }
                    Some(d - now)
                }
            };
            super::shards::sleep_on(&fd, timeout);
        }
    }
}

/// Readiness of one target: (counter, readable, writable, error, read_closed).
///
/// For a connection, the counter and the error come from its events
/// ([`Interface::tcp_events`]); readable and writable say whether `read`
/// and `write` would return at once, writable only once the handshake is
/// over (connected or closed).
fn readiness(iface: &mut Interface, t: Target) -> Option<(u64, bool, bool, bool, bool)> {
    match t {
        Target::Tcp(h) => {
            let ev = iface.tcp_events(h)?;
            let tcb = iface.tcp(h)?;
            let error = ev.error.is_some();
            let readable = tcb.can_recv();
            let read_closed = readable && tcb.recv_queue() == 0 && !error;
            let writable = !ev.connecting() && tcb.can_send();
            Some((ev.count, readable, writable, error, read_closed))
        }
        Target::Listener(port) => Some((
            iface.listener_events(port)?,
            iface.tcp_can_accept(port),
            false,
            false,
            false,
        )),
        Target::Udp(port) => Some((
            iface.udp_events(port)?,
            iface.udp_can_recv(port),
            iface.udp_can_send(port),
            false,
            false,
        )),
    }
}

/// Adds the events of the registrations on `shard` to `out`. An event
/// for a token already there (a listener or UDP socket ready on two
/// shards) is merged into it.
fn collect(iface: &mut Interface, shard: usize, regs: &mut Regs, out: &mut Vec<Event>, cap: usize) {
    for ((token, _), r) in regs.iter_mut().filter(|((_, s), _)| *s == shard) {
        if out.len() >= cap {
            break;
        }
        let Some((count, readable, writable, error, read_closed)) = readiness(iface, r.target)
        else {
            // The socket is gone: report it once as an error.
            if r.seen != Some(u64::MAX) {
                r.seen = Some(u64::MAX);
                out.push(Event {
                    token: *token,
                    readable: true,
                    writable: true,
                    error: true,
                    read_closed: true,
                });
            }
            continue;
        };
        if r.seen == Some(count) {
            continue;
        }
        let readable = readable && r.interest.is_readable();
        let writable = writable && r.interest.is_writable();
        if readable || writable || error {
            r.seen = Some(count);
            let merged = shard > 0
                && !matches!(r.target, Target::Tcp(_))
                && out.iter_mut().any(|e| {
                    let same = e.token == *token;
                    if same {
                        e.readable |= readable;
                        e.writable |= writable;
                    }
                    same
                });
            if merged {
                continue;
            }
            out.push(Event {
                token: *token,
                readable,
                writable,
                error,
                read_closed,
            });
        }
    }
}

#[cfg(test)]
#[path = "poll_tests.rs"]
mod tests;
