#!/usr/bin/env bash
# One WAN download cell, tunstack's receiver against Linux's, paired: each
# round runs `tunstack get` (one binary or several, for an A/B) and kernel
# curl, both in the client namespace, fetching from the same nginx (the
# host's default algorithm, BBR) in the server namespace over the same
# line. Odd rounds run tunstack first, even rounds curl first, so that an
# order effect favours neither. Prints one line per round (Mbit/s of HTTP
# body in the time limit, the handshake included, as the bench) and the
# medians with their range.
#
#   sudo scripts/wan-down.sh --rtt 50 --loss 0.5% [--runs 5] [--secs 5] [--seed 1]
#        [--ts A=target/release/tunstack --ts B=/tmp/tunstack-old] [--fresh] [--pcap DIR]
#        [--trace DIR]
#
# --fresh starts a new line for every transfer, seeded with the round
# number, so that the transfers of one round meet the same loss sequence.
# --loss takes 0, a probability (0.5%) or `burst` (Gilbert-Elliott
# 0.005,0.25,0.5 as the bench). --pcap DIR keeps, per transfer, the
# headers (96 bytes) seen on both ends of the line (NAME-srv.pcap on the
# server's side, where nginx's data leave, NAME-cli.pcap on the client's,
# where both receivers' data arrive and their ACKs leave) and their
# summary (NAME.txt, scripts/wan-pcap-summary.py). tunstack gets the
# bench's buffer ceilings (scripts/wan-pair.sh, TS_MEM). --trace DIR keeps,
# per transfer, the Linux sender's `ss -tin` (nginx's socket: BBR's
# bandwidth and min RTT, cwnd, the receiver's window as the sender sees
# it) sampled every 50 ms, NAME.ss, for either receiver. The path is the
# bench's: 100 Mbit/s, a queue of one RTT, half the RTT of delay each way,
# loss both ways (scripts/wan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

rtt=50 loss=0 runs=5 secs=5 rate=100 seed=1 fresh=0 pcap="" trace=""
tss=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --rtt) rtt="$2"; shift ;;
        --loss) loss="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        --secs) secs="$2"; shift ;;
        --rate) rate="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        --ts) tss+=("$2"); shift ;;
        --fresh) fresh=1 ;;
        --pcap) pcap="$2"; shift ;;
        --trace) trace="$2"; shift ;;
        *) echo "scripts/wan-down.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "${#tss[@]}" -gt 0 ] || tss=("ts=${CARGO_TARGET_DIR:-target}/release/tunstack")

export WAN_NS="${WAN_NS:-rcvw}" WAN_BIN="${WAN_BIN:-target/release/examples/wan}"
. scripts/wan-pair.sh
[ -z "$pcap" ] || mkdir -p "$pcap"
[ -z "$trace" ] || mkdir -p "$trace"
# The sender's socket state every 50 ms while NAME runs (--trace).
ss_start() { # NAME
    ssp=""
    [ -n "$trace" ] || return 0
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$SRV" bash -c 'while :; do echo "t $(date +%s.%N)"; ss -tinH state established "( sport = :8080 )"; sleep 0.05; done' \
        > "$trace/$1.ss" 2>&1 &
    ssp=$!
}
ss_stop() {
    [ -z "${ssp:-}" ] || { kill "$ssp" 2> /dev/null || true; wait "$ssp" 2> /dev/null || true; }
    ssp=""
}
cell_up() { # SEED
    line_up "$1"
    mkdir -p "$work/nginx"
    cat > "$work/nginx/nginx.conf" << EOF
daemon off; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log; worker_processes 1; user root;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path $work/nginx/b; proxy_temp_path $work/nginx/p; fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  server { listen 10.9.0.2:8080; root $www; } }
EOF
    ip netns exec "$SRV" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" > "$work/nginx/out.log" 2>&1 &
    pids+=("$!")
    wait_url "$CLI" http://10.9.0.2:8080/small
}
ts_run() { # BIN TAG ROUND
    local bytes
    cap_start "$2-$3"
    ss_start "$2-$3"
    bytes="$(ip netns exec "$CLI" timeout $((secs + 30)) "$1" get -s -m "$secs" "${TS_MEM[@]}" \
        http://10.9.0.2:8080/big 2> "$work/ts-get.log" | wc -c)"
    ss_stop
    cap_stop "$2-$3" 8080
    mbit "$bytes" "$secs"
}
curl_run() { # ROUND
    local out
    cap_start "curl-$1"
    ss_start "curl-$1"
    out="$(ip netns exec "$CLI" curl -s -o /dev/null -m "$secs" -w '%{size_download} %{time_total}' \
        http://10.9.0.2:8080/big || true)"
    ss_stop
    cap_stop "curl-$1" 8080
    # shellcheck disable=SC2086 # two fields
    mbit $out
}

[ "$fresh" -eq 1 ] || cell_up "$seed"
echo "# download, ${rtt} ms, loss $loss, $rate Mbit/s, $secs s, $runs rounds, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "client tcp_rmem $(ip netns exec "$CLI" sysctl -n net.ipv4.tcp_rmem 2> /dev/null | tr '\t' ' ' || echo '?')"
head="round"
for t in "${tss[@]}"; do head+=" ${t%%=*}"; done
head+=" curl ratio(first/curl) load"
echo "$head"
declare -A col
for i in $(seq "$runs"); do
    declare -A got=()
    order=("${tss[@]}" curl)
    if [ $((i % 2)) -eq 0 ]; then
        order=(curl)
        for ((k = ${#tss[@]} - 1; k >= 0; k--)); do order+=("${tss[$k]}"); done
    fi
    for t in "${order[@]}"; do
        [ "$fresh" -eq 0 ] || { cell_down; cell_up $((seed + i)); }
        if [ "$t" = curl ]; then
            got[curl]="$(curl_run "$i")"
        else
            got["${t%%=*}"]="$(ts_run "${t#*=}" "${t%%=*}" "$i")"
        fi
    done
    line="$i"
    for t in "${tss[@]}"; do
        line+=" ${got[${t%%=*}]}"
        col["${t%%=*}"]+="${got[${t%%=*}]} "
    done
    col[curl]+="${got[curl]} "
    first="${got[${tss[0]%%=*}]}"
    ratio="$(awk -v a="$first" -v b="${got[curl]}" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else print "-" }')"
    col[ratio]+="$ratio "
    line+=" ${got[curl]} $ratio $(cut -d' ' -f1 /proc/loadavg)"
    echo "$line"
done
stat() { # [DECIMALS]
    tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk -v d="${1:-1}" '{a[NR]=$1} END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%." d "f [%s-%s]\n", m, a[1], a[NR] }'
}
summary="median"
for t in "${tss[@]}"; do summary+=" $(echo "${col[${t%%=*}]}" | stat)"; done
summary+=" $(echo "${col[curl]}" | stat) $(echo "${col[ratio]}" | stat 2)"
echo "$summary"
