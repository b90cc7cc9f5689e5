//! Linux as the oracle: a capture on tun0 (tshark) shows that our SYN
//! offers MSS, window scale, timestamps and SACK-permitted, that the kernel
//! answers and uses them, and that with loss injected on our transmit path
//! (our own FaultInjector) the transfer completes with SACK-based recovery.
//! Every test runs over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`); over IPv6
//! the MSS is MTU − 60.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tunstack::device::{FaultInjector, Faults, TunConfig, TunDevice};
use tunstack::net::Config;
use tunstack::{Stack, TcpStream};

/// Starts `tshark -i tun0 -w file` and waits until it is capturing.
fn capture(file: &Path) -> Child {
    let child = Command::new("tshark")
        .args(["-i", "tun0", "-w", file.to_str().unwrap(), "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tshark");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark did not start capturing");
        std::thread::sleep(Duration::from_millis(50));
    }
    // dumpcap writes the file header before the link is fully open.
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn stop(mut child: Child) {
    // SIGINT lets tshark flush the capture.
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let _ = child.wait();
}

/// `tshark -r file -Y filter -T fields -e …`, one Vec per packet.
fn fields(file: &Path, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec![
        "-r",
        file.to_str().unwrap(),
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "separator=|",
    ];
    for n in names {
        args.push("-e");
        args.push(n);
    }
    let out = run("tshark", &args);
    out.lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

fn linux_negotiates_mss_wscale_timestamps_and_sack_with_us(f: Family) {
    let stack = netns();
    let dir = TempDir::new("oracle-syn");
    let pcap = dir.path().join("syn.pcap");
    let tshark = capture(&pcap);
    let listener = std::net::TcpListener::bind(f.kernel_at(7400)).unwrap();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 200_000];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut s = TcpStream::connect(&stack, f.kernel_at(7400)).unwrap();
    let data = random_bytes(200_000, 5);
    s.write_all(&data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
    kernel.join().unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    drop(s);
    assert!(stack.shutdown(Duration::from_secs(5)));
    stop(tshark);

    let src = format!("{}.src", f.tshark_ip());
    let opts = [
        src.as_str(),
        "tcp.options.mss_val",
        "tcp.options.wscale.shift",
        "tcp.options.sack_perm",
        "tcp.options.timestamp.tsval",
    ];
    let syn = fields(&pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", &opts);
    let syn_ack = fields(&pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 1", &opts);
    assert_eq!(syn.len(), 1, "{syn:?}");
    assert_eq!(syn_ack.len(), 1, "{syn_ack:?}");
    assert_eq!(syn[0][0], f.us().to_string());
    assert_eq!(
        syn[0][1],
        f.mss(1500).to_string(),
        "our MSS from the 1500-byte MTU"
    );
    assert!(
        !syn[0][2].is_empty() && !syn[0][3].is_empty() && !syn[0][4].is_empty(),
        "we offer WS, SACK, TS: {syn:?}"
    );
    assert_eq!(syn_ack[0][0], f.kernel().to_string());
    assert_eq!(
        syn_ack[0][1],
        f.mss(1500).to_string(),
        "Linux's MSS from the same MTU"
    );
    assert!(
        !syn_ack[0][2].is_empty() && !syn_ack[0][3].is_empty() && !syn_ack[0][4].is_empty(),
        "Linux accepts all: {syn_ack:?}"
    );
    // The kernel uses timestamps on every later segment.
    let later = fields(
        &pcap,
        &format!("{src} == {} && tcp.flags.syn == 0", f.kernel()),
        &["tcp.options.timestamp.tsval"],
    );
    assert!(
        !later.is_empty() && later.iter().all(|f| !f[0].is_empty()),
        "kernel segments carry TS"
    );
    // And so do ours.
    let ours = fields(
        &pcap,
        &format!(
            "{src} == {} && tcp.flags.syn == 0 && tcp.flags.reset == 0",
            f.us()
        ),
        &["tcp.options.timestamp.tsval"],
    );
    assert!(
        ours.iter().all(|f| !f[0].is_empty()),
        "our segments carry TS"
    );
}

fn loss_on_our_transmit_path_recovers_with_sack(f: Family) {
    enter_netns();
    let tun = TunDevice::open(&TunConfig::default()).expect("tun0");
    let lossy = FaultInjector::new(
        tun,
        Faults {
            drop: 0.03,
            ..Faults::default()
        },
        2024,
    );
    let stack = Stack::new(lossy, Config::default()).unwrap();
    let dir = TempDir::new("oracle-sack");
    let pcap = dir.path().join("sack.pcap");
    let tshark = capture(&pcap);
    let listener = std::net::TcpListener::bind(f.kernel_at(7401)).unwrap();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    // The injector may drop our SYN too; SYN retransmission covers it.
    let mut s = TcpStream::connect(&stack, f.kernel_at(7401)).expect("connect");
    let data = random_bytes(4 << 20, 9);
    s.write_all(&data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let got = kernel.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(
        sha256(&got),
        sha256(&data),
        "every byte arrived despite our drops"
    );
    let st = s.tcp_stats().unwrap();
    assert!(st.sack_recoveries > 0 && st.retransmits > 0, "{st:?}");
    drop(s);
    stack.shutdown(Duration::from_secs(5));
    stop(tshark);
    let src = format!("{}.src", f.tshark_ip());
    let sacks = fields(
        &pcap,
        &format!("{src} == {} && tcp.options.sack_le", f.kernel()),
        &["tcp.options.sack_le"],
    );
    assert!(
        !sacks.is_empty(),
        "the kernel reported holes with SACK blocks"
    );
    let rtx = fields(
        &pcap,
        &format!(
            "{src} == {} && (tcp.analysis.retransmission || tcp.analysis.fast_retransmission)",
            f.us()
        ),
        &["tcp.seq"],
    );
    assert!(!rtx.is_empty(), "our retransmissions are in the capture");
    eprintln!(
        "{f:?}: 4 MiB upload with 3% loss on our side: {} SACK recoveries, {} retransmits, {} kernel ACKs with SACK blocks",
        st.sack_recoveries,
        st.retransmits,
        sacks.len()
    );
}

/// (src, dst, flags, raw seq, raw ack, length) of every TCP packet.
fn tcp_rows(file: &Path, f: Family) -> Vec<Vec<String>> {
    let (src, dst) = (
        format!("{}.src", f.tshark_ip()),
        format!("{}.dst", f.tshark_ip()),
    );
    fields(
        file,
        "tcp",
        &[
            &src,
            &dst,
            "tcp.flags",
            "tcp.seq_raw",
            "tcp.ack_raw",
            "tcp.len",
        ],
    )
}

fn our_capture_matches_the_kernels_capture_packet_for_packet(f: Family) {
    enter_netns();
    let dir = TempDir::new("oracle-match");
    let ours = dir.path().join("ours.pcap");
    let theirs = dir.path().join("theirs.pcap");
    let dev = tunstack::device::PcapDevice::create(
        TunDevice::open(&TunConfig::default()).unwrap(),
        &ours,
    )
    .unwrap();
    let stack = Stack::new(dev, Config::default()).unwrap();
    let tshark = capture(&theirs);
    let listener = std::net::TcpListener::bind(f.kernel_at(7402)).unwrap();
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 20_000];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf[..5000]).unwrap();
    });
    let mut s = TcpStream::connect(&stack, f.kernel_at(7402)).unwrap();
    s.write_all(&random_bytes(20_000, 1)).unwrap();
    let mut back = vec![0u8; 5000];
    s.read_exact(&mut back).unwrap();
    kernel.join().unwrap();
    drop(s);
    // Let the close finish, stop the kernel-side capture while tun0 still
    // exists, then stop the stack: dropping the device flushes ours.
    std::thread::sleep(Duration::from_millis(500));
    stop(tshark);
    assert!(stack.shutdown(Duration::from_secs(5)));
    let (a, b) = (tcp_rows(&ours, f), tcp_rows(&theirs, f));
    assert!(a.len() >= 10, "a real conversation: {a:?}");
    assert_eq!(a.len(), b.len(), "same number of packets");
    // Each direction in the same order with the same flags/seq/ack/len.
    // (Across directions the interleaving differs: each side records at
    // its own end of the device.)
    for from in [f.us().to_string(), f.kernel().to_string()] {
        let pick = |rows: &[Vec<String>]| {
            rows.iter()
                .filter(|r| r[0] == from)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&a), pick(&b), "packets from {from}");
    }
}

per_family!(
    linux_negotiates_mss_wscale_timestamps_and_sack_with_us,
    loss_on_our_transmit_path_recovers_with_sack,
    our_capture_matches_the_kernels_capture_packet_for_packet,
);
