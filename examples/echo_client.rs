//! A blocking echo client: sends each line of stdin to an echo server
//! through tunstack and prints what comes back.
//!
//! ```sh
//! sudo scripts/netns.sh sh -c 'socat TCP-LISTEN:7,fork,bind=0.0.0.0 EXEC:cat & sleep 0.3; \
//!     cargo run --example echo_client -- 10.0.0.1:7'
//! ```

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::{Stack, TcpStream};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "10.0.0.1:7".into())
        .parse()?;
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let mut s = TcpStream::connect_timeout(&stack, &addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    println!("connected {} -> {}", s.local_addr()?, s.peer_addr()?);
    for line in std::io::stdin().lock().lines() {
        let line = line? + "\n";
        s.write_all(line.as_bytes())?;
        let mut back = vec![0u8; line.len()];
        s.read_exact(&mut back)?;
        print!("{}", String::from_utf8_lossy(&back));
    }
    drop(s);
    stack.shutdown(Duration::from_secs(2));
    Ok(())
}
