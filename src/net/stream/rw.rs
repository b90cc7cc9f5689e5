//! [`TcpStream`]'s blocking wait paths: `read` (which posts the caller's
//! buffer for direct delivery while it waits), `peek` and `write`, each
//! blocking, timing out or returning `WouldBlock` as the socket's mode
//! says; and the `Read` / `Write` impls on them.

use super::{deadline, TcpStream};
use crate::net::{error, Wait};
use crate::tcp::{RecvError, SendError};
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

impl TcpStream {
    /// Reads without consuming: the next `read` returns the same bytes.
    /// Blocks (or returns `WouldBlock`) like `read`.
    ///
    /// # Errors
    /// As `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (nonblocking, until) = self.wait_mode(&self.inner.read_timeout);
        let handle = self.inner.handle;
        let r = self.inner.shared.wait_for(until, |iface| {
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
        });
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    fn do_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (nonblocking, until) = self.wait_mode(&self.inner.read_timeout);
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
        let r = self.inner.shared.wait_for(until, |iface| {
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
        });
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
        let (nonblocking, until) = self.wait_mode(&self.inner.write_timeout);
        let handle = self.inner.handle;
        let mut idle = false;
        let mut poke = false;
        let r = self.inner.shared.wait_as(Wait::Follow, until, |iface| {
            let Some(tcb) = iface.tcp_mut(handle) else {
                return Some(Err(error::not_connected()));
            };
            // Nothing unsent or unacknowledged: a request or a response,
            // whose latency is the point. Bulk writes leave the
            // sending to the driver thread, which overlaps it with the
            // writer's next copy.
            idle = tcb.send_queue() == 0;
            // A full segment already waiting to be sent is held by the
            // windows or the pacer, not by want of data: the ACK or timer
            // that releases it polls the stack, which sends this write's
            // bytes too. Only a write that may let a segment leave now
            // wakes the driver (an eventfd write, a wake-up of the driver
            // and its read: per write, that was most of a bulk sender's
            // wake-ups).
            poke = tcb.send_unsent() < tcb.mss();
            match tcb.send(buf) {
                Ok(n) => Some(Ok(n)),
                Err(SendError::WouldBlock) if nonblocking => Some(Err(error::would_block())),
                Err(SendError::WouldBlock) => None,
                Err(e) => Some(Err(error::send(e))),
            }
        });
        if matches!(r, Ok(Ok(n)) if n > 0) {
            if idle {
                self.inner.shared.transmit();
            } else if poke {
                self.inner.shared.waker.wake();
            }
        }
        r.unwrap_or_else(|()| Err(self.inner.shared.gave_up()))
    }

    /// Whether the socket is non-blocking, and the deadline a blocking
    /// call waits until under `timeout` (its read or write timeout).
    fn wait_mode(&self, timeout: &Mutex<Option<Duration>>) -> (bool, Option<Instant>) {
        let nonblocking = self.inner.nonblocking.load(Ordering::Relaxed);
        let timeout = *timeout.lock().unwrap_or_else(|p| p.into_inner());
        (
            nonblocking,
            if nonblocking { None } else { deadline(timeout) },
        )
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
