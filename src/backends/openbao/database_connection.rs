//! Database engine connections (`MOUNT/config/NAME`).
//!
//! The server answers `connection_url`, `username` and the plugin's other settings nested under
//! `connection_details`; they are flattened so the file's flat fields compare directly. The
//! `password` is never returned: it is compared through its keyed fingerprint in the ledger.
//! `rotate_root: true` (a field of aegisctl's, never sent) rotates the root credential once after
//! creation; from then on the file's password is never sent again, because a re-sent stale
//! password would undo the rotation.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::path_kind::{PathKind, PathSpec};
use super::{BaoError, Body, OpenBao, body_from};
use crate::backends::{Kind, Live};
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
                },
            ),
        }
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

    fn fixed_after_create(&self, res: &DesiredResource) -> Vec<&'static str> {
        if rotates(res) {
            vec![ROTATE_ROOT, "password"]
        } else {
            vec![ROTATE_ROOT]
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BaoError> {
        Ok(self.inner.read(id).await?.map(|mut live| {
            if let Some(Value::Object(details)) = live.remove("connection_details") {
                for (k, v) in details {
                    live.entry(k).or_insert(v);
                }
            }
            live
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
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
                    &format!("{mount}/rotate-root/{}", res.id.name),
                    &Body::new(serde_json::json!({})),
                )
                .await?;
        }
        Ok(())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BaoError> {
        let mut changed = changed.clone();
        for f in self.fixed_after_create(res) {
            changed.remove(f);
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.inner.update(res, &changed, live).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BaoError> {
        self.inner.delete(id).await
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BaoError> {
        self.inner.list(namespace, desired).await
    }
}
