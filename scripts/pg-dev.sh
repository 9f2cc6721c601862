#!/usr/bin/env bash
# A PostgreSQL server on a free loopback port, for the demo.
#   scripts/pg-dev.sh start DIR   # writes DIR/env (PG_PORT, PG_PASSWORD), runs as user postgres
#   scripts/pg-dev.sh stop DIR
set -euo pipefail

cmd=${1:?usage: pg-dev.sh start|stop DIR}
dir=${2:?usage: pg-dev.sh start|stop DIR}

bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true
}

ensure_pg() {
  if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
    echo "installing PostgreSQL (apt-get install postgresql)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
}

# initdb refuses to run as root: run the server as `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    ensure_pg
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    password="demo-pg-$RANDOM$RANDOM"
    echo "$password" > "$dir/pwfile"
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres "$dir"
      # The server user must be able to reach DIR (mktemp makes private parents).
      chmod o+x "$(dirname "$dir")"
    fi
    if ! as_pg "$bin/initdb" -D "$dir/data" -U postgres -A scram-sha-256 --pwfile="$dir/pwfile" >"$dir/initdb.log" 2>&1; then
      echo "initdb failed:" >&2
      tail -5 "$dir/initdb.log" >&2
      exit 1
    fi
    rm -f "$dir/pwfile"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    {
      echo "export PG_PORT=$port"
      echo "export PG_PASSWORD=$password"
    } > "$dir/env"
    ;;
  stop)
    bin=$(bindir)
    if [ -d "$dir/data" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: pg-dev.sh start|stop DIR" >&2
    exit 2
    ;;
esac
