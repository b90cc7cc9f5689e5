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

# --- build (as the invoking user under sudo, so target/ stays theirs) -------------
. scripts/lib.sh

build=(build --quiet --features tokio --example bench_tcp --example bench_rawtun --example bench_smoltcp --example bench_tokio --example bench_multiq --bin tunstack)
if [ "$wan" -eq 1 ]; then
    build=(build --quiet --bin tunstack --example wan)
fi
if [ "$load" -eq 1 ]; then
    build=(build --quiet --bin tunstack)
fi
if [ "$PROFILE" = release ]; then
    build+=(--release)
elif [ "$PROFILE" != debug ]; then
    echo "scripts/bench.sh: BENCH_PROFILE must be release or debug" >&2
    exit 2
fi
echo "==> building the bench examples ($PROFILE)"
cargo_as_invoker "${build[@]}"
bin="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/examples"
wanted=(bench_tcp bench_rawtun bench_smoltcp bench_tokio bench_multiq)
if [ "$wan" -eq 1 ]; then
    wanted=(wan)
fi
[ "$load" -eq 0 ] || wanted=()
for b in "${wanted[@]}"; do
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
    if [ "$wan" -eq 1 ]; then
        WAN_NS="$prefix-wan" WAN_BIN="$bin/wan" scripts/wan.sh down > /dev/null 2>&1 || true
    fi
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
    veth_run_with bench_tcp "$@"
}

veth_run_with() { # EXAMPLE MTU SERVER_TEST CLIENT_TEST CLIENT_ARGS...
    local ex="$1" mtu="$2" stest="$3" ctest="$4" a b server
    shift 4
    new_ns a
    new_ns b
    ip -n "$a" link add veth0 mtu "$mtu" type veth peer name veth1 netns "$b" mtu "$mtu"
    ip -n "$a" addr add 10.0.0.1/24 dev veth0
    ip -n "$b" addr add 10.0.0.2/24 dev veth1
    ip -n "$a" link set veth0 up
    ip -n "$b" link set veth1 up
    ip netns exec "$b" "$bin/$ex" kernel-server "$stest" --bind 10.0.0.2:5001 \
        > "$logdir/server.log" 2>&1 &
    server=$!
    bg_pids+=("$server")
    result_of ip netns exec "$a" "$bin/$ex" kernel-client "$ctest" --to 10.0.0.2:5001 "$@"
    kill "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    del_ns "$a" "$b"
}

# --- https ---------------------------------------------------------------------------
# nginx with TLS serving HTTPS_MIB MiB (a sparse file) as https://bench.test:8443/big,
# with a CA and a server certificate made here; the same files for both rows.
https_setup() {
    local c
    for c in nginx curl openssl; do
        command -v "$c" > /dev/null 2>&1 || {
            echo "scripts/bench.sh: '$c' not found for the https rows (Debian: apt-get install nginx curl openssl; or BENCH_ROWS to skip them)" >&2
            exit 2
        }
    done
    TLS_DIR="$logdir/tls"
    mkdir -p "$TLS_DIR/www"
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 2 -subj "/CN=tunstack bench CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj /CN=bench.test
        printf 'subjectAltName=DNS:bench.test\nextendedKeyUsage=serverAuth\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem
    ) > "$logdir/openssl.log" 2>&1 || {
        sed 's/^/    /' "$logdir/openssl.log" >&2
        exit 1
    }
    truncate -s "${HTTPS_MIB}M" "$TLS_DIR/www/big"
    cat > "$TLS_DIR/nginx.conf" << EOF
daemon off; pid $TLS_DIR/nginx.pid; error_log $TLS_DIR/error.log; worker_processes 1; user root;
events { worker_connections 64; }
http { access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path $TLS_DIR/b; proxy_temp_path $TLS_DIR/p; fastcgi_temp_path $TLS_DIR/f;
  uwsgi_temp_path $TLS_DIR/u; scgi_temp_path $TLS_DIR/s;
  server { listen 8443 ssl; root $TLS_DIR/www; ssl_protocols TLSv1.3;
    ssl_certificate $TLS_DIR/server.pem; ssl_certificate_key $TLS_DIR/server.key; } }
EOF
}

# nginx from https_setup in NS, once it answers on loopback; its pid in HTTPS_NGINX.
https_nginx() { # NS
    local i
    ip netns exec "$1" nginx -c "$TLS_DIR/nginx.conf" -p "$TLS_DIR" > "$logdir/nginx.log" 2>&1 &
    HTTPS_NGINX=$!
    bg_pids+=("$HTTPS_NGINX")
    for i in $(seq 100); do
        ip netns exec "$1" curl -s -o /dev/null -k -r 0-0 https://127.0.0.1:8443/big && return 0
        sleep 0.1
    done
    echo "scripts/bench.sh: nginx with TLS did not start" >&2
    sed 's/^/    /' "$logdir/nginx.log" "$TLS_DIR/error.log" >&2
    exit 1
}

# Runs a download COMMAND that prints "%{size_download} %{time_total}" and
# sets R_VALUE (Gbit/s of body) and R_UNIT; a short or failed one stops the bench.
https_result() { # COMMAND...
    local log="$logdir/run.log" rc=0 size secs
    timeout --kill-after=10 "$LIMIT" "$@" > "$log" 2> "$logdir/run.err" || rc=$?
    read -r size secs < <(tail -n 1 "$log")
    if [ "$rc" -ne 0 ] || [ "${size:-0}" != "$((HTTPS_MIB << 20))" ]; then
        echo "scripts/bench.sh: failed (exit $rc, ${size:-0} bytes): $*" >&2
        sed 's/^/    /' "$logdir/run.err" >&2
        exit 1
    fi
    R_VALUE="$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.3f", b * 8 / s / 1e9 }')"
    R_UNIT=Gbit/s
}

# `tunstack get` in a fresh namespace with nginx (tun0 comes up with tunstack).
https_tun_run() {
    local ns
    new_ns ns
    https_nginx "$ns"
    https_result ip netns exec "$ns" "$TS_BIN" get -s -o /dev/null --cacert "$TLS_DIR/ca.pem" \
        --resolve bench.test:10.0.0.1 -w '%{size_download} %{time_total}\n' https://bench.test:8443/big
    kill "$HTTPS_NGINX" 2> /dev/null || true
    wait "$HTTPS_NGINX" 2> /dev/null || true
    del_ns "$ns"
}

# curl (the kernel's TCP) in A, nginx in B, over a veth pair (MTU 1500).
https_veth_run() {
    local a b
    new_ns a
    new_ns b
    ip -n "$a" link add veth0 type veth peer name veth1 netns "$b"
    ip -n "$a" addr add 10.0.0.1/24 dev veth0
    ip -n "$b" addr add 10.0.0.2/24 dev veth1
    ip -n "$a" link set veth0 up
    ip -n "$b" link set veth1 up
    https_nginx "$b"
    https_result ip netns exec "$a" curl -s -o /dev/null --cacert "$TLS_DIR/ca.pem" \
        --resolve bench.test:8443:10.0.0.2 -w '%{size_download} %{time_total}\n' https://bench.test:8443/big
    kill "$HTTPS_NGINX" 2> /dev/null || true
    wait "$HTTPS_NGINX" 2> /dev/null || true
    del_ns "$a" "$b"
}

# --- WAN (--wan) --------------------------------------------------------------------
# One cell = one emulator configuration; scripts/wan.sh makes the namespaces
# $prefix-wan-cli (tunstack on tun0, curl and iperf3 clients, an nginx for
# the Linux upload) and $prefix-wan-srv (nginx, iperf3 server, the curl that
# fetches from tunstack serve) and the line between them.
if [ "$wan" -eq 1 ]; then
    for c in nginx curl iperf3 ping python3; do
        command -v "$c" > /dev/null 2>&1 || {
            echo "scripts/bench.sh --wan: '$c' not found (Debian: apt-get install nginx curl iperf3 iputils-ping python3)" >&2
            exit 2
        }
    done
    if [ "$smoke" -eq 1 ]; then
        W_SECS="${BENCH_WAN_SECS:-2}" W_RTTS="${BENCH_WAN_RTTS:-50}"
        W_LOSSES="${BENCH_WAN_LOSSES:-0.5%}" W_RATES="${BENCH_WAN_RATES:-100}"
    else
        W_SECS="${BENCH_WAN_SECS:-10}" W_RTTS="${BENCH_WAN_RTTS:-10 50 100}"
        W_LOSSES="${BENCH_WAN_LOSSES:-0 0.1% 0.5% 1% burst}" W_RATES="${BENCH_WAN_RATES:-100 1000}"
    fi
    W_BURST="${BENCH_WAN_BURST:-0.005,0.25,0.5}"
    W_PAGE_RUNS="${BENCH_WAN_PAGE_RUNS:-3}"
    [ "$smoke" -eq 0 ] || W_PAGE_RUNS="${BENCH_WAN_PAGE_RUNS:-1}"
    export WAN_NS="$prefix-wan" WAN_BIN="$bin/wan"
    # tunstack's buffer ceilings from the namespaces' tcp_rmem[2] and
    # tcp_wmem[2] (scripts/wan.sh sets both to WAN_TCP_MEM_MAX).
    # --rcvbuf-max is memory like tcp_rmem[2]: tunstack's window opens to
    # 5/8 of it, the window Linux advertises from the same memory (32 MiB:
    # 20 MiB, measured on the line). With 32 MiB of window at 1 Gbit/s and
    # 100 ms (more than the 25 MB of BDP plus queue) the Linux BBR sender
    # overfilled the queue (17.9k drops, 467-523 Mbit/s against Linux's
    # 743); with 20 MiB, 746-749 against 746-749.
    W_MEM="${WAN_TCP_MEM_MAX:-33554432}"
    W_TS_MEM=(--rcvbuf-max "$W_MEM" --sndbuf-max "$W_MEM")
    CLI="$WAN_NS-cli" SRV="$WAN_NS-srv"
    TS="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/tunstack"
    www="$logdir/www"
    mkdir -p "$www"
    # Big enough that no transfer ends before its time limit (sparse: no disk).
    truncate -s 8G "$www/big"
    head -c 1024 /dev/urandom > "$www/small"
    # --cc exists once tunstack has more than one congestion control.
    TS_CCS=()
    if "$TS" get --help 2>&1 | grep -q -- '--cc'; then
        TS_CCS=(bbr cubic newreno)
    fi
    LINUX_CCS=(bbr cubic reno)
    W_ONLY="${BENCH_WAN_ONLY:-}"
    case "$W_ONLY" in
        "" | page) ;;
        *)
            echo "scripts/bench.sh: BENCH_WAN_ONLY must be empty or page, not '$W_ONLY'" >&2
            exit 2
            ;;
    esac
    command -v wget > /dev/null 2>&1 || {
        echo "scripts/bench.sh --wan: 'wget' not found (Debian: apt-get install wget)" >&2
        exit 2
    }
fi

# nginx serving $www on ADDR:8080 inside NS, logs under $logdir/nginx-NS.
wan_nginx() { # NS ADDR
    local d="$logdir/nginx-$1"
    mkdir -p "$d"
    cat > "$d/nginx.conf" << EOF
daemon off; pid $d/nginx.pid; error_log $d/error.log; worker_processes 1; user root;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path $d/b; proxy_temp_path $d/p; fastcgi_temp_path $d/f;
  uwsgi_temp_path $d/u; scgi_temp_path $d/s;
  types { text/html html; text/css css; application/javascript js; image/png png; font/woff2 woff2; }
  server { listen $2:8080; root $www; } }
EOF
    ip netns exec "$1" nginx -c "$d/nginx.conf" -p "$d" > "$d/out.log" 2>&1 &
    bg_pids+=("$!")
}

# Waits until URL answers from NS (a server just started).
wan_wait_url() { # NS URL
    local i
    for i in $(seq 100); do
        ip netns exec "$1" curl -s -o /dev/null -m 2 "$2" && return 0
        sleep 0.1
    done
    echo "scripts/bench.sh: $2 never answered from $1" >&2
    return 1
}

# Brings a cell up: the line shaped by EMULATOR OPTIONS, then the servers.
wan_cell_up() { # EMULATOR OPTIONS...
    scripts/wan.sh up "$@" 2> "$logdir/wan-up.log" || {
        sed 's/^/    /' "$logdir/wan-up.log" >&2
        exit 1
    }
    local ns
    for ns in "$CLI" "$SRV"; do
        # Each transfer starts from scratch, not from cached ssthresh/RTT.
        ip netns exec "$ns" sysctl -qw net.ipv4.tcp_no_metrics_save=1
    done
    wan_nginx "$SRV" 10.9.0.2
    wan_nginx "$CLI" 10.9.0.1
    ip netns exec "$SRV" iperf3 -s -B 10.9.0.2 > "$logdir/iperf3-s.log" 2>&1 &
    bg_pids+=("$!")
    wan_wait_url "$CLI" http://10.9.0.2:8080/small
    wan_wait_url "$SRV" http://10.9.0.1:8080/small
}

wan_cell_down() {
    scripts/wan.sh down > "$logdir/wan-down.log" 2>&1 || true
}

# Mbit/s of BYTES in SECONDS; "—" when nothing arrived (a failed run).
mbit() { awk -v b="${1:-0}" -v s="${2:-0}" 'BEGIN { if (s > 0 && b > 0) printf "%.1f", b * 8 / s / 1e6; else print "—" }'; }

# Goodput (Mbit/s) of kernel curl in NS fetching URL for W_SECS.
wan_curl() { # NS URL
    local out
    out="$(ip netns exec "$1" curl -s -o /dev/null -m "$W_SECS" -w '%{size_download} %{time_total}' "$2" || true)"
    # shellcheck disable=SC2086 # two fields
    mbit $out
}

# Download: `tunstack get` in the client namespace for W_SECS (-m), body
# counted by wc; the time limit includes the handshake, as curl's does.
wan_ts_down() { # CC|default
    local cc=() bytes
    [ "$1" = default ] || cc=(--cc "$1")
    bytes="$(ip netns exec "$CLI" timeout $((W_SECS + 30)) "$TS" get -s -m "$W_SECS" "${cc[@]}" "${W_TS_MEM[@]}" \
        http://10.9.0.2:8080/big 2> "$logdir/ts-get.log" | wc -c)"
    mbit "$bytes" "$W_SECS"
}

# Upload: `tunstack serve` in the client namespace, kernel curl fetching
# from the server namespace.
wan_ts_up() { # CC|default
    local cc=() pid r
    [ "$1" = default ] || cc=(--cc "$1")
    ip netns exec "$CLI" "$TS" serve --dir "$www" --port 8081 "${cc[@]}" "${W_TS_MEM[@]}" > "$logdir/ts-serve.log" 2>&1 &
    pid=$!
    bg_pids+=("$pid")
    if wan_wait_url "$SRV" http://10.0.0.2:8081/small; then
        r="$(wan_curl "$SRV" http://10.0.0.2:8081/big)"
    else
        sed 's/^/    /' "$logdir/ts-serve.log" >&2
        r="—"
    fi
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    echo "$r"
}

# Linux with one algorithm: iperf3 -C, the client namespace sending (up)
# or receiving (down, -R).
wan_iperf() { # up|down CC
    local rev=()
    [ "$1" = down ] && rev=(-R)
    ip netns exec "$CLI" iperf3 -c 10.9.0.2 -t "$W_SECS" -C "$2" "${rev[@]}" -J 2> /dev/null |
        python3 -c 'import json, sys
try:
    print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("—")'
}

ratio_of() { awk -v n="$1" -v d="$2" 'BEGIN { if (n != "—" && d != "—" && d > 0) printf "%.2f×", n / d; else print "—" }'; }

# Emulator overhead: Linux to Linux through the unshaped line against a
# direct veth pair (iperf3 with the host's default algorithm, ping).
wan_overhead() {
    local a b rtt_veth thr_veth rtt_line thr_line
    new_ns a
    new_ns b
    ip -n "$a" link add veth0 type veth peer name veth1 netns "$b"
    ip -n "$a" addr add 10.9.0.1/30 dev veth0
    ip -n "$b" addr add 10.9.0.2/30 dev veth1
    ip -n "$a" link set veth0 up
    ip -n "$b" link set veth1 up
    ip netns exec "$b" iperf3 -s -1 -B 10.9.0.2 > /dev/null 2>&1 &
    bg_pids+=("$!")
    sleep 0.5
    thr_veth="$(CLI="$a" wan_iperf up "$(sysctl -n net.ipv4.tcp_congestion_control)")"
    rtt_veth="$(ip netns exec "$a" ping -c 200 -i 0.005 -q 10.9.0.2 | awk -F/ '/^rtt/ {print $5}')"
    del_ns "$a" "$b"
    wan_cell_up
    thr_line="$(wan_iperf up "$(sysctl -n net.ipv4.tcp_congestion_control)")"
    rtt_line="$(ip netns exec "$CLI" ping -c 200 -i 0.005 -q 10.9.0.2 | awk -F/ '/^rtt/ {print $5}')"
    wan_cell_down
    W_OVERHEAD_LINE="$thr_line"
    OVERHEAD_TABLE="| path | Linux → Linux, iperf3 (Mbit/s) | ping RTT (ms, mean of 200) |
|---|---:|---:|
| direct veth | $thr_veth | $rtt_veth |
| through the emulator, no shaping | $thr_line | $rtt_line |
| emulator / veth | $(ratio_of "$thr_line" "$thr_veth") | +$(awk -v a="$rtt_line" -v b="$rtt_veth" 'BEGIN { printf "%.3f", a - b }') ms |"
    echo "$OVERHEAD_TABLE"
}

# Time to first byte of a 1 KiB response at 50 ms RTT: `tunstack get`'s own
# timing (from before the connection to the last byte) against curl's.
wan_ttfb() {
    local ts curl_ttfb curl_total
    wan_cell_up --delay-ms 25
    ts="$(ip netns exec "$CLI" "$TS" get -o /dev/null http://10.9.0.2:8080/small 2>&1 |
        awk '/bytes in/ { for (i = 1; i < NF; i++) if ($(i + 1) == "s") { printf "%.1f", $i * 1000; exit } }')"
    read -r curl_ttfb curl_total < <(ip netns exec "$CLI" curl -s -o /dev/null \
        -w '%{time_starttransfer} %{time_total}\n' http://10.9.0.2:8080/small |
        awk '{ printf "%.1f %.1f\n", $1 * 1000, $2 * 1000 }')
    wan_cell_down
    TTFB_TABLE="| 1 KiB GET at 50 ms RTT (target: handshake + 1 RTT = 100 ms) | ms |
|---|---:|
| \`tunstack get\`, connect to last byte | ${ts:-—} |
| curl, time to first byte | $curl_ttfb |
| curl, total | $curl_total |"
    echo "$TTFB_TABLE"
}

# The page of tests/page_parallel.rs under $www/page: index.html with 3
# stylesheets (one @imports a fourth; together they reference 7 images and
# a font with url()), 5 scripts and 13 images, 1 byte to 60 kB each.
wan_site() {
    local p="$www/page" i
    mkdir -p "$p/css" "$p/js" "$p/img"
    printf '%s\n' '@import "s3.css";' 'body { background: url(../img/bg0.png) }' \
        "h1 { background: url('../img/bg1.png') }" > "$p/css/s0.css"
    printf '%s\n' 'p { background: url("/page/img/bg2.png") }' 'ul { background: url(../img/bg3.png) }' > "$p/css/s1.css"
    printf '%s\n' 'li { background: url(../img/bg4.png) }' 'em { background: url(../img/bg5.png) }' > "$p/css/s2.css"
    printf '%s\n' '@font-face { font-family: f; src: url(../font.woff2) }' 'div { background: url(../img/bg6.png) }' > "$p/css/s3.css"
    head -c 24000 /dev/urandom > "$p/font.woff2"
    for i in $(seq 0 6); do head -c $((3000 + 7000 * i)) /dev/urandom > "$p/img/bg$i.png"; done
    for i in $(seq 0 4); do
        for _ in $(seq $((1 + 300 * i))); do echo "console.log($i);"; done > "$p/js/m$i.js"
    done
    for i in $(seq 0 12); do head -c $((1 + 4300 * i)) /dev/urandom > "$p/img/p$i.png"; done
    {
        echo '<!doctype html><html><head><title>thirty</title>'
        for i in 0 1 2; do echo "<link rel=stylesheet href=css/s$i.css>"; done
        for i in $(seq 0 4); do echo "<script src=js/m$i.js></script>"; done
        echo '</head><body><h1>thirty objects</h1>'
        for i in $(seq 0 12); do echo "<img src=img/p$i.png alt=$i>"; done
        echo '</body></html>'
    } > "$p/index.html"
}

# Seconds COMMAND took (wall clock, from the client namespace) and the
# number of files it left in DIR (emptied first); "—" for the time if it failed.
wan_page_run() { # DIR COMMAND...
    local dir="$1" t0 t1 n
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    t0="$(date +%s.%N)"
    if ip netns exec "$CLI" timeout 120 "$@" > "$logdir/page-run.log" 2>&1; then
        t1="$(date +%s.%N)"
        n="$(find "$dir" -type f | wc -l)"
        awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.3f %d\n", b - a, n }'
    else
        sed 's/^/    page: /' "$logdir/page-run.log" >&2
        echo "— 0"
    fi
}

# Median of the first fields (— if any is —).
median_of() { sort -n | awk '{ v[NR] = $1; if ($1 == "—") bad = 1 } END { if (bad || NR == 0) print "—"; else print v[int((NR + 1) / 2)] }'; }

# Page load at 50 ms RTT, 100 Mbit/s, no loss: the page above from nginx in
# the server namespace, loaded by `tunstack get -p` one object after another
# (--parallel 1) and over 6 connections, and by the kernel's `wget -p`, the
# three interleaved W_PAGE_RUNS times in the same cell; medians and ratios.
wan_page() {
    local url=http://10.9.0.2:8080/page/index.html d="$logdir/page-dl" i
    local seq=() par=() wg=() n_seq n_par n_wg t n
    wan_site
    wan_cell_up --delay-ms 25 --rate-mbit 100 --queue-ms 50 --seed 1
    wan_wait_url "$CLI" "$url"
    for i in $(seq "$W_PAGE_RUNS"); do
        read -r t n_seq < <(wan_page_run "$d" "$TS" get -s -p -P "$d" --parallel 1 "$url")
        seq+=("$t")
        read -r t n_par < <(wan_page_run "$d" "$TS" get -s -p -P "$d" --parallel 6 "$url")
        par+=("$t")
        read -r t n_wg < <(wan_page_run "$d" wget -q -p -P "$d" "$url")
        wg+=("$t")
        echo "    run $i: --parallel 1 ${seq[-1]} s ($n_seq files), --parallel 6 ${par[-1]} s ($n_par), wget -p ${wg[-1]} s ($n_wg)"
    done
    wan_cell_down
    # A load that failed, or a tunstack load that missed objects, is what
    # the smoke run fails on (never the times).
    PAGE_FAILED=""
    [[ "${seq[*]} ${par[*]} ${wg[*]}" != *"—"* ]] || PAGE_FAILED="a page load failed (— above)"
    [ "$n_seq" = 31 ] && [ "$n_par" = 31 ] ||
        PAGE_FAILED="tunstack get -p saved $n_seq / $n_par files (--parallel 1 / 6), not the page's 31"
    local m_seq m_par m_wg
    m_seq="$(printf '%s\n' "${seq[@]}" | median_of)"
    m_par="$(printf '%s\n' "${par[@]}" | median_of)"
    m_wg="$(printf '%s\n' "${wg[@]}" | median_of)"
    PAGE_TABLE="| page of 31 objects (HTML + 30) at 50 ms RTT, 100 Mbit/s, no loss | s (median of $W_PAGE_RUNS) | runs (s) | files saved |
|---|---:|---|---:|
| \`tunstack get -p --parallel 1\` (sequential) | $m_seq | ${seq[*]} | $n_seq |
| \`tunstack get -p --parallel 6\` | $m_par | ${par[*]} | $n_par |
| \`wget -p\` (kernel TCP) | $m_wg | ${wg[*]} | $n_wg |
| parallel 6 / sequential (target ≤ 0.35×) | $(ratio_of "$m_par" "$m_seq") | | |
| parallel 6 / wget (target ≤ 1.0×) | $(ratio_of "$m_par" "$m_wg") | | |"
    echo "$PAGE_TABLE"
}

wan_bench() {
    local rtt loss rate dir cc shape=() key label r t0 rows="" n_ts=${#TS_CCS[@]} skipped=""
    echo "==> WAN: $W_SECS s per transfer; RTT $W_RTTS ms; loss $W_LOSSES; rate $W_RATES Mbit/s; tunstack --cc: ${TS_CCS[*]:-(not in this build: default only)}"
    t0=$SECONDS
    if [ "$W_ONLY" = page ]; then
        echo "==> page load (BENCH_WAN_ONLY=page: nothing else)"
        wan_page
        W_ELAPSED=$((SECONDS - t0))
        [ -z "$PAGE_FAILED" ] || { echo "scripts/bench.sh --wan: $PAGE_FAILED; logs in $logdir" >&2; exit 1; }
        return 0
    fi
    echo "==> emulator overhead"
    wan_overhead
    echo "==> time to first byte"
    wan_ttfb
    echo "==> page load"
    wan_page
    local head="| RTT | loss | rate | direction | tunstack default"
    for cc in "${TS_CCS[@]}"; do head+=" | tunstack $cc"; done
    head+=" | Linux default (curl)"
    for cc in "${LINUX_CCS[@]}"; do head+=" | Linux $cc (iperf3)"; done
    head+=" | tunstack default / Linux default"
    [ "$n_ts" -gt 0 ] && head+=" | tunstack / Linux per algorithm (bbr, cubic, newreno/reno)"
    head+=" |"
    local sep="|---|---|---|---|---:"
    for cc in "${TS_CCS[@]}"; do sep+="|---:"; done
    sep+="|---:"
    for cc in "${LINUX_CCS[@]}"; do sep+="|---:"; done
    sep+="|---:"
    [ "$n_ts" -gt 0 ] && sep+="|---"
    sep+="|"
    echo "$head"
    echo "$sep"
    for rate in $W_RATES; do
        if [ "$rate" -ge 1000 ] && awk -v t="${W_OVERHEAD_LINE:-0}" -v r="$rate" 'BEGIN { exit !(t == "—" || t < r * 1.2) }'; then
            skipped+=" $rate"
            continue
        fi
        for rtt in $W_RTTS; do
            for loss in $W_LOSSES; do
                shape=(--delay-ms "$(awk -v r="$rtt" 'BEGIN { print r / 2 }')" --rate-mbit "$rate"
                    --queue-ms "${BENCH_WAN_QUEUE_MS:-$rtt}" --seed 1)
                # At 1 Gbit/s the line wakes at most every 50 us instead of
                # spinning for every packet: the CPU the endpoints need.
                [ "$rate" -lt 1000 ] || shape+=(--spin-us 0 --batch-us 50)
                label="$loss"
                case "$loss" in
                    burst)
                        shape+=(--burst "$W_BURST")
                        label="bursty (GE $W_BURST)"
                        ;;
                    0) label="0" ;;
                    *) shape+=(--loss "$loss") ;;
                esac
                wan_cell_up "${shape[@]}"
                for dir in down up; do
                    local ts_def linux_def row ts=() lx=() per=""
                    if [ "$dir" = down ]; then
                        ts_def="$(wan_ts_down default)"
                        for cc in "${TS_CCS[@]}"; do ts+=("$(wan_ts_down "$cc")"); done
                        linux_def="$(wan_curl "$CLI" http://10.9.0.2:8080/big)"
                    else
                        ts_def="$(wan_ts_up default)"
                        for cc in "${TS_CCS[@]}"; do ts+=("$(wan_ts_up "$cc")"); done
                        linux_def="$(wan_curl "$SRV" http://10.9.0.1:8080/big)"
                    fi
                    for cc in "${LINUX_CCS[@]}"; do lx+=("$(wan_iperf "$dir" "$cc")"); done
                    row="| $rtt ms | $label | $rate Mbit/s | $dir | $ts_def"
                    for r in "${ts[@]}"; do row+=" | $r"; done
                    row+=" | $linux_def"
                    for r in "${lx[@]}"; do row+=" | $r"; done
                    row+=" | $(ratio_of "$ts_def" "$linux_def")"
                    if [ "$n_ts" -gt 0 ]; then
                        for i in $(seq 0 $((n_ts - 1))); do per+="${per:+, }$(ratio_of "${ts[$i]}" "${lx[$i]}")"; done
                        row+=" | $per"
                    fi
                    row+=" |"
                    echo "$row"
                    rows+="$row"$'\n'
                done
                wan_cell_down
            done
        done
    done
    WAN_TABLE="$head"$'\n'"$sep"$'\n'"${rows%$'\n'}"
    W_ELAPSED=$((SECONDS - t0))
    # A failed transfer shows as "—"; at smoke size that fails the bench,
    # which is what keeps it from rotting.
    if [ "$smoke" -eq 1 ] && [ -n "$PAGE_FAILED" ]; then
        echo "scripts/bench.sh --wan --smoke: $PAGE_FAILED; logs in $logdir" >&2
        exit 1
    fi
    if [ "$smoke" -eq 1 ] && [[ "$rows$OVERHEAD_TABLE$TTFB_TABLE" == *"—"* ]]; then
        echo "scripts/bench.sh --wan --smoke: a transfer failed (— above); logs in $logdir" >&2
        for f in "$logdir"/ts-*.log; do [ -f "$f" ] && sed "s|^|    $(basename "$f"): |" "$f" >&2; done
        exit 1
    fi
    [ -z "$skipped" ] || W_SKIPPED="Rates of$skipped Mbit/s were skipped: the unshaped emulator carried only ${W_OVERHEAD_LINE} Mbit/s on this machine."
    echo "(${W_ELAPSED} s)${W_SKIPPED:+ $W_SKIPPED}"
}

# The page-load part of the WAN section, between its own markers so that
# BENCH_WAN_ONLY=page can replace just it.
wan_page_doc() {
    cat << EOF
<!-- wan-page:begin -->
### Page load

Measured $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2> /dev/null || echo unknown), \`$PROFILE\` build.
The page of \`tests/page_parallel.rs\` (HTML, 4 stylesheets one of them
reached by \`@import\`, 5 scripts, 20 images and a font; 1 byte to 60 kB)
on nginx in the server namespace, over the line at 50 ms RTT, 100 Mbit/s,
no loss. Each load is timed from the client namespace, process start to
exit, into an empty directory; the three commands take turns in one cell.
wget saves 29 files: it does not follow the references of the
\`@import\`ed stylesheet (its font and image), two fetches fewer than
tunstack's 31.

$PAGE_TABLE

\`\`\`sh
sudo BENCH_WAN_ONLY=page scripts/bench.sh --wan    # this part alone
\`\`\`
<!-- wan-page:end -->
EOF
}

# Replaces the lines from <!-- NAME:begin --> to <!-- NAME:end --> of $DOC
# with the file SECTION (appends SECTION if the markers are missing).
splice_doc() { # NAME SECTION
    if [ -f "$DOC" ] && grep -q "^<!-- $1:begin -->\$" "$DOC"; then
        awk -v file="$2" -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" '
            $0 == b { while ((getline l < file) > 0) print l; skip = 1; next }
            $0 == e { skip = 0; next }
            !skip { print }' "$DOC" > "$DOC.tmp"
    else
        { cat "$DOC" 2> /dev/null || true; echo; cat "$2"; } > "$DOC.tmp"
    fi
    mv "$DOC.tmp" "$DOC"
}

wan_doc() {
    local sender
    sender="$(ip netns exec "$SRV" sysctl -n net.ipv4.tcp_congestion_control 2> /dev/null ||
        sysctl -n net.ipv4.tcp_congestion_control)"
    cat << EOF
<!-- wan:begin -->
## WAN: tunstack and Linux over the same emulated path

Measured by \`sudo scripts/bench.sh --wan\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2> /dev/null || echo unknown), \`$PROFILE\` build; ${W_ELAPSED} s.
The path is \`scripts/wan.sh\`: a client namespace (tunstack on tun0, the
kernel forwarding between tun0 and the line; the kernel's own curl and
iperf3 clients) and a server namespace (nginx, iperf3 server, the curl that
fetches from \`tunstack serve\`), joined by the userspace delay line of
\`examples/wan\` (two TUN devices; seeded loss, a bottleneck at the given
rate with a queue of one RTT of that rate, half the RTT of delay each way).
Loss applies to both directions. One transfer of $W_SECS s per number, in the
same run for every column of a row; Mbit/s is HTTP body or iperf3 payload
goodput including the handshake. \`download\`: the sender is Linux (nginx
with the host default, **$sender**; iperf3 -R with the named algorithm)
and the receiver is tunstack (\`tunstack get\`) or Linux (curl). \`upload\`:
the receiver is Linux (curl in the server namespace) and the sender is
tunstack (\`tunstack serve\`) or Linux (nginx in the client namespace; iperf3
-C). Linux's default is $(sysctl -n net.ipv4.tcp_congestion_control). One run per number: read the ratios, not the
last digit.

### Emulator overhead

$OVERHEAD_TABLE

### Time to first byte

$TTFB_TABLE

$(wan_page_doc)

### Goodput (Mbit/s)

$WAN_TABLE
${W_SKIPPED:+
$W_SKIPPED}

\`\`\`sh
sudo scripts/bench.sh --wan    # BENCH_WAN_SECS=$W_SECS BENCH_WAN_RTTS="$W_RTTS" BENCH_WAN_LOSSES="$W_LOSSES" BENCH_WAN_RATES="$W_RATES" BENCH_WAN_BURST=$W_BURST
sudo scripts/wan.sh up --delay-ms 25 --rate-mbit 100 --queue-ms 50 --loss 0.5% --seed 1   # one cell by hand
\`\`\`
<!-- wan:end -->
EOF
}

if [ "$wan" -eq 1 ]; then
    wan_bench
    [ -n "$DOC" ] || exit 0
    if [ "$W_ONLY" = page ]; then
        wan_page_doc > "$logdir/section"
        splice_doc wan-page "$logdir/section"
    else
        wan_doc > "$logdir/section"
        splice_doc wan "$logdir/section"
    fi
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        chown "$SUDO_USER:" "$DOC" 2> /dev/null || true
    fi
    echo "wrote the WAN section of $DOC"
    exit 0
fi

# --- load (--load) ------------------------------------------------------------------
if [ "$load" -eq 1 ]; then
    # shellcheck source=scripts/bench-load.sh
    . scripts/bench-load.sh
fi

# --- rows ---------------------------------------------------------------------------
# Each row: a key, a label, the MTU, and the command of one run. Values are
# collected per key over all runs; runs are the outer loop so that a busy
# moment on the machine spreads over every row instead of hitting one.
declare -a KEYS=()
declare -A LABEL=() MTU=() CMD=() VALUES=() UNIT=() SHOWN=()

row() { # KEY LABEL MTU SHOWN-COMMAND -- RUN-FUNCTION ARGS...
    local key="$1"
    if [ -n "$ROWS" ] && ! [[ "$key" =~ $ROWS ]]; then
        return 0
    fi
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
    row "ts6_send_$m" "tunstack → kernel over IPv6, 1 connection" "$m" \
        "ip netns exec NS $E/bench_tcp tun send --mtu $m --mib $MIB --family 6" \
        -- tun_run "$bin/bench_tcp" tun send --mtu "$m" --mib "$MIB" --family 6
    row "ts6_recv_$m" "kernel → tunstack over IPv6, 1 connection" "$m" \
        "ip netns exec NS $E/bench_tcp tun recv --mtu $m --mib $MIB --family 6" \
        -- tun_run "$bin/bench_tcp" tun recv --mtu "$m" --mib "$MIB" --family 6
    row "ts6_send_off_$m" "tunstack → kernel over IPv6, offload" "$m" \
        "ip netns exec NS $E/bench_tcp tun send --mtu $m --mib $MIB --offload 1 --family 6" \
        -- tun_run "$bin/bench_tcp" tun send --mtu "$m" --mib "$MIB" --offload 1 --family 6
    row "ts6_recv_off_$m" "kernel → tunstack over IPv6, offload" "$m" \
        "ip netns exec NS $E/bench_tcp tun recv --mtu $m --mib $MIB --offload 1 --family 6" \
        -- tun_run "$bin/bench_tcp" tun recv --mtu "$m" --mib "$MIB" --offload 1 --family 6
    # IPv4 with the IPv6 rows' MSS (an MTU 20 bytes smaller: IPv6's header
    # is 40 bytes, IPv4's 20), so the IPv6 / IPv4 gap splits into what the
    # smaller segments cost and what the rest of IPv6 costs; its IPv6 /
    # IPv4 column is the IPv6 row over this one.
    row "ts4mss6_send_$m" "tunstack → kernel over IPv4 at IPv6's MSS (MTU − 20)" "$m" \
        "ip netns exec NS $E/bench_tcp tun send --mtu $((m - 20)) --mib $MIB" \
        -- tun_run "$bin/bench_tcp" tun send --mtu "$((m - 20))" --mib "$MIB"
    row "ts4mss6_recv_$m" "kernel → tunstack over IPv4 at IPv6's MSS (MTU − 20)" "$m" \
        "ip netns exec NS $E/bench_tcp tun recv --mtu $((m - 20)) --mib $MIB" \
        -- tun_run "$bin/bench_tcp" tun recv --mtu "$((m - 20))" --mib "$MIB"
    row "veth_bulk_$m" "kernel → kernel over veth, 1 connection" "$m" \
        "ip netns exec B $E/bench_tcp kernel-server sink --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tcp kernel-client send --to 10.0.0.2:5001 --mib $MIB" \
        -- veth_run "$m" sink send --mib "$MIB"
    # smoltcp's stock buffers are the 64 KiB of its own examples (no window
    # scaling); with them and an MSS close to 64 KiB its Nagle waits for the
    # kernel's delayed ACK after every segment, so by default these rows
    # run at MTU 1500 only.
    case " $SMOL_MTUS " in *" $m "*) ;; *) continue ;; esac
    for b in 65535 1048576; do
        bl=stock
        [ "$b" = 65535 ] || bl=1m
        bt="smoltcp's stock 64 KiB buffers"
        [ "$b" = 65535 ] || bt="1 MiB buffers"
        row "smol_send_${bl}_$m" "smoltcp → kernel, 1 connection, $bt" "$m" \
            "ip netns exec NS $E/bench_smoltcp send --mtu $m --mib $MIB --buf $b" \
            -- tun_run "$bin/bench_smoltcp" send --mtu "$m" --mib "$MIB" --buf "$b"
        row "smol_recv_${bl}_$m" "kernel → smoltcp, 1 connection, $bt" "$m" \
            "ip netns exec NS $E/bench_smoltcp recv --mtu $m --mib $MIB --buf $b" \
            -- tun_run "$bin/bench_smoltcp" recv --mtu "$m" --mib "$MIB" --buf "$b"
    done
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

# Multiqueue TUN: two bulk connections at once (tunstack opens both, one
# per shard), on 1 queue and on 2 queues (IFF_MULTI_QUEUE, a driver
# thread each). MiB per connection.
for q in 1 2; do
    row "mq_send_${q}q" "tunstack → kernel, 2 connections at once, $q queue(s)" 1500 \
        "ip netns exec NS $E/bench_multiq send --queues $q --conns 2 --mib $MIB" \
        -- tun_run "$bin/bench_multiq" send --queues "$q" --conns 2 --mib "$MIB"
    row "mq_recv_${q}q" "kernel → tunstack, 2 connections at once, $q queue(s)" 1500 \
        "ip netns exec NS $E/bench_multiq recv --queues $q --conns 2 --mib $MIB" \
        -- tun_run "$bin/bench_multiq" recv --queues "$q" --conns 2 --mib "$MIB"
done
# The same on offload queues (virtio-net headers on every queue: TSO and
# the kernel's batches, 64 KiB per system call).
for q in 1 2; do
    row "mq_off_send_${q}q" "tunstack → kernel, 2 connections, $q offload queue(s)" 1500 \
        "ip netns exec NS $E/bench_multiq send --queues $q --conns 2 --mib $MIB --offload 1" \
        -- tun_run "$bin/bench_multiq" send --queues "$q" --conns 2 --mib "$MIB" --offload 1
    row "mq_off_recv_${q}q" "kernel → tunstack, 2 connections, $q offload queue(s)" 1500 \
        "ip netns exec NS $E/bench_multiq recv --queues $q --conns 2 --mib $MIB --offload 1" \
        -- tun_run "$bin/bench_multiq" recv --queues "$q" --conns 2 --mib "$MIB" --offload 1
done

# Async: tunstack's side on tunstack::tokio (current-thread runtime).
row async_send "tunstack (tokio) → kernel, 1 connection" 1500 \
    "ip netns exec NS $E/bench_tokio tun send --mib $MIB" \
    -- tun_run "$bin/bench_tokio" tun send --mib "$MIB"
row async_veth_send "tokio: kernel → kernel over veth, 1 connection" 1500 \
    "ip netns exec B $E/bench_tokio kernel-server sink --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tokio kernel-client send --to 10.0.0.2:5001 --mib $MIB" \
    -- veth_run_with bench_tokio 1500 sink send --mib "$MIB"
row async_rr "tunstack (tokio) echo, 1-byte request/response, TCP_NODELAY" 1500 \
    "ip netns exec NS $E/bench_tokio tun rr --count $RR" \
    -- tun_run "$bin/bench_tokio" tun rr --count "$RR"
row async_veth_rr "tokio echo over veth, 1-byte request/response, TCP_NODELAY" 1500 \
    "ip netns exec B $E/bench_tokio kernel-server echo --bind 10.0.0.2:5001 & ip netns exec A $E/bench_tokio kernel-client rr --to 10.0.0.2:5001 --count $RR" \
    -- veth_run_with bench_tokio 1500 echo rr --count "$RR"
row async_idle "tunstack (tokio): CPU while $CONNS async readers wait on an idle stack" 1500 \
    "ip netns exec NS $E/bench_tokio tun idle --conns $CONNS" \
    -- tun_run "$bin/bench_tokio" tun idle --conns "$CONNS"
TS_BIN="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/tunstack"
row ts_https "tunstack get, https download from nginx ($HTTPS_MIB MiB, TLS 1.3)" 1500 \
    "ip netns exec NS target/$PROFILE/tunstack get -s -o /dev/null --cacert ca.pem --resolve bench.test:10.0.0.1 https://bench.test:8443/big" \
    -- https_tun_run
row veth_https "curl over veth, https download from nginx ($HTTPS_MIB MiB, TLS 1.3)" 1500 \
    "ip netns exec B nginx -c nginx.conf & ip netns exec A curl -s -o /dev/null --cacert ca.pem --resolve bench.test:8443:10.0.0.2 https://bench.test:8443/big" \
    -- https_veth_run
if [[ " ${KEYS[*]} " == *" ts_https "* || " ${KEYS[*]} " == *" veth_https "* ]]; then
    [ -x "$TS_BIN" ] || {
        echo "scripts/bench.sh: $TS_BIN was not built" >&2
        exit 1
    }
    https_setup
fi
if [ "${#KEYS[@]}" -eq 0 ]; then
    echo "scripts/bench.sh: BENCH_ROWS='$ROWS' matches no row" >&2
    exit 2
fi

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
        else if (u == "KiB/conn" || u == "ms-CPU/s") printf "%.1f", v
        else printf "%.0f", v }'
}

# The better of smoltcp's two buffer sizes in DIRECTION at MTU: a key, or nothing.
smol_best() { # send|recv MTU
    local s m
    s="$(median "smol_$1_stock_$2")"
    m="$(median "smol_$1_1m_$2")"
    [ -n "$s" ] && [ -n "$m" ] || return 0
    if awk -v s="$s" -v m="$m" 'BEGIN { exit !(s > m) }'; then
        echo "smol_$1_stock_$2"
    else
        echo "smol_$1_1m_$2"
    fi
}

ratio() { # KEY_NUMERATOR KEY_DENOMINATOR -> "0.52×" or ""
    local n d
    n="$(median "$1")"
    d="$(median "$2")"
    [ -n "$n" ] && [ -n "$d" ] || return 0
    awk -v n="$n" -v d="$d" 'BEGIN { if (d > 0) printf "%.2f×", n / d }'
}

table() {
    local key s med lo hi unit raw veth smol best v6
    echo "| measurement | MTU | median | min – max | unit | tunstack / raw TUN | tunstack / kernel veth | tunstack / smoltcp | IPv6 / IPv4 |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
    for key in "${KEYS[@]}"; do
        s="$(stat_of "$key")"
        read -r med lo hi <<< "$s"
        unit="${UNIT[$key]}"
        raw="" veth="" smol="" v6=""
        case "$key" in
            ts6_*) v6="$(ratio "$key" "ts_${key#ts6_}")" ;;
            ts4mss6_*) v6="$(ratio "ts6_${key#ts4mss6_}" "$key")" ;;
        esac
        case "$key" in
            ts_send_*)
                raw="$(ratio "$key" "raw_write_${MTU[$key]}")" veth="$(ratio "$key" "veth_bulk_${MTU[$key]}")"
                best="$(smol_best send "${MTU[$key]}")"
                [ -z "$best" ] || smol="$(ratio "$key" "$best")"
                ;;
            ts_recv_*)
                raw="$(ratio "$key" "raw_read_${MTU[$key]}")" veth="$(ratio "$key" "veth_bulk_${MTU[$key]}")"
                best="$(smol_best recv "${MTU[$key]}")"
                [ -z "$best" ] || smol="$(ratio "$key" "$best")"
                ;;
            ts_rr) raw="$(ratio ts_rr raw_echo)" veth="$(ratio ts_rr veth_rr)" ;;
            ts_crr) veth="$(ratio ts_crr veth_crr)" ;;
            ts_https) veth="$(ratio ts_https veth_https)" ;;
        esac
        printf '| %s | %s | %s | %s – %s | %s | %s | %s | %s | %s |\n' "${LABEL[$key]}" "${MTU[$key]}" \
            "$(fmt "$med" "$unit")" "$(fmt "$lo" "$unit")" "$(fmt "$hi" "$unit")" "$unit" "$raw" "$veth" "$smol" "$v6"
    done
}

# Async against blocking (same test, tunstack's side on the blocking API)
# and against tokio over the kernel's veth. Targets: async >= 0.9x
# blocking, and no CPU while idle.
async_table() {
    local key med unit blocking kernel
    echo "| async measurement | median | unit | async / blocking | async / kernel tokio (veth) |"
    echo "|---|---:|---|---:|---:|"
    for key in async_send async_rr async_idle; do
        [ -n "${VALUES[$key]:-}" ] || continue
        med="$(median "$key")"
        unit="${UNIT[$key]}"
        blocking="" kernel=""
        case "$key" in
            async_send) blocking="$(ratio async_send ts_send_1500)" kernel="$(ratio async_send async_veth_send)" ;;
            async_rr) blocking="$(ratio async_rr ts_rr)" kernel="$(ratio async_rr async_veth_rr)" ;;
        esac
        printf '| %s | %s | %s | %s | %s |\n' "${LABEL[$key]}" "$(fmt "$med" "$unit")" "$unit" "$blocking" "$kernel"
    done
}

# Two bulk connections at once on 2 TUN queues over the same on 1 queue
# (target >= 1.6x).
mq_table() {
    local key s med lo hi unit r
    echo "| multiqueue measurement | median | min – max | unit | 2 queues / 1 queue |"
    echo "|---|---:|---:|---|---:|"
    for key in mq_send_1q mq_send_2q mq_recv_1q mq_recv_2q \
        mq_off_send_1q mq_off_send_2q mq_off_recv_1q mq_off_recv_2q; do
        [ -n "${VALUES[$key]:-}" ] || continue
        read -r med lo hi <<< "$(stat_of "$key")"
        unit="${UNIT[$key]}"
        r=""
        case "$key" in *_2q) r="$(ratio "$key" "${key%_2q}_1q")" ;; esac
        printf '| %s | %s | %s – %s | %s | %s |\n' "${LABEL[$key]}" "$(fmt "$med" "$unit")" \
            "$(fmt "$lo" "$unit")" "$(fmt "$hi" "$unit")" "$unit" "$r"
    done
}

TABLE="$(table)"
ASYNC_TABLE="$(async_table)"
MQ_TABLE="$(mq_table)"
echo
echo "$TABLE"
echo
echo "$ASYNC_TABLE"
echo
echo "$MQ_TABLE"
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
    echo "TCP on both ends of a veth pair (offloads on, as Linux sets them up), and"
    echo "each tunstack bulk row over smoltcp doing the same transfer on the same"
    echo "tun0 with the better of its two buffer sizes (smoltcp has no virtio-net"
    echo "offload, so its rows are plain TUN); each IPv6 row over the same test over"
    echo "IPv4 in the same run (target ≥ 0.9×)."
    echo
    echo "## Async (tokio)"
    echo
    echo "$ASYNC_TABLE"
    echo
    echo "The same bulk and request/response tests with tunstack's side written for"
    echo "tokio (\`tunstack::tokio\`, a current-thread runtime), over the same test"
    echo "through the blocking API (the rows above at MTU 1500) and over tokio on both"
    echo "ends of a veth pair. Targets: async >= 0.9x blocking; no CPU while idle"
    echo "(ms of CPU per second, the whole process, with every reader parked)."
    echo
    echo "## Multiqueue TUN"
    echo
    echo "$MQ_TABLE"
    echo
    echo "Two bulk connections at once, opened by tunstack, on a plain TUN at MTU"
    echo "1500 with one queue and with two (\`Config::queues\`, \`--queues\`: a"
    echo "driver thread per queue, the kernel steering each connection to its"
    echo "queue by its ports). Target: 2 queues ≥ 1.6× 1 queue."
    echo
    echo "## Commands"
    echo
    echo "One run of each row; \`NS\` is a fresh namespace (\`ip netns add NS; ip -n NS"
    echo "link set lo up\`) in which the example creates \`tun0\` (kernel side 10.0.0.1/24"
    echo "and fd00::1/64, tunstack 10.0.0.2 and fd00::2); \`A\` and \`B\` are two fresh namespaces joined by a veth pair"
    echo "(\`ip -n A link add veth0 mtu MTU type veth peer name veth1 netns B mtu MTU\`,"
    echo "10.0.0.1/24 in A, 10.0.0.2/24 in B). Built with \`cargo build ${build[*]:1}\`."
    echo
    echo '```sh'
    echo "sudo scripts/bench.sh    # BENCH_RUNS=$RUNS BENCH_MTUS=\"$MTUS\" BENCH_SMOL_MTUS=\"$SMOL_MTUS\" BENCH_MIB=$MIB BENCH_SECS=$SECS BENCH_RR=$RR BENCH_CRR=$CRR BENCH_CONNS=$CONNS"
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
