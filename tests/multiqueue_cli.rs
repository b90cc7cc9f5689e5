//! The binary on a multiqueue TUN (`--queues N`): `tunstack serve --echo`
//! answers many concurrent kernel clients with every byte intact and
//! reports that each queue carried some of them; `tunstack get` fetches a
//! file whole and lists its queues under `--stats`; bad `--queues`
//! values are usage errors (exit 2).

mod common;

use common::*;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::Stdio;
use std::time::Instant;

/// `queue Q: … N segments in …` lines: N per queue.
fn segments_in_per_queue(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("tunstack: ")
                .strip_prefix("queue ")
        })
        .filter_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let at = words
                .windows(3)
                .position(|w| w[1] == "segments" && w[2] == "in,")?;
            words.get(at)?.parse().ok()
        })
        .collect()
}

#[test]
fn serve_echo_on_two_queues_answers_many_kernel_clients() {
    enter_netns();
    let mut child = tunstack_cmd()
        .args(["serve", "--echo", "--port", "7", "--queues", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_listener(SocketAddrV4::new(US, 7));
    for c in kernel_echo_clients(SocketAddr::from((US, 7)), 32, 32 * 1024, 500) {
        c.join().expect("client");
    }
    let (status, err) = interrupt(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    let per = segments_in_per_queue(&err);
    assert_eq!(per.len(), 2, "one line per queue: {err}");
    assert!(
        per.iter().all(|n| *n > 0),
        "every queue carried clients: {err}"
    );
}

#[test]
fn get_on_two_queues_fetches_whole_and_lists_the_queues() {
    enter_netns();
    let dir = TempDir::new("mq-get");
    let body = random_bytes(4 << 20, 9);
    std::fs::write(dir.path().join("f.bin"), &body).unwrap();
    let _server = http_server(dir.path(), Ipv4Addr::UNSPECIFIED.into(), 8000);
    let out_file = dir.path().join("out.bin");
    let t0 = Instant::now();
    let out = tunstack(&[
        "get",
        "--queues",
        "2",
        "--stats",
        "-o",
        out_file.to_str().unwrap(),
        "http://10.0.0.1:8000/f.bin",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(sha256(&std::fs::read(&out_file).unwrap()), sha256(&body));
    let per = segments_in_per_queue(&err);
    assert_eq!(per.len(), 2, "{err}");
    // One connection lives on one queue, all of its segments with it.
    assert_eq!(per.iter().filter(|n| **n > 0).count(), 1, "{err}");
    eprintln!("get over 2 queues: {:.2} s", t0.elapsed().as_secs_f64());
}

#[test]
fn bad_queue_counts_are_usage_errors() {
    for q in ["0", "65", "99999999999", "x"] {
        let out = tunstack(&["serve", "--echo", "--queues", q]);
        assert_eq!(out.status.code(), Some(2), "--queues {q}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("queues"), "names the option: {err}");
    }
}
