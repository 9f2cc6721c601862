//! The apply lock: a KV v2 secret beside the ledger, taken with check-and-set.
//!
//! Two applies that both read version N and both write with `cas=N` cannot both succeed, so the
//! loser fails fast and is told who holds the lock and since when. The lock is released after
//! success and after failure; `aegisctl unlock` clears one left by a killed process.

use serde_json::{Value, json};
use thiserror::Error;

use crate::backends::openbao::{BaoClient, BaoError, Body};

pub const LOCK_PATH: &str = "lock";

#[derive(Debug, Error)]
pub enum LockError {
    #[error("another apply holds the lock: {holder}, since {since}")]
    Held { holder: String, since: String },
    #[error("cannot take the apply lock in `{mount}`: {source}")]
    Bao {
        mount: String,
        #[source]
        source: Box<BaoError>,
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
    let resp = client
        .read("", &format!("{mount}/data/{LOCK_PATH}"))
        .await?;
    let Some(v) = resp else { return Ok((0, None)) };
    let version = v
        .pointer("/data/metadata/version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let holder = v
        .pointer("/data/data/holder")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let since = v
        .pointer("/data/data/since")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok((
        version,
        (!holder.is_empty()).then(|| (holder.to_owned(), since.to_owned())),
    ))
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

impl Lock {
    /// Takes the lock or fails fast naming the holder.
    pub async fn acquire(client: &BaoClient, mount: &str, holder: &str) -> Result<Lock, LockError> {
        let bao = |source| LockError::Bao {
            mount: mount.to_owned(),
            source: Box::new(source),
        };
        let (version, held) = read(client, mount).await.map_err(bao)?;
        if let Some((holder, since)) = held {
            return Err(LockError::Held { holder, since });
        }
        let body = Body::new(json!({
            "options": { "cas": version },
            "data": { "holder": holder, "since": crate::clock::now_rfc3339() },
        }));
        let path = format!("{mount}/data/{LOCK_PATH}");
        match client.write("", &path, &body).await {
            Ok(resp) => Ok(Lock {
                mount: mount.to_owned(),
                version: resp
                    .as_ref()
                    .and_then(|v| v.pointer("/data/version"))
                    .and_then(Value::as_u64)
                    .unwrap_or(version + 1),
            }),
            Err(e) if e.status() == Some(400) && e.to_string().contains("check-and-set") => {
                // Someone else won the race between our read and our write.
                let (_, held) = read(client, mount).await.map_err(bao)?;
                let (holder, since) =
                    held.unwrap_or_else(|| ("another apply".into(), "just now".into()));
                Err(LockError::Held { holder, since })
            }
            Err(e) => Err(bao(e)),
        }
    }

    /// Releases the lock (only if it is still ours).
    pub async fn release(self, client: &BaoClient) -> Result<(), LockError> {
        let body =
            Body::new(json!({ "options": { "cas": self.version }, "data": { "holder": "" } }));
        client
            .write("", &format!("{}/data/{LOCK_PATH}", self.mount), &body)
            .await
            .map(|_| ())
            .map_err(|source| LockError::Bao {
                mount: self.mount.clone(),
                source: Box::new(source),
            })
    }

    /// Clears the lock whoever holds it (`aegisctl unlock`). Returns the previous holder.
    pub async fn force_release(
        client: &BaoClient,
        mount: &str,
    ) -> Result<Option<(String, String)>, LockError> {
        let bao = |source| LockError::Bao {
            mount: mount.to_owned(),
            source: Box::new(source),
        };
        let (version, held) = read(client, mount).await.map_err(bao)?;
        if held.is_some() {
            let body =
                Body::new(json!({ "options": { "cas": version }, "data": { "holder": "" } }));
            client
                .write("", &format!("{mount}/data/{LOCK_PATH}"), &body)
                .await
                .map_err(bao)?;
        }
        Ok(held)
    }
}
