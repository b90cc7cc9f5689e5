//! HTTP/1.1 client over any `Read + Write` (RFC 9112 message syntax and
//! framing, RFC 9110 semantics), with TLS for `https://` ([`tls`]). Never touches sockets itself: a
//! [`Connect`] implementation supplies connections.
//!
//! One request, in the order the classic page load describes:
//!
//! ```text
//!  connect ──▶ write head (request line, headers, blank line) [+ body]
//!          ──▶ read head (status line, headers, blank line; 1xx skipped)
//!          ──▶ body: NoBody | Length(n) | Chunked (+ trailers) | until close
//! ```
//!
//! Hostile input is bounded: the head is capped (size, header count), chunk
//! lines and trailers are capped, and every malformation has its own
//! [`Error`] variant.

mod body;
mod client;
mod decode;
mod error;
mod request;
mod response;
pub mod tls;
mod url;

#[cfg(test)]
mod tests;

pub use body::{Body, BodyMode};
pub use client::{Client, Connect, PoolStats, Response};
pub use decode::{decoded, ACCEPT_ENCODING};
pub use error::Error;
pub use request::{basic_auth, Request, RequestBody};
pub use response::{read_head, Head, Limits};
pub use tls::{MaybeTls, MinVersion, PeerClose, TlsConfig, TlsError, TlsErrorKind, TlsInfo};
pub use url::{percent_decode, Url};
