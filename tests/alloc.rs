//! Heap allocations per packet in steady state (no root): two
//! [`Interface`]s joined by an in-memory `PipeDevice` pair, driven on this
//! one thread with a virtual clock, move a bulk transfer; a counting
//! global allocator counts every allocation this thread makes while the
//! transfer runs after a warm-up. The bound asserted here is the one the
//! stack achieves; the number is printed (`-- --nocapture`).
//!
//! A second test runs the same transfer through the socket API: two
//! `Stack`s with their driver threads, a writer and a reader thread, and
//! counts on every thread.
//!
//! The single-thread count uses a thread-local switch, so the test
//! harness's own threads never disturb it; the two tests take turns.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use tunstack::device::PipeDevice;
use tunstack::stack::{Config, Interface, SocketHandle};
use tunstack::time::Instant;
use tunstack::{Stack, TcpListener, TcpStream};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Count on every thread, not only where `COUNTING` is set.
static COUNT_ALL: AtomicBool = AtomicBool::new(false);
/// The tests take turns: each reads the shared counters.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    // try_with: the thread-local may already be gone while a thread exits.
    if COUNT_ALL.load(Ordering::Relaxed) || COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counting touches only atomics and a const-initialized thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts allocations made while `f` runs: by this thread only, or by
/// every thread if `all`.
fn count<T>(all: bool, f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    COUNT_ALL.store(all, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    COUNT_ALL.store(false, Ordering::SeqCst);
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    (out, a1 - a0, b1 - b0)
}

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// Two interfaces over a pipe pair with one connection between them,
/// moved by hand: each `round` lets the applications write and read, then
/// polls both sides at a virtual instant 20 µs later.
struct Link {
    a: Interface,
    b: Interface,
    da: PipeDevice,
    db: PipeDevice,
    ca: SocketHandle,
    cb: SocketHandle,
    now: Instant,
    chunk: Vec<u8>,
    sink: Vec<u8>,
}

impl Link {
    fn new(mtu: usize) -> Link {
        let (da, db) = PipeDevice::pair(mtu).unwrap();
        let cfg = |addr, secret| {
            let mut c = Config {
                addr,
                mtu,
                secret,
                ..Config::default()
            };
            // Full-sized segments for the MTU (the default caps the MSS at 1460).
            c.tcp.mss = (mtu - 40) as u16;
            c
        };
        let mut a = Interface::new(cfg(A, [1, 2]));
        let mut b = Interface::new(cfg(B, [3, 4]));
        b.tcp_listen(5001).unwrap();
        let now = Instant::from_secs(1);
        let ca = a.tcp_connect(now, SocketAddrV4::new(B, 5001)).unwrap();
        let mut link = Link {
            a,
            b,
            da,
            db,
            ca,
            cb: ca,
            now,
            chunk: vec![0x5a; 64 * 1024],
            sink: vec![0; 64 * 1024],
        };
        let mut accepted = None;
        for _ in 0..100 {
            link.poll();
            if let Some(h) = link.b.tcp_accept(5001).unwrap() {
                accepted = Some(h);
                break;
            }
        }
        link.cb = accepted.expect("the connection is accepted");
        link
    }

    fn poll(&mut self) {
        self.now = Instant::from_micros(self.now.total_micros() + 20);
        self.a.poll(self.now, &mut self.da);
        self.b.poll(self.now, &mut self.db);
    }

    /// One round of a bulk transfer from `a` to `b`; returns bytes received.
    fn bulk_round(&mut self) -> usize {
        let t = self.a.tcp_mut(self.ca).unwrap();
        let _ = t.send(&self.chunk);
        self.poll();
        let mut got = 0;
        let t = self.b.tcp_mut(self.cb).unwrap();
        while let Ok(n) = t.recv(&mut self.sink) {
            if n == 0 {
                break;
            }
            got += n;
        }
        got
    }

    /// One 1-byte request from `a` answered by `b` (both with NODELAY).
    fn round_trip(&mut self) {
        let _ = self.a.tcp_mut(self.ca).unwrap().send(b"?");
        self.poll();
        let t = self.b.tcp_mut(self.cb).unwrap();
        if t.recv(&mut self.sink) == Ok(1) {
            let _ = t.send(b"!");
        }
        self.poll();
        let _ = self.a.tcp_mut(self.ca).unwrap().recv(&mut self.sink);
    }

    /// Packets written by both sides so far.
    fn packets(&self) -> u64 {
        self.a.stats().tx_packets + self.b.stats().tx_packets
    }
}

/// Allocations per packet (data segments one way, ACKs the other) during a
/// bulk transfer after a warm-up, at the given MTU.
fn bulk_allocations_per_packet(mtu: usize) -> f64 {
    let mut link = Link::new(mtu);
    // Warm-up: slow start ends, buffers and tables reach their sizes.
    let mut moved = 0;
    while moved < 8 << 20 {
        moved += link.bulk_round();
    }
    let p0 = link.packets();
    let (moved, allocs, bytes) = count(false, || {
        let mut moved = 0;
        while moved < 16 << 20 {
            moved += link.bulk_round();
        }
        moved
    });
    let packets = link.packets() - p0;
    let per_packet = allocs as f64 / packets as f64;
    println!(
        "MTU {mtu}: {moved} bytes in {packets} packets (both directions): \
         {allocs} allocations ({bytes} bytes), {per_packet:.3} per packet"
    );
    assert!(packets > 1000, "the transfer moved: {packets} packets");
    per_packet
}

/// Allocations per packet of 1-byte request/response round trips.
fn rr_allocations_per_packet() -> f64 {
    let mut link = Link::new(1500);
    link.a.tcp_mut(link.ca).unwrap().set_nodelay(true);
    link.b.tcp_mut(link.cb).unwrap().set_nodelay(true);
    for _ in 0..1000 {
        link.round_trip();
    }
    let p0 = link.packets();
    let ((), allocs, bytes) = count(false, || {
        for _ in 0..10_000 {
            link.round_trip();
        }
    });
    let packets = link.packets() - p0;
    let per_packet = allocs as f64 / packets as f64;
    println!(
        "1-byte request/response: 10000 round trips in {packets} packets: \
         {allocs} allocations ({bytes} bytes), {per_packet:.3} per packet"
    );
    assert!(
        packets >= 20_000,
        "every round trip moved: {packets} packets"
    );
    per_packet
}

#[test]
fn request_response_allocates_nothing_per_packet() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let per_packet = rr_allocations_per_packet();
    assert!(
        per_packet <= 0.0,
        "{per_packet:.3} heap allocations per packet in request/response"
    );
}

#[test]
fn bulk_transfer_allocates_nothing_per_packet_in_steady_state() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // The counter itself works: one allocation is seen as one.
    let (v, allocs, _) = count(false, || {
        std::hint::black_box(Vec::<u8>::with_capacity(100))
    });
    drop(v);
    assert_eq!(allocs, 1, "the counting allocator counts");
    for mtu in [1500, 9000] {
        let per_packet = bulk_allocations_per_packet(mtu);
        assert!(
            per_packet <= 0.0,
            "MTU {mtu}: {per_packet:.3} heap allocations per packet in steady state"
        );
    }
}

/// The same through the socket API: driver threads, blocking `write` and
/// `read` on two more threads, counted on every thread. Returns
/// allocations per packet.
fn stack_bulk_allocations_per_packet() -> (u64, u64) {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    // Fixed buffers: an autotuned ring allocates when it grows, a bounded
    // number of times (at most one doubling from 2 KiB to its maximum
    // each), whenever the connection speeds up; that is not per packet.
    let cfg = |addr| {
        let mut c = Config {
            addr,
            ..Config::default()
        };
        c.tcp.buffer_autotuning = false;
        c
    };
    let a = Stack::new(da, cfg(A)).unwrap();
    let b = Stack::new(db, cfg(B)).unwrap();
    let l = TcpListener::bind(&b, ("0.0.0.0", 5001)).unwrap();
    let c = TcpStream::connect(&a, SocketAddrV4::new(B, 5001)).unwrap();
    let (s, _) = l.accept().unwrap();
    // The reader reports each MiB it has read, so the writer knows where
    // the warm-up ends.
    let (tx, rx) = mpsc::sync_channel::<u64>(1024);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match (&s).read(&mut buf).unwrap() {
                0 => break,
                n => {
                    let before = total >> 20;
                    total += n as u64;
                    if total >> 20 != before {
                        let _ = tx.try_send(total);
                    }
                }
            }
        }
        total
    });
    let chunk = vec![0x5au8; 64 * 1024];
    let send = |mib: u64| {
        for _ in 0..mib * 16 {
            (&c).write_all(&chunk).unwrap();
        }
    };
    send(8);
    // Wait until the reader has the warm-up bytes: the pipeline is full.
    while rx.recv().unwrap() < 7 << 20 {}
    let packets = || a.stats().tx_packets + b.stats().tx_packets;
    let p0 = packets();
    let ((), allocs, bytes) = count(true, || {
        send(16);
        while rx.recv().unwrap() < 23 << 20 {}
    });
    let n = packets() - p0;
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(reader.join().unwrap(), 24 << 20);
    let per_packet = allocs as f64 / n as f64;
    println!(
        "socket API, MTU 1500: 16 MiB in {n} packets (both directions), all threads: \
         {allocs} allocations ({bytes} bytes), {per_packet:.3} per packet"
    );
    assert!(n > 1000, "the transfer moved: {n} packets");
    (allocs, n)
}

/// Ring storage grows by doubling from 2 KiB, so a 256 KiB ring may
/// allocate 8 times in its life; four rings (a send and a receive ring
/// per end) at most 32. The last doublings may fall after the warm-up,
/// since they happen only when a scheduling hiccup first lets that many
/// bytes pile up.
const RING_GROWTH_STEPS: u64 = 32;

#[test]
fn socket_api_bulk_transfer_allocates_nothing_per_packet() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (allocs, packets) = stack_bulk_allocations_per_packet();
    assert!(
        allocs <= RING_GROWTH_STEPS,
        "{allocs} heap allocations in {packets} packets through the socket API: more than \
         the rings' growth steps ({RING_GROWTH_STEPS})"
    );
}
