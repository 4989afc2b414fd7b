#!/usr/bin/env bash
# Benchmarks in release mode, each figure printed next to its target:
# - one argon2id hash next to whole verifies, on memory and on DynamoDB (ministack's); the CPU
#   of a verify over its hash; the DynamoDB requests of each kind of verify;
# - the packaged functions' cold starts next to a bare lambda_http function's, under a Lambda
#   Runtime API stand-in (keys in the environment, then from Secrets Manager on moto), and each
#   function's peak memory after 100 sequential invocations (needs `bash infra/package.sh`);
# - the local server's peak memory under hashing load.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
source infra/emulators.sh
trap stop_emulators EXIT
start_dynamodb
start_moto
cargo bench -p backup-codes --bench verify
echo "== cold starts and peak memory of the packaged functions" >&2
[ -f target/lambda/verify/bootstrap.zip ] || bash infra/package.sh
need_python_tools
cargo lambda build --release --output-format zip --package hello-lambda >&2
cargo test -p integration-tests --test lambda_cold_start -- --ignored --nocapture
echo "== peak memory under hashing load (release local server; target 64 MiB)" >&2
cargo build --release -p local-server
bash infra/bench_memory.sh target/release/local-server
