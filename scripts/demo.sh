#!/usr/bin/env bash
# Fetch a web page through tunstack:
#
#   sudo scripts/demo.sh [extra flags for tunstack get, e.g. -v]
#
# Builds tunstack (release), creates a private network namespace, serves a
# small page there with `python3 -m http.server`, and runs
#
#   tunstack get http://10.0.0.1/index.html
#
# inside it: tunstack creates tun0 (kernel side 10.0.0.1/24, tunstack
# 10.0.0.2) and fetches the page from the kernel's TCP over its own.
# Everything is removed afterwards, also on Ctrl-C. Nothing touches the
# host's network. Exits with tunstack's exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh needs root for a network namespace and /dev/net/tun." >&2
    echo "Run: sudo scripts/demo.sh" >&2
    exit 2
fi
for c in ip python3 ss; do
    if ! command -v "$c" > /dev/null 2>&1; then
        echo "scripts/demo.sh: '$c' not found (Debian: apt-get install iproute2 python3)" >&2
        exit 2
    fi
done

# --- build -----------------------------------------------------------------------
user_home() { getent passwd "$1" | cut -d: -f6; }

find_cargo() { # [HOME of the user who will run it]
    local c
    for c in "${1:+$1/.cargo/bin/cargo}" "$(command -v cargo 2> /dev/null || true)" \
        "$HOME/.cargo/bin/cargo" /usr/local/cargo/bin/cargo; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    echo "scripts/demo.sh: cargo not found (install Rust: https://rustup.rs)" >&2
    return 1
}

echo "==> building tunstack (release; the first build takes a minute or two)"
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(stat -c %U .)" = "$SUDO_USER" ]; then
    # Build as the user who ran sudo, with their toolchain, so that target/
    # stays theirs. Give back anything an earlier root build left in it.
    home="$(user_home "$SUDO_USER")"
    cargo="$(find_cargo "$home")"
    if [ -d target ] && [ -n "$(find target ! -user "$SUDO_USER" -print -quit)" ]; then
        chown -R "$SUDO_USER:" target
    fi
    as_user=(sudo -u "$SUDO_USER" -H)
    if ! command -v sudo > /dev/null 2>&1; then
        as_user=(runuser -u "$SUDO_USER" -- env HOME="$home")
    fi
    "${as_user[@]}" env PATH="$(dirname "$cargo"):$PATH" \
        "$cargo" build --release --quiet --bin tunstack
else
    cargo="$(find_cargo "")"
    PATH="$(dirname "$cargo"):$PATH" "$cargo" build --release --quiet --bin tunstack
fi
bin="$repo/target/release/tunstack"

# --- namespace, page, server ----------------------------------------------------
ns="tunstack-demo-$$"
dir="$(mktemp -d)"
chmod 755 "$dir"
server=""

# shellcheck disable=SC2317 # called from the trap
cleanup() {
    local pids
    if [ -n "$server" ]; then
        kill "$server" 2> /dev/null || true
        wait "$server" 2> /dev/null || true
    fi
    if ip netns list 2> /dev/null | grep -q "^$ns\b"; then
        # Anything still running in there was started by this script.
        pids="$(ip netns pids "$ns" 2> /dev/null || true)"
        for p in $pids; do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$dir/www"
cat > "$dir/www/index.html" << 'HTML'
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hello from the other side of tun0</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<h1>It works.</h1>
<p>This page left Linux's own TCP at 10.0.0.1, crossed tun0 as raw IPv4
packets, and was reassembled by tunstack's TCP at 10.0.0.2, in user space.</p>
</body>
</html>
HTML
cat > "$dir/www/style.css" << 'CSS'
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
h1 { color: #2a6f3f; }
CSS

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# 10.0.0.1 exists only once tunstack has created tun0, so the server listens
# on every address of this private namespace.
ip netns exec "$ns" python3 -m http.server 80 --bind 0.0.0.0 --directory "$dir/www" \
    > "$dir/server.log" 2>&1 &
server=$!

listening=0
for _ in $(seq 100); do # at most ~10 s
    if ip netns exec "$ns" ss -Hltn 'sport = :80' 2> /dev/null | grep -q .; then
        listening=1
        break
    fi
    if ! kill -0 "$server" 2> /dev/null; then
        break
    fi
    sleep 0.1
done
if [ "$listening" -ne 1 ]; then
    echo "scripts/demo.sh: the HTTP server in $ns did not start listening on port 80:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

# --- the fetch ----------------------------------------------------------------------
echo "==> ip netns exec $ns tunstack get http://10.0.0.1/index.html${*:+ $*}"
echo
t0=$(date +%s%N)
status=0
# In the background and waited for, so that a TERM is handled at once;
# cleanup stops whatever still runs in the namespace.
ip netns exec "$ns" "$bin" get http://10.0.0.1/index.html "$@" > "$dir/body" &
wait "$!" || status=$?
t1=$(date +%s%N)
cat "$dir/body"

echo
echo "==> summary"
echo "    body:      $(wc -c < "$dir/body") bytes on stdout"
echo "    time:      $(((t1 - t0) / 1000000)) ms (including creating tun0)"
echo "    exit code: $status ($([ "$status" -eq 0 ] && echo success || echo failure))"
echo "    What the addresses mean and what else tunstack can do: README.md"
exit "$status"
