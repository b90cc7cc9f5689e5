//! The raw TUN ceiling: how fast one thread can move packets through
//! `tun0` with nothing but `read(2)` and `write(2)`, no TCP at all. Part of
//! `scripts/bench.sh`; needs root and a network namespace of its own:
//!
//! ```sh
//! sudo ip netns add t && sudo ip netns exec t ip link set lo up
//! sudo ip netns exec t target/release/examples/bench_rawtun read --mtu 1500 --secs 2
//! sudo ip netns exec t target/release/examples/bench_rawtun write --mtu 1500 --secs 2
//! sudo ip netns exec t target/release/examples/bench_rawtun echo --count 20000
//! sudo ip netns del t
//! ```
//!
//! - `read`: a thread floods UDP datagrams of MTU size from the kernel to
//!   10.0.0.2 (routed into `tun0`); the main thread reads them in a
//!   non-blocking loop that spins on EAGAIN (no sleeps, no wake-ups).
//!   Reports what the reader got, in packets per second and Gbit/s of
//!   whole IP packets, and how many the kernel sent (the TUN queue drops
//!   what the reader does not take in time). The sender uses UDP GSO, so
//!   the kernel segments 64 KiB sends as it segments TCP: the reader, not
//!   the sender, is the limit.
//! - `write`: the main thread writes pre-built UDP packets of MTU size to
//!   10.0.0.1 into `tun0`; a kernel UDP socket is bound there and never
//!   read, so the kernel takes each packet through IP and UDP and drops it
//!   at the full socket. Reports the write rate and what the kernel counted.
//! - `echo`: a kernel UDP socket sends one byte to 10.0.0.2 and waits for
//!   the answer, `--count` times; the main thread reads each packet from
//!   `tun0`, swaps addresses and ports (the checksums stay valid) and
//!   writes it back. Reports round trips per second: the floor under any
//!   request/response over TUN.
//!
//! The last line is `result: VALUE UNIT (...)`, which the script parses.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::device::{Device, TunConfig, TunDevice};
use tunstack::wire::{Ipv4Repr, UdpDatagram, IPV4_HEADER_LEN, PROTO_UDP, UDP_HEADER_LEN};

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Args {
    mode: String,
    mtu: usize,
    secs: f64,
    count: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: bench_rawtun read|write|echo [--mtu N] [--secs S] [--count N]")?;
    let mut a = Args {
        mode,
        mtu: 1500,
        secs: 2.0,
        count: 20_000,
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--mtu" => a.mtu = v.parse().map_err(|_| bad())?,
            "--secs" => a.secs = v.parse().map_err(|_| bad())?,
            "--count" => a.count = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_rawtun: {e}");
            std::process::exit(2);
        }
    };
    let r = match args.mode.as_str() {
        "read" => read(&args),
        "write" => write(&args),
        "echo" => echo(&args),
        m => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown mode {m}"),
        )),
    };
    if let Err(e) = r {
        eprintln!("bench_rawtun {}: {e}", args.mode);
        std::process::exit(1);
    }
}

/// Opens and configures tun0; its fd blocks unless `spin`, in which case
/// reads spin on EAGAIN.
fn open(mtu: usize, spin: bool) -> io::Result<(TunDevice, RawFd)> {
    let dev = TunDevice::open(&TunConfig {
        mtu,
        ..TunConfig::default()
    })?;
    let fd = dev.as_raw_fd().expect("a TUN device has an fd");
    // SAFETY: fcntl on an fd we own, with plain integer flags.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        let fl = if spin {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((dev, fd))
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        // A non-blocking fd spins on EAGAIN: no sleep, no wake-up.
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock {
            return Err(e);
        }
    }
}

fn write_fd(fd: RawFd, pkt: &[u8]) -> io::Result<usize> {
    // SAFETY: pkt is valid for reads of pkt.len() bytes.
    let n = unsafe { libc::write(fd, pkt.as_ptr().cast(), pkt.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn gbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs / 1e9
}

fn read(a: &Args) -> io::Result<()> {
    // The reader spins on its own core: no sleeps, no wake-ups, the most a
    // reader can take from the kernel.
    let (_dev, fd) = open(a.mtu, true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let blaster = {
        let stop = Arc::clone(&stop);
        let seg = a.mtu - IPV4_HEADER_LEN - UDP_HEADER_LEN;
        std::thread::spawn(move || -> io::Result<u64> {
            let s = UdpSocket::bind(SocketAddrV4::new(KERNEL, 0))?;
            s.connect(SocketAddrV4::new(US, 9))?;
            // UDP GSO (Linux 4.18): one send of up to 64 KiB leaves as
            // MTU-sized datagrams, segmented in the kernel as TCP's GSO
            // does, so the sender is not the bottleneck.
            let segs = udp_gso(&s, seg);
            let payload = vec![0x5au8; seg * segs];
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // ENOBUFS when the device queue is full: just go on.
                if s.send(&payload).is_ok() {
                    sent += segs as u64;
                }
            }
            Ok(sent)
        })
    };
    let mut buf = vec![0u8; 65536];
    // The first packet starts the clock.
    read_fd(fd, &mut buf)?;
    let t0 = Instant::now();
    let limit = Duration::from_secs_f64(a.secs);
    let (mut packets, mut bytes) = (0u64, 0u64);
    loop {
        let n = read_fd(fd, &mut buf)?;
        packets += 1;
        bytes += n as u64;
        // Checking the clock every packet costs ~20 ns; fine next to a syscall.
        if packets % 64 == 0 && t0.elapsed() >= limit {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let sent = blaster.join().expect("blaster thread")?;
    println!(
        "read: {packets} packets of {} bytes in {secs:.2} s; the kernel sent {sent}",
        a.mtu
    );
    println!(
        "result: {:.3} Gbit/s ({:.0} pps)",
        gbps(bytes, secs),
        packets as f64 / secs
    );
    Ok(())
}

/// Turns on UDP GSO with `seg`-byte segments if more than one fits in a
/// send; returns the datagrams per send.
fn udp_gso(s: &UdpSocket, seg: usize) -> usize {
    /// `UDP_SEGMENT` from linux/udp.h (not exported by libc for glibc).
    const UDP_SEGMENT: libc::c_int = 103;
    // At most 64 segments (older kernels' UDP_MAX_SEGMENTS) and 65507 bytes.
    let segs = (65507 / seg).clamp(1, 64);
    if segs == 1 {
        return 1;
    }
    let size = seg as libc::c_int;
    // SAFETY: valid socket and a pointer to a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        segs
    } else {
        1
    }
}

/// A UDP packet 10.0.0.2:9 → 10.0.0.1:9 of exactly `mtu` bytes.
fn udp_packet(mtu: usize, payload_byte: u8) -> Vec<u8> {
    let payload = vec![payload_byte; mtu - IPV4_HEADER_LEN - UDP_HEADER_LEN];
    let mut pkt = vec![0u8; mtu];
    UdpDatagram {
        src_port: 9,
        dst_port: 9,
        payload: &payload,
    }
    .emit(&mut pkt[IPV4_HEADER_LEN..], US, KERNEL)
    .expect("room for the datagram");
    Ipv4Repr {
        src: US,
        dst: KERNEL,
        protocol: PROTO_UDP,
        ttl: 64,
        payload_len: mtu - IPV4_HEADER_LEN,
    }
    .emit(&mut pkt, 1)
    .expect("room for the header");
    pkt
}

/// `Udp:` counters from /proc/net/snmp (this namespace's).
fn udp_counter(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn write(a: &Args) -> io::Result<()> {
    let (_dev, fd) = open(a.mtu, false)?;
    // The sink: bound, never read; the kernel drops at its full buffer.
    let _sink = UdpSocket::bind(SocketAddrV4::new(KERNEL, 9))?;
    let pkt = udp_packet(a.mtu, 0x5a);
    let k0 = udp_counter("InDatagrams") + udp_counter("RcvbufErrors");
    let t0 = Instant::now();
    let limit = Duration::from_secs_f64(a.secs);
    let mut packets = 0u64;
    loop {
        write_fd(fd, &pkt)?;
        packets += 1;
        if packets % 64 == 0 && t0.elapsed() >= limit {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let kernel = udp_counter("InDatagrams") + udp_counter("RcvbufErrors") - k0;
    println!(
        "write: {packets} packets of {} bytes in {secs:.2} s; the kernel's UDP counted {kernel}",
        a.mtu
    );
    println!(
        "result: {:.3} Gbit/s ({:.0} pps)",
        gbps(packets * a.mtu as u64, secs),
        packets as f64 / secs
    );
    Ok(())
}

fn echo(a: &Args) -> io::Result<()> {
    // Blocking: on 2 cores a spinning echo loop competes with the client.
    let (_dev, fd) = open(a.mtu, false)?;
    let count = a.count;
    let client = std::thread::spawn(move || -> io::Result<f64> {
        let s = UdpSocket::bind(SocketAddrV4::new(KERNEL, 0))?;
        s.connect(SocketAddrV4::new(US, 7))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut b = [0u8; 16];
        let t0 = Instant::now();
        for _ in 0..count {
            s.send(b"x")?;
            s.recv(&mut b)?;
        }
        Ok(t0.elapsed().as_secs_f64())
    });
    let mut buf = vec![0u8; 65536];
    let mut echoed = 0;
    while echoed < count {
        let n = read_fd(fd, &mut buf)?;
        let p = &mut buf[..n];
        // IPv4 without options, UDP: swap addresses and ports. The
        // one's-complement sums do not depend on the order of the words.
        if n < IPV4_HEADER_LEN + UDP_HEADER_LEN || p[0] != 0x45 || p[9] != PROTO_UDP {
            continue;
        }
        let (src, dst) = ([p[12], p[13], p[14], p[15]], [p[16], p[17], p[18], p[19]]);
        p[12..16].copy_from_slice(&dst);
        p[16..20].copy_from_slice(&src);
        let (sp, dp) = ([p[20], p[21]], [p[22], p[23]]);
        p[20..22].copy_from_slice(&dp);
        p[22..24].copy_from_slice(&sp);
        write_fd(fd, p)?;
        echoed += 1;
    }
    let secs = client.join().expect("client thread")?;
    println!("echo: {count} round trips in {secs:.2} s");
    println!(
        "result: {:.0} trans/s ({:.1} µs per round trip)",
        count as f64 / secs,
        secs * 1e6 / count as f64
    );
    Ok(())
}
