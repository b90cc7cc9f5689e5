//! Micro-benchmarks of the per-packet building blocks: the Internet
//! checksum, TCP segment parse and emit, out-of-order reassembly
//! bookkeeping and the byte ring.
//!
//! ```sh
//! cargo bench --bench micro                 # everything
//! cargo bench --bench micro -- checksum     # one group
//! ```
//!
//! Throughput is reported in bytes (checksum, parse, emit, ring) or in
//! segments (assembler), so criterion prints GiB/s or Melem/s beside the
//! time per iteration.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::Ipv4Addr;
use tunstack::buffer::{Assembler, RingBuffer};
use tunstack::wire::checksum;
use tunstack::wire::{Flags, Ipv4Packet, Ipv4Repr, SeqNumber, TcpHeader, TcpOptions, TcpSegment};
use tunstack::wire::{IPV4_HEADER_LEN, PROTO_TCP};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Payload of a full-sized segment at MTU 1500 with timestamps.
const MSS: usize = 1448;

fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8)
        .collect()
}

/// The header of a bulk data segment as Linux and tunstack send it: ACK,
/// timestamps, no SACK blocks.
fn data_header() -> TcpHeader {
    TcpHeader {
        src_port: 40000,
        dst_port: 5001,
        seq: SeqNumber(0x1234_5678),
        ack: SeqNumber(0x9abc_def0),
        flags: Flags::ACK | Flags::PSH,
        window: 4096,
        urgent: 0,
        options: TcpOptions {
            timestamp: Some((1_000_000, 999_000)),
            ..TcpOptions::default()
        },
    }
}

/// A complete IPv4 + TCP packet carrying `payload` bytes.
fn data_packet(payload: usize) -> Vec<u8> {
    let h = data_header();
    let tcp_len = h.header_len() + payload;
    let mut pkt = vec![0u8; IPV4_HEADER_LEN + tcp_len];
    let hlen = h.header_len();
    pkt[IPV4_HEADER_LEN + hlen..].copy_from_slice(&pattern(payload));
    h.emit(&mut pkt[IPV4_HEADER_LEN..], SRC, DST).unwrap();
    Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: tcp_len,
    }
    .emit(&mut pkt, 1)
    .unwrap();
    pkt
}

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for (name, len) in [("1500B", 1500usize), ("64KiB", 65536)] {
        let data = pattern(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(name, |b| b.iter(|| checksum::data(black_box(&data))));
    }
    g.finish();
}

fn bench_segment(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    let pkt = data_packet(MSS);
    g.throughput(Throughput::Bytes(pkt.len() as u64));
    // What ingress does per packet: IPv4 validation (header checksum), then
    // TCP validation (checksum over the whole segment) and option parsing.
    g.bench_function("parse_ipv4_tcp_1500", |b| {
        b.iter(|| {
            let ip = Ipv4Packet::parse(black_box(&pkt)).unwrap();
            let seg = TcpSegment::parse(ip.repr.src, ip.repr.dst, ip.payload).unwrap();
            black_box(seg.header.seq);
        })
    });
    g.bench_function("parse_tcp_1500", |b| {
        let tcp = &pkt[IPV4_HEADER_LEN..];
        b.iter(|| {
            black_box(
                TcpSegment::parse(SRC, DST, black_box(tcp))
                    .unwrap()
                    .payload
                    .len(),
            )
        })
    });
    // What egress does per packet once the payload is in place: TCP header
    // and checksum, then the IPv4 header.
    g.bench_function("emit_ipv4_tcp_1500", |b| {
        let mut buf = pkt.clone();
        let h = data_header();
        let tcp_len = h.header_len() + MSS;
        let repr = Ipv4Repr {
            src: SRC,
            dst: DST,
            protocol: PROTO_TCP,
            ttl: 64,
            payload_len: tcp_len,
        };
        b.iter(|| {
            black_box(&h)
                .emit(&mut buf[IPV4_HEADER_LEN..], SRC, DST)
                .unwrap();
            repr.emit(&mut buf, 7).unwrap();
            black_box(&buf);
        })
    });
    // A pure ACK: header only, as the receiving side sends every second
    // segment.
    g.throughput(Throughput::Elements(1));
    g.bench_function("emit_ack", |b| {
        let h = TcpHeader {
            flags: Flags::ACK,
            ..data_header()
        };
        let mut buf = vec![0u8; IPV4_HEADER_LEN + h.header_len()];
        b.iter(|| {
            black_box(&h)
                .emit(&mut buf[IPV4_HEADER_LEN..], SRC, DST)
                .unwrap();
            black_box(&buf);
        })
    });
    g.finish();
}

fn bench_assembler(c: &mut Criterion) {
    let mut g = c.benchmark_group("assembler");
    const SEGS: usize = 64;
    g.throughput(Throughput::Elements(SEGS as u64));
    // In order: every segment lands at offset 0 and is taken at once.
    g.bench_function("in_order_64_segments", |b| {
        let mut a = Assembler::new(32);
        b.iter(|| {
            let mut taken = 0;
            for _ in 0..SEGS {
                a.add(0, MSS).unwrap();
                taken += a.take_front();
            }
            black_box(taken)
        })
    });
    // The same through the receive path's call: nothing held, so nothing
    // is inserted and taken out again.
    g.bench_function("in_order_64_segments_add_front_and_take", |b| {
        let mut a = Assembler::new(32);
        b.iter(|| {
            let mut taken = 0;
            for _ in 0..SEGS {
                taken += a.add_front_and_take(black_box(MSS));
            }
            black_box(taken)
        })
    });
    // Out of order: segment 0 of each window of 8 is late, the other 7
    // arrive first (in order among themselves), then the hole fills.
    g.bench_function("one_hole_per_8_segments", |b| {
        let mut a = Assembler::new(32);
        b.iter(|| {
            let mut taken = 0;
            for _ in 0..SEGS / 8 {
                for i in 1..8 {
                    a.add(i * MSS, MSS).unwrap();
                }
                a.add(0, MSS).unwrap();
                taken += a.take_front();
            }
            black_box(taken)
        })
    });
    // Every other segment missing, then the gaps fill from the front:
    // up to 16 ranges held at once.
    g.bench_function("alternate_holes_32_segments", |b| {
        let mut a = Assembler::new(32);
        b.iter(|| {
            let mut taken = 0;
            for _ in 0..SEGS / 32 {
                for i in (1..32).step_by(2) {
                    a.add(i * MSS, MSS).unwrap();
                }
                for i in (0..32).step_by(2) {
                    a.add(i * MSS, MSS).unwrap();
                    taken += a.take_front();
                }
            }
            black_box(taken)
        })
    });
    g.finish();
}

fn bench_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    let seg = pattern(MSS);
    g.throughput(Throughput::Bytes(MSS as u64));
    // The receive path: append a segment, the application reads it.
    g.bench_function("enqueue_dequeue_1448", |b| {
        let mut r = RingBuffer::new(256 * 1024);
        let mut out = vec![0u8; MSS];
        b.iter(|| {
            r.enqueue_slice(black_box(&seg));
            r.dequeue_slice(&mut out);
            black_box(&out);
        })
    });
    // The send path: the application writes, a segment's payload is copied
    // out at an offset, the ACK discards it.
    g.bench_function("enqueue_read_at_discard_1448", |b| {
        let mut r = RingBuffer::new(256 * 1024);
        let mut out = vec![0u8; MSS];
        b.iter(|| {
            r.enqueue_slice(black_box(&seg));
            r.read_at(0, &mut out);
            r.discard(MSS);
            black_box(&out);
        })
    });
    // Out-of-order receive: park a segment past the end, commit it.
    g.bench_function("write_unallocated_commit_1448", |b| {
        let mut r = RingBuffer::new(256 * 1024);
        b.iter(|| {
            r.write_unallocated(0, black_box(&seg));
            r.enqueue_unallocated(MSS);
            r.discard(MSS);
            black_box(r.len());
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_checksum,
    bench_segment,
    bench_assembler,
    bench_ring
);
criterion_main!(benches);
