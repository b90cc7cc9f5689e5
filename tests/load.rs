//! `tunstack serve` under a real load generator and at scale, from the
//! kernel side of tun0 in a private namespace, as a user would run it:
//!
//! - ApacheBench (`ab`): 500 clients, 20,000 requests for a 10 KiB file,
//!   a new connection per request. Nothing fails, every answer is 200,
//!   and no client ever retransmits a SYN (the kernel's
//!   `TcpExtTCPSynRetrans` in the namespace): a dropped SYN costs a whole
//!   second, which is what made the tail of this load seconds long.
//! - 10,000 idle connections to `serve --echo` (1 byte echoed on each)
//!   add at most 16 KiB of resident memory each to the server. The server
//!   runs with `MALLOC_PERTURB_`, so glibc writes every byte it hands out
//!   (allocated memory is resident at once), after echoing 8 MiB on one
//!   connection first: its large frees raise glibc's mmap threshold, so
//!   later large blocks come from the heap. The bound then holds for what
//!   the stack allocates, not for what a fresh process happens to touch.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::SocketAddrV4;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn tunstack() -> &'static str {
    env!("CARGO_BIN_EXE_tunstack")
}

/// The namespace's absolute value of a kernel counter (nstat).
fn nstat(name: &str) -> u64 {
    let out = run("nstat", &["-az", name]);
    out.lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some(name)).then(|| f.next().and_then(|v| v.parse().ok()))
        })
        .flatten()
        .unwrap_or_else(|| panic!("nstat has no {name}: {out}"))
}

/// `ab`'s value for a line starting with `label` (first number after it).
fn ab_field(report: &str, label: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS of the server")
}

/// Sets the soft descriptor limit to `n` (within the hard limit: a
/// container may not let even root raise that).
/// Raises (never lowers) this process's descriptor limit to `n`. The
/// tests of this file run in parallel in one process, which has one limit:
/// a lock keeps one test's read-modify-write from undoing another's.
fn raise_fd_limit(n: u64) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert!(
        lim.rlim_max >= n,
        "this test needs {n} descriptors; the hard limit is {}",
        lim.rlim_max
    );
    if lim.rlim_cur >= n {
        return;
    }
    lim.rlim_cur = n;
    // SAFETY: setrlimit with a valid struct; raising within root's limits.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(
        rc,
        0,
        "RLIMIT_NOFILE {n}: {}",
        std::io::Error::last_os_error()
    );
}

fn www(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("10k.bin"), random_bytes(10 * 1024, 21)).unwrap();
    root
}

#[test]
fn ab_500_clients_20000_requests_no_failure_and_no_syn_retransmitted() {
    let dir = TempDir::new("load-ab");
    enter_netns();
    let root = www(dir.path());
    raise_fd_limit(4096);
    let server = Daemon::spawn(
        dir.path(),
        tunstack(),
        &["serve", "--dir", root.to_str().unwrap(), "--port", "80"],
    );
    wait_for_listener(SocketAddrV4::new(US, 80));
    let syn_retrans = nstat("TcpExtTCPSynRetrans");
    let out = Command::new("ab")
        .args(["-q", "-n", "20000", "-c", "500", "-s", "30"])
        .arg(format!("http://{US}/10k.bin"))
        .output()
        .expect("ab (apache2-utils) is installed by scripts/test.sh");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ab failed: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let retransmitted = nstat("TcpExtTCPSynRetrans") - syn_retrans;
    let longest = ab_field(&report, "100%").unwrap_or(f64::NAN);
    eprintln!(
        "ab -n 20000 -c 500: {} req/s, p50 {} ms, p99 {} ms, longest {longest} ms; {retransmitted} SYNs retransmitted",
        ab_field(&report, "Requests per second:").unwrap_or(f64::NAN),
        ab_field(&report, "50%").unwrap_or(f64::NAN),
        ab_field(&report, "99%").unwrap_or(f64::NAN),
    );
    assert_eq!(
        ab_field(&report, "Complete requests:"),
        Some(20000.0),
        "{report}"
    );
    assert_eq!(ab_field(&report, "Failed requests:"), Some(0.0), "{report}");
    assert!(!report.contains("Non-2xx"), "every answer is 200: {report}");
    assert_eq!(
        ab_field(&report, "Total transferred:").map(|b| b >= 20000.0 * 10240.0),
        Some(true),
        "every body arrived: {report}"
    );
    // The retransmission timer for a SYN is 1 s: none means no request
    // waited a second for its connection.
    assert_eq!(retransmitted, 0, "SYNs retransmitted under load: {report}");
    drop(server);
    let log = std::fs::read_to_string(
        dir.path()
            .join(format!("{}.log", tunstack().replace('/', "_"))),
    )
    .unwrap_or_default();
    assert!(
        log.contains("0 SYNs dropped (accept queue full), 0 handshake ACKs ignored"),
        "no client was turned away: {log}"
    );
}

#[test]
fn ten_thousand_idle_echo_connections_cost_at_most_16_kib_each() {
    const N: usize = 10_000;
    let dir = TempDir::new("load-rss");
    enter_netns();
    raise_fd_limit(N as u64 + 1024);
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut child = Command::new(tunstack())
        .args(["serve", "--echo", "--port", "7"])
        // glibc writes this byte over every allocation it hands out.
        .env("MALLOC_PERTURB_", "90")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn tunstack serve --echo");
    let pid = child.id();
    let addr = SocketAddrV4::new(US, 7);
    wait_for_listener(addr);
    // 8 MiB through one connection: the rings grow to megabytes and are
    // freed again.
    {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let data = random_bytes(8 << 20, 7);
        let mut r = s.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut back = vec![0u8; 8 << 20];
            r.read_exact(&mut back).map(|_| back)
        });
        s.write_all(&data).unwrap();
        assert!(reader.join().unwrap().expect("echo") == data);
    }
    std::thread::sleep(Duration::from_millis(300));
    let empty = rss_kib(pid);
    let mut conns = Vec::with_capacity(N);
    for i in 0..N {
        let mut s =
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"x").unwrap();
        conns.push(s);
    }
    for s in &mut conns {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    }
    std::thread::sleep(Duration::from_millis(300));
    let held = rss_kib(pid);
    let per_conn = (held.saturating_sub(empty)) as f64 / N as f64;
    eprintln!(
        "serve --echo: {N} idle connections; RSS {empty} KiB empty (after an 8 MiB echo), \
         {held} KiB with them: {per_conn:.1} KiB per connection"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still up"
    );
    assert!(
        per_conn <= 16.0,
        "{per_conn:.1} KiB of RSS per idle connection (bound 16 KiB)"
    );
    drop(conns);
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
}
