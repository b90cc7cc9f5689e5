//! Direct delivery into a waiting reader's posted buffer (`posted.rs`):
//! data that lies where the posting's next byte is counts as read; data
//! anywhere else, or while something is queued, takes the receive buffer.

use super::*;

/// Segment `s` with its payload at `payload` (wherever that lies).
fn at<'a>(s: &Seg, payload: &'a [u8]) -> TcpSegment<'a> {
    TcpSegment {
        header: s.h,
        payload,
    }
}

#[test]
fn established_payload_read_into_the_posted_buffer_is_delivered_there() {
    let mut tcb = established();
    let mut user = vec![0u8; 8];
    let addr = user.as_mut_ptr() as usize;
    // SAFETY: `user` outlives the posting and is only written below, as
    // the device would write it.
    assert!(unsafe { tcb.post_recv(addr, user.len()) });
    assert_eq!(tcb.posted_spare(), Some((addr, 8)));
    user[..3].copy_from_slice(b"abc");
    let s = seg(r(0), l(0), Flags::ACK, b"abc");
    tcb.on_segment(t(11), &at(&s, &user[..3]));
    assert_eq!(tcb.posted_spare(), Some((addr + 3, 5)));
    assert_eq!(tcb.recv_queue(), 0, "nothing queued");
    assert_eq!(tcb.rcv_nxt(), r(3));
    // A segment whose payload lies elsewhere is queued as always, and
    // from then on the posting takes nothing (queued data comes first).
    send!(tcb, t(12), seg(r(3), l(0), Flags::ACK | Flags::PSH, b"de"));
    assert_eq!(tcb.recv_queue(), 2);
    assert_eq!(tcb.posted_spare(), None);
    // The window stayed open for the delivered bytes: only the queued two
    // are missing from it.
    let ack = recv!(tcb, t(12));
    assert_eq!(ack.h.ack, r(5));
    assert_eq!(u32::from(ack.h.window), 65535 - 5);
    // Only the owner withdraws it; then the queue is read as usual.
    assert_eq!(tcb.take_posted(addr + 1), None);
    assert_eq!(tcb.take_posted(addr), Some(3));
    assert_eq!(&user[..3], b"abc");
    assert_eq!(tcb.take_posted(addr), None, "withdrawn once");
    let mut buf = [0u8; 4];
    assert_eq!(tcb.recv(&mut buf), Ok(2));
    assert_eq!(&buf[..2], b"de");
}

#[test]
fn established_a_posting_is_refused_while_data_is_queued_or_after_fin() {
    let mut tcb = established();
    // Eight bytes are posted; the rest is there to point past them.
    let mut user = vec![7u8; 16];
    let addr = user.as_mut_ptr() as usize;
    send!(tcb, t(11), seg(r(0), l(0), Flags::ACK, b"abc"));
    // SAFETY: `user` outlives every posting and is not touched while
    // posted; this one is refused anyway.
    assert!(!unsafe { tcb.post_recv(addr, 8) });
    let mut buf = [0u8; 4];
    assert_eq!(tcb.recv(&mut buf), Ok(3));
    // SAFETY: as above.
    assert!(unsafe { tcb.post_recv(addr, 8) });
    // SAFETY: as above: one posting at a time.
    assert!(!unsafe { tcb.post_recv(addr + 8, 8) });
    // Payload at the posting's address but longer than it: queued.
    let s = seg(r(3), l(0), Flags::ACK, &[7u8; 9]);
    tcb.on_segment(t(12), &at(&s, &user[..9]));
    assert_eq!(tcb.recv_queue(), 9);
    assert_eq!(tcb.take_posted(addr), Some(0));
    assert_eq!(tcb.recv(&mut [0u8; 16]), Ok(9));
    // After the peer's FIN nothing more can arrive.
    send!(tcb, t(13), seg(r(12), l(0), Flags::ACK | Flags::FIN, b""));
    // SAFETY: as above.
    assert!(!unsafe { tcb.post_recv(addr, 8) });
    drop(user);
}
