# Shell functions the scripts share; sourced (`. scripts/lib.sh`) from the
# repository root by scripts/bench.sh, scripts/demo.sh, scripts/wan-pair.sh
# and scripts/serve-cpu.sh.

# The home directory of user $1.
user_home() { getent passwd "$1" | cut -d: -f6; }

# The cargo to build with: the user's own (HOME $1, may be empty), the one
# on PATH, root's, the system's.
find_cargo() { # [HOME of the user who will run it]
    local c
    for c in "${1:+$1/.cargo/bin/cargo}" "$(command -v cargo 2> /dev/null || true)" \
        "$HOME/.cargo/bin/cargo" /usr/local/cargo/bin/cargo; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    echo "scripts/${0##*/}: cargo not found (install Rust: https://rustup.rs)" >&2
    return 1
}

# `cargo ARGS...`; under sudo, as the user who ran sudo, with their
# toolchain, so that target/ stays theirs (anything an earlier root build
# left in it is given back first). Leaves the cargo it ran in $cargo.
cargo_as_invoker() { # ARGS...
    local home
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(stat -c %U .)" = "$SUDO_USER" ]; then
        home="$(user_home "$SUDO_USER")"
        cargo="$(find_cargo "$home")"
        if [ -d target ] && [ -n "$(find target ! -user "$SUDO_USER" -print -quit)" ]; then
            chown -R "$SUDO_USER:" target
        fi
        local as_user=(sudo -u "$SUDO_USER" -H)
        if ! command -v sudo > /dev/null 2>&1; then
            as_user=(runuser -u "$SUDO_USER" -- env HOME="$home")
        fi
        "${as_user[@]}" env PATH="$(dirname "$cargo"):$PATH" "$cargo" "$@"
    else
        cargo="$(find_cargo "")"
        PATH="$(dirname "$cargo"):$PATH" "$cargo" "$@"
    fi
}

# Waits (up to 10 s) until URL answers from namespace NS.
wait_url() { # NS URL
    for _ in $(seq 100); do
        ip netns exec "$1" curl -s -o /dev/null -m 2 "$2" && return 0
        sleep 0.1
    done
    return 1
}

# CPU time and run-queue wait of process PID so far, summed over its
# threads (/proc/PID/task/*/schedstat: ns on a CPU, ns runnable but
# waiting for one, time slices): "cpu_ms wait_ms slices".
sched_of() { # PID
    cat /proc/"$1"/task/*/schedstat 2> /dev/null |
        awk '{ c += $1; w += $2; n += $3 } END { printf "%d %d %d\n", c / 1e6, w / 1e6, n }'
}
