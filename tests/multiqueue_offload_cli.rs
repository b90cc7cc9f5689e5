//! The binary on two offload queues (`--queues 2`, offloads on by
//! default): `tunstack get` downloads over one connection per queue and
//! `tunstack serve --echo` carries many kernel clients, each queue's
//! `--stats` line showing batches larger than the MTU and TSO writes;
//! with `--pcap` both queues record into one capture (of `get` and of
//! `serve`) that tshark reads with no expert errors and no warnings on
//! either side's packets but D-SACKs of bytes that really arrived twice. IPv4 and IPv6 (`NAME::v4`,
//! `NAME::v6`).

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const MTU: u64 = 1500;
/// Bytes each download carries.
const BODY: usize = 8 << 20;

/// Counters of one `queue Q: …` line of `--stats`/serve's report.
#[derive(Debug, Default)]
struct QueueLine {
    packets_in: u64,
    bytes_in: u64,
    packets_out: u64,
    bytes_out: u64,
    tso_out: u64,
}

/// Parses `queue Q: A packets in (B bytes), C out (D bytes), E segments
/// in, F out (G TSO), …` lines, in queue order.
fn queue_lines(stderr: &str) -> Vec<QueueLine> {
    let num = |s: &str| {
        s.trim_matches(|c: char| !c.is_ascii_digit())
            .parse::<u64>()
            .ok()
    };
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l
                .trim_start()
                .trim_start_matches("tunstack: ")
                .strip_prefix("queue ")?;
            let w: Vec<&str> = rest.split_whitespace().collect();
            Some(QueueLine {
                packets_in: num(w.get(1)?)?,
                bytes_in: num(w.get(4)?)?,
                packets_out: num(w.get(6)?)?,
                bytes_out: num(w.get(8)?)?,
                tso_out: num(w.get(15)?)?,
            })
        })
        .collect()
}

/// A kernel-side HTTP/1.1 server on `port` (the wildcard address: tun0
/// exists only once tunstack runs) answering one request with `body` and
/// closing; returns the request line it got.
fn serve_once(f: Family, port: u16, body: Arc<Vec<u8>>) -> JoinHandle<String> {
    let l = std::net::TcpListener::bind(f.any(port)).expect("kernel bind");
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("kernel accept");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = read_request_head(&mut s);
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(reply.as_bytes()).expect("reply head");
        s.write_all(&body).expect("reply body");
        s.shutdown(std::net::Shutdown::Write).unwrap();
        String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

/// `tunstack get --queues 2 -v --stats EXTRA… URL1 URL2`, two downloads
/// of [`BODY`] from two kernel ports (two connections, which `connect`
/// puts on the two queues in turn); checks both byte for byte and
/// returns stderr.
fn get_two(f: Family, dir: &Path, extra: &[&str]) -> String {
    let bodies: Vec<Arc<Vec<u8>>> = (0..2)
        .map(|i| Arc::new(random_bytes(BODY, 70 + i)))
        .collect();
    let servers: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| serve_once(f, 8101 + i as u16, Arc::clone(b)))
        .collect();
    let outs: Vec<String> = (0..2)
        .map(|i| dir.join(format!("out{i}")).to_str().unwrap().to_string())
        .collect();
    let urls: Vec<String> = (0..2)
        .map(|i| format!("{}/f{i}", f.kernel_url(8101 + i as u16)))
        .collect();
    let mut args = vec!["get", "--queues", "2", "-v", "--stats"];
    args.extend_from_slice(extra);
    for o in &outs {
        args.extend_from_slice(&["-o", o]);
    }
    args.extend(urls.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(&args)
        .output()
        .expect("run tunstack");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    for (i, s) in servers.into_iter().enumerate() {
        let line = s.join().expect("server");
        assert!(line.starts_with(&format!("GET /f{i} ")), "{line}");
    }
    for (o, b) in outs.iter().zip(&bodies) {
        let got = std::fs::read(o).expect("downloaded file");
        assert_eq!(sha256(&got), sha256(b), "{o}: different bytes");
    }
    err
}

/// `get --queues 2` opens offload queues: each connection's queue reads
/// the kernel's batches whole (more than the MTU per packet on average).
fn get_on_two_offload_queues_reads_batches_on_each(f: Family) {
    enter_netns();
    let dir = TempDir::new("mq-offload-get");
    let err = get_two(f, dir.path(), &[]);
    assert!(
        err.contains("tun0: virtio-net offloads on"),
        "two queues keep the offloads:\n{err}"
    );
    let per = queue_lines(&err);
    assert_eq!(per.len(), 2, "one line per queue:\n{err}");
    for (q, l) in per.iter().enumerate() {
        eprintln!("{f:?} get, queue {q}: {l:?}");
        assert!(
            l.bytes_in > BODY as u64,
            "queue {q} carried a download:\n{err}"
        );
        assert!(
            l.bytes_in / l.packets_in.max(1) > MTU,
            "queue {q} reads no batches:\n{err}"
        );
    }
}

/// `tunstack serve --echo --port 7 --queues 2 EXTRA…` with 16 kernel
/// clients sending 1 MiB each, every echo checked; stops it with SIGINT
/// and returns its stderr.
fn serve_echo(f: Family, extra: &[&str]) -> String {
    let mut args = vec!["serve", "--echo", "--port", "7", "--queues", "2"];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_listener(f.us_at(7));
    for c in kernel_echo_clients(f.us_at(7), 16, 1 << 20, 600) {
        c.join().expect("client");
    }
    let (status, err) = interrupt(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    err
}

/// `serve --echo --queues 2` with many kernel clients sending 1 MiB each:
/// every queue reads batches larger than the MTU and writes TSO batches.
fn serve_on_two_offload_queues_batches_both_ways_on_each(f: Family) {
    enter_netns();
    let err = serve_echo(f, &[]);
    let per = queue_lines(&err);
    assert_eq!(per.len(), 2, "one line per queue:\n{err}");
    for (q, l) in per.iter().enumerate() {
        eprintln!("{f:?} serve, queue {q}: {l:?}");
        assert!(
            l.bytes_in / l.packets_in.max(1) > MTU,
            "queue {q} reads no batches:\n{err}"
        );
        assert!(l.tso_out > 0, "queue {q} wrote no TSO batch:\n{err}");
        assert!(
            l.bytes_out / l.packets_out.max(1) > MTU,
            "queue {q} writes no batches:\n{err}"
        );
    }
}

/// `get --queues 2 --pcap F`: both queues record into one classic pcap
/// that tshark reads with checksums verified and no expert errors or
/// warnings at all (on either side's packets), both connections opening
/// SYN, SYN-ACK, ACK; `--pcap` implies plain queues, as with one queue.
fn pcap_records_every_queue_into_one_clean_capture(f: Family) {
    enter_netns();
    let dir = TempDir::new("mq-pcap");
    let pcap = dir.path().join("mq.pcap");
    // Receive buffers larger than a download: the window never fills,
    // so flow control leaves no warning in a healthy capture.
    let err = get_two(
        f,
        dir.path(),
        &["--pcap", pcap.to_str().unwrap(), "--rcvbuf", "16M"],
    );
    assert!(
        err.contains("tun0: plain TUN"),
        "--pcap: plain queues\n{err}"
    );
    let per = queue_lines(&err);
    assert_eq!(per.len(), 2, "one line per queue:\n{err}");
    assert!(per.iter().all(|l| l.packets_in > 0), "{per:?}");
    let p = clean_capture(&pcap, f);
    // Every packet both queues carried is in the file, once; `--stats`
    // counts before the stack's shutdown, so the last packets of each
    // close (at most a FIN and an ACK each way) are in the file only.
    let frames = run("tshark", &["-r", p, "-T", "fields", "-e", "frame.number"]);
    let recorded = frames.lines().count() as u64;
    let carried: u64 = per.iter().map(|l| l.packets_in + l.packets_out).sum();
    assert!(
        (carried..=carried + 8).contains(&recorded),
        "{recorded} records for {carried} packets: {per:?}"
    );
    let streams = run(
        "tshark",
        &[
            "-r",
            p,
            "-Y",
            "tcp.flags.syn==1 && tcp.flags.ack==0",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ],
    );
    assert_eq!(streams.lines().count(), 2, "two connections:\n{streams}");
}

/// [`check_capture_family`], then the same expert check over every
/// packet, the kernel's too: no errors, and no warnings but D-SACKs for
/// bytes that really arrived twice (under load a sender's loss probe can
/// fire before the ACK it waits for is sent; the receiver then reports
/// the duplicate, RFC 2883). Ours are checked by
/// [`check_capture_family`], the kernel's here against our data segments.
/// Returns the path.
fn clean_capture(pcap: &Path, f: Family) -> &str {
    check_capture_family(pcap, f);
    let p = pcap.to_str().unwrap();
    let expert = tshark_expert(pcap);
    assert!(
        transport_items(&expert, "Errors").is_empty(),
        "errors in {p}:\n{expert}"
    );
    let warns = transport_items(&expert, "Warns");
    assert!(
        warns.iter().all(|w| w.contains("D-SACK Sequence")),
        "warnings in {p}:\n{expert}"
    );
    if !warns.is_empty() {
        let unexplained = unexplained_dsacks_in(pcap, &format!("!({})", f.ours_filter()));
        assert!(
            unexplained.is_empty(),
            "the kernel's D-SACKs in {p} for bytes we did not send twice: {unexplained:?}\n{expert}"
        );
    }
    p
}

/// `serve --dir D --queues 2 --pcap F` with 16 kernel clients each
/// downloading 48 KiB: every queue's connections in one clean capture.
/// (Downloads that fit the kernel client's first window, so flow control
/// leaves no "window full" warning while 16 client threads share the
/// cores; and not the echo, whose writes wait for its client: it closes
/// its receive window on purpose, which tshark warns of too.)
fn pcap_of_serve_on_two_queues_is_clean(f: Family) {
    enter_netns();
    let dir = TempDir::new("mq-pcap-serve");
    let files = dir.path().join("www");
    std::fs::create_dir(&files).unwrap();
    let body = random_bytes(48 << 10, 77);
    std::fs::write(files.join("f"), &body).unwrap();
    let pcap = dir.path().join("serve.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(["serve", "--port", "80", "--queues", "2", "--dir"])
        .arg(&files)
        .arg("--pcap")
        .arg(&pcap)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_listener(f.us_at(80));
    let want = sha256(&body);
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let want = want.clone();
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(f.us_at(80)).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(b"GET /f HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut got = Vec::new();
                s.read_to_end(&mut got).expect("read response");
                let at = got
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("response head");
                assert!(got.starts_with(b"HTTP/1.1 200"), "client {i}");
                assert_eq!(sha256(&got[at + 4..]), want, "client {i}");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let (status, err) = interrupt(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    let per = queue_lines(&err);
    assert_eq!(per.len(), 2, "one line per queue:\n{err}");
    assert!(per.iter().all(|l| l.packets_in > 0), "{per:?}");
    let p = clean_capture(&pcap, f);
    let streams = run(
        "tshark",
        &[
            "-r",
            p,
            "-Y",
            "tcp.flags.syn==1 && tcp.flags.ack==0",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ],
    );
    // wait_for_listener's probe, then the 16 clients.
    assert_eq!(streams.lines().count(), 17, "17 connections:\n{streams}");
}

per_family!(
    pcap_of_serve_on_two_queues_is_clean,
    get_on_two_offload_queues_reads_batches_on_each,
    serve_on_two_offload_queues_batches_both_ways_on_each,
    pcap_records_every_queue_into_one_clean_capture,
);
