//! KV v2 secrets (`MOUNT/data/PATH`). Every value is sensitive. A secret is written only when a
//! declared key differs, so converged runs create no new versions; keys the file does not
//! declare are kept as they are (the write sends the live data with the declared keys overlaid).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{BaoError, Body, OpenBao};
use crate::backends::{Kind, Live};
use crate::model::{AttrValue, DesiredResource, ResourceId};

pub struct KvSecret {
    bao: Arc<OpenBao>,
}

impl KvSecret {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        KvSecret { bao }
    }

    async fn write(&self, res: &DesiredResource, base: Live) -> Result<(), BaoError> {
        let mut data = base;
        let mut body_secrets = Vec::new();
        for (k, v) in &res.attrs {
            if let AttrValue::Secret(s) = v {
                body_secrets.push(s.clone());
            }
            data.insert(k.clone(), v.to_wire());
        }
        let mut body = Body::new(json!({ "data": data }));
        for s in &body_secrets {
            body = body.with_secret(s);
        }
        let (mount, path) = split(&res.id);
        self.bao
            .client
            .write(&res.id.namespace, &format!("{mount}/data/{path}"), &body)
            .await
            .map(|_| ())
    }

    /// Recursive LIST of a KV v2 mount's metadata.
    async fn walk(&self, ns: &str, mount: &str, out: &mut Vec<ResourceId>) -> Result<(), BaoError> {
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            for key in self
                .bao
                .client
                .list(ns, &format!("{mount}/metadata/{prefix}"))
                .await?
            {
                let full = format!("{prefix}{key}");
                if key.ends_with('/') {
                    stack.push(full);
                } else {
                    out.push(ResourceId::new(ns, "kv_secret", Some(mount), &full));
                }
            }
        }
        Ok(())
    }
}

fn split(id: &ResourceId) -> (&str, &str) {
    (id.mount.as_deref().unwrap_or("secret"), id.name.as_str())
}

#[async_trait]
impl Kind for KvSecret {
    fn name(&self) -> &'static str {
        "kv_secret"
    }

    fn destroy_order(&self) -> u8 {
        10
    }

    fn normalise(&self, _field: &str, value: Value) -> Value {
        // Values are compared as the text that was written.
        match value {
            Value::String(_) => value,
            other => Value::String(other.to_string()),
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BaoError> {
        let (mount, path) = split(id);
        let resp = self
            .bao
            .client
            .read(&id.namespace, &format!("{mount}/data/{path}"))
            .await?;
        // A deleted or destroyed latest version answers with `data: null`: absent.
        Ok(resp.and_then(|v| v.pointer("/data/data").and_then(Value::as_object).cloned()))
    }

    async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
        self.write(res, Live::new()).await
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BaoError> {
        self.write(res, live.clone()).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BaoError> {
        let (mount, path) = split(id);
        self.bao
            .client
            .delete(&id.namespace, &format!("{mount}/metadata/{path}"))
            .await
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BaoError> {
        let mut out = Vec::new();
        for m in desired
            .iter()
            .filter(|r| r.id.kind == "mount" && r.plain_str("type") == Some("kv-v2"))
        {
            self.walk(namespace, &m.id.name, &mut out).await?;
        }
        Ok(out)
    }
}
