#!/usr/bin/env bash
# The raft figures of docs/benchmarks.md: apply and converged plan through a 3-node OpenBao raft
# cluster (default raft settings) via the leader and via a standby, and the time an apply takes
# to ride through the leader's death. Uses a release aegisctl.
#
# Usage: scripts/bench-raft.sh [N]     (objects per run, default 1000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
AEGIS_TEST_BAO=$(scripts/bao-dev.sh which)
export AEGIS_TEST_BAO
cargo build --release --quiet
export AEGIS_TEST_BIN="$ROOT/target/release/aegisctl"
export AEGIS_RAFT_BENCH_SIZE="${1:-1000}"
cargo test --quiet --test it raft_bench -- --ignored --nocapture --test-threads=1 2>&1 | grep '^raft-bench:'
