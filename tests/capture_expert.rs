//! `tunstack get --pcap` downloads of a 2 MB and a 64 MiB file from
//! `python3 -m http.server` and from nginx, each in a private namespace:
//! Wireshark's expert analysis of the whole capture (both directions, all
//! groups, Sequence included) finds no warning and no error. With fixed
//! 256 KiB buffers the 2 MB download alone drew 135 warnings ("TCP Zero
//! Window", "window is full"): the receive window must grow ahead of the
//! sender.

mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

/// 2 MB and 64 MiB.
const SIZES: [usize; 2] = [2_000_000, 64 << 20];

/// Downloads each file of [`SIZES`] from `base` with `tunstack get --pcap`
/// and checks the bytes and the capture.
fn download_and_check(dir: &Path, base: &str, files: &[(String, String)]) {
    for (name, digest) in files {
        let pcap = dir.join(format!("{name}.pcap"));
        let out = dir.join(format!("{name}.out"));
        let url = format!("{base}/{name}");
        let run = Command::new(env!("CARGO_BIN_EXE_tunstack"))
            .args(["get", "--pcap", pcap.to_str().unwrap(), "-o"])
            .arg(&out)
            .arg(&url)
            .output()
            .expect("run tunstack");
        assert_eq!(
            run.status.code(),
            Some(0),
            "{url}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            &sha256(&std::fs::read(&out).unwrap()),
            digest,
            "{url}: the bytes arrive intact"
        );
        let expert = run_tshark_expert(&pcap);
        let warns = section_count(&expert, "Warns");
        let errors = section_count(&expert, "Errors");
        eprintln!("{url}: {warns} expert warnings, {errors} errors");
        assert_eq!(
            (warns, errors),
            (0, 0),
            "{url}: tshark -q -z expert on {}:\n{expert}",
            pcap.display()
        );
    }
}

/// `tshark -r F -q -z expert`, with IP and TCP checksums verified.
fn run_tshark_expert(pcap: &Path) -> String {
    run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-q",
            "-z",
            "expert",
        ],
    )
}

/// The item count of an expert-info section ("Warns (12)" → 12), 0 when
/// the section is absent.
fn section_count(expert: &str, section: &str) -> usize {
    expert
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{section} (")))
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes the test files into `www`; returns (name, SHA-256) pairs.
fn write_files(www: &Path) -> Vec<(String, String)> {
    std::fs::create_dir_all(www).unwrap();
    SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = random_bytes(n, 70 + i as u64);
            let name = format!("file{n}.bin");
            std::fs::write(www.join(&name), &data).unwrap();
            (name, sha256(&data))
        })
        .collect()
}

#[test]
fn get_pcap_from_python_http_server_has_no_expert_warnings() {
    enter_netns();
    let dir = TempDir::new("expert-py");
    let www = dir.path().join("www");
    let files = write_files(&www);
    let _server = Daemon::spawn(
        dir.path(),
        "python3",
        &[
            "-m",
            "http.server",
            "8000",
            "--directory",
            www.to_str().unwrap(),
        ],
    );
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));
    download_and_check(dir.path(), "http://10.0.0.1:8000", &files);
}

#[test]
fn get_pcap_from_nginx_has_no_expert_warnings() {
    enter_netns();
    let dir = TempDir::new("expert-nginx");
    let www = dir.path().join("www");
    let files = write_files(&www);
    let d = dir.path().display();
    let _nginx = nginx(
        dir.path(),
        64,
        &format!(
            "default_type application/octet-stream;\n\
             server {{ listen 8080; root {d}/www; }}"
        ),
    );
    wait_for_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
    download_and_check(dir.path(), "http://10.0.0.1:8080", &files);
}

#[test]
fn expert_sections_are_counted() {
    let sample = "===\nErrors (2)\n=============\n   Frequency ...\nWarns (135)\n\
                  =============\nNotes (3)\n";
    assert_eq!(section_count(sample, "Errors"), 2);
    assert_eq!(section_count(sample, "Warns"), 135);
    assert_eq!(section_count(sample, "Chats"), 0);
}
