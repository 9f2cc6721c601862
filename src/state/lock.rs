//! The apply lock: a check-and-set document beside the ledger.
//!
//! Two applies that both read version N and both write with `cas=N` cannot both succeed, so the
//! loser fails fast and is told who holds the lock and since when. The lock is released after
//! success, after failure and after an interrupt; `aegisctl unlock` clears one left by a killed
//! process. A lock write that OpenBao does not confirm is a failure to take the lock.

use serde_json::{Value, json};
use thiserror::Error;

use super::doc::{self, DocError};
use crate::backends::openbao::{BaoClient, BaoError};

pub const LOCK_PATH: &str = "lock";

#[derive(Debug, Error)]
pub enum LockError {
    #[error("another apply holds the lock: {holder}, since {since}")]
    Held { holder: String, since: String },
    #[error("cannot take the apply lock in `{mount}`: {source}")]
    Bao {
        mount: String,
        #[source]
        source: Box<DocError>,
    },
}

/// A held lock; give it back with [`Lock::release`].
#[derive(Debug)]
pub struct Lock {
    mount: String,
    version: u64,
}

async fn read(
    client: &BaoClient,
    mount: &str,
) -> Result<(u64, Option<(String, String)>), BaoError> {
    let r = doc::read(client, mount, LOCK_PATH).await?;
    let field = |k: &str| {
        r.data
            .as_ref()
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (holder, since) = (field("holder"), field("since"));
    Ok((r.version, (!holder.is_empty()).then_some((holder, since))))
}

/// Who this process is, for the lock record: token display name, host, pid.
pub fn whoami(display_name: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown-host".into());
    format!("{display_name}@{host} pid {}", std::process::id())
}

fn failed(mount: &str) -> impl Fn(DocError) -> LockError + '_ {
    move |source| LockError::Bao {
        mount: mount.to_owned(),
        source: Box::new(source),
    }
}

impl Lock {
    /// Takes the lock or fails fast naming the holder.
    pub async fn acquire(client: &BaoClient, mount: &str, holder: &str) -> Result<Lock, LockError> {
        let (version, held) = read(client, mount)
            .await
            .map_err(|e| failed(mount)(e.into()))?;
        if let Some((holder, since)) = held {
            return Err(LockError::Held { holder, since });
        }
        let data = json!({ "holder": holder, "since": crate::clock::now_rfc3339() });
        match doc::write(client, mount, LOCK_PATH, data, version).await {
            Ok(version) => Ok(Lock {
                mount: mount.to_owned(),
                version,
            }),
            Err(DocError::Conflict { .. }) => {
                // Someone else won the race between our read and our write.
                let (_, held) = read(client, mount)
                    .await
                    .map_err(|e| failed(mount)(e.into()))?;
                let (holder, since) =
                    held.unwrap_or_else(|| ("another apply".into(), "just now".into()));
                Err(LockError::Held { holder, since })
            }
            Err(e) => Err(failed(mount)(e)),
        }
    }

    /// Releases the lock (only if it is still ours).
    pub async fn release(self, client: &BaoClient) -> Result<(), LockError> {
        doc::write(
            client,
            &self.mount,
            LOCK_PATH,
            json!({ "holder": "" }),
            self.version,
        )
        .await
        .map(|_| ())
        .map_err(failed(&self.mount))
    }

    /// Clears the lock whoever holds it (`aegisctl unlock`). Returns the previous holder.
    pub async fn force_release(
        client: &BaoClient,
        mount: &str,
    ) -> Result<Option<(String, String)>, LockError> {
        let (version, held) = read(client, mount)
            .await
            .map_err(|e| failed(mount)(e.into()))?;
        if held.is_some() {
            doc::write(client, mount, LOCK_PATH, json!({ "holder": "" }), version)
                .await
                .map_err(failed(mount))?;
        }
        Ok(held)
    }
}
