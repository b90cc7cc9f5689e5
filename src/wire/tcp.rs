//! TCP header, options and sequence numbers (RFC 9293 §3.1, §3.4; options
//! from RFC 9293 §3.2, RFC 7323 window scale and timestamps, RFC 2018 SACK).
//!
//! [`TcpSegment::parse`] validates structure with etherparse, verifies the
//! checksum over the pseudo-header (RFC 9293 §3.1) and decodes options
//! defensively: a zero or overlong option length rejects the segment
//! (RFC 9293 §3.2 "MUST be prepared to handle an illegal option length"); a
//! known option with the wrong length is ignored, as Linux does.

use super::{be16, be32, checksum, Error, PROTO_TCP};
use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use etherparse::err::tcp::HeaderSliceError;
use etherparse::TcpHeaderSlice;
use std::cmp::Ordering;
use std::net::IpAddr;

/// Length of a TCP header without options.
pub const TCP_HEADER_LEN: usize = 20;
/// Largest TCP header (data offset 15).
pub const TCP_MAX_HEADER_LEN: usize = 60;

/// The IP and TCP header lengths of an IPv4/TCP or IPv6/TCP packet, from
/// its IHL (IPv6: the fixed 40 bytes, as the stack sends no extension
/// headers) and the TCP data offset (RFC 791 §3.1, RFC 9293 §3.1). `None`
/// if the packet is too short to hold the bytes they are read from. Not
/// validated further: this is for packets the stack built itself (e.g. the
/// device's TSO header lengths).
pub fn header_lens(packet: &[u8]) -> Option<(usize, usize)> {
    let first = *packet.first()?;
    let ihl = if first >> 4 == 6 {
        super::IPV6_HEADER_LEN
    } else {
        usize::from(first & 0x0f) * 4
    };
    let doff = usize::from(packet.get(ihl + 12)? >> 4) * 4;
    Some((ihl, doff))
}
/// RFC 7323 §2.3: shift counts above 14 are treated as 14.
pub const MAX_WINDOW_SHIFT: u8 = 14;
/// At most this many SACK blocks are kept from one segment (RFC 2018 §3).
pub const MAX_SACK_BLOCKS: usize = 4;

/// A 32-bit sequence number with modular comparison (RFC 9293 §3.4).
///
/// `a < b` means `b` is ahead of `a` by less than 2^31. This ordering is not
/// transitive across the whole space, which is why it is `PartialOrd` only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self`.
    #[inline]
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` ≤ `x` < `self + len`, the window test of RFC 9293 §3.4.
    #[inline]
    pub fn window_contains(self, len: u32, x: SeqNumber) -> bool {
        x.0.wrapping_sub(self.0) < len
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) <= 0 {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, rhs: usize) -> SeqNumber {
        // Lengths in the core are bounded by buffer sizes (< 2^31).
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    /// Unsigned distance `self - rhs` modulo 2^32; callers compare first.
    type Output = u32;
    fn sub(self, rhs: SeqNumber) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN echo.
    pub const ECE: Flags = Flags(0x40);
    /// Congestion window reduced.
    pub const CWR: Flags = Flags(0x80);

    /// True if every bit of `other` is set.
    #[inline]
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Shorthand for `contains(Flags::SYN)`.
    pub fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    /// Shorthand for `contains(Flags::ACK)`.
    pub fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    /// Shorthand for `contains(Flags::FIN)`.
    pub fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    /// Shorthand for `contains(Flags::RST)`.
    pub fn rst(self) -> bool {
        self.contains(Flags::RST)
    }
    /// Shorthand for `contains(Flags::PSH)`.
    pub fn psh(self) -> bool {
        self.contains(Flags::PSH)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Flags {
    /// tcpdump's notation: `S`, `F`, `R`, `P`, `U`, `E`, `W`, `.` for ACK.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, c) in [
            (Flags::SYN, 'S'),
            (Flags::FIN, 'F'),
            (Flags::RST, 'R'),
            (Flags::PSH, 'P'),
            (Flags::URG, 'U'),
            (Flags::ECE, 'E'),
            (Flags::CWR, 'W'),
            (Flags::ACK, '.'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        if self.0 == 0 {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// The TCP options this stack understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), SYN only.
    pub mss: Option<u16>,
    /// Window scale shift (kind 3), SYN only, clamped to 14.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), SYN only.
    pub sack_permitted: bool,
    /// Timestamps (kind 8): (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// SACK blocks (kind 5) as (left, right) edges; unused slots are `None`.
    pub sack_blocks: [Option<(SeqNumber, SeqNumber)>; MAX_SACK_BLOCKS],
    /// Parsing stopped at an option whose length cannot be right; the
    /// fields above hold what came before it.
    pub malformed: bool,
}

impl TcpOptions {
    fn parse(mut opts: &[u8]) -> TcpOptions {
        let mut out = TcpOptions::default();
        while let Some(&kind) = opts.first() {
            match kind {
                0 => break,
                1 => {
                    opts = &opts[1..];
                    continue;
                }
                _ => {}
            }
            // Linux `tcp_parse_options`: an option whose length cannot be
            // right (under 2, past the header, or cut off) ends parsing;
            // what came before it stands and the segment is processed.
            let len = opts.get(1).map_or(0, |&l| usize::from(l));
            if len < 2 || len > opts.len() {
                out.malformed = true;
                break;
            }
            let body = &opts[2..len];
            match (kind, len) {
                (2, 4) => out.mss = be16(body, 0),
                (3, 3) => out.window_scale = body.first().map(|&s| s.min(MAX_WINDOW_SHIFT)),
                (4, 2) => out.sack_permitted = true,
                (5, _) if (len - 2) % 8 == 0 => {
                    for (slot, block) in out.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                        if let (Some(l), Some(r)) = (be32(block, 0), be32(block, 4)) {
                            *slot = Some((SeqNumber(l), SeqNumber(r)));
                        }
                    }
                }
                (8, 10) => {
                    if let (Some(v), Some(e)) = (be32(body, 0), be32(body, 4)) {
                        out.timestamp = Some((v, e));
                    }
                }
                // Unknown options, or known ones with a wrong length: skip.
                _ => {}
            }
            opts = &opts[len..];
        }
        out
    }

    fn sack_count(&self) -> usize {
        self.sack_blocks.iter().take_while(|b| b.is_some()).count()
    }

    /// Encoded length including padding to a multiple of 4.
    pub fn encoded_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamp.is_some() {
            n += 12; // NOP NOP TS, or SACK-permitted + TS
        } else if self.sack_permitted {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        let sacks = self.sack_count();
        if sacks > 0 {
            n += 4 + 8 * sacks;
        }
        n.min(TCP_MAX_HEADER_LEN - TCP_HEADER_LEN)
    }

    /// Writes the options in Linux's order into `buf` (at least
    /// [`encoded_len`](Self::encoded_len) bytes); returns the bytes written.
    fn emit(&self, buf: &mut [u8]) -> usize {
        let mut w = Writer { buf, at: 0 };
        if let Some(mss) = self.mss {
            w.put(&[2, 4]);
            w.put(&mss.to_be_bytes());
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some((v, e))) => {
                w.put(&[4, 2, 8, 10]);
                w.put(&v.to_be_bytes());
                w.put(&e.to_be_bytes());
            }
            (false, Some((v, e))) => {
                w.put(&[1, 1, 8, 10]);
                w.put(&v.to_be_bytes());
                w.put(&e.to_be_bytes());
            }
            (true, None) => w.put(&[1, 1, 4, 2]),
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            w.put(&[1, 3, 3, shift.min(MAX_WINDOW_SHIFT)]);
        }
        let sacks = self.sack_count();
        // Never exceed the 40 bytes of option space; with timestamps (12)
        // that leaves room for 3 blocks, as RFC 2018 §3 notes.
        let room = (40usize.saturating_sub(w.at + 4)) / 8;
        let sacks = sacks.min(room);
        if sacks > 0 {
            w.put(&[1, 1, 5, (2 + 8 * sacks) as u8]);
            for (l, r) in self.sack_blocks.iter().flatten().take(sacks) {
                w.put(&l.0.to_be_bytes());
                w.put(&r.0.to_be_bytes());
            }
        }
        w.at
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.at += bytes.len();
        }
    }
}

/// A decoded TCP header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNumber,
    /// Acknowledgment number (meaningful only with ACK).
    pub ack: SeqNumber,
    /// Control bits.
    pub flags: Flags,
    /// Unscaled window field.
    pub window: u16,
    /// Urgent pointer (ignored on receipt, RFC 9293 §3.8.5 / RFC 6093).
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
}

impl TcpHeader {
    /// Header length including options (multiple of 4).
    pub fn header_len(&self) -> usize {
        let opt = self.options.encoded_len();
        TCP_HEADER_LEN + opt.div_ceil(4) * 4
    }

    /// Writes this header into `seg[..header_len()]` and the checksum over
    /// the whole of `seg` (header + payload already placed after it).
    ///
    /// # Errors
    /// [`Error::Truncated`] if `seg` is shorter than the header.
    pub fn emit(
        &self,
        seg: &mut [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<(), Error> {
        self.emit_header(seg)?;
        let acc = checksum::pseudo_header(src, dst, PROTO_TCP, seg.len());
        let c = checksum::fold(checksum::sum(acc, seg));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }

    /// Like [`emit`](Self::emit), but the checksum field gets only the
    /// pseudo-header sum, uncomplemented, for a device that adds the rest
    /// (checksum offload, as Linux's `CHECKSUM_PARTIAL`): the payload is
    /// not read.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `seg` is shorter than the header.
    pub fn emit_partial(
        &self,
        seg: &mut [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<(), Error> {
        self.emit_header(seg)?;
        let acc = checksum::pseudo_header(src, dst, PROTO_TCP, seg.len());
        let c = !checksum::fold(acc);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }

    /// Writes the header with a zero checksum.
    fn emit_header(&self, seg: &mut [u8]) -> Result<(), Error> {
        let hlen = self.header_len();
        if seg.len() < hlen {
            return Err(Error::Truncated);
        }
        let h = &mut seg[..hlen];
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        let ack = if self.flags.ack() { self.ack.0 } else { 0 };
        h[8..12].copy_from_slice(&ack.to_be_bytes());
        h[12] = ((hlen / 4) as u8) << 4;
        h[13] = self.flags.0;
        h[14..16].copy_from_slice(&self.window.to_be_bytes());
        h[16..18].copy_from_slice(&[0, 0]);
        h[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        let written = self.options.emit(&mut h[TCP_HEADER_LEN..]);
        // Pad with EOL (zero) to the 32-bit boundary.
        h[TCP_HEADER_LEN + written..].fill(0);
        Ok(())
    }
}

/// A parsed TCP segment borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// The header.
    pub header: TcpHeader,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> TcpSegment<'a> {
    /// Parses a TCP segment carried between `src` and `dst`, verifying the
    /// checksum.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadHeaderLen`], [`Error::BadChecksum`]
    /// or [`Error::BadFlags`] (SYN with RST or FIN). A malformed option
    /// ends option parsing without failing the segment, as in Linux.
    pub fn parse(
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        buf: &'a [u8],
    ) -> Result<TcpSegment<'a>, Error> {
        TcpSegment::parse_with(src, dst, buf, true)
    }

    /// Parses like [`parse`](Self::parse) but verifies the checksum only
    /// if `verify`: false when the device vouches for it (checksum
    /// offload).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_with(
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        buf: &'a [u8],
        verify: bool,
    ) -> Result<TcpSegment<'a>, Error> {
        let hdr = TcpHeaderSlice::from_slice(buf).map_err(|e| match e {
            HeaderSliceError::Len(_) => Error::Truncated,
            HeaderSliceError::Content(_) => Error::BadHeaderLen,
        })?;
        if verify {
            let acc = checksum::pseudo_header(src, dst, PROTO_TCP, buf.len());
            if checksum::fold(checksum::sum(acc, buf)) != 0 {
                return Err(Error::BadChecksum);
            }
        }
        let raw = hdr.slice();
        let flags = Flags(raw.get(13).copied().unwrap_or(0));
        if flags.syn() && (flags.rst() || flags.fin()) {
            return Err(Error::BadFlags);
        }
        let options = TcpOptions::parse(hdr.options());
        let payload = buf.get(raw.len()..).ok_or(Error::Truncated)?;
        Ok(TcpSegment {
            header: TcpHeader {
                src_port: hdr.source_port(),
                dst_port: hdr.destination_port(),
                seq: SeqNumber(hdr.sequence_number()),
                ack: SeqNumber(hdr.acknowledgment_number()),
                flags,
                window: hdr.window_size(),
                urgent: hdr.urgent_pointer(),
                options,
            },
            payload,
        })
    }

    /// Sequence space occupied: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.header.flags.syn())
            + u32::from(self.header.flags.fin())
    }
}

/// tcpdump-style summary of a header, e.g.
/// `[S] seq 3188812312 win 65535 <mss 1460,nop,wscale 7> length 0`.
pub struct Summary<'a>(pub &'a TcpHeader, pub usize);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0;
        write!(f, "[{}] seq {}", h.flags, h.seq)?;
        if h.flags.ack() {
            write!(f, " ack {}", h.ack)?;
        }
        write!(f, " win {}", h.window)?;
        let o = &h.options;
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = o.mss {
            parts.push(format!("mss {m}"));
        }
        if o.sack_permitted {
            parts.push("sackOK".into());
        }
        if let Some((v, e)) = o.timestamp {
            parts.push(format!("TS val {v} ecr {e}"));
        }
        if let Some(s) = o.window_scale {
            parts.push(format!("wscale {s}"));
        }
        for (l, r) in o.sack_blocks.iter().flatten() {
            parts.push(format!("sack {l}:{r}"));
        }
        if !parts.is_empty() {
            write!(f, " <{}>", parts.join(","))?;
        }
        write!(f, " length {}", self.1)
    }
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
