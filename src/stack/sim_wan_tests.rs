//! Deterministic WAN simulation: one bulk transfer between two
//! [`Interface`]s across a bottleneck link — 100 Mbit/s each way behind a
//! bounded queue (60 ms of data, like the `tbf` of the WAN bench), 25 ms
//! one-way delay (50 ms RTT), seeded random loss — in virtual time.
//!
//! Each cell runs BBR, CUBIC and NewReno as the sender's congestion
//! control over the same path and seed, checks the bytes arrive intact,
//! and prints the goodput table. BBR must reach at least 0.8× the
//! bottleneck at 0%, 0.5% and 1% random loss: its model does not treat
//! random loss below 2% per round as congestion.
//!
//! The bench's path shapes follow in [`shapes`]: RTT 10, 50 and 100 ms ×
//! loss 0, 0.1%, 0.5%, 1% random and Gilbert-Elliott bursts, 100 Mbit/s
//! each way behind a queue of one RTT of data, BBR as the sender.
//!
//! `TUNSTACK_SIM_VERBOSE=1` prints the sender's congestion-control state
//! every 250 ms of virtual time.

use super::tests::VecDevice;
use super::*;
use crate::device::fault::GilbertElliott;
use crate::device::{FaultInjector, Faults};
use crate::tcp::{Algorithm, BbrMode, CcState};
use crate::time::Duration;
use std::net::SocketAddrV4;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The bottleneck, bits per second.
const RATE_BPS: u64 = 100_000_000;
/// The bench's bursty case: about 1% loss in bursts of about 4 packets.
const BURSTY: GilbertElliott = GilbertElliott {
    p_good_bad: 0.005,
    p_bad_good: 0.25,
    loss_bad: 0.5,
};
/// Most virtual time a transfer may take before it counts as stuck.
const TIME_LIMIT: Duration = Duration::from_secs(600);

struct Side {
    iface: Interface,
    dev: FaultInjector<VecDevice>,
}

/// How the link loses packets, each way.
#[derive(Clone, Copy, Debug)]
enum Loss {
    /// Each packet independently, with this chance.
    Random(f64),
    /// In bursts ([`BURSTY`]).
    Bursty,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::Random(p) => write!(f, "{:.1}%", p * 100.0),
            Loss::Bursty => f.write_str("bursty"),
        }
    }
}

/// One emulated path: symmetric delay, a 100 Mbit/s bottleneck with a
/// bounded queue, and loss, each way.
#[derive(Clone, Copy, Debug)]
struct Path {
    rtt_ms: u64,
    /// The bottleneck queue, in milliseconds of data at the rate.
    queue_ms: u64,
    loss: Loss,
}

impl Path {
    /// The WAN bench's shape at 50 ms: a 60 ms queue.
    fn bench50(loss: f64) -> Path {
        Path {
            rtt_ms: 50,
            queue_ms: 60,
            loss: Loss::Random(loss),
        }
    }

    fn faults(&self) -> Faults {
        let (drop, burst) = match self.loss {
            Loss::Random(p) => (p, None),
            Loss::Bursty => (0.0, Some(BURSTY)),
        };
        Faults {
            drop,
            burst,
            delay: Duration::from_micros(self.rtt_ms * 500),
            rate_bps: RATE_BPS,
            queue_bytes: (RATE_BPS / 8 * self.queue_ms / 1000) as usize,
            ..Faults::default()
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ms RTT, {} ms queue, {} loss",
            self.rtt_ms, self.queue_ms, self.loss
        )
    }
}

/// What one transfer measured.
struct Run {
    /// Every byte arrived as sent.
    intact: bool,
    /// Virtual time from the SYN to the last byte read by the receiver.
    elapsed: Duration,
    /// The steady state's edges, as (virtual time, distinct payload
    /// bytes that had reached the receiver then, in order or not): when a
    /// quarter of the stream had arrived (past the start-up), and when its
    /// last byte first arrived (the sender had no new data left; what
    /// follows is the drain, repairing the last holes).
    steady: [(Duration, usize); 2],
    /// The sender's congestion-control state, sampled every 250 ms.
    trace: Vec<(Duration, CcState)>,
    /// Segments the sender retransmitted.
    retransmits: u64,
    /// Retransmission timeouts at the sender.
    rtos: u64,
    /// Packets the links dropped at random (both directions).
    random_drops: u64,
    /// Packets the bottleneck queue dropped (both directions).
    queue_drops: u64,
    /// BBR's first ACK-driven state after STARTUP: virtual time and the
    /// state then (its bandwidth is what STARTUP found).
    startup_exit: Option<(Duration, CcState)>,
}

impl Run {
    /// Goodput in Mbit/s over the whole transfer.
    fn mbit(&self, n: usize) -> f64 {
        n as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }

    /// Goodput in Mbit/s in the steady state: distinct payload bytes that
    /// crossed the bottleneck to the receiver between the edges in
    /// [`Run::steady`], by when they arrived. Counting them when the
    /// application could read them instead credits a window with data
    /// that arrived before it and sat out of order behind a hole (with a
    /// SACK scoreboard that keeps every range, a 2 MB flight at 1% loss
    /// always has holes open): that read 100.2 Mbit/s at 100 ms / 1%, over
    /// the 96.5 the line carries. Counted by arrival, no window can beat
    /// the line. The drain is left out: the transfer's last holes are
    /// repaired with no new data behind them, and a lost retransmission
    /// there ends only with the RTO, for Linux too (no loss probe during
    /// recovery, and RACK needs a later segment delivered); the whole
    /// transfer's figure ([`Run::mbit`]) includes it.
    fn steady_mbit(&self) -> f64 {
        let [(t0, b0), (t1, b1)] = self.steady;
        b1.saturating_sub(b0) as f64 * 8.0 / (t1 - t0).as_secs_f64().max(1e-9) / 1e6
    }
}

fn side(addr: Ipv4Addr, algorithm: Algorithm, path: Path, seed: u64, buffers: Buffers) -> Side {
    let mut tcp = tcp::Config {
        // Large enough that neither buffer bounds the flight: the
        // bottleneck and the congestion control decide.
        send_buffer: 8 << 20,
        recv_buffer: 8 << 20,
        congestion: algorithm,
        time_wait: Duration::from_secs(1),
        // The bench's receiver is Linux, whose out-of-order queue is
        // bounded by memory, not by a count of ranges. With 128 ranges
        // (the default until it became 4096) the receiver here dropped
        // 905 out-of-order segments at 100 ms / 1% loss (holes live for
        // two RTTs of a 2 MB flight), and the sender took those drops for
        // congestion. Stated here so the cells never depend on the default.
        max_ooo_ranges: 4096,
        ..tcp::Config::default()
    };
    if buffers == Buffers::Autotuned {
        let d = tcp::Config::default();
        tcp.send_buffer = d.send_buffer;
        tcp.recv_buffer = d.recv_buffer;
    }
    let faults = path.faults();
    Side {
        iface: Interface::new(Config {
            addr,
            tcp,
            secret: [seed, u64::from(u32::from(addr))],
            ..Config::default()
        }),
        dev: FaultInjector::new(
            VecDevice::default(),
            faults,
            seed ^ u64::from(u32::from(addr)),
        ),
    }
}

/// Which bytes of the A-to-B stream have crossed the link: one bit per
/// byte of the stream, offsets counted from A's SYN.
struct Arrivals {
    /// A's initial sequence number, once its SYN went by.
    isn: Option<u32>,
    bits: Vec<u64>,
    n: usize,
    /// Distinct bytes seen.
    count: usize,
}

impl Arrivals {
    fn new(n: usize) -> Arrivals {
        Arrivals {
            isn: None,
            bits: vec![0; n.div_ceil(64)],
            n,
            count: 0,
        }
    }

    /// Notes the payload of one IPv4 packet from A to B.
    fn record(&mut self, p: &[u8]) {
        let Some(ihl) = p.first().map(|b| usize::from(b & 0xf) * 4) else {
            return;
        };
        let (Some(&[l0, l1]), Some(&6), Some(tcp)) = (p.get(2..4), p.get(9), p.get(ihl..)) else {
            return;
        };
        let (Some(seq), Some(&off), Some(&flags)) = (tcp.get(4..8), tcp.get(12), tcp.get(13))
        else {
            return;
        };
        let seq = u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]);
        if flags & 0x02 != 0 {
            self.isn = Some(seq);
            return;
        }
        let Some(isn) = self.isn else { return };
        let payload = usize::from(u16::from_be_bytes([l0, l1]))
            .saturating_sub(ihl + usize::from(off >> 4) * 4);
        let start = seq.wrapping_sub(isn).wrapping_sub(1) as usize;
        for i in start..(start + payload).min(self.n) {
            let (w, b) = (i / 64, 1u64 << (i % 64));
            if self.bits[w] & b == 0 {
                self.bits[w] |= b;
                self.count += 1;
            }
        }
    }

    /// The stream's last byte has arrived.
    fn has_last(&self) -> bool {
        let i = self.n.saturating_sub(1);
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add((i >> 12) as u8))
        .collect()
}

/// A sends `n` bytes to B with `algorithm`; returns what it measured
/// after checking every byte.
fn bulk(algorithm: Algorithm, path: Path, n: usize, seed: u64) -> Run {
    bulk_with(algorithm, path, n, seed, Buffers::Large)
}

/// How the two ends size their buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buffers {
    /// 8 MiB each, fixed: neither bounds the flight.
    Large,
    /// The defaults, grown by autotuning as on the bench's line.
    Autotuned,
}

/// [`bulk`] with a choice of buffers.
fn bulk_with(algorithm: Algorithm, path: Path, n: usize, seed: u64, buffers: Buffers) -> Run {
    transfer(algorithm, path, n, seed, buffers, false)
}

/// What a transfer watches while it runs: the sender's congestion-control
/// state every 250 ms, when BBR left STARTUP, and the distinct bytes that
/// crossed the link (when a quarter of them had, when the last one did).
struct Watch {
    trace: Vec<(Duration, CcState)>,
    next_sample: Instant,
    startup_exit: Option<(Duration, CcState)>,
    arrived: Arrivals,
    warm: Option<(Duration, usize)>,
    last_new: Option<(Duration, usize)>,
    verbose: bool,
}

impl Watch {
    fn new(n: usize) -> Watch {
        Watch {
            trace: Vec::new(),
            next_sample: Instant::ZERO,
            startup_exit: None,
            arrived: Arrivals::new(n),
            warm: None,
            last_new: None,
            verbose: std::env::var_os("TUNSTACK_SIM_VERBOSE").is_some(),
        }
    }

    /// True the first time BBR is seen out of STARTUP (at `now`).
    fn left_startup(&mut self, now: Instant, t: &crate::tcp::Tcb, algorithm: Algorithm) -> bool {
        if self.startup_exit.is_some() || algorithm != Algorithm::Bbr {
            return false;
        }
        let s = t.cc_state();
        if s.mode.is_some_and(|m| m != BbrMode::Startup) {
            self.startup_exit = Some((now - Instant::ZERO, s));
            return true;
        }
        false
    }

    /// Samples the sender's congestion-control state every 250 ms.
    fn sample(&mut self, now: Instant, t: &crate::tcp::Tcb, algorithm: Algorithm, path: Path) {
        if now >= self.next_sample {
            let s = t.cc_state();
            if self.verbose {
                eprintln!("{algorithm} on {path}: {now} {s}");
            }
            self.trace.push((now - Instant::ZERO, s));
            self.next_sample = now + Duration::from_millis(250);
        }
    }

    /// Notes the packets A sent at `now`.
    fn record(&mut self, now: Instant, to_b: &[Vec<u8>]) {
        for p in to_b {
            self.arrived.record(p);
        }
        if self.warm.is_none() && self.arrived.count >= self.arrived.n / 4 {
            self.warm = Some((now - Instant::ZERO, self.arrived.count));
        }
        if self.last_new.is_none() && self.arrived.has_last() {
            self.last_new = Some((now - Instant::ZERO, self.arrived.count));
        }
    }
}

/// Polls both sides at `now` and carries what each sent to the other,
/// noting A's packets in `watch`; true if any packet is now waiting to be
/// read.
fn relay(a: &mut Side, b: &mut Side, now: Instant, watch: &mut Watch) -> bool {
    for s in [&mut *a, &mut *b] {
        s.dev.release(now);
        s.iface.poll(now, &mut s.dev);
    }
    let to_b = std::mem::take(&mut a.dev.inner_mut().tx);
    watch.record(now, &to_b);
    let to_a = std::mem::take(&mut b.dev.inner_mut().tx);
    b.dev.inner_mut().rx.extend(to_b);
    a.dev.inner_mut().rx.extend(to_a);
    !a.dev.inner_mut().rx.is_empty() || !b.dev.inner_mut().rx.is_empty()
}

/// The next instant either side or either link has something to do.
fn next_event(a: &Side, b: &Side) -> Option<Instant> {
    [
        a.iface.poll_at(),
        b.iface.poll_at(),
        a.dev.next_release(),
        b.dev.next_release(),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// Reads all `t` has to read into `got`, through `buf`.
fn read_all(t: &mut crate::tcp::Tcb, buf: &mut [u8], got: &mut Vec<u8>) {
    while let Ok(k) = t.recv(buf) {
        if k == 0 {
            break;
        }
        got.extend_from_slice(&buf[..k]);
    }
}

/// [`bulk_with`], or with `until_startup_exit` only until BBR leaves
/// STARTUP (the bytes that arrived by then are checked).
fn transfer(
    algorithm: Algorithm,
    path: Path,
    n: usize,
    seed: u64,
    buffers: Buffers,
    until_startup_exit: bool,
) -> Run {
    let mut a = side(A, algorithm, path, seed, buffers);
    let mut b = side(B, algorithm, path, seed.wrapping_add(1), buffers);
    let data = pattern(n);
    let mut now = Instant::ZERO;
    b.iface.tcp_listen(80).unwrap();
    let ca = a.iface.tcp_connect(now, SocketAddrV4::new(B, 80)).unwrap();
    let mut cb = None;
    let (mut sent, mut got) = (0usize, Vec::with_capacity(n));
    let mut buf = vec![0u8; 1 << 16];
    let mut watch = Watch::new(n);
    while got.len() < n {
        assert!(
            now - Instant::ZERO < TIME_LIMIT,
            "{algorithm} on {path}: stuck at {now}, {} of {n} bytes",
            got.len()
        );
        if let Some(t) = a.iface.tcp_mut(ca) {
            if sent < n && !t.is_connecting() {
                sent += t.send(&data[sent..]).unwrap_or(0);
            }
            if watch.left_startup(now, t, algorithm) && until_startup_exit {
                break;
            }
            watch.sample(now, t, algorithm, path);
        }
        if cb.is_none() {
            cb = b.iface.tcp_accept(80).unwrap();
        }
        if let Some(t) = cb.and_then(|h| b.iface.tcp_mut(h)) {
            read_all(t, &mut buf, &mut got);
        }
        if relay(&mut a, &mut b, now, &mut watch) {
            continue;
        }
        let writable = a.iface.tcp(ca).is_some_and(|t| {
            sent < n && t.send_capacity() > 0 && !t.is_connecting() && t.state().can_send()
        });
        if writable {
            continue;
        }
        let next = next_event(&a, &b);
        now = now.max(next.expect("nothing left to happen before the transfer completed"));
    }
    let (fa, fb) = (a.dev.stats(), b.dev.stats());
    let first_diff = got.iter().zip(&data).position(|(x, y)| x != y);
    if let Some(at) = first_diff {
        eprintln!(
            "{algorithm} on {path}: bytes differ from offset {at}; sender {:?}; receiver {:?}; \
             links {fa:?} {fb:?}",
            a.iface.tcp(ca).map(|t| t.stats()),
            cb.and_then(|h| b.iface.tcp(h)).map(|t| t.stats())
        );
    }
    Run {
        intact: first_diff.is_none(),
        elapsed: now - Instant::ZERO,
        steady: [
            watch.warm.unwrap_or((Duration::ZERO, 0)),
            watch.last_new.unwrap_or((now - Instant::ZERO, n)),
        ],
        trace: watch.trace,
        retransmits: a.iface.tcp(ca).map_or(0, |t| t.stats().retransmits),
        rtos: a.iface.tcp(ca).map_or(0, |t| t.stats().retransmit_timeouts),
        random_drops: fa.dropped + fb.dropped,
        queue_drops: fa.queue_dropped + fb.queue_dropped,
        startup_exit: watch.startup_exit,
    }
}

/// One loss rate: BBR, CUBIC and NewReno over the same path and seed.
fn compare(loss: f64, n: usize) -> [(Algorithm, Run); 3] {
    let [bbr, cubic, reno] = [Algorithm::Bbr, Algorithm::Cubic, Algorithm::NewReno]
        .map(|alg| (alg, bulk(alg, Path::bench50(loss), n, 7)));
    use std::io::Write;
    let mut out = format!(
        "\nsimulated bulk transfer, {} MiB, 50 ms RTT, 100 Mbit/s, 60 ms queue, {:.1}% loss each way:\n",
        n >> 20,
        loss * 100.0
    );
    for (alg, r) in [&bbr, &cubic, &reno] {
        out.push_str(&format!(
            "  {:<8} {:>6.1} Mbit/s ({:.2}x bottleneck) in {:>7.3} s, {} retransmits, \
             {} random / {} queue drops{}\n",
            alg.name(),
            r.mbit(n),
            r.mbit(n) * 1e6 / RATE_BPS as f64,
            r.elapsed.as_secs_f64(),
            r.retransmits,
            r.random_drops,
            r.queue_drops,
            if r.intact { "" } else { ", BYTES DIFFER" }
        ));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
    for (alg, r) in [&bbr, &cubic, &reno] {
        assert!(r.intact, "{alg} at {loss}: bytes differ");
    }
    [bbr, cubic, reno]
}

/// BBR's model at the end of a run: in PROBE_BW (or a PROBE_RTT visit),
/// bandwidth within 25% of the bottleneck, min RTT at the path's.
fn check_bbr_model(r: &Run, rtt_ms: u64) {
    let (_, last) = r.trace.last().expect("sampled");
    assert!(
        matches!(
            last.mode,
            Some(
                BbrMode::ProbeBwDown
                    | BbrMode::ProbeBwCruise
                    | BbrMode::ProbeBwRefill
                    | BbrMode::ProbeBwUp
                    | BbrMode::ProbeRtt
            )
        ),
        "{last}"
    );
    let bw = last.bandwidth.unwrap_or(0) as f64 * 8.0;
    assert!(
        bw > 0.75 * RATE_BPS as f64 && bw < 1.25 * RATE_BPS as f64,
        "bandwidth estimate {bw} vs {RATE_BPS}: {last}"
    );
    let rtt = last.min_rtt.expect("min RTT").as_secs_f64();
    let path_rtt = rtt_ms as f64 / 1000.0;
    assert!(
        (path_rtt..path_rtt + 0.006).contains(&rtt),
        "min RTT {rtt} on a {rtt_ms} ms path: {last}"
    );
    assert!(
        r.trace
            .iter()
            .any(|(_, s)| s.mode == Some(BbrMode::Startup))
            && r.trace
                .iter()
                .any(|(_, s)| s.mode == Some(BbrMode::ProbeBwUp)
                    || s.mode == Some(BbrMode::ProbeBwCruise)),
        "went through STARTUP into PROBE_BW"
    );
}

const N: usize = 48 << 20;

#[test]
fn wan_sim_50ms_no_loss_bbr_fills_the_bottleneck() {
    let [(_, bbr), (_, cubic), _] = compare(0.0, N);
    check_bbr_model(&bbr, 50);
    assert!(bbr.mbit(N) >= 80.0, "BBR {} Mbit/s", bbr.mbit(N));
    assert!(cubic.mbit(N) > 0.0);
}

#[test]
fn wan_sim_50ms_half_percent_loss_bbr_keeps_bandwidth() {
    let [(_, bbr), (_, cubic), (_, reno)] = compare(0.005, N);
    check_bbr_model(&bbr, 50);
    assert!(bbr.mbit(N) >= 80.0, "BBR {} Mbit/s", bbr.mbit(N));
    assert!(bbr.random_drops > 0, "the path lost packets");
    // Loss-based senders halve (or cut by 30%) on every loss: at 0.5%
    // they stay far below the bottleneck; BBR does not.
    assert!(bbr.mbit(N) > 2.0 * cubic.mbit(N).max(reno.mbit(N)));
}

#[test]
fn wan_sim_50ms_one_percent_loss_bbr_keeps_bandwidth() {
    let [(_, bbr), (_, cubic), (_, reno)] = compare(0.01, N);
    check_bbr_model(&bbr, 50);
    assert!(bbr.mbit(N) >= 80.0, "BBR {} Mbit/s", bbr.mbit(N));
    assert!(bbr.mbit(N) > 2.0 * cubic.mbit(N).max(reno.mbit(N)));
}

/// 1% random loss does not end STARTUP under the bottleneck: it ends on
/// its bandwidth plateau, at the path's rate. Each seed here ended
/// STARTUP on loss far under it while one round over 2% lost with six
/// loss events sufficed (50 ms: 57.7, 50.9 and 54.1 Mbit/s; 100 ms:
/// 30.7, 33.8, 25.7, 29.4 and 26.3), leaving inflight_hi at that round's
/// flight; a loss exit now takes two such rounds in a row (`tcp::bbr`,
/// `check_startup_high_loss`). Of 60 seeds per RTT, 8 at 50 ms and 13
/// at 100 ms ended under 85 Mbit/s before, none after.
#[test]
fn wan_sim_random_loss_does_not_end_startup_under_the_bottleneck() {
    let cases: [(u64, &[u64]); 2] = [(50, &[8, 37, 38]), (100, &[8, 21, 37, 49, 55])];
    let mut short = Vec::new();
    for (rtt_ms, seeds) in cases {
        let path = Path {
            rtt_ms,
            queue_ms: rtt_ms,
            loss: Loss::Random(0.01),
        };
        for &seed in seeds {
            let r = transfer(Algorithm::Bbr, path, 64 << 20, seed, Buffers::Large, true);
            assert!(r.intact, "{path}, seed {seed}: bytes differ");
            let Some((at, state)) = r.startup_exit else {
                short.push(format!("{path}, seed {seed}: still in STARTUP"));
                continue;
            };
            let bw = state.bandwidth.unwrap_or(0) as f64 * 8.0;
            eprintln!("{path}, seed {seed}: STARTUP ended at {at:?}: {state}");
            if bw < 0.85 * RATE_BPS as f64 {
                short.push(format!("{path}, seed {seed}: at {at:?}: {state}"));
            }
        }
    }
    assert!(
        short.is_empty(),
        "STARTUP ended under the bottleneck: {short:#?}"
    );
}

#[path = "sim_wan_shapes.rs"]
mod shapes;
