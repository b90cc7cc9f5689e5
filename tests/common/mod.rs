//! Shared harness for the root integration tests.
//!
//! Each test calls [`netns`] first: it moves the *current test thread*
//! into a fresh network namespace (`unshare(CLONE_NEWNET)`), brings `lo`
//! up, and creates `tun0` there through tunstack itself (kernel side
//! 10.0.0.1/24, tunstack 10.0.0.2). Threads and processes the test spawns
//! afterwards inherit the namespace, so tests run in parallel without
//! seeing each other and no packet ever leaves the namespace.
//!
//! The tests need root. They fail when run without it, unless
//! `TUNSTACK_SKIP_NETNS=1` is set (for unprivileged development boxes
//! only; CI runs as root and never sets it).

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

/// The kernel's address on tun0.
pub const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// tunstack's address.
pub const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// True if the test may run; false (with a message) only when the
/// developer explicitly opted out of root tests.
pub fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("TUNSTACK_SKIP_NETNS").is_some_and(|v| v == "1") {
        eprintln!("TUNSTACK_SKIP_NETNS=1: skipping a root-only network namespace test");
        return false;
    }
    panic!("integration tests need root (sudo scripts/test.sh); set TUNSTACK_SKIP_NETNS=1 to skip them on a dev box");
}

/// Moves this thread into a new network namespace with `lo` up.
pub fn enter_netns() {
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

/// A namespace with a running stack on tun0. Returns `None` when skipping.
pub fn netns() -> Option<Stack> {
    netns_with(Config::default())
}

/// Like [`netns`] with a custom stack configuration.
pub fn netns_with(config: Config) -> Option<Stack> {
    if !root_or_skip() {
        return None;
    }
    enter_netns();
    let stack = Stack::open_tun(&TunConfig::default(), config).expect("open tun0");
    Some(stack)
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
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.name;
    }
}

/// Waits until the kernel side accepts TCP connections on `addr`.
pub fn wait_for_listener(addr: SocketAddrV4) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect_timeout(&SocketAddr::V4(addr), Duration::from_millis(200))
            .is_ok()
        {
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
