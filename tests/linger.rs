//! `SO_LINGER` over an in-memory link (no root): two stacks joined by a
//! `PipeDevice` pair, each with its own driver thread and real clock.
//!
//! A non-zero linger makes closing the last handle wait until the peer
//! has acknowledged the data and the FIN, or reset the connection when the
//! time passes first. Zero linger (abortive close) is covered in
//! `api_pipe.rs`.

mod common;

use common::{pipe_pair_with, Family};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};
use tunstack::tcp::State;
use tunstack::{Stack, TcpListener, TcpStream};

/// Two stacks, A (tunstack's usual addresses) and B (the kernel's).
fn pair() -> (Stack, Stack) {
    // Fixed buffers (256 KiB to send, 256 KiB to receive), so `fill` ends
    // once they are full: with autotuning, writes against the shut window
    // kept succeeding a little at a time and filling took up to 20 s.
    pipe_pair_with(|c| c.tcp.buffer_autotuning = false)
}

/// A connection over `f` from `a` to `b`: (client on a, server on b).
fn connected(f: Family, a: &Stack, b: &Stack) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, f.any(80)).unwrap();
    let c = TcpStream::connect(a, f.kernel_at(80)).unwrap();
    let (s, peer) = l.accept().unwrap();
    assert_eq!(peer.ip(), f.us());
    (c, s)
}

/// Writes to `c` without blocking until its send buffer is full and the
/// peer advertises a zero window (the peer is not reading, so its receive
/// buffer is full too); returns the bytes written.
///
/// Ends on that state rather than on writes staying blocked for a while:
/// the window can close in steps (a sub-MSS remainder of the peer's
/// buffer is still sent into), which would keep an idle timer re-arming.
fn fill(c: &TcpStream) -> usize {
    c.set_nonblocking(true).unwrap();
    let chunk = [0x5au8; 16 * 1024];
    let mut total = 0;
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        match (&*c).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let info = c.info().unwrap();
                if info.send_window == 0 && info.send_queue >= c.send_buffer_size().unwrap() {
                    break;
                }
                assert!(
                    Instant::now() < give_up,
                    "the window never closed: {} bytes written, window {}, queued {}",
                    total,
                    info.send_window,
                    info.send_queue
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    c.set_nonblocking(false).unwrap();
    total
}

/// The peer reads only after the close has begun, so the data and the FIN
/// are still unacknowledged when it does: close waits for them. When close
/// returns, the peer must already hold the FIN (its ACK is what ended the
/// wait), so it is in CLOSE-WAIT; then the peer's own close completes the
/// FIN handshake.
fn linger_waits_until_data_and_fin_are_acknowledged(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b);
    let written = fill(&c);
    assert!(written > 0);
    c.set_linger(Some(Duration::from_secs(30))).unwrap();
    let (closed, peer_state, read) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            // Start reading once the close below has surely begun.
            std::thread::sleep(Duration::from_millis(200));
            let mut buf = vec![0u8; 64 * 1024];
            let mut read = 0;
            loop {
                let n = (&s).read(&mut buf).unwrap();
                if n == 0 {
                    break read;
                }
                assert!(buf[..n].iter().all(|&x| x == 0x5a));
                read += n;
            }
        });
        let closed = c.close();
        // Sampled the moment close returns: the peer has the FIN.
        let peer_state = s.state();
        (closed, peer_state, reader.join().unwrap())
    });
    closed.expect("close with linger returns Ok once everything is acknowledged");
    assert_eq!(
        peer_state,
        State::CloseWait,
        "the peer had received everything and the FIN when close returned"
    );
    assert_eq!(read, written, "every byte arrived, then end of stream");
    drop(s);
    // The peer's FIN completes the handshake: our side reaches TIME-WAIT
    // and the peer's CLOSED, without a reset.
    assert!(
        b.shutdown(Duration::from_secs(10)),
        "the peer's connection closed"
    );
    assert!(
        a.shutdown(Duration::from_secs(10)),
        "ours reached TIME-WAIT"
    );
}

/// A peer that never reads keeps its window at zero, so the data is never
/// acknowledged: close gives up after the linger time, resets the
/// connection and says so with `WouldBlock`; the peer sees the reset.
fn linger_time_passes_with_a_stalled_peer_and_the_connection_is_reset(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b);
    assert!(fill(&c) > 0);
    let linger = Duration::from_millis(500);
    c.set_linger(Some(linger)).unwrap();
    let t0 = Instant::now();
    let closed = c.close();
    let took = t0.elapsed();
    let err = closed.expect_err("the linger time passed with data unacknowledged");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(
        took >= linger,
        "close returned after {took:?}, before the linger time"
    );
    assert!(
        took < linger + Duration::from_secs(5),
        "close returned {took:?} after the linger time"
    );
    // The RST reaches the peer even though its window is zero: reads end
    // in ConnectionReset.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let err = loop {
        match (&s).read(&mut buf) {
            Ok(0) => panic!("end of stream instead of a reset"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    drop(s);
    assert!(
        a.shutdown(Duration::from_secs(5)),
        "nothing left to close after the reset"
    );
    drop(b);
}

/// Closing one of several clones leaves the connection open, as `close(2)`
/// of one of several descriptors does; the linger applies to the last.
fn close_of_one_clone_leaves_the_connection_open(f: Family) {
    let (a, b) = pair();
    let (c, s) = connected(f, &a, &b);
    c.set_linger(Some(Duration::from_secs(30))).unwrap();
    let other = c.try_clone().unwrap();
    c.close().unwrap();
    (&other).write_all(b"still open").unwrap();
    let mut buf = [0u8; 10];
    (&s).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still open");
    other.close().unwrap();
    assert_eq!((&s).read(&mut buf).unwrap(), 0, "FIN after the last close");
}

per_family!(
    linger_waits_until_data_and_fin_are_acknowledged,
    linger_time_passes_with_a_stalled_peer_and_the_connection_is_reset,
    close_of_one_clone_leaves_the_connection_open,
);
