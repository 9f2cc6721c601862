//! External plugins in the catalog (`sys/plugins/catalog/TYPE/NAME`), such as the AWS secrets
//! engine, which OpenBao ships as a plugin rather than built in. Registration pins the binary's
//! sha256; a mount of that type waits for it. Built-in plugins are never listed or managed.
//!
//! The catalog keys entries by type, name and version, so the version is part of the address:
//! `plugin["secret/aws@v0.2.0"]` (or `plugin["secret/aws"]` when unversioned).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

pub struct Plugin {
    bao: Arc<OpenBao>,
}

impl Plugin {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        Plugin { bao }
    }
}

fn path(id: &ResourceId) -> ApiPath {
    let (name, version) = id.name.split_once('@').unwrap_or((&id.name, ""));
    let base = ApiPath::route("sys/plugins/catalog")
        .name(id.mount.as_deref().unwrap_or("secret"))
        .name(name);
    if version.is_empty() {
        base
    } else {
        base.query("version", version)
    }
}

#[async_trait]
impl Kind for Plugin {
    fn name(&self) -> &'static str {
        "plugin"
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        95
    }

    fn container(&self, _id: &ResourceId) -> Option<ResourceId> {
        // The catalog is the server's; `mount` here is the plugin's type, not a mount.
        None
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        const S: &[FieldSource] = &[FieldSource::of_system("", "plugins/catalog/{type}/{name}")];
        S
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        // An unset argument list reads back as null.
        match (field, value) {
            ("args", Value::Null) => json!([]),
            (_, v) => v,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read("", &path(id)).await?;
        Ok(resp.and_then(|v| {
            v.get("data")
                .and_then(Value::as_object)
                .cloned()
                .map(Live::from_map)
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let body = body_from(res.attrs.iter(), "");
        self.bao
            .client
            .write("", &path(&res.id), &body)
            .await
            .map(|_| Made::none())
            .map_err(Into::into)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        self.create(res).await.map(|_| ())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.bao
            .client
            .delete("", &path(id))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if !namespace.is_empty() {
            return Ok(Vec::new());
        }
        let resp = self
            .bao
            .client
            .read("", &ApiPath::route("sys/plugins/catalog"))
            .await?;
        Ok(resp
            .as_ref()
            .and_then(|v| v.pointer("/data/detailed"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|p| p.get("builtin").and_then(Value::as_bool) != Some(true))
                    .filter_map(|p| {
                        let name = p.get("name")?.as_str()?;
                        let version = p.get("version").and_then(Value::as_str).unwrap_or_default();
                        let name = if version.is_empty() {
                            name.to_owned()
                        } else {
                            format!("{name}@{version}")
                        };
                        Some(ResourceId::new(
                            "",
                            "plugin",
                            Some(p.get("type")?.as_str()?),
                            &name,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
