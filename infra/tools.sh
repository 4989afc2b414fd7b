# Sourced by the scripts in infra/: a Python virtualenv in .tools/venv with the PyPI tools the
# project uses (moto, cfn-lint with the SAM translator, cargo-lambda and its zig linker),
# installed on first use.

TOOLS_ROOT="${TOOLS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools}"
PYPI_TOOLS=("moto[server]==5.2.5" "cfn-lint==1.58.0" "aws-sam-translator==1.115.0" "cargo-lambda==1.9.2"
  "ziglang==0.17.1" "schemathesis==4.32.5"
  # The deployed-stack test: ministack (its JWT authorizer needs cryptography), and the
  # harness's AWS SDK, pytest, Cognito SRP client and WebDriver client.
  "ministack==1.5.33" "cryptography==50.0.2" "boto3==1.43.106" "pytest==9.2.0"
  "pycognito==2024.5.1" "selenium==4.51.0" "pyotp==2.9.0" "requests==2.34.2")

need_python_tools() {
  local venv="$TOOLS_ROOT/venv"
  if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "${PYPI_TOOLS[*]}" ]; then
    echo "installing ${PYPI_TOOLS[*]} from PyPI into $venv" >&2
    mkdir -p "$TOOLS_ROOT"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PYPI_TOOLS[@]}" >&2
    echo "${PYPI_TOOLS[*]}" >"$venv/.installed"
  fi
  # cargo-lambda finds zig through the venv's python3 (`python3 -m ziglang`).
  case ":$PATH:" in *":$venv/bin:"*) ;; *) export PATH="$venv/bin:$PATH" ;; esac
}

# The AWS SAM CLI, for `sam validate` (test.sh): its own virtualenv, since it pins its own
# versions of boto3, cfn-lint and the SAM translator.
SAM_CLI="aws-sam-cli==1.170.0"

need_sam_cli() {
  local venv="$TOOLS_ROOT/sam-venv"
  if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$SAM_CLI" ]; then
    echo "installing $SAM_CLI from PyPI into $venv" >&2
    need_python_tools
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$SAM_CLI" >&2
    echo "$SAM_CLI" >"$venv/.installed"
  fi
  # No usage data leaves a test run.
  export SAM_CLI_TELEMETRY=0
  SAM="$venv/bin/sam"
}

# The local server from the binary $1 on a free loopback port with a fresh outbox, once it
# listens: sets LOCAL_SERVER_PORT and LOCAL_SERVER_PID; stop_local_server stops it and removes
# the outbox (contract.sh and bench_memory.sh).
start_local_server() {
  LOCAL_SERVER_OUTBOX=$(mktemp -d)
  LOCAL_SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$1" --addr "127.0.0.1:$LOCAL_SERVER_PORT" --outbox "$LOCAL_SERVER_OUTBOX" >"$LOCAL_SERVER_OUTBOX/server.log" 2>&1 &
  LOCAL_SERVER_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$LOCAL_SERVER_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the local server did not listen on 127.0.0.1:$LOCAL_SERVER_PORT within 10 s" >&2
  cat "$LOCAL_SERVER_OUTBOX/server.log" >&2
  return 1
}

stop_local_server() {
  kill "$LOCAL_SERVER_PID" 2>/dev/null || true
  wait "$LOCAL_SERVER_PID" 2>/dev/null || true
  rm -rf "$LOCAL_SERVER_OUTBOX"
}
