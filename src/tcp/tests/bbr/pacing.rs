//! Pacing (draft-ietf-ccwg-bbr §5.6.2): the sender's output follows the
//! pacing rate, `poll_at` says when the next release is, the pacer's
//! catch-up after a late poll; CUBIC does not pace.

use super::*;

#[test]
fn bbr_pacing_spacing_matches_pacing_rate() {
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_secs(1), |_| {});
    let s = p.state();
    assert!(s.mode.unwrap().to_string().starts_with("PROBE_BW"), "{s}");
    // Over the next 200 ms the sender's output rate follows pacing_rate,
    // and no single instant releases more than a send quantum.
    let from = p.sent.len();
    let t0 = p.now;
    let mut rates = Vec::new();
    p.run_until(t0 + Duration::from_millis(200), |p| {
        if let Some(r) = p.state().pacing_rate {
            rates.push(r as f64);
        }
    });
    let window = &p.sent[from..];
    let bytes: usize = window.iter().map(|(_, n)| n).sum();
    let span = (p.now - t0).as_secs_f64();
    let mean_rate = rates.iter().sum::<f64>() / rates.len() as f64;
    let out = bytes as f64 / span;
    assert!(
        (out / mean_rate - 1.0).abs() < 0.15,
        "sent at {out:.0} B/s, pacing rate {mean_rate:.0} B/s"
    );
    let mut burst = std::collections::BTreeMap::<Instant, usize>::new();
    for (at, n) in window {
        *burst.entry(*at).or_default() += n;
    }
    let largest = burst.values().copied().max().unwrap();
    // pacing_rate · 1 ms: ≈ 10 kB, 12.5 kB probing up; plus the segment
    // that overdraws the credit.
    assert!(largest <= 12_500 + 2 * MSS, "burst of {largest} bytes");
    assert!(
        burst.len() > 100,
        "{} release instants in 200 ms",
        burst.len()
    );
}

#[test]
fn bbr_poll_at_reports_the_next_pacing_release() {
    let mut p = path();
    let start = p.now;
    p.run_until(start + Duration::from_secs(1), |_| {});
    // Drain whatever is due, then the TCB holds data back for pacing and
    // says when it may go (cwnd has room: it is pacing, not the window).
    p.transmit();
    let at = p.tcb.poll_at().expect("a release time");
    assert!(at > p.now, "release {at} at {}", p.now);
    let rate = p.state().pacing_rate.unwrap() as f64;
    let wait = (at - p.now).as_secs_f64();
    // At most one quantum (~1 ms of data) away.
    assert!(
        wait <= 20_000.0 / rate + 1e-6,
        "wait {wait} s at {rate} B/s"
    );
    assert!(p.tcb.poll_transmit(p.now).is_none(), "held until then");
    let sent = p.sent.len();
    p.now = at;
    p.transmit();
    assert!(p.sent.len() > sent, "released at {at}");
}

#[test]
fn cubic_does_not_pace() {
    // Only an algorithm that sets a pacing rate holds data back.
    let mut tcb = established();
    tcb.send(&vec![1u8; 14_600]).unwrap();
    assert_eq!(recv(&mut tcb, t(20)).len(), 10);
    let s = tcb.cc_state();
    assert_eq!(
        (s.algorithm, s.pacing_rate, s.mode),
        (Algorithm::Cubic, None, None)
    );
}

/// 1 Gbit/s and a 64 KiB quantum, one quantum sent: the next is due in
/// 0.5 ms.
fn held_pacer() -> (crate::tcp::output::Pacer, Instant) {
    let mut p = crate::tcp::output::Pacer::default();
    let t0 = t(10);
    assert!(p.allows(t0, 125e6, 65536.0));
    p.spend(2 * 65536);
    assert!(!p.allows(t0, 125e6, 65536.0));
    let due = p.wake.expect("held");
    (p, due)
}

/// Bytes the pacer lets out at `now`, a quantum at a time.
fn released(p: &mut crate::tcp::output::Pacer, now: Instant) -> usize {
    let mut n = 0;
    while p.allows(now, 125e6, 65536.0) && n < 100 << 20 {
        p.spend(65536);
        n += 65536;
    }
    n
}

#[test]
fn pacer_makes_up_the_time_a_late_sender_lost() {
    // Polled 5 ms after its release time (a descheduled process), the
    // pacer lets out what 5 ms at the rate carries (625 kB), not just
    // its two quanta: pacing at the line's rate otherwise leaves the
    // line idle for every stall.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due + Duration::from_millis(5));
    assert!(n >= 600_000, "{n} bytes after a 5 ms stall");
    // On time, it holds to its quanta.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due);
    assert!(n <= 2 * 65536, "{n} bytes on time");
}

#[test]
fn pacer_catch_up_is_bounded() {
    // A stall of 100 ms makes up at most 10 ms (1.25 MB at 1 Gbit/s),
    // plus the quanta: not a burst of the whole BDP.
    let (mut p, due) = held_pacer();
    let n = released(&mut p, due + Duration::from_millis(100));
    assert!(n >= 1_200_000, "{n}");
    assert!(n <= 1_250_000 + 3 * 65536, "{n} bytes after a 100 ms stall");
    // The next quantum waits for the rate again.
    let next = due + Duration::from_millis(100);
    assert!(!p.allows(next, 125e6, 65536.0));
}
