//! Projects (`/api/v1/projects`), named by slug, which is also their scope: `infisical[p].project["p"]`.
//!
//! Slugs are unique per organization, names are not, so a project is found by slug only. A
//! duplicate must never be made: create reads by slug first, and a create whose first attempt
//! may have landed (a retry refused as a duplicate, or the legacy 500 `Create`) reads again and
//! takes the project it finds. Reads come from one listing of every project the tool is a member
//! of when the plan prefetches (`GET /api/v1/projects`), else from a read by slug (which answers
//! the bare object). The tool's identity becomes `admin` of the projects it creates (contract §7).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Infisical, ORG_SCOPE, absent_ok, rid, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "project";

pub static SPEC: KindSpec = spec::infisical("infisical.projects", None, &[], &[]);

/// aegisctl's attribute names and the API's.
const FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("description", "description"),
    ("auto_capitalization", "autoCapitalization"),
    ("has_delete_protection", "hasDeleteProtection"),
];

pub struct ProjectKind {
    inf: Arc<Infisical>,
}

impl ProjectKind {
    pub fn new(inf: Arc<Infisical>) -> Self {
        ProjectKind { inf }
    }

    /// The live form of a project's answer: aegisctl's names.
    fn live(fields: &Value) -> Live {
        let mut live = Live::new();
        for (ours, api) in FIELDS {
            if let Some(v) = fields.get(*api) {
                live.insert(*ours, v.clone());
            }
        }
        if let Some(slug) = fields.get("slug") {
            live.insert("slug", slug.clone());
        }
        live
    }

    /// A PATCH of the declared fields `which` selects (nothing sent when none is).
    async fn patch(
        &self,
        res: &DesiredResource,
        project_id: &str,
        which: impl Fn(&str) -> bool,
    ) -> Result<(), BackendError> {
        let mut body = Map::new();
        for (ours, api) in FIELDS {
            if which(ours)
                && let Some(v) = wire(res, ours)
            {
                body.insert((*api).into(), v);
            }
        }
        if body.is_empty() {
            return Ok(());
        }
        self.inf.lookup.forget_project(&res.id.name);
        self.inf
            .client
            .call_project(
                Method::PATCH,
                &routes::project(project_id),
                &routes::legacy::project(&res.id.name),
                Some(&Body::new(Value::Object(body))),
                Retry::Safe,
            )
            .await?;
        self.inf.lookup.forget_project(&res.id.name);
        Ok(())
    }
}

#[async_trait]
impl Kind for ProjectKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Infisical
    }

    fn immutable(&self) -> &'static [&'static str] {
        &[]
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its environments, folders and secrets"
    }

    fn destroy_order(&self) -> u8 {
        60
    }

    fn container(&self, _id: &ResourceId) -> Option<ResourceId> {
        None
    }

    async fn prefetch(&self, _scope: &str, _ids: &[&ResourceId]) -> Result<(), BackendError> {
        self.inf.lookup.list_projects(&self.inf.client).await?;
        Ok(())
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let found = self.inf.lookup.project(&self.inf.client, &id.name).await?;
        Ok(found.map(|p| Self::live(&p.fields)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let slug = &res.id.name;
        // Never a duplicate: a project that exists already is converged instead.
        self.inf.lookup.forget_project(slug);
        if let Some(p) = self.inf.lookup.project(&self.inf.client, slug).await? {
            return self
                .patch(res, &p.id, |_| true)
                .await
                .map(|()| Made::none());
        }
        let name = wire(res, "name").unwrap_or_else(|| Value::String(slug.clone()));
        let mut body = json!({
            "projectName": name,
            "slug": slug,
            "shouldCreateDefaultEnvs": false,
        });
        if let Some(d) = wire(res, "description") {
            body["projectDescription"] = d;
        }
        let created = self
            .inf
            .client
            .call_project(
                Method::POST,
                &routes::projects(),
                &routes::legacy::projects(),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_project(slug);
        let project_id = match created {
            Ok(v) => v
                .pointer("/project/id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Err(e) if e.may_have_landed() || e.is_duplicate() => None,
            Err(e) => return Err(e.into()),
        };
        let project_id = match project_id {
            Some(id) => id,
            // The answer was lost or refused as a duplicate after a retry: the project the
            // first attempt made is ours if the tool can read it (it became its admin).
            None => match self.inf.lookup.project(&self.inf.client, slug).await? {
                Some(p) => p.id,
                None => {
                    return Err(BackendError::Refused(format!(
                        "{}: Infisical refused to create project `{slug}` as a duplicate, and the tool's identity cannot see it: the slug is taken by a project the tool is not a member of",
                        res.address
                    )));
                }
            },
        };
        // What create does not take.
        self.patch(res, &project_id, |f| {
            matches!(f, "auto_capitalization" | "has_delete_protection")
        })
        .await?;
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let p = self.inf.project(&res.id.name).await?;
        self.patch(res, &p.id, |f| changed.contains(f)).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some(p) = self.inf.lookup.project(&self.inf.client, &id.name).await? else {
            return Ok(());
        };
        let r = self
            .inf
            .client
            .call_project(
                Method::DELETE,
                &routes::project(&p.id),
                &routes::legacy::project(&id.name),
                None,
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_project(&id.name);
        absent_ok(r)
    }

    async fn list(
        &self,
        scope: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if scope != ORG_SCOPE {
            return Ok(Vec::new());
        }
        let all = self.inf.lookup.list_projects(&self.inf.client).await?;
        Ok(all
            .iter()
            .filter_map(|p| p.slug())
            .map(|s| rid(s, KIND, None, s))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_maps_to_our_names() {
        let live = ProjectKind::live(
            &json!({"id": "p1", "slug": "homelab-apps", "name": "Homelab",
            "description": "d", "autoCapitalization": false, "hasDeleteProtection": true}),
        );
        assert_eq!(live.get("name"), Some(&json!("Homelab")));
        assert_eq!(live.get("auto_capitalization"), Some(&json!(false)));
        assert_eq!(live.get("has_delete_protection"), Some(&json!(true)));
        assert!(live.get("autoCapitalization").is_none());
    }
}
