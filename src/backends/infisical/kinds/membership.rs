//! An identity's membership of a project (`/api/v1/projects/{pid}/memberships/identities/{iid}`),
//! named by the identity's name in the project's scope: `infisical[p].membership["agent-runner"]`.
//!
//! `roles` is the set of the membership's permanent role slugs (a custom role by its own slug);
//! temporary roles are not aegisctl's and are not compared. An update replaces the whole role
//! set. The server makes the tool's identity `admin` of every project it creates: that
//! membership is never listed, so it is never pruned (the server refuses to delete it anyway).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Infisical, ORG_SCOPE, absent_ok, project_of, rid, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "membership";

pub static SPEC: KindSpec =
    spec::infisical("infisical.identities.*.projects", Some("project"), &[], &[]);

pub struct Membership {
    inf: Arc<Infisical>,
}

impl Membership {
    pub fn new(inf: Arc<Infisical>) -> Self {
        Membership { inf }
    }

    /// The membership's project id and identity id; `None` when either is absent.
    async fn ids(&self, id: &ResourceId) -> Result<Option<(String, String)>, BackendError> {
        let Some(p) = self
            .inf
            .lookup
            .project(&self.inf.client, &id.namespace)
            .await?
        else {
            return Ok(None);
        };
        let Some(iid) = self
            .inf
            .lookup
            .identity_id(&self.inf.client, &id.name)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((p.id, iid)))
    }

    async fn write(
        &self,
        method: Method,
        res: &DesiredResource,
        pid: &str,
        iid: &str,
    ) -> Result<(), crate::backends::infisical::InfisicalError> {
        self.inf
            .client
            .call_project(
                method,
                &routes::membership(pid, iid),
                &routes::legacy::membership(pid, iid),
                Some(&Body::new(body_of(res))),
                Retry::Safe,
            )
            .await
            .map(|_| ())
    }
}

/// The request body: every declared role, permanent.
pub fn body_of(res: &DesiredResource) -> Value {
    let roles: Vec<Value> = role_set(&wire(res, "roles").unwrap_or(json!([])))
        .into_iter()
        .map(|r| json!({"role": r, "isTemporary": false}))
        .collect();
    json!({ "roles": roles })
}

/// A list of role slugs as a sorted set (a single slug is a set of one).
fn role_set(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

/// The permanent role slugs of a membership answer (`customRoleSlug` for a custom role).
pub fn roles_of(membership: &Value) -> Vec<String> {
    let mut out: Vec<String> = membership
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter(|r| r.get("isTemporary").and_then(Value::as_bool) != Some(true))
                .filter_map(|r| {
                    let role = r.get("role").and_then(Value::as_str)?;
                    match r.get("customRoleSlug").and_then(Value::as_str) {
                        Some(slug) if role == "custom" && !slug.is_empty() => Some(slug.to_owned()),
                        _ => Some(role.to_owned()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

#[async_trait]
impl Kind for Membership {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Infisical
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn destroy_order(&self) -> u8 {
        20
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(project_of(&id.namespace))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        if field == "roles" {
            json!(role_set(&value))
        } else {
            value
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some((pid, iid)) = self.ids(id).await? else {
            return Ok(None);
        };
        let Some(mut v) = self
            .inf
            .client
            .get_project(
                &routes::membership(&pid, &iid),
                &routes::legacy::membership(&pid, &iid),
            )
            .await?
        else {
            return Ok(None);
        };
        let m = v
            .get_mut("identityMembership")
            .map(Value::take)
            .unwrap_or(v);
        let mut live = Live::new();
        live.insert("roles", json!(roles_of(&m)));
        Ok(Some(live))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let Some((pid, iid)) = self.ids(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: its project or its identity does not exist",
                res.address
            )));
        };
        match self.write(Method::POST, res, &pid, &iid).await {
            Ok(()) => Ok(Made::none()),
            // A member already (the creator of a project, a first attempt, or meanwhile): make
            // its roles the declared ones.
            Err(e) if e.is_duplicate() => {
                let have = self.read(&res.id).await?;
                let want = role_set(&wire(res, "roles").unwrap_or(json!([])));
                if have.as_ref().and_then(|l| l.get("roles")) != Some(&json!(want)) {
                    self.write(Method::PATCH, res, &pid, &iid).await?;
                }
                Ok(Made::none())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let Some((pid, iid)) = self.ids(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: its project or its identity no longer exists",
                res.address
            )));
        };
        self.write(Method::PATCH, res, &pid, &iid)
            .await
            .map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some((pid, iid)) = self.ids(id).await? else {
            return Ok(());
        };
        let r = self
            .inf
            .client
            .call_project(
                Method::DELETE,
                &routes::membership(&pid, &iid),
                &routes::legacy::membership(&pid, &iid),
                None,
                Retry::Safe,
            )
            .await;
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
        let own = self.inf.lookup.own_identity(&self.inf.client).await?;
        let Some(v) = self
            .inf
            .client
            .get_project(
                &routes::memberships(&p.id),
                &routes::legacy::memberships(&p.id),
            )
            .await?
        else {
            return Ok(Vec::new());
        };
        let items = v
            .get("identityMemberships")
            .or_else(|| v.get("memberships"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let names: BTreeSet<String> = items
            .iter()
            .filter(|m| {
                let iid = m
                    .get("identityId")
                    .or_else(|| m.pointer("/identity/id"))
                    .and_then(Value::as_str);
                iid.is_some() && iid != own.as_deref()
            })
            .filter_map(|m| m.pointer("/identity/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        Ok(names.iter().map(|n| rid(scope, KIND, None, n)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrValue;
    use std::collections::BTreeMap;

    #[test]
    fn roles_are_permanent_slugs_as_a_set() {
        let m = json!({"roles": [
            {"role": "viewer", "isTemporary": false},
            {"role": "custom", "customRoleSlug": "deployer", "isTemporary": false},
            {"role": "admin", "isTemporary": true}]});
        assert_eq!(roles_of(&m), vec!["deployer", "viewer"]);
        let id = rid("homelab-apps", KIND, None, "agent-runner");
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "roles".into(),
            AttrValue::Plain(json!(["viewer", "viewer"])),
        );
        let res = DesiredResource::new(id, attrs);
        assert_eq!(
            body_of(&res),
            json!({"roles": [{"role": "viewer", "isTemporary": false}]})
        );
    }
}
