//! Organization machine identities (`/api/v1/identities`), named by name in the org scope:
//! `infisical[org].identity["agent-runner"]`.
//!
//! Infisical does not keep identity names unique (a second create with the same name succeeds),
//! while aegisctl addresses identities by name. So an identity is always found by listing the
//! organization's identities (once per run, again after a write) and matching the name; more than
//! one match is an error that asks the operator to remove the duplicates; create lists first and
//! never creates blindly, and a create whose answer was lost lists again to find what it made.
//! The tool's own identity is never listed for pruning.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Infisical, ORG_SCOPE, absent_ok, rid, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::InfisicalError;
use crate::backends::infisical::calls::{identity_id_of, identity_name};
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "identity";

pub static SPEC: KindSpec = spec::infisical("infisical.identities", None, &[], &[]);

pub struct Identity {
    inf: Arc<Infisical>,
}

impl Identity {
    pub fn new(inf: Arc<Infisical>) -> Self {
        Identity { inf }
    }

    /// The one identity named `name`, fresh from the server when `fresh`.
    async fn one(&self, name: &str, fresh: bool) -> Result<Option<Value>, InfisicalError> {
        if fresh {
            self.inf.lookup.forget_identities();
        }
        let mut found = self
            .inf
            .lookup
            .identities_named(&self.inf.client, name)
            .await?;
        match found.len() {
            0 | 1 => Ok(found.pop()),
            count => Err(InfisicalError::Ambiguous {
                name: name.to_owned(),
                count,
            }),
        }
    }

    /// A PATCH of the declared fields `which` selects, always with `name`: the server writes
    /// `name` and `hasDeleteProtection` only when `name` is given (contract §4).
    async fn patch(
        &self,
        res: &DesiredResource,
        identity_id: &str,
        which: impl Fn(&str) -> bool,
    ) -> Result<(), BackendError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(res.id.name));
        if which("role")
            && let Some(r) = wire(res, "role")
        {
            body.insert("role".into(), r);
        }
        if which("has_delete_protection")
            && let Some(p) = wire(res, "has_delete_protection")
        {
            body.insert("hasDeleteProtection".into(), p);
        }
        let r = self
            .inf
            .client
            .call(
                Method::PATCH,
                &routes::identity(identity_id),
                Some(&Body::new(Value::Object(body))),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_identities();
        r.map(|_| ()).map_err(Into::into)
    }
}

/// The live form of an identity list item: `role` is the org role's slug (a custom role's own
/// slug when the outer `role` is `custom`).
pub fn live_of(item: &Value) -> Live {
    let mut live = Live::new();
    let role = match item.get("role").and_then(Value::as_str) {
        Some("custom") => item
            .pointer("/customRole/slug")
            .cloned()
            .unwrap_or(json!("custom")),
        Some(r) => json!(r),
        None => Value::Null,
    };
    live.insert("role", role);
    let protection = item
        .pointer("/identity/hasDeleteProtection")
        .or_else(|| item.get("hasDeleteProtection"))
        .cloned()
        .unwrap_or(json!(false));
    live.insert("has_delete_protection", protection);
    if let Some(n) = identity_name(item) {
        live.insert("name", json!(n));
    }
    live
}

#[async_trait]
impl Kind for Identity {
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
        "its Universal Auth config, client secrets, access tokens and project memberships"
    }

    fn destroy_order(&self) -> u8 {
        50
    }

    fn container(&self, _id: &ResourceId) -> Option<ResourceId> {
        None
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        Ok(self.one(&id.name, false).await?.map(|i| live_of(&i)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let name = &res.id.name;
        // Never blindly: an identity of that name that exists is converged instead.
        if let Some(existing) = self.one(name, true).await? {
            let id = identity_id_of(&existing).unwrap_or_default().to_owned();
            return self.patch(res, &id, |_| true).await.map(|()| Made::none());
        }
        let mut body = json!({"name": name, "organizationId": self.inf.client.organization()});
        if let Some(r) = wire(res, "role") {
            body["role"] = r;
        }
        if let Some(p) = wire(res, "has_delete_protection") {
            body["hasDeleteProtection"] = p;
        }
        let r = self
            .inf
            .client
            .call(
                Method::POST,
                &routes::identities(self.inf.client.organization()),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_identities();
        match r {
            Ok(_) => Ok(Made::none()),
            // The answer was lost: list again; exactly one of that name is what this made
            // (two would be a duplicate from a retried first attempt, reported as such).
            Err(e) if e.may_have_landed() || e.status().is_some_and(|s| s >= 500) => {
                match self.one(name, true).await? {
                    Some(_) => Ok(Made::none()),
                    None => Err(e.into()),
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
        let Some(existing) = self.one(&res.id.name, false).await? else {
            return Err(BackendError::Refused(format!(
                "{}: the identity no longer exists",
                res.address
            )));
        };
        let id = identity_id_of(&existing).unwrap_or_default().to_owned();
        self.patch(res, &id, |f| changed.contains(f)).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some(existing) = self.one(&id.name, true).await? else {
            return Ok(());
        };
        let iid = identity_id_of(&existing).unwrap_or_default().to_owned();
        if self
            .inf
            .lookup
            .own_identity(&self.inf.client)
            .await?
            .as_deref()
            == Some(iid.as_str())
        {
            return Err(BackendError::Refused(format!(
                "{}: this is the identity aegisctl logs in with; it is never deleted",
                id.address()
            )));
        }
        let r = self
            .inf
            .client
            .call(Method::DELETE, &routes::identity(&iid), None, Retry::Safe)
            .await;
        self.inf.lookup.forget_identities();
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
        let own = self.inf.lookup.own_identity(&self.inf.client).await?;
        let all = self.inf.lookup.identities(&self.inf.client).await?;
        let names: BTreeSet<&str> = all
            .iter()
            .filter(|i| identity_id_of(i).is_some() && identity_id_of(i) != own.as_deref())
            .filter_map(identity_name)
            .collect();
        Ok(names
            .into_iter()
            .map(|n| rid(ORG_SCOPE, KIND, None, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_slugs() {
        let builtin = json!({"id": "m1", "identityId": "i1", "role": "admin",
            "identity": {"id": "i1", "name": "agent", "hasDeleteProtection": true}});
        let live = live_of(&builtin);
        assert_eq!(live.get("role"), Some(&json!("admin")));
        assert_eq!(live.get("has_delete_protection"), Some(&json!(true)));
        assert_eq!(identity_id_of(&builtin), Some("i1"));
        let custom = json!({"id": "m2", "identityId": "i2", "role": "custom",
            "customRole": {"slug": "deployer"}, "identity": {"id": "i2", "name": "ci"}});
        assert_eq!(live_of(&custom).get("role"), Some(&json!("deployer")));
        assert_eq!(
            live_of(&custom).get("has_delete_protection"),
            Some(&json!(false))
        );
    }
}
