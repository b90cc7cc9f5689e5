# shellcheck shell=bash
# Sourced by scripts/bench.sh --load (after its build step): `tunstack serve`
# against real load generators, in the same run as nginx on the kernel's TCP.
#
#   tunstack   NS_T: `tunstack serve --dir WWW --port 80` on tun0 (10.0.0.2),
#              ab / wrk on the kernel side (10.0.0.1) of the same namespace
#   nginx      NS_B: nginx (1 worker, sendfile, backlog 4096) on 10.0.0.2:80 of
#              a veth pair; ab / wrk in NS_A (10.0.0.1)
#
# For 10 KiB and 1 MiB files, 50 and 500 clients, with and without
# keep-alive, ab (-n, -c, -k) and wrk (-d, -c, --latency; "Connection: close"
# without keep-alive): requests/s, p50, p99 and max latency, and the ratio
# tunstack / nginx of requests/s and p99. Cells alternate between the two
# servers, so a busy moment hits both. The table goes between
# <!-- load:begin --> and <!-- load:end --> in docs/benchmarks.md.
#   BENCH_LOAD_N     ab requests for 10 KiB [20000] {500}; 1 MiB gets a tenth
#   BENCH_LOAD_SECS  seconds per wrk cell [4] {1}
#   BENCH_LOAD_CLIENTS  ["50 500"] {50}

for c in ab wrk nginx curl; do
    command -v "$c" > /dev/null 2>&1 || {
        echo "scripts/bench.sh --load: '$c' not found (Debian: apt-get install apache2-utils wrk nginx curl)" >&2
        exit 2
    }
done
if [ "$smoke" -eq 1 ]; then
    L_N="${BENCH_LOAD_N:-500}" L_SECS="${BENCH_LOAD_SECS:-1}" L_CLIENTS="${BENCH_LOAD_CLIENTS:-50}"
else
    L_N="${BENCH_LOAD_N:-20000}" L_SECS="${BENCH_LOAD_SECS:-4}" L_CLIENTS="${BENCH_LOAD_CLIENTS:-50 500}"
fi
TS="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/tunstack"
www="$logdir/www"
mkdir -p "$www"
head -c 10240 /dev/urandom > "$www/10k.bin"
head -c 1048576 /dev/urandom > "$www/1m.bin"
# 500 clients, each holding a socket; ab and wrk open them all in this shell.
ulimit -n 65536 2> /dev/null || true

new_ns NS_T
new_ns NS_A
new_ns NS_B
veth_pair "$NS_A" "$NS_B" "" 10.0.0.1/24 10.0.0.2/24
for ns in "$NS_T" "$NS_A" "$NS_B"; do
    # Clients reuse ports of connections in TIME-WAIT, as a load generator
    # on Linux does with this set.
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
done
ngx="$logdir/nginx"
mkdir -p "$ngx"
cat > "$ngx/nginx.conf" << NGX
daemon off; pid $ngx/nginx.pid; error_log $ngx/error.log; worker_processes 1; user root;
worker_rlimit_nofile 65536;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path $ngx/b; proxy_temp_path $ngx/p; fastcgi_temp_path $ngx/f;
  uwsgi_temp_path $ngx/u; scgi_temp_path $ngx/s;
  server { listen 10.0.0.2:80 backlog=4096; root $www; } }
NGX
ip netns exec "$NS_B" nginx -c "$ngx/nginx.conf" -p "$ngx" > "$ngx/out.log" 2>&1 &
bg_pids+=("$!")
ip netns exec "$NS_T" "$TS" serve --dir "$www" --port 80 > "$logdir/ts-serve.log" 2>&1 &
ts_pid=$!
bg_pids+=("$ts_pid")
wan_wait_url "$NS_A" http://10.0.0.2/10k.bin
wan_wait_url "$NS_T" http://10.0.0.2/10k.bin

# Milliseconds of a wrk latency ("850.00us", "1.20ms", "2.01s").
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.1f", n }'; }

# One cell: prints "REQ/S P50 P99 MAX FAILED" (ms); TOOL ab|wrk, KA 0|1.
load_cell() { # NS TOOL FILE CLIENTS KA
    local ns="$1" tool="$2" file="$3" c="$4" ka="$5" n out url="http://10.0.0.2/$3"
    n="$L_N"
    [ "$file" = 10k.bin ] || n=$((L_N / 10))
    [ "$n" -ge "$c" ] || n="$c"
    if [ "$tool" = ab ]; then
        local k=()
        [ "$ka" -eq 0 ] || k=(-k)
        out="$(ip netns exec "$ns" timeout 300 ab -q -r -s 30 "${k[@]}" -n "$n" -c "$c" "$url" 2>&1 || true)"
        awk '/^Requests per second:/ {r = $4} /^Failed requests:/ {f = $3}
             /^Non-2xx/ {f += $3} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} $1 == "100%" {mx = $2}
             END { if (r == "") print "— — — — —"; else print r, p50, p99, mx, f + 0 }' <<< "$out"
    else
        local h=()
        [ "$ka" -eq 1 ] || h=(-H "Connection: close")
        out="$(ip netns exec "$ns" timeout 300 wrk -t 2 -c "$c" -d "$L_SECS" --timeout 30s --latency "${h[@]}" "$url" 2>&1 || true)"
        local r p50 p99 mx f
        r="$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")"
        p50="$(awk '$1 == "50%" {print $2}' <<< "$out")"
        p99="$(awk '$1 == "99%" {print $2}' <<< "$out")"
        mx="$(awk '$1 == "Latency" {print $4; exit}' <<< "$out")"
        f="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10} /Non-2xx/ {print $4}' <<< "$out" | awk '{s += $1} END {print s + 0}')"
        if [ -z "$r" ]; then
            echo "— — — — —"
        else
            echo "$r $(to_ms "$p50") $(to_ms "$p99") $(to_ms "$mx") $f"
        fi
    fi
}

L_ROWS=()
echo "==> load: ab and wrk against tunstack serve and nginx (same run)"
for file in 10k.bin 1m.bin; do
    for c in $L_CLIENTS; do
        for ka in 0 1; do
            for tool in ab wrk; do
                ts="$(load_cell "$NS_T" "$tool" "$file" "$c" "$ka")"
                ng="$(load_cell "$NS_A" "$tool" "$file" "$c" "$ka")"
                L_ROWS+=("$tool $file $c $ka $ts $ng")
                printf '    %-3s %-7s c=%-3s ka=%s  tunstack %s | nginx %s\n' "$tool" "$file" "$c" "$ka" "$ts" "$ng"
            done
        done
    done
done
kill "$ts_pid" 2> /dev/null || true
wait "$ts_pid" 2> /dev/null || true
ts_log="$(cat "$logdir/ts-serve.log")"

L_TABLE="$(
    echo "| tool | file | clients | keep-alive | tunstack req/s | nginx req/s | ratio | tunstack p50 / p99 / max ms | nginx p50 / p99 / max ms | p99 ratio | failed (ts / nginx) |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for r in "${L_ROWS[@]}"; do
        # shellcheck disable=SC2086 # fields
        set -- $r
        awk -v tool="$1" -v file="$2" -v c="$3" -v ka="$4" \
            -v tr="$5" -v t50="$6" -v t99="$7" -v tmx="$8" -v tf="$9" \
            -v nr="${10}" -v n50="${11}" -v n99="${12}" -v nmx="${13}" -v nf="${14}" 'BEGIN {
            ratio = (tr != "—" && nr != "—" && nr > 0) ? sprintf("%.2f×", tr / nr) : "—"
            pr = (t99 != "—" && n99 != "—" && n99 > 0) ? sprintf("%.1f×", t99 / n99) : "—"
            printf "| %s | %s | %s | %s | %.0f | %.0f | %s | %s / %s / %s | %s / %s / %s | %s | %s / %s |\n",
                tool, (file == "10k.bin" ? "10 KiB" : "1 MiB"), c, (ka ? "yes" : "no"),
                tr, nr, ratio, t50, t99, tmx, n50, n99, nmx, pr, tf, nf }'
    done
)"
echo
echo "$L_TABLE"
echo
echo "$ts_log" | sed 's/^/    /'
[ -n "$DOC" ] || exit 0

L_SECTION="$(
    echo "<!-- load:begin -->"
    echo "## Under load: ab and wrk against \`tunstack serve\` and nginx"
    echo
    echo "Measured by \`sudo scripts/bench.sh --load\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2> /dev/null || echo unknown), $PROFILE build."
    echo "tunstack: \`tunstack serve\` on tun0, the load generator on the kernel side of"
    echo "tun0 in the same namespace. nginx: one worker (sendfile, backlog 4096) on the"
    echo "kernel's TCP, the load generator across a veth pair. Both in the same run, cells"
    echo "alternating. ab: $L_N requests for 10 KiB, $((L_N / 10)) for 1 MiB, \`-k\` for"
    echo "keep-alive; wrk: $L_SECS s, 2 threads, \`Connection: close\` without keep-alive."
    echo "Latencies in ms; ab's max is its longest request."
    echo "Targets (issue 21): ≥ 0.5× without keep-alive at 50 and 500 clients, ≥ 0.8× with,"
    echo "p99 at 500 clients ≤ 3× nginx's."
    echo
    echo "$L_TABLE"
    echo
    echo '```'
    echo "$ts_log"
    echo '```'
    echo "<!-- load:end -->"
)"
touch "$DOC"
if grep -q '^<!-- load:begin -->$' "$DOC"; then
    awk -v s="$L_SECTION" '/^<!-- load:begin -->$/ { print s; skip = 1; next }
        /^<!-- load:end -->$/ { skip = 0; next } !skip { print }' "$DOC" > "$DOC.tmp"
else
    { cat "$DOC"; echo; echo "$L_SECTION"; } > "$DOC.tmp"
fi
mv "$DOC.tmp" "$DOC"
echo "wrote the load section of $DOC"
exit 0
