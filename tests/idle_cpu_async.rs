//! An idle stack with async readers parked on it must not use CPU: the
//! driver wakes a task only when its socket changed, so neither the
//! runtime nor the driver spins. Alone in its own test binary so nothing
//! else runs in the process while it measures (no root needed).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::tokio::{TcpListener, TcpStream};
use tunstack::Stack;

/// CPU seconds this process has used (every thread).
fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the live rusage it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    // SAFETY: zero-initialised, then filled by getrusage.
    let u = unsafe { u.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

#[test]
fn parked_async_readers_on_an_idle_stack_use_no_cpu() {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let mk = |d, addr| {
        Arc::new(
            Stack::new(
                d,
                Config {
                    addr,
                    ..Config::default()
                },
            )
            .unwrap(),
        )
    };
    let a = mk(da, Ipv4Addr::new(10, 0, 0, 2));
    let b = mk(db, Ipv4Addr::new(10, 0, 0, 1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spent = rt.block_on(async move {
        let l = TcpListener::bind(&b, "0.0.0.0:80").await.unwrap();
        let mut readers = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..100 {
            clients.push(TcpStream::connect(&a, "10.0.0.1:80").await.unwrap());
            let (mut s, _) = l.accept().await.unwrap();
            readers.push(tokio::spawn(async move {
                let mut buf = [0u8; 1];
                s.read(&mut buf).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = cpu_secs();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let spent = cpu_secs() - before;
        // Still parked: nobody sent anything.
        assert!(readers.iter().all(|r| !r.is_finished()));
        drop(clients);
        for r in readers {
            // The clients closed: every reader sees the end of stream.
            assert_eq!(r.await.unwrap().unwrap(), 0);
        }
        spent
    });
    eprintln!("100 parked readers on two idle stacks used {spent:.3} s of CPU in 2 s");
    // A polling loop would burn most of a core; the clock granularity of
    // rusage is far below this bound.
    assert!(
        spent <= 0.02,
        "idle async stack used {spent:.3} s of CPU in 2 s"
    );
}
