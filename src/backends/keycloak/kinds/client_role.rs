//! Client roles (`/admin/realms/{realm}/clients/{uuid}/roles/{role-name}`): the parent is the
//! client's `clientId` (in the id's `mount`), turned into the UUID Keycloak's paths need
//! through the run's [`Ids`](crate::backends::keycloak::Ids) cache.
//!
//! Only the roles of clients the topology declares are listed: the built-in clients' roles
//! (`realm-management`'s `manage-users`, `account`'s `view-profile`…) belong to Keycloak, and a
//! prune must never see them — not even when the topology declares a built-in client to manage
//! its settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Keycloak, roles};
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "client_role";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak(
    "a realm file's `roles.client.CLIENT_ID[]`",
    Some("client"),
    &[],
);

pub struct ClientRole {
    kc: Arc<Keycloak>,
}

impl ClientRole {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        ClientRole { kc }
    }

    /// The roles collection of the client `client_id`, or `None` when the client does not
    /// exist.
    async fn collection(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<ApiPath>, BackendError> {
        let uuid = self
            .kc
            .ids
            .resolve_client(&self.kc.client, realm, client_id)
            .await?;
        Ok(uuid.map(|u| admin_realm(realm).lit("clients").name(&u).lit("roles")))
    }
}

/// The clientId a client role's id names as its parent.
fn client_of(id: &ResourceId) -> Result<&str, BackendError> {
    id.mount.as_deref().ok_or_else(|| {
        BackendError::Refused(format!(
            "the client role `{}` in realm `{}` names no client",
            id.name, id.namespace
        ))
    })
}

#[async_trait]
impl Kind for ClientRole {
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
        30
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        super::client_of(id)
    }

    async fn prefetch(&self, realm: &str, ids: &[&ResourceId]) -> Result<(), BackendError> {
        if ids.len() >= super::snapshot::BULK_FROM {
            let mut clients: Vec<&str> = ids.iter().filter_map(|id| id.mount.as_deref()).collect();
            clients.sort_unstable();
            clients.dedup();
            super::snapshot::list_roles(&self.kc, realm, &clients).await?;
        }
        Ok(())
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        if let Some(roles) = self.kc.snapshot.roles(&id.namespace, client_of(id)?) {
            return Ok(roles::from_list(roles, &id.name));
        }
        match self.collection(&id.namespace, client_of(id)?).await? {
            Some(c) => roles::read(&self.kc, c, &id.name).await,
            None => Ok(None),
        }
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let client_id = client_of(&res.id)?;
        self.kc.snapshot.evict_roles(&res.id.namespace, client_id);
        let Some(c) = self.collection(&res.id.namespace, client_id).await? else {
            return Err(BackendError::Refused(format!(
                "cannot create the client role `{}`: the client `{client_id}` does not exist in \
                 realm `{}`",
                res.id.name, res.id.namespace
            )));
        };
        roles::create(&self.kc, c, res).await.map(|()| Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        self.kc
            .snapshot
            .evict_roles(&res.id.namespace, client_of(&res.id)?);
        let client_id = client_of(&res.id)?;
        let Some(c) = self.collection(&res.id.namespace, client_id).await? else {
            return Err(BackendError::Refused(format!(
                "cannot update the client role `{}`: the client `{client_id}` does not exist in \
                 realm `{}`",
                res.id.name, res.id.namespace
            )));
        };
        roles::update(&self.kc, c, res, live).await
    }

    /// A role whose client is gone went with it: nothing to do.
    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.kc.snapshot.evict_roles(&id.namespace, client_of(id)?);
        match self.collection(&id.namespace, client_of(id)?).await? {
            Some(c) => roles::delete(&self.kc, c, &id.name).await,
            None => Ok(()),
        }
    }

    async fn list(
        &self,
        realm: &str,
        desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let clients: BTreeSet<&str> = desired
            .iter()
            .filter(|d| d.id.backend == Backend::Keycloak && d.id.namespace == realm)
            .filter(|d| d.id.kind == "client")
            .map(|d| d.id.name.as_str())
            .filter(|c| !super::client::is_builtin(realm, c))
            .collect();
        let mut out = Vec::new();
        for client_id in clients {
            // A declared client not created yet has no roles to list.
            let Some(c) = self.collection(realm, client_id).await? else {
                continue;
            };
            for n in roles::names(&self.kc, c).await? {
                out.push(ResourceId::on(
                    Backend::Keycloak,
                    realm,
                    KIND,
                    Some(client_id),
                    &n,
                ));
            }
        }
        Ok(out)
    }
}
