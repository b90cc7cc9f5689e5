#!/usr/bin/env bash
# Load a web page through tunstack, by name:
#
#   sudo scripts/demo.sh [extra flags for tunstack get]
#
# Builds tunstack (release), creates a private network namespace, and in it
# serves a small page with `python3 -m http.server` and answers DNS for
# www.tunstack.test with dnsmasq. Then it runs
#
#   tunstack get -v --dns 10.0.0.1 http://www.tunstack.test/index.html
#
# inside it: tunstack creates tun0 (kernel side 10.0.0.1/24, tunstack
# 10.0.0.2), resolves the name over its own UDP, opens a TCP connection
# with its own TCP and narrates every step (-v). A second run fetches the
# page's stylesheet too (--page-requisites). Everything is removed
# afterwards, also on Ctrl-C. Nothing touches the host's network. Exits
# with the first fetch's exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh needs root for a network namespace and /dev/net/tun." >&2
    echo "Run: sudo scripts/demo.sh" >&2
    exit 2
fi
# package:command pairs the demo needs; missing ones are installed with apt.
need=()
for pc in iproute2:ip iproute2:ss python3:python3 dnsmasq:dnsmasq; do
    command -v "${pc#*:}" > /dev/null 2>&1 || need+=("${pc%%:*}")
done
if [ "${#need[@]}" -gt 0 ]; then
    if ! command -v apt-get > /dev/null 2>&1; then
        echo "scripts/demo.sh: missing ${need[*]}; install them and run again" >&2
        exit 2
    fi
    echo "==> installing ${need[*]}"
    # Don't let the package start dnsmasq on the host: only the demo's own
    # copy runs, inside the namespace.
    policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "$(printf '%s\n' "${need[@]}" | sort -u)" < /dev/null; } || rc=$?
    [ "$own_policy" -eq 0 ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || exit "$rc"
fi

# --- build -----------------------------------------------------------------------
. scripts/lib.sh

echo "==> building tunstack (release; the first build takes a minute or two)"
cargo_as_invoker build --release --quiet --bin tunstack
bin="$repo/target/release/tunstack"

# --- namespace, page, server ----------------------------------------------------
ns="tunstack-demo-$$"
dir="$(mktemp -d)"
chmod 755 "$dir"
server=""
dns=""

# shellcheck disable=SC2317 # called from the trap
cleanup() {
    local pids
    for p in $server $dns; do
        kill "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
    done
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
# HTTP/1.1 (Python >= 3.11) lets the page and its stylesheet share one
# kept-alive connection.
proto=()
if python3 -m http.server --help 2>&1 | grep -q -- --protocol; then
    proto=(--protocol HTTP/1.1)
fi
ip netns exec "$ns" python3 -m http.server 80 --bind 0.0.0.0 --directory "$dir/www" \
    "${proto[@]}" > "$dir/server.log" 2>&1 &
server=$!

# dnsmasq answers www.tunstack.test from its own hosts file, on every
# address of the namespace (10.0.0.1:53 once tun0 exists); it asks nobody
# upstream.
echo "10.0.0.1 www.tunstack.test" > "$dir/hosts"
ip netns exec "$ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --addn-hosts="$dir/hosts" --pid-file="$dir/dnsmasq.pid" --user=root --port=53 \
    > "$dir/dnsmasq.log" 2>&1 &
dns=$!

listening=0
for _ in $(seq 100); do # at most ~10 s
    if ip netns exec "$ns" ss -Hltn 'sport = :80' 2> /dev/null | grep -q . &&
        ip netns exec "$ns" ss -Hlun 'sport = :53' 2> /dev/null | grep -q .; then
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
url=http://www.tunstack.test/index.html
flags=(--dns 10.0.0.1 --hosts-file /dev/null)
echo "==> ip netns exec $ns tunstack get -v ${flags[*]} $url${*:+ $*}"
echo
t0=$(date +%s%N)
status=0
# In the background and waited for, so that a TERM is handled at once;
# cleanup stops whatever still runs in the namespace.
ip netns exec "$ns" "$bin" get -v "${flags[@]}" "$url" "$@" > "$dir/body" &
wait "$!" || status=$?
t1=$(date +%s%N)
echo
echo "==> the body, as tunstack wrote it to stdout"
cat "$dir/body"

echo
echo "==> ip netns exec $ns tunstack get --page-requisites -P DIR ${flags[*]} $url"
req_status=0
ip netns exec "$ns" "$bin" get --page-requisites -P "$dir/saved" "${flags[@]}" "$url" &
wait "$!" || req_status=$?
saved="$(cd "$dir/saved" 2> /dev/null && find . -type f | sort | tr '\n' ' ')"

echo
echo "==> summary"
echo "    body:      $(wc -c < "$dir/body") bytes on stdout"
echo "    time:      $(((t1 - t0) / 1000000)) ms (including creating tun0 and the DNS lookup)"
echo "    page load: ${saved:-nothing} saved (exit $req_status)"
echo "    exit code: $status ($([ "$status" -eq 0 ] && echo success || echo failure))"
echo "    What the addresses mean and what else tunstack can do: README.md"
exit "$status"
