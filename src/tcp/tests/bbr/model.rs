//! The model harness: BBR's model ([`Bbr`]) fed synthetic rate samples
//! of a steady path, one segment per ACK, with losses placed by the test.

use super::*;

/// BBR's model fed synthetic rate samples: a steady 100 Mbit/s, 10 ms
/// path (a BDP of 125 kB, 86 segments), one segment per ACK.
pub(super) struct Model {
    pub(super) bbr: Bbr,
    pub(super) now: Instant,
    pub(super) delivered: u64,
    /// Bytes marked lost so far.
    pub(super) lost: u64,
    /// `lost` at each earlier ACK, one flight back at most.
    pub(super) lost_at: VecDeque<u64>,
    /// The flight in BDPs once the window has opened.
    pub(super) flight_bdps: f64,
    /// The sender leaves its window unfilled (descheduled, say): its ACKs
    /// are not cwnd-limited.
    pub(super) stalled: bool,
    /// The path's delivery rate (bytes/s).
    pub(super) rate: f64,
    /// The pipe (bytes neither SACKed nor lost) when each sampled segment
    /// was sent, if not the flight: segments sent as a receive-window
    /// stall ended. Their losses since are then the whole flight's.
    pub(super) send_pipe: Option<u64>,
}

pub(super) const RATE: f64 = 12.5e6;

pub(super) const BDP: u64 = 125_000;

impl Model {
    pub(super) fn new() -> Model {
        Model::made_at(Instant::ZERO, Instant::from_millis(10))
    }

    /// The model made at `made` (as the stack makes it, at its clock's
    /// zero), its connection's first ACK after `start`.
    pub(super) fn made_at(made: Instant, start: Instant) -> Model {
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
            send_pipe: None,
        }
    }

    /// One ACK delivering a segment at the path's rate; `lost` segments
    /// are newly marked lost with it.
    pub(super) fn ack(&mut self, lost: u64) {
        let mss = MSS as u64;
        self.now += Duration::from_secs_f64(MSS as f64 / self.rate);
        let newly_lost = lost * mss;
        self.lost += newly_lost;
        // The sampled segment was sent one flight ago.
        let flight = ((self.flight_bdps * BDP as f64) as u64).min(self.delivered + mss);
        let lost_since = self.lost - self.lost_at.front().copied().unwrap_or(0);
        self.lost_at.push_back(self.lost);
        let window = match self.send_pipe {
            Some(_) => flight / mss,
            None => BDP / mss,
        };
        if self.lost_at.len() as u64 > window {
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
            tx_in_flight: self.send_pipe.unwrap_or(flight),
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
    pub(super) fn modes_over_rounds(&mut self, n: u64) -> Vec<BbrMode> {
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
    pub(super) fn rounds(&mut self, n: u64, losses: u64) {
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

/// A model in PROBE_BW:UP, its flight `flight_bdps` BDPs.
pub(super) fn model_probing_up(flight_bdps: f64) -> Model {
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
