//! Buffers that grow with the path (`autotune.rs`): the window scale
//! offered for the maximum buffer, receive-buffer DRS, send-buffer growth
//! with cwnd, `SO_RCVBUF` turning autotuning off; and the receiver's ACKs
//! under loss: out-of-order data never shrinks the window and is ACKed at
//! once, SACK blocks in recency order (RFC 2018 §4), D-SACK (RFC 2883).

use super::*;

/// Autotuned buffers from 64 KiB, ACKs not delayed; CUBIC, unpaced, whose
/// window the tests grow in bursts.
fn auto_cfg() -> Config {
    Config {
        congestion: Algorithm::Cubic,
        send_buffer: 64 * 1024,
        recv_buffer: 64 * 1024,
        delayed_ack: Duration::ZERO,
        ..Config::default()
    }
}

/// ESTABLISHED at t=10 ms with window scale 7 and SACK both ways.
fn auto_established(c: &Config) -> Tcb {
    let mut tcb = syn_sent_with(c);
    let mut sa = syn_ack(Some(7));
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    assert_eq!(recv!(tcb, t(10)).h.flags, Flags::ACK);
    tcb
}

/// The peer sends `n` full segments from `*seq` at `now`; the
/// application reads everything after each.
fn deliver(tcb: &mut Tcb, now: Instant, seq: &mut u32, n: usize) {
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..n {
        send(tcb, now, &seg(r(*seq), l(0), Flags::ACK, &[7u8; 1460]));
        *seq += 1460;
        while tcb.recv(&mut buf).is_ok_and(|k| k > 0) {}
    }
}

#[test]
fn syn_offers_the_window_scale_of_the_maximum_buffer() {
    let syn_scale = |c: &Config| {
        let mut tcb = Tcb::connect(c, LOCAL, REMOTE, LOCAL_ISS);
        recv_one(&mut tcb, t(0)).h.options.window_scale
    };
    // 6 MiB needs shift 7 (Linux offers 7 for its 6 MiB tcp_rmem[2]).
    assert_eq!(syn_scale(&auto_cfg()), Some(7));
    let fixed = Config {
        buffer_autotuning: false,
        recv_buffer: 60_000,
        ..auto_cfg()
    };
    assert_eq!(syn_scale(&fixed), Some(0), "60 KB fits without a shift");
    // The scale is chosen for the memory, not the 20 MiB window it opens:
    // Linux offers 10 for 32 MiB of tcp_rmem[2] (ilog2(32 MiB) − 15).
    let large = Config {
        recv_buffer_max: 32 << 20,
        ..auto_cfg()
    };
    assert_eq!(syn_scale(&large), Some(10));
}

/// Linux's largest receive window for `tcp_rmem[2]` = `memory`: its
/// window clamp, `tcp_win_from_space`, at the `scaling_ratio` it measures
/// for 1448-byte segments at MTU 1500 (160/256), as seen on the WAN line.
fn linux_window_clamp(memory: u64) -> u64 {
    (memory * 160) >> 8
}

/// Feeds a connection whose application reads everything, each 10 ms
/// round trip a full window, until its window stops growing; returns
/// the largest window it advertised.
fn largest_window_under_autotuning(c: &Config) -> u64 {
    let mut tcb = auto_established(c);
    let mut seq = 0;
    let mut now = 10;
    let mut largest = u64::from(tcb.recv_window());
    let mut still = 0;
    while still < 3 {
        now += 10;
        let segments = tcb.recv_window() as usize / 1460;
        deliver(&mut tcb, t(now), &mut seq, segments);
        recv(&mut tcb, t(now));
        let w = u64::from(tcb.recv_window());
        still = if w > largest { 0 } else { still + 1 };
        largest = largest.max(w);
        assert!(now < 2_000, "the window kept growing: {w}");
    }
    assert!(tcb.recv_autotuning());
    largest
}

#[test]
fn the_default_window_grows_to_what_linux_advertises_from_its_default_memory() {
    // tcp_rmem[2] defaults to 6 MiB on Linux, which advertises at most
    // 3,932,160 bytes from it; so does tunstack's default, also 6 MiB
    // (counted as payload it opened 6 MiB, 1.6 times Linux's window).
    let default = Config::default();
    assert_eq!(default.recv_buffer_max, 6 << 20);
    let linux = linux_window_clamp(6 << 20);
    assert_eq!(linux, 3_932_160);
    assert_eq!(largest_window_under_autotuning(&default), linux);
    assert_eq!(default.recv_window_max() as u64, linux);
}

#[test]
fn a_larger_maximum_opens_the_window_linux_opens_from_that_memory() {
    // The bench's namespaces: 32 MiB of tcp_rmem[2], from which Linux's
    // receiver advertised at most 20,970,496 bytes (scale 10) on the line.
    let c = Config {
        recv_buffer_max: 32 << 20,
        ..Config::default()
    };
    let largest = largest_window_under_autotuning(&c);
    let linux = linux_window_clamp(32 << 20);
    assert_eq!(largest, linux, "20 MiB, not 32");
    assert!(largest.abs_diff(20_970_496) <= 1024, "{largest}");
}

#[test]
fn receive_buffer_grows_while_the_application_keeps_up() {
    let mut tcb = auto_established(&auto_cfg());
    let mut seq = 0;
    let mut now = 10;
    let mut windows = Vec::new();
    // Each 10 ms round trip the peer fills the window we advertised.
    for _ in 0..10 {
        now += 10;
        let segments = tcb.recv_window() as usize / 1460;
        deliver(&mut tcb, t(now), &mut seq, segments);
        let acks = recv(&mut tcb, t(now));
        assert!(
            acks.iter().all(|a| a.h.window > 0),
            "never a zero window while the application keeps up"
        );
        windows.push(tcb.recv_window());
    }
    assert!(tcb.recv_autotuning());
    assert!(tcb.recv_rtt().is_some(), "a receiver RTT was measured");
    assert!(
        windows.windows(2).all(|w| w[1] >= w[0]),
        "the window never shrinks: {windows:?}"
    );
    // The default 6 MiB of memory allow 3.75 MiB of window.
    assert!(
        tcb.recv_buffer() >= 3 << 20 && tcb.recv_buffer() <= 3_932_160,
        "grown to near the maximum: {} ({windows:?})",
        tcb.recv_buffer()
    );
    assert!(tcb.recv_window() > 3 << 20, "{windows:?}");
    // What the buffers hold stays small: the application read everything.
    assert!(tcb.buffer_memory() <= 64 * 1024, "{}", tcb.buffer_memory());
}

#[test]
fn a_slow_reader_does_not_grow_the_buffer() {
    let mut tcb = auto_established(&auto_cfg());
    let mut seq = 0;
    for round in 0..6u64 {
        let now = t(20 + 10 * round);
        // Only 4 segments per round trip, all read: far below a window.
        deliver(&mut tcb, now, &mut seq, 4);
        recv(&mut tcb, now);
    }
    assert_eq!(tcb.recv_buffer(), 64 * 1024);
}

/// The peer sends in slow start from an initial window of 10 segments,
/// one round per millisecond, each round twice the last, while the
/// application reads nothing (its thread waits for a CPU); every ACK is
/// taken in. Returns the first round whose last segment reached the
/// right edge of the window we advertised (Wireshark's "window full"),
/// `None` if `rounds` rounds fit.
fn first_full_round(c: &Config, rounds: u32) -> Option<u32> {
    let mut tcb = syn_sent_with(c);
    send!(tcb, t(10), syn_ack(Some(7)));
    let hs = recv!(tcb, t(10));
    let mut edge = hs.h.ack + (u32::from(hs.h.window) << 7);
    let mut seq = 0u32;
    for round in 0..rounds {
        let now = t(11 + u64::from(round));
        for _ in 0..(10u32 << round) {
            let end = r(seq + 1460);
            if end.diff(edge) >= 0 {
                return Some(round);
            }
            send!(tcb, now, seg(r(seq), l(0), Flags::ACK, &[7u8; 1460]));
            seq += 1460;
            for ack in recv(&mut tcb, now) {
                if ack.h.window == 0 {
                    // Full: data past the buffer was dropped, and this ACK
                    // says so (Linux's `ICSK_ACK_NOMEM`); until then the
                    // edge never moved left.
                    return Some(round);
                }
                let right = ack.h.ack + (u32::from(ack.h.window) << 7);
                assert!(right.diff(edge) >= 0, "the right edge moved back");
                edge = right;
            }
        }
    }
    assert_eq!(tcb.recv_queue(), seq as usize, "nothing was read");
    None
}

#[test]
fn the_default_receive_buffer_holds_six_slow_start_rounds_before_the_first_read() {
    // 10 + 20 + ... + 320 segments: 919,800 bytes in 6 ms, what a local
    // sender delivers while the reader waits for a CPU at the start.
    let default = Config {
        congestion: Algorithm::Cubic,
        delayed_ack: Duration::ZERO,
        ..Config::default()
    };
    assert_eq!(first_full_round(&default, 6), None);
    // The whole buffer is promised in the handshake's ACK, and data that
    // is not read keeps that right edge, never left of it: the window
    // still offered is rounded up to the scale (Linux `tcp_select_window`).
    let mut tcb = syn_sent_with(&default);
    send!(tcb, t(10), syn_ack(Some(7)));
    let hs = recv!(tcb, t(10));
    assert_eq!(u32::from(hs.h.window) << 7, 1 << 20);
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, &[7u8; 1460]));
    let ack = recv!(tcb, t(11));
    let right = ack.h.ack + (u32::from(ack.h.window) << 7);
    assert!((0..128).contains(&right.diff(r(1 << 20))), "{right:?}");
    // A 256 KiB start was reached in the fifth round (window full, and
    // the next ACK a zero window).
    let small = Config {
        recv_buffer: 256 * 1024,
        ..default.clone()
    };
    assert_eq!(first_full_round(&small, 6), Some(4));
}

#[test]
fn set_recv_buffer_turns_receive_autotuning_off() {
    let mut tcb = auto_established(&auto_cfg());
    assert!(tcb.set_recv_buffer(100_000));
    assert!(!tcb.recv_autotuning() && tcb.send_autotuning());
    let mut seq = 0;
    for round in 0..8u64 {
        let now = t(20 + 10 * round);
        let segments = tcb.recv_window() as usize / 1460;
        deliver(&mut tcb, now, &mut seq, segments);
        recv(&mut tcb, now);
    }
    assert_eq!(tcb.recv_buffer(), 100_000, "SO_RCVBUF is kept");
    tcb.set_send_buffer(70_000);
    assert!(!tcb.send_autotuning());
}

#[test]
fn send_buffer_grows_with_the_congestion_window() {
    let mut tcb = auto_established(&auto_cfg());
    let data = vec![9u8; 1 << 20];
    let mut acked = 0u32;
    for round in 0..8u64 {
        let now = t(20 + 10 * round);
        let _ = tcb.send(&data);
        let out = recv(&mut tcb, now);
        // The peer ACKs every segment (window 65535 << 7).
        for s in &out {
            acked += s.payload.len() as u32;
            send!(
                tcb,
                now + Duration::from_millis(5),
                seg(r(0), l(acked), Flags::ACK, b"")
            );
        }
    }
    assert!(
        tcb.send_buffer() >= 2 * tcb.cwnd().min(2 << 20),
        "send buffer {} for cwnd {}",
        tcb.send_buffer(),
        tcb.cwnd()
    );
    assert!(tcb.send_buffer() > 64 * 1024 && tcb.send_buffer() <= 4 << 20);
}

/// A peer that stopped reading opens its window one small step per ACK:
/// the flow is held back by that window, not by cwnd, so the send buffer
/// keeps its size and the writer is let in only as far as ACKs free room
/// (Linux grows cwnd, and with it `sk_sndbuf`, only while cwnd-limited).
#[test]
fn send_buffer_stays_put_while_the_peer_window_holds_the_flow_back() {
    for congestion in [Algorithm::Cubic, Algorithm::NewReno] {
        let mut tcb = auto_established(&Config {
            congestion,
            ..auto_cfg()
        });
        let data = vec![9u8; 1 << 20];
        let mut acked = 0u32;
        let mut sizes = Vec::new();
        let mut written_after_full = 0;
        let mut acked_after_full = 0;
        for round in 0..200u64 {
            let now = t(20 + 10 * round);
            let mut written = 0;
            while let Ok(n @ 1..) = tcb.send(&data) {
                written += n;
            }
            // Round 6 on: the buffer was full at the end of the last
            // round, so all the writer got is what the last ACKs freed.
            if round >= 6 {
                written_after_full += written;
            }
            let out = recv(&mut tcb, now);
            let sent: u32 = out.iter().map(|s| s.payload.len() as u32).sum();
            // Each segment ACKed: rounds 0–3 at full window (65535 << 7);
            // then 11 << 7 = 1408 bytes, the reader took one segment's worth.
            for s in &out {
                acked += s.payload.len() as u32;
                let mut ack = seg(r(0), l(acked), Flags::ACK, b"");
                if round >= 4 {
                    ack.h.window = 11;
                }
                send!(tcb, now + Duration::from_millis(5), ack);
            }
            if round >= 5 {
                acked_after_full += sent as usize;
                sizes.push(tcb.send_buffer());
            }
        }
        assert!(
            sizes[0] > 64 * 1024 && sizes[0] < 4 << 20,
            "{congestion:?}: grew first: {sizes:?}"
        );
        assert!(
            sizes.iter().all(|&s| s == sizes[0]),
            "{congestion:?}: the buffer stays put under a small window: {:?}",
            &sizes[..8]
        );
        assert!(
            written_after_full <= acked_after_full,
            "{congestion:?}: writes {written_after_full} beyond the {acked_after_full} bytes acked"
        );
    }
}

#[test]
fn out_of_order_data_keeps_the_window_and_is_acked_at_once() {
    let c = Config {
        delayed_ack: Duration::from_millis(40),
        ..auto_cfg()
    };
    let mut tcb = auto_established(&c);
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, &[1u8; 1460]));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(1460), "a quick ACK: data starts");
    let before = tcb.rcv_wnd();
    // A hole at 1460..2920: the next two segments are out of order.
    send!(tcb, t(21), seg(r(2920), l(0), Flags::ACK, &[3u8; 1460]));
    let a1 = recv!(tcb, t(21));
    send!(tcb, t(22), seg(r(4380), l(0), Flags::ACK, &[4u8; 1460]));
    let a2 = recv!(tcb, t(22));
    for a in [&a1, &a2] {
        assert_eq!(a.h.ack, r(1460), "duplicate ACKs at once");
        assert_eq!(
            u32::from(a.h.window) << 7,
            before.div_ceil(128) * 128,
            "out-of-order bytes do not shrink the window (rounded up to the scale)"
        );
    }
    assert_eq!(a2.h.options.sack_blocks[0], Some((r(2920), r(5840))));
    // The retransmission fills the hole: ACKed at once, no delay.
    send!(tcb, t(30), seg(r(1460), l(0), Flags::ACK, &[2u8; 1460]));
    let filled = recv!(tcb, t(30));
    assert_eq!(filled.h.ack, r(5840));
    assert_eq!(filled.h.options.sack_blocks[0], None);
}

#[test]
fn sack_blocks_latest_first_then_most_recent_and_dsack_for_duplicates() {
    let mut tcb = auto_established(&auto_cfg());
    // Holes before each of three out-of-order segments, sent out of order.
    for (n, at) in [(1u8, 10_000u32), (2, 30_000), (3, 20_000)] {
        send!(tcb, t(20), seg(r(at), l(0), Flags::ACK, &[n; 100]));
        recv!(tcb, t(20));
    }
    send!(tcb, t(21), seg(r(10_100), l(0), Flags::ACK, &[1u8; 100]));
    let ack = recv!(tcb, t(21));
    assert_eq!(
        ack.h.options.sack_blocks[..3],
        [
            Some((r(10_000), r(10_200))),
            Some((r(20_000), r(20_100))),
            Some((r(30_000), r(30_100)))
        ],
        "RFC 2018 §4: the latest block, then the most recently reported"
    );
    // A duplicate below RCV.NXT is reported first as a D-SACK block.
    send!(tcb, t(22), seg(r(0), l(0), Flags::ACK, &[0u8; 10_000]));
    recv!(tcb, t(22));
    send!(tcb, t(23), seg(r(0), l(0), Flags::ACK, &[0u8; 1000]));
    let dup = recv!(tcb, t(23));
    assert_eq!(dup.h.options.sack_blocks[0], Some((r(0), r(1000))));
    assert_eq!(dup.h.ack, r(10_200));
    assert_eq!(dup.h.options.sack_blocks[1], Some((r(20_000), r(20_100))));
    // Reported once.
    send!(tcb, t(24), seg(r(40_000), l(0), Flags::ACK, &[5u8; 100]));
    let next = recv!(tcb, t(24));
    assert_eq!(next.h.options.sack_blocks[0], Some((r(40_000), r(40_100))));
}
