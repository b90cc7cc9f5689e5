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

#![allow(dead_code)]

pub mod dns_proxy;
pub mod pki;

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
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

/// python3's `http.server` serving `dir` on `bind`:`port`; returns once
/// it listens. Bind the wildcard where 10.0.0.1 exists only once a
/// tunstack process creates tun0.
pub fn http_server(dir: &Path, bind: IpAddr, port: u16) -> Daemon {
    let d = dir.to_str().expect("utf-8 path").to_string();
    let daemon = Daemon::spawn(
        dir,
        "python3",
        &[
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            &bind.to_string(),
            "--directory",
            &d,
        ],
    );
    let at = match bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    wait_for_listener(SocketAddr::new(at, port));
    daemon
}

/// SIGINT to `child` (a `tunstack serve` with stderr piped), then its exit
/// status and everything it wrote to stderr.
pub fn interrupt(child: &mut Child) -> (std::process::ExitStatus, String) {
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().expect("wait for child");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut err)
        .expect("read stderr");
    (status, err)
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

/// A child process killed when dropped.
pub struct Daemon {
    child: Child,
    name: String,
}

impl Daemon {
    /// Spawns `cmd args…` with output captured to files under `dir`.
    pub fn spawn(dir: &Path, cmd: &str, args: &[&str]) -> Daemon {
        let log = std::fs::File::create(dir.join(format!("{}.log", cmd.replace('/', "_"))))
            .expect("log file");
        let child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
        Daemon {
            child,
            name: cmd.to_string(),
        }
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so a daemon with worker processes (nginx) takes its
    /// workers down with it: a SIGKILLed nginx master leaves its workers
    /// running, holding every descriptor they inherited. SIGKILL after 3 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("{} ignored SIGTERM for 3 s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `dir/nginx.conf`: nginx in the foreground (`daemon off`, one
/// worker, as root) with its pid file, error log and temp paths under
/// `dir`, `worker_connections` per worker, and `http` appended inside the
/// `http { … }` block after those paths (types, servers). Returns the
/// file's path.
pub fn nginx_conf(dir: &Path, worker_connections: u32, http: &str) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/error.log; worker_processes 1; user root;\n\
         events {{ worker_connections {worker_connections}; }}\n\
         http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;\n\
         uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
         {http} }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    path
}

/// dnsmasq on the kernel side of this thread's namespace, answering from
/// `hosts` (an /etc/hosts-style text, written to `dir/hosts`) on port 53
/// of every address, over UDP and TCP, and nothing else (no upstream, no
/// /etc/hosts). Returns once its sockets are bound: it writes its pid file
/// then. It binds the wildcard address, so it also answers on a tun0
/// created later.
pub fn dnsmasq(dir: &Path, hosts: &str) -> Daemon {
    dnsmasq_with(dir, hosts, &["--port=53"])
}

/// dnsmasq answering from `hosts` only (written to `dir/hosts`), listening
/// as `listen` says (`--port=…`, `--listen-address=…`); returns once it
/// has written its pid file.
pub fn dnsmasq_with(dir: &Path, hosts: &str, listen: &[&str]) -> Daemon {
    std::fs::write(dir.join("hosts"), hosts).expect("write dnsmasq hosts");
    let pid_file = dir.join("dnsmasq.pid");
    let addn_hosts = format!("--addn-hosts={}", dir.join("hosts").display());
    let pid = format!("--pid-file={}", pid_file.display());
    let mut args = vec![
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        &addn_hosts,
        &pid,
        "--user=root",
    ];
    args.extend_from_slice(listen);
    let daemon = Daemon::spawn(dir, "dnsmasq", &args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

/// [`nginx_conf`], then nginx started on it in this thread's namespace;
/// the caller waits for its listeners.
pub fn nginx(dir: &Path, worker_connections: u32, http: &str) -> Daemon {
    let conf = nginx_conf(dir, worker_connections, http);
    Daemon::spawn(
        dir,
        "nginx",
        &[
            "-c",
            conf.to_str().expect("UTF-8 path"),
            "-p",
            &dir.display().to_string(),
        ],
    )
}

/// [`nginx`] with 64 worker connections, returning once it listens on
/// `port` (of 127.0.0.1: it binds the wildcard, as 10.0.0.1 exists only
/// while a stack holds tun0).
pub fn nginx_listening(dir: &Path, port: u16, http: &str) -> Daemon {
    let daemon = nginx(dir, 64, http);
    wait_for_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    daemon
}

/// Waits until the kernel side accepts TCP connections on `addr` (either
/// family).
pub fn wait_for_listener(addr: impl Into<SocketAddr>) {
    let addr = addr.into();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listening on {addr} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    fn drop(&mut self) {
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

/// A namespace with a stack whose every packet is recorded to
/// `dir/capture.pcap` (checked with [`check_capture`] at the end).
/// Receive buffers of 16 MiB keep transfers up to that size from ever
/// filling the window, so a clean capture has no flow-control warnings.
/// The kernel's sockets in the namespace start with 16 MiB too
/// (`tcp_rmem`, which is per namespace): a kernel reader that the loaded
/// test machine leaves unscheduled for a few milliseconds would otherwise
/// let our segments reach its advertised right edge, which Wireshark
/// reports as "window full" on our packets although it is the kernel
/// application's flow control, not ours.
pub fn netns_captured(dir: &TempDir) -> (Stack, PathBuf) {
    enter_netns();
    std::fs::write("/proc/sys/net/ipv4/tcp_rmem", "4096 16777216 33554432")
        .expect("kernel receive buffers in the test namespace");
    let path = dir.path().join("capture.pcap");
    let tun = tunstack::device::TunDevice::open(&TunConfig::default()).expect("open tun0");
    let dev = tunstack::device::PcapDevice::create(tun, &path).expect("capture file");
    let mut config = Config::default();
    config.tcp.recv_buffer = 16 << 20;
    let stack = Stack::new(dev, config).expect("stack");
    (stack, path)
}

/// The D-SACKs sent by the side `dsacker` (a display filter: our
/// packets, or the peer's as `!(ours)`) in `pcap` that answer no
/// duplicate: a block is right only when the other side really sent
/// those bytes twice (its RTO or loss probe fired because an ACK was
/// late), see [`unexplained_dsacks`]. The other side's segments are
/// counted in sequence space (`tcp.nxtseq`), so a FIN resent with the
/// last bytes explains a D-SACK that reports it with them. Also fails
/// when Wireshark warned of a D-SACK that the fields below do not show.
pub fn unexplained_dsacks_in(pcap: &Path, dsacker: &str) -> Vec<String> {
    let p = pcap.to_str().expect("utf-8 path");
    let fields = |filter: &str, extra: &[&str]| {
        let mut args = vec!["-r", p, "-Y", filter, "-T", "fields", "-e", "frame.number"];
        args.extend_from_slice(&["-e", "tcp.stream"]);
        for e in extra {
            args.extend_from_slice(&["-e", e]);
        }
        run("tshark", &args)
    };
    let dsacks = fields(
        &format!("({dsacker}) && tcp.options.sack.dsack_le"),
        &["tcp.options.sack.dsack_le", "tcp.options.sack.dsack_re"],
    );
    let sent = fields(
        &format!("!({dsacker}) && (tcp.len > 0 || tcp.flags.fin == 1)"),
        &["tcp.seq", "tcp.nxtseq"],
    );
    // [`unexplained_dsacks`] takes (frame, stream, seq, length) rows.
    let segments: String = sent
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [frame, stream, seq, next] = f[..] else {
                return None;
            };
            let len = next
                .trim()
                .parse::<u64>()
                .ok()?
                .checked_sub(seq.trim().parse::<u64>().ok()?)?;
            Some(format!("{frame}\t{stream}\t{seq}\t{len}\n"))
        })
        .collect();
    if dsacks.trim().is_empty() {
        return vec![format!("a D-SACK warning without D-SACK fields in {p}")];
    }
    unexplained_dsacks(&dsacks, &segments)
}

/// Expert-info rows of `section` ("Errors", "Warns") about the network
/// and transport layers. Application dissectors guessing at random test
/// payloads (Thrift, say) are not the stack's business.
pub fn transport_items(expert: &str, section: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in expert.lines() {
        if line.starts_with(&format!("{section} (")) {
            inside = true;
            continue;
        }
        if inside && !line.starts_with(' ') && !line.starts_with('=') && !line.trim().is_empty() {
            inside = false;
        }
        if inside {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let layers = ["TCP", "IPv4", "IP", "ICMP", "UDP", "IPv6", "ICMPv6"];
            if cols.len() >= 3 && layers.contains(&cols[2]) {
                rows.push(line.trim().to_string());
            }
        }
    }
    rows
}

/// Validates a capture with tshark: checksums verified, no expert-info
/// errors at all, no warnings on any packet tunstack sent, and every
/// connection opens SYN → SYN-ACK → ACK. Call after the stack has stopped
/// (so the capture is flushed).
///
/// Warnings on the kernel's packets are left out on purpose: Linux may
/// send a TCP checksum of 0xffff where 0x0000 is equally valid (RFC 1624),
/// which Wireshark reports as a warning.
pub fn check_capture(pcap: &Path) {
    check_capture_from(pcap, "ip.src==10.0.0.2");
}

/// [`check_capture`] of a capture over `family`.
pub fn check_capture_family(pcap: &Path, family: Family) {
    check_capture_from(pcap, &family.ours_filter());
}

/// tshark's expert report of `pcap` with IP and TCP checksums verified
/// (`tshark -r F -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -q
/// -z expert`).
pub fn tshark_expert(pcap: &Path) -> String {
    run(
        "tshark",
        &[
            "-r",
            pcap.to_str().expect("utf-8 path"),
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-q",
            "-z",
            "expert",
        ],
    )
}

/// [`check_capture`] with `ours` the display filter for tunstack's own
/// packets (`ipv6.src==fd00::2` for an IPv6 capture).
pub fn check_capture_from(pcap: &Path, ours_filter: &str) {
    let p = pcap.to_str().unwrap();
    let ours_expert = format!("expert,{ours_filter}");
    let checks = [
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-q",
    ];
    let expert = tshark_expert(pcap);
    assert!(
        transport_items(&expert, "Errors").is_empty(),
        "capture {p} has errors:\n{expert}"
    );
    let mut ours = vec!["-r", p];
    ours.extend_from_slice(&checks);
    ours.extend_from_slice(&["-z", &ours_expert]);
    let expert = run("tshark", &ours);
    // A D-SACK (RFC 2883) is Wireshark's "D-SACK Sequence" warning; it is
    // right only when the peer really sent those bytes twice (its RTO or
    // loss probe fired because our ACK was late): each block is checked
    // against the peer's segments below. Every other warning fails.
    let warns = transport_items(&expert, "Warns");
    let other: Vec<&String> = warns
        .iter()
        .filter(|w| !w.contains("D-SACK Sequence"))
        .collect();
    assert!(
        transport_items(&expert, "Errors").is_empty() && other.is_empty(),
        "our packets in {p} have warnings:\n{expert}"
    );
    if other.len() < warns.len() {
        let unexplained = unexplained_dsacks_in(pcap, ours_filter);
        assert!(
            unexplained.is_empty(),
            "D-SACKs in {p} for bytes the peer did not send twice: {unexplained:?}\n{expert}"
        );
    }
    let rows = run(
        "tshark",
        &[
            "-r",
            p,
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.flags.ack",
        ],
    );
    let mut seen: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    for l in rows.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() == 3 {
            let v = seen.entry(f[0].to_string()).or_default();
            let row = (f[1].to_string(), f[2].to_string());
            // A retransmitted SYN (e.g. after a full listen queue) repeats
            // the opening step; it does not change the order.
            if v.len() < 3 && v.last() != Some(&row) {
                v.push(row);
            }
        }
    }
    assert!(!seen.is_empty(), "no TCP in {p}");
    for (stream, first) in &seen {
        let want = [("1", "0"), ("1", "1"), ("0", "1")];
        let got: Vec<(&str, &str)> = first
            .iter()
            .map(|(s, a)| (s.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            got, want,
            "stream {stream} in {p} does not open SYN, SYN-ACK, ACK"
        );
    }
}

/// The D-SACK rows (`frame\tstream\tle\tre`, tshark fields of our
/// packets) not backed by the peer's data rows (`frame\tstream\tseq\tlen`):
/// every byte of a D-SACK block must have arrived from the peer at least
/// twice before the frame that reports it (RFC 2883 §4: a D-SACK reports
/// a duplicate). Sequence numbers are tshark's relative ones, the same
/// base in both row sets.
pub fn unexplained_dsacks(dsacks: &str, peer: &str) -> Vec<String> {
    let num = |s: &str| s.trim().parse::<u64>().ok();
    let segs: Vec<(u64, &str, u64, u64)> = peer
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [frame, stream, seq, len] = f[..] else {
                return None;
            };
            Some((num(frame)?, stream, num(seq)?, num(seq)? + num(len)?))
        })
        .collect();
    let mut bad = Vec::new();
    for l in dsacks.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let parsed = match f[..] {
            [frame, stream, le, re] => {
                // tshark lists only the first block's edges here.
                let first = |v: &str| v.split(',').next().and_then(num);
                num(frame)
                    .zip(first(le))
                    .zip(first(re))
                    .map(|((fr, le), re)| (fr, stream, le, re))
            }
            _ => None,
        };
        let Some((frame, stream, le, re)) = parsed else {
            bad.push(l.to_string());
            continue;
        };
        let before: Vec<(u64, u64)> = segs
            .iter()
            .filter(|s| s.0 < frame && s.1 == stream && s.2 < re && s.3 > le)
            .map(|s| (s.2, s.3))
            .collect();
        // Every piece between segment edges is covered twice.
        let mut edges: Vec<u64> = before.iter().flat_map(|&(a, b)| [a, b]).collect();
        edges.extend([le, re]);
        edges.retain(|&e| (le..=re).contains(&e));
        edges.sort_unstable();
        edges.dedup();
        let twice = le < re
            && edges.windows(2).all(|w| {
                before
                    .iter()
                    .filter(|&&(a, b)| a <= w[0] && b >= w[1])
                    .count()
                    >= 2
            });
        if !twice {
            bad.push(l.to_string());
        }
    }
    bad
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

/// Loads an nftables ruleset from text (`nft -f -`).
pub fn nft(rules: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("nft stdin")
        .write_all(rules.as_bytes())
        .expect("write to nft");
    assert!(
        child.wait().expect("nft").success(),
        "nft rejected:\n{rules}"
    );
}

/// Packets counted by the named counter `name` of table `table` in
/// nftables family `family`.
pub fn nft_counter(family: &str, table: &str, name: &str) -> u64 {
    let out = run("nft", &["list", "counter", family, table, name]);
    out.split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {out}"))
}

/// A second, named namespace for a kernel peer one hop behind the test's
/// namespace, deleted (with whatever runs in it) on drop:
///
/// ```text
///  peer ns: 10.0.1.1 ──veth── 10.0.1.2 test ns 10.0.0.1 ──tun0── tunstack 10.0.0.2
///           fd00:1::1         fd00:1::2       fd00::1               fd00::2
/// ```
///
/// The test's namespace forwards both families between veth (`vt` on
/// its side, `vp` on the peer's) and tun0.
pub struct PeerNs(pub String);

impl PeerNs {
    /// The peer's address on the veth link.
    pub fn addr(family: Family) -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1)),
        }
    }

    /// Creates the peer namespace `tunstack-TAG-PID-N` and the veth link,
    /// from a thread already in the test's namespace, with `mtu` on the
    /// test namespace's end (the kernel answers bigger packets from
    /// tunstack with "fragmentation needed" or Packet Too Big; the peer's
    /// own end stays at 1500, so its MSS does not shrink our segments
    /// first).
    pub fn create(tag: &str, mtu: u32) -> PeerNs {
        // N tells apart the peers of tests running in parallel.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let peer = PeerNs(format!("tunstack-{tag}-{}-{n}", std::process::id()));
        run("ip", &["netns", "add", &peer.0]);
        // No duplicate address detection on the veth link: addresses are
        // usable at once (a fresh namespace's defaults apply to links
        // created afterwards).
        run("sysctl", &["-qw", "net.ipv6.conf.default.accept_dad=0"]);
        peer.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        let mtu = mtu.to_string();
        run(
            "ip",
            &[
                "link", "add", "vt", "mtu", &mtu, "type", "veth", "peer", "name", "vp", "netns",
                &peer.0,
            ],
        );
        run("ip", &["addr", "add", "10.0.1.2/24", "dev", "vt"]);
        run("ip", &["addr", "add", "fd00:1::2/64", "dev", "vt", "nodad"]);
        run("ip", &["link", "set", "vt", "up"]);
        run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        run("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"]);
        peer.exec(&["ip", "link", "set", "lo", "up"]);
        peer.exec(&["ip", "addr", "add", "10.0.1.1/24", "dev", "vp"]);
        peer.exec(&["ip", "addr", "add", "fd00:1::1/64", "dev", "vp", "nodad"]);
        peer.exec(&["ip", "link", "set", "vp", "up"]);
        peer.exec(&["ip", "route", "add", "10.0.0.0/24", "via", "10.0.1.2"]);
        peer.exec(&["ip", "-6", "route", "add", "fd00::/64", "via", "fd00:1::2"]);
        peer
    }

    /// Runs `args` in the peer namespace to completion.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["netns", "exec", self.0.as_str()];
        v.extend_from_slice(args);
        run("ip", &v)
    }
}

impl Drop for PeerNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.0])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").arg(pid).status();
                }
            });
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
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
