//! The ledger: what aegisctl manages, kept in OpenBao itself (a KV v2 mount, `aegisctl` by
//! default) — no local state file.
//!
//! It records every managed address with its server identity, the topology that owns it (its
//! `name:`), whether its creation was only intended so far (written before the apply sends it,
//! so a run that dies halfway still knows what it may have created), and a keyed fingerprint
//! (HMAC-SHA256) of each input that cannot be compared against the server: secrets and fields the
//! server does not return. Never a value. The HMAC key lives beside it in OpenBao, so a
//! fingerprint cannot be brute-forced by whoever only sees the ledger.
//!
//! Storage: one document per scope (`shards/<hash of the scope>-<n>`; an OpenBao namespace, or
//! `/BACKEND/SCOPE` for a realm or project, see `ResourceId::ledger_scope`), split further
//! when a namespace's entries pass [`SHARD_TARGET`] bytes, so no document comes near raft's
//! 1 MiB entry limit however large the topology; each holds its entries as one JSON string,
//! because OpenBao refuses request bodies with more than 1,000 JSON strings. A save rewrites only
//! the documents whose text changed, each with check-and-set. The single `state` document of
//! earlier versions is still read, and removed once its entries live in shards.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use thiserror::Error;

use super::doc::{self, DocError};
use super::shards::{SHARDS, Stored, chunk, write_namespace};
use crate::backends::openbao::{BaoClient, BaoError, Body};
use crate::model::{Address, AttrValue, ResourceId};
use crate::sensitive::Sensitive;

/// The single-document ledger of format 2.
pub const LEGACY_STATE: &str = "state";
pub const KEY_PATH: &str = "key";
/// The ledger mount's description starts with this, so `import` can recognise any ledger.
pub const LEDGER_DESCRIPTION_PREFIX: &str = "aegisctl ledger:";

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("cannot use the ledger mount `{mount}`: {source}")]
    Bao {
        mount: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error(
        "the ledger document `{mount}/{key}` is unreadable ({reason}); it was not written by this aegisctl"
    )]
    Corrupt {
        mount: String,
        key: String,
        reason: String,
    },
    #[error("the ledger `{mount}` was changed by someone else during this run; re-run to converge")]
    Conflict { mount: String },
    #[error("cannot write the ledger `{mount}`: {source}")]
    Write {
        mount: String,
        #[source]
        source: Box<DocError>,
    },
}

/// What the ledger holds about one managed object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub id: ResourceId,
    /// The topology (`name:`) that manages it; empty in ledgers written before identities.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// Recorded before the apply created it: it may or may not exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// field → HMAC-SHA256 hex of the value last written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fp: BTreeMap<String, String>,
}

/// The ledger as read at the start of a run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub mount: String,
    /// This topology's identity.
    pub owner: String,
    pub entries: BTreeMap<Address, Entry>,
    /// The stored shards, by namespace, in part order.
    shards: BTreeMap<String, Vec<Stored>>,
    /// The format-2 document's version, while it still exists.
    legacy: Option<u64>,
    /// Namespaces whose entries changed since they were last written.
    dirty: std::collections::BTreeSet<String>,
    key: Option<Sensitive<String>>,
    /// Whether the ledger mount exists at all.
    pub mount_exists: bool,
}

/// Whether the mount at `path` (`sys/mounts/MOUNT`) is a KV v2 mount.
async fn is_kv2(client: &BaoClient, path: &crate::backends::path::ApiPath) -> bool {
    let Ok(Some(v)) = client.read("", path).await else {
        return false;
    };
    let v = v.get("data").unwrap_or(&v);
    v.get("type").and_then(Value::as_str) == Some("kv")
        && v.pointer("/options/version").and_then(Value::as_str) == Some("2")
}

fn bao(mount: &str) -> impl FnOnce(BaoError) -> LedgerError + '_ {
    move |source| LedgerError::Bao {
        mount: mount.to_owned(),
        source: Box::new(source),
    }
}

impl Ledger {
    /// A ledger not read yet: enough to create its mount.
    pub fn new(mount: &str, owner: &str, mount_exists: bool) -> Ledger {
        Ledger {
            mount: mount.to_owned(),
            owner: owner.to_owned(),
            mount_exists,
            ..Ledger::default()
        }
    }

    /// Reads the ledger; an absent mount or document is an empty ledger.
    pub async fn load(
        client: &BaoClient,
        mount: &str,
        owner: &str,
        mount_exists: bool,
        parallelism: usize,
    ) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger {
            mount: mount.to_owned(),
            owner: owner.to_owned(),
            mount_exists,
            ..Ledger::default()
        };
        if !mount_exists {
            return Ok(ledger);
        }
        let corrupt = |key: &str, reason: String| LedgerError::Corrupt {
            mount: mount.to_owned(),
            key: key.to_owned(),
            reason,
        };
        let (legacy, key, keys) = tokio::join!(
            doc::read(client, mount, LEGACY_STATE),
            doc::read(client, mount, KEY_PATH),
            doc::list(client, mount, SHARDS),
        );
        let legacy = legacy.map_err(bao(mount))?;
        if let Some(data) = &legacy.data {
            ledger.legacy = Some(legacy.version);
            ledger.entries = match data.get("resources") {
                Some(Value::String(text)) => serde_json::from_str(text),
                Some(other) => serde_json::from_value(other.clone()),
                None => Ok(BTreeMap::new()),
            }
            .map_err(|e| corrupt(LEGACY_STATE, e.to_string()))?;
        }
        ledger.key = key
            .map_err(bao(mount))?
            .data
            .and_then(|d| d.get("hmac_key").and_then(Value::as_str).map(str::to_owned))
            .map(Sensitive::new);
        let keys: Vec<String> = keys
            .map_err(bao(mount))?
            .into_iter()
            .filter(|k| !k.ends_with('/'))
            .map(|k| format!("{SHARDS}/{k}"))
            .collect();
        let docs: Vec<(String, doc::Read)> = stream::iter(keys.into_iter().map(|k| async move {
            let read = doc::read(client, mount, &k).await?;
            Ok::<_, BaoError>((k, read))
        }))
        .buffer_unordered(parallelism.max(1))
        .try_collect()
        .await
        .map_err(bao(mount))?;
        let mut parts: BTreeMap<String, BTreeMap<u64, Stored>> = BTreeMap::new();
        for (key, read) in docs {
            let Some(data) = read.data else { continue };
            let namespace = data
                .get("namespace")
                .and_then(Value::as_str)
                .ok_or_else(|| corrupt(&key, "no namespace".into()))?;
            let part = data.get("part").and_then(Value::as_u64).unwrap_or(0);
            let text = data
                .get("resources")
                .and_then(Value::as_str)
                .ok_or_else(|| corrupt(&key, "no resources".into()))?;
            let entries: BTreeMap<Address, Entry> =
                serde_json::from_str(text).map_err(|e| corrupt(&key, e.to_string()))?;
            ledger.entries.extend(entries);
            parts.entry(namespace.to_owned()).or_default().insert(
                part,
                Stored {
                    key,
                    version: read.version,
                    text: text.to_owned(),
                },
            );
        }
        ledger.shards = parts
            .into_iter()
            .map(|(ns, p)| (ns, p.into_values().collect()))
            .collect();
        // Entries still in the format-2 document, and entries without an owner (ledgers older
        // than identities, claimed by this topology), are written at the next save.
        let legacy = ledger.legacy.is_some();
        for e in ledger.entries.values_mut() {
            if legacy || e.owner.is_empty() {
                if e.owner.is_empty() {
                    e.owner = ledger.owner.clone();
                }
                ledger.dirty.insert(e.id.ledger_scope());
            }
        }
        Ok(ledger)
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Whether an entry belongs to this topology (entries of ledgers older than identities
    /// have no owner and are claimed by the next save).
    pub fn is_mine(&self, entry: &Entry) -> bool {
        entry.owner.is_empty() || entry.owner == self.owner
    }

    /// The entries of this topology.
    pub fn mine(&self) -> impl Iterator<Item = (&Address, &Entry)> {
        self.entries.iter().filter(|(_, e)| self.is_mine(e))
    }

    /// The keyed fingerprint of a value, or `None` before the ledger has a key.
    pub fn fingerprint(&self, address: &Address, field: &str, value: &AttrValue) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).ok()?;
        mac.update(address.0.as_bytes());
        mac.update(&[0]);
        mac.update(field.as_bytes());
        mac.update(&[0]);
        match value.to_wire() {
            Value::String(s) => mac.update(s.as_bytes()),
            other => mac.update(other.to_string().as_bytes()),
        }
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// Creates the ledger mount when absent (before the lock, which lives in it). Its KV config
    /// keeps a few versions of each document: history for an investigation, bounded storage.
    pub async fn ensure_mount(&mut self, client: &BaoClient) -> Result<(), LedgerError> {
        if self.mount_exists {
            return Ok(());
        }
        let mount = self.mount.clone();
        let body = Body::new(json!({
            "type": "kv",
            "options": { "version": "2" },
            "description": format!("{LEDGER_DESCRIPTION_PREFIX} managed addresses and input fingerprints (no values)"),
        }));
        let path =
            crate::backends::openbao::sys_path(crate::backends::openbao::Table::Secrets, &mount);
        match client.write("", &path, &body).await {
            Ok(_) => {}
            // An apply started at the same moment created it between our look and our write:
            // a KV v2 mount there is the ledger we would have made, and the lock decides which
            // of the two runs.
            Err(e)
                if e.status() == Some(400)
                    && e.to_string().contains("already in use")
                    && is_kv2(client, &path).await => {}
            Err(e) => return Err(bao(&mount)(e)),
        }
        let config = Body::new(json!({ "max_versions": 5 }));
        client
            .write(
                "",
                &crate::backends::path::ApiPath::route("")
                    .path(&mount)
                    .lit("config"),
                &config,
            )
            .await
            .map_err(bao(&mount))?;
        self.mount_exists = true;
        Ok(())
    }

    /// Creates the HMAC key when absent (first apply, under the lock).
    pub async fn ensure_key(&mut self, client: &BaoClient) -> Result<(), LedgerError> {
        if self.key.is_some() {
            return Ok(());
        }
        let key = Sensitive::new(hex::encode(rand::random::<[u8; 32]>()));
        let body =
            Body::new(json!({ "options": { "cas": 0 }, "data": { "hmac_key": key.expose() } }))
                .with_secret(&key);
        doc::write_body(client, &self.mount, KEY_PATH, body, 0)
            .await
            .map_err(|e| self.write_error(e))?;
        self.key = Some(key);
        Ok(())
    }

    fn write_error(&self, e: DocError) -> LedgerError {
        match e {
            DocError::Conflict { .. } => LedgerError::Conflict {
                mount: self.mount.clone(),
            },
            other => LedgerError::Write {
                mount: self.mount.clone(),
                source: Box::new(other),
            },
        }
    }

    /// The entry of `address`, created (owned by this topology) if absent; its namespace will
    /// be written at the next save.
    pub fn entry_mut(&mut self, address: &Address, id: &ResourceId) -> &mut Entry {
        let owner = self.owner.clone();
        let entry = self
            .entries
            .entry(address.clone())
            .or_insert_with(|| Entry {
                id: id.clone(),
                owner,
                pending: false,
                fp: BTreeMap::new(),
            });
        self.dirty.insert(entry.id.ledger_scope());
        entry
    }

    /// Forgets an entry (its object was deleted).
    pub fn remove(&mut self, address: &Address) {
        if let Some(e) = self.entries.remove(address) {
            self.dirty.insert(e.id.ledger_scope());
        }
    }

    /// Keeps the entries `keep` says to keep.
    pub fn retain(&mut self, mut keep: impl FnMut(&Address, &Entry) -> bool) {
        let dirty = &mut self.dirty;
        self.entries.retain(|a, e| {
            let k = keep(a, e);
            if !k {
                dirty.insert(e.id.ledger_scope());
            }
            k
        });
    }

    /// The entries of one ledger scope (see `ResourceId::ledger_scope`), in address order:
    /// addresses start with `BACKEND[<scope>].`, so they are one contiguous range of the map.
    fn of_namespace(&self, scope: &str) -> Vec<(&Address, &Entry)> {
        let (backend, ns) = match scope.strip_prefix('/').and_then(|s| s.split_once('/')) {
            Some((b, ns)) => (b, ns),
            None => ("openbao", scope),
        };
        let shown = if ns.is_empty() && backend == "openbao" {
            "root"
        } else {
            ns
        };
        let prefix = format!("{backend}[{shown}].");
        self.entries
            .range(Address(prefix.clone())..)
            .take_while(|(a, _)| a.0.starts_with(&prefix))
            .filter(|(_, e)| e.id.ledger_scope() == scope)
            .collect()
    }

    /// Writes the shards of every namespace whose entries changed (only the documents whose text
    /// changed).
    pub async fn save(&mut self, client: &BaoClient) -> Result<(), LedgerError> {
        let dirty: Vec<String> = self.dirty.iter().cloned().collect();
        for ns in dirty {
            let texts = chunk(&self.of_namespace(&ns));
            let old = self.shards.remove(&ns).unwrap_or_default();
            let (stored, result) =
                match write_namespace(client, &self.mount, &ns, &texts, old).await {
                    Ok(stored) => (stored, Ok(())),
                    Err((stored, e)) => (stored, Err(self.write_error(e))),
                };
            if !stored.is_empty() {
                self.shards.insert(ns.clone(), stored);
            }
            result?;
            self.dirty.remove(&ns);
        }
        if self.legacy.is_some() {
            // Every entry is in shards now: the format-2 document goes.
            doc::delete(client, &self.mount, LEGACY_STATE)
                .await
                .map_err(bao(&self.mount))?;
            self.legacy = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Backend;

    #[test]
    fn a_realm_and_a_namespace_of_the_same_name_keep_separate_documents() {
        let mut ledger = Ledger::new("aegisctl", "demo", true);
        let ns = ResourceId::new("tenant-acme", "policy", None, "reader");
        let realm = ResourceId::on(Backend::Keycloak, "tenant-acme", "client", None, "app");
        ledger.entry_mut(&ns.address(), &ns);
        ledger.entry_mut(&realm.address(), &realm);
        let of = |scope: &str| -> Vec<String> {
            ledger
                .of_namespace(scope)
                .iter()
                .map(|(a, _)| a.0.clone())
                .collect()
        };
        assert_eq!(of("tenant-acme"), [ns.address().0]);
        assert_eq!(of("/keycloak/tenant-acme"), [realm.address().0]);
        assert_eq!(
            ledger.dirty.iter().cloned().collect::<Vec<_>>(),
            ["/keycloak/tenant-acme", "tenant-acme"]
        );
    }
}
