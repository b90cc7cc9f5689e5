//! PROBE_BW (draft-ietf-ccwg-bbr §5.3.3): inflight_hi from a probe's
//! losses, CRUISE's headroom, and when the next probe comes.

use super::*;

#[test]
fn bbr_probe_losses_within_the_bdp_leave_inflight_hi_alone() {
    // Eight losses a round (9%) in a bandwidth probe whose flight is the
    // BDP: not this flow's queue overflowing, so no inflight_hi. With a
    // tenth more in flight than the BDP they bound it (§5.5.10.2).
    let mut m = model_probing_up(1.0);
    m.rounds(2, 8);
    assert_eq!(m.bbr.inflight_hi(), None);
    let mut m = model_probing_up(1.1);
    m.rounds(2, 8);
    let hi = m
        .bbr
        .inflight_hi()
        .expect("the probe's losses set inflight_hi");
    assert!(hi > BDP && hi <= BDP * 11 / 10, "{hi}");
}

#[test]
fn bbr_cruise_headroom_does_not_take_cwnd_under_the_bdp() {
    // Losses in a bandwidth probe cut inflight_hi to the flight at the
    // loss, a tenth over the BDP here. CRUISE's 15% headroom would then
    // hold cwnd at 0.94 BDP, under what the pacing rate needs; it is
    // bounded below by the BDP (and above by inflight_hi).
    let mut m = model_probing_up(1.1);
    m.rounds(2, 8);
    let hi = m
        .bbr
        .inflight_hi()
        .expect("the probe's losses set inflight_hi");
    m.flight_bdps = 1.0;
    let modes = m.modes_over_rounds(10);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise, "{modes:?}");
    let (cwnd, bdp) = (m.bbr.cwnd() as u64, (m.bbr.bandwidth() * 0.010) as u64);
    assert!(
        cwnd >= hi.min(bdp),
        "cwnd {cwnd}, BDP {bdp}, inflight_hi {hi}"
    );
    assert!(cwnd <= hi, "cwnd {cwnd}, inflight_hi {hi}");
}

#[test]
fn bbr_probe_that_found_a_quarter_more_probes_again_within_rounds() {
    // A probe finds twice the bandwidth the model had (its model well
    // under the path, as after a STARTUP that ended low) and a loss burst
    // ends it. The probe after comes within a
    // few rounds (v1's 8-round cycle), not after the draft's 2-3 s.
    let mut m = Model::new();
    m.rounds(20, 0);
    assert_eq!(m.bbr.mode(), BbrMode::ProbeBwCruise);
    let mut acks = 0;
    while m.bbr.mode() != BbrMode::ProbeBwUp {
        m.ack(0);
        acks += 1;
        assert!(acks < 2_000_000, "no probe");
    }
    // The model delivers whatever rate it is given: the probe, pacing
    // at 1.25 times its estimate, finds twice it.
    m.rate = 2.0 * RATE;
    m.rounds(1, 0);
    // A burst: one ACK in four marks a segment lost.
    let mut i = 0;
    while m.bbr.mode() == BbrMode::ProbeBwUp {
        m.ack(u64::from(i % 4 == 0));
        i += 1;
        assert!(i < 1000, "the burst did not end the probe");
    }
    // Down (and at once cruising: the model's flight is the BDP).
    assert!(
        [BbrMode::ProbeBwDown, BbrMode::ProbeBwCruise].contains(&m.bbr.mode()),
        "{:?}",
        m.bbr.mode()
    );
    assert!(m.bbr.max_bw() >= 1.9 * RATE, "{}", m.bbr.max_bw());
    let down = m.now;
    while m.bbr.mode() != BbrMode::ProbeBwRefill {
        m.ack(0);
        assert!(m.now - down < Duration::from_secs(4), "no second probe");
    }
    let wait = m.now - down;
    // min_rtt is 10 ms here.
    assert!(
        wait <= Duration::from_millis(100),
        "next probe after {wait:?}"
    );
    // That probe finds nothing more: the draft's wait again, the earlier
    // of 2-3 s and Reno's time.
    while m.bbr.mode() != BbrMode::ProbeBwDown {
        m.ack(0);
    }
    let down = m.now;
    while m.bbr.mode() != BbrMode::ProbeBwRefill {
        m.ack(0);
        assert!(m.now - down < Duration::from_secs(4), "no third probe");
    }
    // (Here Reno's 63 rounds of 85 ACKs, 310 ms, come before 2-3 s.)
    assert!(
        m.now - down >= Duration::from_millis(250),
        "{:?}",
        m.now - down
    );
}

#[test]
fn bbr_regrowth_after_a_rate_step_probes_again_within_rounds() {
    // Over the path harness: 2 MB/s until PROBE_BW has settled, then
    // 10 MB/s. The probe that finds the new rate is followed by another
    // within 10 round trips (40 ms each), which finds nothing more, and
    // then the draft's 2-3 s wait.
    let mut p = Path::new(2e6, Duration::from_millis(20));
    let start = p.now;
    p.run_until(start + Duration::from_secs(2), |_| {});
    assert_eq!(
        p.state().mode,
        Some(BbrMode::ProbeBwCruise),
        "{}",
        p.state()
    );
    let bw = p.state().bandwidth.unwrap() as f64;
    assert!((1.8e6..2.2e6).contains(&bw), "{bw}");
    p.rate = 10e6;
    let step = p.now;
    let mut modes: Vec<(Duration, BbrMode, u64)> = Vec::new();
    p.run_until(step + Duration::from_secs(6), |p| {
        let st = p.state();
        let m = st.mode.unwrap();
        if modes.last().is_none_or(|x| x.1 != m) {
            modes.push((p.now - step, m, st.bandwidth.unwrap()));
        }
    });
    let ups: Vec<_> = modes.iter().filter(|x| x.1 == BbrMode::ProbeBwUp).collect();
    let downs: Vec<_> = modes
        .iter()
        .filter(|x| x.1 == BbrMode::ProbeBwDown)
        .collect();
    assert!(ups.len() >= 3 && downs.len() >= 2, "{modes:?}");
    assert!(
        downs[0].2 >= 9_000_000,
        "the first probe found the rate: {modes:?}"
    );
    assert!(
        ups[1].0 - downs[0].0 <= Duration::from_millis(400),
        "{modes:?}"
    );
    assert!(
        ups[2].0 - downs[1].0 >= Duration::from_millis(1500),
        "{modes:?}"
    );
}
