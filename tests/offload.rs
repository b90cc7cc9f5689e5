//! The offload device (`TunConfig { offload: true, .. }`: virtio-net
//! headers, checksum offload and TSO both ways) against Linux's own TCP
//! and UDP in a private namespace: 64 MiB each way with TSO really used
//! in both directions, UDP with checksums the kernel may leave partial,
//! (in-order payload read copy-once into the receive buffer, over both
//! families), and `tunstack get` downloading 20 MiB, once on the offload device
//! (its default) and once on a plain TUN (`--no-offload`). Each test runs
//! over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`; TCPv6 segmentation is
//! virtio-net's `GSO_TCPV6`).

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::device::{Offload, TunConfig};
use tunstack::net::Config;
use tunstack::stack::Stats;
use tunstack::{Stack, TcpStream, UdpSocket};

const MTU: u64 = 1500;

/// A namespace with a stack on tun0 opened with offloads (the
/// virtio-net-header device: no fallback to a plain TUN here).
fn offload_netns() -> Stack {
    enter_netns();
    let tun = TunConfig {
        offload: true,
        ..TunConfig::default()
    };
    let stack = Stack::open_tun(&tun, Config::default()).expect("open tun0 with offloads");
    assert_eq!(
        stack.offload(),
        Offload {
            tso: true,
            rx_checksum: true
        },
        "the offload device offers TSO and checksum offload"
    );
    stack
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Longest a connect, read or write may block before the test fails
/// (instead of hanging when something regresses).
const STALL: Duration = Duration::from_secs(15);

/// A tunstack connection to the kernel at `port` over `f`, with
/// [`STALL`] timeouts.
fn connect(stack: &Stack, f: Family, port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(stack, &f.kernel_at(port), Duration::from_secs(5))
        .expect("connect");
    s.set_read_timeout(Some(STALL)).unwrap();
    s.set_write_timeout(Some(STALL)).unwrap();
    s
}

/// Accepts one connection on `l`, with [`STALL`] timeouts.
fn kernel_accept(l: &std::net::TcpListener) -> std::net::TcpStream {
    let (s, _) = l.accept().expect("kernel accept");
    s.set_read_timeout(Some(STALL)).unwrap();
    s.set_write_timeout(Some(STALL)).unwrap();
    s
}

/// Reads `r` to its end, returning the byte count and SHA-256.
fn drain_hashed(mut r: impl Read) -> (usize, String) {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0;
    loop {
        let k = r.read(&mut buf).expect("read");
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k;
    }
    (n, hex(h.finalize()))
}

fn tso_moves_64_mebibytes_each_way_with_the_kernel(f: Family) {
    let stack = offload_netns();
    const LEN: usize = 64 << 20;
    let data = Arc::new(random_bytes(LEN, 64));
    let digest = sha256(&data);

    // tunstack → kernel.
    let listener = std::net::TcpListener::bind(f.kernel_at(9000)).expect("kernel bind");
    let sink = std::thread::spawn(move || {
        let s = kernel_accept(&listener);
        let got = drain_hashed(&s);
        s.shutdown(Shutdown::Write).expect("kernel shutdown");
        got
    });
    let before = stack.stats();
    let start = Instant::now();
    let mut s = connect(&stack, f, 9000);
    s.write_all(&data).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(s.read(&mut [0u8; 1]).expect("read EOF"), 0);
    let (n, got) = sink.join().expect("kernel sink");
    let send_secs = start.elapsed().as_secs_f64();
    assert_eq!(n, LEN);
    assert_eq!(got, digest, "kernel received different bytes");
    let tx = stack.stats();
    drop(s);
    let tso_out = tx.tcp_tso_out - before.tcp_tso_out;
    let tx_packets = tx.tx_packets - before.tx_packets;
    let tx_bytes = tx.tx_bytes - before.tx_bytes;
    eprintln!(
        "{f:?} send: {:.1} MiB/s, {tso_out} TSO of {tx_packets} packets, {} bytes each on average",
        64.0 / send_secs,
        tx_bytes / tx_packets
    );
    assert!(tso_out > 0, "no TSO segment was sent");
    assert!(
        tx_bytes / tx_packets > MTU,
        "packets written were no larger than the MTU on average"
    );
    assert_eq!(tx.tx_errors, 0);

    // kernel → tunstack.
    let listener = std::net::TcpListener::bind(f.kernel_at(9001)).expect("kernel bind");
    let source = {
        let data = Arc::clone(&data);
        std::thread::spawn(move || {
            let mut s = kernel_accept(&listener);
            s.write_all(&data).expect("kernel write");
            s.shutdown(Shutdown::Write).expect("kernel shutdown");
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).expect("kernel read");
            rest.len()
        })
    };
    let before = stack.stats();
    let start = Instant::now();
    let s = connect(&stack, f, 9001);
    let (n, got) = drain_hashed(&s);
    let recv_secs = start.elapsed().as_secs_f64();
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(source.join().expect("kernel source"), 0);
    assert_eq!(n, LEN);
    assert_eq!(got, digest, "tunstack received different bytes");
    let rx = stack.stats();
    let rx_packets = rx.rx_packets - before.rx_packets;
    let rx_bytes = rx.rx_bytes - before.rx_bytes;
    let direct = rx.rx_direct - before.rx_direct;
    let posted = rx.rx_posted - before.rx_posted;
    eprintln!(
        "{f:?} recv: {:.1} MiB/s, {rx_packets} packets, {} bytes each on average, \
         {direct} read copy-once ({posted} into the reader's buffer)",
        64.0 / recv_secs,
        rx_bytes / rx_packets
    );
    // Copy-once receive works over both families: in-order payload is
    // read straight into the connection's buffer or the reader's.
    assert!(
        direct * 2 > rx_packets,
        "{f:?}: {direct} of {rx_packets} packets read copy-once"
    );
    assert!(
        rx_bytes / rx_packets > MTU,
        "the kernel sent no batches larger than the MTU ({rx_bytes} bytes in {rx_packets} packets)"
    );
    assert_eq!(rx.tcp_bad_checksum, 0);
    assert_eq!(rx.rx_errors, 0);
    drop(s);
    assert!(stack.shutdown(Duration::from_secs(5)), "clean close");
}

fn udp_works_both_ways_over_the_offload_device(f: Family) {
    let stack = offload_netns();
    let ours = UdpSocket::bind(&stack, f.any(5000)).expect("bind");
    ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let kernel = std::net::UdpSocket::bind(f.kernel_at(6000)).expect("kernel bind");
    kernel
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let to_us = f.us_at(5000);
    let mut buf = vec![0u8; 2048];
    let mut kbuf = vec![0u8; 2048];
    // The largest payload of one 1500-byte packet: 1472 bytes over IPv4,
    // 1452 over IPv6.
    let max = MTU as usize - f.ip_header_len() - 8;
    for (i, len) in [0usize, 1, 7, 512, 1000, max - 1, max]
        .into_iter()
        .enumerate()
    {
        let msg = random_bytes(len, 100 + i as u64);
        // Kernel → tunstack: the kernel may leave the checksum partial.
        assert_eq!(kernel.send_to(&msg, to_us).expect("kernel send"), len);
        let (n, from) = ours.recv_from(&mut buf).expect("datagram from the kernel");
        assert_eq!(from, f.kernel_at(6000));
        assert_eq!(&buf[..n], &msg[..], "payload of {len}");
        // tunstack → kernel: our full checksum must satisfy the kernel.
        let reply: Vec<u8> = msg.iter().rev().map(|b| b ^ 0xa5).collect();
        assert_eq!(ours.send_to(&reply, from).expect("send"), len);
        let (n, from) = kernel
            .recv_from(&mut kbuf)
            .expect("datagram from tunstack (dropped by the kernel on a bad checksum?)");
        assert_eq!(from, to_us);
        assert_eq!(&kbuf[..n], &reply[..], "reply of {len}");
    }
    let s = stack.stats();
    assert_eq!(s.udp_delivered, 7);
    assert_eq!(s.udp_sent, 7);
    assert_eq!(s.udp_malformed, 0);
    // The kernel's UDP counters: nothing dropped for a bad checksum.
    let get = kernel_udp_counters(f);
    assert_eq!(get("InCsumErrors"), 0);
    assert_eq!(get("InErrors"), 0);
    assert!(get("InDatagrams") >= 7);
}

/// The kernel's UDP counter of `f` by its short name (`InErrors`): from
/// snmp (`Udp:` rows) or snmp6 (`Udp6InErrors`) of this thread's
/// namespace (`/proc/net` is the process's, the host's here).
fn kernel_udp_counters(f: Family) -> impl Fn(&str) -> u64 {
    let all: HashMap<String, u64> = match f {
        Family::V4 => {
            let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").expect("snmp");
            let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
            udp[0]
                .split_whitespace()
                .zip(udp[1].split_whitespace())
                .skip(1)
                .map(|(k, v)| (k.to_string(), v.parse().expect("number")))
                .collect()
        }
        Family::V6 => std::fs::read_to_string("/proc/thread-self/net/snmp6")
            .expect("snmp6")
            .lines()
            .filter_map(|l| {
                let mut kv = l.split_whitespace();
                let k = kv.next()?.strip_prefix("Udp6")?;
                Some((k.to_string(), kv.next()?.parse().ok()?))
            })
            .collect(),
    };
    move |k: &str| *all.get(k).unwrap_or_else(|| panic!("no UDP counter {k}"))
}

/// A one-file HTTP/1.1 server on the wildcard address of `f` (10.0.0.1
/// and fd00::1 exist only while tunstack holds tun0): answers `count`
/// requests with `body`.
fn serve_file(
    f: Family,
    port: u16,
    body: Arc<Vec<u8>>,
    count: usize,
) -> std::thread::JoinHandle<()> {
    let listener = std::net::TcpListener::bind(f.any(port)).expect("server bind");
    std::thread::spawn(move || {
        for _ in 0..count {
            let mut s = kernel_accept(&listener);
            let req = read_request_head(&mut s);
            assert!(req.starts_with(b"GET /file "), "{req:?}");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).expect("head");
            s.write_all(&body).expect("body");
            let _ = s.shutdown(Shutdown::Write);
        }
    })
}

/// The `--stats` counters of the stack ("stack:" section) as name → value.
/// `--stats` prints only the counters that are not zero, so every known
/// counter is filled in with 0 first; a printed name that the library does
/// not know (the format changed) fails the test.
fn stack_counters(stderr: &str) -> HashMap<String, u64> {
    let mut all: HashMap<String, u64> = Stats::default()
        .counters()
        .into_iter()
        .map(|(name, v)| (name.to_string(), v))
        .collect();
    let printed: Vec<(String, u64)> = stderr
        .lines()
        .skip_while(|l| l.trim() != "stack:")
        .skip(1)
        .map_while(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect();
    assert!(!printed.is_empty(), "no stack counters in:\n{stderr}");
    for (name, v) in printed {
        let slot = all
            .get_mut(&name)
            .unwrap_or_else(|| panic!("unknown counter {name} in:\n{stderr}"));
        *slot = v;
    }
    all
}

/// Runs `tunstack get -v --stats EXTRA… URL` against a one-file server
/// over `f` with 20 MiB of random bytes; checks the download byte for byte
/// and returns the stack counters and stderr.
fn get_20_mebibytes(f: Family, extra: &[&str]) -> (HashMap<String, u64>, String) {
    let data = Arc::new(random_bytes(20 << 20, 20));
    let digest = sha256(&data);
    let dir = TempDir::new("get-offload");
    let server = serve_file(f, 8081, Arc::clone(&data), 1);
    let file = dir.path().join("out");
    let mut args = vec!["get", "-v", "--stats", "-o", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let url = format!("{}/file", f.kernel_url(8081));
    args.push(&url);
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(&args)
        .output()
        .expect("run tunstack");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    server.join().expect("server");
    let got = std::fs::read(&file).expect("downloaded file");
    assert_eq!(got.len(), data.len(), "{args:?}");
    assert_eq!(sha256(&got), digest, "{args:?}: different bytes");
    let c = stack_counters(&err);
    eprintln!(
        "{args:?}: {:.2} s, {} packets in, {} bytes each on average",
        start.elapsed().as_secs_f64(),
        c["rx_packets"],
        c["rx_bytes"] / c["rx_packets"].max(1)
    );
    (c, err)
}

/// Without flags `tunstack get` opens the offload device, and the kernel's
/// TSO batches arrive whole (average read larger than the MTU) with their
/// checksums left partial, which must not be counted as bad.
fn tunstack_get_opens_the_offload_device_by_default(f: Family) {
    enter_netns();
    let (c, err) = get_20_mebibytes(f, &[]);
    assert!(
        err.contains("tun0: virtio-net offloads on"),
        "the default is the offload device:\n{err}"
    );
    let average = c["rx_bytes"] / c["rx_packets"];
    assert!(
        average > MTU,
        "with offload the kernel's batches arrive whole (average {average} bytes)"
    );
    assert_eq!(c["tcp_bad_checksum"], 0, "{err}");
    assert_eq!(c["rx_errors"], 0, "{err}");
}

/// `--no-offload` opens a plain TUN: one packet of at most the MTU per read.
fn tunstack_get_no_offload_opens_a_plain_tun(f: Family) {
    enter_netns();
    let (c, err) = get_20_mebibytes(f, &["--no-offload"]);
    assert!(
        err.contains("tun0: plain TUN"),
        "--no-offload opens a plain TUN:\n{err}"
    );
    let average = c["rx_bytes"] / c["rx_packets"];
    assert!(average <= MTU, "--no-offload: average {average} bytes");
    assert_eq!(c["tcp_bad_checksum"], 0, "{err}");
    assert_eq!(c["rx_errors"], 0, "{err}");
}

per_family!(
    tso_moves_64_mebibytes_each_way_with_the_kernel,
    udp_works_both_ways_over_the_offload_device,
    tunstack_get_opens_the_offload_device_by_default,
    tunstack_get_no_offload_opens_a_plain_tun,
);
