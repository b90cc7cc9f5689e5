//! Captures and their checks: a namespace whose stack records every
//! packet, and the tshark validation every healthy capture must pass
//! (checksums verified, no expert errors, no warnings on our packets,
//! SYN → SYN-ACK → ACK openings), with the D-SACK check (RFC 2883): a
//! D-SACK is right only for bytes the other side really sent twice.

use super::{enter_netns, run, Family, TempDir};
use std::path::{Path, PathBuf};
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

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
    tshark_expert_with(pcap, &[])
}

/// [`tshark_expert`] with `extra` arguments after it, read in the same
/// pass: more statistics (`-z io,phs`) or dissector options.
pub fn tshark_expert_with(pcap: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "-r",
        pcap.to_str().expect("utf-8 path"),
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-q",
        "-z",
        "expert",
    ];
    args.extend_from_slice(extra);
    run("tshark", &args)
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
