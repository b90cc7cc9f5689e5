//! BBR through the connection (draft-ietf-ccwg-bbr): a sender [`Tcb`]
//! over a modelled path — a bottleneck that serializes segments at a fixed
//! rate, a one-way delay each way, a receiver that ACKs every segment —
//! all in virtual time.

use super::*;
use crate::tcp::bbr::{AckContext, Bbr};
use crate::tcp::rate::RateSample;
use crate::tcp::{BbrMode, CcState};
use std::collections::VecDeque;

const MSS: usize = 1460;

/// An ACK's (TSval, TSecr).
type Timestamps = (u32, u32);

/// The path: bottleneck `rate` (bytes/s) and one-way `delay`.
struct Path {
    tcb: Tcb,
    now: Instant,
    rate: f64,
    delay: Duration,
    /// When the bottleneck is free again.
    link_free: Instant,
    /// Segment ends reaching the receiver, by arrival time, with their TSval.
    to_receiver: VecDeque<(Instant, SeqNumber, Option<u32>)>,
    /// ACKs reaching the sender, with the receiver's timestamps.
    to_sender: VecDeque<(Instant, SeqNumber, Option<Timestamps>)>,
    /// Timestamps negotiated: the receiver stamps its ACKs on a 1 ms clock
    /// (as Linux does) and echoes the newest TSval it received.
    ts: bool,
    ts_recent: u32,
    /// Times the sender's process is off (a userspace sender descheduled
    /// on a loaded machine), as (from, until): ACKs wait and nothing is
    /// sent; it handles what waited when it runs again.
    stalls: Vec<(Instant, Instant)>,
    /// ACKs the sender handles before it sends again (a driver reading
    /// its device in batches); 0: all that are due.
    ack_batch: usize,
    /// Highest in-order end the receiver has.
    rcv_end: SeqNumber,
    /// (time, bytes) of every data segment the sender emitted.
    sent: Vec<(Instant, usize)>,
    /// Acknowledged bytes so far and when.
    acked: Vec<(Instant, usize)>,
    /// The application writes up to this many bytes in total.
    app_total: usize,
    app_written: usize,
}

impl Path {
    /// An established BBR connection at t = 10 ms over `rate`/`delay`.
    fn new(rate: f64, delay: Duration) -> Path {
        Path::with_ts(rate, delay, false)
    }

    /// [`new`](Path::new), with timestamps if `ts`.
    fn with_ts(rate: f64, delay: Duration, ts: bool) -> Path {
        let c = Config {
            send_buffer: 2 << 20,
            recv_buffer: 1 << 20,
            congestion: Algorithm::Bbr,
            ..cfg()
        };
        let mut tcb = syn_sent_with(&c);
        // The SYN-ACK arrives one RTT after the SYN.
        let rtt = 2 * delay.as_millis() as u64;
        let mut sa = syn_ack(Some(9));
        if ts {
            sa.h.options.timestamp = Some((1000, 0));
        }
        send!(tcb, t(rtt), sa);
        recv(&mut tcb, t(rtt));
        assert_eq!(tcb.congestion_control(), Algorithm::Bbr);
        Path {
            tcb,
            now: t(rtt),
            rate,
            delay,
            link_free: t(rtt),
            to_receiver: VecDeque::new(),
            to_sender: VecDeque::new(),
            ts,
            ts_recent: 0,
            stalls: Vec::new(),
            ack_batch: 0,
            rcv_end: l(0),
            sent: Vec::new(),
            acked: Vec::new(),
            app_total: usize::MAX,
            app_written: 0,
        }
    }

    fn state(&self) -> CcState {
        self.tcb.cc_state()
    }

    /// Keeps the send buffer full up to `app_total` bytes.
    fn write(&mut self) {
        let chunk = [7u8; 65536];
        while self.app_written < self.app_total {
            let n = chunk.len().min(self.app_total - self.app_written);
            match self.tcb.send(&chunk[..n]) {
                Ok(k) => self.app_written += k,
                Err(_) => break,
            }
        }
    }

    /// Sends what the TCB releases at `now` into the bottleneck.
    fn transmit(&mut self) {
        while let Some(tx) = self.tcb.poll_transmit(self.now) {
            if tx.payload_len == 0 {
                continue;
            }
            self.sent.push((self.now, tx.payload_len));
            let serialize = Duration::from_secs_f64(tx.payload_len as f64 / self.rate);
            self.link_free = self.link_free.max(self.now) + serialize;
            let end = tx.header.seq + tx.payload_len;
            let tsval = tx.header.options.timestamp.map(|(v, _)| v);
            self.to_receiver
                .push_back((self.link_free + self.delay, end, tsval));
        }
    }

    /// When the sender's process next runs, if it is off at `now`.
    fn sender_off_until(&self) -> Option<Instant> {
        self.stalls
            .iter()
            .find(|(from, until)| (*from..*until).contains(&self.now))
            .map(|s| s.1)
    }

    /// Runs until `until` (virtual), calling `each` after every step.
    fn run_until(&mut self, until: Instant, mut each: impl FnMut(&mut Path)) {
        while self.now < until {
            let off_until = self.sender_off_until();
            if off_until.is_none() {
                self.write();
                self.transmit();
            }
            each(self);
            // Deliver everything due now.
            while self
                .to_receiver
                .front()
                .is_some_and(|(at, _, _)| *at <= self.now)
            {
                let (at, end, tsval) = self.to_receiver.pop_front().unwrap();
                if end.diff(self.rcv_end) > 0 {
                    self.rcv_end = end;
                }
                self.ts_recent = tsval.unwrap_or(self.ts_recent);
                let ts = self
                    .ts
                    .then(|| (1000 + at.total_millis() as u32, self.ts_recent));
                self.to_sender
                    .push_back((at + self.delay, self.rcv_end, ts));
            }
            let mut handled = 0;
            while off_until.is_none()
                && self
                    .to_sender
                    .front()
                    .is_some_and(|(at, _, _)| *at <= self.now)
            {
                let (_, ack, ts) = self.to_sender.pop_front().unwrap();
                let mut s = seg(r(0), ack, Flags::ACK, b"");
                s.h.window = 65535;
                s.h.options.timestamp = ts;
                send!(self.tcb, self.now, s);
                self.acked.push((self.now, (ack - l(0)) as usize));
                handled += 1;
                if handled == self.ack_batch {
                    handled = 0;
                    self.write();
                    self.transmit();
                }
            }
            if off_until.is_none() {
                if self.tcb.poll_at().is_some_and(|at| at <= self.now) {
                    self.tcb.on_timeout(self.now);
                }
                self.write();
                self.transmit();
            }
            let sender = match off_until {
                Some(at) => [Some(at), None],
                None => [self.to_sender.front().map(|x| x.0), self.tcb.poll_at()],
            };
            let next = [
                self.to_receiver.front().map(|x| x.0),
                sender[0],
                sender[1],
                Some(until),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
            self.now = next.max(self.now + Duration::from_micros(1)).min(until);
        }
    }

    /// Bytes acknowledged by `at`.
    fn acked_by(&self, at: Instant) -> usize {
        let i = self.acked.partition_point(|(t, _)| *t <= at);
        i.checked_sub(1).map_or(0, |i| self.acked[i].1)
    }
}

/// 10 MB/s (80 Mbit/s), 40 ms RTT: a BDP of 400 kB, 274 segments.
fn path() -> Path {
    Path::new(10e6, Duration::from_millis(20))
}

#[test]
fn bbr_startup_doubles_delivery_per_round() {
    // draft-ietf-ccwg-bbr §5.3.1: STARTUP's 2.77 pacing gain and cwnd gain
    // of 2 double the data delivered each round trip until the pipe fills.
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_millis(400), |_| {});
    let rtt = Duration::from_millis(40);
    // Delivered per round trip, rounds 1..=5 (IW 10 → ~160 segments,
    // still well under the 274-segment BDP).
    let per_round: Vec<usize> = (1..=5u32)
        .map(|k| p.acked_by(start + rtt * (k + 1)) - p.acked_by(start + rtt * k))
        .collect();
    for w in per_round.windows(2) {
        let ratio = w[1] as f64 / w[0] as f64;
        assert!(
            (1.6..=2.5).contains(&ratio),
            "delivery per round {per_round:?}: ratio {ratio}"
        );
    }
    assert!(per_round[0] >= 10 * MSS, "{per_round:?}");
}

#[test]
fn bbr_exits_startup_when_bandwidth_plateaus_then_drains() {
    // §5.3.1.2: three rounds without 25% growth end STARTUP; DRAIN then
    // lowers inflight to one BDP and PROBE_BW begins (§5.3.2).
    let mut p = path();
    let start = p.now;
    let mut modes: Vec<(Instant, BbrMode)> = Vec::new();
    p.run_until(start + Duration::from_secs(2), |p| {
        let m = p.state().mode.unwrap();
        if modes.last().is_none_or(|(_, last)| *last != m) {
            modes.push((p.now, m));
        }
    });
    let order: Vec<BbrMode> = modes.iter().map(|(_, m)| *m).collect();
    assert_eq!(order[0], BbrMode::Startup);
    assert_eq!(order[1], BbrMode::Drain, "{modes:?}");
    assert!(
        order[2..]
            .iter()
            .all(|m| m.to_string().starts_with("PROBE_BW")),
        "{modes:?}"
    );
    // The pipe fills after ~6 rounds; three more rounds confirm the plateau.
    let drain_at = modes[1].0 - start;
    assert!(
        drain_at >= Duration::from_millis(240) && drain_at <= Duration::from_millis(560),
        "STARTUP lasted {drain_at:?}"
    );
    let s = p.state();
    let bw = s.bandwidth.unwrap() as f64;
    assert!((bw - 10e6).abs() < 0.5e6, "bandwidth estimate {bw}");
    let rtt = s.min_rtt.unwrap();
    assert!(
        rtt >= Duration::from_millis(40) && rtt < Duration::from_millis(42),
        "{rtt:?}"
    );
    // DRAIN emptied the queue STARTUP built: the bottleneck backlog is
    // below a quarter of a BDP at the end.
    let backlog = p.link_free.saturating_duration_since(p.now);
    assert!(backlog < Duration::from_millis(10), "queue of {backlog:?}");
}

#[test]
fn bbr_pacing_spacing_matches_pacing_rate() {
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_secs(1), |_| {});
    let s = p.state();
    assert!(s.mode.unwrap().to_string().starts_with("PROBE_BW"), "{s}");
    // Over the next 200 ms the sender's output rate follows pacing_rate,
    // and no single instant releases more than a send quantum.
    let from = p.sent.len();
    let t0 = p.now;
    let mut rates = Vec::new();
    p.run_until(t0 + Duration::from_millis(200), |p| {
        if let Some(r) = p.state().pacing_rate {
            rates.push(r as f64);
        }
    });
    let window = &p.sent[from..];
    let bytes: usize = window.iter().map(|(_, n)| n).sum();
    let span = (p.now - t0).as_secs_f64();
    let mean_rate = rates.iter().sum::<f64>() / rates.len() as f64;
    let out = bytes as f64 / span;
    assert!(
        (out / mean_rate - 1.0).abs() < 0.15,
        "sent at {out:.0} B/s, pacing rate {mean_rate:.0} B/s"
    );
    let mut burst = std::collections::BTreeMap::<Instant, usize>::new();
    for (at, n) in window {
        *burst.entry(*at).or_default() += n;
    }
    let largest = burst.values().copied().max().unwrap();
    // pacing_rate · 1 ms: ≈ 10 kB, 12.5 kB probing up; plus the segment
    // that overdraws the credit.
    assert!(largest <= 12_500 + 2 * MSS, "burst of {largest} bytes");
    assert!(
        burst.len() > 100,
        "{} release instants in 200 ms",
        burst.len()
    );
}

#[test]
fn bbr_poll_at_reports_the_next_pacing_release() {
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_secs(1), |_| {});
    // Drain whatever is due, then the TCB holds data back for pacing and
    // says when it may go (cwnd has room: it is pacing, not the window).
    p.transmit();
    let at = p.tcb.poll_at().expect("a release time");
    assert!(at > p.now, "release {at} at {}", p.now);
    let rate = p.state().pacing_rate.unwrap() as f64;
    let wait = (at - p.now).as_secs_f64();
    // At most one quantum (~1 ms of data) away.
    assert!(
        wait <= 20_000.0 / rate + 1e-6,
        "wait {wait} s at {rate} B/s"
    );
    assert!(p.tcb.poll_transmit(p.now).is_none(), "held until then");
    let sent = p.sent.len();
    p.now = at;
    p.transmit();
    assert!(p.sent.len() > sent, "released at {at}");
}

#[test]
fn bbr_probe_rtt_after_5s_without_new_min_rtt() {
    // §5.3.4: the path's RTT never drops below its first low, so after
    // 5 s BBR enters PROBE_RTT, holds cwnd at max(BDP/2, 4 segments) for
    // 200 ms and a round, then resumes PROBE_BW with its old window.
    let mut p = path();
    let start = p.now;
    let mut entered = None;
    let mut left = None;
    let mut cwnd_in_probe = usize::MAX;
    let mut cwnd_before = 0;
    p.run_until(start + Duration::from_secs(8), |p| {
        let s = p.state();
        match (s.mode, entered) {
            (Some(BbrMode::ProbeRtt), None) => entered = Some(p.now),
            (Some(BbrMode::ProbeRtt), Some(_)) => cwnd_in_probe = cwnd_in_probe.min(s.cwnd),
            (Some(m), Some(_)) if left.is_none() => {
                assert!(m.to_string().starts_with("PROBE_BW"), "{m}");
                left = Some((p.now, s.cwnd));
            }
            (_, None) => cwnd_before = s.cwnd,
            _ => {}
        }
    });
    let entered = entered.expect("PROBE_RTT entered");
    let since = entered - start;
    assert!(
        since > Duration::from_secs(5) && since < Duration::from_millis(5600),
        "PROBE_RTT after {since:?}"
    );
    let bdp = 400_000;
    assert!(
        cwnd_in_probe <= bdp / 2 + MSS && cwnd_in_probe >= 4 * MSS,
        "cwnd in PROBE_RTT {cwnd_in_probe}"
    );
    let (left_at, cwnd_after) = left.expect("PROBE_RTT ended");
    let stay = left_at - entered;
    assert!(
        stay >= Duration::from_millis(200) && stay < Duration::from_millis(400),
        "stayed {stay:?}"
    );
    assert!(
        cwnd_after >= cwnd_before * 9 / 10,
        "{cwnd_after} vs {cwnd_before}"
    );
}

#[test]
fn bbr_probe_rtt_cwnd_floor_is_four_segments() {
    // With a BDP under 8 segments, half a BDP is below the floor: cwnd in
    // PROBE_RTT is exactly 4 segments (BBRMinPipeCwnd).
    let mut p = Path::new(100e3, Duration::from_millis(20));
    let start = p.now;
    let mut cwnd_in_probe = None;
    p.run_until(start + Duration::from_secs(7), |p| {
        let s = p.state();
        if s.mode == Some(BbrMode::ProbeRtt) {
            cwnd_in_probe = Some(s.cwnd);
        }
    });
    assert_eq!(cwnd_in_probe, Some(4 * MSS));
}

#[test]
fn bbr_app_limited_samples_do_not_lower_bandwidth() {
    // §5.5.5 / delivery-rate draft §3.4: after the model has the path's
    // 10 MB/s, the application sends only 1 MB/s for 4 s. Those samples
    // are app-limited and must not lower max_bw.
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_secs(1), |_| {});
    let bw_before = p.state().bandwidth.unwrap() as f64;
    assert!(bw_before > 9e6, "{bw_before}");
    // Let the send buffer drain, then trickle 10 kB every 10 ms.
    p.app_total = p.app_written;
    let t1 = p.now;
    p.run_until(t1 + Duration::from_millis(500), |_| {});
    let mut min_bw = f64::MAX;
    let mut next = p.now;
    let t2 = p.now;
    p.run_until(t2 + Duration::from_secs(4), |p| {
        if p.now >= next {
            p.app_total += 10_000;
            next = p.now + Duration::from_millis(10);
        }
        min_bw = min_bw.min(p.state().bandwidth.unwrap() as f64);
    });
    assert!(
        p.acked_by(p.now) + 30_000 >= p.app_total,
        "the application, not the path, limited the sender"
    );
    assert!(
        min_bw >= 0.9 * bw_before,
        "bandwidth fell from {bw_before} to {min_bw}"
    );
}

/// The largest bandwidth estimate of a run of `secs` over the 10 MB/s,
/// 40 ms path, its sender descheduled for `off` ms every `period` ms from
/// `first` ms on, timestamps on if `ts`.
fn max_bw_of_a_descheduled_sender(ts: bool, first: u64, period: u64, off: u64) -> f64 {
    let mut p = Path::with_ts(10e6, Duration::from_millis(20), ts);
    p.ack_batch = 8;
    let start = p.now;
    let secs = 3;
    p.stalls = (0..)
        .map(|i| start + Duration::from_millis(first + i * period))
        .take_while(|at| *at < start + Duration::from_secs(secs))
        .map(|at| (at, at + Duration::from_millis(off)))
        .collect();
    let mut max_bw = 0f64;
    p.run_until(start + Duration::from_secs(secs), |p| {
        max_bw = max_bw.max(p.state().bandwidth.unwrap_or(0) as f64);
    });
    assert!(
        p.acked_by(p.now) as f64 > 0.5 * 10e6 * secs as f64,
        "the path carried the transfer: {} bytes",
        p.acked_by(p.now)
    );
    max_bw
}

#[test]
fn bbr_late_processed_acks_do_not_read_above_the_line() {
    // A userspace sender handles the ACKs that arrived while it was
    // descheduled all at once, stamped with one late time. A packet sent
    // just after such a batch starts its sample's ACK interval at that
    // late time while the bytes counted up to its own ACK include the ACKs
    // that arrived during the stall; with STARTUP's queue growing, the
    // send interval is short as well. Without timestamps the estimate
    // here reads 11.5-13.0 MB/s on a 10 MB/s line, the sender handling
    // 8 ACKs per batch (as the bench's 1034-1257 Mbit/s on its 1 Gbit/s
    // line). With the receiver's
    // TSvals (1 ms ticks) the interval is at least the receiver's
    // spacing of the two ACKs, so the estimate stays at the line's rate.
    // (The path serializes a 1448-byte segment in 144 µs, whole
    // microseconds: its rate is 10.06 MB/s.)
    for (first, period, off) in [(270, 10_000, 20), (190, 60, 20), (310, 97, 30)] {
        let max_bw = max_bw_of_a_descheduled_sender(true, first, period, off);
        assert!(
            max_bw <= 1.03 * 10e6,
            "stalls of {off} ms from {first} ms every {period} ms: max_bw {max_bw}"
        );
        assert!(max_bw >= 0.95 * 10e6, "max_bw {max_bw}: the line was found");
    }
}

#[test]
fn cubic_does_not_pace() {
    // Only an algorithm that sets a pacing rate holds data back.
    let mut tcb = established();
    tcb.send(&vec![1u8; 14_600]).unwrap();
    assert_eq!(recv(&mut tcb, t(20)).len(), 10);
    let s = tcb.cc_state();
    assert_eq!(
        (s.algorithm, s.pacing_rate, s.mode),
        (Algorithm::Cubic, None, None)
    );
}

#[test]
fn set_congestion_control_switches_and_keeps_the_window() {
    let mut tcb = established();
    let cwnd = tcb.cwnd();
    tcb.set_congestion_control(Algorithm::Bbr);
    assert_eq!(tcb.congestion_control(), Algorithm::Bbr);
    let s = tcb.cc_state();
    assert_eq!((s.cwnd, s.mode), (cwnd, Some(BbrMode::Startup)));
    tcb.set_congestion_control(Algorithm::NewReno);
    assert_eq!(tcb.cc_state().mode, None);
    assert_eq!(tcb.cwnd(), cwnd);
    // Before the handshake it survives MSS negotiation.
    let mut tcb = syn_sent();
    tcb.set_congestion_control(Algorithm::Bbr);
    send!(tcb, t(10), syn_ack(None));
    assert_eq!(tcb.congestion_control(), Algorithm::Bbr);
    assert_eq!("BBR".parse::<Algorithm>(), Ok(Algorithm::Bbr));
    assert_eq!("reno".parse::<Algorithm>(), Ok(Algorithm::NewReno));
    assert!("vegas".parse::<Algorithm>().is_err());
}

/// BBR's model fed synthetic rate samples: a steady 100 Mbit/s, 10 ms
/// path (a BDP of 125 kB, 86 segments), one segment per ACK.
struct Model {
    bbr: Bbr,
    now: Instant,
    delivered: u64,
    /// Bytes marked lost so far.
    lost: u64,
    /// `lost` at each earlier ACK, one flight back at most.
    lost_at: VecDeque<u64>,
    /// The flight in BDPs once the window has opened.
    flight_bdps: f64,
    /// The sender leaves its window unfilled (descheduled, say): its ACKs
    /// are not cwnd-limited.
    stalled: bool,
    /// The path's delivery rate (bytes/s).
    rate: f64,
}

const RATE: f64 = 12.5e6;
const BDP: u64 = 125_000;

impl Model {
    fn new() -> Model {
        Model::made_at(Instant::ZERO, Instant::from_millis(10))
    }

    /// The model made at `made` (as the stack makes it, at its clock's
    /// zero), its connection's first ACK after `start`.
    fn made_at(made: Instant, start: Instant) -> Model {
        let now = start;
        let mut bbr = Bbr::new(MSS, 10 * MSS, 1, made);
        bbr.init_pacing_rate(Some(Duration::from_millis(10)));
        Model {
            bbr,
            now,
            delivered: 0,
            lost: 0,
            lost_at: VecDeque::new(),
            flight_bdps: 1.0,
            stalled: false,
            rate: RATE,
        }
    }

    /// One ACK delivering a segment at the path's rate; `lost` segments
    /// are newly marked lost with it.
    fn ack(&mut self, lost: u64) {
        let mss = MSS as u64;
        self.now += Duration::from_secs_f64(MSS as f64 / self.rate);
        let newly_lost = lost * mss;
        self.lost += newly_lost;
        // The sampled segment was sent one flight ago.
        let flight = ((self.flight_bdps * BDP as f64) as u64).min(self.delivered + mss);
        let lost_since = self.lost - self.lost_at.front().copied().unwrap_or(0);
        self.lost_at.push_back(self.lost);
        if self.lost_at.len() as u64 > BDP / mss {
            self.lost_at.pop_front();
        }
        let prior_delivered = self.delivered.saturating_sub(flight - mss);
        self.delivered += mss;
        let rs = RateSample {
            delivery_rate: self.rate,
            delivered: self.delivered - prior_delivered,
            prior_delivered,
            interval: Duration::from_millis(10),
            rtt: Some(Duration::from_millis(10)),
            is_app_limited: false,
            newly_acked: mss,
            newly_lost,
            tx_in_flight: flight,
            lost: lost_since,
            lost_segment: None,
            total_delivered: self.delivered,
        };
        let ctx = AckContext {
            in_flight: flight - mss,
            // STARTUP's sender fills its window (its plateau rounds
            // count only then); elsewhere the model's flight is its own.
            cwnd_limited: self.bbr.mode() == BbrMode::Startup && !self.stalled,
        };
        self.bbr.on_ack(self.now, &rs, ctx);
    }

    /// The modes seen over `n` clean rounds, each once, in order.
    fn modes_over_rounds(&mut self, n: u64) -> Vec<BbrMode> {
        let mut modes = vec![self.bbr.mode()];
        for _ in 0..n * (BDP / MSS as u64) {
            self.ack(0);
            if modes.last() != Some(&self.bbr.mode()) {
                modes.push(self.bbr.mode());
            }
        }
        modes
    }

    /// `n` rounds (flights) of ACKs, with `losses` ACKs in each marking
    /// one segment lost, spread over the round.
    fn rounds(&mut self, n: u64, losses: u64) {
        let per_round = BDP / MSS as u64;
        let gap = per_round / losses.max(1);
        for _ in 0..n {
            for i in 0..per_round {
                let lost = u64::from(losses > 0 && i % gap == 0 && i / gap < losses);
                self.ack(lost);
            }
        }
    }
}

#[test]
fn bbr_random_loss_under_the_evidence_count_leaves_the_model_alone() {
    // Two losses in a round of 85 segments is 2.4%, over the draft's 2%
    // LossThresh; on a flight this small 1% random loss does that by
    // chance one round in five. With fewer than six loss events in the
    // round (the draft's STARTUP full-loss count) it is not taken as
    // congestion: bw_lo and inflight_lo stay unset.
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise, "{:?}", m.bbr.mode());
    let bw = m.bbr.max_bw();
    assert!((bw - RATE).abs() < 0.01 * RATE, "{bw}");
    m.rounds(10, 2);
    assert_eq!(m.bbr.bandwidth(), bw, "bw_lo cut by two losses a round");
    assert_eq!(m.bbr.inflight_lo(), None);
    assert!(m.bbr.mode().to_string().starts_with("PROBE_BW"));
}

#[test]
fn bbr_two_congested_rounds_in_a_row_cut_bw_lo() {
    // Six loss events in each of two consecutive rounds of 85 (7%):
    // congestion by the draft's rule, with enough evidence and again in
    // the next round. Outside bandwidth probing the short-term bounds
    // fall to max(latest delivery, 0.7 · bound) (§5.5.10.3).
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise);
    let bw = m.bbr.max_bw();
    // The third round's first ACK closes the second lossy round.
    m.rounds(3, 6);
    assert!(m.bbr.inflight_lo().is_some(), "inflight_lo set");
    assert!(
        m.bbr.bandwidth() <= bw,
        "bandwidth {} vs {bw}",
        m.bbr.bandwidth()
    );
    assert!(m.bbr.inflight_lo().unwrap() < 2 * BDP);
}

#[test]
fn bbr_one_congested_round_between_clean_ones_leaves_the_bounds_alone() {
    // A lone round over 2% with six loss events, as a loss burst or 1%
    // random loss gives now and then, is not taken for a full queue: the
    // short-term bounds stay unset (the draft would cut them to the
    // round's delivery until the next probe, 2–3 s later), and so do
    // they after any number of such rounds with clean ones between.
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise);
    let bw = m.bbr.bandwidth();
    for _ in 0..5 {
        // Six ACKs in a row, each marking a segment lost: one loss round.
        for _ in 0..6 {
            m.ack(1);
        }
        m.rounds(2, 0);
        assert_eq!(m.bbr.inflight_lo(), None);
        assert_eq!(m.bbr.bandwidth(), bw, "bw_lo cut by a lone lossy round");
    }
}

#[test]
fn bbr_startup_loss_exit_probes_its_bounds_at_once() {
    // STARTUP ends on loss after its second and third rounds (eight loss
    // events each, 9% of the flight, in recovery): inflight_hi is that
    // flight. The first PROBE_BW cycle refills and probes up within a few
    // rounds, not after the 2–3 s probe wait (200–300 rounds here).
    let mut m = Model::new();
    m.bbr.on_enter_recovery(m.delivered, m.delivered);
    m.rounds(2, 8);
    // An ACK of the next round judges the lossy one.
    for _ in 0..BDP / MSS as u64 {
        if m.bbr.full_bw_reached() {
            break;
        }
        m.ack(0);
    }
    assert!(m.bbr.full_bw_reached(), "no loss exit");
    let hi = m.bbr.inflight_hi().expect("inflight_hi set by the exit");
    assert!(hi < 2 * BDP, "{hi}");
    m.bbr.on_exit_recovery();
    let modes = m.modes_over_rounds(8);
    assert!(modes.contains(&BbrMode::ProbeBwUp), "{modes:?}");
    // A plateau exit waits as the draft says.
    let mut m = Model::new();
    let modes = m.modes_over_rounds(40);
    assert!(m.bbr.full_bw_reached());
    assert!(!modes.contains(&BbrMode::ProbeBwRefill), "{modes:?}");
    assert!(!modes.contains(&BbrMode::ProbeBwUp), "{modes:?}");
    // So does a loss exit with twice the BDP in flight: STARTUP's own
    // queue overflowing, whose bounds are right.
    let mut m = Model::new();
    m.flight_bdps = 2.0;
    // (Rounds of twice the BDP: four of `rounds` are two loss rounds.)
    m.rounds(1, 0);
    assert_eq!(m.bbr.mode(), BbrMode::Startup);
    m.bbr.on_enter_recovery(2 * BDP, m.delivered);
    m.rounds(4, 12);
    for _ in 0..BDP / MSS as u64 {
        if m.bbr.full_bw_reached() {
            break;
        }
        m.ack(0);
    }
    assert!(m.bbr.full_bw_reached(), "no loss exit");
    assert!(m.bbr.inflight_hi().is_some());
    m.bbr.on_exit_recovery();
    // DRAIN empties the queue.
    m.flight_bdps = 1.0;
    let modes = m.modes_over_rounds(40);
    assert!(modes.contains(&BbrMode::ProbeBwCruise), "{modes:?}");
    assert!(!modes.contains(&BbrMode::ProbeBwUp), "{modes:?}");
}

#[test]
fn bbr_one_lossy_startup_round_does_not_end_startup() {
    // One STARTUP round in recovery over 2% lost with eight loss events,
    // as 1% random loss gives by chance a few times in a hundred rounds,
    // then a clean round that judges it: STARTUP goes on (the draft ends
    // it there, with inflight_hi at that round's flight) and ends later
    // on its plateau, with no inflight_hi. Two such rounds in a row end
    // it (`bbr_startup_loss_exit_probes_its_bounds_at_once`).
    let mut m = Model::new();
    m.rounds(1, 0);
    m.bbr.on_enter_recovery(m.delivered, m.delivered);
    m.rounds(1, 8);
    m.rounds(1, 0);
    m.bbr.on_exit_recovery();
    assert_eq!(m.bbr.mode(), BbrMode::Startup);
    assert!(!m.bbr.full_bw_reached());
    assert_eq!(m.bbr.inflight_hi(), None);
    let modes = m.modes_over_rounds(10);
    assert!(m.bbr.full_bw_reached(), "{modes:?}");
    assert_eq!(m.bbr.inflight_hi(), None, "a plateau exit, not a loss exit");
}

#[test]
fn bbr_startup_rounds_the_sender_did_not_fill_are_not_a_plateau() {
    // Rounds of flat delivery in which the flight never reached cwnd (a
    // sender descheduled on a loaded machine, data waiting, so not
    // app-limited) did not test the path: STARTUP goes on (the draft
    // counts them towards its three-round plateau). Once the sender
    // fills its window, three flat rounds end STARTUP.
    let mut m = Model::new();
    m.stalled = true;
    m.rounds(10, 0);
    assert_eq!(m.bbr.mode(), BbrMode::Startup);
    assert!(!m.bbr.full_bw_reached());
    m.stalled = false;
    let modes = m.modes_over_rounds(6);
    assert!(m.bbr.full_bw_reached(), "{modes:?}");
    assert!(
        modes.iter().any(|m| m.to_string().starts_with("PROBE_BW")),
        "{modes:?}"
    );
}

#[test]
fn bbr_recovery_rounds_held_at_the_bdp_are_not_a_startup_plateau() {
    // STARTUP rounds in fast recovery on random losses (two a round in
    // 85 segments), the flight held at one BDP of the bandwidth reached
    // (packet conservation), delivery flat: they could not have grown
    // 25%, and neither count toward the plateau nor reset it. Counted,
    // they ended STARTUP at a fifth of the path (traced on the bench
    // line, 50 ms, 1%: 17.3 of 100 Mbit/s). Once recovery is over, three
    // flat rounds end it.
    let mut m = Model::new();
    m.rounds(1, 0);
    m.bbr.on_enter_recovery(m.delivered, m.delivered);
    m.rounds(8, 2);
    assert_eq!(m.bbr.mode(), BbrMode::Startup);
    assert!(!m.bbr.full_bw_reached());
    m.bbr.on_exit_recovery();
    let modes = m.modes_over_rounds(6);
    assert!(m.bbr.full_bw_reached(), "{modes:?}");
    assert_eq!(m.bbr.inflight_hi(), None, "a plateau exit, not a loss exit");
}

#[test]
fn bbr_recovery_rounds_with_twice_the_bdp_in_flight_still_end_startup() {
    // STARTUP's own queue overflow: recovery rounds with twice the BDP in
    // flight (its cwnd gain), delivery flat at the bottleneck, two losses
    // in each BDP delivered (under the loss exit). They tested the path
    // and end STARTUP after three rounds.
    let mut m = Model::new();
    m.flight_bdps = 2.0;
    m.rounds(2, 0);
    m.bbr.on_enter_recovery(m.delivered, m.delivered);
    // A round of this flight is two BDPs of ACKs.
    let mut bdps = 0;
    while !m.bbr.full_bw_reached() && bdps < 24 {
        m.rounds(1, 2);
        bdps += 1;
    }
    assert!(m.bbr.full_bw_reached(), "STARTUP went on for {bdps} BDPs");
    assert!(bdps <= 8, "{bdps} BDPs delivered, four rounds");
    assert_eq!(m.bbr.inflight_hi(), None, "a plateau exit, not a loss exit");
}

#[test]
fn bbr_recovery_that_begins_within_a_round_of_the_last_continues_it() {
    // At 1% random loss on a large flight a recovery ends and the next
    // begins a few ACKs later. Linux's BBR sees one recovery (the next
    // loss re-enters it on the ACK that ends the last) and conserves
    // packets only in its first round; each fresh episode here cut cwnd
    // to the pipe — the flight less the SACKed data above the holes —
    // and held it there a round, so STARTUP's delivery stalled into a
    // plateau (traced at 1 Gbit/s, 100 ms, 1%: STARTUP ended at
    // 31 Mbit/s).
    let mut m = Model::new();
    m.rounds(2, 0);
    let pipe = BDP / 2;
    m.bbr.on_enter_recovery(pipe, m.delivered);
    assert_eq!(m.bbr.cwnd() as u64, pipe + MSS as u64, "first episode");
    // One loss in a round of 85 segments: 1.2%, a lossy link.
    m.rounds(1, 1);
    m.bbr.on_exit_recovery();
    let restored = m.bbr.cwnd();
    assert!(restored as u64 > pipe + MSS as u64);
    for _ in 0..5 {
        m.ack(0);
    }
    m.bbr.on_enter_recovery(pipe, m.delivered);
    assert!(m.bbr.in_recovery());
    assert!(
        m.bbr.cwnd() >= restored,
        "cwnd {} cut from {restored} by a chained episode",
        m.bbr.cwnd()
    );
    m.ack(1);
    assert!(m.bbr.cwnd() + MSS >= restored, "only the loss comes off");
    // A recovery that begins more than a round after the last ended is a
    // new episode: conservation again.
    m.bbr.on_exit_recovery();
    m.rounds(2, 0);
    m.bbr.on_enter_recovery(pipe, m.delivered);
    assert_eq!(m.bbr.cwnd() as u64, pipe + MSS as u64, "a fresh episode");
    // So is one that follows a recovery which lost more than 2% (a queue
    // overflowing, not a lossy link): 10 of 85 segments here.
    m.rounds(1, 10);
    m.bbr.on_exit_recovery();
    for _ in 0..5 {
        m.ack(0);
    }
    m.bbr.on_enter_recovery(pipe, m.delivered);
    assert_eq!(m.bbr.cwnd() as u64, pipe + MSS as u64, "after heavy loss");
}

/// A model in PROBE_BW:UP, its flight `flight_bdps` BDPs.
fn model_probing_up(flight_bdps: f64) -> Model {
    let mut m = Model::new();
    m.rounds(20, 0);
    let mut acks = 0;
    while m.bbr.mode() != BbrMode::ProbeBwUp {
        m.ack(0);
        acks += 1;
        assert!(acks < 400 * BDP / MSS as u64, "no probe");
    }
    m.flight_bdps = flight_bdps;
    m
}

#[test]
fn bbr_probe_losses_within_the_bdp_leave_inflight_hi_alone() {
    // Eight losses a round (9%) in a bandwidth probe whose flight is the
    // BDP: not this flow's queue overflowing, so no inflight_hi. With a
    // tenth more in flight than the BDP they bound it (§5.5.10.2).
    let mut m = model_probing_up(1.0);
    m.rounds(2, 8);
    assert_eq!(m.bbr.inflight_hi(), None);
    let mut m = model_probing_up(1.1);
    m.rounds(2, 8);
    let hi = m
        .bbr
        .inflight_hi()
        .expect("the probe's losses set inflight_hi");
    assert!(hi > BDP && hi <= BDP * 11 / 10, "{hi}");
}

#[test]
fn bbr_cruise_headroom_does_not_take_cwnd_under_the_bdp() {
    // Losses in a bandwidth probe cut inflight_hi to the flight at the
    // loss, a tenth over the BDP here. CRUISE's 15% headroom would then
    // hold cwnd at 0.94 BDP, under what the pacing rate needs; it is
    // bounded below by the BDP (and above by inflight_hi).
    let mut m = model_probing_up(1.1);
    m.rounds(2, 8);
    let hi = m
        .bbr
        .inflight_hi()
        .expect("the probe's losses set inflight_hi");
    m.flight_bdps = 1.0;
    let modes = m.modes_over_rounds(10);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise, "{modes:?}");
    let (cwnd, bdp) = (m.bbr.cwnd() as u64, (m.bbr.bandwidth() * 0.010) as u64);
    assert!(
        cwnd >= hi.min(bdp),
        "cwnd {cwnd}, BDP {bdp}, inflight_hi {hi}"
    );
    assert!(cwnd <= hi, "cwnd {cwnd}, inflight_hi {hi}");
}

#[test]
fn bbr_fast_recovery_after_a_timeout_keeps_the_window_saved_before_it() {
    // A retransmission timeout saves cwnd and restarts from one segment;
    // fast recovery entered before the timeout's window is restored is
    // still loss recovery (BBRSaveCwnd, §5.6.4.4): its end restores the
    // window from before the timeout, not the one slow-starting after it.
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise);
    let before = m.bbr.cwnd();
    assert!(before as u64 >= BDP, "{before}");
    m.bbr.on_rto(BDP, m.delivered);
    assert_eq!(m.bbr.cwnd(), MSS);
    m.bbr.on_enter_recovery(10 * MSS as u64, m.delivered);
    m.bbr.on_exit_recovery();
    assert!(m.bbr.cwnd() >= before, "{} < {before}", m.bbr.cwnd());
}

#[test]
fn bbr_connection_accepted_long_after_the_stack_started_does_not_begin_in_probe_rtt() {
    // The model is made at the stack's clock zero; its connection starts
    // 60 s later. The 5 s PROBE_RTT interval and the 10 s min-RTT window
    // run from the connection's first RTT sample (BBRInit: "now"), not
    // from the stack's start.
    let mut m = Model::made_at(Instant::ZERO, Instant::from_secs(60));
    let mut modes = Vec::new();
    for _ in 0..6 {
        m.rounds(1, 0);
        modes.push(m.bbr.mode());
    }
    assert!(!modes.contains(&BbrMode::ProbeRtt), "{modes:?}");
    assert_eq!(m.bbr.min_rtt(), Some(Duration::from_millis(10)));
}

/// 1 Gbit/s and a 64 KiB quantum, one quantum sent: the next is due in
/// 0.5 ms.
fn held_pacer() -> (crate::tcp::output::Pacer, Instant) {
    let mut p = crate::tcp::output::Pacer::default();
    let t0 = t(10);
    assert!(p.allows(t0, 125e6, 65536.0));
    p.spend(2 * 65536);
    assert!(!p.allows(t0, 125e6, 65536.0));
    let due = p.wake.expect("held");
    (p, due)
}

/// Bytes the pacer lets out at `now`, a quantum at a time.
fn released(p: &mut crate::tcp::output::Pacer, now: Instant) -> usize {
    let mut n = 0;
    while p.allows(now, 125e6, 65536.0) && n < 100 << 20 {
        p.spend(65536);
        n += 65536;
    }
    n
}

#[test]
fn pacer_makes_up_the_time_a_late_sender_lost() {
    // Polled 5 ms after its release time (a descheduled process), the
    // pacer lets out what 5 ms at the rate carries (625 kB), not just
    // its two quanta: pacing at the line's rate otherwise leaves the
    // line idle for every stall.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due + Duration::from_millis(5));
    assert!(n >= 600_000, "{n} bytes after a 5 ms stall");
    // On time, it holds to its quanta.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due);
    assert!(n <= 2 * 65536, "{n} bytes on time");
}

#[test]
fn pacer_catch_up_is_bounded() {
    // A stall of 100 ms makes up at most 10 ms (1.25 MB at 1 Gbit/s),
    // plus the quanta: not a burst of the whole BDP.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due + Duration::from_millis(100));
    assert!(n >= 1_200_000, "{n}");
    assert!(n <= 1_250_000 + 3 * 65536, "{n} bytes after a 100 ms stall");
    // The next quantum waits for the rate again.
    let next = due + Duration::from_millis(100);
    assert!(!p.allows(next, 125e6, 65536.0));
}

#[test]
fn bbr_probe_that_found_a_quarter_more_probes_again_within_rounds() {
    // A probe finds twice the bandwidth the model had (its model well
    // under the path, as after a STARTUP that ended low) and a loss burst
    // ends it. The probe after comes within a
    // few rounds (v1's 8-round cycle), not after the draft's 2-3 s.
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise);
    let mut acks = 0;
    while m.bbr.mode() != BbrMode::ProbeBwUp {
        m.ack(0);
        acks += 1;
        assert!(acks < 2_000_000, "no probe");
    }
    // The model delivers whatever rate it is given: the probe, pacing
    // at 1.25 times its estimate, finds twice it.
    m.rate = 2.0 * RATE;
    m.rounds(1, 0);
    // A burst: one ACK in four marks a segment lost.
    let mut i = 0;
    while m.bbr.mode() == BbrMode::ProbeBwUp {
        m.ack(u64::from(i % 4 == 0));
        i += 1;
        assert!(i < 1000, "the burst did not end the probe");
    }
    // Down (and at once cruising: the model's flight is the BDP).
    assert!(
        [BbrMode::ProbeBwDown, BbrMode::ProbeBwCruise].contains(&m.bbr.mode()),
        "{:?}",
        m.bbr.mode()
    );
    assert!(m.bbr.max_bw() >= 1.9 * RATE, "{}", m.bbr.max_bw());
    let down = m.now;
    while m.bbr.mode() != BbrMode::ProbeBwRefill {
        m.ack(0);
        assert!(m.now - down < Duration::from_secs(4), "no second probe");
    }
    let wait = m.now - down;
    // min_rtt is 10 ms here.
    assert!(
        wait <= Duration::from_millis(100),
        "next probe after {wait:?}"
    );
    // That probe finds nothing more: the draft's wait again, the earlier
    // of 2-3 s and Reno's time.
    while m.bbr.mode() != BbrMode::ProbeBwDown {
        m.ack(0);
    }
    let down = m.now;
    while m.bbr.mode() != BbrMode::ProbeBwRefill {
        m.ack(0);
        assert!(m.now - down < Duration::from_secs(4), "no third probe");
    }
    // (Here Reno's 63 rounds of 85 ACKs, 310 ms, come before 2-3 s.)
    assert!(
        m.now - down >= Duration::from_millis(250),
        "{:?}",
        m.now - down
    );
}

#[test]
fn bbr_regrowth_after_a_rate_step_probes_again_within_rounds() {
    // Over the path harness: 2 MB/s until PROBE_BW has settled, then
    // 10 MB/s. The probe that finds the new rate is followed by another
    // within 10 round trips (40 ms each), which finds nothing more, and
    // then the draft's 2-3 s wait.
    let mut p = Path::new(2e6, Duration::from_millis(20));
    let start = p.now;
    p.run_until(start + Duration::from_secs(2), |_| {});
    assert_eq!(
        p.state().mode,
        Some(BbrMode::ProbeBwCruise),
        "{}",
        p.state()
    );
    let bw = p.state().bandwidth.unwrap() as f64;
    assert!((1.8e6..2.2e6).contains(&bw), "{bw}");
    p.rate = 10e6;
    let step = p.now;
    let mut modes: Vec<(Duration, BbrMode, u64)> = Vec::new();
    p.run_until(step + Duration::from_secs(6), |p| {
        let st = p.state();
        let m = st.mode.unwrap();
        if modes.last().is_none_or(|x| x.1 != m) {
            modes.push((p.now - step, m, st.bandwidth.unwrap()));
        }
    });
    let ups: Vec<_> = modes.iter().filter(|x| x.1 == BbrMode::ProbeBwUp).collect();
    let downs: Vec<_> = modes
        .iter()
        .filter(|x| x.1 == BbrMode::ProbeBwDown)
        .collect();
    assert!(ups.len() >= 3 && downs.len() >= 2, "{modes:?}");
    assert!(
        downs[0].2 >= 9_000_000,
        "the first probe found the rate: {modes:?}"
    );
    assert!(
        ups[1].0 - downs[0].0 <= Duration::from_millis(400),
        "{modes:?}"
    );
    assert!(
        ups[2].0 - downs[1].0 >= Duration::from_millis(1500),
        "{modes:?}"
    );
}
