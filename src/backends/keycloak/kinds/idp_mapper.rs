//! Identity provider mappers (`.../identity-provider/instances/{alias}/mappers/{id}`), named
//! `alias/name`: the provider's alias in `mount`, the mapper's `name` as the name, so an address
//! reads `keycloak[R].idp_mapper["corp-saml/engineering-operators"]`.
//!
//! Why a cache: mappers have server ids, and the only way from a name to an id is listing the
//! provider's mappers (there is no realm-wide list, and no lookup by name). Each provider's
//! mappers are listed once and their ids kept (`name → id` per realm and alias); a read by a
//! cached id is one GET, and an id that no longer names this mapper (deleted, or recreated out
//! of band) sends the kind back to the list once. Listing a realm lists each provider once.
//!
//! Why `update` sends the whole mapper: a mapper `PUT` rebuilds it from the body (name, alias,
//! type, `config` wholesale) and writes the mapper the body's `id` names. So the body is the
//! mapper as it is just before the `PUT` (the lookup of its id reads it anyway), with the
//! declared fields laid over it, the declared `config` keys laid over its `config` (undeclared
//! keys are kept), and `id`, `name` and `identityProviderAlias` from the object's identity. The body's `identityProviderAlias` is what Keycloak stores (not
//! the path's, and it checks neither that nor the type): it is always sent, and a create under
//! a provider that does not exist is refused here rather than left as an orphan. A new
//! `identityProviderMapper` (the mapper type) is a replace. `config` values are strings
//! ([`super::config_strings`], shared with protocol mappers).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::identity_provider::{self, instances};
use super::{Keycloak, config_strings};
use crate::backends::body::Body;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "idp_mapper";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak(
    "a realm file's `identityProviderMappers[]`",
    Some("identity_provider"),
    &[],
);

/// (realm, provider alias) → (mapper name → mapper id).
type Cache = HashMap<(String, String), HashMap<String, String>>;

pub struct IdpMapper {
    kc: Arc<Keycloak>,
    ids: Mutex<Cache>,
}

impl IdpMapper {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        IdpMapper {
            kc,
            ids: Mutex::new(HashMap::new()),
        }
    }
}

fn mappers(realm: &str, alias: &str) -> ApiPath {
    instances(realm).name(alias).lit("mappers")
}

/// The provider alias named in a mapper's id.
fn alias_of(id: &ResourceId) -> Result<&str, BackendError> {
    id.mount.as_deref().ok_or_else(|| {
        BackendError::Refused(format!(
            "{}: an identity provider mapper needs its provider (`alias/name`)",
            id.address()
        ))
    })
}

fn text<'v>(m: &'v Value, field: &str) -> Option<&'v str> {
    m.get(field).and_then(Value::as_str)
}

/// The request body (see the module docs): `base` with the declared fields over it, and the
/// identity fields from the id. Secret attributes are marked for scrubbing.
fn body_of(res: &DesiredResource, alias: &str, base: Map<String, Value>) -> Body {
    let mut map = base;
    let mut secrets = Vec::new();
    for (k, v) in &res.attrs {
        if k == "id" {
            continue;
        }
        let wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        match (k.as_str(), &wire) {
            ("config", Value::Object(declared)) => {
                let mut config = match map.remove("config") {
                    Some(Value::Object(live)) => live,
                    _ => Map::new(),
                };
                config.extend(config_strings(declared));
                map.insert("config".into(), Value::Object(config));
            }
            _ => {
                map.insert(k.clone(), wire);
            }
        }
    }
    map.insert("name".into(), Value::String(res.id.name.clone()));
    map.insert(
        "identityProviderAlias".into(),
        Value::String(alias.to_owned()),
    );
    secrets
        .iter()
        .fold(Body::new(Value::Object(map)), |b, s| b.with_secret_value(s))
}

impl IdpMapper {
    /// The cache; a panic elsewhere while it was held leaves ids that are still ids.
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, realm: &str, alias: &str, name: &str) -> Option<String> {
        self.cache()
            .get(&(realm.to_owned(), alias.to_owned()))?
            .get(name)
            .cloned()
    }

    fn remember(&self, realm: &str, alias: &str, name: &str, id: &str) {
        self.cache()
            .entry((realm.to_owned(), alias.to_owned()))
            .or_default()
            .insert(name.to_owned(), id.to_owned());
    }

    fn forget(&self, realm: &str, alias: &str, name: &str) {
        if let Some(m) = self.cache().get_mut(&(realm.to_owned(), alias.to_owned())) {
            m.remove(name);
        }
    }

    /// Every mapper of a provider (none when it or its realm is absent), and their ids
    /// remembered in place of what was known about that provider.
    async fn list_of(&self, realm: &str, alias: &str) -> Result<Vec<Value>, BackendError> {
        let items = match self.kc.client.get(&mappers(realm, alias)).await? {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let ids = items
            .iter()
            .filter_map(|m| Some((text(m, "name")?.to_owned(), text(m, "id")?.to_owned())))
            .collect();
        self.cache()
            .insert((realm.to_owned(), alias.to_owned()), ids);
        Ok(items)
    }

    /// The mapper's server id and representation, if it exists.
    async fn find(&self, id: &ResourceId) -> Result<Option<(String, Value)>, BackendError> {
        let (realm, alias, name) = (&id.namespace, alias_of(id)?, id.name.as_str());
        if let Some(mid) = self.cached(realm, alias, name) {
            // Ids resolve realm-wide: check the answer is still this provider's mapper.
            if let Some(m) = self
                .kc
                .client
                .get(&mappers(realm, alias).name(&mid))
                .await?
                && text(&m, "name") == Some(name)
                && text(&m, "identityProviderAlias") == Some(alias)
            {
                return Ok(Some((mid, m)));
            }
            self.forget(realm, alias, name);
        }
        Ok(self
            .list_of(realm, alias)
            .await?
            .into_iter()
            .find(|m| text(m, "name") == Some(name))
            .and_then(|m| Some((text(&m, "id")?.to_owned(), m))))
    }
}

#[async_trait]
impl Kind for IdpMapper {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    fn lane(&self, id: &ResourceId) -> Option<String> {
        super::realm_lane(&id.namespace)
    }

    /// A PUT would rebuild the mapper as another type with the old type's config: replace.
    fn immutable(&self) -> &'static [&'static str] {
        &["identityProviderMapper"]
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    /// Before their provider (35), whose deletion takes them along anyway.
    fn destroy_order(&self) -> u8 {
        20
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        let alias = id.mount.as_deref()?;
        Some(identity_provider::id_of(&id.namespace, alias))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::Object(c) if field == "config" => Value::Object(config_strings(&c)),
            other => other,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(self.find(id).await?.and_then(|(_, m)| match m {
            Value::Object(mut map) => {
                // The server's id is no part of the declared state.
                map.remove("id");
                Some(Live::from_map(map))
            }
            _ => None,
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let (realm, alias) = (&res.id.namespace, alias_of(&res.id)?);
        // Keycloak would create the mapper all the same, listed under no provider.
        let provider = instances(realm).name(alias);
        if self.kc.client.get(&provider).await?.is_none() {
            return Err(BackendError::Refused(format!(
                "{}: identity provider `{alias}` does not exist in realm `{realm}`",
                res.address
            )));
        }
        let body = body_of(res, alias, Map::new());
        let created = self.kc.client.post(&mappers(realm, alias), &body).await?;
        if let Some(mid) = created.id {
            self.remember(realm, alias, &res.id.name, &mid);
        }
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let (realm, alias) = (&res.id.namespace, alias_of(&res.id)?);
        // The mapper as it is now, not as planned: the PUT replaces what it is not given, so
        // an older copy would undo an edit made since.
        let Some((mid, Value::Object(now))) = self.find(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: the mapper no longer exists",
                res.address
            )));
        };
        let mut body = body_of(res, alias, now);
        if let Value::Object(m) = &mut body.json {
            // The PUT writes the mapper the body's id names.
            m.insert("id".into(), Value::String(mid.clone()));
        }
        self.kc
            .client
            .put(&mappers(realm, alias).name(&mid), &body)
            .await?;
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let (realm, alias) = (&id.namespace, alias_of(id)?);
        if let Some((mid, _)) = self.find(id).await? {
            self.kc
                .client
                .delete(&mappers(realm, alias).name(&mid))
                .await?;
        }
        self.forget(realm, alias, &id.name);
        Ok(())
    }

    /// The mappers of every provider of the realm (every provider is the topology's to manage,
    /// see `identity_provider::list`): one list of providers, one list per provider.
    async fn list(
        &self,
        realm: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let providers = identity_provider::Idp::new(self.kc.clone())
            .list(realm, desired)
            .await?;
        let mut out = Vec::new();
        for p in providers {
            for m in self.list_of(realm, &p.name).await? {
                if let Some(name) = text(&m, "name") {
                    out.push(ResourceId::on(
                        Backend::Keycloak,
                        realm,
                        KIND,
                        Some(&p.name),
                        name,
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrValue;
    use serde_json::json;

    #[test]
    fn the_body_takes_identity_from_the_id_and_keeps_undeclared_config() {
        let id = ResourceId::on(Backend::Keycloak, "r", KIND, Some("corp"), "eng ops");
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert(
            "identityProviderAlias".into(),
            AttrValue::Plain(json!("other")),
        );
        attrs.insert(
            "config".into(),
            AttrValue::Plain(json!({"role": "aegis:operator", "n": 3})),
        );
        let res = DesiredResource::new(id, attrs);
        let live = json!({"identityProviderMapper": "t", "config": {"role": "x", "kept": "y"}});
        let Value::Object(base) = live else { panic!() };
        let body = body_of(&res, "corp", base);
        assert_eq!(
            body.json(),
            &json!({"name": "eng ops", "identityProviderAlias": "corp",
                "identityProviderMapper": "t",
                "config": {"role": "aegis:operator", "n": "3", "kept": "y"}})
        );
    }
}
