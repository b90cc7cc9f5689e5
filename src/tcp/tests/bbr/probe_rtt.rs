//! PROBE_RTT (draft-ietf-ccwg-bbr §5.3.4): when it comes, its window, and
//! the min-RTT clock of a connection made late.

use super::*;

#[test]
fn bbr_probe_rtt_after_5s_without_new_min_rtt() {
    // §5.3.4: the path's RTT never drops below its first low, so after
    // 5 s BBR enters PROBE_RTT, holds cwnd at max(BDP/2, 4 segments) for
    // 200 ms and a round, then resumes PROBE_BW with its old window.
    let mut p = path();
    let start = p.now;
    let mut entered = None;
    let mut left = None;
    let mut cwnd_in_probe = usize::MAX;
    let mut cwnd_before = 0;
    p.run_until(start + Duration::from_secs(8), |p| {
        let s = p.state();
        match (s.mode, entered) {
            (Some(BbrMode::ProbeRtt), None) => entered = Some(p.now),
            (Some(BbrMode::ProbeRtt), Some(_)) => cwnd_in_probe = cwnd_in_probe.min(s.cwnd),
            (Some(m), Some(_)) if left.is_none() => {
                assert!(m.to_string().starts_with("PROBE_BW"), "{m}");
                left = Some((p.now, s.cwnd));
            }
            (_, None) => cwnd_before = s.cwnd,
            _ => {}
        }
    });
    let entered = entered.expect("PROBE_RTT entered");
    let since = entered - start;
    assert!(
        since > Duration::from_secs(5) && since < Duration::from_millis(5600),
        "PROBE_RTT after {since:?}"
    );
    let bdp = 400_000;
    assert!(
        cwnd_in_probe <= bdp / 2 + MSS && cwnd_in_probe >= 4 * MSS,
        "cwnd in PROBE_RTT {cwnd_in_probe}"
    );
    let (left_at, cwnd_after) = left.expect("PROBE_RTT ended");
    let stay = left_at - entered;
    assert!(
        stay >= Duration::from_millis(200) && stay < Duration::from_millis(400),
        "stayed {stay:?}"
    );
    assert!(
        cwnd_after >= cwnd_before * 9 / 10,
        "{cwnd_after} vs {cwnd_before}"
    );
}

#[test]
fn bbr_probe_rtt_cwnd_floor_is_four_segments() {
    // With a BDP under 8 segments, half a BDP is below the floor: cwnd in
    // PROBE_RTT is exactly 4 segments (BBRMinPipeCwnd).
    let mut p = Path::new(100e3, Duration::from_millis(20));
    let start = p.now;
    let mut cwnd_in_probe = None;
    p.run_until(start + Duration::from_secs(7), |p| {
        let s = p.state();
        if s.mode == Some(BbrMode::ProbeRtt) {
            cwnd_in_probe = Some(s.cwnd);
        }
    });
    assert_eq!(cwnd_in_probe, Some(4 * MSS));
}

#[test]
fn bbr_connection_accepted_long_after_the_stack_started_does_not_begin_in_probe_rtt() {
    // The model is made at the stack's clock zero; its connection starts
    // 60 s later. The 5 s PROBE_RTT interval and the 10 s min-RTT window
    // run from the connection's first RTT sample (BBRInit: "now"), not
    // from the stack's start.
    let mut m = Model::made_at(Instant::ZERO, Instant::from_secs(60));
    let mut modes = Vec::new();
    for _ in 0..6 {
        m.rounds(1, 0);
        modes.push(m.bbr.mode());
    }
    assert!(!modes.contains(&BbrMode::ProbeRtt), "{modes:?}");
    assert_eq!(m.bbr.min_rtt(), Some(Duration::from_millis(10)));
}
