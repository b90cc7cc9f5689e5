//! [`TcpStream`]: a connected TCP socket with `std::net::TcpStream`'s
//! shape and blocking / non-blocking semantics.

use super::{error, Shared, Stack, Wait};
use crate::stack::SocketHandle;
use crate::tcp::{RecvError, SendError, State};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A snapshot of one connection (see [`TcpStream::info`]).
#[derive(Clone, Copy, Debug)]
pub struct TcpInfo {
    /// RFC 9293 state.
    pub state: State,
    /// Counters.
    pub stats: crate::tcp::ConnStats,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variation.
    pub rttvar: Duration,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Send MSS.
    pub mss: usize,
    /// The peer's window in bytes.
    pub send_window: u32,
    /// Bytes in the send buffer.
    pub send_queue: usize,
    /// Bytes in the receive buffer.
    pub recv_queue: usize,
    /// The window we last advertised.
    pub recv_window: u32,
    /// Our initial sequence number (RFC 9293 §3.4.1, chosen per RFC 6528).
    pub iss: u32,
    /// The peer's initial sequence number (0 until its SYN arrives).
    pub irs: u32,
    /// Congestion control: algorithm, cwnd, ssthresh; BBR's mode, pacing
    /// rate, bandwidth and min-RTT estimates.
    pub cc: crate::tcp::CcState,
}

/// A TCP connection over a [`Stack`].
///
/// `Read` and `Write` are implemented for both `TcpStream` and
/// `&TcpStream`, so one thread can read while another writes; or
/// [`try_clone`](TcpStream::try_clone) it. The connection closes gracefully
/// when the last clone is dropped (or [`close`](TcpStream::close)d), as
/// `close(2)` of the last descriptor does: at once, with the FIN sent in
/// the background, unless [`set_linger`](TcpStream::set_linger) says
/// otherwise.
pub struct TcpStream {
    inner: Arc<Inner>,
}

/// The socket proper, shared by clones (options are per socket, as in
/// `std::net`).
struct Inner {
    shared: Arc<Shared>,
    handle: SocketHandle,
    nonblocking: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    linger: Mutex<Option<Duration>>,
    /// The connection was handed back to the stack (by `close`; `Drop`
    /// then has nothing left to do).
    closed: bool,
}

fn deadline(timeout: Option<Duration>) -> Option<std::time::Instant> {
    timeout.map(|t| std::time::Instant::now() + t)
}

fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

impl TcpStream {
    pub(super) fn from_handle(shared: Arc<Shared>, handle: SocketHandle) -> TcpStream {
        TcpStream {
            inner: Arc::new(Inner {
                shared,
                handle,
                nonblocking: AtomicBool::new(false),
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
                linger: Mutex::new(None),
                closed: false,
            }),
        }
    }

    pub(super) fn parts(&self) -> (Arc<Shared>, SocketHandle) {
        (Arc::clone(&self.inner.shared), self.inner.handle)
    }

    /// Another handle to this socket (what `try_clone` returns, without
    /// the `Result`).
    #[cfg(feature = "tokio")]
    pub(crate) fn handle_clone(&self) -> TcpStream {
        TcpStream {
            inner: Arc::clone(&self.inner),
        }
    }

    /// True if both handles are of one socket.
    #[cfg(feature = "tokio")]
    pub(crate) fn same_socket(&self, other: &TcpStream) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    pub(super) fn handle(&self) -> SocketHandle {
        self.inner.handle
    }

    /// Another handle to the same connection (shared options and state).
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors `std::net`.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Reads without consuming: the next `read` returns the same bytes.
    /// Blocks (or returns `WouldBlock`) like `read`.
    ///
    /// # Errors
    /// As `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        let timeout = *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let handle = self.inner.handle;
        let r = self.inner.shared.wait_for(
            if nonblocking { None } else { deadline(timeout) },
            |iface| {
                let (Some(ev), Some(tcb)) = (iface.tcp_events(handle), iface.tcp(handle)) else {
                    return Some(Err(error::not_connected()));
                };
                if tcb.recv_queue() > 0 || buf.is_empty() {
                    return Some(Ok(tcb.peek(buf)));
                }
                if let Some(e) = ev.error {
                    return Some(Err(error::connection(e)));
                }
                if tcb.can_recv() {
                    // End of stream.
                    return Some(Ok(0));
                }
                if ev.connecting() {
                    return Some(Err(error::not_connected()));
                }
                if nonblocking {
                    return Some(Err(error::would_block()));
                }
                None
            },
        );
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    /// Disables (`true`) or enables Nagle's algorithm (`TCP_NODELAY`).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        // Only data Nagle was holding back needs a push, sent from this
        // thread as Linux's setsockopt(TCP_NODELAY) does: poking the
        // driver for every accepted connection woke it (and had it take
        // the lock against the caller) for nothing.
        let push = self.with_tcb(|t| {
            let held = nodelay && !t.nodelay() && t.send_queue() > 0;
            t.set_nodelay(nodelay);
            held
        })?;
        if push {
            self.inner.shared.transmit();
        }
        Ok(())
    }

    /// True when Nagle's algorithm is off.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with_tcb(|t| t.nodelay())
    }

    /// Sets the send buffer size in bytes (`SO_SNDBUF`); queued data is
    /// kept. The buffer then no longer grows with the congestion window.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `NotConnected` if the connection is gone.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer size must be positive",
            ));
        }
        self.with_tcb(|t| t.set_send_buffer(bytes))?;
        self.inner.shared.notify_waiters();
        self.inner.shared.wake_tasks();
        Ok(())
    }

    /// The send buffer size.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.with_tcb(|t| t.send_buffer())
    }

    /// Sets the receive buffer size in bytes (`SO_RCVBUF`); unread data is
    /// kept, and the buffer no longer grows with the path (autotuning is
    /// off for this socket, as on Linux). The advertised window is bounded
    /// by the scale negotiated at connect time (chosen for
    /// `tcp::Config::recv_buffer_max`). `bytes` is window: Linux doubles a
    /// `SO_RCVBUF` value as memory, a window of 1–1.25 times it.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `WouldBlock` when shrinking while out-of-order
    /// data is parked (retry later); `NotConnected` if the connection is gone.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        if bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer size must be positive",
            ));
        }
        if !self.with_tcb(|t| t.set_recv_buffer(bytes))? {
            return Err(error::would_block());
        }
        self.inner.shared.waker.wake();
        Ok(())
    }

    /// The receive buffer size.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.with_tcb(|t| t.recv_buffer())
    }

    /// Sets the IP TTL of this connection's packets.
    ///
    /// # Errors
    /// `InvalidInput` for 0; `NotConnected` if the connection is gone.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = super::valid_ttl(ttl)?;
        self.with_tcb(|t| t.set_ttl(ttl))
    }

    /// The IP TTL of this connection's packets.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn ttl(&self) -> io::Result<u32> {
        let default = u32::from(self.inner.shared.lock().config().ttl);
        self.with_tcb(|t| t.ttl().map_or(default, u32::from))
    }

    /// `SO_LINGER`: what closing the last handle (dropping it, or
    /// [`close`](Self::close)) does.
    ///
    /// - `None` (the default): return at once; the queued data and the
    ///   FIN are sent in the background.
    /// - `Some(Duration::ZERO)`: abortive close: the queued data is
    ///   dropped and the connection reset (RST), with no TIME-WAIT.
    /// - `Some(t)`: send the FIN after the queued data and block until the
    ///   peer has acknowledged all of it and the FIN, or `t` has passed.
    ///   In blocking and non-blocking mode alike, as on Linux. If `t`
    ///   passes first, the connection is reset (RST) and `close` reports
    ///   `WouldBlock` (the BSD `EWOULDBLOCK`); Linux would instead let the
    ///   unacknowledged data keep trying in the background, which makes
    ///   the linger time no bound at all.
    ///
    /// # Errors
    /// Never fails.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        *self.inner.linger.lock().unwrap_or_else(|p| p.into_inner()) = linger;
        Ok(())
    }

    /// The linger setting.
    ///
    /// # Errors
    /// Never fails.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(*self.inner.linger.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Opens a connection to `addr`, blocking until the handshake completes
    /// or fails (after the SYN retries, about two minutes by default).
    ///
    /// `addr` is anything `std::net::TcpStream::connect` takes; each address
    /// it resolves to is tried in turn. A host name in a string is resolved
    /// by `std`'s resolver (the system's, `getaddrinfo`); to resolve through
    /// the stack itself use [`StackConnector`](crate::StackConnector) or the
    /// async `connect` of the `tokio` feature.
    ///
    /// # Errors
    /// `ConnectionRefused` (RST answered our SYN), `TimedOut`,
    /// `AddrNotAvailable` when no ephemeral port is free; the last
    /// address's error.
    pub fn connect(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::udp::each_addr(addr, |a| TcpStream::connect_inner(stack, a, None))
    }

    /// Like [`connect`](Self::connect) but gives up after `timeout`.
    ///
    /// # Errors
    /// As `connect`; `TimedOut` when `timeout` passes first, and
    /// `InvalidInput` for a zero timeout.
    pub fn connect_timeout(
        stack: &Stack,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        check_timeout(Some(timeout))?;
        TcpStream::connect_inner(stack, *addr, Some(timeout))
    }

    /// Starts connecting and returns at once with the stream in
    /// non-blocking mode, as mio does: the connection is usable when a
    /// [`Poll`](super::Poll) reports it writable (or its state leaves
    /// SYN-SENT); then check [`take_error`](Self::take_error).
    ///
    /// # Errors
    /// `AddrNotAvailable` when no port is free.
    pub fn connect_nonblocking(
        stack: &Stack,
        addr: impl Into<SocketAddr>,
    ) -> io::Result<TcpStream> {
        TcpStream::connect_nonblocking_shared(super::shards::pick(stack.shared()), addr.into())
    }

    /// [`connect_nonblocking`](Self::connect_nonblocking) on the stack
    /// behind `shared`.
    pub(crate) fn connect_nonblocking_shared(
        shared: Arc<Shared>,
        remote: SocketAddr,
    ) -> io::Result<TcpStream> {
        let handle = {
            let mut iface = shared.lock();
            let now = shared.now();
            iface.tcp_connect(now, remote).map_err(error::stack)?
        };
        // The SYN leaves from this thread, as from connect(2).
        shared.transmit();
        let s = TcpStream::from_handle(shared, handle);
        s.inner.nonblocking.store(true, Ordering::Relaxed);
        Ok(s)
    }

    fn connect_inner(
        stack: &Stack,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let remote = addr;
        let shared = super::shards::pick(stack.shared());
        let handle = {
            let mut iface = shared.lock();
            let now = shared.now();
            iface.tcp_connect(now, remote).map_err(error::stack)?
        };
        // The SYN leaves from this thread, as from connect(2).
        shared.transmit();
        let stream = TcpStream::from_handle(shared, handle);
        // Connected or closed (refused, timed out, unreachable).
        let outcome = stream.inner.shared.wait_for(deadline(timeout), |iface| {
            let ev = iface.tcp_events(handle)?;
            (!ev.connecting()).then_some(ev.error)
        });
        match outcome {
            Ok(None) => Ok(stream),
            Ok(Some(e)) => Err(error::connection(e)),
            Err(()) => {
                stream.abort();
                Err(error::timed_out())
            }
        }
    }

    fn with_tcb<T>(&self, f: impl FnOnce(&mut crate::tcp::Tcb) -> T) -> io::Result<T> {
        let mut iface = self.inner.shared.lock();
        iface
            .tcp_mut(self.inner.handle)
            .map(f)
            .ok_or_else(error::not_connected)
    }

    fn do_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        let timeout = *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let handle = self.inner.handle;
        let mut wake = false;
        // While it waits, the reader posts `buf` for the device to read
        // data straight into (`stack::direct`): every access to it goes
        // through this one pointer, under the lock, while not posted, and
        // `posting` withdraws it before `buf` is given back, even on unwind.
        let (addr, len) = (buf.as_mut_ptr(), buf.len());
        let mut posting = Posting {
            stream: self,
            addr: addr as usize,
            posted: false,
        };
        let r = self.inner.shared.wait_for(
            if nonblocking { None } else { deadline(timeout) },
            |iface| {
                let Some(tcb) = iface.tcp_mut(handle) else {
                    return Some(Err(error::not_connected()));
                };
                if std::mem::take(&mut posting.posted) {
                    if let Some(n @ 1..) = tcb.take_posted(posting.addr) {
                        wake = tcb.wants_transmit();
                        return Some(Ok(n));
                    }
                }
                // SAFETY: `addr..+len` is `buf`, not posted at this point.
                let buf = unsafe { std::slice::from_raw_parts_mut(addr, len) };
                match tcb.recv(buf) {
                    Ok(n) => {
                        wake = tcb.wants_transmit();
                        Some(Ok(n))
                    }
                    Err(RecvError::WouldBlock) if nonblocking => Some(Err(error::would_block())),
                    Err(RecvError::WouldBlock) => {
                        // SAFETY: `buf` stays borrowed, and untouched, until
                        // `posting` withdraws it under the lock.
                        posting.posted = unsafe { tcb.post_recv(posting.addr, len) };
                        None
                    }
                    Err(e) => Some(Err(error::recv(e))),
                }
            },
        );
        // Timed out (or the stack stopped) while posted: what arrived in
        // the meantime is the result (and reading it may open the window).
        let r = match posting.withdraw() {
            0 => r,
            n => {
                wake = true;
                Ok(Ok(n))
            }
        };
        if wake {
            // Reading left an ACK to send (a window update, a quick ACK):
            // sent from this thread, as recv(2) does, rather than by
            // waking the driver for it.
            self.inner.shared.transmit();
        }
        // A read timeout reports WouldBlock, as Linux's SO_RCVTIMEO does.
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    fn do_write(&self, buf: &[u8]) -> io::Result<usize> {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        let timeout = *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let handle = self.inner.handle;
        let mut idle = false;
        let r = self.inner.shared.wait_as(
            Wait::Follow,
            if nonblocking { None } else { deadline(timeout) },
            |iface| {
                let Some(tcb) = iface.tcp_mut(handle) else {
                    return Some(Err(error::not_connected()));
                };
                // Nothing unsent or unacknowledged: a request or a response,
                // whose latency is the point. Bulk writes leave the
                // sending to the driver thread, which overlaps it with the
                // writer's next copy.
                idle = tcb.send_queue() == 0;
                match tcb.send(buf) {
                    Ok(n) => Some(Ok(n)),
                    Err(SendError::WouldBlock) if nonblocking => Some(Err(error::would_block())),
                    Err(SendError::WouldBlock) => None,
                    Err(e) => Some(Err(error::send(e))),
                }
            },
        );
        if matches!(r, Ok(Ok(n)) if n > 0) {
            if idle {
                self.inner.shared.transmit();
            } else {
                self.inner.shared.waker.wake();
            }
        }
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    /// Moves the socket into or out of non-blocking mode.
    ///
    /// # Errors
    /// Never fails; the `Result` mirrors `std::net`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Sets the read timeout; `None` blocks forever. A timed-out read
    /// returns `WouldBlock`, as on Linux.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// Sets the write timeout; `None` blocks forever.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// The read timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
    }

    /// The write timeout.
    ///
    /// # Errors
    /// Never fails.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()))
    }

    /// Shuts down the reading side, the writing side (sends FIN after the
    /// queued data), or both.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.with_tcb(|tcb| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                tcb.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                tcb.close();
            }
        })?;
        self.inner.shared.waker.wake();
        self.inner.shared.notify_waiters();
        self.inner.shared.wake_tasks();
        Ok(())
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.with_tcb(|t| t.remote())
    }

    /// The local address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.with_tcb(|t| t.local())
    }

    /// The connection's error, if it failed (reset, timed out, refused).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let ev = self.inner.shared.lock().tcp_events(self.inner.handle);
        ev.map(|e| e.error.map(error::connection))
            .ok_or_else(error::not_connected)
    }

    /// The connection's state, in RFC 9293 names.
    pub fn state(&self) -> State {
        self.with_tcb(|t| t.state()).unwrap_or(State::Closed)
    }

    /// A snapshot of the connection's state, timers and counters (like
    /// Linux's `TCP_INFO`).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn info(&self) -> io::Result<TcpInfo> {
        self.with_tcb(|t| TcpInfo {
            state: t.state(),
            stats: t.stats(),
            srtt: t.rtt().srtt(),
            rttvar: t.rtt().rttvar(),
            rto: t.rtt().rto(),
            cwnd: t.cwnd(),
            mss: t.mss(),
            send_window: t.send_window(),
            send_queue: t.send_queue(),
            recv_queue: t.recv_queue(),
            recv_window: t.recv_window(),
            iss: t.iss().0,
            irs: t.irs().0,
            cc: t.cc_state(),
        })
    }

    /// Chooses the congestion-control algorithm for this connection, like
    /// Linux's `TCP_CONGESTION` socket option: before the handshake
    /// completes (after [`connect_nonblocking`](Self::connect_nonblocking))
    /// or mid-connection, where the current window carries over. The
    /// stack-wide default is [`tcp::Config::congestion`](crate::tcp::Config::congestion).
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn set_congestion_control(&self, algorithm: crate::tcp::Algorithm) -> io::Result<()> {
        self.with_tcb(|t| t.set_congestion_control(algorithm))?;
        self.inner.shared.waker.wake();
        Ok(())
    }

    /// The congestion-control algorithm in use.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn congestion_control(&self) -> io::Result<crate::tcp::Algorithm> {
        self.with_tcb(|t| t.congestion_control())
    }

    /// Per-connection counters.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn tcp_stats(&self) -> io::Result<crate::tcp::ConnStats> {
        self.with_tcb(|t| t.stats())
    }

    /// Closes this handle. When it is the last one (no clones left), the
    /// connection closes as on drop, following [`set_linger`](Self::set_linger);
    /// unlike drop, this reports how a lingering close ended. With other
    /// clones alive the connection stays open, as `close(2)` of one of
    /// several descriptors leaves the socket open.
    ///
    /// # Errors
    /// `WouldBlock` when the linger time passed before the peer
    /// acknowledged everything: the connection was reset.
    pub fn close(self) -> io::Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => inner.close(),
            Err(_) => Ok(()),
        }
    }

    /// Resets the connection at once (RST), discarding queued data.
    pub fn abort(&self) {
        let _ = self.with_tcb(|t| t.abort());
        self.inner.shared.waker.wake();
    }

    fn flush_inner(&self) -> io::Result<()> {
        // Data is handed to TCP as soon as it is written; like std's
        // TcpStream there is nothing to flush.
        Ok(())
    }
}

/// A reader's buffer posted to its connection for direct delivery
/// ([`Tcb::post_recv`](crate::tcp::Tcb::post_recv)), withdrawn before the
/// buffer is given back to the caller.
struct Posting<'a> {
    stream: &'a TcpStream,
    addr: usize,
    posted: bool,
}

impl Posting<'_> {
    /// Withdraws the buffer if it is still posted; returns the bytes
    /// delivered into it.
    fn withdraw(&mut self) -> usize {
        if !std::mem::take(&mut self.posted) {
            return 0;
        }
        let addr = self.addr;
        self.stream
            .with_tcb(|t| t.take_posted(addr))
            .ok()
            .flatten()
            .unwrap_or(0)
    }
}

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_inner()
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_inner()
    }
}

impl Inner {
    /// CLOSE from the last handle: hands the connection to the stack, which
    /// frees it once it reaches CLOSED, lingering as `SO_LINGER` says.
    fn close(&mut self) -> io::Result<()> {
        self.closed = true;
        let linger = *self.linger.lock().unwrap_or_else(|p| p.into_inner());
        let mut iface = self.shared.lock();
        if linger == Some(Duration::ZERO) {
            if let Some(t) = iface.tcp_mut(self.handle) {
                t.abort();
            }
        }
        // Graceful close: FIN after the queued data.
        iface.tcp_release(self.handle);
        drop(iface);
        self.shared.tasks.drop_fd(super::Target::Tcp(self.handle));
        // The FIN (or RST) leaves from this thread, as from close(2).
        self.shared.transmit();
        match linger {
            Some(t) if !t.is_zero() => self.linger(t),
            _ => Ok(()),
        }
    }

    /// Waits up to `t` for the peer to acknowledge our data and FIN
    /// (Linux's `sk_stream_wait_close`: until the connection leaves
    /// FIN-WAIT-1, CLOSING and LAST-ACK); resets it if `t` passes first.
    fn linger(&self, t: Duration) -> io::Result<()> {
        let handle = self.handle;
        let acked = self
            .shared
            .wait_for(deadline(Some(t)), |iface| match iface.tcp(handle) {
                // Freed: it reached CLOSED.
                None => Some(()),
                Some(tcb) => (!matches!(
                    tcb.state(),
                    State::SynReceived | State::FinWait1 | State::Closing | State::LastAck
                ))
                .then_some(()),
            });
        if acked.is_ok() || self.shared.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(tcb) = self.shared.lock().tcp_mut(handle) {
            tcb.abort();
        }
        self.shared.waker.wake();
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "linger time passed before the peer acknowledged the data; connection reset",
        ))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.closed {
            // Drop cannot report a linger timeout; `close` can.
            let _ = self.close();
        }
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("local", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("state", &self.state()).finish()
    }
}
