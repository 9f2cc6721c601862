//! The values a topology takes from elsewhere, filled in before planning: `vault:` references
//! read from OpenBao KV, `infisical:` references read from Infisical, and outputs of other objects (a Keycloak client's generated secret) read
//! from their producers once those exist.

use std::collections::BTreeMap;

use super::session::Session;
use super::{CliError, usage};
use crate::backends::Live;
use crate::backends::SecretJson;
use crate::backends::openbao::Table;
use crate::model::{AttrValue, Desired, RefSource, ResourceId, VaultRef};
use crate::plan::Observed;
use crate::sensitive::Sensitive;

impl Session {
    /// Reads every `vault:MOUNT/PATH#key` reference from OpenBao (KV, in the namespace of the
    /// object using it), once per secret, and turns it into a secret value of its own type.
    pub async fn resolve_vault(&self, desired: &mut Desired) -> Result<(), CliError> {
        let mut cache: BTreeMap<(String, String), Option<Live>> = BTreeMap::new();
        for res in &mut desired.resources {
            // An object of another backend (a Keycloak client's secret) reads from the root
            // namespace: its scope is a realm, not a namespace.
            let ns = if res.id.backend.is_openbao() {
                res.id.namespace.clone()
            } else {
                String::new()
            };
            for value in res.attrs.values_mut() {
                let AttrValue::Vault(r) = value else { continue };
                if r.source == RefSource::Infisical {
                    let found = self.read_infisical(r).await?;
                    *value = AttrValue::Secret(found);
                    continue;
                }
                let key = (ns.clone(), r.path.clone());
                if !cache.contains_key(&key) {
                    let data = self.read_kv(&ns, &r.path).await?;
                    cache.insert(key.clone(), data);
                }
                let where_ = if ns.is_empty() {
                    String::new()
                } else {
                    format!(" in namespace {ns}")
                };
                let found = cache
                    .get(&key)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| usage(
                        format!("{}: vault:{}#{}: there is no KV secret `{}`{where_}", r.at, r.path, r.key, r.path),
                        "write the secret first (e.g. `bao kv put`), or fix the reference: vault:MOUNT/PATH#key",
                    ))?
                    .get(&r.key)
                    .ok_or_else(|| usage(
                        format!("{}: vault:{}#{}: the secret has no key `{}`{where_}", r.at, r.path, r.key, r.key),
                        "fix the key after `#`",
                    ))?;
                *value = AttrValue::secret_json(found.clone());
            }
        }
        Ok(())
    }

    /// Every output reference whose producer exists is read now (a generated client secret);
    /// the others stay "(known after apply)" and are read by apply once their producer is made.
    pub async fn resolve_outputs(
        &self,
        desired: &mut Desired,
        observed: &Observed,
    ) -> Result<(), CliError> {
        for res in &mut desired.resources {
            for value in res.attrs.values_mut() {
                let AttrValue::Output(o) = value else {
                    continue;
                };
                if !matches!(observed.live.get(&o.producer.address()), Some(Some(_))) {
                    continue;
                }
                if let Some(kind) = self.registry.of(&o.producer)
                    && let Some(v) = kind.output(&o.producer, &o.name).await?
                {
                    *value = AttrValue::Secret(v);
                }
            }
        }
        Ok(())
    }

    /// After apply: a copy of `desired` with the outputs this apply made filled in, or `None`
    /// when it takes no output (no copy of a large topology for nothing).
    pub async fn with_made_outputs(&self, desired: &Desired) -> Option<Desired> {
        let takes = desired
            .resources
            .iter()
            .any(|r| r.attrs.values().any(|v| matches!(v, AttrValue::Output(_))));
        if !takes {
            return None;
        }
        let mut known = desired.clone();
        self.resolve_made_outputs(&mut known).await;
        Some(known)
    }

    /// After apply: every output reference still unknown, read from its producer where it now
    /// exists (best effort: what cannot be read stays unknown).
    async fn resolve_made_outputs(&self, desired: &mut Desired) {
        for res in &mut desired.resources {
            for value in res.attrs.values_mut() {
                let AttrValue::Output(o) = value else {
                    continue;
                };
                if let Some(kind) = self.registry.of(&o.producer)
                    && let Ok(Some(v)) = kind.output(&o.producer, &o.name).await
                {
                    *value = AttrValue::Secret(v);
                }
            }
        }
    }

    /// The value of an `infisical:PROJECT/ENV/PATH/NAME` reference.
    async fn read_infisical(&self, r: &VaultRef) -> Result<Sensitive<SecretJson>, CliError> {
        let Some(inf) = &self.infisical else {
            return Err(usage(
                format!(
                    "{}: infisical:{}/{} needs Infisical, and the topology has no `infisical:` block",
                    r.at, r.path, r.key
                ),
                "add the infisical block (url, auth, organization), or write the value another way",
            ));
        };
        let (project, rest) = r.path.split_once('/').unwrap_or((r.path.as_str(), ""));
        let (env, folder) = rest.split_once('/').unwrap_or((rest, ""));
        let path = format!("/{folder}");
        let found = inf
            .client
            .secret_value(project, env, &path, &r.key)
            .await
            .map_err(|e| CliError::Infisical(Box::new(e)))?;
        match found {
            Some(v) => Ok(Sensitive::new(SecretJson(serde_json::Value::String(
                v.expose().clone(),
            )))),
            None => Err(usage(
                format!(
                    "{}: infisical:{}/{}: there is no secret `{}` in project {project}, environment {env}, folder {path}",
                    r.at, r.path, r.key, r.key
                ),
                "create the secret first (it may be declared in this topology: apply it, then reference it), or fix the reference: infisical:PROJECT/ENV/PATH/NAME",
            )),
        }
    }

    /// The data of a KV secret given as `MOUNT/PATH`, the mount found by longest prefix.
    async fn read_kv(&self, ns: &str, path: &str) -> Result<Option<Live>, CliError> {
        let mounts = self.bao.table(ns, Table::Secrets).await?;
        let mount = mounts
            .keys()
            .filter(|m| path.starts_with(&format!("{m}/")))
            .max_by_key(|m| m.len())
            .cloned();
        let Some(mount) = mount else { return Ok(None) };
        let rest = &path[mount.len() + 1..];
        // The KV secret kind reads it, as plan would.
        let id = ResourceId::new(ns, "kv_secret", Some(&mount), rest);
        match self.registry.of(&id) {
            Some(kind) => Ok(kind.read(&id).await?),
            None => Ok(None),
        }
    }
}
