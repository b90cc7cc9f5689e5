#!/usr/bin/env bash
# CPU per byte of tunstack's sender: `tunstack serve` sending one file to
# the kernel's curl, over the emulated WAN line (scripts/wan.sh, as
# scripts/wan-cc.sh's uploads) or, with --direct, straight over tun0 in
# one namespace (no line, no rate limit: the sender runs flat out).
# Several binaries (an A/B) alternate within each round, order reversed
# on even rounds. Per transfer: Mbit/s, the process's CPU time
# (schedstat, all threads) per GB sent, its run-queue wait, time slices
# (on-CPU stints, preemptions included) and voluntary context switches
# (sleeps: the wake-ups tunstack causes itself) per MB, device writes (TUN packets written,
# each a TSO batch or one segment) per MB and the mean bytes per write,
# the driver thread's polls per MB, the share of writes that carried a
# single segment (not a TSO batch: a pacing step, an ACK, a retransmit)
# and segments retransmitted per MB; then per binary the median and
# range of the CPU seconds per GB.
#
#   sudo scripts/serve-cpu.sh [--rate 1000] [--rtt 50] [--runs 5] [--secs 5]
#        [--direct] [--mib 2048] [--perf DIR] --ts A=target/release/tunstack [--ts B=/tmp/old]
#
# --perf DIR records each transfer with `perf record -g` (DIR/NAME-ROUND.data)
# and `perf stat` (context switches, migrations: DIR/NAME-ROUND.stat).
#
# The served file is real (zeros written to the page cache, not a sparse
# file), so the kernel's zero-fill of a sparse file's pages is not
# counted: what remains is tunstack's own cost per byte, plus the
# kernel's TUN and page-cache copies it asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

rtt=50 rate=1000 loss=0 runs=5 secs=5 direct=0 mib=2048 perf=""
tss=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --rtt) rtt="$2"; shift ;;
        --rate) rate="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        --secs) secs="$2"; shift ;;
        --mib) mib="$2"; shift ;;
        --ts) tss+=("$2"); shift ;;
        --direct) direct=1 ;;
        --perf) perf="$2"; shift ;;
        *) echo "scripts/serve-cpu.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "${#tss[@]}" -gt 0 ] || tss=("ts=${CARGO_TARGET_DIR:-target}/release/tunstack")

export WAN_NS="${WAN_NS:-scpu$$}" WAN_BIN="${WAN_BIN:-target/release/examples/wan}"
if [ "$direct" -eq 1 ]; then
    # One namespace: tunstack on tun0, curl beside it on the kernel side.
    CLI="$WAN_NS-d" SRV="$WAN_NS-d"
    work="$(mktemp -d /tmp/serve-cpu.XXXXXX)"
    www="$work/www"
    mkdir -p "$www"
    pids=()
    trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; ip netns del "$CLI" 2> /dev/null || true; rm -rf "$work"' EXIT
    ip netns add "$CLI"
    ip -n "$CLI" link set lo up
    head -c 1024 /dev/urandom > "$www/small"
    TS_MEM=()
else
    . scripts/wan-pair.sh
    line_up 1
fi
rm -f "$www/big"
dd if=/dev/zero of="$www/big" bs=1M count="$mib" status=none
cat "$www/big" > /dev/null

# Voluntary context switches of process PID so far, all threads: each
# one a sleep, so each a wake-up later.
vol_of() { # PID
    cat /proc/"$1"/task/*/status 2> /dev/null | awk '/^voluntary_ctxt_switches/ { v += $2 } END { print v + 0 }'
}

echo "# serve-cpu: $([ "$direct" -eq 1 ] && echo "direct over tun0" || echo "line ${rate} Mbit/s, ${rtt} ms"), $secs s, $runs rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round bin Mbit/s cpu_ms cpu_s/GB wait_ms slices/MB wakeups/MB writes/MB bytes/write polls/MB single% rexmit/MB"
declare -A col wcol
for i in $(seq "$runs"); do
    order=("${tss[@]}")
    if [ $((i % 2)) -eq 0 ]; then
        order=()
        for ((k = ${#tss[@]} - 1; k >= 0; k--)); do order+=("${tss[$k]}"); done
    fi
    for t in "${order[@]}"; do
        name="${t%%=*}" bin="${t#*=}"
        ip netns exec "$CLI" "$bin" serve --dir "$www" --port 8081 "${TS_MEM[@]}" > "$work/serve.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        url_host=10.0.0.2
        if ! wait_url "$SRV" "http://$url_host:8081/small"; then
            echo "$i $name - (serve did not answer)"
            kill "$pid" 2> /dev/null || true
            continue
        fi
        precs=()
        if [ -n "$perf" ]; then
            mkdir -p "$perf"
            perf record -q -g -F 4000 -p "$pid" -o "$perf/$name-$i.data" > /dev/null 2>&1 &
            precs+=("$!")
            perf stat -e task-clock,context-switches,cpu-migrations -p "$pid" -o "$perf/$name-$i.stat" > /dev/null 2>&1 &
            precs+=("$!")
            sleep 0.2
        fi
        s0="$(sched_of "$pid")" v0="$(vol_of "$pid")"
        out="$(ip netns exec "$SRV" curl -s -o /dev/null -m "$secs" -w '%{size_download} %{time_total}' "http://$url_host:8081/big" || true)"
        s1="$(sched_of "$pid")" v1="$(vol_of "$pid")"
        for p in "${precs[@]}"; do kill -INT "$p" 2> /dev/null || true; done
        for p in "${precs[@]}"; do wait "$p" 2> /dev/null || true; done
        kill -INT "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
        # The stack's counters, printed by serve when it stops.
        dev="$(grep -o 'device: [0-9]* packets written, [0-9]* read; driver polls [0-9]*; [0-9]* TSO' "$work/serve.log" || echo "device: 0 packets written, 0 read; driver polls 0; 0 TSO")"
        rex="$(grep -o '[0-9]* retransmitted' "$work/serve.log" | head -1 | cut -d' ' -f1)"
        row="$(echo "$out $s0 $s1 $dev ${rex:-0} $v0 $v1" | awk '{
            b = $1; s = $2; mb = b / 1e6
            cpu = $6 - $3; wait = $7 - $4; sl = $8 - $5
            w = $10; p = $17; tso = $18; rx = $20; vol = $(NF) - $(NF - 1)
            if (b <= 0 || s <= 0) { print "-"; exit }
            printf "%.1f %d %.2f %d %.1f %.1f %.1f %d %.1f %.0f %.1f", b * 8 / s / 1e6, cpu, cpu / 1e3 / (b / 1e9), wait, sl / mb, vol / mb, w / mb, (w > 0 ? b / w : 0), p / mb, (w > 0 ? 100 * (w - tso) / w : 0), rx / mb
        }')"
        echo "$i $name $row"
        col[$name]+="$(echo "$row" | awk '{print $3}') "
        wcol[$name]+="$(echo "$row" | awk '{print $6}') "
    done
done
medrange() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END { if (NR == 0) print "-"; else printf "median %s range %s-%s (n=%d)\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), a[1], a[NR], NR }'; }
for t in "${tss[@]}"; do
    name="${t%%=*}"
    echo "$name cpu_s/GB: $(echo "${col[$name]}" | medrange); wakeups/MB: $(echo "${wcol[$name]}" | medrange)"
done
echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg)"
