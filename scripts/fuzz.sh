#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 30) and fails on any
# crash, panic, hang (an input taking over 10 s) or memory blow-up:
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz if it is missing. Works on stable Rust: `-s none`
# builds without a sanitizer (nothing here is unsafe); libFuzzer still
# catches every panic and abort.
#
# Targets (fuzz/fuzz_targets/, harnesses in fuzz/src/lib.rs): wire_parse,
# wire_ipv6, interface, http_response, dns_message, fragments, tls_peer, url (with fuzz/dicts/TARGET.dict when
# there is one). They run side by side (at most
# TUNSTACK_FUZZ_JOBS at a time; default all of them). The corpus
# grows in fuzz/corpus/TARGET between runs (not committed); a crash is
# saved in fuzz/artifacts/TARGET/. Replay one with
#   cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-...
# and once fixed, keep it as a regression test: copy it to
# fuzz/regressions/TARGET/. That directory also holds a small minimized
# corpus per target (<= 20 files, <= 100 KB; `cargo fuzz cmin -s none -a
# TARGET`, then a handful of its files, see docs/testing.md);
# tests/fuzz_regressions.rs replays all of it under cargo test and fails on
# a target with no inputs there.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-30}"
if ! [[ "$SECS" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS]   (seconds per target, default 30)" >&2
    exit 2
fi
TARGETS=(wire_parse wire_ipv6 interface http_response dns_message fragments tls_peer url)
JOBS="${TUNSTACK_FUZZ_JOBS:-${#TARGETS[@]}}"

# Under sudo, hand what we create back to the invoking user.
finish() {
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] &&
        [ "$(stat -c %U .)" = "$SUDO_USER" ]; then
        chown -R "$SUDO_USER:" fuzz/target fuzz/corpus fuzz/artifacts 2> /dev/null || true
    fi
    rm -rf "$LOGS"
}
LOGS="$(mktemp -d)"
trap finish EXIT

if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
echo "fuzz: $(cargo fuzz --version), building the targets"
cargo fuzz build -s none -a

run_target() { # TARGET; leaves its log and exit status in $LOGS
    local rc=0 dict=()
    mkdir -p "fuzz/corpus/$1"
    if [ -f "fuzz/dicts/$1.dict" ]; then
        dict=(-dict="$PWD/fuzz/dicts/$1.dict")
    fi
    # -timeout: one input running this long is a hang, reported as a crash.
    cargo fuzz run -s none -a "$1" -- -max_total_time="$SECS" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" > "$LOGS/$1.log" 2>&1 || rc=$?
    echo "$rc" > "$LOGS/$1.rc"
}

echo "fuzz: ${#TARGETS[@]} targets, $SECS s each, $JOBS at a time"
FAILED=()
for t in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n || true
    done
    run_target "$t" &
done
wait
for t in "${TARGETS[@]}"; do
    rc="$(cat "$LOGS/$t.rc" 2> /dev/null || echo 1)"
    runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$LOGS/$t.log")"
    cov="$(grep -o 'cov: [0-9]*' "$LOGS/$t.log" | tail -1 || true)"
    if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
        printf 'fuzz: %-14s ok    %s, %s\n' "$t" "$runs" "${cov:-cov: ?}"
    else
        printf 'fuzz: %-14s FAILED (exit %d)\n' "$t" "$rc"
        FAILED+=("$t")
        echo "---- last lines of the $t log:"
        tail -n 40 "$LOGS/$t.log"
        echo "----"
    fi
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "fuzz: ${FAILED[*]} failed; inputs in fuzz/artifacts/ (see the top of scripts/fuzz.sh)" >&2
    exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets clean"
