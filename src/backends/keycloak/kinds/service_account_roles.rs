//! The role mappings of a client's service account, named by the client's `clientId`: what an
//! export writes as a `users[]` entry with `serviceAccountClientId`. The user itself is
//! Keycloak's (made and removed with the client's `serviceAccountsEnabled`); what a topology
//! decides is which roles the client acts with, so that is all this kind manages.
//!
//! A declared `realmRoles` or `clientRoles` is the exact set of direct mappings. Keycloak gives
//! every service account `default-roles-{realm}` at birth: a declaration that leaves it out
//! removes it (the client then holds only what the file says). A delete removes every direct
//! mapping except that one; it does not give it back when a declaration had removed it (a
//! delete only takes away). "Create" is the same as update: the object exists as soon as the
//! client has service accounts enabled.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::Keycloak;
use super::role_mappings::{self as rm, CLIENT_ROLES, ClientNames};
use crate::backends::keycloak::{admin_realm, redact_client};
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "service_account_roles";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak(
    "a realm file's `users[]` with `serviceAccountClientId`",
    Some("client"),
    &[],
);

/// Clients per page when listing a realm.
const PAGE: u32 = 100;

pub struct ServiceAccountRoles {
    kc: Arc<Keycloak>,
}

impl ServiceAccountRoles {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        ServiceAccountRoles { kc }
    }
}

/// The role `default-roles-{realm}` Keycloak maps to every new user.
fn default_role(realm: &str) -> String {
    format!("default-roles-{realm}")
}

/// Where a client's service account can be, in the answer to one lookup.
enum Account {
    NoClient,
    /// The client exists without service accounts (Keycloak answers 400).
    Disabled,
    /// The role-mappings path of the service-account user.
    User(ApiPath),
}

impl ServiceAccountRoles {
    async fn account(&self, realm: &str, client_id: &str) -> Result<Account, BackendError> {
        let ids = &self.kc.ids;
        let Some(uuid) = ids
            .resolve_client(&self.kc.client, realm, client_id)
            .await?
        else {
            return Ok(Account::NoClient);
        };
        self.account_of(realm, &uuid).await
    }

    async fn account_of(&self, realm: &str, uuid: &str) -> Result<Account, BackendError> {
        let path = admin_realm(realm)
            .lit("clients")
            .name(uuid)
            .lit("service-account-user");
        let user = match self.kc.client.get(&path).await {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(Account::NoClient),
            Err(e) if e.status() == Some(400) => return Ok(Account::Disabled),
            Err(e) => return Err(e.into()),
        };
        let Some(user_id) = user.get("id").and_then(Value::as_str) else {
            return Ok(Account::Disabled);
        };
        Ok(Account::User(
            admin_realm(realm)
                .lit("users")
                .name(user_id)
                .lit("role-mappings"),
        ))
    }

    /// The role-mappings path of the client's service account, or a refusal naming the client.
    async fn require(&self, id: &ResourceId, verb: &str) -> Result<ApiPath, BackendError> {
        let (realm, client) = (&id.namespace, &id.name);
        match self.account(realm, client).await? {
            Account::User(p) => Ok(p),
            Account::NoClient => Err(BackendError::Refused(format!(
                "cannot {verb} the service-account roles of `{client}`: the client does not \
                 exist in realm `{realm}`"
            ))),
            Account::Disabled => Err(BackendError::Refused(format!(
                "cannot {verb} the service-account roles of `{client}` in realm `{realm}`: the \
                 client has no service account (set `serviceAccountsEnabled: true` on it)"
            ))),
        }
    }

    /// Makes the declared attributes the exact sets of direct mappings.
    async fn converge(&self, res: &DesiredResource, verb: &str) -> Result<(), BackendError> {
        let base = self.require(&res.id, verb).await?;
        rm::converge_declared(&self.kc, res, &base).await
    }
}

#[async_trait]
impl Kind for ServiceAccountRoles {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    /// Before the client, whose deletion takes the account along.
    fn destroy_order(&self) -> u8 {
        20
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    /// The client it belongs to: named by this object's *name*, not its mount.
    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(ResourceId::on(
            Backend::Keycloak,
            &id.namespace,
            super::client::KIND,
            None,
            &id.name,
        ))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        rm::normalise(field, value)
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Account::User(base) = self.account(&id.namespace, &id.name).await? else {
            return Ok(None);
        };
        let live = rm::read(&self.kc, &base).await?;
        Ok(Some(live.into_live(Live::from_map(Map::new()))))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        self.converge(res, "set").await.map(|()| Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        self.converge(res, "update").await
    }

    /// Every direct mapping goes but `default-roles-{realm}` (kept when still mapped).
    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let realm = &id.namespace;
        let Account::User(base) = self.account(realm, &id.name).await? else {
            return Ok(());
        };
        let live = rm::read(&self.kc, &base).await?;
        let keep: BTreeSet<String> = live
            .realm_names()
            .into_iter()
            .filter(|n| *n == default_role(realm))
            .collect();
        let what = id.address().to_string();
        rm::converge(
            &self.kc,
            realm,
            &base,
            &live,
            Some(&keep),
            Some(&ClientNames::new()),
            &what,
        )
        .await
    }

    /// One per client (not Keycloak's own) whose service account holds more than
    /// `default-roles-{realm}`: two requests per service-account client, none for the others.
    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let path = admin_realm(realm).lit("clients");
        let mut all = self.kc.client.list_paged(&path, PAGE).await?;
        for c in &mut all {
            // Each element carries its secret in clear: out at once.
            drop(redact_client(c));
        }
        self.kc.ids.prime_clients(realm, &all);
        let mut out = Vec::new();
        for c in &all {
            let (Some(client_id), Some(uuid)) = (
                c.get("clientId").and_then(Value::as_str),
                c.get("id").and_then(Value::as_str),
            ) else {
                continue;
            };
            let enabled = c.get("serviceAccountsEnabled") == Some(&Value::Bool(true));
            if !enabled || super::client::is_builtin(realm, client_id) {
                continue;
            }
            let Account::User(base) = self.account_of(realm, uuid).await? else {
                continue;
            };
            let live = rm::read(&self.kc, &base).await?;
            let realm_extra = live.realm_names().iter().any(|n| *n != default_role(realm));
            let mapped = live.into_live(Live::from_map(Map::new()));
            let client_any = mapped
                .get(CLIENT_ROLES)
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty());
            if realm_extra || client_any {
                out.push(ResourceId::on(
                    Backend::Keycloak,
                    realm,
                    KIND,
                    None,
                    client_id,
                ));
            }
        }
        Ok(out)
    }
}
