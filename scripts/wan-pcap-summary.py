#!/usr/bin/env python3
"""What bounds one bulk TCP transfer in a pcap: a short summary from tshark.

    scripts/wan-pcap-summary.py FILE.pcap PORT [--bucket-ms 500]

PORT is the sender's port (8081 for `tunstack serve`, 8080 for nginx or
the Linux sender of scripts/wan-cc.sh). The capture's vantage point
matters: on the sender's side of the line, "in flight" and "ACK RTT" are
the sender's flight and the path's RTT; on the receiver's side, "ACK RTT"
is the receiver's own ACK delay and "not captured" counts the segments
the line dropped before the capture point. Prints: the handshake (SYNs
sent: more than one is a lost SYN and a 1 s wait), goodput from the
ACKs, retransmissions, the receive window, in-flight and RTT
percentiles, the idle gaps in the data direction with what was in flight
and offered then, and per bucket: Mbit/s acknowledged, the largest
flight, the window, retransmissions. Needs tshark.
"""
import subprocess
import sys

FIELDS = [
    "frame.time_relative", "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.len",
    "tcp.seq", "tcp.ack", "tcp.window_size", "tcp.analysis.bytes_in_flight",
    "tcp.analysis.ack_rtt", "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
    "tcp.analysis.lost_segment", "tcp.analysis.window_full", "tcp.analysis.zero_window",
    "tcp.options.sack_le", "tcp.stream",
]


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def main():
    args = sys.argv[1:]
    bucket = 0.5
    if "--bucket-ms" in args:
        i = args.index("--bucket-ms")
        bucket = float(args[i + 1]) / 1000.0
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    path, port = args[0], args[1]
    cmd = ["tshark", "-n", "-r", path, "-Y", "tcp.port == %s" % port, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    rows = [r.split("\t") for r in out.splitlines()]
    # The measured transfer is the stream that carried the most data from
    # PORT (a `small` fetch before it, used to wait for the server, is another).
    size = {}
    for r in rows:
        if len(r) < len(FIELDS) or r[1] != port:
            continue
        size[r[16]] = size.get(r[16], 0) + int(r[4] or 0)
    if not size:
        print("  %s: no data from port %s" % (path, port))
        return
    stream = max(size, key=size.get)
    rows = [r for r in rows if len(r) >= len(FIELDS) and r[16] == stream]

    syns = [float(r[0]) for r in rows if r[2] == "1" and r[3] == "0"]
    synacks = [float(r[0]) for r in rows if r[2] == "1" and r[3] == "1"]
    t0 = syns[0] if syns else float(rows[0][0])
    data, acks = [], []
    # A retransmission is a segment under the highest sequence sent before
    # it (the line does not reorder; tshark's own flags call many of them
    # "out-of-order" when they follow the original closely).
    top = 0
    for r in rows:
        t = float(r[0]) - t0
        if r[1] == port and int(r[4] or 0) > 0:
            seq, ln = int(r[5] or 0), int(r[4])
            data.append((t, seq, ln, int(r[8] or 0), seq + ln <= top, bool(r[12])))
            top = max(top, seq + ln)
        elif r[1] != port and r[3] == "1" and r[2] != "1":
            acks.append((t, int(r[6] or 0), int(r[7] or 0), r[9], bool(r[15]), bool(r[13]), bool(r[14])))
    if not data or not acks:
        print("  %s: no data or no ACKs" % path)
        return
    end = max(data[-1][0], acks[-1][0])
    first_ack = acks[0][1]
    last_ack = max(a[1] for a in acks)
    retx = [d for d in data if d[4]]
    inflight = [d[3] for d in data if d[3] > 0]
    rtts = [float(a[3]) * 1000 for a in acks if a[3]]
    wins = [a[2] for a in acks]
    print("  %s: stream %s, %.2f s, %d data segments, %d ACKs" % (path, stream, end, len(data), len(acks)))
    print("    handshake: %d SYN%s, SYN-ACK %s, first data at %.3f s" % (
        len(syns), "" if len(syns) == 1 else "s (lost SYN: +%.2f s)" % (syns[-1] - syns[0]),
        "%d" % len(synacks), data[0][0]))
    print("    goodput (ACKed) %.1f Mbit/s; retransmitted %d segments (%d B); not captured before here %d; "
          "ACKs with SACK %d" % (
              (last_ack - first_ack) * 8 / max(end - data[0][0], 1e-9) / 1e6, len(retx),
              sum(d[2] for d in retx), sum(1 for d in data if d[5]), sum(1 for a in acks if a[4])))
    print("    in flight (B) p50 %d p90 %d max %d; ACK RTT (ms) p10 %.1f p50 %.1f p90 %.1f max %.1f" % (
        pct(inflight, 50), pct(inflight, 90), max(inflight or [0]),
        pct(rtts, 10), pct(rtts, 50), pct(rtts, 90), max(rtts or [float("nan")])))
    print("    receive window (B) min %d p50 %d max %d; window full %d, zero window %d" % (
        min(wins), pct(wins, 50), max(wins), sum(1 for a in acks if a[5]), sum(1 for a in acks if a[6])))
    # Idle gaps of the sender: what it had in flight when it stopped, and
    # the window the receiver offered then (flight near the window: the
    # receiver bounds it; far under it: the sender's own limit or pacing).
    gaps = []
    ai = 0
    for k in range(1, len(data)):
        g = data[k][0] - data[k - 1][0]
        if g >= 0.010:
            while ai + 1 < len(acks) and acks[ai + 1][0] <= data[k - 1][0]:
                ai += 1
            # ACKs that arrived inside the gap, and the bytes they newly
            # acknowledged: many means the sender had room and did not send.
            inside = [x for x in acks[ai:] if data[k - 1][0] < x[0] < data[k][0]]
            newly = max([x[1] for x in inside] + [acks[ai][1]]) - acks[ai][1]
            gaps.append((g, data[k - 1][0], data[k - 1][3], acks[ai][2], len(inside), newly))
    idle = sum(g[0] for g in gaps)
    print("    idle gaps >= 10 ms in the data: %d, %.3f s in all%s" % (
        len(gaps), idle, "; largest:" if gaps else ""))
    for g in sorted(gaps, reverse=True)[:4]:
        print("      %.1f ms at %.3f s, in flight %d B, window %d B; %d ACKs inside acking %d B" % (
            g[0] * 1000, g[1], g[2], g[3], g[4], g[5]))
    print("    per %d ms: t Mbit/s(ACKed) max-in-flight(kB) window(kB) retx" % (bucket * 1000))
    nb = int(end / bucket) + 1
    acked = [0] * nb
    fl = [0] * nb
    wn = [0] * nb
    rx = [0] * nb
    prev = first_ack
    for a in acks:
        b = min(int(a[0] / bucket), nb - 1)
        if a[1] > prev:
            acked[b] += a[1] - prev
            prev = a[1]
        wn[b] = max(wn[b], a[2])
    for d in data:
        b = min(int(d[0] / bucket), nb - 1)
        fl[b] = max(fl[b], d[3])
        rx[b] += 1 if d[4] else 0
    line = []
    for b in range(nb):
        line.append("%.1f:%.0f/%d/%d/%d" % (b * bucket, acked[b] * 8 / bucket / 1e6, fl[b] // 1000,
                                            wn[b] // 1000, rx[b]))
    for k in range(0, len(line), 6):
        print("      " + "  ".join(line[k:k + 6]))


if __name__ == "__main__":
    main()
