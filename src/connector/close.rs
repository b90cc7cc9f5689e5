//! The end of a TLS connection after a whole response: `close_notify`
//! traded (RFC 8446 §6.1) and no reset from either side (RFC 1122
//! §4.2.2.13: data arriving after a close is answered with RST), within a
//! bound that follows the path's round-trip time.
//!
//! Used by the library's [`StackConnector`](super::StackConnector) when
//! the HTTP client's pool lets a connection go, and by the CLI, which
//! also reports which way the teardown went.

use crate::http::tls::{PeerClose, TlsStream};
use crate::net::TcpStream;
use std::io;
use std::time::{Duration, Instant};

/// Most bytes read while waiting for the server's `close_notify`: after
/// a whole response it owes us one alert record, so anything much larger
/// is a server still sending, and waiting on it is pointless.
pub const DRAIN_BYTES: usize = 64 * 1024;

/// Longest wait for the server's answer to our `close_notify`: 200 ms,
/// or three round trips on a slower path, at most a second. A server
/// answers within one round trip; the bound is for one that never does.
pub fn drain_time(srtt: Option<Duration>) -> Duration {
    let floor = Duration::from_millis(200);
    srtt.map_or(floor, |r| (r * 3).max(floor))
        .min(Duration::from_secs(1))
}

/// How [`close_tls`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsEnd {
    /// The server sent `close_notify` and its FIN first; ours was not
    /// sent.
    TheirsOnly,
    /// Ours went first; the server's `close_notify` came back.
    Answered,
    /// Ours went first; the server closed without its own.
    Closed,
    /// The bound passed first (our `close_notify` went out in any case);
    /// `ours_first`: it went out before the bound (else the server was
    /// let go first and did not close).
    TimedOut {
        /// Ours had gone out before the bound passed.
        ours_first: bool,
    },
    /// The server kept sending past [`DRAIN_BYTES`].
    TooMuch,
    /// A transport or TLS error.
    Failed,
}

/// Ends `tls` after a whole response without a reset from either side,
/// within `bound`; the caller then drops it (our FIN). `peer_closes`:
/// the server is about to close (`Connection: close`, RFC 9112 §9.6).
///
/// TCP answers data arriving after its socket closed with a bare RST
/// (RFC 1122 §4.2.2.13, as Linux does), and both ends of a TLS teardown
/// can send such late data: the server's `close_notify` answering ours
/// after we closed, or ours reaching a server that closed meanwhile. So:
/// - a server about to close is let go first: its `close_notify` and FIN
///   are awaited, and ours is then not sent, as curl (8.9+) does not:
///   the server's socket is gone, and its TCP would answer the alert
///   with an RST (sent earlier, it races the server's close, which
///   resets a socket closed with our alert unread);
/// - otherwise our `close_notify` goes first (RFC 8446 §6.1), then the
///   server's answer (its `close_notify` or its FIN) is awaited; a server
///   that closed without `close_notify` gets ours too, as from curl.
///
/// A server that never answers costs `bound` (and at most
/// [`DRAIN_BYTES`]), then the connection closes as it did without this,
/// after our `close_notify`.
pub fn close_tls(tls: &mut TlsStream<TcpStream>, bound: Duration, peer_closes: bool) -> TlsEnd {
    let end = Instant::now() + bound;
    let mut budget = DRAIN_BYTES;
    let mut sent = false;
    let mut eof = false;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Whatever came, ours goes out before the FIN.
            let _ = tls.close();
            return TlsEnd::TimedOut { ours_first: sent };
        }
        let tcp = tls.get_ref().info();
        // Bytes waiting are read before anything is decided: the server's
        // close_notify and FIN may both be queued already.
        let queued = tls.buffered() > 0 || tcp.as_ref().is_ok_and(|i| i.recv_queue > 0);
        if !queued {
            // The peer's FIN is in once TCP says it can send no more (all
            // its data before the FIN is in the queue, read by now).
            eof |= tcp.is_ok_and(|i| !i.state.can_receive());
            let notified = match tls.note_received() {
                Ok(how) => how == Some(PeerClose::Notified),
                Err(_) => return TlsEnd::Failed,
            };
            match (sent, notified, eof) {
                (false, true, true) => {
                    tls.skip_close_notify();
                    return TlsEnd::TheirsOnly;
                }
                (true, true, _) => return TlsEnd::Answered,
                (true, false, true) => return TlsEnd::Closed,
                // The server will close: let it go first.
                (false, false, false) if peer_closes => {}
                (false, false, _) => {
                    sent = true;
                    if tls.close().is_err() {
                        return TlsEnd::Failed;
                    }
                    continue;
                }
                // Theirs is in but not its FIN, or ours is out and nothing
                // came yet: wait.
                (false, true, false) | (true, false, false) => {}
            }
        }
        // Re-armed before each read: the whole drain is bounded, not each
        // read, so a trickling server cannot stretch it.
        if tls.get_ref().set_read_timeout(Some(left)).is_err() {
            return TlsEnd::Failed;
        }
        match tls.drain_once() {
            Ok(0) => eof = true,
            Ok(n) if n < budget => budget -= n,
            Ok(_) => {
                // A teardown after a whole response all the same: ours
                // goes out before the FIN.
                let _ = tls.close();
                return TlsEnd::TooMuch;
            }
            // The read timeout: the loop's bound ends it.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return TlsEnd::Failed,
        }
    }
}

#[cfg(test)]
mod close_tests {
    use super::*;

    #[test]
    fn the_drain_bound_follows_the_rtt_between_200_ms_and_1_s() {
        let ms = Duration::from_millis;
        assert_eq!(drain_time(None), ms(200));
        assert_eq!(drain_time(Some(ms(1))), ms(200));
        assert_eq!(drain_time(Some(ms(100))), ms(300));
        assert_eq!(drain_time(Some(ms(900))), ms(1000));
    }
}
