//! TCP benchmarks for `scripts/bench.sh`: tunstack on `tun0` against the
//! kernel's TCP in the same network namespace, and the same kernel-side
//! code over a veth pair for comparison. Needs root and a namespace of its
//! own (the script makes them).
//!
//! ```text
//! bench_tcp tun send  [--mtu N] [--mib N]   tunstack writes N MiB, a kernel socket reads them
//! bench_tcp tun recv  [--mtu N] [--mib N]   a kernel socket writes N MiB, tunstack reads them
//! bench_tcp tun rr    [--count N]           1-byte request/response, TCP_NODELAY, tunstack echoes
//! bench_tcp tun crr   [--count N]           connect + 1-byte request/response + close, tunstack serves
//! bench_tcp tun idle  [--conns N]           N idle connections accepted by tunstack: RSS each
//!
//! bench_tcp kernel-server sink|echo|crr --bind IP:PORT   (serves until killed)
//! bench_tcp kernel-client send|rr|crr --to IP:PORT [--mib N] [--count N]
//! ```
//!
//! In `tun` mode tunstack opens `tun0` (kernel side 10.0.0.1/24, tunstack
//! 10.0.0.2) and the kernel peer is a thread of this process. The side that
//! measures is always the client: a bulk client writes N MiB, shuts down
//! its sending side and waits for the server's EOF, so the time covers
//! every byte delivered. `--buf BYTES` sets tunstack's socket buffers
//! (default 1 MiB); the advertised MSS follows the MTU. `--offload 1`
//! opens tun0 with virtio-net headers (checksum offload and TSO both
//! ways, `VnetTunDevice`). `--family 6` runs the test over IPv6 (kernel
//! fd00::1, tunstack fd00::2 on the same tun0).
//!
//! The last line is `result: VALUE UNIT (...)`, which the script parses.

#[path = "common/bench.rs"]
mod bench;

use bench::{
    bulk_send, connect_retry, echo, kernel_bulk_client, need_addr, print_bulk, print_rate,
    rr_client, rss_kib, sink, value, KERNEL, KERNEL6, PORT, US, US6,
};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use tunstack::device::TunConfig;
use tunstack::net::Config;

struct Args {
    mode: String,
    test: String,
    mtu: usize,
    mib: u64,
    count: u64,
    conns: usize,
    buf: usize,
    offload: bool,
    /// 4 or 6: the family tunstack and the kernel talk over on tun0.
    family: u8,
    addr: Option<SocketAddr>,
}

const USAGE: &str = "usage: bench_tcp tun send|recv|rr|crr|idle [--mtu N] [--mib N] [--count N] [--conns N] [--buf BYTES] [--offload 0|1] [--family 4|6]
       bench_tcp kernel-server sink|echo|crr --bind IP:PORT
       bench_tcp kernel-client send|rr|crr --to IP:PORT [--mib N] [--count N]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (Some(mode), Some(test)) = (it.next(), it.next()) else {
        return Err(USAGE.into());
    };
    let mut a = Args {
        mode,
        test,
        mtu: 1500,
        mib: 256,
        count: 10_000,
        conns: 1000,
        buf: 1 << 20,
        offload: false,
        family: 4,
        addr: None,
    };
    for (flag, v) in bench::flags(it)? {
        let f = flag.as_str();
        match f {
            "--mtu" => a.mtu = value(f, &v)?,
            "--mib" => a.mib = value(f, &v)?,
            "--count" => a.count = value(f, &v)?,
            "--conns" => a.conns = value(f, &v)?,
            "--buf" => a.buf = value(f, &v)?,
            "--offload" => a.offload = v == "1",
            "--family" => {
                a.family = value(f, &v)?;
                if a.family != 4 && a.family != 6 {
                    return Err(format!("bad value for {f}: {v}"));
                }
            }
            "--bind" | "--to" => a.addr = Some(v.parse().map_err(|_| format!("bad address {v}"))?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = bench::args_or_exit("bench_tcp", parse_args());
    let r = match a.mode.as_str() {
        "tun" => tun(&a),
        "kernel-server" => kernel_server(&a),
        "kernel-client" => kernel_client(&a),
        m => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown mode {m}\n{USAGE}"),
        )),
    };
    bench::exit_on_error(&format!("bench_tcp {} {}", a.mode, a.test), r);
}

// ---- the two ends of each test, over any stream -------------------------------

/// One connection of the connect/request/response/close test, server
/// side: answers one byte, then waits for the client's close.
fn crr_serve(mut s: impl Read + Write) -> io::Result<()> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    s.write_all(&b)?;
    while s.read(&mut b)? > 0 {}
    Ok(())
}

/// Connect/request/response/close client over the kernel's TCP.
fn crr_client(to: SocketAddr, count: u64) -> io::Result<f64> {
    let t0 = Instant::now();
    let mut b = [0u8; 1];
    for _ in 0..count {
        let mut s = TcpStream::connect(to)?;
        s.set_nodelay(true)?;
        s.write_all(b"x")?;
        s.read_exact(&mut b)?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

// ---- kernel against kernel (veth) ----------------------------------------------

fn kernel_server(a: &Args) -> io::Result<()> {
    let l = TcpListener::bind(need_addr(a.addr)?)?;
    loop {
        let (s, _) = l.accept()?;
        s.set_nodelay(true)?;
        // One connection at a time: the clients are sequential.
        let r = match a.test.as_str() {
            "sink" => sink(&s).map(|_| ()),
            "echo" => echo(&s),
            "crr" => crr_serve(&s),
            t => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown test {t}"),
                ))
            }
        };
        if let Err(e) = r {
            eprintln!("bench_tcp kernel-server: {e}");
        }
    }
}

fn kernel_client(a: &Args) -> io::Result<()> {
    let to = need_addr(a.addr)?;
    match a.test.as_str() {
        "send" => {
            let bytes = a.mib << 20;
            print_bulk("kernel → kernel", bytes, kernel_bulk_client(to, bytes)?);
        }
        "rr" => {
            let s = connect_retry(to)?;
            s.set_nodelay(true)?;
            print_rate("round trips", a.count, rr_client(&s, a.count)?, "trans/s");
        }
        "crr" => {
            // One transaction once the server listens, then the counted ones.
            let mut s = connect_retry(to)?;
            s.write_all(b"x")?;
            s.read_exact(&mut [0u8; 1])?;
            drop(s);
            print_rate("connections", a.count, crr_client(to, a.count)?, "conn/s");
        }
        t => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown test {t}"),
            ))
        }
    }
    Ok(())
}

// ---- tunstack on tun0 against the kernel -----------------------------------------

fn tun(a: &Args) -> io::Result<()> {
    let mut cfg = Config {
        addr: US,
        ..Config::default()
    };
    // The MSS follows the MTU (the default tcp::Config caps it at 1460).
    cfg.tcp.mss = u16::try_from(a.mtu.saturating_sub(40)).unwrap_or(u16::MAX);
    cfg.tcp.send_buffer = a.buf;
    cfg.tcp.recv_buffer = a.buf;
    if a.test == "idle" {
        cfg.syn_backlog = a.conns.max(256);
        cfg.accept_backlog = a.conns.max(128);
    }
    let tun = TunConfig {
        mtu: a.mtu,
        offload: a.offload,
        ..TunConfig::default()
    };
    let rss0 = rss_kib();
    let stack = tunstack::Stack::open_tun(&tun, cfg)?;
    let (kernel, ours) = if a.family == 6 {
        (
            SocketAddr::V6(SocketAddrV6::new(KERNEL6, PORT, 0, 0)),
            SocketAddr::V6(SocketAddrV6::new(US6, PORT, 0, 0)),
        )
    } else {
        (
            SocketAddr::V4(SocketAddrV4::new(KERNEL, PORT)),
            SocketAddr::V4(SocketAddrV4::new(US, PORT)),
        )
    };
    match a.test.as_str() {
        "send" => tun_send(&stack, a, kernel),
        "recv" => tun_recv(&stack, a, ours),
        "rr" => tun_rr(&stack, a, ours),
        "crr" => tun_crr(&stack, a, ours),
        "idle" => tun_idle(&stack, a, ours, rss0),
        t => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown test {t}"),
        )),
    }
}

/// Bulk send from tunstack into a kernel sink.
fn tun_send(stack: &tunstack::Stack, a: &Args, kernel: SocketAddr) -> io::Result<()> {
    let bytes = a.mib << 20;
    let l = TcpListener::bind(kernel)?;
    let server = std::thread::spawn(move || -> io::Result<u64> {
        let (s, _) = l.accept()?;
        let n = sink(&s)?;
        s.shutdown(Shutdown::Write)?;
        Ok(n)
    });
    let s = tunstack::TcpStream::connect(stack, kernel)?;
    let t0 = Instant::now();
    bulk_send(&s, bytes)?;
    s.shutdown(Shutdown::Write)?;
    let mut b = [0u8; 1];
    while (&s).read(&mut b)? > 0 {}
    let secs = t0.elapsed().as_secs_f64();
    let got = server.join().expect("kernel sink")?;
    if got != bytes {
        return Err(io::Error::other(format!(
            "the kernel got {got} of {bytes} bytes"
        )));
    }
    print_bulk("tunstack → kernel", bytes, secs);
    print_conn_stats(&s);
    Ok(())
}

/// Bulk receive by tunstack from a kernel sender.
fn tun_recv(stack: &tunstack::Stack, a: &Args, ours: SocketAddr) -> io::Result<()> {
    let bytes = a.mib << 20;
    let l = tunstack::TcpListener::bind(stack, ("0.0.0.0", PORT))?;
    let client = std::thread::spawn(move || kernel_bulk_client(ours, bytes));
    let (s, _) = l.accept()?;
    let got = sink(&s)?;
    s.shutdown(Shutdown::Write)?;
    let secs = client.join().expect("kernel client")?;
    if got != bytes {
        return Err(io::Error::other(format!(
            "tunstack got {got} of {bytes} bytes"
        )));
    }
    print_bulk("kernel → tunstack", bytes, secs);
    print_conn_stats(&s);
    let st = stack.stats();
    println!(
        "stack: {} packets read, {} with the payload read into the receive buffer ({} of them into the waiting reader's own buffer), {} copied back out",
        st.rx_packets, st.rx_direct, st.rx_posted, st.rx_direct_missed
    );
    Ok(())
}

/// Request/response round trips, one byte each way, kernel client.
fn tun_rr(stack: &tunstack::Stack, a: &Args, ours: SocketAddr) -> io::Result<()> {
    let l = tunstack::TcpListener::bind(stack, ("0.0.0.0", PORT))?;
    let count = a.count;
    let client = std::thread::spawn(move || -> io::Result<f64> {
        let s = connect_retry(ours)?;
        s.set_nodelay(true)?;
        rr_client(&s, count)
    });
    let (s, _) = l.accept()?;
    s.set_nodelay(true)?;
    // Until the client closes.
    echo(&s)?;
    let secs = client.join().expect("kernel client")?;
    print_rate("round trips", count, secs, "trans/s");
    // The warm-up round trips count too: the stack saw them.
    print_stack_per(stack, count + 100, "round trip");
    Ok(())
}

/// Connect, one request/response, close: one connection per transaction.
fn tun_crr(stack: &tunstack::Stack, a: &Args, ours: SocketAddr) -> io::Result<()> {
    let l = tunstack::TcpListener::bind(stack, ("0.0.0.0", PORT))?;
    let count = a.count;
    let client = std::thread::spawn(move || crr_client(ours, count));
    for _ in 0..count {
        let (s, _) = l.accept()?;
        s.set_nodelay(true)?;
        crr_serve(&s)?;
    }
    let secs = client.join().expect("kernel client")?;
    print_rate("connections", count, secs, "conn/s");
    print_stack_per(stack, count, "connection");
    Ok(())
}

/// Memory per idle established connection.
fn tun_idle(stack: &tunstack::Stack, a: &Args, ours: SocketAddr, rss0: u64) -> io::Result<()> {
    let n = a.conns;
    let l = tunstack::TcpListener::bind(stack, ("0.0.0.0", PORT))?;
    let rss1 = rss_kib();
    let client = std::thread::spawn(move || -> io::Result<Vec<TcpStream>> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let mut s = TcpStream::connect(ours)?;
            s.write_all(b"?")?;
            v.push(s);
        }
        for s in &mut v {
            let mut b = [0u8; 1];
            s.read_exact(&mut b)?;
        }
        Ok(v)
    });
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let (s, _) = l.accept()?;
        let mut b = [0u8; 1];
        (&s).read_exact(&mut b)?;
        (&s).write_all(b"!")?;
        held.push(s);
    }
    let kernel_side = client.join().expect("kernel client")?;
    // Let the last ACKs settle.
    std::thread::sleep(Duration::from_millis(200));
    let rss2 = rss_kib();
    let per = (rss2.saturating_sub(rss1)) as f64 / n as f64;
    println!(
        "idle: {n} connections, RSS {rss0} KiB before the stack, {rss1} KiB with it, {rss2} KiB with the connections; {} KiB socket buffers each way",
        a.buf >> 10
    );
    println!("result: {per:.2} KiB/conn");
    drop(kernel_side);
    drop(held);
    Ok(())
}

/// The stack's packets read and written and its driver polls, per `unit`
/// of the `n` the test made.
fn print_stack_per(stack: &tunstack::Stack, n: u64, unit: &str) {
    let st = stack.stats();
    let n = n as f64;
    println!(
        "stack: {:.2} packets read, {:.2} written and {:.2} driver polls per {unit}",
        st.rx_packets as f64 / n,
        st.tx_packets as f64 / n,
        st.driver_polls as f64 / n
    );
}

fn print_conn_stats(s: &tunstack::TcpStream) {
    if let Ok(st) = s.tcp_stats() {
        println!("connection: {st:?}");
    }
}
