//! Copy-once receive (`direct`): over a device with scatter reads, in-order
//! data of the connection that took the last data segments is read
//! straight into its receive buffer, and every other packet (another
//! connection, out of order, a bad checksum, a shorter header) reaches the
//! same result through the ordinary path.

use super::tests::{packet, pop_meta, tcp_header, PEER, US};
use super::*;
use crate::device::RxMeta;
use crate::tcp::State;
use crate::wire::{Flags, Ipv4Packet, TcpSegment};
use std::net::SocketAddrV4;

/// An in-memory device with `recv_vectored`: packets to read, each with
/// the `checksum_ok` to report; counts the scattered reads.
struct ScatterDevice {
    rx: VecDeque<(Vec<u8>, bool)>,
    sent: Vec<Vec<u8>>,
    vectored_reads: usize,
}

impl Device for ScatterDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_meta(buf).map(|m| m.len)
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        pop_meta(&mut self.rx, buf)
    }
    fn can_recv_vectored(&self) -> bool {
        true
    }
    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        let (p, ok) = self.rx.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        self.vectored_reads += 1;
        let mut rest = &p[..];
        for b in bufs.iter_mut() {
            let n = rest.len().min(b.len());
            b[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(RxMeta {
            len: p.len(),
            checksum_ok: ok,
        })
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.sent.push(packet.to_vec());
        Ok(())
    }
    fn mtu(&self) -> usize {
        1500
    }
}

const PEER_ISS: u32 = 7000;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// A connection to PEER:`port` in ESTABLISHED (no TCP options after the
/// handshake, so every peer header is 40 bytes with IPv4). Returns the
/// handle, our port and the ACK the peer sends.
fn connect(iface: &mut Interface, dev: &mut ScatterDevice, port: u16) -> (SocketHandle, u16, u32) {
    let h = iface
        .tcp_connect(ms(0), SocketAddrV4::new(PEER, port))
        .unwrap();
    iface.poll(ms(0), dev);
    let syn = dev.sent.pop().unwrap();
    let ip = Ipv4Packet::parse(&syn).unwrap();
    let syn = TcpSegment::parse(US, PEER, ip.payload).unwrap().header;
    let ack = syn.seq.0.wrapping_add(1);
    let sa = tcp_header(port, syn.src_port, PEER_ISS, ack, Flags::SYN | Flags::ACK);
    dev.rx.push_back((packet(PEER, US, &sa, b""), false));
    iface.poll(ms(1), dev);
    assert_eq!(iface.tcp_mut(h).unwrap().state(), State::Established);
    dev.sent.clear();
    (h, syn.src_port, ack)
}

/// Segment `i` of 1000 bytes, a pattern unique to `i` and `salt`.
fn chunk(i: u32, salt: u8) -> Vec<u8> {
    (0..1000u32)
        .map(|k| (k.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8 ^ salt)
        .collect()
}

/// Data segment `i` (1000 bytes at PEER_ISS + 1 + 1000 i) from PEER:`port`.
fn data(port: u16, local: u16, ack: u32, i: u32, salt: u8) -> Vec<u8> {
    let seq = PEER_ISS + 1 + 1000 * i;
    let h = tcp_header(port, local, seq, ack, Flags::ACK | Flags::PSH);
    packet(PEER, US, &h, &chunk(i, salt))
}

fn read_all(iface: &mut Interface, h: SocketHandle) -> Vec<u8> {
    let mut out = vec![0u8; 1 << 16];
    let n = iface.tcp_mut(h).unwrap().recv(&mut out).unwrap_or(0);
    out.truncate(n);
    out
}

fn setup() -> (Interface, ScatterDevice) {
    let iface = Interface::new(Config::default());
    let dev = ScatterDevice {
        rx: VecDeque::new(),
        sent: Vec::new(),
        vectored_reads: 0,
    };
    (iface, dev)
}

#[test]
fn in_order_data_is_read_straight_into_the_receive_buffer() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect(&mut iface, &mut dev, 80);
    for i in 0..10 {
        dev.rx.push_back((data(80, local, ack, i, 0), true));
    }
    iface.poll(ms(2), &mut dev);
    // Two segments in a row make the guess; the other eight are placed.
    assert_eq!(iface.stats().rx_direct, 8);
    assert_eq!(iface.stats().rx_direct_missed, 0);
    assert_eq!(dev.vectored_reads, 8, "from the third read on");
    let want: Vec<u8> = (0..10).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    // Without the device's word for the checksum it is verified, across
    // the header and the placed payload, and a good one is placed too.
    for i in 10..14 {
        dev.rx.push_back((data(80, local, ack, i, 0), false));
    }
    iface.poll(ms(3), &mut dev);
    assert_eq!(iface.stats().rx_direct, 12);
    let want: Vec<u8> = (10..14).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
}

#[test]
fn a_wrong_guess_takes_the_ordinary_path_to_the_same_result() {
    let (mut iface, mut dev) = setup();
    let (a, la, acka) = connect(&mut iface, &mut dev, 80);
    let (b, lb, ackb) = connect(&mut iface, &mut dev, 81);
    for i in 0..3 {
        dev.rx.push_back((data(80, la, acka, i, 0), true));
    }
    // Another connection's segment lands in A's buffer space first.
    dev.rx.push_back((data(81, lb, ackb, 0, 9), true));
    // Out of order for A (4 before 3), then the hole filled.
    dev.rx.push_back((data(80, la, acka, 4, 0), true));
    dev.rx.push_back((data(80, la, acka, 3, 0), true));
    // A corrupted payload the device did not vouch for: dropped, counted.
    let mut bad = data(80, la, acka, 5, 0);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    dev.rx.push_back((bad, false));
    // A FIN-less duplicate of segment 1: already had.
    dev.rx.push_back((data(80, la, acka, 1, 0), true));
    // The real segment 5, and B's next.
    dev.rx.push_back((data(80, la, acka, 5, 0), true));
    dev.rx.push_back((data(81, lb, ackb, 1, 9), true));
    for t in 2..6 {
        iface.poll(ms(t), &mut dev);
    }
    let st = *iface.stats();
    assert!(st.rx_direct_missed >= 3, "{st:?}");
    assert_eq!(st.tcp_bad_checksum, 1);
    let want_a: Vec<u8> = (0..6).flat_map(|i| chunk(i, 0)).collect();
    let want_b: Vec<u8> = (0..2).flat_map(|i| chunk(i, 9)).collect();
    assert_eq!(read_all(&mut iface, a), want_a);
    assert_eq!(read_all(&mut iface, b), want_b);
}

#[test]
fn a_header_longer_than_guessed_is_laid_out_whole_again() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect(&mut iface, &mut dev, 80);
    for i in 0..3 {
        dev.rx.push_back((data(80, local, ack, i, 0), true));
    }
    // Segment 3 with 12 bytes of options (NOPs and an unknown kind would
    // do; timestamps are what a peer sends): its payload starts later.
    let mut hdr = tcp_header(80, local, PEER_ISS + 1 + 3000, ack, Flags::ACK);
    hdr.options.timestamp = Some((5, 0));
    dev.rx
        .push_back((packet(PEER, US, &hdr, &chunk(3, 0)), true));
    // The guess follows it (52 bytes), so the next 40-byte header leaves
    // payload bytes in the header part: laid out whole again too.
    for i in 4..7 {
        dev.rx.push_back((data(80, local, ack, i, 0), true));
    }
    iface.poll(ms(2), &mut dev);
    let want: Vec<u8> = (0..7).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    assert_eq!(iface.stats().rx_direct_missed, 2);
    assert_eq!(iface.stats().rx_direct, 3, "segments 2, 5 and 6");
}

#[test]
fn space_is_reserved_for_the_payload_seen_and_grows_with_it() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect(&mut iface, &mut dev, 80);
    let mut seq = PEER_ISS + 1;
    let mut want = Vec::new();
    for (i, len) in [100usize, 100, 100, 1000, 1000, 1000]
        .into_iter()
        .enumerate()
    {
        let payload: Vec<u8> = (0..len).map(|k| (k * 13 + i) as u8).collect();
        let hdr = tcp_header(80, local, seq, ack, Flags::ACK);
        dev.rx.push_back((packet(PEER, US, &hdr, &payload), true));
        seq += len as u32;
        want.extend_from_slice(&payload);
    }
    iface.poll(ms(2), &mut dev);
    // 100 bytes reserved for the third; the fourth spills past them and is
    // copied; the guess grows to 1000 for the last two.
    assert_eq!(iface.stats().rx_direct, 3);
    assert_eq!(iface.stats().rx_direct_missed, 1);
    assert_eq!(read_all(&mut iface, h), want);
}

#[test]
fn a_waiting_readers_posted_buffer_takes_the_payload_until_it_is_full() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect(&mut iface, &mut dev, 80);
    for i in 0..2 {
        dev.rx.push_back((data(80, local, ack, i, 0), true));
    }
    iface.poll(ms(2), &mut dev);
    let want: Vec<u8> = (0..2).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    // The reader waits with room for two and a half segments.
    let mut user = vec![0u8; 2500];
    let addr = user.as_mut_ptr() as usize;
    // SAFETY: `user` outlives the posting and is not touched until
    // `take_posted` below.
    assert!(unsafe { iface.tcp_mut(h).unwrap().post_recv(addr, user.len()) });
    for i in 2..7 {
        dev.rx.push_back((data(80, local, ack, i, 0), true));
    }
    // Two segments fill it; the batch of reads goes on into the receive
    // ring (the reader takes its buffer when the batch wakes it).
    iface.poll(ms(3), &mut dev);
    assert_eq!(iface.stats().rx_posted, 2);
    assert!(dev.rx.is_empty(), "the batch read on past the full posting");
    let tcb = iface.tcp_mut(h).unwrap();
    assert_eq!(tcb.recv_queue(), 3000);
    assert_eq!(tcb.take_posted(addr), Some(2000));
    let want: Vec<u8> = (2..4).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(&user[..2000], &want[..]);
    // (Into the ring, which wraps at 2 KiB here: one of them is copied.)
    let st = *iface.stats();
    assert_eq!((st.rx_posted, st.rx_direct + st.rx_direct_missed), (2, 5));
    let want: Vec<u8> = (4..7).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    // Every byte was acknowledged.
    let last = dev.sent.last().expect("ACKs were sent");
    let ip = Ipv4Packet::parse(last).unwrap();
    let seg = TcpSegment::parse(US, PEER, ip.payload).unwrap();
    assert_eq!(seg.header.ack.0, PEER_ISS + 1 + 7000);
}

// --- IPv6 ---------------------------------------------------------------

use super::ipv6_tests::{ip6, packet6, parse_tcp6, PEER6, US6};
use crate::wire::ipv6::{NEXT_DEST_OPTS, NEXT_FRAGMENT};
use std::net::SocketAddrV6;

/// [`connect`] over IPv6: every peer header is 60 bytes (40 + 20).
fn connect6(iface: &mut Interface, dev: &mut ScatterDevice, port: u16) -> (SocketHandle, u16, u32) {
    let h = iface
        .tcp_connect(ms(0), SocketAddrV6::new(PEER6, port, 0, 0))
        .unwrap();
    iface.poll(ms(0), dev);
    let (_, syn, _) = parse_tcp6(&dev.sent.pop().unwrap());
    let ack = syn.seq.0.wrapping_add(1);
    let sa = tcp_header(port, syn.src_port, PEER_ISS, ack, Flags::SYN | Flags::ACK);
    dev.rx.push_back((packet6(PEER6, US6, &sa, b""), false));
    iface.poll(ms(1), dev);
    assert_eq!(iface.tcp_mut(h).unwrap().state(), State::Established);
    dev.sent.clear();
    (h, syn.src_port, ack)
}

/// Data segment `i` of [`data`] over IPv6.
fn data6(port: u16, local: u16, ack: u32, i: u32) -> Vec<u8> {
    let seq = PEER_ISS + 1 + 1000 * i;
    let h = tcp_header(port, local, seq, ack, Flags::ACK | Flags::PSH);
    packet6(PEER6, US6, &h, &chunk(i, 0))
}

/// Segment `i` behind one extension header `next` whose bytes are `ext`
/// (their first byte, the next header, is set to TCP here).
fn data6_behind(port: u16, local: u16, ack: u32, i: u32, next: u8, ext: &[u8]) -> Vec<u8> {
    let plain = data6(port, local, ack, i);
    let mut payload = ext.to_vec();
    payload[0] = PROTO_TCP;
    payload.extend_from_slice(&plain[40..]);
    ip6(PEER6, US6, next, &payload)
}

#[test]
fn in_order_ipv6_data_is_read_straight_into_the_receive_buffer() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect6(&mut iface, &mut dev, 80);
    for i in 0..10 {
        dev.rx.push_back((data6(80, local, ack, i), true));
    }
    iface.poll(ms(2), &mut dev);
    assert_eq!(iface.stats().rx_direct, 8, "from the third on");
    assert_eq!(iface.stats().rx_direct_missed, 0);
    let want: Vec<u8> = (0..10).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    // Checksums the device did not vouch for are verified over the IPv6
    // pseudo-header: good ones placed, a corrupted one dropped, counted.
    for i in 10..12 {
        dev.rx.push_back((data6(80, local, ack, i), false));
    }
    let mut bad = data6(80, local, ack, 12);
    let last = bad.len() - 1;
    bad[last] ^= 0x5a;
    dev.rx.push_back((bad, false));
    dev.rx.push_back((data6(80, local, ack, 12), false));
    iface.poll(ms(3), &mut dev);
    let st = *iface.stats();
    assert_eq!(st.tcp_bad_checksum, 1);
    assert_eq!(st.rx_direct, 11, "{st:?}");
    let want: Vec<u8> = (10..13).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
}

#[test]
fn ipv6_extension_headers_take_the_ordinary_path_to_the_same_result() {
    let (mut iface, mut dev) = setup();
    let (h, local, ack) = connect6(&mut iface, &mut dev, 80);
    // Destination options with one PadN option of 4 bytes (RFC 8200 §4.6).
    let dest_opts = [0, 0, 1, 4, 0, 0, 0, 0];
    // An atomic fragment: offset 0, no more fragments (RFC 8200 §4.5).
    let fragment = [0, 0, 0, 0, 0, 0, 0, 7];
    for i in 0..3 {
        dev.rx.push_back((data6(80, local, ack, i), true));
    }
    dev.rx.push_back((
        data6_behind(80, local, ack, 3, NEXT_DEST_OPTS, &dest_opts),
        true,
    ));
    for i in 4..6 {
        dev.rx.push_back((data6(80, local, ack, i), true));
    }
    dev.rx.push_back((
        data6_behind(80, local, ack, 6, NEXT_FRAGMENT, &fragment),
        false,
    ));
    for i in 7..9 {
        dev.rx.push_back((data6(80, local, ack, i), true));
    }
    for t in 2..5 {
        iface.poll(ms(t), &mut dev);
    }
    let want: Vec<u8> = (0..9).flat_map(|i| chunk(i, 0)).collect();
    assert_eq!(read_all(&mut iface, h), want);
    let st = *iface.stats();
    // Both read into the guessed space, then laid out whole again.
    assert_eq!(st.rx_direct_missed, 2, "{st:?}");
    assert!(st.rx_direct >= 3, "plain segments still placed: {st:?}");
    assert_eq!(st.frag_atomic, 1, "{st:?}");
    assert_eq!(st.tcp_bad_checksum, 0);
}
