//! The Keycloak kinds, one file each, sharing one admin client and one natural-key → id cache.
//!
//! Ids: an object of realm R is `ResourceId::on(Backend::Keycloak, R, KIND, parent, name)`:
//! `realm` (name = the realm), `client` (name = `clientId`), `realm_role` (name = role),
//! `client_role` (parent = `clientId`, name = role), `protocol_mapper` (parent = `clientId`,
//! name = mapper name), `client_scope` (name = scope name), `group` (name = the group's path,
//! `/ops/on call`), `service_account_roles` (name = the client's `clientId`),
//! `identity_provider` (name = `alias`), `idp_mapper` (parent = the provider's `alias`, name =
//! mapper name). The parent goes in `mount`, so addresses read
//! `keycloak[R].client_role["clientId/role"]`. Server ids (UUIDs) never appear in ids,
//! addresses or plans: kinds find them through [`Ids`].

pub mod client;
pub mod client_role;
pub mod client_scope;
pub mod group;
pub mod identity_provider;
pub mod idp_mapper;
pub mod protocol_mapper;
pub mod realm;
pub mod realm_role;
mod role_mappings;
mod roles;
pub mod service_account_roles;
pub mod snapshot;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Ids, KeycloakClient};
use crate::backends::spec::KindSpec;
use crate::backends::{Kind, Registry};
use crate::model::{Backend, ResourceId};

/// What every Keycloak kind shares.
pub struct Keycloak {
    pub client: KeycloakClient,
    pub ids: Ids,
    /// What bulk reads found, answering the one-by-one reads of a plan.
    pub snapshot: snapshot::Snapshot,
}

impl Keycloak {
    pub fn new(client: KeycloakClient) -> Self {
        Keycloak {
            client,
            ids: Ids::new(),
            snapshot: snapshot::Snapshot::default(),
        }
    }
}

/// The realm object an object of realm `id.namespace` lives in.
fn realm_of(id: &ResourceId) -> ResourceId {
    ResourceId::on(
        Backend::Keycloak,
        &id.namespace,
        realm::KIND,
        None,
        &id.namespace,
    )
}

/// The client an object under a client (its `clientId` in `mount`) lives in.
fn client_of(id: &ResourceId) -> Option<ResourceId> {
    let client_id = id.mount.as_deref()?;
    Some(ResourceId::on(
        Backend::Keycloak,
        &id.namespace,
        client::KIND,
        None,
        client_id,
    ))
}

/// The lane of a realm's realm-level writes (its settings, identity providers and their
/// mappers): Keycloak updates the realm entity for each of them, and two at once lose one.
pub fn realm_lane(realm: &str) -> Option<String> {
    Some(format!("keycloak/{realm}"))
}

/// A `config` value as Keycloak stores it: a string (`true` → `"true"`, `3` → `"3"`); `None`
/// for the values it drops (`""`, null).
fn config_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A `config` map with every value a string, as Keycloak keeps the config of protocol mappers,
/// identity providers and their mappers (a string → string map): a file may write `true` or
/// `3`, the server answers `"true"` and `"3"`.
pub fn config_strings(config: &Map<String, Value>) -> Map<String, Value> {
    config
        .iter()
        .filter_map(|(k, v)| config_string(v).map(|s| (k.clone(), Value::String(s))))
        .collect()
}

/// A kind's entry: its name, its declared facts, and how to make it on a connection.
pub struct Entry {
    pub kind: &'static str,
    pub spec: &'static KindSpec,
    pub make: fn(Arc<Keycloak>) -> Arc<dyn Kind>,
}

/// Every Keycloak kind, once: [`register`] makes them from it, and resolve reads their facts
/// from it before any connection exists. Adding a kind is its file and its line here.
pub static KINDS: &[Entry] = &[
    Entry {
        kind: realm::KIND,
        spec: &realm::SPEC,
        make: |kc| Arc::new(realm::Realm::new(kc)),
    },
    Entry {
        kind: realm_role::KIND,
        spec: &realm_role::SPEC,
        make: |kc| Arc::new(realm_role::RealmRole::new(kc)),
    },
    Entry {
        kind: client_role::KIND,
        spec: &client_role::SPEC,
        make: |kc| Arc::new(client_role::ClientRole::new(kc)),
    },
    Entry {
        kind: client::KIND,
        spec: &client::SPEC,
        make: |kc| Arc::new(client::Client::new(kc)),
    },
    Entry {
        kind: protocol_mapper::KIND,
        spec: &protocol_mapper::SPEC,
        make: |kc| Arc::new(protocol_mapper::ProtocolMapper::new(kc)),
    },
    Entry {
        kind: service_account_roles::KIND,
        spec: &service_account_roles::SPEC,
        make: |kc| Arc::new(service_account_roles::ServiceAccountRoles::new(kc)),
    },
    Entry {
        kind: group::KIND,
        spec: &group::SPEC,
        make: |kc| Arc::new(group::Group::new(kc)),
    },
    Entry {
        kind: client_scope::KIND,
        spec: &client_scope::SPEC,
        make: |kc| Arc::new(client_scope::ClientScope::new(kc)),
    },
    Entry {
        kind: identity_provider::KIND,
        spec: &identity_provider::SPEC,
        make: |kc| Arc::new(identity_provider::Idp::new(kc)),
    },
    Entry {
        kind: idp_mapper::KIND,
        spec: &idp_mapper::SPEC,
        make: |kc| Arc::new(idp_mapper::IdpMapper::new(kc)),
    },
];

/// The declared facts of the Keycloak kind `kind`.
pub fn spec_of(kind: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|e| e.kind == kind).map(|e| e.spec)
}

/// Registers every Keycloak kind of [`KINDS`], sharing one connection.
pub fn register(r: &mut Registry, kc: Arc<Keycloak>) {
    for entry in KINDS {
        r.add((entry.make)(Arc::clone(&kc)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::keycloak::AdminAuth;
    use crate::model::Backend;
    use crate::sensitive::Sensitive;

    #[test]
    fn every_registered_kind_answers_with_the_spec_of_its_entry() {
        let client = KeycloakClient::new(
            "http://127.0.0.1:9",
            AdminAuth::password("nobody", Sensitive::new("unused".to_owned())),
            None,
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        )
        .expect("client");
        let mut r = Registry::default();
        register(&mut r, Arc::new(Keycloak::new(client)));
        let kinds: Vec<_> = r
            .all()
            .filter(|k| k.backend() == Backend::Keycloak)
            .collect();
        assert_eq!(kinds.len(), KINDS.len(), "every entry registers one kind");
        for k in kinds {
            let listed = spec_of(k.name()).unwrap_or_else(|| panic!("{} has no entry", k.name()));
            assert!(
                std::ptr::eq(listed, k.spec()),
                "{}: its entry names another spec",
                k.name()
            );
            if let Some(parent) = listed.parent {
                assert!(
                    spec_of(parent).is_some(),
                    "{}: unknown parent {parent}",
                    k.name()
                );
            }
        }
        assert!(spec_of("client").is_some_and(|s| s.secret.has("secret")));
    }
}
