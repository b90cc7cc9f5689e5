#!/usr/bin/env bash
# Runs a command in a private network namespace "tunstack-sh" (created if
# missing, lo up), e.g. an example that creates tun0 there:
#
#   sudo scripts/netns.sh cargo run --example echo_server
#   sudo ip netns exec tunstack-sh nc 10.0.0.2 7          # another terminal
#   sudo ip netns del tunstack-sh                         # when done
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "needs root: sudo scripts/netns.sh COMMAND..." >&2
    exit 2
fi
[ "$#" -gt 0 ] || { echo "usage: sudo scripts/netns.sh COMMAND [ARGS...]" >&2; exit 2; }
ns=tunstack-sh
ip netns list | grep -qw "$ns" || { ip netns add "$ns"; ip netns exec "$ns" ip link set lo up; }
exec ip netns exec "$ns" "$@"
