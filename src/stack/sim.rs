//! The harness of the deterministic simulation (test layer 3): two
//! [`Interface`]s on a virtual link through seeded [`FaultInjector`]s,
//! time jumping to the next event, and [`transfer`], one connection's
//! bytes each way and its close, checked (the bytes, CLOSED without error
//! on both ends, no stall longer than [`stall_bound`]). The scenarios
//! that use it are in `sim_tests.rs`.

use super::tests::VecDevice;
use super::*;
use crate::device::{FaultInjector, Faults};
use crate::tcp::State;
use crate::time::Duration;

pub(super) const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(super) const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
pub(super) const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

pub(super) struct Side {
    pub(super) iface: Interface,
    pub(super) dev: FaultInjector<VecDevice>,
}

pub(super) struct Sim {
    pub(super) a: Side,
    pub(super) b: Side,
    pub(super) now: Instant,
    /// The loss rate both injectors apply.
    pub(super) loss: f64,
    /// The transfer runs over IPv6 (fd00::2 to fd00::1) instead of IPv4.
    pub(super) v6: bool,
    /// Every packet carried across the link, with the time it was, when
    /// recording (see [`Sim::pcap`]).
    pub(super) capture: Option<Vec<(Instant, Vec<u8>)>>,
}

impl Sim {
    pub(super) fn new(faults: Faults, seed: u64) -> Sim {
        Sim::with_algorithm(faults, seed, tcp::Algorithm::default())
    }

    pub(super) fn with_algorithm(faults: Faults, seed: u64, congestion: tcp::Algorithm) -> Sim {
        let tcp = tcp::Config {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            time_wait: Duration::from_secs(1),
            congestion,
            ..tcp::Config::default()
        };
        let side = |addr, addr6, secret: [u64; 2], fseed| Side {
            iface: Interface::new(Config {
                addr,
                addr6,
                tcp: tcp.clone(),
                secret,
                ..Config::default()
            }),
            dev: FaultInjector::new(VecDevice::default(), faults.clone(), fseed),
        };
        Sim {
            a: side(A, A6, [seed, 1], seed.wrapping_mul(3)),
            b: side(B, B6, [seed, 2], seed.wrapping_mul(7) + 1),
            now: Instant::ZERO,
            loss: faults.drop,
            v6: false,
            capture: None,
        }
    }

    /// The recorded packets as a classic pcap file (LINKTYPE_RAW) with
    /// virtual timestamps: the whole byte stream two runs must agree on.
    pub(super) fn pcap(&self) -> Vec<u8> {
        use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
        let header = PcapHeader {
            datalink: pcap_file::DataLink::RAW,
            ..PcapHeader::default()
        };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (t, p) in self.capture.iter().flatten() {
            let ts = Duration::from_micros(t.total_micros());
            w.write_packet(&PcapPacket::new(ts, p.len() as u32, p))
                .unwrap();
        }
        w.into_writer()
    }

    /// The same simulation over IPv6.
    pub(super) fn v6(mut self) -> Sim {
        self.v6 = true;
        self
    }

    /// B's address of the family the simulation runs over.
    pub(super) fn server_addr(&self, port: u16) -> SocketAddr {
        if self.v6 {
            SocketAddr::new(B6.into(), port)
        } else {
            SocketAddr::new(B.into(), port)
        }
    }

    /// Polls both sides at `now` and carries what they sent across.
    pub(super) fn step(&mut self) {
        for s in [&mut self.a, &mut self.b] {
            s.dev.release(self.now);
            s.iface.poll(self.now, &mut s.dev);
        }
        let to_b = std::mem::take(&mut self.a.dev.inner_mut().tx);
        let to_a = std::mem::take(&mut self.b.dev.inner_mut().tx);
        if let Some(c) = self.capture.as_mut() {
            let now = self.now;
            c.extend(to_b.iter().chain(&to_a).map(|p| (now, p.clone())));
        }
        self.b.dev.inner_mut().rx.extend(to_b);
        self.a.dev.inner_mut().rx.extend(to_a);
    }

    /// Jumps to the next event; false when nothing is left to happen.
    pub(super) fn advance(&mut self) -> bool {
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

pub(super) fn pattern(n: usize, seed: u8) -> Vec<u8> {
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
pub(super) struct Outcome {
    /// Virtual time until both directions were fully received.
    pub(super) elapsed: Duration,
    /// Longest stretch of virtual time in which neither application
    /// received a byte and neither connection changed state.
    pub(super) longest_stall: Duration,
    /// Both connections' counters at the end (client, server).
    pub(super) stats: (tcp::ConnStats, tcp::ConnStats),
}

/// Longest stretch of virtual time without progress a transfer may have
/// at a loss rate of `loss` (0.0..=1.0) per direction. A round trip fails
/// with probability 1 − (1 − loss)², 36% at 20% loss, and each failure
/// doubles the retransmission timeout (RFC 6298 §5.5) up to `max_rto`
/// (120 s). A backed-off timer is only reset by a valid RTT sample, which
/// heavy loss makes rare, so at 20% a run of maxed-out timeouts is
/// legitimate: five failed round trips in a row happen with probability
/// 0.36⁵ ≈ 0.6% per episode, ten with 0.004%. The bound is ten `max_rto`.
/// A deadlock, or a peer retransmitting into a connection that no longer
/// answers, stays silent for much longer.
pub(super) fn stall_bound(loss: f64) -> Duration {
    if loss >= 0.2 {
        Duration::from_secs(1200)
    } else {
        Duration::from_secs(30)
    }
}

/// Rounds (polls of both sides) a transfer may take before it counts as a
/// livelock.
pub(super) const MAX_ROUNDS: u64 = 5_000_000;

/// The longest stretch without progress a transfer had, and its bound.
struct Stall {
    longest: Duration,
    limit: Duration,
}

/// The two applications of a [`transfer`]: A's (the client, connection
/// `ca`) sends `up` and reads into `got_down`; B's accepts on port 80
/// (`cb`), sends `down` and reads into `got_up`.
struct Apps {
    n: usize,
    ca: SocketHandle,
    cb: Option<SocketHandle>,
    up: Vec<u8>,
    down: Vec<u8>,
    up_sent: usize,
    down_sent: usize,
    got_up: Vec<u8>,
    got_down: Vec<u8>,
    buf: Vec<u8>,
}

impl Apps {
    /// B listens on port 80 and A connects to it; each has `n` bytes to
    /// send.
    fn start(sim: &mut Sim, n: usize) -> Apps {
        sim.b.iface.tcp_listen(80).unwrap();
        let ca = sim
            .a
            .iface
            .tcp_connect(sim.now, sim.server_addr(80))
            .unwrap();
        Apps {
            n,
            ca,
            cb: None,
            up: pattern(n, 1),
            down: pattern(n, 2),
            up_sent: 0,
            down_sent: 0,
            got_up: Vec::with_capacity(n),
            got_down: Vec::with_capacity(n),
            buf: vec![0u8; 65536],
        }
    }

    /// One round of both applications: B accepts, each writes what its
    /// buffer takes (closing after the last byte) and reads all there is.
    fn run(&mut self, sim: &mut Sim) {
        if self.cb.is_none() {
            self.cb = sim.b.iface.tcp_accept(80).unwrap();
        }
        let n = self.n;
        for (iface, h, data, sent, got) in [
            (
                &mut sim.a.iface,
                Some(self.ca),
                &self.up,
                &mut self.up_sent,
                &mut self.got_down,
            ),
            (
                &mut sim.b.iface,
                self.cb,
                &self.down,
                &mut self.down_sent,
                &mut self.got_up,
            ),
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
            while let Ok(k) = t.recv(&mut self.buf) {
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&self.buf[..k]);
            }
        }
    }

    /// True once both applications received all `n` bytes.
    fn received_all(&self) -> bool {
        self.got_up.len() == self.n && self.got_down.len() == self.n
    }

    /// What counts as progress: bytes received by either application,
    /// and the state of each connection.
    fn progress(&self, sim: &Sim) -> (usize, Option<State>, Option<State>) {
        (
            self.got_up.len() + self.got_down.len(),
            sim.a.iface.tcp(self.ca).map(|t| t.state()),
            self.cb.and_then(|h| sim.b.iface.tcp(h)).map(|t| t.state()),
        )
    }

    /// True while an application still has bytes to hand over and room to
    /// do so (the buffer had none this round): work even with no timer
    /// armed.
    fn pending(&self, sim: &Sim) -> bool {
        let n = self.n;
        let wants_to_write = |iface: &Interface, h: Option<SocketHandle>, sent: usize| {
            sent < n
                && h.and_then(|h| iface.tcp(h))
                    .is_some_and(|t| t.send_capacity() > 0 && t.state().can_send())
        };
        wants_to_write(&sim.a.iface, Some(self.ca), self.up_sent)
            || wants_to_write(&sim.b.iface, self.cb, self.down_sent)
    }

    /// The end of a transfer, checked: no stall longer than `stall_limit`,
    /// the simulation ran out of work (`finished`) rather than rounds,
    /// every byte arrived intact both ways, and both connections are
    /// CLOSED without error.
    fn check(&self, sim: &Sim, label: &str, finished: bool, rounds: u64, stall: Stall) {
        let (ca, cb, n) = (self.ca, self.cb, self.n);
        let (got_up, got_down) = (&self.got_up, &self.got_down);
        let stats = (sim.a.dev.stats(), sim.b.dev.stats());
        if !finished || got_up.len() != n || got_down.len() != n {
            eprintln!(
                "{label}: rounds {rounds} up_sent {} down_sent {} got_up {} got_down {}",
                self.up_sent,
                self.down_sent,
                got_up.len(),
                got_down.len()
            );
            eprintln!(
                "{label}: stopped at {} a={:?}",
                sim.now,
                sim.a.iface.tcp(ca)
            );
            eprintln!("b={:?}", cb.and_then(|h| sim.b.iface.tcp(h)));
        }
        let Stall { longest, limit } = stall;
        assert!(
            longest <= limit,
            "{label}: no progress for {longest:?} of virtual time (bound {limit:?}) at {}",
            sim.now
        );
        assert!(finished, "{label}: still busy after {rounds} rounds");
        assert_eq!(got_up.len(), n, "{label}: bytes up; faults {stats:?}");
        assert!(*got_up == self.up, "{label}: upstream bytes differ");
        assert_eq!(got_down.len(), n, "{label}: bytes down; faults {stats:?}");
        assert!(*got_down == self.down, "{label}: downstream bytes differ");
        let sa = sim.a.iface.tcp(ca).map(|t| t.state());
        let sb = cb.and_then(|h| sim.b.iface.tcp(h)).map(|t| t.state());
        assert_eq!(sa, Some(State::Closed), "{label}: client closes");
        assert_eq!(sb, Some(State::Closed), "{label}: server closes");
        let ea = sim.a.iface.tcp(ca).and_then(|t| t.error());
        let eb = cb.and_then(|h| sim.b.iface.tcp(h)).and_then(|t| t.error());
        assert_eq!((ea, eb), (None, None), "{label}: both close cleanly");
        if std::env::var_os("TUNSTACK_SIM_VERBOSE").is_some() {
            eprintln!("{label}: a {:?}", sim.a.iface.tcp(ca).map(|t| t.stats()));
            eprintln!(
                "{label}: b {:?}",
                cb.and_then(|h| sim.b.iface.tcp(h)).map(|t| t.stats())
            );
        }
    }

    /// Both connections' counters (client, server).
    fn conn_stats(&self, sim: &Sim) -> (tcp::ConnStats, tcp::ConnStats) {
        let conn_stats = |iface: &Interface, h: Option<SocketHandle>| {
            h.and_then(|h| iface.tcp(h))
                .map(|t| t.stats())
                .unwrap_or_default()
        };
        (
            conn_stats(&sim.a.iface, Some(self.ca)),
            conn_stats(&sim.b.iface, self.cb),
        )
    }
}

/// Sends `n` bytes each way, closes both ends, and checks everything: the
/// bytes, CLOSED without error on both ends, and that no stretch of
/// virtual time longer than [`stall_bound`] passes without progress.
pub(super) fn transfer(sim: &mut Sim, n: usize, label: &str) -> Outcome {
    let stall_limit = stall_bound(sim.loss);
    let mut apps = Apps::start(sim, n);
    let mut done_at = None;
    let mut rounds = 0u64;
    // When progress was last made, and what it was.
    let mut last_progress = (sim.now, apps.progress(sim));
    let mut longest_stall = Duration::ZERO;
    let mut finished = false;
    while rounds < MAX_ROUNDS {
        rounds += 1;
        apps.run(sim);
        if done_at.is_none() && apps.received_all() {
            done_at = Some(sim.now);
        }
        let progress = apps.progress(sim);
        if progress != last_progress.1 {
            last_progress = (sim.now, progress);
        }
        longest_stall = longest_stall.max(sim.now - last_progress.0);
        if longest_stall > stall_limit {
            break;
        }
        sim.step();
        if !sim.advance() && !apps.pending(sim) {
            finished = true;
            break;
        }
    }
    let stall = Stall {
        longest: longest_stall,
        limit: stall_limit,
    };
    apps.check(sim, label, finished, rounds, stall);
    Outcome {
        elapsed: done_at.map_or(Duration::MAX, |t| t - Instant::ZERO),
        longest_stall,
        stats: apps.conn_stats(sim),
    }
}
