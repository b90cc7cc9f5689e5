//! The bulk rows of `scripts/bench.sh` with smoltcp (crates.io) in place
//! of tunstack: the same tun0, the same kernel peer code, the same byte
//! counts and clocks as `bench_tcp tun send|recv`, so the two stacks can
//! be compared in one run. Needs root and a namespace of its own.
//!
//! ```text
//! bench_smoltcp send [--mtu N] [--mib N] [--buf BYTES]   smoltcp writes N MiB, a kernel socket reads them
//! bench_smoltcp recv [--mtu N] [--mib N] [--buf BYTES]   a kernel socket writes N MiB, smoltcp reads them
//! ```
//!
//! tun0 is opened and configured by tunstack's `TunDevice` (kernel side
//! 10.0.0.1/24, MTU N, link up); smoltcp drives a duplicate of its file
//! descriptor through its own `phy::TunTapInterface` (medium IP, one
//! packet per `read(2)`/`write(2)`), with smoltcp's own event loop as in
//! its `examples/benchmark.rs`: poll the interface, move bytes in or out
//! of the socket, and sleep in `select(2)` until the device is readable
//! or smoltcp's next deadline. `--buf` sets both socket buffers: 65535 is
//! the size smoltcp's own examples use (no window scaling), 1048576 the
//! size tunstack's bench rows use.
//!
//! The application's side does what `bench_tcp`'s does: it reads into a
//! 256 KiB buffer (`recv_slice`, a copy out of smoltcp's ring, as
//! tunstack's reader copies out of its ring) and writes from one
//! (`send_slice`); dequeuing in place, as smoltcp's own benchmark does,
//! would skip the application's copy that tunstack's rows pay. Before the
//! result the run prints the kernel's counters of tun0 (packets and bytes
//! each way, mean packet size), a check from outside smoltcp that the
//! bytes crossed the device in MTU-sized packets.
//!
//! As in `bench_tcp`, the measuring side is the client: `recv` times the
//! kernel client from connect until it reads smoltcp's FIN after its own;
//! `send` times smoltcp from the established connection until it has
//! seen the kernel's FIN after all its bytes. The last line is
//! `result: VALUE Gbit/s`, which the script parses.

#[path = "common/bench.rs"]
mod bench;

use bench::{kernel_bulk_client, print_bulk, sink, value, KERNEL, PORT, US};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use std::io;
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::device::{Device, TunConfig, TunDevice};

struct Args {
    test: String,
    mtu: usize,
    mib: u64,
    buf: usize,
}

/// Bytes per application read or write, as in `bench::sink` and
/// `bench::bulk_send`.
const APP_BUF: usize = 256 * 1024;

const USAGE: &str = "usage: bench_smoltcp send|recv [--mtu N] [--mib N] [--buf BYTES]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let test = it.next().ok_or(USAGE)?;
    let mut a = Args {
        test,
        mtu: 1500,
        mib: 256,
        buf: 1 << 20,
    };
    for (flag, v) in bench::flags(it)? {
        let f = flag.as_str();
        match f {
            "--mtu" => a.mtu = value(f, &v)?,
            "--mib" => a.mib = value(f, &v)?,
            "--buf" => a.buf = value(f, &v)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = bench::args_or_exit("bench_smoltcp", parse_args());
    bench::exit_on_error(&format!("bench_smoltcp {}", a.test), run(&a));
}

/// smoltcp's interface, device and one TCP socket.
struct Smol {
    dev: TunTapInterface,
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: smoltcp::iface::SocketHandle,
    fd: i32,
}

impl Smol {
    fn new(fd: i32, mtu: usize, buf: usize) -> io::Result<Smol> {
        let mut dev = TunTapInterface::from_fd(fd, Medium::Ip, mtu)?;
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = rand::random();
        let mut iface = Interface::new(config, &mut dev, smoltcp::time::Instant::now());
        iface.update_ip_addrs(|addrs| {
            let o = US.octets();
            let _ = addrs.push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24));
        });
        let rx = tcp::SocketBuffer::new(vec![0; buf]);
        let tx = tcp::SocketBuffer::new(vec![0; buf]);
        let mut sockets = SocketSet::new(vec![]);
        let handle = sockets.add(tcp::Socket::new(rx, tx));
        Ok(Smol {
            dev,
            iface,
            sockets,
            handle,
            fd,
        })
    }

    fn poll(&mut self) {
        let now = smoltcp::time::Instant::now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }

    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(self.handle)
    }

    /// Sleeps until the device is readable or smoltcp's next deadline (at
    /// most 100 ms, so a finished peer thread is noticed).
    fn wait(&mut self) -> io::Result<()> {
        let now = smoltcp::time::Instant::now();
        let cap = smoltcp::time::Duration::from_millis(100);
        match self.iface.poll_delay(now, &self.sockets) {
            Some(d) if d == smoltcp::time::Duration::ZERO => Ok(()),
            Some(d) => phy_wait(self.fd, Some(d.min(cap))),
            None => phy_wait(self.fd, Some(cap)),
        }
    }
}

fn run(a: &Args) -> io::Result<()> {
    let tun = TunDevice::open(&TunConfig {
        mtu: a.mtu,
        ..TunConfig::default()
    })?;
    let raw = tun
        .as_raw_fd()
        .ok_or_else(|| io::Error::other("tun0 has no file descriptor"))?;
    // smoltcp closes the descriptor it is given; the TunDevice keeps its own.
    // SAFETY: dup(2) of a descriptor that stays open while `tun` lives.
    let fd = unsafe { libc::dup(raw) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut smol = Smol::new(fd, a.mtu, a.buf)?;
    let bytes = a.mib << 20;
    match a.test.as_str() {
        "recv" => recv(&mut smol, bytes),
        "send" => send(&mut smol, bytes),
        t => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown test {t}\n{USAGE}"),
        )),
    }?;
    drop(tun);
    Ok(())
}

/// A kernel client writes `bytes` to smoltcp listening on 10.0.0.2:5001.
fn recv(smol: &mut Smol, bytes: u64) -> io::Result<()> {
    smol.socket()
        .listen(PORT)
        .map_err(|e| io::Error::other(format!("listen: {e}")))?;
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let ours = SocketAddr::V4(SocketAddrV4::new(US, PORT));
    let client = std::thread::spawn(move || {
        let r = kernel_bulk_client(ours, bytes);
        flag.store(true, Ordering::SeqCst);
        r
    });
    // The application's buffer, as `bench::sink` reads into: every byte
    // is copied out of smoltcp's ring, as tunstack's reader copies it out
    // of its own (dequeuing in place would skip that copy).
    let mut buf = vec![0u8; APP_BUF];
    let mut got = 0u64;
    let mut closed = false;
    while !done.load(Ordering::SeqCst) {
        smol.poll();
        let s = smol.socket();
        while s.can_recv() {
            let n = s.recv_slice(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        if !closed && got > 0 && !s.may_recv() {
            // The kernel's FIN after every byte: answer with ours.
            s.close();
            closed = true;
        }
        smol.poll();
        smol.wait()?;
    }
    let secs = client
        .join()
        .map_err(|_| io::Error::other("client panicked"))??;
    if got != bytes {
        return Err(io::Error::other(format!(
            "smoltcp got {got} of {bytes} bytes"
        )));
    }
    print_tun_counters();
    print_bulk("kernel → smoltcp", bytes, secs);
    Ok(())
}

/// smoltcp connects to a kernel sink on 10.0.0.1:5001 and writes `bytes`.
fn send(smol: &mut Smol, bytes: u64) -> io::Result<()> {
    let kernel = SocketAddr::V4(SocketAddrV4::new(KERNEL, PORT));
    let l = TcpListener::bind(kernel)?;
    let server = std::thread::spawn(move || -> io::Result<u64> {
        let (s, _) = l.accept()?;
        let n = sink(&s)?;
        s.shutdown(Shutdown::Write)?;
        Ok(n)
    });
    let remote = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), PORT);
    {
        let Smol { iface, sockets, .. } = smol;
        let s = sockets.get_mut::<tcp::Socket>(smol.handle);
        s.connect(iface.context(), remote, 49152)
            .map_err(|e| io::Error::other(format!("connect: {e}")))?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while smol.socket().state() != tcp::State::Established {
        if Instant::now() > deadline || !smol.socket().is_open() {
            return Err(io::Error::other("smoltcp could not connect"));
        }
        smol.poll();
        smol.wait()?;
    }
    // The application's buffer, as `bench::bulk_send` writes from: every
    // byte is copied into smoltcp's ring.
    let chunk = vec![0x5au8; APP_BUF];
    let t0 = Instant::now();
    let mut left = bytes;
    let mut closed = false;
    loop {
        smol.poll();
        let s = smol.socket();
        while left > 0 && s.can_send() {
            let n = left.min(chunk.len() as u64) as usize;
            let n = s.send_slice(&chunk[..n]).unwrap_or(0);
            if n == 0 {
                break;
            }
            left -= n as u64;
        }
        if left == 0 && !closed {
            s.close();
            closed = true;
        }
        // Every byte acknowledged and the kernel's FIN seen.
        if closed && matches!(s.state(), tcp::State::TimeWait | tcp::State::Closed) {
            break;
        }
        smol.poll();
        smol.wait()?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let got = server
        .join()
        .map_err(|_| io::Error::other("kernel sink panicked"))??;
    if got != bytes {
        return Err(io::Error::other(format!(
            "the kernel got {got} of {bytes} bytes"
        )));
    }
    print_tun_counters();
    print_bulk("smoltcp → kernel", bytes, secs);
    Ok(())
}

/// The kernel's counters of tun0 (this namespace's), a check on the
/// result from outside smoltcp: packets and bytes each way, and the mean
/// packet size, which is the MTU's when the transfer ran in full-sized
/// segments; and the CPU time of smoltcp's thread (its system calls
/// included) per packet it read or wrote.
fn print_tun_counters() {
    let read = |name: &str| -> u64 {
        std::fs::read_to_string(format!("/sys/class/net/tun0/statistics/{name}"))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let (to_us, to_us_bytes) = (read("tx_packets"), read("tx_bytes"));
    let (from_us, from_us_bytes) = (read("rx_packets"), read("rx_bytes"));
    println!(
        "tun0: {to_us} packets to smoltcp ({to_us_bytes} bytes, {:.0} each), {from_us} from it ({from_us_bytes} bytes, {:.0} each), {} dropped",
        to_us_bytes as f64 / to_us.max(1) as f64,
        from_us_bytes as f64 / from_us.max(1) as f64,
        read("tx_dropped")
    );
    let cpu = thread_cpu_secs();
    println!(
        "smoltcp's thread: {cpu:.3} s of CPU, {:.2} µs per packet",
        cpu * 1e6 / (to_us + from_us).max(1) as f64
    );
}

/// CPU seconds the calling thread has used (user and system).
fn thread_cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the live rusage it is given.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, u.as_mut_ptr()) };
    // SAFETY: zero-initialised, then filled by getrusage.
    let u = unsafe { u.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
