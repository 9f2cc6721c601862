//! The bootstrap audit trail: one record per minted SecretID — host, role, namespace, SecretID
//! accessor, wrapping accessor, creation time, TTLs, who minted it — never a token or a
//! SecretID. Kept in the ledger (`LEDGER/bootstrap/HOST`, written with check-and-set) so
//! `--list` and `--revoke` work from any machine, and appended to a local JSON-lines file.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::BootstrapError;
use crate::backends::openbao::{BaoClient, Body};
use crate::backends::path::ApiPath;

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
}

fn path(ledger: &str, host: &str) -> ApiPath {
    ApiPath::route("")
        .path(ledger)
        .lit("data/bootstrap")
        .name(host)
}

/// The ledger's records for a host, with the KV version for check-and-set.
pub async fn read(
    client: &BaoClient,
    ledger: &str,
    host: &str,
) -> Result<(Vec<MintRecord>, u64), BootstrapError> {
    let resp = client.read("", &path(ledger, host)).await?;
    let Some(v) = resp else {
        return Ok((Vec::new(), 0));
    };
    let version = v
        .pointer("/data/metadata/version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let records = v
        .pointer("/data/data/records")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            BootstrapError::Refused(format!(
                "the bootstrap records of {host} in the ledger are unreadable: {e}"
            ))
        })?
        .unwrap_or_default();
    Ok((records, version))
}

/// Hosts that have records in the ledger.
pub async fn hosts(client: &BaoClient, ledger: &str) -> Result<Vec<String>, BootstrapError> {
    Ok(client
        .list(
            "",
            &ApiPath::route("").path(ledger).lit("metadata/bootstrap"),
        )
        .await?)
}

/// Writes a host's records back with check-and-set.
pub async fn write(
    client: &BaoClient,
    ledger: &str,
    host: &str,
    records: &[MintRecord],
    version: u64,
) -> Result<(), BootstrapError> {
    let body = Body::new(json!({ "options": { "cas": version }, "data": { "records": records } }));
    let resp = client.write("", &path(ledger, host), &body).await?;
    // KV v2 answers a stored write with its new version; anything else stored nothing.
    if resp
        .as_ref()
        .and_then(|v| v.pointer("/data/version"))
        .is_none()
    {
        return Err(BootstrapError::Refused(format!(
            "the bootstrap records of {host} were not stored in the ledger `{ledger}` (OpenBao did not answer with a version)"
        )));
    }
    Ok(())
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
