#!/usr/bin/env bash
# The workspace's `rust-version` (Cargo.toml) is the oldest Rust that builds it:
# - every crate of the workspace declares it (`rust-version.workspace = true`);
# - no locked dependency asks for a newer Rust;
# - the Rust running the tests is at least that old one (cargo refuses an older one itself).
# With MSRV_BUILD=1 it also installs that toolchain (rustup, minimal profile) and checks the
# whole workspace with it, which takes minutes on 2 cores; the test command runs the quick part.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked --features local-server/dynamodb | python3 -c '
import json, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
version = lambda v: tuple(int(x) for x in v.split("."))
declared = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
missing = [p["name"] for p in meta["packages"] if p["id"] in members and not p.get("rust_version")]
if missing or len(declared) != 1:
    sys.exit(f"every workspace crate must declare the one rust-version: missing in {missing}, found {sorted(declared - {None})}")
msrv = declared.pop()
newer = [(p["name"], p["rust_version"]) for p in meta["packages"]
         if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(msrv)]
if newer:
    sys.exit(f"rust-version {msrv} is older than what these dependencies ask for: {newer}")
print(msrv)
' > target/msrv.txt
msrv="$(cat target/msrv.txt)"
echo "rust-version $msrv: declared by every crate, no dependency asks for newer" >&2
if [ "${MSRV_BUILD:-0}" = 1 ]; then
  rustup toolchain install "$msrv" --profile minimal >&2
  CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --workspace --all-targets --locked \
    --features local-server/dynamodb
  echo "the workspace builds with Rust $msrv" >&2
fi
