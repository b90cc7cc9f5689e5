#!/usr/bin/env bash
# Enforces the layer table of docs/architecture.md with grep over src/:
# every file belongs to a layer, each module uses only the layers below it,
# the deterministic core (tcp, stack) never touches threads, locks, the
# real clock or OS randomness, the deterministic layers keep no
# randomly-seeded hash tables, and only net/, device/, the connector and
# the binary read the clock.
#
#   scripts/check-layering.sh              check src/ (exit 1 on a violation)
#   scripts/check-layering.sh --self-test  prove that every rule catches a violation
#
# What is checked: every `crate::X` path and every `use` statement, with
# grouped imports expanded (`use crate::{net, tcp::Tcb}` counts as
# `crate::net` and `crate::tcp::Tcb`, also across lines). Comment-only lines
# are ignored. Out of scope: `super::super::` paths, renamed imports used
# later under another name, and matches inside string literals.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

# --- the rules ----------------------------------------------------------------
# rule SCOPE PATTERN REASON
#   SCOPE   space-separated paths relative to src/: `dir/` matches everything
#           below it, `file.rs` matches that file, `*` everything; `!path`
#           excludes.
#   PATTERN a grep -E regex; what it matches is printed in the message.
SCOPES=()
PATTERNS=()
REASONS=()
rule() {
    SCOPES+=("$1")
    PATTERNS+=("$2")
    REASONS+=("$3")
}

clock='\bstd::time\b|\bInstant::now\b|\bSystemTime\b'

# The layers, bottom up, as paths relative to src/ (`dir/` is everything
# below it). A file in none of them is a violation: a new module must be
# placed in the table before it can be checked.
LAYERS=(
    "time time.rs"
    "wire wire/"
    "buffer buffer/"
    "device device/"
    "tcp tcp/"
    "stack stack/"
    "net net/"
    "http http/"
    "dns dns/"
    "connector connector.rs connector/"
    "tokio tokio/"
    "cli cli/ main.rs"
    "root lib.rs"
)

rule "time.rs wire/ buffer/" '\bcrate::(tcp|stack|net|device|http|dns|connector|tokio|cli)\b' \
    "time, wire and buffer are the bottom layers"
rule "time.rs buffer/" '\betherparse\b' \
    "etherparse belongs to wire only"

rule "tcp/" "$clock" \
    "the sans-IO core takes time as an input"
rule "tcp/" '\bstd::(thread|sync)\b' \
    "the sans-IO core has no threads or locks"
rule "tcp/" '\bstd::io\b|\blibc::' \
    "the sans-IO core does no I/O"
rule "tcp/" '\brand::' \
    "randomness is injected into the core"
rule "tcp/" '\bcrate::(device|stack|net|http|dns|connector|tokio|cli)\b' \
    "tcp may use only wire, buffer and time"

rule "device/" '\bcrate::(tcp|stack|net|http|dns|connector|tokio|cli)\b' \
    "device may use only time and wire"

rule "stack/" '\bstd::(thread|sync)\b|\b(Mutex|Condvar)\b' \
    "stack is deterministic: no threads or locks"
rule "stack/" "$clock" \
    "stack is deterministic: time is an input"
rule "stack/" '\brand::' \
    "stack is deterministic: randomness is injected"
rule "stack/" '\bcrate::(net|http|dns|connector|tokio|cli)\b' \
    "stack sits below net"

rule "net/" '\bcrate::(wire|http|dns|connector|tokio|cli)\b' \
    "net deals in sockets, not packet bytes"

rule "http/ dns/" '\bcrate::(net|stack|tcp|device|connector|tokio|cli)\b' \
    "http and dns work over any Read + Write / UDP-like socket"

rule "connector.rs connector/" '\bcrate::(tcp|stack|wire|device|tokio|cli)\b' \
    "the connector joins net, http and dns through their public APIs"
rule "connector/ !connector/close.rs" "$clock" \
    "Happy Eyeballs (connector/happy.rs) and the resolution are sans-IO: time is an input (close.rs drives sockets, as connector.rs)"

rule "tokio/" '\bcrate::(tcp|stack|wire|device|buffer|http|cli)\b' \
    "the async sockets wrap net's poll_* primitives; names go through dns and the connector"

rule "* !net/ !device/ !connector.rs !connector/ !cli/ !main.rs" '\b(Instant|SystemTime)::now\b' \
    "only net, device, the connector and the binary (main.rs, cli/) read the clock"

rule "time.rs wire/ buffer/ tcp/ stack/" '\bHash(Map|Set)\b' \
    "deterministic layers: std's HashMap/HashSet iterate in a per-process random order; use BTreeMap/BTreeSet"

# --- normalising a source file --------------------------------------------------
# Prints the file with the same line numbers, comment-only lines blanked and
# each `use` statement on its first line with groups expanded:
#   use crate::{net, tcp::{Tcb, State}};  ->  use crate::net; use crate::tcp::Tcb; use crate::tcp::State;
normalise() {
    awk '
    function expand(s,    i, c, d, cur, st, out) {
        d = 0; st[0] = ""; cur = ""; out = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "{") {
                st[d + 1] = st[d] cur; d++; cur = ""
            } else if (c == "," || c == "}") {
                if (cur != "") out = out "use " st[d] cur "; "
                cur = ""
                if (c == "}" && d > 0) d--
            } else if (c == " " || c == "\t") {
                if (cur != "" && substr(cur, length(cur)) != " ") cur = cur " "
            } else {
                cur = cur c
            }
        }
        if (cur != "") out = out "use " st[d] cur "; "
        return out
    }
    function finish(    s) {
        s = stmt
        sub(/^[ \t]*(pub(\([^)]*\))?[ \t]+)?use[ \t]+/, "", s)
        sub(/;.*$/, "", s)
        out[start] = expand(s)
        inuse = 0
    }
    {
        line = $0
        out[NR] = ""
        if (line ~ /^[ \t]*\/\//) next
        if (inuse) {
            sub(/\/\/.*$/, "", line)
            stmt = stmt " " line
            if (index(line, ";")) finish()
            next
        }
        if (line ~ /^[ \t]*(pub(\([^)]*\))?[ \t]+)?use[ \t]/) {
            sub(/\/\/.*$/, "", line)
            stmt = line; start = NR; inuse = 1
            if (index(line, ";")) finish()
            next
        }
        out[NR] = line
    }
    END {
        if (inuse) finish()
        for (i = 1; i <= NR; i++) print out[i]
    }' "$1"
}

# --- scopes -------------------------------------------------------------------
in_scope() { # REL SCOPE
    local rel="$1" item hit=1 items
    read -ra items <<< "$2" # no globbing of `*`
    for item in "${items[@]}"; do
        case "$item" in
            '*') hit=0 ;;
            '!'*) item="${item#!}"; [[ "$rel" == "$item" || ( "$item" == */ && "$rel" == "$item"* ) ]] && return 1 ;;
            */) [[ "$rel" == "$item"* ]] && hit=0 ;;
            *) [[ "$rel" == "$item" ]] && hit=0 ;;
        esac
    done
    return "$hit"
}

layer_of() { # REL: the layer's name, or nothing if the file is in none
    local entry name item items
    for entry in "${LAYERS[@]}"; do
        read -ra items <<< "$entry"
        name="${items[0]}"
        for item in "${items[@]:1}"; do
            if [[ "$1" == "$item" || ( "$item" == */ && "$1" == "$item"* ) ]]; then
                echo "$name"
                return
            fi
        done
    done
}

# --- the check ------------------------------------------------------------------
# check_tree SRC_DIR [LABEL]: prints violations as `LABEL/REL:LINE: rule`,
# returns 1 if there are any.
check_tree() {
    local src="$1" label="${2:-src}" norm files=() rel i f hits line match n
    if [ ! -d "$src" ]; then
        echo "check-layering: no such directory: $src" >&2
        return 2
    fi
    norm="$(mktemp -d)"
    while IFS= read -r -d '' f; do
        rel="${f#"$src"/}"
        files+=("$rel")
        mkdir -p "$norm/$(dirname "$rel")"
        normalise "$f" > "$norm/$rel"
    done < <(find "$src" -type f -name '*.rs' -print0 | sort -z)

    local out=()
    for rel in "${files[@]}"; do
        if [ -z "$(layer_of "$rel")" ]; then
            out+=("$label/$rel:1: belongs to no layer (add it to LAYERS in scripts/check-layering.sh and to docs/architecture.md)")
        fi
    done
    for i in "${!PATTERNS[@]}"; do
        local scoped=()
        for rel in "${files[@]}"; do
            in_scope "$rel" "${SCOPES[$i]}" && scoped+=("$rel")
        done
        [ "${#scoped[@]}" -gt 0 ] || continue
        hits="$(cd "$norm" || exit 2; grep -HnoE -- "${PATTERNS[$i]}" "${scoped[@]}" || true)"
        [ -n "$hits" ] || continue
        while IFS= read -r line; do
            f="${line%%:*}"
            line="${line#*:}"
            n="${line%%:*}"
            match="${line#*:}"
            out+=("$label/$f:$n: $(layer_of "$f") must not use '$match' (${REASONS[$i]})")
        done <<< "$hits"
    done
    rm -rf "$norm"

    if [ "${#out[@]}" -gt 0 ]; then
        local report
        report="$(printf '%s\n' "${out[@]}" | sort -t: -k1,1 -k2,2n -s | uniq)"
        echo "$report"
        echo "layering: $(wc -l <<< "$report") violation(s) in ${#files[@]} files checked; see docs/architecture.md"
        return 1
    fi
    echo "layering OK (${#files[@]} files checked)"
}

# --- self-test ------------------------------------------------------------------
# Each case is one file with one violation; the check must report it at the
# right line with the right rule (or, for a file in no layer, say so). Then
# a tree of allowed code must pass.
self_test() {
    local t failed=0 count=0
    t="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$t'" EXIT

    expect() { # FILE LINE MATCH CONTENT(printf %b)
        local file="$1" want got rc
        want="src/$1:$2: $(layer_of "$1") must not use '$3'"
        count=$((count + 1))
        rm -rf "$t/src"
        mkdir -p "$t/src/$(dirname "$file")"
        printf '%b\n' "$4" > "$t/src/$file"
        if got="$(check_tree "$t/src")"; then rc=0; else rc=$?; fi
        if [ "$rc" -ne 1 ] || ! grep -qF -- "$want" <<< "$got"; then
            echo "self-test: NOT caught: $file: $4"
            echo "  wanted: $want"
            echo "  got:    ${got//$'\n'/$'\n'          }"
            failed=1
        fi
    }

    expect_unlayered() { # FILE CONTENT
        local file="$1" want got rc
        want="src/$1:1: belongs to no layer"
        count=$((count + 1))
        rm -rf "$t/src"
        mkdir -p "$t/src/$(dirname "$file")"
        printf '%b\n' "$2" > "$t/src/$file"
        if got="$(check_tree "$t/src")"; then rc=0; else rc=$?; fi
        if [ "$rc" -ne 1 ] || ! grep -qF -- "$want" <<< "$got"; then
            echo "self-test: NOT caught: a file in no layer: $file"
            echo "  got:    ${got//$'\n'/$'\n'          }"
            failed=1
        fi
    }

    # time / wire / buffer: no higher layers; etherparse only in wire.
    expect time.rs 1 crate::tcp 'use crate::tcp::Tcb;'
    expect wire/ipv4.rs 2 crate::stack '// header parsing\nuse crate::stack::Stats;'
    expect wire/tcp.rs 1 crate::net 'pub fn f(_: crate::net::Stack) {}'
    expect buffer/ring.rs 1 crate::device 'use crate::{time::Instant, device::Device};'
    expect buffer/ring.rs 1 crate::http 'use crate::http;'
    expect wire/mod.rs 1 crate::dns 'use crate::dns;'
    expect time.rs 1 crate::cli 'use crate::cli::run;'
    expect buffer/assembler.rs 1 etherparse 'use etherparse::TcpHeader;'
    expect time.rs 1 etherparse 'use etherparse;'

    # tcp: sans-IO.
    expect tcp/input.rs 1 std::time 'use std::time::Duration;'
    expect tcp/input.rs 1 std::time 'use std::{\n    collections::VecDeque,\n    time::Duration,\n};'
    expect tcp/tcb.rs 1 Instant::now 'let t = Instant::now();'
    expect tcp/tcb.rs 1 SystemTime 'let t = SystemTime::UNIX_EPOCH;'
    expect tcp/timers.rs 1 std::thread 'std::thread::sleep(d);'
    expect tcp/timers.rs 1 std::sync 'use std::sync::Arc;'
    expect tcp/output.rs 1 std::io 'use std::io::Write;'
    expect tcp/output.rs 1 std::io 'use std::{fmt, io};'
    expect tcp/isn.rs 1 rand:: 'let x: u32 = rand::random();'
    expect tcp/mod.rs 1 crate::device 'use crate::device::Device;'
    expect tcp/mod.rs 1 crate::stack 'use crate::{wire, stack::Interface};'
    expect tcp/mod.rs 2 crate::net 'use crate::wire;\nuse crate::{\n    buffer::RingBuffer,\n    net::Stack, // the socket\n};'
    expect tcp/tests/mod.rs 1 crate::http 'use crate::http;'
    expect tcp/tests/data.rs 1 crate::dns 'use crate::dns::Resolver;'
    expect tcp/state.rs 1 crate::cli 'use crate::cli;'
    expect tcp/tcb.rs 1 libc:: 'let e = libc::EAGAIN;'

    # device: below tcp, stack and net.
    expect device/tun.rs 1 crate::tcp 'use crate::tcp::Tcb;'
    expect device/tun.rs 1 crate::stack 'use crate::stack::Interface;'
    expect device/pipe.rs 1 crate::net 'pub(crate) use crate::net::Stack;'
    expect device/fault.rs 1 crate::http 'use crate::http;'
    expect device/mod.rs 1 crate::dns 'use crate::dns;'
    expect device/mod.rs 1 crate::cli 'use crate::cli;'

    # stack: deterministic.
    expect stack/mod.rs 1 std::thread 'std::thread::spawn(|| {});'
    expect stack/mod.rs 1 std::sync 'use std::sync::Arc;'
    expect stack/demux.rs 1 Mutex 'let m = Mutex::new(0);'
    expect stack/demux.rs 1 Condvar 'static C: Condvar = Condvar::new();'
    expect stack/ipv4.rs 1 std::time 'use std::time::Duration;'
    expect stack/ipv4.rs 1 Instant::now 'let now = Instant::now();'
    expect stack/stats.rs 1 SystemTime 'let t = SystemTime::UNIX_EPOCH;'
    expect stack/demux.rs 1 rand:: 'use rand::Rng;'
    expect stack/mod.rs 1 crate::net 'use crate::net::Stack;'
    expect stack/mod.rs 1 crate::http 'use crate::{tcp, http};'
    expect stack/mod.rs 1 crate::dns 'use crate::dns;'
    expect stack/mod.rs 1 crate::cli 'use crate::cli;'

    # net: sockets, not packet bytes.
    expect net/stream.rs 1 crate::wire 'use crate::wire::TcpRepr;'
    expect net/mod.rs 1 crate::http 'use crate::http;'
    expect net/mod.rs 1 crate::dns 'use crate::{stack, dns::Resolver};'
    expect net/mod.rs 1 crate::cli 'use crate::cli;'

    # http / dns: over any Read + Write.
    expect http/client.rs 1 crate::net 'use crate::net::TcpStream;'
    expect http/client.rs 1 crate::stack 'use crate::stack;'
    expect http/body.rs 1 crate::tcp 'use crate::{\n    tcp,\n};'
    expect dns/mod.rs 1 crate::device 'use crate::device::Device;'
    expect dns/mod.rs 1 crate::cli 'use crate::cli;'
    expect dns/codec.rs 1 crate::net 'pub use crate::net::UdpSocket;'

    # connector: above net, http and dns; nothing below may use it.
    expect connector.rs 1 crate::tcp 'use crate::tcp::Tcb;'
    expect connector.rs 1 crate::stack 'use crate::{net, stack::Interface};'
    expect connector.rs 1 crate::wire 'use crate::wire;'
    expect connector.rs 1 crate::cli 'use crate::cli;'
    expect net/mod.rs 1 crate::connector 'use crate::connector::StackConnector;'
    expect http/client.rs 1 crate::connector 'use crate::{connector, net};'
    expect dns/resolver.rs 1 crate::connector 'use crate::connector;'
    expect tcp/tcb.rs 1 crate::connector 'use crate::connector;'

    # tokio: above net, dns and the connector; nothing below may use it.
    expect tokio/stream.rs 1 crate::tcp 'use crate::tcp::RecvError;'
    expect tokio/socket.rs 1 crate::stack 'use crate::{net, stack::Interface};'
    expect tokio/addr.rs 1 crate::http 'use crate::http;'
    expect net/task.rs 1 crate::tokio 'use crate::tokio::TcpStream;'
    expect connector.rs 1 crate::tokio 'use crate::tokio;'

    # randomly-seeded hash tables, in the deterministic layers.
    expect tcp/tcb.rs 1 HashMap 'use std::collections::HashMap;'
    expect tcp/sack.rs 1 HashSet 'use std::collections::{BTreeMap, HashSet};'
    expect stack/demux.rs 2 HashMap 'use std::collections::BTreeMap;\nlet t: std::collections::HashMap<u16, u8> = Default::default();'
    expect wire/ipv4.rs 1 HashSet 'let s = HashSet::new();'
    expect buffer/ring.rs 1 HashMap 'use std::{\n    collections::HashMap,\n};'
    expect time.rs 1 HashMap 'type T = HashMap<u8, u8>;'

    # every file belongs to a layer.
    expect_unlayered serve.rs 'pub fn run() {}'
    expect_unlayered cli.rs 'use crate::net;'
    expect_unlayered tools/x.rs 'fn f() {}'

    # the clock, outside net/, device/, the connector and the binary.
    expect lib.rs 1 Instant::now 'let t = std::time::Instant::now();'
    expect dns/resolver.rs 1 SystemTime::now 'let t = SystemTime::now();'
    expect http/client.rs 1 Instant::now 'let deadline = Instant::now() + d;'

    # Allowed code and comments must pass.
    rm -rf "$t/src"
    mkdir -p "$t/src"/{tcp/tests,stack,net,device,http,dns,wire,buffer,cli}
    printf '%s\n' '//! Mentions crate::net::Stack and std::time in docs only.' \
        '// use crate::net::Stack;' '/// Never calls Instant::now().' \
        'use crate::{time::Instant, wire::{SeqNumber, TcpRepr}, buffer::RingBuffer};' \
        'use crate::tcp::Tcb;' > "$t/src/tcp/ok.rs"
    printf '%s\n' 'use super::super::timers::Timer;' > "$t/src/tcp/tests/ok.rs"
    printf '%s\n' 'use crate::{device::Device, tcp, time, wire};' 'use std::io;' > "$t/src/stack/ok.rs"
    printf '%s\n' 'use crate::{buffer, device, stack, tcp, time};' 'use std::sync::{Arc, Mutex};' \
        'let now = std::time::Instant::now();' 'let x: u64 = rand::random();' > "$t/src/net/ok.rs"
    printf '%s\n' 'use crate::{time, wire};' 'let t = Instant::now();' > "$t/src/device/ok.rs"
    printf '%s\n' 'use std::io::{self, Read, Write};' 'use crate::{buffer, time, wire};' > "$t/src/http/ok.rs"
    printf '%s\n' 'use etherparse::Ipv4Header;' 'use crate::{buffer, time};' > "$t/src/wire/ok.rs"
    printf '%s\n' 'use crate::time::Instant;' > "$t/src/buffer/ok.rs"
    printf '%s\n' 'use crate::{connector, net, http, stack, tcp};' 'let t = std::time::Instant::now();' \
        'use std::collections::HashMap;' > "$t/src/cli/mod.rs"
    printf '%s\n' 'use crate::{dns, http, net, time};' 'let t = std::time::Instant::now();' \
        'use std::collections::HashMap;' > "$t/src/connector.rs"
    printf '%s\n' 'pub mod connector;' 'pub use connector::StackConnector;' > "$t/src/lib.rs"
    printf '%s\n' 'use std::collections::{HashMap, HashSet};' 'use crate::{buffer, time};' > "$t/src/dns/ok.rs"
    printf '%s\n' '// Ordered maps, not `HashMap`: its seed is random.' 'use std::collections::BTreeMap;' \
        > "$t/src/stack/map.rs"
    printf '%s\n' 'let t = std::time::Instant::now();' > "$t/src/main.rs"
    mkdir -p "$t/src/tokio"
    printf '%s\n' 'use crate::{connector, dns, net, Stack};' 'use ::tokio::io::AsyncRead;' > "$t/src/tokio/ok.rs"
    local got
    if ! got="$(check_tree "$t/src")"; then
        echo "self-test: allowed code was reported:"
        echo "$got"
        failed=1
    fi

    if [ "$failed" -ne 0 ]; then
        echo "layering self-test FAILED"
        return 1
    fi
    echo "layering self-test OK (${#PATTERNS[@]} rules, $count violations caught, allowed code and comments pass)"
}

case "${1:-}" in
    --self-test) self_test ;;
    "") check_tree "$root/src" ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
    *)
        echo "usage: scripts/check-layering.sh [--self-test]" >&2
        exit 2
        ;;
esac
