//! The cargo-fuzz harnesses (`fuzz/src/lib.rs`) under plain `cargo test`:
//! every input under `fuzz/regressions/TARGET/` (each once found a bug) is
//! replayed through TARGET's harness, and each harness also runs on a few
//! hundred pseudo-random inputs so it keeps compiling and working between
//! fuzzing runs. `scripts/fuzz.sh` does the fuzzing itself.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;

/// Replays `fuzz/regressions/<target>/*`, then `count` inputs from a fixed
/// xorshift sequence, through `run`.
fn replay(target: &str, run: fn(&[u8]), count: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    for (name, data) in harness::inputs_in(&dir) {
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
fn fuzz_wire_parse_regressions() {
    replay("wire_parse", harness::wire::run, 500);
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
