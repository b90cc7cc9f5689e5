//! Direct delivery into a waiting reader's buffer (RFC 9293 §3.10.2
//! RECEIVE, "if insufficient incoming segments are queued ... the request
//! is queued"): a reader that finds the receive buffer empty may post its
//! own buffer, and in-order data that a device has already read into that
//! buffer is delivered there instead of being queued, as Linux's receive
//! path once copied into a waiting reader's iovec (`tp->ucopy`). The bytes
//! are then copied once, by the device, instead of into the receive
//! buffer and again out of it.
//!
//! The core never reads or writes the posted memory: it keeps only its
//! address range, recognizes a segment whose payload lies at the next
//! free byte of it (the way the receive ring recognizes its own spare
//! space, [`RingBuffer::enqueue_in_place`](crate::buffer::RingBuffer::enqueue_in_place)),
//! and counts the bytes delivered. Everything else — the window, ACKs,
//! events, RCV.NXT — is the same as for queued data: the posted bytes are
//! simply read by the time they arrive, so the receive buffer stays empty
//! and the window open.

use super::Tcb;

/// A reader's buffer posted for direct delivery: `len` bytes at `addr`,
/// the first `filled` of which hold delivered data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Posted {
    addr: usize,
    len: usize,
    filled: usize,
}

impl Tcb {
    /// Posts a reader's buffer of `len` bytes at `addr` for direct
    /// delivery; returns true if it was taken. Only while nothing is
    /// queued (the reader would have read that first), nothing is parked
    /// out of order, no other buffer is posted, and the connection still
    /// takes data.
    ///
    /// # Safety
    /// Until [`take_posted`](Self::take_posted) withdraws it (or this
    /// `Tcb` is dropped), the `len` bytes at `addr` must stay valid for
    /// writes and must not be read or written by anyone else: whoever
    /// holds this `Tcb` may hand them to a device to read a segment's
    /// payload into ([`posted_spare`](Self::posted_spare)).
    pub unsafe fn post_recv(&mut self, addr: usize, len: usize) -> bool {
        if len == 0 || self.rcv.posted.is_some() || self.posted_blocked() {
            return false;
        }
        self.rcv.posted = Some(Posted {
            addr,
            len,
            filled: 0,
        });
        true
    }

    /// Withdraws the buffer posted at `addr`, if it is still posted, and
    /// returns how many bytes were delivered into it: those bytes count as
    /// read, as [`recv`](Self::recv) would count them.
    pub fn take_posted(&mut self, addr: usize) -> Option<usize> {
        let p = self.rcv.posted.filter(|p| p.addr == addr)?;
        self.rcv.posted = None;
        if p.filled > 0 {
            self.after_read(p.filled);
        }
        Some(p.filled)
    }

    /// Where the next in-order payload may be read straight into the
    /// posted buffer: the address and length of its unfilled part, while
    /// delivery there is possible (see [`post_recv`](Self::post_recv)).
    /// A segment given to [`on_segment`](Self::on_segment) with its
    /// payload at that address, at exactly [`rcv_nxt`](Self::rcv_nxt), is
    /// delivered there.
    pub fn posted_spare(&self) -> Option<(usize, usize)> {
        let p = self.rcv.posted?;
        let room = p.len - p.filled;
        (room > 0 && !self.posted_blocked()).then_some((p.addr + p.filled, room))
    }

    /// Delivers in-order `payload` into the posted buffer if that is where
    /// it lies; returns false (nothing done) otherwise. The caller has
    /// checked that it starts at RCV.NXT.
    pub(super) fn deliver_posted(&mut self, payload: &[u8]) -> bool {
        if payload.is_empty() || self.posted_blocked() {
            return false;
        }
        let Some(p) = self.rcv.posted.as_mut() else {
            return false;
        };
        // Addresses only: the core never touches the posted bytes.
        if payload.as_ptr() as usize != p.addr + p.filled || payload.len() > p.len - p.filled {
            return false;
        }
        p.filled += payload.len();
        true
    }

    /// Queued or out-of-order data comes first, and a closed receiving
    /// side takes nothing.
    fn posted_blocked(&self) -> bool {
        !self.rcv.buf.is_empty()
            || !self.rcv.ooo.is_empty()
            // The urgent byte must not land in the reader's buffer.
            || self.urg_mark.is_some()
            || self.rcv.fin
            || self.rcv.shutdown
            || !self.state.can_receive()
    }
}
