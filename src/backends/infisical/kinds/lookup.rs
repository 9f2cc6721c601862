//! What the Infisical kinds look up again and again, read once and shared: projects by slug
//! (with their environments in position order), the org's identities, folder listings and
//! secret listings. A plan reads many objects of one project; without this each would cost a
//! round trip, and identities (whose names are not unique) would be listed once per object.
//!
//! Writes invalidate what they change (`forget_*`), so that a read after a write asks the
//! server. Secret listings keep no value: each is digested as the answer is parsed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;
use zeroize::Zeroize;

use crate::backends::SecretJson;
use crate::backends::infisical::calls::{identity_id_of, identity_name};
use crate::backends::infisical::routes;
use crate::backends::infisical::{InfisicalClient, InfisicalError};
use crate::backends::keycloak::redact::digest;

/// A project as read: its id, its answer (without environments) and its environments in
/// position order.
#[derive(Clone, Debug)]
pub struct Project {
    pub id: String,
    pub fields: Value,
    pub environments: Vec<Value>,
}

impl Project {
    fn from(mut v: Value) -> Option<Project> {
        if let Some(inner) = v.get_mut("project").map(Value::take) {
            v = inner;
        }
        let id = v.get("id")?.as_str()?.to_owned();
        let environments = match v.as_object_mut().and_then(|m| m.remove("environments")) {
            Some(Value::Array(e)) => e,
            _ => Vec::new(),
        };
        Some(Project {
            id,
            fields: v,
            environments,
        })
    }

    pub fn slug(&self) -> Option<&str> {
        self.fields.get("slug").and_then(Value::as_str)
    }

    /// The environment `slug` and its rank (1-based, in position order).
    pub fn environment(&self, slug: &str) -> Option<(usize, &Value)> {
        self.environments
            .iter()
            .enumerate()
            .find(|(_, e)| e.get("slug").and_then(Value::as_str) == Some(slug))
            .map(|(i, e)| (i + 1, e))
    }

    pub fn environment_slugs(&self) -> Vec<String> {
        self.environments
            .iter()
            .filter_map(|e| e.get("slug").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// A secret as listed: its digest and comment, never its value.
#[derive(Clone, Debug)]
pub struct SecretEntry {
    pub digest: String,
    pub comment: String,
}

/// A folder location: project id, environment slug, folder path (`/` or `/app/db`).
pub type Place = (String, String, String);

#[derive(Default)]
struct State {
    /// Every project the tool is a member of, once listed.
    listed: bool,
    /// By slug; `None` = read and absent.
    projects: BTreeMap<String, Option<Project>>,
    identities: Option<Vec<Value>>,
    own_identity: Option<Option<String>>,
    folders: BTreeMap<Place, Vec<Value>>,
    secrets: BTreeMap<Place, BTreeMap<String, SecretEntry>>,
}

/// The shared lookups.
#[derive(Default)]
pub struct Lookup {
    state: Mutex<State>,
    /// Held while a listing that must happen once per run is read, so that concurrent first
    /// reads wait for one request instead of each sending their own.
    loading: tokio::sync::Mutex<()>,
}

impl Lookup {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            // A panic elsewhere while holding it leaves a cache, not an invariant: keep going.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Lists every project once (the tool's memberships) and remembers them by slug.
    pub async fn list_projects(&self, c: &InfisicalClient) -> Result<Vec<Project>, InfisicalError> {
        let cached = || self.with(|s| s.projects.values().flatten().cloned().collect());
        if self.with(|s| s.listed) {
            return Ok(cached());
        }
        let _once = self.loading.lock().await;
        if self.with(|s| s.listed) {
            return Ok(cached());
        }
        // A server without /api/v1/projects has no project list for identities: reads go one
        // by one, by slug.
        if c.legacy() {
            return Ok(Vec::new());
        }
        let mut v = match c
            .call(
                reqwest::Method::GET,
                &routes::projects(),
                None,
                crate::backends::http::Retry::Safe,
            )
            .await
        {
            Err(InfisicalError::NoRoute { .. }) => {
                c.set_legacy();
                return Ok(Vec::new());
            }
            other => other?,
        };
        let key = if v.get("projects").is_some() {
            "projects"
        } else {
            "workspaces"
        };
        let items = match v.get_mut(key).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let projects: Vec<Project> = items.into_iter().filter_map(Project::from).collect();
        self.with(|s| {
            s.listed = true;
            for p in &projects {
                if let Some(slug) = p.slug() {
                    s.projects.insert(slug.to_owned(), Some(p.clone()));
                }
            }
        });
        Ok(projects)
    }

    /// The project `slug`: from the listing or an earlier read, else read by slug.
    pub async fn project(
        &self,
        c: &InfisicalClient,
        slug: &str,
    ) -> Result<Option<Project>, InfisicalError> {
        // A slug the listing does not have may still exist (the tool not a member): read it.
        if let Some(known) = self.with(|s| s.projects.get(slug).cloned()) {
            return Ok(known);
        }
        let found = c
            .get_project(
                &routes::project_by_slug(slug),
                &routes::legacy::project(slug),
            )
            .await?
            .and_then(Project::from);
        self.with(|s| s.projects.insert(slug.to_owned(), found.clone()));
        Ok(found)
    }

    /// Forgets what is known of project `slug` (after a write to it or its environments).
    pub fn forget_project(&self, slug: &str) {
        self.with(|s| s.projects.remove(slug));
    }

    /// The org's identities (list items in the get shape), listed once until forgotten.
    pub async fn identities(&self, c: &InfisicalClient) -> Result<Vec<Value>, InfisicalError> {
        if let Some(all) = self.with(|s| s.identities.clone()) {
            return Ok(all);
        }
        let _once = self.loading.lock().await;
        if let Some(all) = self.with(|s| s.identities.clone()) {
            return Ok(all);
        }
        let all = c.list_identities().await?;
        self.with(|s| s.identities = Some(all.clone()));
        Ok(all)
    }

    pub fn forget_identities(&self) {
        self.with(|s| s.identities = None);
    }

    /// The identities named `name`.
    pub async fn identities_named(
        &self,
        c: &InfisicalClient,
        name: &str,
    ) -> Result<Vec<Value>, InfisicalError> {
        Ok(self
            .identities(c)
            .await?
            .into_iter()
            .filter(|i| identity_name(i) == Some(name))
            .collect())
    }

    /// The id of the identity `name`: `None` when there is none, an error when there are
    /// several (names are not unique in Infisical).
    pub async fn identity_id(
        &self,
        c: &InfisicalClient,
        name: &str,
    ) -> Result<Option<String>, InfisicalError> {
        let found = self.identities_named(c, name).await?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(identity_id_of(one).map(str::to_owned)),
            many => Err(InfisicalError::Ambiguous {
                name: name.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// The tool's own identity id: among the identities with Universal Auth, the one whose UA
    /// client id is the tool's. Found once per run.
    pub async fn own_identity(
        &self,
        c: &InfisicalClient,
    ) -> Result<Option<String>, InfisicalError> {
        if let Some(known) = self.with(|s| s.own_identity.clone()) {
            return Ok(known);
        }
        let mut found = None;
        for item in self.identities(c).await? {
            if !has_universal_auth(&item) {
                continue;
            }
            let Some(id) = identity_id_of(&item) else {
                continue;
            };
            if let Some(ua) = c.universal_auth(id).await?
                && ua.get("clientId").and_then(Value::as_str) == Some(c.client_id())
            {
                found = Some(id.to_owned());
                break;
            }
        }
        self.with(|s| s.own_identity = Some(found.clone()));
        Ok(found)
    }

    /// The direct subfolders of `path` (`/` or `/app`) in an environment; empty when the
    /// environment or folder does not exist.
    pub async fn folders(
        &self,
        c: &InfisicalClient,
        place: &Place,
    ) -> Result<Vec<Value>, InfisicalError> {
        if let Some(known) = self.with(|s| s.folders.get(place).cloned()) {
            return Ok(known);
        }
        let (pid, env, path) = place;
        let p = routes::folders()
            .query("projectId", pid)
            .query("environment", env)
            .query("path", path);
        let items = match c.get(&p).await? {
            Some(mut v) => match v.get_mut("folders").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        self.with(|s| s.folders.insert(place.clone(), items.clone()));
        Ok(items)
    }

    pub fn forget_folders(&self, place: &Place) {
        self.with(|s| s.folders.remove(place));
    }

    /// The shared secrets of a folder, by key, each value digested as the answer is read;
    /// empty when the environment or folder does not exist.
    pub async fn secrets(
        &self,
        c: &InfisicalClient,
        place: &Place,
    ) -> Result<BTreeMap<String, SecretEntry>, InfisicalError> {
        if let Some(known) = self.with(|s| s.secrets.get(place).cloned()) {
            return Ok(known);
        }
        let (pid, env, path) = place;
        let p = routes::secrets()
            .query("workspaceId", pid)
            .query("environment", env)
            .query("secretPath", path)
            // The stored text, not what `${...}` references expand to: that is what a declared
            // value compares with.
            .query("expandSecretReferences", "false");
        let mut listed = BTreeMap::new();
        if let Some(mut v) = c.get(&p).await? {
            if let Some(Value::Array(items)) = v.get_mut("secrets") {
                for item in items.iter_mut() {
                    if item.get("type").and_then(Value::as_str) == Some("personal") {
                        continue;
                    }
                    let Some(key) = item
                        .get("secretKey")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    listed.insert(key, entry_of(item));
                }
            }
            // The values are still in the answer: wiped before it is dropped.
            SecretJson(v).zeroize();
        }
        self.with(|s| s.secrets.insert(place.clone(), listed.clone()));
        Ok(listed)
    }

    pub fn forget_secrets(&self, place: &Place) {
        self.with(|s| s.secrets.remove(place));
    }
}

/// A secret answer item as its digest and comment; its value is wiped from the item.
pub fn entry_of(item: &mut Value) -> SecretEntry {
    let digest = match item.get_mut("secretValue") {
        Some(Value::String(s)) => {
            let d = digest(s);
            s.zeroize();
            d
        }
        _ => digest(""),
    };
    SecretEntry {
        digest,
        comment: item
            .get("secretComment")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Whether an identity list item has Universal Auth (`authMethods[]`, or the legacy single
/// `authMethod`, at the top or inside `identity`).
pub fn has_universal_auth(item: &Value) -> bool {
    let ua = |v: &Value| match v {
        Value::String(s) => s == "universal-auth",
        Value::Array(a) => a.iter().any(|m| m.as_str() == Some("universal-auth")),
        _ => false,
    };
    [
        "/identity/authMethods",
        "/identity/authMethod",
        "/authMethods",
        "/authMethod",
    ]
    .iter()
    .any(|p| item.pointer(p).is_some_and(ua))
}
