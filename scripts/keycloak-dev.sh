#!/usr/bin/env bash
# A real Keycloak on free loopback ports, for the tests and the demo: the Keycloak distribution
# from Maven Central (no container engine here), built once and cached.
#
#   scripts/keycloak-dev.sh which       # prints the path of a built Keycloak home (bin/kc.sh);
#                                       # the first call fetches and builds it (a minute or two)
#   scripts/keycloak-dev.sh java        # prints the `java` it runs with (see choose_java)
#   scripts/keycloak-dev.sh start DIR   # starts it; writes DIR/env, DIR/pid and DIR/server.log
#   scripts/keycloak-dev.sh stop DIR    # stops it (and waits until the process is gone)
#
# The cache is ${AEGIS_CACHE:-$HOME/.cache/aegisctl}/keycloak/VERSION/: the tarball (fetched
# with `mvn dependency:copy`) and the unpacked home, built once with `kc.sh build --db=dev-mem`
# (an in-memory database) and started with --cache=local (no cluster). A marker file in the
# home says the build finished; a lock serialises concurrent first calls. ~350 MB in all (mvn
# keeps a second copy of the tarball in ~/.m2).
#
# DIR/env holds `export KEYCLOAK_URL=http://127.0.0.1:PORT`, `export KEYCLOAK_ADMIN=admin` and
# `export KEYCLOAK_ADMIN_PASSWORD=...` (random): `. DIR/env` to use the server. The admin user
# lives in realm master; get a token with the password grant on client `admin-cli`.
set -euo pipefail

KEYCLOAK_VERSION=26.7.3
BUILD_OPTS=(--db=dev-mem)
# Runtime options. --cache=local: no cluster. Since Keycloak 26.x it is a runtime option that
# `kc.sh build --cache=local` ignores; without it at start, every instance opens JGroups ports
# (7800, 57800 on all interfaces) and tries to form a cluster.
RUN_OPTS=(--cache=local --http-enabled=true --hostname-strict=false --http-host=127.0.0.1)
# kc.sh's own default is -Xms64m -Xmx512m (or 70 % of RAM in a container): pin it, with room
# for the many small realms a test run creates.
KC_HEAP="-Xms64m -Xmx768m"
# C1 only: a few seconds off the start (the JIT's warm-up outweighs peak speed in a test run).
KC_JVM_APPEND="-XX:TieredStopAtLevel=1"
READY_TIMEOUT=180

CACHE="${AEGIS_CACHE:-$HOME/.cache/aegisctl}/keycloak/$KEYCLOAK_VERSION"
HOME_DIR="$CACHE/keycloak-$KEYCLOAK_VERSION"
MARKER="$HOME_DIR/.aegis-built"

usage() {
  echo "usage: keycloak-dev.sh which | java | start DIR | stop DIR" >&2
  exit 2
}

# The major version of a `java` binary (0 when it does not run).
java_major() {
  local v
  v=$("$1" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n 1) || true
  echo "${v:-0}"
}

# The `java` to run Keycloak with: $JAVA_HOME's, else the one on PATH, when it is 21 or newer;
# else the newest JDK under /usr/lib/jvm (Keycloak 26 still runs on 17, deprecated).
choose_java() {
  local candidate best="" best_major=0 major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if [ "$(java_major "$candidate")" -ge 21 ]; then
      echo "$candidate"
      return 0
    fi
  done
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/*/bin/java; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    major=$(java_major "$candidate")
    if [ "$major" -gt "$best_major" ]; then
      best=$candidate
      best_major=$major
    fi
  done
  if [ "$best_major" -lt 17 ]; then
    echo "no Java 17+ found (PATH, JAVA_HOME, /usr/lib/jvm): apt-get install default-jdk-headless" >&2
    return 1
  fi
  echo "$best"
}

# Prints the built home, fetching and building it on first use. Everything else to stderr.
ensure_keycloak() {
  if [ -f "$MARKER" ]; then
    echo "$HOME_DIR"
    return 0
  fi
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$MARKER" ]; then
    build_keycloak >&2
  fi
  flock -u 9
  exec 9>&-
  echo "$HOME_DIR"
}

build_keycloak() {
  local tarball="$CACHE/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz" java staging
  java=$(choose_java)
  if [ ! -s "$tarball" ]; then
    command -v mvn >/dev/null 2>&1 || {
      echo "mvn not found: apt-get install -y maven default-jdk-headless" >&2
      return 1
    }
    echo "fetching keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central (mvn, ~170 MB)"
    mvn -B -q dependency:copy \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$CACHE" || {
      echo "could not fetch org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz (is Maven Central reachable?)" >&2
      return 1
    }
  fi
  # Unpack and build beside the final home, then move it in place: a half-built home is never
  # at $HOME_DIR.
  staging=$(mktemp -d "$CACHE/staging.XXXXXX")
  tar -xzf "$tarball" -C "$staging"
  echo "building Keycloak $KEYCLOAK_VERSION (kc.sh build ${BUILD_OPTS[*]}; $("$java" -version 2>&1 | head -n 1))"
  JAVA="$java" "$staging/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" build "${BUILD_OPTS[@]}" \
    >"$staging/build.log" 2>&1 || {
    tail -n 30 "$staging/build.log"
    return 1
  }
  echo "$KEYCLOAK_VERSION ${BUILD_OPTS[*]}" >"$staging/keycloak-$KEYCLOAK_VERSION/.aegis-built"
  rm -rf "$HOME_DIR"
  mv "$staging/keycloak-$KEYCLOAK_VERSION" "$HOME_DIR"
  rm -rf "$staging"
  echo "Keycloak $KEYCLOAK_VERSION built in $HOME_DIR"
}

# shellcheck source=scripts/lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"

# True if PID is the kc.sh this script started for DIR (guards against a recycled pid): its
# command line carries -Daegis.keycloak.dir=DIR, which kc.sh also passes to java.
is_our_server() {
  alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "-Daegis.keycloak.dir=$2"
}

# Kills kc.sh and its java (its process group: kc.sh does not exec java).
kill_group() {
  kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

start() {
  local dir=$1 home java password port mport pid url attempt deadline started
  home=$(ensure_keycloak)
  java=$(choose_java)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && is_our_server "$(cat "$dir/pid")" "$dir"; then
    echo "a Keycloak already runs for $dir (pid $(cat "$dir/pid"))" >&2
    return 1
  fi
  rm -f "$dir/pid" "$dir/env"
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  # A port picked free can be taken before Keycloak binds it: try a few.
  for attempt in 1 2 3; do
    port=$(free_port)
    mport=$(free_port)
    [ "$port" != "$mport" ] || continue
    url="http://127.0.0.1:$port"
    started=$SECONDS
    # The transaction log in DIR, not in the shared home. setsid: its own process group (kc.sh
    # runs java as a child, it does not exec it), out of reach of a Ctrl-C.
    JAVA="$java" JAVA_OPTS_KC_HEAP="$KC_HEAP" JAVA_OPTS_APPEND="$KC_JVM_APPEND" \
      KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$password" \
      setsid "$home/bin/kc.sh" start --optimized "${RUN_OPTS[@]}" \
      --http-port="$port" --http-management-port="$mport" \
      "-Dquarkus.transaction-manager.object-store.directory=$dir/transaction-logs" \
      "-Daegis.keycloak.dir=$dir" </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + READY_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ] && alive "$pid"; do
      # Ready, and our admin password works (so this is our server, not another on that port).
      if [ "$(http_code "$url/realms/master/.well-known/openid-configuration")" = 200 ] &&
        [ "$(http_code -d grant_type=password -d client_id=admin-cli -d username=admin \
          --data-urlencode "password=$password" "$url/realms/master/protocol/openid-connect/token")" = 200 ]; then
        echo "$pid" >"$dir/pid"
        {
          echo "export KEYCLOAK_URL=$url"
          echo "export KEYCLOAK_ADMIN=admin"
          echo "export KEYCLOAK_ADMIN_PASSWORD=$password"
        } >"$dir/env"
        echo "Keycloak $KEYCLOAK_VERSION at $url (pid $pid; ready in $((SECONDS - started)) s; log $dir/server.log; . $dir/env)" >&2
        return 0
      fi
      sleep 0.5
    done
    if alive "$pid"; then
      kill_group KILL "$pid"
      wait "$pid" 2>/dev/null || true
      echo "Keycloak was not ready within ${READY_TIMEOUT} s ($url); its log ends:" >&2
      tail -n 30 "$dir/server.log" >&2 || true
      return 1
    fi
    wait "$pid" 2>/dev/null || true
    echo "Keycloak exited at start on port $port (attempt $attempt; a port taken?); its log ends:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
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
    # kc.sh forwards SIGTERM to java and waits for it.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "Keycloak (pid $pid) ignored SIGTERM for 30 s: killing it" >&2
      kill_group KILL "$pid"
    fi
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  which)
    [ "$#" -eq 1 ] || usage
    ensure_keycloak
    ;;
  java)
    [ "$#" -eq 1 ] || usage
    choose_java
    ;;
  start)
    [ "$#" -eq 2 ] || usage
    start "$2"
    ;;
  stop)
    [ "$#" -eq 2 ] || usage
    stop "$2"
    ;;
  *)
    usage
    ;;
esac
