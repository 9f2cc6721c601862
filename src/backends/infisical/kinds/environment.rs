//! Environments of a project (`/api/v1/projects/{projectId}/environments`), named by slug.
//!
//! `position` compares as the environment's rank (1-based) among the project's environments in
//! position order: Infisical leaves gaps when one is deleted and shifts the others when one is
//! inserted, so the numbers drift while the order the file means does not. A declared rank is
//! turned back into a server position from the positions the project's answer carries (falling
//! back to the rank itself when it carries none). Inserting shifts the others, so a project's
//! environment writes share one lane.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::lookup::Project;
use super::{Infisical, ORG_SCOPE, absent_ok, project_of, rid, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "environment";

pub static SPEC: KindSpec = spec::infisical(
    "infisical.projects.*.environments",
    Some("project"),
    &[],
    &[],
);

pub struct Environment {
    inf: Arc<Infisical>,
}

impl Environment {
    pub fn new(inf: Arc<Infisical>) -> Self {
        Environment { inf }
    }
}

/// The server position of an environment entry: its `position`, else its rank.
fn position_of(p: &Project, index: usize) -> u64 {
    p.environments
        .get(index)
        .and_then(|e| e.get("position"))
        .and_then(Value::as_u64)
        .unwrap_or(index as u64 + 1)
}

/// The position to create a new environment at so that it gets `rank`: the position of the
/// environment now at that rank (which shifts up), or after the last one.
pub fn insert_position(p: &Project, rank: u64) -> u64 {
    let i = rank.saturating_sub(1) as usize;
    if i < p.environments.len() {
        position_of(p, i)
    } else if p.environments.is_empty() {
        1
    } else {
        position_of(p, p.environments.len() - 1) + 1
    }
}

/// The position to move environment `slug` to so that it gets `rank`: a move shifts the ones
/// in between, so it takes the place of the environment now at that rank among the others.
pub fn move_position(p: &Project, slug: &str, rank: u64) -> Option<u64> {
    let (own_rank, _) = p.environment(slug)?;
    let own = position_of(p, own_rank - 1);
    let others: Vec<u64> = (0..p.environments.len())
        .filter(|i| *i != own_rank - 1)
        .map(|i| position_of(p, i))
        .collect();
    let i = (rank.saturating_sub(1) as usize).min(others.len());
    let target = match others.get(i) {
        // Moving up: take its place, it shifts down the order.
        Some(&at) if at < own => at,
        // Moving down: go just before it (the ones in between shift up the order).
        Some(&at) => at.saturating_sub(1).max(1),
        None => others.last().copied().unwrap_or(own).max(own),
    };
    Some(target)
}

#[async_trait]
impl Kind for Environment {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Infisical
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its folders and secrets"
    }

    fn destroy_order(&self) -> u8 {
        40
    }

    fn lane(&self, id: &ResourceId) -> Option<String> {
        Some(format!("infisical/{}/environments", id.namespace))
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(project_of(&id.namespace))
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some(p) = self
            .inf
            .lookup
            .project(&self.inf.client, &id.namespace)
            .await?
        else {
            return Ok(None);
        };
        Ok(p.environment(&id.name).map(|(rank, e)| {
            let mut live = Live::new();
            live.insert("name", e.get("name").cloned().unwrap_or(Value::Null));
            live.insert("slug", json!(id.name));
            live.insert("position", json!(rank));
            live
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let slug = &res.id.namespace;
        self.inf.lookup.forget_project(slug);
        let p = self.inf.project(slug).await?;
        if p.environment(&res.id.name).is_some() {
            // Made meanwhile (or by a first attempt whose answer was lost): converge it.
            let all = ["name", "position"].iter().map(|s| s.to_string()).collect();
            return self
                .update(res, &all, &Live::new())
                .await
                .map(|()| Made::none());
        }
        let mut body = json!({
            "name": wire(res, "name").unwrap_or_else(|| json!(res.id.name)),
            "slug": res.id.name,
        });
        if let Some(rank) = wire(res, "position").and_then(|v| v.as_u64()) {
            body["position"] = json!(insert_position(&p, rank));
        }
        let r = self
            .inf
            .client
            .call_project(
                Method::POST,
                &routes::environments(&p.id),
                &routes::legacy::environments(&p.id),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_project(slug);
        match r {
            Ok(_) => Ok(Made::none()),
            // Refused as a duplicate after a retry: the first attempt made it.
            Err(e) if e.may_have_landed() => {
                let p = self.inf.project(slug).await?;
                if p.environment(&res.id.name).is_some() {
                    Ok(Made::none())
                } else {
                    Err(e.into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let slug = &res.id.namespace;
        self.inf.lookup.forget_project(slug);
        let p = self.inf.project(slug).await?;
        let Some((_, env)) = p.environment(&res.id.name) else {
            return Err(BackendError::Refused(format!(
                "{}: the environment no longer exists",
                res.address
            )));
        };
        let env_id = env
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut body = Map::new();
        if changed.contains("name")
            && let Some(n) = wire(res, "name")
        {
            body.insert("name".into(), n);
        }
        if changed.contains("position")
            && let Some(rank) = wire(res, "position").and_then(|v| v.as_u64())
            && let Some(at) = move_position(&p, &res.id.name, rank)
        {
            body.insert("position".into(), json!(at));
        }
        if body.is_empty() {
            return Ok(());
        }
        let r = self
            .inf
            .client
            .call_project(
                Method::PATCH,
                &routes::environment(&p.id, &env_id),
                &routes::legacy::environment(&p.id, &env_id),
                Some(&Body::new(Value::Object(body))),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_project(slug);
        r.map(|_| ()).map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let slug = &id.namespace;
        let Some(p) = self.inf.lookup.project(&self.inf.client, slug).await? else {
            return Ok(());
        };
        let Some(env_id) = p
            .environment(&id.name)
            .and_then(|(_, e)| e.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Ok(());
        };
        let r = self
            .inf
            .client
            .call_project(
                Method::DELETE,
                &routes::environment(&p.id, &env_id).query("hardDelete", "true"),
                &routes::legacy::environment(&p.id, &env_id),
                None,
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_project(slug);
        absent_ok(r)
    }

    async fn list(
        &self,
        scope: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if scope == ORG_SCOPE {
            return Ok(Vec::new());
        }
        let Some(p) = self.inf.lookup.project(&self.inf.client, scope).await? else {
            return Ok(Vec::new());
        };
        Ok(p.environment_slugs()
            .iter()
            .map(|e| rid(scope, KIND, None, e))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(envs: Value) -> Project {
        Project {
            id: "p".into(),
            fields: json!({}),
            environments: envs.as_array().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn ranks_become_positions_across_gaps() {
        // Positions 1, 3, 4 after a delete: ranks 1, 2, 3.
        let p = project(json!([
            {"slug": "dev", "position": 1}, {"slug": "staging", "position": 3},
            {"slug": "prod", "position": 4}]));
        assert_eq!(p.environment("prod").map(|(r, _)| r), Some(3));
        assert_eq!(insert_position(&p, 3), 4, "before prod, which shifts");
        assert_eq!(insert_position(&p, 9), 5, "after the last");
        assert_eq!(move_position(&p, "prod", 1), Some(1), "up: dev's place");
        assert_eq!(move_position(&p, "dev", 3), Some(4), "down: to the end");
        assert_eq!(move_position(&p, "dev", 2), Some(3), "down: before prod");
        // Without positions in the answer, ranks stand in for them.
        let bare = project(json!([{"slug": "a"}, {"slug": "b"}]));
        assert_eq!(insert_position(&bare, 2), 2);
        assert_eq!(insert_position(&project(json!([])), 4), 1);
    }
}
