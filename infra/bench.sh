#!/usr/bin/env bash
# Benchmarks in release mode: one argon2id hash next to whole verifies, on memory and on
# DynamoDB (ministack's),
# and the local server's peak memory under hashing load.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
source infra/emulators.sh
trap stop_emulators EXIT
start_dynamodb
cargo bench -p backup-codes --bench verify
echo "== peak memory under hashing load (release local server; target 64 MiB)" >&2
cargo build --release -p local-server
bash infra/bench_memory.sh target/release/local-server
