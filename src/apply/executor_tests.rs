//! Tests of the executor (compiled under #[cfg(test)] only, from executor.rs): dependency
//! order, skipped dependents, deletion levels, interrupts.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::backends::{Kind, Made};
use crate::model::{OpenBaoConn, ResourceId};

/// A kind that records the order of writes and fails for names starting with "bad".
/// `mount` kinds contain the objects whose `mount` names them (as OpenBao mounts do).
struct Recorder {
    name: &'static str,
    order: u8,
    log: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn note(&self, what: &str, name: &str) -> Result<(), BackendError> {
        if name.starts_with("bad") {
            return Err(BackendError::Refused("refused".into()));
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
    async fn read(&self, _: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(None)
    }
    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        self.note("create", &res.id.name).map(|()| Made::none())
    }
    async fn update(
        &self,
        _: &DesiredResource,
        _: &BTreeSet<String>,
        _: &Live,
    ) -> Result<(), BackendError> {
        Ok(())
    }
    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.note("delete", &id.name)
    }
    async fn list(&self, _: &str, _: &[&DesiredResource]) -> Result<Vec<ResourceId>, BackendError> {
        Ok(vec![])
    }
}

pub(super) struct Quiet;
impl Reporter for Quiet {
    fn started(&self, _: &Change) {}
    fn finished(&self, _: &Change, _: &Outcome) {}
}

pub(super) fn registry(log: &Arc<Mutex<Vec<String>>>) -> Registry {
    let mut registry = Registry::default();
    for (name, order) in [("thing", 50), ("leaf", 10), ("mount", 90)] {
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

pub(super) fn desired(resources: Vec<DesiredResource>) -> Desired {
    Desired {
        file: "t.yaml".into(),
        name: "t".into(),
        source: None,
        conn: OpenBaoConn {
            address: None,
            token: None,
            ca_cert: None,
        },
        keycloak: None,
        infisical: None,
        ledger_mount: "aegisctl".into(),
        resources,
        hosts: vec![],
        warnings: vec![],
    }
}

fn outcome(results: &[(Change, Outcome)], name: &str) -> Outcome {
    results
        .iter()
        .find(|(c, _)| c.id.name == name)
        .map(|(_, o)| o.clone())
        .unwrap()
}

async fn run(
    plan: &Plan,
    desired: &Desired,
    log: &Arc<Mutex<Vec<String>>>,
    cancel: &Cancel,
) -> (Vec<(Change, Outcome)>, Vec<Event>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let registry = registry(log);
    let results = execute(
        plan,
        Run {
            desired,
            observed: &Observed::default(),
            registry: &registry,
            parallelism: 4,
            reporter: &Quiet,
            cancel,
            events: tx,
        },
    )
    .await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (results, events)
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
            .map(|r| Change::new(r.id.clone(), Action::Create, vec![]))
            .collect(),
    };
    let (results, events) = run(&plan, &desired, &log, &Cancel::default()).await;
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
    assert_eq!(
        events.len(),
        5,
        "every outcome reaches the recorder as it happens"
    );
}

fn del(kind: &str, mount: Option<&str>, name: &str) -> Change {
    Change::new(
        ResourceId::new("", kind, mount, name),
        Action::Delete,
        vec![],
    )
}

#[tokio::test]
async fn deletions_go_children_first_and_a_failure_holds_back_only_its_containers() {
    let log = Arc::new(Mutex::new(Vec::new()));
    // Listed containers first, to show the order comes from the levels, not the list.
    let plan = Plan {
        changes: vec![
            del("mount", None, "m1"),
            del("thing", None, "t1"),
            del("leaf", Some("m1"), "l1"),
            del("leaf", Some("m1"), "l2"),
        ],
    };
    let (results, _) = run(&plan, &desired(vec![]), &log, &Cancel::default()).await;
    assert!(
        results.iter().all(|(_, o)| *o == Outcome::Done),
        "{results:?}"
    );
    let order = log.lock().unwrap().clone();
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(
        pos("delete l1") < pos("delete m1") && pos("delete l2") < pos("delete m1"),
        "{order:?}"
    );

    log.lock().unwrap().clear();
    let plan = Plan {
        changes: vec![
            del("mount", None, "m1"),
            del("mount", None, "m2"),
            del("leaf", Some("m1"), "bad-leaf"),
            del("leaf", Some("m2"), "l1"),
            del("thing", None, "t1"),
        ],
    };
    let (results, _) = run(&plan, &desired(vec![]), &log, &Cancel::default()).await;
    let failed = ResourceId::new("", "leaf", Some("m1"), "bad-leaf").address();
    assert_eq!(
        outcome(&results, "m1"),
        Outcome::Skipped(failed),
        "a mount stays when something in it could not go"
    );
    assert_eq!(outcome(&results, "l1"), Outcome::Done);
    assert_eq!(
        outcome(&results, "t1"),
        Outcome::Done,
        "unrelated deletions go on"
    );
    assert_eq!(
        outcome(&results, "m2"),
        Outcome::Done,
        "so does another mount"
    );
}

#[tokio::test]
async fn an_interrupt_stops_dispatching() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let desired = desired((0..10).map(|i| res(&format!("r{i}"), &[])).collect());
    let plan = Plan {
        changes: desired
            .resources
            .iter()
            .map(|r| Change::new(r.id.clone(), Action::Create, vec![]))
            .collect(),
    };
    let cancel = Cancel::default();
    cancel.set();
    let (results, events) = run(&plan, &desired, &log, &cancel).await;
    assert!(results.iter().all(|(_, o)| *o == Outcome::Cancelled));
    assert!(log.lock().unwrap().is_empty(), "nothing was sent");
    assert_eq!(events.len(), 10);
}
