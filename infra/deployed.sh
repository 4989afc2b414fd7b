#!/usr/bin/env bash
# The deployed stack, locally: packages the functions, starts ministack (an emulated AWS) on
# loopback, deploys template.yaml to it as to AWS, signs in a user and an admin, prints their
# tokens and the API's URL, and keeps the emulator running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/emulators.sh
trap stop_emulators EXIT
bash infra/package.sh
start_ministack
python3 tests/deployed/stack.py
echo "Ctrl-C stops the emulator." >&2
wait
