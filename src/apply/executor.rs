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

/// Deletions go level by level, children first: a level is released once every deletion of
/// the levels below it has succeeded. Levels instead of edges keep a prune of thousands of
/// objects linear (an edge from each deletion to every lower one would be quadratic).
struct DeleteLevels {
    /// Levels not released yet, lowest first.
    pending: std::collections::btree_map::IntoIter<u8, Vec<usize>>,
    /// Deletions of the released level still to finish.
    unfinished: usize,
}

impl DeleteLevels {
    fn new(plan: &Plan, registry: &Registry) -> Self {
        let mut levels: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for (i, c) in plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action == Action::Delete)
        {
            let order = registry
                .get(&c.id.kind)
                .map(|k| k.destroy_order())
                .unwrap_or(50);
            levels.entry(order).or_default().push(i);
        }
        DeleteLevels {
            pending: levels.into_iter(),
            unfinished: 0,
        }
    }

    /// The next level's deletions, once the current one is done.
    fn release(&mut self) -> Vec<usize> {
        if self.unfinished > 0 {
            return Vec::new();
        }
        match self.pending.next() {
            Some((_, level)) => {
                self.unfinished = level.len();
                level
            }
            None => Vec::new(),
        }
    }

    /// Every deletion not released yet (to skip them after a failure).
    fn rest(&mut self) -> Vec<usize> {
        self.pending.by_ref().flat_map(|(_, l)| l).collect()
    }
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
    let deps = dependencies(plan, &by_addr);
    let n = plan.changes.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut deletes = DeleteLevels::new(plan, registry);
    let mut ready: VecDeque<usize> = (0..n)
        .filter(|&i| waiting[i] == 0 && plan.changes[i].action != Action::Delete)
        .collect();
    ready.extend(deletes.release());
    let mut state = vec![State::Pending; n];
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let change = &plan.changes[i];
            if change.manual.is_some() {
                // Nothing to send; dependents go ahead (they may rely on the operator's step).
                release_dependents(i, &dependents, &mut waiting, &state, &mut ready);
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
        let is_delete = plan.changes[i].action == Action::Delete;
        let outcome = match result {
            Ok(()) => {
                release_dependents(i, &dependents, &mut waiting, &state, &mut ready);
                if is_delete {
                    deletes.unfinished -= 1;
                    ready.extend(deletes.release());
                }
                Outcome::Done
            }
            Err(e) => {
                // Everything downstream is skipped, naming the change that failed; after a
                // failed deletion, so are the deletions of the levels above it.
                let failed = plan.changes[i].address.clone();
                let mut stack = dependents[i].clone();
                if is_delete {
                    stack.extend(deletes.rest());
                }
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
    struct Recorder {
        name: &'static str,
        order: u8,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Recorder {
        fn note(&self, what: &str, name: &str) -> Result<(), BaoError> {
            if name.starts_with("bad") {
                return Err(BaoError::Refused("refused".into()));
            }
            self.log.lock().unwrap().push(format!("{what} {name}"));
            Ok(())
        }
    }

    #[async_trait]
    impl Kind for Recorder {
        fn name(&self) -> &'static str {
            self.name
        }
        fn destroy_order(&self) -> u8 {
            self.order
        }
        async fn read(&self, _: &ResourceId) -> Result<Option<Live>, BaoError> {
            Ok(None)
        }
        async fn create(&self, res: &DesiredResource) -> Result<(), BaoError> {
            self.note("create", &res.id.name)
        }
        async fn update(
            &self,
            _: &DesiredResource,
            _: &BTreeSet<String>,
            _: &Live,
        ) -> Result<(), BaoError> {
            Ok(())
        }
        async fn delete(&self, id: &ResourceId) -> Result<(), BaoError> {
            self.note("delete", &id.name)
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

    fn registry(log: &Arc<Mutex<Vec<String>>>) -> Registry {
        let mut registry = Registry::default();
        for (name, order) in [("thing", 50), ("leaf", 10), ("container", 90)] {
            registry.add(Arc::new(Recorder {
                name,
                order,
                log: Arc::clone(log),
            }));
        }
        registry
    }

    fn res(name: &str, deps: &[&str]) -> DesiredResource {
        let mut r = DesiredResource::new(ResourceId::new("", "thing", None, name), BTreeMap::new());
        r.depends_on = deps
            .iter()
            .map(|d| ResourceId::new("", "thing", None, d).address())
            .collect();
        r
    }

    fn desired(resources: Vec<DesiredResource>) -> Desired {
        Desired {
            file: "t.yaml".into(),
            conn: OpenBaoConn {
                address: None,
                token: None,
                ca_cert: None,
            },
            ledger_mount: "aegisctl".into(),
            resources,
            hosts: vec![],
            warnings: vec![],
        }
    }

    fn change(id: ResourceId, action: Action) -> Change {
        Change {
            address: id.address(),
            id,
            action,
            attrs: vec![],
            warning: None,
            manual: None,
        }
    }

    fn outcome(results: &[(Change, Outcome)], name: &str) -> Outcome {
        results
            .iter()
            .find(|(c, _)| c.id.name == name)
            .map(|(_, o)| o.clone())
            .unwrap()
    }

    #[tokio::test]
    async fn dependents_wait_and_failures_skip_downstream() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let desired = desired(vec![
            res("child", &["parent"]),
            res("parent", &[]),
            res("bad", &[]),
            res("after-bad", &["bad"]),
            res("after-after-bad", &["after-bad"]),
        ]);
        let plan = Plan {
            changes: desired
                .resources
                .iter()
                .map(|r| change(r.id.clone(), Action::Create))
                .collect(),
        };
        let results = execute(
            &plan,
            &desired,
            &Observed::default(),
            &registry(&log),
            4,
            &Quiet,
        )
        .await;
        assert_eq!(outcome(&results, "parent"), Outcome::Done);
        assert_eq!(outcome(&results, "child"), Outcome::Done);
        assert!(matches!(outcome(&results, "bad"), Outcome::Failed(_)));
        let bad = ResourceId::new("", "thing", None, "bad").address();
        assert_eq!(
            outcome(&results, "after-bad"),
            Outcome::Skipped(bad.clone())
        );
        assert_eq!(outcome(&results, "after-after-bad"), Outcome::Skipped(bad));
        let order = log.lock().unwrap().clone();
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(pos("create parent") < pos("create child"), "{order:?}");
    }

    #[tokio::test]
    async fn deletions_go_children_first_and_stop_above_a_failure() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let del =
            |kind: &str, name: &str| change(ResourceId::new("", kind, None, name), Action::Delete);
        // Listed containers first, to show the order comes from the levels, not the list.
        let plan = Plan {
            changes: vec![
                del("container", "c1"),
                del("thing", "t1"),
                del("leaf", "l1"),
                del("leaf", "l2"),
            ],
        };
        let results = execute(
            &plan,
            &desired(vec![]),
            &Observed::default(),
            &registry(&log),
            8,
            &Quiet,
        )
        .await;
        assert!(
            results.iter().all(|(_, o)| *o == Outcome::Done),
            "{results:?}"
        );
        let order = log.lock().unwrap().clone();
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(
            pos("delete l1") < pos("delete t1") && pos("delete l2") < pos("delete t1"),
            "{order:?}"
        );
        assert!(pos("delete t1") < pos("delete c1"), "{order:?}");

        log.lock().unwrap().clear();
        let plan = Plan {
            changes: vec![
                del("container", "c1"),
                del("leaf", "bad-leaf"),
                del("leaf", "l1"),
            ],
        };
        let results = execute(
            &plan,
            &desired(vec![]),
            &Observed::default(),
            &registry(&log),
            8,
            &Quiet,
        )
        .await;
        let failed = ResourceId::new("", "leaf", None, "bad-leaf").address();
        assert_eq!(outcome(&results, "l1"), Outcome::Done);
        assert_eq!(
            outcome(&results, "c1"),
            Outcome::Skipped(failed),
            "a container stays when a child could not go"
        );
    }
}
