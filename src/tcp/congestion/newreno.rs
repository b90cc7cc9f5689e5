//! NewReno (RFC 5681 §3.1, RFC 6582): congestion avoidance that grows the
//! window one SMSS per window of acknowledged data, and halves it on loss.
//!
//! This module owns NewReno's own arithmetic: the byte count towards the
//! next SMSS of growth ([`NewReno::on_ack`]) and the ssthresh after a
//! congestion event ([`ssthresh_after_loss`], RFC 5681 eq. 4). Slow start
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

/// The ssthresh after a congestion event with `flight` bytes in flight:
/// half of it, at least two segments (RFC 5681 eq. 4).
pub(super) fn ssthresh_after_loss(flight: usize, mss: usize) -> usize {
    (flight / 2).max(2 * mss)
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
