//! The objects under one mount, imported by the mount's type: roles, keys, secrets (as
//! placeholders), their KV metadata, and the singleton configs; only the fields OpenBao
//! publishes as writable parameters are kept.

use serde_json::{Map, Value, json};

use super::values::{clean, pick};
use super::{ImportError, Importer};
use crate::backends::Live;
use crate::backends::openbao::fields::known;
use crate::model::{DesiredResource, ResourceId};

impl Importer<'_> {
    /// The objects under one mount, by the mount's type.
    pub(super) async fn children(
        &mut self,
        ns: &str,
        mount: &str,
        mount_type: &str,
        mount_res: &DesiredResource,
        body: &mut Map<String, Value>,
    ) -> Result<(), ImportError> {
        let blocks: &[(&str, &str)] = match mount_type {
            "approle" => &[("roles", "approle_role")],
            "jwt" | "oidc" => &[("roles", "jwt_role")],
            "kv-v2" => &[("kv", "kv_secret")],
            "kv" => &[("kv", "kv_secret")],
            "transit" => &[("keys", "transit_key")],
            "database" => &[
                ("connections", "database_connection"),
                ("roles", "database_role"),
                ("static_roles", "database_static_role"),
            ],
            "aws" => &[("roles", "aws_role")],
            _ => &[],
        };
        let here = (ns.to_owned(), mount.to_owned(), mount_res.id.kind == "auth");
        for (block, kind) in blocks {
            let mut entries = Map::new();
            let mut metadata = Map::new();
            for id in self.list(kind, ns, &[mount_res]).await? {
                let Some(live) = self.read(&id).await? else {
                    continue;
                };
                let tables = self.tables(kind, &id, mount_type, &here).await;
                let mut entry = self.entry(ns, mount, kind, &id, live);
                entry.retain(|k, _| known(&tables, k));
                entries.insert(id.name.clone(), Value::Object(entry));
                self.report.objects += 1;
                if mount_type == "kv-v2"
                    && let Some(m) = self.kv_metadata(&id).await?
                {
                    metadata.insert(id.name.clone(), Value::Object(m));
                    self.report.objects += 1;
                }
            }
            if !entries.is_empty() {
                body.insert((*block).into(), Value::Object(entries));
            }
            if !metadata.is_empty() {
                body.insert("kv_metadata".into(), Value::Object(metadata));
            }
        }
        // Singleton configs.
        let configs: &[(&str, &str)] = match mount_type {
            "jwt" | "oidc" => &[("auth_config", "config")],
            "aws" => &[("aws_config", "root"), ("aws_config", "lease")],
            _ => &[],
        };
        for (kind, name) in configs {
            let id = ResourceId::new(ns, kind, Some(mount), name);
            let Some(live) = self.read(&id).await? else {
                continue;
            };
            let tables = self.tables(kind, &id, mount_type, &here).await;
            let mut entry = clean(live);
            entry.retain(|k, _| known(&tables, k));
            if *kind == "auth_config" && entry.contains_key("oidc_client_id") {
                let v = self.placeholder(
                    &[ns, mount, "oidc_client_secret"],
                    format!("client secret of auth/{mount}/config"),
                    None,
                );
                entry.insert("oidc_client_secret".into(), v);
            }
            if *kind == "aws_config" && *name == "root" && entry.contains_key("access_key") {
                let v = self.placeholder(
                    &[ns, mount, "secret_key"],
                    format!("AWS secret key of {mount}/config/root"),
                    None,
                );
                entry.insert("secret_key".into(), v);
            }
            if entry.is_empty() {
                continue;
            }
            if *kind == "auth_config" {
                body.insert("config".into(), Value::Object(entry));
            } else {
                let cfg = body.entry("config").or_insert_with(|| json!({}));
                if let Some(c) = cfg.as_object_mut() {
                    c.insert((*name).to_owned(), Value::Object(entry));
                }
            }
            self.report.objects += 1;
        }
        Ok(())
    }

    /// The parameter tables of an object (to keep only writable fields).
    async fn tables(
        &mut self,
        kind: &str,
        id: &ResourceId,
        mount_type: &str,
        here: &crate::backends::openbao::fields::MountRef,
    ) -> crate::backends::openbao::fields::Tables {
        let Some(k) = self
            .registry
            .get(crate::model::Backend::OpenBao, kind)
            .cloned()
        else {
            return Vec::new();
        };
        self.fields
            .tables_for(k.as_ref(), id, Some(mount_type), Some(here))
            .await
    }

    /// A KV v2 secret's metadata where it differs from OpenBao's defaults.
    async fn kv_metadata(
        &self,
        secret: &ResourceId,
    ) -> Result<Option<Map<String, Value>>, ImportError> {
        let id = ResourceId::new(
            &secret.namespace,
            "kv_metadata",
            secret.mount.as_deref(),
            &secret.name,
        );
        let Some(live) = self.read(&id).await? else {
            return Ok(None);
        };
        let m: Map<String, Value> = live
            .to_map()
            .into_iter()
            .filter(|(k, v)| match k.as_str() {
                "max_versions" => v.as_u64().is_some_and(|n| n != 0),
                "cas_required" => v.as_bool() == Some(true),
                "delete_version_after" => !matches!(v.as_str(), Some("0s" | "") | None),
                "custom_metadata" => v.as_object().is_some_and(|o| !o.is_empty()),
                _ => false,
            })
            .collect();
        Ok((!m.is_empty()).then_some(m))
    }

    /// One child object's fields, secrets replaced by placeholders.
    fn entry(
        &mut self,
        ns: &str,
        mount: &str,
        kind: &str,
        id: &ResourceId,
        live: Live,
    ) -> Map<String, Value> {
        match kind {
            "kv_secret" => {
                let mut out = Map::new();
                for (key, value) in live.iter() {
                    let v = self.placeholder(
                        &[ns, mount, &id.name, key],
                        format!("key `{key}` of {mount}/{}", id.name),
                        Some(value),
                    );
                    out.insert(key.clone(), v);
                }
                out
            }
            "transit_key" => {
                let mut m = pick(
                    clean(live),
                    Some(&[
                        "type",
                        "derived",
                        "convergent_encryption",
                        "exportable",
                        "allow_plaintext_backup",
                        "deletion_allowed",
                        "auto_rotate_period",
                        "min_encryption_version",
                        "min_decryption_version",
                    ]),
                    &[],
                );
                m.retain(|_, v| v.as_bool() != Some(false));
                m
            }
            "approle_role" | "jwt_role" => pick(
                clean(live),
                None,
                &["policies", "period", "bound_cidr_list"],
            ),
            "database_connection" => {
                let mut m = pick(clean(live), None, &["verify_connection"]);
                let v = self.placeholder(
                    &[ns, mount, &id.name, "password"],
                    format!("password of {mount}/config/{}", id.name),
                    None,
                );
                m.insert("password".into(), v);
                // OpenBao answers a URL with a password in it masked (`xxxxx`): that text is
                // not the URL, so it becomes a placeholder too.
                if m.get("connection_url")
                    .and_then(Value::as_str)
                    .is_some_and(crate::backends::openbao::database_connection::embeds_password)
                {
                    let v = self.placeholder(
                        &[ns, mount, &id.name, "connection_url"],
                        format!(
                            "connection URL (with its password) of {mount}/config/{}",
                            id.name
                        ),
                        None,
                    );
                    m.insert("connection_url".into(), v);
                }
                m
            }
            _ => clean(live),
        }
    }
}
