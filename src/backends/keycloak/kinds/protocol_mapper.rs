//! A client's protocol mappers (`.../clients/{uuid}/protocol-mappers/models`), named by the
//! mapper's `name` under its client's `clientId` (in `mount`).
//!
//! Mappers are a kind of their own, not a field of the client, because a client `PUT` carrying
//! `protocolMappers` deletes every mapper it does not list. Keycloak keeps every `config` value
//! as a string, drops empty ones, and fills `introspection.token.claim` and
//! `userinfo.token.claim` from `access.token.claim` and `id.token.claim` when absent (contract
//! §6.3): [`normalise_config`] models all three, applied to both sides, so that a file writing
//! `multivalued: true` compares equal to the server's `"true"`. A mapper `PUT` writes only
//! `protocolMapper` and `config` and picks its target by the body's `id`: the full object with
//! the id goes in every update, and a new `protocol` means a replace.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::Keycloak;
use crate::backends::body::Body;
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "protocol_mapper";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak(
    "a realm file's `clients[].protocolMappers[]`",
    Some("client"),
    &[],
);

/// `config` keys the server fills from another key when they are absent (contract §6.3).
const DERIVED: &[(&str, &str)] = &[
    ("introspection.token.claim", "access.token.claim"),
    ("userinfo.token.claim", "id.token.claim"),
];

pub struct ProtocolMapper {
    kc: Arc<Keycloak>,
}

impl ProtocolMapper {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        ProtocolMapper { kc }
    }
}

/// A `config` map as the server would store it (see the module docs).
pub fn normalise_config(config: &Map<String, Value>) -> Map<String, Value> {
    let mut out = super::config_strings(config);
    for (derived, from) in DERIVED {
        if !out.contains_key(*derived)
            && let Some(v) = out.get(*from).cloned()
        {
            out.insert((*derived).to_owned(), v);
        }
    }
    out
}

fn models(realm: &str, client_uuid: &str) -> ApiPath {
    admin_realm(realm)
        .lit("clients")
        .name(client_uuid)
        .lit("protocol-mappers/models")
}

/// The client `clientId` named in a mapper's id.
fn client_id(id: &ResourceId) -> Result<&str, BackendError> {
    id.mount.as_deref().ok_or_else(|| {
        BackendError::Refused(format!(
            "{}: a protocol mapper needs its client (`clientId/name`)",
            id.address()
        ))
    })
}

/// The request body: the declared fields, `name` from the id, `config` as strings; every
/// secret among them marked for scrubbing.
fn body_of(res: &DesiredResource, mapper_id: Option<&str>, live: Option<&Live>) -> Body {
    let mut map = Map::new();
    let mut secrets = Vec::new();
    for (k, v) in &res.attrs {
        if k == "id" {
            continue;
        }
        let mut wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        if k == "config"
            && let Value::Object(c) = &wire
        {
            wire = Value::Object(normalise_config(c));
        }
        map.insert(k.clone(), wire);
    }
    map.insert("name".into(), Value::String(res.id.name.clone()));
    if let Some(id) = mapper_id {
        // The PUT writes the row the body's id names (without one it answers 500).
        map.insert("id".into(), Value::String(id.to_owned()));
        // It needs the whole object: what the file leaves out, as it is now.
        for f in ["protocol", "protocolMapper", "config"] {
            if !map.contains_key(f)
                && let Some(v) = live.and_then(|l| l.get(f))
            {
                map.insert(f.into(), v.clone());
            }
        }
    }
    let mut body = Body::new(Value::Object(map));
    for s in &secrets {
        body = body.with_secret_value(s);
    }
    body
}

impl ProtocolMapper {
    /// The client's UUID, if the client exists.
    async fn client_uuid(&self, realm: &str, client: &str) -> Result<Option<String>, BackendError> {
        Ok(self
            .kc
            .ids
            .resolve_client(&self.kc.client, realm, client)
            .await?)
    }

    /// Every mapper of a client (an absent client has none).
    async fn mappers_of(&self, realm: &str, uuid: &str) -> Result<Vec<Value>, BackendError> {
        Ok(match self.kc.client.get(&models(realm, uuid)).await? {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        })
    }

    /// The client's UUID and the mapper as the server has it, if both exist.
    async fn find(&self, id: &ResourceId) -> Result<Option<(String, Value)>, BackendError> {
        let realm = &id.namespace;
        let Some(uuid) = self.client_uuid(realm, client_id(id)?).await? else {
            return Ok(None);
        };
        let client = client_id(id)?;
        let mappers = match self.kc.snapshot.mappers(realm, client) {
            Some(m) => m,
            None => self.mappers_of(realm, &uuid).await?,
        };
        let found = mappers
            .into_iter()
            .find(|m| m.get("name").and_then(Value::as_str) == Some(id.name.as_str()));
        Ok(found.map(|m| (uuid, m)))
    }

    /// A write of a mapper: the bulk read's copy of its client is stale.
    fn evict(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.kc.snapshot.evict_client(&id.namespace, client_id(id)?);
        Ok(())
    }

    async fn require_client(&self, res: &DesiredResource) -> Result<String, BackendError> {
        let client = client_id(&res.id)?;
        self.client_uuid(&res.id.namespace, client)
            .await?
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "{}: client `{client}` does not exist in realm `{}`",
                    res.address, res.id.namespace
                ))
            })
    }
}

fn mapper_id(m: &Value) -> Option<String> {
    m.get("id").and_then(Value::as_str).map(str::to_owned)
}

#[async_trait]
impl Kind for ProtocolMapper {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    /// A PUT ignores a new `protocol`: only a replace changes it.
    fn immutable(&self) -> &'static [&'static str] {
        &["protocol"]
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    /// Before their client (whose deletion takes them along anyway).
    fn destroy_order(&self) -> u8 {
        20
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        super::client_of(id)
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::Object(c) if field == "config" => Value::Object(normalise_config(&c)),
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

    async fn prefetch(&self, realm: &str, ids: &[&ResourceId]) -> Result<(), BackendError> {
        if ids.len() >= super::snapshot::BULK_FROM {
            super::snapshot::list_clients(&self.kc, realm).await?;
        }
        Ok(())
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        self.evict(&res.id)?;
        let uuid = self.require_client(res).await?;
        let body = body_of(res, None, None);
        self.kc
            .client
            .post(&models(&res.id.namespace, &uuid), &body)
            .await?;
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        self.evict(&res.id)?;
        let Some((uuid, m)) = self.find(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: the mapper no longer exists",
                res.address
            )));
        };
        let Some(mid) = mapper_id(&m) else {
            return Err(BackendError::Refused(format!(
                "{}: Keycloak answered the mapper without its id",
                res.address
            )));
        };
        let body = body_of(res, Some(&mid), Some(live));
        self.kc
            .client
            .put(&models(&res.id.namespace, &uuid).name(&mid), &body)
            .await?;
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.evict(id)?;
        if let Some((uuid, m)) = self.find(id).await?
            && let Some(mid) = mapper_id(&m)
        {
            self.kc
                .client
                .delete(&models(&id.namespace, &uuid).name(&mid))
                .await?;
        }
        Ok(())
    }

    /// The mappers of the clients the topology declares in `realm` (as clients, or as the
    /// parents of mappers): other clients are not the topology's to prune.
    async fn list(
        &self,
        realm: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let clients: BTreeSet<&str> = desired
            .iter()
            .filter(|d| d.id.backend == Backend::Keycloak && d.id.namespace == realm)
            .filter_map(|d| match d.id.kind.as_str() {
                super::client::KIND => Some(d.id.name.as_str()),
                KIND => d.id.mount.as_deref(),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for client in clients {
            let Some(uuid) = self.client_uuid(realm, client).await? else {
                continue;
            };
            for m in self.mappers_of(realm, &uuid).await? {
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    out.push(ResourceId::on(
                        Backend::Keycloak,
                        realm,
                        KIND,
                        Some(client),
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
    use serde_json::json;

    #[test]
    fn config_compares_as_the_server_stores_it() {
        let declared = json!({"multivalued": true, "n": 3, "claim.name": "aegis_role",
            "usermodel.clientRoleMapping.rolePrefix": "", "access.token.claim": true,
            "id.token.claim": false});
        let stored = json!({"multivalued": "true", "n": "3", "claim.name": "aegis_role",
            "access.token.claim": "true", "introspection.token.claim": "true",
            "id.token.claim": "false", "userinfo.token.claim": "false"});
        let norm = |v: &Value| normalise_config(v.as_object().unwrap());
        assert_eq!(norm(&declared), norm(&stored));
        // An explicit value is kept, not derived.
        let explicit = json!({"access.token.claim": "true", "introspection.token.claim": "false"});
        assert_eq!(norm(&explicit)["introspection.token.claim"], "false");
    }
}
