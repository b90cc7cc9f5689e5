//! Congestion control: RFC 5681 slow start and congestion avoidance with
//! appropriate byte counting (RFC 3465, L = 2·SMSS), RFC 6928 initial
//! window, and the window arithmetic of RFC 6582 NewReno fast recovery.
//! Loss detection (dup-ACK counting, recovery point) lives in the input
//! path; this type only owns `cwnd` and `ssthresh`.

/// Sender congestion state, in bytes.
#[derive(Clone, Debug)]
pub struct CongestionControl {
    cwnd: usize,
    ssthresh: usize,
    mss: usize,
    acked_in_ca: usize,
}

impl CongestionControl {
    /// Initial window per RFC 6928: min(iw·MSS, max(2·MSS, 14600)) for iw = 10.
    pub fn new(mss: usize, initial_segments: u32) -> CongestionControl {
        let mss = mss.max(1);
        let iw = (initial_segments as usize).max(1).saturating_mul(mss);
        CongestionControl {
            cwnd: iw.min((2 * mss).max(14600)).max(mss),
            ssthresh: usize::MAX,
            mss,
            acked_in_ca: 0,
        }
    }

    /// Updates the segment size after MSS negotiation.
    pub fn set_mss(&mut self, mss: usize, initial_segments: u32) {
        *self = CongestionControl::new(mss, initial_segments);
    }

    /// Congestion window.
    pub fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// Slow-start threshold.
    pub fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// New data acknowledged outside recovery (RFC 5681 §3.1).
    pub fn on_ack(&mut self, acked: usize) {
        if self.cwnd < self.ssthresh {
            // Slow start with ABC, L = 2·SMSS (RFC 3465 §2.2).
            self.cwnd = self.cwnd.saturating_add(acked.min(2 * self.mss));
        } else {
            // Congestion avoidance: one SMSS per cwnd of acknowledged bytes.
            self.acked_in_ca += acked;
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.mss);
            }
        }
    }

    /// Retransmission timeout (RFC 5681 §3.1 eq. 4, loss window = 1 SMSS).
    pub fn on_rto(&mut self, flight: usize) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.acked_in_ca = 0;
    }

    /// Entering fast recovery on the third duplicate ACK (RFC 6582 §3.2 step 2).
    pub fn on_fast_retransmit(&mut self, flight: usize) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh + 3 * self.mss;
        self.acked_in_ca = 0;
    }

    /// A further duplicate ACK during recovery inflates the window (step 3).
    pub fn on_dup_ack_in_recovery(&mut self) {
        self.cwnd = self.cwnd.saturating_add(self.mss);
    }

    /// A partial ACK during recovery (RFC 6582 §3.2 step 5): deflate by the
    /// amount acknowledged, add back one SMSS.
    pub fn on_partial_ack(&mut self, acked: usize) {
        self.cwnd = self
            .cwnd
            .saturating_sub(acked)
            .saturating_add(self.mss)
            .max(self.mss);
    }

    /// A full ACK ends recovery (RFC 6582 §3.2 step 5, option 1).
    pub fn on_recovery_end(&mut self, flight: usize) {
        self.cwnd = self
            .ssthresh
            .min(flight.saturating_add(self.mss))
            .max(self.mss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_is_ten_segments() {
        assert_eq!(CongestionControl::new(1460, 10).cwnd(), 14600);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut c = CongestionControl::new(1000, 10);
        c.on_ack(1000);
        assert_eq!(c.cwnd(), 11_000);
        c.on_ack(5000);
        assert_eq!(c.cwnd(), 13_000, "ABC caps growth at 2·SMSS per ACK");
        c.on_rto(20_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        while c.cwnd() < 10_000 {
            c.on_ack(1000);
        }
        let before = c.cwnd();
        c.on_ack(before - 1);
        assert_eq!(c.cwnd(), before, "less than a window acknowledged");
        c.on_ack(1);
        assert_eq!(c.cwnd(), before + 1000);
    }

    #[test]
    fn fast_recovery_window_arithmetic() {
        let mut c = CongestionControl::new(1000, 10);
        c.on_fast_retransmit(10_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (8000, 5000));
        c.on_dup_ack_in_recovery();
        assert_eq!(c.cwnd(), 9000);
        c.on_partial_ack(3000);
        assert_eq!(c.cwnd(), 7000);
        c.on_recovery_end(2000);
        assert_eq!(c.cwnd(), 3000);
    }
}
