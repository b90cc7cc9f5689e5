//! Servers that never finish, against `tunstack get` in a private
//! namespace: one trickling its response a byte per second (slowloris),
//! one sending an endless header, one that never reads what we send (a
//! window shut forever). Each ends in bounded time with a clear error and
//! exit code 1, and tunstack's peak RSS stays within [`EXTRA_RSS_KIB`] of
//! the same command against a closed port (the program's own code and
//! start-up, which grow with the binary, not with what the server sends):
//! the response head is capped, and the send buffer grows with the
//! congestion window only up to its maximum (4 MiB), whatever the upload.
//! Over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`).

mod common;

use common::*;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Most resident memory a `tunstack get` may add against any of these
/// servers over the same `get` refused at once (KiB).
const EXTRA_RSS_KIB: u64 = 12 * 1024;

/// Runs `tunstack args…` and checks its peak RSS against `baseline`
/// (KiB) plus the bound.
fn tunstack(dir: &Path, baseline: u64, args: &[&str]) -> Output {
    let (out, peak) = tunstack_peak_rss(env!("CARGO_BIN_EXE_tunstack"), dir, args);
    eprintln!("tunstack {args:?}: peak RSS {peak} KiB (baseline {baseline} KiB)");
    assert!(
        peak > 0 && peak <= baseline + EXTRA_RSS_KIB,
        "tunstack {args:?}: peak RSS {peak} KiB (bound {baseline} + {EXTRA_RSS_KIB} KiB)"
    );
    out
}

/// Hostile HTTP servers on the kernel side, on both families (one
/// dual-stack socket each): port 8001 trickles a valid response one byte
/// per second; 8002 sends a status line and then header lines forever;
/// 8003 accepts and never reads.
const SERVERS: &str = r#"
import socket, threading, time
def serve(port, handler):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()
def slowloris(c):
    try:
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello":
            c.send(bytes([b]))
            time.sleep(1)
    except OSError:
        pass
def endless(c):
    try:
        c.send(b"HTTP/1.1 200 OK\r\n")
        while True:
            c.send(b"X-Padding: " + b"a" * 1000 + b"\r\n")
    except OSError:
        pass
def deaf(c):
    time.sleep(3600)
for port, h in ((8001, slowloris), (8002, endless), (8003, deaf)):
    threading.Thread(target=serve, args=(port, h), daemon=True).start()
time.sleep(3600)
"#;

fn hostile_servers_end_in_bounded_time_with_a_clear_error(f: Family) {
    enter_netns();
    let dir = TempDir::new("bounds");
    std::fs::write(dir.path().join("servers.py"), SERVERS).unwrap();
    let script = dir.path().join("servers.py");
    let _servers = Daemon::spawn(dir.path(), "python3", &[script.to_str().unwrap()]);
    for port in [8001, 8002, 8003] {
        wait_for_listener(f.loopback(port));
    }

    // The baseline: the same program, refused by a closed port.
    let base = f.kernel_url(8009);
    let (out, baseline) = tunstack_peak_rss(
        env!("CARGO_BIN_EXE_tunstack"),
        dir.path(),
        &["get", &format!("{base}/")],
    );
    assert_eq!(out.status.code(), Some(7), "refused");
    assert!(baseline > 0);

    // Slowloris: every byte comes within any read timeout, so only the
    // overall limit ends it.
    let t = Instant::now();
    let out = tunstack(
        dir.path(),
        baseline,
        &[
            "get",
            "--max-time",
            "3",
            &format!("{}/", f.kernel_url(8001)),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(err.contains("timed out (--max-time)"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());

    // An endless header: the head is capped (64 KiB), no limit needed.
    let out = tunstack(
        dir.path(),
        baseline,
        &["get", &format!("{}/", f.kernel_url(8002))],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("response head too large"), "{err}");

    // A server that never reads: a 64 MiB upload fills its window, which
    // stays shut; the overall limit ends it (tunstack keeps probing the
    // closed window meanwhile, RFC 9293 §3.8.6.1).
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, random_bytes(64 << 20, 3)).unwrap();
    let at = format!("@{}", file.display());
    let t = Instant::now();
    let out = tunstack(
        dir.path(),
        baseline,
        &[
            "get",
            "--max-time",
            "3",
            "--data-binary",
            &at,
            &format!("{}/", f.kernel_url(8003)),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(28), "{err}");
    assert!(err.contains("timed out (--max-time)"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

per_family!(hostile_servers_end_in_bounded_time_with_a_clear_error,);
