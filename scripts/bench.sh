#!/usr/bin/env bash
# Benchmarks tunstack against the raw TUN ceiling and the kernel's own TCP:
#
#   sudo scripts/bench.sh            # full run: 5 runs per row, writes docs/benchmarks.md
#   sudo scripts/bench.sh --smoke    # tiny sizes, 1 run, debug build, prints only (CI)
#   sudo scripts/bench.sh --wan      # only the WAN table (see "WAN" below); with --smoke: one cell, 2 s, one page load each
#   sudo scripts/bench.sh --load     # only ab and wrk against tunstack serve and nginx (scripts/bench-load.sh)
#
# Builds the bench examples (release), then measures, in network namespaces
# it creates for each run (tunstack-bench-PID-*) and removes again, also on
# Ctrl-C:
#
#   raw TUN write / read / UDP echo   examples/bench_rawtun.rs: read(2)/write(2) on tun0, no TCP
#   tunstack send / recv / rr / crr   examples/bench_tcp.rs tun: tunstack on tun0, the kernel's TCP as peer
#                                     (send / recv also with --offload 1: virtio-net headers, TSO,
#                                     and over IPv6 with --family 6: ratio IPv6 / IPv4 in the same run)
#   kernel over veth                  examples/bench_tcp.rs kernel-*: the same peer code, kernel on both ends
#   smoltcp send / recv               examples/bench_smoltcp.rs: smoltcp (crates.io) on tun0, the same peer
#                                     code, with smoltcp's stock 64 KiB buffers and with 1 MiB buffers
#   RSS per idle connection           examples/bench_tcp.rs tun idle
#   async (tokio)                     examples/bench_tokio.rs: bulk send and request/response with
#                                     tunstack's side on tunstack::tokio, against the same through the
#                                     blocking API (the rows above) and tokio over the kernel's veth;
#                                     CPU of parked async readers on an idle stack
#   https download                    `tunstack get https://…` from nginx (TLS 1.3, a certificate
#                                     made by openssl at bench time) in its namespace, against
#                                     curl fetching the same file from nginx over a veth pair
#
# and prints a markdown table of medians with min–max and the ratios
# tunstack / raw TUN, tunstack / kernel veth and tunstack / smoltcp (the
# better of its two buffer sizes). The full run writes it,
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
#   BENCH_HTTPS_MIB  MiB per https download [512] {4}
#   BENCH_SMOL_MTUS  MTUs of the smoltcp rows, a subset of BENCH_MTUS ["1500"] {1500}
#   BENCH_PROFILE  release or debug [release] {debug}
#   BENCH_DOC    file to write, or empty for none [docs/benchmarks.md] {empty}
#   BENCH_ROWS   regular expression of the row keys to run [all], e.g.
#                '^(ts6?|ts4mss6)_(send|recv)' for the IPv4 and IPv6 bulk rows
#
# WAN (--wan): tunstack and the kernel's TCP over the same emulated path
# (scripts/wan.sh: the userspace delay line of examples/wan between a
# client and a server namespace), in the same run, one cell at a time.
# Per cell and direction: goodput of `tunstack get` (download from nginx)
# and of kernel curl fetching from `tunstack serve` (upload), without and
# with each --cc; of Linux with its default (curl against nginx) and with
# each algorithm (iperf3 -C); and the ratios. Also the emulator's own
# overhead (Linux to Linux through it at 0 ms against a direct veth) and
# a time-to-first-byte row at 50 ms RTT, and a page-load row at 50 ms RTT
# (the 30-object page of tests/page_parallel.rs on nginx: `tunstack get -p`
# with --parallel 1 and 6 against kernel `wget -p`, median of 3 each, with
# the ratios; targets <= 0.35x sequential and <= 1.0x wget). The table goes between the
# <!-- wan:begin --> and <!-- wan:end --> lines of docs/benchmarks.md
# (appended if missing; the rest of the file is kept).
#   BENCH_WAN_SECS   seconds per transfer [10] {2}
#   BENCH_WAN_RTTS   round-trip times in ms ["10 50 100"] {50}
#   BENCH_WAN_LOSSES loss per direction: 0, N% (random) or burst ["0 0.1% 0.5% 1% burst"] {0.5%}
#   BENCH_WAN_RATES  bottleneck rates in Mbit/s ["100 1000"] {100}
#   BENCH_WAN_BURST  Gilbert-Elliott P(good→bad),P(bad→good),loss in bad ["0.005,0.25,0.5"], about 1% in bursts of 4
#   BENCH_WAN_QUEUE_MS  bottleneck queue in ms of the rate [the cell's RTT, one BDP]
#   BENCH_WAN_PAGE_RUNS  page loads per command [3] {1}
#   BENCH_WAN_ONLY   "page": only the page-load row; it replaces just that
#                    part (<!-- wan-page:begin/end -->) of the WAN section
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

smoke=0 wan=0 load=0
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        --wan) wan=1 ;;
        --load) load=1 ;;
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
    HTTPS_MIB="${BENCH_HTTPS_MIB:-4}"
    SMOL_MTUS="${BENCH_SMOL_MTUS:-1500}"
else
    RUNS="${BENCH_RUNS:-5}" MTUS="${BENCH_MTUS:-1500 9000 65535}" MIB="${BENCH_MIB:-1024}"
    SECS="${BENCH_SECS:-2}" RR="${BENCH_RR:-20000}" CRR="${BENCH_CRR:-3000}"
    CONNS="${BENCH_CONNS:-2000}" PROFILE="${BENCH_PROFILE:-release}"
    DOC="${BENCH_DOC-docs/benchmarks.md}"
    HTTPS_MIB="${BENCH_HTTPS_MIB:-512}"
    SMOL_MTUS="${BENCH_SMOL_MTUS:-1500}"
fi
ROWS="${BENCH_ROWS:-}"
# Generous per-command limit: a hang fails the bench, slowness never does.
LIMIT=300

# The parts under scripts/bench/, each sourced from the repository root and
# sharing this shell's variables; they run in this order:
#   common.sh      the build, the namespaces and their cleanup, one measurement
#   wan.sh         --wan: its settings, one cell of the line, one transfer
#   wan-probes.sh  --wan: emulator overhead, time to first byte, page load
#   wan-table.sh   --wan: the goodput table and the WAN section of $DOC
#   https.sh       nginx with TLS for the https rows
#   rows.sh        the rows of the table and their runs
#   table.sh       the tables printed from the runs
#   doc.sh         $DOC above its marker line
# --load hands over to scripts/bench-load.sh after the build.

# shellcheck source=scripts/bench/common.sh
. scripts/bench/common.sh

if [ "$wan" -eq 1 ]; then
    # shellcheck source=scripts/bench/wan.sh
    . scripts/bench/wan.sh
    # shellcheck source=scripts/bench/wan-probes.sh
    . scripts/bench/wan-probes.sh
    # shellcheck source=scripts/bench/wan-table.sh
    . scripts/bench/wan-table.sh
    wan_bench
    wan_write_doc
    exit 0
fi

if [ "$load" -eq 1 ]; then
    # shellcheck source=scripts/bench-load.sh
    . scripts/bench-load.sh
fi

# shellcheck source=scripts/bench/https.sh
. scripts/bench/https.sh
# shellcheck source=scripts/bench/rows.sh
. scripts/bench/rows.sh
# shellcheck source=scripts/bench/table.sh
. scripts/bench/table.sh
[ -n "$DOC" ] || exit 0
# shellcheck source=scripts/bench/doc.sh
. scripts/bench/doc.sh
