#!/usr/bin/env bash
# Benchmarks in release mode: one argon2id hash next to whole verifies, on memory and dynalite.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
source infra/emulators.sh
trap stop_emulators EXIT
start_dynalite
cargo bench -p backup-codes --bench verify
