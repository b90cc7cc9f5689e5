//! `tunstack get --stats`: what the stack and the connection counted, and
//! how buffers and windows moved during the transfer (docs/wireshark.md
//! explains each counter).

use crate::net::{Stats, TcpInfo};
use std::time::Duration;

/// `--stats`: receive-buffer fill, advertised window, congestion window,
/// SRTT and the congestion controller's state (BBR: mode, pacing rate,
/// bandwidth and min-RTT estimates; CUBIC/NewReno: ssthresh) over the
/// transfer, at most 20 evenly spaced rows.
pub(super) fn print_series(rows: &[(Duration, TcpInfo)]) {
    if rows.is_empty() {
        return;
    }
    eprintln!(
        "over time:    t (ms)   recv buffer   our window   peer window       cwnd   srtt (ms)   congestion control"
    );
    let step = rows.len().div_ceil(20).max(1);
    for (t, i) in rows.iter().step_by(step) {
        eprintln!(
            "           {:>9.1}   {:>11}   {:>10}   {:>11}   {:>8}   {:>9}   {}",
            t.as_secs_f64() * 1e3,
            i.recv_queue,
            i.recv_window,
            i.send_window,
            i.cwnd,
            i.srtt
                .map_or("-".to_string(), |s| format!("{:.3}", s.as_secs_f64() * 1e3)),
            i.cc
        );
    }
}

/// One line per queue of a multiqueue stack (none with one queue): what
/// each queue's driver carried, to see the kernel spread the flows and,
/// with offloads, the batches (bytes per packet above the MTU, TSO
/// writes) on each queue.
pub(super) fn queue_lines(per: &[Stats]) -> Vec<String> {
    if per.len() < 2 {
        return Vec::new();
    }
    per.iter()
        .enumerate()
        .map(|(q, s)| {
            format!(
                "queue {q}: {} packets in ({} bytes), {} out ({} bytes), {} segments in, {} out \
                 ({} TSO), {} datagrams delivered",
                s.rx_packets,
                s.rx_bytes,
                s.tx_packets,
                s.tx_bytes,
                s.tcp_segments_in,
                s.tcp_segments_out,
                s.tcp_tso_out,
                s.udp_delivered
            )
        })
        .collect()
}

/// `--stats`: the connection's timers and counters, then every non-zero
/// stack counter (drops by reason included). Documented in docs/wireshark.md.
pub(super) fn print_stats(stack: &Stats, conn: Option<&TcpInfo>) {
    if let Some(i) = conn {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "connection: state {}, mss {}, cwnd {} bytes, peer window {} bytes",
            i.state, i.mss, i.cwnd, i.send_window
        );
        eprintln!(
            "  rtt: srtt {}, rttvar {:.3} ms, rto {:.1} ms",
            i.srtt
                .map_or("-".to_string(), |s| format!("{:.3} ms", ms(s))),
            ms(i.rttvar),
            ms(i.rto)
        );
        eprintln!("  congestion control: {}", i.cc);
        for (name, v) in i.stats.counters() {
            eprintln!("  {name:<28} {v}");
        }
    }
    eprintln!("stack:");
    for (name, v) in stack.counters().into_iter().filter(|(_, v)| *v != 0) {
        eprintln!("  {name:<28} {v}");
    }
}
