//! Proportional Rate Reduction (RFC 6937) with slow-start reduction bound
//! (PRR-SSRB), as Linux's `tcp_cwnd_reduction`: how much a loss-based
//! sender (CUBIC, NewReno) may send on each ACK of a fast recovery.
//!
//! While the pipe is above ssthresh, sending follows the deliveries at the
//! ratio ssthresh / RecoverFS, so the window shrinks smoothly to ssthresh
//! over one round trip instead of stopping dead (RFC 6675) or bursting.
//! Once the pipe has fallen below ssthresh (many losses), SSRB lets it grow
//! back like slow start: at most the bytes delivered plus one MSS per ACK.

/// PRR state of one recovery episode, in bytes (RFC 6937 §3 names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Prr {
    /// Bytes delivered to the receiver since recovery began.
    prr_delivered: usize,
    /// Bytes sent since recovery began.
    prr_out: usize,
    /// FlightSize at the start of recovery (RecoverFS).
    recover_fs: usize,
    /// The target window.
    ssthresh: usize,
    /// Bytes allowed by the last ACK and not sent yet.
    sndcnt: usize,
}

impl Prr {
    /// RFC 6937 §3 "On entering recovery": the allowance starts at one
    /// segment so the first retransmission leaves at once (Linux forces a
    /// fast retransmit the same way).
    pub(super) fn start(ssthresh: usize, flight: usize, mss: usize) -> Prr {
        Prr {
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: flight.max(1),
            ssthresh,
            sndcnt: mss,
        }
    }

    /// RFC 6937 §3 "On every ACK during recovery": `delivered` bytes newly
    /// acknowledged or SACKed, `pipe` after the ACK was processed.
    pub(super) fn on_ack(&mut self, delivered: usize, pipe: usize, mss: usize) {
        if delivered == 0 {
            return;
        }
        self.prr_delivered += delivered;
        let sndcnt = if pipe > self.ssthresh {
            // Proportional part: CEIL(prr_delivered · ssthresh / RecoverFS)
            // − prr_out, rounded up to whole segments as Linux counts.
            let target = (self.prr_delivered as u128 * self.ssthresh as u128)
                .div_ceil(self.recover_fs as u128 * mss as u128) as usize
                * mss;
            target.saturating_sub(self.prr_out)
        } else {
            // SSRB: MIN(ssthresh − pipe, MAX(prr_delivered − prr_out, DeliveredData) + MSS).
            let limit = self
                .prr_delivered
                .saturating_sub(self.prr_out)
                .max(delivered)
                + mss;
            (self.ssthresh - pipe).min(limit)
        };
        // As Linux: the first segment of a recovery always goes.
        self.sndcnt = if self.prr_out == 0 {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
    }

    /// Bytes that may be sent now.
    pub(super) fn allowance(&self) -> usize {
        self.sndcnt
    }

    /// RFC 6937 §3 "On any data transmission or retransmission".
    pub(super) fn on_sent(&mut self, bytes: usize) {
        self.prr_out += bytes;
        self.sndcnt = self.sndcnt.saturating_sub(bytes);
    }

    /// Bytes sent in this recovery.
    #[cfg(test)]
    pub(super) fn prr_out(&self) -> usize {
        self.prr_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    /// RFC 6937 §6 (the PRR row of its first figure), one loss: 20
    /// segments in flight, ssthresh 10; each ACK delivers one segment. PRR
    /// sends one segment for every two ACKs while the pipe drains to 10.
    #[test]
    fn prr_sends_one_segment_per_two_acks_down_to_ssthresh() {
        let mut p = Prr::start(10 * MSS, 20 * MSS, MSS);
        // The ACK that starts recovery: the fast retransmit goes.
        let mut pipe = 18 * MSS;
        p.on_ack(MSS, pipe, MSS);
        assert_eq!(p.allowance(), MSS, "the retransmission");
        p.on_sent(MSS);
        pipe += MSS;
        let mut sent = Vec::new();
        for _ in 0..17 {
            pipe -= MSS;
            p.on_ack(MSS, pipe, MSS);
            let n = p.allowance();
            sent.push(n / MSS);
            p.on_sent(n);
            pipe += n;
        }
        // Proportional part: one segment per two ACKs. Without limited
        // transmit the pipe meets ssthresh one ACK before the RFC's figure;
        // from there PRR-SSRB holds it at ssthresh (one out per one in).
        assert_eq!(sent, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1]);
        assert_eq!(p.prr_out(), 9 * MSS, "ceil(18 · 10/20) sent in total");
        assert_eq!(pipe, 10 * MSS, "the pipe ends at ssthresh");
    }

    /// RFC 6937 §3: with the pipe below ssthresh (a burst of losses), SSRB
    /// sends what was delivered plus one MSS per ACK, up to ssthresh.
    #[test]
    fn prr_ssrb_grows_like_slow_start_below_ssthresh() {
        let mut p = Prr::start(10 * MSS, 20 * MSS, MSS);
        p.on_sent(MSS);
        // 12 of 20 lost: 7 left in the pipe after this ACK.
        p.on_ack(MSS, 7 * MSS, MSS);
        assert_eq!(
            p.allowance(),
            MSS + MSS,
            "delivered 1, already sent 1 → max(0, 1) + 1"
        );
        p.on_sent(2 * MSS);
        p.on_ack(2 * MSS, 7 * MSS, MSS);
        assert_eq!(
            p.allowance(),
            3 * MSS,
            "ssthresh − pipe = 3 caps max(0, 2) + 1 = 3"
        );
        p.on_ack(MSS, 9 * MSS, MSS);
        assert_eq!(p.allowance(), MSS, "never past ssthresh");
        p.on_ack(0, 5 * MSS, MSS);
        assert_eq!(
            p.allowance(),
            MSS,
            "an ACK delivering nothing changes nothing"
        );
    }
}
