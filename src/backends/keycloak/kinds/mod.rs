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
use crate::backends::Registry;
use crate::backends::spec::KindSpec;
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

/// Every kind's declared facts, by name: what resolve reads before any connection exists.
/// A kind is one file, its line in [`register`] and its line here.
pub static SPECS: &[(&str, &KindSpec)] = &[
    (realm::KIND, &realm::SPEC),
    (realm_role::KIND, &realm_role::SPEC),
    (client_role::KIND, &client_role::SPEC),
    (client::KIND, &client::SPEC),
    (protocol_mapper::KIND, &protocol_mapper::SPEC),
    (service_account_roles::KIND, &service_account_roles::SPEC),
    (group::KIND, &group::SPEC),
    (client_scope::KIND, &client_scope::SPEC),
    (identity_provider::KIND, &identity_provider::SPEC),
    (idp_mapper::KIND, &idp_mapper::SPEC),
];

/// The declared facts of the Keycloak kind `kind`.
pub fn spec_of(kind: &str) -> Option<&'static KindSpec> {
    SPECS.iter().find(|(k, _)| *k == kind).map(|(_, s)| *s)
}

/// Registers every Keycloak kind.
pub fn register(r: &mut Registry, kc: Arc<Keycloak>) {
    r.add(Arc::new(realm::Realm::new(kc.clone())));
    r.add(Arc::new(realm_role::RealmRole::new(kc.clone())));
    r.add(Arc::new(client_role::ClientRole::new(kc.clone())));
    // Clients and their protocol mappers.
    r.add(Arc::new(client::Client::new(kc.clone())));
    r.add(Arc::new(protocol_mapper::ProtocolMapper::new(kc.clone())));
    r.add(Arc::new(service_account_roles::ServiceAccountRoles::new(
        kc.clone(),
    )));
    r.add(Arc::new(group::Group::new(kc.clone())));
    r.add(Arc::new(client_scope::ClientScope::new(kc.clone())));
    r.add(Arc::new(identity_provider::Idp::new(kc.clone())));
    r.add(Arc::new(idp_mapper::IdpMapper::new(kc.clone())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::keycloak::AdminAuth;
    use crate::model::Backend;
    use crate::sensitive::Sensitive;

    #[test]
    fn every_registered_kind_declares_its_spec_in_specs_and_only_there() {
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
        assert_eq!(
            kinds.len(),
            SPECS.len(),
            "a kind registered without its spec, or the reverse"
        );
        for k in kinds {
            let listed = spec_of(k.name()).unwrap_or_else(|| panic!("{} has no spec", k.name()));
            assert!(std::ptr::eq(listed, k.spec()), "{}: two specs", k.name());
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
