//! Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation)
//! for model-based congestion control (BBR).
//!
//! Each segment sent leaves a record with a snapshot of the connection's
//! delivery state (§3.2 "Transmitting a packet": `delivered`,
//! `delivered_time`, `first_send_time`, `is_app_limited`) plus what BBR's
//! loss model needs (`tx_in_flight`, `lost` at send). When an ACK or a SACK
//! block shows a record delivered, the newest such record yields a rate
//! sample (§3.3 "Upon receiving ACK"): bytes delivered between its send
//! and now, over max(send interval, ACK interval).
//!
//! Records are kept per MSS-sized piece, in sequence order, so partial
//! SACKs of a TSO batch count exactly. Their number is bounded: beyond
//! [`MAX_RECORDS`] new data extends the last record (coarser samples, same
//! byte accounting). Losses are RACK's marks (RFC 8985, `rack.rs`), fed
//! in with [`RateSampler::mark_lost`] when RACK (or the DupThresh rule)
//! marks segments, or a retransmission timeout; the next ACK's sample
//! reports them.
//!
//! Deliberate deviation (a userspace sender): when the peer sends
//! timestamps (RFC 7323) on a clock no faster than 1 ms per tick, a
//! sample's interval is raised to the receiver's own spacing of the two
//! ACKs that bound it (their TSval advance) when that exceeds it by more
//! than a tick. Linux stamps ACKs as they arrive; this sender stamps them
//! when its process gets to them, in batches after a stall. A segment
//! sent between two batches starts its ACK interval at that late time,
//! while the bytes counted up to its own ACK include the ACKs that
//! arrived during the stall; with STARTUP's queue growing, the send
//! interval is short as well, and the sample read above the line's rate.
//! Traced on the bench line (1 Gbit/s, 50 ms): ACK intervals of 73.6 ms
//! where the receiver's TSvals spanned 93, and STARTUP's max_bw at
//! 1014–1120 Mbit/s where the line carries 965 Mbit/s of payload; with
//! the bound 971.8–984.4. A receiver cannot receive faster than the line
//! delivers, so its spacing is the interval's floor.
//!
use super::bbr::AckContext;
use super::Tcb;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpSegment};
use std::collections::VecDeque;

/// Most per-segment records kept (about 24 MB of flight at a 1460 MSS).
pub(super) const MAX_RECORDS: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Sent (or resent) and not known delivered or lost: in flight.
    Outstanding,
    /// SACKed; delivered.
    Sacked,
    /// Marked lost and not yet resent.
    Lost,
}

/// What the sender knew when it sent one segment (draft §3.2).
#[derive(Clone, Copy, Debug)]
struct Record {
    start: SeqNumber,
    len: u32,
    sent_at: Instant,
    delivered: u64,
    delivered_time: Instant,
    first_send_time: Instant,
    app_limited: bool,
    /// Bytes in flight just after this segment was sent.
    tx_in_flight: u64,
    /// Bytes marked lost before it was sent.
    lost: u64,
    retransmitted: bool,
    fate: Fate,
    /// C.delivered_tsval when it was sent.
    delivered_tsval: Option<u32>,
}

impl Record {
    fn end(&self) -> SeqNumber {
        self.start + self.len
    }
}

/// A lost segment's view of the loss rate since it was sent (BBR's
/// `IsInflightTooHigh`, draft-ietf-ccwg-bbr §5.5.10.2).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LostSegment {
    /// Bytes in flight just after it was sent.
    pub tx_in_flight: u64,
    /// Bytes marked lost since it was sent, itself included.
    pub lost_since: u64,
    /// Its length.
    pub len: u64,
    /// It was sent while the connection was application-limited.
    pub app_limited: bool,
}

/// One rate sample (draft §3.3), built from the most recently sent of the
/// segments an ACK delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateSample {
    /// Delivery rate in bytes per second; 0 when the sample is invalid
    /// (interval shorter than the minimum RTT, or nothing delivered).
    pub delivery_rate: f64,
    /// Bytes delivered over the sample's interval.
    pub delivered: u64,
    /// The connection's `delivered` when the sampled segment was sent.
    pub prior_delivered: u64,
    /// The sample's interval: max(send elapsed, ACK elapsed).
    pub interval: Duration,
    /// RTT of the sampled segment, unless it was retransmitted (Karn).
    pub rtt: Option<Duration>,
    /// The sampled segment was sent while application-limited.
    pub is_app_limited: bool,
    /// Bytes newly delivered (cumulatively ACKed or SACKed) by this ACK.
    pub newly_acked: u64,
    /// Bytes newly marked lost by this ACK.
    pub newly_lost: u64,
    /// Bytes in flight when the sampled segment was sent.
    pub tx_in_flight: u64,
    /// Bytes marked lost between the sampled segment's send and now.
    pub lost: u64,
    /// The newly lost segment that saw the highest loss rate, if any.
    pub lost_segment: Option<LostSegment>,
    /// The connection's delivered total after this ACK.
    pub total_delivered: u64,
}

/// The connection-level delivery state (draft §3.1) and the records.
#[derive(Clone, Debug)]
pub struct RateSampler {
    records: VecDeque<Record>,
    /// C.delivered: bytes delivered so far.
    delivered: u64,
    /// C.delivered_time.
    delivered_time: Instant,
    /// C.first_send_time.
    first_send_time: Instant,
    /// C.app_limited: `delivered` at which the app-limited phase ends (0: not app-limited).
    app_limited: u64,
    /// C.lost: bytes marked lost so far.
    lost: u64,
    /// Bytes outstanding: sent, not delivered, not marked lost.
    in_flight: u64,
    /// Bytes marked lost and not yet resent.
    lost_pending: u64,
    /// Bytes marked lost since the last sample (reported by the next one).
    unreported_lost: u64,
    /// Of those, the segment that saw the highest loss rate, and the rate.
    unreported_worst: Option<(f64, LostSegment)>,
    /// The peer's TSval on the ACK that last delivered data (the
    /// receiver's clock at `delivered_time`); None from idle restarts and
    /// without timestamps.
    delivered_tsval: Option<u32>,
    /// The first ACK's (arrival, TSval): checks the peer's clock rate.
    ts_origin: Option<(Instant, u32)>,
    /// The highest rate sampled so far (for the trace of new highs).
    max_rate: f64,
}

/// The peer's clock is taken as 1 ms per tick while its TSval has not
/// advanced more than this much faster than the local clock since the
/// first ACK (plus [`TS_CLOCK_SLACK`] ticks): a faster clock (µs ticks)
/// would make the interval bound too long and the sample too low.
const TS_CLOCK_MAX_RATIO: f64 = 1.125;

/// One tick of the peer's timestamp clock (as taken).
const TS_TICK: Duration = Duration::from_millis(1);

/// Ticks the peer's TSval may lead the local clock by (the first ACK
/// itself may have been processed late).
const TS_CLOCK_SLACK: f64 = 20.0;

impl Default for RateSampler {
    fn default() -> RateSampler {
        RateSampler {
            records: VecDeque::new(),
            delivered: 0,
            delivered_time: Instant::ZERO,
            first_send_time: Instant::ZERO,
            app_limited: 0,
            lost: 0,
            in_flight: 0,
            lost_pending: 0,
            unreported_lost: 0,
            unreported_worst: None,
            delivered_tsval: None,
            ts_origin: None,
            max_rate: 0.0,
        }
    }
}

impl RateSampler {
    /// Bytes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes sent and neither delivered nor marked lost.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Bytes marked lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// True while samples are marked application-limited.
    pub fn is_app_limited(&self) -> bool {
        self.app_limited != 0
    }

    /// Number of records held.
    pub fn records(&self) -> usize {
        self.records.len()
    }

    /// Forgets everything in flight (the connection starts over, e.g. a
    /// new MSS before any data).
    pub fn clear(&mut self) {
        self.records.clear();
        self.in_flight = 0;
        self.lost_pending = 0;
        self.unreported_lost = 0;
        self.unreported_worst = None;
    }

    /// A segment `[seq, seq + len)` leaves at `now` (draft §3.2): new
    /// data gets records of at most `mss` bytes; a resend refreshes the
    /// records it covers.
    pub fn on_send(&mut self, now: Instant, seq: SeqNumber, len: usize, mss: usize) {
        if len == 0 {
            return;
        }
        if self.in_flight == 0 {
            // Restarting from idle: the send and ACK intervals start now
            // (the receiver's clock at now is unknown).
            self.first_send_time = now;
            self.delivered_time = now;
            self.delivered_tsval = None;
        }
        let end = seq + len;
        let tail = self.records.back().map(Record::end);
        if tail.is_none_or(|t| seq.diff(t) >= 0) {
            let mut at = seq;
            while end.diff(at) > 0 {
                let piece = ((end - at) as usize).min(mss.max(1)) as u32;
                self.in_flight += u64::from(piece);
                let snap = self.snapshot(now, at, piece);
                let full = self.records.len() >= MAX_RECORDS;
                match self.records.back_mut() {
                    // Over the bound: grow the last record instead.
                    Some(last) if full && last.end() == at => {
                        last.len += piece;
                        last.sent_at = now;
                        last.tx_in_flight = self.in_flight;
                    }
                    _ => self.records.push_back(snap),
                }
                at += piece;
            }
            return;
        }
        // A retransmission: refresh every record it covers.
        let first = self.records.partition_point(|r| r.end().diff(seq) <= 0);
        let snap = self.snapshot(now, seq, 0);
        let mut i = first;
        while let Some(r) = self.records.get_mut(i) {
            if r.start.diff(end) >= 0 {
                break;
            }
            i += 1;
            if r.fate == Fate::Sacked {
                continue;
            }
            if r.fate == Fate::Lost {
                self.lost_pending = self.lost_pending.saturating_sub(u64::from(r.len));
                self.in_flight += u64::from(r.len);
            }
            r.fate = Fate::Outstanding;
            r.retransmitted = true;
            r.sent_at = now;
            r.delivered = snap.delivered;
            r.delivered_time = snap.delivered_time;
            r.first_send_time = snap.first_send_time;
            r.app_limited = snap.app_limited;
            r.tx_in_flight = self.in_flight;
            r.lost = self.lost;
            r.delivered_tsval = snap.delivered_tsval;
        }
    }

    fn snapshot(&self, now: Instant, start: SeqNumber, len: u32) -> Record {
        Record {
            start,
            len,
            sent_at: now,
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_send_time: self.first_send_time,
            app_limited: self.app_limited != 0,
            tx_in_flight: self.in_flight,
            lost: self.lost,
            retransmitted: false,
            fate: Fate::Outstanding,
            delivered_tsval: self.delivered_tsval,
        }
    }

    /// The sender has less than a segment to send and room in `cwnd`:
    /// samples taken until what is in flight now is delivered are
    /// application-limited (draft §3.4).
    pub fn check_app_limited(&mut self, cwnd: usize, unsent: usize, mss: usize) {
        if unsent < mss && (self.in_flight as usize) < cwnd && self.lost_pending == 0 {
            self.app_limited = (self.delivered + self.in_flight).max(1);
        }
    }

    /// Marks the connection application-limited unconditionally (BBR's
    /// PROBE_RTT: its low inflight must not read as a lower bandwidth).
    pub fn mark_app_limited(&mut self) {
        self.app_limited = (self.delivered + self.in_flight).max(1);
    }

    /// A retransmission timeout: everything outstanding is presumed lost
    /// (as Linux marks the whole flight lost). Returns the bytes marked.
    pub fn on_rto(&mut self) -> u64 {
        let mut marked = 0;
        for r in self.records.iter_mut() {
            if r.fate == Fate::Outstanding {
                r.fate = Fate::Lost;
                marked += u64::from(r.len);
            }
        }
        self.lost += marked;
        self.lost_pending += marked;
        self.in_flight = 0;
        marked
    }

    /// Processes an ACK at `now`: the cumulative ACK `snd_una` and the
    /// SACK blocks it carries, and the peer's TSval if timestamps are on.
    /// `min_rtt` invalidates samples over shorter intervals (draft §3.3).
    /// Returns a sample if anything was delivered or marked lost (here or
    /// by [`mark_lost`](Self::mark_lost) since the last sample).
    pub fn on_ack(
        &mut self,
        now: Instant,
        snd_una: SeqNumber,
        sacks: &[(SeqNumber, SeqNumber)],
        min_rtt: Option<Duration>,
        tsval: Option<u32>,
    ) -> Option<RateSample> {
        let tsval = tsval.filter(|v| self.peer_clock_is_ms(now, *v));
        let mut rs = RateSample::default();
        let mut newest: Option<Record> = None;
        // Cumulatively acknowledged records.
        while let Some(front) = self.records.front_mut() {
            if front.start.diff(snd_una) >= 0 {
                break;
            }
            let acked_all = front.end().diff(snd_una) <= 0;
            let part = if acked_all {
                front.len
            } else {
                snd_una - front.start
            };
            let rec = *front;
            if acked_all {
                self.records.pop_front();
            } else {
                front.start = snd_una;
                front.len -= part;
            }
            if rec.fate != Fate::Sacked {
                self.deliver(now, &rec, u64::from(part), &mut rs, &mut newest);
            }
        }
        for &(l, r) in sacks {
            let first = self.records.partition_point(|x| x.end().diff(l) <= 0);
            let mut i = first;
            while let Some(rec) = self.records.get_mut(i) {
                if rec.start.diff(r) >= 0 {
                    break;
                }
                i += 1;
                let inside = rec.start.diff(l) >= 0 && rec.end().diff(r) <= 0;
                if !inside || rec.fate == Fate::Sacked {
                    continue;
                }
                let before = *rec;
                rec.fate = Fate::Sacked;
                self.deliver(now, &before, u64::from(before.len), &mut rs, &mut newest);
            }
        }
        rs.newly_lost = std::mem::take(&mut self.unreported_lost);
        rs.lost_segment = self.unreported_worst.take().map(|(_, l)| l);
        if self.app_limited != 0 && self.delivered > self.app_limited {
            self.app_limited = 0;
        }
        if rs.newly_acked == 0 && rs.newly_lost == 0 {
            return None;
        }
        if rs.newly_acked > 0 {
            self.delivered_tsval = tsval;
        }
        rs.total_delivered = self.delivered;
        if let Some(p) = newest {
            let send_elapsed = p.sent_at.saturating_duration_since(p.first_send_time);
            let ack_elapsed = self
                .delivered_time
                .saturating_duration_since(p.delivered_time);
            rs.prior_delivered = p.delivered;
            rs.delivered = self.delivered - p.delivered;
            rs.interval = send_elapsed.max(ack_elapsed);
            // The receiver's spacing is within a tick of the truth either
            // way: only when it exceeds the interval by more than a tick
            // is the ACK interval surely short (the ACK that began it
            // handled late). A sender that handles ACKs on time keeps its
            // samples exact.
            let spacing = receiver_spacing(p.delivered_tsval, tsval);
            if spacing > rs.interval + TS_TICK {
                rs.interval = spacing;
            }
            rs.is_app_limited = p.app_limited;
            rs.tx_in_flight = p.tx_in_flight;
            rs.lost = self.lost.saturating_sub(p.lost);
            if !p.retransmitted {
                rs.rtt = Some(now.saturating_duration_since(p.sent_at));
            }
            let too_short = min_rtt.is_some_and(|m| rs.interval < m);
            if !rs.interval.is_zero() && !too_short {
                rs.delivery_rate = rs.delivered as f64 / rs.interval.as_secs_f64();
            }
            if rs.delivery_rate > self.max_rate {
                self.max_rate = rs.delivery_rate;
                // RUST_LOG=tunstack::tcp::rate=trace: each new high, and
                // which interval set it.
                log::trace!(
                    "rate high {:.1} Mbit/s: {} B over send {:?} ack {:?} receiver {:?} rtt {:?} tx_in_flight {} app_limited {} at {now}",
                    rs.delivery_rate * 8e-6,
                    rs.delivered,
                    send_elapsed,
                    ack_elapsed,
                    spacing,
                    rs.rtt,
                    rs.tx_in_flight,
                    rs.is_app_limited
                );
            }
        }
        Some(rs)
    }

    /// True while the peer's TSval (first seen at `ts_origin`) has not run
    /// faster than 1 ms per tick (see [`TS_CLOCK_MAX_RATIO`]).
    fn peer_clock_is_ms(&mut self, now: Instant, tsval: u32) -> bool {
        let Some((t0, v0)) = self.ts_origin else {
            self.ts_origin = Some((now, tsval));
            return true;
        };
        let ticks = f64::from(tsval.wrapping_sub(v0));
        let ms = now.saturating_duration_since(t0).as_secs_f64() * 1e3;
        ticks <= ms * TS_CLOCK_MAX_RATIO + TS_CLOCK_SLACK
    }

    /// One record (or its first `bytes`) delivered (draft §3.3 UpdateRateSample).
    fn deliver(
        &mut self,
        now: Instant,
        rec: &Record,
        bytes: u64,
        rs: &mut RateSample,
        newest: &mut Option<Record>,
    ) {
        match rec.fate {
            Fate::Outstanding => self.in_flight = self.in_flight.saturating_sub(bytes),
            Fate::Lost => self.lost_pending = self.lost_pending.saturating_sub(bytes),
            Fate::Sacked => return,
        }
        self.delivered += bytes;
        self.delivered_time = now;
        rs.newly_acked += bytes;
        // The most recently sent segment wins (ties: the later in sequence).
        let newer = newest.is_none_or(|n| {
            rec.sent_at > n.sent_at || (rec.sent_at == n.sent_at && rec.start.diff(n.start) > 0)
        });
        if newer {
            *newest = Some(*rec);
            // C.first_send_time moves to this segment's send time so the
            // next sample's send interval starts here.
            self.first_send_time = rec.sent_at;
        }
    }

    /// Marks lost the outstanding records whose start lies in one of
    /// `ranges` (RACK's lost segments, in sequence order; records already
    /// lost are left alone, so the same ranges may be given again). A
    /// resent record that is marked again is a lost retransmission.
    pub fn mark_lost(&mut self, ranges: impl Iterator<Item = (SeqNumber, SeqNumber)>) {
        let mut i = 0;
        for (l, r) in ranges {
            // Binary search: a walk from the front costs the whole
            // flight per loss event (8,000 records at 1 Gbit/s, 100 ms).
            i = i.max(self.records.partition_point(|x| x.start.diff(l) < 0));
            while let Some(rec) = self.records.get_mut(i) {
                if rec.start.diff(r) >= 0 {
                    break;
                }
                i += 1;
                if rec.fate != Fate::Outstanding {
                    continue;
                }
                rec.fate = Fate::Lost;
                let len = u64::from(rec.len);
                self.in_flight = self.in_flight.saturating_sub(len);
                self.lost += len;
                self.lost_pending += len;
                self.unreported_lost += len;
                let lost_since = self.lost.saturating_sub(rec.lost);
                let ratio = lost_since as f64 / rec.tx_in_flight.max(1) as f64;
                if self.unreported_worst.is_none_or(|(w, _)| ratio > w) {
                    self.unreported_worst = Some((
                        ratio,
                        LostSegment {
                            tx_in_flight: rec.tx_in_flight,
                            lost_since,
                            len,
                            app_limited: rec.app_limited,
                        },
                    ));
                }
            }
        }
    }
}

/// The receiver's time between the ACKs with TSvals `from` and `to` (1 ms
/// ticks); zero if unknown. Within a tick either way of the true spacing.
fn receiver_spacing(from: Option<u32>, to: Option<u32>) -> Duration {
    let (Some(a), Some(b)) = (from, to) else {
        return Duration::ZERO;
    };
    let ticks = b.wrapping_sub(a) as i32;
    Duration::from_millis(u64::try_from(ticks).unwrap_or(0))
}

impl Tcb {
    /// Data `[seq, seq + len)` left at `now` (called from
    /// `on_data_sent`): debit the pacer and, under BBR, record the segment
    /// for rate sampling.
    pub(super) fn rate_on_data_sent(&mut self, now: Instant, seq: SeqNumber, len: usize) {
        if len == 0 {
            return;
        }
        self.loss.pacer.spend(len);
        let srtt = self.loss.rtt.srtt();
        if let Some(b) = self.loss.cc.bbr_mut() {
            b.init_pacing_rate(srtt);
            // Records cut like RACK's, so its loss marks line up.
            let mss = self.data_mss().max(1);
            self.loss.rate.on_send(now, seq, len, mss);
        }
    }

    /// Nothing (or less than a segment) to send with room in cwnd: the
    /// samples of what is in flight are application-limited.
    pub(super) fn note_app_limited(&mut self, unsent: usize, mss: usize) {
        if self.loss.cc.bbr().is_some() {
            self.loss
                .rate
                .check_app_limited(self.loss.cc.cwnd(), unsent, mss);
        }
    }

    /// After an ACK has been processed: take a rate sample and give it to
    /// BBR, with recovery transitions (`flight` is the flight before it).
    pub(super) fn rate_on_ack(&mut self, now: Instant, seg: &TcpSegment<'_>, flight: usize) {
        let Some(bbr) = self.loss.cc.bbr() else {
            return;
        };
        let min_rtt = bbr.min_rtt();
        let was_in_recovery = bbr.in_recovery();
        let mut blocks = [(SeqNumber(0), SeqNumber(0)); 4];
        let mut n = 0;
        if self.opts.sack_ok {
            for (b, slot) in seg
                .header
                .options
                .sack_blocks
                .iter()
                .flatten()
                .zip(&mut blocks)
            {
                *slot = *b;
                n += 1;
            }
        }
        let mut rate = std::mem::take(&mut self.loss.rate);
        let tsval = seg
            .header
            .options
            .timestamp
            .filter(|_| self.opts.ts_ok)
            .map(|(v, _)| v);
        let sample = rate.on_ack(now, self.snd.una, &blocks[..n], min_rtt, tsval);
        self.loss.rate = rate;
        let in_recovery = self.loss.recover.is_some();
        let (in_flight, delivered) = (self.loss.rate.in_flight(), self.loss.rate.delivered());
        let mss = self.opts.snd_mss;
        let cwnd_limited = self.loss.cwnd_limited || flight + mss >= self.loss.cc.cwnd();
        self.loss.cwnd_limited = false;
        let rwnd_limited = std::mem::take(&mut self.loss.rwnd_limited);
        let Some(b) = self.loss.cc.bbr_mut() else {
            return;
        };
        if in_recovery && !was_in_recovery {
            b.on_enter_recovery(in_flight, delivered);
        }
        if !in_recovery && was_in_recovery {
            b.on_exit_recovery();
        }
        let mode = b.mode();
        if let Some(rs) = sample {
            let ctx = AckContext {
                in_flight,
                cwnd_limited,
            };
            self.loss.cc.on_rate_sample(now, &rs, ctx);
        }
        if log::log_enabled!(log::Level::Trace) {
            if let Some(b) = self.loss.cc.bbr().filter(|b| b.round_start()) {
                // One line per round trip (RUST_LOG=tunstack::tcp::rate=trace).
                log::trace!(
                    "{} -> {}: {} pipe {in_flight} flight {} unsent {} wnd {} \
                     cwnd_limited {cwnd_limited} rwnd_limited {rwnd_limited} at {now}",
                    self.local,
                    self.remote,
                    b.trace_line(),
                    self.flight_size(),
                    self.unsent_len(),
                    self.snd.wnd
                );
            }
        }
        if self.loss.cc.bbr().is_some_and(|b| b.mode() != mode) {
            // The trace of BBR's state machine (RUST_LOG=tunstack=debug).
            log::debug!(
                "{} -> {}: {} at {now}",
                self.local,
                self.remote,
                self.loss.cc.state()
            );
        }
        if self.loss.cc.bbr().is_some_and(|b| b.wants_app_limited()) {
            self.loss.rate.mark_app_limited();
        }
    }

    /// RACK (or the DupThresh rule) marked segments lost: under BBR the
    /// rate sampler marks them too, and the next ACK's sample reports them.
    pub(super) fn rate_on_lost(&mut self) {
        if self.loss.cc.bbr().is_none() {
            return;
        }
        self.loss.rate.mark_lost(self.loss.rack.lost_ranges());
    }

    /// A retransmission timeout under BBR: the flight is presumed lost.
    pub(super) fn rate_on_rto(&mut self) {
        if self.loss.cc.bbr().is_none() {
            return;
        }
        let flight = self.loss.rate.in_flight();
        self.loss.rate.on_rto();
        let delivered = self.loss.rate.delivered();
        if let Some(b) = self.loss.cc.bbr_mut() {
            b.on_rto(flight, delivered);
        }
    }
}

#[cfg(test)]
mod tests;
