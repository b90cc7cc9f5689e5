#!/usr/bin/env bash
# Fetch a web page through tunstack:  sudo scripts/demo.sh [tunstack get flags]
#
# Creates a private network namespace, serves a small page with
# `python3 -m http.server` inside it, and runs `tunstack get` there: tunstack
# creates tun0 (kernel side 10.0.0.1/24, tunstack 10.0.0.2) and fetches the
# page over its own TCP. Everything is removed afterwards, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh needs root for network namespaces and TUN: sudo scripts/demo.sh" >&2
    exit 2
fi

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
CARGO="$(find_cargo)" || { echo "cargo not found (install Rust with rustup)" >&2; exit 2; }

echo "==> building tunstack (release)"
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    # Build as the invoking user so target/ does not become root-owned.
    sudo -u "$SUDO_USER" "$CARGO" build --release --quiet
else
    "$CARGO" build --release --quiet
fi
bin="$PWD/target/release/tunstack"

ns="tunstack-demo-$$"
dir="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$dir/index.html" <<'HTML'
<!doctype html>
<html>
<head><title>Hello from the other side of tun0</title><link rel="stylesheet" href="style.css"></head>
<body>
<h1>It works.</h1>
<p>This page travelled from the Linux kernel's TCP to tunstack's own TCP,
over tun0, segment by segment.</p>
</body>
</html>
HTML
echo "body { font-family: sans-serif; }" > "$dir/style.css"

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# 10.0.0.1 exists only once tunstack creates tun0, so listen on all addresses
# of this private namespace.
ip netns exec "$ns" python3 -m http.server 80 --bind 0.0.0.0 --directory "$dir" > "$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    ip netns exec "$ns" ss -ltn 2> /dev/null | grep -q ':80 ' && break
    sleep 0.1
done

echo "==> tunstack get http://10.0.0.1/index.html  (namespace $ns)"
echo
t0=$(date +%s%N)
set +e
ip netns exec "$ns" "$bin" get http://10.0.0.1/index.html "$@"
status=$?
set -e
t1=$(date +%s%N)
echo
echo "==> tunstack exited with $status after $(( (t1 - t0) / 1000000 )) ms"
echo "    see README.md for the addressing convention and more commands"
exit "$status"
