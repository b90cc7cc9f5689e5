//! Fetches a URL with the library's HTTP client through tunstack: names
//! resolve through `/etc/hosts`, then DNS over tunstack's own UDP to the
//! nameserver of `/etc/resolv.conf`; the body goes to stdout.
//!
//! ```sh
//! sudo scripts/netns.sh sh -c 'python3 -m http.server 80 --bind 10.0.0.1 & sleep 0.5; \
//!     cargo run --example http_client -- http://10.0.0.1/'
//! ```

use std::io::{self, Write};
use std::time::Duration;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::{http, Stack, StackConnector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://www.tunstack.test/".into());
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let client = http::Client::new(StackConnector::new(&stack));
    let mut resp = client.get(&url)?;
    eprintln!("{} {}", resp.status(), resp.head.reason);
    let mut out = io::stdout().lock();
    io::copy(&mut resp, &mut out)?;
    out.flush()?;
    drop(resp);
    drop(client);
    stack.shutdown(Duration::from_secs(2));
    Ok(())
}
