# The runtime keymaster (`aegisctl run` / `aegisctl env` on a host, AppRole tool-runner):
# read what its profiles reference, mint and end its own leases, and append audit records.

# vault: references (KV v2 reads go through data/).
path "aegis-system/data/tools/*" {
  capabilities = ["read"]
}

# --scope ORG/TEAM/WORKSPACE: one GET per level of the scopes mount.
path "scoped/data/*" {
  capabilities = ["read"]
}

# lease: references: each run mints its own database login...
path "database/creds/agent-role" {
  capabilities = ["read"]
}

# ...and revokes it at exit (renewing it, sys/leases/renew, comes with the default policy).
path "sys/leases/revoke" {
  capabilities = ["update"]
}

# Audit records: create only. A runtime token can add a record, never read, rewrite or delete
# one (cas=0 refuses to write over an existing id). The token's own renew-self, lookup-self and
# revoke-self, and sys/leases/renew, come with OpenBao's default policy.
path "aegisctl/data/runtime-audit/*" {
  capabilities = ["create"]
}
