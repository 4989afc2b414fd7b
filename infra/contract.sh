#!/usr/bin/env bash
# The HTTP contract check: starts the local-server binary on a free loopback port and runs
# schemathesis (pinned in infra/tools.sh) with openapi.yaml and every check against it.
# Any failure fails the script. Usage: bash infra/contract.sh [extra schemathesis options]
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/tools.sh
need_python_tools

cargo build --quiet -p local-server
trap stop_local_server EXIT
start_local_server target/debug/local-server

# One worker: Debian's Python 3.11 can raise "SystemError: AST constructor recursion depth
# mismatch" when two threads compile at once (a CPython bug), which made runs fail at random.
schemathesis --config-file infra/schemathesis.toml run openapi.yaml \
  --url "http://127.0.0.1:$LOCAL_SERVER_PORT" --checks all --workers 1 "$@"
