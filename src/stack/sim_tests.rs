//! Deterministic simulation (test layer 3): two [`Interface`]s on a virtual
//! link through seeded [`FaultInjector`]s, time jumping to the next event.
//! Bulk transfers (4 MiB each way) must arrive byte-identical under loss,
//! reordering, duplication and corruption, and both ends must close.
//!
//! `TUNSTACK_SIM_SEEDS=N` runs N seeds per matrix cell (default 3); a
//! failure prints the exact cell and seed to replay.

use super::tests::VecDevice;
use super::*;
use crate::device::{FaultInjector, Faults};
use crate::tcp::State;
use crate::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

struct Side {
    iface: Interface,
    dev: FaultInjector<VecDevice>,
}

struct Sim {
    a: Side,
    b: Side,
    now: Instant,
}

impl Sim {
    fn new(faults: Faults, seed: u64) -> Sim {
        let tcp = tcp::Config {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            time_wait: Duration::from_secs(1),
            ..tcp::Config::default()
        };
        let side = |addr, secret: [u64; 2], fseed| Side {
            iface: Interface::new(Config {
                addr,
                tcp: tcp.clone(),
                secret,
                ..Config::default()
            }),
            dev: FaultInjector::new(VecDevice::default(), faults.clone(), fseed),
        };
        Sim {
            a: side(A, [seed, 1], seed.wrapping_mul(3)),
            b: side(B, [seed, 2], seed.wrapping_mul(7) + 1),
            now: Instant::ZERO,
        }
    }

    /// Polls both sides at `now` and carries what they sent across.
    fn step(&mut self) {
        for s in [&mut self.a, &mut self.b] {
            s.dev.release(self.now);
            s.iface.poll(self.now, &mut s.dev);
        }
        let to_b = std::mem::take(&mut self.a.dev.inner_mut().tx);
        let to_a = std::mem::take(&mut self.b.dev.inner_mut().tx);
        self.b.dev.inner_mut().rx.extend(to_b);
        self.a.dev.inner_mut().rx.extend(to_a);
    }

    /// Jumps to the next event; false when nothing is left to happen.
    fn advance(&mut self) -> bool {
        if !self.a.dev.inner_mut().rx.is_empty() || !self.b.dev.inner_mut().rx.is_empty() {
            return true;
        }
        let next = [
            self.a.iface.poll_at(),
            self.b.iface.poll_at(),
            self.a.dev.next_release(),
            self.b.dev.next_release(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                true
            }
            None => false,
        }
    }
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed)
                .wrapping_add((i >> 10) as u8)
        })
        .collect()
}

/// Result of one transfer.
struct Outcome {
    /// Virtual time until both directions were fully received.
    elapsed: Duration,
}

/// Sends `n` bytes each way, closes both ends, and checks everything.
fn transfer(sim: &mut Sim, n: usize, label: &str) -> Outcome {
    sim.b.iface.tcp_listen(80).unwrap();
    let ca = sim
        .a
        .iface
        .tcp_connect(sim.now, SocketAddrV4::new(B, 80))
        .unwrap();
    let (up, down) = (pattern(n, 1), pattern(n, 2));
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut cb = None;
    let mut buf = vec![0u8; 65536];
    let mut done_at = None;
    let mut rounds = 0u64;
    for _ in 0..5_000_000 {
        rounds += 1;
        if cb.is_none() {
            cb = sim.b.iface.tcp_accept(80).unwrap();
        }
        for (iface, h, data, sent, got) in [
            (&mut sim.a.iface, Some(ca), &up, &mut up_sent, &mut got_down),
            (&mut sim.b.iface, cb, &down, &mut down_sent, &mut got_up),
        ] {
            let Some(t) = h.and_then(|h| iface.tcp_mut(h)) else {
                continue;
            };
            // Like an application: write once connected (CLOSE in SYN-SENT
            // would delete the connection, RFC 9293 §3.10.4).
            if *sent < n && !t.is_connecting() {
                *sent += t.send(&data[*sent..]).unwrap_or(0);
                if *sent == n {
                    t.close();
                }
            }
            while let Ok(k) = t.recv(&mut buf) {
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
        }
        if done_at.is_none() && got_up.len() == n && got_down.len() == n {
            done_at = Some(sim.now);
        }
        sim.step();
        // The applications may still have bytes to hand over (the buffer
        // had no room this round): that is work even with no timer armed.
        let wants_to_write = |iface: &Interface, h: Option<SocketHandle>, sent: usize| {
            sent < n
                && h.and_then(|h| iface.tcp(h))
                    .is_some_and(|t| t.send_capacity() > 0 && t.state().can_send())
        };
        let app_pending = wants_to_write(&sim.a.iface, Some(ca), up_sent)
            || wants_to_write(&sim.b.iface, cb, down_sent);
        if !sim.advance() && !app_pending {
            break;
        }
    }
    let stats = (sim.a.dev.stats(), sim.b.dev.stats());
    if got_up.len() != n || got_down.len() != n {
        eprintln!("{label}: rounds {rounds} up_sent {up_sent} down_sent {down_sent} got_up {} got_down {}", got_up.len(), got_down.len());
        eprintln!(
            "{label}: stalled at {} a={:?}",
            sim.now,
            sim.a.iface.tcp(ca)
        );
        eprintln!("b={:?}", cb.and_then(|h| sim.b.iface.tcp(h)));
    }
    assert_eq!(got_up.len(), n, "{label}: bytes up; faults {stats:?}");
    assert!(got_up == up, "{label}: upstream bytes differ");
    assert_eq!(got_down.len(), n, "{label}: bytes down; faults {stats:?}");
    assert!(got_down == down, "{label}: downstream bytes differ");
    let sa = sim.a.iface.tcp(ca).map(|t| t.state());
    let sb = cb.and_then(|h| sim.b.iface.tcp(h)).map(|t| t.state());
    assert_eq!(sa, Some(State::Closed), "{label}: client closes");
    assert_eq!(sb, Some(State::Closed), "{label}: server closes");
    if std::env::var_os("TUNSTACK_SIM_VERBOSE").is_some() {
        eprintln!("{label}: a {:?}", sim.a.iface.tcp(ca).map(|t| t.stats()));
        eprintln!(
            "{label}: b {:?}",
            cb.and_then(|h| sim.b.iface.tcp(h)).map(|t| t.stats())
        );
    }
    Outcome {
        elapsed: done_at.map_or(Duration::MAX, |t| t - Instant::ZERO),
    }
}

fn seeds() -> u64 {
    std::env::var("TUNSTACK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// One row of the fault matrix: `loss` × {reorder} × {duplicate} × seeds,
/// 4 MiB each way.
fn fault_matrix(loss: f64) {
    let n = 4 << 20;
    for reorder in [0.0, 0.05] {
        for duplicate in [0.0, 0.05] {
            for seed in 1..=seeds() {
                let faults = Faults {
                    drop: loss,
                    reorder,
                    duplicate,
                    ..Faults::default()
                };
                let label = format!(
                    "loss {loss} reorder {reorder} dup {duplicate} seed {seed} \
                     (replay: TUNSTACK_SIM_SEEDS={seed} cargo test --lib simulation_fault_matrix)"
                );
                transfer(&mut Sim::new(faults, seed), n, &label);
            }
        }
    }
}

#[test]
fn simulation_fault_matrix_no_loss() {
    fault_matrix(0.0);
}

#[test]
fn simulation_fault_matrix_one_percent_loss() {
    fault_matrix(0.01);
}

#[test]
fn simulation_fault_matrix_five_percent_loss() {
    fault_matrix(0.05);
}

#[test]
fn simulation_fault_matrix_twenty_percent_loss() {
    fault_matrix(0.2);
}

#[test]
fn simulation_corruption_is_caught_by_checksums() {
    for seed in 1..=seeds() {
        let faults = Faults {
            corrupt: 0.01,
            drop: 0.01,
            ..Faults::default()
        };
        let mut sim = Sim::new(faults, seed);
        transfer(&mut sim, 1 << 20, &format!("corrupt 1% seed {seed}"));
        let dropped = sim.a.iface.stats().dropped() + sim.b.iface.stats().dropped();
        assert!(dropped > 0, "corrupted packets were counted as drops");
    }
}

#[test]
fn simulation_is_deterministic() {
    let run = || {
        let mut sim = Sim::new(
            Faults {
                drop: 0.05,
                reorder: 0.05,
                ..Faults::default()
            },
            9,
        );
        let o = transfer(&mut sim, 200_000, "determinism");
        (
            o.elapsed,
            sim.a.dev.stats(),
            sim.a.iface.stats().tx_packets,
            sim.b.iface.stats().tx_packets,
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn simulation_goodput_table_at_10ms_rtt() {
    // 5 ms each way = 10 ms RTT. Prints goodput in bytes per virtual second.
    let n = 4 << 20;
    let mut rows = Vec::new();
    for loss in [0.0, 0.01, 0.05] {
        let faults = Faults {
            drop: loss,
            delay: Duration::from_millis(5),
            ..Faults::default()
        };
        let o = transfer(&mut Sim::new(faults, 1), n, &format!("goodput loss {loss}"));
        let secs = o.elapsed.as_secs_f64();
        rows.push((loss, secs, n as f64 / secs));
        assert!(
            secs > 0.0 && secs < 600.0,
            "finite transfer time at loss {loss}: {secs}"
        );
    }
    // Written straight to stderr (not captured by the test harness) so the
    // table shows up in every test run.
    use std::io::Write;
    let mut table =
        String::from("\nsimulated goodput, 10 ms RTT, 256 KiB buffers, SACK + CUBIC:\n");
    table.push_str("| loss | 4 MiB each way (virtual s) | goodput per direction (MB/s) |\n");
    table.push_str("|-----:|---------------------------:|-----------------------------:|\n");
    for (loss, secs, gp) in &rows {
        table.push_str(&format!(
            "| {:>3.0}% | {secs:>26.3} | {:>28.2} |\n",
            loss * 100.0,
            gp / 1e6
        ));
    }
    let _ = std::io::stderr().write_all(table.as_bytes());
    assert!(rows[0].2 > rows[2].2, "loss costs goodput");
}
