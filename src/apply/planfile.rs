//! Plan files (`plan -out FILE`, `apply FILE`): the reviewed plan, the options that shaped it,
//! and what is needed to prove, at apply time, that neither the topology nor the servers moved
//! since. No secret is written: the plan model holds none, and the topology digest covers
//! secrets only through keyed fingerprints — with the ledger's key, or, before any ledger
//! exists, with a key derived from the OpenBao token (so the plan must then be applied with the
//! same token; anyone without it learns nothing from the file).

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::backends::openbao::BaoClient;
use crate::model::{AttrValue, Desired};
use crate::plan::{Plan, PlanOptions};
use crate::state::ledger::Ledger;

pub const FORMAT: &str = "aegisctl-plan/2";

#[derive(Debug, Error)]
pub enum PlanFileError {
    #[error("cannot write the plan file {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cannot read the plan file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
}

/// Which key the topology digest's secret fingerprints were made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestKey {
    /// The ledger's HMAC key.
    Ledger,
    /// A key derived from the OpenBao token (no ledger existed when the plan was made).
    Token,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub aegisctl_version: String,
    /// The topology file, as an absolute path.
    pub topology: PathBuf,
    /// The flags that shaped the plan (`--prune`, `--target`, `--allow-destroy`, `--adopt`).
    pub options: PlanOptions,
    pub topology_digest: String,
    pub digest_key: DigestKey,
    pub plan: Plan,
}

fn fingerprint(key: &[u8], address: &str, field: &str, value: &AttrValue) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(address.as_bytes());
    mac.update(&[0]);
    mac.update(field.as_bytes());
    mac.update(&[0]);
    mac.update(value.to_wire().to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A digest of the Desired phase, with the ledger's key when there is one.
pub fn digest(desired: &Desired, ledger: &Ledger, client: &BaoClient) -> (String, DigestKey) {
    let key = if ledger.has_key() {
        DigestKey::Ledger
    } else {
        DigestKey::Token
    };
    (digest_with(desired, ledger, client, key), key)
}

/// A digest of the Desired phase: plain values as they are, secrets by keyed fingerprint.
pub fn digest_with(
    desired: &Desired,
    ledger: &Ledger,
    client: &BaoClient,
    key: DigestKey,
) -> String {
    let token_key = client.derived_key(b"aegisctl plan digest");
    let mut h = Sha256::new();
    h.update(desired.name.as_bytes());
    h.update([2]);
    for r in &desired.resources {
        h.update(r.address.0.as_bytes());
        for (k, v) in &r.attrs {
            h.update([0]);
            h.update(k.as_bytes());
            h.update([0]);
            match v {
                AttrValue::Plain(p) => h.update(p.to_string().as_bytes()),
                // Not known before apply: the producer and the output name stand for it.
                AttrValue::Output(o) => {
                    h.update(b"output:");
                    h.update(o.producer.address().0.as_bytes());
                    h.update(o.name.as_bytes())
                }
                AttrValue::Secret(_) | AttrValue::Vault(_) => {
                    let fp = match key {
                        DigestKey::Ledger => {
                            ledger.fingerprint(&r.address, k, v).unwrap_or_default()
                        }
                        DigestKey::Token => fingerprint(token_key.expose(), &r.address.0, k, v),
                    };
                    h.update(fp.as_bytes())
                }
            }
        }
        h.update([1]);
    }
    hex::encode(h.finalize())
}

impl PlanFile {
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        let err = |e: String| PlanFileError::Write {
            path: path.to_path_buf(),
            reason: e,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| err(e.to_string()))
    }

    /// Reads a plan file; `Ok(None)` when the file is not a plan file (so it may be a topology).
    pub fn read(path: &Path) -> Result<Option<PlanFile>, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlanFileError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if !text.trim_start().starts_with('{') || !text.contains("aegisctl-plan/") {
            return Ok(None);
        }
        if !text.contains(FORMAT) {
            return Err(PlanFileError::Read {
                path: path.to_path_buf(),
                reason: format!(
                    "it was written by another version of aegisctl (this one reads {FORMAT}); make the plan again"
                ),
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PlanFileError::Read {
                path: path.to_path_buf(),
                reason: format!("not a valid plan file: {e}"),
            })
    }
}
