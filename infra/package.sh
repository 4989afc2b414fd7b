#!/usr/bin/env bash
# Packages every Lambda function into target/lambda/<name>/bootstrap.zip with cargo-lambda
# (release, x86_64 by default; ARCH=arm64 needs that Rust target installed) and prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/tools.sh
need_python_tools

functions=()
for dir in functions/*/; do functions+=("$(basename "$dir")"); done
packages=()
for name in "${functions[@]}"; do packages+=(--package "$name"); done
target=()
if [ "${ARCH:-x86_64}" = "arm64" ]; then target=(--arm64); fi

echo "== packaging ${functions[*]}" >&2
cargo lambda build --release --output-format zip "${target[@]}" "${packages[@]}"

for name in "${functions[@]}"; do
  zip="target/lambda/$name/bootstrap.zip"
  [ -f "$zip" ] || { echo "missing $zip" >&2; exit 1; }
  printf '%-18s %8d bytes  %s\n' "$name" "$(stat -c %s "$zip")" "$zip"
done
