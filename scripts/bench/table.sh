# Sourced by scripts/bench.sh after the rows ran: medians and ratios, and
# the three tables it prints (and the doc gets): rows, async, multiqueue.

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
