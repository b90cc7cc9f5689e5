//! Threads blocked in socket calls cost no CPU: the one that waits on the
//! device (the leader, src/net/poller.rs) sleeps in epoll_wait(2), the
//! others on a condition variable, and the driver, whose epoll set the
//! kernel skips while a leader sleeps, in epoll_wait(2) too. Measured as
//! the CPU time of the whole process over an idle second; alone in its
//! own test binary so nothing else runs in the process meanwhile (no root
//! needed).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::{Stack, TcpListener, TcpStream};

/// CPU seconds (user + system) the process used so far.
fn process_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a live rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[test]
fn blocked_readers_and_an_acceptor_use_no_cpu_while_idle() {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let cfg = |addr| Config {
        addr,
        ..Config::default()
    };
    let a = Stack::new(da, cfg(Ipv4Addr::new(10, 0, 0, 2))).unwrap();
    let b = Stack::new(db, cfg(Ipv4Addr::new(10, 0, 0, 1))).unwrap();
    let l = TcpListener::bind(&b, ("0.0.0.0", 80)).unwrap();
    let c1 = TcpStream::connect(&a, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80)).unwrap();
    let (s1, _) = l.accept().unwrap();
    let c2 = TcpStream::connect(&a, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80)).unwrap();
    let (s2, _) = l.accept().unwrap();
    // On each stack: two threads blocked in read (one leads, one follows)
    // and, on b, one blocked in accept.
    let mut blocked = Vec::new();
    for s in [c1, c2, s1, s2] {
        blocked.push(std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            (&s).read(&mut buf).map(|n| (n, s))
        }));
    }
    let acceptor = std::thread::spawn(move || l.accept().map(|(s, _)| s));
    // Past the handshake's delayed ACKs and the threads' start.
    std::thread::sleep(Duration::from_millis(500));
    let before = process_cpu();
    std::thread::sleep(Duration::from_secs(1));
    let spent = process_cpu() - before;
    eprintln!("blocked threads and two drivers used {spent:.4} s of CPU in 1 s");
    // A polling or spinning waiter would burn most of the second.
    assert!(
        spent <= 0.02,
        "idle process used {spent:.4} s of CPU in 1 s"
    );
    for t in &blocked {
        assert!(!t.is_finished(), "a reader returned with no data");
    }
    assert!(
        !acceptor.is_finished(),
        "accept returned with no connection"
    );
    // Dropping the stacks frees every blocked thread.
    drop(a);
    drop(b);
    for t in blocked {
        assert!(t.join().unwrap().is_err());
    }
    assert!(acceptor.join().unwrap().is_err());
}
