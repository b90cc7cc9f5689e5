//! `tunstack::tokio` on a two-queue TUN: an async listener accepts
//! kernel clients whichever queue carries them, async connects spread
//! over both queues, every byte echoed intact.

mod common;

use common::{kernel_echo_clients, multi_thread, random_bytes, sha256, KERNEL, US};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tunstack::net::Config;
use tunstack::tokio::{TcpListener, TcpStream};

#[test]
fn async_listener_and_connects_on_two_queues() {
    let stack = Arc::new(common::netns_with(Config {
        queues: 2,
        ..Config::default()
    }));
    // A kernel echo server for our connects.
    let kl = std::net::TcpListener::bind((KERNEL, 5003)).unwrap();
    std::thread::spawn(move || {
        for s in kl.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let rt = multi_thread();
    rt.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let tasks = metrics.num_alive_tasks();
        let l = TcpListener::bind(&stack, (US, 7100)).await.unwrap();
        // The runtime drives both queues: a driver task each.
        assert_eq!(metrics.num_alive_tasks(), tasks + 2);
        let server = tokio::spawn(async move {
            for _ in 0..8 {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    tokio::io::copy(&mut r, &mut w).await.unwrap();
                    w.shutdown().await.unwrap();
                });
            }
        });
        let kernel_clients = kernel_echo_clients(SocketAddr::from((US, 7100)), 8, 32 * 1024, 900);
        let mut ours = Vec::new();
        for i in 0..8u64 {
            let stack = Arc::clone(&stack);
            ours.push(tokio::spawn(async move {
                let data = random_bytes(32 * 1024, 700 + i);
                let c = TcpStream::connect(&stack, (KERNEL, 5003)).await.unwrap();
                let (mut r, mut w) = c.into_split();
                let sent = data.clone();
                let writer = tokio::spawn(async move {
                    w.write_all(&sent).await.unwrap();
                    w.shutdown().await.unwrap();
                });
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.unwrap();
                writer.await.unwrap();
                assert_eq!(sha256(&got), sha256(&data), "our client {i}");
            }));
        }
        for t in ours {
            t.await.unwrap();
        }
        server.await.unwrap();
        for c in kernel_clients {
            c.join().unwrap();
        }
    });
    let per = stack.queue_stats();
    assert!(per.iter().all(|s| s.tcp_segments_in > 0), "{per:?}");
}
