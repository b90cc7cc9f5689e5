//! TCP segmentation offload as the sender sees it (`Tcb::set_tso_max`):
//! new data leaves in segments of whole MSS multiples marked with
//! `gso_size`, the device cuts them at the MSS, and what reaches the wire
//! is exactly what segment-at-a-time output would have sent (same
//! sequence numbers, payloads and flags; Nagle and sender SWS avoidance,
//! RFC 9293 §3.8.6.2.1 and RFC 1122 §4.2.3.4, apply to the tail).
//! Retransmissions (RFC 6298 §5.4, RFC 5681 §3.2) stay one MSS.

use super::*;

const MSS: usize = 1460;
const TSO_MAX: usize = 64_000;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + i / 509) as u8).collect()
}

/// One transmit with its payload copied out of the send buffer.
#[derive(Clone)]
struct Out {
    tx: Transmit,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = &self.tx.header;
        write!(
            f,
            "seq {} [{}] len {} gso {} ({:?})",
            h.seq.0, h.flags, self.tx.payload_len, self.tx.gso_size, self.tx.reason
        )
    }
}

/// Everything the TCB sends at `now`, `Transmit` metadata included.
fn transmit(tcb: &mut Tcb, now: Instant) -> Vec<Out> {
    let mut out = Vec::new();
    while let Some(tx) = tcb.poll_transmit(now) {
        let mut payload = vec![0u8; tx.payload_len];
        assert_eq!(tcb.copy_payload(&tx, &mut payload), tx.payload_len);
        out.push(Out { tx, payload });
        assert!(out.len() < 10_000, "poll_transmit never returned None");
    }
    out
}

fn lens(out: &[Out]) -> Vec<usize> {
    out.iter().map(|o| o.tx.payload_len).collect()
}

/// An ESTABLISHED connection (MSS 1460, no options) that may build TSO
/// segments of up to 64000 bytes.
fn tso_established() -> Tcb {
    let mut tcb = established();
    tcb.set_tso_max(TSO_MAX);
    tcb
}

/// A pure ACK from the remote acknowledging `ack` bytes with `window`.
fn ack(n: usize, window: u16) -> Seg {
    let mut a = seg(r(0), l(n as u32), Flags::ACK, b"");
    a.h.window = window;
    a
}

/// A segment as it reaches the wire: (seq, flags, payload).
type Wire = (SeqNumber, Flags, Vec<u8>);

/// What a device doing TSO puts on the wire for `out`: each segment with
/// `gso_size` cut into pieces of that size, PSH and FIN only on the last
/// piece (as Linux's `tcp_gso_segment`).
fn on_the_wire(out: &[Out]) -> Vec<Wire> {
    let mut wire = Vec::new();
    for o in out {
        let h = o.tx.header;
        if o.tx.gso_size == 0 {
            wire.push((h.seq, h.flags, o.payload.clone()));
            continue;
        }
        let pieces: Vec<&[u8]> = o.payload.chunks(o.tx.gso_size).collect();
        let mut seq = h.seq;
        for (i, p) in pieces.iter().enumerate() {
            let flags = if i + 1 == pieces.len() {
                h.flags
            } else {
                Flags(h.flags.0 & !(Flags::PSH.0 | Flags::FIN.0))
            };
            wire.push((seq, flags, p.to_vec()));
            seq += p.len() as u32;
        }
    }
    wire
}

/// Every transmit is well formed: `gso_size` is the MSS exactly when the
/// payload is longer than one segment, and such a payload is a whole
/// number of segments unless it carries PSH (the last of the data).
fn assert_well_formed(out: &[Out], mss: usize) {
    for o in out {
        let len = o.tx.payload_len;
        if len > mss {
            assert_eq!(o.tx.gso_size, mss, "{o:?}");
            assert!(
                len % mss == 0 || o.tx.header.flags.psh(),
                "partial tail without PSH: {o:?}"
            );
            assert!(len <= TSO_MAX, "{o:?}");
        } else {
            assert_eq!(o.tx.gso_size, 0, "{o:?}");
        }
    }
}

#[test]
fn established_without_tso_max_segments_never_exceed_the_mss() {
    // Default (0), explicit 0 and a limit below the MSS all mean "no TSO".
    for limit in [None, Some(0), Some(1000), Some(MSS)] {
        let mut tcb = established();
        if let Some(b) = limit {
            tcb.set_tso_max(b);
        }
        let data = pattern(64 * 1024);
        assert_eq!(tcb.send(&data), Ok(data.len()));
        let mut got = Vec::new();
        let mut now = 20;
        while got.len() < data.len() {
            let out = transmit(&mut tcb, t(now));
            assert!(!out.is_empty(), "stalled at {} ({limit:?})", got.len());
            for o in &out {
                assert!(o.tx.payload_len <= MSS, "{o:?} ({limit:?})");
                assert_eq!(o.tx.gso_size, 0, "{o:?} ({limit:?})");
                got.extend_from_slice(&o.payload);
            }
            now += 10;
            send!(tcb, t(now), ack(got.len(), 65535));
        }
        assert_eq!(got, data);
    }
}

#[test]
fn established_tso_first_segment_is_the_initial_window_in_whole_segments() {
    // RFC 6928: IW = 10 segments; TSO sends them as one 14600-byte batch.
    let mut tcb = tso_established();
    let before = tcb.stats();
    let data = pattern(60_000);
    assert_eq!(tcb.send(&data), Ok(60_000));
    let out = transmit(&mut tcb, t(20));
    assert_eq!(lens(&out), vec![10 * MSS]);
    let first = &out[0];
    assert_eq!(first.tx.gso_size, MSS);
    assert_eq!(first.tx.header.seq, l(0));
    assert_eq!(
        first.tx.header.flags,
        Flags::ACK,
        "more data follows: no PSH"
    );
    assert_eq!(first.payload, data[..10 * MSS]);
    let st = tcb.stats();
    assert_eq!(st.segments_out - before.segments_out, 10);
    assert_eq!(st.bytes_out - before.bytes_out, 14_600);
    // cwnd is full: nothing more until an ACK.
    assert!(transmit(&mut tcb, t(21)).is_empty());
    // An ACK for two segments: slow start opens cwnd by 2 MSS (ABC), and
    // four segments' worth goes out as one batch.
    send!(tcb, t(30), ack(2 * MSS, 65535));
    let out = transmit(&mut tcb, t(30));
    assert_eq!(lens(&out), vec![4 * MSS]);
    assert_eq!(out[0].tx.header.seq, l(14_600));
    assert_eq!(out[0].payload, data[14_600..14_600 + 4 * MSS]);
}

#[test]
fn established_tso_is_bounded_by_the_peer_window() {
    // RFC 9293 §3.8.6: never beyond SND.UNA + SND.WND, TSO or not.
    let mut tcb = tso_established();
    send!(tcb, t(11), ack(0, 5000));
    tcb.send(&pattern(30_000)).unwrap();
    let out = transmit(&mut tcb, t(12));
    // 5000 bytes of window: three whole segments; the 620-byte runt is
    // held back (sender SWS avoidance) while data is in flight.
    assert_eq!(lens(&out), vec![3 * MSS]);
    assert_eq!(out[0].tx.gso_size, MSS);
    send!(tcb, t(20), ack(3 * MSS, 5000));
    let out = transmit(&mut tcb, t(20));
    assert_eq!(lens(&out), vec![3 * MSS]);
    assert_eq!(out[0].tx.header.seq, l(3 * MSS as u32));
    // A window of exactly one segment gives plain MSS-sized segments.
    send!(tcb, t(30), ack(6 * MSS, 1460));
    let out = transmit(&mut tcb, t(30));
    assert_eq!(lens(&out), vec![MSS]);
    assert_eq!(out[0].tx.gso_size, 0);
}

#[test]
fn established_tso_runt_after_whole_segments_waits_while_data_is_in_flight() {
    // Window 15000 with 30000 queued: 10 segments (14600) fit, the
    // 400-byte remainder of the window is a runt (RFC 9293 §3.8.6.2.1).
    let mut tcb = tso_established();
    send!(tcb, t(11), ack(0, 15_000));
    tcb.send(&pattern(30_000)).unwrap();
    let out = transmit(&mut tcb, t(12));
    assert_eq!(lens(&out), vec![14_600]);
    assert_eq!(out[0].tx.gso_size, MSS);
    assert!(transmit(&mut tcb, t(13)).is_empty(), "runt held back");
}

#[test]
fn established_tso_partial_tail_waits_for_nagle_like_single_segments() {
    // RFC 1122 §4.2.3.4 (Minshall's variant): while an earlier small
    // segment is unacknowledged, a new small segment waits. A TSO batch
    // ending in a partial segment must not slip that tail past Nagle.
    for tso in [false, true] {
        let mut tcb = established();
        if tso {
            tcb.set_tso_max(TSO_MAX);
        }
        tcb.send(&pattern(500)).unwrap();
        let small = transmit(&mut tcb, t(20));
        assert_eq!(lens(&small), vec![500], "tso {tso}");
        tcb.send(&pattern(2 * MSS + 300)).unwrap();
        let out = transmit(&mut tcb, t(21));
        let wire = on_the_wire(&out);
        let wire_lens: Vec<usize> = wire.iter().map(|w| w.2.len()).collect();
        assert_eq!(wire_lens, vec![MSS, MSS], "tso {tso}: tail held by Nagle");
        // The ACK of the small segment releases the tail.
        send!(tcb, t(30), ack(500, 65535));
        let out = transmit(&mut tcb, t(30));
        assert_eq!(lens(&out), vec![300], "tso {tso}");
        assert_eq!(out[0].tx.header.seq, l((500 + 2 * MSS) as u32));
        assert!(out[0].tx.header.flags.psh());
    }
}

#[test]
fn established_tso_partial_tail_counts_as_the_small_segment_for_nagle() {
    // The batch's 300-byte tail is the last small segment sent (SND.SML):
    // a following small write waits for it to be acknowledged.
    for tso in [false, true] {
        let mut tcb = established();
        if tso {
            tcb.set_tso_max(TSO_MAX);
        }
        tcb.send(&pattern(2 * MSS + 300)).unwrap();
        let wire = on_the_wire(&transmit(&mut tcb, t(20)));
        let wire_lens: Vec<usize> = wire.iter().map(|w| w.2.len()).collect();
        assert_eq!(wire_lens, vec![MSS, MSS, 300], "tso {tso}");
        tcb.send(&pattern(100)).unwrap();
        assert!(
            transmit(&mut tcb, t(21)).is_empty(),
            "tso {tso}: small write held while the small tail is in flight"
        );
        send!(tcb, t(30), ack(2 * MSS + 300, 65535));
        assert_eq!(lens(&transmit(&mut tcb, t(30))), vec![100], "tso {tso}");
    }
}

#[test]
fn established_tso_last_of_the_data_is_sent_whole_with_psh() {
    let mut tcb = tso_established();
    let before = tcb.stats();
    let data = pattern(10_000);
    tcb.send(&data).unwrap();
    let out = transmit(&mut tcb, t(20));
    assert_eq!(lens(&out), vec![10_000]);
    assert_ne!(10_000 % MSS, 0);
    let o = &out[0];
    assert_eq!(o.tx.gso_size, MSS);
    assert_eq!(o.tx.header.flags, Flags::ACK | Flags::PSH);
    assert_eq!(o.payload, data);
    // Six full segments and a 1240-byte one on the wire.
    assert_eq!(tcb.stats().segments_out - before.segments_out, 7);
    let wire = on_the_wire(&out);
    assert_eq!(wire.len(), 7);
    assert_eq!(wire[6].2.len(), 10_000 - 6 * MSS);
    assert!(wire[..6].iter().all(|w| w.1 == Flags::ACK));
    assert_eq!(wire[6].1, Flags::ACK | Flags::PSH);
    send!(tcb, t(30), ack(10_000, 65535));
    assert_eq!(tcb.send_queue(), 0);
}

/// [`tso_established`] with 10000 bytes of [`pattern`] sent and the
/// connection closed at t=20: one batch carrying the FIN.
fn ten_thousand_and_fin_in_one_batch() -> (Tcb, Vec<Out>) {
    let mut tcb = tso_established();
    tcb.send(&pattern(10_000)).unwrap();
    tcb.close();
    let out = transmit(&mut tcb, t(20));
    assert_eq!(lens(&out), vec![10_000]);
    (tcb, out)
}

#[test]
fn established_tso_fin_rides_on_the_last_segment() {
    // All data fits the window: one batch carrying FIN.
    let (mut tcb, out) = ten_thousand_and_fin_in_one_batch();
    assert_eq!(out[0].tx.gso_size, MSS);
    assert_eq!(out[0].tx.header.flags, Flags::ACK | Flags::PSH | Flags::FIN);
    assert_eq!(tcb.state(), State::FinWait1);
    let wire = on_the_wire(&out);
    assert!(wire[..wire.len() - 1].iter().all(|w| !w.1.fin()));
    assert!(wire[wire.len() - 1].1.fin());
    send!(tcb, t(30), ack(10_001, 65535));
    assert_eq!(tcb.state(), State::FinWait2);

    // More than the window: FIN waits for the last batch.
    let mut tcb = tso_established();
    let data = pattern(20_000);
    tcb.send(&data).unwrap();
    tcb.close();
    let out = transmit(&mut tcb, t(20));
    assert_eq!(lens(&out), vec![14_600]);
    assert!(!out[0].tx.header.flags.fin());
    send!(tcb, t(30), ack(14_600, 65535));
    let out = transmit(&mut tcb, t(30));
    assert_eq!(lens(&out), vec![5400]);
    assert_eq!(out[0].tx.gso_size, MSS);
    assert_eq!(out[0].tx.header.flags, Flags::ACK | Flags::PSH | Flags::FIN);
    assert_eq!(out[0].payload, data[14_600..]);
    send!(tcb, t(40), ack(20_001, 65535));
    assert_eq!(tcb.state(), State::FinWait2);
}

#[test]
fn established_tso_rto_retransmits_one_segment_at_a_time() {
    // RFC 6298 §5.4: retransmit the earliest segment; RFC 5681 §3.1 then
    // slow-starts again from one segment. Resent data is never batched.
    let mut tcb = tso_established();
    let data = pattern(60_000);
    tcb.send(&data).unwrap();
    let first = transmit(&mut tcb, t(20));
    assert_eq!(lens(&first), vec![14_600]);
    let at = tcb.poll_at().expect("retransmission timer");
    tcb.on_timeout(at);
    let rtx = transmit(&mut tcb, at);
    assert_eq!(lens(&rtx), vec![MSS]);
    assert_eq!(rtx[0].tx.gso_size, 0);
    assert_eq!(rtx[0].tx.header.seq, l(0));
    assert_eq!(rtx[0].payload, data[..MSS]);
    assert_eq!(tcb.stats().retransmit_timeouts, 1);
    // Go-back-N: ACKs grow cwnd; what goes out below the old SND.MAX
    // (14600) is resent data, one segment per transmit, and only new
    // data is batched.
    let mut acked = MSS;
    let mut now = at;
    let mut resent = 0;
    let mut batched_new = false;
    while acked < 30_000 {
        now += Duration::from_millis(10);
        send!(tcb, now, ack(acked, 65535));
        let out = transmit(&mut tcb, now);
        assert!(!out.is_empty(), "stalled at {acked}");
        for o in &out {
            let off = (o.tx.header.seq - l(0)) as usize;
            assert_eq!(o.payload, data[off..off + o.payload.len()]);
            if off < 14_600 {
                assert!(o.tx.payload_len <= MSS, "retransmission batched: {o:?}");
                assert_eq!(o.tx.gso_size, 0);
                resent += 1;
            } else if o.tx.gso_size > 0 {
                batched_new = true;
            }
            acked = acked.max(off + o.payload.len());
        }
    }
    assert_eq!(resent, 9, "segments 2..=10 resent one by one");
    assert_eq!(tcb.stats().retransmits, 10);
    assert!(batched_new, "new data after recovery is batched again");
}

#[test]
fn established_tso_fast_retransmit_resends_one_segment() {
    // RFC 5681 §3.2: three duplicate ACKs resend the first segment only.
    let mut tcb = tso_established();
    let data = pattern(60_000);
    tcb.send(&data).unwrap();
    assert_eq!(lens(&transmit(&mut tcb, t(20))), vec![14_600]);
    for _ in 0..3 {
        send!(tcb, t(30), ack(0, 65535));
    }
    let out = transmit(&mut tcb, t(30));
    assert!(!out.is_empty());
    assert_eq!(out[0].tx.header.seq, l(0));
    assert_eq!(out[0].tx.payload_len, MSS);
    assert_eq!(out[0].tx.gso_size, 0);
    assert_eq!(out[0].payload, data[..MSS]);
    assert_eq!(tcb.stats().fast_retransmits, 1);
    // Anything else is new data (the inflated window), never below the
    // old SND.MAX.
    for o in &out[1..] {
        assert!((o.tx.header.seq - l(0)) as usize >= 14_600, "{o:?}");
    }
}

#[test]
fn established_tso_sack_recovery_resends_holes_one_segment_at_a_time() {
    // RFC 6675 §5: with SACK, lost segments are resent one SMSS each.
    let mut tcb = syn_sent();
    let mut sa = syn_ack(None);
    sa.h.options.sack_permitted = true;
    send!(tcb, t(10), sa);
    recv!(tcb, t(10));
    tcb.set_tso_max(TSO_MAX);
    let data = pattern(60_000);
    tcb.send(&data).unwrap();
    assert_eq!(lens(&transmit(&mut tcb, t(20))), vec![14_600]);
    // Segments 1 and 2 lost; 3..=6 SACKed.
    for k in 3..=6u32 {
        let mut a = ack(0, 65535);
        a.h.options.sack_blocks[0] = Some((l(2 * MSS as u32), l(k * MSS as u32)));
        send!(tcb, t(30), a);
    }
    let out = transmit(&mut tcb, t(30));
    assert_eq!(tcb.stats().sack_recoveries, 1);
    let resent: Vec<&Out> = out
        .iter()
        .filter(|o| ((o.tx.header.seq - l(0)) as usize) < 14_600)
        .collect();
    assert!(!resent.is_empty(), "{out:?}");
    assert_eq!(resent[0].tx.header.seq, l(0));
    for o in resent {
        assert!(o.tx.payload_len <= MSS, "{o:?}");
        assert_eq!(o.tx.gso_size, 0);
        let off = (o.tx.header.seq - l(0)) as usize;
        assert_eq!(o.payload, data[off..off + o.payload.len()]);
    }
}

#[test]
fn established_tso_bytes_delivered_match_and_segments_out_counts_wire_segments() {
    // 1 MiB through a 64 KiB send buffer, ACKing everything sent each
    // round: the payloads reassemble to the data and segments_out counts
    // the MSS-sized segments the device makes of each batch.
    let mut tcb = tso_established();
    let data = pattern(1 << 20);
    let before = tcb.stats();
    let mut queued = 0;
    let mut got = Vec::new();
    let mut wire_segments = 0u64;
    let mut batches = 0;
    let mut now = 20;
    while got.len() < data.len() {
        if queued < data.len() {
            queued += tcb.send(&data[queued..]).unwrap_or(0);
        }
        let out = transmit(&mut tcb, t(now));
        assert!(!out.is_empty(), "stalled at {}", got.len());
        assert_well_formed(&out, MSS);
        for o in &out {
            assert_eq!(o.tx.header.seq, l(got.len() as u32), "in order, no gaps");
            got.extend_from_slice(&o.payload);
            wire_segments += o.tx.payload_len.div_ceil(MSS) as u64;
            batches += usize::from(o.tx.gso_size > 0);
        }
        now += 10;
        send!(tcb, t(now), ack(got.len(), 65535));
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "payload bytes differ from what was sent");
    let st = tcb.stats();
    assert_eq!(st.segments_out - before.segments_out, wire_segments);
    assert_eq!(st.bytes_out - before.bytes_out, data.len() as u64);
    assert_eq!(wire_segments, (data.len() as u64).div_ceil(MSS as u64));
    assert!(batches > 0 && (batches as u64) < wire_segments / 4);
}

/// xorshift64: a deterministic sequence for the differential test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a differential run went through (so the test can check that it
/// covered the interesting cases).
#[derive(Default)]
struct Coverage {
    batches: usize,
    partial_tails: usize,
    timeouts: usize,
    retransmits: u64,
    fins: usize,
}

/// Drives two connections through the same writes, ACKs, window changes,
/// timeouts and close, one with TSO and one without, and checks after
/// every step that the TSO one puts exactly the same segments on the wire
/// and counts the same.
fn differential(seed: u64, nodelay: bool, steps: usize, cov: &mut Coverage) {
    let mut plain = established();
    let mut tso = established();
    tso.set_tso_max(TSO_MAX);
    plain.set_nodelay(nodelay);
    tso.set_nodelay(nodelay);
    let mut rng = Rng(seed);
    let data = pattern(4 << 20);
    let mut written = 0;
    let mut sent_end = 0usize; // highest byte offset seen on the wire
    let mut acked = 0usize;
    let mut now = t(20);
    let mut closed = false;
    for step in 0..steps {
        let what = rng.below(10);
        match what {
            0..=3 if !closed => {
                let n = 1 + rng.below(20_000) as usize;
                let chunk = &data[written..written + n];
                let a = plain.send(chunk).unwrap_or(0);
                let b = tso.send(chunk).unwrap_or(0);
                assert_eq!(a, b, "step {step}: send accepted different amounts");
                written += a;
            }
            4..=7 => {
                // ACK part or all of what was sent, sometimes with a
                // smaller window, sometimes a duplicate.
                let n = if rng.below(4) == 0 {
                    acked
                } else {
                    acked + rng.below((sent_end - acked) as u64 + 1) as usize
                };
                let window = match rng.below(6) {
                    0 => 3000,
                    1 => 15_000,
                    2 => 1460,
                    _ => 65535,
                };
                now += Duration::from_millis(1 + rng.below(20));
                let a = ack(n, window);
                send(&mut plain, now, &a);
                send(&mut tso, now, &a);
                acked = n;
            }
            8 => {
                // Time passes; if a timer is due, both fire it.
                assert_eq!(plain.poll_at(), tso.poll_at(), "step {step}: timers differ");
                if let Some(at) = tso.poll_at() {
                    if rng.below(3) == 0 {
                        now = now.max(at);
                        plain.on_timeout(now);
                        tso.on_timeout(now);
                        cov.timeouts += 1;
                    }
                }
            }
            _ if step > steps / 2 && !closed => {
                plain.close();
                tso.close();
                closed = true;
            }
            _ => {}
        }
        let label = format!("step {step} (seed {seed}, nodelay {nodelay})");
        let end = same_output(&mut plain, &mut tso, now, &data[..written], &label, cov);
        sent_end = sent_end.max(end);
    }
    cov.retransmits += tso.stats().retransmits;
}

/// Polls both connections at `now` and checks that they put the same
/// segments (of `data`, the bytes written so far) on the wire, in the same
/// state with the same counters; returns the highest byte offset sent.
fn same_output(
    plain: &mut Tcb,
    tso: &mut Tcb,
    now: Instant,
    data: &[u8],
    label: &str,
    cov: &mut Coverage,
) -> usize {
    let a = transmit(plain, now);
    let b = transmit(tso, now);
    assert!(a
        .iter()
        .all(|o| o.tx.gso_size == 0 && o.tx.payload_len <= MSS));
    assert_well_formed(&b, MSS);
    for o in b.iter().filter(|o| o.tx.gso_size > 0) {
        cov.batches += 1;
        cov.partial_tails += usize::from(o.tx.payload_len % o.tx.gso_size != 0);
        cov.fins += usize::from(o.tx.header.flags.fin());
    }
    let wa = on_the_wire(&a);
    let wb = on_the_wire(&b);
    assert_eq!(
        wa.iter().map(|w| (w.0, w.1, w.2.len())).collect::<Vec<_>>(),
        wb.iter().map(|w| (w.0, w.1, w.2.len())).collect::<Vec<_>>(),
        "{label}: wire segments differ"
    );
    assert!(wa == wb, "{label}: payloads differ");
    let mut sent_end = 0;
    for (seq, flags, payload) in &wa {
        let off = (*seq - l(0)) as usize;
        assert_eq!(payload[..], data[off..off + payload.len()]);
        let end = off + payload.len() + usize::from(flags.fin());
        sent_end = sent_end.max(end.min(data.len()));
    }
    assert_eq!(plain.state(), tso.state(), "{label}");
    assert_eq!(plain.stats(), tso.stats(), "{label}: counters differ");
    sent_end
}

#[test]
fn established_tso_puts_the_same_segments_on_the_wire_as_single_segments() {
    let mut cov = Coverage::default();
    for seed in [1, 2, 3, 0x5eed, 0xdead_beef] {
        differential(seed, false, 400, &mut cov);
        differential(seed ^ 0x55, true, 400, &mut cov);
    }
    eprintln!(
        "batches {} (partial tail {}, with FIN {}), timeouts {}, retransmits {}",
        cov.batches, cov.partial_tails, cov.fins, cov.timeouts, cov.retransmits
    );
    assert!(cov.batches > 100);
    assert!(cov.partial_tails > 0);
    assert!(cov.fins > 0);
    assert!(cov.timeouts > 0);
    assert!(cov.retransmits > 0);
}

#[test]
fn established_tso_fin_resent_after_a_batch_is_the_non_tso_fin() {
    // The FIN rode on a batch (the device puts it on the last piece only,
    // `tcp_gso_segment`). Once the data is acknowledged and the FIN is
    // not, its retransmission is a bare FIN at the end of the data, never
    // a batch — as segment-at-a-time output would resend it; go-back-N
    // from a partial ACK resends the tail one MSS at a time with the FIN
    // on the last piece only.
    let (mut tcb, out) = ten_thousand_and_fin_in_one_batch();
    assert!(out[0].tx.header.flags.fin());
    let wire = on_the_wire(&out);
    assert_eq!(wire.last().map(|w| w.0 + w.2.len()), Some(l(10_000)));

    // The data arrives, the FIN is lost.
    send!(tcb, t(30), ack(10_000, 65535));
    assert_eq!(tcb.state(), State::FinWait1);
    let at = tcb.poll_at().expect("retransmission timer");
    tcb.on_timeout(at);
    let fin = transmit(&mut tcb, at);
    assert_eq!(lens(&fin), vec![0]);
    assert_eq!(fin[0].tx.gso_size, 0);
    assert_eq!(fin[0].tx.header.seq, l(10_000));
    assert_eq!(fin[0].tx.header.flags, Flags::ACK | Flags::FIN);
    send!(tcb, at + Duration::from_millis(10), ack(10_001, 65535));
    assert_eq!(tcb.state(), State::FinWait2);

    // A partial ACK, then the timeout: the tail and the FIN are resent
    // one segment at a time, the FIN on the last, right after the data.
    let (mut tcb, _) = ten_thousand_and_fin_in_one_batch();
    send!(tcb, t(30), ack(3 * MSS, 65535));
    let at = tcb.poll_at().expect("retransmission timer");
    tcb.on_timeout(at);
    let mut now = at;
    let mut resent: Vec<Out> = transmit(&mut tcb, now);
    while !resent.last().is_some_and(|o| o.tx.header.flags.fin()) {
        let end = resent
            .last()
            .map(|o| (o.tx.header.seq - l(0)) as usize + o.tx.payload_len)
            .expect("a retransmission");
        now += Duration::from_millis(10);
        send!(tcb, now, ack(end, 65535));
        let more = transmit(&mut tcb, now);
        assert!(!more.is_empty(), "stalled at {end}");
        resent.extend(more);
    }
    for o in &resent {
        assert!(o.tx.payload_len <= MSS, "batched retransmission: {o:?}");
        assert_eq!(o.tx.gso_size, 0);
    }
    let fins: Vec<&Out> = resent.iter().filter(|o| o.tx.header.flags.fin()).collect();
    assert_eq!(fins.len(), 1);
    let last = fins[0];
    assert_eq!(
        last.tx.header.seq + last.tx.payload_len,
        l(10_000),
        "the FIN right after the data: {last:?}"
    );
}
