//! Namespaces (`sys/namespaces/NAME`, asked of the parent namespace). One per tenant: each holds
//! its own mounts, policies and roles, isolated from its siblings.
//!
//! Deleting a namespace deletes everything in it, so `--prune` refuses unless the namespace holds
//! nothing but what aegisctl is removing in the same run (its children are destroyed first).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::mount::{BUILTIN_AUTH, BUILTIN_SECRETS};
use super::{BaoError, Body, OpenBao, Table};
use crate::backends::{Kind, Live};
use crate::model::{Address, DesiredResource, ResourceId};
use crate::topology::resolve::BUILTIN_POLICIES;

pub struct Namespace {
    bao: Arc<OpenBao>,
}

impl Namespace {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        Namespace { bao }
    }

    /// What a namespace holds besides built-ins: mounts, auth mounts, policies, namespaces.
    async fn contents(&self, path: &str) -> Result<Vec<ResourceId>, BaoError> {
        let mut found = Vec::new();
        self.bao.forget_tables();
        for (table, builtins, kind) in [
            (Table::Secrets, BUILTIN_SECRETS, "mount"),
            (Table::Auth, BUILTIN_AUTH, "auth"),
        ] {
            for k in self.bao.table(path, table).await?.keys() {
                if !builtins.contains(&k.as_str()) {
                    found.push(ResourceId::new(path, kind, None, k));
                }
            }
        }
        for p in self.bao.client.list(path, "sys/policies/acl").await? {
            if !BUILTIN_POLICIES.contains(&p.as_str()) {
                found.push(ResourceId::new(path, "policy", None, &p));
            }
        }
        for n in self.bao.client.list(path, "sys/namespaces").await? {
            found.push(ResourceId::new(
                path,
                "namespace",
                None,
                n.trim_end_matches('/'),
            ));
        }
        Ok(found)
    }

    /// The contents that would be left after deleting `deleting`, as addresses.
    async fn leftovers(
        &self,
        id: &ResourceId,
        deleting: &BTreeSet<Address>,
    ) -> Result<Vec<String>, BaoError> {
        Ok(self
            .contents(&id.namespace_path())
            .await?
            .into_iter()
            .map(|c| c.address())
            .filter(|a| !deleting.contains(a))
            .map(|a| a.0)
            .collect())
    }
}

#[async_trait]
impl Kind for Namespace {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn destroy_order(&self) -> u8 {
        100
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BaoError> {
        let resp = self
            .bao
            .client
            .read(&id.namespace, &format!("sys/namespaces/{}", id.name))
            .await?;
        Ok(resp.and_then(|v| {
            let data = v.get("data")?.as_object()?;
            let mut live = Live::new();
            live.insert(
                "custom_metadata".into(),
                data.get("custom_metadata")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            );
            Some(live)
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
        let mut body = json!({});
        if let Some(m) = res.attrs.get("custom_metadata") {
            body["custom_metadata"] = m.to_wire();
        }
        let result = self
            .bao
            .client
            .write(
                &res.id.namespace,
                &format!("sys/namespaces/{}", res.id.name),
                &Body::new(body),
            )
            .await;
        self.bao.forget_tables();
        result.map(|_| ())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BaoError> {
        let meta = res
            .attrs
            .get("custom_metadata")
            .map(|m| m.to_wire())
            .unwrap_or(Value::Null);
        self.bao
            .client
            .patch(
                &res.id.namespace,
                &format!("sys/namespaces/{}", res.id.name),
                &Body::new(json!({ "custom_metadata": meta })),
            )
            .await
            .map(|_| ())
    }

    async fn refuse_delete(
        &self,
        id: &ResourceId,
        deleting: &BTreeSet<Address>,
    ) -> Result<Option<String>, BaoError> {
        let left = self.leftovers(id, deleting).await?;
        Ok((!left.is_empty()).then(|| {
            format!(
                "namespace {} still holds objects aegisctl does not manage ({}); deleting it would delete them too: remove or declare them first",
                id.namespace_path(),
                left.join(", ")
            )
        }))
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BaoError> {
        // The plan refused this already if anything unmanaged was inside; check again, since the
        // server may have changed since (children managed by aegisctl are gone by now).
        let left = self.leftovers(id, &BTreeSet::new()).await?;
        if !left.is_empty() {
            return Err(BaoError::Refused(format!(
                "refusing to delete namespace {}: it still holds {}",
                id.namespace_path(),
                left.join(", ")
            )));
        }
        let result = self
            .bao
            .client
            .delete(&id.namespace, &format!("sys/namespaces/{}", id.name))
            .await;
        self.bao.forget_tables();
        result
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BaoError> {
        Ok(self
            .bao
            .client
            .list(namespace, "sys/namespaces")
            .await?
            .into_iter()
            .map(|n| ResourceId::new(namespace, "namespace", None, n.trim_end_matches('/')))
            .collect())
    }
}
