//! What the benchmark programs of `scripts/bench.sh` share (included by
//! each with `#[path = "common/bench.rs"] mod bench;`): the addresses on
//! tun0, the `--flag value` parsing, how they exit on errors, the bulk
//! and echo ends over any blocking stream, the kernel bulk client, and
//! the `result:` lines the script parses.

// Each program uses its own part.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The kernel's address on tun0.
pub const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The stack's address on tun0.
pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The kernel's IPv6 address on tun0.
pub const KERNEL6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// The stack's IPv6 address on tun0.
pub const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// The port the tests connect to.
pub const PORT: u16 = 5001;

/// The `--flag value` pairs left in `args`, each flag with its value.
///
/// # Errors
/// A flag without a value.
pub fn flags(args: impl Iterator<Item = String>) -> Result<Vec<(String, String)>, String> {
    let mut it = args;
    let mut out = Vec::new();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        out.push((flag, v));
    }
    Ok(out)
}

/// `v`, the value of `flag`, parsed.
///
/// # Errors
/// "bad value for FLAG: V".
pub fn value<T: FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("bad value for {flag}: {v}"))
}

/// The parsed arguments, or `name: error` on stderr and exit status 2
/// (usage).
pub fn args_or_exit<A>(name: &str, parsed: Result<A, String>) -> A {
    parsed.unwrap_or_else(|e| {
        eprintln!("{name}: {e}");
        std::process::exit(2);
    })
}

/// `what: error` on stderr and exit status 1 when the run failed.
pub fn exit_on_error(what: &str, r: io::Result<()>) {
    if let Err(e) = r {
        eprintln!("{what}: {e}");
        std::process::exit(1);
    }
}

/// The address `--bind` / `--to` gave.
///
/// # Errors
/// `InvalidInput` when there was none.
pub fn need_addr(addr: Option<SocketAddr>) -> io::Result<SocketAddr> {
    addr.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "--bind / --to IP:PORT is required",
        )
    })
}

/// Bulk client: writes `bytes`; the caller then shuts down writing and
/// waits for the peer's EOF, so its clock covers every byte delivered.
pub fn bulk_send(mut s: impl Write, bytes: u64) -> io::Result<()> {
    let chunk = vec![0x5au8; 256 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    s.flush()
}

/// Bulk server: reads to EOF; returns the byte count.
pub fn sink(mut s: impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Echo server: returns every byte until EOF.
pub fn echo(mut s: impl Read + Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(()),
            n => s.write_all(&buf[..n])?,
        }
    }
}

/// A kernel connection to `to`, retried for 10 s while the server starts.
pub fn connect_retry(to: SocketAddr) -> io::Result<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(to) {
            Ok(s) => return Ok(s),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e),
        }
    }
}

/// Request/response client: `count` one-byte round trips after 100 for
/// warm-up. Returns the seconds the counted ones took.
pub fn rr_client(mut s: impl Read + Write, count: u64) -> io::Result<f64> {
    let mut b = [0u8; 1];
    let mut t0 = Instant::now();
    for i in 0..count + 100 {
        if i == 100 {
            t0 = Instant::now();
        }
        s.write_all(b"x")?;
        s.read_exact(&mut b)?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Kernel bulk client: connects (retrying while the server starts),
/// writes `bytes`, shuts down writing and waits for the server's EOF.
/// Returns the seconds from connected to EOF.
pub fn kernel_bulk_client(to: SocketAddr, bytes: u64) -> io::Result<f64> {
    let s = connect_retry(to)?;
    let t0 = Instant::now();
    bulk_send(&s, bytes)?;
    s.shutdown(Shutdown::Write)?;
    let mut b = [0u8; 1];
    while (&s).read(&mut b)? > 0 {}
    Ok(t0.elapsed().as_secs_f64())
}

/// The bulk result: `what: N MiB in S s`, then `result: G Gbit/s`.
pub fn print_bulk(what: &str, bytes: u64, secs: f64) {
    println!("{what}: {} MiB in {secs:.3} s", bytes >> 20);
    println!("result: {:.3} Gbit/s", bytes as f64 * 8.0 / secs / 1e9);
}

/// A rate result: `what: N in S s`, then `result: R UNIT (T µs each)`.
pub fn print_rate(what: &str, count: u64, secs: f64, unit: &str) {
    println!("{what}: {count} in {secs:.3} s");
    println!(
        "result: {:.0} {unit} ({:.1} µs each)",
        count as f64 / secs,
        secs * 1e6 / count as f64
    );
}

/// This process's resident set, in KiB (0 if unknown).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds this process has used (every thread).
pub fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the live rusage it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    // SAFETY: zero-initialised, then filled by getrusage.
    let u = unsafe { u.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
