# Sourced by infra/test.sh (and usable by hand): installs and starts the emulators on loopback,
# exports the endpoints the AWS SDK reads, and stops them again.
#   source infra/emulators.sh; start_dynamodb; start_moto; ...; stop_emulators

EMULATOR_ROOT="${EMULATOR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools}"
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
AXE_CORE_VERSION="4.11.0"
AMPLIFY_VERSION="6.22.1"
ESBUILD_VERSION="0.28.2"
EMULATOR_PIDS=()

need_node() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: installing Debian's nodejs and npm" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_for_port() { # name port pid
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$1 exited before listening; see $EMULATOR_ROOT/$1.log" >&2; return 1; fi
    sleep 0.1
  done
  echo "$1 did not listen on 127.0.0.1:$2 within 10 s; see $EMULATOR_ROOT/$1.log" >&2
  return 1
}

start_moto() {
  need_python_tools
  local port
  port=$(free_port)
  moto_server -H 127.0.0.1 -p "$port" >"$EMULATOR_ROOT/moto.log" 2>&1 &
  EMULATOR_PIDS+=($!)
  wait_for_port moto "$port" $!
  # One moto server answers every service; SES and Secrets Manager are the ones used here.
  export MOTO_URL="http://127.0.0.1:$port"
  export AWS_ENDPOINT_URL_SES="$MOTO_URL" AWS_ENDPOINT_URL_SECRETS_MANAGER="$MOTO_URL"
  echo "moto (SES, Secrets Manager) listening on $MOTO_URL" >&2
}

# The emulated AWS the deployed-stack test deploys template.yaml to. Loopback only; only the
# services the stack uses (S3 holds the packaged zips, as `sam package` would upload them);
# IOT_MTLS_ENABLED=0, or it opens an MQTT port on every interface. AWS_ENDPOINT_URL in its own
# environment is what the Lambda functions it runs inherit, so they call back into it.
start_ministack() {
  need_python_tools
  local port scratch="$EMULATOR_ROOT/ministack-tmp"
  port=$(free_port)
  # It unpacks each function's zip under TMPDIR: keep that in .tools, fresh each start.
  rm -rf "$scratch" && mkdir -p "$scratch"
  # The functions it runs inherit its environment: the other emulators' per-service endpoints
  # (exported by start_moto) would send them away from it.
  local others=()
  for name in $(compgen -e | grep '^AWS_ENDPOINT_URL_' || true); do others+=(-u "$name"); done
  env "${others[@]}" TMPDIR="$scratch" BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" IOT_MTLS_ENABLED=0 \
    SERVICES=cloudformation,s3,lambda,apigateway,dynamodb,dynamodbstreams,secretsmanager,ses,cognito-idp,iam,logs,monitoring,sts,sqs,events \
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_DEFAULT_REGION=us-east-1 python3 "$(dirname "${BASH_SOURCE[0]}")/ministack_launch.py" >"$EMULATOR_ROOT/ministack.log" 2>&1 &
  EMULATOR_PIDS+=($!)
  wait_for_port ministack "$port" $!
  export MINISTACK_URL="http://127.0.0.1:$port"
  echo "ministack (the deployed stack) listening on $MINISTACK_URL" >&2
}

# Debian's Chromium and its WebDriver, for the browser test.
need_chromium() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing Debian's chromium and chromium-driver" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  export CHROMIUM="${CHROMIUM:-$(command -v chromium)}" CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
  # axe-core checks every state of the web components for accessibility in that browser.
  need_node
  local dir="$EMULATOR_ROOT/node"
  if [ ! -f "$dir/node_modules/axe-core/package.json" ] ||
    [ "$(node -p "require('$dir/node_modules/axe-core/package.json').version")" != "$AXE_CORE_VERSION" ]; then
    echo "installing axe-core $AXE_CORE_VERSION from npm into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent "axe-core@$AXE_CORE_VERSION" >&2
  fi
  export AXE_CORE="$dir/node_modules/axe-core/axe.min.js"
}

# The DynamoDB the tests run on: ministack's, which has TransactWriteItems and streams and
# serializes conditional writes per item (the store suite's bursts of 60 concurrent conditional
# writes on one item prove it on every run). One ministack serves them and the deployed stack.
start_dynamodb() {
  [ -n "${MINISTACK_URL:-}" ] || start_ministack
  export AWS_ENDPOINT_URL_DYNAMODB="$MINISTACK_URL"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  echo "DynamoDB (ministack's) at $AWS_ENDPOINT_URL_DYNAMODB" >&2
}

# aws-amplify, bundled into one classic script for the deployed test's sign-in page (a team's
# page imports it through its own build; the test page has none).
need_amplify() {
  need_node
  local dir="$EMULATOR_ROOT/amplify" wanted="aws-amplify@$AMPLIFY_VERSION esbuild@$ESBUILD_VERSION"
  if [ ! -f "$dir/amplify.js" ] || [ "$(cat "$dir/.installed" 2>/dev/null)" != "$wanted" ]; then
    echo "installing $wanted from npm into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent $wanted >&2
    NODE_PATH="$dir/node_modules" "$dir/node_modules/.bin/esbuild" "$(dirname "${BASH_SOURCE[0]}")/../tests/deployed/challenge_page/amplify-entry.mjs" \
      --bundle --format=iife --minify --log-level=warning --outfile="$dir/amplify.js" >&2
    echo "$wanted" >"$dir/.installed"
  fi
  export AMPLIFY_BUNDLE="$dir/amplify.js"
}

stop_emulators() {
  for pid in "${EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  EMULATOR_PIDS=()
}
