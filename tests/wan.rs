//! The WAN emulator (`examples/wan`) and one short WAN cell through it.
//!
//! The emulator's model is checked without root first (bottleneck, queue,
//! jitter without reordering, bursty loss), then the running emulator
//! between two namespaces this test creates: its counters for a fixed seed
//! equal the model's, the receiver sees exactly what the counters say
//! passed, and ping sees the configured delay. The regression guard of the
//! WAN bench is one cell, 50 ms RTT at 100 Mbit/s with 0.5% random loss
//! each way, both directions with tunstack's default congestion control:
//! the transfer arrives intact, and goodput is at least 5× the Mathis
//! loss-based bound for the cell (MSS/RTT · 1.22/√p).
//!
//! Namespaces are named `tunstack-wan-PID-N-{cli,srv}`: the client side
//! holds tun0 (tunstack) and the emulator's wanA, the server side wanB.

mod common;

#[path = "../examples/wan/line.rs"]
mod line;

use common::*;
use line::{Emulator, GilbertElliott, LoopConfig, Model, Shape, Tun};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// --- the model, no root ----------------------------------------------------------

#[test]
fn bottleneck_serializes_at_the_rate_and_tail_drops_beyond_the_queue() {
    // 8 Mbit/s: a 1000-byte packet takes exactly 1 ms to serialize.
    let shape = Shape {
        rate_bps: 8_000_000,
        queue_bytes: 10_000,
        delay: Duration::from_millis(5),
        ..Shape::default()
    };
    let mut m = Model::new(shape, 1);
    let mut times = Vec::new();
    for _ in 0..100 {
        if let Some(t) = m.admit(0, 1000).first {
            times.push(t);
        }
    }
    assert_eq!(times.len(), 10, "a 10,000-byte queue holds ten packets");
    assert_eq!(m.counters.queue_drops, 90);
    let want: Vec<u64> = (1..=10).map(|i| i * 1_000_000 + 5_000_000).collect();
    assert_eq!(times, want, "1 ms apart after 5 ms of delay");
    // Once the queue has drained, packets are admitted again.
    assert!(m.admit(20_000_000, 1000).first.is_some());
}

#[test]
fn jitter_reorders_only_when_asked() {
    let base = Shape {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        ..Shape::default()
    };
    let departures = |shape: Shape| -> Vec<u64> {
        let mut m = Model::new(shape, 7);
        (0..10_000u64)
            .filter_map(|i| m.admit(i * 100_000, 1500).first)
            .collect()
    };
    let in_order = departures(base.clone());
    assert!(in_order.windows(2).all(|w| w[0] <= w[1]));
    assert!(in_order.iter().all(|&t| t >= 5_000_000));
    let free = departures(Shape {
        jitter_reorders: true,
        ..base
    });
    let overtaken = free.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(overtaken > 1000, "{overtaken} of 10,000 overtaken");
}

#[test]
fn bursty_loss_comes_in_runs_at_the_chain_s_average_rate() {
    let ge = GilbertElliott {
        p_good_to_bad: 0.005,
        p_bad_to_good: 0.25,
        loss_bad: 0.5,
    };
    let mut m = Model::new(
        Shape {
            burst: Some(ge),
            ..Shape::default()
        },
        3,
    );
    let n = 200_000;
    let lost: Vec<bool> = (0..n).map(|_| m.admit(0, 100).first.is_none()).collect();
    let total = lost.iter().filter(|&&l| l).count();
    // Stationary share of the bad state: 0.005 / (0.005 + 0.25) ≈ 1.96%,
    // half of which is lost: ≈ 0.98%.
    let rate = total as f64 / n as f64;
    assert!((0.007..0.013).contains(&rate), "loss rate {rate}");
    assert_eq!(m.counters.lost_burst, total as u64);
    // Losses cluster: far more back-to-back losses than independent ones
    // at the same rate would give (rate² ≈ 0.01%).
    let pairs = lost.windows(2).filter(|w| w[0] && w[1]).count();
    assert!(
        pairs as f64 > 20.0 * rate * rate * n as f64,
        "{pairs} back-to-back losses"
    );
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let shape = Shape {
        loss: 0.01,
        duplicate: 0.01,
        reorder: 0.01,
        ..Shape::default()
    };
    let run = |seed| {
        let mut m = Model::new(shape.clone(), seed);
        let d: Vec<_> = (0..5000).map(|i| m.admit(i * 1000, 1200)).collect();
        (d, m.counters)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).1, run(10).1);
}

// --- the emulator between two namespaces --------------------------------------------

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Two named namespaces joined by the emulator: wanA 10.9.0.1/30 in `cli`
/// (IPv4 forwarding on), wanB 10.9.0.2/30 in `srv` with a route to
/// 10.0.0.0/24. Everything is removed on drop.
struct Wan {
    cli: String,
    srv: String,
    emu: Option<Emulator>,
}

impl Wan {
    fn new(up: Shape, down: Shape, seed: u64) -> Wan {
        Wan::with_loop(
            up,
            down,
            seed,
            LoopConfig {
                // As scripts/wan.sh runs it: a busy machine must not
                // preempt the line for milliseconds.
                rt_priority: 10,
                ..LoopConfig::default()
            },
        )
    }

    fn with_loop(up: Shape, down: Shape, seed: u64, cfg: LoopConfig) -> Wan {
        let tag = format!(
            "tunstack-wan-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let (cli, srv) = (format!("{tag}-cli"), format!("{tag}-srv"));
        let mut wan = Wan {
            cli,
            srv,
            emu: None,
        };
        for ns in [&wan.cli, &wan.srv] {
            run("ip", &["netns", "add", ns]);
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
            wan.sysctl(ns, "net.ipv4.tcp_no_metrics_save=1");
        }
        wan.sysctl(&wan.cli.clone(), "net.ipv4.ip_forward=1");
        let a = Tun::create("wanA", Some(&wan.cli)).expect("wanA");
        let b = Tun::create("wanB", Some(&wan.srv)).expect("wanB");
        wan.emu = Some(Emulator::start(
            a,
            b,
            Model::new(up, seed),
            Model::new(down, seed ^ 0x5bd1_e995),
            cfg,
        ));
        for (ns, addr, dev) in [
            (&wan.cli, "10.9.0.1/30", "wanA"),
            (&wan.srv, "10.9.0.2/30", "wanB"),
        ] {
            run("ip", &["-n", ns, "addr", "add", addr, "dev", dev]);
            run(
                "ip",
                &["-n", ns, "link", "set", dev, "txqueuelen", "10000", "up"],
            );
        }
        run(
            "ip",
            &["-n", &wan.srv, "route", "add", "10.0.0.0/24", "dev", "wanB"],
        );
        wan
    }

    fn sysctl(&self, ns: &str, setting: &str) {
        run("ip", &["netns", "exec", ns, "sysctl", "-qw", setting]);
    }

    /// A command run inside `ns`.
    fn cmd(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Runs `f` on a thread inside `ns` (sockets it makes live there).
    fn in_ns<T: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let target = std::fs::File::open(&path).expect("netns file");
            // SAFETY: setns on a valid namespace fd moves only this thread.
            let rc = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}");
            f()
        })
    }

    fn stop(&mut self) -> [line::DirectionStats; 2] {
        self.emu.take().expect("running").stop()
    }
}

impl Drop for Wan {
    fn drop(&mut self) {
        drop(self.emu.take());
        for ns in [&self.cli, &self.srv] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: signalling a process left in our namespace.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A background process stopped with SIGTERM (then SIGKILL) on drop, so
/// nginx takes its workers with it.
struct Proc(Child);

impl Proc {
    fn spawn(mut c: Command, log: &Path) -> Proc {
        let f = std::fs::File::create(log).expect("log");
        let child = c
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn");
        Proc(child)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn emulator_counters_equal_the_model_for_the_seed_and_the_receiver_agrees() {
    require_root();
    counters_equal_the_model(Wan::new);
}

/// The line as the 1 Gbit/s cells run it, waking at most every 200 µs
/// (`--batch-us`): the same decisions for the seed, nothing lost between
/// the devices.
#[test]
fn batched_line_decides_as_the_model_and_delivers_what_it_counts() {
    require_root();
    counters_equal_the_model(|up, down, seed| {
        Wan::with_loop(
            up,
            down,
            seed,
            LoopConfig {
                rt_priority: 10,
                spin: Duration::ZERO,
                batch: Duration::from_micros(200),
                read_batch: 256,
                ..LoopConfig::default()
            },
        )
    });
}

fn counters_equal_the_model(make: impl FnOnce(Shape, Shape, u64) -> Wan) {
    let shape = Shape {
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.01,
        ..Shape::default()
    };
    let seed = 42;
    let n = 4000u64;
    let len = 200usize;
    let mut wan = make(shape.clone(), Shape::default(), seed);

    let receiver = wan.in_ns(&wan.srv.clone(), move || {
        let s = UdpSocket::bind("10.9.0.2:9999").expect("bind in srv");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 2048];
        let mut got = 0u64;
        while let Ok(k) = s.recv(&mut buf) {
            assert_eq!(k, len - 28, "datagram size");
            got += 1;
        }
        got
    });
    std::thread::sleep(Duration::from_millis(200));
    let sender = wan.in_ns(&wan.cli.clone(), move || {
        let s = UdpSocket::bind("10.9.0.1:0").expect("bind in cli");
        let payload = vec![0x5au8; len - 28];
        for i in 0..n {
            s.send_to(&payload, "10.9.0.2:9999").expect("send");
            if i % 50 == 49 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    sender.join().expect("sender");
    let received = receiver.join().expect("receiver");
    let [up, _] = wan.stop();

    let mut model = Model::new(shape, seed);
    for i in 0..n {
        model.admit(i, len);
    }
    let want = model.counters;
    let c = up.counters;
    assert_eq!(c.rx_packets, n, "every datagram, nothing else, crossed A→B");
    assert_eq!(
        (c.lost_random, c.duplicated, c.reordered),
        (want.lost_random, want.duplicated, want.reordered),
        "the emulator decided as the model with seed {seed}"
    );
    // For this seed: close to the configured 2% loss and 1% duplication.
    assert!(
        (60..=100).contains(&c.lost_random),
        "{} lost of {n}",
        c.lost_random
    );
    assert!(
        (25..=55).contains(&c.duplicated),
        "{} duplicated",
        c.duplicated
    );
    assert_eq!(c.queue_drops + c.line_drops + c.tx_errors, 0);
    assert_eq!(c.tx_packets, n - c.lost_random + c.duplicated);
    assert_eq!(received, c.tx_packets, "the receiver got what was sent on");
}

#[test]
fn ping_through_the_emulator_sees_the_configured_delay() {
    require_root();
    let one_way = Shape {
        delay: Duration::from_millis(10),
        ..Shape::default()
    };
    let mut wan = Wan::new(one_way.clone(), one_way, 5);
    let out = wan
        .cmd(&wan.cli.clone(), "ping")
        .args(["-c", "20", "-i", "0.05", "-q", "10.9.0.2"])
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let stats = wan.stop();
    // rtt min/avg/max/mdev = 20.061/20.130/20.320/0.061 ms
    let rtt: Vec<f64> = text
        .lines()
        .find(|l| l.starts_with("rtt"))
        .and_then(|l| l.split(" = ").nth(1))
        .map(|v| {
            v.trim_end_matches(" ms")
                .split('/')
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(rtt.len(), 4, "ping output: {text}");
    println!("ping through 10 + 10 ms: {text}");
    println!("{}\n{}", stats[0].line("a2b"), stats[1].line("b2a"));
    assert!(rtt[0] >= 20.0, "no echo can come back before 20 ms: {text}");
    // Generous: a loaded machine delays wake-ups, but not by 5 ms on average.
    assert!(rtt[1] < 25.0, "mean RTT {} ms for 20 ms of delay", rtt[1]);
    assert_eq!(stats[0].counters.tx_packets, 20);
    assert_eq!(stats[1].counters.tx_packets, 20);
}

// --- the regression guard: one WAN cell -------------------------------------------------

/// 50 ms RTT, 100 Mbit/s with a queue of one RTT, 0.5% random loss each way.
fn cell() -> Shape {
    Shape {
        delay: Duration::from_millis(25),
        rate_bps: 100_000_000,
        queue_bytes: 100_000_000 / 8 / 20,
        loss: LOSS,
        ..Shape::default()
    }
}

const LOSS: f64 = 0.005;
const RTT_S: f64 = 0.05;
/// tunstack's MSS on a 1500-byte MTU.
const MSS: f64 = 1460.0;

/// The Mathis et al. bound for a loss-based sender: MSS/RTT · 1.22/√p.
fn mathis_mbit() -> f64 {
    MSS * 8.0 / RTT_S * 1.22 / LOSS.sqrt() / 1e6
}

fn nginx(wan: &Wan, dir: &Path) -> Proc {
    let d = dir.display();
    let path = nginx_conf(
        dir,
        64,
        &format!(
            "sendfile on; default_type application/octet-stream;\n\
             server {{ listen 10.9.0.2:8080; root {d}/www; }}"
        ),
    );
    let mut c = wan.cmd(&wan.srv, "nginx");
    c.args(["-c", path.to_str().unwrap(), "-p", &d.to_string()]);
    let p = Proc::spawn(c, &dir.join("nginx.log"));
    wait_until(wan, &wan.cli, "http://10.9.0.2:8080/ready");
    p
}

/// Waits until `url` answers from `ns`.
fn wait_until(wan: &Wan, ns: &str, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = wan
            .cmd(ns, "curl")
            .args(["-sf", "-o", "/dev/null", "-m", "2", url])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never answered from {ns}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A site of one seeded random file of `mib` MiB; returns its digest.
fn site(dir: &Path, mib: usize) -> String {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("ready"), "ok\n").unwrap();
    let body = random_bytes(mib << 20, 0x3a11 + mib as u64);
    std::fs::write(www.join("file"), &body).unwrap();
    sha256(&body)
}

/// Download: `tunstack get` in the client namespace from nginx (Linux
/// sender, BBR) across the cell. Returns (digest of what arrived, Mbit/s
/// as `tunstack get` reports it).
fn download(mib: usize) -> (String, String, f64) {
    let dir = TempDir::new("wan-down");
    let want = site(dir.path(), mib);
    let wan = Wan::new(cell(), cell(), 11);
    wan.sysctl(&wan.srv, "net.ipv4.tcp_congestion_control=bbr");
    let _nginx = nginx(&wan, dir.path());
    let out_file = dir.path().join("got");
    let out = wan
        .cmd(&wan.cli, env!("CARGO_BIN_EXE_tunstack"))
        .args(["get", "-m", "120", "-o"])
        .arg(&out_file)
        .arg("http://10.9.0.2:8080/file")
        .output()
        .expect("tunstack get");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tunstack get failed: {err}");
    let got = sha256(&std::fs::read(&out_file).expect("output"));
    // "200 OK · 4194304 bytes in 1.234 s (27.2 Mbit/s) · URL"
    let mbit = err
        .split(" Mbit/s)")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no rate in: {err}"));
    println!("download {mib} MiB at 50 ms, 0.5% loss: {mbit:.1} Mbit/s");
    (want, got, mbit)
}

/// Upload: kernel curl in the server namespace fetching from `tunstack
/// serve` (tunstack's default congestion control) across the cell.
fn upload(mib: usize) -> (String, String, f64) {
    let dir = TempDir::new("wan-up");
    let want = site(dir.path(), mib);
    let wan = Wan::new(cell(), cell(), 12);
    let mut c = wan.cmd(&wan.cli, env!("CARGO_BIN_EXE_tunstack"));
    c.args(["serve", "--port", "8081", "--dir"])
        .arg(dir.path().join("www"));
    let _serve = Proc::spawn(c, &dir.path().join("serve.log"));
    wait_until(&wan, &wan.srv, "http://10.0.0.2:8081/ready");
    let out_file = dir.path().join("got");
    let out = wan
        .cmd(&wan.srv, "curl")
        .args(["-sS", "-m", "120", "-w", "%{speed_download}", "-o"])
        .arg(&out_file)
        .arg("http://10.0.0.2:8081/file")
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sha256(&std::fs::read(&out_file).expect("output"));
    let mbit = text.trim().parse::<f64>().expect("speed") * 8.0 / 1e6;
    println!("upload {mib} MiB at 50 ms, 0.5% loss: {mbit:.1} Mbit/s");
    (want, got, mbit)
}

#[test]
fn wan_cell_download_arrives_intact() {
    require_root();
    let (want, got, _) = download(2);
    assert_eq!(got, want, "the body differs");
}

#[test]
fn wan_cell_upload_arrives_intact() {
    require_root();
    let (want, got, _) = upload(2);
    assert_eq!(got, want, "the body differs");
}

#[test]
fn wan_cell_download_beats_the_loss_based_bound_5x() {
    require_root();
    let (want, got, mbit) = download(8);
    assert_eq!(got, want, "the body differs");
    let bound = mathis_mbit();
    assert!(
        mbit >= 5.0 * bound,
        "download {mbit:.1} Mbit/s < 5 × the Mathis bound {bound:.2} Mbit/s"
    );
}

#[test]
fn wan_cell_upload_beats_the_loss_based_bound_5x() {
    require_root();
    let (want, got, mbit) = upload(8);
    assert_eq!(got, want, "the body differs");
    let bound = mathis_mbit();
    assert!(
        mbit >= 5.0 * bound,
        "upload {mbit:.1} Mbit/s < 5 × the Mathis bound {bound:.2} Mbit/s"
    );
}
