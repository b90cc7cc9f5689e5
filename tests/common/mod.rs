//! Shared harness for the root integration tests.
//!
//! Each test calls [`netns`] first: it moves the *current test thread*
//! into a fresh network namespace (`unshare(CLONE_NEWNET)`), brings `lo`
//! up, and creates `tun0` there through tunstack itself (kernel side
//! 10.0.0.1/24 and fd00::1/64, tunstack 10.0.0.2 and fd00::2). Threads and processes the test spawns
//! afterwards inherit the namespace, so tests run in parallel without
//! seeing each other and no packet ever leaves the namespace.
//!
//! The tests need root, and fail without it (there is no way to skip
//! them: a skipped test must never count as a passed one).
//!
//! Conformance and fault tests run over both address families: a test
//! body takes a [`Family`] and [`per_family!`] turns it into two tests,
//! `NAME::v4` and `NAME::v6` (`cargo test ::v6` runs every IPv6 variant).
//! [`Family`] knows the addresses, the nftables family, the tshark field
//! names and the MSS rule of each.
//!
//! Beside the namespace, the stack and the data helpers here: `capture`
//! (recording a stack's packets and the tshark checks of a capture),
//! `daemons` (nginx, dnsmasq, python's http.server on the kernel side),
//! `peer` (nftables, and a kernel peer one routed hop away), `pki` (test
//! certificates) and `dns_proxy`. The first three are re-exported here.

#![allow(dead_code)]

mod capture;
mod daemons;
pub mod dns_proxy;
mod peer;
pub mod pki;

// Each test binary uses a different part of the harness.
#[allow(unused_imports)]
pub use capture::*;
#[allow(unused_imports)]
pub use daemons::*;
#[allow(unused_imports)]
pub use peer::*;

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

/// The kernel's address on tun0.
pub const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// tunstack's address.
pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The kernel's IPv6 address on tun0.
pub const KERNEL6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// tunstack's IPv6 address.
pub const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// The address family a parametrized test runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Both, IPv4 first.
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    /// The kernel's address on tun0 (10.0.0.1 or fd00::1).
    pub fn kernel(self) -> IpAddr {
        self.host(1)
    }

    /// tunstack's address (10.0.0.2 or fd00::2).
    pub fn us(self) -> IpAddr {
        self.host(2)
    }

    /// Host `n` of tun0's subnet (10.0.0.n or fd00::n): the addresses a
    /// forged peer takes, neither the kernel's nor ours.
    pub fn host(self, n: u8) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n))),
        }
    }

    /// `kernel():port`.
    pub fn kernel_at(self, port: u16) -> SocketAddr {
        SocketAddr::new(self.kernel(), port)
    }

    /// `us():port`.
    pub fn us_at(self, port: u16) -> SocketAddr {
        SocketAddr::new(self.us(), port)
    }

    /// The wildcard address with `port` (0.0.0.0 or [::]).
    pub fn any(self, port: u16) -> SocketAddr {
        match self {
            Family::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            Family::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        }
    }

    /// The loopback address with `port`.
    pub fn loopback(self, port: u16) -> SocketAddr {
        match self {
            Family::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            Family::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        }
    }

    /// `ip` as a URL's host: 10.0.0.1, or [fd00::1] (RFC 3986 §3.2.2).
    pub fn url_host(ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        }
    }

    /// `http://KERNEL:port` for this family.
    pub fn kernel_url(self, port: u16) -> String {
        format!("http://{}:{port}", Family::url_host(self.kernel()))
    }

    /// `http://US:port` for this family.
    pub fn us_url(self, port: u16) -> String {
        format!("http://{}:{port}", Family::url_host(self.us()))
    }

    /// The nftables family of this IP version's tables (`ip` or `ip6`).
    pub fn nft(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    /// Wireshark's protocol name of the network header (`ip` or `ipv6`),
    /// for display filters and fields: `{}.src`, `{}.dst`.
    pub fn tshark_ip(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ipv6",
        }
    }

    /// The display filter matching tunstack's own packets.
    pub fn ours_filter(self) -> String {
        format!("{}.src=={}", self.tshark_ip(), self.us())
    }

    /// Bytes of the network header tunstack writes (20 or 40: no IPv4
    /// options, no IPv6 extension headers).
    pub fn ip_header_len(self) -> usize {
        match self {
            Family::V4 => 20,
            Family::V6 => 40,
        }
    }

    /// The MSS advertised on a link of `mtu` bytes: MTU − 40 over IPv4
    /// (RFC 9293 §3.7.1), MTU − 60 over IPv6 (RFC 8200 §8.3).
    pub fn mss(self, mtu: usize) -> usize {
        mtu - self.ip_header_len() - 20
    }

    /// `ping -4` / `ping -6` of tunstack's address: `count` echoes,
    /// 0.2 s apart. Returns ping's output.
    pub fn ping_us(self, count: u32) -> String {
        let flag = match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        };
        let us = self.us().to_string();
        let count = count.to_string();
        run(
            "ping",
            &[flag, "-c", &count, "-i", "0.2", "-W", "2", us.as_str()],
        )
    }
}

/// Turns each `fn NAME(family: Family)` into two tests, `NAME::v4` and
/// `NAME::v6`. Each runs alone in its own namespace, so the two halves
/// may run in parallel.
#[macro_export]
macro_rules! per_family {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn v4() {
                    super::$name($crate::common::Family::V4)
                }
                #[test]
                fn v6() {
                    super::$name($crate::common::Family::V6)
                }
            }
        )+
    };
}

/// Fails the test, saying why, when not run as root: the namespace tests
/// are never skipped.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "integration tests need root to create network namespaces and TUN devices: sudo scripts/test.sh"
    );
}

/// Moves this thread into a new network namespace with `lo` up. Fails
/// the test, saying why, when not run as root.
pub fn enter_netns() {
    require_root();
    // SAFETY: unshare affects only the calling thread's namespace set.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        io::Error::last_os_error()
    );
    run("ip", &["link", "set", "lo", "up"]);
}

/// A namespace with a running stack on tun0.
pub fn netns() -> Stack {
    netns_with(Config::default())
}

/// Like [`netns`] with a custom stack configuration.
pub fn netns_with(config: Config) -> Stack {
    enter_netns();
    Stack::open_tun(&TunConfig::default(), config).expect("open tun0")
}

/// Runs a command to completion, panicking with its output on failure.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `tunstack` binary (built with the `cli` feature) run with `args`
/// to completion.
pub fn tunstack(args: &[&str]) -> Output {
    tunstack_cmd().args(args).output().expect("run tunstack")
}

/// A command for the `tunstack` binary. Looked up at run time: test
/// binaries built without the `cli` feature include this file too.
pub fn tunstack_cmd() -> Command {
    let Some(bin) = option_env!("CARGO_BIN_EXE_tunstack") else {
        panic!("no tunstack binary: this test needs the cli feature");
    };
    Command::new(bin)
}

/// A process's output as text (lossy UTF-8).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tunstack get -v` asking the DNS server on 10.0.0.1 (no hosts file),
/// with `extra` flags, for `url`.
pub fn get_by_dns(extra: &[&str], url: &str) -> Output {
    let mut args = vec![
        "get",
        "-v",
        "--dns",
        "10.0.0.1",
        "--hosts-file",
        "/dev/null",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    tunstack(&args)
}

/// A current-thread tokio runtime with time and I/O.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A tokio runtime of two worker threads with time and I/O. Build it after
/// entering the test's namespace: its threads inherit it.
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A private temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let mut p = std::env::temp_dir();
        p.push(format!(
            "tunstack-{tag}-{}-{}",
            std::process::id(),
            rand_u64()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    /// Removes the directory, except when the test is failing: then its
    /// captures and logs stay for inspection and the path is printed.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    u64::from_le_bytes(b)
}

/// `n` pseudo-random bytes (seeded, so failures are reproducible).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Hex SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes all of `data` then reads until EOF, on two threads, returning
/// what was read.
pub fn echo_round_trip<S>(stream: S, data: Vec<u8>) -> Vec<u8>
where
    S: Read + Write + Send + 'static + TryCloneLike,
{
    let mut reader = stream.try_clone_like();
    let mut writer = stream;
    let w = std::thread::spawn(move || {
        writer.write_all(&data).expect("write");
        writer.half_close();
    });
    let mut got = Vec::new();
    reader.read_to_end(&mut got).expect("read");
    w.join().expect("writer thread");
    got
}

/// `n` kernel clients at once, a thread each: client `i` connects to `to`,
/// sends `bytes` random bytes (seed `seed + i`) through an echo server
/// there with [`echo_round_trip`], and checks that every byte came back.
/// Join the handles.
pub fn kernel_echo_clients(
    to: SocketAddr,
    n: u64,
    bytes: usize,
    seed: u64,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            std::thread::spawn(move || {
                let data = random_bytes(bytes, seed + i);
                let s = std::net::TcpStream::connect(to).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let got = echo_round_trip(s, data.clone());
                assert_eq!(sha256(&got), sha256(&data), "kernel client {i}");
            })
        })
        .collect()
}

/// Reads from `s` until the blank line that ends an HTTP request head;
/// returns all it read. Panics if the stream ends first.
pub fn read_request_head(s: &mut impl Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut b = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).expect("request");
        assert!(n > 0, "request cut short");
        head.extend_from_slice(&b[..n]);
    }
    head
}

/// A stream that can be cloned and half-closed (std's TcpStream).
pub trait TryCloneLike: Sized {
    fn try_clone_like(&self) -> Self;
    fn half_close(&mut self);
}

impl TryCloneLike for std::net::TcpStream {
    fn try_clone_like(&self) -> Self {
        self.try_clone().expect("clone")
    }
    fn half_close(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl TryCloneLike for tunstack::TcpStream {
    fn try_clone_like(&self) -> Self {
        self.try_clone().expect("clone")
    }
    fn half_close(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// Runs the tunstack binary `bin` (`env!("CARGO_BIN_EXE_tunstack")`) with
/// `args`, sampling its peak RSS (VmHWM, KiB) until it exits.
pub fn tunstack_peak_rss(bin: &str, dir: &Path, args: &[&str]) -> (Output, u64) {
    let out_path = dir.join("peak.out");
    let err_path = dir.join("peak.err");
    let mut child = Command::new(bin)
        .args(args)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn tunstack");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        // VmHWM is the process's own high-water mark, so sampling only has
        // to catch it before exit.
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, peak)
}

/// tunstack's HTTP client connecting through a stack to literal addresses
/// of either family (`10.0.0.1`, `fd00::1`; no DNS).
pub struct Via<'a>(pub &'a Stack);

impl tunstack::http::Connect for Via<'_> {
    type Stream = tunstack::TcpStream;
    fn connect(&self, host: &str, port: u16) -> io::Result<tunstack::TcpStream> {
        // An IPv6 literal may come with its URL brackets.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = literal.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not an IP address: {host}"),
            )
        })?;
        tunstack::TcpStream::connect_timeout(
            self.0,
            &SocketAddr::new(ip, port),
            Duration::from_secs(10),
        )
    }
}

/// Two stacks joined by an in-memory [`PipeDevice`](tunstack::device::PipeDevice)
/// pair (no root, no namespace): A holds tunstack's usual addresses
/// (10.0.0.2, fd00::2: `Family::us`), B the kernel's (10.0.0.1, fd00::1:
/// `Family::kernel`), so a test reaches B over either family. `tweak`
/// adjusts both configurations.
pub fn pipe_pair_with(tweak: impl Fn(&mut Config)) -> (Stack, Stack) {
    let (da, db) = tunstack::device::PipeDevice::pair(1500).expect("pipe pair");
    let cfg = |addr: Ipv4Addr, addr6: Ipv6Addr| {
        let mut c = Config {
            addr,
            addr6,
            ..Config::default()
        };
        tweak(&mut c);
        c
    };
    (
        Stack::new(da, cfg(US, US6)).expect("stack A"),
        Stack::new(db, cfg(KERNEL, KERNEL6)).expect("stack B"),
    )
}
