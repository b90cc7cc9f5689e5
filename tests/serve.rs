//! `tunstack serve` against the kernel's clients in a private namespace:
//! curl downloads 100 MiB and 1,000 small files over keep-alive, bad paths
//! get 400/404/405, 1,000 concurrent kernel clients use the Poll-based echo
//! server at once, and the binary stops gracefully on SIGINT. The bad
//! requests and the 1,000 clients run over IPv4 and IPv6 (`NAME::v4`,
//! `NAME::v6`); the kernel's curl downloading 50 MiB over IPv6 is in
//! ipv6.rs.

mod common;

// The server is part of the binary, not the library: compiled here from
// its source (with the path checks it shares with `get`), against the
// library's `net` as in the binary, so a test can stop it with a flag and
// read its counters.
#[path = "../src/cli/paths.rs"]
mod paths;
#[allow(dead_code)] // the signal handling only the binary installs
#[path = "../src/cli/serve.rs"]
mod serve;

use common::*;
use serve::{Mode, ServeStats};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunstack::{net, Stack};

/// Runs `serve::run` on a thread until the returned flag is set, with
/// its listener on `at`.
fn serving(
    stack: Stack,
    at: std::net::SocketAddr,
    mode: Mode,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<(ServeStats, Stack)>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Bound before any client starts, so no early connection is refused.
    let listener = tunstack::TcpListener::bind(&stack, at).expect("bind");
    let t = std::thread::spawn(move || {
        let stats = serve::run_listener(&stack, listener, &mode, Some(&flag)).expect("serve");
        (stats, stack)
    });
    (stop, t)
}

/// curl with `args`; `-g` lets IPv6 literals in brackets through.
fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .arg("-g")
        .args(args)
        .output()
        .expect("curl")
}

fn site(dir: &std::path::Path) -> PathBuf {
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("small")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>tunstack serve</h1>\n").unwrap();
    for i in 0..1000 {
        std::fs::write(
            www.join("small").join(format!("{i}.txt")),
            format!("file number {i}\n"),
        )
        .unwrap();
    }
    www
}

#[test]
fn curl_downloads_100_mib_and_1000_small_files_over_keep_alive() {
    let stack = netns();
    let dir = TempDir::new("serve");
    let www = site(dir.path());
    let big = random_bytes(100 << 20, 77);
    std::fs::write(www.join("big.bin"), &big).unwrap();
    let (stop, server) = serving(stack, Family::V4.any(80), Mode::Files(www.clone()));

    let out_file = dir.path().join("big.out");
    let t0 = Instant::now();
    let out = curl(&[
        "-sS",
        "--fail",
        "-o",
        out_file.to_str().unwrap(),
        "http://10.0.0.2/big.bin",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs = t0.elapsed().as_secs_f64();
    let got = std::fs::read(&out_file).unwrap();
    assert_eq!(sha256(&got), sha256(&big));
    eprintln!(
        "curl: 100 MiB from tunstack serve in {secs:.2} s ({:.0} Mbit/s)",
        800.0 * 1.048576 / secs
    );

    // 1,000 small files in one curl invocation: it reuses the connection.
    let urls: Vec<String> = (0..1000)
        .map(|i| format!("http://10.0.0.2/small/{i}.txt"))
        .collect();
    let mut args = vec![
        "-sS",
        "--fail",
        "-w",
        "%{http_code} %{num_connects}\\n",
        "-o",
        "/dev/null",
    ];
    for u in &urls {
        args.push(u);
        args.push("-o");
        args.push("/dev/null");
    }
    args.pop();
    args.pop();
    let out = curl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert!(lines.iter().all(|l| l.starts_with("200 ")), "all 200 OK");
    let connects: u32 = lines
        .iter()
        .map(|l| {
            l.split(' ')
                .nth(1)
                .unwrap_or("0")
                .parse::<u32>()
                .unwrap_or(0)
        })
        .sum();
    assert!(
        connects <= 2,
        "keep-alive reused the connection ({connects} connects for 1000 files)"
    );
    let one = curl(&["-sS", "http://10.0.0.2/small/123.txt"]);
    assert_eq!(String::from_utf8_lossy(&one.stdout), "file number 123\n");

    stop.store(true, Ordering::SeqCst);
    let (stats, stack) = server.join().unwrap();
    assert!(stats.requests >= 1002, "{stats:?}");
    assert!(stack.shutdown(Duration::from_secs(5)));
}

fn bad_requests_get_400_404_405_and_head_has_no_body(f: Family) {
    let dir = TempDir::new("serve-bad");
    let (stack, pcap) = netns_captured(&dir);
    let www = site(dir.path());
    std::fs::write(dir.path().join("secret.txt"), "outside the root").unwrap();
    let (stop, server) = serving(stack, f.any(8080), Mode::Files(www));
    let base = f.us_url(8080);
    let url = |path: &str| format!("{base}{path}");
    let code = |args: &[&str]| {
        let mut a = vec!["-s", "-o", "/dev/null", "-w", "%{http_code}"];
        a.extend_from_slice(args);
        String::from_utf8_lossy(&curl(&a).stdout).to_string()
    };
    assert_eq!(code(&[&url("/")]), "200");
    assert_eq!(code(&[&url("/nope.html")]), "404");
    assert_eq!(code(&["--path-as-is", &url("/../secret.txt")]), "400");
    assert_eq!(code(&[&url("/%2e%2e/secret.txt")]), "400");
    assert_eq!(code(&["-X", "DELETE", &url("/index.html")]), "405");
    let head = curl(&["-s", "-I", &url("/index.html")]);
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("Content-Length: 24"), "{text}");
    assert!(text.contains("Content-Type: text/html"), "{text}");
    stop.store(true, Ordering::SeqCst);
    let (_, stack) = server.join().unwrap();
    assert!(stack.shutdown(Duration::from_secs(5)));
    check_capture_family(&pcap, f);
}

fn echo_server_on_poll_serves_1000_concurrent_kernel_clients(f: Family) {
    let dir = TempDir::new("serve-echo");
    let (stack, pcap) = netns_captured(&dir);
    // 1,000 kernel sockets in this process.
    let lim = libc::rlimit {
        rlim_cur: 8192,
        rlim_max: 8192,
    };
    // SAFETY: setrlimit with a valid struct; raising within root's limits.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let (stop, server) = serving(stack, f.any(7), Mode::Echo);
    const N: usize = 1000;
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(N);
    for i in 0..N {
        let mut s = std::net::TcpStream::connect(f.us_at(7)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let msg = format!("client {i} says hello {}", "x".repeat(i % 200));
        s.write_all(msg.as_bytes()).unwrap();
        clients.push((s, msg));
    }
    // All 1,000 are open at once before any is read back.
    for (s, msg) in &mut clients {
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
    for (s, _) in &clients {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    for (mut s, _) in clients {
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the server closes after our FIN");
    }
    assert!(t0.elapsed() < Duration::from_secs(120));
    stop.store(true, Ordering::SeqCst);
    let (stats, stack) = server.join().unwrap();
    assert!(stats.peak_connections >= N, "{stats:?}");
    assert!(stack.shutdown(Duration::from_secs(10)));
    check_capture_family(&pcap, f);
    eprintln!(
        "{f:?} echo: {} connections, peak {} at once, in {:.2} s",
        stats.connections,
        stats.peak_connections,
        t0.elapsed().as_secs_f64()
    );
}

per_family!(
    bad_requests_get_400_404_405_and_head_has_no_body,
    echo_server_on_poll_serves_1000_concurrent_kernel_clients,
);

#[test]
fn serve_binary_stops_gracefully_on_sigint() {
    enter_netns();
    let dir = TempDir::new("serve-bin");
    let www = site(dir.path());
    let mut child = tunstack_cmd()
        .args(["serve", "--port", "8081", "--dir", www.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = curl(&["-s", "--max-time", "1", "http://10.0.0.2:8081/small/7.txt"]);
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout), "file number 7\n");
            break;
        }
        assert!(Instant::now() < deadline, "server never came up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, err) = interrupt(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("stopped after"), "{err}");
    let bad = tunstack_cmd()
        .args(["serve", "--dir", "/does/not/exist"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
