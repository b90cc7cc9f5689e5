//! Many concurrent connections over an in-memory link (no root): every
//! connection is established, carries a byte each way, and stays open at
//! once, with the default (autotuned) buffers; the resident memory they
//! add is at most 16 KiB per idle connection.
//!
//! The bound must hold in any program, not only in a fresh process whose
//! allocator hands out untouched pages: before the connections open, this
//! process frees a large buffer (glibc then raises its mmap threshold, so
//! later large blocks come from the heap) and sets `M_PERTURB`, which
//! makes glibc's malloc and calloc write every byte they hand out. Memory
//! is then resident as soon as it is allocated, so the test measures what
//! the stack allocates, not what it happens to touch.
//!
//! `TUNSTACK_SCALE_CONNS` sets the count (default 2,000; the closing
//! numbers used 10,000 in a release build:
//! `TUNSTACK_SCALE_CONNS=10000 cargo test --release --test scale -- --nocapture`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::{Stack, TcpListener, TcpStream};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn thousands_of_concurrent_connections_stay_open() {
    let n: usize = std::env::var("TUNSTACK_SCALE_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    worst_case_allocator();
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let cfg = |addr| Config {
        addr,
        syn_backlog: n,
        accept_backlog: n,
        ..Config::default()
    };
    let a = Stack::new(da, cfg(Ipv4Addr::new(10, 0, 0, 2))).unwrap();
    let b = Stack::new(db, cfg(Ipv4Addr::new(10, 0, 0, 1))).unwrap();
    let listener = TcpListener::bind(&b, ("0.0.0.0", 80)).unwrap();
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let acceptor = std::thread::spawn(move || {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(listener.accept().unwrap().0);
        }
        v
    });
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(
            TcpStream::connect(&a, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80)).unwrap(),
        );
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "connecting took too long"
        );
    }
    let servers = acceptor.join().unwrap();
    let setup = t0.elapsed();
    // One byte each way on every connection while all are open.
    for c in &clients {
        (&*c).write_all(b"?").unwrap();
    }
    for s in &servers {
        let mut b = [0u8; 1];
        (&*s).read_exact(&mut b).unwrap();
        (&*s).write_all(b"!").unwrap();
    }
    for c in &clients {
        let mut b = [0u8; 1];
        (&*c).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"!");
    }
    let per_conn = (rss_kib().saturating_sub(rss0)) as f64 * 1024.0 / (2 * n) as f64;
    eprintln!(
        "{n} connections ({} TCBs across both stacks, default buffers: {} KiB receive, {} KiB \
         send, autotuned) open at once; set up in {:.2} s; RSS per connection endpoint ≈ {:.1} KiB",
        2 * n,
        clients[0].recv_buffer_size().unwrap() / 1024,
        clients[0].send_buffer_size().unwrap() / 1024,
        setup.as_secs_f64(),
        per_conn / 1024.0
    );
    for c in clients.iter().chain(&servers) {
        assert!(c.peer_addr().is_ok(), "every connection is still open");
    }
    assert!(
        per_conn <= 16.0 * 1024.0,
        "{:.1} KiB of RSS per idle connection (bound 16 KiB)",
        per_conn / 1024.0
    );
}

/// Makes every allocation resident at once, as a long-running program's
/// allocator may: a freed 32 MiB block raises glibc's mmap threshold to
/// 32 MiB (large blocks then come from the heap, where calloc must clear
/// them), and `M_PERTURB` makes malloc and calloc write every byte they
/// return.
fn worst_case_allocator() {
    let mut big = vec![0u8; 32 << 20];
    big.iter_mut().step_by(4096).for_each(|b| *b = 1);
    std::hint::black_box(&big);
    drop(big);
    // SAFETY: mallopt only changes glibc's tuning; called before the
    // threads that allocate under test exist.
    let ok = unsafe { libc::mallopt(libc::M_PERTURB, 0x5a) };
    assert_eq!(ok, 1, "mallopt(M_PERTURB) is supported");
}
