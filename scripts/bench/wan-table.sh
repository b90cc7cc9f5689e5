# Sourced by scripts/bench.sh --wan: the goodput table over every cell
# (wan_bench), and the WAN section of $DOC between its markers
# (<!-- wan:begin/end -->, and <!-- wan-page:begin/end --> for the page load).

# The goodput table's header and separator lines: a column per tunstack
# --cc and per Linux algorithm, and the per-algorithm ratio column when
# tunstack has more than one congestion control.
wan_table_head() {
    local cc head="| RTT | loss | rate | direction | tunstack default"
    for cc in "${TS_CCS[@]}"; do head+=" | tunstack $cc"; done
    head+=" | Linux default (curl)"
    for cc in "${LINUX_CCS[@]}"; do head+=" | Linux $cc (iperf3)"; done
    head+=" | tunstack default / Linux default"
    [ "${#TS_CCS[@]}" -gt 0 ] && head+=" | tunstack / Linux per algorithm (bbr, cubic, newreno/reno)"
    head+=" |"
    echo "$head"
}

wan_table_sep() {
    local cc sep="|---|---|---|---|---:"
    for cc in "${TS_CCS[@]}"; do sep+="|---:"; done
    sep+="|---:"
    for cc in "${LINUX_CCS[@]}"; do sep+="|---:"; done
    sep+="|---:"
    [ "${#TS_CCS[@]}" -gt 0 ] && sep+="|---"
    sep+="|"
    echo "$sep"
}

# The emulator options of the cell RATE RTT LOSS into the caller's `shape`
# array, and the loss column's text into its `label`.
wan_cell_shape() { # RATE RTT LOSS
    local rate="$1" rtt="$2" loss="$3"
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
}

# The two rows (download, upload) of the cell that is up: every tunstack
# and Linux transfer with the ratios; each row is printed as soon as it is
# measured and appended to the caller's `rows`.
wan_cell_rows() { # RTT LABEL RATE
    local rtt="$1" label="$2" rate="$3" n_ts=${#TS_CCS[@]} dir cc r i
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
}

# A failed transfer shows as "—"; at smoke size that fails the bench,
# which is what keeps it from rotting.
wan_smoke_verdict() { # ROWS
    if [ "$smoke" -eq 1 ] && [ -n "$PAGE_FAILED" ]; then
        echo "scripts/bench.sh --wan --smoke: $PAGE_FAILED; logs in $logdir" >&2
        exit 1
    fi
    if [ "$smoke" -eq 1 ] && [[ "$1$OVERHEAD_TABLE$TTFB_TABLE" == *"—"* ]]; then
        echo "scripts/bench.sh --wan --smoke: a transfer failed (— above); logs in $logdir" >&2
        for f in "$logdir"/ts-*.log; do [ -f "$f" ] && sed "s|^|    $(basename "$f"): |" "$f" >&2; done
        exit 1
    fi
}

wan_bench() {
    local rtt loss rate shape=() label t0 rows="" skipped="" head sep
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
    head="$(wan_table_head)"
    sep="$(wan_table_sep)"
    echo "$head"
    echo "$sep"
    for rate in $W_RATES; do
        if [ "$rate" -ge 1000 ] && awk -v t="${W_OVERHEAD_LINE:-0}" -v r="$rate" 'BEGIN { exit !(t == "—" || t < r * 1.2) }'; then
            skipped+=" $rate"
            continue
        fi
        for rtt in $W_RTTS; do
            for loss in $W_LOSSES; do
                wan_cell_shape "$rate" "$rtt" "$loss"
                wan_cell_up "${shape[@]}"
                wan_cell_rows "$rtt" "$label" "$rate"
                wan_cell_down
            done
        done
    done
    WAN_TABLE="$head"$'\n'"$sep"$'\n'"${rows%$'\n'}"
    W_ELAPSED=$((SECONDS - t0))
    wan_smoke_verdict "$rows"
    [ -z "$skipped" ] || W_SKIPPED="Rates of$skipped Mbit/s were skipped: the unshaped emulator carried only ${W_OVERHEAD_LINE} Mbit/s on this machine."
    echo "(${W_ELAPSED} s)${W_SKIPPED:+ $W_SKIPPED}"
}

# After wan_bench: the WAN section (or with BENCH_WAN_ONLY=page only its
# page-load part) into $DOC between its markers; nothing without $DOC.
wan_write_doc() {
    [ -n "$DOC" ] || return 0
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

