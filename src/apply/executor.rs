//! The executor: a dependency-ordered walk over a plan with bounded concurrency.
//!
//! A change starts once everything it depends on has succeeded (a mount before its roles and
//! keys, a policy before the roles naming it); when a change fails, everything downstream of it
//! is reported as skipped rather than attempted. Deletions run children first. Progress goes to
//! a [`Reporter`]; the executor itself prints nothing.

use std::collections::{BTreeMap, HashMap, VecDeque};

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
    /// Not attempted: the server does not take it through its API; the plan says what to do.
    Manual,
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Manual => "manual",
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
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut state = vec![State::Pending; n];
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let change = &plan.changes[i];
            if change.manual.is_some() {
                // Nothing to send; dependents go ahead (they may rely on the operator's step).
                for &j in &dependents[i] {
                    waiting[j] -= 1;
                    if waiting[j] == 0 && state[j] == State::Pending {
                        ready.push_back(j);
                    }
                }
                reporter.finished(change, &Outcome::Manual);
                state[i] = State::Finished(Outcome::Manual);
                continue;
            }
            state[i] = State::Running;
            reporter.started(change);
            let res = by_addr.get(&change.address).copied();
            let live = observed.live.get(&change.address).and_then(Option::as_ref);
            running.push(async move { (i, run_one(registry, change, res, live).await) });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let outcome = match result {
            Ok(()) => {
                for &j in &dependents[i] {
                    waiting[j] -= 1;
                    if waiting[j] == 0 && state[j] == State::Pending {
                        ready.push_back(j);
                    }
                }
                Outcome::Done
            }
            Err(e) => {
                // Everything downstream is skipped, naming the change that failed.
                let failed = plan.changes[i].address.clone();
                let mut stack = dependents[i].clone();
                while let Some(j) = stack.pop() {
                    if state[j] != State::Pending {
                        continue;
                    }
                    let skipped = Outcome::Skipped(failed.clone());
                    reporter.finished(&plan.changes[j], &skipped);
                    state[j] = State::Finished(skipped);
                    stack.extend(dependents[j].iter().copied());
                }
                Outcome::Failed(e.to_string())
            }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::backends::Kind;
    use crate::model::{OpenBaoConn, ResourceId};

    /// A kind that records the order of writes and fails for names starting with "bad".
    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl Kind for Recorder {
        fn name(&self) -> &'static str {
            "thing"
        }
        async fn read(&self, _: &ResourceId) -> Result<Option<Live>, BaoError> {
            Ok(None)
        }
        async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
            if res.id.name.starts_with("bad") {
                return Err(BaoError::Refused("refused".into()));
            }
            self.0.lock().unwrap().push(res.id.name.clone());
            Ok(())
        }
        async fn update(
            &self,
            _: &DesiredResource,
            _: &BTreeSet<String>,
            _: &Live,
        ) -> Result<(), BaoError> {
            Ok(())
        }
        async fn delete(&self, _: &ResourceId) -> Result<(), BaoError> {
            Ok(())
        }
        async fn list(&self, _: &str, _: &[&DesiredResource]) -> Result<Vec<ResourceId>, BaoError> {
            Ok(vec![])
        }
    }

    struct Quiet;
    impl Reporter for Quiet {
        fn started(&self, _: &Change) {}
        fn finished(&self, _: &Change, _: &Outcome) {}
    }

    fn res(name: &str, deps: &[&str]) -> DesiredResource {
        let mut r = DesiredResource::new(ResourceId::new("", "thing", None, name), BTreeMap::new());
        r.depends_on = deps
            .iter()
            .map(|d| ResourceId::new("", "thing", None, d).address())
            .collect();
        r
    }

    #[tokio::test]
    async fn dependents_wait_and_failures_skip_downstream() {
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let mut registry = Registry::default();
        registry.add(recorder.clone());
        let desired = Desired {
            file: "t.yaml".into(),
            conn: OpenBaoConn {
                address: None,
                token: None,
                ca_cert: None,
            },
            ledger_mount: "aegisctl".into(),
            resources: vec![
                res("child", &["parent"]),
                res("parent", &[]),
                res("bad", &[]),
                res("after-bad", &["bad"]),
                res("after-after-bad", &["after-bad"]),
            ],
            hosts: vec![],
            warnings: vec![],
        };
        let plan = Plan {
            changes: desired
                .resources
                .iter()
                .map(|r| Change {
                    address: r.address.clone(),
                    id: r.id.clone(),
                    action: Action::Create,
                    attrs: vec![],
                    warning: None,
                    manual: None,
                })
                .collect(),
        };
        let results = execute(&plan, &desired, &Observed::default(), &registry, 4, &Quiet).await;
        let outcome = |n: &str| {
            results
                .iter()
                .find(|(c, _)| c.id.name == n)
                .map(|(_, o)| o.clone())
                .unwrap()
        };
        assert_eq!(outcome("parent"), Outcome::Done);
        assert_eq!(outcome("child"), Outcome::Done);
        assert!(matches!(outcome("bad"), Outcome::Failed(_)));
        let bad = ResourceId::new("", "thing", None, "bad").address();
        assert_eq!(outcome("after-bad"), Outcome::Skipped(bad.clone()));
        assert_eq!(outcome("after-after-bad"), Outcome::Skipped(bad));
        let order = recorder.0.lock().unwrap().clone();
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(pos("parent") < pos("child"), "{order:?}");
    }
}
