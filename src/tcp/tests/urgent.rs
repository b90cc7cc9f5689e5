//! Urgent data (RFC 9293 §3.8.5) as Linux delivers it by default (no
//! SO_OOBINLINE, net/ipv4/tcp_input.c `tcp_check_urg` / `tcp_urg`): the
//! byte before the urgent pointer leaves the stream, in order or through
//! reassembly; nothing else is lost or duplicated, and the ACKs are those
//! of plain data.

use super::*;

fn urgent(seq: SeqNumber, payload: &[u8], ptr: u16) -> Seg {
    let mut s = seg(seq, l(0), Flags::ACK | Flags::URG, payload);
    s.h.urgent = ptr;
    s
}

/// Reads until nothing more is readable; the bytes of every read.
fn reads(tcb: &mut Tcb) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1024];
    while let Ok(n @ 1..) = tcb.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn read_all(tcb: &mut Tcb) -> Vec<u8> {
    reads(tcb).concat()
}

#[test]
fn urgent_byte_ending_a_segment_leaves_the_stream() {
    // send(fd, "abc", MSG_OOB) in Linux: the pointer follows 'c'.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"abc", 3));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(3));
    send!(tcb, t(30), seg(r(3), l(0), Flags::ACK, b"de"));
    recv!(tcb, t(30));
    // `tcp_recvmsg_locked` stops at the urgent byte once it copied
    // something; the next read steps over it.
    assert_eq!(reads(&mut tcb), vec![b"ab".to_vec(), b"de".to_vec()]);
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn urgent_byte_inside_a_segment_is_skipped_and_the_rest_acknowledged() {
    // Linux stores the whole segment and ACKs it like plain data; only
    // the reader skips the urgent byte. (Stopping the ACK after the
    // urgent byte would make the peer resend "de".)
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"abcde", 3));
    assert_eq!(recv!(tcb, t(20)).h.ack, r(5));
    assert_eq!(read_all(&mut tcb), b"abde");
    recv_nothing!(tcb, t(250));
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
    send!(tcb, t(40), seg(r(2), l(0), Flags::ACK, b"cd"));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"abcd");
    assert_eq!(tcb.stats().urgent_bytes, 0);
}

#[test]
fn urgent_pointer_zero_marks_the_first_byte_of_its_segment() {
    // `tcp_check_urg` takes one off the pointer only when it is not 0:
    // URG with pointer 0 makes the segment's own first byte urgent.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b"ab"));
    send!(tcb, t(40), urgent(r(2), b"cd", 0));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"abd");
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn urgent_byte_completing_reassembly_leaves_the_stream() {
    // `tcp_check_urg` records the mark from an out-of-order segment too;
    // once reassembly brings the byte in order the reader skips it.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(2), b"cd", 1));
    send!(tcb, t(30), seg(r(0), l(0), Flags::ACK, b"ab"));
    assert_eq!(recv(&mut tcb, t(30)).pop().expect("an ACK").h.ack, r(4));
    assert_eq!(read_all(&mut tcb), b"abd");
    assert_eq!(tcb.stats().urgent_bytes, 1);
    // The mark is spent: later data flows whole.
    send!(tcb, t(40), seg(r(4), l(0), Flags::ACK, b"ef"));
    recv(&mut tcb, t(40));
    assert_eq!(read_all(&mut tcb), b"ef");
}

#[test]
fn urgent_pointer_past_a_hole_marks_the_byte_once_the_hole_fills() {
    // The mark arrives in a segment beyond a hole and points into a
    // later one: it waits for the byte in whichever order the data comes.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(4), b"ef", 4));
    send!(tcb, t(30), seg(r(6), l(0), Flags::ACK, b"gh"));
    send!(tcb, t(40), seg(r(0), l(0), Flags::ACK, b"abcd"));
    assert_eq!(recv(&mut tcb, t(40)).pop().expect("an ACK").h.ack, r(8));
    // The pointer 4 of the segment at r(4) marks r(7), 'h'.
    assert_eq!(reads(&mut tcb), vec![b"abcdefg".to_vec()]);
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn a_lone_urgent_byte_does_not_make_the_connection_readable() {
    // `tcp_poll` asks one byte more while the reader sits at the urgent
    // byte: a wakeup would find nothing to read.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"a", 1));
    recv(&mut tcb, t(20));
    assert!(!tcb.can_recv());
    assert_eq!(tcb.recv_queue(), 0);
    let mut buf = [0u8; 8];
    assert_eq!(tcb.peek(&mut buf), 0);
    assert_eq!(tcb.recv(&mut buf), Err(RecvError::WouldBlock));
    send!(tcb, t(30), seg(r(1), l(0), Flags::ACK | Flags::FIN, b"b"));
    recv(&mut tcb, t(30));
    assert!(tcb.can_recv());
    assert_eq!(tcb.peek(&mut buf), 1);
    assert_eq!(read_all(&mut tcb), b"b");
    assert_eq!(tcb.recv(&mut buf), Ok(0));
    assert_eq!(tcb.stats().urgent_bytes, 1);
}

#[test]
fn urgent_byte_in_a_segment_with_fin_leaves_the_stream() {
    // The skip is found from the read position, which the peer's FIN
    // (counted in RCV.NXT, not in the buffer) must not shift.
    let mut tcb = established();
    send!(tcb, t(20), seg(r(0), l(0), Flags::ACK, b"ab"));
    recv(&mut tcb, t(20));
    let mut buf = [0u8; 64];
    assert_eq!(tcb.recv(&mut buf), Ok(2));
    let mut u = urgent(r(2), b"cde", 1);
    u.h.flags |= Flags::FIN;
    send!(tcb, t(30), u);
    recv(&mut tcb, t(30));
    assert_eq!(read_all(&mut tcb), b"de");
}

#[test]
fn a_new_mark_steps_the_reader_over_the_urgent_byte_it_waits_at() {
    // `tcp_check_urg`: the reader sits at an urgent byte not yet stepped
    // over when a newer mark replaces it; that byte is skipped then, not
    // read as data.
    let mut tcb = established();
    send!(tcb, t(20), urgent(r(0), b"a", 1));
    send!(tcb, t(30), urgent(r(1), b"bc", 2));
    recv(&mut tcb, t(30));
    assert_eq!(reads(&mut tcb), vec![b"b".to_vec()]);
    assert_eq!(tcb.stats().urgent_bytes, 2);
}
