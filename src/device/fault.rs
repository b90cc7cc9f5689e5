//! `FaultInjector<D>`: wraps a device and, from a seed, drops, corrupts,
//! duplicates, reorders, delays and rate-limits the packets sent through
//! it, loses them in bursts (a Gilbert-Elliott chain), or sends them through a bottleneck link (a bit rate with a bounded
//! FIFO queue that drops at its tail). Deterministic: the same seed and the same sequence of sends at the
//! same instants give the same faults, so a failing simulation replays.
//!
//! Time is explicit (this is used by deterministic simulations): delayed
//! packets leave on [`FaultInjector::release`] once due.

use super::Device;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;

/// Fault probabilities and link shaping. Probabilities are in 0.0..=1.0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Chance a packet is dropped.
    pub drop: f64,
    /// Chance one byte of a packet is flipped.
    pub corrupt: f64,
    /// Chance a packet is sent twice.
    pub duplicate: f64,
    /// Chance a packet is held back and sent after the next one.
    pub reorder: f64,
    /// One-way latency added to every packet.
    pub delay: Duration,
    /// Most packets per second (0 = unlimited); excess is dropped, like a
    /// full queue.
    pub rate_pps: u32,
    /// Bottleneck bit rate (0 = none): each packet waits for the link to
    /// finish the ones before it, then takes `len × 8 / rate` to send, then
    /// `delay`. Order is kept.
    pub rate_bps: u64,
    /// Bytes the bottleneck holds, the packet being sent included; a
    /// packet that does not fit is dropped (tail drop).
    pub queue_bytes: usize,
    /// Bursty loss on top of `drop` (None = off).
    pub burst: Option<GilbertElliott>,
}

/// Gilbert-Elliott bursty loss: a two-state Markov chain (good, bad)
/// stepped once per packet; a packet is lost with `loss_bad` while the
/// chain is bad and never while it is good. The mean loss is
/// `loss_bad × p_good_bad / (p_good_bad + p_bad_good)`, in bursts of
/// about `1 / p_bad_good` packets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GilbertElliott {
    /// Chance per packet the chain moves from good to bad.
    pub p_good_bad: f64,
    /// Chance per packet the chain moves from bad to good.
    pub p_bad_good: f64,
    /// Chance a packet is lost while the chain is bad.
    pub loss_bad: f64,
}

/// Counters of what the injector did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Packets offered.
    pub offered: u64,
    /// Packets dropped at random.
    pub dropped: u64,
    /// Packets dropped by the packet-rate limit or the delay line's bound.
    pub rate_limited: u64,
    /// Packets corrupted.
    pub corrupted: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Packets sent out of order.
    pub reordered: u64,
    /// Packets tail-dropped by the full bottleneck queue.
    pub queue_dropped: u64,
}

/// A device wrapper injecting seeded faults on the send path.
pub struct FaultInjector<D> {
    inner: D,
    faults: Faults,
    rng: u64,
    now: Instant,
    held: Option<Vec<u8>>,
    delayed: VecDeque<(Instant, Vec<u8>)>,
    bucket: (Instant, u32),
    /// When the bottleneck link finishes the packets given to it, in
    /// nanoseconds since `Instant::ZERO`.
    link_free_ns: u64,
    /// The Gilbert-Elliott chain is in its bad state.
    burst_bad: bool,
    stats: FaultStats,
}

/// Bound on packets held for delay: a simulation can not grow memory
/// without limit even with a huge delay.
const MAX_DELAYED: usize = 100_000;

impl<D: Device> FaultInjector<D> {
    /// Wraps `inner` with the given faults, seeded by `seed`.
    pub fn new(inner: D, faults: Faults, seed: u64) -> FaultInjector<D> {
        FaultInjector {
            inner,
            faults,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            now: Instant::ZERO,
            held: None,
            delayed: VecDeque::new(),
            bucket: (Instant::ZERO, 0),
            link_free_ns: 0,
            burst_bad: false,
            stats: FaultStats::default(),
        }
    }

    /// What has been injected so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// The wrapped device.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Sets the clock used for delay and rate limiting.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// When the next delayed packet is due.
    pub fn next_release(&self) -> Option<Instant> {
        self.delayed.front().map(|(t, _)| *t)
    }

    /// Sends every delayed packet that is due at `now`.
    pub fn release(&mut self, now: Instant) {
        self.now = now;
        while self.delayed.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, p)) = self.delayed.pop_front() {
                let _ = self.inner.send(&p);
            }
        }
    }

    fn next_f64(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// Steps the Gilbert-Elliott chain for one packet; true if it is
    /// lost. Draws nothing when bursty loss is off, so seeds replay the
    /// same faults as before it existed.
    fn burst_loss(&mut self) -> bool {
        let Some(ge) = self.faults.burst else {
            return false;
        };
        let flip = if self.burst_bad {
            ge.p_bad_good
        } else {
            ge.p_good_bad
        };
        if self.chance(flip) {
            self.burst_bad = !self.burst_bad;
        }
        self.burst_bad && self.chance(ge.loss_bad)
    }

    fn over_rate(&mut self) -> bool {
        if self.faults.rate_pps == 0 {
            return false;
        }
        let (start, count) = &mut self.bucket;
        if self.now.saturating_duration_since(*start) >= Duration::from_secs(1) {
            *start = self.now;
            *count = 0;
        }
        *count += 1;
        *count > self.faults.rate_pps
    }

    fn emit(&mut self, packet: Vec<u8>) -> io::Result<()> {
        let mut due = self.now;
        if self.faults.rate_bps > 0 {
            let Some(sent) = self.through_bottleneck(packet.len()) else {
                self.stats.queue_dropped += 1;
                return Ok(());
            };
            due = sent;
        } else if self.faults.delay.is_zero() {
            return self.inner.send(&packet);
        }
        if self.delayed.len() >= MAX_DELAYED {
            self.stats.rate_limited += 1;
            return Ok(());
        }
        self.delayed.push_back((due + self.faults.delay, packet));
        Ok(())
    }

    /// Queues `len` bytes at the bottleneck: when the last bit leaves, or
    /// `None` if the queue is full.
    fn through_bottleneck(&mut self, len: usize) -> Option<Instant> {
        let now_ns = self.now.total_micros().saturating_mul(1000);
        let start = self.link_free_ns.max(now_ns);
        let rate = u128::from(self.faults.rate_bps);
        // Bytes still to be sent ahead of this packet.
        let waiting = u128::from(start - now_ns) * rate / 8 / 1_000_000_000;
        if waiting + len as u128 > self.faults.queue_bytes.max(len) as u128 {
            return None;
        }
        let wire_ns = (len as u128 * 8 * 1_000_000_000).div_ceil(rate);
        self.link_free_ns = start.saturating_add(u64::try_from(wire_ns).unwrap_or(u64::MAX));
        Some(Instant::from_micros(self.link_free_ns.div_ceil(1000)))
    }
}

impl<D: Device> Device for FaultInjector<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.stats.offered += 1;
        if self.over_rate() {
            self.stats.rate_limited += 1;
            return Ok(());
        }
        if self.chance(self.faults.drop) {
            self.stats.dropped += 1;
            return Ok(());
        }
        if self.burst_loss() {
            self.stats.dropped += 1;
            return Ok(());
        }
        let mut p = packet.to_vec();
        if !p.is_empty() && self.chance(self.faults.corrupt) {
            let at = (self.next_f64() * p.len() as f64) as usize % p.len();
            p[at] ^= 1 << ((self.next_f64() * 8.0) as u32 % 8);
            self.stats.corrupted += 1;
        }
        let dup = self.chance(self.faults.duplicate);
        if self.held.is_none() && self.chance(self.faults.reorder) {
            self.stats.reordered += 1;
            self.held = Some(p);
            return Ok(());
        }
        if dup {
            self.stats.duplicated += 1;
            self.emit(p.clone())?;
        }
        self.emit(p)?;
        if let Some(h) = self.held.take() {
            self.emit(h)?;
        }
        Ok(())
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Sink(Vec<Vec<u8>>);

    impl Device for Sink {
        fn recv(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
        fn send(&mut self, p: &[u8]) -> io::Result<()> {
            self.0.push(p.to_vec());
            Ok(())
        }
        fn mtu(&self) -> usize {
            1500
        }
    }

    fn run(faults: Faults, seed: u64) -> (Vec<Vec<u8>>, FaultStats) {
        let mut f = FaultInjector::new(Sink::default(), faults, seed);
        for i in 0..1000u32 {
            f.send(&i.to_be_bytes()).unwrap();
        }
        f.release(Instant::from_secs(100));
        let stats = f.stats();
        (std::mem::take(&mut f.inner_mut().0), stats)
    }

    #[test]
    fn no_faults_is_transparent() {
        let (out, _) = run(Faults::default(), 1);
        assert_eq!(out.len(), 1000);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, p)| p == &(i as u32).to_be_bytes()));
    }

    #[test]
    fn faults_happen_at_roughly_their_rate_and_replay_by_seed() {
        let f = Faults {
            drop: 0.1,
            duplicate: 0.05,
            reorder: 0.05,
            corrupt: 0.02,
            ..Faults::default()
        };
        let (a, sa) = run(f.clone(), 7);
        let (b, sb) = run(f.clone(), 7);
        assert_eq!(a, b, "same seed, same faults");
        assert_eq!(sa, sb);
        assert!((60..=140).contains(&sa.dropped), "{sa:?}");
        assert!(
            sa.duplicated > 20 && sa.reordered > 20 && sa.corrupted > 5,
            "{sa:?}"
        );
        let (c, _) = run(f, 8);
        assert_ne!(a, c, "another seed, other faults");
    }

    #[test]
    fn gilbert_elliott_loses_in_bursts_at_its_mean_rate() {
        let ge = GilbertElliott {
            p_good_bad: 0.005,
            p_bad_good: 0.25,
            loss_bad: 0.5,
        };
        let faults = Faults {
            burst: Some(ge),
            ..Faults::default()
        };
        let lost = |seed| {
            let mut f = FaultInjector::new(Sink::default(), faults.clone(), seed);
            let mut lost = Vec::new();
            for i in 0..200_000u32 {
                let before = f.inner_mut().0.len();
                f.send(&i.to_be_bytes()).unwrap();
                lost.push(f.inner_mut().0.len() == before);
            }
            (lost, f.stats())
        };
        let (a, stats) = lost(3);
        assert_eq!(lost(3).0, a, "same seed, same losses");
        assert_ne!(lost(4).0, a, "another seed, other losses");
        let n = a.iter().filter(|&&l| l).count();
        assert_eq!(stats.dropped, n as u64);
        // Mean: 0.5 × 0.005 / 0.255 ≈ 0.98%.
        assert!((1400..=2600).contains(&n), "{n} lost of 200000");
        // Bursty: a loss follows a loss far more often than the 1% that
        // independent loss at that rate would give (here about 0.75 × 0.5).
        let follows = a.windows(2).filter(|w| w[0] && w[1]).count();
        assert!(follows * 5 > n, "{follows} of {n} losses follow a loss");
    }

    #[test]
    fn delay_holds_packets_until_due() {
        let mut f = FaultInjector::new(
            Sink::default(),
            Faults {
                delay: Duration::from_millis(5),
                ..Faults::default()
            },
            1,
        );
        f.set_now(Instant::from_millis(10));
        f.send(b"x").unwrap();
        assert_eq!(f.next_release(), Some(Instant::from_millis(15)));
        f.release(Instant::from_millis(14));
        assert!(f.inner_mut().0.is_empty());
        f.release(Instant::from_millis(15));
        assert_eq!(f.inner_mut().0.len(), 1);
    }

    #[test]
    fn rate_limit_drops_the_excess() {
        let (out, s) = run(
            Faults {
                rate_pps: 100,
                ..Faults::default()
            },
            1,
        );
        assert_eq!(out.len(), 100);
        assert_eq!(s.rate_limited, 900);
    }

    #[test]
    fn bottleneck_serializes_queues_and_drops_at_the_tail() {
        // 8 Mbit/s: a 1000-byte packet takes 1 ms on the link.
        let mut f = FaultInjector::new(
            Sink::default(),
            Faults {
                rate_bps: 8_000_000,
                queue_bytes: 3000,
                delay: Duration::from_millis(10),
                ..Faults::default()
            },
            1,
        );
        for _ in 0..4 {
            f.send(&[0u8; 1000]).unwrap();
        }
        // One on the link and two waiting fill it: the fourth is dropped.
        assert_eq!(f.stats().queue_dropped, 1);
        let due: Vec<_> = f.delayed.iter().map(|(t, _)| t.total_millis()).collect();
        assert_eq!(due, vec![11, 12, 13]);
        // Half a millisecond later the first is half sent: room for none.
        f.set_now(Instant::from_micros(500));
        f.send(&[0u8; 1000]).unwrap();
        assert_eq!(f.stats().queue_dropped, 2);
        // Once the link is idle, a packet leaves at once.
        f.release(Instant::from_millis(20));
        assert_eq!(f.inner_mut().0.len(), 3);
        f.send(&[0u8; 1000]).unwrap();
        assert_eq!(f.next_release(), Some(Instant::from_millis(31)));
    }
}
