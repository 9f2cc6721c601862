//! Folders of an environment (`/api/v2/folders`): mount = the environment's slug, name = the
//! folder's path without leading or trailing `/` (`infisical[p].folder["prod/app/db"]`).
//!
//! A folder is found in its parent's listing (direct children only, one request per parent,
//! shared through the lookup cache). Create looks first: the current server refuses a
//! duplicate with 400 and the legacy one answered 200 with the existing folder, so a folder that
//! is there is simply taken.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::lookup::Place;
use super::{Infisical, ORG_SCOPE, absent_ok, api_path, rid, split_last, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{DesiredResource, ResourceId};

pub const KIND: &str = "folder";

pub static SPEC: KindSpec = spec::infisical(
    "infisical.projects.*.environments.*.folders",
    Some("environment"),
    &[],
    &[],
);

pub struct Folder {
    inf: Arc<Infisical>,
}

impl Folder {
    pub fn new(inf: Arc<Infisical>) -> Self {
        Folder { inf }
    }

    /// The folder's entry in its parent's listing, and the parent's place.
    async fn find(&self, id: &ResourceId) -> Result<Option<(Value, Place)>, BackendError> {
        let Some((place, name)) = super::place_of(&self.inf, id).await? else {
            return Ok(None);
        };
        let found = self
            .inf
            .lookup
            .folders(&self.inf.client, &place)
            .await?
            .into_iter()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name.as_str()));
        Ok(found.map(|f| (f, place)))
    }
}

/// Every folder path of an environment below `path` (`""` for the root), depth first.
pub async fn walk(
    inf: &Infisical,
    project_id: &str,
    env: &str,
) -> Result<Vec<String>, BackendError> {
    let mut out = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(path) = todo.pop() {
        let place: Place = (project_id.to_owned(), env.to_owned(), api_path(&path));
        for f in inf.lookup.folders(&inf.client, &place).await? {
            let Some(name) = f.get("name").and_then(Value::as_str) else {
                continue;
            };
            let child = if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}/{name}")
            };
            out.push(child.clone());
            todo.push(child);
        }
    }
    Ok(out)
}

#[async_trait]
impl Kind for Folder {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> crate::model::Backend {
        crate::model::Backend::Infisical
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its subfolders and secrets"
    }

    fn destroy_order(&self) -> u8 {
        20
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        let env = id.mount.as_deref()?;
        match id.name.rsplit_once('/') {
            Some((parent, _)) => Some(rid(&id.namespace, KIND, Some(env), parent)),
            None => Some(rid(&id.namespace, super::environment::KIND, None, env)),
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(self.find(id).await?.map(|(f, _)| {
            let mut live = Live::new();
            live.insert("name", f.get("name").cloned().unwrap_or(Value::Null));
            if let Some(d) = f.get("description") {
                live.insert("description", d.clone());
            }
            live
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let id = &res.id;
        let env = id.mount.as_deref().unwrap_or_default();
        let p = self.inf.project(&id.namespace).await?;
        let (parent, name) = split_last(&id.name);
        let place: Place = (p.id.clone(), env.to_owned(), api_path(parent));
        self.inf.lookup.forget_folders(&place);
        if self.find(id).await?.is_some() {
            return Ok(Made::none());
        }
        let mut body = json!({
            "projectId": p.id, "environment": env, "name": name, "path": api_path(parent),
        });
        if let Some(d) = wire(res, "description") {
            body["description"] = d;
        }
        let r = self
            .inf
            .client
            .call(
                Method::POST,
                &routes::folders(),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_folders(&place);
        match r {
            Ok(_) => Ok(Made::none()),
            // There already (made meanwhile, or by a first attempt): take it.
            Err(e) if e.is_duplicate() || e.may_have_landed() => match self.find(id).await? {
                Some(_) => Ok(Made::none()),
                None => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        if !changed.contains("description") {
            return Ok(());
        }
        let Some((f, place)) = self.find(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: the folder no longer exists",
                res.address
            )));
        };
        let folder_id = f.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut body = Map::new();
        body.insert("projectId".into(), json!(place.0));
        body.insert("environment".into(), json!(place.1));
        body.insert("path".into(), json!(place.2));
        body.insert("name".into(), f.get("name").cloned().unwrap_or(Value::Null));
        body.insert(
            "description".into(),
            wire(res, "description").unwrap_or(Value::Null),
        );
        let r = self
            .inf
            .client
            .call(
                Method::PATCH,
                &routes::folder(folder_id),
                Some(&Body::new(Value::Object(body))),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_folders(&place);
        r.map(|_| ()).map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some((f, place)) = self.find(id).await? else {
            return Ok(());
        };
        let folder_id = f.get("id").and_then(Value::as_str).unwrap_or_default();
        let body = json!({"projectId": place.0, "environment": place.1, "path": place.2});
        let r = self
            .inf
            .client
            .call(
                Method::DELETE,
                &routes::folder(folder_id),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_folders(&place);
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
        let mut out = Vec::new();
        for env in p.environment_slugs() {
            for path in walk(&self.inf, &p.id, &env).await? {
                out.push(rid(scope, KIND, Some(&env), &path));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_lives_in_its_parent_or_its_environment() {
        let inf = Arc::new(Infisical::new(
            crate::backends::infisical::InfisicalClient::new(
                "http://127.0.0.1:9",
                "c",
                crate::sensitive::Sensitive::new("s".to_owned()),
                "o",
                None,
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            )
            .expect("client"),
        ));
        let k = Folder::new(inf);
        let deep = rid("proj1", KIND, Some("prod"), "app/db");
        assert_eq!(
            k.container(&deep).map(|c| c.address().to_string()),
            Some("infisical[proj1].folder[\"prod/app\"]".into())
        );
        let top = rid("proj1", KIND, Some("prod"), "app");
        assert_eq!(
            k.container(&top).map(|c| c.address().to_string()),
            Some("infisical[proj1].environment[\"prod\"]".into())
        );
    }
}
