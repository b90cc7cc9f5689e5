# Sourced by scripts/bench.sh for the default and --smoke runs: the rows of
# the table (which examples run with which arguments; BENCH_ROWS picks
# among them), then every run of every row.

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
