#!/usr/bin/env bash
# Peak memory of the local server (release) under argon2id work: 100 sequential, then 60
# concurrent, then five bursts of 20 verifies, each for a different unknown user (one argon2id
# hash each, the same work as a wrong code for a known user; distinct users so no ledger locks).
# Prints VmHWM (peak RSS) after each phase. Usage: infra/bench_memory.sh <local-server binary>
set -euo pipefail
source "$(dirname "$0")/tools.sh"
trap stop_local_server EXIT
start_local_server "$1"
port=$LOCAL_SERVER_PORT
peak() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$LOCAL_SERVER_PID/status"; }
verify() {
  curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    -d "{\"user_id\":\"$1\",\"code\":\"abcde-12345\"}" "http://127.0.0.1:$port/v1/verify"
}
export -f verify
export port
echo "local server, idle:                              peak RSS $(peak)"
for i in $(seq 1 100); do verify "seq-$i" >/dev/null; done
echo "after 100 sequential hashing requests:           peak RSS $(peak)"
# Every one of the 60 should be answered (401, an unknown user), none refused as busy (503).
statuses=$(seq 1 60 | xargs -P 60 -I{} bash -c 'verify con-{}' | sort | uniq -c |
  awk '{printf "%s x HTTP %s  ", $1, $2}')
echo "answers to the 60 concurrent requests:           $statuses"
echo "after 60 concurrent hashing requests:            peak RSS $(peak)"
for burst in 1 2 3 4 5; do
  seq 1 20 | xargs -P 20 -I{} bash -c "verify burst-$burst-{}" >/dev/null
done
echo "after five bursts of 20:                         peak RSS $(peak)"
