//! The connection harness: a BBR sender [`Tcb`] over a modelled path — a
//! bottleneck that serializes segments at a fixed rate, a one-way delay each
//! way, a receiver that ACKs every segment — all in virtual time.

use super::*;

/// An ACK's (TSval, TSecr).
type Timestamps = (u32, u32);

/// The path: bottleneck `rate` (bytes/s) and one-way `delay`.
pub(super) struct Path {
    pub(super) tcb: Tcb,
    pub(super) now: Instant,
    pub(super) rate: f64,
    pub(super) delay: Duration,
    /// When the bottleneck is free again.
    pub(super) link_free: Instant,
    /// Segment ends reaching the receiver, by arrival time, with their TSval.
    pub(super) to_receiver: VecDeque<(Instant, SeqNumber, Option<u32>)>,
    /// ACKs reaching the sender, with the receiver's timestamps.
    pub(super) to_sender: VecDeque<(Instant, SeqNumber, Option<Timestamps>)>,
    /// Timestamps negotiated: the receiver stamps its ACKs on a 1 ms clock
    /// (as Linux does) and echoes the newest TSval it received.
    pub(super) ts: bool,
    pub(super) ts_recent: u32,
    /// Times the sender's process is off (a userspace sender descheduled
    /// on a loaded machine), as (from, until): ACKs wait and nothing is
    /// sent; it handles what waited when it runs again.
    pub(super) stalls: Vec<(Instant, Instant)>,
    /// ACKs the sender handles before it sends again (a driver reading
    /// its device in batches); 0: all that are due.
    pub(super) ack_batch: usize,
    /// Highest in-order end the receiver has.
    pub(super) rcv_end: SeqNumber,
    /// (time, bytes) of every data segment the sender emitted.
    pub(super) sent: Vec<(Instant, usize)>,
    /// Acknowledged bytes so far and when.
    pub(super) acked: Vec<(Instant, usize)>,
    /// The application writes up to this many bytes in total.
    pub(super) app_total: usize,
    pub(super) app_written: usize,
}

impl Path {
    /// An established BBR connection at t = 10 ms over `rate`/`delay`.
    pub(super) fn new(rate: f64, delay: Duration) -> Path {
        Path::with_ts(rate, delay, false)
    }

    /// [`new`](Path::new), with timestamps if `ts`.
    pub(super) fn with_ts(rate: f64, delay: Duration, ts: bool) -> Path {
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

    pub(super) fn state(&self) -> CcState {
        self.tcb.cc_state()
    }

    /// Keeps the send buffer full up to `app_total` bytes.
    pub(super) fn write(&mut self) {
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
    pub(super) fn transmit(&mut self) {
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
    pub(super) fn sender_off_until(&self) -> Option<Instant> {
        self.stalls
            .iter()
            .find(|(from, until)| (*from..*until).contains(&self.now))
            .map(|s| s.1)
    }

    /// Runs until `until` (virtual), calling `each` after every step.
    pub(super) fn run_until(&mut self, until: Instant, mut each: impl FnMut(&mut Path)) {
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
    pub(super) fn acked_by(&self, at: Instant) -> usize {
        let i = self.acked.partition_point(|(t, _)| *t <= at);
        i.checked_sub(1).map_or(0, |i| self.acked[i].1)
    }
}

/// 10 MB/s (80 Mbit/s), 40 ms RTT: a BDP of 400 kB, 274 segments.
pub(super) fn path() -> Path {
    Path::new(10e6, Duration::from_millis(20))
}
