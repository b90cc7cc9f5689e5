//! Socket timeouts, as [`TcpStream`](super::TcpStream) and
//! [`UdpSocket`](super::UdpSocket) both take them: the deadline a blocking
//! call waits until, and `std::net`'s refusal of a zero timeout.

use std::io;
use std::time::{Duration, Instant};

/// When a blocking call with `timeout` gives up, counted from now.
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// `InvalidInput` for `Some(Duration::ZERO)`, as `std::net`'s setters
/// return (a zero timeout would mean "never wait", which non-blocking mode
/// says).
pub(super) fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}
