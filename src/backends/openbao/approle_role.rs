//! AppRole roles (`auth/MOUNT/role/NAME`). Every declared field passes through under
//! OpenBao's own name; the server answers durations in seconds, which the differ normalises.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{BaoError, OpenBao, body_from};
use crate::backends::{Kind, Live};
use crate::model::{DesiredResource, ResourceId};

pub struct ApproleRole {
    bao: Arc<OpenBao>,
}

impl ApproleRole {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        ApproleRole { bao }
    }
}

fn path(id: &ResourceId) -> String {
    format!(
        "auth/{}/role/{}",
        id.mount.as_deref().unwrap_or("approle"),
        id.name
    )
}

#[async_trait]
impl Kind for ApproleRole {
    fn name(&self) -> &'static str {
        "approle_role"
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        10
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BaoError> {
        let resp = self.bao.client.read(&id.namespace, &path(id)).await?;
        Ok(resp.and_then(|v| v.get("data").and_then(Value::as_object).cloned()))
    }

    async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
        let body = body_from(res.attrs.iter(), "");
        self.bao
            .client
            .write(&res.id.namespace, &path(&res.id), &body)
            .await
            .map(|_| ())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BaoError> {
        // A role write only sets the fields it names, so sending just the changed ones leaves
        // everything the file does not manage as it is.
        let body = body_from(res.attrs.iter().filter(|(k, _)| changed.contains(*k)), "");
        self.bao
            .client
            .write(&res.id.namespace, &path(&res.id), &body)
            .await
            .map(|_| ())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BaoError> {
        self.bao.client.delete(&id.namespace, &path(id)).await
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BaoError> {
        let mut out = Vec::new();
        for m in desired
            .iter()
            .filter(|r| r.id.kind == "auth" && r.plain_str("type") == Some("approle"))
        {
            for name in self
                .bao
                .client
                .list(namespace, &format!("auth/{}/role", m.id.name))
                .await?
            {
                out.push(ResourceId::new(
                    namespace,
                    "approle_role",
                    Some(&m.id.name),
                    &name,
                ));
            }
        }
        Ok(out)
    }
}
