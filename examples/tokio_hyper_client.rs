//! A hyper 1.x client over tunstack (feature `tokio`): hyper-util's
//! `TokioIo` around a `tunstack::tokio::TcpStream`. Needs root (it opens
//! tun0: kernel side 10.0.0.1, tunstack 10.0.0.2).
//!
//! ```text
//! sudo cargo run --features tokio --example tokio_hyper_client -- HOST:PORT [PATH]
//! ```
//!
//! Prints the status and the body's length; HOST
//! may be a name (resolved over the stack by the library's resolver).

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "10.0.0.1:80".into());
    let path = args.next().unwrap_or_else(|| "/".into());
    let host = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(h, _)| h)
        .to_owned();
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let tcp = tunstack::tokio::TcpStream::connect(&stack, addr.as_str()).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(path.as_str())
        .header("host", host)
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    println!("{status}: {} bytes", body.len());
    drop(sender);
    driver.await??;
    Ok(())
}
