//! Copy-once receive: the device reads a segment's payload straight into
//! the receive buffer of the connection it is for, so the only copies of
//! a received byte are the kernel's into that buffer and the
//! application's out of it (as with a kernel socket), not a third through
//! a packet buffer.
//!
//! Which connection a packet is for is known only after reading it, so
//! the stack guesses: the connection that took the last data segments,
//! with their header length. The read is scattered (`readv(2)`) over the
//! predicted header length in the packet buffer, the free space after the
//! connection's buffered bytes ([`Tcb::rx_spare`](crate::tcp::Tcb::rx_spare)),
//! and the rest of the packet buffer. When the packet is the plainest
//! case — an IPv4 header without options or an IPv6 header whose next
//! header is TCP (RFC 8200 §3), a TCP header of the predicted length, for
//! that connection, at exactly RCV.NXT — the segment goes to the TCP core
//! with its payload where it already lies, and the ring commits it
//! without a copy. Anything else (another connection, out of order, other
//! header lengths, IPv4 options, IPv6 extension headers, fragments, a bad
//! checksum) is copied back into the packet buffer and takes the ordinary
//! path, which validates and counts it as always: a wrong guess costs one
//! copy, never a different outcome.
//!
//! When the application is already waiting in a blocking read, its buffer
//! is posted to the connection ([`Tcb::post_recv`](crate::tcp::Tcb::post_recv))
//! and the payload is read straight into that instead of the ring: the
//! kernel's copy is then the only one, as with a kernel socket. Once it is
//! full the batch of reads goes on into the ring: ending the batch there
//! so the reader could post again cost a thread hand-off per buffer,
//! which measured slower than the copy it saved.

use super::{ipv4, ipv6, Interface};
use crate::device::{Device, RxMeta};
use crate::time::Instant;
use crate::wire::{checksum, header_lens, TcpSegment, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PROTO_TCP};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most payload one read places: a whole IPv4 packet less the headers.
const MAX_PAYLOAD: usize = 65535 - IPV4_HEADER_LEN;

/// The guess for the next packet: connection entry, header length (IPv4 +
/// TCP) and payload size of its data segments. Only that much buffer space
/// is reserved for the read, so a connection that exchanges a few bytes
/// keeps a small buffer; a larger payload spills into the packet buffer
/// and is copied, and the guess grows to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Guess {
    entry: usize,
    head: usize,
    payload: usize,
}

impl Interface {
    /// Reads one packet into `rx`, its payload into a receive ring when
    /// the guess allows, and hands it to the stack. Returns its length
    /// (0 for an empty read).
    pub(super) fn recv_one(
        &mut self,
        now: Instant,
        device: &mut dyn Device,
        rx: &mut [u8],
    ) -> io::Result<usize> {
        let Some(guess) = self.direct.filter(|_| device.can_recv_vectored()) else {
            return self.recv_whole(now, device, rx);
        };
        let Some((spare, to_reader)) = self.direct_target(guess) else {
            self.direct = None;
            return self.recv_whole(now, device, rx);
        };
        let head = guess.head.min(rx.len());
        let (front, back) = rx.split_at_mut(head);
        let spare_len = spare.len().min(back.len());
        let meta = {
            let tail = back.get_mut(spare_len..).unwrap_or(&mut []);
            let mut bufs = [
                io::IoSliceMut::new(front),
                io::IoSliceMut::new(&mut spare[..spare_len]),
                io::IoSliceMut::new(tail),
            ];
            device.recv_vectored(&mut bufs)?
        };
        // Taken after the read, from the last use of the ring's slice.
        let spare_ptr = spare.as_ptr();
        let RxMeta { len, checksum_ok } = meta;
        let placed = len.saturating_sub(head).min(spare_len);
        // SAFETY: `spare_ptr..+placed` lies in the free space of the
        // connection's receive ring that `rx_spare` reserved (its storage
        // does not move: nothing grows or frees the ring before the
        // segment is processed, all under `&mut self`), or in the unfilled
        // part of a reader's posted buffer (which stays posted as long),
        // and the read above has written these bytes. The slice is only
        // read, and only while nothing writes that memory:
        // `enqueue_in_place` and `deliver_posted` commit it by address
        // without touching the bytes.
        let payload: &[u8] = unsafe { std::slice::from_raw_parts(spare_ptr, placed) };
        if len > head && len - head == placed {
            if let Some((src, seg)) = self.plain_segment(guess, &rx[..head], payload, checksum_ok) {
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += len as u64;
                self.stats.rx_direct += 1;
                self.stats.rx_posted += u64::from(to_reader);
                self.tcp_ingress(now, src, &seg);
                self.rx_hint = None;
                return Ok(len);
            }
        }
        // Not the guessed case: lay the packet out whole in `rx` and take
        // the ordinary path.
        if placed > 0 {
            self.stats.rx_direct_missed += 1;
            if let Some(dst) = rx.get_mut(head..head + placed) {
                dst.copy_from_slice(payload);
            }
        }
        let packet = rx.get(..len).unwrap_or(&[]);
        self.ingress_read(now, packet, checksum_ok);
        Ok(len)
    }

    /// Reads one packet whole into `rx` and hands it to the stack: the
    /// path without a guess.
    fn recv_whole(
        &mut self,
        now: Instant,
        device: &mut dyn Device,
        rx: &mut [u8],
    ) -> io::Result<usize> {
        let m = device.recv_meta(rx)?;
        self.ingress_read(now, rx.get(..m.len).unwrap_or(&[]), m.checksum_ok);
        Ok(m.len)
    }

    /// Where the guessed connection's payload is read to: a waiting
    /// reader's posted buffer if the guessed payload fits (then `true`),
    /// else the free space of the connection's receive ring; `None` when
    /// the guessed connection is gone or its ring has no room.
    fn direct_target(&mut self, guess: Guess) -> Option<(&mut [u8], bool)> {
        let e = self.entries.get_mut(guess.entry)?.as_mut()?;
        match e.tcb.posted_spare() {
            // A waiting reader's buffer, if the guessed payload fits.
            // SAFETY: `Tcb::post_recv`'s contract: the posted bytes
            // are valid for writes and nobody else's until the reader
            // withdraws them, which needs `&mut` of this interface
            // (its lock), held here until the segment is processed.
            Some((addr, room)) if room >= guess.payload => Some((
                unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, room.min(MAX_PAYLOAD)) },
                true,
            )),
            _ => e
                .tcb
                .rx_spare(guess.payload.clamp(1, MAX_PAYLOAD))
                .map(|spare| (spare, false)),
        }
    }

    /// Handles one packet read whole, and updates the guess: a data
    /// segment for the same connection as the one before makes that
    /// connection the next guess.
    pub(super) fn ingress_read(&mut self, now: Instant, packet: &[u8], checksum_ok: bool) {
        if packet.is_empty() {
            return;
        }
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += packet.len() as u64;
        super::ip_ingress(self, now, packet, !checksum_ok);
        let Some(entry) = self.rx_hint.take() else {
            return;
        };
        let head = plain_head(packet);
        let (last, streak) = self.rx_streak;
        self.rx_streak = (
            Some(entry),
            if last == Some(entry) { streak + 1 } else { 1 },
        );
        // The largest payload seen lately on this connection.
        let seen = self
            .direct
            .filter(|g| g.entry == entry)
            .map_or(0, |g| g.payload);
        self.direct = match head {
            Some(head) if head < packet.len() && self.rx_streak.1 >= 2 => Some(Guess {
                entry,
                head,
                payload: (packet.len() - head).max(seen),
            }),
            _ => None,
        };
    }

    /// The segment `head` + `payload` if it is the guessed case: IPv4
    /// without options or fragmentation, or IPv6 without extension
    /// headers, to us from a unicast source; TCP with a header of the
    /// guessed length and a good checksum, for the guessed connection at
    /// exactly RCV.NXT. None sends the packet down the ordinary path.
    fn plain_segment<'p>(
        &self,
        guess: Guess,
        head: &[u8],
        payload: &'p [u8],
        checksum_ok: bool,
    ) -> Option<(IpAddr, TcpSegment<'p>)> {
        let (src, dst, tcp) = match head.first()? >> 4 {
            4 => self.plain_ipv4(head, payload.len())?,
            6 => self.plain_ipv6(head, payload.len())?,
            _ => return None,
        };
        if !checksum_ok {
            // The TCP header is a whole number of 32-bit words, so the
            // sums of the two parts add up to the sum of the segment.
            let acc = checksum::pseudo_header(src, dst, PROTO_TCP, tcp.len() + payload.len());
            if checksum::fold(checksum::sum(checksum::sum(acc, tcp), payload)) != 0 {
                return None;
            }
        }
        let seg = TcpSegment::parse_with(src, dst, tcp, false).ok()?;
        if !seg.payload.is_empty() {
            // The TCP header is shorter than guessed: payload in `head`.
            return None;
        }
        let h = &seg.header;
        let key = (SocketAddr::new(src, h.src_port), h.dst_port);
        if self.conns.get(&key) != Some(&guess.entry) {
            return None;
        }
        let tcb = &self.entries.get(guess.entry)?.as_ref()?.tcb;
        if h.seq != tcb.rcv_nxt() || h.flags.syn() || h.flags.rst() {
            return None;
        }
        Some((
            src,
            TcpSegment {
                header: seg.header,
                payload,
            },
        ))
    }

    /// Source, destination and TCP header of `head` if it is an IPv4
    /// header without options, unfragmented, carrying TCP, with a good
    /// header checksum and a total length that ends with the
    /// `payload_len` bytes placed, to us from a source we accept.
    fn plain_ipv4<'h>(
        &self,
        head: &'h [u8],
        payload_len: usize,
    ) -> Option<(IpAddr, IpAddr, &'h [u8])> {
        let ip = head.get(..IPV4_HEADER_LEN)?;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
        if ip[0] != 0x45
            || total != head.len() + payload_len
            || fragment != 0
            || ip[9] != PROTO_TCP
            || checksum::data(ip) != 0
        {
            return None;
        }
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        if dst != self.cfg.addr || ipv4::martian_source(&self.cfg, src) {
            return None;
        }
        Some((src.into(), dst.into(), head.get(IPV4_HEADER_LEN..)?))
    }

    /// As [`plain_ipv4`](Self::plain_ipv4) for IPv6: a fixed header whose
    /// next header is TCP (any extension header, a Fragment header
    /// included, takes the ordinary path, which processes it; RFC 8200
    /// §4) and whose payload length ends with the bytes placed.
    fn plain_ipv6<'h>(
        &self,
        head: &'h [u8],
        payload_len: usize,
    ) -> Option<(IpAddr, IpAddr, &'h [u8])> {
        let ip = head.get(..IPV6_HEADER_LEN)?;
        let length = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        if ip[0] >> 4 != 6
            || ip[6] != PROTO_TCP
            || IPV6_HEADER_LEN + length != head.len() + payload_len
        {
            return None;
        }
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
        if dst != self.cfg.addr6 || ipv6::martian_source(&self.cfg, src) {
            return None;
        }
        Some((src.into(), dst.into(), head.get(IPV6_HEADER_LEN..)?))
    }
}

/// The header length (IP + TCP) to guess for the next packet like
/// `packet`, if the plain case can place it: none for an IPv6 packet with
/// extension headers, whose TCP header is not at 40.
fn plain_head(packet: &[u8]) -> Option<usize> {
    if packet.first()? >> 4 == 6 && *packet.get(6)? != PROTO_TCP {
        return None;
    }
    header_lens(packet).map(|(ihl, doff)| ihl + doff)
}
