//! Test-only: building a server's answer to one of our queries, for the
//! fake servers of the resolver and lookup tests.

use super::{CLASS_IN, TYPE_A, TYPE_AAAA};
use std::net::IpAddr;

/// The record type that carries `addr`: A or AAAA.
pub(super) fn record_type(addr: IpAddr) -> u16 {
    match addr {
        IpAddr::V4(_) => TYPE_A,
        IpAddr::V6(_) => TYPE_AAAA,
    }
}

/// The start of the answer to `query`: its header with QR set and no
/// additional records, and its question (the 11-byte OPT record every
/// query of ours ends with is dropped). No answers yet.
pub(super) fn answer_head(query: &[u8]) -> Vec<u8> {
    let mut m = query[..query.len() - 11].to_vec();
    m[2] |= 0x80;
    m[11] = 0;
    m
}

/// Appends an answer record for `addr` with `ttl`, its name a pointer to
/// the question's.
pub(super) fn push_address(m: &mut Vec<u8>, addr: IpAddr, ttl: u32) {
    match addr {
        IpAddr::V4(v4) => push_record(m, TYPE_A, ttl, &v4.octets()),
        IpAddr::V6(v6) => push_record(m, TYPE_AAAA, ttl, &v6.octets()),
    }
}

/// Appends an answer record of type `rtype` with `ttl` and `data`, its
/// name a pointer to the question's (offset 12).
pub(super) fn push_record(m: &mut Vec<u8>, rtype: u16, ttl: u32, data: &[u8]) {
    m.extend_from_slice(&[0xc0, 12]);
    m.extend_from_slice(&rtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&(data.len() as u16).to_be_bytes());
    m.extend_from_slice(data);
}

/// Sets the answer count of message `m`.
pub(super) fn set_answer_count(m: &mut [u8], n: u16) {
    m[6..8].copy_from_slice(&n.to_be_bytes());
}
