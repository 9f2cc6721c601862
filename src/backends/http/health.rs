//! The run-wide retry budget and circuit breaker every request of a run shares: one clock of
//! "how long has the server failed". An outage shorter than the budget is ridden through; once
//! it lasts longer the circuit opens for the rest of the run, so a run against a dead server
//! ends with its summary instead of retrying each remaining object.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The run-wide retry budget and circuit breaker, shared by every request of a run.
#[derive(Clone, Debug)]
pub struct Health(Arc<HealthInner>);

#[derive(Debug)]
struct HealthInner {
    budget: Duration,
    answered: std::sync::atomic::AtomicBool,
    failing_since: Mutex<Option<Instant>>,
    open: tokio::sync::watch::Sender<Option<String>>,
}

impl Health {
    pub fn new(budget: Duration) -> Self {
        Health(Arc::new(HealthInner {
            budget,
            answered: std::sync::atomic::AtomicBool::new(false),
            failing_since: Mutex::new(None),
            open: tokio::sync::watch::channel(None).0,
        }))
    }

    pub fn budget(&self) -> Duration {
        self.0.budget
    }

    /// The reason the circuit opened, once it has.
    pub fn open_reason(&self) -> Option<String> {
        self.0.open.borrow().clone()
    }

    /// Resolves when the circuit opens (never, if it does not).
    pub async fn opened(&self) -> String {
        let mut rx = self.0.open.subscribe();
        let reason = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|v| v.clone());
        match reason {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }

    /// Whether the server has answered once in this run.
    pub(super) fn answered_once(&self) -> bool {
        self.0.answered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The server answered: an outage, if there was one, is over.
    pub(super) fn good(&self) {
        self.0
            .answered
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut since) = self.0.failing_since.lock() {
            *since = None;
        }
    }

    /// An attempt that began at `began` failed: the time left in the budget, or `None` once it
    /// is spent (and the circuit is then open for the rest of the run).
    pub(super) fn bad(&self, began: Instant, reason: &str) -> Option<Duration> {
        let elapsed = match self.0.failing_since.lock() {
            Ok(mut since) => since.get_or_insert(began).elapsed(),
            Err(_) => self.0.budget,
        };
        if elapsed >= self.0.budget {
            self.0.open.send_if_modified(|v| {
                let first = v.is_none();
                if first {
                    *v = Some(reason.to_owned());
                }
                first
            });
            None
        } else {
            Some(self.0.budget - elapsed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_secs(10);

    /// An instant `secs` ago (the outage clock counts from when a failing attempt began).
    fn ago(secs: u64) -> Instant {
        Instant::now()
            .checked_sub(Duration::from_secs(secs))
            .unwrap_or_else(Instant::now)
    }

    #[test]
    fn the_budget_opens_the_circuit_once_spent() {
        let h = Health::new(BUDGET);
        let left = h.bad(ago(4), "refused").expect("within the budget");
        assert!(left <= Duration::from_secs(6), "{left:?}");
        assert!(h.open_reason().is_none());
        // The outage began with the first failure: 4 s ago; a later failure does not restart it.
        let h = Health::new(BUDGET);
        assert!(h.bad(ago(11), "refused").is_none());
        assert_eq!(h.open_reason().as_deref(), Some("refused"));
        assert!(h.bad(Instant::now(), "again").is_none(), "it stays open");
        assert_eq!(
            h.open_reason().as_deref(),
            Some("refused"),
            "the first reason stands"
        );
    }

    #[test]
    fn an_answer_resets_the_outage_clock() {
        let h = Health::new(BUDGET);
        assert!(h.bad(ago(9), "x").is_some());
        h.good();
        let left = h.bad(Instant::now(), "y").expect("a new outage");
        assert!(
            left > Duration::from_secs(9),
            "the clock restarted: {left:?}"
        );
        assert!(h.open_reason().is_none());
        assert!(h.answered_once());
    }
}
