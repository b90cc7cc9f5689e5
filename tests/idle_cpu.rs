//! An idle stack must not use CPU: its driver sleeps in epoll_wait(2) with no
//! timeout instead of ticking. Alone in its own test binary so nothing
//! else runs in the process while it measures (no root needed).

use std::net::Ipv4Addr;
use std::time::Duration;
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::{Stack, TcpListener, TcpStream};

/// CPU seconds used so far by the threads named `tunstack-driver`.
fn driver_cpu() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "tunstack-driver" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let utime: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (utime + stime) / hz;
    }
    total
}

#[test]
fn idle_stack_driver_sleeps_without_cpu() {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let a = Stack::new(
        da,
        Config {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            ..Config::default()
        },
    )
    .unwrap();
    let b = Stack::new(
        db,
        Config {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            ..Config::default()
        },
    )
    .unwrap();
    // An idle but open connection on each side, no keepalive.
    let l = TcpListener::bind(&b, ("0.0.0.0", 80)).unwrap();
    let _c = TcpStream::connect(&a, (Ipv4Addr::new(10, 0, 0, 1), 80)).unwrap();
    let _s = l.accept().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = driver_cpu();
    std::thread::sleep(Duration::from_secs(2));
    let spent = driver_cpu() - before;
    eprintln!("two idle drivers used {:.3} s of CPU in 2 s", spent);
    // A polling loop would burn ~2 s per driver; clock-tick granularity is 10 ms.
    assert!(
        spent <= 0.02,
        "idle drivers used {spent:.3} s of CPU in 2 s"
    );
}
