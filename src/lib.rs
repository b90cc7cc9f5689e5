//! tunstack: a userspace TCP/IP stack over a Linux TUN device, with a
//! `std::net`-shaped socket API and an HTTP/1.1 client on top.
//!
//! ```text
//!    tokio (feature `tokio`)                tunstack::tokio::{TcpStream, TcpListener, UdpSocket}: AsyncRead/AsyncWrite, woken by the driver
//!    connector (StackConnector)             http::Connect over the stack: names through dns, TCP through net, TLS through http::tls
//!    http    dns                            HTTP/1.1 (and TLS, rustls) over any Read+Write; DNS resolver over any transport
//!            net (std::net-shaped API)      the ONLY place with threads, locks, OS randomness; reads the clock
//!            stack (interface glue)         demux, IPv4/ICMP/UDP, per-stack counters; deterministic
//!            tcp (sans-IO connection core)  RFC 9293 state machine; deterministic; no I/O
//!    wire (packet parse/emit)   buffer (ring, assembler)   time (Instant, no clock)
//!            device                         byte packets in and out: TUN (with virtio-net offloads),
//!                                           in-memory pipe, fault injector, pcap writer, tracer
//! ```
//!
//! The `tunstack` command line (`get`, `serve`, `ladder`) is the binary
//! built on this library (`src/main.rs`, `src/cli/`), not part of it; its
//! crates come with the default `cli` feature, which a library user can
//! turn off.
//!
//! Rules (enforced by `scripts/check-layering.sh`, which also requires
//! every file to belong to a layer): each layer uses only the layers below
//! it; `tcp` and `stack` take time and randomness as inputs, so the same
//! segments at the same instants with the same seed give the same output
//! byte for byte; nothing that came off the wire or from a user can panic —
//! malformed packets are dropped and counted in
//! [`Stats`](stack::Stats); every buffer and table has a limit.
//!
//! ```no_run
//! use tunstack::{device::TunConfig, http, net::Config, Stack, StackConnector};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
//! let client = http::Client::new(StackConnector::new(&stack));
//! let resp = client.get("http://www.tunstack.test/")?;
//! println!("{}", resp.status());
//! # Ok(()) }
//! ```
//!
//! Async: with the `tokio` feature, [`tokio`](crate::tokio) has
//! `TcpStream`, `TcpListener` and `UdpSocket` for the tokio runtime (hyper,
//! axum, tokio-rustls run on them); the runtime-agnostic `poll_*` methods
//! of the [`net`] sockets serve other executors, and readiness eventfds
//! ([`Stack::readiness_fd`](net::Stack::readiness_fd), the sockets'
//! `readiness_fd`, and `mio::event::Source` with the `mio` feature) serve
//! foreign event loops. docs/porting.md shows a `std::net` program ported.
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
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod wire;

pub use connector::StackConnector;
pub use http::Client;
pub use net::{Stack, TcpListener, TcpStream, UdpSocket};

/// docs/porting.md's programs, compiled as doctests so the porting guide
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../docs/porting.md")]
pub struct PortingGuide;
