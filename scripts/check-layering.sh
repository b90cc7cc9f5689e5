#!/usr/bin/env bash
# Enforces the layer table of docs/architecture.md: each module of src/ may
# use only the layers below it, and only `net` (plus the binary) may touch
# threads, locks, the real clock or OS randomness.
#
#   scripts/check-layering.sh              check src/
#   scripts/check-layering.sh --self-test  prove every rule catches a violation
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

check() {
python3 - "$1" <<'PY'
import os, re, sys

src = sys.argv[1]
ALL = {"time", "wire", "buffer", "tcp", "device", "stack", "net", "http", "dns", "cli"}
# module -> crate modules it may use
ALLOWED = {
    "time": set(), "wire": set(), "buffer": set(),
    "tcp": {"wire", "buffer", "time"},
    "device": {"time", "wire"},
    "stack": {"tcp", "wire", "buffer", "time", "device"},
    "net": {"stack", "device", "time", "tcp"},
    "http": set(), "dns": set(),
    "cli": ALL,
}
# module -> forbidden textual patterns (regex, reason)
SYS = [(r"std::thread|thread::spawn", "threads"), (r"std::sync|Mutex|Condvar|RwLock", "locks"),
       (r"std::time\b|Instant::now|SystemTime", "the real clock"), (r"\brand::|OsRng|getrandom", "OS randomness")]
FORBIDDEN = {
    "time": SYS + [(r"etherparse", "etherparse (wire only)")],
    "buffer": SYS + [(r"etherparse", "etherparse (wire only)")],
    "wire": SYS,
    "tcp": SYS + [(r"std::io\b", "std::io"), (r"\blibc::", "libc")],
    "stack": SYS,
    "device": [(r"\brand::", "OS randomness")],
    "http": SYS,
    "dns": SYS,
    "net": [],
    "cli": [],
}

def module_of(rel):
    first = rel.split(os.sep)[0]
    name = first[:-3] if first.endswith(".rs") else first
    if name == "main":
        return "cli"
    return name if name in ALL else None

def strip_comments(text):
    out = []
    for line in text.splitlines():
        s = line.split("//", 1)[0] if "//" in line and not re.search(r'"[^"]*//', line) else line
        out.append(s)
    return out

def crate_refs(lines):
    """Yields (line_no, module) for every crate::X reference, including
    grouped imports (use crate::{a, b::c}) spread over several lines."""
    joined, starts = "", []
    for i, l in enumerate(lines):
        starts.append((len(joined), i + 1))
        joined += l + "\n"
    def line_at(pos):
        n = 1
        for off, ln in starts:
            if off > pos:
                break
            n = ln
        return n
    for m in re.finditer(r"\b(?:crate|super::super)::(\{[^}]*\}|\w+)", joined):
        body = m.group(1)
        names = re.findall(r"(?:^|[{,\s])(\w+)", body.strip("{}")) if body.startswith("{") else [body]
        for n in names:
            if n in ALL:
                yield line_at(m.start()), n

violations, files = [], 0
for dirpath, _, names in os.walk(src):
    for fn in names:
        if not fn.endswith(".rs"):
            continue
        path = os.path.join(dirpath, fn)
        rel = os.path.relpath(path, src)
        mod = module_of(rel)
        if mod is None or mod == "lib":
            continue
        files += 1
        lines = strip_comments(open(path, encoding="utf-8").read())
        for ln, used in crate_refs(lines):
            if used != mod and used not in ALLOWED[mod]:
                violations.append(f"src/{rel}:{ln}: `{mod}` must not use `{used}`")
        for i, l in enumerate(lines, 1):
            for pat, why in FORBIDDEN.get(mod, []):
                if re.search(pat, l):
                    violations.append(f"src/{rel}:{i}: `{mod}` must not use {why}")
for v in violations:
    print(v)
if violations:
    print(f"layering: {len(violations)} violation(s)")
    sys.exit(1)
print(f"layering OK ({files} files checked)")
PY
}

self_test() {
    local t
    t="$(mktemp -d)"
    trap 'rm -rf "$t"' RETURN
    mkdir -p "$t/src/tcp" "$t/src/http" "$t/src/stack" "$t/src/wire" "$t/src/buffer" "$t/src/device"
    local cases=(
        "tcp/a.rs|use crate::net::Stack;"
        "tcp/b.rs|use crate::{wire, stack::Interface};"
        "tcp/c.rs|let t = std::time::Instant::now();"
        "tcp/d.rs|use std::sync::Mutex;"
        "tcp/e.rs|use std::io::Read;"
        "http/a.rs|use crate::net::TcpStream;"
        "http/b.rs|use crate::{\n    tcp,\n};"
        "stack/a.rs|std::thread::spawn(|| {});"
        "stack/b.rs|let x: u64 = rand::random();"
        "wire/a.rs|use crate::tcp::Tcb;"
        "buffer/a.rs|use etherparse::TcpHeader;"
        "device/a.rs|use crate::stack::Interface;"
    )
    local failed=0 c file body
    for c in "${cases[@]}"; do
        file="${c%%|*}"
        body="${c#*|}"
        rm -rf "$t/src"/*/*.rs
        printf '%b\n' "$body" > "$t/src/$file"
        if check "$t/src" > /dev/null; then
            echo "self-test: NOT caught: $file: $body"
            failed=1
        fi
    done
    rm -rf "$t/src"/*/*.rs
    printf '// use crate::net::Stack;  (a comment)\nuse crate::wire::SeqNumber;\n' > "$t/src/tcp/ok.rs"
    if ! check "$t/src" > /dev/null; then
        echo "self-test: false positive on an allowed import or a comment"
        failed=1
    fi
    if [ "$failed" = 0 ]; then
        echo "layering self-test OK (${#cases[@]} violations caught, comments ignored)"
    fi
    return "$failed"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
else
    check "$root/src"
fi
