//! The `tunstack get` binary end to end: it creates tun0 itself in a
//! private namespace and fetches from `python3 -m http.server` there.

mod common;

use common::*;
use std::net::Ipv4Addr;

#[test]
fn get_prints_the_page_and_exit_codes_follow_the_status() {
    enter_netns();
    let dir = TempDir::new("cli");
    let page = "<!doctype html><title>tunstack</title><p>hello through tun0</p>\n";
    std::fs::write(dir.path().join("index.html"), page).unwrap();
    // 10.0.0.1 exists only once tunstack creates tun0, so bind to all.
    let _server = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);

    let out = tunstack(&["get", "http://10.0.0.1:8000/index.html"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), page);
    assert!(stderr.contains("200 OK"), "status line on stderr: {stderr}");

    // tun0 went away with the first process; the second run creates it again.
    let file = dir.path().join("saved.html");
    let out = tunstack(&[
        "get",
        "-o",
        file.to_str().unwrap(),
        "http://10.0.0.1:8000/index.html",
        "-v",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), page);
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(verbose.contains("> GET /index.html HTTP/1.1"), "{verbose}");
    assert!(verbose.contains("> Host: 10.0.0.1:8000"), "{verbose}");
    assert!(verbose.contains("< HTTP/1.0 200 OK"), "{verbose}");

    let out = tunstack(&["get", "http://10.0.0.1:8000/nope"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "404 is not a failure without -f"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));

    let out = tunstack(&["get", "http://10.0.0.1:8000/nope", "-f"]);
    assert_eq!(out.status.code(), Some(22), "404 with -f");

    let out = tunstack(&["get", "http://10.0.0.1:9/"]);
    assert_eq!(out.status.code(), Some(7), "could not connect");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = tunstack(&["get", "not a url"]);
    assert_eq!(out.status.code(), Some(3), "malformed URL");
    let out = tunstack(&["get", "ftp://10.0.0.1/"]);
    assert_eq!(out.status.code(), Some(1), "unsupported protocol");
    let out = tunstack(&["get", "--bogus-flag", "http://10.0.0.1/"]);
    assert_eq!(out.status.code(), Some(2), "usage");
}

/// The first three TCP frames' flags and raw sequence numbers.
fn handshake(pcap: &std::path::Path) -> Vec<(String, String)> {
    let out = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-e",
            "tcp.flags.str",
            "-e",
            "tcp.seq_raw",
            "-c",
            "3",
        ],
    );
    out.lines()
        .map(|l| {
            let mut f = l.split('\t');
            (
                f.next().unwrap_or("").trim().to_string(),
                f.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn get_writes_a_clean_pcap_with_the_handshake_and_prints_stats() {
    enter_netns();
    let dir = TempDir::new("cli-pcap");
    std::fs::write(dir.path().join("index.html"), "<p>captured</p>\n").unwrap();
    let _server = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);
    let mut isns = Vec::new();
    for run_no in 0..2 {
        let pcap = dir.path().join(format!("run{run_no}.pcap"));
        let out = tunstack(&[
            "get",
            "--stats",
            "--pcap",
            pcap.to_str().unwrap(),
            "http://10.0.0.1:8000/index.html",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("segments_in") && stderr.contains("rx_packets"),
            "--stats prints counters: {stderr}"
        );
        assert!(
            stderr.contains("over time:") && stderr.contains("our window"),
            "--stats shows buffers and windows over time: {stderr}"
        );
        // tshark validates checksums and reports nothing worse than notes.
        let expert = tshark_expert(&pcap);
        assert!(
            !expert.contains("Errors (") && !expert.contains("Warns ("),
            "{expert}"
        );
        let hs = handshake(&pcap);
        let flags: Vec<&str> = hs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(flags.len(), 3, "{hs:?}");
        assert!(
            flags[0].ends_with("S·") || flags[0].contains('S'),
            "SYN first: {hs:?}"
        );
        assert!(
            flags[1].contains('S') && flags[1].contains('A'),
            "SYN-ACK second: {hs:?}"
        );
        assert!(
            !flags[2].contains('S') && flags[2].contains('A'),
            "ACK third: {hs:?}"
        );
        isns.push(hs[0].1.clone());
    }
    assert_ne!(isns[0], isns[1], "ISNs differ run to run (RFC 6528)");
}

#[test]
fn pcapng_capture_explains_each_packet_we_send() {
    enter_netns();
    let dir = TempDir::new("cli-pcapng");
    std::fs::write(dir.path().join("index.html"), "<p>why</p>\n").unwrap();
    let _server = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);
    let pcap = dir.path().join("why.pcapng");
    let out = tunstack(&[
        "get",
        "--pcap",
        pcap.to_str().unwrap(),
        "http://10.0.0.1:8000/index.html",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "ip.src == 10.0.0.2",
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ],
    );
    let comments: Vec<&str> = rows.lines().collect();
    assert!(comments.len() >= 4, "{comments:?}");
    assert!(
        comments.iter().all(|c| !c.is_empty()),
        "every packet we send has a reason: {comments:?}"
    );
    assert_eq!(comments[0], "SYN: active open, our ISN and options");
    assert!(comments.contains(&"new data"), "{comments:?}");
    assert!(
        comments.iter().any(|c| c.starts_with("FIN") || c == &"ACK"),
        "{comments:?}"
    );
}

#[test]
fn capture_check_reads_only_network_and_transport_items() {
    // The parser behind check_capture, on tshark's expert report format.
    let report = "\nErrors (1)\n=============\n   Frequency      Group           Protocol  Summary\n           1   Protocol             Thrift  Missing mandatory field id in struct.\n\nWarns (1)\n=============\n   Frequency      Group           Protocol  Summary\n           1   Sequence                TCP  TCP Zero Window segment\n\nNotes (2)\n=============\n";
    assert!(transport_items(report, "Errors").is_empty());
    assert_eq!(transport_items(report, "Warns").len(), 1);
    assert!(transport_items(report, "Notes").is_empty());
}

#[test]
fn get_resolves_a_name_through_dnsmasq_over_our_udp() {
    enter_netns();
    let dir = TempDir::new("cli-dns");
    std::fs::write(dir.path().join("index.html"), "fetched by name\n").unwrap();
    // dnsmasq binds the wildcard address, so it answers on tun0 once it exists.
    let _dns = dnsmasq(dir.path(), "10.0.0.1 web.test\n");
    let _web = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = get_by_dns(&[], "http://web.test:8000/index.html");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fetched by name\n");
    assert!(
        stderr.contains("Resolved web.test to 10.0.0.1 (from the DNS server 10.0.0.1:53)"),
        "{stderr}"
    );
    assert!(stderr.contains("> Host: web.test:8000"), "{stderr}");
    // --resolve skips DNS; an unknown name fails with exit 1.
    let out = get_by_dns(
        &["--resolve", "other.test:10.0.0.1"],
        "http://other.test:8000/index.html",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(from the --resolve)"));
    let out = tunstack(&[
        "get",
        "--dns",
        "10.0.0.1",
        "--hosts-file",
        "/dev/null",
        "http://nope.test:8000/",
    ]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not resolve host: nope.test"));
}
