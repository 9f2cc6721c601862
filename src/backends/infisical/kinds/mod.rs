//! The Infisical kinds, one file each, sharing one API client and one lookup cache.
//!
//! Ids: every object is `ResourceId::on(Backend::Infisical, SCOPE, KIND, MOUNT, NAME)`. Objects
//! of a project have the project's slug as scope: `project` (name = the slug), `environment`
//! (name = env slug), `folder` (mount = env slug, name = the folder path without slashes,
//! `app/db`), `secret` (mount = env slug, name = `KEY` or `app/db/KEY`), `membership` (name =
//! the identity's name). Org-level objects have the scope [`ORG_SCOPE`]: `identity` and
//! `universal_auth` (name = the identity's name). `org` never collides with a project: project
//! slugs are 5–36 characters. Server ids (UUIDs) never appear in ids, addresses or plans: kinds
//! find them through [`lookup::Lookup`].

pub mod environment;
pub mod folder;
pub mod identity;
pub mod lookup;
pub mod membership;
pub mod project;
pub mod secret;
pub mod universal_auth;

use std::sync::Arc;

use serde_json::Value;

use super::{InfisicalClient, InfisicalError};
use crate::backends::spec::KindSpec;
use crate::backends::{BackendError, Kind, Registry};
use crate::model::{AttrValue, Backend, DesiredResource, ResourceId};

/// The scope of org-level objects (identities and their Universal Auth).
pub const ORG_SCOPE: &str = "org";

/// What every Infisical kind shares.
pub struct Infisical {
    pub client: InfisicalClient,
    /// Projects, identities, folder and secret listings, read once.
    pub lookup: lookup::Lookup,
}

impl Infisical {
    pub fn new(client: InfisicalClient) -> Self {
        Infisical {
            client,
            lookup: lookup::Lookup::default(),
        }
    }

    /// The project `slug`, which must exist (an object inside it is being written).
    async fn project(&self, slug: &str) -> Result<lookup::Project, BackendError> {
        self.lookup
            .project(&self.client, slug)
            .await?
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "the Infisical project `{slug}` does not exist (or the tool's identity is not a member of it)"
                ))
            })
    }

    /// The id of the identity `name`, which must exist.
    async fn identity(&self, name: &str) -> Result<String, BackendError> {
        self.lookup
            .identity_id(&self.client, name)
            .await?
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "the Infisical machine identity `{name}` does not exist in organization {}",
                    self.client.organization()
                ))
            })
    }
}

/// An Infisical object's id.
pub fn rid(scope: &str, kind: &str, mount: Option<&str>, name: &str) -> ResourceId {
    ResourceId::on(Backend::Infisical, scope, kind, mount, name)
}

/// The project an object of project `slug` lives in.
fn project_of(slug: &str) -> ResourceId {
    rid(slug, project::KIND, None, slug)
}

/// A declared attribute as it goes on the wire.
fn wire(res: &DesiredResource, field: &str) -> Option<Value> {
    res.attrs
        .get(field)
        .map(AttrValue::to_wire)
        .filter(|v| !v.is_null())
}

/// A folder path as the API writes it: `/` or `/app/db`.
fn api_path(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

/// `app/db/KEY` → (`app/db`, `KEY`); `KEY` → (``, `KEY`).
fn split_last(name: &str) -> (&str, &str) {
    name.rsplit_once('/').unwrap_or(("", name))
}

/// Where an object named by a path inside an environment (a folder, a secret) sits: the place
/// of the folder holding it, and its own last segment; `None` when its project is absent.
async fn place_of(
    inf: &Infisical,
    id: &ResourceId,
) -> Result<Option<(lookup::Place, String)>, BackendError> {
    let Some(env) = id.mount.as_deref() else {
        return Ok(None);
    };
    let Some(p) = inf.lookup.project(&inf.client, &id.namespace).await? else {
        return Ok(None);
    };
    let (parent, last) = split_last(&id.name);
    Ok(Some((
        (p.id.clone(), env.to_owned(), api_path(parent)),
        last.to_owned(),
    )))
}

/// Whether an error is the server saying "not there" (see [`InfisicalError::is_absent`]).
fn absent_ok(r: Result<Value, InfisicalError>) -> Result<(), BackendError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_absent() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A kind's entry: its name, its declared facts, and how to make it on a connection.
pub struct Entry {
    pub kind: &'static str,
    pub spec: &'static KindSpec,
    pub make: fn(Arc<Infisical>) -> Arc<dyn Kind>,
}

/// Every Infisical kind, once: [`register`] makes them from it, and resolve reads their facts
/// from it before any connection exists.
pub static KINDS: &[Entry] = &[
    Entry {
        kind: project::KIND,
        spec: &project::SPEC,
        make: |inf| Arc::new(project::ProjectKind::new(inf)),
    },
    Entry {
        kind: environment::KIND,
        spec: &environment::SPEC,
        make: |inf| Arc::new(environment::Environment::new(inf)),
    },
    Entry {
        kind: folder::KIND,
        spec: &folder::SPEC,
        make: |inf| Arc::new(folder::Folder::new(inf)),
    },
    Entry {
        kind: secret::KIND,
        spec: &secret::SPEC,
        make: |inf| Arc::new(secret::Secret::new(inf)),
    },
    Entry {
        kind: identity::KIND,
        spec: &identity::SPEC,
        make: |inf| Arc::new(identity::Identity::new(inf)),
    },
    Entry {
        kind: universal_auth::KIND,
        spec: &universal_auth::SPEC,
        make: |inf| Arc::new(universal_auth::UniversalAuth::new(inf)),
    },
    Entry {
        kind: membership::KIND,
        spec: &membership::SPEC,
        make: |inf| Arc::new(membership::Membership::new(inf)),
    },
];

/// The declared facts of the Infisical kind `kind`.
pub fn spec_of(kind: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|e| e.kind == kind).map(|e| e.spec)
}

/// Registers every Infisical kind of [`KINDS`], sharing one connection.
pub fn register(r: &mut Registry, inf: Arc<Infisical>) {
    for entry in KINDS {
        r.add((entry.make)(Arc::clone(&inf)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::Sensitive;

    #[test]
    fn every_registered_kind_answers_with_the_spec_of_its_entry() {
        let client = InfisicalClient::new(
            "http://127.0.0.1:9",
            "tool-client-id",
            Sensitive::new("unused".to_owned()),
            "org-1",
            None,
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        )
        .expect("client");
        let mut r = Registry::default();
        register(&mut r, Arc::new(Infisical::new(client)));
        let kinds: Vec<_> = r
            .all()
            .filter(|k| k.backend() == Backend::Infisical)
            .collect();
        assert_eq!(kinds.len(), KINDS.len(), "every entry registers one kind");
        for k in kinds {
            let listed = spec_of(k.name()).unwrap_or_else(|| panic!("{} has no entry", k.name()));
            assert!(
                std::ptr::eq(listed, k.spec()),
                "{}: its entry names another spec",
                k.name()
            );
            if let Some(parent) = listed.parent {
                assert!(
                    spec_of(parent).is_some(),
                    "{}: unknown parent {parent}",
                    k.name()
                );
            }
        }
        assert!(spec_of("secret").is_some_and(|s| s.secret.has("value")));
        assert!(spec_of("universal_auth").is_some_and(|s| s.durations.has("access_token_ttl")));
    }

    #[test]
    fn paths_split_as_the_api_wants() {
        assert_eq!(api_path("app/db"), "/app/db");
        assert_eq!(api_path(""), "/");
        assert_eq!(split_last("app/db/KEY"), ("app/db", "KEY"));
        assert_eq!(split_last("KEY"), ("", "KEY"));
        assert_eq!(
            project_of("homelab-apps").address().to_string(),
            "infisical[homelab-apps].project[\"homelab-apps\"]"
        );
    }
}

#[cfg(test)]
#[path = "kinds_tests.rs"]
mod kinds_tests;
