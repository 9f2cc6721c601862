//! KV secrets: `MOUNT/data/PATH` on a kv-v2 mount, `MOUNT/PATH` on a kv (v1) mount.
//!
//! Every value is sensitive and keeps its JSON type: `42` is written and compared as a number,
//! `"42"` as text. A secret is written only when a declared key differs, so converged runs
//! create no new versions; keys the file does not declare are kept as they are (the write sends
//! the live data with the declared keys overlaid). Version 2 writes carry check-and-set: the
//! version read (0 for a new secret), so a mount or secret with `cas_required` takes them and a
//! concurrent writer is never silently overwritten. Which version a mount is comes from its
//! mount table, read once per namespace per run.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Body, OpenBao};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

pub struct KvSecret {
    bao: Arc<OpenBao>,
}

/// The KV version of a mount table entry: 2 for `kv` with `options.version: "2"`, else 1.
pub fn kv_version(entry: &Value) -> u8 {
    let v = entry.pointer("/options/version");
    if v == Some(&json!("2")) || v == Some(&json!(2)) {
        2
    } else {
        1
    }
}

fn split(id: &ResourceId) -> (&str, &str) {
    (id.mount.as_deref().unwrap_or("secret"), id.name.as_str())
}

/// `MOUNT/<segment>/PATH` (v2: `data`, `metadata`) or `MOUNT/PATH` (v1).
pub fn kv_path(version: u8, segment: &'static str, mount: &str, path: &str) -> ApiPath {
    let root = ApiPath::route("").path(mount);
    if version == 2 {
        root.lit(segment).path(path)
    } else {
        root.path(path)
    }
}

fn is_cas_mismatch(e: &crate::backends::BaoError) -> bool {
    e.status() == Some(400) && e.to_string().contains("check-and-set")
}

impl KvSecret {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        KvSecret { bao }
    }

    /// The mount's KV version; a mount not there (yet) is taken as kv-v2, the default type.
    async fn version(&self, ns: &str, mount: &str) -> Result<u8, BackendError> {
        Ok(self
            .bao
            .mount_entry(ns, mount)
            .await?
            .map_or(2, |e| kv_version(&e)))
    }

    async fn write(&self, res: &DesiredResource, live: Option<&Live>) -> Result<(), BackendError> {
        let mut data = live.map(Live::to_map).unwrap_or_default();
        for (k, v) in &res.attrs {
            data.insert(k.clone(), v.to_wire());
        }
        let data = Value::Object(data);
        let (mount, path) = split(&res.id);
        let ns = &res.id.namespace;
        if self.version(ns, mount).await? == 1 {
            let body = Body::new(data.clone()).with_secret_value(&data);
            return self
                .bao
                .client
                .write(ns, &kv_path(1, "", mount, path), &body)
                .await
                .map(|_| ())
                .map_err(Into::into);
        }
        let cas = live.and_then(|l| l.revision).unwrap_or(0);
        let send = |cas: u64| {
            Body::new(json!({ "options": { "cas": cas }, "data": data })).with_secret_value(&data)
        };
        let target = kv_path(2, "data", mount, path);
        match self.bao.client.write(ns, &target, &send(cas)).await {
            // A secret whose latest version was deleted reads as absent but keeps its version
            // count: write over it at the version it is at.
            Err(e) if live.is_none() && is_cas_mismatch(&e) => {
                let meta = self
                    .bao
                    .client
                    .read(ns, &kv_path(2, "metadata", mount, path))
                    .await?;
                let current = meta
                    .as_ref()
                    .and_then(|m| m.pointer("/data/current_version"))
                    .and_then(Value::as_u64)
                    .ok_or(e)?;
                self.bao
                    .client
                    .write(ns, &target, &send(current))
                    .await
                    .map(|_| ())
                    .map_err(Into::into)
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    /// Recursive LIST of a KV mount.
    async fn walk(
        &self,
        ns: &str,
        mount: &str,
        version: u8,
        out: &mut Vec<ResourceId>,
    ) -> Result<(), BackendError> {
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            let root = if version == 2 {
                ApiPath::route("").path(mount).lit("metadata")
            } else {
                ApiPath::route("").path(mount)
            };
            for key in self.bao.client.list(ns, &root.dir(&prefix)).await? {
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

#[async_trait]
impl Kind for KvSecret {
    fn name(&self) -> &'static str {
        "kv_secret"
    }

    fn destroy_order(&self) -> u8 {
        10
    }

    fn exact_types(&self) -> bool {
        true
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let (mount, path) = split(id);
        let version = self.version(&id.namespace, mount).await?;
        let resp = self
            .bao
            .client
            .read(&id.namespace, &kv_path(version, "data", mount, path))
            .await?;
        let Some(v) = resp else { return Ok(None) };
        if version == 1 {
            return Ok(v
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .map(Live::from_map));
        }
        // A deleted or destroyed latest version answers with `data: null`: absent.
        let revision = v.pointer("/data/metadata/version").and_then(Value::as_u64);
        Ok(v.pointer("/data/data")
            .and_then(Value::as_object)
            .cloned()
            .map(|m| Live::from_map(m).with_revision(revision)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        self.write(res, None).await.map(|()| Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        self.write(res, Some(live)).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let (mount, path) = split(id);
        let version = self.version(&id.namespace, mount).await?;
        self.bao
            .client
            .delete(&id.namespace, &kv_path(version, "metadata", mount, path))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let mut out = Vec::new();
        for m in desired.iter().filter(|r| r.id.kind == "mount") {
            let version = match m.plain_str("type") {
                Some("kv-v2") => 2,
                Some("kv") => 1,
                _ => continue,
            };
            self.walk(namespace, &m.id.name, version, &mut out).await?;
        }
        Ok(out)
    }
}
