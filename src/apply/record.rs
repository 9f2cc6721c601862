//! Recording an apply in the ledger as it goes.
//!
//! Before anything is sent, every object the plan creates is written to the ledger as *pending*
//! (it may or may not exist yet); while the executor runs, each finished change updates its
//! entry (fingerprints of what was sent, `pending` cleared, deletions removed) and the changed
//! shards are written in batches; at the end, the entries are settled against what exists. A
//! run that dies at any point therefore leaves a ledger that knows everything it may have
//! created, which is what prune and drift rely on. If a batch cannot be written, the run stops
//! starting changes: working on without a record would be working blind.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use super::executor::{Cancel, Event, Outcome};
use crate::backends::openbao::BaoClient;
use crate::backends::{Live, Registry};
use crate::model::{Address, Desired, DesiredResource};
use crate::plan::{Action, Plan};
use crate::state::ledger::{Entry, Ledger, LedgerError};

/// A batch is written after this many finished changes...
const BATCH: usize = 500;
/// ...or this long after the previous one, whichever comes first.
const INTERVAL: Duration = Duration::from_secs(2);

pub struct Recorder<'a> {
    client: &'a BaoClient,
    pub ledger: &'a mut Ledger,
    registry: &'a Registry,
    desired: BTreeMap<&'a Address, &'a DesiredResource>,
    /// Objects as read back after their write.
    pub written: BTreeMap<Address, Live>,
    /// How each change ended.
    pub outcomes: BTreeMap<Address, Outcome>,
    unsaved: usize,
    last: Instant,
}

impl<'a> Recorder<'a> {
    pub fn new(
        client: &'a BaoClient,
        ledger: &'a mut Ledger,
        registry: &'a Registry,
        desired: &'a Desired,
    ) -> Recorder<'a> {
        Recorder {
            client,
            ledger,
            registry,
            desired: desired.resources.iter().map(|r| (&r.address, r)).collect(),
            written: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            unsaved: 0,
            last: Instant::now(),
        }
    }

    fn entry(&mut self, address: &Address, id: &crate::model::ResourceId) -> &mut Entry {
        self.ledger.entry_mut(address, id)
    }

    /// Records the plan's creations as pending and writes them, before anything is sent.
    pub async fn intents(&mut self, plan: &Plan) -> Result<(), LedgerError> {
        for c in plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        {
            let e = self.entry(&c.address, &c.id);
            if e.fp.is_empty() && c.action == Action::Create {
                e.pending = true;
            }
        }
        self.flush().await
    }

    /// The fingerprints of what was just sent: every secret, and every field the server does
    /// not answer (or answers masked), compared through them from now on.
    fn fingerprint(&mut self, res: &DesiredResource, live: Option<&Live>) {
        let kind = self.registry.of(&res.id).cloned();
        let mut fps = Vec::new();
        for (field, value) in &res.attrs {
            let write_only = match (live, &kind) {
                (Some(l), Some(k)) => !l.contains_key(field) || k.write_only(field, value),
                _ => true,
            };
            if (value.is_secret() || write_only)
                && let Some(fp) = self.ledger.fingerprint(&res.address, field, value)
            {
                fps.push((field.clone(), fp));
            }
        }
        let e = self.entry(&res.address, &res.id);
        e.pending = false;
        e.fp.extend(fps);
    }

    /// One finished change.
    pub fn record(&mut self, ev: Event) {
        let address = ev.change.address.clone();
        match (&ev.outcome, ev.change.action) {
            (Outcome::Done, Action::Delete) => self.ledger.remove(&address),
            (Outcome::Done, _) => {
                // What was sent: with its output references filled in, when it had any.
                let res = ev.sent.as_deref().or(self.desired.get(&address).copied());
                if let Some(res) = res {
                    self.fingerprint(res, ev.live.as_ref());
                }
                if let Some(live) = ev.live {
                    self.written.insert(address.clone(), live);
                }
            }
            (Outcome::Manual, _) => {
                // Declared and handed to the operator: drift reports it until it exists.
                self.entry(&address, &ev.change.id);
            }
            _ => {}
        }
        self.outcomes.insert(address, ev.outcome);
        self.unsaved += 1;
    }

    /// Writes the changed shards.
    pub async fn flush(&mut self) -> Result<(), LedgerError> {
        self.ledger.save(self.client).await?;
        self.unsaved = 0;
        self.last = Instant::now();
        Ok(())
    }

    /// Consumes the executor's events until it is done, writing a batch every [`BATCH`]
    /// changes or [`INTERVAL`]. On a failed write it stops the apply (via `cancel`) and keeps
    /// recording in memory; the error is returned at the end.
    pub async fn run(
        &mut self,
        mut events: UnboundedReceiver<Event>,
        cancel: &Cancel,
    ) -> Result<(), LedgerError> {
        let mut failure = None;
        let mut tick = tokio::time::interval(INTERVAL);
        tick.tick().await;
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.record(ev),
                    None => break,
                },
                _ = tick.tick() => {}
            }
            let due =
                self.unsaved >= BATCH || (self.unsaved > 0 && self.last.elapsed() >= INTERVAL);
            if due
                && failure.is_none()
                && let Err(e) = self.flush().await
            {
                cancel.set();
                failure = Some(e);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// After the executor: settles the entries against what exists and writes the ledger.
    /// `observed` is what existed before the apply; `still` tells whether an object whose
    /// write failed exists after all (a lost answer) — asked only for those.
    pub async fn settle(
        &mut self,
        observed: &crate::plan::Observed,
        selected: Option<&BTreeSet<Address>>,
        prune: bool,
        adopt: bool,
        still: &BTreeMap<Address, bool>,
    ) -> Result<(), LedgerError> {
        let declared: Vec<&DesiredResource> = self.desired.values().copied().collect();
        for res in declared {
            if selected.is_some_and(|s| !s.contains(&res.address)) {
                continue;
            }
            let live_before = observed.live.get(&res.address).and_then(Option::as_ref);
            if self.outcomes.contains_key(&res.address) || live_before.is_none() {
                continue;
            }
            // Unchanged and live: managed from now on. With --adopt, what the server holds
            // for fields it does not answer becomes the baseline.
            let mine = self
                .ledger
                .entries
                .get(&res.address)
                .is_none_or(|e| self.ledger.is_mine(e));
            if !mine {
                continue;
            }
            if adopt {
                let recorded = self.ledger.entries.get(&res.address);
                let kind = self.registry.of(&res.id).cloned();
                let mut fps = Vec::new();
                for (field, value) in &res.attrs {
                    if recorded.is_some_and(|e| e.fp.contains_key(field)) {
                        continue;
                    }
                    let write_only = live_before.is_some_and(|l| !l.contains_key(field))
                        || kind.as_ref().is_some_and(|k| k.write_only(field, value));
                    if (value.is_secret() || write_only)
                        && let Some(fp) = self.ledger.fingerprint(&res.address, field, value)
                    {
                        fps.push((field.clone(), fp));
                    }
                }
                if !fps.is_empty() || recorded.is_none() {
                    self.entry(&res.address, &res.id).fp.extend(fps);
                }
            } else if self
                .ledger
                .entries
                .get(&res.address)
                .is_none_or(|e| e.pending)
            {
                self.entry(&res.address, &res.id).pending = false;
            }
        }
        let owner = self.ledger.owner.clone();
        let outcomes = &self.outcomes;
        self.ledger.retain(|addr, e| {
            if !e.owner.is_empty() && e.owner != owner {
                return true;
            }
            let exists_before = matches!(observed.live.get(addr), Some(Some(_)));
            match outcomes.get(addr) {
                Some(Outcome::Done) => true,
                // Sent but unanswered: it stays if it exists after all.
                Some(Outcome::Failed(_)) if e.pending => still.get(addr).copied().unwrap_or(true),
                // Never sent: an intent that did not happen.
                Some(Outcome::Skipped(_) | Outcome::Cancelled) if e.pending => false,
                Some(_) => true,
                // A pending entry of an earlier, interrupted run: real if the object exists.
                None if e.pending => exists_before || !observed.live.contains_key(addr),
                None => !prune || exists_before || !observed.live.contains_key(addr),
            }
        });
        let settled: Vec<(Address, crate::model::ResourceId)> = self
            .ledger
            .entries
            .iter()
            .filter(|(a, e)| e.pending && matches!(observed.live.get(*a), Some(Some(_))))
            .map(|(a, e)| (a.clone(), e.id.clone()))
            .collect();
        for (a, id) in settled {
            self.entry(&a, &id).pending = false;
        }
        self.flush().await
    }
}
