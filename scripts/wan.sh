#!/usr/bin/env bash
# An emulated WAN path between two network namespaces, through the
# userspace delay line of examples/wan (loss, bursts, a rate-limited
# bottleneck with a bounded queue, delay, jitter, reordering, duplication):
#
#   sudo scripts/wan.sh up [EMULATOR OPTIONS]     # e.g. --delay-ms 25 --rate-mbit 100 --loss 0.5%
#   sudo scripts/wan.sh down                      # stops the emulator (prints its counters), removes the namespaces
#   sudo scripts/wan.sh run [EMULATOR OPTIONS] -- COMMAND...   # up, COMMAND, down
#   sudo scripts/wan.sh status
#
# Topology (NS = $WAN_NS, default tsw):
#
#   NS-cli: tun0 (made by tunstack: kernel 10.0.0.1/24, tunstack 10.0.0.2),
#           wanA 10.9.0.1/30, IPv4 forwarding on
#   NS-srv: wanB 10.9.0.2/30, route 10.0.0.0/24 via wanB
#
# wanA and wanB are the two TUN devices of the emulator; it creates each
# inside its namespace and keeps the fds, so every packet between the
# namespaces crosses the line: A→B is the client's upload direction, B→A
# the download. tunstack in NS-cli (`ip netns exec NS-cli tunstack get
# http://10.9.0.2:8080/...`, or `tunstack serve` fetched by curl from
# NS-srv) and the kernel's own TCP in NS-cli (curl, iperf3 -c 10.9.0.2)
# share the same path. Emulator options (see `wan --help`): each takes X
# (both directions) or X/Y (A→B/B→A); probabilities as 0.005 or 0.5%.
#
#   --delay-ms --jitter-ms --jitter-reorders --rate-mbit --queue-ms --queue-bytes
#   --loss --burst PGB,PBG,LOSSBAD --reorder --reorder-gap-ms --duplicate --seed --spin-us
#   --batch-us (wake at most once per N us instead of per packet; 50 with
#   --spin-us 0 for 1 Gbit/s, where per-packet wake-ups cost more CPU than the packets)
#
# Environment: WAN_NS (namespace prefix) [tsw], WAN_BIN (emulator binary)
# [target/release/examples/wan, built if missing], WAN_MTU [1500],
# WAN_RT_PRIORITY (SCHED_FIFO priority of the line threads, 0 for none) [10],
# WAN_TCP_MEM_MAX (the namespaces' tcp_rmem[2] and tcp_wmem[2], bytes)
# [33554432: twice the 12.5 MB BDP of 1 Gbit/s at 100 ms; the kernel's
# defaults, 6 MiB and 4 MiB, hold Linux under 500 Mbit/s at 50 ms. Give
# tunstack the same with --rcvbuf-max/--sndbuf-max].
# Nothing here touches the host's addresses, routes or firewall.
set -euo pipefail
cd "$(dirname "$0")/.."

NS="${WAN_NS:-tsw}"
CLI="$NS-cli" SRV="$NS-srv"
MTU="${WAN_MTU:-1500}"
BIN="${WAN_BIN:-target/release/examples/wan}"
STATE="/run/tunstack-wan/$NS"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/wan.sh needs root (network namespaces, TUN devices): sudo scripts/wan.sh $*" >&2
        exit 2
    fi
}

build() {
    [ -x "$BIN" ] && return 0
    echo "==> building the emulator (cargo build --release --example wan)" >&2
    cargo build --quiet --release --example wan
}

down() {
    local pid p ns
    if [ -f "$STATE/pid" ]; then
        pid="$(cat "$STATE/pid")"
        if kill -0 "$pid" 2> /dev/null; then
            kill -TERM "$pid" 2> /dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2> /dev/null || true
        fi
        # The emulator's counters, printed when it stops.
        grep -E '^(a2b|b2a) ' "$STATE/log" 2> /dev/null || true
    fi
    for ns in "$CLI" "$SRV"; do
        if ip netns list 2> /dev/null | awk '{print $1}' | grep -qx "$ns"; then
            for p in $(ip netns pids "$ns" 2> /dev/null || true); do kill "$p" 2> /dev/null || true; done
            ip netns del "$ns" 2> /dev/null || true
        fi
    done
    rm -rf "$STATE"
}

up() {
    build
    down > /dev/null
    mkdir -p "$STATE"
    local ns
    for ns in "$CLI" "$SRV"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    ip netns exec "$CLI" sysctl -qw net.ipv4.ip_forward=1
    local mem="${WAN_TCP_MEM_MAX:-33554432}"
    for ns in "$CLI" "$SRV"; do
        ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 131072 $mem" net.ipv4.tcp_wmem="4096 16384 $mem"
    done
    # Real-time line threads: on a busy machine a preempted emulator would
    # hold packets for milliseconds (p99 lateness 3 ms at 100 Mbit/s under
    # load without, under 25 us with).
    "$BIN" --rt-priority "${WAN_RT_PRIORITY:-10}" --a wanA --a-netns "$CLI" --b wanB --b-netns "$SRV" \
        "$@" > "$STATE/log" 2>&1 &
    echo $! > "$STATE/pid"
    for _ in $(seq 100); do
        grep -q '^ready ' "$STATE/log" 2> /dev/null && break
        if ! kill -0 "$(cat "$STATE/pid")" 2> /dev/null; then
            echo "scripts/wan.sh: the emulator exited:" >&2
            sed 's/^/    /' "$STATE/log" >&2
            down > /dev/null
            return 1
        fi
        sleep 0.05
    done
    grep -q '^ready ' "$STATE/log" || {
        echo "scripts/wan.sh: the emulator did not come up" >&2
        down > /dev/null
        return 1
    }
    ip -n "$CLI" addr add 10.9.0.1/30 dev wanA
    ip -n "$CLI" link set wanA mtu "$MTU" txqueuelen 10000 up
    ip -n "$SRV" addr add 10.9.0.2/30 dev wanB
    ip -n "$SRV" link set wanB mtu "$MTU" txqueuelen 10000 up
    ip -n "$SRV" route add 10.0.0.0/24 dev wanB
    grep '^wan: ' "$STATE/log" >&2 || true
    echo "up: $CLI (tun0 for tunstack, wanA 10.9.0.1) <-> emulator <-> $SRV (wanB 10.9.0.2)" >&2
}

cmd="${1:-}"
[ -n "$cmd" ] || {
    usage >&2
    exit 2
}
shift
case "$cmd" in
    -h | --help) usage ;;
    up)
        need_root up
        up "$@"
        ;;
    down)
        need_root down
        down
        ;;
    status)
        if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2> /dev/null; then
            echo "up (emulator pid $(cat "$STATE/pid"))"
            grep '^wan: ' "$STATE/log" || true
        else
            echo "down"
        fi
        ;;
    run)
        need_root run
        opts=()
        while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
            opts+=("$1")
            shift
        done
        [ "${1:-}" = -- ] && shift
        [ "$#" -gt 0 ] || {
            echo "usage: scripts/wan.sh run [OPTIONS] -- COMMAND..." >&2
            exit 2
        }
        up "${opts[@]}"
        trap down EXIT
        rc=0
        "$@" || rc=$?
        exit "$rc"
        ;;
    *)
        echo "scripts/wan.sh: unknown command $cmd (up, down, run, status)" >&2
        exit 2
        ;;
esac
