//! An axum 0.8 app served over a tunstack listener (feature `axum`):
//! `axum::serve` takes `tunstack::tokio::TcpListener` as it takes tokio's.
//! Try it with the kernel's curl from the same namespace. Needs root (it
//! opens tun0).
//!
//! ```text
//! sudo cargo run --features axum --example tokio_axum_server -- [PORT]
//! curl http://10.0.0.2:8000/                    # a greeting, with the client's address
//! curl http://10.0.0.2:8000/bytes/1048576 -o x  # that many bytes of a pattern
//! curl --data-binary @file http://10.0.0.2:8000/echo
//! ```

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use std::net::SocketAddr;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

/// The largest `/bytes/N` served, and the largest body echoed.
const MAX_BYTES: usize = 64 << 20;

async fn hello(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    format!("hello from axum on tunstack, {peer}\n")
}

async fn bytes(Path(n): Path<usize>) -> Vec<u8> {
    (0..n.min(MAX_BYTES)).map(|i| (i % 251) as u8).collect()
}

async fn echo(body: Bytes) -> Bytes {
    body
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8000), |p| p.parse())?;
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let listener = tunstack::tokio::TcpListener::bind(&stack, ("0.0.0.0", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = Router::new()
        .route("/", get(hello))
        .route("/bytes/{n}", get(bytes))
        .route("/echo", post(echo))
        // axum refuses bodies over 2 MiB by default.
        .layer(DefaultBodyLimit::max(MAX_BYTES));
    // Small responses leave at once; `tap_io` also gives the handlers
    // the peer's address (`ConnectInfo<SocketAddr>`), as with tokio's
    // listener.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
