//! DNS for the resolver step of a page load (RFC 1034/1035): the message
//! codec (queries out with EDNS(0), responses in, with name compression;
//! A and AAAA; the TCP length prefix), `/etc/hosts` parsing, and
//! [`Lookup`], one query driven from outside so A and AAAA can run at
//! once (RFC 8305 §3). No I/O
//! here: the transports (our UDP, and our TCP for truncated answers) and
//! the clock belong to the caller, so everything is testable and fuzzable.
//!
//! Hostile input is bounded: names are at most 255 bytes in labels of at
//! most 63, compression pointers must point backwards (no loops), record
//! counts are capped, and every malformation has its own [`Error`].

pub mod hosts;
pub mod lookup;
pub mod message;
pub mod resolver;
#[cfg(test)]
mod test_answers;

pub use hosts::Hosts;
pub use lookup::{Action, Lookup};
pub use message::{
    decode, encode_query, encode_query_edns, tcp_exchange, Error, Message, Question, Record,
    RecordData, CLASS_IN, EDNS_UDP_PAYLOAD, TYPE_A, TYPE_AAAA, TYPE_CNAME,
};
pub use resolver::{
    nameserver_from_resolv_conf, nameservers_from_resolv_conf, Answer, ResolveError, Resolver,
    Source, Transport,
};
