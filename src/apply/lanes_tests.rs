//! Tests of lanes and outputs in the executor (compiled under #[cfg(test)] only, from
//! executor.rs): one change per lane at a time while lanes run beside each other, and what a
//! create made passed to the object that takes it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::tests::{Quiet, desired, registry};
use super::*;
use crate::backends::{Kind, Made};
use crate::model::{AttrValue, ResourceId};

/// A kind whose objects share a lane per `namespace` and which measures how many of its writes
/// run at once, per lane and in all; its creates make a `secret` output.
struct Laned {
    running: Mutex<BTreeMap<String, usize>>,
    most_per_lane: Mutex<usize>,
    most_at_once: Mutex<usize>,
}

#[async_trait]
impl Kind for Laned {
    fn name(&self) -> &'static str {
        "laned"
    }
    fn lane(&self, id: &ResourceId) -> Option<String> {
        (!id.name.starts_with("free")).then(|| id.namespace.clone())
    }
    async fn read(&self, _: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(None)
    }
    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let lane = res.id.namespace.clone();
        {
            let mut running = self.running.lock().unwrap();
            *running.entry(lane.clone()).or_default() += 1;
            let total: usize = running.values().sum();
            let mut most = self.most_per_lane.lock().unwrap();
            if !res.id.name.starts_with("free") {
                *most = (*most).max(running[&lane]);
            }
            let mut at_once = self.most_at_once.lock().unwrap();
            *at_once = (*at_once).max(total);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        *self.running.lock().unwrap().entry(lane).or_default() -= 1;
        let mut made = Made::none();
        made.outputs.insert(
            "secret".into(),
            crate::sensitive::Sensitive::new(crate::backends::SecretJson(serde_json::json!(
                format!("made-by-{}", res.id.name)
            ))),
        );
        Ok(made)
    }
    async fn update(
        &self,
        _: &DesiredResource,
        _: &BTreeSet<String>,
        _: &Live,
    ) -> Result<(), BackendError> {
        Ok(())
    }
    async fn delete(&self, _: &ResourceId) -> Result<(), BackendError> {
        Ok(())
    }
    async fn list(&self, _: &str, _: &[&DesiredResource]) -> Result<Vec<ResourceId>, BackendError> {
        Ok(vec![])
    }
}

#[tokio::test]
async fn a_lane_runs_one_change_at_a_time_while_other_lanes_run_beside_it() {
    let kind = Arc::new(Laned {
        running: Mutex::new(BTreeMap::new()),
        most_per_lane: Mutex::new(0),
        most_at_once: Mutex::new(0),
    });
    let mut registry = Registry::default();
    registry.add(kind.clone());
    let mut resources = Vec::new();
    for lane in ["realm-a", "realm-b"] {
        for i in 0..4 {
            resources.push(DesiredResource::new(
                ResourceId::new(lane, "laned", None, &format!("obj-{i}")),
                BTreeMap::new(),
            ));
        }
    }
    resources.push(DesiredResource::new(
        ResourceId::new("realm-a", "laned", None, "free-1"),
        BTreeMap::new(),
    ));
    let desired = desired(resources);
    let plan = Plan {
        changes: desired
            .resources
            .iter()
            .map(|r| Change::new(r.id.clone(), Action::Create, vec![]))
            .collect(),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let results = execute(
        &plan,
        Run {
            desired: &desired,
            observed: &Observed::default(),
            registry: &registry,
            parallelism: 8,
            reporter: &Quiet,
            cancel: &Cancel::default(),
            events: tx,
        },
    )
    .await;
    assert!(
        results.iter().all(|(_, o)| *o == Outcome::Done),
        "{results:?}"
    );
    assert_eq!(
        *kind.most_per_lane.lock().unwrap(),
        1,
        "two writes of one lane at once"
    );
    assert!(
        *kind.most_at_once.lock().unwrap() >= 2,
        "lanes (and what has none) must still run beside each other"
    );
}

#[tokio::test]
async fn an_output_made_by_a_create_is_passed_to_the_object_that_takes_it() {
    let kind = Arc::new(Laned {
        running: Mutex::new(BTreeMap::new()),
        most_per_lane: Mutex::new(0),
        most_at_once: Mutex::new(0),
    });
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut registry = registry(&log);
    registry.add(kind);
    let producer = ResourceId::new("r", "laned", None, "client");
    let mut consumer = DesiredResource::new(
        ResourceId::new("", "thing", None, "kv"),
        BTreeMap::from([(
            "client_secret".to_owned(),
            AttrValue::Output(crate::model::OutputRef {
                producer: producer.clone(),
                name: "secret".into(),
            }),
        )]),
    );
    consumer.depends_on = vec![producer.address()];
    let made = MadeOutputs::default();
    let producer_res = DesiredResource::new(producer.clone(), BTreeMap::new());
    let change = Change::new(producer.clone(), Action::Create, vec![]);
    run_one(
        &registry,
        &change,
        Some(&producer_res),
        None,
        &BTreeSet::new(),
        &made,
    )
    .await
    .expect("the producer is made");
    let filled = with_outputs(&registry, &consumer, &made)
        .await
        .expect("filled")
        .expect("it takes an output");
    match filled.attrs.get("client_secret") {
        Some(AttrValue::Secret(s)) => assert_eq!(s.expose().0, serde_json::json!("made-by-client")),
        other => panic!("not filled: {other:?}"),
    }
}
