#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, starts the emulators on
# loopback, checks formatting and lints, runs every test, and stops the emulators on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
source infra/emulators.sh
trap stop_emulators EXIT

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format and lints" >&2
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== emulators and browser" >&2
need_chromium
start_dynalite
start_moto

echo "== tests" >&2
cargo test --workspace
