//! NewReno (RFC 5681 §3.1, RFC 6582): congestion avoidance that grows the
//! window one SMSS per window of acknowledged data, and halves it on loss.
//!
//! This module owns NewReno's own arithmetic: the byte count towards the
//! next SMSS of growth ([`NewReno::on_ack`]) and the ssthresh after a
//! congestion event ([`ssthresh_after_loss`]: half the window, as Linux's
//! `tcp_reno_ssthresh`, where RFC 5681 eq. 4 halves FlightSize). Slow start
//! and the RFC 6582 §3.2 fast-recovery window arithmetic (inflate on each
//! duplicate ACK, deflate on a partial ACK, ssthresh on a full one) are
//! shared with CUBIC and live in [`super::CongestionControl`]; the tests
//! here drive them through it with NewReno.

/// NewReno's congestion-avoidance state.
#[derive(Clone, Debug, Default)]
pub(super) struct NewReno {
    /// Bytes acknowledged in congestion avoidance since the window last
    /// grew.
    acked_in_ca: usize,
}

impl NewReno {
    /// One SMSS per cwnd of acknowledged bytes (RFC 5681 §3.1): `acked`
    /// bytes with the window at `cwnd` bytes of `mss`; returns the new
    /// window in bytes.
    pub(super) fn on_ack(&mut self, cwnd: usize, mss: usize, acked: usize) -> usize {
        self.acked_in_ca += acked;
        if self.acked_in_ca >= cwnd {
            self.acked_in_ca -= cwnd;
            return cwnd.saturating_add(mss);
        }
        cwnd
    }
}

/// The ssthresh after a congestion event with the window at `cwnd` and
/// `flight` bytes in flight: half the window, at least two segments, as
/// Linux's `tcp_reno_ssthresh` (RFC 5681 eq. 4 halves FlightSize).
///
/// The flight at the moment loss is detected is often well below the
/// window the sender was using: in slow start the ACKs of the round grew
/// cwnd while the SACKs that reveal the loss hold SND.UNA, and at
/// 1 Gbit/s and 100 ms tunstack entered recovery with cwnd 392,593 and a
/// flight of 268,486 bytes (cwnd 91,224 and flight 34,752 later in the
/// same transfer), so halving the flight cut the window to a third and
/// a fifth where Linux cuts it to half.
///
/// Linux's window grows only while the sender uses it
/// (`tcp_is_cwnd_limited`: in slow start, up to twice the flight), this
/// one on every ACK: a window counted at most twice the flight keeps an
/// application-limited sender's unused window from becoming a burst.
pub(super) fn ssthresh_after_loss(cwnd: usize, flight: usize, mss: usize) -> usize {
    (cwnd.min(flight.saturating_mul(2)) / 2).max(2 * mss)
}

#[cfg(test)]
mod tests {
    use super::super::{Algorithm, CongestionControl};
    use crate::time::Instant;

    fn reno(mss: usize) -> CongestionControl {
        CongestionControl::new(Algorithm::NewReno, mss, 10)
    }

    #[test]
    fn slow_start_then_reno_avoidance() {
        let now = Instant::ZERO;
        let mut c = reno(1000);
        c.on_ack(1000, now, None);
        assert_eq!(c.cwnd(), 11_000);
        c.on_ack(5000, now, None);
        assert_eq!(
            c.cwnd(),
            16_000,
            "a stretch ACK counts every byte it covers"
        );
        c.on_ack(4000, now, None);
        c.on_rto(20_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        while c.cwnd() < 10_000 {
            c.on_ack(1000, now, None);
        }
        let before = c.cwnd();
        c.on_ack(before - 1, now, None);
        assert_eq!(c.cwnd(), before, "less than a window acknowledged");
        c.on_ack(1, now, None);
        assert_eq!(c.cwnd(), before + 1000);
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_the_rest_goes_to_avoidance() {
        let now = Instant::ZERO;
        let mut c = reno(1000);
        c.cwnd = 20_000;
        c.on_rto(20_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        c.on_ack(8000, now, None);
        assert_eq!(c.cwnd(), 9000);
        // 1000 bytes take slow start to ssthresh; the other 9999 count
        // toward the next avoidance step, one byte short of a window.
        c.on_ack(10_999, now, None);
        assert_eq!(c.cwnd(), 10_000);
        c.on_ack(1, now, None);
        assert_eq!(c.cwnd(), 11_000);
    }

    #[test]
    fn loss_halves_the_window_as_linux_not_a_smaller_flight() {
        // Linux's tcp_reno_ssthresh: half of cwnd. Recovery was entered
        // at 1 Gbit/s, 100 ms with cwnd 392,593 and 268,486 bytes in
        // flight: half the flight left 134,243, half the window 196,296.
        let mut c = reno(1448);
        c.cwnd = 392_593;
        c.on_congestion_event(268_486);
        assert_eq!((c.cwnd(), c.ssthresh()), (196_296, 196_296));
        c.cwnd = 392_593;
        c.on_fast_retransmit(268_486);
        assert_eq!(c.ssthresh(), 196_296);
        // A window the sender did not use (an application-limited flight
        // of a fifth of it) counts at most twice the flight, the most
        // Linux's window could have grown to in slow start.
        c.cwnd = 500_000;
        c.on_congestion_event(100_000);
        assert_eq!(c.ssthresh(), 100_000);
        // Two segments at least.
        c.cwnd = 2000;
        c.on_congestion_event(2000);
        assert_eq!(c.ssthresh(), 2 * 1448);
    }

    #[test]
    fn fast_recovery_window_arithmetic() {
        let mut c = reno(1000);
        c.on_fast_retransmit(10_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (8000, 5000));
        c.on_dup_ack_in_recovery();
        assert_eq!(c.cwnd(), 9000);
        c.on_partial_ack(3000);
        assert_eq!(c.cwnd(), 7000);
        c.on_recovery_end();
        assert_eq!(c.cwnd(), 5000, "ssthresh, whatever the flight");
    }
}
