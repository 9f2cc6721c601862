//! Groups, named by their path (`/ops`, `/ops/on call`), as the realm file's nested `groups`
//! flatten to: a path is what an operator and an identity-provider mapper name a group by,
//! while its UUID changes with every recreate.
//!
//! A read is one request: `GET /group-by-path/{path}` answers the whole group, with its
//! `attributes` and its direct `realmRoles` / `clientRoles` (each segment sent as data, so a
//! space or `:` in a name is never URL syntax). Keycloak 26 does not escape a `/` inside a name
//! in the path (a group `a/b` reads `/a/b`, like subgroup `b` of `a`): such names cannot be told
//! apart by path and are not supported. A group `PUT` needs `name`, keeps `attributes` when
//! absent and replaces them when present; role mappings are their own endpoints and a declared
//! list is the exact set. Deleting a group deletes its subgroups with it, so deletions within
//! this kind are safe in any order (a subgroup already gone is not an error).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::role_mappings::{self as rm, CLIENT_ROLES, REALM_ROLES};
use super::{Keycloak, roles};
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "group";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak(
    "a realm file's `groups[]` and their `subGroups`",
    Some("realm"),
    &[],
);

/// Groups per page when listing: Keycloak answers only 10 children without `max`.
const PAGE: u32 = 100;

/// Fields of a group representation that are the server's bookkeeping or its tree, not the
/// group's settings (subgroups are objects of their own).
const SERVER_FIELDS: &[&str] = &[
    "id",
    "path",
    "parentId",
    "subGroupCount",
    "subGroups",
    "access",
];

/// Fields converged through the role-mapping endpoints, never the group `PUT`.
const MAPPINGS: &[&str] = &[REALM_ROLES, CLIENT_ROLES];

pub struct Group {
    kc: Arc<Keycloak>,
}

impl Group {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        Group { kc }
    }
}

fn groups(realm: &str) -> ApiPath {
    admin_realm(realm).lit("groups")
}

/// The path without its leading `/`, or why it cannot name a group.
fn relative(path: &str) -> Result<&str, BackendError> {
    match path.strip_prefix('/') {
        Some(rest) if !rest.is_empty() => Ok(rest),
        _ => Err(BackendError::Refused(format!(
            "`{path}` is not a group path (it starts with `/`, e.g. `/ops/on call`)"
        ))),
    }
}

/// The parent group's path of a subgroup; `None` for a top-level group.
fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/')
        .map(|(p, _)| p)
        .filter(|p| !p.is_empty())
}

/// The group's own name: the last segment of its path.
fn leaf(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, n)| n)
}

impl Group {
    /// The group at `path` as the server has it, if it exists.
    async fn find(
        &self,
        realm: &str,
        path: &str,
    ) -> Result<Option<Map<String, Value>>, BackendError> {
        let at = admin_realm(realm)
            .lit("group-by-path")
            .path(relative(path)?);
        Ok(match self.kc.client.get(&at).await? {
            Some(Value::Object(rep)) => Some(rep),
            _ => None,
        })
    }

    async fn require(&self, res: &DesiredResource, path: &str) -> Result<String, BackendError> {
        let rep = self.find(&res.id.namespace, path).await?;
        rep.as_ref()
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "{}: the group `{path}` does not exist in realm `{}`",
                    res.address, res.id.namespace
                ))
            })
    }

    /// Makes the declared role mappings of group `gid` the exact sets.
    async fn converge_roles(&self, res: &DesiredResource, gid: &str) -> Result<(), BackendError> {
        let base = groups(&res.id.namespace).name(gid).lit("role-mappings");
        rm::converge_declared(&self.kc, res, &base).await
    }

    /// The settings body: declared fields but the mappings, `name` from the path.
    fn body(res: &DesiredResource) -> crate::backends::body::Body {
        let mut name = Map::new();
        name.insert("name".into(), Value::String(leaf(&res.id.name).to_owned()));
        roles::declared_except(res, MAPPINGS, name)
    }
}

#[async_trait]
impl Kind for Group {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    fn destroy_order(&self) -> u8 {
        25
    }

    /// A new name is a new path: another object, so a rename is never planned in place.
    fn immutable(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    /// Its members (users aegisctl does not manage) lose it, and its subgroups go with it.
    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its subgroups and every user's membership"
    }

    /// The parent group of a subgroup, else the realm.
    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(match parent(&id.name) {
            Some(p) => ResourceId::on(Backend::Keycloak, &id.namespace, KIND, None, p),
            None => super::realm_of(id),
        })
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        rm::normalise(field, value)
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some(mut rep) = self.find(&id.namespace, &id.name).await? else {
            return Ok(None);
        };
        // A `/` inside a name makes another group answer to this path: not this object.
        if rep.get("path").and_then(Value::as_str) != Some(id.name.as_str()) {
            return Ok(None);
        }
        for f in SERVER_FIELDS {
            rep.remove(*f);
        }
        for (f, v) in [(REALM_ROLES, "realm"), (CLIENT_ROLES, "client")] {
            if let Some(val) = rep.remove(f) {
                rep.insert(f.into(), sorted(val, v == "client"));
            }
        }
        Ok(Some(Live::from_map(rep)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let realm = &res.id.namespace;
        let path = res.id.name.as_str();
        relative(path)?;
        let collection = match parent(path) {
            Some(p) => {
                let pid = self.require(res, p).await?;
                groups(realm).name(&pid).lit("children")
            }
            None => groups(realm),
        };
        let created = self.kc.client.post(&collection, &Self::body(res)).await?;
        let gid = match created.id {
            Some(id) => id,
            None => self.require(res, path).await?,
        };
        self.converge_roles(res, &gid).await?;
        Ok(Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let gid = self.require(res, &res.id.name).await?;
        if changed.iter().any(|f| !MAPPINGS.contains(&f.as_str())) {
            let at = groups(&res.id.namespace).name(&gid);
            self.kc.client.put(&at, &Self::body(res)).await?;
        }
        self.converge_roles(res, &gid).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some(rep) = self.find(&id.namespace, &id.name).await? else {
            return Ok(());
        };
        if rep.get("path").and_then(Value::as_str) != Some(id.name.as_str()) {
            return Ok(());
        }
        if let Some(gid) = rep.get("id").and_then(Value::as_str) {
            self.kc
                .client
                .delete(&groups(&id.namespace).name(gid))
                .await?;
        }
        Ok(())
    }

    /// Every group path: the top level in pages, then the children of each group that has
    /// some (one request per such group; Keycloak 26 lists no subgroups in a group list).
    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let mut out = Vec::new();
        let top = groups(realm).query("briefRepresentation", "true");
        let mut todo = self.kc.client.list_paged(&top, PAGE).await?;
        while let Some(g) = todo.pop() {
            let Some(path) = g.get("path").and_then(Value::as_str) else {
                continue;
            };
            out.push(ResourceId::on(Backend::Keycloak, realm, KIND, None, path));
            let has_children = g
                .get("subGroupCount")
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 0);
            if let (true, Some(gid)) = (has_children, g.get("id").and_then(Value::as_str)) {
                let children = groups(realm)
                    .name(gid)
                    .lit("children")
                    .query("briefRepresentation", "true");
                todo.extend(self.kc.client.list_paged(&children, PAGE).await?);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// A role list (or each list of a client map) sorted, as the other kinds read them.
fn sorted(v: Value, by_client: bool) -> Value {
    match v {
        Value::Array(mut items) => {
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Object(map) if by_client => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, sorted(v, false)))
                .filter(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty()))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_parent_and_name() {
        assert_eq!(parent("/ops/on call"), Some("/ops"));
        assert_eq!(parent("/ops"), None);
        assert_eq!(leaf("/ops/on call"), "on call");
        assert_eq!(relative("/ops/on call").ok(), Some("ops/on call"));
        assert!(relative("ops").is_err());
        assert!(relative("/").is_err());
    }
}
