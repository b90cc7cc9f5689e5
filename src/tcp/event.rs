//! Connection events for the owner of a [`Tcb`]: what changed for the
//! application (RFC 9293 §3.9's "signals to the user": connection open,
//! data to RECEIVE, room to SEND, "connection closing", "connection reset"
//! and timeouts), pushed where the change happens and drained with
//! [`Tcb::poll_event`] after any input, timeout or user call.
//!
//! The queue is bounded: at most one event of each kind waits, so a
//! connection never holds more than [`KINDS`] of them however long the
//! owner leaves it undrained. Repeats of a waiting kind merge into it.

use super::{ConnectionError, Tcb};

/// Something the application may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed: the connection left SYN-SENT or
    /// SYN-RECEIVED for a synchronized state.
    Connected,
    /// New data (or the end of the stream) can be received.
    Readable,
    /// Room opened in the send buffer.
    Writable,
    /// The peer's FIN arrived in order: after the buffered data, reads
    /// return end of stream.
    PeerClosed,
    /// The connection reached CLOSED; with the error if it failed (reset,
    /// refused, timed out, aborted, unreachable).
    Closed(Option<ConnectionError>),
}

impl Event {
    fn kind(self) -> u8 {
        match self {
            Event::Connected => 1,
            Event::Readable => 2,
            Event::Writable => 4,
            Event::PeerClosed => 8,
            Event::Closed(_) => 16,
        }
    }
}

/// Number of event kinds, the queue's bound.
pub const KINDS: usize = 5;

/// Pending events in the order their kinds first arose, one per kind.
#[derive(Clone, Debug, Default)]
pub(super) struct EventQueue {
    queue: [Option<Event>; KINDS],
    len: usize,
    /// Kinds present in `queue`.
    kinds: u8,
}

impl EventQueue {
    /// Queues `e`, or merges it into the waiting event of its kind (a
    /// later `Closed` carries the error the connection reports now).
    pub(super) fn push(&mut self, e: Event) {
        if self.kinds & e.kind() != 0 {
            if let Some(slot) = self.queue[..self.len]
                .iter_mut()
                .flatten()
                .find(|w| w.kind() == e.kind())
            {
                *slot = e;
            }
            return;
        }
        if let Some(slot) = self.queue.get_mut(self.len) {
            *slot = Some(e);
            self.len += 1;
            self.kinds |= e.kind();
        }
    }

    /// The oldest waiting event.
    pub(super) fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let e = self.queue[0].take();
        self.queue.rotate_left(1);
        self.len -= 1;
        if let Some(e) = e {
            self.kinds &= !e.kind();
        }
        e
    }
}

impl Tcb {
    /// The next event since the last call, oldest first; `None` when there
    /// is none. Drain after every input, timeout or user call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_kind_in_first_arrival_order() {
        let mut q = EventQueue::default();
        q.push(Event::Readable);
        q.push(Event::Writable);
        q.push(Event::Readable);
        q.push(Event::Closed(None));
        q.push(Event::Closed(Some(ConnectionError::Reset)));
        assert_eq!(q.pop(), Some(Event::Readable));
        assert_eq!(q.pop(), Some(Event::Writable));
        assert_eq!(q.pop(), Some(Event::Closed(Some(ConnectionError::Reset))));
        assert_eq!(q.pop(), None);
        q.push(Event::Readable);
        assert_eq!(
            q.pop(),
            Some(Event::Readable),
            "a drained kind queues again"
        );
    }

    #[test]
    fn bounded_by_the_number_of_kinds() {
        let mut q = EventQueue::default();
        for _ in 0..100 {
            for e in [
                Event::Connected,
                Event::Readable,
                Event::Writable,
                Event::PeerClosed,
                Event::Closed(None),
            ] {
                q.push(e);
            }
        }
        let mut n = 0;
        while q.pop().is_some() {
            n += 1;
        }
        assert_eq!(n, KINDS);
    }
}
