//! A SYN flood against a tunstack listener, in a private namespace: 100,000
//! SYNs from spoofed sources. The half-open table stays at its cap (once
//! full, SYNs are answered with SYN cookies and leave no state), memory
//! stays bounded, and a real client connects during the flood. The only
//! test in its binary, so the process's peak RSS is the flood's: it floods
//! an IPv4 listener, then an IPv6 one on the same stack, one after the
//! other, each half judged on its own growth.

mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use forge::{Forge, Forger};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tunstack::net::Config;
use tunstack::{Stack, TcpListener};

const SYNS: u32 = 100_000;

/// This process's peak and current RSS in KiB.
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[test]
fn syn_flood_keeps_the_table_bounded_and_a_real_client_still_connects() {
    let config = Config::default();
    let cap = config.syn_backlog + config.accept_backlog + 1;
    let stack = netns_with(config);
    // Half-open connections of the IPv4 flood may outlive it, so the
    // second flood's table is judged against both listeners' caps.
    flood(&stack, Family::V4, 8000, cap);
    flood(&stack, Family::V6, 8001, 2 * cap);
}

/// [`SYNS`] spoofed SYNs to a listener on `port` over `f`, with a real
/// client connecting half-way; the connection table must end at most at
/// `cap`.
fn flood(stack: &Stack, f: Family, port: u16, cap: usize) {
    let listener = TcpListener::bind(stack, f.any(port)).unwrap();
    let forger = Forger::new();
    let (peak_before, _) = rss();
    let before = stack.stats();
    let started = Instant::now();

    // The flood, with a real client connecting half-way through.
    let mut client = None;
    for i in 0..SYNS {
        // Sources across the subnet except the two real hosts: their
        // SYN-ACKs go nowhere (the namespace does not forward).
        let host = 3 + (i % 250) as u8;
        let src = SocketAddr::new(f.host(host), 1024 + (i % 60000) as u16);
        let mut syn = Forge::new(src, port, i.wrapping_mul(2_654_435_761));
        syn.syn = true;
        syn.options = vec![2, 4, 0x05, 0xa0]; // MSS 1440: fits either family
        forger.send(&syn.bytes());
        if i % 256 == 255 {
            // ~25,000 SYNs/s: a flood the TUN queue (500 packets) carries
            // without dropping, so the flood measures the stack, not the
            // device queue.
            std::thread::sleep(Duration::from_millis(10));
        }
        if i == SYNS / 2 {
            client = Some(std::thread::spawn(move || {
                let mut s =
                    std::net::TcpStream::connect_timeout(&f.us_at(port), Duration::from_secs(20))
                        .expect("a real client connects during the flood");
                s.write_all(b"through the flood")?;
                s.shutdown(std::net::Shutdown::Write)?;
                let mut v = Vec::new();
                s.read_to_end(&mut v)?;
                Ok::<_, std::io::Error>(v)
            }));
        }
    }
    let flood_time = started.elapsed();
    // Accept until the real client shows up (spoofed handshakes never
    // complete, so nothing else reaches the accept queue).
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (conn, from) = loop {
        match listener.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let done = client.as_ref().is_some_and(|c| c.is_finished());
                assert!(
                    !done && Instant::now() < deadline,
                    "client gave up: {:?}",
                    stack.stats().counters()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    assert_eq!(from.ip(), f.kernel());
    let mut buf = Vec::new();
    (&conn).read_to_end(&mut buf).unwrap();
    (&conn).write_all(&buf).unwrap();
    drop(conn);
    assert_eq!(
        client.unwrap().join().unwrap().expect("client"),
        b"through the flood"
    );

    let after = stack.stats();
    let (peak_after, now_rss) = rss();
    let seen = after.tcp_segments_in - before.tcp_segments_in;
    eprintln!(
        "{f:?} SYN flood: {SYNS} spoofed SYNs sent in {:.2} s, {seen} reached tunstack, \
         {} SYN cookies sent, {} cookie ACKs accepted, {} overflowed; connections now {}; peak RSS {} KiB before, {} KiB after (+{} KiB), current {} KiB",
        flood_time.as_secs_f64(),
        after.tcp_syncookies_sent - before.tcp_syncookies_sent,
        after.tcp_syncookies_recv - before.tcp_syncookies_recv,
        after.tcp_listen_overflow - before.tcp_listen_overflow,
        stack.connection_count(),
        peak_before,
        peak_after,
        peak_after.saturating_sub(peak_before),
        now_rss
    );
    assert!(seen > 1000, "the flood reached the stack: {seen}");
    assert!(
        after.tcp_syncookies_sent - before.tcp_syncookies_sent > 0,
        "a full SYN queue answers with cookies: {:?}",
        after.counters()
    );
    assert!(
        stack.connection_count() <= cap,
        "{f:?}: the table stays at the backlog caps: {} > {cap}",
        stack.connection_count()
    );
    assert!(
        peak_after.saturating_sub(peak_before) < 16 * 1024,
        "{f:?}: memory bounded: peak RSS grew by {} KiB",
        peak_after - peak_before
    );
}
