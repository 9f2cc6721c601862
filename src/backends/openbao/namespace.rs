//! Namespaces (`sys/namespaces/NAME`, asked of the parent namespace). One per tenant: each holds
//! its own mounts, policies and roles, isolated from its siblings.
//!
//! Deleting a namespace deletes everything in it. The engine's prune guard (see
//! `plan::contents`) lists what it holds through [`Kind::holds`] and refuses, at plan time and
//! again just before the delete, when anything in it is not being removed by aegisctl in the
//! same run, unless `--allow-destroy` was given and the plan named every such object.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Body, OpenBao};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{Holds, Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

pub struct Namespace {
    bao: Arc<OpenBao>,
}

impl Namespace {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        Namespace { bao }
    }
}

fn path(name: &str) -> ApiPath {
    ApiPath::route("sys/namespaces").name(name)
}

impl Namespace {
    /// Deletes every namespace inside `ns`, recursively, deepest first.
    fn delete_children(&self, ns: String) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let children = self
                .bao
                .client
                .list(&ns, &ApiPath::route("sys/namespaces"))
                .await?;
            for child in children {
                let name = child.trim_end_matches('/');
                self.delete_children(format!("{ns}/{name}")).await?;
                self.bao.client.delete(&ns, &path(name)).await?;
                // The deletion is scheduled, not done: the parent is refused until it is.
                let mut wait = Duration::from_millis(20);
                let deadline = Instant::now() + Duration::from_secs(30);
                while self.bao.client.read(&ns, &path(name)).await?.is_some() {
                    if Instant::now() > deadline {
                        return Err(BackendError::Refused(format!(
                            "the namespace {ns}/{name} is still being deleted after 30 s"
                        )));
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
            }
            self.bao.forget_tables(&ns);
            Ok(())
        })
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

    fn holds(&self, id: &ResourceId, _live: &Live) -> Option<Holds> {
        Some(Holds::Namespace(id.namespace_path()))
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let resp = self.bao.client.read(&id.namespace, &path(&id.name)).await?;
        Ok(resp.and_then(|v| {
            let data = v.get("data")?.as_object()?;
            let mut live = Live::new();
            live.insert(
                "custom_metadata",
                data.get("custom_metadata")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            );
            Some(live)
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let mut body = json!({});
        if let Some(m) = res.attrs.get("custom_metadata") {
            body["custom_metadata"] = m.to_wire();
        }
        let result = self
            .bao
            .client
            .write(&res.id.namespace, &path(&res.id.name), &Body::new(body))
            .await;
        self.bao.forget_tables(&res.id.namespace_path());
        result.map(|_| Made::none()).map_err(Into::into)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let meta = res
            .attrs
            .get("custom_metadata")
            .map(|m| m.to_wire())
            .unwrap_or(Value::Null);
        self.bao
            .client
            .patch(
                &res.id.namespace,
                &path(&res.id.name),
                &Body::new(json!({ "custom_metadata": meta })),
            )
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        // OpenBao deletes a namespace's mounts and policies with it, but refuses while it still
        // has child namespaces: those go first, deepest first. The prune guard has checked that
        // each of them may go (managed and deleted by this plan, or listed by --allow-destroy).
        self.delete_children(id.namespace_path()).await?;
        let result = self.bao.client.delete(&id.namespace, &path(&id.name)).await;
        self.bao.forget_tables(&id.namespace_path());
        result.map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        Ok(self
            .bao
            .client
            .list(namespace, &ApiPath::route("sys/namespaces"))
            .await?
            .into_iter()
            .map(|n| ResourceId::new(namespace, "namespace", None, n.trim_end_matches('/')))
            .collect())
    }
}
