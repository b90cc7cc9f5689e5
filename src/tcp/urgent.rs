//! Urgent data (RFC 9293 §3.8.5) received as Linux receives it without
//! SO_OOBINLINE (net/ipv4/tcp_input.c `tcp_check_urg`, `tcp_urg`;
//! tcp.c `tcp_recvmsg_locked`, `tcp_poll`).
//!
//! The urgent byte is the one before the urgent pointer (BSD's reading,
//! RFC 9293's erratum); only the latest mark counts. Every acceptable
//! segment with URG records the mark, in order or not, so it does not
//! matter whether the byte arrives in line or completes the stream through
//! reassembly. The byte is stored and acknowledged like any other — the
//! ACK covers the whole segment — and the reader skips it: a read stops
//! before it once something was copied, and the next read steps over it.
//! There is no MSG_OOB read, so a skipped byte is counted
//! (`ConnStats::urgent_bytes`) and dropped. While the reader sits at the
//! urgent byte, it alone does not make the connection readable (`tcp_poll`
//! raises the target by one).

use super::Tcb;
use crate::wire::TcpSegment;

impl Tcb {
    /// Linux `tcp_check_urg` for an acceptable segment with URG: a new
    /// mark replaces an older one, unless it points at data already
    /// received or not past that mark.
    pub(super) fn check_urg(&mut self, seg: &TcpSegment<'_>) {
        // BSD's reading takes one off the pointer, but not off 0: URG with
        // a pointer of 0 marks the segment's first byte, as in Linux.
        let ptr = u32::from(seg.header.urgent).saturating_sub(1);
        let mark = seg.header.seq + ptr;
        if mark.diff(self.rcv.nxt) < 0 || self.urg_mark.is_some_and(|u| mark.diff(u) <= 0) {
            return;
        }
        // The reader waits at an older urgent byte that a newer mark now
        // replaces: step over it, or it would be read as data (the
        // "Double Dutch" case of `tcp_check_urg`).
        if self.urgent_offset() == Some(0) {
            self.skip_urgent_byte();
        }
        self.urg_mark = Some(mark);
    }

    /// Where the urgent byte lies in the receive buffer, counted from the
    /// next byte to read, if it has arrived in order and is still unread.
    pub(super) fn urgent_offset(&self) -> Option<usize> {
        let mark = self.urg_mark?;
        let len = self.rcv.buf.len();
        // RCV.NXT counts the peer's FIN once it arrived; the buffer not.
        let copied = self.rcv.nxt - u32::from(self.rcv.fin) - len as u32;
        let k = mark.diff(copied);
        (k >= 0 && (k as usize) < len).then_some(k as usize)
    }

    /// The reader reached the urgent byte: it leaves the stream.
    pub(super) fn skip_urgent_byte(&mut self) {
        self.rcv.buf.discard(1);
        self.urg_mark = None;
        self.stats.urgent_bytes += 1;
    }

    /// How much of `want` bytes a read may take before the urgent byte,
    /// after stepping over it when it is next (`tcp_recvmsg_locked`).
    /// Returns (bytes to copy, bytes skipped).
    pub(super) fn read_limit(&mut self, want: usize) -> (usize, usize) {
        let mut skipped = 0;
        if self.urgent_offset() == Some(0) {
            self.skip_urgent_byte();
            skipped = 1;
        }
        let limit = self.urgent_offset().map_or(want, |k| k.min(want));
        (limit, skipped)
    }

    /// Bytes a read would return now (the urgent byte excluded when the
    /// reader sits at it), for readiness as `tcp_poll` judges it.
    pub(super) fn readable_bytes(&self) -> usize {
        let len = self.rcv.buf.len();
        len - usize::from(self.urgent_offset() == Some(0))
    }
}
