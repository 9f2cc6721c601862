//! One check-and-set document in the ledger mount (a KV v2 secret): what the ledger shards, the
//! apply lock and the bootstrap records are all made of.
//!
//! A write names the version it expects (`cas`), so two writers cannot silently overwrite each
//! other, and it counts as done only when OpenBao answers with the new version: a write that
//! came back without one (a 404 through a standby, a proxy that swallowed it) stored nothing,
//! and saying otherwise would leave a run that believes it recorded what it did.

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
    match client.write("", &data_path(mount, key), &body).await {
        Ok(resp) => resp
            .as_ref()
            .and_then(|v| v.pointer("/data/version"))
            .and_then(Value::as_u64)
            .ok_or_else(|| DocError::Unacknowledged {
                mount: mount.to_owned(),
                key: key.to_owned(),
            }),
        Err(e) if e.status() == Some(400) && e.to_string().contains("check-and-set") => {
            Err(DocError::Conflict {
                mount: mount.to_owned(),
                key: key.to_owned(),
                expected: cas,
            })
        }
        Err(e) => Err(e.into()),
    }
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
