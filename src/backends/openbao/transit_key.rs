//! Transit keys (`MOUNT/keys/NAME`). Creation-time fields (`type`, `derived`,
//! `convergent_encryption`, `key_size`) cannot change in place; replacing or deleting a key
//! destroys its key material and everything encrypted or signed with it, so the plan refuses
//! both without `--allow-destroy`. The rest goes through `.../config`.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::{Body, OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

/// Fields only `.../config` accepts (creation ignores them).
const CONFIG_ONLY: &[&str] = &[
    "deletion_allowed",
    "min_decryption_version",
    "min_encryption_version",
];

pub struct TransitKey {
    bao: Arc<OpenBao>,
}

impl TransitKey {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        TransitKey { bao }
    }
}

fn key_path(id: &ResourceId) -> ApiPath {
    ApiPath::route("")
        .path(id.mount.as_deref().unwrap_or("transit"))
        .lit("keys")
        .name(&id.name)
}

#[async_trait]
impl Kind for TransitKey {
    fn name(&self) -> &'static str {
        "transit_key"
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["type", "derived", "convergent_encryption", "key_size"]
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its key material, and with it everything encrypted under it"
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        const S: &[FieldSource] = &[
            FieldSource::of_mount("keys/{name}"),
            FieldSource::of_mount("keys/{name}/config"),
        ];
        S
    }

    fn destroy_order(&self) -> u8 {
        10
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read(&id.namespace, &key_path(id)).await?;
        Ok(resp.and_then(|v| {
            let mut live = v.get("data")?.as_object()?.clone();
            // Public keys and version timestamps are not configuration.
            live.remove("keys");
            Some(Live::from_map(live))
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let create = body_from(
            res.attrs
                .iter()
                .filter(|(k, _)| !CONFIG_ONLY.contains(&k.as_str())),
            "",
        );
        self.bao
            .client
            .write(&res.id.namespace, &key_path(&res.id), &create)
            .await?;
        let config = body_from(
            res.attrs
                .iter()
                .filter(|(k, _)| CONFIG_ONLY.contains(&k.as_str())),
            "",
        );
        if config.json().as_object().is_some_and(|o| !o.is_empty()) {
            self.bao
                .client
                .write(&res.id.namespace, &key_path(&res.id).lit("config"), &config)
                .await?;
        }
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let config = body_from(res.attrs.iter().filter(|(k, _)| changed.contains(*k)), "");
        self.bao
            .client
            .write(&res.id.namespace, &key_path(&res.id).lit("config"), &config)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        // OpenBao refuses to delete a key unless its config allows it.
        let allow = Body::new(json!({ "deletion_allowed": true }));
        self.bao
            .client
            .write(&id.namespace, &key_path(id).lit("config"), &allow)
            .await?;
        self.bao
            .client
            .delete(&id.namespace, &key_path(id))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let mut out = Vec::new();
        for m in desired
            .iter()
            .filter(|r| r.id.kind == "mount" && r.plain_str("type") == Some("transit"))
        {
            for name in self
                .bao
                .client
                .list(namespace, &ApiPath::route("").path(&m.id.name).lit("keys"))
                .await?
            {
                out.push(ResourceId::new(
                    namespace,
                    "transit_key",
                    Some(&m.id.name),
                    &name,
                ));
            }
        }
        Ok(out)
    }
}
