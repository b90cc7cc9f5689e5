//! A non-blocking writer on [`Poll`] is woken for room in its send buffer
//! only once a third of the buffer is free (Linux's
//! `sk_stream_write_space`), not for each ACK, and is never left asleep:
//! a sender streams several buffers' worth to a reader on another stack
//! and every byte arrives intact. No root: two stacks joined by a
//! `PipeDevice` pair. Each test runs over IPv4 and IPv6 (`NAME::v4`,
//! `NAME::v6`).

mod common;

use common::{pipe_pair_with, Family};
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;
use tunstack::net::{Events, Interest, Poll, Token};
use tunstack::{TcpListener, TcpStream};

/// A fixed send buffer (autotuning off), so a third of it is a fixed size.
const SNDBUF: usize = 96 * 1024;
/// What the writer streams: many buffers' worth.
const TOTAL: usize = 4 * 1024 * 1024;
/// Far longer than any step takes: only a lost wake-up reaches it.
const PATIENCE: Duration = Duration::from_secs(30);

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(31) >> 3) as u8
}

fn blocked_writer_wakes_for_a_third_of_its_buffer_and_finishes(f: Family) {
    let (a, b) = pipe_pair_with(|_| {});
    let l = TcpListener::bind(&b, f.any(80)).unwrap();
    let c = TcpStream::connect(&a, f.kernel_at(80)).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        let mut got = 0usize;
        loop {
            let n = (&s)
                .read(&mut buf)
                .expect("read (a timeout is a lost wake-up)");
            if n == 0 {
                return got;
            }
            for (k, &v) in buf[..n].iter().enumerate() {
                assert_eq!(v, byte(got + k), "byte {} intact", got + k);
            }
            got += n;
        }
    });
    c.set_send_buffer_size(SNDBUF).unwrap();
    c.set_nonblocking(true).unwrap();
    let poll = Poll::new(&a);
    poll.register(&c, Token(1), Interest::WRITABLE).unwrap();
    let data: Vec<u8> = (0..TOTAL).map(byte).collect();
    let mut sent = 0usize;
    let mut blocked = false;
    // Bytes written after each wake-up that followed a full buffer.
    let mut after_wake = Vec::new();
    let mut events = Events::with_capacity(4);
    while sent < TOTAL {
        poll.poll(&mut events, Some(PATIENCE)).unwrap();
        assert!(
            !events.is_empty(),
            "no writable event within {PATIENCE:?}: a lost wake-up"
        );
        let mut wrote = 0usize;
        loop {
            match (&c).write(&data[sent..]) {
                Ok(n) => {
                    sent += n;
                    wrote += n;
                    if sent == TOTAL {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        if blocked && sent < TOTAL {
            after_wake.push(wrote);
        }
        blocked = sent < TOTAL;
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(reader.join().unwrap(), TOTAL, "every byte arrived");
    assert!(
        after_wake.len() >= 5,
        "{} wake-ups on a full buffer: the writer must block and wake repeatedly",
        after_wake.len()
    );
    // Woken with a third of the buffer free (and the ACKs that came since):
    // never for the few kilobytes one ACK frees.
    let least = after_wake.iter().min().copied().unwrap_or(0);
    assert!(
        least >= SNDBUF / 3,
        "a wake-up found only {least} bytes of room ({} wake-ups: {after_wake:?})",
        after_wake.len()
    );
}

per_family!(blocked_writer_wakes_for_a_third_of_its_buffer_and_finishes);
