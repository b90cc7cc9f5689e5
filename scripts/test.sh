#!/usr/bin/env bash
# The whole test suite, as CI runs it:  sudo scripts/test.sh [cargo test args]
#
# Installs what the tests need (Debian packages), then runs cargo fmt
# --check, clippy with -D warnings, the layering check, and cargo test —
# unit tests, the deterministic simulation, and the root integration tests
# that create their own network namespaces with tun0 inside.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: the integration tests create network namespaces and TUN devices;" >&2
    echo "run it as root: sudo scripts/test.sh" >&2
    exit 2
fi

export RUST_BACKTRACE=1
[ -t 1 ] || export CARGO_TERM_COLOR=never
start_all=$(date +%s)

step() {
    local name="$1"
    shift
    echo
    echo "==> $name"
    local t0=$(date +%s)
    "$@"
    echo "<== $name ($(( $(date +%s) - t0 )) s)"
}

# --- packages -----------------------------------------------------------------
need_pkgs=()
for p in tshark tcpdump nginx netcat-openbsd socat iproute2 curl python3 dnsmasq iptables nftables; do
    dpkg -s "$p" > /dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    echo "==> installing: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2> /dev/null || true
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" > /dev/null
fi

# --- cargo, even under sudo ---------------------------------------------------
find_cargo() {
    if command -v cargo > /dev/null 2>&1; then command -v cargo; return; fi
    local c
    for c in "$HOME/.cargo/bin/cargo" \
             "$(getent passwd "${SUDO_USER:-}" 2> /dev/null | cut -d: -f6)/.cargo/bin/cargo" \
             /usr/local/cargo/bin/cargo; do
        [ -x "$c" ] && { echo "$c"; return; }
    done
    return 1
}
CARGO="$(find_cargo)" || { echo "scripts/test.sh: cargo not found (install Rust with rustup)" >&2; exit 2; }
export PATH="$(dirname "$CARGO"):$PATH"

# Namespaces left by an interrupted demo.
for ns in $(ip netns list 2> /dev/null | awk '/^tunstack-/ {print $1}'); do
    ip netns del "$ns" 2> /dev/null || true
done

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --all-targets -- -D warnings
step "layering self-test" scripts/check-layering.sh --self-test
step "layering" scripts/check-layering.sh
step "cargo build" cargo build --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
step "cargo test" bash -c 'set -o pipefail; cargo test "$@" 2>&1 | tee "$0"' "$log" "$@"

# One closing line with the totals over every test binary.
passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i} END {print s + 0}' "$log")
echo
echo "all checks passed in $(( $(date +%s) - start_all )) s"
echo "tests: ${passed} passed, ${failed} failed"
