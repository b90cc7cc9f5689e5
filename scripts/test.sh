#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it:
#
#   sudo scripts/test.sh [ARGS for cargo test]
#
# 1. installs the Debian packages the integration tests drive (tshark,
#    nginx, socat, ...) if any is missing;
# 2. runs cargo fmt --check, cargo clippy -D warnings, the layering check
#    (and its self-test), cargo build, the library-only build (no `cli`
#    feature, no CLI crates), and cargo test.
#
# The integration tests need root: each one creates its own network
# namespace with a tun0 inside, and no packet leaves it. Nothing here
# touches the host's routing, addresses or firewall.
#
# Environment: TUNSTACK_TEST_TIMEOUT (default 45m) caps `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh must run as root: the integration tests create network" >&2
    echo "namespaces and TUN devices. Run: sudo scripts/test.sh" >&2
    exit 2
fi

export RUST_BACKTRACE=1
if [ ! -t 1 ]; then
    export CARGO_TERM_COLOR=never
fi

# --- packages the integration tests use ----------------------------------------
# package:command pairs; a package counts as present if dpkg says so or its
# command is on PATH.
PACKAGES=(tshark:tshark tcpdump:tcpdump nginx:nginx netcat-openbsd:nc socat:socat
    iproute2:ip curl:curl python3:python3 dnsmasq:dnsmasq iptables:iptables openssl:openssl
    nftables:nft iputils-ping:ping wget:wget iperf3:iperf3 apache2-utils:ab wrk:wrk)

installed() { # PACKAGE COMMAND
    if command -v dpkg-query > /dev/null 2>&1 &&
        dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'; then
        return 0
    fi
    command -v "$2" > /dev/null 2>&1
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "${p%%:*}" "${p#*:}" || missing+=("${p%%:*}")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "packages: all present"
        return 0
    fi
    if ! command -v apt-get > /dev/null 2>&1; then
        echo "scripts/test.sh: missing ${missing[*]} and no apt-get here; install them by hand" >&2
        return 2
    fi
    echo "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark must not ask whether non-root users may capture.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # Don't start nginx or dnsmasq on the host: the tests run their own copies
    # inside private namespaces. policy-rc.d is Debian's switch for that.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    local rc=0
    { apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}" < /dev/null; } || rc=$?
    [ "$own_policy" -eq 0 ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || return "$rc"
    if command -v systemctl > /dev/null 2>&1; then
        for p in nginx dnsmasq; do
            if [[ " ${missing[*]} " == *" $p "* ]]; then
                systemctl disable "$p" > /dev/null 2>&1 || true
            fi
        done
    fi
}

# --- cargo, also under sudo (root's PATH usually lacks ~/.cargo/bin) ------------
find_cargo() {
    local c home
    if c="$(command -v cargo 2> /dev/null)"; then
        echo "$c"
        return 0
    fi
    for c in "$HOME/.cargo/bin/cargo" \
        "$([ -n "${SUDO_USER:-}" ] && getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin/cargo" \
        /usr/local/cargo/bin/cargo; do
        if [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

setup_cargo() {
    local cargo home
    if ! cargo="$(find_cargo)"; then
        echo "scripts/test.sh: cargo not found (looked on PATH, in ~/.cargo/bin, in" >&2
        echo "~${SUDO_USER:-\$SUDO_USER}/.cargo/bin and /usr/local/cargo/bin)." >&2
        echo "Install Rust: https://rustup.rs" >&2
        return 2
    fi
    PATH="$(dirname "$cargo"):$PATH"
    export PATH
    # A rustup proxy from the invoking user's home needs that user's toolchains.
    home="$(dirname "$(dirname "$(dirname "$cargo")")")"
    if [ -z "${RUSTUP_HOME:-}" ] && [ ! -d "$HOME/.rustup" ] && [ -d "$home/.rustup" ]; then
        export RUSTUP_HOME="$home/.rustup"
    fi
    echo "cargo: $cargo ($(cargo --version 2>&1)), $(rustc --version 2>&1)"
}

# --- the kernel features the integration tests need ------------------------------
check_kernel() {
    if [ ! -c /dev/net/tun ]; then
        modprobe tun 2> /dev/null || true
    fi
    if [ ! -c /dev/net/tun ]; then
        mkdir -p /dev/net
        mknod /dev/net/tun c 10 200 2> /dev/null || true
    fi
    if [ ! -c /dev/net/tun ]; then
        echo "scripts/test.sh: /dev/net/tun is missing (no TUN support in this kernel or container)" >&2
        return 2
    fi
    if [ ! -d /proc/sys/net/ipv6 ]; then
        echo "scripts/test.sh: this kernel has no IPv6 (ipv6.disable=1?); the IPv6 tests need it" >&2
        return 2
    fi
    if ! unshare --net true 2> /dev/null; then
        echo "scripts/test.sh: cannot create a network namespace (a container without CAP_SYS_ADMIN?)" >&2
        return 2
    fi
    echo "kernel: $(uname -r), /dev/net/tun and network namespaces available"
}

# Namespaces named tunstack-* left behind by an interrupted demo or shell.
# A demo that is still running, or a namespace someone is using, is kept.
clean_stale_netns() {
    local ns pids
    for ns in $(ip netns list 2> /dev/null | awk '$1 ~ /^tunstack-/ {print $1}'); do
        pids="$(ip netns pids "$ns" 2> /dev/null || true)"
        if [[ "$ns" =~ ^tunstack-demo-([0-9]+)$ ]]; then
            if kill -0 "${BASH_REMATCH[1]}" 2> /dev/null; then
                continue
            fi
        elif [ -n "$pids" ]; then
            echo "netns: keeping $ns (processes ${pids//$'\n'/ } still run in it)"
            continue
        fi
        for p in $pids; do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
        echo "netns: removed stale $ns"
    done
}

# --- steps ----------------------------------------------------------------------
START=$SECONDS
RESULTS=()
LOG="$(mktemp)"

# When run through sudo in the invoking user's checkout, give target/ back so
# their own cargo can keep using it.
finish() {
    rm -f "$LOG"
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ -d target ] &&
        [ "$(stat -c %U .)" = "$SUDO_USER" ]; then
        chown -R "$SUDO_USER:" target 2> /dev/null || true
    fi
}
trap finish EXIT

count_tests() { # passed|failed|ignored: summed over every "test result:" line
    awk -v what="$1" '/^test result:/ {
            for (i = 1; i < NF; i++) if ($(i + 1) ~ "^" what) n += $i
        }
        END { print n + 0 }' "$LOG"
}

summary() { # STATUS
    echo
    echo "==> summary"
    printf '    %s\n' "${RESULTS[@]}"
    if [ "$1" -eq 0 ]; then
        echo "all checks passed in $((SECONDS - START)) s"
    else
        echo "FAILED (exit $1) after $((SECONDS - START)) s"
    fi
    # One closing line with the totals over every test binary and doctests.
    if grep -q '^test result:' "$LOG"; then
        echo "ignored: $(count_tests ignored) tests"
        echo "tests: $(count_tests passed) passed, $(count_tests failed) failed"
    fi
}

step() { # NAME COMMAND...
    local name="$1" t0=$SECONDS rc=0
    shift
    echo
    echo "==> $name"
    "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("$(printf 'ok    %4d s  %s' $((SECONDS - t0)) "$name")")
        echo "<== $name: ok ($((SECONDS - t0)) s)"
    else
        RESULTS+=("$(printf 'FAIL  %4d s  %s (exit %d)' $((SECONDS - t0)) "$name" "$rc")")
        echo "<== $name: FAILED with exit $rc ($((SECONDS - t0)) s)"
        summary "$rc"
        exit "$rc"
    fi
}

run_tests() {
    local limit="${TUNSTACK_TEST_TIMEOUT:-45m}" fg=() rc=0
    # Interactive: stay in the terminal's process group so Ctrl-C works.
    # Otherwise (CI) timeout signals its whole process group on expiry: the
    # test binaries and the servers they spawned, so a hung test cannot eat
    # the CI budget.
    if [ -t 0 ]; then
        fg=(--foreground)
    fi
    # --no-fail-fast: one failing test binary must not hide the others.
    timeout "${fg[@]}" --kill-after=30s "$limit" \
        cargo test --no-fail-fast "$@" 2>&1 | tee "$LOG" || rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "cargo test did not finish within $limit (TUNSTACK_TEST_TIMEOUT)"
    fi
    return "$rc"
}

# The library without the `cli` feature: it builds, and none of the
# binary's crates reaches a library user.
library_only() {
    cargo build --no-default-features --lib
    cargo build --no-default-features "${FEATURES[@]}" --lib
    local cli
    cli="$(cargo tree -e normal --no-default-features "${FEATURES[@]}" --prefix none |
        grep -E '^(clap|indicatif|scraper|env_logger) ' || true)"
    if [ -n "$cli" ]; then
        echo "the library (--no-default-features) depends on CLI crates:"
        echo "$cli"
        return 1
    fi
    # TLS is rustls with the ring provider: no C toolchain beyond cc, no
    # cmake (aws-lc-rs would need it).
    local cmake
    cmake="$(cargo tree -e normal,build --prefix none |
        grep -E '^(cmake|aws-lc-rs|aws-lc-sys|openssl-sys) ' || true)"
    if [ -n "$cmake" ]; then
        echo "the build pulls a crate that needs cmake or system OpenSSL:"
        echo "$cmake"
        return 1
    fi
}

step "packages" install_packages
step "toolchain" setup_cargo
step "kernel" check_kernel
step "stale namespaces" clean_stale_netns
step "cargo fmt --all -- --check" cargo fmt --all -- --check
# The optional library features (tokio, mio, axum) are built, linted and tested
# too: their tests and examples declare them as required features.
FEATURES=(--features tokio,mio,axum)
step "cargo clippy --all-targets ${FEATURES[*]} -- -D warnings" cargo clippy --all-targets "${FEATURES[@]}" -- -D warnings
step "scripts/check-layering.sh --self-test" scripts/check-layering.sh --self-test
step "scripts/check-layering.sh" scripts/check-layering.sh
step "scripts/wan-pcap-summary.py --self-test" python3 scripts/wan-pcap-summary.py --self-test
step "cargo build --all-targets ${FEATURES[*]}" cargo build --all-targets "${FEATURES[@]}"
step "cargo build --no-default-features --lib" library_only
step "cargo test ${FEATURES[*]}${*:+ $*}" run_tests "${FEATURES[@]}" "$@"
# Keeps the benchmarks from rotting: tiny sizes, one run, never judged on speed.
step "scripts/bench.sh --smoke" scripts/bench.sh --smoke
# The WAN bench at smoke size: one cell through the emulator, 2 s per transfer.
step "scripts/bench.sh --wan --smoke" scripts/bench.sh --wan --smoke
# Every cargo-fuzz target for 20 s (docs/security.md); fails on any crash.
step "scripts/fuzz.sh 20" scripts/fuzz.sh 20
summary 0
