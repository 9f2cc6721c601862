//! Secrets-engine mounts (`mount`) and auth-method mounts (`auth`), with their tune.
//!
//! Both live in a mount table (`sys/mounts`, `sys/auth`) read once per run, and both tune
//! through `.../tune`; they differ only in paths and built-ins, hence one file for both.
//! A `kv-v2` mount is `type: kv` with `options.version: 2` on the server; it is shown and
//! compared as `kv-v2`, the name operators write. A kv mount without a version is version 1
//! (so `options.version: "1"` compares equal to the server leaving it out), and a kv v1 mount
//! becomes kv-v2 in place, through tune, as OpenBao upgrades it: never by a replace, which would
//! destroy its data.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Body, OpenBao, Table, body_from, sys_path};
use crate::backends::BackendError;
use crate::backends::{FieldSource, Holds, Kind, Live, Made};
use crate::model::{AttrValue, DesiredResource, ResourceId};

/// Mounts OpenBao has by itself; never listed, never managed.
pub const BUILTIN_SECRETS: &[&str] = &["sys", "cubbyhole", "identity"];
pub const BUILTIN_AUTH: &[&str] = &["token"];

pub struct Mount {
    bao: Arc<OpenBao>,
    table: Table,
}

impl Mount {
    pub fn new(bao: Arc<OpenBao>, table: Table) -> Self {
        Mount { bao, table }
    }

    fn builtins(&self) -> &'static [&'static str] {
        match self.table {
            Table::Secrets => BUILTIN_SECRETS,
            Table::Auth => BUILTIN_AUTH,
        }
    }
}

/// The server's mount entry flattened into declared-attribute names.
pub fn flatten(entry: &Value) -> Live {
    let mut live = Live::new();
    let mut kind = entry
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let options = entry.get("options").and_then(Value::as_object);
    let version = options
        .and_then(|o| o.get("version"))
        .and_then(Value::as_str);
    if kind == "kv" && version == Some("2") {
        kind = "kv-v2".into();
    }
    live.insert("type", Value::String(kind.clone()));
    if let Some(d) = entry.get("description") {
        live.insert("description", d.clone());
    }
    for key in [
        "local",
        "seal_wrap",
        "external_entropy_access",
        "plugin_version",
    ] {
        if let Some(v) = entry.get(key) {
            live.insert(key, v.clone());
        }
    }
    if let Some(config) = entry.get("config").and_then(Value::as_object) {
        for (k, v) in config {
            live.insert(format!("tune.{k}"), v.clone());
        }
    }
    if let Some(o) = options {
        for (k, v) in o {
            if kind == "kv-v2" && k == "version" {
                continue;
            }
            live.insert(format!("options.{k}"), v.clone());
        }
    }
    if kind == "kv" && version.is_none() {
        // A kv mount enabled without a version is version 1.
        live.insert("options.version", json!("1"));
    }
    live
}

fn prefixed<'a>(
    res: &'a DesiredResource,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a AttrValue)> {
    res.attrs.iter().filter(move |(k, _)| k.starts_with(prefix))
}

#[async_trait]
impl Kind for Mount {
    fn name(&self) -> &'static str {
        match self.table {
            Table::Secrets => "mount",
            Table::Auth => "auth",
        }
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["type", "local", "seal_wrap", "external_entropy_access"]
    }

    fn forces_replace(&self, field: &str, live: &Value, desired: &Value) -> bool {
        // kv (v1) → kv-v2 is OpenBao's in-place upgrade; the way back is not.
        if field == "type" && live == "kv" && desired == "kv-v2" {
            return false;
        }
        self.immutable().contains(&field)
    }

    fn destroy_order(&self) -> u8 {
        90
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        const SECRETS: &[FieldSource] = &[
            FieldSource::of_system("", "mounts/{path}"),
            FieldSource::of_system("tune.", "mounts/{path}/tune"),
        ];
        const AUTH: &[FieldSource] = &[
            FieldSource::of_system("", "auth/{path}"),
            FieldSource::of_system("tune.", "auth/{path}/tune"),
        ];
        match self.table {
            Table::Secrets => SECRETS,
            Table::Auth => AUTH,
        }
    }

    fn holds(&self, id: &ResourceId, live: &Live) -> Option<Holds> {
        let mut attrs = std::collections::BTreeMap::new();
        if let Some(t) = live.get("type") {
            attrs.insert("type".to_owned(), AttrValue::Plain(t.clone()));
        }
        Some(Holds::Mount {
            namespace: id.namespace.clone(),
            mount: Box::new(DesiredResource::new(id.clone(), attrs)),
        })
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        crate::backends::namespace_container(&id.namespace)
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let table = self.bao.table(&id.namespace, self.table).await?;
        Ok(table.get(&id.name).map(flatten))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let kind = res.plain_str("type").unwrap_or_default();
        let config = body_from(prefixed(res, "tune."), "tune.");
        let options = body_from(prefixed(res, "options."), "options.");
        let mut options = options.json().clone();
        let wire_type = if kind == "kv-v2" {
            if let Some(o) = options.as_object_mut() {
                o.insert("version".into(), json!("2"));
            }
            "kv"
        } else {
            kind
        };
        let mut body = json!({ "type": wire_type, "config": config.json(), "options": options });
        for key in [
            "description",
            "local",
            "seal_wrap",
            "external_entropy_access",
            "plugin_version",
        ] {
            if let Some(v) = res.attrs.get(key) {
                body[key] = v.to_wire();
            }
        }
        let result = self
            .bao
            .client
            .write(
                &res.id.namespace,
                &sys_path(self.table, &res.id.name),
                &Body::new(body),
            )
            .await;
        self.bao.forget_tables(&res.id.namespace);
        result.map(|_| Made::none()).map_err(Into::into)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let mut tune = body_from(
            res.attrs
                .iter()
                .filter(|(k, _)| changed.contains(*k) && k.starts_with("tune.")),
            "tune.",
        )
        .json()
        .clone();
        if changed.contains("description")
            && let Some(v) = res.attrs.get("description")
        {
            tune["description"] = v.to_wire();
        }
        let options = body_from(
            res.attrs
                .iter()
                .filter(|(k, _)| changed.contains(*k) && k.starts_with("options.")),
            "options.",
        );
        let upgrade = changed.contains("type") && res.plain_str("type") == Some("kv-v2");
        if upgrade || options.json().as_object().is_some_and(|o| !o.is_empty()) {
            let mut o = options.json().clone();
            if res.plain_str("type") == Some("kv-v2") {
                o["version"] = json!("2");
            }
            tune["options"] = o;
        }
        let result = self
            .bao
            .client
            .write(
                &res.id.namespace,
                &sys_path(self.table, &res.id.name).lit("tune"),
                &Body::new(tune),
            )
            .await;
        self.bao.forget_tables(&res.id.namespace);
        result.map(|_| ()).map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let result = self
            .bao
            .client
            .delete(&id.namespace, &sys_path(self.table, &id.name))
            .await;
        self.bao.forget_tables(&id.namespace);
        result.map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let table = self.bao.table(namespace, self.table).await?;
        Ok(table
            .keys()
            .filter(|k| !self.builtins().contains(&k.as_str()))
            .map(|k| ResourceId::new(namespace, self.name(), None, k))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_v2_is_shown_as_operators_write_it() {
        let entry = json!({"type": "kv", "options": {"version": "2"}, "config": {"default_lease_ttl": 3600}, "description": ""});
        let live = flatten(&entry);
        assert_eq!(live.get("type"), Some(&json!("kv-v2")));
        assert_eq!(live.get("tune.default_lease_ttl"), Some(&json!(3600)));
        assert!(!live.contains_key("options.version"));
        let v1 = flatten(&json!({"type": "kv", "options": null}));
        assert_eq!(v1.get("options.version"), Some(&json!("1")));
    }
}
