//! Client scopes (`/admin/realms/{realm}/client-scopes`), named by `name`, with their protocol
//! mappers as one nested `protocolMappers` field, as the export writes them: unlike a client's
//! mappers (their own kind, because a client `PUT` syncs them), a scope's mappers only make
//! sense together with the scope, so the scope owns them.
//!
//! Keycloak has no lookup by name: the realm's scopes are read once per run and their UUIDs
//! cached ([`Ids::resolve_scope`](crate::backends::keycloak::Ids::resolve_scope)); a read is
//! then one `GET /client-scopes/{id}`. The mappers are compared as a set keyed by `name`,
//! without server ids and with `config` normalised as the server stores it
//! ([`normalise_config`]), and converged through `.../protocol-mappers/models`: the missing
//! added, the changed rewritten (a mapper `PUT` needs the full object and its id), the extra
//! deleted. The scope `PUT` never carries them. The scopes Keycloak makes in every realm are
//! never listed, and deleting one is refused: clients and realm defaults depend on them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::protocol_mapper::normalise_config;
use super::{Keycloak, roles};
use crate::backends::body::Body;
use crate::backends::keycloak::{IdKind, admin_realm};
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "client_scope";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak("a realm file's `clientScopes[]`", Some("realm"), &[]);

const MAPPERS: &str = "protocolMappers";

/// The scopes a new Keycloak 26.7 realm has (measured: `GET /client-scopes` of a fresh realm;
/// `AuthnContextClassRef` is a SAML one the contract does not mention).
const BUILTIN_SCOPES: &[&str] = &[
    "acr",
    "address",
    "AuthnContextClassRef",
    "basic",
    "email",
    "microprofile-jwt",
    "offline_access",
    "organization",
    "phone",
    "profile",
    "role_list",
    "roles",
    "saml_organization",
    "service_account",
    "web-origins",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTIN_SCOPES.contains(&name)
}

pub struct ClientScope {
    kc: Arc<Keycloak>,
}

impl ClientScope {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        ClientScope { kc }
    }
}

fn scopes(realm: &str) -> ApiPath {
    admin_realm(realm).lit("client-scopes")
}

fn models(realm: &str, sid: &str) -> ApiPath {
    scopes(realm).name(sid).lit("protocol-mappers/models")
}

/// A mapper as compared: no server id, `consentRequired: false` (what the server always
/// answers) dropped, `config` as the server stores it, keys sorted (the diff compares list
/// items by their JSON text).
fn canonical_mapper(m: &Value) -> Value {
    let Value::Object(m) = m else {
        return m.clone();
    };
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in m {
        match (k.as_str(), v) {
            ("id", _) | ("consentRequired", Value::Bool(false)) => {}
            ("config", Value::Object(c)) => {
                let c: BTreeMap<String, Value> = normalise_config(c).into_iter().collect();
                out.insert(k.clone(), Value::Object(c.into_iter().collect()));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out.into_iter().collect())
}

/// The mappers of a list, canonical, by name.
fn by_name(list: &[Value]) -> BTreeMap<String, &Value> {
    list.iter()
        .filter_map(|m| Some((m.get("name")?.as_str()?.to_owned(), m)))
        .collect()
}

/// A mapper request body; with `secret`, its config values are marked for scrubbing.
fn mapper_body(mapper: Map<String, Value>, secret: bool) -> Body {
    let config = mapper.get("config").cloned();
    let body = Body::new(Value::Object(mapper));
    match (secret, config) {
        (true, Some(c)) => body.with_secret_value(&c),
        _ => body,
    }
}

impl ClientScope {
    async fn uuid(&self, realm: &str, name: &str) -> Result<Option<String>, BackendError> {
        Ok(self
            .kc
            .ids
            .resolve_scope(&self.kc.client, realm, name)
            .await?)
    }

    async fn require(&self, res: &DesiredResource) -> Result<String, BackendError> {
        self.uuid(&res.id.namespace, &res.id.name)
            .await?
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "{}: the client scope no longer exists in realm `{}`",
                    res.address, res.id.namespace
                ))
            })
    }

    /// Makes the scope's mappers the declared set (by name); `live` as the server has them.
    async fn converge_mappers(
        &self,
        res: &DesiredResource,
        sid: &str,
        live: &[Value],
    ) -> Result<(), BackendError> {
        let Some(declared) = res.attrs.get(MAPPERS) else {
            return Ok(());
        };
        // A secret mapper list (a config value from OpenBao): its config values are scrubbed
        // from any error that echoes a body.
        let secret = declared.is_secret();
        let declared = match declared.to_wire() {
            Value::Array(items) => items,
            _ => {
                return Err(BackendError::Refused(format!(
                    "{}: `protocolMappers` must be a list of mappers",
                    res.address
                )));
            }
        };
        let realm = &res.id.namespace;
        let (want, have) = (by_name(&declared), by_name(live));
        for (name, m) in &have {
            let changed_protocol = want.get(name).is_some_and(|w| {
                w.get("protocol")
                    .is_some_and(|p| m.get("protocol") != Some(p))
            });
            if (!want.contains_key(name) || changed_protocol)
                && let Some(mid) = m.get("id").and_then(Value::as_str)
            {
                // A mapper PUT ignores `protocol`: a new one means delete and recreate.
                self.kc.client.delete(&models(realm, sid).name(mid)).await?;
            }
        }
        for (name, w) in &want {
            let mut body = match canonical_mapper(w) {
                Value::Object(b) => b,
                _ => {
                    return Err(BackendError::Refused(format!(
                        "{}: the mapper `{name}` must be a mapping",
                        res.address
                    )));
                }
            };
            let existing = have.get(name).filter(|m| {
                w.get("protocol")
                    .is_none_or(|p| m.get("protocol") == Some(p))
            });
            match existing {
                None => {
                    self.kc
                        .client
                        .post(&models(realm, sid), &mapper_body(body, secret))
                        .await?;
                }
                Some(m)
                    if canonical_mapper(m) != canonical_mapper(&Value::Object(body.clone())) =>
                {
                    let Some(mid) = m.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    // The PUT writes the row the body's id names, and needs the whole object.
                    body.insert("id".into(), Value::String(mid.to_owned()));
                    for f in ["protocol", "protocolMapper"] {
                        if let (false, Some(v)) = (body.contains_key(f), m.get(f)) {
                            body.insert(f.into(), v.clone());
                        }
                    }
                    let at = models(realm, sid).name(mid);
                    self.kc.client.put(&at, &mapper_body(body, secret)).await?;
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Kind for ClientScope {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    /// A scope `PUT` ignores a new protocol (its mappers are the protocol's).
    fn immutable(&self) -> &'static [&'static str] {
        &["protocol"]
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        40
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(super::realm_of(id))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::Array(items) if field == MAPPERS => {
                let mut items: Vec<Value> = items.iter().map(canonical_mapper).collect();
                items.sort_by_key(|m| {
                    m.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                });
                Value::Array(items)
            }
            other => other,
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let realm = &id.namespace;
        let Some(sid) = self.uuid(realm, &id.name).await? else {
            return Ok(None);
        };
        let Some(Value::Object(mut rep)) = self.kc.client.get(&scopes(realm).name(&sid)).await?
        else {
            // Deleted behind our back: the cached id is stale.
            self.kc.ids.forget(realm, IdKind::ClientScope, &id.name);
            return Ok(None);
        };
        rep.remove("id");
        // Absent when the scope has none: read as the empty set, which a file can declare.
        let mut mappers = match rep.remove(MAPPERS) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        for m in &mut mappers {
            if let Value::Object(m) = m {
                m.remove("id");
            }
        }
        rep.insert(MAPPERS.into(), Value::Array(mappers));
        Ok(Some(Live::from_map(rep)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let realm = &res.id.namespace;
        let mut name = Map::new();
        name.insert("name".into(), Value::String(res.id.name.clone()));
        let body = roles::declared_except(res, &[MAPPERS], name);
        let created = self.kc.client.post(&scopes(realm), &body).await?;
        let sid = match created.id {
            Some(sid) => {
                let ids = &self.kc.ids;
                ids.remember(realm, IdKind::ClientScope, &res.id.name, &sid);
                sid
            }
            None => self.require(res).await?,
        };
        self.converge_mappers(res, &sid, &[]).await?;
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let realm = &res.id.namespace;
        let sid = self.require(res).await?;
        if changed.iter().any(|f| f != MAPPERS) {
            // A merge: absent fields and attribute keys are kept.
            let mut name = Map::new();
            name.insert("name".into(), Value::String(res.id.name.clone()));
            let body = roles::declared_except(res, &[MAPPERS], name);
            self.kc.client.put(&scopes(realm).name(&sid), &body).await?;
        }
        if changed.contains(MAPPERS) {
            // The live mappers with their ids (the read dropped them).
            let live = match self.kc.client.get(&models(realm, &sid)).await? {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            self.converge_mappers(res, &sid, &live).await?;
        }
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        if is_builtin(&id.name) {
            return Err(BackendError::Refused(format!(
                "{}: `{}` is a client scope Keycloak creates in every realm; aegisctl never \
                 deletes it (clients and the realm's default scopes rely on it)",
                id.address(),
                id.name
            )));
        }
        let realm = &id.namespace;
        if let Some(sid) = self.uuid(realm, &id.name).await? {
            self.kc.client.delete(&scopes(realm).name(&sid)).await?;
        }
        self.kc.ids.forget(realm, IdKind::ClientScope, &id.name);
        Ok(())
    }

    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let all = match self.kc.client.get(&scopes(realm)).await? {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        self.kc.ids.prime(realm, IdKind::ClientScope, "name", &all);
        Ok(all
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .filter(|n| !is_builtin(n))
            .map(|n| ResourceId::on(Backend::Keycloak, realm, KIND, None, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mappers_compare_without_ids_order_or_config_types() {
        let kind_norm = |v: Value| {
            let items = v.as_array().cloned().unwrap_or_default();
            let mut items: Vec<Value> = items.iter().map(canonical_mapper).collect();
            items.sort_by_key(|m| m["name"].as_str().unwrap_or("").to_owned());
            items
        };
        let declared = json!([
            {"name": "b", "protocol": "openid-connect", "protocolMapper": "x",
             "config": {"access.token.claim": true}},
            {"name": "a", "protocol": "openid-connect", "protocolMapper": "y", "config": {}}
        ]);
        let live = json!([
            {"id": "1", "name": "a", "protocol": "openid-connect", "protocolMapper": "y",
             "consentRequired": false, "config": {}},
            {"id": "2", "consentRequired": false, "name": "b", "protocolMapper": "x",
             "protocol": "openid-connect",
             "config": {"introspection.token.claim": "true", "access.token.claim": "true"}}
        ]);
        assert_eq!(kind_norm(declared), kind_norm(live));
    }
}
