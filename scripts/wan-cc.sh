#!/usr/bin/env bash
# One WAN upload cell, tunstack's loss-based senders against Linux's same
# algorithm, interleaved: each round runs `tunstack serve --cc CC` (one
# binary or several, for an A/B) fetched by kernel curl, then Linux's
# sender in the client namespace (sendfile, TCP_CONGESTION set to the same
# algorithm), fetched by the same curl, then (with --iperf)
# iperf3 -C; odd rounds in that order, even rounds Linux first. Same line,
# same seed, same run; prints one line per round and the medians.
#
#   sudo scripts/wan-cc.sh --cc cubic --rtt 100 --loss 0.5% [--runs 5] [--secs 5]
#        [--ts A=target/release/tunstack --ts B=/tmp/tunstack-old] [--iperf] [--fresh] [--trace DIR]
#        [--pcap DIR]
#
# --fresh starts a new line for every transfer, seeded with the round number,
# so that the transfers of one round meet the same loss sequence.
# --loss takes 0, a probability (0.5%) or `burst` (Gilbert-Elliott
# 0.005,0.25,0.5 as the bench). --trace DIR keeps, per round, tunstack's
# recovery/timer log (RUST_LOG, or TS_LOG if set, e.g.
# tunstack::tcp::rate=trace for BBR's per-round line) and Linux's `ss -tin`
# sampled every 50 ms; without it tunstack logs nothing, as on the bench.
# --pcap DIR keeps, per transfer, the headers seen on both ends of the line
# (NAME-srv.pcap on the server's side, where curl receives, NAME-cli.pcap
# on the client's, where the senders' data enter the line) and their
# summary (NAME.txt, scripts/wan-pcap-summary.py). tunstack gets the
# bench's buffer ceilings (scripts/wan-pair.sh, TS_MEM).
# The path is the bench's: 100 Mbit/s, a queue of one RTT, half the RTT of
# delay each way, loss both ways (scripts/wan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cc=cubic rtt=50 loss=0 runs=5 secs=5 iperf=0 trace="" rate=100 seed=1 fresh=0 pcap=""
tss=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --cc) cc="$2"; shift ;;
        --rtt) rtt="$2"; shift ;;
        --loss) loss="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        --secs) secs="$2"; shift ;;
        --rate) rate="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        --ts) tss+=("$2"); shift ;;
        --iperf) iperf=1 ;;
        --fresh) fresh=1 ;;
        --trace) trace="$2"; shift ;;
        --pcap) pcap="$2"; shift ;;
        *) echo "scripts/wan-cc.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "${#tss[@]}" -gt 0 ] || tss=("ts=${CARGO_TARGET_DIR:-target}/release/tunstack")
linux_cc="$cc"
[ "$cc" = newreno ] && linux_cc=reno

export WAN_NS="${WAN_NS:-ccab}" WAN_BIN="${WAN_BIN:-target/release/examples/wan}"
. scripts/wan-pair.sh
[ -z "$trace" ] || mkdir -p "$trace"
[ -z "$pcap" ] || mkdir -p "$pcap"
# Linux's sender: a minimal HTTP server whose sockets use the named
# algorithm (TCP_CONGESTION: a namespace's default cannot be set to one
# outside tcp_allowed_congestion_control), sending with sendfile as nginx.
cat > "$work/srv.py" << 'EOF'
import os, socket, sys, threading
addr, port, cc, path = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
ls.bind((addr, port))
ls.listen(16)
def serve(c):
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(4096)
            if not d:
                return
            req += d
        name = os.path.basename(req.split(b" ")[1].decode())
        f = os.path.join(path, name)
        size = os.path.getsize(f)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        with open(f, "rb") as fh:
            c.sendfile(fh)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
cell_up() { # SEED
    line_up "$1"
    ip netns exec "$CLI" python3 "$work/srv.py" 10.9.0.1 8080 "$linux_cc" "$www" > "$work/srv.log" 2>&1 &
    pids+=("$!")
    if [ "$iperf" -eq 1 ]; then
        ip netns exec "$SRV" iperf3 -s -B 10.9.0.2 > "$work/iperf3-s.log" 2>&1 &
        pids+=("$!")
    fi
    wait_url "$SRV" http://10.9.0.1:8080/small
}
fetch() { # URL
    local out
    out="$(ip netns exec "$SRV" curl -s -o /dev/null -m "$secs" -w '%{size_download} %{time_total}' "$1" || true)"
    # shellcheck disable=SC2086
    mbit $out
}
ts_run() { # BIN TAG ROUND
    local pid r s0 s1 log=/dev/null envs=()
    [ -z "$trace" ] || {
        log="$trace/$2-$3.log"
        envs=(RUST_LOG="${TS_LOG:-tunstack::tcp::recovery=debug,tunstack::tcp::timers=debug}")
    }
    ip netns exec "$CLI" env "${envs[@]}" \
        "$1" serve --dir "$www" --port 8081 --cc "$cc" "${TS_MEM[@]}" > "$log" 2>&1 &
    pid=$!
    if wait_url "$SRV" http://10.0.0.2:8081/small; then
        cap_start "$2-$3"
        s0="$(sched_of "$pid")"
        r="$(fetch http://10.0.0.2:8081/big)"
        s1="$(sched_of "$pid")"
        cap_stop "$2-$3" 8081
        # With captures, how long the sender waited for a CPU during the
        # transfer (Linux's sender runs in the line's softirqs instead).
        [ -z "$pcap" ] || echo "$s0 $s1" | awk '{ printf "    tunstack during the transfer: %d ms on a CPU, %d ms runnable waiting for one, %d time slices\n", $4 - $1, $5 - $2, $6 - $3 }' >> "$pcap/$2-$3.txt"
    else
        r="-"
    fi
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    echo "$r"
}
linux_run() { # ROUND
    local sp="" r
    if [ -n "$trace" ]; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        ip netns exec "$CLI" bash -c 'while :; do echo "t $(date +%s.%N)"; ss -tinH state established "( sport = :8080 )"; sleep 0.05; done' \
            > "$trace/linux-$1.ss" 2>&1 &
        sp=$!
    fi
    cap_start "linux-$1"
    r="$(fetch http://10.9.0.1:8080/big)"
    cap_stop "linux-$1" 8080
    [ -z "$sp" ] || { kill "$sp" 2> /dev/null || true; wait "$sp" 2> /dev/null || true; }
    echo "$r"
}
iperf_run() {
    ip netns exec "$CLI" iperf3 -c 10.9.0.2 -t "$secs" -C "$linux_cc" -J 2> /dev/null |
        python3 -c 'import json, sys
try:
    print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("-")'
}

[ "$fresh" -eq 1 ] || cell_up "$seed"
echo "# $cc, ${rtt} ms, loss $loss, $rate Mbit/s, $secs s, $runs rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
head="round"
for t in "${tss[@]}"; do head+=" ${t%%=*}"; done
head+=" linux-$linux_cc"
[ "$iperf" -eq 0 ] || head+=" iperf3-$linux_cc"
head+=" ratio(first/linux) load"
echo "$head"
declare -A col
for i in $(seq "$runs"); do
    line="$i"
    # Odd rounds run tunstack's binaries in the given order and then Linux
    # (curl, then iperf3), even rounds Linux first and the binaries
    # reversed: an order effect (load, the line's state) favours none.
    order=("${tss[@]}" linux)
    [ "$iperf" -eq 0 ] || order+=(iperf)
    if [ $((i % 2)) -eq 0 ]; then
        order=(linux)
        [ "$iperf" -eq 0 ] || order+=(iperf)
        for ((k = ${#tss[@]} - 1; k >= 0; k--)); do order+=("${tss[$k]}"); done
    fi
    declare -A got=()
    for t in "${order[@]}"; do
        [ "$fresh" -eq 0 ] || { cell_down; cell_up $((seed + i)); }
        case "$t" in
            linux) r="$(linux_run "$i")" ;;
            iperf) r="$(iperf_run)" ;;
            *) r="$(ts_run "${t#*=}" "${t%%=*}" "$i")" ;;
        esac
        col["${t%%=*}"]+="$r "
        got["${t%%=*}"]="$r"
    done
    for t in "${tss[@]}"; do line+=" ${got[${t%%=*}]}"; done
    first="$(echo "$line" | awk '{print $2}')"
    l="${got[linux]}"
    line+=" $l"
    [ "$iperf" -eq 0 ] || line+=" ${got[iperf]}"
    line+=" $(awk -v a="$first" -v b="$l" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') $(cut -d' ' -f1 /proc/loadavg)"
    echo "$line"
done
med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
summary="median"
for t in "${tss[@]}"; do summary+=" $(echo "${col[${t%%=*}]}" | med)"; done
summary+=" $(echo "${col[linux]}" | med)"
[ "$iperf" -eq 0 ] || summary+=" $(echo "${col[iperf]}" | med)"
echo "$summary"
