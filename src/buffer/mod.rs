//! Byte storage for TCP: a ring for the send and receive buffers and an
//! assembler for out-of-order ranges (with a hole limit). A ring's capacity
//! is set by its owner (the TCP layer grows it with the path, up to the
//! maxima in `Config`), and its storage grows in steps only as bytes
//! arrive, so a peer can not make the stack allocate without bound and an
//! idle connection holds almost nothing.
//!
//! Must not use any other crate module.

pub mod assembler;
pub mod ring;

pub use assembler::{Assembler, TooManyHoles};
pub use ring::RingBuffer;
