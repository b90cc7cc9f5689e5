//! The bandwidth estimate (draft-ietf-ccwg-bbr §5.5.5, delivery-rate
//! estimation §3.4): app-limited samples, ACKs handled late by a
//! descheduled sender; choosing the algorithm per connection.

use super::*;

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
