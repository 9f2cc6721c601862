//! One check-and-set document in the ledger mount (a KV v2 secret): what the ledger shards, the
//! apply lock and the bootstrap records are all made of.
//!
//! A write names the version it expects (`cas`), so two writers cannot silently overwrite each
//! other, and it counts as done only when OpenBao answers with the new version: a write that
//! came back without one (a 404 through a standby, a proxy that swallowed it) stored nothing,
//! and saying otherwise would leave a run that believes it recorded what it did.
//!
//! A write whose answer was lost (the connection dropped, a 5xx, or a check-and-set mismatch
//! because the HTTP layer retried a write that had in fact landed) is not taken as failed at
//! once: the document is read back, and if it holds exactly what this call wrote at a version
//! past the expected one, that version is the confirmation. Without this a lost answer would
//! turn our own write into a "someone else changed it" conflict, and lock a run out of its own
//! apply lock.

use serde_json::{Value, json};
use thiserror::Error;

use crate::backends::openbao::{BaoClient, BaoError, Body};
use crate::backends::path::ApiPath;

#[derive(Debug, Error)]
pub enum DocError {
    #[error("`{mount}/{key}` was changed by someone else (check-and-set at version {expected})")]
    Conflict {
        mount: String,
        key: String,
        expected: u64,
    },
    #[error("OpenBao did not confirm the write of `{mount}/{key}` (no version in its answer)")]
    Unacknowledged { mount: String, key: String },
    #[error(transparent)]
    Bao(#[from] Box<BaoError>),
}

impl From<BaoError> for DocError {
    fn from(e: BaoError) -> Self {
        DocError::Bao(Box::new(e))
    }
}

/// A document as read: its version (0 when absent) and its data.
#[derive(Debug, Default)]
pub struct Read {
    pub version: u64,
    pub data: Option<serde_json::Map<String, Value>>,
}

fn data_path(mount: &str, key: &str) -> ApiPath {
    ApiPath::route("").path(mount).lit("data").path(key)
}

fn metadata_path(mount: &str, key: &str) -> ApiPath {
    ApiPath::route("").path(mount).lit("metadata").path(key)
}

/// Reads `MOUNT/data/KEY` in the root namespace.
pub async fn read(client: &BaoClient, mount: &str, key: &str) -> Result<Read, BaoError> {
    let Some(v) = client.read("", &data_path(mount, key)).await? else {
        return Ok(Read::default());
    };
    Ok(Read {
        version: v
            .pointer("/data/metadata/version")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        data: v.pointer("/data/data").and_then(Value::as_object).cloned(),
    })
}

/// Writes `data` at `MOUNT/data/KEY` if the document is still at version `cas` (0: absent);
/// returns the new version.
pub async fn write(
    client: &BaoClient,
    mount: &str,
    key: &str,
    data: Value,
    cas: u64,
) -> Result<u64, DocError> {
    write_body(
        client,
        mount,
        key,
        Body::new(json!({ "options": { "cas": cas }, "data": data })),
        cas,
    )
    .await
}

/// As [`write`], with a body that marks secrets for scrubbing (the ledger's HMAC key).
pub async fn write_body(
    client: &BaoClient,
    mount: &str,
    key: &str,
    body: Body,
    cas: u64,
) -> Result<u64, DocError> {
    let err = match client.write("", &data_path(mount, key), &body).await {
        Ok(resp) => {
            return resp
                .as_ref()
                .and_then(|v| v.pointer("/data/version"))
                .and_then(Value::as_u64)
                .ok_or_else(|| DocError::Unacknowledged {
                    mount: mount.to_owned(),
                    key: key.to_owned(),
                });
        }
        Err(e) => e,
    };
    let conflict = err.status() == Some(400) && err.to_string().contains("check-and-set");
    let lost = conflict
        || err.may_have_landed()
        || matches!(err, BaoError::Unreachable { .. } | BaoError::Decode { .. })
        || matches!(err.status(), Some(500..=599));
    if lost && let Some(version) = landed(client, mount, key, &body, cas).await {
        return Ok(version);
    }
    if conflict {
        Err(DocError::Conflict {
            mount: mount.to_owned(),
            key: key.to_owned(),
            expected: cas,
        })
    } else {
        Err(err.into())
    }
}

/// The version at which the document holds exactly the data of `body`, if it moved past `cas`:
/// our own write, whose answer was lost. A failed re-read proves nothing, so it is `None`.
async fn landed(client: &BaoClient, mount: &str, key: &str, body: &Body, cas: u64) -> Option<u64> {
    let sent = body.json().get("data")?.as_object()?;
    let stored = read(client, mount, key).await.ok()?;
    (stored.version > cas && stored.data.as_ref() == Some(sent)).then_some(stored.version)
}

/// Deletes a document and all its versions.
pub async fn delete(client: &BaoClient, mount: &str, key: &str) -> Result<(), BaoError> {
    client.delete("", &metadata_path(mount, key)).await
}

/// The document keys directly under `prefix/`.
pub async fn list(client: &BaoClient, mount: &str, prefix: &str) -> Result<Vec<String>, BaoError> {
    client
        .list(
            "",
            &ApiPath::route("").path(mount).lit("metadata").dir(prefix),
        )
        .await
}

#[cfg(test)]
#[path = "doc_tests.rs"]
mod tests;
