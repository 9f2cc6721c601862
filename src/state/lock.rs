//! The apply lock: a check-and-set document beside the ledger, held under a lease.
//!
//! Two applies that both read version N and both write with `cas=N` cannot both succeed, so the
//! loser fails fast and is told who holds the lock (token display name, host, pid), since when,
//! and until when. The holder renews its lease while it runs ([`super::heartbeat`]), so a lock
//! whose lease ran out, or whose process on this same host is gone, belongs to a dead apply and
//! is taken over with a warning instead of blocking every later run until someone unlocks it.
//! Each run has a random run id, which makes its own writes recognisable: a lost answer never
//! locks a run out by itself, and release and renewal give back or extend only a lock that is
//! still ours. A lock write that OpenBao does not confirm is a failure to take the lock.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use miette::Diagnostic;
use serde_json::{Map, Value, json};
use thiserror::Error;

use super::doc::{self, DocError};
use super::heartbeat::Heartbeat;
use super::host;
use crate::backends::openbao::{BaoClient, BaoError};
use crate::clock;

pub const LOCK_PATH: &str = "lock";
/// How long a lock stays ours without a renewal: long enough to ride through a server restart
/// or a network blip (renewals come every third of it), short enough that a dead apply on
/// another host does not block the next one for long.
pub const LEASE: Duration = Duration::from_secs(60);
/// Overrides [`LEASE`], in whole seconds.
pub const LEASE_VAR: &str = "AEGISCTL_LOCK_LEASE_SECONDS";

#[derive(Debug, Error, Diagnostic)]
pub enum LockError {
    #[error("another apply holds the lock: {who}, since {since}; {lease}")]
    #[diagnostic(help(
        "wait, or if that apply is dead run `aegisctl unlock FILE` (`--force` if it still looks alive)"
    ))]
    Held {
        who: String,
        since: String,
        lease: String,
    },
    #[error(
        "the apply lock is held by {who}, since {since}, and it looks alive ({lease}): not released"
    )]
    #[diagnostic(help(
        "if that apply is dead (or must stop), `aegisctl unlock --force FILE` releases it anyway: a running apply notices at its next heartbeat and starts no new change"
    ))]
    Live {
        who: String,
        since: String,
        lease: String,
    },
    #[error("the apply lock was {how} during this apply; it was left as it is")]
    #[diagnostic(help(
        "what this apply did is in the ledger; once no other apply runs, `aegisctl plan` shows what is left"
    ))]
    Lost { how: String },
    #[error("{LEASE_VAR} must be a whole number of seconds, at least 1 (it is `{0}`)")]
    #[diagnostic(help("unset it for the default lease of 60 seconds"))]
    Lease(String),
    #[error("cannot use the apply lock in `{mount}`: {source}")]
    #[diagnostic(help(
        "check that OpenBao is running and that the token may read and write the ledger mount"
    ))]
    Bao {
        mount: String,
        #[source]
        source: Box<DocError>,
    },
}

/// The lease: [`LEASE`], or `AEGISCTL_LOCK_LEASE_SECONDS`.
pub fn lease() -> Result<Duration, LockError> {
    match std::env::var(LEASE_VAR) {
        Err(_) => Ok(LEASE),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(secs) if secs >= 1 => Ok(Duration::from_secs(secs)),
            _ => Err(LockError::Lease(text)),
        },
    }
}

/// A held lock as stored: who, where, since when, which run, and until when.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Record {
    /// The token's display name (never the token).
    holder: String,
    host: String,
    pid: u32,
    since: String,
    pub(super) run: String,
    expires: String,
}

impl Record {
    /// A held lock (`None` when free). Records of earlier versions have only `holder` (already
    /// "name@host pid N") and `since`.
    fn parse(data: &Map<String, Value>) -> Option<Record> {
        let text = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or_default();
        let holder = text("holder");
        (!holder.is_empty()).then(|| Record {
            holder: holder.to_owned(),
            host: text("host").to_owned(),
            pid: data
                .get("pid")
                // A lock written by hand (`bao kv put`) holds it as text.
                .and_then(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
            since: text("since").to_owned(),
            run: text("run").to_owned(),
            expires: text("expires").to_owned(),
        })
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "since": self.since,
            "run": self.run,
            "expires": self.expires,
        })
    }

    /// The same record with its lease extended from now.
    pub(super) fn renewed(&self, lease: Duration) -> Record {
        Record {
            expires: clock::rfc3339(clock::now_unix() + lease.as_secs()),
            ..self.clone()
        }
    }

    /// "name@host pid N", as messages name a holder.
    pub(super) fn who(&self) -> String {
        if self.host.is_empty() {
            self.holder.clone()
        } else {
            format!("{}@{} pid {}", self.holder, self.host, self.pid)
        }
    }

    fn lease_text(&self) -> String {
        if self.expires.is_empty() {
            "its lease is unknown (taken by an earlier aegisctl)".into()
        } else {
            format!("its lease expires at {}", self.expires)
        }
    }

    /// Why the holder is dead, or `None` while it may be alive: on this host, its process is
    /// gone; anywhere, its lease ran out.
    fn dead(&self) -> Option<String> {
        let here = !self.host.is_empty() && self.pid != 0 && self.host == host::name();
        if here && !host::alive(self.pid, clock::parse_rfc3339(&self.since)) {
            return Some(format!("its process {} is gone", self.pid));
        }
        match clock::parse_rfc3339(&self.expires) {
            Some(at) if at <= clock::now_unix() => {
                Some(format!("its lease expired at {}", self.expires))
            }
            _ => None,
        }
    }
}

/// How the lock stopped being ours: taken by whom, or released by someone else.
pub(super) fn how_lost(now: Option<&Record>) -> String {
    match now {
        Some(r) => format!("taken by {}", r.who()),
        None => "released by someone else (`aegisctl unlock --force`)".into(),
    }
}

pub(super) async fn read(
    client: &BaoClient,
    mount: &str,
) -> Result<(u64, Option<Record>), BaoError> {
    let r = doc::read(client, mount, LOCK_PATH).await?;
    let held = r.data.as_ref().and_then(Record::parse);
    Ok((r.version, held))
}

fn failed(mount: &str) -> impl Fn(DocError) -> LockError + '_ {
    move |source| LockError::Bao {
        mount: mount.to_owned(),
        source: Box::new(source),
    }
}

fn held(r: &Record) -> LockError {
    LockError::Held {
        who: r.who(),
        since: r.since.clone(),
        lease: r.lease_text(),
    }
}

/// What the lock and its heartbeat share: the lock's current version moves with each renewal,
/// and release must use the latest.
pub(super) struct Shared {
    pub(super) client: BaoClient,
    pub(super) mount: String,
    pub(super) record: Record,
    pub(super) lease: Duration,
    version: Mutex<u64>,
}

impl Shared {
    pub(super) fn version(&self) -> u64 {
        *self.version.lock().unwrap_or_else(PoisonError::into_inner)
    }
    pub(super) fn set_version(&self, v: u64) {
        *self.version.lock().unwrap_or_else(PoisonError::into_inner) = v;
    }
}

/// A held lock; keep it with [`Lock::keep_alive`], give it back with [`Lock::release`].
pub struct Lock {
    shared: Arc<Shared>,
    heartbeat: Option<Heartbeat>,
}

/// What `aegisctl unlock` did.
#[derive(Debug)]
pub enum Unlocked {
    /// The lock was not held.
    Free,
    /// Its holder was dead (`why` says how it shows).
    Released {
        who: String,
        since: String,
        why: String,
    },
    /// `--force`: its holder looked alive.
    Forced {
        who: String,
        since: String,
        lease: String,
    },
}

impl Lock {
    /// Takes the lock for `holder` (the token's display name), taking over one whose holder is
    /// dead; the second value is then the warning to show. Fails fast naming a live holder.
    pub async fn acquire(
        client: &BaoClient,
        mount: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<(Lock, Option<String>), LockError> {
        let me = Record {
            holder: holder.to_owned(),
            host: host::name(),
            pid: std::process::id(),
            since: clock::now_rfc3339(),
            run: hex::encode(rand::random::<[u8; 8]>()),
            expires: String::new(),
        };
        // A check-and-set conflict means the lock moved between our read and our write: look
        // again (a racing apply now holds it, or let it go in between).
        for _ in 0..3 {
            let (version, old) = read(client, mount)
                .await
                .map_err(|e| failed(mount)(e.into()))?;
            let warning = match &old {
                None => None,
                Some(old) => match old.dead() {
                    None => return Err(held(old)),
                    Some(why) => Some(format!(
                        "took over the apply lock held by {} since {}: {why}",
                        old.who(),
                        old.since
                    )),
                },
            };
            let record = me.renewed(lease);
            match doc::write(client, mount, LOCK_PATH, record.json(), version).await {
                Ok(version) => {
                    let shared = Shared {
                        client: client.clone(),
                        mount: mount.to_owned(),
                        record,
                        lease,
                        version: Mutex::new(version),
                    };
                    let lock = Lock {
                        shared: Arc::new(shared),
                        heartbeat: None,
                    };
                    return Ok((lock, warning));
                }
                Err(DocError::Conflict { .. }) => {}
                Err(e) => return Err(failed(mount)(e)),
            }
        }
        let (_, now) = read(client, mount)
            .await
            .map_err(|e| failed(mount)(e.into()))?;
        Err(match now {
            Some(r) => held(&r),
            None => LockError::Held {
                who: "another apply".into(),
                since: "just now".into(),
                lease: "it keeps changing hands".into(),
            },
        })
    }

    /// Renews the lease in the background until [`Lock::release`]; `on_lost` is called once if
    /// a renewal finds the lock no longer ours, with the message to show (stop starting changes).
    pub fn keep_alive(&mut self, on_lost: impl FnOnce(String) + Send + 'static) {
        self.heartbeat = Some(Heartbeat::start(
            Arc::clone(&self.shared),
            Box::new(on_lost),
        ));
    }

    /// Stops the heartbeat and releases the lock, only if it is still ours.
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.stop().await;
        }
        let s = &self.shared;
        // The run id marks the free record as our release, so that another release (an unlock)
        // is not mistaken for ours.
        let free = json!({ "holder": "", "run": s.record.run });
        let mut cas = s.version();
        for _ in 0..3 {
            match doc::write(&s.client, &s.mount, LOCK_PATH, free.clone(), cas).await {
                Ok(_) => return Ok(()),
                Err(DocError::Conflict { .. }) => {
                    let (version, now) = read(&s.client, &s.mount)
                        .await
                        .map_err(|e| failed(&s.mount)(e.into()))?;
                    match now {
                        // Renewed by a heartbeat whose answer we did not see: still ours.
                        Some(r) if r.run == s.record.run => cas = version,
                        other => {
                            return Err(LockError::Lost {
                                how: how_lost(other.as_ref()),
                            });
                        }
                    }
                }
                Err(e) => return Err(failed(&s.mount)(e)),
            }
        }
        Err(failed(&s.mount)(DocError::Conflict {
            mount: s.mount.clone(),
            key: LOCK_PATH.into(),
            expected: cas,
        }))
    }

    /// `aegisctl unlock`: releases a lock whose holder is dead; one that looks alive only with
    /// `force`.
    pub async fn unlock(
        client: &BaoClient,
        mount: &str,
        force: bool,
    ) -> Result<Unlocked, LockError> {
        let (version, old) = read(client, mount)
            .await
            .map_err(|e| failed(mount)(e.into()))?;
        let Some(old) = old else {
            return Ok(Unlocked::Free);
        };
        let (who, since, lease) = (old.who(), old.since.clone(), old.lease_text());
        // A record of an earlier aegisctl has no lease and no heartbeat: nothing shows it alive,
        // and `unlock` always released those.
        let dead = old.dead().or_else(|| {
            old.expires
                .is_empty()
                .then(|| "it has no lease (taken by an earlier aegisctl)".to_owned())
        });
        let done = match dead {
            Some(why) => Unlocked::Released { who, since, why },
            None if force => Unlocked::Forced { who, since, lease },
            None => return Err(LockError::Live { who, since, lease }),
        };
        doc::write(client, mount, LOCK_PATH, json!({ "holder": "" }), version)
            .await
            .map_err(failed(mount))?;
        Ok(done)
    }
}
