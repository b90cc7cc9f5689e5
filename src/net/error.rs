//! The one place where core errors become `io::Error`s with the
//! `ErrorKind`s `std::net` users know.

use crate::stack;
use crate::tcp::{ConnectionError, RecvError, SendError};
use std::io;

pub(crate) fn connection(e: ConnectionError) -> io::Error {
    let kind = match e {
        ConnectionError::Refused => io::ErrorKind::ConnectionRefused,
        ConnectionError::Reset => io::ErrorKind::ConnectionReset,
        ConnectionError::TimedOut => io::ErrorKind::TimedOut,
        ConnectionError::Aborted => io::ErrorKind::ConnectionAborted,
        ConnectionError::Unreachable => io::ErrorKind::HostUnreachable,
    };
    io::Error::new(kind, e.to_string())
}

pub(crate) fn send(e: SendError) -> io::Error {
    match e {
        SendError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        SendError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "sending side is shut down"),
        SendError::NotConnected => not_connected(),
        SendError::Failed(c) => connection(c),
    }
}

pub(crate) fn recv(e: RecvError) -> io::Error {
    match e {
        RecvError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        RecvError::NotConnected => not_connected(),
        RecvError::Failed(c) => connection(c),
    }
}

pub(crate) fn stack(e: stack::Error) -> io::Error {
    let kind = match e {
        stack::Error::AddrInUse => io::ErrorKind::AddrInUse,
        stack::Error::NoPortsAvailable => io::ErrorKind::AddrNotAvailable,
        stack::Error::TableFull => io::ErrorKind::OutOfMemory,
        stack::Error::InvalidHandle => io::ErrorKind::NotConnected,
        stack::Error::NotListening => io::ErrorKind::InvalidInput,
        stack::Error::Unreachable => io::ErrorKind::NetworkUnreachable,
    };
    io::Error::new(kind, e.to_string())
}

pub(crate) fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "socket is not connected")
}

pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection timed out")
}

pub(crate) fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_std_net() {
        assert_eq!(
            connection(ConnectionError::Refused).kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            connection(ConnectionError::Reset).kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            connection(ConnectionError::TimedOut).kind(),
            io::ErrorKind::TimedOut
        );
        assert_eq!(send(SendError::Closed).kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(
            send(SendError::WouldBlock).kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(
            recv(RecvError::NotConnected).kind(),
            io::ErrorKind::NotConnected
        );
        assert_eq!(
            stack(stack::Error::AddrInUse).kind(),
            io::ErrorKind::AddrInUse
        );
    }
}
