//! tunstack: a userspace TCP/IP stack over a Linux TUN device, with a
//! `std::net`-shaped socket API and an HTTP/1.1 client on top.
//!
//! ```text
//!             cli (main.rs, cli.rs)                  argument parsing, exit codes
//!    http ──────────────┐                            HTTP/1.1 over any Read+Write
//!             net (std::net-shaped API)              the ONLY place with threads, locks, the real clock, OS randomness
//!             stack (interface glue)                 demux, IPv4/ICMP, per-stack counters; deterministic
//!             tcp (sans-IO connection core)          RFC 9293 state machine; deterministic; no I/O
//!    wire (packet parse/emit)   buffer (ring)   time (Instant, no clock)
//!             device (TUN, pipe)                     byte packets in and out
//! ```
//!
//! Rules (enforced by `scripts/check-layering.sh`): each layer uses only
//! the layers below it; `tcp` and `stack` take time and randomness as
//! inputs, so the same segments at the same instants with the same seed
//! give the same output byte for byte; nothing that came off the wire or
//! from a user can panic — malformed packets are dropped and counted in
//! [`Stats`](stack::Stats); every buffer and table has a limit.
//!
//! Addressing convention: the kernel side of `tun0` is 10.0.0.1/24 and
//! tunstack's own address is 10.0.0.2.

pub mod buffer;
pub mod connector;
pub mod device;
pub mod dns;
pub mod http;
pub mod net;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;

pub use connector::StackConnector;
pub use http::Client;
pub use net::{Stack, TcpListener, TcpStream, UdpSocket};
