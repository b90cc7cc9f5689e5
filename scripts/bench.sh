#!/usr/bin/env bash
# Benchmarks tunstack against the raw TUN ceiling and the kernel's own TCP:
#
#   sudo scripts/bench.sh            # full run: 5 runs per row, writes docs/benchmarks.md
#   sudo scripts/bench.sh --smoke    # tiny sizes, 1 run, debug build, prints only (CI)
#
# Builds the bench examples (release), then measures, in network namespaces
# it creates for each run (tunstack-bench-PID-*) and removes again, also on
# Ctrl-C:
#
#   raw TUN write / read / UDP echo   examples/bench_rawtun.rs: read(2)/write(2) on tun0, no TCP
#   tunstack send / recv / rr / crr   examples/bench_tcp.rs tun: tunstack on tun0, the kernel's TCP as peer
#                                     (send / recv also with --offload 1: virtio-net headers, TSO)
#   kernel over veth                  examples/bench_tcp.rs kernel-*: the same peer code, kernel on both ends
#   RSS per idle connection           examples/bench_tcp.rs tun idle
#
# and prints a markdown table of medians with min–max and the ratios
# tunstack / raw TUN and tunstack / kernel veth. The full run writes it,
# with the machine's facts and the exact commands, to docs/benchmarks.md;
# text below the marker line there is kept. Nothing here asserts on
# timing, and nothing touches the host's addresses, routes or firewall:
# every packet stays inside the namespaces this script made.
#
# Environment (defaults in brackets; --smoke in braces):
#   BENCH_RUNS   runs per row [5] {1}        BENCH_MTUS   MTUs ["1500 9000 65535"] {1500}
#   BENCH_MIB    MiB per bulk transfer [1024] {4}
#   BENCH_SECS   seconds per raw TUN run [2] {0.2}
#   BENCH_RR     1-byte round trips [20000] {200}
#   BENCH_CRR    connections for connect/request/close [3000] {50}
#   BENCH_CONNS  idle connections [2000] {50}
#   BENCH_PROFILE  release or debug [release] {debug}
#   BENCH_DOC    file to write, or empty for none [docs/benchmarks.md] {empty}
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

smoke=0
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "scripts/bench.sh: unknown argument $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/bench.sh needs root for network namespaces and /dev/net/tun." >&2
    echo "Run: sudo scripts/bench.sh" >&2
    exit 2
fi
for c in ip awk timeout; do
    if ! command -v "$c" > /dev/null 2>&1; then
        echo "scripts/bench.sh: '$c' not found (Debian: apt-get install iproute2 gawk coreutils)" >&2
        exit 2
    fi
done

if [ "$smoke" -eq 1 ]; then
    RUNS="${BENCH_RUNS:-1}" MTUS="${BENCH_MTUS:-1500}" MIB="${BENCH_MIB:-4}"
    SECS="${BENCH_SECS:-0.2}" RR="${BENCH_RR:-200}" CRR="${BENCH_CRR:-50}"
    CONNS="${BENCH_CONNS:-50}" PROFILE="${BENCH_PROFILE:-debug}" DOC="${BENCH_DOC-}"
else
    RUNS="${BENCH_RUNS:-5}" MTUS="${BENCH_MTUS:-1500 9000 65535}" MIB="${BENCH_MIB:-1024}"
    SECS="${BENCH_SECS:-2}" RR="${BENCH_RR:-20000}" CRR="${BENCH_CRR:-3000}"
    CONNS="${BENCH_CONNS:-2000}" PROFILE="${BENCH_PROFILE:-release}"
    DOC="${BENCH_DOC-docs/benchmarks.md}"
fi
# Generous per-command limit: a hang fails the bench, slowness never does.
LIMIT=300

# --- build (as the invoking user under sudo, so target/ stays theirs) -------------
user_home() { getent passwd "$1" | cut -d: -f6; }

find_cargo() { # [HOME of the user who will run it]
    local c
    for c in "${1:+$1/.cargo/bin/cargo}" "$(command -v cargo 2> /dev/null || true)" \
        "$HOME/.cargo/bin/cargo" /usr/local/cargo/bin/cargo; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    echo "scripts/bench.sh: cargo not found (install Rust: https://rustup.rs)" >&2
    return 1
}

build=(build --quiet --example bench_tcp --example bench_rawtun)
if [ "$PROFILE" = release ]; then
    build+=(--release)
elif [ "$PROFILE" != debug ]; then
    echo "scripts/bench.sh: BENCH_PROFILE must be release or debug" >&2
    exit 2
fi
echo "==> building the bench examples ($PROFILE)"
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(stat -c %U .)" = "$SUDO_USER" ]; then
    home="$(user_home "$SUDO_USER")"
    cargo="$(find_cargo "$home")"
    if [ -d target ] && [ -n "$(find target ! -user "$SUDO_USER" -print -quit)" ]; then
        chown -R "$SUDO_USER:" target
    fi
    as_user=(sudo -u "$SUDO_USER" -H)
    if ! command -v sudo > /dev/null 2>&1; then
        as_user=(runuser -u "$SUDO_USER" -- env HOME="$home")
    fi
    "${as_user[@]}" env PATH="$(dirname "$cargo"):$PATH" "$cargo" "${build[@]}"
else
    cargo="$(find_cargo "")"
    PATH="$(dirname "$cargo"):$PATH" "$cargo" "${build[@]}"
fi
bin="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/examples"
for b in bench_tcp bench_rawtun; do
    [ -x "$bin/$b" ] || {
        echo "scripts/bench.sh: $bin/$b was not built" >&2
        exit 1
    }
done

# --- namespaces ---------------------------------------------------------------------
prefix="tunstack-bench-$$"
logdir="$(mktemp -d)"
seq_no=0
bg_pids=()

# shellcheck disable=SC2317 # called from the trap
cleanup() {
    local ns p
    for p in "${bg_pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for ns in $(ip netns list 2> /dev/null | awk -v p="$prefix-" 'index($1, p) == 1 {print $1}'); do
        for p in $(ip netns pids "$ns" 2> /dev/null || true); do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
    rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# new_ns VAR: a fresh namespace with lo up; its name goes into VAR.
new_ns() {
    seq_no=$((seq_no + 1))
    local _name="$prefix-$seq_no"
    ip netns add "$_name"
    ip -n "$_name" link set lo up
    printf -v "$1" '%s' "$_name"
}

del_ns() {
    local ns p
    for ns in "$@"; do
        for p in $(ip netns pids "$ns" 2> /dev/null || true); do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
}

# Runs "$@" and sets R_VALUE and R_UNIT from its "result: VALUE UNIT"
# line; on failure shows its output and exits.
result_of() {
    local log="$logdir/run.log" rc=0
    timeout --kill-after=10 "$LIMIT" "$@" > "$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q '^result:' "$log"; then
        echo "scripts/bench.sh: failed (exit $rc): $*" >&2
        sed 's/^/    /' "$log" >&2
        exit 1
    fi
    read -r R_VALUE R_UNIT < <(awk '/^result:/ {print $2, $3; exit}' "$log")
}

# One measurement in a fresh namespace with tun0 (the examples create it).
tun_run() { # COMMAND...
    local ns
    new_ns ns
    result_of ip netns exec "$ns" "$@"
    del_ns "$ns"
}

# One kernel-to-kernel measurement over a veth pair between two fresh
# namespaces: server in the second (10.0.0.2), client in the first.
veth_run() { # MTU SERVER_TEST CLIENT_TEST CLIENT_ARGS...
    local mtu="$1" stest="$2" ctest="$3" a b server
    shift 3
    new_ns a
    new_ns b
    ip -n "$a" link add veth0 mtu "$mtu" type veth peer name veth1 netns "$b" mtu "$mtu"
    ip -n "$a" addr add 10.0.0.1/24 dev veth0
    ip -n "$b" addr add 10.0.0.2/24 dev veth1
    ip -n "$a" link set veth0 up
    ip -n "$b" link set veth1 up
    ip netns exec "$b" "$bin/bench_tcp" kernel-server "$stest" --bind 10.0.0.2:5001 \
        > "$logdir/server.log" 2>&1 &
    server=$!
    bg_pids+=("$server")
    result_of ip netns exec "$a" "$bin/bench_tcp" kernel-client "$ctest" --to 10.0.0.2:5001 "$@"
    kill "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    del_ns "$a" "$b"
}

# --- rows ---------------------------------------------------------------------------
# Each row: a key, a label, the MTU, and the command of one run. Values are
# collected per key over all runs; runs are the outer loop so that a busy
# moment on the machine spreads over every row instead of hitting one.
declare -a KEYS=()
declare -A LABEL=() MTU=() CMD=() VALUES=() UNIT=() SHOWN=()

row() { # KEY LABEL MTU SHOWN-COMMAND -- RUN-FUNCTION ARGS...
    local key="$1"
    KEYS+=("$key")
    LABEL[$key]="$2"
    MTU[$key]="$3"
    SHOWN[$key]="$4"
    shift 5
    CMD[$key]="$(printf '%q ' "$@")"
}

E='target/'"$PROFILE"'/examples'
for m in $MTUS; do
    row "raw_write_$m" "raw TUN write (kernel receives, UDP)" "$m" \
        "ip netns exec NS $E/bench_rawtun write --mtu $m --secs $SECS" \
        -- tun_run "$bin/bench_rawtun" write --mtu "$m" --secs "$SECS"
    row "raw_read_$m" "raw TUN read (kernel floods, UDP GSO)" "$m" \
        "ip netns exec NS $E/bench_rawtun read --mtu $m --secs $SECS" \
        -- tun_run "$bin/bench_rawtun" read --mtu "$m" --secs "$SECS"
    row "ts_send_$m" "tunstack → kernel, 1 connection" "$m" \
        "ip netns exec NS $E/bench_tcp tun send --mtu $m --mib $MIB" \
        -- tun_run "$bin/bench_tcp" tun send --mtu "$m" --mib "$MIB"
    row "ts_recv_$m" "kernel → tunstack, 1 connection" "$m" \
        "ip netns exec NS $E/bench_tcp tun recv --mtu $m --mib $MIB" \
        -- tun_run "$bin/bench_tcp" tun recv --mtu "$m" --mib "$MIB"
    row "ts_send_off_$m" "tunstack → kernel, offload (TSO, virtio-net header)" "$m" \
        "ip netns exec NS $E/bench_tcp tun send --mtu $m --mib $MIB --offload 1" \
        -- tun_run "$bin/bench_tcp" tun send --mtu "$m" --mib "$MIB" --offload 1
    row "ts_recv_off_$m" "kernel → tunstack, offload (kernel TSO, virtio-net header)" "$m" \
        "ip netns exec NS $E/bench_tcp tun recv --mtu $m --mib $MIB --offload 1" \
        -- tun_run "$bin/bench_tcp" tun recv --mtu "$m" --mib "$MIB" --offload 1
    row "veth_bulk_$m" "kernel → kernel over veth, 1 connection" "$m" \
        "ip netns exec B $E/bench_tcp kernel-server sink --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tcp kernel-client send --to 10.0.0.2:5001 --mib $MIB" \
        -- veth_run "$m" sink send --mib "$MIB"
done
row raw_echo "raw TUN UDP echo, 1 byte" 1500 \
    "ip netns exec NS $E/bench_rawtun echo --count $RR" \
    -- tun_run "$bin/bench_rawtun" echo --count "$RR"
row ts_rr "tunstack echo, 1-byte request/response, TCP_NODELAY" 1500 \
    "ip netns exec NS $E/bench_tcp tun rr --count $RR" \
    -- tun_run "$bin/bench_tcp" tun rr --count "$RR"
row veth_rr "kernel echo over veth, 1-byte request/response, TCP_NODELAY" 1500 \
    "ip netns exec B $E/bench_tcp kernel-server echo --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tcp kernel-client rr --to 10.0.0.2:5001 --count $RR" \
    -- veth_run 1500 echo rr --count "$RR"
row ts_crr "tunstack serves connect + 1-byte request/response + close" 1500 \
    "ip netns exec NS $E/bench_tcp tun crr --count $CRR" \
    -- tun_run "$bin/bench_tcp" tun crr --count "$CRR"
row veth_crr "kernel serves connect + 1-byte request/response + close, veth" 1500 \
    "ip netns exec B $E/bench_tcp kernel-server crr --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tcp kernel-client crr --to 10.0.0.2:5001 --count $CRR" \
    -- veth_run 1500 crr crr --count "$CRR"
row ts_idle "tunstack RSS per idle connection (1 MiB buffers, 1 byte each way)" 1500 \
    "ip netns exec NS $E/bench_tcp tun idle --conns $CONNS" \
    -- tun_run "$bin/bench_tcp" tun idle --conns "$CONNS"

# The kernel-side clients of the idle row hold one fd per connection.
ulimit -n "$((CONNS + 1024))" 2> /dev/null || true

echo "==> $RUNS run(s) of ${#KEYS[@]} rows (MTUs: $MTUS; $MIB MiB per bulk transfer)"
t_start=$SECONDS
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
    for key in "${KEYS[@]}"; do
        eval "${CMD[$key]}"
        VALUES[$key]="${VALUES[$key]:-} $R_VALUE"
        UNIT[$key]="$R_UNIT"
        printf '    run %d/%d  %-14s %5s  %12s %s\n' "$run" "$RUNS" "$key" "${MTU[$key]}" "$R_VALUE" "$R_UNIT"
    done
done
elapsed=$((SECONDS - t_start))
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the table ----------------------------------------------------------------------
stat_of() { # KEY -> "median min max" (nothing if the row was not run)
    [ -n "${VALUES[$1]:-}" ] || return 0
    tr ' ' '\n' <<< "${VALUES[$1]}" | awk 'NF' | sort -g |
        awk '{ v[NR] = $1 } END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR] }'
}

median() { stat_of "$1" | awk '{print $1}'; }

fmt() { # VALUE UNIT
    awk -v v="$1" -v u="$2" 'BEGIN {
        if (u == "Gbit/s") printf "%.2f", v
        else if (u == "KiB/conn") printf "%.1f", v
        else printf "%.0f", v }'
}

ratio() { # KEY_NUMERATOR KEY_DENOMINATOR -> "0.52×" or ""
    local n d
    n="$(median "$1")"
    d="$(median "$2")"
    [ -n "$n" ] && [ -n "$d" ] || return 0
    awk -v n="$n" -v d="$d" 'BEGIN { if (d > 0) printf "%.2f×", n / d }'
}

table() {
    local key s med lo hi unit raw veth
    echo "| measurement | MTU | median | min – max | unit | tunstack / raw TUN | tunstack / kernel veth |"
    echo "|---|---:|---:|---:|---|---:|---:|"
    for key in "${KEYS[@]}"; do
        s="$(stat_of "$key")"
        read -r med lo hi <<< "$s"
        unit="${UNIT[$key]}"
        raw="" veth=""
        case "$key" in
            ts_send_*) raw="$(ratio "$key" "raw_write_${MTU[$key]}")" veth="$(ratio "$key" "veth_bulk_${MTU[$key]}")" ;;
            ts_recv_*) raw="$(ratio "$key" "raw_read_${MTU[$key]}")" veth="$(ratio "$key" "veth_bulk_${MTU[$key]}")" ;;
            ts_rr) raw="$(ratio ts_rr raw_echo)" veth="$(ratio ts_rr veth_rr)" ;;
            ts_crr) veth="$(ratio ts_crr veth_crr)" ;;
        esac
        printf '| %s | %s | %s | %s – %s | %s | %s | %s |\n' "${LABEL[$key]}" "${MTU[$key]}" \
            "$(fmt "$med" "$unit")" "$(fmt "$lo" "$unit")" "$(fmt "$hi" "$unit")" "$unit" "$raw" "$veth"
    done
}

TABLE="$(table)"
echo
echo "$TABLE"
echo
echo "($RUNS run(s) per row in $elapsed s; Gbit/s is TCP goodput, or whole IP packets for raw TUN)"

[ -n "$DOC" ] || exit 0

# --- docs/benchmarks.md -----------------------------------------------------------
marker='<!-- Generated by scripts/bench.sh above this line; the text below it is kept. -->'
tail_text=""
if [ -f "$DOC" ] && grep -qF "$marker" "$DOC"; then
    tail_text="$(awk -v m="$marker" 'kept { print } $0 == m { kept = 1 }' "$DOC")"
fi
cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
rev="$(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
if [ -n "$(git status --porcelain --untracked-files=no 2> /dev/null)" ]; then
    rev="$rev (with uncommitted changes)"
fi
rustc_v="$(PATH="$(dirname "$cargo"):$PATH" rustc --version 2> /dev/null || echo unknown)"
{
    echo "# Benchmarks"
    echo
    echo "Measured by \`sudo scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev."
    echo "Each row is the median of $RUNS runs, with the smallest and largest run;"
    echo "the runs are interleaved (run 1 of every row, then run 2, ...), so a busy"
    echo "moment on the machine spreads over all rows. Gbit/s is TCP goodput (payload"
    echo "bytes delivered, handshake and close included) for TCP rows and whole IP"
    echo "packets for the raw TUN rows. Nothing here is asserted: the numbers are"
    echo "for reading, and a busy machine gives smaller ones."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | ${cpu:-unknown} |"
    echo "| cores (nproc) | $(nproc) |"
    echo "| memory | $mem |"
    echo "| kernel | $(uname -r) |"
    echo "| compiler | $rustc_v, \`$PROFILE\` profile |"
    echo "| load average (1, 5, 15 min) | $load_start at the start, $load_end at the end ($elapsed s) |"
    echo
    echo "## Results"
    echo
    echo "$TABLE"
    echo
    echo "Ratios: tunstack sending over the raw TUN write ceiling, tunstack receiving"
    echo "over the raw TUN read ceiling, tunstack's request/response rate over the raw"
    echo "TUN UDP echo loop, and each tunstack row over the same test with the kernel's"
    echo "TCP on both ends of a veth pair (offloads on, as Linux sets them up)."
    echo
    echo "## Commands"
    echo
    echo "One run of each row; \`NS\` is a fresh namespace (\`ip netns add NS; ip -n NS"
    echo "link set lo up\`) in which the example creates \`tun0\` (kernel side 10.0.0.1/24,"
    echo "tunstack 10.0.0.2); \`A\` and \`B\` are two fresh namespaces joined by a veth pair"
    echo "(\`ip -n A link add veth0 mtu MTU type veth peer name veth1 netns B mtu MTU\`,"
    echo "10.0.0.1/24 in A, 10.0.0.2/24 in B). Built with \`cargo build ${build[*]:1}\`."
    echo
    echo '```sh'
    echo "sudo scripts/bench.sh    # BENCH_RUNS=$RUNS BENCH_MTUS=\"$MTUS\" BENCH_MIB=$MIB BENCH_SECS=$SECS BENCH_RR=$RR BENCH_CRR=$CRR BENCH_CONNS=$CONNS"
    for key in "${KEYS[@]}"; do
        echo "${SHOWN[$key]}"
    done
    echo '```'
    echo
    echo "$marker"
    if [ -n "$tail_text" ]; then
        echo "$tail_text"
    fi
} > "$DOC.tmp"
mv "$DOC.tmp" "$DOC"
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    chown "$SUDO_USER:" "$DOC" 2> /dev/null || true
fi
echo "wrote $DOC"
