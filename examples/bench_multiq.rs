//! Parallel bulk transfers for `scripts/bench.sh`: tunstack on a `tun0`
//! with N queues (`Config::queues`, one driver thread each), the kernel's
//! TCP as the peer in the same namespace, `--conns` connections at once.
//! The multiqueue rows compare 2 queues with 1 queue, same test, same run.
//!
//! ```text
//! bench_multiq send [--queues N] [--conns N] [--mtu N] [--mib N] [--offload 0|1]   tunstack writes, kernel sockets read
//! bench_multiq recv [--queues N] [--conns N] [--mtu N] [--mib N] [--offload 0|1]   tunstack connects, kernel sockets write, tunstack reads
//! ```
//!
//! `--offload 1` opens every queue with virtio-net headers (TSO and
//! checksum offload both ways, up to 64 KiB per system call).
//!
//! `--mib` is per connection. The clock starts before the first connect
//! and stops when every byte of every connection was delivered (the
//! receiver saw EOF); the result is the aggregate goodput. The last line
//! is `result: VALUE Gbit/s (...)`, which the script parses.

#[path = "common/bench.rs"]
mod bench;

use bench::{bulk_send, sink, value, KERNEL, PORT, US};
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;
use tunstack::device::TunConfig;
use tunstack::net::Config;

struct Args {
    test: String,
    queues: usize,
    conns: usize,
    mtu: usize,
    mib: u64,
    offload: bool,
}

const USAGE: &str = "usage: bench_multiq send|recv [--queues N] [--conns N] [--mtu N] \
     [--mib N (per connection)] [--offload 0|1]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let test = it.next().ok_or(USAGE)?;
    let mut a = Args {
        test,
        queues: 1,
        conns: 2,
        mtu: 1500,
        mib: 256,
        offload: false,
    };
    for (flag, v) in bench::flags(it)? {
        let f = flag.as_str();
        match f {
            "--queues" => a.queues = value(f, &v)?,
            "--conns" => a.conns = value(f, &v)?,
            "--mtu" => a.mtu = value(f, &v)?,
            "--mib" => a.mib = value(f, &v)?,
            "--offload" => a.offload = value::<u8>(f, &v)? != 0,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if a.conns == 0 {
        return Err("--conns must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    let a = bench::args_or_exit("bench_multiq", parse_args());
    bench::exit_on_error(&format!("bench_multiq {}", a.test), run(&a));
}

fn run(a: &Args) -> io::Result<()> {
    let mut cfg = Config {
        addr: US,
        queues: a.queues,
        ..Config::default()
    };
    cfg.tcp.mss = u16::try_from(a.mtu.saturating_sub(40)).unwrap_or(u16::MAX);
    cfg.tcp.send_buffer = 1 << 20;
    cfg.tcp.recv_buffer = 1 << 20;
    let tun = TunConfig {
        mtu: a.mtu,
        offload: a.offload,
        ..TunConfig::default()
    };
    let stack = Arc::new(tunstack::Stack::open_tun(&tun, cfg)?);
    let bytes = a.mib << 20;
    let n = a.conns;
    let t0 = match a.test.as_str() {
        "send" => send(&stack, bytes, n)?,
        "recv" => recv(&stack, bytes, n)?,
        t => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown test {t}\n{USAGE}"),
            ))
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let total = bytes * n as u64;
    let per: Vec<String> = stack
        .queue_stats()
        .iter()
        .map(|s| {
            format!(
                "{} ({} B each, {} TSO out)",
                s.rx_packets,
                s.rx_bytes / s.rx_packets.max(1),
                s.tcp_tso_out
            )
        })
        .collect();
    println!(
        "{n} connections, {} MiB each, {} queue(s){}, packets read per queue: {}",
        a.mib,
        a.queues,
        if a.offload { " with offloads" } else { "" },
        per.join(" / ")
    );
    println!(
        "result: {:.3} Gbit/s ({} MiB in {secs:.3} s)",
        total as f64 * 8.0 / secs / 1e9,
        total >> 20
    );
    Ok(())
}

/// `n` tunstack connections each send `bytes` into kernel sinks; returns
/// when the sends started.
fn send(stack: &Arc<tunstack::Stack>, bytes: u64, n: usize) -> io::Result<Instant> {
    let l = std::net::TcpListener::bind((KERNEL, PORT))?;
    let sinks = std::thread::spawn(move || -> io::Result<Vec<u64>> {
        let mut t = Vec::new();
        for _ in 0..n {
            let (s, _) = l.accept()?;
            t.push(std::thread::spawn(move || -> io::Result<u64> {
                let got = sink(&s)?;
                s.shutdown(Shutdown::Write)?;
                Ok(got)
            }));
        }
        t.into_iter()
            .map(|h| h.join().expect("kernel sink"))
            .collect()
    });
    let t0 = Instant::now();
    let senders: Vec<_> = (0..n)
        .map(|_| {
            let stack = Arc::clone(stack);
            std::thread::spawn(move || -> io::Result<()> {
                let s = tunstack::TcpStream::connect(&stack, (KERNEL, PORT))?;
                bulk_send(&s, bytes)?;
                s.shutdown(Shutdown::Write)?;
                sink(&s).map(|_| ())
            })
        })
        .collect();
    for h in senders {
        h.join().expect("sender")?;
    }
    let got = sinks.join().expect("kernel sinks")?;
    if got.iter().any(|g| *g != bytes) {
        return Err(io::Error::other(format!("the kernel got {got:?} bytes")));
    }
    Ok(t0)
}

/// `n` tunstack connections each receive `bytes` from kernel senders;
/// returns when the receives started.
fn recv(stack: &Arc<tunstack::Stack>, bytes: u64, n: usize) -> io::Result<Instant> {
    // tunstack connects (as `tunstack get` does) and the kernel
    // sends: each connection is on the queue of the shard that
    // opened it, round robin.
    let l = std::net::TcpListener::bind((KERNEL, PORT))?;
    let sources = std::thread::spawn(move || -> io::Result<()> {
        let mut t = Vec::new();
        for _ in 0..n {
            let (s, _) = l.accept()?;
            t.push(std::thread::spawn(move || -> io::Result<()> {
                bulk_send(&s, bytes)?;
                s.shutdown(Shutdown::Write)?;
                sink(&s).map(|_| ())
            }));
        }
        t.into_iter()
            .try_for_each(|h| h.join().expect("kernel source"))
    });
    let t0 = Instant::now();
    let readers: Vec<_> = (0..n)
        .map(|_| {
            let stack = Arc::clone(stack);
            std::thread::spawn(move || -> io::Result<u64> {
                let s = tunstack::TcpStream::connect(&stack, (KERNEL, PORT))?;
                let got = sink(&s)?;
                s.shutdown(Shutdown::Write)?;
                Ok(got)
            })
        })
        .collect();
    let got: Vec<u64> = readers
        .into_iter()
        .map(|h| h.join().expect("reader"))
        .collect::<io::Result<_>>()?;
    sources.join().expect("kernel sources")?;
    if got.iter().any(|g| *g != bytes) {
        return Err(io::Error::other(format!("tunstack got {got:?} bytes")));
    }
    Ok(t0)
}
