#!/usr/bin/env bash
# The demo: an OpenBao dev server and a PostgreSQL on loopback, the demo topology
# (inventories/demo.yaml): plan → apply → plan ("No changes."), then drift.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${AEGIS_DEMO_PROFILE:-release}
banner() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

banner "building aegisctl ($profile)"
if [ "$profile" = release ]; then
  cargo build --release --quiet
else
  cargo build --quiet
fi
aegisctl="$PWD/target/$profile/aegisctl"

work=$(mktemp -d)
cleanup() {
  scripts/bao-dev.sh stop "$work/bao" || true
  scripts/pg-dev.sh stop "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT

banner "starting an OpenBao dev server and PostgreSQL on loopback"
scripts/bao-dev.sh start "$work/bao"
scripts/pg-dev.sh start "$work/pg"
# shellcheck disable=SC1091
. "$work/bao/env"
# shellcheck disable=SC1091
. "$work/pg/env"
echo "OpenBao at $BAO_ADDR, PostgreSQL on 127.0.0.1:$PG_PORT"

# What the demo topology reads from the environment (values are demo-only).
export DEMO_SEARCH_API_KEY="demo-search-api-key-not-a-secret"
export DEMO_PG_PASSWORD="$PG_PASSWORD"
export DEMO_PG_CONNECTION_URL="postgresql://{{username}}:{{password}}@127.0.0.1:$PG_PORT/postgres"

banner "aegisctl validate inventories/demo.yaml"
"$aegisctl" validate inventories/demo.yaml

banner "aegisctl plan inventories/demo.yaml"
"$aegisctl" plan inventories/demo.yaml

banner "aegisctl apply --auto-approve inventories/demo.yaml"
"$aegisctl" apply --auto-approve inventories/demo.yaml

banner "aegisctl plan --detailed-exitcode inventories/demo.yaml (expect: No changes.)"
"$aegisctl" plan --detailed-exitcode inventories/demo.yaml

banner "a database login minted by the applied topology"
bao read -format=json database/creds/agent-role | python3 -c 'import json, sys; d = json.load(sys.stdin)["data"]; print("minted PostgreSQL user", d["username"], "(password not shown)")'

banner "aegisctl drift inventories/demo.yaml (the dev server's own secret/ mount is not managed)"
"$aegisctl" drift inventories/demo.yaml || [ $? -eq 2 ]

# Issue 5 adds: aegisctl bootstrap inventories/demo.yaml lxc-121 agent-1 (rendered cloud-init).
banner "demo complete"
