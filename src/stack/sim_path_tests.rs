//! Deterministic simulation of a long fat path: a 1 Gbit/s bottleneck with
//! a queue of one bandwidth-delay product and 50 ms of round-trip delay,
//! in virtual time. A bulk download over it must open the receive window
//! (autotuned from 128 KiB) past the path's BDP and keep the bottleneck at
//! least 90% busy once the connection is up to speed.

use super::tests::VecDevice;
use super::*;
use crate::device::{FaultInjector, Faults};
use crate::time::Duration;
use std::net::SocketAddrV4;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

struct Side {
    iface: Interface,
    dev: FaultInjector<VecDevice>,
}

/// Two interfaces joined by injectors that each shape one direction.
struct Path {
    client: Side,
    server: Side,
    now: Instant,
}

impl Path {
    fn new(tcp: &tcp::Config, to_server: Faults, to_client: Faults) -> Path {
        let side = |addr, secret, faults, seed| Side {
            iface: Interface::new(Config {
                addr,
                tcp: tcp.clone(),
                secret,
                ..Config::default()
            }),
            dev: FaultInjector::new(VecDevice::default(), faults, seed),
        };
        Path {
            client: side(CLIENT, [5, 1], to_server, 11),
            server: side(SERVER, [5, 2], to_client, 12),
            now: Instant::ZERO,
        }
    }

    /// Polls both sides at `now` and carries what they sent across.
    fn step(&mut self) {
        for s in [&mut self.client, &mut self.server] {
            s.dev.release(self.now);
            s.iface.poll(self.now, &mut s.dev);
        }
        let up = std::mem::take(&mut self.client.dev.inner_mut().tx);
        let down = std::mem::take(&mut self.server.dev.inner_mut().tx);
        self.server.dev.inner_mut().rx.extend(up);
        self.client.dev.inner_mut().rx.extend(down);
    }

    /// Jumps to the next event, unless packets wait to be read.
    fn advance(&mut self) {
        if !self.client.dev.inner_mut().rx.is_empty() || !self.server.dev.inner_mut().rx.is_empty()
        {
            return;
        }
        let next = [
            self.client.iface.poll_at(),
            self.server.iface.poll_at(),
            self.client.dev.next_release(),
            self.server.dev.next_release(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = next {
            self.now = self.now.max(t);
        }
    }
}

/// The byte at offset `i` of the download (a 64 KiB period).
fn byte_at(i: u64) -> u8 {
    let i = i % 65536;
    (i as u8).wrapping_mul(31).wrapping_add((i >> 12) as u8)
}

/// What a download measured.
#[derive(Debug)]
struct Download {
    /// Largest window the receiver advertised (bytes).
    max_window: u32,
    /// Receive buffer capacity at the end.
    recv_buffer: usize,
    /// Send buffer capacity at the end.
    send_buffer: usize,
    /// Bytes delivered per virtual second from `from` to the end.
    steady_goodput: f64,
    /// Bytes delivered per virtual second over the whole transfer.
    goodput: f64,
    /// Packets the bottleneck dropped.
    bottleneck_drops: u64,
}

/// Downloads `n` bytes from the server to the client, reading everything
/// as soon as it arrives; goodput is also measured from `from` (virtual
/// time) to the end.
fn download(path: &mut Path, n: u64, from: Duration) -> Download {
    path.server.iface.tcp_listen(80).unwrap();
    let c = path
        .client
        .iface
        .tcp_connect(path.now, SocketAddrV4::new(SERVER, 80))
        .unwrap();
    let mut s = None;
    let chunk: Vec<u8> = (0..65536).map(byte_at).collect();
    let (mut sent, mut got) = (0u64, 0u64);
    let mut at_from = None;
    let mut max_window = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut rounds = 0u64;
    while got < n {
        rounds += 1;
        assert!(rounds < 20_000_000, "livelock at {:?}", path.now);
        assert!(
            path.now < Instant::from_secs(60),
            "download stalled: {got} of {n} bytes"
        );
        if s.is_none() {
            s = path.server.iface.tcp_accept(80).unwrap();
        }
        if let Some(t) = s.and_then(|h| path.server.iface.tcp_mut(h)) {
            // The pattern repeats every 64 KiB when the offset is aligned.
            while sent < n {
                let off = (sent % 65536) as usize;
                let want = (n - sent).min((65536 - off) as u64) as usize;
                match t.send(&chunk[off..off + want]) {
                    Ok(k) if k > 0 => sent += k as u64,
                    _ => break,
                }
            }
        }
        let t = path.client.iface.tcp_mut(c).unwrap();
        while let Ok(k) = t.recv(&mut buf) {
            if k == 0 {
                break;
            }
            let mut at = 0;
            while at < k {
                let off = ((got + at as u64) % 65536) as usize;
                let m = (k - at).min(65536 - off);
                assert!(
                    buf[at..at + m] == chunk[off..off + m],
                    "bytes {}..{} differ",
                    got + at as u64,
                    got + (at + m) as u64
                );
                at += m;
            }
            got += k as u64;
        }
        max_window = max_window.max(t.recv_window());
        if at_from.is_none() && path.now >= Instant::ZERO + from {
            at_from = Some((path.now, got));
        }
        path.step();
        path.advance();
    }
    let end = path.now;
    let (t0, got0) = at_from.expect("the transfer outlasts the warm-up");
    let rate = |bytes: u64, since: Instant| bytes as f64 / (end - since).as_secs_f64();
    let client = path.client.iface.tcp(c).unwrap();
    let server = s.and_then(|h| path.server.iface.tcp(h)).unwrap();
    Download {
        max_window,
        recv_buffer: client.recv_buffer(),
        send_buffer: server.send_buffer(),
        steady_goodput: rate(n - got0, t0),
        goodput: rate(n, Instant::ZERO),
        bottleneck_drops: path.server.dev.stats().queue_dropped,
    }
}

#[test]
fn simulation_long_fat_path_window_grows_past_the_bdp_and_fills_the_bottleneck() {
    const RATE: u64 = 1_000_000_000;
    let one_way = Duration::from_millis(25);
    let bdp = (RATE / 8) as usize / 20; // 50 ms: 6.25 MB
                                        // Linux's default maxima (6 MiB receive, 4 MiB send) are below what
                                        // this path needs, as on Linux: raised like tcp_rmem / tcp_wmem, to a
                                        // receive maximum that the bottleneck queue can absorb without loss.
    let tcp = tcp::Config {
        recv_buffer_max: 10 << 20,
        send_buffer_max: 32 << 20,
        ..Config::default().tcp
    };
    let mut path = Path::new(
        &tcp,
        Faults {
            delay: one_way,
            ..Faults::default()
        },
        Faults {
            delay: one_way,
            rate_bps: RATE,
            queue_bytes: bdp,
            ..Faults::default()
        },
    );
    let d = download(&mut path, 160 << 20, Duration::from_secs(1));
    eprintln!(
        "1 Gbit/s, 50 ms RTT, BDP {bdp} B: window reached {} B (receive buffer {} B, send \
         buffer {} B); goodput {:.1} Mbit/s after the first second, {:.1} Mbit/s overall; \
         {} bottleneck drops",
        d.max_window,
        d.recv_buffer,
        d.send_buffer,
        d.steady_goodput * 8.0 / 1e6,
        d.goodput * 8.0 / 1e6,
        d.bottleneck_drops
    );
    assert!(
        d.max_window as usize > bdp,
        "the window grows past the BDP: {d:?}"
    );
    assert!(
        d.steady_goodput * 8.0 >= 0.9 * RATE as f64,
        "goodput at least 90% of the bottleneck: {d:?}"
    );
}
