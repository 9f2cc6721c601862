//! Keeping a long process's credentials alive: the token (its leases die with it) and each
//! lease are renewed at two thirds of their TTL, by their original TTL, until OpenBao grants less
//! (the max TTL is near); then a warning says when the credential ends, and another comes shortly
//! before it does. Renewal failures are warnings and retried: the process keeps running.

use std::time::Duration;

use tokio::time::Instant;

use super::leases::{self, Lease};
use super::login::Token;

/// What is kept alive.
enum Target {
    Token,
    Lease(usize),
}

struct Item {
    target: Target,
    /// For messages: `the OpenBao token`, `lease database/creds/agent-role (DB_USER, DB_PASSWORD)`.
    what: String,
    increment: u64,
    expires: Instant,
    /// When to renew next; `None` once it cannot be renewed further.
    next: Option<Instant>,
    /// When to warn that it is about to end; `None` once warned (or while renewable).
    warn_at: Option<Instant>,
}

/// The renewal schedule of one run.
pub struct Keeper {
    items: Vec<Item>,
}

/// Warn this long before a credential ends (a tenth of its TTL when that is shorter).
const WARN_BEFORE: u64 = 60;

fn warn_time(expires: Instant, ttl: u64) -> Instant {
    let before = WARN_BEFORE.min(ttl / 10).max(1);
    expires
        .checked_sub(Duration::from_secs(before))
        .unwrap_or(expires)
}

impl Keeper {
    /// `names[i]` are the variables lease `i` feeds.
    pub fn new(token: &Token, leases: &[Lease], names: &[Vec<String>]) -> Keeper {
        let now = Instant::now();
        let mut items = Vec::new();
        let mut add = |target, what: String, ttl: u64, renewable: bool| {
            if ttl == 0 {
                return; // never expires (a root token) or nothing to renew
            }
            let expires = now + Duration::from_secs(ttl);
            items.push(Item {
                target,
                what,
                increment: ttl,
                expires,
                next: renewable.then(|| now + Duration::from_secs((ttl * 2 / 3).max(1))),
                warn_at: (!renewable).then(|| warn_time(expires, ttl)),
            });
        };
        add(
            Target::Token,
            "the OpenBao token (and with it every lease)".into(),
            token.ttl,
            token.renewable,
        );
        for (i, l) in leases.iter().enumerate() {
            let vars = names.get(i).map(|n| n.join(", ")).unwrap_or_default();
            add(
                Target::Lease(i),
                format!("lease {} ({vars})", l.path),
                l.ttl,
                l.renewable,
            );
        }
        Keeper { items }
    }

    /// When something is due next.
    pub fn next_wake(&self) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|i| match (i.next, i.warn_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
            .min()
    }

    /// Renews what is due; returns the warnings to show.
    pub async fn tick(&mut self, token: &mut Token, leases: &[Lease]) -> Vec<String> {
        let now = Instant::now();
        let mut warnings = Vec::new();
        for item in &mut self.items {
            if item.warn_at.is_some_and(|w| w <= now) {
                item.warn_at = None;
                let left = item.expires.saturating_duration_since(now).as_secs();
                warnings.push(format!(
                    "{} ends in {left}s and cannot be renewed further: the process's credential stops working then",
                    item.what
                ));
            }
            if item.next.is_none_or(|n| n > now) {
                continue;
            }
            let granted = match item.target {
                Target::Token => token.renew(item.increment).await,
                Target::Lease(i) => match leases.get(i) {
                    Some(l) => leases::renew(&token.bao, l).await,
                    None => continue,
                },
            };
            match granted {
                Ok(ttl) => {
                    item.expires = now + Duration::from_secs(ttl);
                    tracing::debug!(what = %item.what, ttl, "renewed");
                    if ttl + 1 < item.increment {
                        item.next = None;
                        item.warn_at = Some(warn_time(item.expires, item.increment));
                        warnings.push(format!(
                            "{} reached its max TTL: it ends in {ttl}s",
                            item.what
                        ));
                    } else {
                        item.next = Some(now + Duration::from_secs((ttl * 2 / 3).max(1)));
                    }
                }
                Err(e) => {
                    let retry = now + Duration::from_secs(10);
                    warnings.push(format!("renewing {} failed ({e}); trying again", item.what));
                    if retry < item.expires {
                        item.next = Some(retry);
                    } else {
                        item.next = None;
                        item.warn_at = Some(now);
                    }
                }
            }
        }
        warnings
    }
}
