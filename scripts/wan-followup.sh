#!/usr/bin/env bash
# After a WAN table: every cell under target, paired and captured again,
# with what bounds each round.
#
#   sudo scripts/wan-followup.sh --table FILE [--per-algorithm] [--under 1.0]
#        [--runs 5] [--secs 5] [--out DIR] [--budget-min M] [--dry-run]
#   sudo scripts/wan-followup.sh --cell "RATE RTT LOSS DIR CC" [--cell ...] [options]
#   scripts/wan-followup.sh --from DIR --cell "RATE RTT LOSS DIR CC"
#
# --from DIR summarises a cell measured before (DIR/cell.log holds the
# pair script's output, the captures and traces beside it) without
# running anything.
#
# --table FILE reads the goodput rows the table driver printed (the log
# of `scripts/bench.sh --wan`, or the table cut from docs/benchmarks.md,
# which holds older tables too: every line `| 10 ms | 0.1% | 1000 Mbit/s
# | up | ... |` of FILE counts) and takes each
# row whose "tunstack default / Linux default" ratio is under --under
# (1.0); with --per-algorithm also each upload whose per-algorithm ratio
# (bbr, cubic, newreno against iperf3 -C) is under it. (The download rows'
# per-algorithm ratios compare different Linux senders and are not
# taken: tunstack only receives there.) --cell names one cell by hand:
# RATE in Mbit/s, RTT in ms, LOSS 0, 0.5% or burst, DIR down or up, CC
# bbr, cubic or newreno (the default is bbr; for a download CC is
# ignored). The same cell twice (a table's default and bbr columns) is
# run once.
#
# Each cell runs --runs rounds (5) of --secs s (5), paired on a fresh line
# per transfer, the same seed for both stacks of a round (round i: seed
# 1 + i): a download by scripts/wan-down.sh (`tunstack get` against curl,
# both from nginx with the host's BBR), an upload by scripts/wan-cc.sh
# (`tunstack serve --cc CC` against Linux's sender with the same
# algorithm, both fetched by curl; iperf3 -C as well for CUBIC and
# NewReno). Every transfer is captured on both ends of the line, and the
# sender's side summarised by scripts/wan-pcap-summary.py with the line's
# rate and RTT. tunstack's BBR uploads also keep its per-round trace
# (TS_LOG, by default tunstack::tcp::rate=trace,tunstack::tcp=debug), from
# which the round prints when STARTUP ended and at what bandwidth.
#
# Prints, per cell, one line per round: both stacks' Mbit/s, the ratio,
# the load average, and for each stack the summary's verdict (line,
# receive-window, sender-idle, loss, lost-syn, sender-cc) with its key
# numbers; then the medians and the range of the ratios. Everything is
# kept in --out (default /tmp/wan-followup.<time>): per cell its
# directory with the pcaps, NAME.txt (the full summary of both ends),
# the traces, and the cell's output, cell.log.
#
# Time: a round is two transfers (three with iperf3), each --secs plus
# about 3 s of line set-up and server start, plus the summaries (about 3 s
# per 1 Gbit/s capture of 5 s, well under 1 s at 100 Mbit/s): measured at
# the defaults, 100-125 s per download or BBR upload cell at 1 Gbit/s,
# about 90 s at 100 Mbit/s, about 125 s per CUBIC/NewReno cell. --budget-min stops starting
# cells once that many minutes have passed and names the cells left.
# The lines live in namespaces named after this run (WAN_NS, default
# wfu<pid>), so that it can run beside another pair script.
# Disk: a 1 Gbit/s capture of 5 s is 50-70 MB per end (about 1.3 GB per
# cell); --keep-pcap no deletes the pcaps once summarised.
set -euo pipefail
cd "$(dirname "$0")/.."

from="" table="" per_alg=0 under=1.0 runs=5 secs=5 out="" budget=0 dry=0 keep=yes
cells=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --table) table="$2"; shift ;;
        --cell) cells+=("$2"); shift ;;
        --from) from="$2"; shift ;;
        --per-algorithm) per_alg=1 ;;
        --under) under="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        --secs) secs="$2"; shift ;;
        --out) out="$2"; shift ;;
        --budget-min) budget="$2"; shift ;;
        --keep-pcap) keep="$2"; shift ;;
        --dry-run) dry=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "scripts/wan-followup.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

# The cells under target in a table: "RATE RTT LOSS DIR CC TABLE-RATIO".
table_cells() { # FILE
    awk -F'|' -v under="$under" -v per="$per_alg" '
        function num(s) { gsub(/[^0-9.]/, "", s); return s }
        $2 ~ /^ *[0-9]+ ms *$/ && $5 ~ /^ *(up|down) *$/ {
            rtt = num($2); rate = num($4); dir = $5; gsub(/ /, "", dir)
            loss = $3; gsub(/^ +| +$/, "", loss)
            if (loss ~ /^bursty/) loss = "burst"
            # The default ratio is the second column from the end when
            # the row has per-algorithm ratios, else the last.
            n = NF - 1
            if ($n ~ /×.*,/) { def = $(n - 1); peralg = $n } else { def = $n; peralg = "" }
            d = num(def)
            if (d != "" && d + 0 < under + 0) print rate, rtt, loss, dir, "bbr", "table " d "×"
            if (per == 1 && dir == "up" && peralg != "") {
                split(peralg, r, ",")
                split("bbr cubic newreno", cc, " ")
                for (k = 1; k <= 3; k++) {
                    x = num(r[k])
                    if (x != "" && x + 0 < under + 0) print rate, rtt, loss, dir, cc[k], "table " x "× (" cc[k] ")"
                }
            }
        }' "$1"
}

list=()
if [ -n "$table" ]; then
    [ -f "$table" ] || { echo "scripts/wan-followup.sh: no table file $table" >&2; exit 2; }
    while IFS= read -r c; do list+=("$c"); done < <(table_cells "$table")
fi
for c in "${cells[@]}"; do
    # shellcheck disable=SC2086 # the cell's words
    set -- $c
    [ "$#" -ge 4 ] || { echo "scripts/wan-followup.sh: --cell needs RATE RTT LOSS DIR [CC], not '$c'" >&2; exit 2; }
    list+=("$1 $2 $3 $4 ${5:-bbr} by hand")
done
[ "${#list[@]}" -gt 0 ] || { echo "scripts/wan-followup.sh: no cell under ${under}× (give --table FILE or --cell)" >&2; exit 0; }

# One run per distinct cell: a download's algorithm is the sender's
# (nginx, BBR), so every download of a row is one cell; an upload's bbr
# and default columns are the same algorithm.
declare -A seen=()
todo=()
for c in "${list[@]}"; do
    read -r rate rtt loss dir cc _ <<< "$c"
    [ "$dir" = down ] && cc=bbr
    key="$rate-$rtt-$loss-$dir-$cc"
    [ -z "${seen[$key]:-}" ] || continue
    seen[$key]=1
    todo+=("$c")
done
echo "# wan-followup: ${#todo[@]} cell(s) under ${under}×, $runs rounds of $secs s each; load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${todo[@]}"; do echo "#   $c"; done
[ "$dry" -eq 0 ] || exit 0
[ "$(id -u)" -eq 0 ] || { echo "scripts/wan-followup.sh: run as root (namespaces, TUN devices)" >&2; exit 2; }
command -v tcpdump > /dev/null || { echo "scripts/wan-followup.sh: tcpdump not found" >&2; exit 2; }
out="${out:-/tmp/wan-followup.$(date -u +%Y%m%d-%H%M%S)}"
[ -n "$from" ] || mkdir -p "$out"
# Namespaces of its own (the pair scripts' defaults, ccab and rcvw, may be
# in use by another run on the same machine: a second `wan.sh up` under
# the same name would take that run's line down).
export WAN_NS="${WAN_NS:-wfu$$}"

# The summary's two lines for one capture, on one line: the verdict and
# the numbers that decide between the verdicts.
bound_of() { # PCAP PORT RATE RTT [--receiver]
    [ -s "$1" ] || { echo "no capture"; return; }
    python3 scripts/wan-pcap-summary.py "$1" "$2" --rate-mbit "$3" --rtt-ms "$4" --brief ${5:+"$5"} 2> /dev/null |
        awk '/bound:/ { sub(/.*bound: /, ""); b = $0 } /verdict:/ { sub(/.*verdict: /, ""); v = $0 }
             END {
                 n = split(b, kv, " "); s = ""
                 for (i = 1; i <= n; i++) if (kv[i] ~ /^(util|ramp_s|rwnd_s|idle_open_s|rec_s|episodes|rtos|retx|flight_bdp|flight_p90_bdp|ss_growth|ack_seg_p90|ack_idle_ms)=/) s = s " " kv[i]
                 print v " |" s
             }'
}

# When tunstack's BBR left STARTUP and at what bandwidth, from its trace.
startup_of() { # LOG
    [ -s "$1" ] || return 0
    # The per-round line: "... A -> B: round N MODE max_bw X ... at Ts";
    # the transfer is the connection with the most rounds (the `small`
    # fetch that waited for the server is another).
    awk '/ -> / && / round [0-9]+ / && / max_bw / {
            c = ""; st = ""; bw = ""; at = ""
            for (i = 1; i < NF; i++) {
                if ($i == "->") c = $(i + 1)
                if ($i == "round" && st == "") st = $(i + 2)
                if ($i == "max_bw" && bw == "") bw = $(i + 1)
                if ($i == "at") at = $(i + 1)
            }
            sub(/s$/, "", at)
            if (!(c in first)) first[c] = at
            n[c]++
            if (prev[c] == "STARTUP" && st != "STARTUP" && !(c in ended)) ended[c] = sprintf("STARTUP ended %.2f s after its first round, max_bw %s Mbit/s (round %d)", at - first[c], bw, n[c])
            prev[c] = st
        }
        END {
            for (c in n) if (n[c] > most) { most = n[c]; best = c }
            if (best == "") exit
            if (best in ended) print ended[best]
            else if (prev[best] == "STARTUP") print "in STARTUP to the end"
        }' "$1"
}

# The rounds of a cell measured into D, each with both stacks' bound.
summarise_cell() { # D DIR CC RATE RTT T0
    local d="$1" dir="$2" cc="$3" rate="$4" rtt="$5" t0="$6" ts=ts lx=linux sport=8081 side=cli
    local round a b rest more ip ratio ld bt bl st cpu lport=8080
    local rcv=""
    [ "$dir" = up ] || { lx=curl sport=8080 side=srv rcv=--receiver; }
    # The rounds as the pair script printed them: "round ts linux [iperf3] ratio load".
    grep -E '^[0-9]+ ' "$d/cell.log" > "$d/rounds" || true
    if [ ! -s "$d/rounds" ]; then
        echo "   no rounds measured; see $d/cell.log:"
        sed 's/^/     /' "$d/cell.log" | tail -5
        return 0
    fi
    printf '   %-5s %8s %8s %s %6s %5s  %s\n' round tunstack linux "$([ "$dir" = up ] && [ "$cc" != bbr ] && echo ' iperf3' || echo '')" ratio load "bound (tunstack | Linux)"
    while read -r round a b rest; do
        read -r -a more <<< "$rest"
        ip="" ratio="${more[0]:-}" ld="${more[1]:-}"
        if [ "${#more[@]}" -ge 3 ]; then ip="${more[0]}" ratio="${more[1]}" ld="${more[2]}"; fi
        # In a download tunstack is the receiver: its ACKs are what to judge.
        bt="$(bound_of "$d/$ts-$round-$side.pcap" "$sport" "$rate" "$rtt" ${rcv:+"$rcv"})"
        bl="$(bound_of "$d/$lx-$round-$side.pcap" "$lport" "$rate" "$rtt")"
        {
            python3 scripts/wan-pcap-summary.py "$d/$ts-$round-$side.pcap" "$sport" --rate-mbit "$rate" --rtt-ms "$rtt" ${rcv:+"$rcv"} || true
            python3 scripts/wan-pcap-summary.py "$d/$lx-$round-$side.pcap" "$lport" --rate-mbit "$rate" --rtt-ms "$rtt" || true
        } > "$d/round-$round.txt" 2>&1
        st=""
        [ "$dir" = down ] || [ "$cc" != bbr ] || st="$(startup_of "$d/ts-$round.log")"
        # scripts/wan-cc.sh notes how long tunstack's process waited for a CPU.
        cpu="$(sed -n 's/.*on a CPU, \([0-9]*\) ms runnable waiting.*/\1/p' "$d/$ts-$round.txt" 2> /dev/null | head -1 || true)"
        [ -z "$cpu" ] || bt+=" cpu_wait_ms=$cpu"
        printf '   %-5s %8s %8s %s %6s %5s  tunstack: %s\n' "$round" "$a" "$b" "${ip:+$(printf '%7s' "$ip")}" "$ratio" "$ld" "$bt"
        printf '   %-5s %8s %8s %s %6s %5s  Linux:    %s\n' "" "" "" "${ip:+       }" "" "" "$bl"
        [ -z "$st" ] || printf '   %-5s %8s %8s %s %6s %5s  tunstack BBR: %s\n' "" "" "" "${ip:+       }" "" "" "$st"
        [ "$keep" != no ] || rm -f "$d/$ts-$round"-*.pcap "$d/$lx-$round"-*.pcap
    done < "$d/rounds"
    grep -E '^median' "$d/cell.log" | sed 's/^/   /' || true
    awk '$(NF - 1) ~ /^[0-9.]+$/ { print $(NF - 1) }' "$d/rounds" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR) printf "   ratio per round: median %.2f× [%.2f–%.2f], %d rounds; %d s\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2, a[1], a[NR], NR, '"$((SECONDS - t0))"' }'
}

if [ -n "$from" ]; then
    read -r rate rtt loss dir cc _ <<< "${todo[0]}"
    summarise_cell "$from" "$dir" "$cc" "$rate" "$rtt" "$SECONDS"
    exit 0
fi
t_start=$SECONDS
left=()
for c in "${todo[@]}"; do
    if [ "$budget" != 0 ] && [ $((SECONDS - t_start)) -ge $((budget * 60)) ]; then
        left+=("$c")
        continue
    fi
    read -r rate rtt loss dir cc why <<< "$c"
    name="$dir-$cc-$rate-$rtt-${loss//%/}"
    [ "$dir" = down ] && name="down-$rate-$rtt-${loss//%/}"
    d="$out/$name"
    mkdir -p "$d"
    echo
    echo "== $rate Mbit/s, $rtt ms, loss $loss, $dir${cc:+, $cc} (${why:-?}); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%M:%S) UTC"
    t0=$SECONDS
    # A bound on the cell, so that a hung transfer cannot hold the run:
    # each transfer gets its time, 30 s of set-up and slack, and the cell
    # a minute more (the pair script's EXIT trap takes the line down).
    per=2
    [ "$dir" = down ] || [ "$cc" = bbr ] || per=3
    limit=$((runs * per * (secs + 30) + 60))
    if [ "$dir" = down ]; then
        WAN_PCAP_SUMMARY=later timeout "$limit" scripts/wan-down.sh --rate "$rate" --rtt "$rtt" --loss "$loss" --runs "$runs" \
            --secs "$secs" --fresh --pcap "$d" --trace "$d" > "$d/cell.log" 2>&1 || true
    else
        extra=()
        [ "$cc" = bbr ] || extra=(--iperf)
        log="${TS_LOG:-tunstack::tcp::rate=trace,tunstack::tcp=debug}"
        WAN_PCAP_SUMMARY=later TS_LOG="$log" timeout "$limit" scripts/wan-cc.sh --cc "$cc" --rate "$rate" --rtt "$rtt" --loss "$loss" \
            --runs "$runs" --secs "$secs" --fresh "${extra[@]}" --pcap "$d" --trace "$d" > "$d/cell.log" 2>&1 || true
    fi
    summarise_cell "$d" "$dir" "$cc" "$rate" "$rtt" "$t0"
done
echo
echo "# $((SECONDS - t_start)) s; kept in $out"
if [ "${#left[@]}" -gt 0 ]; then
    echo "# not run (--budget-min $budget reached):"
    for c in "${left[@]}"; do echo "#   $c"; done
fi
