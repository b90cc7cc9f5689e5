//! The HTTP client's connection pool against nginx through tun0: many
//! requests over one kept-alive connection versus a new connection per
//! request. Asserts the reuse counts, and that reuse is faster: both
//! request rates are measured in the same run, in alternating rounds, and
//! the kept-alive one must be at least 1.5 times the other (it measures
//! 2-3 times; the margin is for a busy machine). Over IPv4 and IPv6
//! (`NAME::v4`, `NAME::v6`).

mod common;

use common::*;
use std::io::Read;
use std::time::{Duration, Instant};
use tunstack::http::Client;

const REQUESTS: usize = 300;
/// The two clients take turns in rounds of `REQUESTS / ROUNDS`, so a burst
/// of load on the machine slows both about equally.
const ROUNDS: usize = 6;

/// Runs `n` GETs; returns how long they took.
fn timed(client: &Client<Via<'_>>, url: &str, expect: &[u8], n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let mut resp = client.get(url).expect("GET");
        assert_eq!(resp.status(), 200);
        let mut body = Vec::new();
        resp.read_to_end(&mut body).expect("body");
        assert_eq!(body, expect);
        client.recycle(resp);
    }
    start.elapsed()
}

fn kept_alive_connection_carries_every_request_and_is_faster(f: Family) {
    let dir = TempDir::new("keepalive");
    let stack = netns();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let page = b"<p>small page</p>\n".to_vec();
    std::fs::write(www.join("index.html"), &page).unwrap();
    let d = dir.path().display();
    let _nginx = nginx(
        dir.path(),
        1024,
        &format!(
            "keepalive_requests 100000;\n\
             server {{ listen {}:8080; root {d}/www; }}",
            Family::url_host(f.kernel())
        ),
    );
    wait_for_listener(f.kernel_at(8080));
    let url = &format!("{}/index.html", f.kernel_url(8080));

    let pooled = Client::new(Via(&stack));
    let fresh = Client::new(Via(&stack)).keep_alive(false);
    let (mut kept_time, mut fresh_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        kept_time += timed(&pooled, url, &page, REQUESTS / ROUNDS);
        fresh_time += timed(&fresh, url, &page, REQUESTS / ROUNDS);
    }
    let kept = REQUESTS as f64 / kept_time.as_secs_f64();
    let new_each = REQUESTS as f64 / fresh_time.as_secs_f64();

    let st = pooled.pool_stats();
    assert_eq!(st.connects, 1, "{st:?}");
    assert_eq!(st.reused, REQUESTS as u64 - 1, "{st:?}");
    let st = fresh.pool_stats();
    assert_eq!(st.connects, REQUESTS as u64, "{st:?}");
    assert_eq!(st.reused, 0, "{st:?}");

    let ratio = kept / new_each;
    eprintln!(
        "{f:?}: requests/s over one kept-alive connection: {kept:.0}; with a new connection per request: {new_each:.0} ({ratio:.1}x)"
    );
    assert!(
        ratio >= 1.5,
        "a kept-alive connection is faster than a new one per request: {kept:.0} vs {new_each:.0} requests/s ({ratio:.2}x, want >= 1.5x)"
    );
    drop((pooled, fresh));
    assert!(stack.shutdown(Duration::from_secs(5)));
}

per_family!(kept_alive_connection_carries_every_request_and_is_faster,);
