//! The executor: a dependency-ordered walk over a plan with bounded concurrency.
//!
//! A change starts once everything it depends on has succeeded (a mount before its roles and
//! keys, a policy before the roles naming it); when a change fails, everything downstream of it
//! is reported as skipped rather than attempted. Deletions run children first. Progress goes to
//! a [`Reporter`]; the executor itself prints nothing.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::backends::{BaoError, Live, Registry};
use crate::model::{Address, Desired, DesiredResource};
use crate::plan::{Action, Change, Observed, Plan};

/// How one change ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted because this upstream change failed.
    Skipped(Address),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// Receives progress events (the CLI turns them into a progress bar or log lines).
pub trait Reporter: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, change: &Change, outcome: &Outcome);
}

/// What an apply did, change by change, plus what still differs after the re-read.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub results: Vec<(Change, Outcome)>,
    pub inconsistent: Vec<Change>,
}

impl ApplyReport {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .count()
    }
    pub fn skipped(&self) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Skipped(_)))
            .count()
    }
    pub fn succeeded(&self) -> Vec<Change> {
        self.results
            .iter()
            .filter(|(_, o)| *o == Outcome::Done)
            .map(|(c, _)| c.clone())
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Pending,
    Running,
    Finished(Outcome),
}

/// For each change, the indices of the changes it must wait for.
fn dependencies(
    plan: &Plan,
    desired: &BTreeMap<&Address, &DesiredResource>,
    registry: &Registry,
) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let order = |c: &Change| {
        registry
            .get(&c.id.kind)
            .map(|k| k.destroy_order())
            .unwrap_or(50)
    };
    plan.changes
        .iter()
        .map(|c| {
            if c.action == Action::Delete {
                // Children (lower destroy order) go before the things they live in.
                plan.changes
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.action == Action::Delete && order(o) < order(c))
                    .map(|(i, _)| i)
                    .collect()
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

async fn run_one(
    registry: &Registry,
    change: &Change,
    res: Option<&DesiredResource>,
    live: Option<&Live>,
) -> Result<(), BaoError> {
    let kind = registry
        .get(&change.id.kind)
        .ok_or_else(|| BaoError::Refused(format!("unknown kind `{}`", change.id.kind)))?;
    let need = || {
        BaoError::Refused(format!(
            "{} is not declared in the topology",
            change.address
        ))
    };
    match change.action {
        Action::Create => kind.create(res.ok_or_else(need)?).await,
        Action::Update => {
            let empty = Live::new();
            kind.update(
                res.ok_or_else(need)?,
                &change.changed_names(),
                live.unwrap_or(&empty),
            )
            .await
        }
        Action::Replace => {
            kind.delete(&change.id).await?;
            kind.create(res.ok_or_else(need)?).await
        }
        Action::Delete => kind.delete(&change.id).await,
    }
}

/// Walks the plan. Never fails as a whole: each change gets an outcome.
pub async fn execute(
    plan: &Plan,
    desired: &Desired,
    observed: &Observed,
    registry: &Registry,
    parallelism: usize,
    reporter: &dyn Reporter,
) -> Vec<(Change, Outcome)> {
    let by_addr: BTreeMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let deps = dependencies(plan, &by_addr, registry);
    let n = plan.changes.len();
    let mut state = vec![State::Pending; n];
    let mut running = FuturesUnordered::new();
    loop {
        // Skip what cannot run because something upstream failed or was skipped.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for i in 0..n {
                if state[i] != State::Pending {
                    continue;
                }
                let blocked = deps[i].iter().find_map(|&d| match &state[d] {
                    State::Finished(Outcome::Failed(_)) => Some(plan.changes[d].address.clone()),
                    State::Finished(Outcome::Skipped(up)) => Some(up.clone()),
                    _ => None,
                });
                if let Some(up) = blocked {
                    let outcome = Outcome::Skipped(up);
                    reporter.finished(&plan.changes[i], &outcome);
                    state[i] = State::Finished(outcome);
                    progressed = true;
                }
            }
        }
        for i in 0..n {
            if running.len() >= parallelism.max(1) {
                break;
            }
            let ready = state[i] == State::Pending
                && deps[i]
                    .iter()
                    .all(|&d| state[d] == State::Finished(Outcome::Done));
            if ready {
                state[i] = State::Running;
                let change = &plan.changes[i];
                reporter.started(change);
                let res = by_addr.get(&change.address).copied();
                let live = observed.live.get(&change.address).and_then(Option::as_ref);
                running.push(async move { (i, run_one(registry, change, res, live).await) });
            }
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let outcome = match result {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        reporter.finished(&plan.changes[i], &outcome);
        state[i] = State::Finished(outcome);
    }
    plan.changes
        .iter()
        .zip(state)
        .map(|(c, s)| {
            let outcome = match s {
                State::Finished(o) => o,
                // Unreachable in practice: every pending change either ran or was skipped.
                _ => Outcome::Failed("not attempted".into()),
            };
            (c.clone(), outcome)
        })
        .collect()
}
