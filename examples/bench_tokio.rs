//! Async benchmarks for `scripts/bench.sh` (feature `tokio`): the tests of
//! `bench_tcp` with tunstack's side written for tokio
//! (`tunstack::tokio`), and tokio on both ends of a veth pair. Needs root
//! and a namespace of its own (the script makes them).
//!
//! ```text
//! bench_tokio tun send [--mib N]      tunstack (tokio) writes N MiB, a kernel socket reads them
//! bench_tokio tun rr   [--count N]    a kernel client's 1-byte request/response, tunstack (tokio) echoes
//! bench_tokio tun idle [--conns N]    N async readers parked on idle connections: CPU in 2 s
//!
//! bench_tokio kernel-server sink|echo --bind IP:PORT   tokio over the kernel (serves until killed)
//! bench_tokio kernel-client send|rr --to IP:PORT [--mib N] [--count N]
//! ```
//!
//! tunstack runs on a current-thread runtime (`--workers N`: a multi-thread
//! runtime with N workers), with the same stack
//! configuration as `bench_tcp` (1 MiB socket buffers, MTU 1500). The last
//! line is `result: VALUE UNIT (...)`, which the script parses.

#[path = "common/bench.rs"]
mod bench;

use bench::{cpu_secs, need_addr, print_bulk, value, KERNEL, PORT, US};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunstack::device::TunConfig;
use tunstack::net::Config;

const CHUNK: usize = 64 * 1024;

const USAGE: &str =
    "usage: bench_tokio tun send|rr|idle [--mib N] [--count N] [--conns N] [--workers N]
       bench_tokio kernel-server sink|echo --bind IP:PORT
       bench_tokio kernel-client send|rr --to IP:PORT [--mib N] [--count N]";

struct Args {
    mode: String,
    test: String,
    mib: u64,
    count: u64,
    conns: usize,
    /// 0: a current-thread runtime; else a multi-thread one with this many.
    workers: usize,
    addr: Option<SocketAddr>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (Some(mode), Some(test)) = (it.next(), it.next()) else {
        return Err(USAGE.into());
    };
    let mut a = Args {
        mode,
        test,
        mib: 256,
        count: 10_000,
        conns: 100,
        workers: 0,
        addr: None,
    };
    for (flag, v) in bench::flags(it)? {
        let f = flag.as_str();
        match f {
            "--mib" => a.mib = value(f, &v)?,
            "--count" => a.count = value(f, &v)?,
            "--conns" => a.conns = value(f, &v)?,
            "--workers" => a.workers = value(f, &v)?,
            "--bind" | "--to" => a.addr = Some(v.parse().map_err(|_| format!("bad address {v}"))?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() {
    let r = parse_args().map_err(io::Error::other).and_then(|a| {
        let rt = match a.workers {
            0 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            n => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()?,
        };
        match a.mode.as_str() {
            "tun" => rt.block_on(tun(&a)),
            "kernel-server" => rt.block_on(kernel_server(&a)),
            "kernel-client" => rt.block_on(kernel_client(&a)),
            m => Err(io::Error::other(format!("unknown mode {m}\n{USAGE}"))),
        }
    });
    bench::exit_on_error("bench_tokio", r);
}

/// Writes `bytes`, sends the FIN, waits for the peer's EOF: every byte
/// delivered. Returns the seconds taken.
async fn bulk<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    bytes: u64,
) -> io::Result<f64> {
    let chunk = vec![0x5au8; CHUNK];
    let t0 = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    s.shutdown().await?;
    let mut b = [0u8; 1];
    while s.read(&mut b).await? > 0 {}
    Ok(t0.elapsed().as_secs_f64())
}

/// 1-byte request/response `count` times after 100 warm-up rounds.
async fn rr<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    count: u64,
) -> io::Result<f64> {
    let mut b = [0u8; 1];
    let mut t0 = Instant::now();
    for i in 0..count + 100 {
        if i == 100 {
            t0 = Instant::now();
        }
        s.write_all(b"x").await?;
        s.read_exact(&mut b).await?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Echoes until EOF, answering each request at once.
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) -> io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
    }
}

async fn sink<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf).await? {
            0 => break,
            n => total += n as u64,
        }
    }
    s.shutdown().await?;
    Ok(total)
}

async fn kernel_server(a: &Args) -> io::Result<()> {
    let l = tokio::net::TcpListener::bind(need_addr(a.addr)?).await?;
    loop {
        let (s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        let r = match a.test.as_str() {
            "sink" => sink(s).await.map(|_| ()),
            "echo" => echo(s).await,
            t => return Err(io::Error::other(format!("unknown test {t}"))),
        };
        if let Err(e) = r {
            eprintln!("bench_tokio kernel-server: {e}");
        }
    }
}

async fn connect_retry(to: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpStream::connect(to).await {
            Ok(s) => return Ok(s),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn kernel_client(a: &Args) -> io::Result<()> {
    let to = need_addr(a.addr)?;
    let s = connect_retry(to).await?;
    s.set_nodelay(true)?;
    match a.test.as_str() {
        "send" => print_bulk(
            "kernel → kernel (tokio)",
            a.mib << 20,
            bulk(s, a.mib << 20).await?,
        ),
        "rr" => bench::print_rate("round trips", a.count, rr(s, a.count).await?, "trans/s"),
        t => return Err(io::Error::other(format!("unknown test {t}"))),
    }
    Ok(())
}

async fn tun(a: &Args) -> io::Result<()> {
    let mut cfg = Config {
        addr: US,
        ..Config::default()
    };
    cfg.tcp.send_buffer = 1 << 20;
    cfg.tcp.recv_buffer = 1 << 20;
    let stack = tunstack::Stack::open_tun(&TunConfig::default(), cfg)?;
    let kernel = SocketAddr::V4(SocketAddrV4::new(KERNEL, PORT));
    let ours = SocketAddr::V4(SocketAddrV4::new(US, PORT));
    match a.test.as_str() {
        "send" => tun_send(&stack, a, kernel).await,
        "rr" => tun_rr(&stack, a, ours).await,
        "idle" => tun_idle(&stack, a, ours).await,
        t => Err(io::Error::other(format!("unknown test {t}"))),
    }
}

/// Bulk send from a tokio task into a kernel sink.
async fn tun_send(stack: &tunstack::Stack, a: &Args, kernel: SocketAddr) -> io::Result<()> {
    let bytes = a.mib << 20;
    let l = std::net::TcpListener::bind(kernel)?;
    let server = std::thread::spawn(move || -> io::Result<u64> {
        let (mut s, _) = l.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => break,
                k => n += k as u64,
            }
        }
        s.shutdown(Shutdown::Write)?;
        Ok(n)
    });
    let s = tunstack::tokio::TcpStream::connect(stack, kernel).await?;
    let secs = bulk(s, bytes).await?;
    let got = server.join().expect("kernel sink")?;
    if got != bytes {
        return Err(io::Error::other(format!(
            "the kernel got {got} of {bytes} bytes"
        )));
    }
    print_bulk("tunstack (tokio) → kernel", bytes, secs);
    Ok(())
}

/// One-byte request/response round trips served by a tokio task.
async fn tun_rr(stack: &tunstack::Stack, a: &Args, ours: SocketAddr) -> io::Result<()> {
    let l = tunstack::tokio::TcpListener::bind(stack, ("0.0.0.0", PORT)).await?;
    let count = a.count;
    let client = std::thread::spawn(move || -> io::Result<f64> {
        let s = bench::connect_retry(ours)?;
        s.set_nodelay(true)?;
        bench::rr_client(&s, count)
    });
    let (s, _) = l.accept().await?;
    s.set_nodelay(true)?;
    echo(s).await?;
    let secs = client.join().expect("kernel client")?;
    bench::print_rate("round trips", count, secs, "trans/s");
    Ok(())
}

/// CPU spent while many tokio readers are parked.
async fn tun_idle(stack: &tunstack::Stack, a: &Args, ours: SocketAddr) -> io::Result<()> {
    // N connections, each with a task parked in read: the process
    // must sleep (no polling loop, no per-socket thread).
    let n = a.conns;
    let l = tunstack::tokio::TcpListener::bind(stack, ("0.0.0.0", PORT)).await?;
    let client = std::thread::spawn(move || -> io::Result<Vec<std::net::TcpStream>> {
        (0..n).map(|_| std::net::TcpStream::connect(ours)).collect()
    });
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut s, _) = l.accept().await?;
        readers.push(tokio::spawn(async move {
            let mut b = [0u8; 1];
            s.read(&mut b).await
        }));
    }
    let kernel_side = client.join().expect("kernel client")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_secs();
    let t0 = Instant::now();
    // The runtime sleeps in its own reactor meanwhile: a spurious
    // wake-up of any reader would show as CPU.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_secs() - before;
    println!(
        "idle: {n} parked async readers, {spent:.3} s of CPU in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    println!(
        "result: {:.1} ms-CPU/s",
        spent * 1000.0 / t0.elapsed().as_secs_f64()
    );
    drop(kernel_side);
    for r in readers {
        let _ = r.await;
    }
    Ok(())
}
