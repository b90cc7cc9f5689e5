//! A bare hyper 1.x server on a tunstack listener (feature `tokio`); try it
//! with the kernel's curl from the same namespace:
//! `curl http://10.0.0.2:8000/`. Needs root (it opens tun0).
//!
//! ```text
//! sudo cargo run --features tokio --example tokio_hyper_server -- [PORT]
//! ```

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tunstack::device::TunConfig;
use tunstack::net::Config;
use tunstack::Stack;

/// Greets a GET and echoes a POST's body.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = if req.method() == hyper::Method::POST {
        req.into_body().collect().await?.to_bytes()
    } else {
        Bytes::from(format!(
            "hello from hyper on tunstack: {}\n",
            req.uri().path()
        ))
    };
    Ok(Response::new(Full::new(body)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8000), |p| p.parse())?;
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let listener = tunstack::tokio::TcpListener::bind(&stack, ("0.0.0.0", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(handle);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await
            {
                eprintln!("{peer}: {e}");
            }
        });
    }
}
