//! IPv6 through tun0 against the kernel's own stack in a private
//! namespace (kernel fd00::1, tunstack fd00::2): nginx on `[::]:80`
//! serves 10 MiB to tunstack's TCP with the capture clean in tshark's
//! expert analysis and drawn by the ladder; the kernel's curl downloads 50 MiB from
//! `tunstack serve` over IPv6; UDP echoes both ways; one listener takes
//! both families, and a v6-only one refuses IPv4. (`ping -6` and the
//! other ICMPv6 exchanges are in icmp.rs, beside their IPv4 twins.)

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::process::Command;
use std::time::{Duration, Instant};
use tunstack::{TcpListener, TcpStream, UdpSocket};

fn v6(ip: std::net::Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))
}

/// `GET path` over a fresh connection with `Connection: close`; returns
/// the status line and the body.
fn http_get(stack: &tunstack::Stack, to: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(stack, &to, Duration::from_secs(10)).expect("connect");
    // One write, as an HTTP client sends its head: `write!` on the bare
    // stream would send each formatted piece as its own segment.
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: [{}]\r\nConnection: close\r\n\r\n",
        to.ip()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read");
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head.lines().next().unwrap_or("").to_string();
    (status, all[split + 4..].to_vec())
}

/// Expert-info rows of `section` in tshark's summary.
fn section_count(expert: &str, section: &str) -> usize {
    expert
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{section} ("))
                .and_then(|r| r.split(')').next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn nginx_on_v6_any_serves_ten_mebibytes_and_the_capture_is_clean() {
    let dir = TempDir::new("v6nginx");
    let (stack, pcap) = netns_captured(&dir);
    let data = random_bytes(10 << 20, 6);
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("blob.bin"), &data).unwrap();
    let _nginx = nginx(
        dir.path(),
        64,
        &format!(
            "server {{ listen [::]:80 ipv6only=on; root {}; }}",
            www.display()
        ),
    );
    wait_for_listener(v6(KERNEL6, 80));
    let (status, body) = http_get(&stack, v6(KERNEL6, 80), "/blob.bin");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body.len(), data.len());
    assert_eq!(sha256(&body), sha256(&data), "sha-identical over IPv6");
    let stats = stack.stats();
    assert!(stats.tcp_segments_in > 7000, "{stats:?}");
    assert!(stack.shutdown(Duration::from_secs(5)));
    // Every packet of the capture is IPv6 TCP or ICMPv6 (no IPv4 at all),
    // and Wireshark finds nothing to warn about.
    let ipv4 = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "ip",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    assert_eq!(ipv4.trim(), "", "no IPv4 in an IPv6 transfer");
    let expert = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-q",
            "-z",
            "expert",
        ],
    );
    let (warns, errors) = (
        section_count(&expert, "Warns"),
        section_count(&expert, "Errors"),
    );
    eprintln!("v6 capture: {warns} expert warnings, {errors} errors");
    assert_eq!((warns, errors), (0, 0), "tshark expert:\n{expert}");
    check_capture_from(&pcap, "ipv6.src==fd00::2");
    // The ladder reads the IPv6 capture like an IPv4 one.
    let ladder = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(["ladder", "--max", "5"])
        .arg(&pcap)
        .output()
        .expect("tunstack ladder");
    let text = String::from_utf8_lossy(&ladder.stdout);
    assert!(ladder.status.success(), "{text}");
    assert!(
        text.starts_with("[fd00::2]:") && text.contains("[fd00::1]:80"),
        "{text}"
    );
    assert!(text.contains("GET /blob.bin HTTP/1.1"), "{text}");
}

#[test]
fn kernel_curl_downloads_fifty_mebibytes_from_tunstack_serve_over_v6() {
    enter_netns();
    let dir = TempDir::new("v6serve");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let big = random_bytes(50 << 20, 66);
    std::fs::write(www.join("big.bin"), &big).unwrap();
    std::fs::write(www.join("index.html"), "hello over IPv6\n").unwrap();
    let _serve = Daemon::spawn(
        dir.path(),
        env!("CARGO_BIN_EXE_tunstack"),
        &["serve", "--port", "80", "--dir", www.to_str().unwrap()],
    );
    // The binary creates tun0 and fd00::1 on it; wait for its listener.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let probe = Command::new("curl")
            .args(["-g", "-6", "-sS", "--fail", "-m", "2", "http://[fd00::2]/"])
            .output()
            .expect("curl");
        if probe.status.success() {
            assert_eq!(probe.stdout, b"hello over IPv6\n");
            break;
        }
        assert!(Instant::now() < deadline, "tunstack serve never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out_file = dir.path().join("big.out");
    let t0 = Instant::now();
    let out = Command::new("curl")
        .args(["-g", "-6", "-sS", "--fail", "-o"])
        .arg(&out_file)
        .arg("http://[fd00::2]/big.bin")
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs = t0.elapsed().as_secs_f64();
    let got = std::fs::read(&out_file).unwrap();
    assert_eq!(got.len(), big.len());
    assert_eq!(sha256(&got), sha256(&big), "50 MiB intact");
    eprintln!(
        "curl -6: 50 MiB from tunstack serve in {secs:.2} s ({:.0} Mbit/s)",
        400.0 * 1.048576 / secs
    );
}

#[test]
fn udp_echo_over_v6_both_ways() {
    let stack = netns();
    let ours = UdpSocket::bind(&stack, "[::]:7").expect("bind 7");
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..3 {
            let (n, from) = ours.recv_from(&mut buf).expect("recv");
            assert!(from.is_ipv6(), "{from}");
            ours.send_to(&buf[..n], from).expect("send");
        }
        ours
    });
    let kernel = std::net::UdpSocket::bind(v6(KERNEL6, 0)).expect("kernel socket");
    kernel
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for (i, len) in [1usize, 512, 1452].into_iter().enumerate() {
        let msg = random_bytes(len, i as u64 + 1);
        kernel.send_to(&msg, v6(US6, 7)).expect("kernel send");
        let mut buf = [0u8; 2048];
        let (n, from) = kernel.recv_from(&mut buf).expect("echo back");
        assert_eq!(from, v6(US6, 7));
        assert_eq!(&buf[..n], &msg[..], "{len}-byte datagram echoed intact");
    }
    let ours = echo.join().expect("echo thread");
    // And from tunstack to a kernel socket.
    let port = kernel.local_addr().unwrap().port();
    ours.send_to(b"from tunstack", v6(KERNEL6, port)).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = kernel.recv_from(&mut buf).expect("kernel receives");
    assert_eq!((&buf[..n], from), (&b"from tunstack"[..], v6(US6, 7)));
    // Over IPv6 a payload must leave room for the 40-byte header.
    let too_big = vec![0u8; 1453];
    assert!(ours.send_to(&too_big, v6(KERNEL6, port)).is_err());
    assert_eq!(stack.stats().udp6_zero_checksum, 0);
}

#[test]
fn one_listener_takes_both_families_and_a_v6_only_one_refuses_ipv4() {
    let stack = netns();
    let listener = TcpListener::bind(&stack, "[::]:9").expect("bind");
    assert!(!listener.only_v6().unwrap());
    let server = std::thread::spawn(move || {
        let mut peers = Vec::new();
        for _ in 0..2 {
            let (mut s, peer) = listener.accept().expect("accept");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
            assert_eq!(s.peer_addr().unwrap(), peer);
            peers.push((peer, s.local_addr().unwrap()));
        }
        (listener, peers)
    });
    for to in [SocketAddr::V4(SocketAddrV4::new(US, 9)), v6(US6, 9)] {
        let mut k = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("kernel connect {to}: {e}"));
        k.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        k.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
    }
    let (listener, peers) = server.join().expect("server");
    assert_eq!(peers[0].0.ip(), std::net::IpAddr::V4(KERNEL));
    assert_eq!(peers[0].1, SocketAddr::V4(SocketAddrV4::new(US, 9)));
    assert_eq!(peers[1].0.ip(), std::net::IpAddr::V6(KERNEL6));
    assert_eq!(peers[1].1, v6(US6, 9));

    listener.set_only_v6(true).unwrap();
    assert!(listener.only_v6().unwrap());
    // getsockname reports the bound wildcard, v6-only or not (as Linux).
    assert_eq!(
        listener.local_addr().unwrap(),
        v6(std::net::Ipv6Addr::UNSPECIFIED, 9)
    );
    let refused = std::net::TcpStream::connect_timeout(
        &SocketAddr::V4(SocketAddrV4::new(US, 9)),
        Duration::from_secs(5),
    );
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(std::net::TcpStream::connect_timeout(&v6(US6, 9), Duration::from_secs(5)).is_ok());
}

#[test]
fn tunstack_connects_to_the_kernel_over_v6_with_an_mss_of_mtu_minus_60() {
    let stack = netns();
    let kernel = std::net::TcpListener::bind(v6(KERNEL6, 0)).expect("kernel listener");
    let port = kernel.local_addr().unwrap().port();
    let data = random_bytes(1 << 20, 9);
    let expect = data.clone();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = kernel.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        (peer, got)
    });
    let mut s = TcpStream::connect(&stack, v6(KERNEL6, port)).expect("connect over v6");
    assert_eq!(s.local_addr().unwrap().ip(), std::net::IpAddr::V6(US6));
    // Linux advertises MTU − 60 = 1440 over IPv6, as we do; with
    // timestamps on (Linux's default) each segment carries 12 bytes of
    // options, so 1428 bytes of data.
    assert_eq!(s.info().unwrap().mss, 1428);
    s.write_all(&data).unwrap();
    drop(s);
    let (peer, got) = server.join().unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::V6(US6));
    assert_eq!(sha256(&got), sha256(&expect));
}
