//! The kernel's synchronous answers, read by the thread that caused them.
//!
//! A segment written to the TUN device reaches the kernel's TCP inside the
//! `write(2)`: in the same namespace its answer (the ACK of a SYN-ACK, of
//! a FIN, of the first data while the peer is in quick-ACK mode) is queued
//! back on the device before the call returns. Nobody sleeps in the
//! leader's epoll set at that moment (the writer is the leader, or an
//! application thread sending itself), so the device woke the driver,
//! which then only blocked on the interface lock against the writer and
//! found the answer already read, or read it on the other core: a
//! connection cost the driver about 1.4 wake-ups for nothing.
//!
//! So a poll by an application thread that writes, when an answer is
//! expected ([`Echo::expected`]), first takes the device out of the
//! driver's epoll set (`EPOLL_CTL_DEL`, just before its first write), reads
//! the device once more after writing, and puts it back (`EPOLL_CTL_ADD`)
//! before it releases the interface lock. Nothing can be lost: a packet
//! that arrives in between wakes a sleeping leader as ever, and if it is
//! still unread when the device goes back, `EPOLL_CTL_ADD` finds the
//! device readable and wakes the driver itself (`ep_insert` polls the
//! file). Re-added last, the driver's entry stays behind the leader's on
//! the device's wait queue, so the leader keeps the first exclusive
//! wake-up.
//!
//! The two `epoll_ctl` calls and the extra read cost about what they save
//! only when an answer comes: a request/response exchange in steady state
//! (the peer delays its ACK, and its next request comes from another
//! thread) gets none. A miss skips the next [`SKIP_AFTER_MISS`] writes;
//! any answer resets that.
//!
//! The re-read ends at the first segment with data alone (the peer's next
//! request, after which it waits for the answer) rather than on `EAGAIN`:
//! `EPOLL_CTL_ADD` signals whatever is left, so the empty read that would
//! prove the queue drained is a system call per round trip for nothing.

use super::poller::Pollers;
use crate::device::{Device, Offload, RxMeta};
use crate::stack::answer::{is_request, occupies_sequence_space};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

/// Writing polls that expect no answer after a re-read found none.
const SKIP_AFTER_MISS: u32 = 16;

/// Re-reads after one write, at most: an answer read may be answered in
/// turn (an ACK that opens the window), whose answer is read again.
pub(super) const MAX_REREADS: u32 = 3;

/// Whether the next writing poll expects an answer, per stack.
impl Pollers {
    /// True if a poll that writes should expect an answer (under the
    /// interface lock). Counts the skipped ones down.
    pub(super) fn echo_expected(&self) -> bool {
        if !self.has_device_fd {
            return false;
        }
        let skip = self.echo_skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.echo_skip.store(skip - 1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A re-read after a write found an answer (`true`) or not (under the
    /// interface lock).
    pub(super) fn echo_seen(&self, answered: bool) {
        let skip = if answered { 0 } else { SKIP_AFTER_MISS };
        self.echo_skip.store(skip, Ordering::Relaxed);
    }
}

/// The device as a poll by an application thread uses it: before the
/// first segment that can be answered at once (one that occupies sequence
/// space: SYN, FIN or data; a bare ACK never is), and if an answer is
/// expected, takes the device out of the driver's epoll set (see the
/// module docs). The caller then re-reads the device and puts it back
/// ([`Pollers::unmute_driver`]) before it releases the interface lock.
pub(super) struct Echo<'a> {
    dev: &'a mut dyn Device,
    poller: &'a Pollers,
    /// A segment that can be answered was written with the driver muted:
    /// the caller re-reads.
    pub(super) expecting: bool,
    /// Whether an answer is expected was asked already.
    asked: bool,
    /// The read stops after a segment with data (see
    /// [`reread_until_data`](Self::reread_until_data)).
    stop_after_data: bool,
    /// Such a segment was read.
    data_read: bool,
}

impl<'a> Echo<'a> {
    pub(super) fn new(dev: &'a mut dyn Device, poller: &'a Pollers) -> Self {
        Echo {
            dev,
            poller,
            expecting: false,
            asked: false,
            stop_after_data: false,
            data_read: false,
        }
    }

    /// Limits the next poll's read, if the device is out of the driver's
    /// set, to what comes up to the first segment with data alone (the
    /// next request of a request/response exchange, see [`is_request`]): the
    /// caller puts the device back ([`Pollers::unmute_driver`]) before it
    /// releases the lock, and `EPOLL_CTL_ADD` wakes the driver for
    /// anything still queued. That proof replaces the read that would
    /// only return `EAGAIN` (a system call per round trip). A bare ACK,
    /// a SYN or a FIN does not stop the read: on a new connection the
    /// request follows the ACK at once, and after a FIN the next SYN;
    /// leaving those to the driver would cost a wake-up each.
    pub(super) fn reread_until_data(&mut self) {
        self.stop_after_data = self.poller.driver_is_muted();
        self.data_read = false;
    }

    /// `WouldBlock` once the limit of
    /// [`reread_until_data`](Self::reread_until_data) is reached.
    fn may_read(&self) -> io::Result<()> {
        if self.stop_after_data && self.data_read {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }

    /// Notes a packet read whose first bytes are `head`.
    fn read(&mut self, head: Option<&[u8]>) {
        if self.stop_after_data && head.is_some_and(is_request) {
            self.data_read = true;
        }
    }

    fn before_send(&mut self, packet: &[u8]) {
        if self.asked || !occupies_sequence_space(packet) {
            return;
        }
        self.asked = true;
        if self.poller.echo_expected() {
            self.poller.mute_driver();
            self.expecting = true;
        }
    }
}

impl Device for Echo<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.may_read()?;
        let len = self.dev.recv(buf)?;
        self.read(buf.get(..len));
        Ok(len)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.before_send(packet);
        self.dev.send(packet)
    }
    fn mtu(&self) -> usize {
        self.dev.mtu()
    }
    fn as_raw_fd(&self) -> Option<RawFd> {
        self.dev.as_raw_fd()
    }
    fn wants_reasons(&self) -> bool {
        self.dev.wants_reasons()
    }
    fn send_with_reason(&mut self, packet: &[u8], reason: &str) -> io::Result<()> {
        self.before_send(packet);
        self.dev.send_with_reason(packet, reason)
    }
    fn offload(&self) -> Offload {
        self.dev.offload()
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        self.may_read()?;
        let m = self.dev.recv_meta(buf)?;
        self.read(buf.get(..m.len));
        Ok(m)
    }
    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        self.before_send(packet);
        self.dev.send_tso(packet, mss)
    }
    fn can_recv_vectored(&self) -> bool {
        self.dev.can_recv_vectored()
    }
    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        self.may_read()?;
        let m = self.dev.recv_vectored(bufs)?;
        // The headers are in the first slice, or the read goes on.
        self.read(bufs.first().map(|b| &b[..]));
        Ok(m)
    }
}
