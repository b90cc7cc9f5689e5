# Sourced by scripts/bench.sh --wan: the settings of the WAN run (the
# BENCH_WAN_* variables), one cell of the emulated line with its servers,
# and one transfer each of tunstack and Linux over it.
#
# One cell = one emulator configuration; scripts/wan.sh makes the namespaces
# $prefix-wan-cli (tunstack on tun0, curl and iperf3 clients, an nginx for
# the Linux upload) and $prefix-wan-srv (nginx, iperf3 server, the curl that
# fetches from tunstack serve) and the line between them.
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
# Read once what the transfers will read, before the table: the first
# read of a sparse file's page makes the kernel zero-fill it, and that
# cost the table's first transfer half its sender's CPU at 1 Gbit/s
# (docs/wan-traces.md, "1 Gbit/s, 10 ms, no loss, download"), on the
# cores the other end shares. Every transfer reads from offset 0 and at
# most the fastest line's rate for W_SECS, plus the socket buffers (64 MiB
# of slack).
# shellcheck disable=SC2086 # one rate per word
w_max_rate="$(printf '%s\n' $W_RATES | sort -n | tail -1)"
dd if="$www/big" of=/dev/null bs=1M status=none \
    count=$((w_max_rate * 125000 * (W_SECS + 2) / 1048576 + 64))
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
    local reverse=()
    [ "$1" = down ] && reverse=(-R)
    ip netns exec "$CLI" iperf3 -c 10.9.0.2 -t "$W_SECS" -C "$2" "${reverse[@]}" -J 2> /dev/null |
        python3 -c 'import json, sys
try:
    print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("—")'
}

ratio_of() { awk -v n="$1" -v d="$2" 'BEGIN { if (n != "—" && d != "—" && d > 0) printf "%.2f×", n / d; else print "—" }'; }

