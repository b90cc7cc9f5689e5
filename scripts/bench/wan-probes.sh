# Sourced by scripts/bench.sh --wan: the measurements beside the goodput
# table, each in its own cell: the emulator's overhead, the time to first
# byte, and the page load.

# Emulator overhead: Linux to Linux through the unshaped line against a
# direct veth pair (iperf3 with the host's default algorithm, ping).
wan_overhead() {
    local a b rtt_veth thr_veth rtt_line thr_line
    new_ns a
    new_ns b
    veth_pair "$a" "$b" "" 10.9.0.1/30 10.9.0.2/30
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

