//! Congestion control through the connection (RFC 5681, RFC 6582,
//! RFC 9438): window growth, reductions, and recovery boundaries.

use super::*;

fn full_segments(tcb: &mut Tcb, now: Instant) -> Vec<Seg> {
    recv(tcb, now)
}

#[test]
fn established_slow_start_grows_cwnd_with_each_ack() {
    // RFC 5681 §3.1: cwnd += min(N, SMSS) per ACK (ABC allows 2·SMSS).
    let mut tcb = established();
    tcb.send(&vec![1u8; 60_000]).unwrap();
    full_segments(&mut tcb, t(20));
    let before = tcb.cwnd();
    send!(tcb, t(30), seg(r(0), l(1460), Flags::ACK, b""));
    assert_eq!(tcb.cwnd(), before + 1460);
    send!(tcb, t(31), seg(r(0), l(1460 * 3), Flags::ACK, b""));
    assert_eq!(
        tcb.cwnd(),
        before + 1460 + 2920,
        "ABC caps at 2·SMSS per ACK"
    );
}

#[test]
fn established_rto_sets_ssthresh_from_flight_and_cwnd_to_one_segment() {
    // RFC 9438 §4.8 with CUBIC's β = 0.7 of cwnd; loss window 1 SMSS.
    let mut tcb = established();
    tcb.send(&vec![1u8; 14_600]).unwrap();
    full_segments(&mut tcb, t(20));
    let at = tcb.poll_at().unwrap();
    tcb.on_timeout(at);
    assert_eq!(tcb.cwnd(), 1460);
    assert_eq!(tcb.loss.cc.ssthresh(), 10_220);
}

#[test]
fn established_newreno_reduction_halves_flight() {
    let c = Config {
        congestion: Algorithm::NewReno,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(10), syn_ack(None));
    recv(&mut tcb, t(10));
    tcb.send(&vec![1u8; 14_600]).unwrap();
    full_segments(&mut tcb, t(20));
    for _ in 0..3 {
        send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    }
    assert_eq!(tcb.loss.cc.ssthresh(), 7300, "flight / 2 (RFC 5681 eq. 4)");
    assert_eq!(
        tcb.cwnd(),
        7300 + 3 * 1460,
        "+3 SMSS inflation (RFC 6582 step 2)"
    );
}

#[test]
fn established_newreno_partial_ack_stays_in_recovery_and_full_ack_leaves() {
    let c = Config {
        congestion: Algorithm::NewReno,
        ..cfg()
    };
    let mut tcb = syn_sent_with(&c);
    send!(tcb, t(10), syn_ack(None));
    recv(&mut tcb, t(10));
    tcb.send(&vec![1u8; 14_600]).unwrap();
    full_segments(&mut tcb, t(20));
    for _ in 0..3 {
        send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    }
    recv(&mut tcb, t(30));
    send!(tcb, t(40), seg(r(0), l(2920), Flags::ACK, b""));
    assert!(tcb.loss.recover.is_some(), "partial ACK: still recovering");
    let rtx = recv(&mut tcb, t(40));
    assert_eq!(rtx[0].h.seq, l(2920), "the next hole is resent at once");
    send!(tcb, t(50), seg(r(0), l(14_600), Flags::ACK, b""));
    assert!(tcb.loss.recover.is_none(), "full ACK ends recovery");
}

#[test]
fn established_dup_ack_carrying_data_is_not_counted() {
    // RFC 5681 §2: a duplicate ACK carries no data.
    let mut tcb = established();
    tcb.send(&vec![1u8; 5000]).unwrap();
    full_segments(&mut tcb, t(20));
    for i in 0..4u32 {
        send!(tcb, t(30), seg(r(i), l(0), Flags::ACK, b"d"));
    }
    assert_eq!(tcb.stats().dup_acks, 0);
}

#[test]
fn established_new_ack_resets_the_duplicate_count() {
    let mut tcb = established();
    tcb.send(&vec![1u8; 8000]).unwrap();
    full_segments(&mut tcb, t(20));
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b""));
    send!(tcb, t(31), seg(r(0), l(1460), Flags::ACK, b""));
    send!(tcb, t(32), seg(r(0), l(1460), Flags::ACK, b""));
    send!(tcb, t(32), seg(r(0), l(1460), Flags::ACK, b""));
    assert_eq!(
        tcb.stats().fast_retransmits,
        0,
        "two + two duplicates never reach three"
    );
}

#[test]
fn bbr_is_the_default_and_newreno_is_selectable() {
    assert_eq!(Config::default().congestion, Algorithm::Bbr);
    let tcb = Tcb::connect(
        &Config {
            congestion: Algorithm::NewReno,
            ..cfg()
        },
        LOCAL,
        REMOTE,
        LOCAL_ISS,
    );
    assert_eq!(tcb.loss.cc.algorithm(), Algorithm::NewReno);
}
