#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo fuzz (libFuzzer, AddressSanitizer) on stable Rust:
# RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z sanitizer flags cargo fuzz passes, since
# nightly cannot be installed here. Runs every target in fuzz/ for SECONDS each (default 60)
# and prints its executions; a crash fails the script and leaves its input in
# fuzz/artifacts/<target>/ (reproduce: cargo fuzz run <target> <file>; then make it a test).
# Usage: bash infra/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
CARGO_FUZZ_VERSION="0.13.1"
tools="$PWD/.tools/cargo"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io into $tools" >&2
  cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
export PATH="$tools/bin:$PATH" RUSTC_BOOTSTRAP=1

cd fuzz
cargo fuzz build
for target in $(cargo fuzz list); do
  log=$(mktemp)
  if ! cargo fuzz run "$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz target $target found a crash; its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+')
  printf 'fuzz %-20s %10s executions in %s s, no crash\n' "$target" "$runs" "$seconds"
  rm -f "$log"
done
