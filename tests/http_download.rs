//! Downloads through tun0 with tunstack's TCP and HTTP client from real
//! servers in a private namespace: `python3 -m http.server` and nginx.
//! The bytes must match exactly (SHA-256). Each test runs over IPv4 and
//! IPv6 (`NAME::v4`, `NAME::v6`).

mod common;

use common::*;
use std::io::Read;
use std::time::{Duration, Instant};
use tunstack::http::Client;
use tunstack::Stack;

const TEN_MIB: usize = 10 << 20;

fn fetch(stack: &Stack, url: &str) -> (u16, Vec<u8>) {
    let client = Client::new(Via(stack));
    let start = Instant::now();
    let mut resp = client.get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let mut body = Vec::new();
    resp.read_to_end(&mut body).expect("body");
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "GET {url}: {} bytes in {secs:.3} s ({:.1} Mbit/s)",
        body.len(),
        body.len() as f64 * 8.0 / secs / 1e6
    );
    (resp.status(), body)
}

fn download_ten_mebibytes_from_python_http_server(f: Family) {
    let dir = TempDir::new("pyhttp");
    let (stack, pcap) = netns_captured(&dir);
    let data = random_bytes(TEN_MIB, 42);
    std::fs::write(dir.path().join("blob.bin"), &data).unwrap();
    let _server = http_server(dir.path(), f.kernel(), 8000);
    let base = f.kernel_url(8000);
    let (status, body) = fetch(&stack, &format!("{base}/blob.bin"));
    assert_eq!(status, 200);
    assert_eq!(body.len(), data.len());
    assert_eq!(sha256(&body), sha256(&data));
    let (status, _) = fetch(&stack, &format!("{base}/missing"));
    assert_eq!(status, 404);
    assert!(stack.shutdown(Duration::from_secs(5)));
    check_capture_family(&pcap, f);
}

fn download_ten_mebibytes_from_nginx(f: Family) {
    let dir = TempDir::new("nginx");
    let (stack, pcap) = netns_captured(&dir);
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = random_bytes(TEN_MIB, 43);
    std::fs::write(www.join("blob.bin"), &data).unwrap();
    let d = dir.path().display();
    let host = Family::url_host(f.kernel());
    let _nginx = nginx(
        dir.path(),
        64,
        &format!(
            "default_type application/octet-stream;\n\
             server {{ listen {host}:8080; root {d}/www; }}"
        ),
    );
    wait_for_listener(f.kernel_at(8080));
    let (status, body) = fetch(&stack, &format!("{}/blob.bin", f.kernel_url(8080)));
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), sha256(&data));
    assert!(stack.shutdown(Duration::from_secs(5)));
    check_capture_family(&pcap, f);
}

per_family!(
    download_ten_mebibytes_from_python_http_server,
    download_ten_mebibytes_from_nginx,
);
