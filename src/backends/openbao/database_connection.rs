//! Database engine connections (`MOUNT/config/NAME`).
//!
//! The server answers `connection_url`, `username` and the plugin's other settings nested under
//! `connection_details`; they are flattened so the file's flat fields compare directly. The
//! `password` is never returned: it is compared through its keyed fingerprint in the ledger.
//! A `connection_url` with a password in it is a secret (OpenBao answers it masked): it is
//! compared by fingerprint and sent only when it changed.
//! `rotate_root: true` (a field of aegisctl's, never sent) rotates the root credential once after
//! creation; from then on the file's password is never sent again, because a re-sent stale
//! password would undo the rotation.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::path_kind::{PathKind, PathSpec};
use super::{Body, OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::model::{AttrValue, DesiredResource, ResourceId};

/// aegisctl's own field: rotate the root credential after creation.
pub const ROTATE_ROOT: &str = "rotate_root";

pub struct DatabaseConnection {
    inner: PathKind,
}

impl DatabaseConnection {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        DatabaseConnection {
            inner: PathKind::new(
                bao,
                PathSpec {
                    kind: "database_connection",
                    auth: false,
                    mount_types: &["database"],
                    segment: "config",
                    listable: true,
                    deletable: true,
                    write_replaces: false,
                    destroy_order: 20,
                    sources: {
                        const S: &[FieldSource] = &[FieldSource::of_mount("config/{name}")];
                        S
                    },
                },
            ),
        }
    }
}

/// Whether a connection URL carries a password of its own (`postgresql://u:pw@host/db`), as
/// opposed to OpenBao's `{{password}}` template. OpenBao answers such a URL with the password
/// replaced by `xxxxx`, so it is a secret and compared through its fingerprint.
pub fn embeds_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo
            .split_once(':')
            .is_some_and(|(_, pw)| !pw.is_empty() && pw != "{{password}}"),
        None => false,
    }
}

fn rotates(res: &DesiredResource) -> bool {
    matches!(
        res.attrs.get(ROTATE_ROOT),
        Some(AttrValue::Plain(Value::Bool(true)))
    )
}

#[async_trait]
impl Kind for DatabaseConnection {
    fn name(&self) -> &'static str {
        "database_connection"
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        20
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        self.inner.field_sources()
    }

    fn own_fields(&self) -> &'static [&'static str] {
        &[ROTATE_ROOT]
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        self.inner.container(id)
    }

    fn write_only(&self, field: &str, value: &AttrValue) -> bool {
        field == "connection_url" && value.is_secret()
    }

    fn fixed_after_create(&self, res: &DesiredResource) -> Vec<&'static str> {
        if rotates(res) {
            vec![ROTATE_ROOT, "password"]
        } else {
            vec![ROTATE_ROOT]
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(self.inner.read(id).await?.map(|mut live| {
            if let Some(Value::Object(details)) = live.remove("connection_details") {
                for (k, v) in details {
                    if !live.contains_key(&k) {
                        live.insert(k, v);
                    }
                }
            }
            live
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let body = body_from(
            res.attrs.iter().filter(|(k, _)| k.as_str() != ROTATE_ROOT),
            "",
        );
        let path = self.inner.path(&res.id);
        let bao = self.inner.bao();
        bao.client.write(&res.id.namespace, &path, &body).await?;
        if rotates(res) {
            let mount = res.id.mount.as_deref().unwrap_or("database");
            bao.client
                .write(
                    &res.id.namespace,
                    &ApiPath::route("")
                        .path(mount)
                        .lit("rotate-root")
                        .path(&res.id.name),
                    &Body::new(serde_json::json!({})),
                )
                .await?;
        }
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        let mut changed = changed.clone();
        for f in self.fixed_after_create(res) {
            changed.remove(f);
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.inner.update(res, &changed, live).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.inner.delete(id).await
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        self.inner.list(namespace, desired).await
    }
}
