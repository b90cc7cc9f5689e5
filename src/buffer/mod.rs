//! Byte storage for TCP: a fixed-capacity ring for the send and receive
//! buffers. Capacities come from `Config` and never grow, so a peer can not
//! make the stack allocate without bound.
//!
//! Must not use any other crate module.

pub mod ring;

pub use ring::RingBuffer;
