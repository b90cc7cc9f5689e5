//! Urgent data (RFC 9293 §3.8.5) as Linux delivers it by default (no
//! SO_OOBINLINE, net/ipv4/tcp_input.c `tcp_check_urg` / `tcp_urg`): the
//! byte before the urgent pointer leaves the stream; nothing else is lost
//! or duplicated.

use super::*;

fn urgent(seq: SeqNumber, payload: &[u8], ptr: u16) -> Seg {
    let mut s = seg(seq, l(0), Flags::ACK | Flags::URG, payload);
    s.h.urgent = ptr;
    s
}

fn read_all(tcb: &mut Tcb) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = tcb.recv(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

#[test]
fn urgent_byte_ending_a_segment_leaves_the_stream() {
    // send(fd, "abc", MSG_OOB) in Linux: the pointer follows 'c'.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"abc", 3));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(3));
    send!(tcb, t(30), seg(r(3), l(0), Flags::ACK, b"de"));
    recv!(tcb, t(30));
    assert_eq!(read_all(&mut tcb), b"abde");
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn urgent_byte_inside_a_segment_is_dropped_and_the_rest_resent() {
    // The bytes after the urgent byte are not taken: the ACK stops right
    // after it and the sender's retransmission brings them.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"abcde", 3));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(3));
    assert_eq!(tcb.recv_queue(), 2);
    send!(tcb, t(250), seg(r(3), l(0), Flags::ACK, b"de"));
    assert_eq!(recv!(tcb, t(250)).h.ack, r(5));
    assert_eq!(read_all(&mut tcb), b"abde");
}

#[test]
fn urgent_pointer_beyond_the_segment_marks_a_later_byte() {
    // `tcp_check_urg` records the mark; `tcp_urg` catches the byte in
    // whichever segment brings it, URG flag or not.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"ab", 4));
    send!(tcb, t(30), seg(r(2), l(0), Flags::ACK, b"cd"));
    let ack = recv(&mut tcb, t(30)).pop().expect("an ACK");
    assert_eq!(ack.h.ack, r(4));
    assert_eq!(read_all(&mut tcb), b"abc");
}

#[test]
fn only_the_latest_urgent_mark_counts() {
    // A newer mark replaces one still to come: the older urgent byte
    // stays in the stream, as in Linux.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"ab", 5));
    send!(tcb, t(30), urgent(r(2), b"c", 4));
    send!(tcb, t(40), seg(r(3), l(0), Flags::ACK, b"def"));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"abcde");
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn urgent_pointer_to_data_already_received_is_ignored() {
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b"ab"));
    send!(tcb, t(30), urgent(r(0), b"ab", 2));
    send!(tcb, t(40), urgent(r(2), b"cd", 0));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"abcd");
    assert_eq!(tcb.stats().urgent_bytes, 0);
}

#[test]
fn urgent_byte_completing_reassembly_stays_in_the_stream() {
    // Bytes parked out of order are never moved: an urgent byte among
    // them is delivered in line (unlike Linux), and nothing is lost.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(2), b"cd", 1));
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b"ab"));
    assert_eq!(recv(&mut tcb, t(30)).pop().expect("an ACK").h.ack, r(4));
    assert_eq!(read_all(&mut tcb), b"abcd");
    // The stale mark is gone: later data flows whole.
    send!(tcb, t(40), seg(r(4), l(0), Flags::ACK, b"ef"));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"ef");
}
