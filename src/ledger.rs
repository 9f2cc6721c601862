//! The ledger: what aegisctl manages, kept in OpenBao itself (a KV v2 mount, `aegisctl` by
//! default) — no local state file.
//!
//! It records every managed address with its server identity, and a keyed fingerprint
//! (HMAC-SHA256) of each input that cannot be compared against the server: secrets and fields
//! the server does not return. Never a value. The HMAC key lives beside it in OpenBao, so a
//! fingerprint cannot be brute-forced by whoever only sees the ledger entry. Writes use
//! check-and-set, like the apply lock, so two writers cannot silently overwrite each other.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use thiserror::Error;

use crate::backends::openbao::{BaoClient, BaoError, Body};
use crate::model::{Address, AttrValue, ResourceId};
use crate::sensitive::Sensitive;

pub const STATE_PATH: &str = "state";
/// The ledger mount's description starts with this, so `import` can recognise any ledger.
pub const LEDGER_DESCRIPTION_PREFIX: &str = "aegisctl ledger:";
pub const KEY_PATH: &str = "key";

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("cannot use the ledger mount `{mount}`: {source}")]
    Bao {
        mount: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error(
        "the ledger `{mount}/{STATE_PATH}` is unreadable ({reason}); it was not written by this aegisctl"
    )]
    Corrupt { mount: String, reason: String },
    #[error("the ledger `{mount}` was changed by someone else during this run; re-run to converge")]
    Conflict { mount: String },
}

/// What the ledger holds about one managed object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub id: ResourceId,
    /// field → HMAC-SHA256 hex of the value last written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fp: BTreeMap<String, String>,
}

/// The ledger as read at the start of a run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub mount: String,
    pub entries: BTreeMap<Address, Entry>,
    /// KV version of the state secret (0 = none yet), for check-and-set.
    version: u64,
    key: Option<Sensitive<String>>,
    /// Whether the ledger mount exists at all.
    pub mount_exists: bool,
}

fn bao(mount: &str) -> impl FnOnce(BaoError) -> LedgerError + '_ {
    move |source| LedgerError::Bao {
        mount: mount.to_owned(),
        source: Box::new(source),
    }
}

impl Ledger {
    /// Reads the ledger; an absent mount or state is an empty ledger.
    pub async fn load(
        client: &BaoClient,
        mount: &str,
        mount_exists: bool,
    ) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger {
            mount: mount.to_owned(),
            mount_exists,
            ..Ledger::default()
        };
        if !mount_exists {
            return Ok(ledger);
        }
        let (state_path, key_path) = (
            format!("{mount}/data/{STATE_PATH}"),
            format!("{mount}/data/{KEY_PATH}"),
        );
        let (state, key) = tokio::join!(client.read("", &state_path), client.read("", &key_path));
        if let Some(state) = state.map_err(bao(mount))? {
            ledger.version = state
                .pointer("/data/metadata/version")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let corrupt = |e: serde_json::Error| LedgerError::Corrupt {
                mount: mount.to_owned(),
                reason: e.to_string(),
            };
            match state.pointer("/data/data/resources") {
                // Format 2: one JSON string, because OpenBao refuses request bodies with more
                // than `max_request_json_strings` (1,000 by default) strings in them.
                Some(Value::String(text)) => {
                    ledger.entries = serde_json::from_str(text).map_err(corrupt)?
                }
                Some(other) => {
                    ledger.entries = serde_json::from_value(other.clone()).map_err(corrupt)?
                }
                None => {}
            }
        }
        if let Some(key) = key.map_err(bao(mount))? {
            ledger.key = key
                .pointer("/data/data/hmac_key")
                .and_then(Value::as_str)
                .map(|s| Sensitive::new(s.to_owned()));
        }
        Ok(ledger)
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The keyed fingerprint of a value, or `None` before the ledger has a key.
    pub fn fingerprint(&self, address: &Address, field: &str, value: &AttrValue) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).ok()?;
        mac.update(address.0.as_bytes());
        mac.update(&[0]);
        mac.update(field.as_bytes());
        mac.update(&[0]);
        let wire = value.to_wire();
        match &wire {
            Value::String(s) => mac.update(s.as_bytes()),
            other => mac.update(other.to_string().as_bytes()),
        }
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// Creates the ledger mount and its HMAC key when absent (first apply).
    pub async fn ensure(&mut self, client: &BaoClient) -> Result<(), LedgerError> {
        let mount = self.mount.clone();
        if !self.mount_exists {
            let body = Body::new(json!({
                "type": "kv",
                "options": { "version": "2" },
                "description": "aegisctl ledger: managed addresses and input fingerprints (no values)",
            }));
            client
                .write("", &format!("sys/mounts/{mount}"), &body)
                .await
                .map_err(bao(&mount))?;
            self.mount_exists = true;
        }
        if self.key.is_none() {
            let key = Sensitive::new(hex::encode(rand::random::<[u8; 32]>()));
            let body =
                Body::new(json!({ "options": { "cas": 0 }, "data": { "hmac_key": key.expose() } }))
                    .with_secret(&key);
            // (A freshly enabled KV v2 mount needs a moment: the client retries that answer.)
            let key_path = format!("{mount}/data/{KEY_PATH}");
            client
                .write("", &key_path, &body)
                .await
                .map_err(bao(&mount))?;
            self.key = Some(key);
        }
        Ok(())
    }

    /// Writes `entries` back if they differ from what was read, with check-and-set.
    pub async fn save(
        &mut self,
        client: &BaoClient,
        entries: BTreeMap<Address, Entry>,
    ) -> Result<bool, LedgerError> {
        if entries == self.entries {
            return Ok(false);
        }
        let mount = self.mount.clone();
        let resources = serde_json::to_string(&entries).map_err(|e| LedgerError::Corrupt {
            mount: mount.clone(),
            reason: e.to_string(),
        })?;
        let body = Body::new(json!({
            "options": { "cas": self.version },
            "data": { "format": 2, "resources": resources },
        }));
        let resp = client
            .write("", &format!("{mount}/data/{STATE_PATH}"), &body)
            .await
            .map_err(|e| match e.status() {
                Some(400) if e.to_string().contains("check-and-set") => LedgerError::Conflict {
                    mount: mount.clone(),
                },
                _ => LedgerError::Bao {
                    mount: mount.clone(),
                    source: Box::new(e),
                },
            })?;
        self.version = resp
            .as_ref()
            .and_then(|v| v.pointer("/data/version"))
            .and_then(Value::as_u64)
            .unwrap_or(self.version + 1);
        self.entries = entries;
        Ok(true)
    }
}
