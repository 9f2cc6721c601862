//! The executor: a dependency-ordered walk over a plan with bounded concurrency.
//!
//! A change starts once everything it depends on has succeeded (a mount before its roles and
//! keys, a policy before the roles naming it); when a change fails, everything downstream of it
//! is reported as skipped rather than attempted. Deletions run children first, level by level;
//! a failed deletion holds back only the containers it is in, not unrelated deletions. Before a
//! container is deleted its contents are listed again: anything the plan did not name (see
//! `plan::contents`) stops that delete. Each written object is read back at once (a write whose
//! answer was lost, or whose retry was refused as "already in use", counts as done when the
//! read-back carries what was sent), and every outcome goes to the caller's channel as it
//! happens, so the ledger is written as the apply goes. An interrupt ([`Cancel`]) stops the dispatching; writes in flight finish. Progress goes
//! to a [`Reporter`]; the executor itself prints nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc::UnboundedSender;

use super::levels::DeleteLevels;
pub use super::outcome::{ApplyReport, Cancel, Event, Outcome, Reporter};
use super::outcome::{Written, with_help};
use super::outputs::{MadeOutputs, with_outputs};
use crate::backends::{BackendError, Live, Made, Registry};
use crate::model::{Address, Desired, DesiredResource};
use crate::plan::contents::{handled_by, lost_with};
use crate::plan::{Action, Change, Observed, Plan};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum State {
    Pending,
    Running,
    Finished(Outcome),
}

/// For each change, the indices of the changes it must wait for.
fn dependencies(plan: &Plan, desired: &BTreeMap<&Address, &DesiredResource>) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    plan.changes
        .iter()
        .map(|c| {
            if c.action == Action::Delete {
                // Deletions are ordered by level instead (see `DeleteLevels`).
                Vec::new()
            } else {
                desired
                    .get(&c.address)
                    .map(|r| {
                        r.depends_on
                            .iter()
                            .filter_map(|d| index.get(d).copied())
                            .collect()
                    })
                    .unwrap_or_default()
            }
        })
        .collect()
}

/// A change succeeded (or was handed to the operator): its dependents may be ready now.
fn release_dependents(
    i: usize,
    dependents: &[Vec<usize>],
    waiting: &mut [usize],
    state: &[State],
    ready: &mut VecDeque<usize>,
) {
    for &j in &dependents[i] {
        waiting[j] -= 1;
        if waiting[j] == 0 && state[j] == State::Pending {
            ready.push_back(j);
        }
    }
}

/// Before a container goes: anything in it now that the plan did not name stops the delete.
async fn guard(
    registry: &Registry,
    change: &Change,
    live: Option<&Live>,
    deleting: &BTreeSet<Address>,
) -> Result<(), BackendError> {
    let Some(live) = live else { return Ok(()) };
    let lost = lost_with(registry, &change.id, live, deleting).await?;
    let accepted: BTreeSet<&str> = change.destroys.iter().map(String::as_str).collect();
    let new: Vec<String> = lost
        .iter()
        .map(|id| id.address().0)
        .filter(|a| !accepted.contains(a.as_str()))
        .collect();
    if new.is_empty() {
        Ok(())
    } else {
        Err(BackendError::Refused(format!(
            "refusing to delete {}: it now holds objects aegisctl does not manage and the plan did not list ({}); nothing was deleted",
            change.address,
            new.join(", ")
        )))
    }
}

async fn run_one(
    registry: &Registry,
    change: &Change,
    res: Option<&DesiredResource>,
    live: Option<&Live>,
    deleting: &BTreeSet<Address>,
    made: &MadeOutputs,
) -> Result<Written, BackendError> {
    let resolved = match res {
        Some(r) => with_outputs(registry, r, made).await?,
        None => None,
    };
    let live = send(
        registry,
        change,
        resolved.as_ref().or(res),
        live,
        deleting,
        made,
    )
    .await?;
    Ok(Written {
        live,
        sent: resolved,
    })
}

async fn send(
    registry: &Registry,
    change: &Change,
    res: Option<&DesiredResource>,
    live: Option<&Live>,
    deleting: &BTreeSet<Address>,
    made: &MadeOutputs,
) -> Result<Option<Live>, BackendError> {
    let kind = registry
        .of(&change.id)
        .ok_or_else(|| BackendError::Refused(format!("unknown kind `{}`", change.id.kind)))?;
    let keep = |m: Made| {
        if !m.outputs.is_empty()
            && let Ok(mut all) = made.lock()
        {
            all.insert(change.address.clone(), m);
        }
    };
    let need = || {
        BackendError::Refused(format!(
            "{} is not declared in the topology",
            change.address
        ))
    };
    match change.action {
        Action::Create => {
            let res = res.ok_or_else(need)?;
            let sent = kind.create(res).await.map(keep);
            return landed(kind.as_ref(), res, sent).await;
        }
        Action::Update => {
            let empty = Live::new();
            let res = res.ok_or_else(need)?;
            let sent = kind
                .update(res, &change.changed_names(), live.unwrap_or(&empty))
                .await;
            return landed(kind.as_ref(), res, sent).await;
        }
        Action::Replace => {
            let res = res.ok_or_else(need)?;
            guard(registry, change, live, deleting).await?;
            kind.delete(&change.id).await?;
            let sent = kind.create(res).await.map(keep);
            return landed(kind.as_ref(), res, sent).await;
        }
        Action::Delete => {
            guard(registry, change, live, deleting).await?;
            kind.delete(&change.id).await?;
            Ok(None)
        }
    }
}

/// After a write: the object read back (the ledger's fingerprints and "inconsistent after
/// apply" both need it as the server now has it; a failed read-back is not a failed write).
/// A write that failed in a way that may hide a success — its answer was lost, or its retry
/// was refused as "already in use" or as a check-and-set mismatch — is recognised by reading:
/// a live object carrying what was sent means the first attempt landed.
async fn landed(
    kind: &dyn crate::backends::Kind,
    res: &DesiredResource,
    sent: Result<(), BackendError>,
) -> Result<Option<Live>, BackendError> {
    match sent {
        Ok(()) => Ok(kind.read(&res.id).await.ok().flatten()),
        Err(e) if e.may_have_landed() => match kind.read(&res.id).await {
            Ok(Some(live)) if crate::plan::diff::carries(kind, res, &live) => {
                tracing::info!(address = %res.address, "a write whose answer was lost had landed");
                Ok(Some(live))
            }
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Everything [`execute`] needs besides the plan.
pub struct Run<'a> {
    pub desired: &'a Desired,
    pub observed: &'a Observed,
    pub registry: &'a Registry,
    pub parallelism: usize,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a Cancel,
    /// Receives every finished change as it finishes.
    pub events: UnboundedSender<Event>,
}

/// Walks the plan. Never fails as a whole: each change gets an outcome.
pub async fn execute(plan: &Plan, run: Run<'_>) -> Vec<(Change, Outcome)> {
    let Run {
        desired,
        observed,
        registry,
        parallelism,
        reporter,
        cancel,
        events,
    } = run;
    let by_addr: BTreeMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let deps = dependencies(plan, &by_addr);
    let n = plan.changes.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    // What this plan deletes or recreates itself: not "new" contents when a container's turn
    // comes.
    let deleting: BTreeSet<Address> = handled_by(plan);
    let deleting = &deleting;
    let mut state = vec![State::Pending; n];
    let mut deletes = DeleteLevels::new(plan, registry);
    let mut ready: VecDeque<usize> = (0..n)
        .filter(|&i| waiting[i] == 0 && plan.changes[i].action != Action::Delete)
        .collect();
    ready.extend(deletes.release(&state));
    let made: MadeOutputs = std::sync::Mutex::new(BTreeMap::new());
    let mut running = FuturesUnordered::new();
    // Lanes (see `Kind::lane`): at most one running change per lane; the others wait parked.
    let lane_of = |i: usize| {
        registry
            .of(&plan.changes[i].id)
            .and_then(|k| k.lane_of_change(&plan.changes[i].id, plan.changes[i].action))
    };
    let mut busy: BTreeSet<String> = BTreeSet::new();
    let mut parked: VecDeque<usize> = VecDeque::new();
    let finish = |i: usize, outcome: Outcome, written: Written, state: &mut Vec<State>| {
        reporter.finished(&plan.changes[i], &outcome);
        // The receiver only goes away when the apply itself is gone.
        let _ = events.send(Event {
            change: plan.changes[i].clone(),
            outcome: outcome.clone(),
            live: written.live,
            sent: written.sent.map(Box::new),
        });
        state[i] = State::Finished(outcome);
    };
    loop {
        while running.len() < parallelism.max(1) && !cancel.is_set() {
            let Some(i) = ready.pop_front() else { break };
            if state[i] != State::Pending {
                continue;
            }
            let change = &plan.changes[i];
            let lane = lane_of(i);
            if let Some(l) = &lane
                && busy.contains(l)
            {
                parked.push_back(i);
                continue;
            }
            if change.manual.is_some() {
                // Nothing to send; dependents go ahead (they may rely on the operator's step).
                release_dependents(i, &dependents, &mut waiting, &state, &mut ready);
                finish(i, Outcome::Manual, Written::none(), &mut state);
                continue;
            }
            state[i] = State::Running;
            if let Some(l) = lane {
                busy.insert(l);
            }
            reporter.started(change);
            let res = by_addr.get(&change.address).copied();
            let live = observed.live.get(&change.address).and_then(Option::as_ref);
            let made = &made;
            running.push(async move {
                (
                    i,
                    run_one(registry, change, res, live, deleting, made).await,
                )
            });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let is_delete = plan.changes[i].action == Action::Delete;
        if let Some(l) = lane_of(i) {
            busy.remove(&l);
            // Whatever waited for this lane may go now (still in the order it became ready).
            let mut back: VecDeque<usize> = std::mem::take(&mut parked);
            back.extend(ready.drain(..));
            ready = back;
        }
        match result {
            Ok(written) => {
                release_dependents(i, &dependents, &mut waiting, &state, &mut ready);
                finish(i, Outcome::Done, written, &mut state);
            }
            Err(e) => {
                // Everything downstream is skipped, naming the change that failed; after a
                // failed deletion, so are the deletions of the containers it is in.
                let failed = plan.changes[i].address.clone();
                let mut stack = dependents[i].clone();
                if is_delete {
                    let mut up = registry.container(&plan.changes[i].id);
                    while let Some(c) = up {
                        if let Some(&j) = index.get(&c.address())
                            && plan.changes[j].action == Action::Delete
                        {
                            stack.push(j);
                        }
                        up = registry.container(&c);
                    }
                }
                finish(
                    i,
                    Outcome::Failed(with_help(&e)),
                    Written::none(),
                    &mut state,
                );
                while let Some(j) = stack.pop() {
                    if state[j] != State::Pending {
                        continue;
                    }
                    finish(
                        j,
                        Outcome::Skipped(failed.clone()),
                        Written::none(),
                        &mut state,
                    );
                    stack.extend(dependents[j].iter().copied());
                    let more = deletes.ended(j, &state);
                    ready.extend(more);
                }
            }
        }
        if is_delete {
            let more = deletes.ended(i, &state);
            ready.extend(more);
        }
    }
    for i in 0..n {
        if state[i] == State::Pending {
            // Not reached: an interrupt stopped the dispatching first.
            finish(i, Outcome::Cancelled, Written::none(), &mut state);
        }
    }
    plan.changes
        .iter()
        .zip(state)
        .map(|(c, s)| {
            let outcome = match s {
                State::Finished(o) => o,
                _ => Outcome::Cancelled,
            };
            (c.clone(), outcome)
        })
        .collect()
}

#[cfg(test)]
#[path = "executor_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "lanes_tests.rs"]
mod lanes_tests;
