#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, checks formatting, lints and
# the template, packages every function, starts the emulators on loopback, runs every test
# (the packaged bootstraps included), deploys template.yaml to an emulated AWS and walks it,
# and stops the emulators on exit.
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
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets --features local-server/dynamodb -- -D warnings
cargo clippy -p local-server --all-targets -- -D warnings

echo "== minimum Rust version (MSRV_BUILD=1 also builds with it)" >&2
bash infra/msrv.sh

echo "== template: cfn-lint on template.yaml and on its SAM expansion, sam validate" >&2
need_python_tools
cfn-lint template.yaml
mkdir -p target
python3 infra/sam_translate.py template.yaml target/template.json
cfn-lint target/template.json
# What a team runs before `sam deploy`, and what `sam publish` needs to read.
need_sam_cli
"$SAM" validate --template template.yaml --region us-east-1
"$SAM" validate --lint --template template.yaml --region us-east-1

echo "== packaging every function (release, cargo lambda)" >&2
bash infra/package.sh

echo "== emulators and browser" >&2
need_chromium
start_dynamodb
start_moto

echo "== tests" >&2
# The local server's DynamoDB walk needs its `dynamodb` feature; its default build (no AWS SDK,
# what `cargo run -p local-server` compiles) is tested on its own after.
cargo test --workspace --no-fail-fast --features local-server/dynamodb
cargo test -p local-server --no-fail-fast
# The suite's size next to what ran: each store's binary above reports the same number passed.
cargo test --quiet -p integration-tests --test suite_registration -- --nocapture 2>&1 | grep "behaviour suite"

echo "== the deployed stack: template.yaml on ministack (emulated AWS), walked through its API Gateway" >&2
# The same ministack the tests' DynamoDB ran on.
[ -n "${MINISTACK_URL:-}" ] || start_ministack
need_amplify
PYTHONDONTWRITEBYTECODE=1 python3 -m pytest -p no:cacheprovider -q -rxX tests/deployed

echo "== HTTP contract: schemathesis, every check, against the local server" >&2
bash infra/contract.sh

echo "== fuzzing: every cargo fuzz target briefly (bash infra/fuzz.sh runs 60 s each)" >&2
bash infra/fuzz.sh "${FUZZ_SECONDS:-10}"

echo "== every check passed in $((SECONDS / 60)) min $((SECONDS % 60)) s" >&2
