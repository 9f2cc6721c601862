//! Clients (`/admin/realms/{realm}/clients`), named by `clientId`.
//!
//! Keycloak answers every confidential client's `secret` in clear (contract addendum), so each
//! representation goes through [`redact_client`] the moment it is read: the secret never
//! reaches a [`Live`], a log or an error. What the live object keeps instead is a [`digest`]
//! under a key of this run only, and a declared `secret` is digested the same way before the
//! comparison: a secret regenerated behind aegisctl's back is drift, and no value is shown. The
//! secret is sent only at creation and when it changed; it is also the client's `secret`
//! output, which the keymaster copies into OpenBao. Protocol mappers are their own kind (`protocol_mapper`): they are dropped from what
//! is read and never sent, because a client `PUT` carrying `protocolMappers` deletes every
//! mapper it does not list.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Keycloak, snapshot};
use crate::backends::body::Body;
use crate::backends::keycloak::redact::{DIGEST_PREFIX, digest, redact_credential};
use crate::backends::keycloak::{IdKind, admin_realm, redact_client};
use crate::backends::path::ApiPath;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made, SecretJson};
use crate::model::{AttrValue, Backend, DesiredResource, ResourceId};
use crate::sensitive::Sensitive;

pub const KIND: &str = "client";

/// Where the topology declares it, what it lives in, its secret fields.
pub static SPEC: KindSpec =
    spec::keycloak("a realm file's `clients[]`", Some("realm"), &["secret"]);

/// The clients every realm is created with: Keycloak's own, never aegisctl's to prune.
const BUILTIN_CLIENTS: &[&str] = &[
    "account",
    "account-console",
    "admin-cli",
    "broker",
    "realm-management",
    "security-admin-console",
];

/// Whether a client is Keycloak's own: one of [`BUILTIN_CLIENTS`], or in `master` the
/// `{realm}-realm` client Keycloak adds for each realm it administers.
pub fn is_builtin(realm: &str, client_id: &str) -> bool {
    BUILTIN_CLIENTS.contains(&client_id) || (realm == "master" && client_id.ends_with("-realm"))
}

/// Lists whose order carries no meaning: Keycloak keeps them as sets.
const SET_FIELDS: &[&str] = &[
    "redirectUris",
    "webOrigins",
    "defaultClientScopes",
    "optionalClientScopes",
];

/// Fields a client `PUT` ignores (contract §4.5): honoured at creation, changed afterwards
/// through the scope-link endpoints.
const CREATE_ONLY: &[&str] = &["defaultClientScopes", "optionalClientScopes"];

/// The scope Keycloak links by itself to every client with service accounts (and unlinks
/// when they are turned off): the server's, neither compared nor unlinked.
const SERVICE_ACCOUNT_SCOPE: &str = "service_account";

/// Fields never sent: the server's own ids, and the mappers (their own kind; a PUT with them
/// deletes the unlisted ones).
const NEVER_SENT: &[&str] = &["id", "protocolMappers", "access"];

/// Clients per page when listing a realm.
const PAGE: u32 = 100;

pub struct Client {
    kc: Arc<Keycloak>,
}

impl Client {
    pub fn new(kc: Arc<Keycloak>) -> Self {
        Client { kc }
    }
}

fn clients(realm: &str) -> ApiPath {
    admin_realm(realm).lit("clients")
}

/// A request body of the declared fields `which` selects, with `clientId` from the id; every
/// secret among them is marked for scrubbing from error messages.
fn body_of(res: &DesiredResource, which: impl Fn(&str) -> bool) -> Body {
    let mut map = Map::new();
    let mut secrets = Vec::new();
    for (k, v) in &res.attrs {
        if NEVER_SENT.contains(&k.as_str()) || !which(k) {
            continue;
        }
        let wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        map.insert(k.clone(), wire);
    }
    // The name is the clientId: always sent, so that Keycloak never names the client by its
    // UUID (what it does to a create without one).
    map.insert("clientId".into(), Value::String(res.id.name.clone()));
    let mut body = Body::new(Value::Object(map));
    for s in &secrets {
        body = body.with_secret_value(s);
    }
    body
}

/// Whether the declared client has a secret (Keycloak makes one unless the file declares it):
/// an OpenID Connect client that is neither public nor bearer-only and logs in with a client
/// secret. The keymaster keeps the secret of exactly these clients.
pub fn generates_secret(res: &DesiredResource) -> bool {
    let flag = |k: &str| res.attrs.get(k).map(AttrValue::to_wire) == Some(Value::Bool(true));
    let text = |k: &str| res.plain_str(k);
    !flag("publicClient")
        && !flag("bearerOnly")
        && text("protocol").is_none_or(|p| p == "openid-connect")
        && text("clientAuthenticatorType").is_none_or(|t| t == "client-secret")
}

impl Client {
    /// Makes the client's default or optional scopes (`field`) the declared set: links the
    /// missing ones and unlinks the extra (`PUT`/`DELETE .../default-client-scopes/{id}`, both
    /// idempotent).
    async fn link_scopes(
        &self,
        res: &DesiredResource,
        uuid: &str,
        field: &str,
        live: &Live,
    ) -> Result<(), BackendError> {
        let realm = &res.id.namespace;
        let names = |v: Option<Value>| -> BTreeSet<String> {
            v.and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        };
        let want = names(res.attrs.get(field).map(AttrValue::to_wire));
        let have = names(live.get(field).cloned());
        let segment = if field == "defaultClientScopes" {
            "default-client-scopes"
        } else {
            "optional-client-scopes"
        };
        for (name, link) in want
            .difference(&have)
            .filter(|n| n.as_str() != SERVICE_ACCOUNT_SCOPE)
            .map(|n| (n, true))
            .chain(
                have.difference(&want)
                    .filter(|n| n.as_str() != SERVICE_ACCOUNT_SCOPE)
                    .map(|n| (n, false)),
            )
        {
            let Some(scope) = self
                .kc
                .ids
                .resolve_scope(&self.kc.client, realm, name)
                .await?
            else {
                return Err(BackendError::Refused(format!(
                    "{}: `{field}` names the client scope `{name}`, which realm `{realm}` does not have",
                    res.address
                )));
            };
            let path = clients(realm).name(uuid).lit(segment).name(&scope);
            if link {
                self.kc.client.put(&path, &Body::new(Value::Null)).await?;
            } else {
                self.kc.client.delete(&path).await?;
            }
        }
        Ok(())
    }

    /// The client's UUID, if it exists.
    async fn uuid(&self, id: &ResourceId) -> Result<Option<String>, BackendError> {
        Ok(self
            .kc
            .ids
            .resolve_client(&self.kc.client, &id.namespace, &id.name)
            .await?)
    }
}

#[async_trait]
impl Kind for Client {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Keycloak
    }

    /// Its sessions, consents and service-account user go with it, and its secret, which
    /// every service logging in with it holds.
    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its secret, sessions, consents and service-account user"
    }

    fn destroy_order(&self) -> u8 {
        40
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(super::realm_of(id))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::String(s) if field == "secret" && !s.starts_with(DIGEST_PREFIX) => {
                Value::String(digest(&s))
            }
            Value::Array(mut items) if SET_FIELDS.contains(&field) => {
                if field == "defaultClientScopes" {
                    items.retain(|v| v.as_str() != Some(SERVICE_ACCOUNT_SCOPE));
                }
                items.sort_by_key(|v| v.to_string());
                items.dedup();
                Value::Array(items)
            }
            other => other,
        }
    }

    async fn prefetch(&self, realm: &str, ids: &[&ResourceId]) -> Result<(), BackendError> {
        if ids.len() >= snapshot::BULK_FROM {
            snapshot::list_clients(&self.kc, realm).await?;
        }
        Ok(())
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some(uuid) = self.uuid(id).await? else {
            return Ok(None);
        };
        if let Some(Value::Object(mut map)) = self.kc.snapshot.client(&id.namespace, &id.name) {
            for k in NEVER_SENT {
                map.remove(*k);
            }
            return Ok(Some(Live::from_map(map)));
        }
        let Some(mut rep) = self
            .kc
            .client
            .get(&clients(&id.namespace).name(&uuid))
            .await?
        else {
            // Deleted behind our back: the cached id is stale.
            self.kc.ids.forget(&id.namespace, IdKind::Client, &id.name);
            return Ok(None);
        };
        // Before anything else looks at it: the secret leaves the representation (and is
        // zeroized as the returned wrapper drops); only its run-keyed digest stays.
        let secret = redact_client(&mut rep);
        let Value::Object(mut map) = rep else {
            return Ok(None);
        };
        if let Some(s) = secret {
            map.insert("secret".into(), Value::String(digest(s.expose())));
        }
        for k in NEVER_SENT {
            map.remove(*k);
        }
        Ok(Some(Live::from_map(map)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let realm = &res.id.namespace;
        self.kc.snapshot.evict_client(realm, &res.id.name);
        let body = body_of(res, |_| true);
        let created = self.kc.client.post(&clients(realm), &body).await?;
        let Some(uuid) = created.id else {
            return Ok(Made::none());
        };
        self.kc
            .ids
            .remember(realm, IdKind::Client, &res.id.name, &uuid);
        // A secret Keycloak generated is what this create made: read it once, now, for whatever
        // takes it (the keymaster's KV secret). A declared one is already known.
        let mut made = Made::none();
        if !res.attrs.contains_key("secret") && generates_secret(res) {
            let path = clients(realm).name(&uuid).lit("client-secret");
            if let Some(mut credential) = self.kc.client.get(&path).await?
                && let Some(s) = redact_credential(&mut credential)
            {
                let secret = Sensitive::new(SecretJson(Value::String(s.expose().clone())));
                made.outputs.insert("secret".into(), secret);
            }
        }
        Ok(made)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        live: &Live,
    ) -> Result<(), BackendError> {
        self.kc
            .snapshot
            .evict_client(&res.id.namespace, &res.id.name);
        let Some(uuid) = self.uuid(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: the client no longer exists in realm `{}`",
                res.address, res.id.namespace
            )));
        };
        // The secret only when it changed: re-sending it would be a needless write of it.
        let mut body = body_of(res, |k| {
            !CREATE_ONLY.contains(&k) && (k != "secret" || changed.contains(k))
        });
        // A PUT without `authorizationServicesEnabled: true` turns authorization services off
        // and drops their settings: keep them on when they are on and the file is silent.
        if !res.attrs.contains_key("authorizationServicesEnabled")
            && live.get("authorizationServicesEnabled") == Some(&Value::Bool(true))
            && let Value::Object(m) = &mut body.json
        {
            m.insert("authorizationServicesEnabled".into(), Value::Bool(true));
        }
        self.kc
            .client
            .put(&clients(&res.id.namespace).name(&uuid), &body)
            .await?;
        // A PUT ignores the scope lists (it answers 204 and changes nothing): the links go
        // through their own endpoints, one scope at a time.
        for field in CREATE_ONLY
            .iter()
            .filter(|f| changed.contains(**f) && res.attrs.contains_key(**f))
        {
            self.link_scopes(res, &uuid, field, live).await?;
        }
        Ok(())
    }

    async fn output(
        &self,
        id: &ResourceId,
        name: &str,
    ) -> Result<Option<Sensitive<SecretJson>>, BackendError> {
        if name != "secret" {
            return Ok(None);
        }
        if let Some(s) = self.kc.snapshot.secret(&id.namespace, &id.name) {
            return Ok(Some(Sensitive::new(SecretJson(Value::String(
                s.expose().clone(),
            )))));
        }
        let Some(uuid) = self.uuid(id).await? else {
            return Ok(None);
        };
        let path = clients(&id.namespace).name(&uuid).lit("client-secret");
        let Some(mut credential) = self.kc.client.get(&path).await? else {
            return Ok(None);
        };
        Ok(redact_credential(&mut credential)
            .map(|s| Sensitive::new(SecretJson(Value::String(s.expose().clone())))))
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.kc.snapshot.evict_client(&id.namespace, &id.name);
        if let Some(uuid) = self.uuid(id).await? {
            self.kc
                .client
                .delete(&clients(&id.namespace).name(&uuid))
                .await?;
        }
        self.kc.ids.forget(&id.namespace, IdKind::Client, &id.name);
        Ok(())
    }

    async fn list(
        &self,
        realm: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        let mut all = self.kc.client.list_paged(&clients(realm), PAGE).await?;
        for c in &mut all {
            // Each element carries its secret in clear: out at once.
            drop(redact_client(c));
        }
        self.kc.ids.prime_clients(realm, &all);
        Ok(all
            .iter()
            .filter_map(|c| c.get("clientId").and_then(Value::as_str))
            .filter(|n| !is_builtin(realm, n))
            .map(|n| ResourceId::on(Backend::Keycloak, realm, KIND, None, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_never_carries_mappers_and_marks_the_secret() {
        let id = ResourceId::on(Backend::Keycloak, "r", KIND, None, "web");
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("publicClient".into(), AttrValue::Plain(json!(false)));
        attrs.insert("protocolMappers".into(), AttrValue::Plain(json!([])));
        attrs.insert(
            "secret".into(),
            AttrValue::secret_text("canary-body".into()),
        );
        let res = DesiredResource::new(id, attrs);
        let body = body_of(&res, |k| k != "secret");
        assert_eq!(
            body.json(),
            &json!({"clientId": "web", "publicClient": false})
        );
        let body = body_of(&res, |_| true);
        assert_eq!(body.json()["secret"], "canary-body");
        assert!(!body.scrub("echo canary-body").contains("canary"));
    }
}
