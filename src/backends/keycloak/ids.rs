//! Natural keys to Keycloak's UUIDs, per realm, read once per run.
//!
//! Every path below a client names it by its internal `id`, while the topology names it by its
//! `clientId`; looking the id up before each of a client's roles, mappers and scopes would make
//! a plan N+1 requests. The cache holds what a lookup or a full list found and what this run
//! created; a realm read in full answers its misses without asking again.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;

use super::client::{KeycloakClient, KeycloakError, admin_realm, redact_client};

/// Which kind of object a natural key names. Groups are not here: `group-by-path` answers a
/// group's whole representation, id included, in the one request a read needs anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A client, by `clientId`.
    Client,
    /// A client scope, by `name`.
    ClientScope,
}

type Key = (String, IdKind, String);

/// The cache: (realm, kind, natural key) → UUID. Shared by clones of the run's session.
#[derive(Debug, Default)]
pub struct Ids {
    known: Mutex<HashMap<Key, String>>,
    /// Realms and kinds read in full: a natural key not known there does not exist.
    complete: Mutex<HashSet<(String, IdKind)>>,
}

impl Ids {
    pub fn new() -> Self {
        Ids::default()
    }

    /// The UUID of the client `client_id` in `realm`, or `None` if it does not exist: from the
    /// cache, else by `GET .../clients?clientId=X&search=false` (an exact, case-sensitive
    /// match; `search=true` would match substrings).
    pub async fn resolve_client(
        &self,
        kc: &KeycloakClient,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<String>, KeycloakError> {
        if let Some(hit) = self.cached(realm, IdKind::Client, client_id) {
            return Ok(hit);
        }
        let path = admin_realm(realm)
            .lit("clients")
            .query("clientId", client_id)
            .query("search", "false");
        let found = match kc.get(&path).await? {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let id = found.into_iter().find_map(|mut c| {
            // The answer carries the client's secret in clear: drop it at once.
            drop(redact_client(&mut c));
            // Belt and braces: only an exact clientId counts, whatever the server matched.
            (c.get("clientId").and_then(Value::as_str) == Some(client_id))
                .then(|| c.get("id").and_then(Value::as_str).map(str::to_owned))
                .flatten()
        });
        if let Some(id) = &id {
            self.remember(realm, IdKind::Client, client_id, id);
        }
        Ok(id)
    }

    /// The UUID of the client scope `name` in `realm`, or `None` if it does not exist: from the
    /// cache, else by reading the realm's scopes once (Keycloak has no lookup by name, and the
    /// list is short and unpaged).
    pub async fn resolve_scope(
        &self,
        kc: &KeycloakClient,
        realm: &str,
        name: &str,
    ) -> Result<Option<String>, KeycloakError> {
        if let Some(hit) = self.cached(realm, IdKind::ClientScope, name) {
            return Ok(hit);
        }
        let all = match kc.get(&admin_realm(realm).lit("client-scopes")).await? {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        self.prime(realm, IdKind::ClientScope, "name", &all);
        Ok(self.cached(realm, IdKind::ClientScope, name).flatten())
    }

    /// Records an id (after a create, or from a list read for another reason).
    pub fn remember(&self, realm: &str, kind: IdKind, natural: &str, id: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.insert((realm.into(), kind, natural.into()), id.into());
        }
    }

    /// Forgets an id (after a delete or a rename).
    pub fn forget(&self, realm: &str, kind: IdKind, natural: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(&(realm.to_owned(), kind, natural.to_owned()));
        }
    }

    /// Records every client of a full list of `realm`'s clients (already redacted or not:
    /// only `clientId` and `id` are read), so that later misses need no request.
    pub fn prime_clients(&self, realm: &str, clients: &[Value]) {
        self.prime(realm, IdKind::Client, "clientId", clients);
    }

    /// Records every object of a full list of `realm`'s objects of `kind`, keyed by their
    /// `key` field, so that later misses need no request.
    pub fn prime(&self, realm: &str, kind: IdKind, key: &str, items: &[Value]) {
        for c in items {
            if let (Some(natural), Some(id)) = (
                c.get(key).and_then(Value::as_str),
                c.get("id").and_then(Value::as_str),
            ) {
                self.remember(realm, kind, natural, id);
            }
        }
        if let Ok(mut complete) = self.complete.lock() {
            complete.insert((realm.into(), kind));
        }
    }

    /// `Some(answer)` when the cache can answer, `None` when the server must be asked.
    fn cached(&self, realm: &str, kind: IdKind, natural: &str) -> Option<Option<String>> {
        let key = (realm.to_owned(), kind, natural.to_owned());
        if let Some(id) = self.known.lock().ok()?.get(&key) {
            return Some(Some(id.clone()));
        }
        let complete = self.complete.lock().ok()?;
        complete.contains(&(realm.to_owned(), kind)).then_some(None)
    }
}
