//! The apply lock's heartbeat: while an apply runs, its lease is renewed every third of the
//! lease, so that a live apply keeps its lock however long it takes and a dead one loses it
//! soon.
//!
//! A renewal that cannot reach OpenBao is not a loss: the lease outlasts two missed renewals,
//! and stopping an apply because of a blip would do more harm than good. Only a confirmed loss,
//! the lock document naming another run (taken over) or none (`aegisctl unlock --force`), tells
//! the apply to stop starting changes, through the callback it gave.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::doc::{self, DocError};
use super::lock::{LOCK_PATH, Shared, how_lost, read};

/// What the apply is told when the lock is no longer its own.
pub(super) type OnLost = Box<dyn FnOnce(String) + Send>;

/// The running heartbeat; aborted when dropped.
pub(super) struct Heartbeat {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    every: Duration,
}

enum Renewal {
    Renewed,
    /// OpenBao did not answer as expected: try again at the next beat.
    Failed,
    /// The lock is someone else's, or free: how.
    Lost(String),
}

impl Heartbeat {
    pub(super) fn start(shared: Arc<Shared>, on_lost: OnLost) -> Heartbeat {
        let every = shared.lease / 3;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(every) => {}
                }
                match renew(&shared).await {
                    Renewal::Renewed => {}
                    Renewal::Failed => {
                        tracing::debug!("the apply lock's lease could not be renewed this time");
                    }
                    Renewal::Lost(how) => {
                        on_lost(format!(
                            "the apply lock was {how}: no new change is started"
                        ));
                        return;
                    }
                }
            }
        });
        Heartbeat {
            stop: Some(stop),
            task,
            every,
        }
    }

    /// Stops beating. A renewal in flight may finish (its version is then the one release
    /// uses), but not for longer than a beat: release copes with one it did not see.
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(self.every, &mut self.task).await;
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One renewal: the same record with a new expiry, with check-and-set on the version we know.
async fn renew(s: &Shared) -> Renewal {
    // Twice: a conflict may only mean that an earlier renewal landed without our seeing it.
    for _ in 0..2 {
        let record = s.record.renewed(s.lease);
        match doc::write(&s.client, &s.mount, LOCK_PATH, record.json(), s.version()).await {
            Ok(version) => {
                s.set_version(version);
                return Renewal::Renewed;
            }
            Err(DocError::Conflict { .. }) => match read(&s.client, &s.mount).await {
                Ok((version, Some(r))) if r.run == s.record.run => s.set_version(version),
                Ok((_, other)) => return Renewal::Lost(how_lost(other.as_ref())),
                Err(_) => return Renewal::Failed,
            },
            Err(_) => return Renewal::Failed,
        }
    }
    Renewal::Failed
}
