//! Dual-stack pieces of issue 18 that need IPv6 on tun0 (the kernel side
//! fd00::1, tunstack fd00::2): on a stack without IPv6 these tests fail,
//! and they are meant to (never skipped).
//!
//! - dnsmasq answers A and AAAA for one name; with IPv6 working `get`
//!   connects over IPv6; with IPv6 dropped by nftables it falls back to
//!   IPv4 within 300 ms plus one connect time (RFC 8305's 250 ms attempt
//!   delay); `-4` forces IPv4; the DNS server is reachable over IPv6
//!   (`--dns fd00::1`).
//!
//! The kernel's fragmented 4000- and 60000-byte UDP datagrams over IPv6
//! are in fragments.rs, beside their IPv4 twins.

mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

fn tunstack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(args)
        .output()
        .expect("run tunstack")
}

/// dnsmasq answering dual.test with 10.0.0.1 and fd00::1, and nginx on
/// port 80 of both families, in this thread's namespace.
fn servers(dir: &TempDir) -> (Daemon, Daemon) {
    let d = dir.path().display().to_string();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "over either family\n").unwrap();
    let dns = dnsmasq(dir.path(), "10.0.0.1 dual.test\nfd00::1 dual.test\n");
    let web = nginx(
        dir.path(),
        64,
        &format!("server {{ listen 80; listen [::]:80; root {d}/www; }}"),
    );
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80));
    (dns, web)
}

fn get(extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["get", "-v", "--hosts-file", "/dev/null"];
    args.extend_from_slice(extra);
    args.push("http://dual.test/index.html");
    let out = tunstack(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number before " ms" in the first line of `stderr` containing
/// `marker`.
fn millis_after(stderr: &str, marker: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker:?} in {stderr}"));
    let tail = &line[line.find(marker).unwrap() + marker.len()..];
    let num: String = tail
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse()
        .unwrap_or_else(|_| panic!("no number after {marker:?}: {line}"))
}

#[test]
fn get_prefers_ipv6_when_it_works_and_dash_4_forces_ipv4() {
    enter_netns();
    let dir = TempDir::new("v6-prefer");
    let _servers = servers(&dir);
    let (code, body, err) = get(&["--dns", "10.0.0.1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(body, "over either family\n");
    assert!(err.contains("*   Trying [fd00::1]:80..."), "{err}");
    assert!(
        err.contains("* IPv6 won: [fd00::1]:80 connected first"),
        "{err}"
    );
    assert!(err.contains("> Host: dual.test"), "{err}");
    let (code, body, err) = get(&["-4", "--dns", "10.0.0.1"]);
    assert_eq!(
        (code, body.as_str()),
        (Some(0), "over either family\n"),
        "{err}"
    );
    assert!(!err.contains("fd00::1"), "{err}");
    assert!(err.contains("* IPv4 won: 10.0.0.1:80"), "{err}");
    // The DNS server over IPv6, and -6 on its own.
    let (code, _, err) = get(&["-6", "--dns", "fd00::1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("(from the DNS server [fd00::1]:53)"), "{err}");
    assert!(err.contains("* IPv6 won: [fd00::1]:80"), "{err}");
    assert!(!err.contains("Trying 10.0.0.1"), "{err}");
    // An IPv6 literal URL with a port, and its Host header.
    let out = tunstack(&["get", "-v", "http://[fd00::1]:80/index.html"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("> Host: [fd00::1]"), "{err}");
}

#[test]
fn with_ipv6_dropped_get_falls_back_to_ipv4_after_the_attempt_delay() {
    enter_netns();
    let dir = TempDir::new("v6-dropped");
    let _servers = servers(&dir);
    // One IPv4 connect time, for the bound below.
    let (code, _, err) = get(&["-4", "--dns", "10.0.0.1"]);
    assert_eq!(code, Some(0), "{err}");
    let connect_ms = millis_after(&err, "Connected to 10.0.0.1:80 from 10.0.0.2:");
    // The SYNs to [fd00::1]:80 vanish.
    run("nft", &["add", "table", "inet", "he"]);
    run(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "he",
            "input",
            "{ type filter hook input priority 0; }",
        ],
    );
    run(
        "nft",
        &[
            "add", "rule", "inet", "he", "input", "ip6", "daddr", "fd00::1", "tcp", "dport", "80",
            "drop",
        ],
    );
    let (code, body, err) = get(&["--dns", "10.0.0.1"]);
    assert_eq!(
        (code, body.as_str()),
        (Some(0), "over either family\n"),
        "{err}"
    );
    assert!(
        err.contains("* IPv6 connect to [fd00::1]:80 timed out after 2"),
        "the attempt delay passed: {err}"
    );
    assert!(err.contains("trying 10.0.0.1:80"), "{err}");
    let won = millis_after(&err, "connected first, after");
    assert!(err.contains("* IPv4 won: 10.0.0.1:80"), "{err}");
    // The bound: IPv4 within 300 ms plus one connect time (a
    // same-run comparison, with the connect time measured just above).
    assert!(
        won <= 300.0 + connect_ms,
        "IPv4 won after {won} ms; one connect takes {connect_ms} ms: {err}"
    );
}
