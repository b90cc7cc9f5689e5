# shellcheck shell=bash
# What scripts/wan-cc.sh and scripts/wan-down.sh share: one emulated line
# per cell (scripts/wan.sh) with a file tree to serve, and the helpers that
# bring it up, wait for a server on it and take it down. Sourced from the
# repository root after the caller has set rtt, rate, loss and WAN_NS.

: "${rtt:?}" "${rate:?}" "${loss:?}"
. scripts/lib.sh # wait_url, sched_of
CLI="$WAN_NS-cli" SRV="$WAN_NS-srv"
# $work holds the served tree ($www: an 8 GiB sparse `big`, a 1 KiB
# `small`) and the logs; the EXIT trap removes it with the line.
work="$(mktemp -d "/tmp/${0##*/}.XXXXXX")"
www="$work/www"
mkdir -p "$www"
truncate -s 8G "$www/big"
# Read once what the transfers will read, so that no transfer pays for
# the kernel zero-filling the sparse file's page-cache pages on first
# read: that cost the first sender of a cell (tunstack in odd rounds)
# up to half its CPU at 1 Gbit/s, on the cores the other end shares.
# Every transfer reads from offset 0 and at most the line's rate for its
# time, plus the socket buffers (64 MiB of slack).
dd if="$www/big" of=/dev/null bs=1M status=none \
    count=$(("${rate:?}" * 125000 * ("${secs:-10}" + 2) / 1048576 + 64))
head -c 1024 /dev/urandom > "$www/small"
pids=() caps=()
wan_pair_cleanup() {
    for p in "${pids[@]}" "${caps[@]}"; do kill "$p" 2> /dev/null || true; done
    scripts/wan.sh down >> "$work/wan-down.log" 2>&1 || true
    grep -E '^(a2b|b2a) ' "$work/wan-down.log" >&2 || true
    rm -rf "$work"
}
trap wan_pair_cleanup EXIT

# The line's shape for the cell: half the RTT each way, a queue of one RTT.
shape=(--delay-ms "$(awk -v r="$rtt" 'BEGIN { print r / 2 }')" --rate-mbit "$rate" --queue-ms "$rtt")
# At 1 Gbit/s the line wakes at most every 50 us, as the table's cells
# (scripts/bench/wan-table.sh): per-packet wake-ups cost the endpoints
# the CPU they need.
[ "$rate" -lt 1000 ] || shape+=(--spin-us 0 --batch-us 50)
case "$loss" in
    burst) shape+=(--burst "0.005,0.25,0.5") ;;
    0) ;;
    *) shape+=(--loss "$loss") ;;
esac

# Brings the line up with SEED (the caller's servers are started after).
line_up() { # SEED
    scripts/wan.sh up "${shape[@]}" --seed "$1" 2> "$work/wan-up.log"
    for ns in "$CLI" "$SRV"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_no_metrics_save=1; done
}

# Stops the cell's servers and takes the line down.
cell_down() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    pids=()
    scripts/wan.sh down >> "$work/wan-down.log" 2>&1 || true
}

# tunstack's buffer ceilings as scripts/bench.sh --wan gives them, so that
# a paired cell measures what the table's cell measured: the send side the
# namespaces' tcp_wmem[2], the receive side tcp_rmem[2] (memory, from
# which tunstack opens 5/8 as window, as Linux does). WAN_TS_MEM=default runs
# tunstack with its own defaults instead.
W_MEM="${WAN_TCP_MEM_MAX:-33554432}"
# shellcheck disable=SC2034 # used by the scripts that source this one
if [ "${WAN_TS_MEM:-bench}" = default ]; then
    TS_MEM=()
else
    TS_MEM=(--rcvbuf-max "$W_MEM" --sndbuf-max "$W_MEM")
fi

# Packet captures of one transfer (the caller's $pcap directory, empty for
# none): headers only (96 bytes), on both ends of the line: NAME-srv.pcap
# on wanB in the server namespace, NAME-cli.pcap on wanA in the client
# namespace (where tunstack's packets, forwarded from tun0, and the
# kernel's meet the line). cap_stop prints scripts/wan-pcap-summary.py's
# summary of both into NAME.txt, the sender's port given; with
# WAN_PCAP_SUMMARY=later it only notes the port (NAME.port) and the caller
# summarises after the runs (tshark on a 1 Gbit/s capture takes a core
# for tens of seconds). tcpdump's buffer is 32 MiB and it writes in
# blocks, not per packet, so that at 1 Gbit/s (120k packets/s) it drops
# nothing and costs the endpoints little; its own count of packets
# dropped is kept in NAME-SIDE.tcpdump.
cap_start() { # NAME
    [ -n "${pcap:-}" ] || return 0
    caps=()
    ip netns exec "$SRV" tcpdump -i wanB -s 96 -B 32768 -w "$pcap/$1-srv.pcap" tcp > "$pcap/$1-srv.tcpdump" 2>&1 &
    caps+=("$!")
    ip netns exec "$CLI" tcpdump -i wanA -s 96 -B 32768 -w "$pcap/$1-cli.pcap" tcp > "$pcap/$1-cli.tcpdump" 2>&1 &
    caps+=("$!")
    sleep 0.3
}
cap_stop() { # NAME PORT
    [ -n "${pcap:-}" ] || return 0
    sleep 0.2
    for c in "${caps[@]}"; do kill -INT "$c" 2> /dev/null || true; done
    for c in "${caps[@]}"; do wait "$c" 2> /dev/null || true; done
    caps=()
    echo "$2" > "$pcap/$1.port"
    [ "${WAN_PCAP_SUMMARY:-now}" = now ] || return 0
    for side in srv cli; do
        python3 scripts/wan-pcap-summary.py "$pcap/$1-$side.pcap" "$2" --rate-mbit "$rate" --rtt-ms "$rtt" || true
    done > "$pcap/$1.txt" 2>&1
}

# Mbit/s of BYTES in SECONDS, or "-" when either is missing.
mbit() { awk -v b="${1:-0}" -v s="${2:-0}" 'BEGIN { if (s > 0 && b > 0) printf "%.1f", b * 8 / s / 1e6; else print "-" }'; }
