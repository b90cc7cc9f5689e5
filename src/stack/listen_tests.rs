//! Listen queues under load, as Linux's: a full accept queue ignores the
//! handshake-completing ACK (the SYN-ACK is retransmitted), a full SYN
//! queue answers with SYN cookies (RFC 4987 §3.6) and the cookie's ACK
//! rebuilds the connection with the options of the SYN.

use super::tests::{packet, parse_tcp, poll_with, tcp_header, PEER, US};
use super::*;
use crate::tcp::State;
use crate::time::Duration;
use crate::wire::{Flags, TcpOptions};

fn syn(port: u16, opts: TcpOptions) -> Vec<u8> {
    let mut h = tcp_header(port, 80, 1000, 0, Flags::SYN);
    h.options = opts;
    packet(PEER, US, &h, b"")
}

fn ack(port: u16, synack: &TcpHeader, ts: Option<(u32, u32)>, payload: &[u8]) -> Vec<u8> {
    let mut h = tcp_header(port, 80, 1001, (synack.seq + 1u32).0, Flags::ACK);
    h.window = 1000;
    h.options.timestamp = ts;
    packet(PEER, US, &h, payload)
}

#[test]
fn full_accept_queue_ignores_the_final_ack_and_retransmits_the_syn_ack() {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen_with_backlog(80, 1).unwrap();
    let out = poll_with(
        &mut iface,
        Instant::ZERO,
        vec![
            syn(40000, TcpOptions::default()),
            syn(40001, TcpOptions::default()),
        ],
    );
    assert_eq!(out.len(), 2, "both SYNs answered");
    let (a, _) = parse_tcp(&out[0]);
    let (b, _) = parse_tcp(&out[1]);
    assert_eq!((a.dst_port, b.dst_port), (40000, 40001));
    poll_with(
        &mut iface,
        Instant::from_millis(1),
        vec![ack(40000, &a, None, b"")],
    );
    let out = poll_with(
        &mut iface,
        Instant::from_millis(2),
        vec![ack(40001, &b, None, b"x")],
    );
    assert!(out.is_empty(), "the ACK is ignored, not answered");
    assert_eq!(iface.stats().tcp_listen_ack_dropped, 1);
    let first = iface.tcp_accept(80).unwrap().expect("the first connection");
    assert_eq!(iface.tcp(first).unwrap().remote().port(), 40000);
    assert_eq!(iface.tcp_accept(80), Ok(None), "the second is not queued");
    // Its SYN-ACK is retransmitted on the handshake timer (1 s, RFC 6298).
    let out = poll_with(&mut iface, Instant::from_millis(1100), vec![]);
    let (again, _) = parse_tcp(&out[0]);
    assert_eq!(again.flags, Flags::SYN | Flags::ACK);
    assert_eq!((again.dst_port, again.seq), (40001, b.seq));
    // Room again: the client's next ACK (with its data) gets in.
    poll_with(
        &mut iface,
        Instant::from_millis(1101),
        vec![ack(40001, &b, None, b"x")],
    );
    let second = iface
        .tcp_accept(80)
        .unwrap()
        .expect("the second connection");
    let tcb = iface.tcp_mut(second).unwrap();
    assert_eq!(tcb.state(), State::Established);
    let mut buf = [0u8; 4];
    assert_eq!(tcb.recv(&mut buf), Ok(1));
}

#[test]
fn backlog_zero_still_queues_one_connection_like_listen() {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen_with_backlog(80, 0).unwrap();
    let out = poll_with(
        &mut iface,
        Instant::ZERO,
        vec![syn(40000, TcpOptions::default())],
    );
    let (a, _) = parse_tcp(&out[0]);
    poll_with(&mut iface, Instant::ZERO, vec![ack(40000, &a, None, b"")]);
    assert!(iface.tcp_accept(80).unwrap().is_some());
    assert_eq!(iface.stats().tcp_listen_ack_dropped, 0);
}

#[test]
fn full_syn_queue_answers_with_a_cookie_and_its_ack_rebuilds_the_connection() {
    let mut iface = Interface::new(Config {
        syn_backlog: 1,
        ..Config::default()
    });
    iface.tcp_listen(80).unwrap();
    let opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((4242, 0)),
        ..TcpOptions::default()
    };
    let out = poll_with(
        &mut iface,
        Instant::from_secs(100),
        vec![syn(40000, opts), syn(40001, opts)],
    );
    assert_eq!(out.len(), 2);
    assert_eq!(iface.stats().tcp_syncookies_sent, 1);
    assert_eq!(iface.connection_count(), 1, "the cookie holds no state");
    let (cookie, _) = parse_tcp(&out[1]);
    assert_eq!(cookie.dst_port, 40001);
    assert_eq!(cookie.flags, Flags::SYN | Flags::ACK);
    assert!(cookie.options.window_scale.is_some() && cookie.options.sack_permitted);
    let (tsval, tsecr) = cookie.options.timestamp.expect("timestamps");
    assert_eq!(tsecr, 4242);
    // The client's ACK echoes the TSval: window scale and SACK come back.
    let later = Instant::from_secs(100) + Duration::from_millis(5);
    poll_with(
        &mut iface,
        later,
        vec![ack(40001, &cookie, Some((4243, tsval)), b"hello")],
    );
    assert_eq!(iface.stats().tcp_syncookies_recv, 1);
    let h = iface
        .tcp_accept(80)
        .unwrap()
        .expect("rebuilt connection queued");
    let tcb = iface.tcp_mut(h).unwrap();
    assert_eq!(tcb.remote().port(), 40001);
    assert_eq!(tcb.state(), State::Established);
    assert_eq!(tcb.iss(), cookie.seq);
    assert_eq!(tcb.send_window(), 1000 << 7, "the peer's shift of 7");
    let mut buf = [0u8; 8];
    assert_eq!(tcb.recv(&mut buf), Ok(5));
    // A forged ACK (wrong cookie) meets a RST, as in LISTEN.
    let mut forged = cookie;
    forged.seq += 77u32;
    let out = poll_with(&mut iface, later, vec![ack(40002, &forged, None, b"")]);
    let rst = out
        .iter()
        .map(|p| parse_tcp(p).0)
        .find(|h| h.dst_port == 40002)
        .expect("an answer to the forged ACK");
    assert!(rst.flags.rst());
    assert_eq!(iface.stats().tcp_syncookies_failed, 1);
}

#[test]
fn stray_ack_without_recent_cookies_is_not_checked() {
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let mut h = tcp_header(40000, 80, 1001, 5, Flags::ACK);
    h.options.timestamp = Some((1, 1));
    let out = poll_with(&mut iface, Instant::ZERO, vec![packet(PEER, US, &h, b"")]);
    assert!(parse_tcp(&out[0]).0.flags.rst());
    assert_eq!(iface.stats().tcp_syncookies_failed, 0);
    assert_eq!(iface.stats().tcp_syncookies_recv, 0);
}

#[test]
fn full_table_recycles_the_oldest_time_wait_for_a_new_connection() {
    // Linux keeps TIME-WAIT only up to tcp_max_tw_buckets; a table full of
    // them must not refuse new clients.
    let mut iface = Interface::new(Config {
        max_connections: 1,
        ..Config::default()
    });
    super::tests::server_in_time_wait(&mut iface, super::tests::Fam::V4);
    assert_eq!(iface.connection_count(), 1);
    let out = poll_with(
        &mut iface,
        Instant::from_millis(10),
        vec![syn(40001, TcpOptions::default())],
    );
    let (sa, _) = parse_tcp(&out[0]);
    assert_eq!((sa.dst_port, sa.flags), (40001, Flags::SYN | Flags::ACK));
    assert_eq!(iface.stats().tcp_time_wait_recycled, 1);
    assert_eq!(iface.stats().tcp_table_full, 0);
    assert_eq!(iface.connection_count(), 1);
    // With no TIME-WAIT left to recycle, the table is full.
    let out = poll_with(
        &mut iface,
        Instant::from_millis(11),
        vec![syn(40002, TcpOptions::default())],
    );
    assert!(out.is_empty());
    assert_eq!(iface.stats().tcp_table_full, 1);
}

#[test]
fn idle_connections_cost_a_poll_nothing() {
    // A poll looks only at what changed: thousands of idle connections
    // (no deadline) are neither scanned for output nor for timers.
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    for p in 0..2000u16 {
        let out = poll_with(
            &mut iface,
            Instant::ZERO,
            vec![syn(10000 + p, TcpOptions::default())],
        );
        let (sa, _) = parse_tcp(&out[0]);
        poll_with(
            &mut iface,
            Instant::ZERO,
            vec![ack(10000 + p, &sa, None, b"")],
        );
        iface.tcp_accept(80).unwrap().unwrap();
    }
    assert_eq!(iface.connection_count(), 2000);
    poll_with(&mut iface, Instant::from_millis(1), vec![]);
    assert!(iface.dirty.is_empty(), "nothing left to look at");
    assert_eq!(
        iface.poll_at(),
        None,
        "no deadline: idle connections keep no timer"
    );
}

#[test]
fn syn_with_fin_to_a_listener_is_dropped_silently() {
    // Linux drops SYN+FIN in LISTEN: no SYN-ACK, no connection.
    let mut iface = Interface::new(Config::default());
    iface.tcp_listen(80).unwrap();
    let h = tcp_header(40000, 80, 5000, 0, Flags::SYN | Flags::FIN);
    let out = poll_with(&mut iface, Instant::ZERO, vec![packet(PEER, US, &h, b"")]);
    assert!(out.is_empty(), "no reply to SYN+FIN: {out:?}");
    // A plain SYN from the same peer still opens a connection.
    let out = poll_with(
        &mut iface,
        Instant::from_millis(1),
        vec![syn(40000, TcpOptions::default())],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(parse_tcp(&out[0]).0.flags, Flags::SYN | Flags::ACK);
}
