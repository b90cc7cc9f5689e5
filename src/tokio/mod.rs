//! `tunstack::tokio`: [`TcpStream`], [`TcpListener`] and [`UdpSocket`]
//! for the tokio runtime (feature `tokio`), shaped like `tokio::net`'s
//! with the [`Stack`](crate::Stack) as the constructors' first argument.
//!
//! Readiness comes from the stack's driver thread through wakers (the
//! `poll_*` primitives of [`net`](crate::net)): an operation that would
//! block registers the task's waker under the interface lock, and the
//! driver wakes it after the poll that changed the socket. There is no
//! polling loop and no thread per socket; an idle stack wakes nobody. Any
//! runtime flavour works (current-thread or multi-thread): the driver only
//! calls `Waker::wake`.
//!
//! Cancellation is clean: nothing is consumed until an operation
//! completes, so dropping a pending `read`, `accept` or `recv_from` loses
//! no bytes; dropping a pending `connect` closes the half-open connection.
//!
//! Host names (`"example.test:80"`) resolve through the library's own
//! resolver over the stack (names from `/etc/hosts`, then DNS to
//! `/etc/resolv.conf`'s server, or the resolver given to
//! [`set_resolver`]); that needs tokio's timer (`enable_time`, on by
//! default with `#[tokio::main]`). As in the blocking connector, the AAAA
//! and A queries leave together from one socket and `TcpStream::connect`
//! starts on the first usable answer (RFC 8305 §3), driven by the same
//! sans-IO [`dns::Lookup`](crate::dns::Lookup) and
//! [`Resolution`](crate::connector::Resolution).

/// Methods that hand straight to the blocking socket in `self.inner`,
/// written once: each entry is a method's docs and signature.
macro_rules! delegate {
    ($($(#[$attr:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)?) -> $ret:ty;)*) => {
        $(
            $(#[$attr])*
            pub fn $name(&self $(, $arg: $ty)?) -> $ret {
                self.inner.$name($($arg)?)
            }
        )*
    };
}

mod addr;
#[cfg(feature = "axum")]
mod axum;
mod driver;
mod socket;
mod stream;

pub use addr::{lookup_host, set_resolver, ToSocketAddrs};
pub use socket::{TcpListener, UdpSocket};
pub use stream::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpStream, WriteHalf};
