//! When a writer is woken: room in the send buffer counts as an event
//! (`SocketEvents::count`, what `net::Poll` and task wakers watch) only
//! once a third of the buffer is free, as Linux's `sk_stream_write_space`;
//! never per ACK, and never lost. And which polls change anything a
//! user waits on (`Interface::poll_changed`): not one that only sends.
//! Driven through the interface with explicit time and hand-made ACKs,
//! no threads.

use super::tests::{connecting, parse_tcp, poll_with, tcp_header, PEER, US};
use super::*;
use crate::tcp::State;
use crate::wire::Flags;
use std::net::SocketAddrV4;

const SNDBUF: usize = 64 * 1024;

/// An established connection to PEER:81 with a fixed 64 KiB send buffer
/// (no autotuning) and a peer window of 1 MiB: the interface, the handle,
/// the first byte's sequence number, the peer's sequence number.
fn established() -> (Interface, SocketHandle, u32, u32) {
    let (mut iface, h, syn) = connecting(SocketAddrV4::new(PEER, 81));
    let (s, _) = parse_tcp(&syn);
    let mut sa = tcp_header(
        81,
        s.src_port,
        7000,
        s.seq.0.wrapping_add(1),
        Flags::SYN | Flags::ACK,
    );
    sa.options.mss = Some(1460);
    sa.options.window_scale = Some(5);
    let sa = super::tests::packet(PEER, US, &sa, b"");
    poll_with(&mut iface, Instant::from_millis(1), vec![sa]);
    let tcb = iface.tcp_mut(h).unwrap();
    assert_eq!(tcb.state(), State::Established);
    tcb.set_send_buffer(SNDBUF);
    // Taken: the handshake's events are not what these tests count.
    iface.tcp_events(h).unwrap();
    (iface, h, s.seq.0.wrapping_add(1), 7001)
}

/// An ACK from the peer up to `ack`, with a 1 MiB window (scale 5).
fn ack(port: u16, seq: u32, ack: u32) -> Vec<u8> {
    let mut t = tcp_header(81, port, seq, ack, Flags::ACK);
    t.window = ((1u32 << 20) >> 5) as u16;
    super::tests::packet(PEER, US, &t, b"")
}

/// Fills the send buffer; returns the bytes it took.
fn fill(iface: &mut Interface, h: SocketHandle) -> usize {
    let tcb = iface.tcp_mut(h).unwrap();
    let room = tcb.send_capacity();
    let n = tcb.send(&vec![7u8; room]).unwrap();
    assert_eq!(n, room);
    assert!(!tcb.can_send(), "the buffer is full");
    n
}

/// Sequence number one past the highest data byte in `out`.
fn sent_end(out: &[Vec<u8>], end: u32) -> u32 {
    out.iter()
        .map(|p| parse_tcp(p))
        .filter(|(_, d)| !d.is_empty())
        .map(|(t, d)| t.seq.0.wrapping_add(d.len() as u32))
        .fold(end, |a, b| if b.wrapping_sub(a) as i32 > 0 { b } else { a })
}

/// A writer blocked on a full buffer is woken (the count moves) by the
/// first ACK that leaves a third of the buffer free and by none before
/// it, although every one of those ACKs freed room `write` could use.
#[test]
fn a_full_buffer_wakes_its_writer_at_a_third_free_not_per_ack() {
    let (mut iface, h, iss, peer) = established();
    let port = iface.tcp(h).unwrap().local().port();
    fill(&mut iface, h);
    let mut t = Instant::from_millis(2);
    let mut end = sent_end(&poll_with(&mut iface, t, vec![]), iss);
    let before = iface.tcp_events(h).unwrap().count;
    let mut acked = iss;
    let mut acks_below = 0;
    loop {
        // One ACK of two segments, as a receiver's delayed ACK.
        let next = acked.wrapping_add(2 * 1460);
        assert!(next.wrapping_sub(end) as i32 <= 0, "data in flight to ACK");
        acked = next;
        t += crate::time::Duration::from_millis(1);
        let out = poll_with(&mut iface, t, vec![ack(port, peer, acked)]);
        end = sent_end(&out, end);
        let tcb = iface.tcp(h).unwrap();
        let (free, queued) = (tcb.send_capacity(), tcb.send_queue());
        assert!(tcb.can_send(), "room for a write after any ACK of data");
        let count = iface.tcp_events(h).unwrap().count;
        if 2 * free < queued {
            assert_eq!(
                count, before,
                "no wake-up with {free} of {SNDBUF} bytes free"
            );
            acks_below += 1;
        } else {
            assert_eq!(
                count,
                before + 1,
                "woken with {free} of {SNDBUF} bytes free"
            );
            assert!(3 * free >= SNDBUF);
            break;
        }
    }
    assert!(
        acks_below >= 5,
        "{acks_below} ACKs before the threshold: the test must cross it step by step"
    );
}

/// Nothing is lost when the room comes by many small ACKs taken in one
/// look, nor when the writer fills the buffer again after a wake-up: each
/// refill is woken again once a third is free, through to the ACK that
/// empties the buffer.
#[test]
fn every_refill_of_the_buffer_is_woken_again_through_the_last_ack() {
    let (mut iface, h, iss, peer) = established();
    let port = iface.tcp(h).unwrap().local().port();
    let mut total = fill(&mut iface, h);
    let mut t = Instant::from_millis(2);
    let mut end = sent_end(&poll_with(&mut iface, t, vec![]), iss);
    let mut acked = iss;
    let mut seen = iface.tcp_events(h).unwrap().count;
    let mut wakeups = 0;
    let goal = 4 * SNDBUF;
    while acked.wrapping_sub(iss) as usize != goal {
        // ACK everything sent so far in steps of one segment, all read in
        // one poll (a batch from the device), and look once after it.
        let mut acks = Vec::new();
        while acked != end {
            acked = acked.wrapping_add(1460).min_seq(end);
            acks.push(ack(port, peer, acked));
        }
        t += crate::time::Duration::from_millis(1);
        let out = poll_with(&mut iface, t, acks);
        end = sent_end(&out, end);
        let count = iface.tcp_events(h).unwrap().count;
        let tcb = iface.tcp(h).unwrap();
        if 2 * tcb.send_capacity() >= tcb.send_queue() {
            assert!(
                count > seen,
                "room for a third of the buffer and no wake-up"
            );
        }
        if count > seen {
            seen = count;
            wakeups += 1;
            // The woken writer refills what it may, up to the goal.
            let tcb = iface.tcp_mut(h).unwrap();
            let n = tcb.send_capacity().min(goal - total);
            if n > 0 {
                assert_eq!(tcb.send(&vec![7u8; n]), Ok(n));
                total += n;
            }
            end = sent_end(&poll_with(&mut iface, t, vec![]), end);
        }
    }
    assert_eq!(total, goal, "every byte written");
    let tcb = iface.tcp(h).unwrap();
    assert_eq!(tcb.send_queue(), 0, "every byte acknowledged");
    assert!(wakeups >= 4, "{wakeups} wake-ups for four buffers' worth");
}

/// Sequence-number minimum for the ACK steps above.
trait MinSeq {
    fn min_seq(self, other: u32) -> u32;
}

impl MinSeq for u32 {
    fn min_seq(self, other: u32) -> u32 {
        if self.wrapping_sub(other) as i32 > 0 {
            other
        } else {
            self
        }
    }
}

/// A poll that only sends (new data, a retransmission on timeout) changes
/// nothing a user waits on; one that reads a packet does.
#[test]
fn a_poll_that_only_sends_changes_nothing_users_wait_on() {
    let (mut iface, h, iss, peer) = established();
    let port = iface.tcp(h).unwrap().local().port();
    assert_eq!(iface.tcp_mut(h).unwrap().send(&[1u8; 4000]), Ok(4000));
    let out = poll_with(&mut iface, Instant::from_millis(2), vec![]);
    assert_eq!(sent_end(&out, iss), iss.wrapping_add(4000), "the data left");
    assert!(!iface.poll_changed(), "sending alone");
    // No ACK: the retransmission timer fires and resends.
    let t = Instant::from_secs(5);
    let out = poll_with(&mut iface, t, vec![]);
    assert!(!out.is_empty(), "a retransmission");
    assert!(!iface.poll_changed(), "a timer that only resent");
    let out = poll_with(&mut iface, t, vec![ack(port, peer, iss.wrapping_add(4000))]);
    assert!(out.is_empty());
    assert!(iface.poll_changed(), "an ACK was read");
    assert_eq!(iface.tcp(h).unwrap().send_queue(), 0);
}

/// A timer that gives a connection up (its SYN never answered) changes
/// what its user waits on, though it sends nothing; the SYN
/// retransmissions before it do not.
#[test]
fn a_timer_that_closes_a_connection_is_a_change() {
    let (mut iface, h, _) = connecting(SocketAddrV4::new(PEER, 81));
    let mut resent = 0;
    for s in 1..=600 {
        let out = poll_with(&mut iface, Instant::from_secs(s), vec![]);
        match iface.tcp(h).map(|t| t.state()) {
            Some(State::SynSent) => {
                assert!(!iface.poll_changed(), "a SYN retransmission at {s} s");
                resent += out.len();
            }
            _ => {
                assert!(iface.poll_changed(), "gave up at {s} s");
                assert!(resent >= 3, "{resent} SYNs resent first");
                return;
            }
        }
    }
    panic!("the connection attempt never gave up");
}
