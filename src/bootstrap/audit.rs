//! The bootstrap audit trail: one record per minted SecretID — host, role, namespace, SecretID
//! accessor, wrapping accessor, creation time, TTLs, who minted it — never a token or a
//! SecretID. Kept in the ledger (`LEDGER/bootstrap/HOST`, a check-and-set document of
//! `state::doc` like the ledger's shards and the lock) so `--list` and `--revoke` work from any
//! machine, and appended to a local JSON-lines file.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::BootstrapError;
use crate::backends::openbao::BaoClient;
use crate::state::doc::{self, DocError};

/// One minted (or revoked) bootstrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MintRecord {
    /// `mint` or `revoke` (in the local file; the ledger keeps mints, marked `revoked`).
    pub event: String,
    pub host: String,
    pub namespace: String,
    pub approle_mount: String,
    pub role: String,
    pub secret_id_accessor: String,
    pub wrapping_accessor: String,
    pub created: String,
    pub wrap_ttl_seconds: u64,
    pub secret_id_ttl_seconds: u64,
    pub cidrs: Vec<String>,
    pub minted_by: String,
    #[serde(default)]
    pub revoked: bool,
    /// Where the bootstrap stood when it was revoked: once revoked, its wrapping token can no
    /// longer tell whether it had been unwrapped, so this is the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at_revoke: Option<super::secret_id::Status>,
    /// The Infisical client secret minted with this bootstrap (its id, never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infisical: Option<super::infisical::ClientSecretRecord>,
}

/// The document key of a host's records (host names are plain names: see topology/hosts.rs).
fn key(host: &str) -> String {
    format!("bootstrap/{host}")
}

/// The ledger's records for a host, with the KV version for check-and-set.
pub async fn read(
    client: &BaoClient,
    ledger: &str,
    host: &str,
) -> Result<(Vec<MintRecord>, u64), BootstrapError> {
    let stored = doc::read(client, ledger, &key(host)).await?;
    let records = stored
        .data
        .as_ref()
        .and_then(|d| d.get("records"))
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            BootstrapError::Refused(format!(
                "the bootstrap records of {host} in the ledger are unreadable: {e}"
            ))
        })?
        .unwrap_or_default();
    Ok((records, stored.version))
}

/// Hosts that have records in the ledger.
pub async fn hosts(client: &BaoClient, ledger: &str) -> Result<Vec<String>, BootstrapError> {
    Ok(doc::list(client, ledger, "bootstrap").await?)
}

/// Writes a host's records back with check-and-set (a write whose answer was lost is
/// recognised as ours by reading it back, see `state::doc`).
pub async fn write(
    client: &BaoClient,
    ledger: &str,
    host: &str,
    records: &[MintRecord],
    version: u64,
) -> Result<(), BootstrapError> {
    doc::write(
        client,
        ledger,
        &key(host),
        json!({ "records": records }),
        version,
    )
    .await
    .map(|_| ())
    .map_err(|e| match e {
        DocError::Bao(b) => BootstrapError::Bao(b),
        other => BootstrapError::Refused(format!(
            "the bootstrap records of {host} were not stored in the ledger `{ledger}`: {other}"
        )),
    })
}

/// Appends records to the local JSON-lines audit file (created 0600).
pub fn append_local(file: &Path, records: &[MintRecord]) -> Result<(), BootstrapError> {
    let err = |e: std::io::Error| BootstrapError::Write {
        path: file.display().to_string(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file).map_err(err)?;
    for r in records {
        let line = serde_json::to_string(r).map_err(|e| BootstrapError::Write {
            path: file.display().to_string(),
            reason: e.to_string(),
        })?;
        writeln!(f, "{line}").map_err(err)?;
    }
    Ok(())
}
