# Sourced by scripts/bench.sh first, for every mode: builds what the mode
# needs (as the invoking user under sudo, so target/ stays theirs), then the
# namespaces every measurement runs in, the EXIT cleanup that removes them,
# and the runners of one measurement (result_of, tun_run, veth_run).
# Reads the driver's smoke/wan/load/PROFILE/LIMIT; sets build, bin, prefix,
# logdir, bg_pids.

# --- build --------------------------------------------------------------------------
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build=(build --quiet --features tokio --example bench_tcp --example bench_rawtun --example bench_smoltcp --example bench_tokio --example bench_multiq --bin tunstack)
if [ "$wan" -eq 1 ]; then
    build=(build --quiet --bin tunstack --example wan)
fi
if [ "$load" -eq 1 ]; then
    build=(build --quiet --bin tunstack)
fi
if [ "$PROFILE" = release ]; then
    build+=(--release)
elif [ "$PROFILE" != debug ]; then
    echo "scripts/bench.sh: BENCH_PROFILE must be release or debug" >&2
    exit 2
fi
echo "==> building the bench examples ($PROFILE)"
cargo_as_invoker "${build[@]}"
bin="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/examples"
wanted=(bench_tcp bench_rawtun bench_smoltcp bench_tokio bench_multiq)
if [ "$wan" -eq 1 ]; then
    wanted=(wan)
fi
[ "$load" -eq 0 ] || wanted=()
for b in "${wanted[@]}"; do
    [ -x "$bin/$b" ] || {
        echo "scripts/bench.sh: $bin/$b was not built" >&2
        exit 1
    }
done

# --- namespaces ---------------------------------------------------------------------
prefix="tunstack-bench-$$"
logdir="$(mktemp -d)"
seq_no=0
bg_pids=()

# shellcheck disable=SC2317 # called from the trap
cleanup() {
    local ns p
    for p in "${bg_pids[@]}"; do kill "$p" 2> /dev/null || true; done
    if [ "$wan" -eq 1 ]; then
        WAN_NS="$prefix-wan" WAN_BIN="$bin/wan" scripts/wan.sh down > /dev/null 2>&1 || true
    fi
    for ns in $(ip netns list 2> /dev/null | awk -v p="$prefix-" 'index($1, p) == 1 {print $1}'); do
        for p in $(ip netns pids "$ns" 2> /dev/null || true); do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
    rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# new_ns VAR: a fresh namespace with lo up; its name goes into VAR.
new_ns() {
    seq_no=$((seq_no + 1))
    local _name="$prefix-$seq_no"
    ip netns add "$_name"
    ip -n "$_name" link set lo up
    printf -v "$1" '%s' "$_name"
}

del_ns() {
    local ns p
    for ns in "$@"; do
        for p in $(ip netns pids "$ns" 2> /dev/null || true); do kill "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
}

# Runs "$@" and sets R_VALUE and R_UNIT from its "result: VALUE UNIT"
# line; on failure shows its output and exits.
result_of() {
    local log="$logdir/run.log" rc=0
    timeout --kill-after=10 "$LIMIT" "$@" > "$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q '^result:' "$log"; then
        echo "scripts/bench.sh: failed (exit $rc): $*" >&2
        sed 's/^/    /' "$log" >&2
        exit 1
    fi
    read -r R_VALUE R_UNIT < <(awk '/^result:/ {print $2, $3; exit}' "$log")
}

# One measurement in a fresh namespace with tun0 (the examples create it).
tun_run() { # COMMAND...
    local ns
    new_ns ns
    result_of ip netns exec "$ns" "$@"
    del_ns "$ns"
}

# Joins namespaces A and B with a veth pair, veth0 in A with A_ADDR and
# veth1 in B with B_ADDR, both up; MTU on both ends, or the default when
# empty.
veth_pair() { # A B MTU A_ADDR B_ADDR
    local mtu=()
    [ -z "$3" ] || mtu=(mtu "$3")
    ip -n "$1" link add veth0 "${mtu[@]}" type veth peer name veth1 netns "$2" "${mtu[@]}"
    ip -n "$1" addr add "$4" dev veth0
    ip -n "$2" addr add "$5" dev veth1
    ip -n "$1" link set veth0 up
    ip -n "$2" link set veth1 up
}

# One kernel-to-kernel measurement over a veth pair between two fresh
# namespaces: server in the second (10.0.0.2), client in the first.
veth_run() { # MTU SERVER_TEST CLIENT_TEST CLIENT_ARGS...
    veth_run_with bench_tcp "$@"
}

veth_run_with() { # EXAMPLE MTU SERVER_TEST CLIENT_TEST CLIENT_ARGS...
    local ex="$1" mtu="$2" stest="$3" ctest="$4" a b server
    shift 4
    new_ns a
    new_ns b
    veth_pair "$a" "$b" "$mtu" 10.0.0.1/24 10.0.0.2/24
    ip netns exec "$b" "$bin/$ex" kernel-server "$stest" --bind 10.0.0.2:5001 \
        > "$logdir/server.log" 2>&1 &
    server=$!
    bg_pids+=("$server")
    result_of ip netns exec "$a" "$bin/$ex" kernel-client "$ctest" --to 10.0.0.2:5001 "$@"
    kill "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    del_ns "$a" "$b"
}

# Waits until URL answers from NS (a server just started); --wan and
# --load use it. lib.sh's wait_url, saying which URL never answered.
wan_wait_url() { # NS URL
    wait_url "$1" "$2" && return 0
    echo "scripts/bench.sh: $2 never answered from $1" >&2
    return 1
}
