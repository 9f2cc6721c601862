//! The shape most OpenBao objects share: `[auth/]MOUNT/SEGMENT/NAME` under mounts of one type,
//! read with GET, written with POST, removed with DELETE, listed with LIST.
//!
//! A kind of that shape (AppRole roles, database roles, JWT/OIDC roles, AWS roles, mount-level
//! config objects) is one small file declaring a [`PathSpec`]; the behaviour lives here once.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{OpenBao, body_from, mount_root};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

/// Everything that distinguishes one path-shaped kind from another.
pub struct PathSpec {
    pub kind: &'static str,
    /// Auth-method objects live under `auth/` and their mounts are `auth` resources.
    pub auth: bool,
    /// Mount types this kind lives under (for listing unmanaged objects).
    pub mount_types: &'static [&'static str],
    /// The path segment between mount and name (`role`, `roles`); empty for `MOUNT/NAME`.
    pub segment: &'static str,
    /// Whether LIST on `MOUNT/SEGMENT` enumerates the objects (singleton configs: no).
    pub listable: bool,
    /// Whether DELETE removes the object (singleton configs go with their mount).
    pub deletable: bool,
    /// Whether a write replaces the whole object (config endpoints: AWS `config/root`, JWT
    /// `config`), so an update must send every declared field, not just the changed ones.
    pub write_replaces: bool,
    pub destroy_order: u8,
    /// Where OpenBao publishes the kind's parameters (relative to its mount).
    pub sources: &'static [FieldSource],
}

pub struct PathKind {
    bao: Arc<OpenBao>,
    spec: PathSpec,
}

impl PathKind {
    pub fn new(bao: Arc<OpenBao>, spec: PathSpec) -> Self {
        PathKind { bao, spec }
    }

    pub fn path(&self, id: &ResourceId) -> ApiPath {
        let mount = id.mount.as_deref().unwrap_or_default();
        mount_root(self.spec.auth, mount)
            .lit(self.spec.segment)
            .path(&id.name)
    }

    pub fn bao(&self) -> &OpenBao {
        &self.bao
    }
}

#[async_trait]
impl Kind for PathKind {
    fn name(&self) -> &'static str {
        self.spec.kind
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        self.spec.destroy_order
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        self.spec.sources
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        let mount = id.mount.as_deref()?;
        let kind = if self.spec.auth { "auth" } else { "mount" };
        Some(ResourceId::new(&id.namespace, kind, None, mount))
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read(&id.namespace, &self.path(id)).await?;
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
            .write(&res.id.namespace, &self.path(&res.id), &body)
            .await
            .map(|_| Made::none())
            .map_err(Into::into)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        // Role endpoints only set the fields a write names, so sending just the changed ones
        // leaves everything the file does not manage as it is. Config endpoints replace the
        // whole object: they get every declared field.
        let body = body_from(
            res.attrs
                .iter()
                .filter(|(k, _)| self.spec.write_replaces || changed.contains(*k)),
            "",
        );
        self.bao
            .client
            .write(&res.id.namespace, &self.path(&res.id), &body)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        if !self.spec.deletable {
            return Ok(());
        }
        self.bao
            .client
            .delete(&id.namespace, &self.path(id))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if !self.spec.listable {
            return Ok(Vec::new());
        }
        let mount_kind = if self.spec.auth { "auth" } else { "mount" };
        let mut out = Vec::new();
        for m in desired.iter().filter(|r| {
            r.id.kind == mount_kind
                && r.plain_str("type")
                    .is_some_and(|t| self.spec.mount_types.contains(&t))
        }) {
            let path = mount_root(self.spec.auth, &m.id.name).lit(self.spec.segment);
            for name in self.bao.client.list(namespace, &path).await? {
                out.push(ResourceId::new(
                    namespace,
                    self.spec.kind,
                    Some(&m.id.name),
                    &name,
                ));
            }
        }
        Ok(out)
    }
}
