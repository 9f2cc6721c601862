//! Direct role mappings, shared by the `group` and `service_account_roles` kinds: both hold a
//! holder's realm roles and client roles under `.../role-mappings` (a group's, or a service
//! account user's), in the export's shape (`realmRoles: [name]`, `clientRoles: {clientId:
//! [name]}`), and both treat a declared attribute as the exact set.
//!
//! One `GET .../role-mappings` answers every direct mapping with the role ids a removal needs,
//! so a read costs one request. Adding needs each role's id too (the server looks a role up by
//! name and then insists the id matches), so a write reads only the roles it adds. The diff
//! compares a map only on the declared keys; `clientRoles` is therefore normalised to a list of
//! `[clientId, role]` pairs, so that a client with mappings the file does not name is seen.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::Keycloak;
use crate::backends::body::Body;
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::{BackendError, Live};
use crate::model::DesiredResource;

pub(super) const REALM_ROLES: &str = "realmRoles";
pub(super) const CLIENT_ROLES: &str = "clientRoles";

/// Role names wanted per client, by `clientId`.
pub(super) type ClientNames = BTreeMap<String, BTreeSet<String>>;

/// A holder's direct mappings as the server has them (role representations, with their ids).
#[derive(Debug, Default)]
pub(super) struct Mappings {
    realm: Vec<Value>,
    /// By `clientId`: the client's UUID and its mapped roles.
    clients: BTreeMap<String, (String, Vec<Value>)>,
}

fn name_of(role: &Value) -> Option<&str> {
    role.get("name").and_then(Value::as_str)
}

fn names(roles: &[Value]) -> BTreeSet<String> {
    roles
        .iter()
        .filter_map(name_of)
        .map(str::to_owned)
        .collect()
}

impl Mappings {
    /// The two attributes as the export writes them (sorted; only clients with mappings).
    pub(super) fn into_live(self, mut live: Live) -> Live {
        let realm = names(&self.realm).into_iter().map(Value::String).collect();
        live.insert(REALM_ROLES, Value::Array(realm));
        let mut clients = Map::new();
        for (client_id, (_, roles)) in &self.clients {
            let n: Vec<Value> = names(roles).into_iter().map(Value::String).collect();
            if !n.is_empty() {
                clients.insert(client_id.clone(), Value::Array(n));
            }
        }
        live.insert(CLIENT_ROLES, Value::Object(clients));
        live
    }

    pub(super) fn realm_names(&self) -> BTreeSet<String> {
        names(&self.realm)
    }
}

/// Reads the direct mappings under `base` (`.../role-mappings`); none when the holder is gone.
pub(super) async fn read(kc: &Keycloak, base: &ApiPath) -> Result<Mappings, BackendError> {
    let Some(rep) = kc.client.get(base).await? else {
        return Ok(Mappings::default());
    };
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Mappings {
        realm: list(rep.get("realmMappings")),
        clients: BTreeMap::new(),
    };
    if let Some(Value::Object(by_client)) = rep.get("clientMappings") {
        for (client_id, m) in by_client {
            if let Some(uuid) = m.get("id").and_then(Value::as_str) {
                let roles = list(m.get("mappings"));
                out.clients
                    .insert(client_id.clone(), (uuid.to_owned(), roles));
            }
        }
    }
    Ok(out)
}

/// The declared `realmRoles` (a list of names), or why it is not one.
fn declared_realm(v: &Value, what: &str) -> Result<BTreeSet<String>, BackendError> {
    string_set(v).ok_or_else(|| {
        BackendError::Refused(format!("{what}: `realmRoles` must be a list of role names"))
    })
}

/// The declared `clientRoles` (`{clientId: [names]}`), or why it is not that.
fn declared_clients(v: &Value, what: &str) -> Result<ClientNames, BackendError> {
    let bad = || {
        BackendError::Refused(format!(
            "{what}: `clientRoles` must map each clientId to a list of role names"
        ))
    };
    let map = v.as_object().ok_or_else(bad)?;
    map.iter()
        .map(|(k, v)| string_set(v).map(|s| (k.clone(), s)).ok_or_else(bad))
        .collect()
}

fn string_set(v: &Value) -> Option<BTreeSet<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Both attributes in a form the diff compares as exact sets (see the module docs).
pub(super) fn normalise(field: &str, value: Value) -> Value {
    match (field, value) {
        (REALM_ROLES, Value::Array(mut items)) => {
            items.sort_by_key(|v| v.to_string());
            items.dedup();
            Value::Array(items)
        }
        (CLIENT_ROLES, Value::Object(map)) => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for (client_id, roles) in map {
                for r in roles.as_array().into_iter().flatten() {
                    let r = r.as_str().map_or_else(|| r.to_string(), str::to_owned);
                    pairs.push((client_id.clone(), r));
                }
            }
            pairs.sort();
            pairs.dedup();
            Value::Array(
                pairs
                    .into_iter()
                    .map(|(c, r)| Value::Array(vec![Value::String(c), Value::String(r)]))
                    .collect(),
            )
        }
        (_, other) => other,
    }
}

/// Makes the direct mappings under `base` exactly `want_realm` / `want_clients` (each only when
/// given): adds the missing, removes the extra. `what` names the holder in errors.
pub(super) async fn converge(
    kc: &Keycloak,
    realm: &str,
    base: &ApiPath,
    live: &Mappings,
    want_realm: Option<&BTreeSet<String>>,
    want_clients: Option<&ClientNames>,
    what: &str,
) -> Result<(), BackendError> {
    if let Some(want) = want_realm {
        let roles = admin_realm(realm).lit("roles");
        let target = base.clone().lit("realm");
        let have = live.realm_names();
        let mut add = Vec::new();
        for n in want.difference(&have) {
            add.push(role(kc, roles.clone(), n, what, "realm role").await?);
        }
        let remove = extra(&live.realm, want);
        apply(kc, &target, add, remove).await?;
    }
    let Some(want) = want_clients else {
        return Ok(());
    };
    let client_ids: BTreeSet<&String> = want.keys().chain(live.clients.keys()).collect();
    let none = BTreeSet::new();
    for client_id in client_ids {
        let want = want.get(client_id).unwrap_or(&none);
        let (uuid, have) = match live.clients.get(client_id) {
            Some((uuid, roles)) => (uuid.clone(), roles.as_slice()),
            None if want.is_empty() => continue,
            None => {
                let uuid = kc
                    .ids
                    .resolve_client(&kc.client, realm, client_id)
                    .await?
                    .ok_or_else(|| {
                        BackendError::Refused(format!(
                            "{what}: the client `{client_id}` whose roles it maps does not \
                             exist in realm `{realm}`"
                        ))
                    })?;
                (uuid, &[][..])
            }
        };
        let roles = admin_realm(realm).lit("clients").name(&uuid).lit("roles");
        let mut add = Vec::new();
        for n in want.difference(&names(have)) {
            let kind = format!("role of client `{client_id}`");
            add.push(role(kc, roles.clone(), n, what, &kind).await?);
        }
        let target = base.clone().lit("clients").name(&uuid);
        apply(kc, &target, add, extra(have, want)).await?;
    }
    Ok(())
}

/// Makes the mappings `res` declares (`realmRoles`, `clientRoles`; each only when declared) the
/// exact sets under `base`, reading the live ones first.
pub(super) async fn converge_declared(
    kc: &Keycloak,
    res: &DesiredResource,
    base: &ApiPath,
) -> Result<(), BackendError> {
    if !res.attrs.contains_key(REALM_ROLES) && !res.attrs.contains_key(CLIENT_ROLES) {
        return Ok(());
    }
    let what = res.address.to_string();
    let want_realm = match res.attrs.get(REALM_ROLES) {
        Some(v) => Some(declared_realm(&v.to_wire(), &what)?),
        None => None,
    };
    let want_clients = match res.attrs.get(CLIENT_ROLES) {
        Some(v) => Some(declared_clients(&v.to_wire(), &what)?),
        None => None,
    };
    let live = read(kc, base).await?;
    let (realm, wr, wc) = (
        &res.id.namespace,
        want_realm.as_ref(),
        want_clients.as_ref(),
    );
    converge(kc, realm, base, &live, wr, wc, &what).await
}

/// The mapped roles not in `want`, as the server gave them (name and id: what a removal needs).
fn extra(have: &[Value], want: &BTreeSet<String>) -> Vec<Value> {
    have.iter()
        .filter(|r| name_of(r).is_some_and(|n| !want.contains(n)))
        .cloned()
        .collect()
}

/// One role's representation by name, or a refusal naming it.
async fn role(
    kc: &Keycloak,
    collection: ApiPath,
    name: &str,
    what: &str,
    kind: &str,
) -> Result<Value, BackendError> {
    kc.client
        .get(&collection.name(name))
        .await?
        .ok_or_else(|| BackendError::Refused(format!("{what}: the {kind} `{name}` does not exist")))
}

async fn apply(
    kc: &Keycloak,
    target: &ApiPath,
    add: Vec<Value>,
    remove: Vec<Value>,
) -> Result<(), BackendError> {
    if !add.is_empty() {
        kc.client
            .post(target, &Body::new(Value::Array(add)))
            .await?;
    }
    if !remove.is_empty() {
        kc.client
            .delete_with(target, &Body::new(Value::Array(remove)))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_roles_compare_as_an_exact_set_of_pairs() {
        let declared = json!({"web": ["b", "a"], "api": []});
        let live = json!({"web": ["a", "b"]});
        assert_eq!(
            normalise(CLIENT_ROLES, declared),
            normalise(CLIENT_ROLES, live)
        );
        // A client the file does not name is a difference, not a key the diff skips.
        let more = json!({"web": ["a", "b"], "other": ["x"]});
        assert_ne!(
            normalise(CLIENT_ROLES, json!({"web": ["a", "b"]})),
            normalise(CLIENT_ROLES, more)
        );
    }
}
