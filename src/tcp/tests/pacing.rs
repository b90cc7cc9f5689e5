//! The pacer's release schedule (`output::Pacer`), in virtual time: data
//! held back for pacing leaves a quantum at a time at the release time,
//! not a segment per ACK in between (Linux's `tcp_pacing_check` and
//! `tcp_tso_autosize`), at the paced average rate.

use super::t;
use crate::tcp::output::Pacer;
use crate::time::{Duration, Instant};

/// 1 Gbit/s in bytes/s, and its quantum (64 KiB, Linux's ceiling).
const RATE: f64 = 125e6;
const QUANTUM: f64 = 65536.0;
const MSS: usize = 1448;

/// A pacer that just sent a quantum's worth and was held: its release time.
fn held() -> (Pacer, Instant) {
    let mut p = Pacer::default();
    let t0 = t(10);
    assert!(p.allows(t0, RATE, QUANTUM));
    p.spend(QUANTUM as usize);
    assert!(!p.allows(t0, RATE, QUANTUM));
    let due = p.wake.expect("held");
    (p, due)
}

/// Segments the pacer lets out at `now` (a sender with data and window
/// to spare), in bytes.
fn burst(p: &mut Pacer, now: Instant) -> usize {
    let mut n = 0;
    while p.allows(now, RATE, QUANTUM) && n < 100 * QUANTUM as usize {
        p.spend(MSS);
        n += MSS;
    }
    n
}

#[test]
fn pacer_held_data_waits_for_its_release_time_through_acks() {
    // An ACK 0.1 ms before the release time finds some credit refilled,
    // but the held data still waits: what it would release is a segment
    // or two, a device write and a wake-up each.
    let (mut p, due) = held();
    let early = due - Duration::from_micros(100);
    assert_eq!(burst(&mut p, early), 0, "released before {due}");
    assert_eq!(p.wake, Some(due), "the release time stands");
    // At the release time a whole quantum leaves at once.
    let n = burst(&mut p, due);
    assert!(n >= QUANTUM as usize, "{n} bytes at the release time");
    assert!(n <= QUANTUM as usize + MSS, "{n} bytes at the release time");
}

#[test]
fn pacer_releases_quanta_at_the_paced_rate_under_an_ack_stream() {
    // ACKs every 24 µs (one per two segments at 1 Gbit/s) for 100 ms, and
    // the release times the pacer asks for: every release is a quantum
    // (a segment's rounding aside), and the average rate is the pacing
    // rate.
    let (mut p, mut wake) = held();
    let start = wake;
    let end = start + Duration::from_millis(100);
    let mut ack = start;
    let (mut total, mut bursts) = (0usize, Vec::new());
    loop {
        let now = ack.min(wake);
        if now >= end {
            break;
        }
        let n = burst(&mut p, now);
        if n > 0 {
            total += n;
            bursts.push(n);
        }
        if now == ack {
            ack += Duration::from_micros(24);
        }
        wake = p.wake.unwrap_or(ack);
        if wake <= now {
            wake = ack;
        }
    }
    let smallest = bursts.iter().copied().min().unwrap_or(0);
    assert!(
        smallest + MSS >= QUANTUM as usize,
        "a burst of {smallest} bytes among {}",
        bursts.len()
    );
    let rate = total as f64 / (end - start).as_secs_f64();
    assert!((rate / RATE - 1.0).abs() < 0.03, "{rate:.0} B/s");
}
