//! Byte storage for TCP: a fixed-capacity ring for the send and receive
//! buffers and an assembler for out-of-order ranges (with a hole limit).
//! Capacities come from `Config` and never grow, so a peer can not make the
//! stack allocate without bound.
//!
//! Must not use any other crate module.

pub mod assembler;
pub mod ring;

pub use assembler::{Assembler, TooManyHoles};
pub use ring::RingBuffer;
