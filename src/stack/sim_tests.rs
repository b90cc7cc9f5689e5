//! Deterministic simulation (test layer 3): two [`Interface`]s on a virtual
//! link through seeded [`FaultInjector`](crate::device::FaultInjector)s,
//! time jumping to the next event.
//!
//! The fault matrix is {0, 1, 5, 20}% loss × reordering on/off ×
//! duplication on/off × 1% corruption on/off × 20 seeds × IPv4 and IPv6,
//! 1 MiB each way per run: the bytes must arrive identical, both ends must reach CLOSED
//! without error, no stretch of virtual time longer than [`stall_bound`]
//! may pass without progress, and every corrupted packet must be dropped
//! by a checksum (over IPv6, which has no header checksum, all but those
//! that hit the flow label, traffic class or hop limit).
//! One `#[test]` per family, loss rate and corruption setting, so they run
//! in parallel.
//!
//! - `TUNSTACK_SIM_SEEDS=N`: N seeds per cell.
//! - `TUNSTACK_SIM_ONLY=loss=5,reorder=1,dup=0,corrupt=1,v6=0,seed=17`: only
//!   the cells (and seed) that match; any key may be left out. A failing
//!   run prints exactly this line to replay it.
//! - `TUNSTACK_SOAK=1`: 100 seeds and 16 MiB each way (for local runs).
//! - `TUNSTACK_SIM_VERBOSE=1`: per-connection counters.
//!
//! Beside the matrix: the determinism run (same seed, same capture byte
//! for byte), the goodput table at 10 ms, a 50 ms path with random loss,
//! and the capture digests of several scenarios. The harness is
//! `sim.rs`.

use super::sim::*;
use super::*;
use crate::device::Faults;
use crate::time::Duration;
use std::net::SocketAddrV4;

/// One cell of the fault matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cell {
    /// Loss in percent.
    loss: u32,
    reorder: bool,
    dup: bool,
    /// 1% corruption.
    corrupt: bool,
    /// Over IPv6.
    v6: bool,
}

impl Cell {
    fn faults(self) -> Faults {
        let on = |b: bool, p: f64| if b { p } else { 0.0 };
        Faults {
            drop: f64::from(self.loss) / 100.0,
            reorder: on(self.reorder, 0.05),
            duplicate: on(self.dup, 0.05),
            corrupt: on(self.corrupt, 0.01),
            ..Faults::default()
        }
    }

    /// `loss=5,reorder=1,dup=0,corrupt=1,seed=17`: the syntax of
    /// `TUNSTACK_SIM_ONLY`.
    fn spec(self, seed: u64) -> String {
        format!(
            "loss={},reorder={},dup={},corrupt={},v6={},seed={seed}",
            self.loss,
            u8::from(self.reorder),
            u8::from(self.dup),
            u8::from(self.corrupt),
            u8::from(self.v6)
        )
    }
}

/// A filter from `TUNSTACK_SIM_ONLY`: each key that is given must match.
#[derive(Debug, Default, PartialEq, Eq)]
struct Only {
    loss: Option<u32>,
    reorder: Option<bool>,
    dup: Option<bool>,
    corrupt: Option<bool>,
    v6: Option<bool>,
    seed: Option<u64>,
}

impl Only {
    fn parse(spec: &str) -> Result<Only, String> {
        let mut only = Only::default();
        for kv in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("`{kv}`: expected key=value"))?;
            let num = |v: &str| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("`{kv}`: not a number"))
            };
            let flag = |v: &str| match v.trim() {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(format!("`{kv}`: expected 0 or 1")),
            };
            match k.trim() {
                "loss" => {
                    only.loss =
                        Some(u32::try_from(num(v)?).map_err(|_| format!("`{kv}`: too large"))?)
                }
                "reorder" => only.reorder = Some(flag(v)?),
                "dup" => only.dup = Some(flag(v)?),
                "corrupt" => only.corrupt = Some(flag(v)?),
                "v6" => only.v6 = Some(flag(v)?),
                "seed" => only.seed = Some(num(v)?),
                other => return Err(format!("unknown key `{other}`")),
            }
        }
        Ok(only)
    }

    fn from_env() -> Only {
        match std::env::var("TUNSTACK_SIM_ONLY") {
            Ok(s) => Only::parse(&s).unwrap_or_else(|e| {
                panic!("TUNSTACK_SIM_ONLY={s}: {e} (e.g. loss=5,reorder=1,dup=0,corrupt=1,seed=17)")
            }),
            Err(_) => Only::default(),
        }
    }

    fn matches(&self, c: Cell) -> bool {
        self.loss.is_none_or(|l| l == c.loss)
            && self.reorder.is_none_or(|r| r == c.reorder)
            && self.dup.is_none_or(|d| d == c.dup)
            && self.corrupt.is_none_or(|x| x == c.corrupt)
            && self.v6.is_none_or(|x| x == c.v6)
    }
}

/// `TUNSTACK_SOAK=1`: 100 seeds and 16 MiB each way instead of 20 and 1 MiB.
fn soak() -> bool {
    std::env::var_os("TUNSTACK_SOAK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Seeds per cell: `TUNSTACK_SIM_SEEDS`, else 100 in a soak, else 20.
fn seeds() -> u64 {
    std::env::var("TUNSTACK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if soak() { 100 } else { 20 })
}

/// Runs every matching cell with `loss` and `corrupt` over {reorder} ×
/// {duplicate} × seeds. Every cell runs even after a failure; the test then
/// fails listing the command that replays each failing one.
fn fault_matrix(loss: u32, corrupt: bool, v6: bool) {
    let only = Only::from_env();
    let (n, soak_env) = if soak() {
        (16 << 20, "TUNSTACK_SOAK=1 ")
    } else {
        (1 << 20, "")
    };
    let seeds: Vec<u64> = match only.seed {
        Some(s) => vec![s],
        None => (1..=seeds()).collect(),
    };
    let mut failed = Vec::new();
    let mut runs = 0;
    let mut longest_stall = Duration::ZERO;
    for reorder in [false, true] {
        for dup in [false, true] {
            let cell = Cell {
                loss,
                reorder,
                dup,
                corrupt,
                v6,
            };
            if !only.matches(cell) {
                continue;
            }
            for &seed in &seeds {
                let replay = format!(
                    "{soak_env}TUNSTACK_SIM_ONLY={} cargo test --lib simulation_fault_matrix",
                    cell.spec(seed)
                );
                let label = format!("{} (replay: {replay})", cell.spec(seed));
                runs += 1;
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut sim = Sim::new(cell.faults(), seed);
                    if cell.v6 {
                        sim = sim.v6();
                    }
                    let o = transfer(&mut sim, n, &label);
                    check_corruption(&sim, cell, &label);
                    o
                }));
                match r {
                    Ok(o) => longest_stall = longest_stall.max(o.longest_stall),
                    Err(_) => {
                        eprintln!("FAILED {label}");
                        failed.push(replay);
                    }
                }
            }
        }
    }
    eprintln!(
        "fault matrix loss {loss}% corrupt {}: {runs} runs of {} KiB each way, {} failed, \
         longest stall {longest_stall:?} (virtual)",
        u8::from(corrupt),
        n >> 10,
        failed.len(),
    );
    assert!(
        failed.is_empty(),
        "{} of {runs} fault-matrix runs failed; replay each with:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Every corrupted packet is caught by a checksum and counted as a drop;
/// without corruption nothing is dropped at all.
fn check_corruption(sim: &Sim, cell: Cell, label: &str) {
    let dropped = sim.a.iface.stats().dropped() + sim.b.iface.stats().dropped();
    let (fa, fb) = (sim.a.dev.stats(), sim.b.dev.stats());
    let corrupted = fa.corrupted + fb.corrupted;
    if !cell.corrupt {
        assert_eq!(dropped, 0, "{label}: drops without corruption");
        return;
    }
    if cell.v6 {
        // IPv6 has no header checksum (RFC 8200 leaves integrity to the
        // upper layer's pseudo-header checksum): a flipped bit in the
        // traffic class, flow label or hop limit is delivered unnoticed.
        // Those are 36 of the 320 header bits; data packets are long, so
        // most corruption is still caught. Every drop is a corruption.
        let most = 2 * corrupted;
        assert!(
            dropped <= most && 5 * dropped + 10 >= 4 * corrupted,
            "{label}: {dropped} drops for {corrupted} corrupted packets"
        );
    } else if !cell.reorder && !cell.dup {
        // Every corrupted packet was delivered exactly once.
        assert_eq!(dropped, corrupted, "{label}: each corrupted packet dropped");
    } else {
        // A duplicate is dropped twice; a packet held for reordering at the
        // very end may never leave.
        assert!(
            dropped + 2 >= corrupted && dropped <= 2 * corrupted,
            "{label}: {dropped} drops for {corrupted} corrupted packets"
        );
    }
    assert!(corrupted > 0, "{label}: 1% corruption corrupted something");
}

#[test]
fn simulation_fault_matrix_loss_0() {
    fault_matrix(0, false, false);
}

#[test]
fn simulation_fault_matrix_loss_0_corrupt() {
    fault_matrix(0, true, false);
}

#[test]
fn simulation_fault_matrix_loss_1() {
    fault_matrix(1, false, false);
}

#[test]
fn simulation_fault_matrix_loss_1_corrupt() {
    fault_matrix(1, true, false);
}

#[test]
fn simulation_fault_matrix_loss_5() {
    fault_matrix(5, false, false);
}

#[test]
fn simulation_fault_matrix_loss_5_corrupt() {
    fault_matrix(5, true, false);
}

#[test]
fn simulation_fault_matrix_loss_20() {
    fault_matrix(20, false, false);
}

#[test]
fn simulation_fault_matrix_loss_20_corrupt() {
    fault_matrix(20, true, false);
}

#[test]
fn simulation_fault_matrix_v6_loss_0() {
    fault_matrix(0, false, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_0_corrupt() {
    fault_matrix(0, true, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_1() {
    fault_matrix(1, false, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_1_corrupt() {
    fault_matrix(1, true, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_5() {
    fault_matrix(5, false, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_5_corrupt() {
    fault_matrix(5, true, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_20() {
    fault_matrix(20, false, true);
}

#[test]
fn simulation_fault_matrix_v6_loss_20_corrupt() {
    fault_matrix(20, true, true);
}

#[test]
fn sim_only_filter_parses_and_matches() {
    let only = Only::parse("loss=5,reorder=1,dup=0,corrupt=1,v6=0,seed=17").unwrap();
    let cell = Cell {
        loss: 5,
        reorder: true,
        dup: false,
        corrupt: true,
        v6: false,
    };
    assert_eq!(only.seed, Some(17));
    assert!(only.matches(cell));
    assert!(!only.matches(Cell { dup: true, ..cell }));
    assert!(!only.matches(Cell { loss: 20, ..cell }));
    assert!(!only.matches(Cell { v6: true, ..cell }));
    assert_eq!(
        Only::parse(&cell.spec(17)).unwrap(),
        only,
        "the printed spec replays"
    );
    assert!(Only::parse("").unwrap().matches(cell), "no filter: all");
    assert!(Only::parse("loss=x").is_err());
    assert!(Only::parse("reorder=2").is_err());
    assert!(Only::parse("drop=5").is_err());
}

/// UDP ports bound on each side of the determinism run.
const UDP_PORTS: [u16; 6] = [5001, 5002, 5003, 5004, 5005, 5006];

/// Queues a datagram from every UDP port of `from` to every port of the
/// other side, and one to a closed port (answered with ICMP), all to
/// leave in the same poll: the order they leave in must not depend on
/// anything but the inputs.
fn udp_burst(from: &mut Interface, to: Ipv4Addr, round: u8) {
    for (i, &src) in UDP_PORTS.iter().enumerate() {
        for (j, &dst) in UDP_PORTS.iter().enumerate() {
            let payload = [round, i as u8, j as u8];
            from.udp_send(src, SocketAddrV4::new(to, dst), &payload)
                .unwrap();
        }
        from.udp_send(src, SocketAddrV4::new(to, 9), &[round, i as u8])
            .unwrap();
    }
}

/// The whole capture of one run: a TCP transfer each way under loss and
/// reordering, with bursts of UDP across several sockets on both sides
/// before and after it.
fn deterministic_run(seed: u64) -> Vec<u8> {
    let mut sim = Sim::new(
        Faults {
            drop: 0.05,
            reorder: 0.05,
            ..Faults::default()
        },
        seed,
    );
    sim.capture = Some(Vec::new());
    for &p in &UDP_PORTS {
        sim.a.iface.udp_bind(p).unwrap();
        sim.b.iface.udp_bind(p).unwrap();
    }
    udp_burst(&mut sim.a.iface, B, 0);
    udp_burst(&mut sim.b.iface, A, 0);
    transfer(&mut sim, 200_000, "determinism");
    udp_burst(&mut sim.a.iface, B, 1);
    udp_burst(&mut sim.b.iface, A, 1);
    while sim.advance() {
        sim.step();
    }
    let delivered = sim.a.iface.stats().udp_delivered + sim.b.iface.stats().udp_delivered;
    assert!(delivered > 0, "UDP crossed the link");
    sim.pcap()
}

/// Same seed, same inputs: the same packets, byte for byte and in the
/// same order at the same virtual times. A different seed gives a
/// different capture (the seed reaches the ISNs, ports and faults).
#[test]
fn simulation_is_deterministic() {
    let first = deterministic_run(9);
    let again = deterministic_run(9);
    assert!(
        first.len() > 100_000,
        "a real capture: {} bytes",
        first.len()
    );
    assert!(
        first == again,
        "two runs with seed 9 captured different bytes"
    );
    assert!(
        deterministic_run(10) != first,
        "seeds 9 and 10 captured the same bytes"
    );
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

/// One 50 ms RTT transfer with random loss: 4 MiB each way, returns
/// (virtual seconds, retransmission timeouts of both senders, fast
/// retransmits, tail loss probes).
fn wan_run(algorithm: tcp::Algorithm, loss: f64, seed: u64) -> (f64, u64, u64, u64) {
    let n = 4 << 20;
    let faults = Faults {
        drop: loss,
        delay: Duration::from_millis(25),
        ..Faults::default()
    };
    let label = format!("wan {algorithm:?} loss {loss} seed {seed}");
    let o = transfer(&mut Sim::with_algorithm(faults, seed, algorithm), n, &label);
    let (a, b) = o.stats;
    (
        o.elapsed.as_secs_f64(),
        a.retransmit_timeouts + b.retransmit_timeouts,
        a.fast_retransmits + b.fast_retransmits,
        a.tail_loss_probes + b.tail_loss_probes,
    )
}

#[test]
fn simulation_wan_50ms_random_loss_recovers_without_timeouts() {
    // 25 ms each way, 0.5% and 1% random loss in both directions, 4 MiB
    // each way (8 MiB of data per run) over ten seeds per cell. Loss is
    // recovered by SACK + RACK-TLP (RFC 8985) and PRR (RFC 6937): a
    // retransmission timeout should be rare.
    use std::io::Write;
    const SEEDS: u64 = 10;
    let mut table = String::from(
        "\nsimulated 50 ms RTT, 256 KiB buffers, SACK, 4 MiB each way, 10 seeds:\n\
         | algorithm | loss | goodput per direction (MB/s) | RTOs | fast rtx | TLPs |\n\
         |-----------|-----:|-----------------------------:|-----:|---------:|-----:|\n",
    );
    for algorithm in [tcp::Algorithm::Cubic, tcp::Algorithm::NewReno] {
        for loss in [0.005, 0.01] {
            let (mut secs, mut rtos, mut frs, mut tlps) = (0.0, 0, 0, 0);
            for seed in 1..=SEEDS {
                let (s, r, f, t) = wan_run(algorithm, loss, seed);
                secs += s;
                rtos += r;
                frs += f;
                tlps += t;
            }
            let goodput = SEEDS as f64 * (4 << 20) as f64 / secs / 1e6;
            table.push_str(&format!(
                "| {algorithm:?} | {:.1}% | {goodput:.2} | {rtos} | {frs} | {tlps} |\n",
                loss * 100.0
            ));
            assert!(
                frs > 0,
                "{algorithm:?} {loss}: losses were repaired by fast recovery"
            );
            // Before RACK-TLP this ratio was 1:8 to 1:36 (a lost
            // retransmission or a lost tail waited for the RTO).
            assert!(
                rtos * 40 <= frs,
                "{algorithm:?} {loss}: {rtos} RTOs against {frs} fast recoveries"
            );
            assert!(tlps > 0, "{algorithm:?} {loss}: tail losses were probed");
        }
    }
    let _ = std::io::stderr().write_all(table.as_bytes());
}

/// One seeded run of `transfer` with `algorithm` under `faults`,
/// recorded: its pcap bytes.
fn recorded_transfer(faults: Faults, seed: u64, algorithm: tcp::Algorithm, n: usize) -> Vec<u8> {
    let mut sim = Sim::with_algorithm(faults, seed, algorithm);
    sim.capture = Some(Vec::new());
    transfer(&mut sim, n, "digest");
    sim.pcap()
}

/// SHA-256 of the captures of several seeded scenarios (every congestion
/// control, loss, reordering, duplication, corruption, a 10 ms path),
/// printed so a refactoring can show it leaves the same segments at the
/// same instants: run with `--nocapture` before and after and compare.
#[test]
fn simulation_pcap_digests() {
    use sha2::{Digest, Sha256};
    let lossy = Faults {
        drop: 0.02,
        reorder: 0.05,
        duplicate: 0.02,
        corrupt: 0.01,
        ..Faults::default()
    };
    let wan = Faults {
        drop: 0.01,
        delay: Duration::from_millis(5),
        ..Faults::default()
    };
    let mut runs = vec![
        ("determinism seed 9".to_string(), deterministic_run(9)),
        ("determinism seed 10".to_string(), deterministic_run(10)),
    ];
    for algorithm in [
        tcp::Algorithm::NewReno,
        tcp::Algorithm::Cubic,
        tcp::Algorithm::Bbr,
    ] {
        for (name, faults, seed) in [("lossy", &lossy, 3), ("wan", &wan, 5)] {
            let pcap = recorded_transfer(faults.clone(), seed, algorithm, 300_000);
            runs.push((format!("{} {name} seed {seed}", algorithm.name()), pcap));
        }
    }
    let mut digests = std::collections::BTreeSet::new();
    for (name, pcap) in &runs {
        let hex: String = Sha256::digest(pcap)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!("pcap {hex} {:>9} bytes  {name}", pcap.len());
        assert!(pcap.len() > 100_000, "{name}: a real capture");
        digests.insert(hex);
    }
    assert_eq!(digests.len(), runs.len(), "every scenario differs");
}
