//! `axum::serve::Listener` for [`TcpListener`] (feature `axum`): an axum
//! app serves over the stack as over a kernel socket,
//! `axum::serve(listener, app)`.
//!
//! For `ConnectInfo<SocketAddr>`, wrap the listener with axum's
//! `ListenerExt::tap_io` (axum gives a tapped listener's connections
//! their `Addr`); see `examples/tokio_axum_server.rs`.
//!
//! As axum's own listeners, `accept` never fails: a connection that
//! vanished between its handshake and the accept is skipped, any other
//! error is logged and retried a second later (a stopped stack would
//! otherwise spin the loop).

use super::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

impl axum::serve::Listener for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match TcpListener::accept(self).await {
                Ok(conn) => return conn,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotConnected
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    log::error!("accept: {e}");
                    ::tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}
