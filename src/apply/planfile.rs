//! Plan files (`plan -out FILE`, `apply FILE`): the reviewed plan plus what is needed to prove,
//! at apply time, that neither the topology nor the servers moved since. No secret is written:
//! the plan model holds none, and the topology digest covers secrets only through the ledger's
//! keyed fingerprints.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ledger::Ledger;
use crate::model::{AttrValue, Desired};
use crate::plan::Plan;

pub const FORMAT: &str = "aegisctl-plan/1";

#[derive(Debug, Error)]
pub enum PlanFileError {
    #[error("cannot write the plan file {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cannot read the plan file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub aegisctl_version: String,
    /// The topology file, as an absolute path.
    pub topology: PathBuf,
    pub prune: bool,
    pub targets: Vec<String>,
    pub topology_digest: String,
    /// Whether the digest covers secrets (through the ledger's key); a plan made before the
    /// ledger existed cannot, and is checked the same way at apply.
    #[serde(default)]
    pub digest_keyed: bool,
    pub plan: Plan,
}

/// A digest of the Desired phase: plain values as they are, secrets by keyed fingerprint when
/// `keyed` (and the ledger has its key), else by a fixed marker.
pub fn digest(desired: &Desired, ledger: &Ledger, keyed: bool) -> String {
    let mut h = Sha256::new();
    for r in &desired.resources {
        h.update(r.address.0.as_bytes());
        for (k, v) in &r.attrs {
            h.update([0]);
            h.update(k.as_bytes());
            h.update([0]);
            match v {
                AttrValue::Plain(p) => h.update(p.to_string().as_bytes()),
                AttrValue::Secret(_) | AttrValue::Vault(_) => h.update(
                    keyed
                        .then(|| ledger.fingerprint(&r.address, k, v))
                        .flatten()
                        .unwrap_or_else(|| "secret".into())
                        .as_bytes(),
                ),
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
        if !text.trim_start().starts_with('{') || !text.contains(FORMAT) {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PlanFileError::Read {
                path: path.to_path_buf(),
                reason: format!("not a valid plan file: {e}"),
            })
    }
}
