//! [`TcpStream`]: a connection with tokio's `AsyncRead`/`AsyncWrite`, and
//! its borrowed and owned halves.

use super::addr::{addrs_of, Addrs, Lookups, ToSocketAddrs};
use crate::connector::happy::interleave;
use crate::connector::{resolver_now, Race, Resolution, ATTEMPT_DELAY, CONNECT_TIMEOUT};
use crate::dns::ResolveError;
use crate::net;
use crate::time::Instant;
use crate::Stack;
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A TCP connection over a [`Stack`], for tokio.
///
/// Dropping it closes the connection gracefully (FIN after the queued
/// data, in the background), as dropping `tokio::net::TcpStream` does;
/// [`poll_shutdown`](AsyncWrite::poll_shutdown) sends the FIN at once.
#[derive(Debug)]
pub struct TcpStream {
    inner: net::TcpStream,
}

impl TcpStream {
    /// Opens a connection to what `addr` stands for; a host name resolves
    /// through the library's resolver over `stack`, the AAAA and A queries
    /// sent at once, connecting as soon as the AAAA answer is in or 50 ms
    /// after the A answer without it (RFC 8305 §3). Several addresses
    /// race as Happy Eyeballs v2 (RFC 8305): IPv6 first, the next address
    /// 250 ms later or as soon as one fails, the first connection wins.
    ///
    /// Dropping the future while the handshake runs abandons (closes)
    /// the half-open connections.
    ///
    /// # Errors
    /// `ConnectionRefused`, `TimedOut` (after the SYN retries), `NotFound`
    /// for a name that does not resolve; the last address's error.
    pub async fn connect(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::driver::ensure(stack.shared());
        let addrs = match addrs_of(&addr)? {
            Addrs::Host(host, port) => return TcpStream::connect_host(stack, &host, port).await,
            Addrs::Resolved(addrs) => addrs,
        };
        match addrs.as_slice() {
            [] => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            )),
            [one] => TcpStream::connect_addr(stack, *one).await,
            many => TcpStream::connect_racing(stack, many).await,
        }
    }

    /// Happy Eyeballs v2 (RFC 8305) over several addresses, driven by the
    /// connector's sans-IO [`Race`]: interleaved IPv6-first (§4), the next
    /// attempt [`ATTEMPT_DELAY`] after the previous one or at once after
    /// it failed (§5), each given up after [`CONNECT_TIMEOUT`]; the first
    /// connection wins and the others are dropped (abandoned).
    async fn connect_racing(stack: &Stack, addrs: &[SocketAddr]) -> io::Result<TcpStream> {
        let mut race = Race::new(
            interleave(addrs),
            ATTEMPT_DELAY,
            CONNECT_TIMEOUT,
            resolver_now(),
        );
        let mut attempts = Attempts::default();
        let mut sleep = None;
        let won = poll_fn(|cx| loop {
            let now = resolver_now();
            match attempts.poll(cx, stack, &mut race, now) {
                Step::Won(s) => return Poll::Ready(Some(s)),
                Step::Over => return Poll::Ready(None),
                Step::Again => continue,
                Step::Wait => {}
            }
            if wait_until(cx, &mut sleep, race.deadline(), now).is_pending() {
                return Poll::Pending;
            }
        })
        .await;
        match won {
            Some(s) => Ok(TcpStream { inner: s }),
            None => Err(race.error()),
        }
    }

    /// Resolving `host` and connecting to `port` together (RFC 8305 §3),
    /// as the blocking connector does: the AAAA and A queries leave at
    /// once from one socket; connecting starts when the AAAA answer is
    /// in, or [`RESOLUTION_DELAY`](crate::connector::RESOLUTION_DELAY)
    /// after the A answer if AAAA has not answered by then; a later
    /// answer's addresses join the running race.
    async fn connect_host(stack: &Stack, host: &str, port: u16) -> io::Result<TcpStream> {
        let now = resolver_now();
        let mut res = Resolution::new(host, true, true, now);
        let mut on_answer = |v6, r| res.on_answer(v6, r, resolver_now());
        let mut lookups = Lookups::start(stack.shared(), host, &mut on_answer)?;
        let mut race = Race::new(Vec::new(), ATTEMPT_DELAY, CONNECT_TIMEOUT, now);
        let mut attempts = Attempts::default();
        let mut sleep = None;
        let won = poll_fn(|cx| loop {
            let now = resolver_now();
            // Ready once both lookups are over; the race may still run.
            let _ = lookups.poll(cx, &mut |v6, r| res.on_answer(v6, r, resolver_now()));
            let fresh: Vec<SocketAddr> = res
                .release(now)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            race.add(&fresh);
            race.expect_more(!res.is_done());
            // Nobody narrates here: the notes are dropped as they come.
            res.take_notes();
            if !res.started() && res.is_done() {
                let e = res
                    .error()
                    .unwrap_or_else(|| ResolveError::NotFound(host.to_owned()));
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::NotFound, e.to_string())));
            }
            match attempts.poll(cx, stack, &mut race, now) {
                Step::Won(s) => return Poll::Ready(Ok(Some(s))),
                Step::Over => return Poll::Ready(Ok(None)),
                Step::Again => continue,
                Step::Wait => {}
            }
            let deadline = [race.deadline(), res.deadline()]
                .into_iter()
                .flatten()
                .min();
            if wait_until(cx, &mut sleep, deadline, now).is_pending() {
                return Poll::Pending;
            }
        })
        .await?;
        // The lookups still out are abandoned with their socket.
        match won {
            Some(s) => Ok(TcpStream { inner: s }),
            None => Err(race.error()),
        }
    }

    async fn connect_addr(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        let s = net::TcpStream::connect_nonblocking(stack, addr)?;
        poll_fn(|cx| s.poll_connect(cx)).await?;
        Ok(TcpStream { inner: s })
    }

    /// Wraps a blocking-API stream (switched to non-blocking mode).
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors tokio.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        super::driver::ensure(stream.shared());
        stream.set_nonblocking(true)?;
        Ok(TcpStream { inner: stream })
    }

    /// The blocking-API stream (left in non-blocking mode, as tokio does).
    pub fn into_std(self) -> net::TcpStream {
        self.inner
    }

    /// The blocking-API stream, for options this type does not forward
    /// (`info`, buffer sizes, congestion control, ...).
    pub fn as_std(&self) -> &net::TcpStream {
        &self.inner
    }

    delegate! {
        /// The remote address.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn peer_addr(&self) -> io::Result<SocketAddr>;

        /// The local address.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn local_addr(&self) -> io::Result<SocketAddr>;

        /// `TCP_NODELAY`.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;

        /// True when Nagle's algorithm is off.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn nodelay(&self) -> io::Result<bool>;

        /// Sets the IP TTL.
        ///
        /// # Errors
        /// `InvalidInput` outside 1..=255.
        fn set_ttl(&self, ttl: u32) -> io::Result<()>;

        /// The IP TTL.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn ttl(&self) -> io::Result<u32>;

        /// The connection's error, if it failed.
        ///
        /// # Errors
        /// `NotConnected` if the connection is gone.
        fn take_error(&self) -> io::Result<Option<io::Error>>;
    }

    /// Reads without consuming: the next read returns the same bytes.
    ///
    /// # Errors
    /// As reading.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_peek(cx, buf)).await
    }

    /// Borrowed halves for reading and writing at once (in one task, e.g.
    /// with `tokio::io::copy` both ways).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(&self.inner), WriteHalf(&self.inner))
    }

    /// Owned halves, for two tasks. Dropping the write half sends the FIN
    /// (as tokio's does); the connection closes when both are dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let inner = self.inner;
        (
            OwnedReadHalf {
                inner: inner.handle_clone(),
            },
            OwnedWriteHalf {
                inner,
                shutdown_on_drop: true,
            },
        )
    }
}

fn read_into(
    s: &net::TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    super::driver::ensure(s.shared());
    let n = ready!(s.poll_read(cx, buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

fn shutdown(s: &net::TcpStream) -> Poll<io::Result<()>> {
    match s.shutdown(Shutdown::Write) {
        // Shutting down what is already gone: nothing left to do.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
        r => Poll::Ready(r),
    }
}

macro_rules! async_io {
    ($t:ty, $($field:tt)+) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                read_into(&self.$($field)+, cx, buf)
            }
        }
        async_io!(@write $t, $($field)+);
    };
    (@write $t:ty, $($field:tt)+) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                super::driver::ensure(self.$($field)+.shared());
                self.$($field)+.poll_write(cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Written bytes are in TCP's hands already, as with tokio's
                // TcpStream: nothing to flush.
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                shutdown(&self.$($field)+)
            }
        }
    };
}

async_io!(TcpStream, inner);

/// The reading half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a net::TcpStream);

/// The writing half of [`TcpStream::split`].
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a net::TcpStream);

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_into(self.0, cx, buf)
    }
}

async_io!(@write WriteHalf<'_>, 0);

/// The reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: net::TcpStream,
}

/// The writing half of [`TcpStream::into_split`]; dropping it sends the
/// FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: net::TcpStream,
    shutdown_on_drop: bool,
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_into(&self.inner, cx, buf)
    }
}

async_io!(@write OwnedWriteHalf, inner);

/// The halves given to [`OwnedReadHalf::reunite`] came from different
/// streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl std::fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the halves are not from the same stream")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Joins the halves back into the stream.
    ///
    /// # Errors
    /// [`ReuniteError`] (with both halves) if they are of two streams.
    pub fn reunite(self, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !self.inner.same_socket(&write.inner) {
            return Err(ReuniteError(self, write));
        }
        write.shutdown_on_drop = false;
        Ok(TcpStream { inner: self.inner })
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

impl OwnedWriteHalf {
    /// Drops the half without sending the FIN.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.shutdown(Shutdown::Write);
        }
    }
}

/// The connection attempts of one race; a loser is dropped (abandoned)
/// as it leaves the race, the rest with this.
#[derive(Default)]
struct Attempts(Vec<Option<net::TcpStream>>);

/// What one step of a race came to.
enum Step {
    Won(net::TcpStream),
    /// Every attempt failed.
    Over,
    /// An attempt failed: the next may start at once.
    Again,
    /// Nothing to do before the race's deadline or a handshake's end.
    Wait,
}

impl Attempts {
    /// Abandons the attempts whose time ran out, starts those now due,
    /// and hands every finished handshake to the race.
    fn poll(&mut self, cx: &mut Context<'_>, stack: &Stack, race: &mut Race, now: Instant) -> Step {
        race.take_notes();
        for i in race.expire(now) {
            self.0.get_mut(i).and_then(Option::take);
        }
        while let Some((i, addr)) = race.start(now) {
            match net::TcpStream::connect_nonblocking(stack, addr) {
                Ok(s) => self.0.push(Some(s)),
                Err(e) => {
                    self.0.push(None);
                    race.on_result(i, Err(e), now);
                }
            }
        }
        let mut finished = false;
        for i in race.live() {
            let Some(s) = self.0.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if let Poll::Ready(r) = s.poll_connect(cx) {
                finished = true;
                let won = race.on_result(i, r, now);
                if let Some(s) = self.0.get_mut(i).and_then(Option::take) {
                    if won {
                        return Step::Won(s);
                    }
                }
            }
        }
        if race.is_over() {
            Step::Over
        } else if finished {
            Step::Again
        } else {
            Step::Wait
        }
    }
}

/// Arms `sleep` for `deadline` (none: only a wake-up ends the wait);
/// ready if it has already passed.
fn wait_until(
    cx: &mut Context<'_>,
    sleep: &mut Option<Pin<Box<::tokio::time::Sleep>>>,
    deadline: Option<Instant>,
    now: Instant,
) -> Poll<()> {
    let Some(at) = deadline else {
        return Poll::Pending;
    };
    let timer = sleep.insert(Box::pin(::tokio::time::sleep(
        at.saturating_duration_since(now),
    )));
    timer.as_mut().poll(cx)
}
