//! What a connection's core events ([`tcp::Event`](crate::tcp::Event))
//! have said so far, kept per connection for the `net` layer: its
//! readiness and errors come from here, not from the connection's state.
//! The table drains a connection's events when `net` asks
//! ([`Interface::tcp_events`]), so user calls made between two looks are
//! covered as well as segments and timers.

use super::{Interface, SocketHandle};
use crate::tcp::{ConnectionError, Event, Tcb};

/// The events of one connection, folded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketEvents {
    /// Events taken from the connection so far: moves exactly when
    /// something happened to it (`net::Poll` reports a source only then,
    /// edge semantics as mio).
    pub count: u64,
    /// The handshake completed ([`Event::Connected`]).
    pub connected: bool,
    /// The peer's FIN arrived ([`Event::PeerClosed`]).
    pub peer_closed: bool,
    /// The connection reached CLOSED ([`Event::Closed`]).
    pub closed: bool,
    /// Why it failed, if it did: the first error reported.
    pub error: Option<ConnectionError>,
}

impl SocketEvents {
    /// Takes every waiting event from `tcb`.
    ///
    /// Room in the send buffer counts only once there is enough of it
    /// ([`write_space`]): each ACK frees a few segments' worth, and a
    /// writer woken for each would copy a few kilobytes per wake-up.
    pub(super) fn absorb(&mut self, tcb: &mut Tcb) {
        while let Some(e) = tcb.poll_event() {
            match e {
                Event::Connected => self.connected = true,
                Event::PeerClosed => self.peer_closed = true,
                Event::Closed(error) => {
                    self.closed = true;
                    self.error = self.error.or(error);
                }
                Event::Writable if !write_space(tcb) => continue,
                Event::Readable | Event::Writable => {}
            }
            self.count += 1;
        }
    }

    /// Neither connected nor closed yet: the handshake is under way.
    pub fn connecting(&self) -> bool {
        !self.connected && !self.closed
    }
}

/// True when the send buffer has room enough to wake a writer for, as
/// Linux's `sk_stream_write_space`: free space at least half of what is
/// queued (a third of the buffer), or nothing queued at all.
///
/// No wake-up is lost by waiting for it: every byte an ACK frees and
/// every growth of the buffer queues a new `Writable`, so the event that
/// crosses the threshold counts, and one always does (at the latest the
/// ACK that empties the buffer). A writer that finds less room than this
/// is still served by `write`: it is only not woken for it.
pub(super) fn write_space(tcb: &Tcb) -> bool {
    let free = tcb.send_capacity();
    free.saturating_mul(2) >= tcb.send_queue()
}

impl Interface {
    /// The events of connection `h` so far, after taking the ones waiting
    /// in it (see `net::Poll`). The entry is not touched (see `sched`):
    /// taking events gives a connection nothing to send and no new
    /// deadline, so waiters and task wakers may look at every connection
    /// they wait on without making the next poll visit it.
    pub fn tcp_events(&mut self, h: SocketHandle) -> Option<SocketEvents> {
        let e = self.entry_untouched_mut(h)?;
        e.events.absorb(&mut e.tcb);
        Some(e.events)
    }
}
