//! The cargo-fuzz harnesses (`fuzz/src/lib.rs`) under plain `cargo test`:
//! every input under `fuzz/regressions/TARGET/` is replayed through
//! TARGET's harness. Those directories hold a small minimized corpus per
//! target (inputs that reach the harness's deeper paths, kept from a
//! cargo-fuzz run) plus every input that once found a bug; a target whose
//! directory is missing or empty fails. Each harness also runs on a few
//! hundred pseudo-random inputs so it keeps compiling and working between
//! fuzzing runs. `scripts/fuzz.sh` does the fuzzing itself.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// The targets this file replays; [`every_fuzz_target_is_replayed`]
/// keeps it in step with `fuzz/Cargo.toml`.
const TARGETS: [&str; 8] = [
    "wire_parse",
    "wire_ipv6",
    "interface",
    "http_response",
    "dns_message",
    "fragments",
    "tls_peer",
    "url",
];

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// Replays `fuzz/regressions/<target>/*` (which must hold at least one
/// input), then `count` inputs from a fixed xorshift sequence, through
/// `run`.
fn replay(target: &str, run: fn(&[u8]), count: usize) {
    let dir = regressions().join(target);
    assert!(
        dir.is_dir(),
        "{} is missing: commit a minimized corpus for {target} (see scripts/fuzz.sh)",
        dir.display()
    );
    let inputs = harness::inputs_in(&dir);
    assert!(
        !inputs.is_empty(),
        "{} is empty: commit a minimized corpus for {target} (see scripts/fuzz.sh)",
        dir.display()
    );
    for (name, data) in inputs {
        eprintln!("{target}: replaying {name} ({} bytes)", data.len());
        run(&data);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ target.len() as u64;
    for i in 0..count {
        let len = (i * 7) % 700;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        run(&data);
    }
}

#[test]
fn fuzz_url_regressions() {
    replay("url", harness::url::run, 500);
}

#[test]
fn fuzz_wire_parse_regressions() {
    replay("wire_parse", harness::wire::run, 500);
}

#[test]
fn fuzz_wire_ipv6_regressions() {
    replay("wire_ipv6", harness::wire6::run, 500);
}

#[test]
fn fuzz_interface_regressions() {
    replay("interface", harness::interface::run, 200);
}

#[test]
fn fuzz_http_response_regressions() {
    replay("http_response", harness::http::run, 500);
}

#[test]
fn fuzz_dns_message_regressions() {
    replay("dns_message", harness::dns::run, 500);
}

#[test]
fn fuzz_fragments_regressions() {
    replay("fragments", harness::frag::run, 500);
}

#[test]
fn fuzz_tls_peer_regressions() {
    replay("tls_peer", harness::tls::run, 200);
}

/// Every `[[bin]]` of `fuzz/Cargo.toml` is a target replayed here, and
/// `fuzz/regressions/` holds a directory for exactly those targets.
#[test]
fn every_fuzz_target_is_replayed() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
    let mut bins: Vec<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            let line = section
                .lines()
                .find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_string())
        })
        .collect();
    bins.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    replayed.sort();
    assert_eq!(
        bins, replayed,
        "fuzz/Cargo.toml targets vs the ones replayed here"
    );
    let mut dirs: Vec<String> = std::fs::read_dir(regressions())
        .expect("fuzz/regressions/")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, replayed, "directories under fuzz/regressions/");
}
