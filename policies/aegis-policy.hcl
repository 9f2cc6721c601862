# The AEGIS orchestrator daemon: read its static secrets, mint database logins,
# sign with the SMCP key, and encrypt/decrypt the blackboard.
path "aegis-system/data/*" {
  capabilities = ["read"]
}

path "database/creds/agent-role" {
  capabilities = ["read"]
}

path "transit/sign/smcp-signing-key" {
  capabilities = ["update"]
}

path "transit/encrypt/blackboard-encryption" {
  capabilities = ["update"]
}

path "transit/decrypt/blackboard-encryption" {
  capabilities = ["update"]
}
