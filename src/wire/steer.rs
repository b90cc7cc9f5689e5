//! The flow-to-queue function of a multiqueue TUN device: which queue
//! (and so which stack shard) carries the packets of a transport flow.
//!
//! One definition for both sides that must agree: the steering program
//! `device::tun_mq` attaches to the kernel (`TUNSETSTEERINGEBPF`), which
//! computes it from the ports of every packet the kernel sends us, and
//! the stack's ephemeral port choice, which picks a local port whose
//! flow lands on the shard opening the connection. The function is
//! symmetric in the two ports (XOR), so a packet and its reply, and an
//! ICMP error quoting a packet, map to the same queue; the XOR is mixed
//! by a 32-bit multiplicative hash (Knuth's golden-ratio constant) and
//! its upper half taken, so every port bit counts: Linux picks even
//! local ports for `connect`, and a plain `(a ^ b) % 2` would put every
//! kernel client of an even listening port on queue 0.

/// Most queues of a multiqueue TUN device (the kernel allows 256; more
/// driver threads than this only contend for cores).
pub const MAX_QUEUES: usize = 64;

/// The multiplier of the hash (2^32 / φ).
pub const STEER_MULTIPLIER: u32 = 0x9E37_79B1;

/// The 16-bit flow hash of ports `a` and `b` (either order), as the
/// steering program returns it; the kernel takes it modulo the number of
/// queues.
pub fn flow_hash(a: u16, b: u16) -> u16 {
    // The top 16 bits of a 32-bit product always fit.
    (u32::from(a ^ b).wrapping_mul(STEER_MULTIPLIER) >> 16) as u16
}

/// The queue (0..`queues`) of the flow between ports `a` and `b`; 0 for
/// a single queue (and for the nonsensical 0 queues).
pub fn flow_queue(a: u16, b: u16, queues: u16) -> u16 {
    if queues <= 1 {
        return 0;
    }
    flow_hash(a, b) % queues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_queue_is_symmetric_and_in_range() {
        for (a, b) in [(80, 40000), (443, 51234), (0, 0), (65535, 1)] {
            for q in 1..=8 {
                assert_eq!(flow_queue(a, b, q), flow_queue(b, a, q));
                assert!(flow_queue(a, b, q) < q);
            }
        }
        assert_eq!(flow_queue(80, 40000, 1), 0);
        assert_eq!(flow_queue(80, 40000, 0), 0);
    }

    /// Linux's `connect` prefers even local ports: clients of port 80
    /// must still spread over both queues, evenly enough.
    #[test]
    fn even_client_ports_spread_over_queues() {
        for queues in [2u16, 3, 4] {
            let mut per = vec![0u32; usize::from(queues)];
            for port in (32768u16..=60999).step_by(2) {
                per[usize::from(flow_queue(port, 80, queues))] += 1;
            }
            let total: u32 = per.iter().sum();
            let fair = total / u32::from(queues);
            for (q, n) in per.iter().enumerate() {
                assert!(
                    *n > fair * 9 / 10 && *n < fair * 11 / 10,
                    "{queues} queues: queue {q} has {n} of {total} flows"
                );
            }
        }
    }

    /// Pinned values (computed by hand: top 16 bits of
    /// `(a ^ b) * 0x9E3779B1 mod 2^32`): the kernel-side program computes
    /// the same numbers, so the function must not drift.
    #[test]
    fn flow_hash_has_pinned_values() {
        assert_eq!(flow_hash(80, 40000), 45471);
        assert_eq!(flow_hash(7000, 51234), 8124);
        assert_eq!(flow_hash(443, 443), 0);
        assert_eq!(flow_queue(80, 40000, 2), 1);
        assert_eq!(flow_queue(7000, 51234, 4), 0);
    }
}
