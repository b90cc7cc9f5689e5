//! [`TcpStream`]: a connected TCP socket with `std::net::TcpStream`'s
//! shape and blocking / non-blocking semantics.
//!
//! This file owns the socket (handles, clones, the per-socket state the
//! clones share), connecting, and what a socket reports (addresses,
//! state, [`TcpInfo`]). The rest is in its parts:
//! - `options`: socket options and timeouts;
//! - `rw`: the blocking wait paths of `read`, `peek` and `write`;
//! - `close`: `shutdown`, `abort`, and the close of the last handle with
//!   `SO_LINGER`.

mod close;
mod options;
mod rw;

use super::timeout::{check_timeout, deadline};
use super::{error, Shared, Stack};
use crate::stack::SocketHandle;
use crate::tcp::State;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
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

    /// Per-connection counters.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn tcp_stats(&self) -> io::Result<crate::tcp::ConnStats> {
        self.with_tcb(|t| t.stats())
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
