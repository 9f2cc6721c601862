# Shared by the scripts that start local servers (bao-dev.sh, keycloak-dev.sh, bench.sh):
# a free loopback port, whether a pid is a live process, and an HTTP status without noise.
# Sourced, not run.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# True while PID is a live (not zombie) process.
alive() {
  local state
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

http_code() {
  curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || true
}
