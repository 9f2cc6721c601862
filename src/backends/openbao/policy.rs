//! ACL policies (`sys/policies/acl`). The HCL text is compared with trailing whitespace
//! trimmed, since editors and heredocs disagree about final newlines.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};
use crate::topology::resolve::BUILTIN_POLICIES;

pub struct Policy {
    bao: Arc<OpenBao>,
}

fn path(name: &str) -> ApiPath {
    ApiPath::route("sys/policies/acl").path(name)
}

impl Policy {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        Policy { bao }
    }
}

#[async_trait]
impl Kind for Policy {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        30
    }

    fn normalise(&self, _field: &str, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(
                s.lines()
                    .map(str::trim_end)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .trim()
                    .to_owned(),
            ),
            other => other,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read(&id.namespace, &path(&id.name)).await?;
        Ok(resp.and_then(|v| {
            let text = v.pointer("/data/policy")?.clone();
            let mut live = Live::new();
            live.insert("policy", text);
            Some(live)
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let body = body_from(res.attrs.iter(), "");
        self.bao
            .client
            .write(&res.id.namespace, &path(&res.id.name), &body)
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
            .delete(&id.namespace, &path(&id.name))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let names = self
            .bao
            .client
            .list(namespace, &ApiPath::route("sys/policies/acl"))
            .await?;
        Ok(names
            .into_iter()
            .filter(|n| !BUILTIN_POLICIES.contains(&n.as_str()))
            .map(|n| ResourceId::new(namespace, "policy", None, &n))
            .collect())
    }
}
