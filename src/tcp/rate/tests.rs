//! Unit tests of the delivery-rate sampler.

use super::*;

const MSS: usize = 1000;

fn s(n: u32) -> SeqNumber {
    SeqNumber(u32::MAX - 5000) + n
}

#[test]
fn steady_flow_samples_the_sending_rate() {
    // One segment per ms, each ACKed 50 ms after it was sent: 1 MB/s.
    let mut r = RateSampler::default();
    let mut last = None;
    for i in 0..200u32 {
        let now = Instant::from_millis(u64::from(i));
        r.on_send(now, s(i * 1000), MSS, MSS);
        if i >= 50 {
            let acked = s((i - 49) * 1000);
            last = r.on_ack(now, acked, &[], None, None);
        }
    }
    let rs = last.unwrap();
    assert!(
        (rs.delivery_rate - 1e6).abs() < 0.05e6,
        "{}",
        rs.delivery_rate
    );
    assert_eq!(rs.rtt, Some(Duration::from_millis(50)));
    assert_eq!(r.in_flight(), 50 * 1000);
    assert!(!rs.is_app_limited);
}

#[test]
fn sack_delivers_and_rack_marks_the_hole() {
    let mut r = RateSampler::default();
    for i in 0..10u32 {
        r.on_send(Instant::ZERO, s(i * 1000), MSS, MSS);
    }
    // RACK marks the hole lost (twice: marking is idempotent).
    r.mark_lost([(s(0), s(1000))].into_iter());
    r.mark_lost([(s(0), s(1000))].into_iter());
    let rs = r
        .on_ack(
            Instant::from_millis(10),
            s(0),
            &[(s(1000), s(5000))],
            None,
            None,
        )
        .unwrap();
    assert_eq!((rs.newly_acked, rs.newly_lost), (4000, 1000));
    assert_eq!(r.in_flight(), 5000);
    let lseg = rs.lost_segment.unwrap();
    assert_eq!((lseg.tx_in_flight, lseg.lost_since), (1000, 1000));
    // The resend is in flight again; its ACK delivers it once.
    r.on_send(Instant::from_millis(11), s(0), MSS, MSS);
    assert_eq!(r.in_flight(), 6000);
    let rs = r
        .on_ack(Instant::from_millis(20), s(5000), &[], None, None)
        .unwrap();
    assert_eq!(rs.newly_acked, 1000, "SACKed bytes are not counted twice");
    assert_eq!(rs.rtt, None, "Karn: no RTT from a retransmission");
    assert_eq!(r.delivered(), 5000);
}

#[test]
fn app_limited_marks_samples_until_the_flight_is_delivered() {
    let mut r = RateSampler::default();
    r.on_send(Instant::ZERO, s(0), 2 * MSS, MSS);
    r.check_app_limited(10 * MSS, 0, MSS);
    assert!(r.is_app_limited());
    r.on_send(Instant::from_millis(1), s(2000), MSS, MSS);
    let rs = r
        .on_ack(Instant::from_millis(10), s(2000), &[], None, None)
        .unwrap();
    assert!(!rs.is_app_limited, "sent before the app-limited mark");
    let rs = r
        .on_ack(Instant::from_millis(11), s(3000), &[], None, None)
        .unwrap();
    assert!(rs.is_app_limited);
    assert!(!r.is_app_limited(), "the bubble has drained");
}

/// A sender stalled from 100 to 120 ms: the ACK of A (sent at 50 ms,
/// received at 100 ms) is handled at 120 ms, P leaves, then the 20
/// ACKs that arrived during the stall; the receiver gets one segment
/// per ms (1 MB/s) and its ACKs carry its clock as TSval (`ts` maps
/// receiver ms to TSval). Returns P's sample.
fn sample_after_a_stall(ts: impl Fn(u64) -> Option<u32>) -> RateSample {
    let ms = Instant::from_millis;
    let mut r = RateSampler::default();
    r.on_send(ms(50), s(0), MSS, MSS);
    // STARTUP sends at twice the line's rate meanwhile.
    for i in 1..=140u32 {
        let at = Instant::from_micros(50_000 + u64::from(i) * 500);
        r.on_send(at, s(i * 1000), MSS, MSS);
    }
    r.on_ack(ms(120), s(1000), &[], None, ts(100));
    r.on_send(ms(120), s(141_000), MSS, MSS);
    for i in 1..=20u32 {
        r.on_ack(
            ms(120),
            s((i + 1) * 1000),
            &[],
            None,
            ts(100 + u64::from(i)),
        );
    }
    let mut last = None;
    for i in 21..=141u32 {
        let at = 100 + u64::from(i);
        last = r.on_ack(ms(at), s((i + 1) * 1000), &[], None, ts(at));
    }
    last.unwrap()
}

#[test]
fn receiver_spacing_bounds_an_interval_begun_by_a_late_ack() {
    // Without timestamps: 141 kB over max(send 70 ms, ACK 121 ms),
    // 1.165 MB/s on a 1 MB/s line (draft §3.3 as written).
    let late = sample_after_a_stall(|_| None);
    assert_eq!(late.delivered, 141_000);
    assert!(late.delivery_rate > 1.16e6, "{}", late.delivery_rate);
    // The receiver's TSvals (1 ms ticks) span the 141 ms it took.
    let rs = sample_after_a_stall(|ms| Some(7 + ms as u32));
    assert_eq!(rs.interval, Duration::from_millis(141));
    assert!((rs.delivery_rate - 1e6).abs() < 1e3, "{}", rs.delivery_rate);
}

#[test]
fn receiver_spacing_is_not_used_on_a_fast_peer_clock() {
    // A microsecond TSval clock: its ticks are not milliseconds, and
    // the sample is as without timestamps.
    let plain = sample_after_a_stall(|_| None);
    let rs = sample_after_a_stall(|ms| Some(ms as u32 * 1000));
    assert_eq!(rs.interval, plain.interval);
    assert_eq!(rs.delivery_rate, plain.delivery_rate);
}

#[test]
fn records_are_bounded() {
    let mut r = RateSampler::default();
    for i in 0..(MAX_RECORDS as u32 + 100) {
        r.on_send(Instant::ZERO, SeqNumber(i * 100), 100, MSS);
    }
    assert_eq!(r.records(), MAX_RECORDS);
    let n = (MAX_RECORDS as u64 + 100) * 100;
    assert_eq!(r.in_flight(), n);
    let rs = r
        .on_ack(
            Instant::from_millis(5),
            SeqNumber(n as u32),
            &[],
            None,
            None,
        )
        .unwrap();
    assert_eq!(rs.newly_acked, n);
    assert_eq!(r.in_flight(), 0);
}
