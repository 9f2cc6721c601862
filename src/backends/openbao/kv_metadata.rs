//! KV v2 metadata (`MOUNT/metadata/PATH`): `max_versions`, `cas_required`,
//! `delete_version_after` and `custom_metadata` of one secret path, declared in a mount's
//! `kv_metadata:` block (address `kv_metadata["MOUNT/PATH"]`).
//!
//! It is its own object because it has its own endpoint and its own lifecycle: it may be
//! declared for a path whose data someone else writes. Removing it from the file (with
//! `--prune`) puts the settings back to OpenBao's defaults rather than deleting the metadata,
//! since deleting metadata deletes every version of the secret; only a metadata entry that never
//! held data is deleted outright. It goes before the secret at the same path: created first (so
//! `cas_required` and `max_versions` govern the first write), reset first.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::kv_secret::kv_path;
use super::{Body, OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::duration;
use crate::model::{DesiredResource, ResourceId};

/// The settings this kind manages; the rest of the metadata answer is history.
const FIELDS: &[&str] = &[
    "max_versions",
    "cas_required",
    "delete_version_after",
    "custom_metadata",
];

pub struct KvMetadata {
    bao: Arc<OpenBao>,
}

impl KvMetadata {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        KvMetadata { bao }
    }

    fn path(id: &ResourceId) -> crate::backends::path::ApiPath {
        kv_path(
            2,
            "metadata",
            id.mount.as_deref().unwrap_or("secret"),
            &id.name,
        )
    }

    async fn write(
        &self,
        res: &DesiredResource,
        fields: &BTreeSet<String>,
    ) -> Result<(), BackendError> {
        let body = body_from(res.attrs.iter().filter(|(k, _)| fields.contains(*k)), "");
        self.bao
            .client
            .write(&res.id.namespace, &Self::path(&res.id), &body)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }
}

#[async_trait]
impl Kind for KvMetadata {
    fn name(&self) -> &'static str {
        "kv_metadata"
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        5
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        const S: &[FieldSource] = &[FieldSource::of_mount("metadata/{path}")];
        S
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        // OpenBao answers `delete_version_after` as a Go duration (`768h0m0s`).
        match (field, &value) {
            ("delete_version_after", Value::String(s)) => {
                duration::parse(s).map(Value::from).unwrap_or(value)
            }
            ("custom_metadata", Value::Null) => json!({}),
            _ => value,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read(&id.namespace, &Self::path(id)).await?;
        Ok(resp.and_then(|v| {
            let data = v.get("data")?.as_object()?;
            let mut live = Live::new();
            for f in FIELDS {
                if let Some(x) = data.get(*f) {
                    live.insert(*f, x.clone());
                }
            }
            let revision = data.get("current_version").and_then(Value::as_u64);
            Some(live.with_revision(revision))
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        self.write(res, &res.attrs.keys().cloned().collect())
            .await
            .map(|()| Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        self.write(res, changed).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some(live) = self.read(id).await? else {
            return Ok(());
        };
        if live.revision.unwrap_or(0) == 0 {
            // Metadata that never held data: nothing is lost by removing it.
            return self
                .bao
                .client
                .delete(&id.namespace, &Self::path(id))
                .await
                .map_err(Into::into);
        }
        let defaults = Body::new(json!({
            "max_versions": 0,
            "cas_required": false,
            "delete_version_after": "0s",
            "custom_metadata": {},
        }));
        self.bao
            .client
            .write(&id.namespace, &Self::path(id), &defaults)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    async fn list(
        &self,
        _namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        // Every KV v2 path has metadata; listing it would repeat the secrets' own list.
        Ok(Vec::new())
    }
}
