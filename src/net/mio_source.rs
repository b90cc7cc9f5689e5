//! `mio::event::Source` for the sockets (feature `mio`), so one
//! `mio::Poll` waits on tunstack sockets and OS sockets together.
//!
//! Registering a socket registers its readiness eventfd (see
//! `readiness_fd`), which the driver signals whenever the socket's state
//! changed; each signal is a new edge for mio's edge-triggered epoll. As
//! with mio's own sockets, an event is a hint: put the socket in
//! non-blocking mode and repeat the operation until `WouldBlock`. The
//! event carries the registered interests, not which of them is ready.

use super::{TcpListener, TcpStream, UdpSocket};
use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::AsRawFd;

macro_rules! source {
    ($t:ty) => {
        impl Source for $t {
            fn register(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                let fd = self.readiness_fd()?;
                SourceFd(&fd.as_raw_fd()).register(registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                let fd = self.readiness_fd()?;
                SourceFd(&fd.as_raw_fd()).reregister(registry, token, interests)
            }

            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                let fd = self.readiness_fd()?;
                let r = SourceFd(&fd.as_raw_fd()).deregister(registry);
                self.drop_readiness_fd();
                r
            }
        }
    };
}

source!(TcpStream);
source!(TcpListener);
source!(UdpSocket);
