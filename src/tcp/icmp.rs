//! ICMP errors for a connection (RFC 5927, RFC 1122 §4.2.3.9, RFC 1191).
//!
//! The stack has already checked that the quoted segment belongs to this
//! connection; here the quoted sequence number must be in flight
//! (SND.UNA ≤ seq < SND.MAX), which a blind attacker can not guess.
//! Hard errors abort only a connection still in SYN-SENT; in synchronized
//! states they are treated as soft (RFC 5927 §4.1), remembered so a later
//! timeout reports "unreachable". Fragmentation-needed lowers the MSS
//! (path MTU discovery).

use super::{ConnectionError, IcmpError, State, Tcb};
use crate::wire::SeqNumber;

impl Tcb {
    /// Applies an ICMP error quoting our segment with sequence `seq`.
    /// Returns false if it was ignored (sequence not in flight).
    pub fn on_icmp_error(&mut self, seq: SeqNumber, error: IcmpError) -> bool {
        let in_flight = seq.diff(self.snd.una) >= 0 && seq.diff(self.snd.max) < 0;
        if !in_flight {
            return false;
        }
        match error {
            IcmpError::FragmentationNeeded(mtu) => {
                // RFC 1191 §4: never below 68; RFC 8201 §4: never below
                // IPv6's 1280 (the stack raises a smaller Packet Too Big
                // to it). Our MSS excludes options.
                let mtu = usize::from(mtu);
                let min = if self.remote.is_ipv6() { 1280 } else { 68 };
                if mtu >= min {
                    let ip = if self.remote.is_ipv6() { 40 } else { 20 };
                    let overhead = ip + 20 + if self.opts.ts_ok { 12 } else { 0 };
                    let mss = mtu.saturating_sub(overhead).max(64);
                    if mss < self.opts.snd_mss {
                        self.opts.snd_mss = mss;
                        self.snd.mss_wnd = self.snd.max_wnd;
                        // Resend what was too big.
                        self.snd.nxt = self.snd.una;
                    }
                }
            }
            IcmpError::PortUnreachable if self.state == State::SynSent => {
                self.set_closed(Some(ConnectionError::Refused));
            }
            IcmpError::Unreachable if self.state == State::SynSent && self.timers.retries > 0 => {
                // RFC 5927 §4.1 allows aborting a connection attempt; give
                // the SYN one retransmission first, as a route may settle.
                self.set_closed(Some(ConnectionError::Unreachable));
            }
            _ => self.soft_error = true,
        }
        true
    }
}
