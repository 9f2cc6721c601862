//! A realm's clients (with their protocol mappers) and client roles read in bulk before a plan
//! reads them one by one: what keeps a converged plan of a realm with a thousand clients at a
//! fraction of a request per object instead of several.
//!
//! `GET /clients` pages carry every client's full representation, mappers included, so one
//! paged listing answers the reads of every client, every mapper, every client id and every
//! generated secret (kept as [`Sensitive`], the representation itself only with the run-keyed
//! digest). Client roles come one list per client. An entry answers reads until a write
//! touches what it describes: every write of a client, mapper or client role evicts it, so the
//! read-back after a write always asks the server.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::Keycloak;
use crate::backends::BackendError;
use crate::backends::keycloak::redact::digest;
use crate::backends::keycloak::{admin_realm, redact_client};
use crate::sensitive::Sensitive;

/// Below this many objects of a kind in a realm, reading them one by one costs less.
pub const BULK_FROM: usize = 4;

/// Clients per page of the bulk listing.
const PAGE: u32 = 100;

/// Role lists read at once.
const CONCURRENT: usize = 8;

type Key = (String, String);

#[derive(Default)]
pub struct Snapshot {
    clients: Mutex<HashMap<Key, Value>>,
    secrets: Mutex<HashMap<Key, Sensitive<String>>>,
    roles: Mutex<HashMap<Key, Vec<Value>>>,
    listed: tokio::sync::Mutex<std::collections::HashSet<String>>,
}

fn key(realm: &str, client_id: &str) -> Key {
    (realm.to_owned(), client_id.to_owned())
}

impl Snapshot {
    /// A client's representation as the bulk read found it (secret digested).
    pub fn client(&self, realm: &str, client_id: &str) -> Option<Value> {
        self.clients
            .lock()
            .ok()?
            .get(&key(realm, client_id))
            .cloned()
    }

    /// A client's mappers as the bulk read found them.
    pub fn mappers(&self, realm: &str, client_id: &str) -> Option<Vec<Value>> {
        let clients = self.clients.lock().ok()?;
        let c = clients.get(&key(realm, client_id))?;
        Some(
            c.get("protocolMappers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        )
    }

    pub fn secret(&self, realm: &str, client_id: &str) -> Option<Sensitive<String>> {
        self.secrets
            .lock()
            .ok()?
            .get(&key(realm, client_id))
            .cloned()
    }

    pub fn roles(&self, realm: &str, client_id: &str) -> Option<Vec<Value>> {
        self.roles.lock().ok()?.get(&key(realm, client_id)).cloned()
    }

    /// A write of the client or of one of its mappers: its entry no longer says the truth.
    pub fn evict_client(&self, realm: &str, client_id: &str) {
        if let Ok(mut c) = self.clients.lock() {
            c.remove(&key(realm, client_id));
        }
        if let Ok(mut s) = self.secrets.lock() {
            s.remove(&key(realm, client_id));
        }
    }

    /// A write of one of the client's roles.
    pub fn evict_roles(&self, realm: &str, client_id: &str) {
        if let Ok(mut r) = self.roles.lock() {
            r.remove(&key(realm, client_id));
        }
    }
}

/// Lists every client of `realm` once per run, with its mappers; secrets leave each
/// representation at once (kept aside as `Sensitive`, digested in the representation).
pub async fn list_clients(kc: &Keycloak, realm: &str) -> Result<(), BackendError> {
    let mut listed = kc.snapshot.listed.lock().await;
    if !listed.insert(realm.to_owned()) {
        return Ok(());
    }
    let path = admin_realm(realm).lit("clients");
    let mut all = kc.client.list_paged(&path, PAGE).await?;
    let mut secrets = Vec::new();
    for c in &mut all {
        let secret = redact_client(c);
        let client_id = c.get("clientId").and_then(Value::as_str).map(str::to_owned);
        if let (Some(s), Some(id), Value::Object(m)) = (secret, client_id, &mut *c) {
            m.insert("secret".into(), Value::String(digest(s.expose())));
            secrets.push((key(realm, &id), s));
        }
    }
    kc.ids.prime_clients(realm, &all);
    if let Ok(mut map) = kc.snapshot.secrets.lock() {
        map.extend(secrets);
    }
    if let Ok(mut map) = kc.snapshot.clients.lock() {
        for c in all {
            if let Some(id) = c.get("clientId").and_then(Value::as_str) {
                map.insert(key(realm, id), c.clone());
            }
        }
    }
    Ok(())
}

/// Reads the role lists of `client_ids` in `realm` (full representations), a few at a time.
pub async fn list_roles(
    kc: &Keycloak,
    realm: &str,
    client_ids: &[&str],
) -> Result<(), BackendError> {
    list_clients(kc, realm).await?;
    let owned: Vec<String> = client_ids.iter().map(|c| (*c).to_owned()).collect();
    let lists = stream::iter(owned.into_iter().map(|cid: String| async move {
        let Some(uuid) = kc.ids.resolve_client(&kc.client, realm, &cid).await? else {
            return Ok::<_, BackendError>(None);
        };
        let path = admin_realm(realm)
            .lit("clients")
            .name(&uuid)
            .lit("roles")
            .query("briefRepresentation", "false");
        let roles = kc.client.list_paged(&path, PAGE).await?;
        Ok(Some((key(realm, &cid), roles)))
    }))
    .buffer_unordered(CONCURRENT)
    .collect::<Vec<_>>()
    .await;
    let mut found = Vec::new();
    for l in lists {
        if let Some(entry) = l? {
            found.push(entry);
        }
    }
    if let Ok(mut map) = kc.snapshot.roles.lock() {
        map.extend(found);
    }
    Ok(())
}
