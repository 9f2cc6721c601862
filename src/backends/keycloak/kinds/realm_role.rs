//! Realm roles (`/admin/realms/{realm}/roles/{role-name}`), one object per role, named by the
//! role's name. The three roles every realm is born with are Keycloak's, not the topology's:
//! they are never listed, so a prune never proposes deleting them.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Keycloak, roles};
use crate::backends::keycloak::admin_realm;
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "realm_role";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec = spec::keycloak("a realm file's `roles.realm[]`", Some("realm"), &[]);

pub struct RealmRole {
    kc: Arc<Keycloak>,
}

impl RealmRole {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        RealmRole { kc }
    }
}

fn collection(realm: &str) -> ApiPath {
    admin_realm(realm).lit("roles")
}

/// The roles Keycloak creates with every realm: its default composite role and the two it
/// puts in it.
pub fn is_builtin(realm: &str, role: &str) -> bool {
    matches!(role, "offline_access" | "uma_authorization")
        || role == format!("default-roles-{realm}")
}

#[async_trait]
impl Kind for RealmRole {
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
        Some(super::realm_of(id))
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        roles::read(&self.kc, collection(&id.namespace), &id.name).await
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        roles::create(&self.kc, collection(&res.id.namespace), res)
            .await
            .map(|()| Made::none())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        roles::update(&self.kc, collection(&res.id.namespace), res, live).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        roles::delete(&self.kc, collection(&id.namespace), &id.name).await
    }

    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let names = roles::names(&self.kc, collection(realm)).await?;
        Ok(names
            .into_iter()
            .filter(|n| !is_builtin(realm, n))
            .map(|n| ResourceId::on(Backend::Keycloak, realm, KIND, None, &n))
            .collect())
    }
}
