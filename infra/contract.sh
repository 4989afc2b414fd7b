#!/usr/bin/env bash
# The HTTP contract check: starts the local-server binary on a free loopback port and runs
# schemathesis (pinned in infra/tools.sh) with openapi.yaml and every check against it.
# Any failure fails the script. Usage: bash infra/contract.sh [extra schemathesis options]
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/tools.sh
need_python_tools

cargo build --quiet -p local-server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
outbox=$(mktemp -d)
target/debug/local-server --addr "127.0.0.1:$port" --outbox "$outbox" >"$outbox/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$outbox"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# One worker: Debian's Python 3.11 can raise "SystemError: AST constructor recursion depth
# mismatch" when two threads compile at once (a CPython bug), which made runs fail at random.
schemathesis --config-file infra/schemathesis.toml run openapi.yaml \
  --url "http://127.0.0.1:$port" --checks all --workers 1 "$@"
