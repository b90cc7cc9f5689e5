//! IP fragment reassembly: IPv4 (RFC 791 §3.2, with RFC 815's hole
//! bookkeeping replaced by a sorted list that cannot overlap) and IPv6
//! (RFC 8200 §4.5), with hard memory and time limits.
//!
//! A train is keyed by (source, destination, identification) plus, for
//! IPv4, the protocol (RFC 791); IPv6 takes the upper-layer protocol from
//! the fragment at offset 0 (RFC 8200 §4.5). Hostile input is expected:
//!
//! - **Overlaps** (RFC 5722, which RFC 8200 makes law for IPv6 and Linux
//!   applies to IPv4 as well): a fragment overlapping one already held
//!   discards the whole datagram, and the train stays behind as a
//!   tombstone until its timeout so fragments still in flight are dropped
//!   too instead of starting a new train. An exact duplicate is ignored
//!   (RFC 5722 erratum 3089), as Linux does.
//! - **Tiny first fragments** (RFC 1858 §3, RFC 7112): the offset-0
//!   fragment must hold the whole TCP, UDP, ICMP or ICMPv6 header, and a
//!   TCP fragment at offset 8 (which could rewrite the flags) is refused.
//! - **Atomic fragments** (RFC 6946): an IPv6 fragment header with offset 0
//!   and M clear is a whole datagram; it is handed back at once and never
//!   touches a train, so it cannot be used to poison one.
//! - **Memory**: every stored byte plus a fixed overhead per fragment and
//!   per train counts against a per-source cap and a total cap; a fragment
//!   that would exceed either is dropped (not evicting anyone else's, so
//!   one flooding peer starves only itself). A datagram may not grow past
//!   64 KiB (RFC 791 total length; RFC 8200 payload length) and a train
//!   holds a bounded number of fragments.
//! - **Time**: a train lives 30 s (IPv4, RFC 1122 §3.3.2 suggests 60–120 s
//!   but Linux's `ipfrag_time` is 30) or 60 s (IPv6, RFC 8200 §4.5) from
//!   its first fragment; [`Reassembler::expire`] frees it after that.
//!   If its first fragment (offset 0) had arrived, the train's expiry
//!   hands back that fragment's quote, for the ICMP Time Exceeded
//!   (fragment reassembly time exceeded, code 1) that RFC 792 and RFC
//!   8200 §4.5 ask for, as Linux's `ip_expire` and
//!   `ip6_expire_frag_queue` send it. A train discarded for an overlap
//!   (or freed as tiny) is not answered: Linux kills such a queue and
//!   sends nothing either. The quote is kept bounded (the first
//!   fragment's header and the start of its data, as much as the ICMP
//!   error can carry) and is charged against the caps like the data.
//!
//! Deterministic: time is an argument, tables are ordered maps.

use super::Stats;
use crate::time::{Duration, Instant};
use crate::wire::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv6 next-header value of ICMPv6.
const PROTO_ICMPV6: u8 = 58;
/// Bookkeeping charged per train (key, deadline, counters), on top of its
/// bytes, so a flood of one-byte trains costs what it really costs.
const TRAIN_OVERHEAD: usize = 256;
/// Bookkeeping charged per stored fragment.
const FRAGMENT_OVERHEAD: usize = 64;
/// Largest reassembled IPv4 payload: a total length of 65535 less the
/// 20-byte header (RFC 791).
const MAX_V4_PAYLOAD: usize = 65535 - 20;
/// Largest reassembled IPv6 fragmentable part: the 16-bit payload length
/// (no jumbograms, RFC 8200 §4.5).
const MAX_V6_PAYLOAD: usize = 65535;
/// Most bytes of the first fragment (header included) an IPv4 Time
/// Exceeded quotes: RFC 1812 §4.3.2.3 keeps the whole error within 576
/// bytes (576 − 20 − 8), as Linux's `icmp_send` does.
pub const QUOTE_V4: usize = 576 - 20 - 8;
/// Most bytes an ICMPv6 error quotes: the error fits the minimum MTU
/// (RFC 4443 §2.4 (c)), 1280 − 40 − 8.
pub const QUOTE_V6: usize = 1280 - 40 - 8;

/// Limits of a [`Reassembler`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragLimits {
    /// Bytes (payload plus overhead) held for one source address.
    pub per_peer: usize,
    /// Bytes held for all sources together.
    pub total: usize,
    /// Fragments one train may hold.
    pub max_fragments: usize,
    /// Lifetime of an IPv4 train from its first fragment.
    pub timeout_v4: Duration,
    /// Lifetime of an IPv6 train from its first fragment.
    pub timeout_v6: Duration,
}

impl Default for FragLimits {
    fn default() -> FragLimits {
        FragLimits {
            // Room for three 64 KiB datagrams in flight from one peer.
            per_peer: 256 * 1024,
            // Linux's ipfrag_high_thresh.
            total: 4 * 1024 * 1024,
            // A 64 KiB datagram cut for a 576-byte path needs 119.
            max_fragments: 256,
            timeout_v4: Duration::from_secs(30),
            timeout_v6: Duration::from_secs(60),
        }
    }
}

/// One fragment, as the IPv4 header or the IPv6 fragment header gives it.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// Source address (its family selects the IPv4 or IPv6 rules).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification (IPv4's 16 bits widened).
    pub ident: u32,
    /// IPv4 protocol, or the IPv6 fragment header's next header.
    pub protocol: u8,
    /// Offset of `payload` in the datagram, in bytes (8 × the header's
    /// fragment offset).
    pub offset: usize,
    /// More fragments follow (MF / M).
    pub more: bool,
    /// The fragment's data (after the IPv4 header, or after the IPv6
    /// fragment header).
    pub payload: &'a [u8],
    /// The headers in front of `payload` as received (the IPv4 header; the
    /// IPv6 header through the fragment header), quoted with the start of
    /// `payload` in the Time Exceeded sent when the train expires. Empty
    /// unless set with [`Fragment::with_header`].
    pub header: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// An IPv4 fragment: `offset` in bytes.
    pub fn v4(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        protocol: u8,
        offset: usize,
        more: bool,
        payload: &'a [u8],
    ) -> Fragment<'a> {
        Fragment {
            src: src.into(),
            dst: dst.into(),
            ident: ident.into(),
            protocol,
            offset,
            more,
            payload,
            header: &[],
        }
    }

    /// An IPv6 fragment from its fragment header (RFC 8200 §4.5):
    /// `next_header` and `ident` as written there, `offset` in bytes
    /// (the 13-bit field × 8), `more` the M flag, `payload` what follows
    /// the fragment header.
    pub fn v6(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        ident: u32,
        next_header: u8,
        offset: usize,
        more: bool,
        payload: &'a [u8],
    ) -> Fragment<'a> {
        Fragment {
            src: src.into(),
            dst: dst.into(),
            ident,
            protocol: next_header,
            offset,
            more,
            payload,
            header: &[],
        }
    }

    /// The same fragment with the headers it arrived with (see
    /// [`Fragment::header`]).
    pub fn with_header(self, header: &'a [u8]) -> Fragment<'a> {
        Fragment { header, ..self }
    }

    /// What a Time Exceeded about this (first) fragment quotes: its
    /// headers and the start of its data, within the family's bound.
    fn quote(&self) -> Vec<u8> {
        let max = if self.src.is_ipv6() {
            QUOTE_V6
        } else {
            QUOTE_V4
        };
        let mut q = Vec::with_capacity(max.min(self.header.len() + self.payload.len()));
        q.extend_from_slice(self.header.get(..max).unwrap_or(self.header));
        let room = max - q.len();
        q.extend_from_slice(self.payload.get(..room).unwrap_or(self.payload));
        q
    }
}

/// A train that timed out after its first fragment arrived: the ICMP
/// Time Exceeded (code 1) to send to `src`, quoting `quote`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    /// Who sent the train (the error's destination).
    pub src: IpAddr,
    /// The first fragment as received (headers and the start of its
    /// data), cut to [`QUOTE_V4`] or [`QUOTE_V6`] bytes.
    pub quote: Vec<u8>,
}

/// A datagram put back together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (IPv6: the next header of the offset-0
    /// fragment).
    pub protocol: u8,
    /// The whole payload.
    pub payload: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    ident: u32,
    /// IPv4's protocol; 0 for IPv6, whose protocol comes from offset 0.
    protocol: u8,
}

#[derive(Debug)]
struct Train {
    deadline: Instant,
    /// Held fragments, sorted by offset, never overlapping.
    frags: Vec<(usize, Vec<u8>)>,
    /// Payload bytes held.
    received: usize,
    /// Datagram length, once the last fragment arrived.
    total: Option<usize>,
    /// Upper-layer protocol, once known (IPv6: from offset 0).
    protocol: Option<u8>,
    /// The quote of the first fragment, once it arrived.
    head: Option<Vec<u8>>,
    /// Bytes charged against the caps.
    charged: usize,
    /// Discarded for an overlap; a tombstone that drops what still comes.
    discarded: bool,
}

/// Why a fragment was refused; each maps to its own counter.
enum Drop {
    Overlap,
    AfterDiscard,
    Tiny,
    Malformed,
    Oversize,
    PeerLimit,
    TotalLimit,
    TooManyFragments,
    Duplicate,
}

/// Fragment reassembly state of one interface; see the module docs.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: FragLimits,
    trains: BTreeMap<Key, Train>,
    deadlines: BTreeSet<(Instant, Key)>,
    per_peer: BTreeMap<IpAddr, usize>,
    used: usize,
}

impl Reassembler {
    /// An empty reassembler with these limits.
    pub fn new(limits: FragLimits) -> Reassembler {
        Reassembler {
            limits,
            ..Reassembler::default()
        }
    }

    /// Bytes charged against the total cap (payload plus overhead).
    pub fn memory(&self) -> usize {
        self.used
    }

    /// Trains held, tombstones included.
    pub fn trains(&self) -> usize {
        self.trains.len()
    }

    /// When the oldest train expires.
    pub fn poll_at(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Frees every train whose lifetime is over; a train that never
    /// completed counts in `frag_timeout`. Returns, for each of those
    /// whose first fragment had arrived, the Time Exceeded to send (see
    /// the module docs). Early calls are no-ops.
    #[must_use = "an expired train with its first fragment owes its source a Time Exceeded"]
    pub fn expire(&mut self, now: Instant, stats: &mut Stats) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some(&(t, key)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(train) = self.remove(&key) else {
                continue;
            };
            if train.discarded {
                continue;
            }
            stats.frag_timeout += 1;
            if let Some(quote) = train.head {
                out.push(Expired {
                    src: key.src,
                    quote,
                });
            }
        }
        out
    }

    /// Takes one fragment. Returns the datagram when this fragment
    /// completes it (or is an IPv6 atomic fragment). Every fragment is
    /// counted in `stats`: received, and dropped under its reason.
    pub fn push(
        &mut self,
        now: Instant,
        frag: &Fragment<'_>,
        stats: &mut Stats,
    ) -> Option<Reassembled> {
        stats.frag_received += 1;
        let atomic = frag.src.is_ipv6() && frag.offset == 0 && !frag.more;
        match self.insert(now, frag) {
            Ok(Some(d)) if atomic => {
                stats.frag_atomic += 1;
                Some(d)
            }
            Ok(done) => done.inspect(|_| stats.frag_reassembled += 1),
            Err(why) => {
                *match why {
                    Drop::Overlap => &mut stats.frag_overlap,
                    Drop::AfterDiscard => &mut stats.frag_after_overlap,
                    Drop::Tiny => &mut stats.frag_tiny,
                    Drop::Malformed => &mut stats.frag_malformed,
                    Drop::Oversize => &mut stats.frag_oversize,
                    Drop::PeerLimit => &mut stats.frag_peer_limit,
                    Drop::TotalLimit => &mut stats.frag_total_limit,
                    Drop::TooManyFragments => &mut stats.frag_too_many,
                    Drop::Duplicate => &mut stats.frag_duplicate,
                } += 1;
                None
            }
        }
    }

    fn insert(&mut self, now: Instant, f: &Fragment<'_>) -> Result<Option<Reassembled>, Drop> {
        let v6 = f.src.is_ipv6();
        let end = fragment_end(f)?;
        if v6 && f.offset == 0 && !f.more {
            // RFC 6946 §4: an atomic fragment is a datagram of its own.
            return Ok(Some(Reassembled {
                src: f.src,
                dst: f.dst,
                protocol: f.protocol,
                payload: f.payload.to_vec(),
            }));
        }
        let key = Key {
            src: f.src,
            dst: f.dst,
            ident: f.ident,
            protocol: if v6 { 0 } else { f.protocol },
        };
        if self.trains.get(&key).is_some_and(|t| t.discarded) {
            return Err(Drop::AfterDiscard);
        }
        let protocol = (!v6 || f.offset == 0).then_some(f.protocol);
        if protocol.is_some_and(|p| tiny(p, f.offset, f.payload)) {
            // The train can never complete safely; free it now.
            self.remove(&key);
            return Err(Drop::Tiny);
        }
        // The first fragment also keeps its quote for a Time Exceeded.
        let head = (f.offset == 0).then(|| f.quote());
        let cost = f.payload.len() + FRAGMENT_OVERHEAD + head.as_ref().map_or(0, Vec::len);
        self.open_train(now, key, cost)?;
        self.store(&key, f, end, protocol, head, cost)?;
        self.charge(f.src, cost);
        Ok(self.complete(&key))
    }

    /// Makes room for `cost` more bytes in `key`'s train, within the
    /// per-peer and total limits, and starts the train (with its
    /// deadline) if it is new.
    fn open_train(&mut self, now: Instant, key: Key, cost: usize) -> Result<(), Drop> {
        let new_train = !self.trains.contains_key(&key);
        let charge = cost + if new_train { TRAIN_OVERHEAD } else { 0 };
        let peer_used = self.per_peer.get(&key.src).copied().unwrap_or(0);
        if peer_used + charge > self.limits.per_peer {
            return Err(Drop::PeerLimit);
        }
        if self.used + charge > self.limits.total {
            return Err(Drop::TotalLimit);
        }
        if new_train {
            let timeout = if key.src.is_ipv6() {
                self.limits.timeout_v6
            } else {
                self.limits.timeout_v4
            };
            let deadline = now + timeout;
            self.trains.insert(
                key,
                Train {
                    deadline,
                    frags: Vec::new(),
                    received: 0,
                    total: None,
                    protocol: None,
                    head: None,
                    charged: 0,
                    discarded: false,
                },
            );
            self.deadlines.insert((deadline, key));
            self.charge(key.src, TRAIN_OVERHEAD);
        }
        Ok(())
    }

    /// Places `f`, which ends at `end`, in `key`'s train with what it
    /// tells about the datagram (its `protocol`, the first fragment's
    /// `head`, the total length when it is the last). A duplicate is
    /// dropped (with the train if that leaves it empty); an overlap
    /// discards the train (RFC 5722); any other contradiction removes it.
    fn store(
        &mut self,
        key: &Key,
        f: &Fragment<'_>,
        end: usize,
        protocol: Option<u8>,
        head: Option<Vec<u8>>,
        cost: usize,
    ) -> Result<(), Drop> {
        let max_fragments = self.limits.max_fragments;
        let train = self.trains.get_mut(key).ok_or(Drop::Malformed)?;
        match place(train, f.offset, end, f.more, max_fragments) {
            Ok(at) => {
                train.frags.insert(at, (f.offset, f.payload.to_vec()));
                train.received += f.payload.len();
                if protocol.is_some() {
                    train.protocol = protocol;
                }
                if head.is_some() {
                    train.head = head;
                }
                if !f.more {
                    train.total = Some(end);
                }
                train.charged += cost;
                Ok(())
            }
            Err(Drop::Duplicate) => {
                self.drop_if_empty(key);
                Err(Drop::Duplicate)
            }
            Err(Drop::Overlap) => {
                self.discard(key);
                Err(Drop::Overlap)
            }
            Err(why) => {
                // Contradicts what the train already holds: the datagram
                // cannot be trusted any more than after an overlap.
                self.remove(key);
                Err(why)
            }
        }
    }

    /// The whole datagram, if `key`'s train has every byte.
    fn complete(&mut self, key: &Key) -> Option<Reassembled> {
        let t = self.trains.get(key)?;
        if t.total != Some(t.received) || t.protocol.is_none() {
            return None;
        }
        let t = self.remove(key)?;
        let mut payload = Vec::with_capacity(t.received);
        for (_, data) in &t.frags {
            payload.extend_from_slice(data);
        }
        Some(Reassembled {
            src: key.src,
            dst: key.dst,
            protocol: t.protocol?,
            payload,
        })
    }

    fn charge(&mut self, peer: IpAddr, bytes: usize) {
        self.used += bytes;
        *self.per_peer.entry(peer).or_insert(0) += bytes;
    }

    /// Turns a train into a tombstone: its fragments are freed, the key
    /// and deadline stay so later fragments are recognised and dropped.
    fn discard(&mut self, key: &Key) {
        let Some(t) = self.trains.get_mut(key) else {
            return;
        };
        let freed = t.charged;
        t.frags = Vec::new();
        t.head = None;
        t.received = 0;
        t.charged = 0;
        t.discarded = true;
        self.uncharge(key.src, freed);
    }

    /// Removes a train that a duplicate created and nothing else filled.
    fn drop_if_empty(&mut self, key: &Key) {
        if self.trains.get(key).is_some_and(|t| t.frags.is_empty()) {
            self.remove(key);
        }
    }

    /// Removes a train and releases everything it was charged.
    fn remove(&mut self, key: &Key) -> Option<Train> {
        let t = self.trains.remove(key)?;
        self.deadlines.remove(&(t.deadline, *key));
        self.uncharge(key.src, t.charged + TRAIN_OVERHEAD);
        Some(t)
    }

    fn uncharge(&mut self, peer: IpAddr, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
        if let Some(n) = self.per_peer.get_mut(&peer) {
            *n = n.saturating_sub(bytes);
            if *n == 0 {
                self.per_peer.remove(&peer);
            }
        }
    }
}

/// Where `[offset, end)` goes in the train's sorted list, or why it may
/// not: an overlap, an exact duplicate, or a contradiction with the known
/// datagram length.
fn place(
    train: &Train,
    offset: usize,
    end: usize,
    more: bool,
    max_fragments: usize,
) -> Result<usize, Drop> {
    match train.total {
        // RFC 8200 §4.5: nothing may lie past the last fragment's end, and
        // there is only one last fragment.
        Some(total) if end > total || (!more && end != total) => return Err(Drop::Malformed),
        None if !more && train.frags.last().is_some_and(|(o, d)| o + d.len() > end) => {
            return Err(Drop::Malformed)
        }
        _ => {}
    }
    let at = train.frags.partition_point(|(o, _)| *o < offset);
    if let Some((o, d)) = train.frags.get(at) {
        if *o == offset && d.len() == end - offset {
            return Err(Drop::Duplicate);
        }
        if *o < end {
            return Err(Drop::Overlap);
        }
    }
    if let Some((o, d)) = at.checked_sub(1).and_then(|i| train.frags.get(i)) {
        if o + d.len() > offset {
            return Err(Drop::Overlap);
        }
    }
    if train.frags.len() >= max_fragments {
        return Err(Drop::TooManyFragments);
    }
    Ok(at)
}

/// The end of `f`'s payload in the datagram, if `f` is well formed:
/// within the largest datagram of its family, and every fragment but the
/// last a non-empty multiple of 8 bytes (RFC 8200 §4.5, and RFC 791's
/// 8-byte units).
fn fragment_end(f: &Fragment<'_>) -> Result<usize, Drop> {
    let len = f.payload.len();
    let end = f.offset.checked_add(len).ok_or(Drop::Oversize)?;
    let max = if f.src.is_ipv6() {
        MAX_V6_PAYLOAD
    } else {
        MAX_V4_PAYLOAD
    };
    if end > max {
        return Err(Drop::Oversize);
    }
    if f.more && (len == 0 || len % 8 != 0) {
        return Err(Drop::Malformed);
    }
    Ok(end)
}

/// RFC 1858 §3 / RFC 7112: a first fragment too short to hold its
/// transport header, or a TCP fragment at offset 8, where it would
/// rewrite the header's flags.
fn tiny(protocol: u8, offset: usize, payload: &[u8]) -> bool {
    match (protocol, offset) {
        (PROTO_TCP, 8) => true,
        (PROTO_TCP, 0) => {
            let doff = payload.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
            payload.len() < 20 || payload.len() < doff
        }
        (PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6, 0) => payload.len() < 8,
        _ => false,
    }
}

#[cfg(test)]
#[path = "frag_tests.rs"]
mod tests;
