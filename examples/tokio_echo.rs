//! An echo server on tunstack for tokio (feature `tokio`): one task per
//! connection on a current-thread runtime, woken by the stack's driver.
//! Needs root (it opens tun0); try `nc 10.0.0.2 7` from the namespace.
//!
//! ```text
//! sudo cargo run --features tokio --example tokio_echo
//! ```

use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let listener = tunstack::tokio::TcpListener::bind(&stack, "0.0.0.0:7").await?;
    loop {
        let (mut s, _) = listener.accept().await?;
        tokio::spawn(async move {
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
    }
}
